/* SPDX-License-Identifier: MIT */
/*
 * test_cn_prom.c — the Prometheus text writer (common/cn_prom.c): exact
 * output for counters, gauges, labels and histograms; hostile label values
 * and HELP texts (quotes, backslashes, newlines, braces, fake sample lines)
 * read back by a strict parser of the exposition format as exactly the
 * value given and never as an extra line or label; malformed names
 * refused with nothing written; doubles in shortest exact form; every
 * allocation failure reported and sticky.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_buf.h"
#include "cn_err.h"
#include "cn_prom.h"
#include "cn_testutil.h"

static char *text(cn_buf *b)
{
    cn_buf_append(b, "", 1);
    b->len--;
    return (char *)b->data;
}

static void test_counter_gauge_exact(void **st)
{
    (void)st;
    cn_buf b = CN_BUF_INIT;
    cn_prom w;
    cn_prom_init(&w, &b);
    assert_int_equal(cn_prom_counter(&w, "cairn_x_total", "Things done.", 18446744073709551615u),
                     0);
    assert_int_equal(cn_prom_gauge(&w, "cairn_y", NULL, -5), 0);
    cn_prom_family(&w, "cairn_z", CN_PROM_GAUGE, "By topic.");
    const char *l[] = {"topic", "ble-raw", "partition", "3", NULL};
    assert_int_equal(cn_prom_i64(&w, "cairn_z", l, 42), 0);
    assert_string_equal(text(&b), "# HELP cairn_x_total Things done.\n"
                                  "# TYPE cairn_x_total counter\n"
                                  "cairn_x_total 18446744073709551615\n"
                                  "# TYPE cairn_y gauge\n"
                                  "cairn_y -5\n"
                                  "# HELP cairn_z By topic.\n"
                                  "# TYPE cairn_z gauge\n"
                                  "cairn_z{topic=\"ble-raw\",partition=\"3\"} 42\n");
    cn_buf_free(&b);
}

static void test_histogram_exact(void **st)
{
    (void)st;
    cn_buf b = CN_BUF_INIT;
    cn_prom w;
    cn_prom_init(&w, &b);
    const double le[] = {0.0005, 0.25, 10.0};
    const uint64_t cum[] = {1, 3, 4};
    assert_int_equal(cn_prom_histogram(&w, "lat_seconds", "Latency.", le, cum, 3, 5, 12.5), 0);
    assert_string_equal(text(&b), "# HELP lat_seconds Latency.\n"
                                  "# TYPE lat_seconds histogram\n"
                                  "lat_seconds_bucket{le=\"0.0005\"} 1\n"
                                  "lat_seconds_bucket{le=\"0.25\"} 3\n"
                                  "lat_seconds_bucket{le=\"10\"} 4\n"
                                  "lat_seconds_bucket{le=\"+Inf\"} 5\n"
                                  "lat_seconds_sum 12.5\n"
                                  "lat_seconds_count 5\n");
    cn_buf_free(&b);
}

/* A strict reader of one sample line: name{k="v",...} value\n.  Returns the
 * number of bytes consumed (0 on any deviation from the format) and the
 * unescaped value of label `want`. */
static size_t parse_sample(const char *s, const char *name, const char *want, char *val, size_t cap)
{
    const char *p = s;
    size_t nl = strlen(name);
    if (strncmp(p, name, nl) != 0)
        return 0;
    p += nl;
    if (*p == '{') {
        p++;
        for (;;) {
            const char *k = p;
            while ((*p >= 'a' && *p <= 'z') || *p == '_')
                p++;
            size_t kl = (size_t)(p - k);
            if (!kl || p[0] != '=' || p[1] != '"')
                return 0;
            p += 2;
            int mine = kl == strlen(want) && strncmp(k, want, kl) == 0;
            size_t n = 0;
            while (*p != '"') {
                char c = *p++;
                if (c == '\n' || c == 0)
                    return 0; /* a raw newline would end the line */
                if (c == '\\') {
                    c = *p++;
                    c = c == 'n' ? '\n' : c == '\\' ? '\\' : c == '"' ? '"' : 0;
                    if (!c)
                        return 0;
                }
                if (mine && n + 1 < cap)
                    val[n++] = c;
            }
            if (mine)
                val[n] = 0;
            p++;
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p++ != '}')
                return 0;
            break;
        }
    }
    if (*p++ != ' ')
        return 0;
    while (*p >= '0' && *p <= '9')
        p++;
    return *p == '\n' ? (size_t)(p + 1 - s) : 0;
}

static void test_hostile_label_values(void **st)
{
    (void)st;
    static const char *const hostile[] = {
        "\"",
        "\\",
        "\\\"",
        "a\nfake_metric 1",
        "\"} 99\ncairn_evil_total 1\n# TYPE x counter",
        "{},=\"\\n\\\\",
        "trailing backslash \\",
        "\n\n\n",
        "caf\xc3\xa9 \xe2\x9c\x93",
        "",
    };
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        cn_buf b = CN_BUF_INIT;
        cn_prom w;
        cn_prom_init(&w, &b);
        const char *l[] = {"code", hostile[i], "other", "x", NULL};
        assert_int_equal(cn_prom_u64(&w, "cairn_errors_total", l, 7), 0);
        char *t = text(&b), got[256] = "?";
        size_t used = parse_sample(t, "cairn_errors_total", "code", got, sizeof(got));
        assert_int_equal(used, b.len); /* exactly one line, nothing after */
        assert_string_equal(got, hostile[i]);
        assert_int_equal(strchr(t, '\n') - t + 1, (long)b.len);
        cn_buf_free(&b);
    }
}

static void test_hostile_help(void **st)
{
    (void)st;
    cn_buf b = CN_BUF_INIT;
    cn_prom w;
    cn_prom_init(&w, &b);
    assert_int_equal(cn_prom_family(&w, "m", CN_PROM_COUNTER, "a\\b\nm 1\n\"q\""), 0);
    /* newline and backslash escaped, quotes kept: two lines exactly */
    assert_string_equal(text(&b), "# HELP m a\\\\b\\nm 1\\n\"q\"\n# TYPE m counter\n");
    cn_buf_free(&b);
}

static void test_bad_names(void **st)
{
    (void)st;
    static const char *const bad_metric[] = {"", "9lives", "a-b", "a b", "a\nb", "a{b}", "é"};
    for (size_t i = 0; i < sizeof(bad_metric) / sizeof(bad_metric[0]); i++) {
        cn_buf b = CN_BUF_INIT;
        cn_prom w;
        cn_prom_init(&w, &b);
        assert_int_equal(cn_prom_u64(&w, bad_metric[i], NULL, 1), CN_EINVAL);
        assert_int_equal(b.len, 0);
        assert_int_equal(cn_prom_family(&w, "fine", CN_PROM_GAUGE, NULL), CN_EINVAL); /* sticky */
        assert_int_equal(b.len, 0);
        cn_prom_init(&w, &b);
        assert_int_equal(cn_prom_family(&w, bad_metric[i], CN_PROM_GAUGE, "h"), CN_EINVAL);
        assert_int_equal(b.len, 0);
        cn_buf_free(&b);
    }
    static const char *const bad_label[] = {"", "1a", "a:b", "__reserved", "a\"", "a=b"};
    for (size_t i = 0; i < sizeof(bad_label) / sizeof(bad_label[0]); i++) {
        cn_buf b = CN_BUF_INIT;
        cn_prom w;
        cn_prom_init(&w, &b);
        const char *l[] = {"ok", "v", bad_label[i], "v", NULL};
        assert_int_equal(cn_prom_u64(&w, "m", l, 1), CN_EINVAL);
        assert_int_equal(b.len, 0);
        cn_buf_free(&b);
    }
    /* a key without a value */
    cn_buf b = CN_BUF_INIT;
    cn_prom w;
    cn_prom_init(&w, &b);
    const char *odd[] = {"k", NULL};
    assert_int_equal(cn_prom_u64(&w, "m", odd, 1), CN_EINVAL);
    assert_int_equal(cn_prom_family(&w, "ok:name_1", (cn_prom_type)7, NULL), CN_EINVAL);
    assert_int_equal(b.len, 0);
    /* colons are fine in metric names; an over-long histogram name is refused */
    cn_prom_init(&w, &b);
    assert_int_equal(cn_prom_u64(&w, "ns:sub_total", NULL, 1), 0);
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    double le = 1;
    uint64_t c = 0;
    assert_int_equal(cn_prom_histogram(&w, longname, NULL, &le, &c, 1, 0, 0), CN_EINVAL);
    cn_buf_free(&b);
}

static void test_doubles(void **st)
{
    (void)st;
    static const struct {
        double v;
        const char *s;
    } cases[] = {
        {0.1, "0.1"},
        {1e-9, "1e-09"},
        {123456.75, "123456.75"},
        {-2.5, "-2.5"},
        {1.0 / 3, "0.33333333333333331"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cn_buf b = CN_BUF_INIT;
        cn_prom w;
        cn_prom_init(&w, &b);
        assert_int_equal(cn_prom_f64(&w, "d", NULL, cases[i].v), 0);
        char want[64];
        snprintf(want, sizeof(want), "d %s\n", cases[i].s);
        assert_string_equal(text(&b), want);
        assert_true(strtod(text(&b) + 2, NULL) == cases[i].v);
        cn_buf_free(&b);
    }
    cn_buf b = CN_BUF_INIT;
    cn_prom w;
    cn_prom_init(&w, &b);
    cn_prom_f64(&w, "d", NULL, NAN);
    cn_prom_f64(&w, "d", NULL, INFINITY);
    cn_prom_f64(&w, "d", NULL, -INFINITY);
    assert_string_equal(text(&b), "d NaN\nd +Inf\nd -Inf\n");
    cn_buf_free(&b);
}

static void test_oom(void **st)
{
    (void)st;
    int ok = 0;
    for (long n = 1; n < 50 && !ok; n++) {
        cn_test_alloc_fail_at(n, 0); /* fails once: the error must still stick */
        cn_buf b = CN_BUF_INIT;
        cn_prom w;
        cn_prom_init(&w, &b);
        const char *l[] = {"reason", "x\"y", NULL};
        for (int i = 0; i < 200; i++)
            cn_prom_u64(&w, "cairn_m_total", l, (uint64_t)i);
        int rc = w.err;
        cn_buf_free(&b);
        assert_int_equal(cn_test_alloc_live(), 0);
        cn_test_alloc_reset();
        if (rc == 0)
            ok = 1;
        else
            assert_int_equal(rc, CN_ENOMEM);
    }
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_gauge_exact),
        cmocka_unit_test(test_histogram_exact),
        cmocka_unit_test(test_hostile_label_values),
        cmocka_unit_test(test_hostile_help),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_doubles),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
