/* SPDX-License-Identifier: MIT */
/*
 * test_lg_producer.c — idempotent producers and index-only state: duplicate
 * batches are acknowledged with their original offset and not written
 * again (also within one round, after reopen, and after the index was
 * rebuilt from the segments), sequence gaps fail LG_ESEQ, old epochs fail
 * LG_EFENCED, a new epoch restarts at sequence 0, only the last 5 batches
 * are remembered; producer ids are unique and survive reopen (and stay
 * above every id in the segments after an index rebuild); a cluster
 * node's ids carry its node id (node << 31 | k), unique across nodes,
 * durable, above every id of its range in the segments when its state
 * directory is lost, refused when the range is used up; consumer-group
 * offsets commit, fetch, list and survive reopen.
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
    f->dir = cn_test_tmpdir("lgprod");
    lg_opts_init(&f->o);
    f->o.dir = f->dir;
    assert_int_equal(lg_open(&f->log, &f->o), 0);
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

static void reopen(fx *f, int drop_index)
{
    lg_close(f->log);
    f->log = NULL;
    if (drop_index) {
        char idx[4096];
        snprintf(idx, sizeof(idx), "%s/index", f->dir);
        cn_test_rmrf(idx);
    }
    assert_int_equal(lg_open(&f->log, &f->o), 0);
}

/* Append a 4-record batch from (pid, epoch) at seq; returns err, *off. */
static int app(fx *f, int part, int64_t pid, int16_t epoch, int32_t seq, int64_t *off, int *dup)
{
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, (uint32_t)seq, 4, 30, 100, pid, epoch, seq);
    lg_append_result r;
    int rc = lg_append(f->log, "t", part, b.data, b.len, &r);
    cn_buf_free(&b);
    if (off)
        *off = r.base_offset;
    if (dup)
        *dup = r.duplicate;
    return rc;
}

static int64_t end_of(fx *f, int p)
{
    lg_partition_info info;
    assert_int_equal(lg_partition_info_get(f->log, "t", p, &info), 0);
    return info.log_end_offset;
}

static void test_duplicates_gaps_fencing(void **st)
{
    fx *f = *st;
    int64_t pid, pid2, off;
    int dup;
    assert_int_equal(lg_producer_id_alloc(f->log, &pid), 0);
    assert_int_equal(lg_producer_id_alloc(f->log, &pid2), 0);
    assert_true(pid2 > pid);
    assert_int_equal(app(f, 0, pid, 0, 0, &off, &dup), 0);
    assert_true(off == 0 && !dup);
    assert_int_equal(app(f, 0, pid, 0, 4, &off, &dup), 0);
    assert_true(off == 4 && !dup);
    /* retry of the first: acknowledged with its original offset, not written */
    assert_int_equal(app(f, 0, pid, 0, 0, &off, &dup), 0);
    assert_true(off == 0 && dup);
    assert_true(end_of(f, 0) == 8);
    /* gap */
    assert_int_equal(app(f, 0, pid, 0, 12, &off, NULL), LG_ESEQ);
    assert_true(off == -1);
    assert_true(end_of(f, 0) == 8);
    /* the same producer id is independent per partition */
    assert_int_equal(app(f, 1, pid, 0, 100, &off, NULL), 0);
    /* a second producer does not interfere */
    assert_int_equal(app(f, 0, pid2, 3, 0, &off, NULL), 0);
    assert_true(off == 8);
    /* new epoch must start at 0; then the old epoch is fenced */
    assert_int_equal(app(f, 0, pid, 1, 8, NULL, NULL), LG_ESEQ);
    assert_int_equal(app(f, 0, pid, 1, 0, &off, NULL), 0);
    assert_true(off == 12);
    assert_int_equal(app(f, 0, pid, 0, 8, NULL, NULL), LG_EFENCED);
    /* non-idempotent batches are never checked */
    assert_int_equal(app(f, 0, -1, -1, -1, NULL, NULL), 0);
    assert_int_equal(app(f, 0, -1, -1, -1, NULL, NULL), 0);

    /* state survives reopen, and a rebuild of the index from the segments */
    for (int round = 0; round < 2; round++) {
        reopen(f, round);
        int64_t end = end_of(f, 0);
        assert_int_equal(app(f, 0, pid, 1, 0, &off, &dup), 0);
        assert_true(off == 12 && dup);
        assert_int_equal(app(f, 0, pid, 0, 8, NULL, NULL), LG_EFENCED);
        assert_int_equal(app(f, 0, pid2, 3, 0, &off, &dup), 0);
        assert_true(off == 8 && dup);
        assert_int_equal(app(f, 0, pid2, 3, 9, NULL, NULL), LG_ESEQ);
        assert_true(end_of(f, 0) == end);
        int64_t np;
        assert_int_equal(lg_producer_id_alloc(f->log, &np), 0);
        assert_true(np > pid2);
    }
}

static void test_only_last_five_remembered(void **st)
{
    fx *f = *st;
    int64_t pid, off;
    int dup;
    assert_int_equal(lg_producer_id_alloc(f->log, &pid), 0);
    for (int i = 0; i < 7; i++)
        assert_int_equal(app(f, 0, pid, 0, i * 4, NULL, NULL), 0);
    /* batches 2..6 are remembered */
    for (int i = 2; i < 7; i++) {
        assert_int_equal(app(f, 0, pid, 0, i * 4, &off, &dup), 0);
        assert_true(dup && off == i * 4);
    }
    assert_int_equal(app(f, 0, pid, 0, 4, NULL, NULL), LG_ESEQ);
    assert_true(end_of(f, 0) == 28);
}

/* Duplicates inside one group-commit round: queue both before the writer
 * gets to them. */
typedef struct res {
    int n;
    lg_append_result r[4];
} res;

static void cb(void *ud, const lg_append_result *r)
{
    res *x = ud;
    x->r[x->n++] = *r;
}

static void test_duplicate_within_round(void **st)
{
    fx *f = *st;
    int64_t pid;
    assert_int_equal(lg_producer_id_alloc(f->log, &pid), 0);
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 1, 4, 30, 100, pid, 0, 0);
    res x = {0};
    for (int i = 0; i < 3; i++)
        assert_int_equal(lg_append_async(f->log, "t", 1, b.data, b.len, cb, &x), 0);
    lg_close(f->log); /* drains */
    f->log = NULL;
    assert_int_equal(x.n, 3);
    assert_true(x.r[0].err == 0 && x.r[0].base_offset == 0 && !x.r[0].duplicate);
    for (int i = 1; i < 3; i++)
        assert_true(x.r[i].err == 0 && x.r[i].base_offset == 0 && x.r[i].duplicate);
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    assert_true(end_of(f, 1) == 4);
    cn_buf_free(&b);
}

typedef struct gacc {
    char s[512];
} gacc;

static int each_group(void *ud, const char *g, const char *t, int32_t p, int64_t off)
{
    gacc *a = ud;
    char line[128];
    snprintf(line, sizeof(line), "%s/%s/%d=%lld;", g, t, p, (long long)off);
    strcat(a->s, line);
    return 0;
}

typedef struct done_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, err;
} done_wait;

static void done_cb(void *ud, const lg_append_result *r)
{
    done_wait *w = ud;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    w->err = r->err;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Store a batch of any producer id at the log end, as a replica does (a
 * replica takes ids other nodes allocated). */
static void replica_put(fx *f, int64_t pid)
{
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 3, 1, 20, 100, pid, 0, 0);
    done_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    assert_int_equal(lg_replica_append(f->log, "t", 0, end_of(f, 0), 0, b.data, b.len, done_cb, &w),
                     0);
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    assert_int_equal(w.err, 0);
    cn_buf_free(&b);
}

static void reopen_as(fx *f, int32_t node, int drop_state)
{
    f->o.producer_id_node = node;
    lg_close(f->log);
    f->log = NULL;
    if (drop_state) {
        char d[4096];
        snprintf(d, sizeof(d), "%s/state", f->dir);
        cn_test_rmrf(d);
    }
    assert_int_equal(lg_open(&f->log, &f->o), 0);
}

static void test_cluster_node_producer_ids_carry_the_node_id(void **st)
{
    fx *f = *st;
    const int64_t n3 = (int64_t)3 << 31, n4 = (int64_t)4 << 31;
    int64_t pid;
    assert_int_equal(lg_producer_id_alloc(f->log, &pid), 0); /* standalone */
    assert_int_equal(pid, 1000);
    assert_int_equal(app(f, 0, pid, 0, 0, NULL, NULL), 0);
    reopen_as(f, 3, 0);
    assert_int_equal(lg_producer_id_alloc(f->log, &pid), 0);
    assert_int_equal(pid, n3 + 1000);
    assert_int_equal(lg_producer_id_alloc(f->log, &pid), 0);
    assert_int_equal(pid, n3 + 1001);
    /* Its own ids are appendable as a leader appends them. */
    assert_int_equal(app(f, 0, pid, 0, 0, NULL, NULL), 0);
    reopen_as(f, 3, 0); /* durable */
    assert_int_equal(lg_producer_id_alloc(f->log, &pid), 0);
    assert_int_equal(pid, n3 + 1002);
    /* Ids of this range and of node 4 in the segments; the state lost:
     * node 3 restarts above its own largest, node 4's do not move it. */
    replica_put(f, n3 + 5000);
    replica_put(f, n4 + 9000);
    reopen_as(f, 3, 1);
    assert_int_equal(lg_producer_id_alloc(f->log, &pid), 0);
    assert_int_equal(pid, n3 + 5001);
    /* The same directory as node 4: its range, above its ids there. */
    reopen_as(f, 4, 0);
    assert_int_equal(lg_producer_id_alloc(f->log, &pid), 0);
    assert_int_equal(pid, n4 + 9001);
    /* Node 0 shares its range with standalone ids: above those too. */
    reopen_as(f, 0, 1);
    assert_int_equal(lg_producer_id_alloc(f->log, &pid), 0);
    assert_int_equal(pid, 1001);
    /* The largest node id stays below 2^62. */
    reopen_as(f, INT32_MAX, 0);
    assert_int_equal(lg_producer_id_alloc(f->log, &pid), 0);
    assert_int_equal(pid, ((int64_t)INT32_MAX << 31) + 1000);
    assert_true(pid < ((int64_t)1 << 62));
    /* A used-up range is refused, never wrapped (last id in a segment). */
    reopen_as(f, 3, 0);
    replica_put(f, n3 + ((int64_t)1 << 31) - 1);
    reopen_as(f, 3, 1);
    assert_int_equal(lg_producer_id_alloc(f->log, &pid), CN_ENOSPC);
    reopen_as(f, 3, 0);
    assert_int_equal(lg_producer_id_alloc(f->log, &pid), CN_ENOSPC);
    lg_close(f->log);
    f->log = NULL;
    f->o.producer_id_node = -2;
    assert_int_equal(lg_open(&f->log, &f->o), CN_EINVAL);
    reopen_as(f, -1, 0);
}

static void test_group_offsets(void **st)
{
    fx *f = *st;
    int64_t off;
    char md[64];
    assert_int_equal(lg_group_offset_fetch(f->log, "g1", "t", 0, &off, md, sizeof(md)), CN_ENOENT);
    assert_int_equal(lg_group_offset_commit(f->log, "g1", "t", 0, 42, "meta-a"), 0);
    assert_int_equal(lg_group_offset_commit(f->log, "g1", "t", 1, 7, NULL), 0);
    assert_int_equal(lg_group_offset_commit(f->log, "g0", "t", 1, 9, ""), 0);
    assert_int_equal(lg_group_offset_commit(f->log, "g1", "t", 0, 43, "meta-b"), 0);
    assert_int_equal(lg_group_offset_commit(f->log, "", "t", 0, 1, NULL), CN_EINVAL);
    assert_int_equal(lg_group_offset_commit(f->log, "g", "t", -1, 1, NULL), CN_EINVAL);
    char bigmd[5000];
    memset(bigmd, 'm', sizeof(bigmd) - 1);
    bigmd[sizeof(bigmd) - 1] = 0;
    assert_int_equal(lg_group_offset_commit(f->log, "g", "t", 0, 1, bigmd), CN_ETOOBIG);
    reopen(f, 0);
    assert_int_equal(lg_group_offset_fetch(f->log, "g1", "t", 0, &off, md, sizeof(md)), 0);
    assert_true(off == 43);
    assert_string_equal(md, "meta-b");
    /* metadata truncated to the caller's buffer */
    char small[4];
    assert_int_equal(lg_group_offset_fetch(f->log, "g1", "t", 0, &off, small, sizeof(small)), 0);
    assert_string_equal(small, "met");
    gacc a = {""};
    assert_int_equal(lg_group_offsets_each(f->log, each_group, &a), 0);
    assert_string_equal(a.s, "g0/t/1=9;g1/t/0=43;g1/t/1=7;");
}

static void test_group_offsets_batch_one_transaction(void **st)
{
    fx *f = *st;
    char bigmd[5000];
    memset(bigmd, 'm', sizeof(bigmd) - 1);
    bigmd[sizeof(bigmd) - 1] = 0;
    /* Valid entries are stored together; each bad one gets its own error
     * and does not stop the others. */
    lg_group_offset v[] = {
        {"gb", "t", 0, 10, "m0", -99}, {"", "t", 0, 1, NULL, -99},    {"gb", "t", -1, 1, NULL, -99},
        {"gb", "t", 1, 11, NULL, -99}, {"gb", "t", 2, 1, bigmd, -99}, {"gb", "t", 3, -2, NULL, -99},
        {"gc", "t", 0, 12, "", -99},   {NULL, "t", 0, 1, NULL, -99},
    };
    assert_int_equal(lg_group_offsets_commit(f->log, v, sizeof(v) / sizeof(v[0])), 0);
    int want[] = {0, CN_EINVAL, CN_EINVAL, 0, CN_ETOOBIG, CN_EINVAL, 0, CN_EINVAL};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        assert_int_equal(v[i].err, want[i]);
    int64_t off;
    char md[64];
    assert_int_equal(lg_group_offset_fetch(f->log, "gb", "t", 0, &off, md, sizeof(md)), 0);
    assert_int_equal(off, 10);
    assert_string_equal(md, "m0");
    assert_int_equal(lg_group_offset_fetch(f->log, "gb", "t", 1, &off, md, sizeof(md)), 0);
    assert_int_equal(off, 11);
    assert_int_equal(lg_group_offset_fetch(f->log, "gc", "t", 0, &off, md, sizeof(md)), 0);
    assert_int_equal(off, 12);
    assert_int_equal(lg_group_offset_fetch(f->log, "gb", "t", 2, &off, md, sizeof(md)), CN_ENOENT);
    assert_int_equal(lg_group_offsets_commit(f->log, NULL, 0), 0);
    assert_int_equal(lg_group_offsets_commit(NULL, v, 1), CN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_duplicates_gaps_fencing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_last_five_remembered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_within_round, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cluster_node_producer_ids_carry_the_node_id, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_group_offsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_offsets_batch_one_transaction, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
