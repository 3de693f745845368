/* SPDX-License-Identifier: MIT */
/*
 * lg_codec_mem.c — adapters that hand zlib, liblz4 and libzstd our
 * allocator (cn_alloc.h), so codec working memory is counted by the leak
 * checks and fails on demand in OOM tests like every other allocation.
 * Stateless; any thread.  Used by lg_compress.c and lg_decompress.c.
 */
#include "lg_codec.h"

#include "cn_alloc.h"

void *lg__codec_zalloc(void *opaque, unsigned items, unsigned size)
{
    (void)opaque;
    return cn_calloc(items, size);
}

void *lg__codec_alloc(void *opaque, size_t size)
{
    (void)opaque;
    return cn_malloc(size);
}

void *lg__codec_calloc(void *opaque, size_t size)
{
    (void)opaque;
    return cn_calloc(1, size);
}

void lg__codec_free(void *opaque, void *p)
{
    (void)opaque;
    cn_free(p);
}
