/* SPDX-License-Identifier: MIT */
/*
 * gw_ping_fast.c — a fast path for the common JSON ping frame: one flat
 * ping object, or an array of them, exactly as apps send it.
 *
 * Why: jansson builds a DOM per frame; at one ping per frame that costs
 * ~3-4 µs here (docs/benchmarks.md), most of a core at the
 * 200,000 pings/s the gateway is built for.  This scanner handles the narrow subset real clients
 * send and *declines* everything else, which then goes through jansson
 * unchanged; so the language accepted and every answer are jansson's by
 * construction.  fuzz_gw_ping checks that both paths give identical
 * batches on every input.
 *
 * The subset: JSON whitespace; a top-level object, or a non-empty array of
 * up to GW_FAST_MAX objects; objects whose keys are only "id", "beacon",
 * "rssi", "ts", each at most once; values that are strings without
 * escapes, control or non-ASCII bytes, or integers without leading zeros,
 * fraction or exponent and with at most 18 digits.  Anything else (other
 * keys, other value types, escapes, duplicates, malformed JSON) declines.
 * Nothing is written to the batch unless the whole frame is in the subset.
 * Pure; any thread.
 */
#include "gw_ping_int.h"

#include <string.h>

#define GW_FAST_MAX 64

typedef struct fp {
    const char *p, *e;
} fp;

static void fp_ws(fp *f)
{
    while (f->p < f->e && (*f->p == ' ' || *f->p == '\t' || *f->p == '\n' || *f->p == '\r'))
        f->p++;
}

/* A plain string: "..." with printable ASCII only and no backslash. */
static int fp_str(fp *f, const char **s, size_t *n)
{
    if (f->p >= f->e || *f->p != '"')
        return 0;
    const char *q = ++f->p;
    while (q < f->e && *q != '"') {
        unsigned char c = (unsigned char)*q;
        if (c < 0x20 || c >= 0x7f || c == '\\')
            return 0;
        q++;
    }
    if (q >= f->e)
        return 0;
    *s = f->p;
    *n = (size_t)(q - f->p);
    f->p = q + 1;
    return 1;
}

static int fp_int(fp *f, int64_t *v)
{
    const char *q = f->p;
    int neg = 0;
    if (q < f->e && *q == '-')
        neg = 1, q++;
    const char *d = q;
    int64_t x = 0;
    while (q < f->e && *q >= '0' && *q <= '9' && q - d < 18) /* 18 digits cannot overflow */
        x = x * 10 + (*q++ - '0');
    size_t nd = (size_t)(q - d);
    if (nd == 0 || (nd > 1 && *d == '0'))
        return 0;
    if (q < f->e && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E'))
        return 0;
    *v = neg ? -x : x;
    f->p = q;
    return 1;
}

/* A string field ("id", "beacon"): a string, or an integer (wrong type). */
static int fp_str_field(fp *f, const char **s, size_t *n, uint8_t *flag)
{
    int64_t ignored;
    if (*flag != GW_F_MISSING)
        return 0; /* duplicate key: jansson refuses the frame */
    if (f->p < f->e && *f->p == '"') {
        if (!fp_str(f, s, n))
            return 0;
        *flag = GW_F_OK;
        return 1;
    }
    if (!fp_int(f, &ignored))
        return 0;
    *flag = GW_F_WRONG_TYPE;
    return 1;
}

/* An integer field ("rssi", "ts"): an integer, or a plain string (wrong type). */
static int fp_int_field(fp *f, int64_t *v, uint8_t *flag)
{
    const char *s;
    size_t n;
    if (*flag != GW_F_MISSING)
        return 0;
    if (f->p < f->e && *f->p == '"') {
        if (!fp_str(f, &s, &n))
            return 0;
        *flag = GW_F_WRONG_TYPE;
        return 1;
    }
    if (!fp_int(f, v))
        return 0;
    *flag = GW_F_OK;
    return 1;
}

static int fp_member(fp *f, gw__ping_in *in)
{
    const char *k;
    size_t kn;
    if (!fp_str(f, &k, &kn))
        return 0;
    fp_ws(f);
    if (f->p >= f->e || *f->p != ':')
        return 0;
    f->p++;
    fp_ws(f);
    if (kn == 2 && memcmp(k, "id", 2) == 0)
        return fp_str_field(f, &in->id, &in->id_len, &in->id_f);
    if (kn == 6 && memcmp(k, "beacon", 6) == 0)
        return fp_str_field(f, &in->beacon, &in->beacon_len, &in->beacon_f);
    if (kn == 4 && memcmp(k, "rssi", 4) == 0)
        return fp_int_field(f, &in->rssi, &in->rssi_f);
    if (kn == 2 && memcmp(k, "ts", 2) == 0)
        return fp_int_field(f, &in->ts, &in->ts_f);
    return 0; /* another key: let jansson handle (and ignore) it */
}

static int fp_object(fp *f, gw__ping_in *in)
{
    memset(in, 0, sizeof(*in));
    if (f->p >= f->e || *f->p != '{')
        return 0;
    f->p++;
    fp_ws(f);
    if (f->p < f->e && *f->p == '}') {
        f->p++;
        return 1;
    }
    for (;;) {
        if (!fp_member(f, in))
            return 0;
        fp_ws(f);
        if (f->p >= f->e)
            return 0;
        if (*f->p == '}') {
            f->p++;
            return 1;
        }
        if (*f->p != ',')
            return 0;
        f->p++;
        fp_ws(f);
    }
}

/* Scan the frame into ins[]; returns the count, or 0 to decline. */
static size_t fp_frame(fp *f, gw__ping_in *ins, size_t max)
{
    size_t n = 0;
    fp_ws(f);
    if (f->p < f->e && *f->p == '[') {
        f->p++;
        for (;;) {
            fp_ws(f);
            if (n >= max || !fp_object(f, &ins[n++]))
                return 0;
            fp_ws(f);
            if (f->p < f->e && *f->p == ']') {
                f->p++;
                break;
            }
            if (f->p >= f->e || *f->p != ',')
                return 0;
            f->p++;
        }
    } else if (!fp_object(f, &ins[n++])) {
        return 0;
    }
    fp_ws(f);
    return f->p == f->e ? n : 0;
}

int gw__ping_parse_json_fast(const char *text, size_t len, const gw_ping_limits *lim,
                             int64_t now_ms, gw_ping_batch *b)
{
    gw__ping_in ins[GW_FAST_MAX];
    fp f = {text, text + len};
    size_t max = lim->max_batch < GW_FAST_MAX ? lim->max_batch : GW_FAST_MAX;
    size_t n = fp_frame(&f, ins, max);
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        gw__ping_add(b, &ins[i], lim, now_ms, (int32_t)i);
    return 1;
}
