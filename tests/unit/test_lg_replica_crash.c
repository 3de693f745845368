/* SPDX-License-Identifier: MIT */
/*
 * test_lg_replica_crash.c — the replication storage contract survives a
 * process killed before any file operation (every open, write, sync,
 * truncate, unlink and rename through the log's VFS, one crash point each,
 * in a forked child):
 *  - lg_replica_truncate reopens either as before (every batch, the last
 *    epoch, the whole epoch history) or as after (ending at the cut, the
 *    epoch of the last batch kept, the history cut there) — never with the
 *    cut tail back and never with a bumped epoch;
 *  - lg_raft_state_save leaves the old or the new (term, vote), never a mix
 *    or a refusal;
 *  - a replica append that starts a new epoch is, after the crash, either
 *    absent (history without the epoch) or present with its epoch in the
 *    history, even when the index had not recorded it (recovery rescans).
 * Each reopened log then takes a replica append at its end.
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
#include <sys/wait.h>
#include <unistd.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "lg.h"
#include "lg_testutil.h"

#define NBATCH 24
#define PER_BATCH 3
/* Batch i is in epoch 1 + i / 8: epochs 1, 2, 3 starting at 0, 24, 48. */
#define EPOCH_OF(i) (1 + (i) / 8)

typedef struct done {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n, err;
} done;

static void done_cb(void *ud, const lg_append_result *r)
{
    done *d = ud;
    pthread_mutex_lock(&d->mu);
    if (r->err && !d->err)
        d->err = r->err;
    d->n++;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static int rappend(lg_log *log, int64_t base, int32_t epoch, uint32_t seed)
{
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, seed, PER_BATCH, 100, 1000 + seed, -1, -1, -1);
    done d = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    int rc = lg_replica_append(log, "t", 0, base, epoch, b.data, b.len, done_cb, &d);
    cn_buf_free(&b);
    if (rc)
        return rc;
    pthread_mutex_lock(&d.mu);
    while (d.n < 1)
        pthread_cond_wait(&d.cv, &d.mu);
    pthread_mutex_unlock(&d.mu);
    return d.err;
}

static void fill(lg_opts *o)
{
    lg_log *log;
    assert_int_equal(lg_open(&log, o), 0);
    lg_topic_config c = {1, 0, 0, 0};
    assert_int_equal(lg_topic_create(log, "t", &c), 0);
    for (int i = 0; i < NBATCH; i++)
        assert_int_equal(rappend(log, (int64_t)i * PER_BATCH, EPOCH_OF(i), (uint32_t)i), 0);
    lg_close(log);
}

typedef struct hist {
    int n;
    int32_t e[8];
    int64_t s[8];
} hist;

static int hist_cb(void *ud, int32_t epoch, int64_t start)
{
    hist *h = ud;
    if (h->n < 8) {
        h->e[h->n] = epoch;
        h->s[h->n] = start;
    }
    h->n++;
    return 0;
}

/* The history a log of batches [0, nb) has. */
static hist want_hist(int nb)
{
    hist h = {0};
    for (int i = 0; i < nb; i++)
        if (i == 0 || EPOCH_OF(i) != EPOCH_OF(i - 1))
            hist_cb(&h, EPOCH_OF(i), (int64_t)i * PER_BATCH);
    return h;
}

static int64_t count_records(lg_log *log)
{
    lg_iter *it;
    assert_int_equal(lg_iter_open(&it, log, "t", 0, 0), 0);
    lg_record rec;
    int64_t n = 0;
    int rc;
    while ((rc = lg_iter_next(it, &rec)) == 0) {
        assert_int_equal(rec.offset, n);
        n++;
    }
    assert_int_equal(rc, CN_DONE);
    lg_iter_close(it);
    return n;
}

/* The reopened log holds exactly batches [0, nb): end, epoch, history. */
static int holds(lg_log *log, int nb)
{
    lg_partition_info pi;
    assert_int_equal(lg_partition_info_get(log, "t", 0, &pi), 0);
    assert_false(pi.failed);
    hist h = {0};
    assert_int_equal(lg_epochs_each(log, "t", 0, hist_cb, &h), 0);
    hist w = want_hist(nb);
    return pi.log_end_offset == (int64_t)nb * PER_BATCH &&
           pi.leader_epoch == (nb ? EPOCH_OF(nb - 1) : 0) && memcmp(&h, &w, sizeof(h)) == 0;
}

static void check_then_append(const char *dir, int nb)
{
    lg_opts o;
    lg_opts_init(&o);
    o.dir = dir;
    lg_log *log;
    assert_int_equal(lg_open(&log, &o), 0);
    assert_int_equal(count_records(log), (int64_t)nb * PER_BATCH);
    int64_t d;
    assert_int_equal(lg_durable_end(log, "t", 0, &d), 0);
    assert_int_equal(d, (int64_t)nb * PER_BATCH);
    assert_int_equal(rappend(log, (int64_t)nb * PER_BATCH, 9, 500), 0);
    assert_int_equal(count_records(log), (int64_t)nb * PER_BATCH + PER_BATCH);
    lg_close(log);
}

typedef int (*step_fn)(lg_log *log, void *ud);

/* Run step in a child that crashes before VFS op n, for n = 1, 2, ... until
 * the step completes; after each, check(dir) must accept what is on disk. */
static int crash_each_op(const char *tag, step_fn step, void *ud,
                         void (*check)(const char *dir, void *ud, int *saw_old, int *saw_new))
{
    int saw_old = 0, saw_new = 0, points = 0;
    for (long n = 1;; n++) {
        char *dir = cn_test_tmpdir(tag);
        lg_opts o;
        lg_opts_init(&o);
        o.dir = dir;
        o.segment_bytes = 2048; /* several segments */
        fill(&o);
        fflush(NULL);
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
            lgt_vfs v;
            lgt_vfs_init(&v);
            o.vfs = &v.vfs;
            lg_log *log;
            if (lg_open(&log, &o) != 0)
                _exit(2);
            atomic_store(&v.n_ops, 0);
            atomic_store(&v.crash_op_at, n);
            int rc = step(log, ud);
            _exit(rc == 0 ? 0 : 3); /* completed without reaching op n; no close */
        }
        int status;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status));
        int code = WEXITSTATUS(status);
        assert_true(code == 0 || code == LGT_CRASH_EXIT);
        check(dir, ud, &saw_old, &saw_new);
        cn_test_rmrf(dir);
        free(dir);
        if (code == 0)
            break;
        points++;
        assert_true(n < 200);
    }
    fprintf(stderr, "%s: %d crash points\n", tag, points);
    assert_true(saw_old && saw_new);
    return points;
}

static int step_truncate(lg_log *log, void *ud)
{
    return lg_replica_truncate(log, "t", 0, *(int64_t *)ud * PER_BATCH);
}

static void check_truncate(const char *dir, void *ud, int *saw_old, int *saw_new)
{
    int cut = (int)*(int64_t *)ud;
    lg_opts o;
    lg_opts_init(&o);
    o.dir = dir;
    lg_log *log;
    assert_int_equal(lg_open(&log, &o), 0);
    int nb = -1;
    if (holds(log, NBATCH)) {
        *saw_old = 1;
        nb = NBATCH;
    } else if (holds(log, cut)) {
        *saw_new = 1;
        nb = cut;
    } else {
        lg_partition_info pi;
        lg_partition_info_get(log, "t", 0, &pi);
        fprintf(stderr, "after the crash: end %lld epoch %d\n", (long long)pi.log_end_offset,
                pi.leader_epoch);
        fail();
    }
    lg_close(log);
    check_then_append(dir, nb);
}

static void test_replica_truncate_crash_at_each_step(void **st)
{
    (void)st;
    /* Inside epoch 2 (epoch 3 goes), and at the start of epoch 2. */
    int64_t cuts[] = {13, 8, 23};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
        assert_true(crash_each_op("lgrtrcrash", step_truncate, &cuts[i], check_truncate) >= 3);
}

static int step_new_epoch(lg_log *log, void *ud)
{
    (void)ud;
    return rappend(log, (int64_t)NBATCH * PER_BATCH, 7, 77);
}

static void check_new_epoch(const char *dir, void *ud, int *saw_old, int *saw_new)
{
    (void)ud;
    lg_opts o;
    lg_opts_init(&o);
    o.dir = dir;
    lg_log *log;
    assert_int_equal(lg_open(&log, &o), 0);
    lg_partition_info pi;
    assert_int_equal(lg_partition_info_get(log, "t", 0, &pi), 0);
    hist h = {0};
    assert_int_equal(lg_epochs_each(log, "t", 0, hist_cb, &h), 0);
    if (holds(log, NBATCH)) {
        *saw_old = 1;
    } else {
        /* the new batch survived: its epoch is in the history */
        assert_int_equal(pi.log_end_offset, (NBATCH + 1) * PER_BATCH);
        assert_int_equal(pi.leader_epoch, 7);
        assert_int_equal(h.n, 4);
        assert_int_equal(h.e[3], 7);
        assert_int_equal(h.s[3], NBATCH * PER_BATCH);
        *saw_new = 1;
    }
    int64_t d;
    assert_int_equal(lg_durable_end(log, "t", 0, &d), 0);
    assert_int_equal(d, pi.log_end_offset);
    lg_close(log);
}

static void test_replica_append_new_epoch_crash_at_each_step(void **st)
{
    (void)st;
    crash_each_op("lgrapcrash", step_new_epoch, NULL, check_new_epoch);
}

static void check_raft(const char *dir, void *ud, int *saw_old, int *saw_new)
{
    (void)ud;
    lg_opts o;
    lg_opts_init(&o);
    o.dir = dir;
    lg_log *log;
    assert_int_equal(lg_open(&log, &o), 0);
    int32_t t, v;
    assert_int_equal(lg_raft_state_load(log, "t", 0, &t, &v), 0);
    if (t == 5 && v == 1)
        *saw_old = 1;
    else if (t == 12 && v == 3)
        *saw_new = 1;
    else
        fail();
    lg_close(log);
}

static int step_raft_save(lg_log *log, void *ud)
{
    (void)ud;
    return lg_raft_state_save(log, "t", 0, 12, 3);
}

static void test_raft_state_save_crash_at_each_step(void **st)
{
    (void)st;
    /* The parent saves (5, 1); the child's save of (12, 3) replaces it. */
    int saw_old = 0, saw_new = 0, points = 0;
    for (long n = 1;; n++) {
        char *dir = cn_test_tmpdir("lgrscrash");
        lg_opts o;
        lg_opts_init(&o);
        o.dir = dir;
        fill(&o);
        lg_log *log;
        assert_int_equal(lg_open(&log, &o), 0);
        assert_int_equal(lg_raft_state_save(log, "t", 0, 5, 1), 0);
        lg_close(log);
        fflush(NULL);
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
            lgt_vfs v;
            lgt_vfs_init(&v);
            o.vfs = &v.vfs;
            if (lg_open(&log, &o) != 0)
                _exit(2);
            atomic_store(&v.n_ops, 0);
            atomic_store(&v.crash_op_at, n);
            _exit(step_raft_save(log, NULL) == 0 ? 0 : 3);
        }
        int status;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status));
        int code = WEXITSTATUS(status);
        assert_true(code == 0 || code == LGT_CRASH_EXIT);
        check_raft(dir, NULL, &saw_old, &saw_new);
        cn_test_rmrf(dir);
        free(dir);
        if (code == 0)
            break;
        points++;
        assert_true(n < 50);
    }
    fprintf(stderr, "raft.state save: %d crash points\n", points);
    assert_true(points >= 4); /* open, write, sync, rename, dir sync */
    assert_true(saw_old && saw_new);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replica_truncate_crash_at_each_step),
        cmocka_unit_test(test_replica_append_new_epoch_crash_at_each_step),
        cmocka_unit_test(test_raft_state_save_crash_at_each_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
