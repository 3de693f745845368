/* SPDX-License-Identifier: MIT */
/*
 * lg_compress.c — compression of RecordBatch record payloads for the
 * batch builder.  Only the codecs listed here are implemented so far; the
 * decompression side (for iteration) lives with the record iterator.
 * Pure; any thread.
 */
#include "lg_batch.h"

#include "cn_err.h"

#include <zlib.h>

int lg__compress(enum lg_compression comp, const unsigned char *in, size_t n, cn_buf *out);

/* gzip (RFC 1952 wrapper, as Kafka's GZIP codec writes). */
static int lg__gzip(const unsigned char *in, size_t n, cn_buf *out)
{
    z_stream zs = {0};
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return CN_ENOMEM;
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
    int zr = deflate(&zs, Z_FINISH);
    size_t produced = bound - zs.avail_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END)
        return LG_ECOMPRESS;
    out->len += produced;
    return 0;
}

int lg__compress(enum lg_compression comp, const unsigned char *in, size_t n, cn_buf *out)
{
    switch (comp) {
    case LG_COMP_GZIP:
        return lg__gzip(in, n, out);
    default:
        return CN_EUNSUPPORTED;
    }
}
