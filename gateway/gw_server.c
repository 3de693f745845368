/* SPDX-License-Identifier: MIT */
/*
 * gw_server.c — the gateway server's lifecycle: bind and listen (optionally
 * SO_REUSEPORT so worker processes share the port), accept with global and
 * per-address limits into the preallocated connection table, the 1 s
 * housekeeping tick (backpressure stall-close), resuming parked
 * connections, and the drain on shutdown (the listener stays open during
 * it, answering /healthz and /ws with 503).
 *
 * Guarantees: the connection table, the per-IP table, the parked list and
 * the scratch buffer are allocated once in gw_server_new; accepting a
 * connection allocates nothing.  Refused connections get a canned HTTP
 * answer (503 table full, 429 per-IP limit) and are closed at once.
 * Loop thread only.  Owns everything it allocates; borrows base and sink.
 */
#include "gw_server_int.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_log.h"
#include "cn_time.h"
#include "lg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Read buffer shared by all connections of the loop: one read of a
 * client's burst; larger inputs just take several reads. */
#define GW_SCRATCH (64u * 1024)
/* Accepts per listener wakeup: bounds the time one burst of connects can
 * keep the loop from serving established connections. */
#define GW_ACCEPT_BURST 256
/* Handshake deadline of a connection accepted during a drain. */
#define GW_DRAIN_HEAD_MS 1000

void gw_server_opts_init(gw_server_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->listen = "127.0.0.1:8080";
    o->node = "gw";
    o->idle_close_ms = 5000;
    o->handshake_timeout_ms = 10000;
    o->stall_close_ms = 10000;
    o->max_conns = 20000;
    o->max_msg_bytes = 64 * 1024;
    o->max_inflight = 100000;
    o->max_tls_handshakes = 2048;
    o->sock_buf = 4096;
    o->auth_fail_rate = 2;
    o->auth_fail_burst = 20;
    o->max_pending_verifications = 1024;
    o->max_buffer_bytes = 256u << 20;
    o->max_half_open = 4096;
}

static int server_listen(gw_server *s)
{
    return gw__bind(s->o.listen, s->o.reuseport, s->o.sock_buf, 4096, &s->lfd, &s->port);
}

/* A fixed answer for connections we cannot take; best effort, no state.
 * A TLS listener just closes: its peer cannot read plain text, and a
 * handshake for a connection we refuse is CPU a flood would love. */
void gw__refuse_write(gw_server *s, int fd, int status)
{
    if (s->tls_ctx)
        return;
    static const char r503[] =
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n"
        "Content-Length: 36\r\nConnection: close\r\n\r\ngateway is full: retry in a moment\r\n";
    static const char r429[] =
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n"
        "Content-Length: 40\r\nConnection: close\r\n\r\ntoo many connections from this address\r\n";
    const char *r = status == 429 ? r429 : r503;
    size_t n = status == 429 ? sizeof(r429) - 1 : sizeof(r503) - 1;
    ssize_t w = write(fd, r, n);
    (void)w;
}

static void refuse(gw_server *s, int fd, int status)
{
    gw__refuse_write(s, fd, status);
    close(fd);
}

int gw__server_count_client(gw_server *s, gw_conn *c, const unsigned char full[16], const char *how)
{
    gw__addr_key16(full, c->addr);
    int debug = cn_log_enabled(CN_LOG_DEBUG);
    char text[64] = "";
    if (debug)
        gw_addr_text(full, text, sizeof(text));
    if (gw__iptab_add(&s->ips, c->addr, s->o.max_conns_per_ip)) {
        s->m.refused_ip++;
        if (debug)
            cn_log_debug("gw", "client %s (%s): refused, over --max-conns-per-ip", text, how);
        return GW_ELIMIT;
    }
    c->flags &= (uint8_t)~GW_CF_UNCOUNTED;
    if (debug)
        cn_log_debug("gw", "client %s (%s)", text, how);
    return 0;
}

static void server_accept_one(gw_server *s, int fd, const struct sockaddr_storage *ss)
{
    unsigned char full[16], addr[16];
    gw__addr_full(ss, full);
    gw__addr_key16(full, addr);
    /* A trusted proxy's connection is counted once the client behind it
     * is known (its PROXY header, or its X-Forwarded-For). */
    int via = s->ntrusted && gw_cidrs_match(s->trusted, s->ntrusted, full);
    if (s->free_head == GW_NONE) {
        s->m.refused_full++;
        refuse(s, fd, 503);
        return;
    }
    if (s->o.max_half_open && s->half_open >= s->o.max_half_open) {
        s->m.refused_half_open++;
        refuse(s, fd, 503);
        return;
    }
    if (!via && gw__iptab_add(&s->ips, addr, s->o.max_conns_per_ip)) {
        s->m.refused_ip++;
        if (cn_log_enabled(CN_LOG_DEBUG)) {
            char text[64];
            gw_addr_text(full, text, sizeof(text));
            cn_log_debug("gw", "client %s: refused, over --max-conns-per-ip", text);
        }
        refuse(s, fd, 429);
        return;
    }
    uint32_t slot = s->free_head;
    gw_conn *c = &s->conns[slot];
    s->free_head = c->next;
    c->next = GW_NONE;
    c->fd = fd;
    c->state = via && s->o.proxy_protocol ? GW_ST_PROXY : s->tls_ctx ? GW_ST_TLS : GW_ST_HEAD;
    c->flags = via ? GW_CF_UNCOUNTED | GW_CF_VIA_PROXY : 0;
    c->evflags = 0;
    c->inflight = 0;
    c->head_scan = 0;
    c->out_off = 0;
    c->player[0] = c->hunt[0] = 0;
    memcpy(c->addr, addr, 16);
    int64_t hs_ms = s->o.handshake_timeout_ms;
    if (s->draining && hs_ms > GW_DRAIN_HEAD_MS)
        hs_ms = GW_DRAIN_HEAD_MS;
    c->deadline_ms = gw__now_ms() + hs_ms;
    s->nopen++;
    s->half_open++;
    s->m.accepted++;
    gw__conn_arm(s, c);
}

static void server_resume_accept(evutil_socket_t fd, short what, void *arg)
{
    gw_server *s = arg;
    (void)fd;
    (void)what;
    if (!s->draining)
        event_add(s->lev, NULL);
}

static void server_on_accept(evutil_socket_t lfd, short what, void *arg)
{
    gw_server *s = arg;
    (void)what;
    for (int i = 0; i < GW_ACCEPT_BURST; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: stop accepting for 100 ms instead of
                 * spinning on a listener that stays readable. */
                cn_log_warn("gw", "accept: %s; pausing accepts for 100 ms", strerror(errno));
                event_del(s->lev);
                struct timeval tv = {0, 100000};
                event_add(s->resume_lev, &tv);
            }
            return;
        }
        server_accept_one(s, fd, &ss);
    }
}

void gw__server_parked_compact(gw_server *s)
{
    uint32_t keep = 0;
    for (uint32_t i = 0; i < s->nparked_ents; i++) {
        gw_conn *c = &s->conns[s->parked[i].slot];
        if (c->gen == s->parked[i].gen && (c->flags & GW_CF_PARKED))
            s->parked[keep++] = s->parked[i];
    }
    s->nparked_ents = keep;
}

void gw__server_resume_parked(gw_server *s)
{
    if (!s->nparked || s->inflight_pings >= s->o.max_inflight)
        return;
    uint32_t keep = 0;
    for (uint32_t i = 0; i < s->nparked_ents; i++) {
        gw_conn *c = &s->conns[s->parked[i].slot];
        if (c->gen != s->parked[i].gen || !(c->flags & GW_CF_PARKED))
            continue; /* stale */
        if (c->inflight < GW_CONN_MAX_INFLIGHT && s->inflight_pings < s->o.max_inflight)
            gw__conn_unpark(s, c);
        else
            s->parked[keep++] = s->parked[i];
    }
    s->nparked_ents = keep;
}

int gw__server_log_ok(gw_server *s)
{
    if (!s->watched)
        return 1;
    if (s->log_failed)
        return 0;
    if (lg_health(s->watched, NULL) == 0)
        return 1;
    s->log_failed = 1;
    cn_log_error("gw",
                 "THE LOG FAILED (an fdatasync or index commit failed; see above): every append "
                 "is refused until this process restarts and recovery runs; /healthz answers "
                 "503%s",
                 s->keep_running ? "; staying up (--stay-up-on-log-failure)"
                                 : "; stopping with a non-zero exit status");
    return 0;
}

void gw_server_watch_log(gw_server *s, lg_log *log, int keep_running, void (*on_fail)(void *ud),
                         void *ud)
{
    s->watched = log;
    s->keep_running = keep_running;
    s->on_log_fail = on_fail;
    s->on_log_fail_ud = ud;
}

static void server_tick(evutil_socket_t fd, short what, void *arg)
{
    gw_server *s = arg;
    (void)fd;
    (void)what;
    if (!gw__server_log_ok(s) && !s->keep_running && s->on_log_fail) {
        void (*fn)(void *) = s->on_log_fail;
        s->on_log_fail = NULL; /* once */
        fn(s->on_log_fail_ud);
    }
    if (!s->nparked)
        return;
    int64_t now = gw__now_ms();
    for (uint32_t i = 0; i < s->nparked_ents; i++) {
        gw_conn *c = &s->conns[s->parked[i].slot];
        if (c->gen != s->parked[i].gen || !(c->flags & GW_CF_PARKED))
            continue;
        if (now - c->parked_ms >= s->o.stall_close_ms) {
            /* The log has been too slow for too long: tell the client to
             * come back later.  Nothing may follow our close frame, so its
             * unacknowledged pings stay unacknowledged and it resends them. */
            c->flags &= (uint8_t)~GW_CF_PARKED;
            s->nparked--;
            gw__conn_close_ws(s, c, WS_CLOSE_TRY_LATER, "log too slow; retry later",
                              GW_DISC_OVERLOAD);
        }
    }
}

int gw_server_new(gw_server **out, struct event_base *base, gw_sink *sink, const gw_server_opts *o)
{
    *out = NULL;
    if (!o->max_conns || o->max_conns > 10000000 || !o->max_inflight || !sink ||
        sink->partitions < 1 || !o->node || !cn_id_valid(o->node, strlen(o->node)) ||
        o->max_msg_bytes < 64 || !o->tls_cert != !o->tls_key ||
        (o->proxy_protocol && !o->trusted_proxies) ||
        (o->has_auth_key &&
         (!(o->auth_fail_rate > 0) || !(o->auth_fail_burst >= 1) || !o->max_pending_verifications ||
          o->max_pending_verifications > 1000000)))
        return CN_EINVAL;
    gw_server *s = cn_calloc(1, sizeof(*s));
    if (!s)
        return CN_ENOMEM;
    s->base = base;
    s->sink = sink;
    s->nparts = sink->partitions;
    s->o = *o;
    s->lfd = -1;
    snprintf(s->node, sizeof(s->node), "%s", o->node);
    s->boot_id = (uint64_t)cn_now_ms() ^ ((uint64_t)getpid() << 40);
    gw_ping_limits pl = GW_PING_LIMITS_DEFAULT;
    s->plim = pl;
    int rc = CN_ENOMEM;
    s->nconns = o->max_conns;
    s->conns = cn_calloc(o->max_conns, sizeof(gw_conn));
    s->parked = cn_calloc(o->max_conns, sizeof(*s->parked));
    s->scratch_cap = GW_SCRATCH;
    s->scratch = cn_malloc(GW_SCRATCH);
    s->open = cn_calloc((size_t)sink->partitions, sizeof(*s->open));
    s->idv = cn_calloc(pl.max_batch, sizeof(*s->idv));
    s->outq = cn_calloc(o->max_conns, sizeof(*s->outq));
    if (o->has_auth_key && (auth_token_cache_new(&s->tokens, o->auth_pk, o->max_conns) ||
                            gw__failtab_init(&s->fails, o->auth_fail_rate, o->auth_fail_burst)))
        goto fail;
    if (!s->conns || !s->parked || !s->scratch || !s->open || !s->idv || !s->outq ||
        gw__iptab_init(&s->ips, o->max_conns) || gw_ping_batch_init(&s->batch, pl.max_batch))
        goto fail;
    for (uint32_t i = 0; i < o->max_conns; i++) {
        s->conns[i].srv = s;
        s->conns[i].fd = -1;
        s->conns[i].next = i + 1 < o->max_conns ? i + 1 : GW_NONE;
    }
    s->free_head = 0;
    if (o->trusted_proxies &&
        gw_cidrs_parse(o->trusted_proxies, s->trusted, GW_CIDR_MAX, &s->ntrusted, NULL)) {
        rc = CN_EINVAL;
        goto fail;
    }
    if (o->tls_cert) {
        char err[512];
        if ((rc = gw__tls_init(s, err, sizeof(err))) != 0) {
            cn_log_error("gw", "%s", err);
            goto fail;
        }
    }
    if (o->has_auth_key && (rc = gw__verifier_new(&s->verifier, s, o->max_pending_verifications)))
        goto fail;
    rc = server_listen(s);
    if (rc)
        goto fail;
    rc = CN_ENOMEM;
    s->lev = event_new(base, s->lfd, EV_READ | EV_PERSIST, server_on_accept, s);
    s->resume_lev = evtimer_new(base, server_resume_accept, s);
    s->flush_ev = event_new(base, -1, 0, gw__stage_flush, s);
    s->tick_ev = event_new(base, -1, EV_PERSIST, server_tick, s);
    s->out_ev = event_new(base, -1, 0, gw__conn_out_flush, s);
    if (!s->lev || !s->resume_lev || !s->flush_ev || !s->tick_ev || !s->out_ev)
        goto fail;
    struct timeval sec = {1, 0};
    if (event_add(s->lev, NULL) || event_add(s->tick_ev, &sec))
        goto fail;
    sink->done = gw__sink_done;
    sink->done_ud = s;
    *out = s;
    return 0;
fail:;
    int e = errno; /* keep bind/listen's errno for the caller's message */
    gw_server_free(s);
    errno = e;
    return rc;
}

int gw_server_port(const gw_server *s)
{
    return s->port;
}

void gw__server_maybe_drained(gw_server *s)
{
    if (!s->draining || s->nopen || s->tickets_out || !s->drain_done)
        return;
    void (*done)(void *) = s->drain_done;
    s->drain_done = NULL;
    done(s->drain_ud);
}

void gw_server_drain(gw_server *s, void (*done)(void *), void *ud)
{
    s->draining = 1;
    s->drain_done = done;
    s->drain_ud = ud;
    /* The listener stays open until the server is freed: a load balancer
     * asking /healthz during the drain gets 503 "draining" (and a phone
     * asking /ws gets 503 + Retry-After) instead of a refused connection
     * it cannot tell from a crash.  Such connections get a short
     * handshake deadline so they cannot hold the drain open. */
    gw__stage_flush(-1, 0, s); /* what was read goes to the log now */
    for (uint32_t i = 0; i < s->nconns; i++) {
        gw_conn *c = &s->conns[i];
        if (c->state == GW_ST_HEAD || c->state == GW_ST_TLS || c->state == GW_ST_PROXY ||
            c->state == GW_ST_AUTH)
            gw__conn_abort(s, c, GW_DISC_DRAIN);
        else if (c->state == GW_ST_OPEN && !c->inflight)
            gw__conn_close_ws(s, c, WS_CLOSE_GOING_AWAY, "draining", GW_DISC_DRAIN);
        else if (c->state == GW_ST_OPEN)
            gw__conn_arm(s, c); /* stop reading; its acks close it (gw_stage.c) */
    }
    gw__server_maybe_drained(s);
}

void gw_server_mem_get(const gw_server *s, gw_server_mem *m)
{
    m->conn_struct_bytes = sizeof(gw_conn);
    m->table_bytes = (size_t)s->nconns * (sizeof(gw_conn) + sizeof(*s->parked)) +
                     ((size_t)s->ips.mask + 1) * sizeof(*s->ips.ents);
    if (s->ssl) /* TLS: the per-slot SSL pointer (the SSL objects are OpenSSL's heap) */
        m->table_bytes += (size_t)s->nconns * sizeof(*s->ssl);
    m->conn_buffer_bytes = s->m.buffer_bytes;
    m->conns_open = s->nopen;
}

void gw_server_set_http_other(gw_server *s, gw_http_other_fn fn, void *ud)
{
    s->http_other = fn;
    s->http_other_ud = ud;
}

void gw_server_set_metrics_extra(gw_server *s, gw_metrics_extra_fn fn, void *ud)
{
    s->metrics_extra = fn;
    s->metrics_extra_ud = ud;
}

void gw_server_free(gw_server *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; s->conns && i < s->nconns; i++)
        if (s->conns[i].state != GW_ST_FREE)
            gw__conn_abort(s, &s->conns[i], GW_DISC_DRAIN);
    if (s->lev)
        event_free(s->lev);
    if (s->resume_lev)
        event_free(s->resume_lev);
    if (s->flush_ev)
        event_free(s->flush_ev);
    if (s->tick_ev)
        event_free(s->tick_ev);
    if (s->out_ev)
        event_free(s->out_ev);
    gw__verifier_free(s->verifier); /* joins the thread; answers not handled are dropped */
    if (s->lfd >= 0)
        close(s->lfd);
    gw__tickets_free(s);
    gw_ping_batch_free(&s->batch);
    gw__iptab_free(&s->ips);
    auth_token_cache_free(s->tokens);
    gw__failtab_free(&s->fails);
    cn_buf_free(&s->tmp);
    cn_buf_free(&s->frame);
    cn_free(s->recs);
    cn_free(s->idv);
    cn_free(s->outq);
    cn_free(s->open);
    cn_free(s->scratch);
    cn_free(s->parked);
    cn_free(s->conns);
    gw__tls_fini(s);
    cn_free(s);
}
