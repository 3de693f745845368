/* SPDX-License-Identifier: MIT */
/*
 * test_lg_readonly.c — read-only mode, as `cairn log` uses it: another
 * process opens the data directory while the writer runs (no LOCK, no
 * recovery), sees topics created after it opened, reads and iterates up to
 * the committed end while appends continue, verifies cleanly, and is
 * refused every mutation (CN_EPERM).  The reader runs in a forked child
 * (LMDB must not be opened twice in one process); the writer's appends
 * complete while it reads.  Also: read-only open of a directory without
 * an index fails cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "cn_time.h"
#include "lg.h"
#include "lg_testutil.h"

#define BATCHES 400
#define RECS 3

/* The reader: returns an exit status (0 = all checks passed). */
static int reader(const char *dir, int rfd)
{
    char go;
    if (read(rfd, &go, 1) != 1)
        return 10;
    lg_opts o;
    lg_opts_init(&o);
    o.dir = dir;
    o.read_only = 1;
    lg_log *log;
    if (lg_open(&log, &o) != 0)
        return 11;
    uint64_t t0 = cn_mono_ns();
    int64_t next = 0;
    lg_iter *it = NULL;
    /* the topic may not exist yet when we open */
    while (lg_topic_partitions(log, "live") != 1) {
        if (cn_mono_ns() - t0 > 30000000000ull)
            return 12;
        usleep(1000);
    }
    if (lg_iter_open(&it, log, "live", 0, 0) != 0)
        return 13;
    while (next < BATCHES * RECS) {
        lg_record r;
        int rc = lg_iter_next(it, &r);
        if (rc == CN_DONE) {
            if (cn_mono_ns() - t0 > 30000000000ull)
                return 14;
            usleep(500);
            continue;
        }
        if (rc != 0 || r.offset != next)
            return 15;
        if (r.value_len != 64)
            return 16;
        next++;
    }
    lg_iter_close(it);
    lg_read_result rr;
    if (lg_read(log, "live", 0, 0, 1 << 20, &rr) != 0 || rr.len == 0)
        return 17;
    lg_read_release(log, &rr);
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 1, 1, 1, 0, -1, -1, -1);
    lg_topic_config c = {1, 0, 0, 0};
    int64_t pid;
    if (lg_append(log, "live", 0, b.data, b.len, NULL) != CN_EPERM ||
        lg_topic_create(log, "x", &c) != CN_EPERM || lg_truncate(log, "live", 0, 0) != CN_EPERM ||
        lg_retention_run(log) != CN_EPERM || lg_producer_id_alloc(log, &pid) != CN_EPERM ||
        lg_group_offset_commit(log, "g", "live", 0, 1, NULL) != CN_EPERM)
        return 18;
    if (lg_verify(log, NULL, NULL) != 0)
        return 19;
    cn_buf_free(&b);
    lg_close(log);
    return 0;
}

static void test_reader_while_writing(void **st)
{
    (void)st;
    char *dir = cn_test_tmpdir("lgro");
    lg_opts o;
    lg_opts_init(&o);
    o.dir = dir;
    lg_log *log;
    /* create the directory and index first, so the reader can open */
    assert_int_equal(lg_open(&log, &o), 0);
    lg_close(log);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork(); /* before any thread exists in this process */
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[1]);
        _exit(reader(dir, pfd[0]));
    }
    close(pfd[0]);
    assert_int_equal(lg_open(&log, &o), 0);
    assert_int_equal(write(pfd[1], "g", 1), 1); /* reader opens now, no topic yet */
    usleep(20000);
    lg_topic_config c = {1, 0, 0, 8192};
    assert_int_equal(lg_topic_create(log, "live", &c), 0);
    cn_buf b = CN_BUF_INIT;
    for (int i = 0; i < BATCHES; i++) {
        cn_buf_reset(&b);
        lgt_batch(&b, (uint32_t)i, RECS, 64, 1000 + i, -1, -1, -1);
        assert_int_equal(lg_append(log, "live", 0, b.data, b.len, NULL), 0);
        if (i % 50 == 0)
            usleep(2000);
    }
    int status = -1;
    uint64_t t0 = cn_mono_ns();
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (cn_mono_ns() - t0 > 40000000000ull) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("reader did not finish");
        }
        usleep(2000);
    }
    close(pfd[1]);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    lg_close(log);
    cn_buf_free(&b);
    cn_test_rmrf(dir);
    free(dir);
}

static void test_readonly_missing_index(void **st)
{
    (void)st;
    char *dir = cn_test_tmpdir("lgro2");
    lg_opts o;
    lg_opts_init(&o);
    o.dir = dir;
    o.read_only = 1;
    lg_log *log = (lg_log *)1;
    assert_int_equal(lg_open(&log, &o), CN_ENOENT);
    assert_null(log);
    cn_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_while_writing),
        cmocka_unit_test(test_readonly_missing_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
