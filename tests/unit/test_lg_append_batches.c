/* SPDX-License-Identifier: MIT */
/*
 * test_lg_append_batches.c — a set of batches for one partition
 * (lg_append_batches, what one Produce request carries) is stored all or
 * none: a sequence gap, a fenced epoch or a failed write in any batch of
 * the set leaves none of it in the log (not even bytes in the segment
 * file), and the other appends of the same round are unaffected; a good
 * set lands in one segment with consecutive offsets; a bad batch anywhere
 * in the set fails the call before anything is queued.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "lg.h"
#include "lg_testutil.h"

typedef struct fx {
    char *dir;
    lg_opts o;
    lg_log *log;
    lgt_vfs v;
    int64_t pid;
} fx;

static int setup(void **st)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = cn_test_tmpdir("lgbatches");
    lgt_vfs_init(&f->v);
    lg_opts_init(&f->o);
    f->o.dir = f->dir;
    f->o.vfs = &f->v.vfs;
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    lg_topic_config c = {2, 0, 0, 0};
    assert_int_equal(lg_topic_create(f->log, "t", &c), 0);
    assert_int_equal(lg_producer_id_alloc(f->log, &f->pid), 0);
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

typedef struct res {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    lg_append_result r[16];
} res;

static void cb(void *ud, const lg_append_result *r)
{
    res *x = ud;
    pthread_mutex_lock(&x->mu);
    x->r[x->n++] = *r;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

static void wait_n(res *x, int n)
{
    pthread_mutex_lock(&x->mu);
    while (x->n < n)
        pthread_cond_wait(&x->cv, &x->mu);
    pthread_mutex_unlock(&x->mu);
}

static int64_t end_of(fx *f, int part)
{
    lg_partition_info pi;
    assert_int_equal(lg_partition_info_get(f->log, "t", part, &pi), 0);
    return pi.log_end_offset;
}

/* Three batches of 2 records from f->pid at the given first sequences. */
static void three(fx *f, cn_buf *b, lg_batchv *v, const int32_t seq[3])
{
    size_t at[4] = {0};
    for (int i = 0; i < 3; i++) {
        lgt_batch(b, (uint32_t)seq[i] + 1, 2, 40, 100, f->pid, 0, seq[i]);
        at[i + 1] = b->len;
    }
    for (int i = 0; i < 3; i++)
        v[i] = (lg_batchv){b->data + at[i], at[i + 1] - at[i]};
}

static void test_sequence_gap_in_last_batch_stores_none(void **st)
{
    fx *f = *st;
    cn_buf b = CN_BUF_INIT;
    lg_batchv v[3];
    res x = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {{0}}};
    long long seg_before = lgt_file_size(lgt_seg_path(f->dir, "t", 0, 0));
    three(f, &b, v, (const int32_t[]){0, 2, 9}); /* the third leaves a gap */
    assert_int_equal(lg_append_batches(f->log, "t", 0, v, 3, cb, &x), 0);
    wait_n(&x, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(x.r[i].err, LG_ESEQ);
        assert_int_equal(x.r[i].base_offset, -1);
    }
    assert_int_equal(end_of(f, 0), 0);
    assert_true(lgt_file_size(lgt_seg_path(f->dir, "t", 0, 0)) <=
                (seg_before < 0 ? 0 : seg_before));
    /* The client's retry of the whole set, fixed, goes in once, in order. */
    cn_buf_reset(&b);
    x.n = 0;
    three(f, &b, v, (const int32_t[]){0, 2, 4});
    assert_int_equal(lg_append_batches(f->log, "t", 0, v, 3, cb, &x), 0);
    wait_n(&x, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(x.r[i].err, 0);
        assert_int_equal(x.r[i].base_offset, 2 * i);
    }
    assert_int_equal(end_of(f, 0), 6);
    /* Sent again: every batch a duplicate, nothing new stored. */
    x.n = 0;
    assert_int_equal(lg_append_batches(f->log, "t", 0, v, 3, cb, &x), 0);
    wait_n(&x, 3);
    for (int i = 0; i < 3; i++)
        assert_true(x.r[i].err == 0 && x.r[i].duplicate && x.r[i].base_offset == 2 * i);
    assert_int_equal(end_of(f, 0), 6);
    /* Survives reopen as it stands. */
    lg_close(f->log);
    f->o.vfs = NULL;
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    assert_int_equal(end_of(f, 0), 6);
    cn_buf_free(&b);
}

/* The set is queued between two plain appends (usually one round; the
 * outcome must not depend on it): only the set fails, its neighbours are
 * stored. */
static void test_refused_set_leaves_neighbours_in_the_round(void **st)
{
    fx *f = *st;
    cn_buf a = CN_BUF_INIT, z = CN_BUF_INIT, b = CN_BUF_INIT;
    lgt_batch(&a, 50, 3, 40, 100, -1, -1, -1);
    lgt_batch(&z, 51, 3, 40, 100, -1, -1, -1);
    lg_batchv v[3];
    three(f, &b, v, (const int32_t[]){0, 2, 7});
    res x = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {{0}}};
    assert_int_equal(lg_append_async(f->log, "t", 1, a.data, a.len, cb, &x), 0);
    assert_int_equal(lg_append_batches(f->log, "t", 1, v, 3, cb, &x), 0);
    assert_int_equal(lg_append_async(f->log, "t", 1, z.data, z.len, cb, &x), 0);
    wait_n(&x, 5);
    /* whatever the rounds were: a and z stored, the set not */
    int stored = 0;
    for (int i = 0; i < 5; i++) {
        if (x.r[i].err == 0)
            stored++;
        else
            assert_int_equal(x.r[i].err, LG_ESEQ);
    }
    assert_int_equal(stored, 2);
    assert_int_equal(end_of(f, 1), 6);
    cn_buf_free(&a);
    cn_buf_free(&z);
    cn_buf_free(&b);
}

static void test_failed_write_in_set_stores_none(void **st)
{
    fx *f = *st;
    cn_buf b = CN_BUF_INIT;
    lg_batchv v[3];
    res x = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {{0}}};
    three(f, &b, v, (const int32_t[]){0, 2, 4});
    atomic_store(&f->v.pwrite_errno, ENOSPC);
    atomic_store(&f->v.pwrite_fail_count, 1);
    assert_int_equal(lg_append_batches(f->log, "t", 0, v, 3, cb, &x), 0);
    wait_n(&x, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(x.r[i].err, CN_ENOSPC);
    assert_int_equal(end_of(f, 0), 0);
    assert_true(lgt_file_size(lgt_seg_path(f->dir, "t", 0, 0)) <= 0);
    /* The retry goes in whole. */
    x.n = 0;
    assert_int_equal(lg_append_batches(f->log, "t", 0, v, 3, cb, &x), 0);
    wait_n(&x, 3);
    for (int i = 0; i < 3; i++)
        assert_true(x.r[i].err == 0 && x.r[i].base_offset == 2 * i && !x.r[i].duplicate);
    assert_int_equal(end_of(f, 0), 6);
    cn_buf_free(&b);
}

static void test_bad_batch_in_set_queues_nothing(void **st)
{
    fx *f = *st;
    cn_buf b = CN_BUF_INIT;
    lg_batchv v[3];
    res x = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {{0}}};
    three(f, &b, v, (const int32_t[]){0, 2, 4});
    b.data[b.len - 1] ^= 1; /* the third batch's CRC no longer matches */
    assert_int_equal(lg_append_batches(f->log, "t", 0, v, 3, cb, &x), LG_ECRC);
    assert_int_equal(lg_append_batches(f->log, "t", 0, v, 0, cb, &x), CN_EINVAL);
    lg_close(f->log); /* drains: no callback may come */
    f->log = NULL;
    assert_int_equal(x.n, 0);
    cn_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sequence_gap_in_last_batch_stores_none, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refused_set_leaves_neighbours_in_the_round, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_in_set_stores_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_batch_in_set_queues_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
