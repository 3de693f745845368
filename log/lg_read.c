/* SPDX-License-Identifier: MIT */
/*
 * lg_read.c — reading by offset: partition state, locating a batch through
 * the sparse offset index (floor entry, then a walk over at most ~4 KiB of
 * batch headers), and lg_read's file ranges of whole batches for sendfile.
 *
 * Readers are bounded by what LMDB has committed (the partition's log end
 * and each segment's recorded size), which the writer commits only after
 * the segment write of the same round (I3, I4): a reader never sees a
 * partial batch, and in fsync mode never an unsynced one.  The same code
 * serves a read-only opener in another process.  Reads never take the
 * writer's locks: an LMDB read transaction and the partition's mutex for a
 * moment to take a segment reference.
 * Consumer reads (lg_read, lg_iter) stop below the partition's read limit
 * (lg_read_limit_set; -1 = none, one relaxed atomic load); lg_read_replica
 * reads to the committed end.  Consumer reads also leave out replication
 * leader-change markers (non-transactional control batches): a range
 * starts after them and ends before them.
 * Threads: any.  Results hold a segment reference until lg_read_release.
 */
#include "lg_int.h"

#include "cn_bytes.h"
#include "cn_err.h"

#include <string.h>

#define LG__WALK_WINDOW 8192

/* Read the header of the batch at pos (within end) via a small window. */
typedef struct lg__hwin {
    unsigned char buf[LG__WALK_WINDOW];
    uint64_t at;
    size_t len;
} lg__hwin;

static int lg__hdr_at(lg_seg *s, lg__hwin *w, uint64_t pos, uint64_t end, lg_batch_hdr *h,
                      size_t *total)
{
    if (end - pos < LG_BATCH_HEADER_LEN)
        return CN_ECORRUPT;
    if (!(pos >= w->at && pos + LG_BATCH_HEADER_LEN <= w->at + w->len)) {
        size_t n = end - pos < LG__WALK_WINDOW ? (size_t)(end - pos) : LG__WALK_WINDOW;
        int rc = lg__seg_pread(s, w->buf, n, pos);
        if (rc)
            return rc == CN_ETRUNC ? CN_ECORRUPT : rc;
        w->at = pos;
        w->len = n;
    }
    const unsigned char *p = w->buf + (pos - w->at);
    if (lg_batch_size(p, LG_BATCH_HEADER_LEN, (size_t)(end - pos), total) != 0 ||
        lg_batch_parse_hdr(p, LG_BATCH_HEADER_LEN, h) != 0 || h->last_offset_delta < 0)
        return CN_ECORRUPT;
    return 0;
}

int lg__walk_to(lg_seg *s, uint64_t pos, uint64_t end, int64_t offset, uint64_t *out_pos,
                lg_batch_hdr *out_h)
{
    lg__hwin w = {.at = 0, .len = 0};
    while (pos < end) {
        lg_batch_hdr h;
        size_t total;
        int rc = lg__hdr_at(s, &w, pos, end, &h, &total);
        if (rc)
            return rc;
        if (offset <= h.base_offset + h.last_offset_delta) {
            *out_pos = pos;
            if (out_h)
                *out_h = h;
            return 0;
        }
        pos += total;
    }
    return CN_ENOENT;
}

void lg__fail_by_name(lg_log *log, const char *topic, int32_t partition, const char *file,
                      uint64_t pos, const char *what)
{
    pthread_rwlock_rdlock(&log->tmu);
    lg_part *p;
    if (lg__topic_lookup_part(log, topic, partition, &p) == 0)
        lg__part_mark_failed(p, file, pos, what);
    pthread_rwlock_unlock(&log->tmu);
}

int lg__locate(lg_log *log, const char *topic, int32_t partition, int64_t offset, lg_loc *loc)
{
    return lg__locate_as(log, topic, partition, offset, 1, loc);
}

int lg__locate_as(lg_log *log, const char *topic, int32_t partition, int64_t offset, int consumer,
                  lg_loc *loc)
{
    memset(loc, 0, sizeof(*loc));
    loc->limit = -1;
    pthread_rwlock_rdlock(&log->tmu);
    lg_part *p;
    int rc = lg__topic_lookup_part(log, topic, partition, &p);
    if (!rc && p->failed)
        rc = CN_ECORRUPT;
    MDB_txn *txn = NULL;
    if (!rc)
        rc = lg__ix_err(mdb_txn_begin(log->ix.env, NULL, MDB_RDONLY, &txn));
    lg_partrec pr;
    if (!rc)
        rc = lg__ix_part_get(log, txn, p->tp->id, p->idx, &pr);
    if (rc == CN_ENOENT)
        rc = LG_ENOPART;
    int64_t base = 0;
    lg_oidxval v;
    lg_segrec sr;
    if (!rc) {
        loc->log_start = pr.log_start;
        loc->log_end = pr.log_end;
        int64_t lim = consumer ? atomic_load_explicit(&p->read_limit, memory_order_relaxed) : -1;
        if (lim >= 0 && lim < pr.log_end) {
            /* Consumers see the log as ending at the limit (the HW). */
            loc->limit = lim;
            loc->log_end = lim > pr.log_start ? lim : pr.log_start;
        }
        loc->hw = loc->log_end;
        int64_t first_open = INT64_MAX;
        if (consumer == LG__READ_COMMITTED)
            rc = lg__txn_first_open(log, txn, p->tp->id, p->idx, &first_open);
        if (!rc && first_open < loc->log_end) {
            /* read_committed: the same snapshot's oldest open transaction
             * ends the readable log (the last stable offset). */
            loc->limit = first_open;
            loc->log_end = first_open > pr.log_start ? first_open : pr.log_start;
        }
        if (!rc && (offset < pr.log_start || offset > pr.log_end))
            rc = LG_EOFFSET;
        else if (!rc && offset >= loc->log_end)
            loc->at_end = 1;
    }
    if (!rc && !loc->at_end) {
        rc = lg__ix_oidx_floor(log, txn, p->tp->id, p->idx, offset, &base, &v);
        if (!rc)
            rc = lg__ix_seg_get(log, txn, p->tp->id, p->idx, v.seg_base, &sr);
        if (rc == CN_ENOENT)
            rc = LG_EOFFSET; /* retention removed it meanwhile */
    }
    if (txn)
        mdb_txn_abort(txn);
    if (!rc && !loc->at_end) {
        loc->seg = lg__part_seg_get(log, p, v.seg_base);
        if (!loc->seg)
            rc = LG_EOFFSET;
    }
    pthread_rwlock_unlock(&log->tmu);
    if (rc || loc->at_end)
        return rc;
    loc->end = sr.bytes;
    rc = lg__walk_to(loc->seg, v.pos, loc->end, offset, &loc->pos, NULL);
    if (rc) {
        lg__seg_unref(loc->seg);
        loc->seg = NULL;
        return rc == CN_ENOENT ? CN_ECORRUPT : rc;
    }
    return 0;
}

/* A control batch that is not transactional is a replication leader-change
 * marker (Kafka puts control batches in data partitions only as transaction
 * markers, which are transactional).  Consumers never get one: some clients
 * (kafka-python 2.0.2) hand control records to the application as records.
 * They see the offset gap instead, as after compaction. */
static int lg__hidden(const lg_batch_hdr *h)
{
    return (h->attributes & LG_ATTR_CONTROL) && !(h->attributes & LG_ATTR_TRANSACTIONAL);
}

static int lg__read(lg_log *log, const char *topic, int32_t partition, int64_t offset,
                    size_t max_bytes, int consumer, lg_read_result *res, int64_t *hw)
{
    if (!log || !topic || !res)
        return CN_EINVAL;
    memset(res, 0, sizeof(*res));
    res->fd = -1;
    lg_loc loc;
    int rc = lg__locate_as(log, topic, partition, offset, consumer, &loc);
    if (rc)
        return rc;
    res->log_start_offset = loc.log_start;
    res->log_end_offset = loc.log_end;
    if (hw)
        *hw = loc.hw;
    if (loc.at_end) {
        res->first_offset = res->next_offset = offset;
        return 0;
    }
    /* Whole batches from start while they fit in max_bytes; always one.
     * Consumers never get a leader-change marker (see lg__hidden). */
    lg__hwin w = {.at = 0, .len = 0};
    uint64_t start = loc.pos, pos = loc.pos;
    int64_t first = -1, next = offset;
    int limited = 0;
    while (pos < loc.end) {
        lg_batch_hdr h;
        size_t total;
        rc = lg__hdr_at(loc.seg, &w, pos, loc.end, &h, &total);
        if (rc)
            break;
        if (loc.limit >= 0 && h.base_offset + h.last_offset_delta >= loc.limit) {
            limited = 1;
            break; /* at or past the read limit */
        }
        if (consumer && lg__hidden(&h)) {
            if (first >= 0)
                break; /* the range ends before it; the next read skips it */
            next = h.base_offset + h.last_offset_delta + 1;
            pos += total;
            start = pos;
            continue;
        }
        if (first >= 0 && pos - start + total > max_bytes)
            break;
        if (first < 0)
            first = h.base_offset;
        next = h.base_offset + h.last_offset_delta + 1;
        pos += total;
    }
    if (first < 0) {
        lg__seg_unref(loc.seg);
        if (!rc && next > offset && !limited && next < loc.log_end) {
            /* only hidden batches up to this segment's end: read on */
            return lg__read(log, topic, partition, next, max_bytes, consumer, res, hw);
        }
        if (!rc && (loc.limit >= 0 || next > offset)) {
            /* the batch at offset straddles the limit, or only hidden
             * batches lie below it or the log end: nothing yet */
            res->first_offset = res->next_offset = offset;
            return 0;
        }
        return rc ? rc : CN_ECORRUPT;
    }
    res->fd = loc.seg->fd;
    res->file_pos = (off_t)start;
    res->len = (size_t)(pos - start);
    res->first_offset = first;
    res->next_offset = next;
    res->ref = loc.seg;
    return 0;
}

int lg_read(lg_log *log, const char *topic, int32_t partition, int64_t offset, size_t max_bytes,
            lg_read_result *res)
{
    return lg__read(log, topic, partition, offset, max_bytes, 1, res, NULL);
}

int lg_read_committed(lg_log *log, const char *topic, int32_t partition, int64_t offset,
                      size_t max_bytes, lg_read_result *res, int64_t *hw)
{
    return lg__read(log, topic, partition, offset, max_bytes, LG__READ_COMMITTED, res, hw);
}

int lg_read_replica(lg_log *log, const char *topic, int32_t partition, int64_t offset,
                    size_t max_bytes, lg_read_result *res)
{
    return lg__read(log, topic, partition, offset, max_bytes, 0, res, NULL);
}

void lg_read_release(lg_log *log, lg_read_result *res)
{
    (void)log;
    if (!res || !res->ref)
        return;
    lg__seg_unref(res->ref);
    res->ref = NULL;
    res->fd = -1;
}

int lg_partition_info_get(lg_log *log, const char *topic, int32_t partition, lg_partition_info *out)
{
    if (!log || !topic || !out)
        return CN_EINVAL;
    memset(out, 0, sizeof(*out));
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
    if (!rc) {
        out->log_start_offset = pr.log_start;
        out->log_end_offset = pr.log_end;
        out->first_timestamp = pr.log_end > pr.log_start ? pr.first_ts : -1;
        out->last_timestamp = pr.log_end > pr.log_start ? pr.last_ts : -1;
        out->bytes = pr.bytes;
        out->leader_epoch = pr.epoch;
        int64_t lim = atomic_load_explicit(&p->read_limit, memory_order_relaxed);
        out->high_watermark = lim >= 0 && lim < pr.log_end ? lim : pr.log_end;
        if (out->high_watermark < pr.log_start)
            out->high_watermark = pr.log_start;
        MDB_cursor *c;
        if (mdb_cursor_open(txn, log->ix.segs, &c) == 0) {
            unsigned char pre[8];
            lg__ix_key_tp(pre, p->tp->id, p->idx);
            MDB_val k = {8, pre}, d;
            int m = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
            while (m == 0 && k.mv_size >= 8 && memcmp(k.mv_data, pre, 8) == 0) {
                out->segments++;
                m = mdb_cursor_get(c, &k, &d, MDB_NEXT);
            }
            mdb_cursor_close(c);
        }
        if (mdb_cursor_open(txn, log->ix.producers, &c) == 0) {
            unsigned char pre[8];
            lg__ix_key_tp(pre, p->tp->id, p->idx);
            MDB_val k = {8, pre}, d;
            int m = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
            while (m == 0 && k.mv_size >= 8 && memcmp(k.mv_data, pre, 8) == 0) {
                out->producers++;
                m = mdb_cursor_get(c, &k, &d, MDB_NEXT);
            }
            mdb_cursor_close(c);
        }
        pthread_mutex_lock(&p->mu);
        out->failed = p->failed;
        memcpy(out->err_detail, p->err_detail, sizeof(out->err_detail));
        pthread_mutex_unlock(&p->mu);
    }
    if (txn)
        mdb_txn_abort(txn);
    pthread_rwlock_unlock(&log->tmu);
    return rc;
}
