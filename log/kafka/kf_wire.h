/* SPDX-License-Identifier: MIT */
/*
 * kf_wire.h — the primitives under cairn's Kafka codec: a per-request
 * arena, a bounded reader and an appending writer for the Kafka protocol
 * types (fixed-width big-endian ints, unsigned varints, classic and
 * compact strings/bytes/arrays, uuids, tagged-field sections).
 *
 * The generated code (kf_msgs.c) is a straight walk of the spec over these
 * calls.  Both reader and writer keep a sticky error: after the first
 * failure every read returns zero/empty and every write is a no-op, so a
 * decoder checks once at the end (kf_rd_finish).  Pure code: no I/O, no
 * globals; any thread; a reader/writer belongs to one caller.
 */
#ifndef KF_WIRE_H
#define KF_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cn_buf.h"

/** A Kafka string: s NUL-terminated (arena copy), len -1 for null. */
typedef struct kf_str {
    const char *s;
    int32_t len;
} kf_str;

/** Kafka bytes/records: borrowed bytes, len -1 for null.  For an encoder,
 *  ptr NULL with len > 0 in a records field means "spliced": the bytes
 *  are supplied by the writer's splice hook (see kf_wr). */
typedef struct kf_bytes {
    const unsigned char *ptr;
    int32_t len;
} kf_bytes;

typedef struct kf_uuid {
    unsigned char b[16];
} kf_uuid;

/** A C string as a kf_str (NULL gives the null string). */
kf_str kf_str_c(const char *s);
/** 1 if a and the C string b are equal (a null never equals). */
int kf_str_eq(const kf_str *a, const char *b);
static inline int kf_uuid_is_zero(const kf_uuid *u)
{
    for (int i = 0; i < 16; i++)
        if (u->b[i])
            return 0;
    return 1;
}

/* ---- arena ------------------------------------------------------------ */

/**
 * A bump allocator for everything one request decodes into, freed as a
 * whole.  Its total is capped (by the caller, from the frame size) so a
 * hostile frame cannot make a small request allocate without bound: going
 * over the cap fails with KF_EFRAME, a failed cn_malloc with CN_ENOMEM.
 */
typedef struct kf_arena kf_arena;

/** @return 0 or CN_ENOMEM.  cap_bytes bounds the sum of all allocations. */
int kf_arena_new(kf_arena **out, size_t cap_bytes);
/** Zeroed, 8-byte aligned n bytes, or NULL (see kf_arena_error). */
void *kf_arena_alloc(kf_arena *a, size_t n);
/** Why the last kf_arena_alloc failed: KF_EFRAME (cap) or CN_ENOMEM. */
int kf_arena_error(const kf_arena *a);
/** Bytes handed out so far. */
size_t kf_arena_used(const kf_arena *a);
/** Free everything allocated, keep the first chunk; cap becomes cap_bytes. */
void kf_arena_reset(kf_arena *a, size_t cap_bytes);
void kf_arena_free(kf_arena *a); /* NULL-safe */
/** Copy n bytes into the arena as a NUL-terminated string. */
char *kf_arena_strndup(kf_arena *a, const char *s, size_t n);

/* ---- reader ----------------------------------------------------------- */

typedef struct kf_rd {
    const unsigned char *p;
    size_t n, off;
    kf_arena *a;
    int err; /* sticky: 0, KF_EFRAME, CN_ENOMEM */
} kf_rd;

void kf_rd_init(kf_rd *r, const unsigned char *p, size_t n, kf_arena *a);
/** 0 if the whole input was consumed without error; KF_ETRAILING if the
 *  message decoded completely but bytes remain after it (the caller decides:
 *  kf_request_decode accepts them, as Apache Kafka's broker does); else the
 *  sticky error. */
int kf_rd_finish(const kf_rd *r);
/** Mark the reader failed (first error wins). */
void kf_rd_fail(kf_rd *r, int err);

bool kf_rd_bool(kf_rd *r);
int8_t kf_rd_i8(kf_rd *r);
int16_t kf_rd_i16(kf_rd *r);
uint16_t kf_rd_u16(kf_rd *r);
int32_t kf_rd_i32(kf_rd *r);
uint32_t kf_rd_u32(kf_rd *r);
int64_t kf_rd_i64(kf_rd *r);
double kf_rd_f64(kf_rd *r);
uint32_t kf_rd_uvarint32(kf_rd *r);
void kf_rd_uuid(kf_rd *r, kf_uuid *out);
/** A string; compact (flexible) or int16-prefixed; null only if nullable. */
void kf_rd_str(kf_rd *r, kf_str *out, int compact, int nullable);
/** Bytes/records, borrowed from the input; null only if nullable. */
void kf_rd_bytes(kf_rd *r, kf_bytes *out, int compact, int nullable);
/**
 * An array length: -1 for null (only if nullable), else a count that is
 * checked against the bytes left (each element takes at least min_elem
 * bytes), so a hostile count fails here before anything is allocated.
 */
int32_t kf_rd_arrlen(kf_rd *r, int compact, int nullable, size_t min_elem);
/** count * size zeroed bytes from the arena (overflow-checked), or NULL
 *  with the reader failed. */
void *kf_rd_alloc(kf_rd *r, size_t count, size_t size);
/** Carve the next len bytes off r into sub (for one tagged field) and
 *  skip them in r.  @return 0, or non-zero with r failed. */
int kf_rd_sub(kf_rd *r, uint32_t len, kf_rd *sub);
/** Carry sub's error back into r. */
void kf_rd_merge(kf_rd *r, const kf_rd *sub);

/* ---- writer ----------------------------------------------------------- */

struct kf_wr;
/** Called when a spliced records field is written (its length prefix is
 *  already in the buffer): the hook notes that rec->len bytes from
 *  elsewhere belong at the current buffer end.  Returns 0 or an error. */
typedef int (*kf_splice_fn)(void *ud, struct kf_wr *w, const kf_bytes *rec);

typedef struct kf_wr {
    cn_buf *b;
    int err; /* sticky: 0, CN_ENOMEM, CN_EINVAL */
    kf_splice_fn splice;
    void *splice_ud;
    cn_buf own; /* scratch storage of a tagged-field writer */
} kf_wr;

void kf_wr_init(kf_wr *w, cn_buf *b);
void kf_wr_raw(kf_wr *w, const void *p, size_t n);
void kf_wr_bool(kf_wr *w, bool v);
void kf_wr_i8(kf_wr *w, int8_t v);
void kf_wr_i16(kf_wr *w, int16_t v);
void kf_wr_u16(kf_wr *w, uint16_t v);
void kf_wr_i32(kf_wr *w, int32_t v);
void kf_wr_u32(kf_wr *w, uint32_t v);
void kf_wr_i64(kf_wr *w, int64_t v);
void kf_wr_f64(kf_wr *w, double v);
void kf_wr_uvarint(kf_wr *w, uint64_t v);
void kf_wr_uuid(kf_wr *w, const kf_uuid *u);
/** A null value for a non-nullable field is written as empty. */
void kf_wr_str(kf_wr *w, const kf_str *s, int compact, int nullable);
void kf_wr_bytes(kf_wr *w, const kf_bytes *b, int compact, int nullable);
/** Like kf_wr_bytes, but ptr NULL with len > 0 goes through w->splice. */
void kf_wr_records(kf_wr *w, const kf_bytes *b, int compact, int nullable);
/** Array length n (-1 null; a null non-nullable array is written empty). */
void kf_wr_arrlen(kf_wr *w, int32_t n, int compact, int nullable);
/** Begin a tagged field: tw writes into a scratch buffer ... */
void kf_wr_tag_begin(kf_wr *w, kf_wr *tw);
/** ... which this appends to w as (tag, size, bytes) and frees. */
void kf_wr_tag_end(kf_wr *w, kf_wr *tw, uint32_t tag);

#endif
