/* SPDX-License-Identifier: MIT */
/*
 * rp_part.c — the driver of a node's partition replicas: one rp_part per
 * (topic, partition) owns an rp_node and carries out its outputs against
 * the log's replication storage contract; rp_repl holds the parts, the
 * transport, one tick timer and the wake-up from the log's writer thread
 * (docs/replication.md, "The driver of one replica").
 *
 * Guarantees:
 *  - outputs are carried out in the order the core queued them, all of
 *    them before the next input: SEND (a FetchResponse gets whole batches
 *    read past the read limit, cut at read_max and read_end), APPEND
 *    (lg_replica_append: stamped for the leader, verbatim for a follower;
 *    the leader-change marker is a one-record control batch), TRUNCATE
 *    (lg_replica_truncate, durable on return), PERSIST (lg_raft_state_save,
 *    durable on return; rp_node_persisted is given once the outputs are
 *    drained), HW (the consumers' read limit), ROLE (published; leaving
 *    leader fails every pending proposal with CN_EPERM);
 *  - consumers never read above the HW: the read limit is 0 from the
 *    moment a part starts until the core reports an HW;
 *  - a storage failure stops the part as a crash would (its core dropped,
 *    pending proposals failed) and it restarts from storage once its
 *    appends in flight have completed and the log is durable to its end;
 *  - the election seed is drawn from getrandom at every start.
 * Threads: everything on the loop thread, except the log's append
 * callbacks and end notification (writer thread), which take r->mu, note
 * what happened and activate r->wake.
 * Ownership: rp_repl owns its parts, the rp_net, the timer and the wake
 * event, and borrows the log and the base.  A part owns its core and its
 * pending proposals; the log copies appended bytes before returning.
 */
#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cn_alloc.h"
#include "cn_buf.h"
#include "cn_bytes.h"
#include "cn_crc32c.h"
#include "cn_err.h"
#include "cn_log.h"
#include "lg.h"
#include "rp.h"

#define RP_PART_RESTART_MS 1000 /* wait before restarting a stopped part */
#define RP_EXPIRE_TICKS 1200    /* leaders forget idle producers this often (1 min of ticks) */
#define RP_PID_NODE_SHIFT 31    /* a producer id's allocating node: pid >> 31 (lg.h) */
#define RP_MAX_PERSIST 8        /* PERSIST outputs of one drain (one per term/vote change) */

typedef struct rp_pend {
    int64_t base, last;
    int32_t epoch;
    int acks_all;
    rp_ack_fn cb;
    void *ud;
} rp_pend;

typedef struct rp_part {
    rp_repl *r;
    char topic[256];
    int32_t partition;
    uint32_t topic_id;
    rp_node *node; /* NULL while stopped */
    struct event *restart;
    rp_part_state pub;
    int64_t durable_seen;
    rp_pend *pend;
    size_t npend, cappend;
    lg_producers *prod; /* serving leader: producer state incl. its proposals; NULL: not loaded */
    /* under r->mu: written by the writer thread's callbacks */
    int inflight;   /* lg_replica_append batches not yet called back */
    int append_err; /* first failed append since the last wake */
} rp_part;

struct rp_repl {
    struct event_base *base;
    lg_log *log;
    rp_repl_opts o;
    rp_cluster cluster;
    rp_net *net;
    rp_part **parts;
    size_t nparts, capparts;
    struct event *tick, *wake;
    pthread_mutex_t mu;
    pthread_cond_t idle; /* inflight reached 0 somewhere */
    int listening;
    void (*on_hw)(void *ud);
    void *on_hw_ud;
    uint32_t ticks; /* since the last producer expiry */
    cn_buf rd;      /* FetchResponse records */
    cn_buf marker;
};

static void rp_part_stop(rp_part *p, int err, const char *why);
static void rp_part_drain(rp_part *p);

/* ======================================================================
 * proposals waiting for their acknowledgement
 * ====================================================================== */

static void rp_pend_fail_all(rp_part *p, int err)
{
    /* Callbacks may propose again: detach the list first. */
    rp_pend *v = p->pend;
    size_t n = p->npend;
    p->pend = NULL;
    p->npend = p->cappend = 0;
    for (size_t i = 0; i < n; i++)
        v[i].cb(v[i].ud, err, -1);
    cn_free(v);
}

/* Answer, in order, the proposals that are done: acks_all below the HW in
 * the term they were proposed in; acks=1 once durable here. */
static void rp_pend_complete(rp_part *p)
{
    int64_t hw = p->pub.hw, dur = p->durable_seen;
    size_t k = 0;
    while (k < p->npend) {
        rp_pend *e = &p->pend[k];
        int done = e->acks_all ? e->last < hw : e->last < dur;
        if (!done || e->epoch != p->pub.term || p->pub.role != RP_LEADER)
            break;
        k++;
    }
    if (k == 0)
        return;
    rp_pend *done = cn_malloc(k * sizeof(*done));
    if (!done)
        return; /* answered at the next HW or durable step */
    memcpy(done, p->pend, k * sizeof(*done));
    memmove(p->pend, p->pend + k, (p->npend - k) * sizeof(*done));
    p->npend -= k;
    for (size_t i = 0; i < k; i++)
        done[i].cb(done[i].ud, 0, done[i].base);
    cn_free(done);
}

/* ======================================================================
 * outputs
 * ====================================================================== */

/* Whole batches from fetch_offset, at most read_max bytes (at least one
 * batch), every one ending below read_end. */
static void rp_part_read(rp_part *p, rp_msg *m, int32_t read_max, int64_t read_end)
{
    rp_repl *r = p->r;
    lg_read_result res;
    r->rd.len = 0;
    if (lg_read_replica(r->log, p->topic, p->partition, m->fetch_offset, (size_t)read_max, &res) !=
        0)
        return;
    if (res.len > 0 && res.first_offset == m->fetch_offset &&
        cn_buf_reserve(&r->rd, res.len) == 0 &&
        pread(res.fd, r->rd.data, res.len, res.file_pos) == (ssize_t)res.len) {
        size_t used = 0;
        while (used < res.len) {
            rp_entry e;
            int64_t sz = rp_batch_peek(r->rd.data + used, res.len - used, &e);
            if (sz < 0 || e.last >= read_end || (used > 0 && used + (size_t)sz > (size_t)read_max))
                break;
            used += (size_t)sz;
        }
        r->rd.len = used;
    }
    lg_read_release(r->log, &res);
    m->records = r->rd.len ? r->rd.data : NULL;
    m->records_len = (uint32_t)r->rd.len;
}

static void rp_part_send(rp_part *p, rp_out *o)
{
    if (o->msg.type == RP_FETCH_RESP && o->read_max > 0)
        rp_part_read(p, &o->msg, o->read_max, o->read_end);
    rp_net_send(p->r->net, &o->msg); /* a drop is recovered by the protocol's timeouts */
}

/* The leader-change marker: one control record (KRaft's LeaderChange
 * type 2 as its key) in a batch of its own; lg_replica_append stamps its
 * offset and epoch.  Kafka consumers and lg_iter skip control batches. */
static int rp_marker_build(rp_repl *r)
{
    lg_batch_builder *b = NULL;
    int rc = lg_batch_builder_new(&b, LG_COMP_NONE);
    if (rc != 0)
        return rc;
    unsigned char key[4] = {0, 0, 0, 2};
    r->marker.len = 0;
    rc = lg_batch_builder_add(b, 0, key, sizeof(key), NULL, 0, NULL, 0);
    if (rc == 0)
        rc = lg_batch_builder_finish(b, &r->marker);
    lg_batch_builder_free(b);
    if (rc != 0)
        return rc;
    unsigned char *h = r->marker.data;
    cn_wr_be16(h + 21, (uint16_t)(cn_rd_be16(h + 21) | LG_ATTR_CONTROL));
    cn_wr_be32(h + 17, cn_crc32c(0, h + 21, r->marker.len - 21));
    return 0;
}

static void rp_append_cb(void *ud, const lg_append_result *res)
{
    rp_part *p = ud;
    rp_repl *r = p->r;
    pthread_mutex_lock(&r->mu);
    p->inflight--;
    if (res->err && !p->append_err)
        p->append_err = res->err;
    /* Under mu: once inflight is 0 rp_repl_free may free the event. */
    if (res->err)
        event_active(r->wake, 0, 0);
    if (p->inflight == 0)
        pthread_cond_broadcast(&r->idle);
    pthread_mutex_unlock(&r->mu);
}

/* Batches in a run of whole batches (any epoch: a client's carry -1 until
 * the log stamps them), or -1; *last_delta: the last one's
 * lastOffsetDelta. */
static int rp_count_batches(const unsigned char *d, size_t len, int32_t *last_delta)
{
    int n = 0;
    size_t used = 0;
    while (used < len) {
        size_t total;
        lg_batch_hdr h;
        if (lg_batch_size(d + used, len - used, len - used, &total) != 0 ||
            lg_batch_parse_hdr(d + used, total, &h) != 0 || h.last_offset_delta < 0)
            return -1;
        if (last_delta)
            *last_delta = h.last_offset_delta;
        used += total;
        n++;
    }
    return n;
}

static int rp_part_append(rp_part *p, const rp_out *o)
{
    rp_repl *r = p->r;
    const unsigned char *d = o->data;
    size_t len = o->len;
    int32_t epoch = -1; /* a follower stores the leader's batches verbatim */
    if (!d) {
        d = r->marker.data;
        len = r->marker.len;
    }
    if (!o->data || p->pub.role == RP_LEADER)
        epoch = o->entry.epoch;
    int n = rp_count_batches(d, len, NULL);
    if (n <= 0)
        return CN_EINVAL;
    pthread_mutex_lock(&r->mu);
    p->inflight += n;
    pthread_mutex_unlock(&r->mu);
    int rc = lg_replica_append(r->log, p->topic, p->partition, o->entry.base, epoch, d, len,
                               rp_append_cb, p);
    if (rc != 0) {
        pthread_mutex_lock(&r->mu);
        p->inflight -= n;
        pthread_mutex_unlock(&r->mu);
    }
    return rc;
}

static void rp_part_hw(rp_part *p)
{
    p->pub.hw = rp_node_hw(p->node);
    lg_read_limit_set(p->r->log, p->topic, p->partition, p->pub.hw);
    if (p->r->on_hw)
        p->r->on_hw(p->r->on_hw_ud);
}

static void rp_part_role(rp_part *p, const rp_out *o)
{
    enum rp_role was = p->pub.role;
    if (o->role == RP_LEADER && was != RP_LEADER)
        p->pub.elections++;
    if (o->leader != p->pub.leader)
        p->pub.leader_changes++;
    p->pub.role = o->role;
    p->pub.term = o->term;
    p->pub.leader = o->leader;
    if (was != o->role || o->role == RP_LEADER)
        cn_log_info("rp", "%s/%d: %s in term %d (leader %d)", p->topic, (int)p->partition,
                    o->role == RP_LEADER         ? "leader"
                    : o->role == RP_CANDIDATE    ? "candidate"
                    : o->role == RP_PRECANDIDATE ? "pre-candidate"
                                                 : "follower",
                    (int)o->term, (int)o->leader);
}

/* Carry out one output.  @return 0 or a storage error (the part stops). */
static int rp_part_do(rp_part *p, rp_out *o, int32_t *pt, int32_t *pv, int *npersist)
{
    int rc = 0;
    switch (o->kind) {
    case RP_OUT_SEND:
        rp_part_send(p, o);
        break;
    case RP_OUT_APPEND:
        rc = rp_part_append(p, o);
        break;
    case RP_OUT_TRUNCATE:
        /* Rare (a diverged tail after a failover) and what an operator
         * wants to see when records above the HW vanish. */
        cn_log_info("rp", "%s/%d: truncating the log to offset %lld (term %d, log end was %lld)",
                    p->topic, (int)p->partition, (long long)o->offset, (int)p->pub.term,
                    (long long)p->pub.log_end);
        rc = lg_replica_truncate(p->r->log, p->topic, p->partition, o->offset);
        if (rc == 0 && p->durable_seen > o->offset)
            p->durable_seen = o->offset;
        break;
    case RP_OUT_PERSIST:
        rc = lg_raft_state_save(p->r->log, p->topic, p->partition, o->term, o->vote);
        if (rc == 0 && *npersist < RP_MAX_PERSIST) {
            pt[*npersist] = o->term;
            pv[*npersist] = o->vote;
            (*npersist)++;
        }
        break;
    case RP_OUT_HW:
        rp_part_hw(p);
        break;
    case RP_OUT_ROLE:
        rp_part_role(p, o);
        break;
    }
    return rc;
}

/* Drain every output and report completed persists (whose own outputs
 * are drained in turn); only then answer proposals, so an answer that
 * proposes again never runs between an input and its outputs. */
static void rp_part_drain(rp_part *p)
{
    int32_t pt[RP_MAX_PERSIST], pv[RP_MAX_PERSIST];
    for (;;) {
        int npersist = 0, rc = 0;
        rp_out o;
        while (p->node && rp_node_next(p->node, &o) == 0)
            if (rc == 0)
                rc = rp_part_do(p, &o, pt, pv, &npersist);
        if (!p->node)
            return;
        if (rc != 0) {
            rp_part_stop(p, rc, "storage request failed");
            return;
        }
        p->pub.log_end = rp_node_log_end(p->node);
        p->pub.serving = rp_node_read_hw(p->node) >= 0;
        if (!p->pub.serving && p->prod) {
            /* Reloaded when it serves again: its state then includes what
             * other leaders stored meanwhile. */
            lg_producers_free(p->prod);
            p->prod = NULL;
        }
        if (npersist == 0)
            break;
        for (int i = 0; i < npersist && rc == 0; i++)
            rc = rp_node_persisted(p->node, pt[i], pv[i]);
        if (rc != 0) {
            rp_part_stop(p, rc, "replication core failed");
            return;
        }
    }
    if (p->pub.role != RP_LEADER && p->npend)
        rp_pend_fail_all(p, CN_EPERM);
    else
        rp_pend_complete(p);
}

/* ======================================================================
 * start, stop, restart
 * ====================================================================== */

typedef struct rp_hist {
    rp_epoch_start *v;
    size_t n, cap;
} rp_hist;

static int rp_hist_add(void *ud, int32_t epoch, int64_t start)
{
    rp_hist *h = ud;
    if (h->n == h->cap) {
        size_t c = h->cap ? h->cap * 2 : 16;
        rp_epoch_start *v = cn_realloc(h->v, c * sizeof(*v));
        if (!v)
            return CN_ENOMEM;
        h->v = v;
        h->cap = c;
    }
    h->v[h->n++] = (rp_epoch_start){epoch, start};
    return 0;
}

static rp_config rp_part_config(const rp_part *p)
{
    const rp_repl *r = p->r;
    rp_config c = {.topic_id = p->topic_id,
                   .partition = (uint32_t)p->partition,
                   .self = r->o.self,
                   .nvoters = r->cluster.npeers,
                   .election_ticks = r->o.election_ticks,
                   .heartbeat_ticks = r->o.heartbeat_ticks,
                   .max_fetch_bytes = r->o.max_fetch_bytes};
    for (int i = 0; i < r->cluster.npeers; i++)
        c.voters[i] = r->cluster.peers[i].id;
    if (getrandom(&c.seed, sizeof(c.seed), 0) != (ssize_t)sizeof(c.seed))
        c.seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)p ^ ((uint64_t)getpid() << 32);
    return c;
}

/* Recreate the core from storage.  @return 0; CN_AGAIN (appends still in
 * flight or the log not durable to its end: try later); an error. */
static int rp_part_start(rp_part *p)
{
    rp_repl *r = p->r;
    pthread_mutex_lock(&r->mu);
    int busy = p->inflight > 0;
    p->append_err = 0;
    pthread_mutex_unlock(&r->mu);
    lg_partition_info info;
    int64_t dur = 0;
    int rc = busy ? CN_AGAIN : lg_partition_info_get(r->log, p->topic, p->partition, &info);
    if (rc == 0)
        rc = lg_durable_end(r->log, p->topic, p->partition, &dur);
    if (rc == 0 && dur < info.log_end_offset)
        rc = CN_AGAIN;
    rp_recovered rec = {0, -1, 0, NULL, 0};
    if (rc == 0)
        rc = lg_raft_state_load(r->log, p->topic, p->partition, &rec.term, &rec.voted_for);
    rp_hist h = {0};
    if (rc == 0)
        rc = lg_epochs_each(r->log, p->topic, p->partition, rp_hist_add, &h);
    if (rc == 0) {
        rec.log_end = info.log_end_offset;
        rec.epochs = h.v;
        rec.nepochs = h.n;
        rp_config c = rp_part_config(p);
        rc = rp_node_create(&p->node, &c, &rec);
    }
    cn_free(h.v);
    if (rc != 0)
        return rc;
    p->durable_seen = dur;
    p->pub = (rp_part_state){.running = 1,
                             .role = RP_FOLLOWER,
                             .leader = -1,
                             .term = rp_node_term(p->node),
                             .hw = rp_node_hw(p->node),
                             .log_end = rec.log_end};
    return 0;
}

static void rp_restart_cb(evutil_socket_t fd, short what, void *ud)
{
    rp_part *p = ud;
    int rc = rp_part_start(p);
    if (rc == 0) {
        cn_log_info("rp", "%s/%d: replica restarted from storage (term %d)", p->topic,
                    (int)p->partition, (int)p->pub.term);
        rp_part_drain(p);
        return;
    }
    if (rc != CN_AGAIN)
        cn_log_warn("rp", "%s/%d: replica restart failed: %s", p->topic, (int)p->partition,
                    cn_strerror(rc));
    struct timeval tv = {RP_PART_RESTART_MS / 1000, (RP_PART_RESTART_MS % 1000) * 1000};
    evtimer_add(p->restart, &tv);
}

/* As a crash: drop the core (storage holds all it may not forget), fail
 * what waits, restart later. */
static void rp_part_stop(rp_part *p, int err, const char *why)
{
    if (!p->node)
        return;
    cn_log_error("rp", "%s/%d: replica stopped: %s: %s; restarting from storage", p->topic,
                 (int)p->partition, why, cn_strerror(err));
    rp_node_destroy(p->node);
    p->node = NULL;
    lg_producers_free(p->prod);
    p->prod = NULL;
    p->pub.running = p->pub.serving = 0;
    p->pub.role = RP_FOLLOWER;
    p->pub.leader = -1;
    lg_read_limit_set(p->r->log, p->topic, p->partition, p->pub.hw);
    if (p->npend)
        rp_pend_fail_all(p, CN_EPERM);
    struct timeval tv = {RP_PART_RESTART_MS / 1000, (RP_PART_RESTART_MS % 1000) * 1000};
    evtimer_add(p->restart, &tv);
}

/* ======================================================================
 * inputs: ticks, frames, durability
 * ====================================================================== */

static void rp_tick_cb(evutil_socket_t fd, short what, void *ud)
{
    rp_repl *r = ud;
    if (++r->ticks >= RP_EXPIRE_TICKS) {
        r->ticks = 0;
        for (size_t i = 0; i < r->nparts; i++)
            lg_producers_expire(r->log, r->parts[i]->prod);
    }
    for (size_t i = 0; i < r->nparts; i++) {
        rp_part *p = r->parts[i];
        if (!p->node)
            continue;
        int rc = rp_node_tick(p->node);
        rp_part_drain(p);
        if (rc != 0)
            rp_part_stop(p, rc, "replication core failed");
    }
}

static rp_part *rp_find_id(const rp_repl *r, uint32_t topic_id, int32_t partition)
{
    for (size_t i = 0; i < r->nparts; i++) /* tens of partitions: a scan is enough */
        if (r->parts[i]->topic_id == topic_id && r->parts[i]->partition == partition)
            return r->parts[i];
    return NULL;
}

static rp_part *rp_find(const rp_repl *r, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < r->nparts; i++)
        if (r->parts[i]->partition == partition && strcmp(r->parts[i]->topic, topic) == 0)
            return r->parts[i];
    return NULL;
}

static void rp_deliver(void *ud, const rp_msg *m)
{
    rp_repl *r = ud;
    rp_part *p =
        m->partition <= INT32_MAX ? rp_find_id(r, m->topic_id, (int32_t)m->partition) : NULL;
    if (!p || !p->node)
        return; /* not hosted here (yet), or stopped: as a lost message */
    int rc = rp_node_receive(p->node, m);
    rp_part_drain(p);
    if (rc == CN_ENOMEM)
        rp_part_stop(p, rc, "replication core failed");
}

/* Writer thread: a round made appends durable (or visible). */
static void rp_end_moved(void *ud)
{
    rp_repl *r = ud;
    event_active(r->wake, 0, 0);
}

static void rp_wake_cb(evutil_socket_t fd, short what, void *ud)
{
    rp_repl *r = ud;
    for (size_t i = 0; i < r->nparts; i++) {
        rp_part *p = r->parts[i];
        pthread_mutex_lock(&r->mu);
        int err = p->append_err;
        p->append_err = 0;
        pthread_mutex_unlock(&r->mu);
        if (!p->node)
            continue;
        if (err) {
            rp_part_stop(p, err, "append failed");
            continue;
        }
        rp_pend_complete(p); /* duplicates answered from the wake (rp_repl_propose) */
        int64_t d = 0;
        if (lg_durable_end(r->log, p->topic, p->partition, &d) != 0 || d <= p->durable_seen)
            continue;
        p->durable_seen = d;
        int rc = rp_node_durable(p->node, d);
        rp_part_drain(p);
        if (rc != 0)
            rp_part_stop(p, rc, "replication core failed");
    }
}

/* ======================================================================
 * public API
 * ====================================================================== */

int rp_repl_new(rp_repl **out, struct event_base *base, lg_log *log, const rp_repl_opts *o)
{
    *out = NULL;
    if (!base || !log || !o || !o->cluster || !rp_cluster_peer(o->cluster, o->self))
        return CN_EINVAL;
    rp_repl *r = cn_calloc(1, sizeof(*r));
    if (!r)
        return CN_ENOMEM;
    r->base = base;
    r->log = log;
    r->o = *o;
    r->cluster = *o->cluster;
    r->o.cluster = &r->cluster;
    r->o.tick_ms = o->tick_ms ? o->tick_ms : 50;
    r->o.election_ticks = o->election_ticks ? o->election_ticks : 10;
    r->o.heartbeat_ticks = o->heartbeat_ticks ? o->heartbeat_ticks : 2;
    r->o.max_fetch_bytes = o->max_fetch_bytes > 0 ? o->max_fetch_bytes : 1 << 20;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->idle, NULL);
    r->tick = event_new(base, -1, EV_PERSIST, rp_tick_cb, r);
    r->wake = event_new(base, -1, 0, rp_wake_cb, r);
    rp_net_opts no = {.cluster = &r->cluster,
                      .self = o->self,
                      .deliver = rp_deliver,
                      .ud = r,
                      .listen = o->listen,
                      .tls = o->tls};
    int rc = !r->tick || !r->wake ? CN_ENOMEM : rp_marker_build(r);
    if (rc == 0)
        rc = rp_net_new(&r->net, base, &no);
    if (rc == 0)
        rc = lg_end_listen(log, rp_end_moved, r);
    if (rc != 0) {
        rp_repl_free(r);
        return rc;
    }
    r->listening = 1;
    struct timeval tv = {r->o.tick_ms / 1000, (r->o.tick_ms % 1000) * 1000};
    event_add(r->tick, &tv);
    *out = r;
    return 0;
}

int rp_repl_add(rp_repl *r, const char *topic, int32_t partition)
{
    if (rp_find(r, topic, partition))
        return CN_EEXIST;
    size_t tl = strlen(topic);
    if (tl == 0 || tl >= sizeof(((rp_part *)0)->topic) || partition < 0)
        return CN_EINVAL;
    uint32_t id = cn_crc32c(0, topic, tl);
    for (size_t i = 0; i < r->nparts; i++)
        if (r->parts[i]->topic_id == id && strcmp(r->parts[i]->topic, topic) != 0)
            return CN_EINVAL; /* two names, one topic id: refuse rather than mix them */
    if (r->nparts == r->capparts) {
        size_t c = r->capparts ? r->capparts * 2 : 16;
        rp_part **v = cn_realloc(r->parts, c * sizeof(*v));
        if (!v)
            return CN_ENOMEM;
        r->parts = v;
        r->capparts = c;
    }
    rp_part *p = cn_calloc(1, sizeof(*p));
    if (!p)
        return CN_ENOMEM;
    p->r = r;
    memcpy(p->topic, topic, tl + 1);
    p->partition = partition;
    p->topic_id = id;
    p->restart = evtimer_new(r->base, rp_restart_cb, p);
    /* Nothing is served until the core knows what is committed. */
    int rc = p->restart ? lg_read_limit_set(r->log, topic, partition, 0) : CN_ENOMEM;
    if (rc == 0)
        rc = rp_part_start(p);
    if (rc != 0) {
        if (p->restart)
            event_free(p->restart);
        rp_node_destroy(p->node);
        cn_free(p);
        return rc;
    }
    r->parts[r->nparts++] = p;
    rp_part_drain(p);
    return 0;
}

int rp_repl_state(const rp_repl *r, const char *topic, int32_t partition, rp_part_state *out)
{
    rp_part *p = rp_find(r, topic, partition);
    if (!p)
        return CN_ENOENT;
    *out = p->pub;
    out->nisr = 0;
    for (int i = 0; i < RP_MAX_VOTERS; i++)
        out->synced[i] = -1;
    if (p->node && p->pub.role == RP_LEADER) {
        for (int i = 0; i < r->cluster.npeers; i++) {
            if (rp_node_in_sync(p->node, r->cluster.peers[i].id))
                out->isr[out->nisr++] = r->cluster.peers[i].id;
            out->synced[i] = rp_node_synced(p->node, r->cluster.peers[i].id);
        }
    } else if (p->pub.leader >= 0) {
        out->isr[out->nisr++] = p->pub.leader;
    }
    return 0;
}

static int rp_pend_push(rp_part *p, rp_pend e)
{
    if (p->npend == p->cappend) {
        size_t c = p->cappend ? p->cappend * 2 : 64;
        rp_pend *v = cn_realloc(p->pend, c * sizeof(*v));
        if (!v)
            return CN_ENOMEM;
        p->pend = v;
        p->cappend = c;
    }
    p->pend[p->npend++] = e;
    return 0;
}

/* An idempotent producer's batch at the serving leader, before the core
 * gives it an offset: LG_PRODUCER_NEW, LG_PRODUCER_DUP (*dup_base,
 * *dup_last: where the original is), LG_ESEQ, LG_EFENCED, LG_EUNKNOWNPID
 * (an id no voter can have allocated), or a load error. */
static int rp_producer_check(rp_part *p, const lg_batch_hdr *h, int64_t *dup_base,
                             int64_t *dup_last)
{
    if (h->producer_id < 0)
        return LG_PRODUCER_NEW;
    int64_t node = h->producer_id >> RP_PID_NODE_SHIFT;
    if (node > INT32_MAX || !rp_cluster_peer(&p->r->cluster, (int32_t)node))
        return LG_EUNKNOWNPID; /* bounds the state a client can make us keep */
    if (!p->prod) {
        /* First idempotent batch of this leadership: every batch below the
         * own-term marker is stored and its producer state indexed (the
         * marker is durable here, and a round commits its index before its
         * durable end moves), and none of this term is yet. */
        int rc = lg_producers_load(p->r->log, p->topic, p->partition, &p->prod);
        if (rc != 0)
            return rc;
    }
    return lg_producers_check(p->prod, h, dup_base, dup_last);
}

int rp_repl_propose(rp_repl *r, const char *topic, int32_t partition, const void *batch, size_t len,
                    int acks_all, rp_ack_fn cb, void *ud)
{
    rp_part *p = rp_find(r, topic, partition);
    if (!p)
        return CN_ENOENT;
    if (!p->node || rp_node_read_hw(p->node) < 0)
        return CN_EPERM; /* not leader, or its own-term marker is not committed yet */
    int32_t delta = 0;
    lg_batch_hdr h;
    if (!batch || rp_count_batches(batch, len, &delta) != 1 ||
        lg_batch_parse_hdr(batch, len, &h) != 0)
        return CN_EINVAL;
    int64_t dup_base, dup_last;
    int chk = rp_producer_check(p, &h, &dup_base, &dup_last);
    if (chk < 0)
        return chk;
    int32_t term = rp_node_term(p->node);
    if (chk == LG_PRODUCER_DUP) {
        /* A retry of a batch this log holds: not stored again, answered
         * with the original's offset once the original is acknowledged as
         * this proposal would be (below the HW, or durable here) in this
         * term.  The original is committed (below the own-term marker) or
         * one of this term's proposals.  Answered from the wake, never
         * from inside this call. */
        int rc = rp_pend_push(p, (rp_pend){dup_base, dup_last, term, acks_all, cb, ud});
        if (rc == 0) {
            event_active(r->wake, 0, 0);
            cn_log_info("rp",
                        "%s/%d: producer %lld sequence %d retried: a duplicate of offsets "
                        "%lld-%lld, not stored again",
                        p->topic, (int)p->partition, (long long)h.producer_id, (int)h.base_sequence,
                        (long long)dup_base, (long long)dup_last);
        }
        return rc;
    }
    if (p->npend == p->cappend) {
        int rc = rp_pend_push(p, (rp_pend){0}); /* room first: nothing may fail after proposing */
        if (rc != 0)
            return rc;
        p->npend--;
    }
    rp_entry a;
    int rc = rp_node_propose(p->node, delta + 1, batch, len, &a);
    if (rc != 0)
        return rc;
    if (h.producer_id >= 0 && lg_producers_record(p->prod, &h, a.base) != 0) {
        /* The copy would miss a batch the log would hold: stop as a crash
         * does, before the core's APPEND is carried out (nothing of this
         * proposal is stored), and reload the state on restart. */
        rp_part_stop(p, CN_ENOMEM, "producer state");
        return CN_ENOMEM;
    }
    p->pend[p->npend++] = (rp_pend){a.base, a.last, a.epoch, acks_all, cb, ud};
    rp_part_drain(p);
    return 0;
}

void rp_repl_on_hw(rp_repl *r, void (*fn)(void *ud), void *ud)
{
    r->on_hw = fn;
    r->on_hw_ud = ud;
}

rp_net *rp_repl_net(rp_repl *r)
{
    return r->net;
}

void rp_repl_free(rp_repl *r)
{
    if (!r)
        return;
    if (r->listening)
        lg_end_unlisten(r->log, rp_end_moved, r);
    rp_net_free(r->net);
    for (size_t i = 0; i < r->nparts; i++) {
        rp_part *p = r->parts[i];
        rp_node_destroy(p->node);
        p->node = NULL;
        lg_producers_free(p->prod);
        p->prod = NULL;
        if (p->npend)
            rp_pend_fail_all(p, CN_EPERM);
    }
    /* The log's writer still holds our parts as append callback data. */
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->nparts; i++)
        while (r->parts[i]->inflight > 0)
            pthread_cond_wait(&r->idle, &r->mu);
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < r->nparts; i++) {
        event_free(r->parts[i]->restart);
        cn_free(r->parts[i]->pend);
        cn_free(r->parts[i]);
    }
    cn_free(r->parts);
    if (r->tick)
        event_free(r->tick);
    if (r->wake)
        event_free(r->wake);
    cn_buf_free(&r->rd);
    cn_buf_free(&r->marker);
    pthread_cond_destroy(&r->idle);
    pthread_mutex_destroy(&r->mu);
    cn_free(r);
}
