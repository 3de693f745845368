/* SPDX-License-Identifier: MIT */
/*
 * test_lg_oom.c — allocation failure everywhere in the engine (SQLite's
 * loop): for N = 1, 2, 3, ... allocation N fails (once, then forever after
 * it) during a scenario of open (recovery of existing data), topic create,
 * appends on two partitions, a read, an iteration, retention and close.
 * Every call may fail with an error, none may crash, nothing may leak (a
 * live-allocation count that must return to zero after close), and the
 * directory must verify cleanly when reopened without faults.
 * The allocator hooks here are this test's own, with atomic counters,
 * because the writer thread allocates concurrently with the test thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "lg.h"
#include "lg_testutil.h"

static atomic_long a_count, a_live, a_fail_at;
static atomic_int a_forever;

static int should_fail(void)
{
    long n = atomic_fetch_add(&a_count, 1) + 1;
    long at = atomic_load(&a_fail_at);
    return at && (atomic_load(&a_forever) ? n >= at : n == at);
}

static void *h_malloc(size_t n, void *ud)
{
    (void)ud;
    if (should_fail())
        return NULL;
    void *p = malloc(n);
    if (p)
        atomic_fetch_add(&a_live, 1);
    return p;
}

static void *h_realloc(void *p, size_t n, void *ud)
{
    (void)ud;
    if (should_fail())
        return NULL;
    void *q = realloc(p, n);
    if (q && !p)
        atomic_fetch_add(&a_live, 1);
    return q;
}

static void h_free(void *p, void *ud)
{
    (void)ud;
    if (p)
        atomic_fetch_sub(&a_live, 1);
    free(p);
}

static void hooks_on(long fail_at, int forever)
{
    atomic_store(&a_count, 0);
    atomic_store(&a_live, 0);
    atomic_store(&a_fail_at, fail_at);
    atomic_store(&a_forever, forever);
    cn_alloc_hooks h = {h_malloc, h_realloc, h_free, NULL};
    cn_alloc_set_hooks(&h);
}

static void noop_cb(void *ud, const lg_append_result *r)
{
    (void)r;
    atomic_fetch_add((atomic_int *)ud, 1);
}

/* The scenario; returns 1 if it ran to the end without any error. */
static int scenario(const char *dir, const cn_buf *batch)
{
    lg_opts o;
    lg_opts_init(&o);
    o.dir = dir;
    o.durability = LG_DUR_NONE;
    o.segment_bytes = 2048;
    o.lmdb_map_bytes = 64u << 20;
    lg_log *log;
    int clean = 1;
    if (lg_open(&log, &o) != 0)
        return 0;
    lg_topic_config c = {2, 0, 1500, 0};
    int rc = lg_topic_create(log, "o", &c);
    if (rc && rc != CN_EEXIST)
        clean = 0;
    atomic_int cbs = 0;
    int queued = 0;
    for (int i = 0; i < 4; i++) {
        if (lg_append_async(log, "o", i % 2, batch->data, batch->len, noop_cb, &cbs) == 0)
            queued++;
        else
            clean = 0;
    }
    if (lg_append(log, "o", 0, batch->data, batch->len, NULL) != 0)
        clean = 0;
    lg_read_result r;
    lg_partition_info info;
    rc = lg_partition_info_get(log, "o", 0, &info);
    if (!rc && (rc = lg_read(log, "o", 0, info.log_start_offset, 100000, &r)) == 0)
        lg_read_release(log, &r);
    if (rc) {
        if (getenv("LGOOM_DEBUG"))
            print_message("read: %s\n", cn_errname(rc));
        clean = 0;
    }
    lg_iter *it;
    if (lg_iter_open(&it, log, "o", 1, 0) == 0) {
        lg_record rec;
        while ((rc = lg_iter_next(it, &rec)) == 0)
            ;
        if (rc != CN_DONE)
            clean = 0;
        lg_iter_close(it);
    } else {
        clean = 0;
    }
    if (lg_retention_run(log) < 0)
        clean = 0;
    lg_close(log);
    if (atomic_load(&cbs) != queued)
        fail_msg("%d callbacks for %d queued appends", atomic_load(&cbs), queued);
    return clean;
}

static void on_problem(void *ud, const char *file, uint64_t pos, const char *what)
{
    (void)ud;
    print_error("verify: %s at %llu: %s\n", file, (unsigned long long)pos, what);
}

static void verify_clean(const char *dir)
{
    cn_alloc_set_hooks(NULL);
    lg_opts o;
    lg_opts_init(&o);
    o.dir = dir;
    o.lmdb_map_bytes = 64u << 20;
    lg_log *log;
    assert_int_equal(lg_open(&log, &o), 0);
    assert_int_equal(lg_verify(log, on_problem, NULL), 0);
    lg_close(log);
}

static void run_loop(int forever)
{
    char *dir = cn_test_tmpdir("lgoom");
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 3, 4, 100, 1000, -1, -1, -1);
    /* first a clean run so later ones recover existing data too */
    hooks_on(0, 0);
    assert_true(scenario(dir, &b));
    assert_int_equal(atomic_load(&a_live), 0);
    long total = atomic_load(&a_count);
    long n;
    for (n = 1; n < 100000; n++) {
        hooks_on(n, forever);
        int clean = scenario(dir, &b);
        long live = atomic_load(&a_live);
        long count = atomic_load(&a_count);
        cn_alloc_set_hooks(NULL);
        if (live != 0)
            fail_msg("fail-at %ld (%s): %ld allocations leaked", n, forever ? "forever" : "once",
                     live);
        if (getenv("LGOOM_DEBUG"))
            print_message("n=%ld count=%ld clean=%d\n", n, count, clean);
        verify_clean(dir);
        if (count < n) {
            assert_true(clean);
            break;
        }
    }
    print_message("%s: %ld fault points (clean run: %ld allocations)\n",
                  forever ? "fail forever" : "fail once", n - 1, total);
    assert_true(n > 20);
    cn_buf_free(&b);
    cn_test_rmrf(dir);
    free(dir);
}

static void test_fail_once(void **st)
{
    (void)st;
    run_loop(0);
}

static void test_fail_forever(void **st)
{
    (void)st;
    run_loop(1);
}

int main(void)
{
    /* the loop opens the log hundreds of times: keep fsync off the disk */
    if (access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_once),
        cmocka_unit_test(test_fail_forever),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
