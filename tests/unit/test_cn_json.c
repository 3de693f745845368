/* SPDX-License-Identifier: MIT */
/*
 * test_cn_json.c — the one JSON string escaper (common/cn_json.h): exact
 * output for quotes, backslashes, every control byte and DEL; valid UTF-8
 * passed through byte for byte; each byte that starts no UTF-8 sequence
 * replaced by one U+FFFD (stray continuations, overlongs, surrogates,
 * > U+10FFFF, sequences cut short at the end); NUL inside; NULL as "";
 * random hostile byte strings always giving a literal that jansson parses
 * and that is valid UTF-8; and allocation failure at every step leaving
 * no leak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <string.h>

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_json.h"
#include "cn_testutil.h"
#include "cn_utf8.h"

static void expect(const char *in, size_t n, const char *want)
{
    cn_buf b = CN_BUF_INIT;
    assert_int_equal(cn_json_str(&b, in, n), 0);
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
        fail_msg("escaped %zu bytes to %.*s, want %s", n, (int)b.len, (const char *)b.data, want);
    cn_buf_free(&b);
}

static void test_escapes(void **st)
{
    (void)st;
    expect("", 0, "\"\"");
    expect("plain text", 10, "\"plain text\"");
    expect("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    expect("\n\r\t", 3, "\"\\n\\r\\t\"");
    expect("a\0b", 3, "\"a\\u0000b\"");
    expect("\x01\x1f\x7f\x08\x0c", 5, "\"\\u0001\\u001f\\u007f\\u0008\\u000c\"");
    expect("/", 1, "\"/\""); /* no need to escape the solidus */
    for (unsigned c = 0; c < 0x20; c++) {
        char in[1] = {(char)c};
        cn_buf b = CN_BUF_INIT;
        assert_int_equal(cn_json_str(&b, in, 1), 0);
        assert_true(b.len == 4 || b.len == 8); /* "\n" or "\u00XX" */
        cn_buf_free(&b);
    }
    cn_buf b = CN_BUF_INIT;
    assert_int_equal(cn_json_cstr(&b, NULL), 0);
    assert_int_equal(cn_json_cstr(&b, "x"), 0);
    assert_memory_equal(b.data, "\"\"\"x\"", 5);
    cn_buf_free(&b);
}

static void test_utf8_kept_and_replaced(void **st)
{
    (void)st;
    expect("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
           "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    expect("\xef\xbf\xbd", 3, "\"\xef\xbf\xbd\""); /* U+FFFD itself passes through */
    expect("a\x80"
           "b",
           3, "\"a\\ufffdb\"");                                        /* stray continuation */
    expect("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");                       /* overlong '/' */
    expect("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");            /* surrogate D800 */
    expect("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
    expect("ok\xe2\x82", 4, "\"ok\\ufffd\\ufffd\"");                   /* cut at the end */
    expect("\xff\xfe", 2, "\"\\ufffd\\ufffd\"");
    expect("\xe2\x82\"", 3,
           "\"\\ufffd\\ufffd\\\"\""); /* a quote inside a cut sequence is still escaped */
}

static void test_random_bytes_give_valid_json(void **st)
{
    (void)st;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    unsigned char in[64];
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(round % 64);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* bias towards the interesting bytes: controls, quotes, high bytes */
            unsigned char c = (unsigned char)x;
            in[i] = (x >> 8) % 4 == 0 ? (unsigned char)("\"\\\n\x7f\x80\xc3\xe2\xf0"[(x >> 16) % 8])
                                      : c;
        }
        cn_buf b = CN_BUF_INIT;
        assert_int_equal(cn_json_str(&b, in, n), 0);
        assert_true(cn_utf8_valid(b.data, b.len));
        json_error_t err;
        json_t *v = json_loadb((const char *)b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        if (!v || !json_is_string(v))
            fail_msg("not a JSON string: %.*s (%s)", (int)b.len, (const char *)b.data, err.text);
        if (cn_utf8_valid(in, n)) /* valid input round-trips exactly */
            assert_true(json_string_length(v) == n && memcmp(json_string_value(v), in, n) == 0);
        json_decref(v);
        cn_buf_free(&b);
    }
}

static void test_oom(void **st)
{
    (void)st;
    const char *s = "a long enough string \xff with \"quotes\" and \n controls, twice over: "
                    "a long enough string \xff with \"quotes\" and \n controls";
    for (long n = 1; n < 40; n++) {
        cn_test_alloc_fail_at(n, 1);
        cn_buf b = CN_BUF_INIT;
        int rc = cn_json_str(&b, s, strlen(s));
        cn_buf_free(&b);
        long live = cn_test_alloc_live();
        cn_test_alloc_reset();
        assert_int_equal(live, 0);
        if (!rc)
            break;
        assert_int_equal(rc, CN_ENOMEM);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_utf8_kept_and_replaced),
        cmocka_unit_test(test_random_bytes_give_valid_json),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
