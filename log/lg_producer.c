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
 * Threads: the writer thread (and maintenance under wmu) only.
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

void lg__prod_truncate(lg_ptable *t, int64_t offset)
{
    for (size_t i = 0; i < t->cap; i++) {
        lg_pstate *st = &t->slots[i];
        if (st->pid < 0)
            continue;
        uint8_t n = 0;
        for (unsigned j = 0; j < st->n; j++)
            if (st->b[j].base_offset < offset)
                st->b[n++] = st->b[j];
        if (n != st->n) {
            st->n = n;
            st->dirty = 1;
        }
    }
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
