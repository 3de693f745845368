/* SPDX-License-Identifier: MIT */
/*
 * test_cn_id.c — the one rule for outside ids (cn_id.h): every one of the
 * 256 byte values against the documented alphabets, the length bounds
 * (0, 1, 64, 65, huge), NULL, and hostile ids (NUL inside, '/', spaces,
 * quotes, controls, UTF-8 look-alikes, percent-escapes); the hunt-file
 * name alphabet is exactly the id alphabet without ':' and '@'.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cn_id.h"

static int ref_name(unsigned c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           strchr("._-", (int)c) != NULL;
}

static void test_alphabets_every_byte(void **st)
{
    (void)st;
    int ids = 0, names = 0;
    for (unsigned c = 0; c < 256; c++) {
        int name = c != 0 && ref_name(c);
        int id = name || c == ':' || c == '@';
        assert_int_equal(cn_id_name_byte((unsigned char)c), name);
        assert_int_equal(cn_id_byte((unsigned char)c), id);
        char s[1] = {(char)c};
        assert_int_equal(cn_id_valid(s, 1), id);
        ids += id, names += name;
    }
    assert_int_equal(names, 26 + 26 + 10 + 3);
    assert_int_equal(ids, names + 2);
}

static void test_lengths(void **st)
{
    (void)st;
    char s[CN_ID_MAX + 2];
    memset(s, 'a', sizeof(s));
    assert_false(cn_id_valid(s, 0));
    assert_true(cn_id_valid(s, 1));
    assert_true(cn_id_valid(s, CN_ID_MAX));
    assert_false(cn_id_valid(s, CN_ID_MAX + 1));
    assert_false(cn_id_valid(s, SIZE_MAX)); /* refused on length, never read */
    assert_false(cn_id_valid(NULL, 3));
    assert_false(cn_id_valid(NULL, 0));
}

static void test_hostile(void **st)
{
    (void)st;
    const char *bad[] = {
        "a b",           "a/b",  "../x", "a\\b", "a\"b", "a'b", "a\nb", "a\rb", "a\tb",
        "a%2Fb",         "a;b",  "a,b",  "a=b",  "a&b",  "a?b", "a#b",  "<x>",  "caf\xc3\xa9",
        "\357\273\277a", /* a byte order mark before the id */
        "a\x7f",         "\xff", "a*",   "a+b",  "{}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(cn_id_valid(bad[i], strlen(bad[i])));
    assert_false(cn_id_valid("ab\0cd", 5)); /* the length counts, not the NUL */
    assert_true(cn_id_valid("ab\0cd", 2));
    const char *good[] = {"p-1", "player_42", "a.b", "user@venue", "hunt:2026",
                          "A",   "0",         "-",   "..",         "@:"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(cn_id_valid(good[i], strlen(good[i])));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alphabets_every_byte),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
