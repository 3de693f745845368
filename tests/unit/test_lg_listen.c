/* SPDX-License-Identifier: MIT */
/*
 * test_lg_listen.c — the log publishes its acknowledged end (lg_end_listen):
 * a subscriber hears of every round with a successful append, after that
 * round's append callbacks and on the writer thread; a round whose appends
 * all failed is not published; after lg_end_unlisten returns it is never
 * called again; several subscribers each hear; the table's bound and the
 * writer-thread refusal (from an append callback) are errors, not hangs.
 * lg_end_peek reports each partition's own end (what a consumer read
 * reports: the committed end, or a lower read limit), is already moved
 * when a subscriber hears, survives a reopen, and refuses in a read-only
 * opener and for an unknown partition.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "lg.h"
#include "lg_testutil.h"

typedef struct fx {
    char *dir;
    lg_log *log;
} fx;

static int setup(void **st)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = cn_test_tmpdir("lglisten");
    lg_opts o;
    lg_opts_init(&o);
    o.dir = f->dir;
    assert_int_equal(lg_open(&f->log, &o), 0);
    lg_topic_config c = {2, 0, 0, 0};
    assert_int_equal(lg_topic_create(f->log, "t", &c), 0);
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

typedef struct counter {
    atomic_int calls;
    atomic_int acked_before; /* append callbacks seen when last called */
    atomic_int *acked;       /* NULL or the append callbacks' count */
    pthread_t thread;        /* the thread it was last called on */
} counter;

static void count_end(void *ud)
{
    counter *c = ud;
    c->thread = pthread_self();
    if (c->acked)
        atomic_store(&c->acked_before, atomic_load(c->acked));
    atomic_fetch_add(&c->calls, 1);
}

static int append_one(fx *f, int32_t part, uint32_t seed)
{
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, seed, 2, 16, 1000, -1, -1, -1);
    int rc = lg_append(f->log, "t", part, b.data, b.len, NULL);
    cn_buf_free(&b);
    return rc;
}

static void test_publish_and_unlisten(void **st)
{
    fx *f = *st;
    counter a = {0}, b = {0};
    assert_int_equal(lg_end_listen(f->log, count_end, &a), 0);
    assert_int_equal(lg_end_listen(f->log, count_end, &b), 0);
    assert_int_equal(append_one(f, 0, 1), 0);
    /* unlisten waits for the round in progress: the call has happened */
    assert_int_equal(lg_end_unlisten(f->log, count_end, &b), 0);
    assert_int_equal(atomic_load(&b.calls), 1);
    assert_false(pthread_equal(b.thread, pthread_self())); /* the writer's thread */
    assert_int_equal(append_one(f, 1, 2), 0);
    assert_int_equal(lg_end_unlisten(f->log, count_end, &a), 0);
    assert_int_equal(atomic_load(&a.calls), 2);
    assert_int_equal(atomic_load(&b.calls), 1); /* never again after unlisten */
    assert_int_equal(append_one(f, 0, 3), 0);
    assert_int_equal(lg_end_unlisten(f->log, count_end, &a), 0); /* absent: no-op */
    assert_int_equal(atomic_load(&a.calls), 2);
    assert_int_equal(lg_end_unlisten(NULL, count_end, &a), 0);
}

typedef struct acb {
    atomic_int acked;
    lg_log *log;
    int listen_rc, unlisten_rc;
} acb;

static void on_appended(void *ud, const lg_append_result *res)
{
    acb *a = ud;
    /* The writer holds its round lock here: subscribing must refuse. */
    a->listen_rc = lg_end_listen(a->log, count_end, a);
    a->unlisten_rc = lg_end_unlisten(a->log, count_end, a);
    if (!res->err)
        atomic_fetch_add(&a->acked, 1);
}

static void test_after_callbacks_and_writer_refusal(void **st)
{
    fx *f = *st;
    acb a = {0};
    a.log = f->log;
    counter c = {0};
    c.acked = &a.acked;
    assert_int_equal(lg_end_listen(f->log, count_end, &c), 0);
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 9, 3, 16, 1000, -1, -1, -1);
    assert_int_equal(lg_append_async(f->log, "t", 0, b.data, b.len, on_appended, &a), 0);
    cn_buf_free(&b);
    for (int i = 0; i < 10000 && !atomic_load(&a.acked); i++)
        usleep(1000);
    /* the callback ran; unlisten waits for the rest of its round */
    assert_int_equal(lg_end_unlisten(f->log, count_end, &c), 0);
    assert_int_equal(atomic_load(&a.acked), 1);
    assert_int_equal(a.listen_rc, CN_EBUSY);
    assert_int_equal(a.unlisten_rc, CN_EBUSY);
    assert_int_equal(atomic_load(&c.calls), 1);
    /* published after the round's callbacks, not before */
    assert_int_equal(atomic_load(&c.acked_before), 1);
}

static void test_failed_round_not_published(void **st)
{
    fx *f = *st;
    int64_t pid;
    assert_int_equal(lg_producer_id_alloc(f->log, &pid), 0);
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 5, 1, 16, 1000, pid, 1, 0);
    assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), 0);
    counter c = {0};
    assert_int_equal(lg_end_listen(f->log, count_end, &c), 0);
    cn_buf_reset(&b);
    lgt_batch(&b, 6, 1, 16, 1000, pid, 0, 1); /* an older epoch: fenced */
    int rc = lg_append(f->log, "t", 0, b.data, b.len, NULL);
    cn_buf_free(&b);
    assert_int_equal(lg_end_unlisten(f->log, count_end, &c), 0);
    assert_int_equal(rc, LG_EFENCED);
    assert_int_equal(atomic_load(&c.calls), 0);
}

static void test_bound(void **st)
{
    fx *f = *st;
    counter c[LG_END_LISTENERS_MAX + 1];
    memset(c, 0, sizeof(c));
    for (int i = 0; i < LG_END_LISTENERS_MAX; i++)
        assert_int_equal(lg_end_listen(f->log, count_end, &c[i]), 0);
    assert_int_equal(lg_end_listen(f->log, count_end, &c[LG_END_LISTENERS_MAX]), CN_ENOSPC);
    assert_int_equal(append_one(f, 0, 1), 0);
    for (int i = 0; i < LG_END_LISTENERS_MAX; i++)
        assert_int_equal(lg_end_unlisten(f->log, count_end, &c[i]), 0);
    for (int i = 0; i < LG_END_LISTENERS_MAX; i++)
        assert_int_equal(atomic_load(&c[i].calls), 1);
    assert_int_equal(atomic_load(&c[LG_END_LISTENERS_MAX].calls), 0);
}

typedef struct peeker {
    lg_log *log;
    int64_t seen; /* partition 0's peeked end when the subscriber was called */
} peeker;

static void peek_end(void *ud)
{
    peeker *k = ud;
    (void)lg_end_peek(k->log, "t", 0, &k->seen);
}

static void test_end_peek(void **st)
{
    fx *f = *st;
    int64_t e0 = -1, e1 = -1;
    assert_int_equal(lg_end_peek(f->log, "t", 0, &e0), 0);
    assert_int_equal(e0, 0);
    peeker k = {f->log, -1};
    assert_int_equal(lg_end_listen(f->log, peek_end, &k), 0);
    assert_int_equal(append_one(f, 0, 1), 0);
    assert_int_equal(lg_end_unlisten(f->log, peek_end, &k), 0);
    assert_int_equal(k.seen, 2); /* moved before the subscriber heard */
    assert_int_equal(append_one(f, 0, 2), 0);
    assert_int_equal(lg_end_peek(f->log, "t", 0, &e0), 0);
    assert_int_equal(lg_end_peek(f->log, "t", 1, &e1), 0);
    assert_int_equal(e0, 4);
    assert_int_equal(e1, 0); /* its own end, not the other's */
    assert_int_equal(lg_read_limit_set(f->log, "t", 0, 2), 0);
    assert_int_equal(lg_end_peek(f->log, "t", 0, &e0), 0);
    assert_int_equal(e0, 2);
    assert_int_equal(lg_read_limit_set(f->log, "t", 0, -1), 0);
    assert_int_equal(lg_end_peek(f->log, "t", 0, &e0), 0);
    assert_int_equal(e0, 4);
    assert_int_not_equal(lg_end_peek(f->log, "t", 7, &e0), 0);
    assert_int_not_equal(lg_end_peek(f->log, "nope", 0, &e0), 0);
    assert_int_equal(lg_end_peek(NULL, "t", 0, &e0), CN_EINVAL);
    lg_close(f->log);
    lg_opts o;
    lg_opts_init(&o);
    o.dir = f->dir;
    o.read_only = 1;
    assert_int_equal(lg_open(&f->log, &o), 0);
    assert_int_equal(lg_end_peek(f->log, "t", 0, &e0), CN_EPERM);
    lg_close(f->log);
    o.read_only = 0;
    assert_int_equal(lg_open(&f->log, &o), 0);
    assert_int_equal(lg_end_peek(f->log, "t", 0, &e0), 0);
    assert_int_equal(e0, 4); /* recovered */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publish_and_unlisten, setup, teardown),
        cmocka_unit_test_setup_teardown(test_after_callbacks_and_writer_refusal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_round_not_published, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_peek, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
