/* SPDX-License-Identifier: MIT */
/*
 * kf_offsets.c — consumer-group offsets on a clustered node: committed
 * offsets are records of the replicated internal topic __consumer_offsets
 * (docs/replication.md, "Consumer-group offsets, replicated").
 *
 * Three parts:
 *  - the coordinator check (loop): a group is served by the node that
 *    leads its offsets partition and serves, once that node's applier has
 *    reached the HW it saw when it first served in this term (loading);
 *  - the commit path (loop): an OffsetCommit becomes one batch proposed
 *    to the group's partition (acks=all); once it is below the HW it waits
 *    on s->off_wait until this node's applier has applied it, and only
 *    then is answered, so an OffsetFetch after the answer sees it;
 *  - the applier (the committer thread, which standalone writes LMDB
 *    directly): it reads the committed batches of each offsets partition
 *    from where it stopped up to the HW the loop handed it, and stores the
 *    offsets with that position in one synced LMDB transaction
 *    (lg_group_offsets_apply).  Every replica runs it.
 * Threads: kf__offsets_* on the loop, except kf__offsets_applier_main
 * (committer thread).  s->off_target and s->off_applied are shared under
 * s->cmu; everything else here is the loop's.  Ownership: a waiting
 * kf_commit lives in its connection's arena (the connection is pinned by
 * c->commit until it is answered).
 */
#include "kf_offrec.h"
#include "kf_server_int.h"

#include "cn_alloc.h"
#include "cn_buf.h"
#include "cn_err.h"
#include "cn_log.h"
#include "cn_time.h"
#include "kf_errors.h"
#include "lg_batch.h"

#include <errno.h>
#include <event2/event.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Bytes the applier reads per step (whole batches, at least one). */
#define KF_APPLY_READ_MAX (1u << 20)
/* How long the applier waits before looking again when the HW it was
 * given is not readable yet (a follower's HW can run ahead of its durable
 * end for a moment). */
#define KF_APPLY_RETRY_MS 20

/* ======================================================================
 * coordinator (loop)
 * ====================================================================== */

int16_t kf__offsets_coord(kf_server *s, const char *group)
{
    int32_t p = kf_offrec_partition(group, strlen(group));
    rp_part_state st;
    if (rp_repl_state(s->o.repl, KF_OFFSETS_TOPIC, p, &st) != 0 || !st.serving)
        return KF_ERR_NOT_COORDINATOR;
    if (st.term != s->off_load_term[p]) {
        /* First look in this term: everything an earlier coordinator
         * acknowledged is below the HW now (it covers our own marker). */
        s->off_load_term[p] = st.term;
        s->off_load_end[p] = st.hw;
    }
    pthread_mutex_lock(&s->cmu);
    int64_t applied = s->off_applied[p];
    pthread_mutex_unlock(&s->cmu);
    return applied < s->off_load_end[p] ? KF_ERR_COORDINATOR_LOAD_IN_PROGRESS : 0;
}

int kf__offsets_leader(kf_server *s, const char *group, int32_t *node)
{
    int32_t p = kf_offrec_partition(group, strlen(group));
    rp_part_state st;
    int rc = rp_repl_state(s->o.repl, KF_OFFSETS_TOPIC, p, &st);
    *node = rc == 0 ? st.leader : -1;
    return *node >= 0 ? 0 : CN_ENOENT;
}

/* Hand the applier each offsets partition's HW. */
void kf__offsets_refresh(kf_server *s)
{
    for (int32_t p = 0; p < KF_OFFSETS_PARTITIONS; p++) {
        rp_part_state st;
        if (rp_repl_state(s->o.repl, KF_OFFSETS_TOPIC, p, &st) != 0)
            continue;
        pthread_mutex_lock(&s->cmu);
        if (st.hw > s->off_target[p]) {
            s->off_target[p] = st.hw;
            pthread_cond_signal(&s->ccond);
        }
        pthread_mutex_unlock(&s->cmu);
    }
}

/* ======================================================================
 * commit path (loop)
 * ====================================================================== */

/* Answer k: each entry's error (0 once applied). */
static void kf_offsets_answer(kf_commit *k, int16_t err)
{
    for (size_t i = 0; i < k->n; i++)
        k->out[i]->ErrorCode = err;
    kf__commit_answer(k);
}

void kf__offsets_answer_applied(kf_server *s)
{
    int64_t applied[KF_OFFSETS_PARTITIONS];
    pthread_mutex_lock(&s->cmu);
    memcpy(applied, s->off_applied, sizeof(applied));
    pthread_mutex_unlock(&s->cmu);
    kf_commit **at = &s->off_wait;
    while (*at) {
        kf_commit *k = *at;
        if (applied[k->opart] < k->oend) {
            at = &k->next;
            continue;
        }
        *at = k->next;
        k->next = NULL;
        kf_offsets_answer(k, 0);
    }
}

/* The commit's batch is below the HW (err 0) or leadership went first. */
static void kf_offsets_acked(void *ud, int err, int64_t base)
{
    kf_commit *k = ud;
    kf_server *s = k->conn->s;
    if (err) {
        kf_offsets_answer(k, err == CN_EPERM ? KF_ERR_NOT_COORDINATOR : kf__kafka_error(err));
        return;
    }
    k->oend = base + (int64_t)k->n;
    k->next = s->off_wait;
    s->off_wait = k;
    kf__offsets_refresh(s);
    kf__offsets_answer_applied(s);
}

/* One batch of k's offsets, one record each. */
static int kf_offsets_batch(const kf_commit *k, cn_buf *out)
{
    lg_batch_builder *b;
    int rc = lg_batch_builder_new(&b, LG_COMP_NONE);
    int64_t now = cn_now_ms();
    for (size_t i = 0; i < k->n && !rc; i++) {
        const lg_group_offset *e = &k->v[i];
        kf_offrec r = {
            e->group,     strlen(e->group), e->topic,    strlen(e->topic),
            e->partition, e->offset,        e->metadata, e->metadata ? strlen(e->metadata) : 0};
        unsigned char key[KF_OFFREC_KEY_MAX], val[KF_OFFREC_VALUE_MAX];
        size_t kl, vl;
        rc = kf_offrec_encode(&r, key, &kl, val, &vl);
        if (!rc)
            rc = lg_batch_builder_add(b, now, key, kl, val, vl, NULL, 0);
    }
    if (!rc)
        rc = lg_batch_builder_finish(b, out);
    lg_batch_builder_free(b);
    return rc;
}

int kf__offsets_propose(kf_commit *k, const char *group)
{
    kf_server *s = k->conn->s;
    k->opart = kf_offrec_partition(group, strlen(group));
    cn_buf buf = CN_BUF_INIT;
    int rc = kf_offsets_batch(k, &buf);
    if (!rc)
        rc = rp_repl_propose(s->o.repl, KF_OFFSETS_TOPIC, k->opart, buf.data, buf.len, 1,
                             kf_offsets_acked, k);
    cn_buf_free(&buf);
    if (rc) {
        k->conn->commit = NULL;
        return rc == CN_EPERM ? KF_ERR_NOT_COORDINATOR : kf__kafka_error(rc);
    }
    k->conn->commit = k; /* pinned until answered */
    return 0;
}

void kf__offsets_fail_waiting(kf_server *s)
{
    while (s->off_wait) {
        kf_commit *k = s->off_wait;
        s->off_wait = k->next;
        k->next = NULL;
        kf_offsets_answer(k, KF_ERR_NOT_COORDINATOR);
    }
}

/* ======================================================================
 * applier (committer thread)
 * ====================================================================== */

/* Offsets decoded from one read, with their strings. */
typedef struct kf_apply_set {
    lg_group_offset *v;
    char **strs;
    size_t n, cap;
} kf_apply_set;

static void kf_apply_set_clear(kf_apply_set *a)
{
    for (size_t i = 0; i < a->n; i++)
        cn_free(a->strs[i]);
    a->n = 0;
}

static void kf_apply_set_free(kf_apply_set *a)
{
    kf_apply_set_clear(a);
    cn_free(a->v);
    cn_free(a->strs);
}

static int kf_apply_add(kf_apply_set *a, const kf_offrec *r)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        lg_group_offset *v = cn_realloc(a->v, cap * sizeof(*v));
        if (v)
            a->v = v;
        char **st = v ? cn_realloc(a->strs, cap * sizeof(*st)) : NULL;
        if (!st)
            return CN_ENOMEM;
        a->strs = st;
        a->cap = cap;
    }
    char *m = cn_malloc(r->group_len + r->topic_len + r->metadata_len + 3);
    if (!m)
        return CN_ENOMEM;
    char *g = m, *t = m + r->group_len + 1, *md = t + r->topic_len + 1;
    memcpy(g, r->group, r->group_len);
    g[r->group_len] = '\0';
    memcpy(t, r->topic, r->topic_len);
    t[r->topic_len] = '\0';
    if (r->metadata_len)
        memcpy(md, r->metadata, r->metadata_len);
    md[r->metadata_len] = '\0';
    lg_group_offset *e = &a->v[a->n];
    memset(e, 0, sizeof(*e));
    e->group = g;
    e->topic = t;
    e->partition = r->partition;
    e->offset = r->offset;
    e->metadata = md;
    a->strs[a->n++] = m;
    return 0;
}

/* Decode the records of one validated data batch into a. */
static int kf_apply_batch(kf_apply_set *a, const unsigned char *b, size_t n, int32_t part)
{
    lg_batch_iter *it;
    int rc = lg_batch_iter_open(&it, b, n, KF_APPLY_READ_MAX);
    if (rc)
        return rc;
    lg_record rec;
    while (!rc && lg_batch_iter_next(it, &rec) == 0) {
        kf_offrec r;
        if (!rec.key || !rec.value ||
            kf_offrec_decode(rec.key, rec.key_len, rec.value, rec.value_len, &r) != 0) {
            cn_log_error("kf", "%s/%d offset %lld: not an offset record; skipped", KF_OFFSETS_TOPIC,
                         (int)part, (long long)rec.offset);
            continue;
        }
        rc = kf_apply_add(a, &r);
    }
    lg_batch_iter_close(it);
    return rc;
}

static int kf_pread_all(int fd, unsigned char *buf, size_t len, off_t pos)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, buf + got, len - got, pos + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return CN_EIO;
        got += (size_t)r;
    }
    return 0;
}

/* Decode whole batches of buf[0..len) that end below target into a;
 * *at moves past each one taken.  Leader-change markers are skipped. */
static int kf_apply_walk(kf_apply_set *a, const unsigned char *buf, size_t len, int32_t part,
                         int64_t target, int64_t *at)
{
    for (size_t off = 0; off < len;) {
        size_t total;
        lg_batch_hdr h;
        int rc = lg_batch_size(buf + off, len - off, len - off, &total);
        if (!rc)
            rc = lg_batch_validate(buf + off, total, &h);
        if (rc)
            return rc;
        int64_t last = h.base_offset + h.last_offset_delta;
        if (last >= target)
            return 0;
        if (!(h.attributes & LG_ATTR_CONTROL)) {
            rc = kf_apply_batch(a, buf + off, total, part);
            if (rc)
                return rc;
        }
        *at = last + 1;
        off += total;
    }
    return 0;
}

/* Apply one read's worth of partition part from *at towards target.
 * @return 1 if it moved, 0 if nothing was readable yet, or an error. */
static int kf_apply_step(kf_server *s, kf_apply_set *a, int32_t part, int64_t target, int64_t *at)
{
    lg_read_result res;
    int rc = lg_read_replica(s->log, KF_OFFSETS_TOPIC, part, *at, KF_APPLY_READ_MAX, &res);
    if (rc)
        return rc == LG_EOFFSET ? 0 : rc; /* past this node's log: wait for replication */
    if (res.len == 0) {
        lg_read_release(s->log, &res);
        return 0;
    }
    unsigned char *buf = cn_malloc(res.len);
    rc = buf ? kf_pread_all(res.fd, buf, res.len, res.file_pos) : CN_ENOMEM;
    size_t len = res.len;
    lg_read_release(s->log, &res);
    int64_t from = *at;
    if (!rc)
        rc = kf_apply_walk(a, buf, len, part, target, at);
    cn_free(buf);
    if (!rc && *at > from)
        rc = lg_group_offsets_apply(s->log, a->v, a->n, part, *at);
    kf_apply_set_clear(a);
    if (rc) {
        *at = from;
        return rc;
    }
    return *at > from;
}

/* Apply partition part up to target.  @return 1 if it moved, else 0. */
static int kf_apply_part(kf_server *s, kf_apply_set *a, int32_t part, int64_t target, int64_t *at)
{
    int moved = 0;
    while (*at < target) {
        int rc = kf_apply_step(s, a, part, target, at);
        if (rc < 0)
            cn_log_error("kf", "cannot apply %s/%d at offset %lld: %s", KF_OFFSETS_TOPIC, (int)part,
                         (long long)*at, cn_strerror(rc));
        if (rc <= 0)
            break;
        moved = 1;
    }
    return moved;
}

static int kf_applier_behind(const kf_server *s)
{
    for (int p = 0; p < KF_OFFSETS_PARTITIONS; p++)
        if (s->off_applied[p] < s->off_target[p])
            return 1;
    return 0;
}

static void kf_applier_wait(kf_server *s, int stalled)
{
    if (!stalled) {
        pthread_cond_wait(&s->ccond, &s->cmu);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += KF_APPLY_RETRY_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&s->ccond, &s->cmu, &ts);
}

void *kf__offsets_applier_main(void *ud)
{
    kf_server *s = ud;
    kf_apply_set a = {0};
    int stalled = 0;
    pthread_mutex_lock(&s->cmu);
    for (;;) {
        while (!s->cstop && (!kf_applier_behind(s) || stalled)) {
            kf_applier_wait(s, stalled);
            stalled = 0;
        }
        if (s->cstop)
            break;
        int64_t target[KF_OFFSETS_PARTITIONS], at[KF_OFFSETS_PARTITIONS];
        memcpy(target, s->off_target, sizeof(target));
        memcpy(at, s->off_applied, sizeof(at));
        pthread_mutex_unlock(&s->cmu);
        int moved = 0;
        for (int32_t p = 0; p < KF_OFFSETS_PARTITIONS; p++)
            moved |= kf_apply_part(s, &a, p, target[p], &at[p]);
        pthread_mutex_lock(&s->cmu);
        memcpy(s->off_applied, at, sizeof(at));
        if (moved)
            event_active(s->commit_wake, EV_READ, 0);
        stalled = !moved;
    }
    pthread_mutex_unlock(&s->cmu);
    kf_apply_set_free(&a);
    return NULL;
}

int kf__offsets_load(kf_server *s)
{
    for (int32_t p = 0; p < KF_OFFSETS_PARTITIONS; p++) {
        int rc = lg_group_offsets_applied(s->log, p, &s->off_applied[p]);
        if (rc)
            return rc;
        s->off_target[p] = s->off_applied[p];
        s->off_load_term[p] = -1;
    }
    return 0;
}
