/* SPDX-License-Identifier: MIT */
/*
 * lg_batch_build.c — builds RecordBatch v2 bytes for in-process producers
 * (the gateway's --log mode, hunt outputs) and tests.  Records are encoded
 * into the builder's own buffer as they are added; finish writes the
 * 61-byte header (base offset 0, epoch -1 for the log to stamp) and the
 * CRC-32C.  One owner at a time; reusable after lg_batch_builder_reset.
 */
#include "lg_batch.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_crc32c.h"
#include "cn_err.h"

#include <string.h>

struct lg_batch_builder {
    enum lg_compression comp;
    int64_t pid;
    int16_t epoch;
    int32_t base_seq;
    int64_t base_ts, max_ts;
    int32_t count;
    cn_buf recs; /* encoded records, uncompressed */
};

int lg_batch_builder_new(lg_batch_builder **out, enum lg_compression comp)
{
    *out = NULL;
    if ((int)comp < LG_COMP_NONE || comp > LG_COMP_ZSTD)
        return CN_EINVAL;
    lg_batch_builder *b = cn_calloc(1, sizeof(*b));
    if (!b)
        return CN_ENOMEM;
    b->comp = comp;
    lg_batch_builder_reset(b);
    *out = b;
    return 0;
}

void lg_batch_builder_producer(lg_batch_builder *b, int64_t pid, int16_t epoch, int32_t base_seq)
{
    b->pid = pid;
    b->epoch = epoch;
    b->base_seq = base_seq;
}

void lg_batch_builder_reset(lg_batch_builder *b)
{
    b->pid = -1;
    b->epoch = -1;
    b->base_seq = -1;
    b->base_ts = b->max_ts = -1;
    b->count = 0;
    cn_buf_reset(&b->recs);
}

size_t lg_batch_builder_count(const lg_batch_builder *b)
{
    return (size_t)b->count;
}

/* Append a varint-length-prefixed byte string; NULL encodes length -1. */
static int lg__put_bytes(cn_buf *o, const void *p, size_t n)
{
    unsigned char v[10];
    int vl = cn_wr_varint(v, p ? (int64_t)n : -1);
    int rc = cn_buf_append(o, v, (size_t)vl);
    if (!rc && p && n)
        rc = cn_buf_append(o, p, n);
    return rc;
}

static size_t lg__bytes_len(const void *p, size_t n)
{
    return p ? (size_t)cn_uvarint_len((uint64_t)n << 1) + n : 1;
}

int lg_batch_builder_add(lg_batch_builder *b, int64_t timestamp, const void *key, size_t klen,
                         const void *value, size_t vlen, const lg_header *headers, size_t nh)
{
    if (b->count == INT32_MAX || klen > INT32_MAX || vlen > INT32_MAX)
        return CN_ETOOBIG;
    if (b->count == 0)
        b->base_ts = timestamp;
    int64_t ts_delta = timestamp - b->base_ts;
    /* Body length first: the record is prefixed with its own length. */
    unsigned char tmp[10];
    size_t body = 1 + (size_t)cn_wr_varint(tmp, ts_delta) + (size_t)cn_wr_varint(tmp, b->count) +
                  lg__bytes_len(key, klen) + lg__bytes_len(value, vlen) +
                  (size_t)cn_wr_varint(tmp, (int64_t)nh);
    for (size_t i = 0; i < nh; i++)
        body +=
            lg__bytes_len(headers[i].key ? headers[i].key : (const void *)"", headers[i].key_len) +
            lg__bytes_len(headers[i].value, headers[i].value_len);
    size_t before = b->recs.len;
    int rc = cn_buf_reserve(&b->recs, body + 10);
    if (rc)
        return rc;
    unsigned char v[10];
    rc = cn_buf_append(&b->recs, v, (size_t)cn_wr_varint(v, (int64_t)body));
    unsigned char attr = 0;
    rc = rc ? rc : cn_buf_append(&b->recs, &attr, 1);
    rc = rc ? rc : cn_buf_append(&b->recs, v, (size_t)cn_wr_varint(v, ts_delta));
    rc = rc ? rc : cn_buf_append(&b->recs, v, (size_t)cn_wr_varint(v, b->count));
    rc = rc ? rc : lg__put_bytes(&b->recs, key, klen);
    rc = rc ? rc : lg__put_bytes(&b->recs, value, vlen);
    rc = rc ? rc : cn_buf_append(&b->recs, v, (size_t)cn_wr_varint(v, (int64_t)nh));
    for (size_t i = 0; i < nh && !rc; i++) {
        rc = lg__put_bytes(&b->recs, headers[i].key ? headers[i].key : (const void *)"",
                           headers[i].key_len);
        rc = rc ? rc : lg__put_bytes(&b->recs, headers[i].value, headers[i].value_len);
    }
    if (rc) {
        b->recs.len = before; /* all or nothing */
        return rc;
    }
    b->count++;
    if (timestamp > b->max_ts)
        b->max_ts = timestamp;
    return 0;
}

/* Compressed payloads come from lg_compress.c; declared here to keep the
 * codec's public header small. */
int lg__compress(enum lg_compression comp, const unsigned char *in, size_t n, cn_buf *out);

int lg_batch_builder_finish(lg_batch_builder *b, cn_buf *out)
{
    size_t start = out->len;
    int rc = cn_buf_reserve(out, LG_BATCH_HEADER_LEN + b->recs.len);
    if (rc)
        return rc;
    unsigned char *h = out->data + start;
    memset(h, 0, LG_BATCH_HEADER_LEN);
    out->len += LG_BATCH_HEADER_LEN;
    if (b->comp == LG_COMP_NONE)
        rc = cn_buf_append(out, b->recs.data, b->recs.len);
    else
        rc = lg__compress(b->comp, b->recs.data, b->recs.len, out);
    if (rc) {
        out->len = start;
        return rc;
    }
    h = out->data + start; /* the buffer may have moved */
    size_t total = out->len - start;
    int64_t ts = b->count ? b->base_ts : 0;
    cn_wr_be64(h + 0, 0);
    cn_wr_be32(h + 8, (uint32_t)(total - LG_BATCH_LOG_OVERHEAD));
    cn_wr_be32(h + 12, (uint32_t)-1);
    h[16] = 2;
    cn_wr_be16(h + 21, (uint16_t)b->comp);
    cn_wr_be32(h + 23, (uint32_t)(b->count ? b->count - 1 : 0));
    cn_wr_be64(h + 27, (uint64_t)ts);
    cn_wr_be64(h + 35, (uint64_t)(b->count ? b->max_ts : ts));
    cn_wr_be64(h + 43, (uint64_t)b->pid);
    cn_wr_be16(h + 51, (uint16_t)b->epoch);
    cn_wr_be32(h + 53, (uint32_t)b->base_seq);
    cn_wr_be32(h + 57, (uint32_t)b->count);
    cn_wr_be32(h + 17, cn_crc32c(0, h + 21, total - 21));
    return 0;
}

void lg_batch_builder_free(lg_batch_builder *b)
{
    if (!b)
        return;
    cn_buf_free(&b->recs);
    cn_free(b);
}
