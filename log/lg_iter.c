/* SPDX-License-Identifier: MIT */
/*
 * lg_iter.c — the record iterator for in-process consumers (hunt workers,
 * `cairn log dump/tail`) and lg_offset_for_time.
 *
 * The iterator reads whole batches with pread into its own buffer, checks
 * each one's CRC before decoding it (a damaged batch marks the partition
 * failed and returns LG_ECRC: nothing corrupt is ever handed out), skips
 * control batches (transaction markers, as Kafka consumers do; unless
 * lg_iter_set_control asked for them, as `cairn log dump` does) and records
 * below the requested offset, and follows the partition across segments.
 * It is bounded by what the index has committed, like lg_read, and at the
 * end returns CN_DONE; calling again later picks up new records.
 * Threads: one iterator is used by one thread at a time; many iterators
 * may run concurrently with the writer.  It holds one segment reference.
 */
#include "lg_int.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_err.h"

#include <string.h>

struct lg_iter {
    lg_log *log;
    char *topic;
    int32_t part;
    int64_t want; /* next offset to hand out */
    lg_seg *seg;  /* where the next batch is read; NULL: locate first */
    uint64_t pos, end;
    int64_t limit; /* the read limit when seg was located (-1: none) */
    cn_buf buf;    /* the current batch */
    lg_batch_iter *bi;
    lg_batch_hdr h;
    int control; /* hand out control records too (lg_iter_set_control) */
};

static size_t lg__max_plain(const lg_log *log)
{
    /* Bound for a decompressed batch: generous, but a bomb stops here. */
    uint64_t m = log->o.max_batch_bytes * 16;
    return (size_t)(m < (64u << 20) ? (64u << 20) : m);
}

int lg_iter_open(lg_iter **out, lg_log *log, const char *topic, int32_t partition, int64_t offset)
{
    if (!out)
        return CN_EINVAL;
    *out = NULL;
    if (!log || !topic)
        return CN_EINVAL;
    lg_partition_info info;
    int rc = lg_partition_info_get(log, topic, partition, &info);
    if (rc)
        return rc;
    if (info.failed)
        return CN_ECORRUPT;
    if (offset > info.log_end_offset)
        return LG_EOFFSET; /* (an offset past the read limit reads nothing yet) */
    lg_iter *it = cn_calloc(1, sizeof(*it));
    if (!it)
        return CN_ENOMEM;
    it->topic = cn_strdup(topic);
    if (!it->topic) {
        cn_free(it);
        return CN_ENOMEM;
    }
    it->log = log;
    it->part = partition;
    it->want = offset < info.log_start_offset ? info.log_start_offset : offset;
    *out = it;
    return 0;
}

void lg_iter_close(lg_iter *it)
{
    if (!it)
        return;
    lg_batch_iter_close(it->bi);
    lg__seg_unref(it->seg);
    cn_buf_free(&it->buf);
    cn_free(it->topic);
    cn_free(it);
}

const lg_batch_hdr *lg_iter_batch(const lg_iter *it)
{
    return &it->h;
}

void lg_iter_set_control(lg_iter *it, int on)
{
    it->control = on != 0;
}

/* Read and check the batch at it->pos.  0, or an error (partition marked
 * failed on damage). */
static int lg__iter_load(lg_iter *it)
{
    unsigned char hb[LG_BATCH_LOG_OVERHEAD];
    size_t total = 0;
    const char *why = NULL;
    int rc = 0;
    if (it->end - it->pos < LG_BATCH_HEADER_LEN) {
        why = "batch header past the committed end";
        rc = CN_ECORRUPT;
    }
    if (!rc && (rc = lg__seg_pread(it->seg, hb, sizeof(hb), it->pos)) != 0)
        why = "unreadable batch header";
    if (!rc && lg_batch_size(hb, sizeof(hb), (size_t)(it->end - it->pos), &total) != 0) {
        why = "bad batch length";
        rc = CN_ECORRUPT;
    }
    if (!rc) {
        cn_buf_reset(&it->buf);
        rc = cn_buf_reserve(&it->buf, total);
        if (rc)
            return rc;
        rc = lg__seg_pread(it->seg, it->buf.data, total, it->pos);
        if (rc)
            why = "unreadable batch";
        else
            it->buf.len = total;
    }
    if (!rc) {
        rc = lg_batch_validate(it->buf.data, total, &it->h);
        if (rc)
            why = rc == LG_ECRC ? "CRC mismatch" : "malformed batch";
    }
    if (rc) {
        if (rc != CN_ENOMEM)
            lg__fail_by_name(it->log, it->topic, it->part, it->seg->path, it->pos, why);
        return rc == LG_ECRC ? LG_ECRC : (rc == CN_ENOMEM ? rc : CN_ECORRUPT);
    }
    it->pos += total;
    return 0;
}

int lg_iter_next(lg_iter *it, lg_record *rec)
{
    if (!it || !rec)
        return CN_EINVAL;
    for (;;) {
        if (it->bi) {
            int rc = lg_batch_iter_next(it->bi, rec);
            if (rc == 0) {
                if (rec->offset < it->want)
                    continue;
                it->want = rec->offset + 1;
                return 0;
            }
            if (rc != CN_DONE)
                return rc;
            lg_batch_iter_close(it->bi);
            it->bi = NULL;
            int64_t after = it->h.base_offset + it->h.last_offset_delta + 1;
            if (after > it->want)
                it->want = after;
            continue;
        }
        if (!it->seg || it->pos >= it->end) {
            lg__seg_unref(it->seg);
            it->seg = NULL;
            lg_loc loc;
            int rc = lg__locate(it->log, it->topic, it->part, it->want, &loc);
            if (rc)
                return rc;
            if (loc.at_end)
                return CN_DONE;
            it->seg = loc.seg;
            it->pos = loc.pos;
            it->end = loc.end;
            it->limit = loc.limit;
        }
        uint64_t at = it->pos;
        int rc = lg__iter_load(it);
        if (rc)
            return rc;
        int64_t last = it->h.base_offset + it->h.last_offset_delta;
        if (it->limit >= 0 && last >= it->limit) {
            /* At the read limit: locate afresh next time (it may have moved). */
            it->pos = at;
            lg__seg_unref(it->seg);
            it->seg = NULL;
            return CN_DONE;
        }
        if (last < it->want)
            continue;
        if ((it->h.attributes & LG_ATTR_CONTROL) && !it->control) {
            it->want = last + 1;
            continue;
        }
        rc = lg_batch_iter_open(&it->bi, it->buf.data, it->buf.len, lg__max_plain(it->log));
        if (rc)
            return rc;
    }
}

/* Where to start looking for timestamp ts: the last time-index entry whose
 * running max (over all earlier batches) is below ts, else the log start. */
static int lg__time_start(lg_log *log, const char *topic, int32_t partition, int64_t ts,
                          int64_t *start, int64_t *end)
{
    pthread_rwlock_rdlock(&log->tmu);
    lg_part *p;
    int rc = lg__topic_lookup_part(log, topic, partition, &p);
    MDB_txn *txn = NULL;
    if (!rc)
        rc = lg__ix_err(mdb_txn_begin(log->ix.env, NULL, MDB_RDONLY, &txn));
    lg_partrec pr;
    if (!rc)
        rc = lg__ix_part_get(log, txn, p->tp->id, p->idx, &pr);
    if (!rc) {
        *start = pr.log_start;
        *end = pr.log_end;
        unsigned char kb[24];
        lg__ix_key_tp(kb, p->tp->id, p->idx);
        cn_wr_be64(kb + 8, lg__ts_bias(ts));
        memset(kb + 16, 0, 8);
        MDB_cursor *c;
        if (mdb_cursor_open(txn, log->ix.tidx, &c) == 0) {
            MDB_val k = {24, kb}, d;
            int m = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
            m = m == 0 ? mdb_cursor_get(c, &k, &d, MDB_PREV) : mdb_cursor_get(c, &k, &d, MDB_LAST);
            if (m == 0 && k.mv_size == 24 && memcmp(k.mv_data, kb, 8) == 0) {
                int64_t b = (int64_t)cn_rd_be64((const unsigned char *)k.mv_data + 16);
                if (b > *start)
                    *start = b;
            }
            mdb_cursor_close(c);
        }
    }
    if (txn)
        mdb_txn_abort(txn);
    pthread_rwlock_unlock(&log->tmu);
    return rc == CN_ENOENT ? LG_ENOPART : rc;
}

int lg_offset_for_time(lg_log *log, const char *topic, int32_t partition, int64_t ts_ms,
                       int64_t *offset)
{
    if (!log || !topic || !offset)
        return CN_EINVAL;
    int64_t start, end;
    int rc = lg__time_start(log, topic, partition, ts_ms, &start, &end);
    if (rc)
        return rc;
    lg_iter *it;
    rc = lg_iter_open(&it, log, topic, partition, start);
    if (rc == LG_EOFFSET) {
        lg_partition_info info;
        *offset =
            lg_partition_info_get(log, topic, partition, &info) == 0 ? info.high_watermark : end;
        return 0;
    }
    if (rc)
        return rc;
    lg_record r;
    *offset = -1;
    while ((rc = lg_iter_next(it, &r)) == 0) {
        if (r.timestamp >= ts_ms) {
            *offset = r.offset;
            break;
        }
    }
    if (rc == CN_DONE) {
        /* none: the end as of now */
        lg_partition_info info;
        rc = lg_partition_info_get(log, topic, partition, &info);
        *offset = info.high_watermark;
    }
    lg_iter_close(it);
    return rc;
}
