/* SPDX-License-Identifier: MIT */
/*
 * test_hunt_rules.c — the hunt file parser: the bundled sample and the
 * museum-night example of docs/hunts.md load with the right values; every rejection names its
 * field by path with a clear message; hostile JSON (truncation at every
 * length, invalid UTF-8, NULs, deep nesting, huge numbers, oversized
 * files, control characters in keys) fails cleanly; allocation failure at
 * every point fails with CN_ENOMEM and leaks nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "hunt_rules.h"

/* Cases are written with ' for " so they stay readable; q() converts. */
static char *q(const char *s)
{
    char *o = strdup(s);
    for (char *p = o; *p; p++)
        if (*p == '\'')
            *p = '"';
    return o;
}

#define HEAD "'id':'h','name':'H',"
#define FOUND "'found':{'rssi_min':-70,'hits':2,'window_s':10}"
#define B0 "{'id':'b0','name':'B0','x':1,'y':2,'points':5}"
#define B1 "{'id':'b1','name':'B1','x':1.5,'y':-2,'points':7,'clue':'c'}"
#define VALID "{" HEAD FOUND ",'beacons':[" B0 "," B1 "]}"

static int parse_q(const char *src, hunt_rules **r, char *err)
{
    char *j = q(src);
    int rc = hunt_rules_parse(j, strlen(j), r, err, HUNT_ERR_MAX);
    free(j);
    return rc;
}

static char *sample_path(void)
{
    const char *src = getenv("CAIRN_SRC");
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/hunt/sample-hunt.json", src && *src ? src : ".");
    return p;
}

static void test_sample(void **st)
{
    (void)st;
    char err[HUNT_ERR_MAX], *path = sample_path();
    hunt_rules *r;
    assert_int_equal(hunt_rules_load(path, &r, err, sizeof(err)), 0);
    free(path);
    const hunt_def *d = hunt_rules_def(r);
    assert_string_equal(d->id, "museum-night");
    assert_int_equal(d->nbeacons, 12);
    assert_int_equal(d->order, HUNT_ORDER_ANY);
    assert_int_equal(d->rssi_min, -70);
    assert_int_equal(d->hits, 2);
    assert_int_equal(d->window_s, 10);
    assert_int_equal(d->session_ttl_s, 1800);
    assert_int_equal(d->audit_ttl_s, 7776000);
    assert_false(d->has_starts_at || d->has_ends_at);
    int64_t sum = 0;
    for (uint32_t i = 0; i < d->nbeacons; i++) {
        const hunt_beacon *b = &d->beacons[i];
        sum += b->points;
        assert_true(b->clue[0] != '\0');
        assert_int_equal(hunt_rules_beacon_index(r, b->id, strlen(b->id)), (int)i);
    }
    assert_true(sum == d->total_points && sum > 0);
    assert_int_equal(hunt_rules_beacon_index(r, "b-1", 3), CN_ENOENT);
    assert_int_equal(hunt_rules_beacon_index(r, "b-011", 5), CN_ENOENT);
    assert_int_equal(hunt_rules_beacon_index(r, "b-01x", 4), 0); /* length bounds the id */
    assert_int_equal(hunt_rules_beacon_index(r, "", 0), CN_ENOENT);
    /* Always open without starts_at / ends_at. */
    assert_true(hunt_rules_in_window(r, 0) && hunt_rules_in_window(r, INT64_MAX));
    hunt_rules_free(r);
}

static void test_documented_example_and_times(void **st)
{
    (void)st;
    hunt_rules *r;
    char err[HUNT_ERR_MAX];
    const char *ex = "{'id': 'museum-night', 'name': 'Night at the Museum',"
                     " 'starts_at': '2026-11-28T18:00:00Z', 'ends_at': '2026-11-29T02:00:00Z',"
                     " 'order': 'any', 'found': {'rssi_min': -70, 'hits': 2, 'window_s': 10},"
                     " 'session_ttl_s': 1800, 'audit_ttl_s': 7776000,"
                     " 'beacons': [{'id': 'b-01', 'name': 'Dinosaur hall', 'x': 12.5, 'y': 40.0,"
                     "              'points': 10, 'clue': 'Where the oldest bones stand'}]}";
    assert_int_equal(parse_q(ex, &r, err), 0);
    const hunt_def *d = hunt_rules_def(r);
    assert_true(d->has_starts_at && d->has_ends_at);
    assert_true(d->starts_at_ms == INT64_C(1795888800000));
    assert_true(d->ends_at_ms == INT64_C(1795917600000));
    /* [starts_at, ends_at): start inclusive, end exclusive. */
    assert_true(hunt_rules_in_window(r, d->starts_at_ms));
    assert_false(hunt_rules_in_window(r, d->starts_at_ms - 1));
    assert_true(hunt_rules_in_window(r, d->ends_at_ms - 1));
    assert_false(hunt_rules_in_window(r, d->ends_at_ms));
    assert_true(d->beacons[0].x == 12.5 && d->beacons[0].y == 40.0);
    hunt_rules_free(r);

    /* Offsets and fractions; only one bound given; sequence order. */
    assert_int_equal(parse_q("{" HEAD FOUND
                             ",'order':'sequence','starts_at':'2026-11-28T20:00:00.250+02:00',"
                             "'beacons':[" B0 "]}",
                             &r, err),
                     0);
    d = hunt_rules_def(r);
    assert_true(d->starts_at_ms == INT64_C(1795888800250) && !d->has_ends_at);
    assert_int_equal(d->order, HUNT_ORDER_SEQUENCE);
    assert_true(hunt_rules_in_window(r, INT64_MAX) &&
                !hunt_rules_in_window(r, d->starts_at_ms - 1));
    hunt_rules_free(r);
    assert_int_equal(
        parse_q("{" HEAD FOUND ",'ends_at':'2024-02-29T00:00:00Z','beacons':[" B0 "]}", &r, err),
        0);
    d = hunt_rules_def(r);
    assert_true(d->ends_at_ms == INT64_C(1709164800000) && !d->has_starts_at);
    assert_true(hunt_rules_in_window(r, 0) && !hunt_rules_in_window(r, d->ends_at_ms));
    hunt_rules_free(r);
}

struct bad_case {
    const char *json; /* with ' for " */
    const char *err;  /* the error message must start with this */
};

static const struct bad_case bad_cases[] = {
    {"{" HEAD FOUND ",'beacons':[" B0 "],'colour':1}", "colour: unknown field"},
    {"{" HEAD "'found':{'rssi_min':-70,'hits':2,'window_s':10,'rsi':1},'beacons':[" B0 "]}",
     "found.rsi: unknown field"},
    {"{" HEAD FOUND ",'beacons':[" B0 "," B1 ",{'id':'b2','name':'B','x':1,'y':2,'pts':5}]}",
     "beacons[2].pts: unknown field"},
    {"{'name':'H'," FOUND ",'beacons':[" B0 "]}", "id: missing (required)"},
    {"{" HEAD FOUND "}", "beacons: missing (required)"},
    {"{" HEAD "'beacons':[" B0 "]}", "found: missing (required)"},
    {"{" HEAD "'found':{'rssi_min':-70,'window_s':10},'beacons':[" B0 "]}", "found.hits: missing"},
    {"{" HEAD FOUND ",'beacons':[{'id':'b0','name':'B0','y':2,'points':5}]}",
     "beacons[0].x: missing"},
    {"{'id':7,'name':'H'," FOUND ",'beacons':[" B0 "]}", "id: must be a string, got an integer"},
    {"{'id':'a b','name':'H'," FOUND ",'beacons':[" B0 "]}", "id: may contain only"},
    {"{'id':'','name':'H'," FOUND ",'beacons':[" B0 "]}", "id: length must be 1..64 bytes, got 0"},
    {"{'id':'0123456789012345678901234567890123456789012345678901234567890123X','name':'H'," FOUND
     ",'beacons':[" B0 "]}",
     "id: length must be 1..64 bytes, got 65"},
    {"{'id':'h','name':'bell\\u0007'," FOUND ",'beacons':[" B0 "]}",
     "name: must not contain control"},
    {"{'id':'h','name':null," FOUND ",'beacons':[" B0 "]}", "name: must be a string, got null"},
    {"{" HEAD "'order':'random'," FOUND ",'beacons':[" B0 "]}",
     "order: must be \"any\" or \"sequence\""},
    {"{" HEAD "'order':true," FOUND ",'beacons':[" B0 "]}",
     "order: must be a string, got a boolean"},
    {"{" HEAD "'found':{'rssi_min':-128,'hits':2,'window_s':10},'beacons':[" B0 "]}",
     "found.rssi_min: must be an integer in -127..0"},
    {"{" HEAD "'found':{'rssi_min':1,'hits':2,'window_s':10},'beacons':[" B0 "]}",
     "found.rssi_min: must be an integer in -127..0"},
    {"{" HEAD "'found':{'rssi_min':-70.5,'hits':2,'window_s':10},'beacons':[" B0 "]}",
     "found.rssi_min: must be an integer in -127..0, got a real number"},
    {"{" HEAD "'found':{'rssi_min':-70,'hits':0,'window_s':10},'beacons':[" B0 "]}",
     "found.hits: must be an integer in 1..100"},
    {"{" HEAD "'found':{'rssi_min':-70,'hits':101,'window_s':10},'beacons':[" B0 "]}",
     "found.hits: must be an integer in 1..100"},
    {"{" HEAD "'found':{'rssi_min':-70,'hits':2,'window_s':0},'beacons':[" B0 "]}",
     "found.window_s: must be an integer in 1..3600"},
    {"{" HEAD "'found':{'rssi_min':-70,'hits':2,'window_s':3601},'beacons':[" B0 "]}",
     "found.window_s: must be an integer in 1..3600"},
    {"{" HEAD "'found':{'rssi_min':-70,'hits':2,'window_s':'10'},'beacons':[" B0 "]}",
     "found.window_s: must be an integer in 1..3600, got a string"},
    {"{" HEAD "'found':[1],'beacons':[" B0 "]}", "found: must be an object, got an array"},
    {"{" HEAD FOUND ",'beacons':[]}", "beacons: must hold 1..1024 beacons, got 0"},
    {"{" HEAD FOUND ",'beacons':{}}", "beacons: must be an array, got an object"},
    {"{" HEAD FOUND ",'beacons':[" B0 ",'b1']}", "beacons[1]: must be an object, got a string"},
    {"{" HEAD FOUND ",'beacons':[{'id':'b0','name':'B0','x':'1','y':2,'points':5}]}",
     "beacons[0].x: must be a number, got a string"},
    {"{" HEAD FOUND ",'beacons':[{'id':'b0','name':'B0','x':1,'y':1e8,'points':5}]}",
     "beacons[0].y: must be a number in"},
    {"{" HEAD FOUND ",'beacons':[{'id':'b0','name':'B0','x':1,'y':2,'points':-1}]}",
     "beacons[0].points: must be an integer in 0..1000000"},
    {"{" HEAD FOUND ",'beacons':[{'id':'b0','name':'B0','x':1,'y':2,'points':1000001}]}",
     "beacons[0].points: must be an integer in 0..1000000"},
    {"{" HEAD FOUND ",'beacons':[{'id':'b0','name':'B0','x':1,'y':2,'points':1.5}]}",
     "beacons[0].points: must be an integer"},
    {"{" HEAD FOUND ",'beacons':[{'id':'b/0','name':'B0','x':1,'y':2,'points':1}]}",
     "beacons[0].id: may contain only"},
    {"{" HEAD FOUND ",'beacons':[" B0 "," B1 "," B0 "," B1 "]}",
     "beacons[2].id: duplicate id \"b0\" (also beacons[0].id)"},
    {"{" HEAD FOUND ",'beacons':[{'id':'b0','name':'\\t','x':1,'y':2,'points':1}]}",
     "beacons[0].name: must not contain control"},
    {"{" HEAD FOUND ",'beacons':[{'id':'b0','name':'B','x':1,'y':2,'points':1,'clue':5}]}",
     "beacons[0].clue: must be a string"},
    {"{'id':'a','id':'b','name':'H'," FOUND ",'beacons':[" B0 "]}", "invalid JSON at line 1"},
    {"{" HEAD "'starts_at':'2026-11-28 18:00:00Z'," FOUND ",'beacons':[" B0 "]}",
     "starts_at: must be an RFC 3339 time"},
    {"{" HEAD "'starts_at':'2026-02-29T00:00:00Z'," FOUND ",'beacons':[" B0 "]}",
     "starts_at: must be an RFC 3339 time"},
    {"{" HEAD "'starts_at':'2026-11-28T18:00:00'," FOUND ",'beacons':[" B0 "]}",
     "starts_at: must be an RFC 3339 time"},
    {"{" HEAD "'starts_at':'2026-11-28T24:00:00Z'," FOUND ",'beacons':[" B0 "]}",
     "starts_at: must be an RFC 3339 time"},
    {"{" HEAD "'starts_at':'2026-11-28T18:00:00.Z'," FOUND ",'beacons':[" B0 "]}",
     "starts_at: must be an RFC 3339 time"},
    {"{" HEAD "'ends_at':'+026-11-28T18:00:00Z'," FOUND ",'beacons':[" B0 "]}",
     "ends_at: must be an RFC 3339 time"},
    {"{" HEAD "'ends_at':'2026-11-28T18:00:00+1:00'," FOUND ",'beacons':[" B0 "]}",
     "ends_at: must be an RFC 3339 time"},
    {"{" HEAD "'ends_at':'2026-11-28T18:00:00Zjunk'," FOUND ",'beacons':[" B0 "]}",
     "ends_at: must be an RFC 3339 time"},
    {"{" HEAD "'starts_at':1795888800," FOUND ",'beacons':[" B0 "]}",
     "starts_at: must be a string"},
    {"{" HEAD "'starts_at':'2026-11-28T18:00:00Z','ends_at':'2026-11-28T18:00:00Z'," FOUND
     ",'beacons':[" B0 "]}",
     "ends_at: must be later than starts_at"},
    {"{" HEAD "'starts_at':'2026-11-28T19:00:00Z','ends_at':'2026-11-28T20:00:00+02:00'," FOUND
     ",'beacons':[" B0 "]}",
     "ends_at: must be later than starts_at"},
    {"{" HEAD FOUND ",'session_ttl_s':59,'beacons':[" B0 "]}",
     "session_ttl_s: must be an integer in 60..604800"},
    {"{" HEAD FOUND ",'session_ttl_s':1800.0,'beacons':[" B0 "]}",
     "session_ttl_s: must be an integer"},
    {"{" HEAD FOUND ",'audit_ttl_s':59,'beacons':[" B0 "]}",
     "audit_ttl_s: must be an integer in 60..315360000"},
    {"{" HEAD "'found':{'rssi_min':-70,'hits':2,'window_s':61},'session_ttl_s':60,'beacons':[" B0
     "]}",
     "found.window_s: must not exceed session_ttl_s (60)"},
    {"[" B0 "]", "a hunt file must hold one JSON object, got an array"},
    {"", "invalid JSON at line"},
    {"{" HEAD FOUND ",'beacons':[" B0 "]} trailing", "invalid JSON at line"},
    {"{" HEAD FOUND ",'beacons':[" B0 "],'x':99999999999999999999999}", "invalid JSON at line"},
    {"{" HEAD FOUND ",'beacons':[{'id':'b0','name':'B0','x':1e999,'y':2,'points':5}]}",
     "invalid JSON at line"},
    {"{" HEAD FOUND ",'beacons':[{'id':'b0','name':'a\\u0000b','x':1,'y':2,'points':5}]}",
     "invalid JSON at line"},
    /* A hostile key: the escape sequence is neutralised in the message. */
    {"{'\\u001b[31mevil':1," HEAD FOUND ",'beacons':[" B0 "]}", "?[31mevil: unknown field"},
};

static void test_rejections(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        hunt_rules *r = (hunt_rules *)&r;
        char err[HUNT_ERR_MAX] = "";
        int rc = parse_q(bad_cases[i].json, &r, err);
        if (rc != HUNT_ERULES || r != NULL ||
            strncmp(err, bad_cases[i].err, strlen(bad_cases[i].err)) != 0)
            fail_msg("case %zu: rc=%d err=\"%s\", want \"%s...\"", i, rc, err, bad_cases[i].err);
        for (const char *p = err; *p; p++)
            assert_true((unsigned char)*p >= 0x20); /* one clean line */
    }
    /* The valid base of all these cases parses, also after a UTF-8 BOM. */
    hunt_rules *r;
    char err[HUNT_ERR_MAX];
    assert_int_equal(parse_q(VALID, &r, err), 0);
    hunt_rules_free(r);
    assert_int_equal(parse_q("\xef\xbb\xbf" VALID, &r, err), 0);
    hunt_rules_free(r);
    assert_int_equal(parse_q("\xef\xbb" VALID, &r, err), HUNT_ERULES);
}

static void test_limits(void **st)
{
    (void)st;
    char err[HUNT_ERR_MAX];
    hunt_rules *r;
    /* 1024 beacons are fine, 1025 are not. */
    for (int n = 1024; n <= 1025; n++) {
        size_t cap = 64 + (size_t)n * 64;
        char *j = malloc(cap), *p = j;
        p += sprintf(p, "{\"id\":\"h\",\"name\":\"H\",\"found\":{\"rssi_min\":-70,\"hits\":1,"
                        "\"window_s\":1},\"beacons\":[");
        for (int i = 0; i < n; i++)
            p += sprintf(p, "%s{\"id\":\"b%d\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":%d}",
                         i ? "," : "", i, i);
        p += sprintf(p, "]}");
        int rc = hunt_rules_parse(j, (size_t)(p - j), &r, err, sizeof(err));
        if (n == 1024) {
            assert_int_equal(rc, 0);
            assert_int_equal(hunt_rules_beacon_index(r, "b1023", 5), 1023);
            assert_true(hunt_rules_def(r)->total_points == 1023 * 1024 / 2);
            hunt_rules_free(r);
        } else {
            assert_int_equal(rc, HUNT_ERULES);
            assert_string_equal(err, "beacons: must hold 1..1024 beacons, got 1025");
        }
        free(j);
    }
    /* Clue of 1000 bytes ok, 1001 refused. */
    for (int n = 1000; n <= 1001; n++) {
        char *j = malloc(2000);
        int len = sprintf(
            j,
            "{\"id\":\"h\",\"name\":\"H\",\"found\":{\"rssi_min\":-70,\"hits\":1,\"window_s\":1},"
            "\"beacons\":[{\"id\":\"b\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":1,\"clue\":\"%0*"
            "d\"}]}",
            n, 0);
        int rc = hunt_rules_parse(j, (size_t)len, &r, err, sizeof(err));
        if (n == 1000) {
            assert_int_equal(rc, 0);
            hunt_rules_free(r);
        } else {
            assert_int_equal(rc, HUNT_ERULES);
            assert_string_equal(err, "beacons[0].clue: length must be 0..1000 bytes, got 1001");
        }
        free(j);
    }
    /* Oversized input is refused before parsing. */
    size_t big = HUNT_FILE_MAX_BYTES + 1;
    char *j = malloc(big);
    memset(j, ' ', big);
    assert_int_equal(hunt_rules_parse(j, big, &r, err, sizeof(err)), CN_ETOOBIG);
    assert_non_null(strstr(err, "limit"));
    free(j);
}

static void test_hostile(void **st)
{
    (void)st;
    char err[HUNT_ERR_MAX];
    hunt_rules *r;
    /* Every strict prefix of a valid file is refused, never crashes. */
    char *v = q(VALID);
    size_t n = strlen(v);
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(hunt_rules_parse(v, k, &r, err, sizeof(err)), HUNT_ERULES);
        assert_null(r);
    }
    /* Every single-byte corruption either fails cleanly or still parses. */
    for (size_t k = 0; k < n; k++) {
        char saved = v[k];
        v[k] = (char)0xff;
        int rc = hunt_rules_parse(v, n, &r, err, sizeof(err));
        assert_true(rc == HUNT_ERULES);
        v[k] = '\0';
        rc = hunt_rules_parse(v, n, &r, err, sizeof(err));
        assert_true(rc == HUNT_ERULES);
        v[k] = saved;
    }
    /* Regression: jansson alone parses "-7\0" as -7; the NUL must be refused. */
    char *num = strstr(v, "-70");
    num[2] = '\0';
    assert_int_equal(hunt_rules_parse(v, n, &r, err, sizeof(err)), HUNT_ERULES);
    assert_non_null(strstr(err, "NUL byte"));
    free(v);
    /* Deep nesting. */
    size_t depth = 100000;
    char *deep = malloc(depth);
    memset(deep, '[', depth);
    assert_int_equal(hunt_rules_parse(deep, depth, &r, err, sizeof(err)), HUNT_ERULES);
    memset(deep, '{', depth);
    assert_int_equal(hunt_rules_parse(deep, depth, &r, err, sizeof(err)), HUNT_ERULES);
    free(deep);
    /* Scalars at top level. */
    const char *scalars[] = {"null", "1", "\"hunt\"", "true", "{}"};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(hunt_rules_parse(scalars[i], strlen(scalars[i]), &r, err, sizeof(err)),
                         HUNT_ERULES);
    /* A NULL error buffer is allowed. */
    assert_int_equal(hunt_rules_parse("{}", 2, &r, NULL, 0), HUNT_ERULES);
    /* A tiny error buffer is truncated, still NUL-terminated. */
    char tiny[8];
    assert_int_equal(hunt_rules_parse("{}", 2, &r, tiny, sizeof(tiny)), HUNT_ERULES);
    assert_true(strlen(tiny) < sizeof(tiny));
}

static void test_load_errors(void **st)
{
    (void)st;
    char err[HUNT_ERR_MAX];
    hunt_rules *r;
    assert_int_equal(hunt_rules_load("/nonexistent/hunt.json", &r, err, sizeof(err)), CN_ENOENT);
    assert_non_null(strstr(err, "/nonexistent/hunt.json: cannot open"));
    char *dir = cn_test_tmpdir("huntrules");
    char path[4096];
    snprintf(path, sizeof(path), "%s/h.json", dir);
    FILE *f = fopen(path, "w");
    char *bad = q("{" HEAD FOUND ",'beacons':[{'id':'b0','name':'B0','x':1,'y':2,'pts':5}]}");
    fputs(bad, f);
    fclose(f);
    free(bad);
    assert_int_equal(hunt_rules_load(path, &r, err, sizeof(err)), HUNT_ERULES);
    char want[4200];
    snprintf(want, sizeof(want), "%s: beacons[0].pts: unknown field", path);
    assert_string_equal(err, want);
    /* A directory is not a hunt file. */
    assert_true(hunt_rules_load(dir, &r, err, sizeof(err)) < 0);
    assert_null(r);
    cn_test_rmrf(dir);
    free(dir);
}

static void test_oom(void **st)
{
    (void)st;
    char *path = sample_path();
    FILE *f = fopen(path, "rb");
    free(path);
    assert_non_null(f);
    char buf[16384];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    int ok = 0;
    for (long k = 1; k < 200 && !ok; k++) {
        for (int forever = 0; forever <= 1; forever++) {
            hunt_rules *r;
            char err[HUNT_ERR_MAX];
            cn_test_alloc_fail_at(k, forever);
            int rc = hunt_rules_parse(buf, n, &r, err, sizeof(err));
            if (rc == 0) {
                hunt_rules_free(r);
                ok |= !forever;
            } else {
                assert_int_equal(rc, CN_ENOMEM);
                assert_null(r);
            }
            assert_int_equal(cn_test_alloc_live(), 0);
            cn_test_alloc_reset();
        }
    }
    assert_true(ok); /* eventually every allocation succeeded */
}

/* The compiled-in sample is the file, byte for byte (so editing
 * hunt/sample-hunt.json and rebuilding changes what `cairn up` runs), and
 * hunt_rules_load_or_sample picks it exactly when no path is given. */
static void test_sample_embedded(void **st)
{
    (void)st;
    char *path = sample_path();
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char file[1 << 16];
    size_t flen = fread(file, 1, sizeof(file), f);
    fclose(f);
    size_t len = 0;
    const char *json = hunt_sample_json(&len);
    assert_int_equal(len, flen);
    assert_memory_equal(json, file, len);
    assert_int_equal(json[len], 0);
    char err[HUNT_ERR_MAX];
    hunt_rules *r = NULL;
    assert_int_equal(hunt_rules_load_or_sample(NULL, &r, err, sizeof(err)), 0);
    assert_string_equal(hunt_rules_def(r)->id, "museum-night");
    hunt_rules_free(r);
    r = NULL;
    assert_int_equal(hunt_rules_load_or_sample("/nonexistent/hunt.json", &r, err, sizeof(err)),
                     CN_ENOENT);
    assert_null(r);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample),     cmocka_unit_test(test_documented_example_and_times),
        cmocka_unit_test(test_rejections), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_hostile),    cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_oom),        cmocka_unit_test(test_sample_embedded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
