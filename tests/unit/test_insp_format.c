/* SPDX-License-Identifier: MIT */
/*
 * test_insp_format.c — record rendering for `cairn log dump`:
 *   - json: a ping CloudEvent shows its attributes and its BlePing data
 *     (the client's ping id), a hunt event its HuntEvent; text, binary,
 *     unknown-type and undecodable data; plain UTF-8 and binary values;
 *     null keys and values; timestamps outside RFC 3339's range;
 *   - every json line parses (jansson) whatever bytes the record holds,
 *     including invalid UTF-8 and control characters (random records);
 *   - text is one line per record; raw is the value bytes exactly;
 *   - the UTF-8 validator follows RFC 3629; base64 matches RFC 4648 and,
 *     byte for byte, the hand-written encoder libsodium's replaced;
 *   - allocation failure at every step: CN_ENOMEM, nothing appended,
 *     no leak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_ce.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "insp.h"
#include "lg.h"
#include "lg_batch.h"
#include "insp_json.h"

#define CT_KEY "content-type"

/* One record built through the real builder and iterator. */
typedef struct one {
    cn_buf batch;
    lg_batch_iter *it;
    lg_record rec;
} one;

static void one_make(one *o, int64_t ts, const void *key, size_t klen, const void *val, size_t vlen,
                     const lg_header *hs, size_t nh)
{
    lg_batch_builder *b;
    assert_int_equal(lg_batch_builder_new(&b, LG_COMP_NONE), 0);
    assert_int_equal(lg_batch_builder_add(b, ts, key, klen, val, vlen, hs, nh), 0);
    o->batch = (cn_buf)CN_BUF_INIT;
    assert_int_equal(lg_batch_builder_finish(b, &o->batch), 0);
    lg_batch_builder_free(b);
    lg_batch_stamp(o->batch.data, 41, 0);
    assert_int_equal(lg_batch_iter_open(&o->it, o->batch.data, o->batch.len, 0), 0);
    assert_int_equal(lg_batch_iter_next(o->it, &o->rec), 0);
}

static void one_free(one *o)
{
    lg_batch_iter_close(o->it);
    cn_buf_free(&o->batch);
}

static const lg_header ce_hdr = {(const unsigned char *)CT_KEY, 12,
                                 (const unsigned char *)CN_CE_CONTENT_TYPE, 32};

/* Render as json, check it is exactly one line, parse it. */
static json_t *as_json(const lg_record *rec, const char *topic)
{
    cn_buf out = CN_BUF_INIT;
    assert_int_equal(insp_format_record(&out, INSP_FMT_JSON, topic, 3, rec), 0);
    assert_true(out.len > 0);
    assert_int_equal(out.data[out.len - 1], '\n');
    assert_null(memchr(out.data, '\n', out.len - 1));
    json_error_t err;
    json_t *j = json_loadb((const char *)out.data, out.len, JSON_ALLOW_NUL, &err);
    if (!j)
        fail_msg("invalid json (%s): %.*s", err.text, (int)out.len, out.data);
    cn_buf_free(&out);
    return j;
}

static const char *jstr(json_t *o, const char *path)
{
    /* path: dot-separated members */
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = o;
    for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, "."))
        cur = json_object_get(cur, tok);
    assert_non_null(cur);
    return json_is_string(cur) ? json_string_value(cur) : NULL;
}

static json_int_t jint(json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = o;
    for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, "."))
        cur = json_object_get(cur, tok);
    assert_true(json_is_integer(cur));
    return json_integer_value(cur);
}

/* ---- CloudEvents ------------------------------------------------------------- */

static void test_json_ping(void **st)
{
    (void)st;
    Cairn__V1__BlePing ping = CAIRN__V1__BLE_PING__INIT;
    ping.id = "c-1";
    ping.beacon = "b-07";
    ping.rssi = -61;
    ping.ts = 1764320000123LL;
    ping.player = "p-0042";
    cn_buf v = CN_BUF_INIT;
    assert_int_equal(cn_ce_encode_ping(&v, "gw1", "ce-77", 1764320000456LL, &ping), 0);
    one o;
    one_make(&o, 1764320000500LL, "p-0042", 6, v.data, v.len, &ce_hdr, 1);
    json_t *j = as_json(&o.rec, "ble-raw");
    assert_string_equal(jstr(j, "topic"), "ble-raw");
    assert_int_equal(jint(j, "partition"), 3);
    assert_int_equal(jint(j, "offset"), 41);
    assert_string_equal(jstr(j, "timestamp"), "2025-11-28T08:53:20.500Z");
    assert_true(jint(j, "timestamp_ms") == 1764320000500LL);
    assert_string_equal(jstr(j, "key"), "p-0042");
    json_t *h0 = json_array_get(json_object_get(j, "headers"), 0);
    assert_string_equal(jstr(h0, "key"), CT_KEY);
    assert_string_equal(jstr(h0, "value"), CN_CE_CONTENT_TYPE);
    assert_string_equal(jstr(j, "value.specversion"), "1.0");
    assert_string_equal(jstr(j, "value.type"), "cairn.ble.ping");
    assert_string_equal(jstr(j, "value.id"), "ce-77");
    assert_string_equal(jstr(j, "value.source"), "/gateway/gw1");
    assert_string_equal(jstr(j, "value.subject"), "p-0042");
    assert_string_equal(jstr(j, "value.time"), "2025-11-28T08:53:20.456Z");
    assert_string_equal(jstr(j, "value.datacontenttype"), "application/protobuf");
    assert_string_equal(jstr(j, "value.data_type_url"), "type.googleapis.com/cairn.v1.BlePing");
    /* the client's own ping id, and the rest of the BlePing */
    assert_string_equal(jstr(j, "value.data.id"), "c-1");
    assert_string_equal(jstr(j, "value.data.beacon"), "b-07");
    assert_int_equal(jint(j, "value.data.rssi"), -61);
    assert_true(jint(j, "value.data.ts") == 1764320000123LL);
    assert_string_equal(jstr(j, "value.data.hunt"), "");
    json_decref(j);

    /* text: one line with the type, ids and the data */
    cn_buf t = CN_BUF_INIT;
    assert_int_equal(insp_format_record(&t, INSP_FMT_TEXT, "ble-raw", 3, &o.rec), 0);
    assert_int_equal(t.data[t.len - 1], '\n');
    assert_int_equal(cn_buf_append(&t, "", 1), 0);
    const char *line = (const char *)t.data;
    assert_non_null(strstr(line, "ble-raw/3@41 2025-11-28T08:53:20.500Z key=\"p-0042\""));
    assert_non_null(strstr(line, " cairn.ble.ping id=\"ce-77\" source=\"/gateway/gw1\""));
    assert_non_null(strstr(line, "data={\"id\":\"c-1\",\"beacon\":\"b-07\",\"rssi\":-61"));
    cn_buf_free(&t);

    /* raw: the value bytes, nothing else */
    cn_buf r = CN_BUF_INIT;
    assert_int_equal(insp_format_record(&r, INSP_FMT_RAW, NULL, 3, &o.rec), 0);
    assert_int_equal(r.len, v.len);
    assert_memory_equal(r.data, v.data, v.len);
    cn_buf_free(&r);
    one_free(&o);
    cn_buf_free(&v);
}

static void test_json_hunt(void **st)
{
    (void)st;
    Cairn__V1__HuntEvent he = CAIRN__V1__HUNT_EVENT__INIT;
    he.hunt = "museum-night";
    he.player = "p-7";
    he.kind = "score_changed";
    he.score = 30;
    he.found = 3;
    he.input_offset = 9000000000LL;
    cn_buf v = CN_BUF_INIT;
    assert_int_equal(cn_ce_encode_hunt(&v, "w1", "h-1", 1764320000000LL, &he), 0);
    /* header key case and media type parameters do not matter */
    lg_header h = {(const unsigned char *)"Content-Type", 12,
                   (const unsigned char *)"application/cloudevents+protobuf; charset=utf-8", 47};
    one o;
    one_make(&o, 1, "p-7", 3, v.data, v.len, &h, 1);
    json_t *j = as_json(&o.rec, NULL);
    assert_null(json_object_get(j, "topic"));
    assert_string_equal(jstr(j, "value.type"), "cairn.hunt.score_changed");
    assert_string_equal(jstr(j, "value.data.kind"), "score_changed");
    assert_int_equal(jint(j, "value.data.score"), 30);
    assert_true(jint(j, "value.data.input_offset") == 9000000000LL);
    json_decref(j);
    one_free(&o);

    /* a type that is not a plain token is quoted in text */
    cn_ce odd = {.id = "i", .source = "s", .type = "odd type \"x\""};
    cn_buf_reset(&v);
    assert_int_equal(cn_ce_encode(&odd, &v), 0);
    one_make(&o, 1, "k", 1, v.data, v.len, &ce_hdr, 1);
    cn_buf t = CN_BUF_INIT;
    assert_int_equal(insp_format_record(&t, INSP_FMT_TEXT, NULL, 0, &o.rec), 0);
    assert_int_equal(cn_buf_append(&t, "", 1), 0);
    assert_non_null(strstr((const char *)t.data, " \"odd type \\\"x\\\"\" id=\"i\""));
    cn_buf_free(&t);
    one_free(&o);
    cn_buf_free(&v);
}

static void test_json_ce_variants(void **st)
{
    (void)st;
    cn_ce_attr ext[3] = {{.name = "flag", .kind = CN_CE_BOOL, .b = 1},
                         {.name = "raw",
                          .kind = CN_CE_BYTES,
                          .bytes = (const unsigned char *)"\xff\x00\xfe",
                          .bytes_len = 3},
                         {.name = "seen", .kind = CN_CE_TIMESTAMP, .t = {1, 5}}};
    struct {
        enum cn_ce_data_kind kind;
        const char *type_url;
        const char *data;
        size_t len;
    } cases[] = {
        {CN_CE_DATA_TEXT, NULL, "line1\nline2 \"q\"", 15},
        {CN_CE_DATA_BINARY, NULL, "\xff\x00\xfe", 3},
        {CN_CE_DATA_PROTO, "example.com/other.Type", "\x08\x01", 2},
        {CN_CE_DATA_PROTO, "type.googleapis.com/cairn.v1.BlePing", "\x0a\x40", 2}, /* truncated */
        {CN_CE_DATA_NONE, NULL, NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cn_ce ev = {.id = "e",
                    .source = "s",
                    .type = "t",
                    .ext = ext,
                    .n_ext = 3,
                    .data_kind = cases[i].kind,
                    .type_url = cases[i].type_url,
                    .data = (const unsigned char *)cases[i].data,
                    .data_len = cases[i].len};
        cn_buf v = CN_BUF_INIT;
        assert_int_equal(cn_ce_encode(&ev, &v), 0);
        one o;
        one_make(&o, 1, NULL, 0, v.data, v.len, &ce_hdr, 1);
        json_t *j = as_json(&o.rec, NULL);
        assert_true(json_is_null(json_object_get(j, "key")));
        assert_true(json_is_true(json_object_get(json_object_get(j, "value"), "flag")));
        assert_string_equal(jstr(j, "value.raw"), "/wD+");
        assert_string_equal(jstr(j, "value.seen"), "1970-01-01T00:00:01.000000005Z");
        switch (i) {
        case 0:
            assert_string_equal(jstr(j, "value.data"), "line1\nline2 \"q\"");
            break;
        case 1:
            assert_string_equal(jstr(j, "value.data_base64"), "/wD+");
            break;
        case 2:
            assert_string_equal(jstr(j, "value.data_type_url"), "example.com/other.Type");
            assert_string_equal(jstr(j, "value.data_base64"), "CAE=");
            break;
        case 3:
            assert_string_equal(jstr(j, "value.data_base64"), "CkA=");
            assert_non_null(jstr(j, "value.data_error"));
            break;
        default:
            assert_null(json_object_get(json_object_get(j, "value"), "data"));
        }
        json_decref(j);
        /* text stays on one line even with newlines in the data */
        cn_buf t = CN_BUF_INIT;
        assert_int_equal(insp_format_record(&t, INSP_FMT_TEXT, NULL, 0, &o.rec), 0);
        assert_null(memchr(t.data, '\n', t.len - 1));
        cn_buf_free(&t);
        one_free(&o);
        cn_buf_free(&v);
    }
}

/* ---- plain values ---------------------------------------------------------------- */

static void test_json_plain_values(void **st)
{
    (void)st;
    one o;
    /* UTF-8 text with control characters */
    one_make(&o, -1, "k\xc3\xa9", 3, "caf\xc3\xa9\t\x01", 7, NULL, 0);
    json_t *j = as_json(&o.rec, NULL);
    assert_string_equal(jstr(j, "key"), "k\xc3\xa9");
    assert_string_equal(jstr(j, "value"), "caf\xc3\xa9\t\x01");
    assert_true(json_is_null(json_object_get(j, "timestamp"))); /* Kafka's "no timestamp" */
    assert_int_equal(jint(j, "timestamp_ms"), -1);
    assert_int_equal(json_array_size(json_object_get(j, "headers")), 0);
    json_decref(j);
    one_free(&o);

    /* binary key and value: base64 under _b64 names; null value */
    one_make(&o, INT64_MIN, "\xff", 1, NULL, 0, NULL, 0);
    j = as_json(&o.rec, NULL);
    assert_string_equal(jstr(j, "key_b64"), "/w==");
    assert_null(json_object_get(j, "key"));
    assert_true(json_is_null(json_object_get(j, "value")));
    assert_true(json_is_null(json_object_get(j, "timestamp")));
    json_decref(j);
    cn_buf r = CN_BUF_INIT;
    assert_int_equal(insp_format_record(&r, INSP_FMT_RAW, NULL, 0, &o.rec), 0);
    assert_int_equal(r.len, 0);
    cn_buf_free(&r);
    one_free(&o);

    /* claims to be a CloudEvent but is not: shown as bytes with the reason */
    one_make(&o, 0, "k", 1, "\xff\xfe not protobuf", 15, &ce_hdr, 1);
    j = as_json(&o.rec, NULL);
    assert_string_equal(jstr(j, "value_error"), cn_strerror(CN_EDECODE));
    assert_non_null(jstr(j, "value_b64"));
    json_decref(j);
    cn_buf t = CN_BUF_INIT;
    assert_int_equal(insp_format_record(&t, INSP_FMT_TEXT, "x", 0, &o.rec), 0);
    assert_int_equal(cn_buf_append(&t, "", 1), 0);
    assert_non_null(strstr((const char *)t.data, "value_error="));
    assert_non_null(strstr((const char *)t.data, "value_b64="));
    cn_buf_free(&t);
    one_free(&o);

    /* hostile header: invalid UTF-8 key, NUL and quote in it, null value */
    lg_header hs[2] = {{(const unsigned char *)"b\xc0\x80\"\0d", 6, NULL, 0},
                       {(const unsigned char *)"bin", 3, (const unsigned char *)"\x80", 1}};
    one_make(&o, 0, "k", 1, "v", 1, hs, 2);
    j = as_json(&o.rec, NULL);
    json_t *h0 = json_array_get(json_object_get(j, "headers"), 0);
    json_t *key0 = json_object_get(h0, "key");
    assert_int_equal(json_string_length(key0), 1 + 3 + 3 + 1 + 1 + 1); /* b FFFD FFFD " NUL d */
    assert_memory_equal(json_string_value(key0), "b\xef\xbf\xbd\xef\xbf\xbd\"\0d", 10);
    assert_true(json_is_null(json_object_get(h0, "value")));
    json_t *h1 = json_array_get(json_object_get(j, "headers"), 1);
    assert_string_equal(jstr(h1, "value_b64"), "gA==");
    json_decref(j);
    one_free(&o);
}

/* The base64 cairn log dump printed before it used libsodium's: a plain
 * RFC 4648 table encoder, kept here as the oracle for the one in
 * insp_json.c (NUL-terminated into o). */
static void ref_base64(char *o, const unsigned char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *o++ = tab[v >> 18], *o++ = tab[(v >> 12) & 63], *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (n - i >= 1) {
        uint32_t v = (uint32_t)s[i] << 16 | (n - i == 2 ? (uint32_t)s[i + 1] << 8 : 0);
        *o++ = tab[v >> 18], *o++ = tab[(v >> 12) & 63];
        *o++ = n - i == 2 ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = 0;
}

/* libsodium's ORIGINAL variant gives byte for byte what the hand-written
 * encoder gave: every length 0..600 of pseudo-random bytes, every byte value
 * in every position of a 3-byte group (so all 64 symbols, '+' and '/'
 * included, and both paddings), appended after existing text without a
 * NUL counted; allocation failure leaves the buffer as it was. */
static void test_base64_same_as_before(void **st)
{
    (void)st;
    unsigned char in[600];
    char want[801];
    uint32_t x = 0x9e3779b9u;
    for (size_t i = 0; i < sizeof(in); i++) {
        x = x * 1664525u + 1013904223u;
        in[i] = (unsigned char)(x >> 24);
    }
    for (size_t n = 0; n <= sizeof(in); n++) {
        cn_buf b = CN_BUF_INIT;
        assert_int_equal(cn_buf_append(&b, "pre:", 4), 0);
        assert_int_equal(insp__base64(&b, in, n), 0);
        ref_base64(want, in, n);
        assert_int_equal(b.len, 4 + strlen(want));
        assert_memory_equal(b.data, "pre:", 4);
        assert_memory_equal(b.data + 4, want, b.len - 4);
        cn_buf_free(&b);
    }
    for (int v = 0; v < 256; v++)
        for (size_t pos = 0; pos < 3; pos++)
            for (size_t n = pos + 1; n <= 3; n++) {
                unsigned char g[3] = {0xa5, 0x5a, 0xff};
                g[pos] = (unsigned char)v;
                cn_buf b = CN_BUF_INIT;
                assert_int_equal(insp__base64(&b, g, n), 0);
                ref_base64(want, g, n);
                assert_int_equal(b.len, strlen(want));
                assert_memory_equal(b.data, want, b.len);
                cn_buf_free(&b);
            }
    cn_buf b = CN_BUF_INIT;
    assert_int_equal(insp__base64(&b, (const unsigned char *)"\xfb\xff\xbf", 3), 0);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "+/+/", 4);
    cn_buf_free(&b);
    assert_int_equal(cn_buf_append(&b, "keep", 4), 0);
    assert_true(b.cap < 4 + 800 + 1); /* so the 800 characters need a new allocation */
    cn_test_alloc_fail_at(1, 0);
    assert_int_equal(insp__base64(&b, in, sizeof(in)), CN_ENOMEM);
    cn_test_alloc_reset();
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "keep", 4);
    cn_buf_free(&b);
}

/* Random keys, values and headers (and random CloudEvent-flagged values):
 * every line must be valid JSON. */
static void test_json_always_valid(void **st)
{
    (void)st;
    uint32_t x = 12345;
    for (int n = 0; n < 2000; n++) {
        unsigned char k[24], v[64], hk[8], hv[8];
        size_t kl = 0, vl = 0;
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        kl = x % sizeof(k);
        vl = (x >> 8) % sizeof(v);
        for (size_t i = 0; i < sizeof(v); i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            v[i] = (unsigned char)x;
            if (i < sizeof(k))
                k[i] = (unsigned char)(x >> 8);
            if (i < sizeof(hk))
                hk[i] = (unsigned char)(x >> 16), hv[i] = (unsigned char)(x >> 24);
        }
        lg_header hs[2] = {{hk, sizeof(hk), hv, sizeof(hv)}, ce_hdr};
        one o;
        one_make(&o, (int64_t)x * 1000, k, kl, v, vl, hs, (size_t)(1 + n % 2));
        json_t *j = as_json(&o.rec, "t\xff\"");
        json_decref(j);
        one_free(&o);
    }
}

/* ---- helpers ------------------------------------------------------------------ */

static void test_utf8_and_base64(void **st)
{
    (void)st;
    struct {
        const char *s;
        size_t n;
        int ok;
    } cases[] = {
        {"", 0, 1},
        {"plain", 5, 1},
        {"\xc3\xa9", 2, 1},
        {"\xe2\x82\xac", 3, 1},
        {"\xf0\x9f\x98\x80", 4, 1},
        {"\xf4\x8f\xbf\xbf", 4, 1}, /* U+10FFFF */
        {"\xc0\x80", 2, 0},         /* overlong NUL */
        {"\xe0\x80\xaf", 3, 0},     /* overlong '/' */
        {"\xed\xa0\x80", 3, 0},     /* surrogate */
        {"\xf4\x90\x80\x80", 4, 0}, /* above U+10FFFF */
        {"\xe2\x82", 2, 0},         /* truncated */
        {"\x80", 1, 0},             /* lone continuation */
        {"\xff", 1, 0},
        {"a\0b", 3, 1}, /* NUL is valid UTF-8 (escaped in JSON) */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(cn_utf8_valid((const unsigned char *)cases[i].s, cases[i].n), cases[i].ok);
    /* RFC 4648 test vectors */
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        cn_buf b = CN_BUF_INIT;
        assert_int_equal(insp__base64(&b, (const unsigned char *)in[i], strlen(in[i])), 0);
        assert_int_equal(b.len, strlen(want[i]));
        if (b.len)
            assert_memory_equal(b.data, want[i], b.len);
        cn_buf_free(&b);
    }
    /* RFC 3339 edges */
    cn_buf b = CN_BUF_INIT;
    assert_int_equal(insp__rfc3339(&b, -62135596800LL, 0), 0);
    assert_int_equal(cn_buf_append(&b, "", 1), 0);
    assert_string_equal((const char *)b.data, "0001-01-01T00:00:00.000Z");
    cn_buf_reset(&b);
    assert_int_equal(insp__rfc3339(&b, 253402300799LL, 999999999), 0);
    assert_int_equal(cn_buf_append(&b, "", 1), 0);
    assert_string_equal((const char *)b.data, "9999-12-31T23:59:59.999999999Z");
    cn_buf_reset(&b);
    assert_int_equal(insp__rfc3339(&b, 253402300800LL, 0), CN_ERANGE);
    assert_int_equal(insp__rfc3339(&b, 0, -1), CN_ERANGE);
    assert_int_equal(b.len, 0);
    cn_buf_free(&b);

    enum insp_format f;
    assert_int_equal(insp_format_parse("json", &f), 0);
    assert_int_equal(f, INSP_FMT_JSON);
    assert_int_equal(insp_format_parse("raw", &f), 0);
    assert_int_equal(f, INSP_FMT_RAW);
    assert_int_equal(insp_format_parse("JSON", &f), CN_EINVAL);
    assert_int_equal(insp_format_parse(NULL, &f), CN_EINVAL);
    cn_buf o = CN_BUF_INIT;
    lg_record rec = {0};
    assert_int_equal(insp_format_record(&o, (enum insp_format)7, NULL, 0, &rec), CN_EINVAL);
    cn_buf_free(&o);
}

static int buf_has(const cn_buf *b, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, needle, n) == 0)
            return 1;
    return 0;
}

/* Transactions: a marker is shown as the marker (no key, no value; raw
 * prints nothing), a transactional record with its outcome; a hostile
 * control record (no key, a short key, an unknown type) still renders. */
static void test_transaction_markers_and_outcomes(void **st)
{
    (void)st;
    one o;
    cn_buf marker = CN_BUF_INIT;
    assert_int_equal(lg_control_batch(&marker, 1000, 3, 0, 0, 1764320000123), 0);
    lg_batch_iter *it;
    lg_record rec;
    assert_int_equal(lg_batch_iter_open(&it, marker.data, marker.len, 0), 0);
    assert_int_equal(lg_batch_iter_next(it, &rec), 0);
    insp_txn tx = {1, 1000, 3, NULL};
    cn_buf out = CN_BUF_INIT;
    assert_int_equal(insp_format_record_txn(&out, INSP_FMT_JSON, "t", 2, &rec, &tx), 0);
    json_error_t err;
    json_t *j = json_loadb((const char *)out.data, out.len, 0, &err);
    assert_non_null(j);
    assert_string_equal(jstr(j, "control"), "ABORT");
    assert_int_equal(jint(j, "producer_id"), 1000);
    assert_int_equal(jint(j, "producer_epoch"), 3);
    assert_null(json_object_get(j, "value"));
    json_decref(j);
    cn_buf_reset(&out);
    assert_int_equal(insp_format_record_txn(&out, INSP_FMT_TEXT, "t", 2, &rec, &tx), 0);
    assert_true(buf_has(&out, " control=ABORT producer=1000/3\n"));
    cn_buf_reset(&out);
    assert_int_equal(insp_format_record_txn(&out, INSP_FMT_RAW, "t", 2, &rec, &tx), 0);
    assert_int_equal(out.len, 0);
    lg_batch_iter_close(it);
    cn_buf_free(&marker);
    /* hostile control records: no key, a short key, an unknown type */
    const char *keys[3] = {NULL, "\x00", "\x00\x00\x00\x07"};
    const size_t klen[3] = {0, 1, 4};
    const char *want[3] = {"UNKNOWN", "UNKNOWN", "TYPE_7"};
    for (int i = 0; i < 3; i++) {
        one_make(&o, 5, keys[i], klen[i], "v", 1, NULL, 0);
        cn_buf_reset(&out);
        assert_int_equal(insp_format_record_txn(&out, INSP_FMT_JSON, NULL, 0, &o.rec, &tx), 0);
        j = json_loadb((const char *)out.data, out.len, 0, &err);
        assert_non_null(j);
        assert_string_equal(jstr(j, "control"), want[i]);
        json_decref(j);
        one_free(&o);
    }
    /* a transactional data record: its outcome and producer */
    one_make(&o, 5, "k", 1, "v", 1, NULL, 0);
    insp_txn dt = {0, 77, 0, "aborted"};
    cn_buf_reset(&out);
    assert_int_equal(insp_format_record_txn(&out, INSP_FMT_JSON, NULL, 0, &o.rec, &dt), 0);
    j = json_loadb((const char *)out.data, out.len, 0, &err);
    assert_non_null(j);
    assert_string_equal(jstr(j, "transaction"), "aborted");
    assert_int_equal(jint(j, "producer_id"), 77);
    assert_string_equal(jstr(j, "value"), "v");
    json_decref(j);
    cn_buf_reset(&out);
    assert_int_equal(insp_format_record_txn(&out, INSP_FMT_TEXT, NULL, 0, &o.rec, &dt), 0);
    assert_true(buf_has(&out, " txn=aborted producer=77 "));
    cn_buf_reset(&out);
    assert_int_equal(insp_format_record_txn(&out, INSP_FMT_RAW, NULL, 0, &o.rec, &dt), 0);
    assert_int_equal(out.len, 1);
    cn_buf_free(&out);
    one_free(&o);
}

static void test_oom(void **st)
{
    (void)st;
    Cairn__V1__BlePing ping = CAIRN__V1__BLE_PING__INIT;
    ping.id = "c-1";
    ping.beacon = "b-07";
    ping.player = "p-1";
    cn_buf v = CN_BUF_INIT;
    assert_int_equal(cn_ce_encode_ping(&v, "gw", "ce", 1, &ping), 0);
    one o;
    one_make(&o, 1, "p-1", 3, v.data, v.len, &ce_hdr, 1);
    for (int fmt = INSP_FMT_JSON; fmt <= INSP_FMT_TEXT; fmt++) {
        int ok = 0;
        for (long n = 1; n < 200 && !ok; n++) {
            cn_buf out = CN_BUF_INIT;
            cn_test_alloc_fail_at(n, 1);
            int rc = insp_format_record(&out, (enum insp_format)fmt, "ble-raw", 0, &o.rec);
            if (rc) {
                assert_int_equal(rc, CN_ENOMEM);
                assert_int_equal(out.len, 0);
            } else {
                ok = 1;
                assert_non_null(memmem(out.data, out.len, "c-1", 3));
            }
            cn_buf_free(&out);
            long live = cn_test_alloc_live();
            cn_test_alloc_reset();
            assert_int_equal(live, 0);
        }
        assert_true(ok);
    }
    one_free(&o);
    cn_buf_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_ping),
        cmocka_unit_test(test_json_hunt),
        cmocka_unit_test(test_json_ce_variants),
        cmocka_unit_test(test_json_plain_values),
        cmocka_unit_test(test_json_always_valid),
        cmocka_unit_test(test_utf8_and_base64),
        cmocka_unit_test(test_base64_same_as_before),
        cmocka_unit_test(test_transaction_markers_and_outcomes),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
