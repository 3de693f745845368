/* SPDX-License-Identifier: MIT */
/*
 * kf_txn.c — the transaction coordinator of a standalone cairn logd: one
 * record per transactional id (producer id, epoch, timeout, state, the
 * partitions and consumer groups of the open transaction, the offsets sent
 * to it), the state machine Kafka's coordinator runs
 *
 *   Empty/Complete* --AddPartitions/AddOffsets--> Ongoing
 *   Ongoing --EndTxn / fencing InitProducerId / timeout--> PrepareCommit|PrepareAbort
 *   Prepare* --every marker durable (+ offsets committed)--> CompleteCommit|CompleteAbort
 *
 * and the transaction markers (control batches) it writes to every
 * partition of a transaction that ends.
 *
 * Durability: every state change is stored in DATA/state (`txns`, synced:
 * lg_txn_state_put) before the request that caused it is answered, so a
 * transaction survives SIGKILL of logd: after a restart a Prepare* record
 * has its markers written again (a second marker for a transaction that
 * is already closed in a partition changes nothing there), and an Ongoing
 * one is aborted when its timeout, counted from its stored start time,
 * passes.  A Prepare* state is stored before the first marker is
 * appended, so no marker exists for a transaction the coordinator could
 * forget.  Offsets sent to a transaction are stored in the record and
 * committed to the group store only after the COMMIT markers are durable.
 *
 * Fencing: InitProducerId for a transactional id bumps its epoch; an open
 * transaction of the previous instance is aborted first, with the new
 * epoch in its markers, so the log refuses that instance's later batches
 * (LG_EFENCED); the coordinator refuses its requests (PRODUCER_FENCED /
 * INVALID_PRODUCER_EPOCH).  A timed-out transaction is aborted the same
 * way (epoch bumped).
 *
 * Threads: everything runs on the kf_server's loop, except the markers'
 * append callbacks (the log's writer thread), which only count under
 * tc->mu and wake the loop.  Record writes (a synced LMDB commit each)
 * block the loop for one fsync: a known cost, paid once per transaction
 * state change, not per record.
 * Ownership: the coordinator owns every kf_txn; a kf_txn names at most one
 * waiting connection (EndTxn or a fencing InitProducerId), cleared when
 * that connection goes (kf__txn_conn_gone).
 * See docs/architecture.md, "Transactions", and docs/kafka.md.
 */
#include "kf_txn.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_log.h"
#include "cn_time.h"
#include "kf_errors.h"

#include <event2/event.h>
#include <string.h>

#define KF_TXN_TICK_MS 200
#define KF_TXN_REC_VERSION 1

static const char *const kf_txn_state_names[] = {"Empty",        "Ongoing",        "PrepareCommit",
                                                 "PrepareAbort", "CompleteCommit", "CompleteAbort"};

const char *kf__txn_state_name(int state)
{
    return state >= 0 && state <= KF_TXN_COMPLETE_ABORT ? kf_txn_state_names[state] : "Unknown";
}

/* ======================================================================
 * records: encode / decode (DATA/state `txns`, key = transactional id)
 * ====================================================================== */

typedef struct kf_txn_w {
    cn_buf b;
    int err;
} kf_txn_w;

static void kf_txn_put(kf_txn_w *w, const void *p, size_t n)
{
    if (!w->err)
        w->err = cn_buf_append(&w->b, p, n);
}

static void kf_txn_put_u64(kf_txn_w *w, uint64_t v)
{
    unsigned char x[8];
    cn_wr_be64(x, v);
    kf_txn_put(w, x, 8);
}

static void kf_txn_put_u32(kf_txn_w *w, uint32_t v)
{
    unsigned char x[4];
    cn_wr_be32(x, v);
    kf_txn_put(w, x, 4);
}

static void kf_txn_put_str(kf_txn_w *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    kf_txn_put_u32(w, s ? (uint32_t)n : UINT32_MAX);
    if (s)
        kf_txn_put(w, s, n);
}

static int kf_txn_encode(const kf_txn *t, cn_buf *out)
{
    kf_txn_w w = {CN_BUF_INIT, 0};
    unsigned char v = KF_TXN_REC_VERSION, st = (unsigned char)t->state;
    kf_txn_put(&w, &v, 1);
    kf_txn_put(&w, &st, 1);
    kf_txn_put_u64(&w, (uint64_t)t->pid);
    kf_txn_put_u32(&w, (uint32_t)(uint16_t)t->epoch);
    kf_txn_put_u32(&w, (uint32_t)t->timeout_ms);
    kf_txn_put_u64(&w, (uint64_t)t->start_ms);
    kf_txn_put_u32(&w, (uint32_t)t->ntp);
    for (size_t i = 0; i < t->ntp; i++) {
        kf_txn_put_str(&w, t->tps[i].topic);
        kf_txn_put_u32(&w, (uint32_t)t->tps[i].part);
    }
    kf_txn_put_u32(&w, (uint32_t)t->ngroups);
    for (size_t i = 0; i < t->ngroups; i++)
        kf_txn_put_str(&w, t->groups[i]);
    kf_txn_put_u32(&w, (uint32_t)t->noff);
    for (size_t i = 0; i < t->noff; i++) {
        const kf_txn_off *o = &t->offs[i];
        kf_txn_put_str(&w, o->group);
        kf_txn_put_str(&w, o->topic);
        kf_txn_put_u32(&w, (uint32_t)o->part);
        kf_txn_put_u64(&w, (uint64_t)o->offset);
        kf_txn_put_str(&w, o->md);
    }
    if (w.err) {
        cn_buf_free(&w.b);
        return w.err;
    }
    *out = w.b;
    return 0;
}

typedef struct kf_txn_r {
    const unsigned char *p;
    size_t n, at;
    int bad;
} kf_txn_r;

static const unsigned char *kf_txn_get(kf_txn_r *r, size_t n)
{
    if (r->bad || r->n - r->at < n) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *p = r->p + r->at;
    r->at += n;
    return p;
}

static uint64_t kf_txn_get_u64(kf_txn_r *r)
{
    const unsigned char *p = kf_txn_get(r, 8);
    return p ? cn_rd_be64(p) : 0;
}

static uint32_t kf_txn_get_u32(kf_txn_r *r)
{
    const unsigned char *p = kf_txn_get(r, 4);
    return p ? cn_rd_be32(p) : 0;
}

/* A string (NULL for a null one); *err set on a bad record or no memory. */
static char *kf_txn_get_str(kf_txn_r *r, int *err)
{
    uint32_t n = kf_txn_get_u32(r);
    if (r->bad || n == UINT32_MAX)
        return NULL;
    const unsigned char *p = kf_txn_get(r, n);
    if (!p)
        return NULL;
    char *s = cn_malloc((size_t)n + 1);
    if (!s) {
        *err = CN_ENOMEM;
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

static void kf_txn_clear(kf_txn *t)
{
    for (size_t i = 0; i < t->ntp; i++)
        cn_free(t->tps[i].topic);
    for (size_t i = 0; i < t->ngroups; i++)
        cn_free(t->groups[i]);
    for (size_t i = 0; i < t->noff; i++) {
        cn_free(t->offs[i].group);
        cn_free(t->offs[i].topic);
        cn_free(t->offs[i].md);
    }
    t->ntp = t->ngroups = t->noff = 0;
}

static void kf_txn_free(kf_txn *t)
{
    if (!t)
        return;
    kf_txn_clear(t);
    cn_free(t->tps);
    cn_free(t->groups);
    cn_free(t->offs);
    cn_free(t->id);
    cn_free(t);
}

#define KF_TXN_GROW(arr, n, cap)                                                                   \
    ((n) < (cap) ? 0 : kf_txn_grow((void **)&(arr), &(cap), sizeof(*(arr))))

static int kf_txn_grow(void **arr, size_t *cap, size_t elem)
{
    size_t nc = *cap ? *cap * 2 : 4;
    void *na = cn_realloc(*arr, nc * elem);
    if (!na)
        return CN_ENOMEM;
    *arr = na;
    *cap = nc;
    return 0;
}

/* Counts in a record are bounded by its length (each entry takes at least
 * 4 bytes), so a damaged count cannot make us allocate without bound. */
static int kf_txn_count_ok(const kf_txn_r *r, uint32_t n)
{
    return !r->bad && (size_t)n <= (r->n - r->at) / 4;
}

void kf__txn_free_for_test(kf_txn *t)
{
    kf_txn_free(t);
}

int kf__txn_decode(const char *id, const void *val, size_t n, kf_txn **out)
{
    kf_txn_r r = {val, n, 0, 0};
    kf_txn *t = cn_calloc(1, sizeof(*t));
    if (!t)
        return CN_ENOMEM;
    int err = 0;
    t->id = cn_strdup(id);
    if (!t->id)
        err = CN_ENOMEM;
    const unsigned char *h = kf_txn_get(&r, 2);
    if (!h || h[0] != KF_TXN_REC_VERSION || h[1] > KF_TXN_COMPLETE_ABORT)
        r.bad = 1;
    else
        t->state = h[1];
    t->pid = (int64_t)kf_txn_get_u64(&r);
    t->epoch = (int16_t)kf_txn_get_u32(&r);
    t->timeout_ms = (int32_t)kf_txn_get_u32(&r);
    t->start_ms = (int64_t)kf_txn_get_u64(&r);
    uint32_t ntp = kf_txn_get_u32(&r);
    if (!kf_txn_count_ok(&r, ntp))
        r.bad = 1;
    for (uint32_t i = 0; i < ntp && !r.bad && !err; i++) {
        if (KF_TXN_GROW(t->tps, t->ntp, t->tpcap)) {
            err = CN_ENOMEM;
            break;
        }
        kf_txn_tp *tp = &t->tps[t->ntp];
        tp->topic = kf_txn_get_str(&r, &err);
        tp->part = (int32_t)kf_txn_get_u32(&r);
        if (!tp->topic)
            r.bad = 1;
        else
            t->ntp++;
    }
    uint32_t ng = kf_txn_get_u32(&r);
    if (!kf_txn_count_ok(&r, ng))
        r.bad = 1;
    for (uint32_t i = 0; i < ng && !r.bad && !err; i++) {
        if (KF_TXN_GROW(t->groups, t->ngroups, t->groupcap)) {
            err = CN_ENOMEM;
            break;
        }
        char *g = kf_txn_get_str(&r, &err);
        if (!g)
            r.bad = 1;
        else
            t->groups[t->ngroups++] = g;
    }
    uint32_t no = kf_txn_get_u32(&r);
    if (!kf_txn_count_ok(&r, no))
        r.bad = 1;
    for (uint32_t i = 0; i < no && !r.bad && !err; i++) {
        if (KF_TXN_GROW(t->offs, t->noff, t->offcap)) {
            err = CN_ENOMEM;
            break;
        }
        kf_txn_off *o = &t->offs[t->noff];
        memset(o, 0, sizeof(*o));
        o->group = kf_txn_get_str(&r, &err);
        o->topic = kf_txn_get_str(&r, &err);
        o->part = (int32_t)kf_txn_get_u32(&r);
        o->offset = (int64_t)kf_txn_get_u64(&r);
        o->md = kf_txn_get_str(&r, &err);
        t->noff++; /* freed with t whatever was read */
        if (!o->group || !o->topic)
            r.bad = 1;
    }
    if (!err && (r.bad || r.at != r.n || t->pid < 0 || t->epoch < 0 || t->timeout_ms <= 0))
        err = CN_ECORRUPT;
    if (err) {
        kf_txn_free(t);
        return err;
    }
    *out = t;
    return 0;
}

/* ======================================================================
 * the coordinator
 * ====================================================================== */

struct kf_txn_coord {
    kf_server *s;
    kf_txn **v; /* FUTURE: a hash table when a node serves thousands of transactional ids */
    size_t n, cap;
    pthread_mutex_t mu; /* markers_due, marker_err, the done list */
    kf_txn *done_head;
    int markers_in_flight; /* transactions with markers outstanding (under mu) */
    struct event *wake, *tick;
    int64_t max_timeout_ms;
};

kf_txn *kf__txn_find(kf_txn_coord *tc, const char *id)
{
    for (size_t i = 0; i < tc->n; i++)
        if (strcmp(tc->v[i]->id, id) == 0)
            return tc->v[i];
    return NULL;
}

size_t kf__txn_count(const kf_txn_coord *tc)
{
    return tc->n;
}

kf_txn *kf__txn_at(kf_txn_coord *tc, size_t i)
{
    return i < tc->n ? tc->v[i] : NULL;
}

int64_t kf__txn_max_timeout_ms(const kf_txn_coord *tc)
{
    return tc->max_timeout_ms;
}

static int kf_txn_insert(kf_txn_coord *tc, kf_txn *t)
{
    if (KF_TXN_GROW(tc->v, tc->n, tc->cap))
        return CN_ENOMEM;
    tc->v[tc->n++] = t;
    return 0;
}

int kf__txn_save(kf_txn_coord *tc, kf_txn *t)
{
    cn_buf b;
    int rc = kf_txn_encode(t, &b);
    if (rc)
        return rc;
    rc = lg_txn_state_put(tc->s->log, t->id, b.data, b.len);
    cn_buf_free(&b);
    if (rc)
        cn_log_error("kf", "cannot store transaction %s: %s", t->id, cn_strerror(rc));
    return rc;
}

int kf__txn_create(kf_txn_coord *tc, const char *id, int64_t pid, int32_t timeout_ms, kf_txn **out)
{
    kf_txn *t = cn_calloc(1, sizeof(*t));
    if (!t)
        return CN_ENOMEM;
    t->id = cn_strdup(id);
    if (!t->id) {
        cn_free(t);
        return CN_ENOMEM;
    }
    t->pid = pid;
    t->epoch = 0;
    t->timeout_ms = timeout_ms;
    t->state = KF_TXN_EMPTY;
    t->start_ms = -1;
    t->tc = tc;
    int rc = kf__txn_save(tc, t);
    if (!rc)
        rc = kf_txn_insert(tc, t);
    if (rc) {
        kf_txn_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int kf__txn_add_partition(kf_txn *t, const char *topic, int32_t part)
{
    for (size_t i = 0; i < t->ntp; i++)
        if (t->tps[i].part == part && strcmp(t->tps[i].topic, topic) == 0)
            return 0;
    if (KF_TXN_GROW(t->tps, t->ntp, t->tpcap))
        return CN_ENOMEM;
    char *c = cn_strdup(topic);
    if (!c)
        return CN_ENOMEM;
    t->tps[t->ntp++] = (kf_txn_tp){c, part};
    return 0;
}

int kf__txn_has_partition(const kf_txn *t, const char *topic, int32_t part)
{
    for (size_t i = 0; i < t->ntp; i++)
        if (t->tps[i].part == part && strcmp(t->tps[i].topic, topic) == 0)
            return 1;
    return 0;
}

int kf__txn_add_group(kf_txn *t, const char *group)
{
    for (size_t i = 0; i < t->ngroups; i++)
        if (strcmp(t->groups[i], group) == 0)
            return 0;
    if (KF_TXN_GROW(t->groups, t->ngroups, t->groupcap))
        return CN_ENOMEM;
    char *c = cn_strdup(group);
    if (!c)
        return CN_ENOMEM;
    t->groups[t->ngroups++] = c;
    return 0;
}

int kf__txn_has_group(const kf_txn *t, const char *group)
{
    for (size_t i = 0; i < t->ngroups; i++)
        if (strcmp(t->groups[i], group) == 0)
            return 1;
    return 0;
}

int kf__txn_add_offset(kf_txn *t, const char *group, const char *topic, int32_t part,
                       int64_t offset, const char *md)
{
    char *mdc = md ? cn_strdup(md) : NULL;
    if (md && !mdc)
        return CN_ENOMEM;
    for (size_t i = 0; i < t->noff; i++) {
        kf_txn_off *o = &t->offs[i];
        if (o->part == part && strcmp(o->topic, topic) == 0 && strcmp(o->group, group) == 0) {
            o->offset = offset;
            cn_free(o->md);
            o->md = mdc;
            return 0;
        }
    }
    char *g = cn_strdup(group), *tp = cn_strdup(topic);
    if (!g || !tp || KF_TXN_GROW(t->offs, t->noff, t->offcap)) {
        cn_free(g);
        cn_free(tp);
        cn_free(mdc);
        return CN_ENOMEM;
    }
    t->offs[t->noff++] = (kf_txn_off){g, tp, part, offset, mdc};
    return 0;
}

/* ---- ending a transaction: markers, offsets, completion ------------------------ */

static void kf_txn_answer(kf_txn_coord *tc, kf_txn *t, int16_t err);

/* Writer thread: one marker is durable (or failed). */
static void kf_txn_marker_cb(void *ud, const lg_append_result *res)
{
    kf_txn *t = ud;
    kf_txn_coord *tc = t->tc;
    pthread_mutex_lock(&tc->mu);
    if (res->err && res->err != LG_ENOTOPIC && res->err != LG_ENOPART && !t->marker_err)
        t->marker_err = res->err;
    int last = --t->markers_due == 0;
    if (last) {
        t->next_done = tc->done_head;
        tc->done_head = t;
    }
    pthread_mutex_unlock(&tc->mu);
    if (last)
        event_active(tc->wake, EV_READ, 0);
}

/* Loop: every marker of t is in (or failed): commit the offsets, complete. */
static void kf_txn_markers_done(kf_txn_coord *tc, kf_txn *t)
{
    pthread_mutex_lock(&tc->mu);
    int err = t->marker_err;
    tc->markers_in_flight--;
    pthread_mutex_unlock(&tc->mu);
    t->in_flight = 0;
    int commit = t->state == KF_TXN_PREPARE_COMMIT;
    if (!err && commit && t->noff) {
        lg_group_offset *v = cn_calloc(t->noff, sizeof(*v));
        if (!v)
            err = CN_ENOMEM;
        for (size_t i = 0; v && i < t->noff; i++)
            v[i] = (lg_group_offset){t->offs[i].group,  t->offs[i].topic, t->offs[i].part,
                                     t->offs[i].offset, t->offs[i].md,    0};
        /* One synced LMDB commit on the loop: once per committed transaction. */
        if (v)
            err = lg_group_offsets_commit(tc->s->log, v, t->noff);
        for (size_t i = 0; v && !err && i < t->noff; i++)
            if (v[i].err)
                cn_log_warn("kf", "transaction %s: offset of %s %s/%d not committed: %s", t->id,
                            v[i].group, v[i].topic, v[i].partition, cn_strerror(v[i].err));
        cn_free(v);
    }
    if (err) {
        /* The markers (or offsets) are retried on the next tick; the state
         * stays Prepare*, so the client's retry sees CONCURRENT_TRANSACTIONS
         * until it completes. */
        cn_log_warn("kf", "transaction %s: %s not complete (%s); retrying", t->id,
                    commit ? "commit" : "abort", cn_strerror(err));
        t->retry_at_ms = cn_now_ms() + 1000;
        kf_txn_answer(tc, t, kf__kafka_error(err));
        return;
    }
    t->state = commit ? KF_TXN_COMPLETE_COMMIT : KF_TXN_COMPLETE_ABORT;
    kf_txn_clear(t);
    t->start_ms = -1;
    /* A failed store here is harmless: the stored Prepare* record makes a
     * restart write the markers again, which changes nothing. */
    kf__txn_save(tc, t);
    kf_txn_answer(tc, t, 0);
}

/* Append t's markers (state Prepare*).  0 when they are on their way (the
 * wake completes them), 1 when t had no partition and is complete now. */
static int kf_txn_markers(kf_txn_coord *tc, kf_txn *t)
{
    int commit = t->state == KF_TXN_PREPARE_COMMIT;
    cn_buf b = CN_BUF_INIT;
    int rc = lg_control_batch(&b, t->pid, t->epoch, commit, 0, cn_now_ms());
    if (rc) {
        cn_buf_free(&b);
        t->retry_at_ms = cn_now_ms() + 1000;
        return rc;
    }
    pthread_mutex_lock(&tc->mu);
    t->markers_due = 1; /* our guard: no completion before every append is queued */
    t->marker_err = 0;
    tc->markers_in_flight++;
    pthread_mutex_unlock(&tc->mu);
    t->in_flight = 1;
    for (size_t i = 0; i < t->ntp; i++) {
        pthread_mutex_lock(&tc->mu);
        t->markers_due++;
        pthread_mutex_unlock(&tc->mu);
        int e = lg_append_async(tc->s->log, t->tps[i].topic, t->tps[i].part, b.data, b.len,
                                kf_txn_marker_cb, t);
        if (e) {
            pthread_mutex_lock(&tc->mu);
            t->markers_due--;
            if (e != LG_ENOTOPIC && e != LG_ENOPART && !t->marker_err)
                t->marker_err = e; /* a deleted topic needs no marker */
            pthread_mutex_unlock(&tc->mu);
        }
    }
    cn_buf_free(&b);
    pthread_mutex_lock(&tc->mu);
    int last = --t->markers_due == 0;
    pthread_mutex_unlock(&tc->mu);
    if (!last)
        return 0;
    kf_txn_markers_done(tc, t);
    return 1;
}

int kf__txn_end(kf_txn_coord *tc, kf_txn *t, int commit, int bump)
{
    int old_state = t->state;
    int16_t old_epoch = t->epoch;
    if (bump && t->epoch < INT16_MAX)
        t->epoch++;
    t->state = commit ? KF_TXN_PREPARE_COMMIT : KF_TXN_PREPARE_ABORT;
    int rc = kf__txn_save(tc, t);
    if (rc) {
        t->state = old_state;
        t->epoch = old_epoch;
        return rc;
    }
    cn_log_debug("kf", "transaction %s (producer %lld epoch %d): %s, %zu partition(s)", t->id,
                 (long long)t->pid, t->epoch, commit ? "commit" : "abort", t->ntp);
    rc = kf_txn_markers(tc, t);
    return rc < 0 ? 0 : rc; /* a failure to queue is retried by the tick */
}

/* ---- the waiting connection ---------------------------------------------- */

void kf__txn_wait(kf_txn *t, kf_conn *c, int api)
{
    t->waiter = c;
    t->waiter_api = api;
}

static void kf_txn_answer(kf_txn_coord *tc, kf_txn *t, int16_t err)
{
    (void)tc;
    kf_conn *c = t->waiter;
    if (!c)
        return;
    t->waiter = NULL;
    int rc;
    if (t->waiter_api == KF_API_INITPRODUCERID) {
        kf_InitProducerIdResponse r;
        kf_InitProducerIdResponse_init(&r);
        r.ErrorCode = err ? KF_ERR_CONCURRENT_TRANSACTIONS : 0; /* the client retries */
        r.ProducerId = err ? -1 : t->pid;
        r.ProducerEpoch = err ? -1 : t->epoch;
        rc = kf__reply(c, &r, NULL, 0);
    } else {
        kf_EndTxnResponse r;
        kf_EndTxnResponse_init(&r);
        r.ErrorCode = err;
        rc = kf__reply(c, &r, NULL, 0);
    }
    if (rc)
        cn_log_error("kf", "cannot answer %s: %s", c->peer, cn_strerror(rc));
    if (kf__call_done_later(c))
        c->closing = 1;
}

void kf__txn_conn_gone(kf_conn *c)
{
    kf_txn_coord *tc = c->s->txns;
    if (!tc)
        return;
    for (size_t i = 0; i < tc->n; i++)
        if (tc->v[i]->waiter == c)
            tc->v[i]->waiter = NULL;
}

/* ---- loop events --------------------------------------------------------- */

static void kf_txn_wake_cb(evutil_socket_t fd, short what, void *ud)
{
    kf_txn_coord *tc = ud;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&tc->mu);
    kf_txn *list = tc->done_head;
    tc->done_head = NULL;
    pthread_mutex_unlock(&tc->mu);
    while (list) {
        kf_txn *t = list;
        list = t->next_done;
        t->next_done = NULL;
        kf_txn_markers_done(tc, t);
    }
}

/* Timeouts of open transactions, and markers to write again (after a
 * restart, or a failed append). */
static void kf_txn_tick_cb(evutil_socket_t fd, short what, void *ud)
{
    kf_txn_coord *tc = ud;
    (void)fd;
    (void)what;
    if (tc->s->draining)
        return;
    int64_t now = cn_now_ms();
    for (size_t i = 0; i < tc->n; i++) {
        kf_txn *t = tc->v[i];
        if (t->in_flight)
            continue;
        if (t->state == KF_TXN_ONGOING && t->start_ms >= 0 && now - t->start_ms > t->timeout_ms) {
            cn_log_info("kf",
                        "transaction %s (producer %lld epoch %d) open for more than its "
                        "timeout of %d ms: aborting it",
                        t->id, (long long)t->pid, t->epoch, t->timeout_ms);
            kf__txn_end(tc, t, 0, 1);
        } else if ((t->state == KF_TXN_PREPARE_COMMIT || t->state == KF_TXN_PREPARE_ABORT) &&
                   now >= t->retry_at_ms) {
            kf_txn_markers(tc, t);
        }
    }
}

/* ---- life cycle ------------------------------------------------------------ */

static int kf_txn_load_one(void *ud, const char *key, const void *val, size_t n)
{
    kf_txn_coord *tc = ud;
    kf_txn *t;
    int rc = kf__txn_decode(key, val, n, &t);
    if (rc == CN_ECORRUPT) {
        cn_log_error("kf", "transaction record of %s is damaged; ignoring it", key);
        return 0;
    }
    if (rc)
        return rc;
    rc = kf_txn_insert(tc, t);
    if (rc) {
        kf_txn_free(t);
        return rc;
    }
    t->tc = tc;
    if (t->state == KF_TXN_PREPARE_COMMIT || t->state == KF_TXN_PREPARE_ABORT)
        cn_log_info("kf", "transaction %s: finishing its %s after a restart", key,
                    t->state == KF_TXN_PREPARE_COMMIT ? "commit" : "abort");
    return 0;
}

int kf__txn_start(kf_server *s)
{
    kf_txn_coord *tc = cn_calloc(1, sizeof(*tc));
    if (!tc)
        return CN_ENOMEM;
    tc->s = s;
    tc->max_timeout_ms = 15 * 60 * 1000; /* Kafka's transaction.max.timeout.ms */
    pthread_mutex_init(&tc->mu, NULL);
    s->txns = tc;
    tc->wake = event_new(s->base, -1, 0, kf_txn_wake_cb, tc);
    tc->tick = event_new(s->base, -1, EV_PERSIST, kf_txn_tick_cb, tc);
    if (!tc->wake || !tc->tick)
        return CN_ENOMEM;
    int rc = lg_txn_state_each(s->log, kf_txn_load_one, tc);
    if (rc)
        return rc;
    struct timeval tv = {0, KF_TXN_TICK_MS * 1000};
    evtimer_add(tc->tick, &tv);
    return 0;
}

int kf__txn_busy(kf_server *s)
{
    kf_txn_coord *tc = s->txns;
    if (!tc)
        return 0;
    pthread_mutex_lock(&tc->mu);
    int busy = tc->markers_in_flight > 0;
    pthread_mutex_unlock(&tc->mu);
    return busy;
}

void kf__txn_stop(kf_server *s)
{
    kf_txn_coord *tc = s->txns;
    if (!tc)
        return;
    /* Markers still in flight call back into tc: let them land first. */
    while (kf__txn_busy(s))
        event_base_loop(s->base, EVLOOP_ONCE);
    if (tc->tick)
        event_free(tc->tick);
    if (tc->wake)
        event_free(tc->wake);
    for (size_t i = 0; i < tc->n; i++)
        kf_txn_free(tc->v[i]);
    cn_free(tc->v);
    pthread_mutex_destroy(&tc->mu);
    cn_free(tc);
    s->txns = NULL;
}
