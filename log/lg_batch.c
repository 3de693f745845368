/* SPDX-License-Identifier: MIT */
/*
 * lg_batch.c — RecordBatch v2 header codec: size from the length field,
 * validation (length, magic 2, CRC-32C over attributes..end), header
 * parsing, and stamping of the two log-owned fields (base offset, leader
 * epoch) which lie before the CRC'd region so stamping never invalidates
 * a producer's CRC.  Pure functions; any thread.
 * Record iteration and decompression: lg_batch_iter.c; building: lg_batch_build.c.
 */
#include "lg_batch.h"

#include "cn_bytes.h"
#include "cn_crc32c.h"
#include "cn_err.h"

/* Bytes covered by the CRC start at attributes. */
#define LG__CRC_START 21

int lg_batch_size(const unsigned char *p, size_t n, size_t max_len, size_t *total)
{
    if (n < LG_BATCH_LOG_OVERHEAD)
        return CN_WANT_MORE;
    int32_t blen = (int32_t)cn_rd_be32(p + 8);
    if (blen < LG_BATCH_HEADER_LEN - LG_BATCH_LOG_OVERHEAD)
        return LG_EBADBATCH;
    size_t t = (size_t)blen + LG_BATCH_LOG_OVERHEAD;
    if (t > max_len)
        return LG_EBADBATCH;
    *total = t;
    return 0;
}

int lg_batch_parse_hdr(const unsigned char *p, size_t n, lg_batch_hdr *h)
{
    if (n < LG_BATCH_HEADER_LEN)
        return CN_ETRUNC;
    h->base_offset = (int64_t)cn_rd_be64(p);
    h->batch_length = (int32_t)cn_rd_be32(p + 8);
    h->leader_epoch = (int32_t)cn_rd_be32(p + 12);
    h->magic = (int8_t)p[16];
    h->crc = cn_rd_be32(p + 17);
    h->attributes = (int16_t)cn_rd_be16(p + 21);
    h->last_offset_delta = (int32_t)cn_rd_be32(p + 23);
    h->base_timestamp = (int64_t)cn_rd_be64(p + 27);
    h->max_timestamp = (int64_t)cn_rd_be64(p + 35);
    h->producer_id = (int64_t)cn_rd_be64(p + 43);
    h->producer_epoch = (int16_t)cn_rd_be16(p + 51);
    h->base_sequence = (int32_t)cn_rd_be32(p + 53);
    h->record_count = (int32_t)cn_rd_be32(p + 57);
    return 0;
}

int lg_batch_validate(const unsigned char *p, size_t n, lg_batch_hdr *h)
{
    lg_batch_hdr tmp;
    if (!h)
        h = &tmp;
    int rc = lg_batch_parse_hdr(p, n, h);
    if (rc)
        return rc;
    if (h->batch_length < LG_BATCH_HEADER_LEN - LG_BATCH_LOG_OVERHEAD)
        return LG_EBADBATCH;
    if ((size_t)h->batch_length + LG_BATCH_LOG_OVERHEAD > n)
        return CN_ETRUNC;
    if ((size_t)h->batch_length + LG_BATCH_LOG_OVERHEAD != n)
        return LG_EBADBATCH;
    if (h->magic != 2)
        return LG_EMAGIC;
    if (cn_crc32c(0, p + LG__CRC_START, n - LG__CRC_START) != h->crc)
        return LG_ECRC;
    /* A batch holds recordCount records with offset deltas 0..lastOffsetDelta;
     * an empty batch (all records compacted away) is legal only with count 0.
     * Compression codes 5..7 are undefined. */
    if (h->record_count < 0 || h->last_offset_delta < 0 ||
        (h->record_count > 0 && h->last_offset_delta < h->record_count - 1))
        return LG_EBADBATCH;
    if ((h->attributes & LG_ATTR_COMPRESSION_MASK) > LG_COMP_ZSTD)
        return LG_EBADBATCH;
    /* Every record takes at least 7 bytes uncompressed (length, attributes,
     * timestamp delta, offset delta, key len, value len, header count). */
    if ((h->attributes & LG_ATTR_COMPRESSION_MASK) == LG_COMP_NONE &&
        (size_t)h->record_count * 7 > n - LG_BATCH_HEADER_LEN)
        return LG_EBADBATCH;
    return 0;
}

void lg_batch_stamp(unsigned char *p, int64_t base_offset, int32_t leader_epoch)
{
    cn_wr_be64(p, (uint64_t)base_offset);
    cn_wr_be32(p + 12, (uint32_t)leader_epoch);
}
