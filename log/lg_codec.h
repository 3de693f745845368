/* SPDX-License-Identifier: MIT */
/*
 * lg_codec.h — internal to log/: the four Kafka compression codecs applied
 * to a RecordBatch's records section (everything after the 61-byte
 * header).  Formats are what real Kafka clients write for magic 2:
 *   gzip   RFC 1952 members (several concatenated members are accepted);
 *   snappy raw snappy, or the xerial-framed stream Java clients write
 *          (16-byte header "\x82SNAPPY\0" + version + compat, then blocks
 *          of BE int32 length + raw snappy); we write the xerial form;
 *   lz4    the LZ4 frame format, independent 64 KiB blocks (the old
 *          broken header checksum of Kafka 0.8/0.9 applies only to magic
 *          0/1 message sets, never to RecordBatch v2);
 *   zstd   zstd frames, with or without a content size.
 * Codec working memory is routed through cn_alloc wherever the library
 * allows it (zlib, liblz4, libzstd; the snappy C API has no hook), so
 * OOM tests reach those paths too.  Pure; any thread.
 */
#ifndef LG_CODEC_H
#define LG_CODEC_H

#include <stddef.h>

#include "cn_buf.h"
#include "lg_batch.h"

/**
 * Compress n bytes of in with comp and append the result to out.
 * @return 0; CN_ENOMEM; CN_ETOOBIG (input over 2 GiB); CN_EINVAL for
 *         LG_COMP_NONE or an unknown codec; LG_ECOMPRESS if the library
 *         fails.  On error out->len is unchanged.
 */
int lg__compress(enum lg_compression comp, const unsigned char *in, size_t n, cn_buf *out);

/**
 * Decompress n bytes of in (codec comp) and append the result to out,
 * producing at most max_out bytes: a stream that would expand beyond that
 * (a decompression bomb) fails without allocating more than max_out + 1
 * bytes of output.
 * @return 0; CN_ENOMEM; CN_EINVAL for LG_COMP_NONE or an unknown codec;
 *         LG_ECOMPRESS for corrupt, truncated, trailing-garbage or
 *         oversized streams.  On error out->len is unchanged.
 */
int lg__decompress(enum lg_compression comp, const unsigned char *in, size_t n, size_t max_out,
                   cn_buf *out);

/* Allocation adapters for the codec libraries (zlib's zalloc signature;
 * liblz4 and libzstd take (opaque, size)). */
void *lg__codec_zalloc(void *opaque, unsigned items, unsigned size);
void *lg__codec_alloc(void *opaque, size_t size);
void *lg__codec_calloc(void *opaque, size_t size);
void lg__codec_free(void *opaque, void *p);

/* The xerial snappy stream header Java clients put in front of blocks. */
#define LG_XERIAL_MAGIC "\x82SNAPPY\0"
#define LG_XERIAL_MAGIC_LEN 8
#define LG_XERIAL_HEADER_LEN 16
#define LG_XERIAL_BLOCK 32768 /* snappy-java's default block size */

#endif
