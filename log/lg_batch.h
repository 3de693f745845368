/* SPDX-License-Identifier: MIT */
/*
 * lg_batch.h — the Kafka RecordBatch v2 (magic 2) codec: validate a batch
 * exactly as a Kafka client produced it, read its header fields, stamp the
 * base offset and leader epoch (the only bytes the log changes; both lie
 * outside the CRC), iterate its records (decompressing gzip, snappy, lz4
 * and zstd), and build batches for in-process producers and tests.
 *
 * Pure byte-in/bytes-out code: no I/O, no global state, any thread.
 * Wire layout (big-endian), offsets from the batch start:
 *   0 baseOffset i64 | 8 batchLength i32 | 12 partitionLeaderEpoch i32 |
 *   16 magic i8 | 17 crc u32 (CRC-32C of bytes 21..end) | 21 attributes i16 |
 *   23 lastOffsetDelta i32 | 27 baseTimestamp i64 | 35 maxTimestamp i64 |
 *   43 producerId i64 | 51 producerEpoch i16 | 53 baseSequence i32 |
 *   57 recordCount i32 | 61 records...
 * batchLength counts the bytes after the batchLength field (total - 12).
 */
#ifndef LG_BATCH_H
#define LG_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "cn_buf.h"

#define LG_BATCH_HEADER_LEN 61
#define LG_BATCH_LOG_OVERHEAD 12 /* baseOffset + batchLength */

/* attributes bits */
#define LG_ATTR_COMPRESSION_MASK 0x07 /* 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd */
#define LG_ATTR_TIMESTAMP_LOG_APPEND 0x08
#define LG_ATTR_TRANSACTIONAL 0x10
#define LG_ATTR_CONTROL 0x20

enum lg_compression {
    LG_COMP_NONE = 0,
    LG_COMP_GZIP = 1,
    LG_COMP_SNAPPY = 2,
    LG_COMP_LZ4 = 3,
    LG_COMP_ZSTD = 4
};

/** Decoded batch header (all fields host order). */
typedef struct lg_batch_hdr {
    int64_t base_offset;
    int32_t batch_length;
    int32_t leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
} lg_batch_hdr;

/**
 * Total size in bytes of the batch starting at p, from its batchLength.
 * @return CN_WANT_MORE if fewer than 12 bytes, LG_EBADBATCH if the length
 *         field is below the header size or above max_len, else 0 with *total set.
 */
int lg_batch_size(const unsigned char *p, size_t n, size_t max_len, size_t *total);

/**
 * Validate one whole batch of exactly n bytes: length field consistent,
 * magic 2, CRC-32C correct, recordCount >= 0, lastOffsetDelta consistent
 * with a non-compressed record count when checkable.  Fills *h if not NULL.
 * @return 0; CN_ETRUNC; LG_EMAGIC; LG_ECRC; LG_EBADBATCH.
 */
int lg_batch_validate(const unsigned char *p, size_t n, lg_batch_hdr *h);

/** Parse the header without checking the CRC (p must hold 61 bytes). */
int lg_batch_parse_hdr(const unsigned char *p, size_t n, lg_batch_hdr *h);

/** Overwrite baseOffset and partitionLeaderEpoch in place (CRC unaffected). */
void lg_batch_stamp(unsigned char *p, int64_t base_offset, int32_t leader_epoch);

/** One record inside a batch; pointers borrow from the iterator's buffer. */
typedef struct lg_header {
    const unsigned char *key;
    size_t key_len;
    const unsigned char *value; /* NULL for a null value */
    size_t value_len;
} lg_header;

typedef struct lg_record {
    int64_t offset;
    int64_t timestamp;
    const unsigned char *key; /* NULL for a null key */
    size_t key_len;
    const unsigned char *value; /* NULL for a null value */
    size_t value_len;
    size_t header_count;
    const unsigned char *headers_raw; /* raw header bytes; use lg_record_header() */
    size_t headers_raw_len;
} lg_record;

/** Record iterator over one validated batch.  Owns a decompression buffer. */
typedef struct lg_batch_iter lg_batch_iter;

/**
 * Begin iterating the records of a validated batch (bytes borrowed: they
 * must outlive the iterator).  Compressed batches are decompressed into an
 * internal buffer capped at max_decompressed bytes (guards against bombs).
 * @return 0; CN_ENOMEM; LG_ECOMPRESS; LG_EBADBATCH.
 */
int lg_batch_iter_open(lg_batch_iter **out, const unsigned char *batch, size_t n,
                       size_t max_decompressed);
/** @return 0 with *rec filled; CN_DONE at the end; LG_EBADBATCH on a malformed record. */
int lg_batch_iter_next(lg_batch_iter *it, lg_record *rec);
void lg_batch_iter_close(lg_batch_iter *it); /* NULL-safe */
/** The i-th header of rec (i < rec->header_count).  0 or LG_EBADBATCH. */
int lg_record_header(const lg_record *rec, size_t i, lg_header *out);

/** Builds an uncompressed (or compressed) batch; for in-process producers and tests. */
typedef struct lg_batch_builder lg_batch_builder;
int lg_batch_builder_new(lg_batch_builder **out, enum lg_compression comp);
/** Producer fields (defaults: -1, -1, -1: not idempotent). */
void lg_batch_builder_producer(lg_batch_builder *b, int64_t pid, int16_t epoch, int32_t base_seq);
/** Add a record; key/value may be NULL (null); headers may be NULL when nh == 0. */
int lg_batch_builder_add(lg_batch_builder *b, int64_t timestamp, const void *key, size_t klen,
                         const void *value, size_t vlen, const lg_header *headers, size_t nh);
size_t lg_batch_builder_count(const lg_batch_builder *b);
/** Finish into out (appended): a complete batch with base offset 0 and a valid CRC. */
int lg_batch_builder_finish(lg_batch_builder *b, cn_buf *out);
void lg_batch_builder_reset(lg_batch_builder *b);
void lg_batch_builder_free(lg_batch_builder *b); /* NULL-safe */

#endif
