/* SPDX-License-Identifier: MIT */
/*
 * lg_batch_iter.c — iterates the records of one RecordBatch v2, decoding
 * the Kafka record format
 *   length varint | attributes int8 | timestampDelta varlong |
 *   offsetDelta varint | keyLength varint | key | valueLength varint |
 *   value | headerCount varint | headers (keyLength varint, key,
 *   valueLength varint, value)...
 * (lengths -1 mean null; a header key may not be null).
 *
 * Guarantees: every length is checked against the record's own length and
 * the record against what is left of the batch, so no read ever leaves
 * the batch (or the decompressed buffer); a record must consume exactly
 * its declared length; offset deltas must rise strictly and stay within
 * the header's lastOffsetDelta (so a record never claims an offset outside
 * its batch); the batch must hold exactly recordCount records and no
 * trailing bytes.  The first malformed record makes the iterator fail for
 * good (LG_EBADBATCH on every later call).  Offsets are baseOffset +
 * offsetDelta; timestamps are baseTimestamp + timestampDelta, or
 * maxTimestamp for LOG_APPEND_TIME batches, as Kafka's own reader does.
 * Compressed batches are decompressed once, at open, into a buffer owned
 * by the iterator and capped at max_decompressed (lg_decompress.c).
 *
 * Threads: one iterator belongs to one thread at a time.  Ownership: the
 * batch bytes are borrowed and must outlive the iterator; lg_record
 * pointers borrow from the batch or the iterator's buffer and stay valid
 * until lg_batch_iter_close.
 */
#include "lg_batch.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_err.h"
#include "lg_codec.h"

struct lg_batch_iter {
    lg_batch_hdr h;
    const unsigned char *recs; /* records section (batch or plain.data) */
    size_t len, off;           /* its length and the read position */
    cn_buf plain;              /* decompressed records, when compressed */
    int32_t returned;          /* records handed out so far */
    int64_t prev_delta;        /* offsetDelta of the last record; -1 before */
    int failed;                /* sticky: a malformed record was seen */
};

/* ---- bounded readers over [p, p + end) ------------------------------------ */

static int lg__rd_var(const unsigned char *p, size_t end, size_t *off, int64_t *v, int max32)
{
    if (*off >= end)
        return LG_EBADBATCH;
    int r = cn_rd_varint(p + *off, end - *off, v, max32);
    if (r <= 0)
        return LG_EBADBATCH;
    *off += (size_t)r;
    return 0;
}

/* A varint-length-prefixed byte string; -1 is null when nullable. */
static int lg__rd_bytes(const unsigned char *p, size_t end, size_t *off, int nullable,
                        const unsigned char **out, size_t *len)
{
    int64_t l;
    if (lg__rd_var(p, end, off, &l, 1))
        return LG_EBADBATCH;
    if (l == -1 && nullable) {
        *out = NULL;
        *len = 0;
        return 0;
    }
    if (l < 0 || (uint64_t)l > end - *off)
        return LG_EBADBATCH;
    *out = p + *off;
    *len = (size_t)l;
    *off += (size_t)l;
    return 0;
}

/* ---- open / close ---------------------------------------------------------- */

/* The header checks lg_batch_validate makes that keep this file safe; the
 * CRC is the caller's business (documented precondition). */
static int lg__hdr_sane(const unsigned char *batch, size_t n, lg_batch_hdr *h)
{
    if (lg_batch_parse_hdr(batch, n, h))
        return LG_EBADBATCH;
    if (h->batch_length < LG_BATCH_HEADER_LEN - LG_BATCH_LOG_OVERHEAD ||
        (size_t)h->batch_length + LG_BATCH_LOG_OVERHEAD != n)
        return LG_EBADBATCH;
    if (h->magic != 2 || h->record_count < 0 || h->last_offset_delta < 0 ||
        (h->attributes & LG_ATTR_COMPRESSION_MASK) > LG_COMP_ZSTD)
        return LG_EBADBATCH;
    return 0;
}

static int lg__iter_inflate(lg_batch_iter *it, const unsigned char *p, size_t n, size_t max)
{
    enum lg_compression comp = (enum lg_compression)(it->h.attributes & LG_ATTR_COMPRESSION_MASK);
    if (n == 0 && it->h.record_count == 0)
        return 0; /* nothing was compressed: an empty batch */
    int rc = lg__decompress(comp, p, n, max, &it->plain);
    if (rc)
        return rc == CN_ENOMEM ? CN_ENOMEM : LG_ECOMPRESS;
    it->recs = it->plain.data;
    it->len = it->plain.len;
    return 0;
}

int lg_batch_iter_open(lg_batch_iter **out, const unsigned char *batch, size_t n,
                       size_t max_decompressed)
{
    *out = NULL;
    lg_batch_hdr h;
    int rc = lg__hdr_sane(batch, n, &h);
    if (rc)
        return rc;
    lg_batch_iter *it = cn_calloc(1, sizeof(*it));
    if (!it)
        return CN_ENOMEM;
    it->h = h;
    it->prev_delta = -1;
    it->recs = batch + LG_BATCH_HEADER_LEN;
    it->len = n - LG_BATCH_HEADER_LEN;
    if (h.attributes & LG_ATTR_COMPRESSION_MASK) {
        const unsigned char *payload = it->recs;
        it->recs = NULL;
        it->len = 0;
        rc = lg__iter_inflate(it, payload, n - LG_BATCH_HEADER_LEN, max_decompressed);
        if (rc) {
            lg_batch_iter_close(it);
            return rc;
        }
    }
    *out = it;
    return 0;
}

void lg_batch_iter_close(lg_batch_iter *it)
{
    if (!it)
        return;
    cn_buf_free(&it->plain);
    cn_free(it);
}

/* ---- records --------------------------------------------------------------- */

/* Walk nh headers in [p + *off, p + end): each needs at least two bytes
 * (two length varints), so a count beyond half the bytes left is refused
 * before any looping: a hostile count costs nothing. */
static int lg__skip_headers(const unsigned char *p, size_t end, size_t *off, int64_t nh)
{
    if (nh < 0 || (uint64_t)nh > (end - *off) / 2)
        return LG_EBADBATCH;
    for (int64_t i = 0; i < nh; i++) {
        const unsigned char *s;
        size_t l;
        if (lg__rd_bytes(p, end, off, 0, &s, &l) || lg__rd_bytes(p, end, off, 1, &s, &l))
            return LG_EBADBATCH;
    }
    return 0;
}

/* Decode the record body occupying [start, end) of it->recs. */
static int lg__decode_body(lg_batch_iter *it, size_t start, size_t end, lg_record *rec)
{
    const unsigned char *p = it->recs;
    size_t off = start + 1; /* attributes: unused in magic 2 */
    int64_t ts_delta, off_delta, nh;
    if (off > end || lg__rd_var(p, end, &off, &ts_delta, 0) ||
        lg__rd_var(p, end, &off, &off_delta, 1))
        return LG_EBADBATCH;
    if (off_delta <= it->prev_delta || off_delta > it->h.last_offset_delta)
        return LG_EBADBATCH;
    if (lg__rd_bytes(p, end, &off, 1, &rec->key, &rec->key_len) ||
        lg__rd_bytes(p, end, &off, 1, &rec->value, &rec->value_len) ||
        lg__rd_var(p, end, &off, &nh, 1))
        return LG_EBADBATCH;
    size_t hstart = off;
    if (lg__skip_headers(p, end, &off, nh) || off != end)
        return LG_EBADBATCH; /* the record must fill exactly its length */
    rec->header_count = (size_t)nh;
    rec->headers_raw = p + hstart;
    rec->headers_raw_len = end - hstart;
    /* Unsigned sums: a hostile base near INT64_MAX wraps instead of
     * overflowing (undefined); the value is garbage but the bytes are too. */
    rec->offset = (int64_t)((uint64_t)it->h.base_offset + (uint64_t)off_delta);
    if (it->h.attributes & LG_ATTR_TIMESTAMP_LOG_APPEND)
        rec->timestamp = it->h.max_timestamp;
    else
        rec->timestamp = (int64_t)((uint64_t)it->h.base_timestamp + (uint64_t)ts_delta);
    it->prev_delta = off_delta;
    return 0;
}

static int lg__next_record(lg_batch_iter *it, lg_record *rec)
{
    if (it->returned == it->h.record_count)
        /* recordCount reached: leftover bytes mean the count lied. */
        return it->off == it->len ? CN_DONE : LG_EBADBATCH;
    int64_t rlen;
    size_t off = it->off;
    if (lg__rd_var(it->recs, it->len, &off, &rlen, 1))
        return LG_EBADBATCH;
    if (rlen < 1 || (uint64_t)rlen > it->len - off)
        return LG_EBADBATCH;
    int rc = lg__decode_body(it, off, off + (size_t)rlen, rec);
    if (rc)
        return rc;
    it->off = off + (size_t)rlen;
    it->returned++;
    return 0;
}

int lg_batch_iter_next(lg_batch_iter *it, lg_record *rec)
{
    if (it->failed)
        return LG_EBADBATCH;
    int rc = lg__next_record(it, rec);
    if (rc && rc != CN_DONE)
        it->failed = 1;
    return rc;
}

int lg_record_header(const lg_record *rec, size_t i, lg_header *out)
{
    if (i >= rec->header_count)
        return LG_EBADBATCH;
    const unsigned char *p = rec->headers_raw;
    size_t end = rec->headers_raw_len, off = 0;
    for (size_t j = 0; j <= i; j++) {
        if (lg__rd_bytes(p, end, &off, 0, &out->key, &out->key_len) ||
            lg__rd_bytes(p, end, &off, 1, &out->value, &out->value_len))
            return LG_EBADBATCH;
    }
    return 0;
}
