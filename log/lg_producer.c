/* SPDX-License-Identifier: MIT */
/*
 * lg_producer.c — idempotent-producer state of one partition: for each
 * producer id its epoch and its last 5 batches (first/last sequence, base
 * offset), as Kafka keeps them.  Decides, for an incoming batch, whether it
 * is new, a duplicate of a remembered batch (acknowledged again with its
 * original offset, not written), out of sequence (LG_ESEQ) or from a fenced
 * epoch (LG_EFENCED).  The table is an open-addressing hash map.  An
 * entry goes only when it expires: no batch from that producer for
 * producer_expiry_ms by its batches' timestamps (Kafka's
 * producer.id.expiration.ms), checked by the log's maintenance.
 * lg_producers (lg.h) is a copy of one partition's table for a replication
 * leader, which must decide before the log sees a batch (its offset is
 * assigned first): loaded from the index, then kept by its owner with the
 * same check and record rules as the writer's table.
 * Threads: the writer's table: the writer thread (and maintenance under
 * wmu) only; an lg_producers: its owner's thread (load: any thread).
 */
#include "lg_int.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_err.h"

#include <string.h>

static size_t lg__phash(int64_t pid, size_t cap)
{
    uint64_t x = (uint64_t)pid * 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 17) & (cap - 1);
}

lg_pstate *lg__prod_find(lg_ptable *t, int64_t pid)
{
    if (!t->cap || pid < 0)
        return NULL;
    for (size_t i = lg__phash(pid, t->cap);; i = (i + 1) & (t->cap - 1)) {
        if (t->slots[i].pid == pid)
            return &t->slots[i];
        if (t->slots[i].pid < 0)
            return NULL;
    }
}

static int lg__prod_grow(lg_ptable *t)
{
    size_t nc = t->cap ? t->cap * 2 : 16;
    lg_pstate *ns = cn_malloc(nc * sizeof(*ns));
    if (!ns)
        return CN_ENOMEM;
    for (size_t i = 0; i < nc; i++)
        ns[i].pid = -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].pid < 0)
            continue;
        size_t j = lg__phash(t->slots[i].pid, nc);
        while (ns[j].pid >= 0)
            j = (j + 1) & (nc - 1);
        ns[j] = t->slots[i];
    }
    cn_free(t->slots);
    t->slots = ns;
    t->cap = nc;
    return 0;
}

/* Find or create the slot for pid (load factor kept <= 1/2). */
static lg_pstate *lg__prod_slot(lg_ptable *t, int64_t pid)
{
    lg_pstate *st = lg__prod_find(t, pid);
    if (st)
        return st;
    if ((t->count + 1) * 2 > t->cap && lg__prod_grow(t))
        return NULL;
    size_t i = lg__phash(pid, t->cap);
    while (t->slots[i].pid >= 0)
        i = (i + 1) & (t->cap - 1);
    st = &t->slots[i];
    memset(st, 0, sizeof(*st));
    st->pid = pid;
    st->epoch = -1;
    st->last_ts = -1;
    t->count++;
    return st;
}

int lg__prod_check(const lg_ptable *t, int64_t pid, int16_t epoch, int32_t first_seq,
                   int32_t last_seq, int64_t *dup_base)
{
    if (pid < 0)
        return LG__PCHK_NEW;
    const lg_pstate *st = lg__prod_find((lg_ptable *)t, pid);
    if (!st)
        return LG__PCHK_NEW; /* first batch we see from it: any sequence starts it */
    if (epoch < st->epoch)
        return LG_EFENCED;
    if (epoch > st->epoch)
        return first_seq == 0 || st->n == 0 ? LG__PCHK_NEW : LG_ESEQ;
    for (unsigned i = 0; i < st->n; i++) {
        if (st->b[i].first_seq == first_seq && st->b[i].last_seq == last_seq) {
            *dup_base = st->b[i].base_offset;
            return LG__PCHK_DUP;
        }
    }
    if (st->n == 0)
        return LG__PCHK_NEW;
    int32_t last = st->b[st->n - 1].last_seq;
    int32_t expect = last == INT32_MAX ? 0 : last + 1; /* sequences wrap like Kafka's */
    return first_seq == expect ? LG__PCHK_NEW : LG_ESEQ;
}

int lg__prod_record(lg_ptable *t, int64_t pid, int16_t epoch, int32_t first_seq, int32_t last_seq,
                    int64_t base_offset, int64_t ts)
{
    if (pid < 0)
        return 0;
    lg_pstate *st = lg__prod_slot(t, pid);
    if (!st)
        return CN_ENOMEM;
    if (epoch != st->epoch) {
        st->epoch = epoch;
        st->n = 0;
    }
    if (st->n == LG__PRODUCER_BATCHES) {
        memmove(&st->b[0], &st->b[1], (LG__PRODUCER_BATCHES - 1) * sizeof(st->b[0]));
        st->n--;
    }
    st->b[st->n++] = (lg_pbatch){first_seq, last_seq, base_offset};
    if (ts > st->last_ts)
        st->last_ts = ts;
    st->dirty = 1;
    return 0;
}

void lg__prod_remove(lg_ptable *t, int64_t pid)
{
    lg_pstate *st = lg__prod_find(t, pid);
    if (!st)
        return;
    /* Backward-shift deletion keeps every probe chain unbroken. */
    size_t mask = t->cap - 1, i = (size_t)(st - t->slots), j = i;
    t->slots[i].pid = -1;
    t->count--;
    for (;;) {
        j = (j + 1) & mask;
        if (t->slots[j].pid < 0)
            return;
        size_t k = lg__phash(t->slots[j].pid, t->cap);
        /* Move j into the hole at i unless its home k lies cyclically in (i, j]. */
        int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            t->slots[i] = t->slots[j];
            t->slots[j].pid = -1;
            i = j;
        }
    }
}

int lg__prod_put(lg_ptable *t, const lg_pstate *src)
{
    lg_pstate *st = lg__prod_slot(t, src->pid);
    if (!st)
        return CN_ENOMEM;
    *st = *src;
    return 0;
}

int lg__prod_truncate(lg_ptable *t, int64_t offset, int (*gone)(void *ud, int64_t pid), void *ud)
{
    int rc = 0;
    for (size_t i = 0; i < t->cap; i++) {
        lg_pstate *st = &t->slots[i];
        if (st->pid < 0)
            continue;
        uint8_t n = 0;
        for (unsigned j = 0; j < st->n; j++)
            if (st->b[j].base_offset < offset)
                st->b[n++] = st->b[j];
        if (n == st->n)
            continue;
        st->n = n;
        st->dirty = 1;
        if (n > 0)
            continue;
        /* Every batch it remembered was cut: its epoch may have come with
         * them (a bump the cut tail made), and what the log below the cut
         * says of it is beyond the window.  Forget it, so that its next
         * batch, whatever its epoch and sequence, starts it afresh, as for
         * a producer never seen: a legitimate retry of a cut batch is never
         * refused.  The removal shifts a later entry into slot i: look at
         * slot i again (entries only move towards i, never past it). */
        int64_t pid = st->pid;
        lg__prod_remove(t, pid);
        if (gone && !rc)
            rc = gone(ud, pid);
        i--;
    }
    return rc;
}

void lg__prod_free(lg_ptable *t)
{
    cn_free(t->slots);
    memset(t, 0, sizeof(*t));
}

size_t lg__prod_encode(const lg_pstate *st, unsigned char *out)
{
    cn_wr_be16(out, (uint16_t)st->epoch);
    out[2] = st->n;
    size_t o = 3;
    for (unsigned i = 0; i < st->n; i++) {
        cn_wr_be32(out + o, (uint32_t)st->b[i].first_seq);
        cn_wr_be32(out + o + 4, (uint32_t)st->b[i].last_seq);
        cn_wr_be64(out + o + 8, (uint64_t)st->b[i].base_offset);
        o += 16;
    }
    cn_wr_be64(out + o, (uint64_t)st->last_ts);
    return o + 8;
}

int lg__prod_decode(const unsigned char *p, size_t n, int64_t pid, lg_pstate *st)
{
    size_t body = n >= 3 && p[2] <= LG__PRODUCER_BATCHES ? 3 + (size_t)p[2] * 16 : 0;
    if (!body || (n != body && n != body + 8)) /* older builds: no last_ts */
        return LG_EINDEX;
    memset(st, 0, sizeof(*st));
    st->pid = pid;
    st->epoch = (int16_t)cn_rd_be16(p);
    st->n = p[2];
    for (unsigned i = 0; i < st->n; i++) {
        const unsigned char *q = p + 3 + i * 16;
        st->b[i].first_seq = (int32_t)cn_rd_be32(q);
        st->b[i].last_seq = (int32_t)cn_rd_be32(q + 4);
        st->b[i].base_offset = (int64_t)cn_rd_be64(q + 8);
    }
    st->last_ts = n == body + 8 ? (int64_t)cn_rd_be64(p + body) : -1;
    return 0;
}

/* ---- a replication leader's copy of the table (lg.h, lg_producers) ------ */

struct lg_producers {
    lg_ptable t;
};

static void lg__prod_seqs(const lg_batch_hdr *h, int32_t *first, int32_t *last)
{
    *first = h->base_sequence;
    *last = (int32_t)(((int64_t)*first + h->last_offset_delta) % ((int64_t)INT32_MAX + 1));
}

int lg_producers_load(lg_log *log, const char *topic, int32_t partition, lg_producers **out)
{
    if (!log || !topic || !out)
        return CN_EINVAL;
    *out = NULL;
    lg_producers *ps = cn_calloc(1, sizeof(*ps));
    if (!ps)
        return CN_ENOMEM;
    pthread_rwlock_rdlock(&log->tmu);
    lg_part *p;
    int rc = lg__topic_lookup_part(log, topic, partition, &p);
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    if (!rc)
        rc = lg__ix_err(mdb_txn_begin(log->ix.env, NULL, MDB_RDONLY, &txn));
    if (!rc)
        rc = lg__ix_err(mdb_cursor_open(txn, log->ix.producers, &c));
    if (!rc) {
        unsigned char pre[8];
        lg__ix_key_tp(pre, p->tp->id, p->idx);
        MDB_val k = {8, pre}, d;
        int m = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
        while (m == 0 && !rc && k.mv_size == 16 && memcmp(k.mv_data, pre, 8) == 0) {
            lg_pstate st;
            int64_t pid = (int64_t)cn_rd_be64((const unsigned char *)k.mv_data + 8);
            if (lg__prod_decode(d.mv_data, d.mv_size, pid, &st) == 0 && st.epoch >= 0) {
                st.dirty = 0;
                if (st.last_ts < 0) /* as recovery: expiry counts from now */
                    st.last_ts = lg__now(log);
                rc = lg__prod_put(&ps->t, &st);
            }
            m = mdb_cursor_get(c, &k, &d, MDB_NEXT);
        }
        if (!rc && m != 0 && m != MDB_NOTFOUND)
            rc = lg__ix_err(m);
    }
    if (c)
        mdb_cursor_close(c);
    if (txn)
        mdb_txn_abort(txn);
    pthread_rwlock_unlock(&log->tmu);
    if (rc) {
        lg_producers_free(ps);
        return rc;
    }
    *out = ps;
    return 0;
}

int lg_producers_check(const lg_producers *ps, const lg_batch_hdr *h, int64_t *dup_base,
                       int64_t *dup_last)
{
    if (!ps || !h || !dup_base || !dup_last)
        return CN_EINVAL;
    *dup_base = *dup_last = -1;
    if (h->producer_id < 0)
        return LG_PRODUCER_NEW;
    if (h->attributes & LG_ATTR_CONTROL) /* a marker has no sequence: its epoch only */
        return lg__txn_ctl_check(&ps->t, h) == LG__PCHK_NEW ? LG_PRODUCER_NEW : LG_EFENCED;
    int32_t first, last;
    lg__prod_seqs(h, &first, &last);
    int64_t base = -1;
    int rc = lg__prod_check(&ps->t, h->producer_id, h->producer_epoch, first, last, &base);
    if (rc == LG__PCHK_DUP) {
        *dup_base = base;
        *dup_last = base + h->last_offset_delta; /* same sequence range, same record count */
        return LG_PRODUCER_DUP;
    }
    return rc == LG__PCHK_NEW ? LG_PRODUCER_NEW : rc;
}

int lg_producers_record(lg_producers *ps, const lg_batch_hdr *h, int64_t base_offset)
{
    if (!ps || !h || base_offset < 0)
        return CN_EINVAL;
    if (h->producer_id < 0)
        return 0;
    if (h->attributes & LG_ATTR_CONTROL) /* as the writer: a marker moves the epoch */
        return lg__txn_ctl_record(&ps->t, h);
    int32_t first, last;
    lg__prod_seqs(h, &first, &last);
    return lg__prod_record(&ps->t, h->producer_id, h->producer_epoch, first, last, base_offset,
                           h->max_timestamp);
}

size_t lg_producers_expire(lg_log *log, lg_producers *ps)
{
    if (!log || !ps || log->o.producer_expiry_ms < 0)
        return 0;
    int64_t cutoff = lg__now(log) - log->o.producer_expiry_ms;
    size_t n = 0;
    for (size_t i = 0; i < ps->t.cap; i++) {
        /* Removal shifts a later entry into slot i: look at it again. */
        while (ps->t.slots[i].pid >= 0 && ps->t.slots[i].last_ts < cutoff) {
            lg__prod_remove(&ps->t, ps->t.slots[i].pid);
            n++;
        }
    }
    return n;
}

size_t lg_producers_count(const lg_producers *ps)
{
    return ps ? ps->t.count : 0;
}

void lg_producers_free(lg_producers *ps)
{
    if (!ps)
        return;
    lg__prod_free(&ps->t);
    cn_free(ps);
}
