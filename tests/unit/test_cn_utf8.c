/* SPDX-License-Identifier: MIT */
/*
 * test_cn_utf8.c — the one UTF-8 validator (common/cn_utf8.h), its
 * incremental DFA against a plain reference decoder: every code point
 * encoded, every 1- and 2-byte sequence, every 3-byte sequence, a dense
 * sample of 4-byte ones; overlongs, surrogates, > U+10FFFF; the same
 * verdict at every split point when fed in pieces; and cn_utf8_seq, the
 * one-sequence step escapers use, against the same reference, truncated
 * at every length.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cn_utf8.h"

/* Reference: decode code point by code point with explicit range checks. */
static int ref_valid(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

static size_t encode(uint32_t cp, unsigned char *o)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

static void test_every_code_point(void **st)
{
    (void)st;
    unsigned char b[4] = {0};
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        size_t n = encode(cp, b);
        int surrogate = cp >= 0xd800 && cp <= 0xdfff;
        assert_int_equal(cn_utf8_valid(b, n), !surrogate);
    }
}

static void test_exhaustive_short_sequences(void **st)
{
    (void)st;
    unsigned char b[3];
    for (unsigned x = 0; x < 256; x++) {
        b[0] = (unsigned char)x;
        assert_int_equal(cn_utf8_valid(b, 1), ref_valid(b, 1));
        for (unsigned y = 0; y < 256; y++) {
            b[1] = (unsigned char)y;
            assert_int_equal(cn_utf8_valid(b, 2), ref_valid(b, 2));
            for (unsigned z = 0; z < 256; z++) {
                b[2] = (unsigned char)z;
                if (cn_utf8_valid(b, 3) != ref_valid(b, 3))
                    fail_msg("3-byte mismatch %02x %02x %02x", x, y, z);
            }
        }
    }
}

static void test_four_byte_sample(void **st)
{
    (void)st;
    unsigned char b[4] = {0};
    /* Every lead byte F0..FF with every second byte, and edge third/fourth bytes. */
    const unsigned char edge[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0xbf, 0xc0, 0xff};
    for (unsigned x = 0xf0; x < 256; x++)
        for (unsigned y = 0; y < 256; y++)
            for (size_t z = 0; z < sizeof(edge); z++)
                for (size_t w = 0; w < sizeof(edge); w++) {
                    b[0] = (unsigned char)x, b[1] = (unsigned char)y, b[2] = edge[z],
                    b[3] = edge[w];
                    assert_int_equal(cn_utf8_valid(b, 4), ref_valid(b, 4));
                }
}

static void test_known_bad(void **st)
{
    (void)st;
    static const char *bad[] = {
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong 3-byte */
        "\xf0\x80\x80\xaf", /* overlong 4-byte */
        "\xed\xa0\x80",     /* U+D800 surrogate */
        "\xed\xbf\xbf",     /* U+DFFF */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80", "\xff", "\x80", "\xbf", "a\x80", "\xe2\x82", "\xce",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(cn_utf8_valid((const unsigned char *)bad[i], strlen(bad[i])));
    static const char *good[] = {"",
                                 "hello",
                                 "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
                                 "\xf4\x8f\xbf\xbf",
                                 "\xed\x9f\xbf",
                                 "\xee\x80\x80",
                                 "\xef\xbf\xbf",
                                 "\xf0\x90\x80\x80"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(cn_utf8_valid((const unsigned char *)good[i], strlen(good[i])));
}

static void test_split_points_agree(void **st)
{
    (void)st;
    /* Mixed ASCII runs (exercise the 8-byte fast path) and multi-byte code points. */
    const char *s =
        "ping from b-07 \xe2\x82\xac 42 \xf0\x9f\x98\x80 tail-with-more-than-eight-bytes "
        "\xce\xba\xe1\xbd\xb9 end";
    size_t n = strlen(s);
    const unsigned char *p = (const unsigned char *)s;
    for (size_t a = 0; a <= n; a++)
        for (size_t b = a; b <= n; b++) {
            uint8_t stt = cn_utf8_feed(CN_UTF8_ACCEPT, p, a);
            stt = cn_utf8_feed(stt, p + a, b - a);
            stt = cn_utf8_feed(stt, p + b, n - b);
            assert_int_equal(stt, CN_UTF8_ACCEPT);
        }
    /* A bad byte anywhere is seen whatever the split, and stays rejected. */
    unsigned char bad[64];
    memcpy(bad, p, 40);
    bad[37] = 0xff;
    for (size_t a = 0; a <= 40; a++) {
        uint8_t stt = cn_utf8_feed(CN_UTF8_ACCEPT, bad, a);
        stt = cn_utf8_feed(stt, bad + a, 40 - a);
        assert_int_equal(stt, CN_UTF8_REJECT);
        assert_int_equal(cn_utf8_feed(stt, (const unsigned char *)"ok", 2), CN_UTF8_REJECT);
    }
    /* A state value we never returned is treated as corrupt. */
    assert_int_equal(cn_utf8_feed(200, (const unsigned char *)"a", 1), CN_UTF8_REJECT);
    /* Open code point: not accept, not reject. */
    uint8_t open = cn_utf8_feed(CN_UTF8_ACCEPT, (const unsigned char *)"\xe2\x82", 2);
    assert_true(open != CN_UTF8_ACCEPT && open != CN_UTF8_REJECT);
}

/* Reference for cn_utf8_seq: the shortest valid prefix of 1..4 bytes. */
static size_t ref_seq(const unsigned char *p, size_t n)
{
    for (size_t l = 1; l <= n && l <= 4; l++)
        if (ref_valid(p, l))
            return l;
    return 0;
}

static void test_seq_against_reference(void **st)
{
    (void)st;
    unsigned char b[4] = {0};
    assert_int_equal(cn_utf8_seq(b, 0), 0);
    for (unsigned x = 0; x < 256; x++)
        for (unsigned y = 0; y < 256; y++)
            for (unsigned z = 0; z < 256; z += (x >= 0xe0 && x <= 0xf4) ? 1 : 85) {
                b[0] = (unsigned char)x, b[1] = (unsigned char)y, b[2] = (unsigned char)z;
                b[3] = (unsigned char)(0x80 | ((x + y + z) & 0x3f));
                for (size_t n = 1; n <= 4; n++)
                    if (cn_utf8_seq(b, n) != ref_seq(b, n))
                        fail_msg("%02x %02x %02x %02x n=%zu: %zu vs %zu", x, y, z, b[3], n,
                                 cn_utf8_seq(b, n), ref_seq(b, n));
            }
    /* hostile leads: stray continuation, C0/C1, F5..FF, and a 4-byte
     * sequence cut after each byte */
    assert_int_equal(cn_utf8_seq((const unsigned char *)"\x80", 1), 0);
    assert_int_equal(cn_utf8_seq((const unsigned char *)"\xc0\x80", 2), 0);
    assert_int_equal(cn_utf8_seq((const unsigned char *)"\xf5\x80\x80\x80", 4), 0);
    assert_int_equal(cn_utf8_seq((const unsigned char *)"\xed\xa0\x80", 3), 0); /* surrogate */
    const unsigned char *smile = (const unsigned char *)"\xf0\x9f\x98\x80";
    for (size_t n = 1; n < 4; n++)
        assert_int_equal(cn_utf8_seq(smile, n), 0);
    assert_int_equal(cn_utf8_seq(smile, 4), 4);
    assert_int_equal(cn_utf8_seq((const unsigned char *)"a\xff", 2), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_point),
        cmocka_unit_test(test_exhaustive_short_sequences),
        cmocka_unit_test(test_four_byte_sample),
        cmocka_unit_test(test_known_bad),
        cmocka_unit_test(test_split_points_agree),
        cmocka_unit_test(test_seq_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
