/* SPDX-License-Identifier: MIT */
/*
 * lg_recover.c — bringing one partition to a consistent state when a log is
 * opened for writing (docs/architecture.md, "Crash story").
 *
 * The segments are the truth; LMDB says how far they were indexed.  We
 * start at the indexed (segment, position) — or at the very first segment
 * when the index is new, lost or inconsistent with the files — and scan
 * forward batch by batch: length, magic, CRC-32C and offset continuity.
 * Good batches get their sparse index entries, segment records and
 * producer state.  At the first bad or partial batch:
 *   - in the last segment (a torn or garbled tail): the file is cut there;
 *   - in an earlier segment, when no later segment starts with a valid
 *     batch: the same, and the later (empty or garbage) files are removed;
 *   - otherwise (valid data after damage: corruption in the middle): the
 *     partition is marked failed with file and byte position and nothing
 *     is deleted; the other partitions keep serving.
 * Acknowledged batches were fdatasync'ed before their ack (I2), so they lie
 * before any torn tail and are never cut.
 * Threads: lg_open's thread, before the writer thread starts.
 */
#include "lg_int.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define LG__SCAN_WINDOW (1u << 20)
#define LG__SCAN_MAX_BATCH (1u << 30)

/* A read window over one segment so small batches cost no syscall each. */
typedef struct lg__win {
    lg_seg *s;
    cn_buf buf;
    uint64_t at; /* file position of buf.data[0] */
    uint64_t fsize;
} lg__win;

static int lg__win_get(lg__win *w, uint64_t pos, size_t n, const unsigned char **out)
{
    if (pos >= w->at && pos + n <= w->at + w->buf.len) {
        *out = w->buf.data + (pos - w->at);
        return 0;
    }
    if (pos + n > w->fsize)
        return CN_ETRUNC;
    size_t want = n > LG__SCAN_WINDOW ? n : LG__SCAN_WINDOW;
    if (pos + want > w->fsize)
        want = (size_t)(w->fsize - pos);
    cn_buf_reset(&w->buf);
    int rc = cn_buf_reserve(&w->buf, want);
    if (rc)
        return rc;
    rc = lg__seg_pread(w->s, w->buf.data, want, pos);
    if (rc)
        return rc;
    w->buf.len = want;
    w->at = pos;
    *out = w->buf.data;
    return 0;
}

static int lg__file_size(const char *path, uint64_t *size)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return cn_err_from_errno(errno);
    *size = (uint64_t)st.st_size;
    return 0;
}

/* Check one batch at pos: 0 with *h and *total, or a reason. */
static int lg__scan_one(lg__win *w, uint64_t pos, int64_t expect, lg_batch_hdr *h, size_t *total,
                        const char **why)
{
    const unsigned char *p;
    if (w->fsize - pos < LG_BATCH_LOG_OVERHEAD) {
        *why = "partial batch header";
        return CN_ETRUNC;
    }
    int rc = lg__win_get(w, pos, LG_BATCH_LOG_OVERHEAD, &p);
    if (rc) {
        *why = "unreadable";
        return rc;
    }
    rc = lg_batch_size(p, LG_BATCH_LOG_OVERHEAD, LG__SCAN_MAX_BATCH, total);
    if (rc) {
        *why = "bad batch length";
        return rc;
    }
    if (*total > w->fsize - pos) {
        *why = "partial batch";
        return CN_ETRUNC;
    }
    rc = lg__win_get(w, pos, *total, &p);
    if (rc) {
        *why = "unreadable";
        return rc;
    }
    rc = lg_batch_validate(p, *total, h);
    if (rc) {
        *why = rc == LG_ECRC ? "CRC mismatch" : rc == LG_EMAGIC ? "bad magic" : "malformed batch";
        return rc;
    }
    if (h->base_offset != expect) {
        *why = "batch offset does not follow the previous batch";
        return CN_ECORRUPT;
    }
    return 0;
}

/* Does the segment file start with a valid batch carrying its own base? */
static int lg__seg_has_data(lg_log *log, lg_seg *s)
{
    uint64_t fsize = 0;
    if (lg__file_size(s->path, &fsize) || fsize == 0)
        return 0;
    lg__win w = {s, CN_BUF_INIT, 0, fsize};
    lg_batch_hdr h;
    size_t total;
    const char *why;
    int ok = lg__scan_one(&w, 0, s->base, &h, &total, &why) == 0;
    cn_buf_free(&w.buf);
    (void)log;
    return ok;
}

typedef struct lg__rctx {
    lg_log *log;
    lg_part *p;
    MDB_txn *txn;
} lg__rctx;

/* Account one good batch (same bookkeeping as the writer's round). */
static int lg__apply(lg__rctx *r, lg_seg *s, uint64_t pos, size_t total, const lg_batch_hdr *h,
                     const unsigned char *bytes, int rebuild)
{
    lg_part *p = r->p;
    int rc = 0;
    if (pos == 0 || p->since_idx >= LG__INDEX_INTERVAL) {
        lg_oidxval v = {s->base, (uint32_t)pos, (uint32_t)total, h->last_offset_delta,
                        h->max_timestamp};
        rc = lg__ix_oidx_put(r->log, r->txn, p->tp->id, p->idx, h->base_offset, &v);
        if (!rc)
            rc = lg__ix_tidx_put(r->log, r->txn, p->tp->id, p->idx, p->run_max_ts, h->base_offset);
        p->since_idx = 0;
    }
    p->since_idx += (uint32_t)total;
    if (h->max_timestamp > p->run_max_ts)
        p->run_max_ts = h->max_timestamp;
    if (p->first_ts < 0 && h->base_offset == p->log_start)
        p->first_ts = h->max_timestamp;
    if (h->max_timestamp > p->last_ts)
        p->last_ts = h->max_timestamp;
    if (s->first_ts < 0)
        s->first_ts = h->max_timestamp;
    if (h->max_timestamp > s->max_ts)
        s->max_ts = h->max_timestamp;
    /* Epochs start in the scanned tail too: a replica append that began an
     * epoch may be on disk while the index (synced at checkpoints) lags. */
    if (h->leader_epoch > p->epoch) {
        p->epoch = h->leader_epoch;
        if (!rc)
            rc = lg__ix_epoch_put(r->log, r->txn, p->tp->id, p->idx, p->epoch, h->base_offset);
    }
    if (!rc && h->producer_id >= 0 && (h->attributes & LG_ATTR_CONTROL)) {
        rc = lg__txn_ctl_record(&p->prod, h); /* a marker: no sequence */
    } else if (!rc && h->producer_id >= 0) {
        int32_t first = h->base_sequence;
        int32_t last =
            (int32_t)(((int64_t)first + h->last_offset_delta) % ((int64_t)INT32_MAX + 1));
        rc = lg__prod_record(&p->prod, h->producer_id, h->producer_epoch, first, last,
                             h->base_offset, h->max_timestamp);
    }
    if (!rc)
        rc = lg__txn_apply(r->log, r->txn, p, bytes, total, h);
    p->log_end = h->base_offset + h->last_offset_delta + 1;
    s->next_off = p->log_end;
    s->size = pos + total;
    p->bytes += total;
    return rc;
}

static int lg__cut(lg_log *log, lg_seg *s, uint64_t pos, const char *why)
{
    cn_log_warn("lg", "%s: %s at byte %llu; truncating the unacknowledged tail there", s->path, why,
                (unsigned long long)pos);
    const lg_vfs *v = log->vfs;
    if (v->ftruncate(v->ud, s->fd, (off_t)pos) != 0 || v->fdatasync(v->ud, s->fd) != 0)
        return cn_err_from_errno(errno);
    s->size = pos;
    return 0;
}

/* Scan segments [si..] from pos.  Returns 0 (possibly with the partition
 * marked failed) or an I/O / index error. */
static int lg__scan(lg__rctx *r, size_t si, uint64_t pos, int rebuild)
{
    lg_part *p = r->p;
    lg__win w = {NULL, CN_BUF_INIT, 0, 0};
    int rc = 0;
    for (; si < p->nsegs && !rc; si++, pos = 0) {
        lg_seg *s = p->segs[si];
        uint64_t fsize = 0;
        if ((rc = lg__file_size(s->path, &fsize)) != 0)
            break;
        w.s = s;
        w.fsize = fsize;
        w.at = 0;
        cn_buf_reset(&w.buf);
        if (pos == 0 && s->base != p->log_end) {
            if (fsize == 0 && si + 1 == p->nsegs) {
                /* An empty last file under the wrong name: drop it. */
                r->log->vfs->unlink(r->log->vfs->ud, s->path);
                pthread_mutex_lock(&p->mu);
                p->nsegs--;
                pthread_mutex_unlock(&p->mu);
                lg__seg_unref(s);
                break;
            }
            lg__part_mark_failed(p, s->path, 0,
                                 "segment base does not follow the previous segment");
            break;
        }
        if (pos == 0) {
            s->size = 0;
            s->first_ts = s->max_ts = -1;
            s->next_off = s->base;
        }
        while (pos < fsize && !rc) {
            lg_batch_hdr h;
            size_t total;
            const char *why = NULL;
            int bad = lg__scan_one(&w, pos, p->log_end, &h, &total, &why);
            if (bad == CN_ENOMEM) {
                rc = bad;
                break;
            }
            if (!bad && pos + total > UINT32_MAX) {
                /* Index positions are 32-bit (segments are bounded by
                 * LG_SEGMENT_BYTES_MAX); an older build's oversized segment
                 * is kept untouched, not cut, and not served. */
                lg__part_mark_failed(p, s->path, pos, "segment larger than 4 GiB");
                cn_buf_free(&w.buf);
                return 0;
            }
            if (!bad) {
                const unsigned char *bytes;
                rc = lg__win_get(&w, pos, total, &bytes); /* in the window: no I/O */
                if (!rc)
                    rc = lg__apply(r, s, pos, total, &h, bytes, rebuild);
                pos += total;
                continue;
            }
            /* Damage at pos.  Is there valid data after it? */
            int later = 0;
            for (size_t j = si + 1; j < p->nsegs && !later; j++)
                later = lg__seg_has_data(r->log, p->segs[j]);
            if (later) {
                lg__part_mark_failed(p, s->path, pos, why);
                cn_buf_free(&w.buf);
                return 0;
            }
            rc = lg__cut(r->log, s, pos, why);
            while (!rc && p->nsegs > si + 1) {
                lg_seg *x = p->segs[p->nsegs - 1];
                cn_log_warn("lg", "%s: removing segment after a torn tail", x->path);
                r->log->vfs->unlink(r->log->vfs->ud, x->path);
                pthread_mutex_lock(&p->mu);
                p->nsegs--;
                pthread_mutex_unlock(&p->mu);
                lg__seg_unref(x);
            }
            if (!rc)
                rc = lg__dir_sync(r->log->vfs, p->dir);
            cn_buf_free(&w.buf);
            return rc;
        }
    }
    cn_buf_free(&w.buf);
    return rc;
}

/* Open every segment file of the partition into its table. */
static int lg__open_segs(lg_log *log, lg_part *p, int64_t log_start)
{
    int64_t *bases;
    size_t n;
    int rc = lg__seg_list(p->dir, &bases, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        /* Files wholly below the log start are left over from a retention
         * run that was interrupted after its index commit. */
        if (i + 1 < n && bases[i + 1] <= log_start) {
            char *path = lg__seg_path(p->dir, bases[i]);
            if (path)
                log->vfs->unlink(log->vfs->ud, path);
            cn_free(path);
            continue;
        }
        lg_seg *s;
        rc = lg__seg_open(&s, log->vfs, p->dir, bases[i], 0);
        if (!rc && (rc = lg__part_seg_add(p, s)) != 0)
            lg__seg_unref(s);
    }
    cn_free(bases);
    return rc;
}

static int lg__load_producers(lg__rctx *r)
{
    MDB_cursor *c;
    int rc = lg__ix_err(mdb_cursor_open(r->txn, r->log->ix.producers, &c));
    if (rc)
        return rc;
    unsigned char pre[8];
    lg__ix_key_tp(pre, r->p->tp->id, r->p->idx);
    MDB_val k = {8, pre}, d;
    int m = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    while (m == 0 && !rc && k.mv_size == 16 && memcmp(k.mv_data, pre, 8) == 0) {
        lg_pstate st;
        int64_t pid = (int64_t)cn_rd_be64((const unsigned char *)k.mv_data + 8);
        if (lg__prod_decode(d.mv_data, d.mv_size, pid, &st) == 0) {
            st.dirty = 0;
            if (st.last_ts < 0) /* written by an older build: expiry counts from now */
                st.last_ts = lg__now(r->log);
            rc = lg__prod_put(&r->p->prod, &st);
        }
        m = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return rc;
}

/* The indexed state matches the files: every sealed segment has its record
 * and size, and the active file holds at least the indexed bytes. */
static int lg__indexed_ok(lg__rctx *r, const lg_partrec *pr, size_t *active_i)
{
    lg_part *p = r->p;
    if (p->nsegs == 0)
        return pr->log_end == pr->log_start && pr->bytes == 0;
    size_t ai = p->nsegs;
    for (size_t i = 0; i < p->nsegs; i++)
        if (p->segs[i]->base == pr->active_base)
            ai = i;
    if (ai == p->nsegs || p->segs[0]->base > pr->log_start)
        return 0;
    for (size_t i = 0; i <= ai; i++) {
        lg_seg *s = p->segs[i];
        lg_segrec sr;
        uint64_t fsize = 0;
        if (lg__ix_seg_get(r->log, r->txn, p->tp->id, p->idx, s->base, &sr) != 0 ||
            lg__file_size(s->path, &fsize) != 0)
            return 0;
        if (i < ai && fsize != sr.bytes)
            return 0;
        if (i == ai && (fsize < pr->indexed_pos || sr.bytes != pr->indexed_pos))
            return 0;
        s->size = sr.bytes;
        s->created_ms = sr.created_ms;
        s->first_ts = sr.first_ts;
        s->max_ts = sr.max_ts;
        s->next_off = sr.next_off;
    }
    *active_i = ai;
    return 1;
}

static int lg__reset_part_index(lg__rctx *r)
{
    MDB_dbi dbs[] = {r->log->ix.oidx, r->log->ix.tidx, r->log->ix.segs, r->log->ix.producers,
                     r->log->ix.epochs};
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof(dbs) / sizeof(dbs[0]); i++)
        rc = lg__ix_del_prefix(r->txn, dbs[i], r->p->tp->id, r->p->idx, NULL, NULL);
    if (!rc)
        rc = lg__txn_reset(r->log, r->txn, r->p);
    return rc;
}

static int lg__commit_part(lg__rctx *r)
{
    lg_part *p = r->p;
    int rc = 0;
    for (size_t i = 0; i < p->nsegs && !rc; i++) {
        lg_seg *s = p->segs[i];
        lg_segrec sr = {s->size, s->created_ms, s->first_ts, s->max_ts, s->next_off};
        rc = lg__ix_seg_put(r->log, r->txn, p->tp->id, p->idx, s->base, &sr);
    }
    for (size_t i = 0; i < p->prod.cap && !rc; i++) {
        lg_pstate *st = &p->prod.slots[i];
        if (st->pid >= 0 && st->dirty) {
            rc = lg__ix_prod_put(r->log, r->txn, p->tp->id, p->idx, st);
            st->dirty = 0;
        }
    }
    lg_seg *a = lg__part_active(p);
    lg_partrec pr = {p->log_start,    p->log_end, a ? a->base : p->log_end,
                     a ? a->size : 0, p->epoch,   p->first_ts,
                     p->last_ts,      p->bytes,   p->run_max_ts,
                     p->since_idx};
    if (!rc)
        rc = lg__ix_part_put(r->log, r->txn, p->tp->id, p->idx, &pr);
    return rc;
}

/* A truncate that wrote its intent completes here: its file changes are
 * redone before the files are looked at (see lg_retention.c). */
static int lg__trunc_redo(lg_log *log, lg_part *p, lg_trunc_intent *ti, int *have)
{
    char tmp[4300];
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", p->dir, LG__TRUNC_INTENT);
    log->vfs->unlink(log->vfs->ud, tmp); /* an intent never made durable */
    *have = 0;
    int rc = lg__trunc_intent_read(p, ti);
    if (rc == CN_ENOENT)
        return 0;
    if (rc == CN_ECORRUPT) {
        lg__part_mark_failed(p, LG__TRUNC_INTENT, 0, "unreadable truncate intent");
        return 0;
    }
    if (rc)
        return rc;
    cn_log_warn("lg", "%s: finishing an interrupted truncate to offset %lld", p->dir,
                (long long)ti->offset);
    rc = lg__trunc_redo_files(log, p, ti);
    *have = !rc;
    return rc;
}

int lg__recover_part(lg_log *log, lg_part *p, int rebuild)
{
    lg_trunc_intent ti;
    int have_ti = 0;
    int rc = lg__trunc_redo(log, p, &ti, &have_ti);
    if (rc || p->failed)
        return rc;
    lg__rctx r = {log, p, NULL};
    rc = lg__ix_err(mdb_txn_begin(log->ix.env, NULL, 0, &r.txn));
    if (rc)
        return rc;
    lg_partrec pr;
    int have_pr = lg__ix_part_get(log, r.txn, p->tp->id, p->idx, &pr) == 0 && !rebuild;
    if (!have_pr)
        rebuild = 1;
    rc = lg__open_segs(log, p, rebuild ? -1 : pr.log_start);
    size_t si = 0;
    uint64_t pos = 0;
    if (!rc && !rebuild && !lg__indexed_ok(&r, &pr, &si)) {
        cn_log_warn("lg",
                    "%s: index does not match the segment files; rebuilding this "
                    "partition's index",
                    p->dir);
        rebuild = 1;
    }
    if (!rc && rebuild) {
        rc = lg__reset_part_index(&r);
        for (size_t i = 0; i < p->nsegs; i++)
            p->segs[i]->created_ms = lg__now(log);
        /* With no files left, never hand out offsets again that were used. */
        int64_t start = p->nsegs ? p->segs[0]->base : (have_pr ? pr.log_end : 0);
        p->log_start = p->log_end = start;
        p->epoch = 0;
        p->first_ts = p->last_ts = -1;
        p->bytes = 0;
        p->run_max_ts = INT64_MIN;
        p->since_idx = 0;
        si = 0;
        pos = 0;
    } else if (!rc) {
        p->log_start = pr.log_start;
        p->log_end = pr.log_end;
        p->epoch = pr.epoch;
        p->first_ts = pr.first_ts;
        p->last_ts = pr.last_ts;
        p->bytes = pr.bytes;
        p->run_max_ts = pr.run_max_ts;
        p->since_idx = pr.since_idx;
        pos = pr.indexed_pos;
        rc = lg__load_producers(&r);
        if (!rc)
            rc = lg__txn_load(log, r.txn, p);
    }
    if (!rc)
        rc = lg__scan(&r, si, pos, rebuild);
    if (!rc && have_ti && p->epoch < ti.epoch && p->log_end == ti.offset) {
        /* The index was rebuilt from the cut files: the truncate's epoch
         * starts at its offset. */
        p->epoch = ti.epoch;
        rc = lg__ix_epoch_put(log, r.txn, p->tp->id, p->idx, p->epoch, ti.offset);
    }
    p->trunc_redone = have_ti;
    /* Everything recovered is synced (a process crash can leave a written
     * but unsynced tail in the page cache): the durable end starts at the
     * log end.  Only the last two segments can hold unsynced bytes (a
     * round's roll syncs nothing of the segment it leaves in fsync mode). */
    for (size_t i = p->nsegs > 2 ? p->nsegs - 2 : 0; !rc && i < p->nsegs; i++)
        if (log->vfs->fdatasync(log->vfs->ud, p->segs[i]->fd) != 0)
            rc = cn_err_from_errno(errno);
    if (!rc) {
        atomic_store(&p->durable_end, p->log_end);
        atomic_store(&p->pub_end, p->log_end);
    }
    if (!rc)
        rc = lg__commit_part(&r);
    if (rc) {
        mdb_txn_abort(r.txn);
        return rc;
    }
    return lg__ix_err(mdb_txn_commit(r.txn));
}
