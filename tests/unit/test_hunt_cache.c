/* SPDX-License-Identifier: MIT */
/*
 * test_hunt_cache.c — the worker's write-through player cache against a
 * plain reference (an array with use stamps): 200,000 seeded random puts
 * and gets over 3,000 ids with room for 1,000, so evictions and the hash
 * index's backward-shift deletions happen constantly; every get must
 * agree with the reference (present with the last bytes put, or evicted
 * exactly when it is the least recently used), and a fail-at-N allocation
 * loop must never leave a stale value behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "hunt_cache.h"

#define IDS 3000
#define CAP 1000

typedef struct ref_entry {
    int present;
    uint64_t used;
    int64_t written;
    unsigned char s[40], p[40];
    size_t sn, pn;
} ref_entry;

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void ref_evict_lru(ref_entry *ref)
{
    int victim = -1, count = 0;
    for (int i = 0; i < IDS; i++)
        if (ref[i].present) {
            count++;
            if (victim < 0 || ref[i].used < ref[victim].used)
                victim = i;
        }
    if (count > CAP - 1 && victim >= 0)
        ref[victim].present = 0;
}

static void check_get(hunt_cache *c, ref_entry *ref, int i, uint64_t tick)
{
    char id[16];
    int n = snprintf(id, sizeof(id), "player-%d", i);
    const unsigned char *s, *p;
    size_t sn, pn;
    int64_t w;
    int rc = hunt_cache_get(c, id, (size_t)n, &s, &sn, &p, &pn, &w);
    if (!ref[i].present) {
        assert_int_equal(rc, CN_ENOENT);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(sn, ref[i].sn);
    assert_int_equal(pn, ref[i].pn);
    assert_memory_equal(s, ref[i].s, sn);
    assert_memory_equal(p, ref[i].p, pn);
    assert_int_equal(w, ref[i].written);
    ref[i].used = tick;
}

static void run(int fail_at)
{
    static ref_entry ref[IDS];
    memset(ref, 0, sizeof(ref));
    hunt_cache *c;
    assert_int_equal(hunt_cache_new(&c, CAP), 0);
    if (fail_at)
        cn_test_alloc_fail_at(fail_at, 0);
    for (uint64_t tick = 1; tick <= 200000; tick++) {
        int i = (int)rnd(IDS);
        if (rnd(3)) {
            check_get(c, ref, i, tick);
            continue;
        }
        char id[16];
        int n = snprintf(id, sizeof(id), "player-%d", i);
        unsigned char s[40], p[40];
        size_t sn = rnd(40), pn = 1 + rnd(39);
        for (size_t k = 0; k < sn; k++)
            s[k] = (unsigned char)rnd(256);
        for (size_t k = 0; k < pn; k++)
            p[k] = (unsigned char)rnd(256);
        int rc = hunt_cache_put(c, id, (size_t)n, s, sn, p, pn, (int64_t)tick);
        if (rc == CN_ENOMEM) {
            ref[i].present = 0; /* absent, never stale */
            continue;
        }
        assert_int_equal(rc, 0);
        if (!ref[i].present)
            ref_evict_lru(ref);
        ref[i] = (ref_entry){1, tick, (int64_t)tick, {0}, {0}, sn, pn};
        memcpy(ref[i].s, s, sn);
        memcpy(ref[i].p, p, pn);
    }
    cn_test_alloc_reset();
    for (int i = 0; i < IDS; i++)
        check_get(c, ref, i, 300000 + (uint64_t)i);
    hunt_cache_free(c);
}

static void test_against_reference(void **state)
{
    (void)state;
    run(0);
}

static void test_allocation_failure(void **state)
{
    (void)state;
    /* Fail one allocation at several points of the run: the player whose
     * put failed is absent afterwards, everything else still agrees. */
    for (int at = 1; at <= 2001; at += 500)
        run(at);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
