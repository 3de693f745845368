/* SPDX-License-Identifier: MIT */
/*
 * test_gw_ping.c — player protocol v1 payloads: JSON pings (one, arrays,
 * mixed good and bad), every validation rule with its stable error code
 * and the boundaries of each range, duplicate ids, frame-level errors
 * (not JSON, duplicate keys, trailing bytes, empty, too many, deep
 * nesting), the same rules through protobuf PingBatch (every truncation,
 * garbage, allocation failure without leaks), and the exact ack and error
 * payloads in JSON and protobuf; the JSON fast path takes the frames apps
 * send, declines the rest, and always agrees with jansson.
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

#include "cairn.pb-c.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "gw_ping.h"
#include "gw_ping_int.h"

#define NOW 1764320000123LL
static const gw_ping_limits LIM = GW_PING_LIMITS_DEFAULT;

static gw_ping_batch B;

static int setup(void **st)
{
    (void)st;
    return gw_ping_batch_init(&B, LIM.max_batch);
}

static int teardown(void **st)
{
    (void)st;
    gw_ping_batch_free(&B);
    return 0;
}

static void parse(const char *json)
{
    assert_int_equal(gw_ping_parse_json(json, strlen(json), &LIM, NOW, &B), 0);
}

/* Parse a single ping object and return its error code, or "ok". */
static const char *code1(const char *json)
{
    parse(json);
    if (B.nerr == 0) {
        assert_int_equal(B.n, 1);
        return "ok";
    }
    assert_int_equal(B.n, 0);
    assert_int_equal(B.nerr, 1);
    return B.errs[0].code;
}

static void test_json_single_and_array(void **st)
{
    (void)st;
    parse("{\"id\":\"c-1\",\"beacon\":\"b-07\",\"rssi\":-61,\"ts\":1764320000123}");
    assert_int_equal(B.n, 1);
    assert_int_equal(B.nerr, 0);
    assert_string_equal(B.pings[0].id, "c-1");
    assert_string_equal(B.pings[0].beacon, "b-07");
    assert_int_equal(B.pings[0].rssi, -61);
    assert_true(B.pings[0].ts == 1764320000123LL);
    parse("[{\"id\":\"a\",\"beacon\":\"b\",\"rssi\":-1,\"ts\":1764320000000},"
          " {\"id\":\"b\",\"beacon\":\"b\",\"rssi\":-2,\"ts\":1764320000001,\"extra\":[1,2],"
          "\"player\":\"spoof\"}]");
    assert_int_equal(B.n, 2);
    assert_int_equal(B.nerr, 0);
    assert_string_equal(B.pings[1].id, "b");
}

static void test_json_field_rules(void **st)
{
    (void)st;
    char j[512], id64[65], id65[66];
    memset(id64, 'i', 64), id64[64] = 0;
    memset(id65, 'i', 65), id65[65] = 0;
    static const struct {
        const char *id, *beacon, *rssi, *ts, *want;
    } c[] = {
        {NULL, "\"b\"", "-61", "1764320000123", "missing_id"},
        {"1", "\"b\"", "-61", "1764320000123", "bad_id"},
        {"\"\"", "\"b\"", "-61", "1764320000123", "bad_id"},
        {"\"a b\"", "\"b\"", "-61", "1764320000123", "bad_id"},
        {"\"caf\\u00e9\"", "\"b\"", "-61", "1764320000123", "bad_id"},
        {"\"a\\nb\"", "\"b\"", "-61", "1764320000123", "bad_id"},
        {"\"c\"", NULL, "-61", "1764320000123", "missing_beacon"},
        {"\"c\"", "null", "-61", "1764320000123", "bad_beacon"},
        {"\"c\"", "\"b/1\"", "-61", "1764320000123", "bad_beacon"},
        {"\"c\"", "\"b\"", NULL, "1764320000123", "missing_rssi"},
        {"\"c\"", "\"b\"", "-61.0", "1764320000123", "bad_rssi"},
        {"\"c\"", "\"b\"", "\"-61\"", "1764320000123", "bad_rssi"},
        {"\"c\"", "\"b\"", "-128", "1764320000123", "bad_rssi"},
        {"\"c\"", "\"b\"", "-127", "1764320000123", "ok"},
        {"\"c\"", "\"b\"", "20", "1764320000123", "ok"},
        {"\"c\"", "\"b\"", "21", "1764320000123", "bad_rssi"},
        {"\"c\"", "\"b\"", "true", "1764320000123", "bad_rssi"},
        {"\"c\"", "\"b\"", "-61", NULL, "missing_ts"},
        {"\"c\"", "\"b\"", "-61", "1764320000123.5", "bad_ts"},
        {"\"c\"", "\"b\"", "-61", "\"1764320000123\"", "bad_ts"},
        {"\"c\"", "\"b\"", "-61", "0", "bad_ts"},
        {"\"c\"", "\"b\"", "-61", "-1", "bad_ts"},
        {"\"c\"", "\"b\"", "-61", "1764233600123", "ok"},     /* now - 24h exactly */
        {"\"c\"", "\"b\"", "-61", "1764233600122", "bad_ts"}, /* 1 ms older */
        {"\"c\"", "\"b\"", "-61", "1764320300123", "ok"},     /* now + 5 min exactly */
        {"\"c\"", "\"b\"", "-61", "1764320300124", "bad_ts"},
        {"\"c\"", "\"b\"", "-61", "9223372036854775807", "bad_ts"},
        /* first failing field wins */
        {"1", "1", "1.5", "\"x\"", "bad_id"},
        {"\"c\"", "1", "1.5", "\"x\"", "bad_beacon"},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        int n = snprintf(j, sizeof(j), "{");
        if (c[i].id)
            n += snprintf(j + n, sizeof(j) - (size_t)n, "\"id\":%s,", c[i].id);
        if (c[i].beacon)
            n += snprintf(j + n, sizeof(j) - (size_t)n, "\"beacon\":%s,", c[i].beacon);
        if (c[i].rssi)
            n += snprintf(j + n, sizeof(j) - (size_t)n, "\"rssi\":%s,", c[i].rssi);
        if (c[i].ts)
            n += snprintf(j + n, sizeof(j) - (size_t)n, "\"ts\":%s,", c[i].ts);
        j[n - 1] = '}';
        const char *got = code1(j);
        if (strcmp(got, c[i].want) != 0)
            fail_msg("case %zu %s: got %s want %s", i, j, got, c[i].want);
        if (strcmp(got, "ok") != 0) {
            assert_true(strlen(B.errs[0].detail) > 0);
            assert_int_equal(B.errs[0].index, 0);
            /* the id is echoed only when it is a valid id */
            if (c[i].id && strcmp(c[i].id, "\"c\"") == 0)
                assert_string_equal(B.errs[0].id, "c");
            else
                assert_string_equal(B.errs[0].id, "");
        }
    }
    snprintf(j, sizeof(j), "{\"id\":\"%s\",\"beacon\":\"%s\",\"rssi\":-1,\"ts\":%lld}", id64, id64,
             NOW);
    assert_string_equal(code1(j), "ok");
    snprintf(j, sizeof(j), "{\"id\":\"%s\",\"beacon\":\"b\",\"rssi\":-1,\"ts\":%lld}", id65, NOW);
    assert_string_equal(code1(j), "bad_id");
    snprintf(j, sizeof(j), "{\"id\":\"c\",\"beacon\":\"%s\",\"rssi\":-1,\"ts\":%lld}", id65, NOW);
    assert_string_equal(code1(j), "bad_beacon");
}

static void test_json_mixed_and_duplicates(void **st)
{
    (void)st;
    parse("[{\"id\":\"a\",\"beacon\":\"b\",\"rssi\":-1,\"ts\":1764320000000},"
          " {\"id\":\"x\",\"beacon\":\"b\",\"rssi\":99,\"ts\":1764320000000},"
          " 7, null,"
          " {\"id\":\"a\",\"beacon\":\"b\",\"rssi\":-1,\"ts\":1764320000000},"
          " {\"id\":\"x\",\"beacon\":\"b\",\"rssi\":-1,\"ts\":1764320000000},"
          " {\"id\":\"c\",\"beacon\":\"b\",\"rssi\":-3,\"ts\":1764320000000}]");
    assert_int_equal(B.n, 2);
    assert_string_equal(B.pings[0].id, "a");
    assert_string_equal(B.pings[1].id, "c");
    assert_int_equal(B.nerr, 5);
    const char *want[] = {"bad_rssi", "not_ping", "not_ping", "duplicate_id", "duplicate_id"};
    const int32_t idx[] = {1, 2, 3, 4, 5};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(B.errs[i].code, want[i]);
        assert_int_equal(B.errs[i].index, idx[i]);
    }
    assert_string_equal(B.errs[0].id, "x");
    assert_string_equal(B.errs[3].id, "a");
}

static void test_json_frame_errors(void **st)
{
    (void)st;
    static const struct {
        const char *json, *want;
    } c[] = {
        {"", "bad_json"},
        {"{", "bad_json"},
        {"[{\"id\":\"a\"}", "bad_json"},
        {"{\"id\":\"a\",\"beacon\":\"b\",\"rssi\":-1,\"ts\":1764320000000} x", "bad_json"},
        {"{\"id\":\"a\",\"id\":\"b\",\"beacon\":\"b\",\"rssi\":-1,\"ts\":1764320000000}",
         "bad_json"},
        {"{\"id\":\"a\\u0000b\",\"beacon\":\"b\",\"rssi\":-1,\"ts\":1764320000000}", "bad_json"},
        {"{\"id\":\"a\",\"beacon\":\"b\",\"rssi\":-1,\"ts\":99999999999999999999999}", "bad_json"},
        /* One valid JSON value that is not a ping: not_ping, as documented. */
        {"123", "not_ping"},
        {"\"ping\"", "not_ping"},
        {"null", "not_ping"},
        {" true ", "not_ping"},
        {"-1.5e3", "not_ping"},
        /* ... but still exactly one value. */
        {"123 4", "bad_json"},
        {"nul", "bad_json"},
        {"\"a\\u0000\"", "bad_json"},
        {"[]", "empty_batch"},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        parse(c[i].json);
        assert_int_equal(B.n, 0);
        assert_int_equal(B.nerr, 1);
        assert_string_equal(B.errs[0].code, c[i].want);
        assert_int_equal(B.errs[0].index, -1);
        assert_string_equal(B.errs[0].id, "");
    }
    /* Deep nesting is refused, not recursed into without bound. */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = 0;
    parse(deep);
    assert_int_equal(B.n, 0);
    assert_int_equal(B.nerr, 1);
    free(deep);
}

static char *array_of(size_t n)
{
    char *s = malloc(n * 80 + 3);
    size_t o = 0;
    s[o++] = '[';
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(s + o, "%s{\"id\":\"p%zu\",\"beacon\":\"b\",\"rssi\":-50,\"ts\":%lld}",
                             i ? "," : "", i, NOW);
    s[o++] = ']';
    s[o] = 0;
    return s;
}

static void test_json_batch_limit(void **st)
{
    (void)st;
    char *s = array_of(LIM.max_batch);
    parse(s);
    assert_int_equal(B.n, LIM.max_batch);
    assert_int_equal(B.nerr, 0);
    free(s);
    s = array_of(LIM.max_batch + 1);
    parse(s);
    assert_int_equal(B.n, 0);
    assert_int_equal(B.nerr, 1);
    assert_string_equal(B.errs[0].code, "too_many_pings");
    free(s);
    /* A batch smaller than the limits is a caller error. */
    gw_ping_batch small;
    assert_int_equal(gw_ping_batch_init(&small, 4), 0);
    assert_int_equal(gw_ping_parse_json("[]", 2, &LIM, NOW, &small), CN_EINVAL);
    gw_ping_batch_free(&small);
    gw_ping_batch_free(NULL);
    /* Allocation failure in init: error, nothing leaked. */
    for (long k = 1; k <= 2; k++) {
        cn_test_alloc_fail_at(k, 0);
        assert_int_equal(gw_ping_batch_init(&small, 64), CN_ENOMEM);
        assert_int_equal(cn_test_alloc_live(), 0);
        cn_test_alloc_reset();
    }
}

/* The fast path handles what apps send and declines the rest; whichever
 * path runs, the batch equals the jansson-only batch. */
static void test_json_fast_path(void **st)
{
    (void)st;
    static const struct {
        const char *json;
        int fast;
    } c[] = {
        {"{\"id\":\"c-1\",\"beacon\":\"b-07\",\"rssi\":-61,\"ts\":1764320000123}", 1},
        {" [ {\"ts\":1764320000123 , \"rssi\":-1,\"beacon\":\"b\",\"id\":\"a\"},\n\t{\"id\":\"b\"} "
         "] ",
         1},
        {"{}", 1},
        {"{\"id\":7,\"beacon\":\"b\",\"rssi\":\"x\",\"ts\":-0}", 1},
        {"{\"id\":\"a b\",\"beacon\":\"b\",\"rssi\":-61,\"ts\":1764320000123}", 1},
        /* declined: escapes, other keys, other types, duplicates, floats, leading zeros, long ints,
           junk */
        {"{\"id\":\"c\\u002d1\",\"beacon\":\"b\",\"rssi\":-61,\"ts\":1764320000123}", 0},
        {"{\"id\":\"c\",\"beacon\":\"b\",\"rssi\":-61,\"ts\":1764320000123,\"x\":1}", 0},
        {"{\"id\":\"c\",\"beacon\":null,\"rssi\":-61,\"ts\":1764320000123}", 0},
        {"{\"id\":\"c\",\"id\":\"d\",\"beacon\":\"b\",\"rssi\":-61,\"ts\":1764320000123}", 0},
        {"{\"id\":\"c\",\"beacon\":\"b\",\"rssi\":-61.0,\"ts\":1764320000123}", 0},
        {"{\"id\":\"c\",\"beacon\":\"b\",\"rssi\":-061,\"ts\":1764320000123}", 0},
        {"{\"id\":\"c\",\"beacon\":\"b\",\"rssi\":-61,\"ts\":1e12}", 0},
        {"{\"id\":\"c\",\"beacon\":\"b\",\"rssi\":-61,\"ts\":9223372036854775807}", 0},
        {"{\"id\":\"c\",\"beacon\":\"b\",\"rssi\":-61,\"ts\":99999999999999999999}", 0},
        {"{\"id\":\"caf\xc3\xa9\",\"beacon\":\"b\",\"rssi\":-61,\"ts\":1764320000123}", 0},
        {"{\"id\":\"c\",\"beacon\":\"b\",\"rssi\":-61,\"ts\":1764320000123} x", 0},
        {"{\"id\":\"c\",}", 0},
        {"[]", 0},
        {"[{}", 0},
        {"{\"id\":\"c\"", 0},
        {"-", 0},
    };
    gw_ping_batch ref;
    assert_int_equal(gw_ping_batch_init(&ref, LIM.max_batch), 0);
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        size_t n = strlen(c[i].json);
        B.n = B.nerr = 0;
        int fast = gw__ping_parse_json_fast(c[i].json, n, &LIM, NOW, &B);
        if (fast != c[i].fast)
            fail_msg("case %zu (%s): fast %d, want %d", i, c[i].json, fast, c[i].fast);
        if (!fast)
            assert_int_equal(B.n + B.nerr, 0); /* declining writes nothing */
        assert_int_equal(gw_ping_parse_json(c[i].json, n, &LIM, NOW, &B), 0);
        assert_int_equal(gw__ping_parse_json_slow(c[i].json, n, &LIM, NOW, &ref), 0);
        assert_int_equal(B.n, ref.n);
        assert_int_equal(B.nerr, ref.nerr);
        for (size_t k = 0; k < B.n; k++)
            assert_memory_equal(&B.pings[k], &ref.pings[k], sizeof(gw_ping));
        for (size_t k = 0; k < B.nerr; k++) {
            assert_string_equal(B.errs[k].code, ref.errs[k].code);
            assert_string_equal(B.errs[k].id, ref.errs[k].id);
            assert_string_equal(B.errs[k].detail, ref.errs[k].detail);
        }
    }
    /* An array longer than the limit is declined (jansson says too_many_pings). */
    char *s = array_of(LIM.max_batch + 1);
    assert_int_equal(gw__ping_parse_json_fast(s, strlen(s), &LIM, NOW, &B), 0);
    free(s);
    s = array_of(LIM.max_batch);
    assert_int_equal(gw__ping_parse_json_fast(s, strlen(s), &LIM, NOW, &B), 1);
    free(s);
    gw_ping_batch_free(&ref);
}

/* jansson's allocator hook is process-wide, so only a test may flip it:
 * it fails from allocation number jn_fail_at on and counts live blocks. */
static long jn_left, jn_live;

static void *fail_malloc(size_t n)
{
    if (jn_left-- <= 0)
        return NULL;
    size_t *p = malloc(n + sizeof(size_t));
    if (!p)
        return NULL;
    jn_live++;
    return p + 1;
}

static void count_free(void *p)
{
    if (!p)
        return;
    jn_live--;
    free((size_t *)p - 1);
}

static void test_json_out_of_memory(void **st)
{
    (void)st;
    jn_left = 0;
    jn_live = 0;
    json_set_alloc_funcs(fail_malloc, count_free);
    /* A frame the fast path declines needs jansson: failing its very first
     * allocation is CN_ENOMEM, not bad_json. */
    const char *other =
        "{\"id\":\"c\",\"beacon\":\"b\",\"rssi\":-61,\"ts\":1764320000123,\"extra\":true}";
    int rc1 = gw_ping_parse_json(other, strlen(other), &LIM, NOW, &B);
    /* The common frame takes the fast path, which allocates nothing. */
    const char *common = "{\"id\":\"c\",\"beacon\":\"b\",\"rssi\":-61,\"ts\":1764320000123}";
    int rc2 = gw_ping_parse_json(common, strlen(common), &LIM, NOW, &B);
    size_t n2 = B.n;
    assert_int_equal(rc1, CN_ENOMEM);
    assert_int_equal(rc2, 0);
    assert_int_equal(n2, 1);
    /* Failing at every later point: never a crash, never a leak, never a
     * partial accept; the answer is the ping, bad_json or CN_ENOMEM. */
    int saw_ok = 0;
    for (long k = 0; k < 40; k++) {
        jn_left = k;
        int rc = gw_ping_parse_json(other, strlen(other), &LIM, NOW, &B);
        assert_int_equal(jn_live, 0);
        if (rc == 0 && B.n == 1)
            saw_ok = 1;
        else if (rc == 0)
            assert_true(B.n == 0 && B.nerr == 1 && strcmp(B.errs[0].code, "bad_json") == 0);
        else
            assert_int_equal(rc, CN_ENOMEM);
    }
    json_set_alloc_funcs(malloc, free);
    assert_true(saw_ok); /* enough allocations: the frame parses */
}

/* Arrays are counted before they are decoded: a 64 KiB [{},{},...] of
 * ~16,000 elements is too_many_pings without a single jansson allocation;
 * commas inside strings (escaped quotes too) and nested values are not
 * elements; anything not an array, or broken before the limit, is left to
 * jansson. */
static void test_json_array_counted_before_decode(void **st)
{
    (void)st;
    size_t n = 16000;
    char *big = malloc(3 * n + 2);
    size_t k = 0;
    big[k++] = '[';
    for (size_t i = 0; i < n; i++) {
        memcpy(big + k, i ? ",{}" : "{}", i ? 3 : 2);
        k += i ? 3 : 2;
    }
    big[k++] = ']';
    jn_left = 1L << 40;
    jn_live = 0;
    long before = jn_left;
    json_set_alloc_funcs(fail_malloc, count_free);
    assert_int_equal(gw__ping_parse_json_slow(big, k, &LIM, NOW, &B), 0);
    long used = before - jn_left;
    /* Truncated after the 65th element began: still too many, undecoded. */
    assert_int_equal(gw_ping_parse_json(big, 3 * 65, &LIM, NOW, &B), 0);
    long used2 = before - jn_left;
    json_set_alloc_funcs(malloc, free);
    free(big);
    assert_int_equal(used, 0);
    assert_int_equal(used2, 0);
    assert_int_equal(B.nerr, 1);
    assert_string_equal(B.errs[0].code, "too_many_pings");
    /* Not elements: commas in strings (with escaped quotes and
     * backslashes), commas inside nested arrays and objects. */
    char *t = malloc(4096);
    strcpy(t, "  [\"");
    for (int i = 0; i < 100; i++)
        strcat(t, i % 3 ? ",\\\"," : ",\\\\,");
    strcat(t, "\"]");
    parse(t);
    assert_int_equal(B.nerr, 1);
    assert_string_equal(B.errs[0].code, "not_ping");
    strcpy(t, "[[");
    for (int i = 0; i < 100; i++)
        strcat(t, "1,");
    strcat(t, "1],{\"a\":[1,2,3],\"b\":{\"c\":1,\"d\":2}}]");
    parse(t);
    assert_int_equal(B.nerr, 2);
    assert_string_equal(B.errs[0].code, "not_ping");
    /* An object with many commas is one ping (missing fields, not too many). */
    strcpy(t, "{");
    for (int i = 0; i < 100; i++) {
        char kv[32];
        snprintf(kv, sizeof(kv), "\"k%d\":%d,", i, i);
        strcat(t, kv);
    }
    strcat(t, "\"id\":\"x\"}");
    parse(t);
    assert_int_equal(B.nerr, 1);
    assert_string_equal(B.errs[0].code, "missing_beacon");
    /* Broken before the limit, or unterminated: jansson's bad_json. */
    const char *broken[] = {"[", "[{},{", "[\"abc", "[\"\\", "[{}]]", "   ", "[,,,]"};
    for (size_t i = 0; i < sizeof(broken) / sizeof(*broken); i++) {
        parse(broken[i]);
        assert_int_equal(B.nerr, 1);
        assert_string_equal(B.errs[0].code, "bad_json");
    }
    /* Exactly the limit: decoded. */
    strcpy(t, "[");
    for (int i = 0; i < 64; i++)
        strcat(t, i ? ",{}" : "{}");
    strcat(t, "]");
    parse(t);
    assert_int_equal(B.nerr, 64);
    assert_string_equal(B.errs[0].code, "missing_id");
    free(t);
}

/* ---- protobuf ---- */

static size_t pack_batch(Cairn__V1__BlePing *pings, size_t n, uint8_t **out)
{
    Cairn__V1__PingBatch pb = CAIRN__V1__PING_BATCH__INIT;
    Cairn__V1__BlePing **pp = calloc(n ? n : 1, sizeof(*pp));
    for (size_t i = 0; i < n; i++)
        pp[i] = &pings[i];
    pb.n_pings = n;
    pb.pings = pp;
    size_t sz = cairn__v1__ping_batch__get_packed_size(&pb);
    *out = malloc(sz ? sz : 1);
    cairn__v1__ping_batch__pack(&pb, *out);
    free(pp);
    return sz;
}

static Cairn__V1__BlePing mk(const char *id, const char *beacon, int32_t rssi, int64_t ts)
{
    Cairn__V1__BlePing p = CAIRN__V1__BLE_PING__INIT;
    p.id = (char *)(uintptr_t)id;
    p.beacon = (char *)(uintptr_t)beacon;
    p.rssi = rssi;
    p.ts = ts;
    return p;
}

static void test_pb_rules(void **st)
{
    (void)st;
    Cairn__V1__BlePing p[6] = {mk("c-1", "b-07", -61, NOW), mk("", "b", -1, NOW),
                               mk("c-2", "", -1, NOW),      mk("c-3", "b", -300, NOW),
                               mk("c-4", "b", 0, 0),        mk("c-1", "b", -1, NOW)};
    p[0].player = (char *)"spoofed"; /* ignored */
    uint8_t *buf;
    size_t n = pack_batch(p, 6, &buf);
    assert_int_equal(gw_ping_parse_pb(buf, n, &LIM, NOW, &B), 0);
    assert_int_equal(B.n, 1);
    assert_string_equal(B.pings[0].id, "c-1");
    assert_int_equal(B.pings[0].rssi, -61);
    assert_int_equal(B.nerr, 5);
    const char *want[] = {"missing_id", "missing_beacon", "bad_rssi", "missing_ts", "duplicate_id"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(B.errs[i].code, want[i]);
    /* Every truncation: never a crash, never more than was sent. */
    for (size_t len = 0; len < n; len++) {
        assert_int_equal(gw_ping_parse_pb(buf, len, &LIM, NOW, &B), 0);
        assert_true(B.n + B.nerr <= 6);
    }
    free(buf);
    /* rssi 0 is a reading, not missing. */
    Cairn__V1__BlePing z = mk("z", "b", 0, NOW);
    n = pack_batch(&z, 1, &buf);
    assert_int_equal(gw_ping_parse_pb(buf, n, &LIM, NOW, &B), 0);
    assert_int_equal(B.n, 1);
    free(buf);
    /* Empty batch, garbage, too many. */
    assert_int_equal(gw_ping_parse_pb((const uint8_t *)"", 0, &LIM, NOW, &B), 0);
    assert_string_equal(B.errs[0].code, "empty_batch");
    const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2};
    assert_int_equal(gw_ping_parse_pb(garbage, sizeof(garbage), &LIM, NOW, &B), 0);
    assert_int_equal(B.nerr, 1);
    assert_string_equal(B.errs[0].code, "bad_protobuf");
    const uint8_t wiretype7[] = {0x0f, 0x00};
    assert_int_equal(gw_ping_parse_pb(wiretype7, sizeof(wiretype7), &LIM, NOW, &B), 0);
    assert_string_equal(B.errs[0].code, "bad_protobuf");
    Cairn__V1__BlePing many[65];
    char ids[65][8];
    for (int i = 0; i < 65; i++) {
        snprintf(ids[i], sizeof(ids[i]), "m%d", i);
        many[i] = mk(ids[i], "b", -1, NOW);
    }
    n = pack_batch(many, 65, &buf);
    assert_int_equal(gw_ping_parse_pb(buf, n, &LIM, NOW, &B), 0);
    assert_int_equal(B.n, 0);
    assert_string_equal(B.errs[0].code, "too_many_pings");
    free(buf);
    /* Counted before decoding: 32,768 empty pings (`0a 00` repeated, one
     * 64 KiB frame) are refused without a single allocation. */
    static uint8_t empties[65536];
    for (size_t i = 0; i < sizeof(empties); i += 2) {
        empties[i] = 0x0a;
        empties[i + 1] = 0x00;
    }
    long allocs = cn_test_alloc_count();
    assert_int_equal(gw_ping_parse_pb(empties, sizeof(empties), &LIM, NOW, &B), 0);
    assert_int_equal(cn_test_alloc_count(), allocs);
    assert_int_equal(B.n, 0);
    assert_int_equal(B.nerr, 1);
    assert_string_equal(B.errs[0].code, "too_many_pings");
    /* A truncated top level is bad_protobuf, also without decoding. */
    allocs = cn_test_alloc_count();
    assert_int_equal(gw_ping_parse_pb(empties, sizeof(empties) - 1, &LIM, NOW, &B), 0);
    assert_int_equal(cn_test_alloc_count(), allocs);
    assert_string_equal(B.errs[0].code, "bad_protobuf");
    n = pack_batch(many, 64, &buf);
    assert_int_equal(gw_ping_parse_pb(buf, n, &LIM, NOW, &B), 0);
    assert_int_equal(B.n, 64);
    /* Allocation failure anywhere inside unpacking: no leak, no partial accept. */
    for (long k = 1; k < 400; k++) {
        cn_test_alloc_fail_at(k, 1);
        assert_int_equal(gw_ping_parse_pb(buf, n, &LIM, NOW, &B), 0);
        long live = cn_test_alloc_live();
        cn_test_alloc_reset();
        assert_int_equal(live, 0);
        assert_true(B.n == 64 ||
                    (B.n == 0 && B.nerr == 1 && strcmp(B.errs[0].code, "bad_protobuf") == 0));
    }
    free(buf);
}

/* The same pings through JSON and protobuf: same verdicts. */
static void test_json_pb_agree(void **st)
{
    (void)st;
    Cairn__V1__BlePing p[4] = {mk("a", "b-1", -70, NOW - 1000), mk("b", "b 2", -70, NOW),
                               mk("c", "b", 30, NOW), mk("d", "b", -20, NOW + 3600000)};
    uint8_t *buf;
    size_t n = pack_batch(p, 4, &buf);
    assert_int_equal(gw_ping_parse_pb(buf, n, &LIM, NOW, &B), 0);
    free(buf);
    char pbv[512] = "";
    for (size_t i = 0; i < B.n; i++)
        strcat(pbv, B.pings[i].id);
    for (size_t i = 0; i < B.nerr; i++)
        strcat(pbv, B.errs[i].code);
    char j[512];
    snprintf(j, sizeof(j),
             "[{\"id\":\"a\",\"beacon\":\"b-1\",\"rssi\":-70,\"ts\":%lld},{\"id\":\"b\",\"beacon\":"
             "\"b 2\",\"rssi\":-70,"
             "\"ts\":%lld},{\"id\":\"c\",\"beacon\":\"b\",\"rssi\":30,\"ts\":%lld},{\"id\":\"d\","
             "\"beacon\":\"b\","
             "\"rssi\":-20,\"ts\":%lld}]",
             NOW - 1000, NOW, NOW, NOW + 3600000);
    parse(j);
    char jv[512] = "";
    for (size_t i = 0; i < B.n; i++)
        strcat(jv, B.pings[i].id);
    for (size_t i = 0; i < B.nerr; i++)
        strcat(jv, B.errs[i].code);
    assert_string_equal(jv, pbv);
    assert_string_equal(jv, "abad_beaconbad_rssibad_ts");
}

/* ---- outgoing ---- */

static void test_ack_and_error_payloads(void **st)
{
    (void)st;
    cn_buf o = CN_BUF_INIT;
    const char *ids[] = {"c-1", "c-2"};
    assert_int_equal(gw_ping_ack_json(&o, ids, 2), 0);
    assert_int_equal(o.len, strlen("{\"ack\":[\"c-1\",\"c-2\"]}"));
    assert_memory_equal(o.data, "{\"ack\":[\"c-1\",\"c-2\"]}", o.len);
    cn_buf_reset(&o);
    assert_int_equal(gw_ping_ack_json(&o, ids, 0), 0);
    assert_memory_equal(o.data, "{\"ack\":[]}", o.len);
    cn_buf_reset(&o);
    parse("{\"id\":\"c-1\",\"beacon\":\"b-07\",\"rssi\":-161,\"ts\":1764320000123}");
    assert_int_equal(gw_ping_error_json(&o, &B.errs[0]), 0);
    json_error_t je;
    json_t *v = json_loadb((const char *)o.data, o.len, JSON_REJECT_DUPLICATES, &je);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "error")), "bad_rssi");
    assert_string_equal(json_string_value(json_object_get(v, "id")), "c-1");
    assert_true(json_string_length(json_object_get(v, "detail")) > 0);
    json_decref(v);
    cn_buf_reset(&o);
    parse("not json");
    assert_int_equal(gw_ping_error_json(&o, &B.errs[0]), 0);
    v = json_loadb((const char *)o.data, o.len, 0, &je);
    assert_non_null(v);
    assert_null(json_object_get(v, "id")); /* unknown id: left out */
    assert_string_equal(json_string_value(json_object_get(v, "error")), "bad_json");
    json_decref(v);
    cn_buf_reset(&o);
    /* Several refused pings of one message: one {"errors":[...]} in order. */
    parse("[{\"id\":\"e-1\",\"beacon\":\"b\",\"rssi\":999,\"ts\":1764320000000},{},"
          "{\"id\":\"e-3\",\"beacon\":\"b\",\"rssi\":-1}]");
    assert_int_equal(B.nerr, 3);
    assert_int_equal(gw_ping_errors_json(&o, B.errs, B.nerr), 0);
    v = json_loadb((const char *)o.data, o.len, JSON_REJECT_DUPLICATES, &je);
    assert_non_null(v);
    assert_int_equal(json_object_size(v), 1);
    json_t *ea = json_object_get(v, "errors");
    assert_int_equal(json_array_size(ea), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ea, 0), "id")), "e-1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ea, 1), "error")),
                        "missing_id");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ea, 2), "error")),
                        "missing_ts");
    json_decref(v);
    cn_buf_reset(&o);
    /* Protobuf Ack round trip. */
    parse("[{\"id\":\"ok1\",\"beacon\":\"b\",\"rssi\":-1,\"ts\":1764320000000},{\"id\":\"bad\","
          "\"beacon\":\"b\"}]");
    const char *acked[] = {B.pings[0].id};
    assert_int_equal(gw_ping_ack_pb(&o, acked, 1, B.errs, B.nerr), 0);
    Cairn__V1__Ack *ack = cairn__v1__ack__unpack(NULL, o.len, o.data);
    assert_non_null(ack);
    assert_int_equal(ack->n_ids, 1);
    assert_string_equal(ack->ids[0], "ok1");
    assert_int_equal(ack->n_errors, 1);
    assert_string_equal(ack->errors[0]->code, "missing_rssi");
    assert_string_equal(ack->errors[0]->id, "bad");
    cairn__v1__ack__free_unpacked(ack, NULL);
    /* Allocation failure: error, buffer unchanged, nothing leaked. */
    cn_buf fresh = CN_BUF_INIT;
    for (long k = 1; k <= 3; k++) {
        cn_test_alloc_fail_at(k, 1);
        int r1 = gw_ping_ack_pb(&fresh, acked, 1, B.errs, B.nerr);
        int r2 = gw_ping_ack_json(&fresh, ids, 2);
        int r3 = gw_ping_error_json(&fresh, &B.errs[0]);
        long live = cn_test_alloc_live();
        cn_test_alloc_reset();
        assert_int_equal(r1, CN_ENOMEM);
        assert_int_equal(r2, CN_ENOMEM);
        assert_int_equal(r3, CN_ENOMEM);
        assert_int_equal(fresh.len, 0);
        assert_int_equal(live, 0);
    }
    cn_buf_free(&fresh);
    cn_buf_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_single_and_array),
        cmocka_unit_test(test_json_field_rules),
        cmocka_unit_test(test_json_mixed_and_duplicates),
        cmocka_unit_test(test_json_frame_errors),
        cmocka_unit_test(test_json_batch_limit),
        cmocka_unit_test(test_json_fast_path),
        cmocka_unit_test(test_json_out_of_memory),
        cmocka_unit_test(test_json_array_counted_before_decode),
        cmocka_unit_test(test_pb_rules),
        cmocka_unit_test(test_json_pb_agree),
        cmocka_unit_test(test_ack_and_error_payloads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
