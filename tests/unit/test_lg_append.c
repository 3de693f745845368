/* SPDX-License-Identifier: MIT */
/*
 * test_lg_append.c — group commit and durability modes, counted through a
 * VFS: appends from several threads share fdatasyncs (far fewer syncs than
 * appends), every acknowledged fsync-mode append saw an fdatasync after it
 * was queued (I2), offsets are unique and gap-free under concurrency,
 * pipelined async appends, the interval mode syncs on its timer, the none
 * mode never syncs segments, and close drains what is pending;
 * lg_append_batches_try refuses (CN_AGAIN, nothing queued) instead of
 * waiting when the queue is over max_queued_bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "lg.h"
#include "lg_int.h" /* the index environment: a test holds its write lock */
#include "lg_testutil.h"

typedef struct fx {
    char *dir;
    lg_opts o;
    lg_log *log;
    lgt_vfs v;
} fx;

static int setup(void **st)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = cn_test_tmpdir("lgappend");
    lgt_vfs_init(&f->v);
    lg_opts_init(&f->o);
    f->o.dir = f->dir;
    f->o.vfs = &f->v.vfs;
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    fx *f = *st;
    lg_close(f->log);
    cn_test_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

#define THREADS 8
#define PER_THREAD 300
#define RECS 4

typedef struct worker {
    fx *f;
    int id;
    int64_t offs[PER_THREAD];
    int fails;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    cn_buf b = CN_BUF_INIT;
    for (int i = 0; i < PER_THREAD; i++) {
        cn_buf_reset(&b);
        lgt_batch(&b, (uint32_t)(w->id * 100000 + i), RECS, 40, 1000 + i, -1, -1, -1);
        lg_append_result r;
        if (lg_append(w->f->log, "t", w->id % 2, b.data, b.len, &r) != 0)
            w->fails++;
        w->offs[i] = r.base_offset;
    }
    cn_buf_free(&b);
    return NULL;
}

static void test_group_commit_threads(void **st)
{
    fx *f = *st;
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    lg_topic_config c = {2, 0, 0, 0};
    assert_int_equal(lg_topic_create(f->log, "t", &c), 0);
    long sync0 = atomic_load(&f->v.n_fdatasync);
    worker w[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].f = f;
        w[i].id = i;
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    long syncs = atomic_load(&f->v.n_fdatasync) - sync0;
    int appends = THREADS * PER_THREAD;
    print_message("group commit: %d blocking appends from %d threads, %ld fdatasyncs\n", appends,
                  THREADS, syncs);
    /* Several appends share each sync; without group commit syncs >= appends. */
    assert_true(syncs > 0);
    assert_true(syncs * 2 < appends);
    /* per partition: offsets unique, gap-free, multiples of RECS */
    for (int p = 0; p < 2; p++) {
        int64_t all[THREADS * PER_THREAD];
        size_t n = 0;
        for (int i = 0; i < THREADS; i++) {
            assert_int_equal(w[i].fails, 0);
            if (i % 2 == p)
                for (int j = 0; j < PER_THREAD; j++)
                    all[n++] = w[i].offs[j];
        }
        qsort(all, n, sizeof(all[0]), cmp_i64);
        for (size_t k = 0; k < n; k++)
            assert_true(all[k] == (int64_t)k * RECS);
        lg_partition_info info;
        assert_int_equal(lg_partition_info_get(f->log, "t", p, &info), 0);
        assert_true(info.log_end_offset == (int64_t)n * RECS);
    }
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
}

/* Async pipelined appends; each callback checks an fdatasync happened
 * after its append was queued (I2). */
typedef struct actx {
    fx *f;
    long sync_at_submit;
    int done, err, synced_after;
    int64_t off;
} actx;

static atomic_int g_done;

static void acb(void *ud, const lg_append_result *r)
{
    actx *a = ud;
    a->err = r->err;
    a->off = r->base_offset;
    a->synced_after = atomic_load(&a->f->v.n_fdatasync) > a->sync_at_submit;
    a->done = 1;
    atomic_fetch_add(&g_done, 1);
}

static void test_async_pipelined_fsync(void **st)
{
    fx *f = *st;
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    lg_topic_config c = {1, 0, 0, 0};
    assert_int_equal(lg_topic_create(f->log, "t", &c), 0);
    enum { N = 3000 };
    actx *a = calloc(N, sizeof(*a));
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 7, 16, 100, 5, -1, -1, -1);
    atomic_store(&g_done, 0);
    long sync0 = atomic_load(&f->v.n_fdatasync);
    for (int i = 0; i < N; i++) {
        a[i].f = f;
        a[i].sync_at_submit = atomic_load(&f->v.n_fdatasync);
        assert_int_equal(lg_append_async(f->log, "t", 0, b.data, b.len, acb, &a[i]), 0);
    }
    while (atomic_load(&g_done) < N)
        usleep(1000);
    long syncs = atomic_load(&f->v.n_fdatasync) - sync0;
    print_message("pipelined: %d async appends, %ld fdatasyncs\n", N, syncs);
    assert_true(syncs * 10 < N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(a[i].err, 0);
        assert_true(a[i].synced_after);
        assert_true(a[i].off == (int64_t)i * 16); /* one thread: queue order kept */
    }
    free(a);
    cn_buf_free(&b);
}

static uint64_t queued_now(lg_log *log)
{
    pthread_mutex_lock(&log->qmu);
    uint64_t q = log->queued_bytes;
    pthread_mutex_unlock(&log->qmu);
    return q;
}

/* Holds the index's write lock on a thread of its own (the thread that
 * appends must not hold it: the log takes its topic lock before LMDB's). */
typedef struct staller {
    lg_log *log;
    atomic_int held, release;
    pthread_t th;
} staller;

static void *staller_main(void *ud)
{
    staller *x = ud;
    MDB_txn *txn;
    int rc = mdb_txn_begin(x->log->ix.env, NULL, 0, &txn);
    atomic_store(&x->held, rc == 0 ? 1 : -1);
    while (!atomic_load(&x->release))
        usleep(1000);
    if (rc == 0)
        mdb_txn_abort(txn);
    return NULL;
}

/* With the writer stuck in a round (the index's write lock held), the
 * queue fills: lg_append_batches_try then refuses at once with CN_AGAIN
 * and queues nothing, and succeeds once the writer has taken its round. */
static void test_append_try_refuses_when_queue_full(void **st)
{
    fx *f = *st;
    f->o.max_queued_bytes = 1024;
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    lg_topic_config c = {1, 0, 0, 0};
    assert_int_equal(lg_topic_create(f->log, "t", &c), 0);
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 9, 1, 500, 5, -1, -1, -1);
    assert_true(b.len > 512 && b.len < 1024);
    lg_batchv v = {b.data, b.len};
    actx a[3];
    memset(a, 0, sizeof(a));
    for (int i = 0; i < 3; i++)
        a[i].f = f;
    atomic_store(&g_done, 0);
    staller x = {.log = f->log};
    atomic_init(&x.held, 0);
    atomic_init(&x.release, 0);
    pthread_create(&x.th, NULL, staller_main, &x);
    while (!atomic_load(&x.held))
        usleep(1000);
    assert_int_equal(atomic_load(&x.held), 1);
    assert_int_equal(lg_append_batches_try(f->log, "t", 0, &v, 1, acb, &a[0]), 0);
    /* The writer takes it into a round, which then waits for the lock. */
    for (int i = 0; i < 30000 && queued_now(f->log) != 0; i++)
        usleep(1000);
    uint64_t q0 = queued_now(f->log);
    int r1 = lg_append_batches_try(f->log, "t", 0, &v, 1, acb, &a[1]);
    int r2 = lg_append_batches_try(f->log, "t", 0, &v, 1, acb, &a[2]);
    uint64_t q1 = queued_now(f->log);
    atomic_store(&x.release, 1);
    pthread_join(x.th, NULL);
    assert_int_equal(q0, 0);
    assert_int_equal(r1, 0);        /* an empty queue takes it */
    assert_int_equal(r2, CN_AGAIN); /* 2 x 500+ bytes > 1024 */
    assert_int_equal(q1, b.len);    /* the refused one left nothing */
    int r = CN_AGAIN;
    for (int i = 0; i < 30000 && r == CN_AGAIN; i++) {
        r = lg_append_batches_try(f->log, "t", 0, &v, 1, acb, &a[2]);
        if (r == CN_AGAIN)
            usleep(1000);
    }
    assert_int_equal(r, 0);
    while (atomic_load(&g_done) < 3)
        usleep(1000);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(a[i].err, 0);
        assert_true(a[i].off == i);
    }
    cn_buf_free(&b);
}

static void test_interval_mode(void **st)
{
    fx *f = *st;
    f->o.durability = LG_DUR_INTERVAL;
    f->o.interval_ms = 30;
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    lg_topic_config c = {1, 0, 0, 0};
    assert_int_equal(lg_topic_create(f->log, "t", &c), 0);
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 7, 4, 100, 5, -1, -1, -1);
    long sync0 = atomic_load(&f->v.n_fdatasync);
    for (int i = 0; i < 200; i++)
        assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), 0);
    long during = atomic_load(&f->v.n_fdatasync) - sync0;
    /* acknowledged without a sync each: far fewer syncs than appends */
    assert_true(during < 100);
    /* the timer syncs what was written (wait without asserting a time) */
    for (int i = 0; i < 5000 && atomic_load(&f->v.n_fdatasync) == sync0 + during; i++)
        usleep(1000);
    assert_true(atomic_load(&f->v.n_fdatasync) > sync0 + during);
    lg_partition_info info;
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &info), 0);
    assert_true(info.log_end_offset == 800);
    cn_buf_free(&b);
}

static void test_none_mode_and_close_drains(void **st)
{
    fx *f = *st;
    f->o.durability = LG_DUR_NONE;
    f->o.segment_bytes = 8192; /* rolls too: none mode syncs nothing */
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    lg_topic_config c = {1, 0, 0, 0};
    assert_int_equal(lg_topic_create(f->log, "t", &c), 0);
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 7, 4, 100, 5, -1, -1, -1);
    long sync0 = atomic_load(&f->v.n_fdatasync);
    enum { N = 500 };
    actx *a = calloc(N, sizeof(*a));
    atomic_store(&g_done, 0);
    for (int i = 0; i < N; i++) {
        a[i].f = f;
        assert_int_equal(lg_append_async(f->log, "t", 0, b.data, b.len, acb, &a[i]), 0);
    }
    lg_close(f->log); /* drains: every callback has run when close returns */
    f->log = NULL;
    assert_int_equal(atomic_load(&g_done), N);
    for (int i = 0; i < N; i++)
        assert_int_equal(a[i].err, 0);
    assert_int_equal(atomic_load(&f->v.n_fdatasync), sync0);
    f->o.durability = LG_DUR_FSYNC;
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    lg_partition_info info;
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &info), 0);
    assert_true(info.log_end_offset == N * 4);
    assert_true(info.segments > 1);
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
    free(a);
    cn_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_commit_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_pipelined_fsync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_try_refuses_when_queue_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interval_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_none_mode_and_close_drains, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
