/* SPDX-License-Identifier: MIT */
/*
 * test_lg_truncate_crash.c — lg_truncate is crash-atomic: a process killed
 * before any file operation of a truncate (every open, write, sync,
 * truncate, unlink and rename through the log's VFS, one crash point each,
 * in a forked child) reopens either to the log before the truncate (every
 * batch, the old leader epoch) or to the log after it (ending at the cut
 * offset, the new epoch) — never to a mix, such as the cut tail re-adopted
 * under the new epoch.  The reopened log then appends at its end.
 * Cases: a cut inside a sealed segment (later segments removed), a cut at
 * a segment boundary, and a cut inside the active segment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
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

static void fill(lg_opts *o)
{
    lg_log *log;
    assert_int_equal(lg_open(&log, o), 0);
    lg_topic_config c = {1, 0, 0, 0};
    assert_int_equal(lg_topic_create(log, "t", &c), 0);
    int64_t pid;
    assert_int_equal(lg_producer_id_alloc(log, &pid), 0);
    cn_buf b = CN_BUF_INIT;
    for (int i = 0; i < NBATCH; i++) {
        cn_buf_reset(&b);
        lgt_batch(&b, (uint32_t)i, PER_BATCH, 100, 1000 + i, pid, 0, i * PER_BATCH);
        assert_int_equal(lg_append(log, "t", 0, b.data, b.len, NULL), 0);
    }
    cn_buf_free(&b);
    lg_close(log);
}

/* Records readable from the start, checking offsets run 0, 1, 2, ... */
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

static void check_one_of_two(const char *dir, int64_t old_end, int32_t old_epoch, int64_t cut,
                             int *saw_old, int *saw_new)
{
    lg_opts o;
    lg_opts_init(&o);
    o.dir = dir;
    lg_log *log;
    assert_int_equal(lg_open(&log, &o), 0);
    lg_partition_info pi;
    assert_int_equal(lg_partition_info_get(log, "t", 0, &pi), 0);
    assert_false(pi.failed);
    if (pi.log_end_offset == old_end && pi.leader_epoch == old_epoch) {
        *saw_old = 1;
    } else if (pi.log_end_offset == cut && pi.leader_epoch == old_epoch + 1) {
        *saw_new = 1;
    } else {
        fprintf(stderr,
                "after the crash: log end %lld epoch %d (before: %lld/%d, after: %lld/%d)\n",
                (long long)pi.log_end_offset, pi.leader_epoch, (long long)old_end, old_epoch,
                (long long)cut, old_epoch + 1);
        fail();
    }
    assert_int_equal(count_records(log), pi.log_end_offset);
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 999, 2, 10, 5000, -1, -1, -1);
    lg_append_result r;
    assert_int_equal(lg_append(log, "t", 0, b.data, b.len, &r), 0);
    assert_int_equal(r.base_offset, pi.log_end_offset);
    cn_buf_free(&b);
    assert_int_equal(count_records(log), pi.log_end_offset + 2);
    lg_close(log);
    /* And once more, from what that left on disk. */
    assert_int_equal(lg_open(&log, &o), 0);
    assert_int_equal(count_records(log), pi.log_end_offset + 2);
    lg_close(log);
}

/* Crash before each VFS operation of lg_truncate(cut) in turn. */
static void crash_each_step(int64_t cut_batch)
{
    int64_t cut = cut_batch * PER_BATCH, old_end = NBATCH * PER_BATCH;
    int saw_old = 0, saw_new = 0, points = 0;
    for (long n = 1;; n++) {
        char *dir = cn_test_tmpdir("lgtrcrash");
        lg_opts o;
        lg_opts_init(&o);
        o.dir = dir;
        o.segment_bytes = 2048;     /* several batches per segment, several segments */
        o.durability = LG_DUR_NONE; /* filling need not sync; the truncate syncs regardless */
        fill(&o);
        lg_log *log;
        assert_int_equal(lg_open(&log, &o), 0);
        lg_partition_info pi;
        assert_int_equal(lg_partition_info_get(log, "t", 0, &pi), 0);
        assert_true(pi.segments >= 4);
        int32_t old_epoch = pi.leader_epoch;
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
            int rc = lg_truncate(log, "t", 0, cut);
            _exit(rc == 0 ? 0 : 3); /* completed without reaching op n; no close */
        }
        int status;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status));
        int code = WEXITSTATUS(status);
        assert_true(code == 0 || code == LGT_CRASH_EXIT);
        check_one_of_two(dir, old_end, old_epoch, cut, &saw_old, &saw_new);
        cn_test_rmrf(dir);
        free(dir);
        if (code == 0)
            break; /* op n was past the truncate's last: every point covered */
        points++;
        assert_true(n < 200);
    }
    fprintf(stderr, "truncate to %lld: %d crash points\n", (long long)cut, points);
    assert_true(points >= 3);
    assert_true(saw_old && saw_new);
}

static void test_truncate_inside_sealed_segment_crash_at_each_step(void **st)
{
    (void)st;
    crash_each_step(7);
}

static void test_truncate_at_segment_boundary_crash_at_each_step(void **st)
{
    (void)st;
    /* Find a batch that starts a segment: the second segment's base. */
    char *dir = cn_test_tmpdir("lgtrprobe");
    lg_opts o;
    lg_opts_init(&o);
    o.dir = dir;
    o.segment_bytes = 2048;
    fill(&o);
    int64_t base = -1;
    for (int64_t off = PER_BATCH; off < NBATCH * PER_BATCH && base < 0; off += PER_BATCH)
        if (lgt_file_size(lgt_seg_path(dir, "t", 0, off)) >= 0)
            base = off;
    cn_test_rmrf(dir);
    free(dir);
    assert_true(base > 0);
    crash_each_step(base / PER_BATCH);
}

static void test_truncate_inside_active_segment_crash_at_each_step(void **st)
{
    (void)st;
    crash_each_step(NBATCH - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncate_inside_sealed_segment_crash_at_each_step),
        cmocka_unit_test(test_truncate_at_segment_boundary_crash_at_each_step),
        cmocka_unit_test(test_truncate_inside_active_segment_crash_at_each_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
