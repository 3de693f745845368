/* SPDX-License-Identifier: MIT */
/*
 * cn_buf.h — a growable byte buffer (pointer, length, capacity) and the
 * borrowed byte slice.  The buffer owns its bytes; cn_buf_free releases
 * them and leaves an empty buffer that may be reused.
 */
#ifndef CN_BUF_H
#define CN_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct cn_slice {
    const unsigned char *ptr;
    size_t len;
} cn_slice;

typedef struct cn_buf {
    unsigned char *data;
    size_t len;
    size_t cap;
} cn_buf;

#define CN_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/** Make room for at least extra more bytes.  @return 0 or CN_ENOMEM. */
int cn_buf_reserve(cn_buf *b, size_t extra);
/** Append n bytes.  @return 0 or CN_ENOMEM (buffer unchanged). */
int cn_buf_append(cn_buf *b, const void *p, size_t n);
/** Append a printf-formatted string (no NUL kept).  @return 0 or CN_ENOMEM. */
int cn_buf_printf(cn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Drop the first n bytes. */
void cn_buf_consume(cn_buf *b, size_t n);
void cn_buf_reset(cn_buf *b);
void cn_buf_free(cn_buf *b);

#endif
