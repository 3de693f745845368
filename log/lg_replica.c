/* SPDX-License-Identifier: MIT */
/*
 * lg_replica.c — the parts of the replication storage contract (lg.h,
 * "replication storage contract"; docs/replication.md) that are not on the
 * append or truncate paths: the epoch history and Kafka's
 * OffsetForLeaderEpoch rule over it, the durable end, the consumers' read
 * limit and the per-partition Raft term/vote file.  (Replica appends are in
 * lg_writer.c, the replica truncate in lg_retention.c.)
 * Guarantees: the epoch history is read from the LMDB `epochs` table as
 * committed (the writer commits an epoch's entry in the round that stores
 * its first batch; recovery re-derives entries from the batches); callbacks
 * run after the read transaction ends, so they may call lg_ functions.
 * raft.state is written through the VFS as a temp file, fdatasync, rename,
 * directory fsync, and read back whole or refused (CN_ECORRUPT).
 * Threads: any.  lg_raft_state_save: one caller per partition at a time
 * (the partition's driver): two concurrent saves share the temp name.
 */
#include "lg_int.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_crc32c.h"
#include "cn_err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#define LG__RAFT_STATE "raft.state"
#define LG__RAFT_STATE_LEN 16
#define LG__RAFT_STATE_VERSION 1u

/* ---- the epoch history ----------------------------------------------------- */

int lg__ix_epochs_cut(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, int64_t offset,
                      int32_t *left)
{
    *left = 0;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, log->ix.epochs, &c);
    if (rc)
        return lg__ix_err(rc);
    unsigned char pre[8];
    lg__ix_key_tp(pre, tid, part);
    MDB_val k = {8, pre}, d;
    rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == 12 && memcmp(k.mv_data, pre, 8) == 0) {
        int64_t start = d.mv_size == 8 ? (int64_t)cn_rd_be64(d.mv_data) : INT64_MAX;
        if (start < offset) {
            *left = (int32_t)cn_rd_be32((const unsigned char *)k.mv_data + 8);
            rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
            continue;
        }
        unsigned char kc[12];
        memcpy(kc, k.mv_data, 12);
        rc = mdb_cursor_del(c, 0);
        if (rc)
            break;
        k.mv_size = 12;
        k.mv_data = kc;
        rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : lg__ix_err(rc);
}

typedef struct lg_epoch_start {
    int32_t epoch;
    int64_t start;
} lg_epoch_start;

typedef struct lg__hist {
    lg_epoch_start *v;
    size_t n, cap;
    int64_t log_start, log_end;
} lg__hist;

static int lg__hist_push(lg__hist *h, int32_t epoch, int64_t start)
{
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 16;
        lg_epoch_start *nv = cn_realloc(h->v, nc * sizeof(*nv));
        if (!nv)
            return CN_ENOMEM;
        h->v = nv;
        h->cap = nc;
    }
    h->v[h->n++] = (lg_epoch_start){epoch, start};
    return 0;
}

/* The partition's history as committed, with the implicit epoch 0 (see
 * lg_epochs_each) in front when batches precede the first entry. */
static int lg__hist_load(lg_log *log, const char *topic, int32_t partition, lg__hist *h)
{
    memset(h, 0, sizeof(*h));
    pthread_rwlock_rdlock(&log->tmu);
    lg_part *p;
    int rc = lg__topic_lookup_part(log, topic, partition, &p);
    MDB_txn *txn = NULL;
    if (!rc)
        rc = lg__ix_err(mdb_txn_begin(log->ix.env, NULL, MDB_RDONLY, &txn));
    lg_partrec pr;
    if (!rc)
        rc = lg__ix_part_get(log, txn, p->tp->id, p->idx, &pr);
    if (rc == CN_ENOENT)
        rc = LG_ENOPART;
    MDB_cursor *c = NULL;
    if (!rc)
        rc = lg__ix_err(mdb_cursor_open(txn, log->ix.epochs, &c));
    if (!rc) {
        h->log_start = pr.log_start;
        h->log_end = pr.log_end;
        unsigned char pre[8];
        lg__ix_key_tp(pre, p->tp->id, p->idx);
        MDB_val k = {8, pre}, d;
        int m = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
        while (!rc && m == 0 && k.mv_size == 12 && memcmp(k.mv_data, pre, 8) == 0) {
            if (d.mv_size != 8) {
                rc = CN_ECORRUPT;
                break;
            }
            int32_t e = (int32_t)cn_rd_be32((const unsigned char *)k.mv_data + 8);
            int64_t s = (int64_t)cn_rd_be64(d.mv_data);
            if (h->n == 0 && pr.log_end > pr.log_start && s > pr.log_start && e > 0)
                rc = lg__hist_push(h, 0, pr.log_start);
            if (!rc)
                rc = lg__hist_push(h, e, s);
            m = mdb_cursor_get(c, &k, &d, MDB_NEXT);
        }
        if (!rc && m != 0 && m != MDB_NOTFOUND)
            rc = lg__ix_err(m);
        if (!rc && h->n == 0 && pr.log_end > pr.log_start)
            rc = lg__hist_push(h, 0, pr.log_start);
    }
    if (c)
        mdb_cursor_close(c);
    if (txn)
        mdb_txn_abort(txn);
    pthread_rwlock_unlock(&log->tmu);
    if (rc) {
        cn_free(h->v);
        h->v = NULL;
    }
    return rc;
}

int lg_epochs_each(lg_log *log, const char *topic, int32_t partition,
                   int (*fn)(void *ud, int32_t epoch, int64_t start_offset), void *ud)
{
    if (!log || !topic || !fn)
        return CN_EINVAL;
    lg__hist h;
    int rc = lg__hist_load(log, topic, partition, &h);
    /* An epoch recorded at the log end holds no batch yet (lg_truncate's
     * new epoch): not present in the log, so not reported. */
    for (size_t i = 0; !rc && i < h.n && h.v[i].start < h.log_end; i++)
        rc = fn(ud, h.v[i].epoch, h.v[i].start);
    cn_free(h.v);
    return rc;
}

int lg_epoch_end_offset(lg_log *log, const char *topic, int32_t partition, int32_t epoch,
                        int32_t *out_epoch, int64_t *end_offset)
{
    if (!log || !topic || !out_epoch || !end_offset)
        return CN_EINVAL;
    *out_epoch = -1;
    *end_offset = -1;
    lg__hist h;
    int rc = lg__hist_load(log, topic, partition, &h);
    if (rc)
        return rc;
    if (epoch >= 0 && h.n > 0) {
        if (epoch == h.v[h.n - 1].epoch) {
            *out_epoch = epoch;
            *end_offset = h.log_end;
        } else {
            size_t hi = 0; /* the first epoch above the requested one */
            while (hi < h.n && h.v[hi].epoch <= epoch)
                hi++;
            if (hi < h.n) {
                *out_epoch = hi == 0 ? epoch : h.v[hi - 1].epoch;
                *end_offset = h.v[hi].start;
            }
        }
    }
    cn_free(h.v);
    return 0;
}

/* ---- durable end and read limit ---------------------------------------------- */

static int lg__part_of(lg_log *log, const char *topic, int32_t partition, lg_part **out)
{
    pthread_rwlock_rdlock(&log->tmu);
    int rc = lg__topic_lookup_part(log, topic, partition, out);
    pthread_rwlock_unlock(&log->tmu);
    return rc;
}

int lg_durable_end(lg_log *log, const char *topic, int32_t partition, int64_t *end)
{
    if (!log || !topic || !end)
        return CN_EINVAL;
    if (log->o.read_only)
        return CN_EPERM;
    pthread_rwlock_rdlock(&log->tmu);
    lg_part *p;
    int rc = lg__topic_lookup_part(log, topic, partition, &p);
    if (!rc)
        *end = atomic_load(&p->durable_end);
    pthread_rwlock_unlock(&log->tmu);
    return rc;
}

int lg_end_peek(lg_log *log, const char *topic, int32_t partition, int64_t *end)
{
    if (!log || !topic || !end)
        return CN_EINVAL;
    if (log->o.read_only)
        return CN_EPERM;
    pthread_rwlock_rdlock(&log->tmu);
    lg_part *p;
    int rc = lg__topic_lookup_part(log, topic, partition, &p);
    if (!rc) {
        int64_t e = atomic_load(&p->pub_end), lim = atomic_load(&p->read_limit);
        *end = lim >= 0 && lim < e ? lim : e;
    }
    pthread_rwlock_unlock(&log->tmu);
    return rc;
}

int lg_read_limit_set(lg_log *log, const char *topic, int32_t partition, int64_t limit)
{
    if (!log || !topic || limit < -1)
        return CN_EINVAL;
    pthread_rwlock_rdlock(&log->tmu);
    lg_part *p;
    int rc = lg__topic_lookup_part(log, topic, partition, &p);
    int64_t old = -1;
    if (!rc)
        old = atomic_exchange(&p->read_limit, limit);
    pthread_rwlock_unlock(&log->tmu);
    if (!rc && old != limit)
        lg__end_publish(log); /* parked readers look again */
    return rc;
}

/* ---- raft.state ------------------------------------------------------------------ */

int lg_raft_state_save(lg_log *log, const char *topic, int32_t partition, int32_t term,
                       int32_t vote)
{
    if (!log || !topic || term < 0 || vote < -1)
        return CN_EINVAL;
    if (log->o.read_only)
        return CN_EPERM;
    lg_part *p;
    int rc = lg__part_of(log, topic, partition, &p);
    if (rc)
        return rc;
    unsigned char b[LG__RAFT_STATE_LEN];
    cn_wr_be32(b, LG__RAFT_STATE_VERSION);
    cn_wr_be32(b + 4, (uint32_t)term);
    cn_wr_be32(b + 8, (uint32_t)vote);
    cn_wr_be32(b + 12, cn_crc32c(0, b, 12));
    /* p->dir lives as long as the topic; a concurrent delete of the topic
     * is the caller's race (its driver stops first). */
    return lg__file_write_atomic(log->vfs, p->dir, LG__RAFT_STATE, b, sizeof(b));
}

int lg_raft_state_load(lg_log *log, const char *topic, int32_t partition, int32_t *term,
                       int32_t *vote)
{
    if (!log || !topic || !term || !vote)
        return CN_EINVAL;
    lg_part *p;
    int rc = lg__part_of(log, topic, partition, &p);
    if (rc)
        return rc;
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", p->dir, LG__RAFT_STATE);
    const lg_vfs *v = log->vfs;
    int fd = v->open(v->ud, path, O_RDONLY, 0);
    if (fd < 0) {
        if (errno != ENOENT)
            return cn_err_from_errno(errno);
        *term = 0;
        *vote = -1;
        return 0;
    }
    unsigned char b[LG__RAFT_STATE_LEN + 1];
    ssize_t n = v->pread(v->ud, fd, b, sizeof(b), 0);
    int e = errno;
    v->close(v->ud, fd);
    if (n < 0)
        return cn_err_from_errno(e);
    if (n != LG__RAFT_STATE_LEN || cn_rd_be32(b) != LG__RAFT_STATE_VERSION ||
        cn_rd_be32(b + 12) != cn_crc32c(0, b, 12))
        return CN_ECORRUPT;
    int32_t t = (int32_t)cn_rd_be32(b + 4), vo = (int32_t)cn_rd_be32(b + 8);
    if (t < 0 || vo < -1)
        return CN_ECORRUPT;
    *term = t;
    *vote = vo;
    return 0;
}
