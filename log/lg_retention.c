/* SPDX-License-Identifier: MIT */
/*
 * lg_retention.c — deleting data on purpose: retention by time and by size
 * (whole segments from the front, never the active one, as Kafka does),
 * producer-state expiry (both run by the writer thread every
 * maintenance_ms, and by lg_maintenance_run), and
 * truncate-to-offset (cut the log back to a batch boundary: lg_truncate
 * starts a new leader epoch there, lg_replica_truncate does not and drops
 * the epochs that started past the cut from the history).
 *
 * Retention, for crash safety: the index is committed and synced first (log
 * start advanced), then files are removed.  A crash in between leaves files
 * below the log start, which recovery removes (they were already deleted
 * from the log's point of view).
 *
 * Truncate is crash-atomic through a redo record: before anything changes,
 * DATA/topics/<t>/<p>/truncate.intent (new log end, new epoch, segment and
 * byte of the cut) is written and synced; then the index is committed and
 * synced, the files are cut and removed, and the intent is removed.  A crash
 * before the intent is durable leaves the log as it was; after it, the
 * recovery of that partition redoes the file changes (idempotent), rebuilds
 * the partition's index if it still described the old files, records the
 * new epoch, and removes the intent once the index is synced.  So a
 * truncate, once it began to change anything, completes; a cut tail is
 * never re-adopted.  Every file step goes through the VFS; the test crashes
 * the process before each of them (test_lg_truncate_crash.c).
 * Readers holding a segment keep its descriptor (the segment is
 * refcounted), so a concurrent fetch finishes on unlinked bytes.
 * Threads: any; both take wmu so they never interleave with a writer round.
 */
#include "lg_int.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int lg__keep_from(void *ud, const unsigned char *k, size_t kn)
{
    /* oidx / segs keys: tid, part, base u64 — keep base >= *ud */
    return kn >= 16 && (int64_t)cn_rd_be64(k + 8) >= *(const int64_t *)ud;
}

static int lg__keep_below(void *ud, const unsigned char *k, size_t kn)
{
    return kn >= 16 && (int64_t)cn_rd_be64(k + 8) < *(const int64_t *)ud;
}

static int lg__tidx_keep_from(void *ud, const unsigned char *k, size_t kn)
{
    /* tidx keys: tid, part, running max, base — keep base >= *ud */
    return kn >= 24 && (int64_t)cn_rd_be64(k + 16) >= *(const int64_t *)ud;
}

static int lg__tidx_keep_below(void *ud, const unsigned char *k, size_t kn)
{
    return kn >= 24 && (int64_t)cn_rd_be64(k + 16) < *(const int64_t *)ud;
}

static int lg__put_partrec(lg_log *log, MDB_txn *txn, lg_part *p)
{
    lg_seg *a = lg__part_active(p);
    lg_partrec r = {p->log_start,    p->log_end, a ? a->base : p->log_end,
                    a ? a->size : 0, p->epoch,   p->first_ts,
                    p->last_ts,      p->bytes,   p->run_max_ts,
                    p->since_idx};
    return lg__ix_part_put(log, txn, p->tp->id, p->idx, &r);
}

/* Remove segments [from, to) of p's table and unlink their files; the
 * first error of an unlink or of the directory sync is returned (the
 * table entries go either way). */
static int lg__drop_segs(lg_log *log, lg_part *p, size_t from, size_t to)
{
    int rc = 0;
    lg_seg *gone[64];
    while (from < to) {
        size_t n = to - from < 64 ? to - from : 64;
        pthread_mutex_lock(&p->mu);
        memcpy(gone, &p->segs[from], n * sizeof(*gone));
        memmove(&p->segs[from], &p->segs[from + n], (p->nsegs - from - n) * sizeof(*p->segs));
        p->nsegs -= n;
        pthread_mutex_unlock(&p->mu);
        for (size_t i = 0; i < n; i++) {
            if (log->vfs->unlink(log->vfs->ud, gone[i]->path) != 0 && errno != ENOENT) {
                cn_log_warn("lg", "%s: cannot remove: %s", gone[i]->path, strerror(errno));
                if (!rc)
                    rc = cn_err_from_errno(errno);
            }
            lg__seg_unref(gone[i]);
        }
        to -= n;
    }
    int r2 = lg__dir_sync(log->vfs, p->dir);
    return rc ? rc : r2;
}

static int lg__retain_part(lg_log *log, lg_part *p, int64_t now)
{
    if (p->failed || p->nsegs < 2)
        return 0;
    lg_topic_config c = p->tp->cfg;
    lg__topic_cfg_resolve(log, &c);
    size_t k = 0;
    if (c.retention_ms >= 0) {
        while (k + 1 < p->nsegs && p->segs[k]->max_ts >= 0 &&
               p->segs[k]->max_ts < now - c.retention_ms)
            k++;
    }
    if (c.retention_bytes >= 0) {
        uint64_t total = p->bytes;
        size_t ks = 0;
        while (ks + 1 < p->nsegs && total - p->segs[ks]->size >= (uint64_t)c.retention_bytes) {
            total -= p->segs[ks]->size;
            ks++;
        }
        if (ks > k)
            k = ks;
    }
    if (k == 0)
        return 0;
    int64_t new_start = p->segs[k]->base;
    uint64_t freed = 0;
    for (size_t i = 0; i < k; i++)
        freed += p->segs[i]->size;
    MDB_txn *txn;
    int rc = lg__ix_err(mdb_txn_begin(log->ix.env, NULL, 0, &txn));
    if (rc)
        return rc;
    uint32_t tid = p->tp->id;
    rc = lg__ix_del_prefix(txn, log->ix.oidx, tid, p->idx, lg__keep_from, &new_start);
    if (!rc)
        rc = lg__ix_del_prefix(txn, log->ix.tidx, tid, p->idx, lg__tidx_keep_from, &new_start);
    if (!rc)
        rc = lg__ix_del_prefix(txn, log->ix.segs, tid, p->idx, lg__keep_from, &new_start);
    int64_t old_start = p->log_start, old_first = p->first_ts;
    uint64_t old_bytes = p->bytes;
    p->log_start = new_start;
    p->bytes -= freed;
    p->first_ts = p->segs[k]->first_ts;
    if (!rc)
        rc = lg__put_partrec(log, txn, p);
    if (!rc)
        rc = lg__ix_err(mdb_txn_commit(txn));
    else
        mdb_txn_abort(txn);
    if (!rc)
        rc = lg__ix_sync(log);
    if (rc) {
        p->log_start = old_start;
        p->bytes = old_bytes;
        p->first_ts = old_first;
        return rc;
    }
    cn_log_info("lg", "%s: retention removed %zu segment(s), %llu bytes; log start now %lld",
                p->dir, k, (unsigned long long)freed, (long long)new_start);
    lg__drop_segs(log, p, 0, k); /* leftovers are removed at the next open */
    return (int)k;
}

/* Forget producers whose newest batch is older than cutoff (by batch
 * timestamps, as Kafka's producer.id.expiration.ms), in memory and in the
 * index.  wmu held. */
static int lg__expire_part(lg_log *log, lg_part *p, int64_t cutoff)
{
    int64_t gone[64];
    size_t n;
    do {
        n = 0;
        for (size_t i = 0; i < p->prod.cap && n < 64; i++)
            if (p->prod.slots[i].pid >= 0 && p->prod.slots[i].last_ts < cutoff)
                gone[n++] = p->prod.slots[i].pid;
        if (!n)
            return 0;
        MDB_txn *txn;
        int rc = lg__ix_err(mdb_txn_begin(log->ix.env, NULL, 0, &txn));
        for (size_t i = 0; !rc && i < n; i++)
            rc = lg__ix_prod_del(log, txn, p->tp->id, p->idx, gone[i]);
        if (rc) {
            if (txn)
                mdb_txn_abort(txn);
            return rc;
        }
        if ((rc = lg__ix_err(mdb_txn_commit(txn))) != 0)
            return rc;
        /* The next checkpoint syncs it; a crash before brings the entries
         * back from the index, to expire again. */
        for (size_t i = 0; i < n; i++)
            lg__prod_remove(&p->prod, gone[i]);
        cn_log_info("lg", "%s: %zu idle producer id(s) expired", p->dir, n);
    } while (n == 64);
    return 0;
}

/* Retention over every partition, and producer expiry when expire is set;
 * wmu held.  Returns segments deleted or the first error. */
static int lg__maint(lg_log *log, int expire)
{
    int64_t now = lg__now(log);
    int total = 0, rc = 0;
    pthread_rwlock_rdlock(&log->tmu);
    for (size_t i = 0; i < log->ntopics && rc >= 0; i++) {
        lg_topic *t = log->topics[i];
        for (int32_t j = 0; j < t->cfg.partitions && rc >= 0; j++) {
            rc = lg__retain_part(log, &t->parts[j], now);
            if (rc > 0)
                total += rc;
            if (rc >= 0 && expire && log->o.producer_expiry_ms >= 0 && !t->parts[j].failed) {
                int r2 = lg__expire_part(log, &t->parts[j], now - log->o.producer_expiry_ms);
                if (r2)
                    rc = r2;
            }
        }
    }
    pthread_rwlock_unlock(&log->tmu);
    return rc < 0 ? rc : total;
}

int lg__maintenance_locked(lg_log *log)
{
    return lg__maint(log, 1);
}

static int lg__maint_call(lg_log *log, int expire)
{
    if (!log)
        return CN_EINVAL;
    if (lg__on_writer(log))
        return CN_EBUSY;
    if (log->o.read_only)
        return CN_EPERM;
    if (atomic_load(&log->panic))
        return CN_EPANIC;
    lg__wmu_lock(log);
    int rc = lg__maint(log, expire);
    pthread_mutex_unlock(&log->wmu);
    return rc;
}

int lg_retention_run(lg_log *log)
{
    return lg__maint_call(log, 0);
}

int lg_maintenance_run(lg_log *log)
{
    return lg__maint_call(log, 1);
}

/* ---- truncate: helpers -------------------------------------------------- */

/* Largest batch max timestamp in seg below end (walks its headers). */
static int lg__seg_max_ts(lg_seg *s, uint64_t end, int64_t *first_ts, int64_t *max_ts)
{
    *first_ts = *max_ts = -1;
    uint64_t pos = 0;
    unsigned char hb[LG_BATCH_HEADER_LEN];
    while (pos < end) {
        lg_batch_hdr h;
        size_t total;
        int rc = lg__seg_pread(s, hb, sizeof(hb), pos);
        if (rc)
            return rc;
        if (lg_batch_size(hb, sizeof(hb), (size_t)(end - pos), &total) != 0 ||
            lg_batch_parse_hdr(hb, sizeof(hb), &h) != 0)
            return CN_ECORRUPT;
        if (*first_ts < 0)
            *first_ts = h.max_timestamp;
        if (h.max_timestamp > *max_ts)
            *max_ts = h.max_timestamp;
        pos += total;
    }
    return 0;
}

/* ---- the truncate intent ----------------------------------------------- */

int lg__trunc_intent_read(const lg_part *p, lg_trunc_intent *ti)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", p->dir, LG__TRUNC_INTENT);
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? CN_ENOENT : cn_err_from_errno(errno);
    long long off = -1, cb = -2;
    unsigned long long cp = 0;
    int ep = -1;
    int n = fscanf(f, "offset=%lld\nepoch=%d\ncut_base=%lld\ncut_pos=%llu\n", &off, &ep, &cb, &cp);
    fclose(f);
    if (n != 4 || off < 0 || ep < -1 || cb < -1 || (cb >= 0 && cb >= off))
        return CN_ECORRUPT;
    ti->offset = off;
    ti->epoch = ep;
    ti->cut_base = cb;
    ti->cut_pos = cp;
    return 0;
}

static int lg__trunc_intent_write(lg_log *log, const lg_part *p, const lg_trunc_intent *ti)
{
    char body[256];
    int n = snprintf(body, sizeof(body),
                     "offset=%" PRId64 "\nepoch=%" PRId32 "\ncut_base=%" PRId64 "\ncut_pos=%" PRIu64
                     "\n",
                     ti->offset, ti->epoch, ti->cut_base, ti->cut_pos);
    return lg__file_write_atomic(log->vfs, p->dir, LG__TRUNC_INTENT, body, (size_t)n);
}

int lg__trunc_intent_clear(lg_log *log, const lg_part *p)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", p->dir, LG__TRUNC_INTENT);
    if (log->vfs->unlink(log->vfs->ud, path) != 0 && errno != ENOENT)
        return cn_err_from_errno(errno);
    return lg__dir_sync(log->vfs, p->dir);
}

int lg__trunc_redo_files(lg_log *log, const lg_part *p, const lg_trunc_intent *ti)
{
    const lg_vfs *v = log->vfs;
    int64_t *bases;
    size_t n;
    int rc = lg__seg_list(p->dir, &bases, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        char *path = lg__seg_path(p->dir, bases[i]);
        if (!path) {
            rc = CN_ENOMEM;
            break;
        }
        if (bases[i] >= ti->offset) {
            if (v->unlink(v->ud, path) != 0 && errno != ENOENT)
                rc = cn_err_from_errno(errno);
        } else if (bases[i] == ti->cut_base) {
            struct stat st;
            if (stat(path, &st) == 0 && (uint64_t)st.st_size > ti->cut_pos) {
                int fd = v->open(v->ud, path, O_RDWR, 0);
                if (fd < 0)
                    rc = cn_err_from_errno(errno);
                else {
                    if (v->ftruncate(v->ud, fd, (off_t)ti->cut_pos) != 0 ||
                        v->fdatasync(v->ud, fd) != 0)
                        rc = cn_err_from_errno(errno);
                    v->close(v->ud, fd);
                }
            }
        }
        cn_free(path);
    }
    cn_free(bases);
    if (!rc)
        rc = lg__dir_sync(v, p->dir);
    return rc;
}

/* ---- truncate ------------------------------------------------------------- */

/* bump: lg_truncate (a new epoch starts at offset); 0: lg_replica_truncate
 * (the epoch becomes the latest one left). */
/* A producer whose every remembered batch a truncate cut leaves the index
 * in the truncate's transaction. */
typedef struct lg__trunc_gone {
    lg_log *log;
    MDB_txn *txn;
    uint32_t tid;
    int32_t part;
} lg__trunc_gone;

static int lg__trunc_prod_gone(void *ud, int64_t pid)
{
    lg__trunc_gone *g = ud;
    return lg__ix_prod_del(g->log, g->txn, g->tid, g->part, pid);
}

static int lg__truncate_part(lg_log *log, lg_part *p, int64_t offset, int bump)
{
    if (offset < p->log_start || offset > p->log_end)
        return LG_EOFFSET;
    /* k: the segment holding offset (or the first to go entirely). */
    size_t k = p->nsegs;
    uint64_t cut = 0;
    int64_t seg_first = -1, seg_max = -1;
    for (size_t i = 0; i < p->nsegs; i++)
        if (p->segs[i]->base <= offset)
            k = i;
    if (k < p->nsegs && p->segs[k]->base < offset) {
        lg_seg *s = p->segs[k];
        lg_batch_hdr h;
        int rc = lg__walk_to(s, 0, s->size, offset, &cut, &h);
        if (rc == CN_ENOENT)
            cut = s->size; /* offset == log end */
        else if (rc)
            return rc;
        else if (h.base_offset != offset)
            return CN_EINVAL; /* not a batch boundary */
        rc = lg__seg_max_ts(s, cut, &seg_first, &seg_max);
        if (rc)
            return rc;
    }
    /* partial: segment k keeps a prefix (cut bytes); otherwise segment k
     * starts exactly at offset and goes entirely with everything after. */
    int partial = k < p->nsegs && p->segs[k]->base < offset;
    size_t keep = k == p->nsegs ? p->nsegs : (partial ? k + 1 : k); /* segments kept */

    /* The redo record first: from here on the truncate completes, if not
     * now then at the next open. */
    lg_trunc_intent ti = {offset, bump ? p->epoch + 1 : -1, partial ? p->segs[k]->base : -1,
                          partial ? cut : 0};
    int rc = lg__trunc_intent_write(log, p, &ti);
    if (rc)
        return rc; /* nothing changed (the temp file is removed) */

    MDB_txn *txn;
    rc = lg__ix_err(mdb_txn_begin(log->ix.env, NULL, 0, &txn));
    if (rc) {
        /* The intent is durable: the truncate must finish, so stop here
         * and let recovery finish it. */
        atomic_store(&log->panic, 1);
        return CN_EPANIC;
    }
    uint32_t tid = p->tp->id;
    rc = lg__ix_del_prefix(txn, log->ix.oidx, tid, p->idx, lg__keep_below, &offset);
    if (!rc)
        rc = lg__ix_del_prefix(txn, log->ix.tidx, tid, p->idx, lg__tidx_keep_below, &offset);
    for (size_t i = keep; !rc && i < p->nsegs; i++) {
        unsigned char kb[16];
        lg__ix_key_tp(kb, tid, p->idx);
        cn_wr_be64(kb + 8, (uint64_t)p->segs[i]->base);
        MDB_val key = {16, kb};
        int m = mdb_del(txn, log->ix.segs, &key, NULL);
        rc = m == MDB_NOTFOUND ? 0 : lg__ix_err(m);
    }
    /* Epochs that start at or past the cut leave the history. */
    int32_t left = 0;
    if (!rc)
        rc = lg__ix_epochs_cut(log, txn, tid, p->idx, offset, &left);
    /* New in-memory state; the files follow after the index is durable. */
    p->log_end = offset;
    if (bump)
        p->epoch++;
    else
        p->epoch = left;
    if (atomic_load(&p->durable_end) > offset)
        atomic_store(&p->durable_end, offset);
    atomic_store(&p->pub_end, offset);
    p->bytes = 0;
    p->last_ts = -1;
    for (size_t i = 0; i < keep; i++) {
        lg_seg *s = p->segs[i];
        if (partial && i == k) {
            s->size = cut;
            s->first_ts = seg_first;
            s->max_ts = seg_max;
            s->next_off = offset;
        }
        p->bytes += s->size;
        if (s->max_ts > p->last_ts)
            p->last_ts = s->max_ts;
        if (!rc) {
            lg_segrec sr = {s->size, s->created_ms, s->first_ts, s->max_ts, s->next_off};
            rc = lg__ix_seg_put(log, txn, tid, p->idx, s->base, &sr);
        }
    }
    p->run_max_ts = p->last_ts < 0 ? INT64_MIN : p->last_ts;
    if (keep == 0)
        p->first_ts = -1;
    p->since_idx = LG__INDEX_INTERVAL; /* the next batch gets an index entry */
    lg__trunc_gone g = {log, txn, tid, p->idx};
    int grc = lg__prod_truncate(&p->prod, offset, lg__trunc_prod_gone, &g);
    if (!rc)
        rc = grc;
    if (!rc)
        rc = lg__txn_truncate(log, txn, p, offset);
    for (size_t i = 0; !rc && i < p->prod.cap; i++) {
        lg_pstate *st = &p->prod.slots[i];
        if (st->pid >= 0 && st->dirty) {
            rc = lg__ix_prod_put(log, txn, tid, p->idx, st);
            st->dirty = 0;
        }
    }
    if (!rc && bump)
        rc = lg__ix_epoch_put(log, txn, tid, p->idx, p->epoch, offset);
    if (!rc) {
        /* the active base recorded must be a kept segment */
        lg_partrec r = {p->log_start,
                        p->log_end,
                        keep ? p->segs[keep - 1]->base : offset,
                        keep ? p->segs[keep - 1]->size : 0,
                        p->epoch,
                        p->first_ts,
                        p->last_ts,
                        p->bytes,
                        p->run_max_ts,
                        p->since_idx};
        rc = lg__ix_part_put(log, txn, tid, p->idx, &r);
    }
    if (!rc)
        rc = lg__ix_err(mdb_txn_commit(txn));
    else
        mdb_txn_abort(txn);
    if (!rc)
        rc = lg__ix_sync(log);
    if (rc) {
        /* In-memory state no longer matches anything durable. */
        atomic_store(&log->panic, 1);
        return CN_EPANIC;
    }
    if (partial) {
        lg_seg *s = p->segs[k];
        if (log->vfs->ftruncate(log->vfs->ud, s->fd, (off_t)cut) != 0 ||
            log->vfs->fdatasync(log->vfs->ud, s->fd) != 0) {
            atomic_store(&log->panic, 1);
            return CN_EPANIC;
        }
    }
    /* The intent may go only once every file change is durable: a stale
     * intent would cut appends made after it at the next open. */
    if (lg__drop_segs(log, p, keep, p->nsegs) != 0 || lg__trunc_intent_clear(log, p) != 0) {
        atomic_store(&log->panic, 1);
        return CN_EPANIC;
    }
    return 0;
}

static int lg__truncate(lg_log *log, const char *topic, int32_t partition, int64_t offset, int bump)
{
    if (!log || !topic)
        return CN_EINVAL;
    if (lg__on_writer(log))
        return CN_EBUSY;
    if (log->o.read_only)
        return CN_EPERM;
    if (atomic_load(&log->panic))
        return CN_EPANIC;
    lg__wmu_lock(log);
    pthread_rwlock_rdlock(&log->tmu);
    lg_part *p;
    int rc = lg__topic_lookup_part(log, topic, partition, &p);
    if (!rc && p->failed)
        rc = CN_ECORRUPT;
    if (!rc)
        rc = lg__truncate_part(log, p, offset, bump);
    pthread_rwlock_unlock(&log->tmu);
    pthread_mutex_unlock(&log->wmu);
    return rc;
}

int lg_truncate(lg_log *log, const char *topic, int32_t partition, int64_t offset)
{
    return lg__truncate(log, topic, partition, offset, 1);
}

int lg_replica_truncate(lg_log *log, const char *topic, int32_t partition, int64_t offset)
{
    return lg__truncate(log, topic, partition, offset, 0);
}
