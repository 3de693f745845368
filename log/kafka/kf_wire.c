/* SPDX-License-Identifier: MIT */
/*
 * kf_wire.c — arena, bounded reader and appending writer for the Kafka
 * protocol primitive types (see kf_wire.h).
 *
 * Guarantees: a reader never touches a byte outside [p, p+n); every
 * length (string, bytes, array count, tagged-field size) is checked
 * against the bytes left before it is used, and array counts are checked
 * against a per-element minimum before anything is allocated.  Arena
 * totals are capped.  Pure code, any thread; each object has one owner.
 */
#include "kf_wire.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_err.h"

#include <string.h>

/* ======================================================================
 * strings
 * ====================================================================== */

kf_str kf_str_c(const char *s)
{
    kf_str k = {s, s ? (int32_t)strlen(s) : -1};
    return k;
}

int kf_str_eq(const kf_str *a, const char *b)
{
    if (a->len < 0 || !b)
        return 0;
    size_t n = strlen(b);
    return (size_t)a->len == n && (n == 0 || memcmp(a->s, b, n) == 0);
}

/* ======================================================================
 * arena
 * ====================================================================== */

/* Chunks are at least this big so a request with many small fields costs
 * a handful of mallocs; bigger allocations get a chunk of their own. */
#define KF_ARENA_CHUNK 4096

struct kf_chunk {
    struct kf_chunk *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
};

struct kf_arena {
    struct kf_chunk *head; /* current chunk; older ones follow */
    size_t cap_bytes, used_bytes;
    int err;
};

int kf_arena_new(kf_arena **out, size_t cap_bytes)
{
    kf_arena *a = cn_calloc(1, sizeof(*a));
    if (!a)
        return CN_ENOMEM;
    a->cap_bytes = cap_bytes;
    *out = a;
    return 0;
}

static struct kf_chunk *kf_chunk_new(size_t min)
{
    size_t cap = min > KF_ARENA_CHUNK ? min : KF_ARENA_CHUNK;
    struct kf_chunk *c = cn_malloc(sizeof(*c) + cap);
    if (!c)
        return NULL;
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    return c;
}

void *kf_arena_alloc(kf_arena *a, size_t n)
{
    size_t sz = (n + 7) & ~(size_t)7;
    if (sz < n || sz > a->cap_bytes - a->used_bytes || a->used_bytes > a->cap_bytes) {
        a->err = KF_EFRAME;
        return NULL;
    }
    struct kf_chunk *c = a->head;
    if (!c || c->cap - c->used < sz) {
        struct kf_chunk *nc = kf_chunk_new(sz);
        if (!nc) {
            a->err = CN_ENOMEM;
            return NULL;
        }
        nc->next = c;
        a->head = nc;
        c = nc;
    }
    void *p = c->data + c->used;
    c->used += sz;
    a->used_bytes += sz;
    memset(p, 0, n);
    return p;
}

int kf_arena_error(const kf_arena *a)
{
    return a->err ? a->err : CN_ENOMEM;
}

size_t kf_arena_used(const kf_arena *a)
{
    return a->used_bytes;
}

void kf_arena_reset(kf_arena *a, size_t cap_bytes)
{
    /* Keep the oldest chunk (the tail): steady-state requests then cost
     * no malloc at all. */
    struct kf_chunk *c = a->head, *keep = NULL;
    while (c) {
        struct kf_chunk *next = c->next;
        if (!next && c->cap == KF_ARENA_CHUNK) {
            keep = c;
        } else {
            cn_free(c);
        }
        c = next;
    }
    if (keep)
        keep->used = 0;
    a->head = keep;
    a->used_bytes = 0;
    a->cap_bytes = cap_bytes;
    a->err = 0;
}

void kf_arena_free(kf_arena *a)
{
    if (!a)
        return;
    struct kf_chunk *c = a->head;
    while (c) {
        struct kf_chunk *next = c->next;
        cn_free(c);
        c = next;
    }
    cn_free(a);
}

char *kf_arena_strndup(kf_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *d = kf_arena_alloc(a, n + 1);
    if (d) {
        if (n)
            memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* ======================================================================
 * reader
 * ====================================================================== */

void kf_rd_init(kf_rd *r, const unsigned char *p, size_t n, kf_arena *a)
{
    r->p = p;
    r->n = n;
    r->off = 0;
    r->a = a;
    r->err = 0;
}

void kf_rd_fail(kf_rd *r, int err)
{
    if (!r->err)
        r->err = err;
}

int kf_rd_finish(const kf_rd *r)
{
    if (r->err)
        return r->err;
    return r->off == r->n ? 0 : KF_ETRAILING;
}

/* The bytes at the cursor if n are left (advancing past them), else NULL
 * with the reader failed. */
static const unsigned char *kf_rd_take(kf_rd *r, size_t n)
{
    if (r->err || r->n - r->off < n) {
        kf_rd_fail(r, KF_EFRAME);
        return NULL;
    }
    const unsigned char *p = r->p + r->off;
    r->off += n;
    return p;
}

bool kf_rd_bool(kf_rd *r)
{
    const unsigned char *p = kf_rd_take(r, 1);
    return p ? p[0] != 0 : false;
}

int8_t kf_rd_i8(kf_rd *r)
{
    const unsigned char *p = kf_rd_take(r, 1);
    return p ? (int8_t)p[0] : 0;
}

uint16_t kf_rd_u16(kf_rd *r)
{
    const unsigned char *p = kf_rd_take(r, 2);
    return p ? cn_rd_be16(p) : 0;
}

int16_t kf_rd_i16(kf_rd *r)
{
    return (int16_t)kf_rd_u16(r);
}

uint32_t kf_rd_u32(kf_rd *r)
{
    const unsigned char *p = kf_rd_take(r, 4);
    return p ? cn_rd_be32(p) : 0;
}

int32_t kf_rd_i32(kf_rd *r)
{
    return (int32_t)kf_rd_u32(r);
}

int64_t kf_rd_i64(kf_rd *r)
{
    const unsigned char *p = kf_rd_take(r, 8);
    return p ? (int64_t)cn_rd_be64(p) : 0;
}

double kf_rd_f64(kf_rd *r)
{
    uint64_t u = (uint64_t)kf_rd_i64(r);
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

uint32_t kf_rd_uvarint32(kf_rd *r)
{
    if (r->err)
        return 0;
    uint64_t v;
    int k = cn_rd_uvarint(r->p + r->off, r->n - r->off, &v, 1);
    if (k <= 0) {
        kf_rd_fail(r, KF_EFRAME);
        return 0;
    }
    r->off += (size_t)k;
    return (uint32_t)v;
}

void kf_rd_uuid(kf_rd *r, kf_uuid *out)
{
    const unsigned char *p = kf_rd_take(r, 16);
    if (p)
        memcpy(out->b, p, 16);
    else
        memset(out->b, 0, 16);
}

/* A length prefix: compact is uvarint(len + 1) with 0 for null, classic a
 * signed int16/int32 with -1 for null.  Returns -1 for null, -2 on error. */
static int64_t kf_rd_len(kf_rd *r, int compact, int wide, int nullable)
{
    int64_t len;
    if (compact) {
        len = (int64_t)kf_rd_uvarint32(r) - 1;
    } else {
        len = wide ? kf_rd_i32(r) : kf_rd_i16(r);
    }
    if (r->err)
        return -2;
    if (len < -1 || (len == -1 && !nullable)) {
        kf_rd_fail(r, KF_EFRAME);
        return -2;
    }
    if (len > 0 && (uint64_t)len > r->n - r->off) {
        kf_rd_fail(r, KF_EFRAME);
        return -2;
    }
    return len;
}

void kf_rd_str(kf_rd *r, kf_str *out, int compact, int nullable)
{
    int64_t len = kf_rd_len(r, compact, 0, nullable);
    out->s = NULL;
    out->len = len == -1 ? -1 : 0;
    if (len < 0)
        return;
    const unsigned char *p = kf_rd_take(r, (size_t)len);
    char *s = p ? kf_arena_strndup(r->a, (const char *)p, (size_t)len) : NULL;
    if (!s) {
        kf_rd_fail(r, kf_arena_error(r->a));
        return;
    }
    out->s = s;
    out->len = (int32_t)len;
}

void kf_rd_bytes(kf_rd *r, kf_bytes *out, int compact, int nullable)
{
    int64_t len = kf_rd_len(r, compact, 1, nullable);
    out->ptr = NULL;
    out->len = len == -1 ? -1 : 0;
    if (len < 0)
        return;
    out->ptr = kf_rd_take(r, (size_t)len);
    out->len = (int32_t)len;
}

int32_t kf_rd_arrlen(kf_rd *r, int compact, int nullable, size_t min_elem)
{
    int64_t n;
    if (compact)
        n = (int64_t)kf_rd_uvarint32(r) - 1;
    else
        n = kf_rd_i32(r);
    if (r->err)
        return 0;
    if (n < -1 || (n == -1 && !nullable)) {
        kf_rd_fail(r, KF_EFRAME);
        return 0;
    }
    /* Each element needs min_elem (>= 1) bytes: a count the rest of the
     * frame cannot hold is a lie, refused before any allocation. */
    if (n > 0 && (uint64_t)n > (r->n - r->off) / (min_elem ? min_elem : 1)) {
        kf_rd_fail(r, KF_EFRAME);
        return 0;
    }
    return (int32_t)n;
}

void *kf_rd_alloc(kf_rd *r, size_t count, size_t size)
{
    if (r->err)
        return NULL;
    if (size && count > SIZE_MAX / size) {
        kf_rd_fail(r, KF_EFRAME);
        return NULL;
    }
    void *p = kf_arena_alloc(r->a, count * size);
    if (!p)
        kf_rd_fail(r, kf_arena_error(r->a));
    return p;
}

int kf_rd_sub(kf_rd *r, uint32_t len, kf_rd *sub)
{
    const unsigned char *p = kf_rd_take(r, len);
    if (!p)
        return -1;
    kf_rd_init(sub, p, len, r->a);
    return 0;
}

void kf_rd_merge(kf_rd *r, const kf_rd *sub)
{
    if (sub->err)
        kf_rd_fail(r, sub->err);
}

/* ======================================================================
 * writer
 * ====================================================================== */

void kf_wr_init(kf_wr *w, cn_buf *b)
{
    memset(w, 0, sizeof(*w));
    w->b = b;
}

void kf_wr_raw(kf_wr *w, const void *p, size_t n)
{
    if (w->err)
        return;
    int rc = cn_buf_append(w->b, p, n);
    if (rc)
        w->err = rc;
}

void kf_wr_bool(kf_wr *w, bool v)
{
    unsigned char c = v ? 1 : 0;
    kf_wr_raw(w, &c, 1);
}

void kf_wr_i8(kf_wr *w, int8_t v)
{
    unsigned char c = (unsigned char)v;
    kf_wr_raw(w, &c, 1);
}

void kf_wr_u16(kf_wr *w, uint16_t v)
{
    unsigned char b[2];
    cn_wr_be16(b, v);
    kf_wr_raw(w, b, 2);
}

void kf_wr_i16(kf_wr *w, int16_t v)
{
    kf_wr_u16(w, (uint16_t)v);
}

void kf_wr_u32(kf_wr *w, uint32_t v)
{
    unsigned char b[4];
    cn_wr_be32(b, v);
    kf_wr_raw(w, b, 4);
}

void kf_wr_i32(kf_wr *w, int32_t v)
{
    kf_wr_u32(w, (uint32_t)v);
}

void kf_wr_i64(kf_wr *w, int64_t v)
{
    unsigned char b[8];
    cn_wr_be64(b, (uint64_t)v);
    kf_wr_raw(w, b, 8);
}

void kf_wr_f64(kf_wr *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    kf_wr_i64(w, (int64_t)u);
}

void kf_wr_uvarint(kf_wr *w, uint64_t v)
{
    unsigned char b[10];
    kf_wr_raw(w, b, (size_t)cn_wr_uvarint(b, v));
}

void kf_wr_uuid(kf_wr *w, const kf_uuid *u)
{
    kf_wr_raw(w, u->b, 16);
}

/* Length prefix for strings (wide 0) and bytes (wide 1); len -1 = null. */
static void kf_wr_len(kf_wr *w, int64_t len, int compact, int wide)
{
    if (compact)
        kf_wr_uvarint(w, (uint64_t)(len + 1));
    else if (wide)
        kf_wr_i32(w, (int32_t)len);
    else
        kf_wr_i16(w, (int16_t)len);
}

void kf_wr_str(kf_wr *w, const kf_str *s, int compact, int nullable)
{
    if (s->len < 0) {
        kf_wr_len(w, nullable ? -1 : 0, compact, 0);
        return;
    }
    if (s->len > INT16_MAX) {
        /* Kafka strings are int16-prefixed in classic versions; a longer
         * one is a caller bug, refused rather than truncated. */
        if (!w->err)
            w->err = CN_EINVAL;
        return;
    }
    kf_wr_len(w, s->len, compact, 0);
    kf_wr_raw(w, s->s, (size_t)s->len);
}

void kf_wr_bytes(kf_wr *w, const kf_bytes *b, int compact, int nullable)
{
    if (b->len < 0) {
        kf_wr_len(w, nullable ? -1 : 0, compact, 1);
        return;
    }
    kf_wr_len(w, b->len, compact, 1);
    kf_wr_raw(w, b->ptr, (size_t)b->len);
}

void kf_wr_records(kf_wr *w, const kf_bytes *b, int compact, int nullable)
{
    if (b->ptr || b->len <= 0) {
        kf_wr_bytes(w, b, compact, nullable);
        return;
    }
    kf_wr_len(w, b->len, compact, 1);
    if (w->err)
        return;
    if (!w->splice) {
        w->err = CN_EINVAL;
        return;
    }
    int rc = w->splice(w->splice_ud, w, b);
    if (rc)
        w->err = rc;
}

void kf_wr_arrlen(kf_wr *w, int32_t n, int compact, int nullable)
{
    if (n < 0 && !nullable)
        n = 0;
    if (compact)
        kf_wr_uvarint(w, (uint64_t)((int64_t)n + 1));
    else
        kf_wr_i32(w, n);
}

void kf_wr_tag_begin(kf_wr *w, kf_wr *tw)
{
    kf_wr_init(tw, NULL);
    tw->b = &tw->own;
    tw->err = w->err;
}

void kf_wr_tag_end(kf_wr *w, kf_wr *tw, uint32_t tag)
{
    if (tw->err && !w->err)
        w->err = tw->err;
    kf_wr_uvarint(w, tag);
    kf_wr_uvarint(w, tw->own.len);
    kf_wr_raw(w, tw->own.data, tw->own.len);
    cn_buf_free(&tw->own);
}
