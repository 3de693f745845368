/* SPDX-License-Identifier: MIT */
/*
 * test_cn_hash.c — the one hash for in-memory tables (common/cn_hash.h):
 * the published FNV-1a 64 test vectors, every input byte (including NUL)
 * changing the value, length mattering (a key and its prefix differ), and
 * a table-like spread: 64k player-style ids over 1024 buckets by the low
 * bits, as the tables index, with no bucket far above the mean.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cn_hash.h"

static void test_vectors(void **st)
{
    (void)st;
    /* FNV-1a 64 reference values (Fowler/Noll/Vo test suite). */
    assert_true(cn_hash("", 0) == 0xcbf29ce484222325ull);
    assert_true(cn_hash("a", 1) == 0xaf63dc4c8601ec8cull);
    assert_true(cn_hash("foobar", 6) == 0x85944171f73967e8ull);
}

static void test_every_byte_counts(void **st)
{
    (void)st;
    unsigned char k[16] = {0};
    uint64_t base = cn_hash(k, sizeof(k));
    for (size_t i = 0; i < sizeof(k); i++)
        for (unsigned v = 1; v < 256; v++) {
            k[i] = (unsigned char)v;
            assert_true(cn_hash(k, sizeof(k)) != base);
            k[i] = 0;
        }
    assert_true(cn_hash("ab", 2) != cn_hash("ab\0", 3));
    assert_true(cn_hash("player-1", 8) != cn_hash("player-1", 7));
}

static void test_spread(void **st)
{
    (void)st;
    static unsigned buckets[1024];
    char id[32];
    for (int i = 0; i < 65536; i++) {
        int n = snprintf(id, sizeof(id), "player-%d", i);
        buckets[cn_hash(id, (size_t)n) & 1023]++;
    }
    for (int b = 0; b < 1024; b++)
        assert_true(buckets[b] < 64 * 2); /* mean 64 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_every_byte_counts),
        cmocka_unit_test(test_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
