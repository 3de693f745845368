/* SPDX-License-Identifier: MIT */
/*
 * test_common.c — unit tests for common/: error table, CRC32C (known
 * vectors, hardware vs software agreement), varints (round trips,
 * truncation, over-long), buffers under allocation failure, duration,
 * size and RFC 3339 parsing with malformed input, and the CLI parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cn_alloc.h"
#include "cn_buf.h"
#include "cn_bytes.h"
#include "cn_cli.h"
#include "cn_crc32c.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "cn_time.h"

static void test_err_table(void **st)
{
    (void)st;
    assert_string_equal(cn_errname(LG_ECRC), "LG_ECRC");
    assert_string_equal(cn_strerror(CN_OK), "success");
    assert_string_equal(cn_strerror(-9999), "unknown error");
    assert_int_equal(cn_err_from_errno(28 /* ENOSPC */), CN_ENOSPC);
}

static void test_crc32c_vectors(void **st)
{
    (void)st;
    /* RFC 3720 B.4 test vectors. */
    unsigned char z[32] = {0}, ff[32], inc[32];
    memset(ff, 0xff, sizeof(ff));
    for (int i = 0; i < 32; i++)
        inc[i] = (unsigned char)i;
    assert_int_equal(cn_crc32c(0, z, 32), 0x8A9136AA);
    assert_int_equal(cn_crc32c(0, ff, 32), 0x62A8AB43);
    assert_int_equal(cn_crc32c(0, inc, 32), 0x46DD794E);
    assert_int_equal(cn_crc32c(0, "123456789", 9), 0xE3069283);
    /* Incremental equals one-shot, at every split point. */
    for (int k = 0; k <= 9; k++)
        assert_int_equal(
            cn_crc32c(cn_crc32c(0, "123456789", (size_t)k), &"123456789"[k], 9 - (size_t)k),
            0xE3069283);
}

static void test_varint(void **st)
{
    (void)st;
    unsigned char b[10];
    const int64_t vals[] = {0,   1,    -1,        63,        -64,       64,
                            300, -300, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        int n = cn_wr_varint(b, vals[i]);
        int64_t out;
        assert_int_equal(cn_rd_varint(b, (size_t)n, &out, 0), n);
        assert_true(out == vals[i]);
        /* truncated input is reported, not read past */
        assert_int_equal(cn_rd_varint(b, (size_t)n - 1, &out, 0), 0);
    }
    unsigned char over[11];
    memset(over, 0x80, sizeof(over));
    uint64_t u;
    assert_int_equal(cn_rd_uvarint(over, sizeof(over), &u, 0), -1);
    assert_int_equal(cn_rd_uvarint(over, sizeof(over), &u, 1), -1);
    unsigned char big32[5] = {0xff, 0xff, 0xff, 0xff, 0x1f}; /* > 2^32 */
    assert_int_equal(cn_rd_uvarint(big32, 5, &u, 1), -1);
}

static void test_buf_oom(void **st)
{
    (void)st;
    for (long n = 1; n < 20; n++) {
        cn_test_alloc_fail_at(n, 1);
        cn_buf b = CN_BUF_INIT;
        int rc = 0;
        for (int i = 0; i < 100 && !rc; i++)
            rc = cn_buf_printf(&b, "line %d of a growing buffer\n", i);
        cn_buf_free(&b);
        long live = cn_test_alloc_live();
        cn_test_alloc_reset();
        assert_int_equal(live, 0);
        if (!rc)
            break;
        assert_int_equal(rc, CN_ENOMEM);
    }
}

static void test_parse_time(void **st)
{
    (void)st;
    int64_t ms;
    uint64_t sz;
    assert_int_equal(cn_parse_duration_ms("5s", &ms), 0);
    assert_true(ms == 5000);
    assert_int_equal(cn_parse_duration_ms("250ms", &ms), 0);
    assert_true(ms == 250);
    assert_int_equal(cn_parse_duration_ms("7d", &ms), 0);
    assert_true(ms == 7 * 86400000LL);
    assert_int_equal(cn_parse_duration_ms("40", &ms), 0); /* a bare number is seconds */
    assert_true(ms == 40000);
    assert_int_equal(cn_parse_duration_ms("0.5", &ms), 0);
    assert_true(ms == 500);
    assert_int_equal(cn_parse_duration_ms("-5s", &ms), CN_EINVAL);
    assert_int_equal(cn_parse_duration_ms("5 parsecs", &ms), CN_EINVAL);
    assert_int_equal(cn_parse_duration_ms("", &ms), CN_EINVAL);
    assert_int_equal(cn_parse_size("128MiB", &sz), 0);
    assert_true(sz == 128ull << 20);
    assert_int_equal(cn_parse_size("1e999", &sz), CN_EINVAL);
    assert_int_equal(cn_parse_size("12XB", &sz), CN_EINVAL);
    assert_int_equal(cn_parse_rfc3339_ms("2026-11-28T18:00:00Z", &ms), 0);
    assert_true(ms == 1795888800000LL);
    assert_int_equal(cn_parse_rfc3339_ms("2026-11-28T19:00:00.5+01:00", &ms), 0);
    assert_true(ms == 1795888800500LL);
    assert_int_equal(cn_parse_rfc3339_ms("2026-13-28T18:00:00Z", &ms), CN_EINVAL);
    assert_int_equal(cn_parse_rfc3339_ms("2026-02-31T18:00:00Z", &ms), CN_EINVAL);
    assert_int_equal(cn_parse_rfc3339_ms("2026-02-29T00:00:00Z", &ms), CN_EINVAL);
    assert_int_equal(cn_parse_rfc3339_ms("2028-02-29T00:00:00Z", &ms), 0);
    assert_int_equal(cn_parse_rfc3339_ms("2026-1-5T1:02:03Z", &ms), CN_EINVAL);
    assert_int_equal(cn_parse_rfc3339_ms("2026-11-28", &ms), CN_EINVAL);
    assert_int_equal(cn_parse_rfc3339_ms("2026-11-28T18:00:00", &ms), CN_EINVAL);
    assert_int_equal(cn_parse_rfc3339_ms("2026-11-28T18:00:00Zjunk", &ms), CN_EINVAL);
    char out[32];
    cn_fmt_rfc3339_ms(1795888800123LL, out);
    assert_string_equal(out, "2026-11-28T18:00:00.123Z");
}

static void test_cli(void **st)
{
    (void)st;
    cn_flag flags[] = {
        {"data", "DIR", "./cairn-data", "data directory"},
        {"count", "N", "10", "records"},
        {"follow", NULL, NULL, "keep reading"},
    };
    cn_cli cli = {"cairn test", "[flags] ARG", "summary", flags, 3, 1, 1};
    char *argv[] = {"x", "--count=5", "pos", "--follow", "--data", "/tmp/d"};
    assert_int_equal(cn_cli_parse(&cli, 6, argv), 0);
    int64_t n;
    assert_int_equal(cn_cli_i64(&cli, "count", 0, 100, &n), 0);
    assert_true(n == 5);
    assert_string_equal(cn_cli_str(&cli, "data"), "/tmp/d");
    assert_true(cn_cli_bool(&cli, "follow"));
    assert_int_equal(cli.npos, 1);
    assert_string_equal(cli.pos[0], "pos");
    cn_cli_free(&cli);

    char *bad1[] = {"x", "--nope", "p"};
    assert_int_equal(cn_cli_parse(&cli, 3, bad1), CN_EINVAL);
    cn_cli_free(&cli);
    char *bad2[] = {"x", "p", "--data"};
    assert_int_equal(cn_cli_parse(&cli, 3, bad2), CN_EINVAL);
    cn_cli_free(&cli);
    char *bad3[] = {"x"};
    assert_int_equal(cn_cli_parse(&cli, 1, bad3), CN_EINVAL);
    cn_cli_free(&cli);
    char *bad4[] = {"x", "p", "--count", "1000"};
    assert_int_equal(cn_cli_parse(&cli, 4, bad4), 0);
    assert_int_equal(cn_cli_i64(&cli, "count", 0, 100, &n), CN_EINVAL);
    cn_cli_free(&cli);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_table),  cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_varint),     cmocka_unit_test(test_buf_oom),
        cmocka_unit_test(test_parse_time), cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
