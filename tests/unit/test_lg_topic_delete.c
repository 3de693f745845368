/* SPDX-License-Identifier: MIT */
/*
 * test_lg_topic_delete.c — deleting a topic while appends to it are in
 * flight, and what an append callback may do.
 *
 * The race: the writer takes a round's queues and then waits for the round
 * lock, which a topic delete holds; the delete frees the partitions the
 * writer is about to write.  Every queued append must still get exactly
 * one callback (LG_ENOTOPIC or a result), and nothing may touch freed
 * memory (ASan build).  The interleaving is forced: a topic enumeration
 * callback holds the topic table while the delete waits for it, so the
 * append is queued and taken by the writer before the delete proceeds.
 *
 * Callbacks run on the writer thread: calls that would wait for the writer
 * (lg_append, lg_truncate, lg_retention_run, lg_topic_delete) return
 * CN_EBUSY there instead of deadlocking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "lg.h"
#include "lg_testutil.h"

typedef struct fx {
    char *dir;
    lg_opts o;
    lg_log *log;
} fx;

static int setup(void **st)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = cn_test_tmpdir("lgtdel");
    lg_opts_init(&f->o);
    f->o.dir = f->dir;
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    lg_topic_config c = {1, 0, 0, 0};
    assert_int_equal(lg_topic_create(f->log, "t", &c), 0);
    assert_int_equal(lg_topic_create(f->log, "u", &c), 0);
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

typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, open;
    int ncb, err;
} gate;

static gate G = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0};

/* Holds the topic table (read) until the gate opens. */
static int hold_topics(void *ud, const char *name, const lg_topic_config *cfg)
{
    (void)ud, (void)name, (void)cfg;
    pthread_mutex_lock(&G.mu);
    G.entered = 1;
    pthread_cond_broadcast(&G.cv);
    while (!G.open)
        pthread_cond_wait(&G.cv, &G.mu);
    pthread_mutex_unlock(&G.mu);
    return 1; /* stop after the first topic */
}

static void *enumerate_main(void *arg)
{
    lg_topics_each(arg, hold_topics, NULL);
    return NULL;
}

static void *delete_main(void *arg)
{
    lg_topic_delete(arg, "t");
    return NULL;
}

static void count_cb(void *ud, const lg_append_result *r)
{
    (void)ud;
    pthread_mutex_lock(&G.mu);
    G.ncb++;
    G.err = r->err;
    pthread_cond_broadcast(&G.cv);
    pthread_mutex_unlock(&G.mu);
}

static void test_topic_delete_while_writer_takes_its_appends(void **st)
{
    fx *f = *st;
    pthread_t en, del;
    assert_int_equal(pthread_create(&en, NULL, enumerate_main, f->log), 0);
    pthread_mutex_lock(&G.mu);
    while (!G.entered)
        pthread_cond_wait(&G.cv, &G.mu);
    pthread_mutex_unlock(&G.mu);
    /* The delete takes the round lock, then waits for the topic table. */
    assert_int_equal(pthread_create(&del, NULL, delete_main, f->log), 0);
    usleep(100 * 1000);
    /* Queued while the delete waits; the writer wakes for it. */
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 1, 3, 20, 100, -1, -1, -1);
    assert_int_equal(lg_append_async(f->log, "t", 0, b.data, b.len, count_cb, NULL), 0);
    cn_buf_free(&b);
    usleep(200 * 1000); /* the writer takes the queue and waits for the round lock */
    pthread_mutex_lock(&G.mu);
    G.open = 1;
    pthread_cond_broadcast(&G.cv);
    pthread_mutex_unlock(&G.mu);
    pthread_join(en, NULL);
    pthread_join(del, NULL);
    /* Exactly one callback, within a bounded time. */
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&G.mu);
    while (G.ncb == 0 && pthread_cond_timedwait(&G.cv, &G.mu, &dl) == 0)
        ;
    int ncb = G.ncb, err = G.err;
    pthread_mutex_unlock(&G.mu);
    if (ncb != 1) {
        fprintf(stderr, "append callback ran %d times (want 1)\n", ncb);
        _exit(1); /* the log may be wedged: do not wait for close */
    }
    assert_int_equal(err, LG_ENOTOPIC);
    assert_int_equal(lg_topic_partitions(f->log, "t"), LG_ENOTOPIC);
    /* The log keeps working. */
    cn_buf_reset(&b);
    lgt_batch(&b, 2, 3, 20, 100, -1, -1, -1);
    assert_int_equal(lg_append(f->log, "u", 0, b.data, b.len, NULL), 0);
    cn_buf_free(&b);
}

/* ---- what a callback may call -------------------------------------------- */

typedef struct reent {
    lg_log *log;
    int rc_append, rc_truncate, rc_retention, rc_delete, rc_async;
    int done;
} reent;

static void async_cb(void *ud, const lg_append_result *r)
{
    (void)ud, (void)r;
}

static void reentrant_cb(void *ud, const lg_append_result *r)
{
    reent *x = ud;
    (void)r;
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 3, 1, 8, 100, -1, -1, -1);
    x->rc_append = lg_append(x->log, "u", 0, b.data, b.len, NULL);
    x->rc_truncate = lg_truncate(x->log, "u", 0, 0);
    x->rc_retention = lg_retention_run(x->log);
    x->rc_delete = lg_topic_delete(x->log, "u");
    /* Queueing is fine from a callback (it never waits there). */
    x->rc_async = lg_append_async(x->log, "u", 0, b.data, b.len, async_cb, NULL);
    cn_buf_free(&b);
    pthread_mutex_lock(&G.mu);
    x->done = 1;
    pthread_cond_broadcast(&G.cv);
    pthread_mutex_unlock(&G.mu);
}

static void test_callback_calls_that_wait_for_the_writer_fail_fast(void **st)
{
    fx *f = *st;
    reent x = {f->log, 1, 1, 1, 1, 1, 0};
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 4, 1, 8, 100, -1, -1, -1);
    assert_int_equal(lg_append_async(f->log, "t", 0, b.data, b.len, reentrant_cb, &x), 0);
    cn_buf_free(&b);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&G.mu);
    while (!x.done && pthread_cond_timedwait(&G.cv, &G.mu, &dl) == 0)
        ;
    int done = x.done;
    pthread_mutex_unlock(&G.mu);
    if (!done) {
        fprintf(stderr, "a call from an append callback deadlocked the writer\n");
        _exit(1);
    }
    assert_int_equal(x.rc_append, CN_EBUSY);
    assert_int_equal(x.rc_truncate, CN_EBUSY);
    assert_int_equal(x.rc_retention, CN_EBUSY);
    assert_int_equal(x.rc_delete, CN_EBUSY);
    assert_int_equal(x.rc_async, 0);
    assert_int_equal(lg_topic_partitions(f->log, "u"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_topic_delete_while_writer_takes_its_appends, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_callback_calls_that_wait_for_the_writer_fail_fast,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
