/* SPDX-License-Identifier: MIT */
/*
 * insp_json.c — JSON text building blocks for `cairn log dump` (insp_json.h).
 * Guarantee: whatever bytes come in (record keys, header values, decoded
 * protobuf strings, which protobuf-c does not check for UTF-8), what goes
 * out is valid JSON: strings go through cn_json_str (common/cn_json.h),
 * which replaces invalid UTF-8 by U+FFFD; callers that must not lose bytes
 * use base64 instead.  Base64 is libsodium's.  Pure; any thread; no
 * globals.
 */
#include "insp_json.h"

#include "cn_err.h"

#include <sodium.h>

#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <time.h>

#define INSP__PB_MAX_DEPTH 32

int insp__base64(cn_buf *b, const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0; /* (b->data may still be NULL) */
    if (n > (SIZE_MAX / 4) * 3 - 3)
        return CN_ENOMEM;
    /* libsodium's ORIGINAL variant is RFC 4648 section 4: the standard
     * alphabet with '=' padding.  It writes a NUL after the text, which is
     * reserved here but not counted in b->len. */
    size_t enc = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    int rc = cn_buf_reserve(b, enc);
    if (rc)
        return rc;
    sodium_bin2base64((char *)b->data + b->len, enc, s, n, sodium_base64_VARIANT_ORIGINAL);
    b->len += enc - 1;
    return 0;
}

int insp__json_bytes_member(cn_buf *b, int comma, const char *name, const unsigned char *p,
                            size_t n)
{
    int rc = comma ? cn_buf_append(b, ",", 1) : 0;
    if (rc)
        return rc;
    if (!p)
        return cn_buf_printf(b, "\"%s\":null", name);
    if (cn_utf8_valid(p, n)) {
        rc = cn_buf_printf(b, "\"%s\":", name);
        return rc ? rc : cn_json_str(b, p, n);
    }
    rc = cn_buf_printf(b, "\"%s_b64\":\"", name);
    rc = rc ? rc : insp__base64(b, p, n);
    return rc ? rc : cn_buf_append(b, "\"", 1);
}

/* ---- time ------------------------------------------------------------------- */

int insp__rfc3339(cn_buf *b, int64_t sec, int32_t nsec)
{
    /* 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z, as RFC 3339 requires
     * four-digit years (and protobuf's Timestamp range). */
    if (sec < -62135596800LL || sec > 253402300799LL || nsec < 0 || nsec > 999999999)
        return CN_ERANGE;
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return CN_ERANGE;
    int rc = cn_buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (rc)
        return rc;
    if (nsec % 1000000 == 0)
        return cn_buf_printf(b, ".%03dZ", (int)(nsec / 1000000));
    return cn_buf_printf(b, ".%09dZ", (int)nsec);
}

/* ---- protobuf messages -------------------------------------------------------- */

static int insp__json_pb_depth(cn_buf *b, const ProtobufCMessage *m, int depth);

static int insp__json_double(cn_buf *b, double v, int digits)
{
    /* proto3 JSON spells the non-finite values as strings */
    if (isnan(v))
        return cn_buf_append(b, "\"NaN\"", 5);
    if (isinf(v))
        return v > 0 ? cn_buf_append(b, "\"Infinity\"", 10) : cn_buf_append(b, "\"-Infinity\"", 11);
    return cn_buf_printf(b, "%.*g", digits, v);
}

/* One value of field f stored at p. */
static int insp__json_pb_value(cn_buf *b, const ProtobufCFieldDescriptor *f, const void *p,
                               int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return cn_buf_printf(b, "%" PRId32, *(const int32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return cn_buf_printf(b, "%" PRId64, *(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return cn_buf_printf(b, "%" PRIu32, *(const uint32_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return cn_buf_printf(b, "%" PRIu64, *(const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT:
        return insp__json_double(b, *(const float *)p, 9);
    case PROTOBUF_C_TYPE_DOUBLE:
        return insp__json_double(b, *(const double *)p, 17);
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)p ? cn_buf_append(b, "true", 4)
                                              : cn_buf_append(b, "false", 5);
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        return ev ? cn_json_cstr(b, ev->name) : cn_buf_printf(b, "%d", v);
    }
    case PROTOBUF_C_TYPE_STRING:
        return cn_json_cstr(b, *(char *const *)p);
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *d = p;
        int rc = cn_buf_append(b, "\"", 1);
        rc = rc ? rc : insp__base64(b, d->data, d->data ? d->len : 0);
        return rc ? rc : cn_buf_append(b, "\"", 1);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)p;
        return sub ? insp__json_pb_depth(b, sub, depth + 1) : cn_buf_append(b, "null", 4);
    }
    }
    return cn_buf_append(b, "null", 4);
}

static size_t insp__pb_elt_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    }
    return 0;
}

/* Whether a non-repeated field has a value to show. */
static int insp__pb_present(const ProtobufCFieldDescriptor *f, const char *base)
{
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
    if (f->label != PROTOBUF_C_LABEL_OPTIONAL)
        return 1;
    /* optional strings and messages are pointers; the rest have has_ flags */
    if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
        return *(const void *const *)(base + f->offset) != NULL;
    return *(const protobuf_c_boolean *)(base + f->quantifier_offset) != 0;
}

static int insp__json_pb_field(cn_buf *b, const ProtobufCFieldDescriptor *f, const char *base,
                               int depth)
{
    int rc = cn_json_cstr(b, f->name);
    rc = rc ? rc : cn_buf_append(b, ":", 1);
    if (rc || f->label != PROTOBUF_C_LABEL_REPEATED)
        return rc ? rc : insp__json_pb_value(b, f, base + f->offset, depth);
    size_t n = *(const size_t *)(base + f->quantifier_offset);
    const char *arr = *(const char *const *)(base + f->offset);
    size_t sz = insp__pb_elt_size(f->type);
    rc = cn_buf_append(b, "[", 1);
    for (size_t i = 0; i < n && !rc; i++) {
        if (i)
            rc = cn_buf_append(b, ",", 1);
        rc = rc ? rc : insp__json_pb_value(b, f, arr + i * sz, depth);
    }
    return rc ? rc : cn_buf_append(b, "]", 1);
}

static int insp__json_pb_depth(cn_buf *b, const ProtobufCMessage *m, int depth)
{
    if (depth > INSP__PB_MAX_DEPTH)
        return cn_buf_append(b, "null", 4);
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    int rc = cn_buf_append(b, "{", 1);
    int first = 1;
    for (unsigned i = 0; i < d->n_fields && !rc; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label != PROTOBUF_C_LABEL_REPEATED && !insp__pb_present(f, base))
            continue;
        if (!first)
            rc = cn_buf_append(b, ",", 1);
        first = 0;
        rc = rc ? rc : insp__json_pb_field(b, f, base, depth);
    }
    return rc ? rc : cn_buf_append(b, "}", 1);
}

int insp__json_pb(cn_buf *b, const ProtobufCMessage *m)
{
    return insp__json_pb_depth(b, m, 0);
}
