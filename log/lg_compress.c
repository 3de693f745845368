/* SPDX-License-Identifier: MIT */
/*
 * lg_compress.c — compression of RecordBatch record payloads for the batch
 * builder (lg_batch_build.c): gzip, snappy (xerial-framed, as the Java
 * client writes it), lz4 (frame format, independent 64 KiB blocks, as
 * Kafka's KafkaLZ4BlockOutputStream writes) and zstd (one frame with its
 * content size).  Every output decodes with real clients (integration tests
 * in tests/integration/batch/): kafka_python_decode checks kafka-python's
 * reader, consumers librdkafka and kafka-python consumers, kafkajs_consumer
 * kafkajs (none, gzip).  The inverse lives in lg_decompress.c.
 * Guarantees: on any error out->len is unchanged (bytes past it may have
 * been scribbled).  Pure; any thread; the caller owns out.
 */
#include "lg_codec.h"

#include "cn_bytes.h"
#include "cn_err.h"

#include <limits.h>
#include <string.h>

#define LZ4F_STATIC_LINKING_ONLY
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

/* A RecordBatch is at most 2 GiB (batchLength is an int32), so anything
 * larger cannot become a batch; the bound also keeps zlib's uInt sizes
 * and the snappy block arithmetic exact. */
#define LG__COMPRESS_MAX ((size_t)INT32_MAX)

/* zstd level 3 is libzstd's and Kafka's default. */
#define LG__ZSTD_LEVEL 3

/* gzip (RFC 1952 wrapper, as Kafka's GZIP codec writes). */
static int lg__gzip(const unsigned char *in, size_t n, cn_buf *out)
{
    z_stream zs = {0};
    zs.zalloc = lg__codec_zalloc;
    zs.zfree = lg__codec_free;
    int zr = deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (zr != Z_OK)
        return zr == Z_MEM_ERROR ? CN_ENOMEM : LG_ECOMPRESS;
    uLong bound = deflateBound(&zs, (uLong)n) + 32;
    int rc = cn_buf_reserve(out, bound);
    if (rc) {
        deflateEnd(&zs);
        return rc;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out->data + out->len;
    zs.avail_out = (uInt)bound;
    zr = deflate(&zs, Z_FINISH);
    size_t produced = bound - zs.avail_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END)
        return zr == Z_MEM_ERROR ? CN_ENOMEM : LG_ECOMPRESS;
    out->len += produced;
    return 0;
}

/* snappy in the xerial block stream: the 16-byte header, then one block
 * per 32 KiB of input, each a BE int32 length and raw snappy bytes.  Java
 * consumers accept raw snappy too, but xerial is what Java producers
 * write, so every consumer in the wild reads it. */
static int lg__snappy(const unsigned char *in, size_t n, cn_buf *out)
{
    if (n == 0) {
        /* A header with no blocks is 16 bytes, and kafka-python only
         * recognises the xerial header in payloads longer than that; the
         * one-byte raw snappy encoding of nothing reads everywhere. */
        unsigned char empty = 0;
        return cn_buf_append(out, &empty, 1);
    }
    size_t blocks = n / LG_XERIAL_BLOCK + 1;
    size_t need =
        LG_XERIAL_HEADER_LEN + blocks * (4 + snappy_max_compressed_length(LG_XERIAL_BLOCK));
    int rc = cn_buf_reserve(out, need);
    if (rc)
        return rc;
    unsigned char *o = out->data + out->len;
    memcpy(o, LG_XERIAL_MAGIC, LG_XERIAL_MAGIC_LEN);
    cn_wr_be32(o + 8, 1);  /* stream format version */
    cn_wr_be32(o + 12, 1); /* minimum compatible version */
    size_t pos = LG_XERIAL_HEADER_LEN;
    for (size_t off = 0; off < n; off += LG_XERIAL_BLOCK) {
        size_t chunk = n - off < LG_XERIAL_BLOCK ? n - off : LG_XERIAL_BLOCK;
        size_t clen = snappy_max_compressed_length(chunk);
        if (snappy_compress((const char *)in + off, chunk, (char *)o + pos + 4, &clen) != SNAPPY_OK)
            return LG_ECOMPRESS;
        cn_wr_be32(o + pos, (uint32_t)clen);
        pos += 4 + clen;
    }
    out->len += pos;
    return 0;
}

/* lz4 frame: independent 64 KiB blocks (Kafka's Java reader rejects
 * linked blocks), no content size (the Java reader of old brokers rejects
 * it), no checksums beyond the mandatory header checksum. */
static int lg__lz4(const unsigned char *in, size_t n, cn_buf *out)
{
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    size_t bound = LZ4F_compressFrameBound(n, &prefs);
    int rc = cn_buf_reserve(out, bound);
    if (rc)
        return rc;
    LZ4F_CustomMem mem = {lg__codec_alloc, lg__codec_calloc, lg__codec_free, NULL};
    LZ4F_cctx *cctx = LZ4F_createCompressionContext_advanced(mem, LZ4F_VERSION);
    if (!cctx)
        return CN_ENOMEM;
    size_t r =
        LZ4F_compressFrame_usingCDict(cctx, out->data + out->len, bound, in, n, NULL, &prefs);
    LZ4F_freeCompressionContext(cctx);
    if (LZ4F_isError(r))
        /* The frame API reports its own allocation failures as errors;
         * with a bound-sized output nothing else can fail. */
        return LZ4F_getErrorCode(r) == LZ4F_ERROR_allocation_failed ? CN_ENOMEM : LG_ECOMPRESS;
    out->len += r;
    return 0;
}

/* zstd: one frame carrying its content size, so readers that need it
 * (kafka-python's default path) can size their output exactly. */
static int lg__zstd(const unsigned char *in, size_t n, cn_buf *out)
{
    size_t bound = ZSTD_compressBound(n);
    int rc = cn_buf_reserve(out, bound);
    if (rc)
        return rc;
    ZSTD_customMem mem = {lg__codec_alloc, lg__codec_free, NULL};
    ZSTD_CCtx *cctx = ZSTD_createCCtx_advanced(mem);
    if (!cctx)
        return CN_ENOMEM;
    size_t r = ZSTD_compressCCtx(cctx, out->data + out->len, bound, in, n, LG__ZSTD_LEVEL);
    ZSTD_freeCCtx(cctx);
    if (ZSTD_isError(r))
        return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? CN_ENOMEM : LG_ECOMPRESS;
    out->len += r;
    return 0;
}

int lg__compress(enum lg_compression comp, const unsigned char *in, size_t n, cn_buf *out)
{
    if (n > LG__COMPRESS_MAX)
        return CN_ETOOBIG;
    switch (comp) {
    case LG_COMP_GZIP:
        return lg__gzip(in, n, out);
    case LG_COMP_SNAPPY:
        return lg__snappy(in, n, out);
    case LG_COMP_LZ4:
        return lg__lz4(in, n, out);
    case LG_COMP_ZSTD:
        return lg__zstd(in, n, out);
    default:
        return CN_EINVAL;
    }
}
