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
 *
 * Through a gate on fdatasync (the test holds syncs back and releases
 * them): a round that wrote several partitions has all their fdatasyncs in
 * flight at once (one wait for the device), and acknowledges none of its
 * appends before every one of them returned; the next round is written
 * while the previous round's syncs are still held; appends queued while a
 * sync is held share the next round's syncs (group commit, shown without
 * depending on how the scheduler interleaves the appending threads).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "lg.h"
#include "lg_int.h" /* the index environment: a test holds its write lock */
#include "lg_testutil.h"

/* An fdatasync gate in front of the counting VFS: while closed, each
 * fdatasync waits for a token; the gate counts how many wait at once. */
typedef struct gate {
    lg_vfs vfs;
    const lg_vfs *in;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int closed;
    long tokens;
    int waiting, max_waiting;
    atomic_long passed; /* fdatasyncs that returned */
} gate;

typedef struct fx {
    char *dir;
    lg_opts o;
    lg_log *log;
    lgt_vfs v;
    gate g;
} fx;

static int gt_open(void *ud, const char *path, int flags, mode_t mode)
{
    const gate *g = ud;
    return g->in->open(g->in->ud, path, flags, mode);
}

static int gt_close(void *ud, int fd)
{
    const gate *g = ud;
    return g->in->close(g->in->ud, fd);
}

static ssize_t gt_pwrite(void *ud, int fd, const void *buf, size_t n, off_t off)
{
    const gate *g = ud;
    return g->in->pwrite(g->in->ud, fd, buf, n, off);
}

static ssize_t gt_pread(void *ud, int fd, void *buf, size_t n, off_t off)
{
    const gate *g = ud;
    return g->in->pread(g->in->ud, fd, buf, n, off);
}

static int gt_fdatasync(void *ud, int fd)
{
    gate *g = ud;
    pthread_mutex_lock(&g->mu);
    g->waiting++;
    if (g->waiting > g->max_waiting)
        g->max_waiting = g->waiting;
    pthread_cond_broadcast(&g->cv);
    while (g->closed && g->tokens == 0)
        pthread_cond_wait(&g->cv, &g->mu);
    if (g->closed)
        g->tokens--;
    g->waiting--;
    pthread_mutex_unlock(&g->mu);
    int rc = g->in->fdatasync(g->in->ud, fd);
    atomic_fetch_add(&g->passed, 1);
    return rc;
}

static int gt_ftruncate(void *ud, int fd, off_t len)
{
    const gate *g = ud;
    return g->in->ftruncate(g->in->ud, fd, len);
}

static int gt_unlink(void *ud, const char *path)
{
    const gate *g = ud;
    return g->in->unlink(g->in->ud, path);
}

static int gt_rename(void *ud, const char *from, const char *to)
{
    const gate *g = ud;
    return g->in->rename(g->in->ud, from, to);
}

/* Put the gate (open) in front of f->v. */
static void gate_install(fx *f)
{
    gate *g = &f->g;
    g->vfs = (lg_vfs){gt_open,      gt_close,  gt_pwrite, gt_pread, gt_fdatasync,
                      gt_ftruncate, gt_unlink, gt_rename, g};
    g->in = &f->v.vfs;
    f->o.vfs = &g->vfs;
}

static void gate_set(gate *g, int closed, long tokens)
{
    pthread_mutex_lock(&g->mu);
    g->closed = closed;
    g->tokens = tokens;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Wait (generously: the machine may be loaded) until n fdatasyncs wait at
 * the gate at once; the number waiting then. */
static int gate_wait_for(gate *g, int n)
{
    pthread_mutex_lock(&g->mu);
    for (int i = 0; i < 600 && g->waiting < n; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    }
    int w = g->waiting;
    pthread_mutex_unlock(&g->mu);
    return w;
}

static int setup(void **st)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = cn_test_tmpdir("lgappend");
    lgt_vfs_init(&f->v);
    lg_opts_init(&f->o);
    f->o.dir = f->dir;
    f->o.vfs = &f->v.vfs;
    pthread_mutex_init(&f->g.mu, NULL);
    pthread_cond_init(&f->g.cv, NULL);
    atomic_init(&f->g.passed, 0);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    fx *f = *st;
    gate_set(&f->g, 0, 0);
    lg_close(f->log);
    cn_test_rmrf(f->dir);
    pthread_cond_destroy(&f->g.cv);
    pthread_mutex_destroy(&f->g.mu);
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
    /* How many appends share a sync here depends on how the scheduler
     * interleaves the threads with the writer (on a loaded machine a round
     * may hold one append): printed, not asserted.  Sharing is asserted
     * deterministically by test_appends_queued_during_a_sync_share_the_next. */
    print_message("group commit: %d blocking appends from %d threads, %ld fdatasyncs\n", appends,
                  THREADS, syncs);
    assert_true(syncs > 0);
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
    long passed_at_ack; /* gate: fdatasyncs returned when acknowledged */
} actx;

static atomic_int g_done;

static void acb(void *ud, const lg_append_result *r)
{
    actx *a = ud;
    a->err = r->err;
    a->off = r->base_offset;
    a->synced_after = atomic_load(&a->f->v.n_fdatasync) > a->sync_at_submit;
    a->passed_at_ack = atomic_load(&a->f->g.passed);
    a->done = 1;
    atomic_fetch_add(&g_done, 1);
}

/* One blocking append to each partition: their segment files exist
 * afterwards, so later rounds sync data only (no new directory entry). */
static void warm_up(fx *f, int parts)
{
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 1, 1, 10, 5, -1, -1, -1);
    for (int i = 0; i < parts; i++)
        assert_int_equal(lg_append(f->log, "t", i, b.data, b.len, NULL), 0);
    cn_buf_free(&b);
}

static void wait_done(int n)
{
    for (int i = 0; i < 60000 && atomic_load(&g_done) < n; i++)
        usleep(1000);
    assert_int_equal(atomic_load(&g_done), n);
}

/* Appends queued while a round's sync is held are all written and synced
 * by at most two more rounds (one is written beside the held sync, the
 * rest wait in the queue for the next): with P partitions at most 2 * P
 * more fdatasyncs for N appends, whatever the scheduling.  Without group
 * commit there would be one per append. */
static void test_appends_queued_during_a_sync_share_the_next(void **st)
{
    fx *f = *st;
    gate_install(f);
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    lg_topic_config c = {2, 0, 0, 0};
    assert_int_equal(lg_topic_create(f->log, "t", &c), 0);
    warm_up(f, 2);
    enum { N = 40 };
    actx a[N + 1];
    memset(a, 0, sizeof(a));
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 3, 4, 50, 5, -1, -1, -1);
    atomic_store(&g_done, 0);
    gate_set(&f->g, 1, 0);
    a[N].f = f;
    assert_int_equal(lg_append_async(f->log, "t", 0, b.data, b.len, acb, &a[N]), 0);
    assert_int_equal(gate_wait_for(&f->g, 1), 1); /* the first round's sync is held */
    long sync0 = atomic_load(&f->v.n_fdatasync);
    for (int i = 0; i < N; i++) {
        a[i].f = f;
        assert_int_equal(lg_append_async(f->log, "t", i % 2, b.data, b.len, acb, &a[i]), 0);
    }
    assert_int_equal(atomic_load(&g_done), 0); /* nothing acknowledged while held */
    gate_set(&f->g, 0, 0);
    wait_done(N + 1);
    long syncs = atomic_load(&f->v.n_fdatasync) - sync0;
    print_message("group commit: %d appends queued during a held sync, %ld more fdatasyncs\n", N,
                  syncs);
    assert_true(syncs <= 1 + 2 * 2); /* the held one, then at most two rounds of 2 */
    for (int i = 0; i <= N; i++)
        assert_int_equal(a[i].err, 0);
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
    cn_buf_free(&b);
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

static void staller_start(staller *x, lg_log *log)
{
    x->log = log;
    atomic_init(&x->held, 0);
    atomic_init(&x->release, 0);
    pthread_create(&x->th, NULL, staller_main, x);
    while (!atomic_load(&x->held))
        usleep(1000);
    assert_int_equal(atomic_load(&x->held), 1);
}

static void staller_stop(staller *x)
{
    atomic_store(&x->release, 1);
    pthread_join(x->th, NULL);
}

/* One durability barrier per round: a round that wrote P partitions has
 * all P fdatasyncs in flight at the same time (so the device is waited
 * for once, not P times one after another), and none of its appends is
 * acknowledged before all P returned.  The next round is written while
 * those syncs are held, and waits for its own sync.  The round is made
 * deterministic by stalling the writer in the previous round's index
 * commit while the P appends are queued. */
static void test_round_syncs_its_partitions_at_once(void **st)
{
    fx *f = *st;
    gate_install(f);
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    enum { P = 6 };
    lg_topic_config c = {P, 0, 0, 0};
    assert_int_equal(lg_topic_create(f->log, "t", &c), 0);
    warm_up(f, P);
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 5, 4, 50, 5, -1, -1, -1);
    actx plug, a[P], late;
    memset(&plug, 0, sizeof(plug));
    memset(a, 0, sizeof(a));
    memset(&late, 0, sizeof(late));
    plug.f = late.f = f;
    atomic_store(&g_done, 0);
    staller x;
    staller_start(&x, f->log);
    long passed0 = atomic_load(&f->g.passed);
    assert_int_equal(lg_append_async(f->log, "t", 0, b.data, b.len, acb, &plug), 0);
    /* the plug's round synced, then stalls in its index commit */
    for (int i = 0; i < 60000 && atomic_load(&f->g.passed) == passed0; i++)
        usleep(1000);
    assert_true(atomic_load(&f->g.passed) > passed0);
    for (int i = 0; i < P; i++) {
        a[i].f = f;
        assert_int_equal(lg_append_async(f->log, "t", i, b.data, b.len, acb, &a[i]), 0);
    }
    gate_set(&f->g, 1, 0);
    staller_stop(&x);
    wait_done(1); /* the plug */
    assert_int_equal(plug.err, 0);
    /* The P appends form one round: its P syncs wait at the gate together. */
    assert_int_equal(gate_wait_for(&f->g, P), P);
    long passed1 = atomic_load(&f->g.passed);
    long writes = atomic_load(&f->v.n_pwrite);
    /* The next round is written beside the held syncs... */
    assert_int_equal(lg_append_async(f->log, "t", 0, b.data, b.len, acb, &late), 0);
    for (int i = 0; i < 60000 && atomic_load(&f->v.n_pwrite) == writes; i++)
        usleep(1000);
    assert_true(atomic_load(&f->v.n_pwrite) > writes);
    /* ...and nothing of either round is acknowledged while they are held. */
    usleep(20000);
    assert_int_equal(atomic_load(&g_done), 1);
    assert_int_equal(f->g.max_waiting, P);
    gate_set(&f->g, 0, 0);
    wait_done(P + 2);
    for (int i = 0; i < P; i++) {
        assert_int_equal(a[i].err, 0);
        assert_true(a[i].passed_at_ack >= passed1 + P); /* after every sync of its round */
    }
    assert_int_equal(late.err, 0);
    assert_true(late.passed_at_ack >= passed1 + P + 1); /* after its own round's sync */
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
    cn_buf_free(&b);
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
        cmocka_unit_test_setup_teardown(test_appends_queued_during_a_sync_share_the_next, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_round_syncs_its_partitions_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_try_refuses_when_queue_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interval_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_none_mode_and_close_drains, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
