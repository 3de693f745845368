/* SPDX-License-Identifier: MIT */
/*
 * kf_server.c — the Kafka listener: accepts TCP connections, cuts the
 * byte stream into size-prefixed frames, decodes each request with the
 * generated codec, dispatches it through a table indexed by ApiKey, and
 * writes replies (Fetch record bytes spliced straight from segment files
 * with sendfile via libevent file segments).
 *
 * Guarantees:
 *  - replies go out in request order (Kafka's rule).  Produce requests
 *    are pipelined: while one waits for its appends' durability, the
 *    next Produce frames are read and queued too (up to KF_PIPELINE_MAX
 *    per connection; their appends reach the log in request order, so a
 *    round carries several of them), and each reply waits for those
 *    before it (kf_h_produce.c).  Any other request waits until every
 *    Produce before it has been answered, and is then served alone, one
 *    at a time as before.  Frames not yet served wait in the input
 *    buffer, bounded by --max-request-bytes through the read watermark;
 *  - a frame over the limit, a malformed or truncated request, or an API
 *    or version we do not advertise closes that connection with one log
 *    line; every other connection is unaffected.  ApiVersions of any
 *    version is always answered (KIP-511: UNSUPPORTED_VERSION plus our
 *    ranges), so clients can negotiate down; the Produce and Fetch
 *    versions advertised but not served get UNSUPPORTED_VERSION per
 *    partition (kf_h_oldver.c), never a close;
 *  - append completions from the log's writer thread are handed to the
 *    loop through a mutex-protected list and one event (never touching a
 *    connection off the loop thread);
 *  - the loop never blocks on the log: a Produce that finds the log's
 *    queue full is parked and its connection not read until it is queued
 *    (kf_h_produce.c), while every other connection is served.
 * Threads: everything runs on the event loop, except the paths the log's
 * writer thread takes (kf_log_end_moved, the lg_end_listen subscriber that
 * calls kf_server_notify_append; the lg append callback kf_produce_cb in
 * kf_h_produce.c), which only take the mutex and activate the wake event.
 * Ownership: the server owns connections; a connection owns its frame
 * copy, arena, and either one in-flight call or a pipe of Produces (each
 * owning the arena and frame it was decoded into once a later request
 * needed the connection's).  See docs/kafka.md.
 */
#include "kf_server_int.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_log.h"
#include "cn_time.h"
#include "kf_errors.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ======================================================================
 * dispatch table
 * ====================================================================== */

typedef int (*kf_handler_fn)(kf_conn *c);

/* Replies queued for one connection before it stops being served. */
#define KF_OUT_MAX (64u << 20)
/* Requests served for one connection before the loop turns to others. */
#define KF_REQUESTS_PER_TURN 64
/* Produce requests in flight per connection (librdkafka sends up to 5,
 * its max.in.flight; Kafka allows any number).  See kf_conn_process. */
#define KF_PIPELINE_MAX 16
/* Bytes moved per connection per loop iteration (see kf_accept_cb). */
#define KF_MAX_SINGLE_WRITE (4u << 20)
#define KF_MAX_SINGLE_READ (256u << 10)
/* How long a drain waits for clients to take their last replies. */
#define KF_DRAIN_GRACE_S 10

/* Indexed by ApiKey; min/max versions come from the generated table so
 * what ApiVersions advertises is exactly what decodes. */
static const kf_handler_fn kf_handlers[] = {
    [KF_API_PRODUCE] = kf_h_produce,
    [KF_API_FETCH] = kf_h_fetch,
    [KF_API_LISTOFFSETS] = kf_h_list_offsets,
    [KF_API_METADATA] = kf_h_metadata,
    [KF_API_OFFSETCOMMIT] = kf_h_offset_commit,
    [KF_API_OFFSETFETCH] = kf_h_offset_fetch,
    [KF_API_FINDCOORDINATOR] = kf_h_find_coordinator,
    [KF_API_JOINGROUP] = kf_h_join_group,
    [KF_API_HEARTBEAT] = kf_h_heartbeat,
    [KF_API_LEAVEGROUP] = kf_h_leave_group,
    [KF_API_SYNCGROUP] = kf_h_sync_group,
    [KF_API_DESCRIBEGROUPS] = kf_h_describe_groups,
    [KF_API_LISTGROUPS] = kf_h_list_groups,
    [KF_API_APIVERSIONS] = kf_h_api_versions,
    [KF_API_CREATETOPICS] = kf_h_create_topics,
    [KF_API_DELETETOPICS] = kf_h_delete_topics,
    [KF_API_INITPRODUCERID] = kf_h_init_producer_id,
    [KF_API_DESCRIBECONFIGS] = kf_h_describe_configs,
    [KF_API_OFFSETFORLEADEREPOCH] = kf_h_offset_for_leader_epoch,
    [KF_API_ALTERCONFIGS] = kf_h_alter_configs,
    [KF_API_INCREMENTALALTERCONFIGS] = kf_h_incremental_alter_configs,
    [KF_API_ADDPARTITIONSTOTXN] = kf_h_add_partitions_to_txn,
    [KF_API_ADDOFFSETSTOTXN] = kf_h_add_offsets_to_txn,
    [KF_API_ENDTXN] = kf_h_end_txn,
    [KF_API_TXNOFFSETCOMMIT] = kf_h_txn_offset_commit,
    [KF_API_DESCRIBETRANSACTIONS] = kf_h_describe_transactions,
    [KF_API_LISTTRANSACTIONS] = kf_h_list_transactions,
    [KF_API_SASLHANDSHAKE] = kf_h_sasl_handshake,
    [KF_API_SASLAUTHENTICATE] = kf_h_sasl_authenticate,
};

static kf_handler_fn kf_handler_for(int16_t key)
{
    if (key < 0 || (size_t)key >= sizeof(kf_handlers) / sizeof(kf_handlers[0]))
        return NULL;
    return kf_handlers[key];
}

/* ======================================================================
 * options
 * ====================================================================== */

void kf_server_opts_init(kf_server_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->listen = "127.0.0.1:9092";
    o->max_request_bytes = 100u << 20; /* Kafka's socket.request.max.bytes */
    o->default_partitions = 4;
    o->idle_timeout_ms = 600000; /* Kafka's connections.max.idle.ms */
    o->group_min_session_ms = 6000;
    o->group_max_session_ms = 1800000;
    o->group_initial_rebalance_ms = 0;
}

/* ======================================================================
 * connections
 * ====================================================================== */

static void kf_conn_read_cb(struct bufferevent *bev, void *ud);
static void kf_conn_write_cb(struct bufferevent *bev, void *ud);
static void kf_conn_event_cb(struct bufferevent *bev, short what, void *ud);
static void kf_conn_process(kf_conn *c);
static void kf_server_check_drained(kf_server *s);

static void kf_conn_free(kf_conn *c)
{
    kf_server *s = c->s;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    if (c->timer)
        event_free(c->timer);
    if (c->resume)
        event_free(c->resume);
    cn_buf_free(&c->frame);
    kf_arena_free(c->arena);
    kf_arena_free(c->scratch);
    kf__sasl_conn_free(c);
    cn_free(c);
    kf_server_check_drained(s);
}

/* Close the socket now; the struct lives on while an append or an offset
 * commit it started is still due (its completion must find it). */
static void kf_conn_close(kf_conn *c)
{
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    kf__fetch_unpark(c);
    kf__group_conn_gone(c);
    kf__txn_conn_gone(c);
    c->dead = 1;
    if (!kf__conn_pinned(c))
        kf_conn_free(c);
}

void kf__conn_fail(kf_conn *c, const char *why)
{
    cn_log_info("kf", "closing connection from %s: %s", c->peer, why);
    kf_conn_close(c);
}

static void kf_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                         int salen, void *ud)
{
    kf_server *s = ud;
    (void)l;
    (void)salen;
    if (s->draining) {
        evutil_closesocket(fd);
        return;
    }
    kf_conn *c = cn_calloc(1, sizeof(*c));
    if (!c || kf_arena_new(&c->arena, 65536)) {
        cn_free(c);
        evutil_closesocket(fd);
        cn_log_warn("kf", "out of memory accepting a connection");
        return;
    }
    c->s = s;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)sa;
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, ntohs(in->sin_port));
    } else {
        snprintf(c->peer, sizeof(c->peer), "fd%d", (int)fd);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->bev = s->o.tls_ctx ? kf__tls_bev(s->base, fd, s->o.tls_ctx)
                          : bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        evutil_closesocket(fd);
        kf_arena_free(c->arena);
        cn_free(c);
        return;
    }
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    bufferevent_setcb(c->bev, kf_conn_read_cb, kf_conn_write_cb, kf_conn_event_cb, c);
    /* libevent writes at most 16 KiB per loop iteration by default; Fetch
     * replies are megabytes of sendfile, which would then take hundreds of
     * loop turns each.  Reads stay bounded per turn for fairness. */
    bufferevent_set_max_single_write(c->bev, KF_MAX_SINGLE_WRITE);
    bufferevent_set_max_single_read(c->bev, KF_MAX_SINGLE_READ);
    /* Stop reading once a whole maximal frame is buffered: a pipelining
     * client then waits in TCP instead of in our memory. */
    bufferevent_setwatermark(c->bev, EV_READ, 0, (size_t)s->o.max_request_bytes + 4);
    if (s->o.idle_timeout_ms > 0) {
        struct timeval tv = {s->o.idle_timeout_ms / 1000, (s->o.idle_timeout_ms % 1000) * 1000};
        bufferevent_set_timeouts(c->bev, &tv, NULL);
    }
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    cn_log_debug("kf", "connection from %s", c->peer);
}

static void kf_conn_read_cb(struct bufferevent *bev, void *ud)
{
    (void)bev;
    kf_conn_process(ud);
}

static void kf_conn_write_cb(struct bufferevent *bev, void *ud)
{
    kf_conn *c = ud;
    (void)bev;
    if (c->closing && !c->busy)
        kf_conn_close(c);
    else if (!c->busy)
        kf_conn_process(c); /* requests held back while the output was full */
}

static void kf_conn_event_cb(struct bufferevent *bev, short what, void *ud)
{
    kf_conn *c = ud;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) /* a TLS handshake finished (kf_tls.c) */
        return;
    if (what & BEV_EVENT_TIMEOUT) {
        if (c->busy || c->prod) {
            /* A long-poll or group wait is legitimately quiet: re-arm. */
            bufferevent_enable(c->bev, EV_READ);
            return;
        }
        kf__conn_fail(c, "idle timeout");
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        cn_log_debug("kf", "connection from %s: %s", c->peer, strerror(errno));
        kf_conn_close(c);
        return;
    }
    /* EOF: whole requests already received are still served, in order, as
     * Kafka does (an acks=0 producer closes right after its last write), and
     * then the connection closes; a partial request is dropped. */
    c->eof = 1;
    if (!c->busy)
        kf_conn_process(c);
}

/* ======================================================================
 * requests
 * ====================================================================== */

/* Answer an ApiVersions we cannot decode (a newer version) the KIP-511
 * way: v0 layout, UNSUPPORTED_VERSION and our ranges, so the client
 * retries with a version we serve. */
static int kf_reply_apiversions_unsupported(kf_conn *c)
{
    size_t n;
    kf_ApiVersion *keys;
    int rc = kf__api_keys(c, &keys, &n);
    if (rc)
        return rc;
    kf_ApiVersionsResponse r;
    memset(&r, 0, sizeof(r));
    r.ErrorCode = KF_ERR_UNSUPPORTED_VERSION;
    r.ApiKeys.v = keys;
    r.ApiKeys.n = (int32_t)n;
    c->req.hdr.api_version = 0;
    return kf__reply(c, &r, NULL, 0);
}

/* Serve one decoded frame.  Returns KF_DONE, KF_ASYNC, or an error
 * (the connection is then closed). */
static int kf_conn_serve(kf_conn *c)
{
    if (c->sasl_raw)
        return kf__sasl_raw(c);
    kf_arena_reset(c->arena, kf_arena_cap_for(c->frame.len));
    int rc = kf_request_decode(c->frame.data, c->frame.len, c->arena, &c->req);
    const kf_req_hdr *h = &c->req.hdr;
    if (rc == KF_EVERSION) {
        if (h->api_key == KF_API_APIVERSIONS)
            return kf_reply_apiversions_unsupported(c);
        if (kf__old_version_served(h->api_key, h->api_version)) {
            /* Advertised (so never a reason to close), not stored. */
            c->requests++;
            return kf__answer_old_version(c);
        }
        cn_log_info("kf",
                    "client %s (%s) sent %s v%d (api key %d), which cairn does not serve; "
                    "closing the connection as Kafka does",
                    c->peer, h->client_id.len > 0 ? h->client_id.s : "-",
                    c->req.api ? c->req.api->name : "an unknown API", h->api_version, h->api_key);
        return KF_EVERSION;
    }
    if (rc) {
        cn_log_info("kf", "client %s sent a malformed request (api key %d v%d, %zu bytes): %s",
                    c->peer, h->api_key, h->api_version, c->frame.len, cn_strerror(rc));
        return rc;
    }
    kf_handler_fn fn = kf_handler_for(h->api_key);
    if (!fn)
        return KF_EVERSION;
    if (kf__sasl_gate(c))
        return CN_EAUTH;
    c->requests++;
    return fn(c);
}

/* A later request needs the connection's arena and frame while the last
 * Produce, decoded into them, is still in flight: they move to it. */
static int kf_conn_detach_produce(kf_conn *c)
{
    kf_produce *p = c->prod_tail;
    if (!p || p->own)
        return 0;
    kf_arena *fresh;
    if (kf_arena_new(&fresh, 65536))
        return CN_ENOMEM;
    p->arena = c->arena;
    p->frame = c->frame;
    p->own = 1;
    c->arena = fresh;
    c->frame = (cn_buf)CN_BUF_INIT;
    return 0;
}

/* May the frame at the head of the input be served now?  With Produces in
 * flight only another Produce may (its reply queues behind theirs), and
 * not past KF_PIPELINE_MAX, nor behind a parked one (its appends must
 * reach the log first), nor a raw SASL token. */
static int kf_conn_may_serve(const kf_conn *c, struct evbuffer *in)
{
    if (!c->prod)
        return 1;
    unsigned char key[6];
    if (c->sasl_raw || c->nprod >= KF_PIPELINE_MAX || c->prod_tail->parked ||
        evbuffer_copyout(in, key, 6) != 6)
        return 0;
    return (int16_t)cn_rd_be16(key + 4) == KF_API_PRODUCE;
}

static void kf_conn_process(kf_conn *c)
{
    kf_server *s = c->s;
    int served = 0;
    while (c->bev && !c->busy && !c->closing) {
        if (served++ == KF_REQUESTS_PER_TURN) {
            /* A client pipelining many small requests yields the loop to
             * the others and carries on in the next iteration. */
            if (kf__call_done_later(c))
                kf__conn_fail(c, "out of memory");
            return;
        }
        /* A client that sends requests but does not read replies stops
         * being served once KF_OUT_MAX bytes of replies wait for it (file
         * segments count too: each pins a segment), so it cannot make us
         * queue without bound; the write callback resumes it. */
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) > KF_OUT_MAX)
            break;
        struct evbuffer *in = bufferevent_get_input(c->bev);
        size_t avail = evbuffer_get_length(in);
        unsigned char hdr[4];
        if (avail < 4)
            break;
        evbuffer_copyout(in, hdr, 4);
        size_t total;
        int rc = kf_frame_size(hdr, 4, s->o.max_request_bytes, &total);
        if (rc) {
            char why[128];
            snprintf(why, sizeof(why), "frame size %d is outside 8..%llu (--max-request-bytes)",
                     (int32_t)cn_rd_be32(hdr), (unsigned long long)s->o.max_request_bytes);
            kf__conn_fail(c, why);
            return;
        }
        if (avail < total)
            break;
        if (!kf_conn_may_serve(c, in)) {
            c->busy = 1; /* resumed when the pipe's head is answered */
            return;
        }
        if (kf_conn_detach_produce(c)) {
            kf__conn_fail(c, "out of memory");
            return;
        }
        cn_buf_reset(&c->frame);
        if (cn_buf_reserve(&c->frame, total - 4)) {
            kf__conn_fail(c, "out of memory");
            return;
        }
        evbuffer_drain(in, 4);
        evbuffer_remove(in, c->frame.data, total - 4);
        c->frame.len = total - 4;
        uint64_t nprod = (uint64_t)c->nprod;
        rc = kf_conn_serve(c);
        int pipelined = rc == KF_ASYNC && (uint64_t)c->nprod > nprod && !c->prod_tail->parked;
        if (rc == KF_ASYNC && !pipelined) {
            c->busy = 1;
            return;
        }
        if (rc < 0) {
            kf_conn_close(c);
            return;
        }
        /* do not pin a huge buffer per idle conn (nor one a Produce uses) */
        if (c->frame.cap > (1u << 20) && !(c->prod_tail && !c->prod_tail->own))
            cn_buf_free(&c->frame);
    }
    if (!c->bev || c->busy || c->prod)
        return; /* closing waits for the Produces in flight to be answered */
    if (c->eof) {
        kf_conn_close(c);
        return;
    }
    if (s->draining && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        kf_conn_close(c);
    else if (s->draining)
        c->closing = 1;
}

static void kf_resume_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    kf__call_done(ud);
}

int kf__call_done_later(kf_conn *c)
{
    if (!c->resume) {
        c->resume = event_new(c->s->base, -1, 0, kf_resume_cb, c);
        if (!c->resume)
            return CN_ENOMEM;
    }
    event_active(c->resume, EV_READ, 0);
    return 0;
}

void kf__call_done(kf_conn *c)
{
    c->busy = 0;
    if (c->dead) {
        if (!kf__conn_pinned(c))
            kf_conn_free(c);
        return;
    }
    kf_conn_process(c);
}

/* ======================================================================
 * replies
 * ====================================================================== */

typedef struct kf_splice_state {
    lg_read_result *reads;
    int nreads, next;
    size_t *offs; /* buffer offset where each spliced range goes */
    uint64_t total;
} kf_splice_state;

static int kf_splice_hook(void *ud, kf_wr *w, const kf_bytes *rec)
{
    kf_splice_state *st = ud;
    if (st->next >= st->nreads || (size_t)rec->len != st->reads[st->next].len)
        return CN_EINVAL;
    st->offs[st->next++] = w->b->len;
    st->total += (uint64_t)rec->len;
    return 0;
}

typedef struct kf_seg_ref {
    lg_log *log;
    lg_read_result res;
} kf_seg_ref;

static void kf_seg_cleanup(struct evbuffer_file_segment const *seg, int flags, void *arg)
{
    (void)seg;
    (void)flags;
    kf_seg_ref *r = arg;
    lg_read_release(r->log, &r->res);
    cn_free(r);
}

static void kf_release_reads(kf_server *s, lg_read_result *reads, int from, int n)
{
    for (int i = from; i < n; i++)
        lg_read_release(s->log, &reads[i]);
}

int kf__reply(kf_conn *c, const void *resp, lg_read_result *reads, int nreads)
{
    return kf__reply_as(c, &c->req, resp, reads, nreads);
}

int kf__reply_as(kf_conn *c, const kf_request *req, const void *resp, lg_read_result *reads,
                 int nreads)
{
    kf_server *s = c->s;
    const kf_req_hdr *h = &req->hdr;
    if (!c->bev) {
        kf_release_reads(s, reads, 0, nreads);
        return 0;
    }
    cn_buf out = CN_BUF_INIT;
    kf_wr w;
    kf_wr_init(&w, &out);
    kf_splice_state st;
    memset(&st, 0, sizeof(st));
    st.reads = reads;
    st.nreads = nreads;
    if (nreads > 0) {
        st.offs = cn_malloc((size_t)nreads * sizeof(*st.offs));
        if (!st.offs) {
            kf_release_reads(s, reads, 0, nreads);
            return CN_ENOMEM;
        }
    }
    w.splice = kf_splice_hook;
    w.splice_ud = &st;
    size_t start = kf_resp_begin(&w, h->api_key, h->api_version, h->correlation_id);
    int rc = kf_encode_response(&w, h->api_key, h->api_version, resp);
    if (rc == 0)
        rc = kf_resp_finish(&w, start, st.total);
    if (rc == 0 && st.next != nreads)
        rc = CN_EINVAL;
    if (rc) {
        cn_log_error("kf", "cannot encode %s v%d reply: %s", req->api ? req->api->name : "?",
                     h->api_version, cn_strerror(rc));
        kf_release_reads(s, reads, 0, nreads);
        cn_buf_free(&out);
        cn_free(st.offs);
        return rc;
    }
    struct evbuffer *ob = bufferevent_get_output(c->bev);
    size_t pos = 0;
    for (int i = 0; i < nreads; i++) {
        evbuffer_add(ob, out.data + pos, st.offs[i] - pos);
        pos = st.offs[i];
        kf_seg_ref *ref = cn_malloc(sizeof(*ref));
        struct evbuffer_file_segment *seg =
            ref ? evbuffer_file_segment_new(reads[i].fd, reads[i].file_pos, (ev_off_t)reads[i].len,
                                            0)
                : NULL;
        if (!seg) {
            cn_free(ref);
            kf_release_reads(s, reads, i, nreads);
            cn_buf_free(&out);
            cn_free(st.offs);
            return CN_ENOMEM; /* the half-written reply is dropped with the conn */
        }
        ref->log = s->log;
        ref->res = reads[i];
        evbuffer_file_segment_add_cleanup_cb(seg, kf_seg_cleanup, ref);
        evbuffer_add_file_segment(ob, seg, 0, (ev_off_t)reads[i].len);
        evbuffer_file_segment_free(seg); /* the buffer holds its own reference */
    }
    evbuffer_add(ob, out.data + pos, out.len - pos);
    cn_buf_free(&out);
    cn_free(st.offs);
    return 0;
}

/* ======================================================================
 * cross-thread wake-ups
 * ====================================================================== */

static void kf_wake_cb(evutil_socket_t fd, short what, void *ud)
{
    kf_server *s = ud;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&s->mu);
    kf_produce *list = s->done_head;
    s->done_head = s->done_tail = NULL;
    int appended = s->wake_appended;
    s->wake_appended = 0;
    pthread_mutex_unlock(&s->mu);
    while (list) {
        kf_produce *next = list->next_done;
        kf__produce_complete(list);
        appended = 1;
        list = next;
    }
    if (appended)
        kf__fetch_recheck(s, 0);
    if (appended && s->o.repl)
        kf__offsets_refresh(s); /* an HW may have moved: the applier follows */
    /* A writer round ended, so the log's queue has room again. */
    if (s->pq_head)
        kf__produce_retry_parked(s);
}

/* Writer thread (lg_end_listen): the log's acknowledged end moved, by
 * whoever appended (this server's Produce, or in-process appenders such as
 * `cairn up`'s gateway and hunt worker): parked Fetches look again. */
static void kf_log_end_moved(void *ud)
{
    kf_server_notify_append(ud);
}

void kf_server_notify_append(kf_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->wake_appended = 1;
    pthread_mutex_unlock(&s->mu);
    event_active(s->wake, EV_READ, 0);
}

/* ======================================================================
 * lifecycle
 * ====================================================================== */

static int kf_parse_hostport(const char *s, char *host, size_t hcap, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= hcap)
        return CN_EINVAL;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535 || end == colon + 1)
        return CN_EINVAL;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    *port = (int)p;
    return 0;
}

int kf_server_new(kf_server **out, struct event_base *base, lg_log *log, const kf_server_opts *o)
{
    *out = NULL;
    char host[256];
    int port;
    if (kf_parse_hostport(o->listen, host, sizeof(host), &port))
        return CN_EINVAL;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &sin.sin_addr) != 1)
        return CN_EINVAL;
    kf_server *s = cn_calloc(1, sizeof(*s));
    if (!s)
        return CN_ENOMEM;
    s->base = base;
    s->log = log;
    s->o = *o;
    pthread_mutex_init(&s->mu, NULL);
    s->wake = event_new(base, -1, 0, kf_wake_cb, s);
    if (!s->wake || kf_group_coord_new(&s->groups) || kf__group_start(s) || kf__commit_start(s) ||
        kf__produce_start(s)) {
        kf_server_free(s);
        return CN_ENOMEM;
    }
    /* Transactions are served standalone only: a clustered node keeps
     * refusing transactional ids (docs/kafka.md). */
    int rc = o->repl ? 0 : kf__txn_start(s);
    if (!rc)
        rc = lg_end_listen(log, kf_log_end_moved, s);
    if (rc) {
        kf_server_free(s);
        return rc;
    }
    s->end_listening = 1;
    s->lst =
        evconnlistener_new_bind(base, kf_accept_cb, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                1024, (struct sockaddr *)&sin, sizeof(sin));
    if (!s->lst) {
        int e = errno; /* the caller reports it: one line, with what to do */
        kf_server_free(s);
        errno = e;
        return CN_ESYS;
    }
    struct sockaddr_in bound;
    socklen_t bl = sizeof(bound);
    getsockname(evconnlistener_get_fd(s->lst), (struct sockaddr *)&bound, &bl);
    s->port = ntohs(bound.sin_port);
    snprintf(s->host, sizeof(s->host), "%s", o->advertise_host ? o->advertise_host : host);
    s->adv_port = o->advertise_port ? o->advertise_port : s->port;
    *out = s;
    return 0;
}

int kf_server_port(const kf_server *s)
{
    return s->port;
}

static void kf_server_check_drained(kf_server *s)
{
    if (s->draining && s->nconns == 0 && s->drain_done) {
        if (s->drain_timer)
            evtimer_del(s->drain_timer);
        void (*done)(void *) = s->drain_done;
        s->drain_done = NULL;
        done(s->drain_ud);
    }
}

static void kf_drain_timeout_cb(evutil_socket_t fd, short what, void *ud)
{
    kf_server *s = ud;
    (void)fd;
    (void)what;
    kf_conn *c = s->conns;
    while (c) {
        kf_conn *next = c->next;
        if (c->bev && !kf__conn_pinned(c)) {
            cn_log_warn("kf", "drain: closing %s, which did not take its replies in %d s", c->peer,
                        KF_DRAIN_GRACE_S);
            kf_conn_close(c);
        }
        c = next;
    }
}

void kf_server_drain(kf_server *s, void (*done)(void *ud), void *ud)
{
    s->draining = 1;
    s->drain_done = done;
    s->drain_ud = ud;
    if (s->lst)
        evconnlistener_disable(s->lst);
    /* Idle connections close now; busy ones after their reply is out. */
    kf_conn *c = s->conns;
    while (c) {
        kf_conn *next = c->next;
        if (c->fetch.parked) {
            /* A parked long-poll answers now with what it has. */
            c->fetch.deadline_ms = 0;
        } else if (c->busy && !kf__conn_pinned(c) && c->bev) {
            /* Waiting in JoinGroup/SyncGroup could last a rebalance
             * timeout: the member reconnects, as after a coordinator move. */
            kf__conn_fail(c, "draining: group request abandoned");
        } else if (!c->busy && !c->prod && c->bev) {
            /* (one with Produces in flight closes once they are answered) */
            if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
                kf_conn_close(c);
            else
                c->closing = 1;
        }
        c = next;
    }
    kf__fetch_recheck(s, 1);
    /* Clients that never read their last replies do not hold the drain
     * up for ever. */
    if (!s->drain_timer)
        s->drain_timer = evtimer_new(s->base, kf_drain_timeout_cb, s);
    if (s->drain_timer) {
        struct timeval tv = {KF_DRAIN_GRACE_S, 0};
        evtimer_add(s->drain_timer, &tv);
    }
    kf_server_check_drained(s);
}

void kf_server_free(kf_server *s)
{
    if (!s)
        return;
    s->drain_done = NULL;
    if (s->lst)
        evconnlistener_free(s->lst);
    s->lst = NULL;
    /* No wake-up from the writer after this: the wake event goes below. */
    if (s->end_listening)
        lg_end_unlisten(s->log, kf_log_end_moved, s);
    s->end_listening = 0;
    /* Commits stored but not applied yet are not waited for. */
    kf__offsets_fail_waiting(s);
    /* Appends still in flight must call back into live memory: wait for
     * them by running the completion path until none is due (a Produce
     * parked on a full log queue goes on through the park timer). */
    for (;;) {
        int due = 0;
        for (kf_conn *c = s->conns; c; c = c->next)
            if (kf__conn_pinned(c))
                due = 1;
        if (!due)
            break;
        event_base_loop(s->base, EVLOOP_ONCE);
    }
    while (s->conns) {
        kf_conn *c = s->conns;
        if (c->bev) {
            bufferevent_free(c->bev);
            c->bev = NULL;
        }
        kf__fetch_unpark(c);
        kf__group_conn_gone(c);
        kf__txn_conn_gone(c);
        kf_conn_free(c);
    }
    if (s->group_tick)
        event_free(s->group_tick);
    if (s->drain_timer)
        event_free(s->drain_timer);
    kf__commit_stop(s);
    kf__txn_stop(s);
    if (s->park_timer)
        event_free(s->park_timer);
    kf_group_coord_free(s->groups);
    if (s->wake)
        event_free(s->wake);
    pthread_mutex_destroy(&s->mu);
    kf_tls_ctx_free(s->tls_own);
    cn_free(s);
}

/* ======================================================================
 * error mapping
 * ====================================================================== */

int16_t kf__kafka_error(int err)
{
    switch (err) {
    case 0:
        return KF_ERR_NONE;
    case LG_ENOTOPIC:
    case LG_ENOPART:
    case CN_ENOENT:
        return KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    case LG_EOFFSET:
        return KF_ERR_OFFSET_OUT_OF_RANGE;
    case LG_ECRC:
    case LG_EMAGIC:
    case LG_EBADBATCH:
    case LG_ECOMPRESS:
    case CN_ETRUNC:
        return KF_ERR_CORRUPT_MESSAGE;
    case CN_ETOOBIG:
        return KF_ERR_MESSAGE_TOO_LARGE;
    case LG_ESEQ:
        return KF_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    case LG_EDUPSEQ:
        return KF_ERR_DUPLICATE_SEQUENCE_NUMBER;
    case LG_EFENCED:
        return KF_ERR_INVALID_PRODUCER_EPOCH;
    case LG_EUNKNOWNPID:
        return KF_ERR_UNKNOWN_PRODUCER_ID;
    case CN_EEXIST:
        return KF_ERR_TOPIC_ALREADY_EXISTS;
    case CN_EINVAL:
        return KF_ERR_INVALID_REQUEST;
    case CN_EOVERLOAD:
        return KF_ERR_THROTTLING_QUOTA_EXCEEDED;
    case CN_ECORRUPT:
    case CN_EPANIC:
    case CN_EIO:
    case CN_ENOSPC:
    case LG_EINDEX:
        return KF_ERR_KAFKA_STORAGE_ERROR;
    default:
        return KF_ERR_UNKNOWN_SERVER_ERROR;
    }
}
