/* SPDX-License-Identifier: MIT */
/*
 * test_hunt_store.c — the RocksDB state store with an injected clock:
 * sessions never expire for readers (the engine decides on ping time) and
 * leave the disk at the next forced compaction once stamped at or before
 * the session horizon, never on the clock (checked with a raw iterator),
 * while progress never expires and audit lives out its own TTL; an atomic batch
 * of state + audit + offsets is all there after reopen, an unwritten one
 * leaves no trace; RocksDB errors (a second open of a locked DB, a file
 * where a directory should be) come back as cn_err codes with a message.
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
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cn_buf.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "hunt_store.h"

#define T0 INT64_C(1795888800000)
#define MIN INT64_C(60000)
#define DAY (1440 * MIN)

static _Atomic int64_t fake_now;

/* Called from RocksDB's compaction threads too: an atomic load. */
static int64_t fake_clock(void *ud)
{
    (void)ud;
    return atomic_load(&fake_now);
}

static hunt_store *open_store(const char *dir)
{
    hunt_store_opts o = {0};
    o.clock = fake_clock;
    hunt_store *s = NULL;
    char err[HUNT_STORE_ERR_MAX];
    int rc = hunt_store_open(dir, &o, &s, err, sizeof(err));
    if (rc)
        fail_msg("open: %d %s", rc, err);
    return s;
}

static int count_fn(void *ud, const void *k, size_t kl, const void *v, size_t vl, int64_t w)
{
    (void)k;
    (void)kl;
    (void)v;
    (void)vl;
    (void)w;
    (*(long *)ud)++;
    return 0;
}

static int stop_fn(void *ud, const void *k, size_t kl, const void *v, size_t vl, int64_t w)
{
    count_fn(ud, k, kl, v, vl, w);
    return 1;
}

static long count(hunt_store *s, enum hunt_cf cf, int raw)
{
    long n = 0;
    assert_int_equal(hunt_store_scan(s, cf, raw, count_fn, &n), 0);
    return n;
}

static void put_n(hunt_store *s, enum hunt_cf cf, const char *prefix, int from, int to)
{
    hunt_batch *b;
    assert_int_equal(hunt_batch_new(s, &b), 0);
    for (int i = from; i < to; i++) {
        char k[32], v[64];
        int kl = snprintf(k, sizeof(k), "%s%05d", prefix, i);
        int vl = snprintf(v, sizeof(v), "value of %s%05d", prefix, i);
        assert_int_equal(hunt_batch_put(b, cf, k, (size_t)kl, v, (size_t)vl), 0);
    }
    assert_int_equal(hunt_store_write(s, b), 0);
    hunt_batch_free(b);
}

static int get_key(hunt_store *s, enum hunt_cf cf, const char *k, cn_buf *v)
{
    return hunt_store_get(s, cf, k, strlen(k), v, NULL);
}

static void test_ttl_and_compaction(void **st)
{
    (void)st;
    char *dir = cn_test_tmpdir("huntstore");
    atomic_store(&fake_now, T0);
    hunt_store *s = open_store(dir);
    cn_buf v = CN_BUF_INIT;
    put_n(s, HUNT_CF_SESSIONS, "old-", 0, 100);
    put_n(s, HUNT_CF_PROGRESS, "player-", 0, 100);
    hunt_batch *b;
    assert_int_equal(hunt_batch_new(s, &b), 0);
    for (int i = 0; i < 40; i++)
        assert_int_equal(hunt_batch_put_audit(b, 0, i, 0, "audit", 5, NULL), 0);
    assert_int_equal(hunt_store_write(s, b), 0);
    /* A first compaction moves everything into SST files (nothing expired). */
    assert_int_equal(hunt_store_compact_expired(s), 0);
    assert_int_equal(count(s, HUNT_CF_SESSIONS, 1), 100);

    atomic_store(&fake_now, T0 + 20 * MIN);
    put_n(s, HUNT_CF_SESSIONS, "new-", 0, 50);
    /* The clock alone expires no session, for readers or compaction ... */
    atomic_store(&fake_now, T0 + 3 * DAY);
    assert_int_equal(hunt_store_compact_expired(s), 0);
    assert_int_equal(get_key(s, HUNT_CF_SESSIONS, "old-00007", &v), 0);
    assert_true(v.len == 18 && memcmp(v.data, "value of old-00007", 18) == 0);
    assert_int_equal(count(s, HUNT_CF_SESSIONS, 1), 150);
    /* ... the horizon does, at compaction: stamps at or before it go. */
    hunt_store_set_session_horizon(s, T0);
    hunt_store_set_session_horizon(s, T0 - MIN); /* never moves back */
    assert_int_equal(hunt_store_session_horizon(s), T0);
    assert_int_equal(get_key(s, HUNT_CF_SESSIONS, "old-00007", &v), 0);
    assert_int_equal(count(s, HUNT_CF_SESSIONS, 0), 150);
    uint64_t sst_before = 0, sst_after = 0;
    assert_int_equal(
        hunt_store_property(s, HUNT_CF_SESSIONS, "rocksdb.total-sst-files-size", &sst_before), 0);
    assert_int_equal(hunt_store_compact_expired(s), 0);
    assert_int_equal(count(s, HUNT_CF_SESSIONS, 1), 50);
    assert_int_equal(get_key(s, HUNT_CF_SESSIONS, "old-00007", &v), CN_ENOENT);
    assert_int_equal(get_key(s, HUNT_CF_SESSIONS, "new-00007", &v), 0);
    assert_int_equal(
        hunt_store_property(s, HUNT_CF_SESSIONS, "rocksdb.total-sst-files-size", &sst_after), 0);
    assert_true(sst_after > 0);
    /* Progress and audit are untouched by the session TTL. */
    assert_int_equal(count(s, HUNT_CF_PROGRESS, 1), 100);
    assert_int_equal(get_key(s, HUNT_CF_PROGRESS, "player-00099", &v), 0);
    assert_int_equal(count(s, HUNT_CF_AUDIT, 1), 40);
    assert_int_equal(count(s, HUNT_CF_AUDIT, 0), 40);
    /* A dropped session is recreated by the next write. */
    atomic_store(&fake_now, T0 + 30 * MIN);
    put_n(s, HUNT_CF_SESSIONS, "old-", 7, 8);
    assert_int_equal(get_key(s, HUNT_CF_SESSIONS, "old-00007", &v), 0);

    /* Ninety days on: audit expires too; progress stays. */
    atomic_store(&fake_now, T0 + 90 * DAY);
    hunt_store_set_session_horizon(s, T0 + 30 * MIN);
    assert_int_equal(count(s, HUNT_CF_AUDIT, 0), 0);
    assert_int_equal(count(s, HUNT_CF_AUDIT, 1), 40);
    assert_int_equal(hunt_store_compact_expired(s), 0);
    assert_int_equal(count(s, HUNT_CF_AUDIT, 1), 0);
    assert_int_equal(count(s, HUNT_CF_SESSIONS, 1), 0);
    assert_int_equal(count(s, HUNT_CF_PROGRESS, 1), 100);
    /* After reopen, nothing expired comes back. */
    hunt_batch_free(b);
    hunt_store_close(s);
    s = open_store(dir);
    assert_int_equal(count(s, HUNT_CF_SESSIONS, 1), 0);
    assert_int_equal(count(s, HUNT_CF_PROGRESS, 1), 100);
    hunt_store_close(s);
    cn_buf_free(&v);
    cn_test_rmrf(dir);
    free(dir);
}

static void test_cold_audit_range(void **st)
{
    (void)st;
    char *dir = cn_test_tmpdir("huntstore");
    atomic_store(&fake_now, T0);
    hunt_store *s = open_store(dir);
    hunt_batch *b;
    assert_int_equal(hunt_batch_new(s, &b), 0);
    unsigned char k_old[HUNT_AUDIT_KEY_LEN], k_new[HUNT_AUDIT_KEY_LEN];
    assert_int_equal(hunt_batch_put_audit(b, 3, 41, 1, "x", 1, k_old), 0);
    assert_int_equal(hunt_store_write(s, b), 0);
    hunt_batch_clear(b);
    atomic_store(&fake_now, T0 + 10 * DAY);
    assert_int_equal(hunt_batch_put_audit(b, 3, 42, 0, "y", 1, k_new), 0);
    assert_int_equal(hunt_store_write(s, b), 0);
    /* Keys sort by write time. */
    assert_true(memcmp(k_old, k_new, HUNT_AUDIT_KEY_LEN) < 0);
    atomic_store(&fake_now, T0 + 90 * DAY);
    assert_int_equal(hunt_store_compact_expired(s), 0);
    assert_int_equal(count(s, HUNT_CF_AUDIT, 1), 1);
    cn_buf v = CN_BUF_INIT;
    int64_t w = 0;
    assert_int_equal(hunt_store_get(s, HUNT_CF_AUDIT, k_new, sizeof(k_new), &v, &w), 0);
    assert_true(w == T0 + 10 * DAY && v.len == 1 && v.data[0] == 'y');
    assert_int_equal(hunt_store_get(s, HUNT_CF_AUDIT, k_old, sizeof(k_old), &v, &w), CN_ENOENT);
    /* maybe_compact runs only when due on the store's clock. */
    assert_int_equal(hunt_store_maybe_compact(s, MIN), 0);
    atomic_store(&fake_now, T0 + 90 * DAY + MIN);
    assert_int_equal(hunt_store_maybe_compact(s, MIN), 1);
    assert_int_equal(hunt_store_maybe_compact(s, MIN), 0);
    /* A clock stepped back does not expire anything early. */
    atomic_store(&fake_now, T0);
    assert_int_equal(hunt_store_get(s, HUNT_CF_AUDIT, k_new, sizeof(k_new), &v, &w), 0);
    hunt_batch_free(b);
    hunt_store_close(s);
    cn_buf_free(&v);
    cn_test_rmrf(dir);
    free(dir);
}

static void test_atomic_batch_reopen(void **st)
{
    (void)st;
    char *dir = cn_test_tmpdir("huntstore");
    atomic_store(&fake_now, T0);
    hunt_store *s = open_store(dir);
    int64_t next;
    assert_int_equal(hunt_store_get_offset(s, "ble-raw", 2, &next), CN_ENOENT);
    put_n(s, HUNT_CF_SESSIONS, "gone-", 0, 1);

    hunt_batch *b;
    assert_int_equal(hunt_batch_new(s, &b), 0);
    assert_int_equal(hunt_batch_put(b, HUNT_CF_SESSIONS, "alice", 5, "S1", 2), 0);
    assert_int_equal(hunt_batch_put(b, HUNT_CF_PROGRESS, "alice", 5, "P1", 2), 0);
    assert_int_equal(hunt_batch_put_audit(b, 2, 1000, 0, "found b-01", 10, NULL), 0);
    assert_int_equal(hunt_batch_put_audit(b, 2, 1000, 1, "score 10", 8, NULL), 0);
    assert_int_equal(hunt_batch_delete(b, HUNT_CF_SESSIONS, "gone-00000", 10), 0);
    assert_int_equal(hunt_batch_put_offset(b, "ble-raw", 2, 1001), 0);
    assert_int_equal(hunt_batch_count(b), 6);
    assert_int_equal(hunt_store_write(s, b), 0);
    hunt_batch_free(b);
    /* A batch that is never written leaves no trace. */
    assert_int_equal(hunt_batch_new(s, &b), 0);
    assert_int_equal(hunt_batch_put(b, HUNT_CF_PROGRESS, "bob", 3, "P9", 2), 0);
    assert_int_equal(hunt_batch_put_offset(b, "ble-raw", 2, 5000), 0);
    hunt_batch_free(b);
    hunt_store_close(s);

    s = open_store(dir);
    cn_buf v = CN_BUF_INIT;
    assert_int_equal(get_key(s, HUNT_CF_SESSIONS, "alice", &v), 0);
    assert_memory_equal(v.data, "S1", 2);
    assert_int_equal(get_key(s, HUNT_CF_PROGRESS, "alice", &v), 0);
    assert_memory_equal(v.data, "P1", 2);
    assert_int_equal(get_key(s, HUNT_CF_PROGRESS, "bob", &v), CN_ENOENT);
    assert_int_equal(get_key(s, HUNT_CF_SESSIONS, "gone-00000", &v), CN_ENOENT);
    assert_int_equal(count(s, HUNT_CF_AUDIT, 1), 2);
    assert_int_equal(hunt_store_get_offset(s, "ble-raw", 2, &next), 0);
    assert_true(next == 1001);
    assert_int_equal(hunt_store_get_offset(s, "ble-raw", 3, &next), CN_ENOENT);
    assert_int_equal(hunt_store_get_offset(s, "ble-raw2", 2, &next), CN_ENOENT);
    /* A scan can stop early. */
    long n = 0;
    assert_int_equal(hunt_store_scan(s, HUNT_CF_AUDIT, 0, stop_fn, &n), 0);
    assert_int_equal(n, 1);
    /* Bad arguments. */
    char topic[400];
    memset(topic, 't', sizeof(topic) - 1);
    topic[sizeof(topic) - 1] = '\0';
    assert_int_equal(hunt_store_get_offset(s, topic, 0, &next), CN_EINVAL);
    assert_int_equal(hunt_batch_new(s, &b), 0);
    assert_int_equal(hunt_batch_put_offset(b, topic, 0, 1), CN_EINVAL);
    assert_int_equal(hunt_batch_put(b, HUNT_CF_COUNT, "k", 1, "v", 1), CN_EINVAL);
    assert_int_equal(hunt_batch_count(b), 0);
    assert_int_equal(hunt_store_get(s, HUNT_CF_COUNT, "k", 1, &v, NULL), CN_EINVAL);
    assert_int_equal(hunt_store_scan(s, HUNT_CF_COUNT, 0, count_fn, &n), CN_EINVAL);
    hunt_batch_free(b);
    assert_string_equal(hunt_store_cf_name(HUNT_CF_AUDIT), "audit");
    hunt_store_close(s);
    cn_buf_free(&v);
    cn_test_rmrf(dir);
    free(dir);
}

static void test_bind(void **st)
{
    (void)st;
    char *dir = cn_test_tmpdir("huntstore");
    atomic_store(&fake_now, T0);
    hunt_store *s = open_store(dir);
    char other[64] = "";
    assert_int_equal(hunt_store_bind(s, "", other, sizeof(other)), CN_EINVAL);
    assert_int_equal(hunt_store_bind(s, "museum-night", other, sizeof(other)), 0);
    assert_int_equal(hunt_store_bind(s, "museum-night", other, sizeof(other)), 0);
    hunt_store_close(s);
    s = open_store(dir);
    assert_int_equal(hunt_store_bind(s, "museum-nigh", other, sizeof(other)), CN_EEXIST);
    assert_string_equal(other, "museum-night");
    assert_int_equal(hunt_store_bind(s, "museum-night", NULL, 0), 0);
    /* The binding is not a player: no column family sees it. */
    for (int cf = 0; cf < HUNT_CF_COUNT; cf++)
        assert_int_equal(count(s, (enum hunt_cf)cf, 1), 0);
    hunt_store_close(s);
    cn_test_rmrf(dir);
    free(dir);
}

static void test_errors(void **st)
{
    (void)st;
    char *dir = cn_test_tmpdir("huntstore");
    atomic_store(&fake_now, T0);
    hunt_store *s = open_store(dir), *s2 = NULL;
    char err[HUNT_STORE_ERR_MAX];
    /* The DB is locked while open. */
    assert_int_equal(hunt_store_open(dir, NULL, &s2, err, sizeof(err)), CN_EBUSY);
    assert_null(s2);
    assert_non_null(strstr(err, dir));
    assert_non_null(strstr(err, "cannot open hunt state"));
    hunt_store_close(s);
    /* ... and against another process, which RocksDB reports differently. */
    int ready[2], done[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(done), 0);
    pid_t pid = fork();
    if (pid == 0) {
        hunt_store *cs = NULL;
        int crc = hunt_store_open(dir, NULL, &cs, NULL, 0);
        char c = crc == 0 ? 'y' : 'n';
        (void)!write(ready[1], &c, 1);
        (void)!read(done[0], &c, 1);
        hunt_store_close(cs);
        _exit(0);
    }
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    assert_int_equal(hunt_store_open(dir, NULL, &s2, err, sizeof(err)), CN_EBUSY);
    assert_int_equal(write(done[1], "x", 1), 1);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(ready[0]);
    close(ready[1]);
    close(done[0]);
    close(done[1]);
    /* Once the other process is gone, the DB opens. */
    s = open_store(dir);
    hunt_store_close(s);
    /* A regular file where the directory should be. */
    char path[4096];
    snprintf(path, sizeof(path), "%s/file", dir);
    FILE *f = fopen(path, "w");
    fputs("not a db", f);
    fclose(f);
    int rc = hunt_store_open(path, NULL, &s2, err, sizeof(err));
    assert_true(rc < 0);
    assert_null(s2);
    assert_non_null(strstr(err, path));
    /* Real clock and defaults work too. */
    snprintf(path, sizeof(path), "%s/db2", dir);
    assert_int_equal(hunt_store_open(path, NULL, &s2, err, sizeof(err)), 0);
    assert_true(hunt_store_now(s2) > T0 - 365 * DAY);
    assert_string_equal(hunt_store_errmsg(s2), "");
    hunt_store_close(s2);
    hunt_store_close(NULL);
    hunt_batch_free(NULL);
    cn_test_rmrf(dir);
    free(dir);
}

static void test_oom(void **st)
{
    (void)st;
    char *dir = cn_test_tmpdir("huntstore");
    atomic_store(&fake_now, T0);
    hunt_store *s = NULL;
    hunt_store_opts o = {0};
    o.clock = fake_clock;
    cn_test_alloc_fail_at(1, 1);
    assert_int_equal(hunt_store_open(dir, &o, &s, NULL, 0), CN_ENOMEM);
    assert_null(s);
    assert_int_equal(cn_test_alloc_live(), 0);
    cn_test_alloc_reset();
    s = open_store(dir);
    put_n(s, HUNT_CF_PROGRESS, "k", 0, 1);
    hunt_batch *b = NULL;
    cn_test_alloc_fail_at(1, 1);
    assert_int_equal(hunt_batch_new(s, &b), CN_ENOMEM);
    cn_buf v = CN_BUF_INIT;
    assert_int_equal(get_key(s, HUNT_CF_PROGRESS, "k00000", &v), CN_ENOMEM);
    int64_t next;
    assert_int_equal(hunt_store_get_offset(s, "t", 0, &next),
                     CN_ENOENT); /* absent: no allocation needed */
    cn_test_alloc_reset();
    assert_int_equal(get_key(s, HUNT_CF_PROGRESS, "k00000", &v), 0);
    cn_buf_free(&v);
    hunt_store_close(s);
    cn_test_rmrf(dir);
    free(dir);
}

/* The timed compaction a worker requests every minute runs on the store's
 * own thread: the request returns at once even while a compaction is held
 * up, and the compaction is seen on another thread. */
typedef struct held {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, release;
    pthread_t who;
} held;

static void hold_compaction(void *ud)
{
    held *h = ud;
    pthread_mutex_lock(&h->mu);
    h->entered = 1;
    h->who = pthread_self();
    pthread_cond_broadcast(&h->cv);
    while (!h->release)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

static void test_timed_compaction_off_the_callers_thread(void **st)
{
    (void)st;
    char *dir = cn_test_tmpdir("huntstore");
    held h = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
    atomic_store(&fake_now, T0);
    hunt_store_opts o = {0};
    o.clock = fake_clock;
    o.on_compact = hold_compaction;
    o.on_compact_ud = &h;
    hunt_store *s = NULL;
    assert_int_equal(hunt_store_open(dir, &o, &s, NULL, 0), 0);
    put_n(s, HUNT_CF_SESSIONS, "x-", 0, 10);
    assert_int_equal(hunt_store_maybe_compact(s, MIN), 0); /* not due */
    atomic_store(&fake_now, T0 + MIN);
    assert_int_equal(hunt_store_maybe_compact(s, MIN),
                     1); /* returns while the compaction is held */
    pthread_mutex_lock(&h.mu);
    while (!h.entered)
        pthread_cond_wait(&h.cv, &h.mu);
    assert_false(pthread_equal(h.who, pthread_self()));
    assert_int_equal(hunt_store_compactions(s), 0);
    /* Reads and writes go on meanwhile. */
    pthread_mutex_unlock(&h.mu);
    put_n(s, HUNT_CF_SESSIONS, "y-", 0, 10);
    assert_int_equal(count(s, HUNT_CF_SESSIONS, 1), 20);
    pthread_mutex_lock(&h.mu);
    h.release = 1;
    pthread_cond_broadcast(&h.cv);
    pthread_mutex_unlock(&h.mu);
    for (int i = 0; i < 2000 && hunt_store_compactions(s) < 1; i++)
        usleep(5000);
    assert_int_equal(hunt_store_compactions(s), 1);
    /* Close joins the thread, also with a compaction requested. */
    h.release = 1;
    atomic_store(&fake_now, T0 + 2 * MIN);
    assert_int_equal(hunt_store_maybe_compact(s, MIN), 1);
    hunt_store_close(s);
    cn_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ttl_and_compaction),
        cmocka_unit_test(test_timed_compaction_off_the_callers_thread),
        cmocka_unit_test(test_cold_audit_range),
        cmocka_unit_test(test_atomic_batch_reopen),
        cmocka_unit_test(test_bind),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
