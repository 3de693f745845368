/* SPDX-License-Identifier: MIT */
/*
 * cn_buf.c — growable byte buffer.  Growth doubles, so appends are
 * amortised O(1).  Not thread-safe: one owner at a time.
 */
#include "cn_buf.h"

#include "cn_alloc.h"
#include "cn_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cn_buf_reserve(cn_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    size_t need = b->len + extra;
    if (need < b->len)
        return CN_ENOMEM;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return CN_ENOMEM;
        cap *= 2;
    }
    unsigned char *d = cn_realloc(b->data, cap);
    if (!d)
        return CN_ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

int cn_buf_append(cn_buf *b, const void *p, size_t n)
{
    int rc = cn_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int cn_buf_printf(cn_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return CN_EINVAL;
    if ((size_t)n < sizeof(tmp))
        return cn_buf_append(b, tmp, (size_t)n);
    int rc = cn_buf_reserve(b, (size_t)n + 1);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void cn_buf_consume(cn_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void cn_buf_reset(cn_buf *b)
{
    b->len = 0;
}

void cn_buf_free(cn_buf *b)
{
    cn_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
