/* SPDX-License-Identifier: MIT */
/*
 * lg_txn.c — the log's side of Kafka transactions: for every partition,
 * which transactions are open (producer id -> offset of its first
 * transactional batch since its last marker) and which were aborted
 * (producer id, first offset, marker offset), derived from the batches as
 * they are stored; the last stable offset (LSO) and the aborted-transaction
 * list a read_committed consumer needs; the transaction markers (control
 * batches); and a small synced key/value table in DATA/state for the
 * transaction coordinator's records.
 *
 * Where it lives and why it survives a crash: the open and aborted tables
 * are index data (DATA/index `txopen`, `txabort`), written in the same LMDB
 * transaction as the round's offsets, so what a reader sees in one LMDB
 * snapshot (the log end, the open transactions, the aborted ones) is
 * consistent; recovery's tail scan applies the batches past the indexed
 * position exactly as the writer did, and a rebuilt index gets them from
 * the segments (the batches are the truth, as for producer state).
 * Markers change idempotent-producer state like Kafka's: a marker carries
 * no sequence, bumps the producer's epoch (so a fenced producer's later
 * batches get LG_EFENCED) and one from an older epoch is refused.
 *
 * Threads: the writer thread (lg__txn_round, the control-batch checks),
 * lg_open's thread (recovery), maintenance under wmu (truncate); readers
 * (lg_last_stable_offset, lg_aborted_txns, lg_read_committed) from any
 * thread through LMDB read transactions.  The in-memory open table of a
 * partition (p->txo) belongs to the writer side only.
 * See docs/architecture.md, "Transactions".
 */
#include "lg_int.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_crc32c.h"
#include "cn_err.h"

#include <string.h>

/* ---- markers --------------------------------------------------------------- */

int lg__txn_ctl_type(const unsigned char *b, size_t n, const lg_batch_hdr *h)
{
    if (!(h->attributes & LG_ATTR_CONTROL) || !(h->attributes & LG_ATTR_TRANSACTIONAL) ||
        h->producer_id < 0)
        return -1;
    lg_batch_iter *it;
    if (lg_batch_iter_open(&it, b, n, 1u << 20) != 0)
        return -1;
    lg_record r;
    int type = -1;
    /* A control record's key: version i16, type i16 (0 ABORT, 1 COMMIT). */
    if (lg_batch_iter_next(it, &r) == 0 && r.key && r.key_len >= 4) {
        int t = (int16_t)cn_rd_be16(r.key + 2);
        if (t == LG_CTL_ABORT || t == LG_CTL_COMMIT)
            type = t;
    }
    lg_batch_iter_close(it);
    return type;
}

int lg__txn_ctl_check(const lg_ptable *t, const lg_batch_hdr *h)
{
    const lg_pstate *st = lg__prod_find((lg_ptable *)t, h->producer_id);
    if (st && h->producer_epoch < st->epoch)
        return LG_EFENCED;
    return LG__PCHK_NEW;
}

int lg__txn_ctl_record(lg_ptable *t, const lg_batch_hdr *h)
{
    lg_pstate *st = lg__prod_find(t, h->producer_id);
    if (st && st->epoch == h->producer_epoch) {
        st->dirty = 1;
        if (h->max_timestamp > st->last_ts)
            st->last_ts = h->max_timestamp;
        return 0;
    }
    lg_pstate ns;
    memset(&ns, 0, sizeof(ns));
    ns.pid = h->producer_id;
    ns.epoch = h->producer_epoch; /* a new epoch: its batches start at sequence 0 */
    ns.n = 0;
    ns.dirty = 1;
    ns.last_ts = h->max_timestamp;
    return lg__prod_put(t, &ns);
}

int lg_control_batch(cn_buf *out, int64_t producer_id, int16_t producer_epoch, int commit,
                     int32_t coordinator_epoch, int64_t timestamp_ms)
{
    if (!out || producer_id < 0 || producer_epoch < 0)
        return CN_EINVAL;
    unsigned char key[4], val[6];
    cn_wr_be16(key, 0);
    cn_wr_be16(key + 2, (uint16_t)(commit ? LG_CTL_COMMIT : LG_CTL_ABORT));
    cn_wr_be16(val, 0);
    cn_wr_be32(val + 2, (uint32_t)coordinator_epoch);
    lg_batch_builder *b;
    int rc = lg_batch_builder_new(&b, LG_COMP_NONE);
    if (rc)
        return rc;
    lg_batch_builder_producer(b, producer_id, producer_epoch, -1);
    size_t start = out->len;
    rc = lg_batch_builder_add(b, timestamp_ms, key, sizeof(key), val, sizeof(val), NULL, 0);
    if (!rc)
        rc = lg_batch_builder_finish(b, out);
    lg_batch_builder_free(b);
    if (rc)
        return rc;
    /* attributes: transactional | control; the CRC covers them (bytes 21..). */
    unsigned char *p = out->data + start;
    cn_wr_be16(p + 21, (uint16_t)(LG_ATTR_TRANSACTIONAL | LG_ATTR_CONTROL));
    cn_wr_be32(p + 17, cn_crc32c(0, p + 21, out->len - start - 21));
    return 0;
}

/* ---- the open / aborted tables --------------------------------------------- */

static void lg__txk(unsigned char *k, const lg_part *p, int64_t v)
{
    lg__ix_key_tp(k, p->tp->id, p->idx);
    cn_wr_be64(k + 8, (uint64_t)v);
}

static lg_txopen *lg__txo_find(lg_part *p, int64_t pid)
{
    for (size_t i = 0; i < p->ntxo; i++) /* few: one per producer with an open transaction */
        if (p->txo[i].pid == pid)
            return &p->txo[i];
    return NULL;
}

static int lg__txo_add(lg_part *p, int64_t pid, int64_t first)
{
    if (p->ntxo == p->txocap) {
        size_t nc = p->txocap ? p->txocap * 2 : 8;
        lg_txopen *nv = cn_realloc(p->txo, nc * sizeof(*nv));
        if (!nv)
            return CN_ENOMEM;
        p->txo = nv;
        p->txocap = nc;
    }
    p->txo[p->ntxo++] = (lg_txopen){pid, first};
    return 0;
}

static void lg__txo_del(lg_part *p, lg_txopen *o)
{
    *o = p->txo[--p->ntxo];
}

int lg__txn_apply(lg_log *log, MDB_txn *txn, lg_part *p, const unsigned char *b, size_t n,
                  const lg_batch_hdr *h)
{
    if (!(h->attributes & LG_ATTR_TRANSACTIONAL) || h->producer_id < 0)
        return 0;
    unsigned char k[16], v[16];
    lg_txopen *o = lg__txo_find(p, h->producer_id);
    if (!(h->attributes & LG_ATTR_CONTROL)) {
        if (o)
            return 0;
        int rc = lg__txo_add(p, h->producer_id, h->base_offset);
        if (rc)
            return rc;
        lg__txk(k, p, h->producer_id);
        cn_wr_be64(v, (uint64_t)h->base_offset);
        MDB_val kv = {16, k}, dv = {8, v};
        return lg__ix_err(mdb_put(txn, log->ix.txopen, &kv, &dv, 0));
    }
    int type = lg__txn_ctl_type(b, n, h);
    if (type < 0 || !o)
        return 0; /* not a transaction marker, or nothing open here (a marker redone) */
    int64_t first = o->first;
    lg__txo_del(p, o);
    lg__txk(k, p, h->producer_id);
    MDB_val kv = {16, k};
    int m = mdb_del(txn, log->ix.txopen, &kv, NULL);
    if (m && m != MDB_NOTFOUND)
        return lg__ix_err(m);
    if (type != LG_CTL_ABORT)
        return 0;
    lg__txk(k, p, h->base_offset); /* keyed by the marker's offset: ascending */
    cn_wr_be64(v, (uint64_t)h->producer_id);
    cn_wr_be64(v + 8, (uint64_t)first);
    MDB_val dv = {16, v};
    return lg__ix_err(mdb_put(txn, log->ix.txabort, &kv, &dv, 0));
}

int lg__txn_round(lg_log *log, MDB_txn *txn, lg_part *p, const lg_queue *q)
{
    int rc = 0;
    for (size_t i = 0; i < q->n && !rc; i++) {
        const lg_pend *e = &q->v[i];
        if (e->res.err || e->res.duplicate || !(e->h.attributes & LG_ATTR_TRANSACTIONAL))
            continue;
        lg_batch_hdr h = e->h;
        h.base_offset = e->res.base_offset;
        rc = lg__txn_apply(log, txn, p, q->bytes.data + e->off, e->len, &h);
    }
    return rc;
}

int lg__txn_load(lg_log *log, MDB_txn *txn, lg_part *p)
{
    p->ntxo = 0;
    MDB_cursor *c;
    int rc = lg__ix_err(mdb_cursor_open(txn, log->ix.txopen, &c));
    if (rc)
        return rc;
    unsigned char pre[8];
    lg__ix_key_tp(pre, p->tp->id, p->idx);
    MDB_val k = {8, pre}, d;
    int m = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    while (m == 0 && !rc && k.mv_size == 16 && memcmp(k.mv_data, pre, 8) == 0) {
        if (d.mv_size == 8)
            rc = lg__txo_add(p, (int64_t)cn_rd_be64((const unsigned char *)k.mv_data + 8),
                             (int64_t)cn_rd_be64(d.mv_data));
        m = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return rc;
}

int lg__txn_reset(lg_log *log, MDB_txn *txn, lg_part *p)
{
    p->ntxo = 0;
    int rc = lg__ix_del_prefix(txn, log->ix.txopen, p->tp->id, p->idx, NULL, NULL);
    if (!rc)
        rc = lg__ix_del_prefix(txn, log->ix.txabort, p->tp->id, p->idx, NULL, NULL);
    return rc;
}

static int lg__keep_abort(void *ud, const unsigned char *k, size_t kn)
{
    return kn == 16 && (int64_t)cn_rd_be64(k + 8) < *(const int64_t *)ud;
}

int lg__txn_truncate(lg_log *log, MDB_txn *txn, lg_part *p, int64_t offset)
{
    /* Open transactions that began at or after the cut leave with their
     * batches; aborted ones whose marker is cut are forgotten (their
     * batches stay open only if their first batch is kept: a truncate
     * that cuts a marker is a replication matter, and transactions are
     * refused on replicated partitions). */
    int rc = 0;
    for (size_t i = 0; i < p->ntxo && !rc;) {
        if (p->txo[i].first >= offset) {
            unsigned char k[16];
            lg__txk(k, p, p->txo[i].pid);
            MDB_val kv = {16, k};
            int m = mdb_del(txn, log->ix.txopen, &kv, NULL);
            rc = m && m != MDB_NOTFOUND ? lg__ix_err(m) : 0;
            lg__txo_del(p, &p->txo[i]);
        } else {
            i++;
        }
    }
    if (!rc)
        rc = lg__ix_del_prefix(txn, log->ix.txabort, p->tp->id, p->idx, lg__keep_abort, &offset);
    return rc;
}

void lg__txn_free(lg_part *p)
{
    cn_free(p->txo);
    p->txo = NULL;
    p->ntxo = p->txocap = 0;
}

/* ---- readers --------------------------------------------------------------- */

int lg__txn_first_open(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, int64_t *first)
{
    *first = INT64_MAX;
    if (!log->ix.has_tx)
        return 0;
    MDB_cursor *c;
    int rc = lg__ix_err(mdb_cursor_open(txn, log->ix.txopen, &c));
    if (rc)
        return rc;
    unsigned char pre[8];
    lg__ix_key_tp(pre, tid, part);
    MDB_val k = {8, pre}, d;
    int m = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    while (m == 0 && k.mv_size == 16 && memcmp(k.mv_data, pre, 8) == 0) {
        if (d.mv_size == 8) {
            int64_t f = (int64_t)cn_rd_be64(d.mv_data);
            if (f < *first)
                *first = f;
        }
        m = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return 0;
}

int lg_last_stable_offset(lg_log *log, const char *topic, int32_t partition, int64_t *lso)
{
    if (!log || !topic || !lso)
        return CN_EINVAL;
    lg_loc loc;
    int rc = lg__locate_as(log, topic, partition, 0, LG__READ_COMMITTED, &loc);
    if (rc == LG_EOFFSET) {
        /* offset 0 is below the log start: ask at the start instead */
        lg_partition_info info;
        rc = lg_partition_info_get(log, topic, partition, &info);
        if (!rc)
            rc = lg__locate_as(log, topic, partition, info.log_start_offset, LG__READ_COMMITTED,
                               &loc);
    }
    if (rc)
        return rc;
    lg__seg_unref(loc.seg);
    *lso = loc.log_end;
    return 0;
}

int lg_aborted_txns(lg_log *log, const char *topic, int32_t partition, int64_t from, int64_t upto,
                    int (*fn)(void *ud, const lg_aborted_txn *t), void *ud)
{
    if (!log || !topic || !fn)
        return CN_EINVAL;
    pthread_rwlock_rdlock(&log->tmu);
    lg_part *p;
    int rc = lg__topic_lookup_part(log, topic, partition, &p);
    uint32_t tid = rc ? 0 : p->tp->id;
    int32_t idx = rc ? 0 : p->idx;
    pthread_rwlock_unlock(&log->tmu);
    if (rc || !log->ix.has_tx)
        return rc;
    MDB_txn *txn;
    rc = lg__ix_err(mdb_txn_begin(log->ix.env, NULL, MDB_RDONLY, &txn));
    if (rc)
        return rc;
    MDB_cursor *c;
    rc = lg__ix_err(mdb_cursor_open(txn, log->ix.txabort, &c));
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    /* Kafka's rule: every abort whose marker is at or after `from` and whose
     * first batch is before `upto`, in marker order, up to and including
     * the first marker at or after `upto`. */
    unsigned char k0[16];
    lg__ix_key_tp(k0, tid, idx);
    cn_wr_be64(k0 + 8, (uint64_t)(from < 0 ? 0 : from));
    MDB_val k = {16, k0}, d;
    int m = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    while (m == 0 && !rc && k.mv_size == 16 && memcmp(k.mv_data, k0, 8) == 0) {
        lg_aborted_txn t;
        t.last_offset = (int64_t)cn_rd_be64((const unsigned char *)k.mv_data + 8);
        if (d.mv_size == 16) {
            t.producer_id = (int64_t)cn_rd_be64(d.mv_data);
            t.first_offset = (int64_t)cn_rd_be64((const unsigned char *)d.mv_data + 8);
            if (t.first_offset < upto)
                rc = fn(ud, &t);
        }
        if (t.last_offset >= upto)
            break;
        m = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return rc;
}

int lg_open_txns(lg_log *log, const char *topic, int32_t partition,
                 int (*fn)(void *ud, int64_t producer_id, int64_t first_offset), void *ud)
{
    if (!log || !topic || !fn)
        return CN_EINVAL;
    pthread_rwlock_rdlock(&log->tmu);
    lg_part *p;
    int rc = lg__topic_lookup_part(log, topic, partition, &p);
    uint32_t tid = rc ? 0 : p->tp->id;
    int32_t idx = rc ? 0 : p->idx;
    pthread_rwlock_unlock(&log->tmu);
    if (rc || !log->ix.has_tx)
        return rc;
    MDB_txn *txn;
    rc = lg__ix_err(mdb_txn_begin(log->ix.env, NULL, MDB_RDONLY, &txn));
    if (rc)
        return rc;
    MDB_cursor *c;
    rc = lg__ix_err(mdb_cursor_open(txn, log->ix.txopen, &c));
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    unsigned char pre[8];
    lg__ix_key_tp(pre, tid, idx);
    MDB_val k = {8, pre}, d;
    int m = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    while (m == 0 && !rc && k.mv_size == 16 && memcmp(k.mv_data, pre, 8) == 0) {
        if (d.mv_size == 8)
            rc = fn(ud, (int64_t)cn_rd_be64((const unsigned char *)k.mv_data + 8),
                    (int64_t)cn_rd_be64(d.mv_data));
        m = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return rc;
}

/* ---- the coordinator's records (DATA/state `txns`) ----------------------------- */

int lg_txn_state_put(lg_log *log, const char *key, const void *val, size_t n)
{
    if (!log || !key || !*key || strlen(key) > LG_TXN_KEY_MAX || (!val && n))
        return CN_EINVAL;
    if (log->o.read_only)
        return CN_EPERM;
    MDB_txn *txn;
    int rc = lg__ix_err(mdb_txn_begin(log->ix.senv, NULL, 0, &txn));
    if (rc)
        return rc;
    MDB_val k = {strlen(key), (void *)key}, d = {n, (void *)val};
    int m = val ? mdb_put(txn, log->ix.stxns, &k, &d, 0) : mdb_del(txn, log->ix.stxns, &k, NULL);
    rc = m == MDB_NOTFOUND ? 0 : lg__ix_err(m);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    return lg__ix_err(mdb_txn_commit(txn)); /* synced: DATA/state is not MDB_NOSYNC */
}

int lg_txn_state_each(lg_log *log, int (*fn)(void *ud, const char *key, const void *val, size_t n),
                      void *ud)
{
    if (!log || !fn)
        return CN_EINVAL;
    if (!log->ix.senv || !log->ix.has_stxns)
        return 0;
    MDB_txn *txn;
    int rc = lg__ix_err(mdb_txn_begin(log->ix.senv, NULL, MDB_RDONLY, &txn));
    if (rc)
        return rc;
    MDB_cursor *c = NULL;
    rc = lg__ix_err(mdb_cursor_open(txn, log->ix.stxns, &c));
    MDB_val k, d;
    int op = MDB_FIRST;
    char key[LG_TXN_KEY_MAX + 1];
    while (!rc && mdb_cursor_get(c, &k, &d, op) == 0) {
        op = MDB_NEXT;
        if (k.mv_size == 0 || k.mv_size > LG_TXN_KEY_MAX)
            continue;
        memcpy(key, k.mv_data, k.mv_size);
        key[k.mv_size] = 0;
        rc = fn(ud, key, d.mv_data, d.mv_size);
    }
    if (c)
        mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return rc;
}
