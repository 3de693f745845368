/* SPDX-License-Identifier: MIT */
/*
 * lg_decompress.c — decompression of RecordBatch record payloads for the
 * record iterator (lg_batch_iter.c): gzip, snappy (raw or xerial-framed),
 * lz4 (frame format) and zstd (frames with or without a content size),
 * exactly the forms real Kafka clients write for magic 2 (see lg_codec.h).
 *
 * Guarantee: output never exceeds max_out bytes, and the output buffer
 * never grows past max_out + 1 bytes, whatever the input claims: a
 * decompression bomb costs at most that much memory and fails with
 * LG_ECOMPRESS.  Decoder state is bounded too: zstd's window is capped
 * (see lg__zstd_window_log), lz4 frame blocks are at most 4 MiB, zlib's
 * window is 32 KiB.  Corrupt, truncated or trailing bytes fail; nothing
 * is read outside [in, in + n).
 * Pure; any thread; the caller owns out, which keeps its bytes up to
 * out->len on error (nothing is appended).
 */
#include "lg_codec.h"

#include "cn_alloc.h"
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

/* First allocation when the decompressed size is unknown: a few times the
 * compressed size (typical Kafka ratios are 2-5x), at least 16 KiB. */
#define LG__OUT_MIN 16384
#define LG__OUT_RATIO 4

/* ---- output window ------------------------------------------------------ */

/* The bytes appended to b after start; at most limit = max_out + 1 of
 * them may ever exist, so a stream one byte over the cap is seen. */
typedef struct lg__out {
    cn_buf *b;
    size_t start;
    size_t max;
    size_t limit;
} lg__out;

static void lg__out_init(lg__out *o, cn_buf *b, size_t max)
{
    o->b = b;
    o->start = b->len;
    o->max = max;
    o->limit = max == SIZE_MAX ? SIZE_MAX : max + 1;
}

static size_t lg__produced(const lg__out *o)
{
    return o->b->len - o->start;
}

/* Bytes the decoder may write at b->data + b->len right now. */
static size_t lg__avail(const lg__out *o)
{
    size_t cap = o->b->cap - o->start;
    if (cap > o->limit)
        cap = o->limit;
    return cap - lg__produced(o);
}

/*
 * Make at least need bytes of room, growing geometrically (at least to
 * hint total bytes) but never past the limit.
 * @return 0; LG_ECOMPRESS when the cap leaves no room; CN_ENOMEM.
 */
static int lg__room(lg__out *o, size_t need, size_t hint)
{
    size_t produced = lg__produced(o);
    if (produced >= o->limit || need > o->limit - produced)
        return LG_ECOMPRESS;
    if (lg__avail(o) >= need)
        return 0;
    size_t cur = o->b->cap - o->start;
    size_t target = cur <= SIZE_MAX / 2 ? cur * 2 : SIZE_MAX;
    if (target < produced + need)
        target = produced + need;
    if (target < hint)
        target = hint;
    if (target < LG__OUT_MIN)
        target = LG__OUT_MIN;
    if (target > o->limit)
        target = o->limit;
    if (o->start > SIZE_MAX - target)
        return CN_ENOMEM;
    unsigned char *d = cn_realloc(o->b->data, o->start + target);
    if (!d)
        return CN_ENOMEM;
    o->b->data = d;
    o->b->cap = o->start + target;
    return 0;
}

static size_t lg__hint(size_t n)
{
    return n <= SIZE_MAX / LG__OUT_RATIO ? n * LG__OUT_RATIO : SIZE_MAX;
}

/* ---- gzip --------------------------------------------------------------- */

static int lg__zerr(int zr)
{
    return zr == Z_MEM_ERROR ? CN_ENOMEM : LG_ECOMPRESS;
}

/* One or more concatenated gzip members (Java's GZIPInputStream reads
 * concatenations, so a producer may legally write them). */
static int lg__gunzip(const unsigned char *in, size_t n, lg__out *o)
{
    if (n > UINT_MAX)
        return LG_ECOMPRESS;
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    zs.zalloc = lg__codec_zalloc;
    zs.zfree = lg__codec_free;
    int zr = inflateInit2(&zs, 15 + 16);
    if (zr != Z_OK)
        return lg__zerr(zr);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    int rc = 0;
    for (;;) {
        rc = lg__room(o, 1, lg__hint(n));
        if (rc)
            break;
        size_t avail = lg__avail(o);
        zs.next_out = o->b->data + o->b->len;
        zs.avail_out = avail > UINT_MAX ? UINT_MAX : (uInt)avail;
        uInt before = zs.avail_out;
        zr = inflate(&zs, Z_NO_FLUSH);
        o->b->len += before - zs.avail_out;
        if (zr == Z_STREAM_END) {
            if (zs.avail_in == 0)
                break;
            /* another member follows */
            if (inflateReset(&zs) != Z_OK) {
                rc = LG_ECOMPRESS;
                break;
            }
        } else if (zr == Z_BUF_ERROR && zs.avail_out != 0) {
            rc = LG_ECOMPRESS; /* input ended inside a member */
            break;
        } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = lg__zerr(zr); /* Z_DATA_ERROR, Z_NEED_DICT, Z_MEM_ERROR */
            break;
        }
    }
    inflateEnd(&zs);
    return rc;
}

/* ---- snappy ------------------------------------------------------------- */

/* One raw snappy block; its header states the exact decompressed size, so
 * the cap is checked before a byte is written. */
static int lg__unsnappy_block(const unsigned char *in, size_t n, lg__out *o)
{
    size_t ulen;
    if (snappy_uncompressed_length((const char *)in, n, &ulen) != SNAPPY_OK)
        return LG_ECOMPRESS;
    if (ulen > o->max - lg__produced(o))
        return LG_ECOMPRESS;
    if (ulen == 0)
        /* snappy's encoding of nothing is the single length byte. */
        return n == 1 ? 0 : LG_ECOMPRESS;
    int rc = lg__room(o, ulen, 0);
    if (rc)
        return rc;
    size_t got = ulen;
    if (snappy_uncompress((const char *)in, n, (char *)o->b->data + o->b->len, &got) != SNAPPY_OK ||
        got != ulen)
        return LG_ECOMPRESS;
    o->b->len += got;
    return 0;
}

/* The xerial stream: 16-byte header (magic, version, compat — versions
 * are not checked, as librdkafka does not), then blocks of BE int32
 * length + raw snappy.  A stream with no blocks is empty. */
static int lg__unxerial(const unsigned char *in, size_t n, lg__out *o)
{
    size_t pos = LG_XERIAL_HEADER_LEN;
    while (pos < n) {
        if (n - pos < 4)
            return LG_ECOMPRESS;
        int32_t blen = (int32_t)cn_rd_be32(in + pos);
        pos += 4;
        if (blen <= 0 || (size_t)blen > n - pos)
            return LG_ECOMPRESS;
        int rc = lg__unsnappy_block(in + pos, (size_t)blen, o);
        if (rc)
            return rc;
        pos += (size_t)blen;
    }
    return 0;
}

/* A raw snappy stream could in principle begin with the xerial magic
 * (0x82 0x53 is a valid length varint); every Kafka client resolves this
 * the same way, by trusting the magic. */
static int lg__unsnappy(const unsigned char *in, size_t n, lg__out *o)
{
    if (n >= LG_XERIAL_HEADER_LEN && memcmp(in, LG_XERIAL_MAGIC, LG_XERIAL_MAGIC_LEN) == 0)
        return lg__unxerial(in, n, o);
    return lg__unsnappy_block(in, n, o);
}

/* ---- lz4 ---------------------------------------------------------------- */

static int lg__lz4err(size_t r)
{
    return LZ4F_getErrorCode(r) == LZ4F_ERROR_allocation_failed ? CN_ENOMEM : LG_ECOMPRESS;
}

/* Decode frames until the input is used up; the last one must be
 * complete.  LZ4F_decompress starts a new frame by itself after one ends. */
static int lg__unlz4_frames(LZ4F_dctx *d, const unsigned char *in, size_t n, size_t pos,
                            size_t hint, lg__out *o)
{
    size_t r = 1;
    while (pos < n || r != 0) {
        int rc = lg__room(o, 1, hint);
        if (rc)
            return rc;
        size_t dst = lg__avail(o), src = n - pos;
        size_t avail = dst;
        r = LZ4F_decompress(d, o->b->data + o->b->len, &dst, in + pos, &src, NULL);
        if (LZ4F_isError(r))
            return lg__lz4err(r);
        pos += src;
        o->b->len += dst;
        /* All input used, output not full, frame not done: truncated.
         * (With full output the decoder may still hold bytes: loop.) */
        if (r != 0 && pos == n && dst < avail)
            return LG_ECOMPRESS;
        if (src == 0 && dst == 0 && r != 0)
            return LG_ECOMPRESS; /* no progress possible */
    }
    return 0;
}

static int lg__unlz4(const unsigned char *in, size_t n, lg__out *o)
{
    LZ4F_CustomMem mem = {lg__codec_alloc, lg__codec_calloc, lg__codec_free, NULL};
    LZ4F_dctx *d = LZ4F_createDecompressionContext_advanced(mem, LZ4F_VERSION);
    if (!d)
        return CN_ENOMEM;
    /* Read the frame header first: a declared content size lets a bomb
     * fail before any output is allocated and sizes honest output exactly. */
    LZ4F_frameInfo_t fi;
    size_t used = n;
    size_t r = LZ4F_getFrameInfo(d, &fi, in, &used);
    int rc;
    if (LZ4F_isError(r))
        rc = lg__lz4err(r);
    else if (fi.contentSize > o->max)
        rc = LG_ECOMPRESS;
    else
        rc = lg__unlz4_frames(d, in, n, used, fi.contentSize ? (size_t)fi.contentSize : lg__hint(n),
                              o);
    LZ4F_freeDecompressionContext(d);
    return rc;
}

/* ---- zstd --------------------------------------------------------------- */

/* The decoder's window buffer is the one allocation the input controls.
 * A frame needs no window larger than its content, but a streaming
 * producer (no content size) declares its level's window, up to 8 MiB
 * (2^23) at the levels clients use; so the cap is the larger of 2^23 and
 * the output cap, which keeps decoder memory within max(8 MiB, max_out). */
static int lg__zstd_window_log(size_t max)
{
    int lg = ZSTD_WINDOWLOG_MIN;
    while (lg < ZSTD_WINDOWLOG_MAX && ((size_t)1 << lg) < max)
        lg++;
    return lg < 23 ? 23 : lg;
}

static int lg__zstderr(size_t r)
{
    return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? CN_ENOMEM : LG_ECOMPRESS;
}

static int lg__unzstd_frames(ZSTD_DCtx *d, const unsigned char *in, size_t n, size_t hint,
                             lg__out *o)
{
    ZSTD_inBuffer ib = {in, n, 0};
    for (;;) {
        int rc = lg__room(o, 1, hint);
        if (rc)
            return rc;
        ZSTD_outBuffer ob = {o->b->data + o->b->len, lg__avail(o), 0};
        size_t in_before = ib.pos;
        size_t r = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(r))
            return lg__zstderr(r);
        o->b->len += ob.pos;
        if (r == 0 && ib.pos == ib.size)
            return 0; /* last frame complete and flushed */
        if (ib.pos == ib.size && ob.pos < ob.size)
            return LG_ECOMPRESS; /* input ended inside a frame */
        if (ib.pos == in_before && ob.pos == 0)
            return LG_ECOMPRESS; /* no progress possible */
    }
}

static int lg__unzstd(const unsigned char *in, size_t n, lg__out *o)
{
    unsigned long long csize = ZSTD_getFrameContentSize(in, n);
    if (csize == ZSTD_CONTENTSIZE_ERROR)
        return LG_ECOMPRESS;
    size_t hint = lg__hint(n);
    if (csize != ZSTD_CONTENTSIZE_UNKNOWN) {
        if (csize > o->max)
            return LG_ECOMPRESS; /* declared bomb: fail before allocating */
        hint = (size_t)csize;
    }
    ZSTD_customMem mem = {lg__codec_alloc, lg__codec_free, NULL};
    ZSTD_DCtx *d = ZSTD_createDCtx_advanced(mem);
    if (!d)
        return CN_ENOMEM;
    int rc = LG_ECOMPRESS;
    if (!ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, lg__zstd_window_log(o->max))))
        rc = lg__unzstd_frames(d, in, n, hint, o);
    ZSTD_freeDCtx(d);
    return rc;
}

/* ---- entry point -------------------------------------------------------- */

int lg__decompress(enum lg_compression comp, const unsigned char *in, size_t n, size_t max_out,
                   cn_buf *out)
{
    lg__out o;
    lg__out_init(&o, out, max_out);
    int rc;
    switch (comp) {
    case LG_COMP_GZIP:
        rc = lg__gunzip(in, n, &o);
        break;
    case LG_COMP_SNAPPY:
        rc = lg__unsnappy(in, n, &o);
        break;
    case LG_COMP_LZ4:
        rc = lg__unlz4(in, n, &o);
        break;
    case LG_COMP_ZSTD:
        rc = lg__unzstd(in, n, &o);
        break;
    default:
        return CN_EINVAL;
    }
    if (!rc && lg__produced(&o) > max_out)
        rc = LG_ECOMPRESS; /* the one byte of headroom was used: too big */
    if (rc)
        out->len = o.start;
    return rc;
}
