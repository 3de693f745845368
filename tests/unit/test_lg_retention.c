/* SPDX-License-Identifier: MIT */
/*
 * test_lg_retention.c — deleting data on purpose: retention by time
 * (injected clock; whole segments whose newest record is older than the
 * limit, never the active one), by size, a reader keeping an unlinked
 * segment readable, reads below the new log start refused; truncate to a
 * batch boundary in the active and in an older segment (later segments
 * removed, leader epoch bumped and stamped into later batches, producer
 * state cut back), refusing a non-boundary, and everything surviving reopen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "lg.h"
#include "lg_testutil.h"

typedef struct fx {
    char *dir;
    lg_opts o;
    lg_log *log;
    int64_t now;
} fx;

static int64_t clk(void *ud)
{
    return ((fx *)ud)->now;
}

static int setup(void **st)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = cn_test_tmpdir("lgret");
    lg_opts_init(&f->o);
    f->o.dir = f->dir;
    f->o.clock_ms = clk;
    f->o.clock_ud = f;
    f->now = 10000000;
    assert_int_equal(lg_open(&f->log, &f->o), 0);
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

static void reopen(fx *f)
{
    lg_close(f->log);
    f->log = NULL;
    assert_int_equal(lg_open(&f->log, &f->o), 0);
}

static lg_partition_info info_of(fx *f, const char *t, int p)
{
    lg_partition_info info;
    assert_int_equal(lg_partition_info_get(f->log, t, p, &info), 0);
    return info;
}

/* 60 batches of 5 records, ts = i * 1000 (batch i), ~700 bytes each. */
static size_t fill(fx *f, const char *t, int64_t pid)
{
    cn_buf b = CN_BUF_INIT;
    size_t len = 0;
    for (int i = 0; i < 60; i++) {
        cn_buf_reset(&b);
        lgt_batch(&b, (uint32_t)i, 5, 120, (int64_t)i * 1000, pid, pid >= 0 ? 0 : -1,
                  pid >= 0 ? i * 5 : -1);
        assert_int_equal(lg_append(f->log, t, 0, b.data, b.len, NULL), 0);
        len = b.len;
    }
    cn_buf_free(&b);
    return len;
}

static void test_retention_by_time(void **st)
{
    fx *f = *st;
    lg_topic_config c = {1, 20000, -1, 4096};
    assert_int_equal(lg_topic_create(f->log, "t", &c), 0);
    fill(f, "t", -1);
    lg_partition_info before = info_of(f, "t", 0);
    assert_true(before.segments > 5);
    /* a reader holds the first segment across retention */
    lg_read_result held;
    assert_int_equal(lg_read(f->log, "t", 0, 0, 1, &held), 0);
    unsigned char first[64];
    assert_int_equal(pread(held.fd, first, sizeof(first), held.file_pos), (ssize_t)sizeof(first));

    f->now = 30000; /* records older than 10000 are past retention */
    int n = lg_retention_run(f->log);
    assert_true(n > 0);
    lg_partition_info after = info_of(f, "t", 0);
    assert_int_equal(after.segments, before.segments - (uint32_t)n);
    assert_true(after.log_start_offset > 0);
    assert_true(after.log_end_offset == before.log_end_offset);
    assert_true(after.bytes < before.bytes);
    /* exactly the segments whose newest record is < 10000 went: the new
     * first segment holds a record at >= 10000, the deleted ones none */
    assert_true(after.first_timestamp >= 10000 || after.log_start_offset <= 50);
    assert_true(lgt_file_size(lgt_seg_path(f->dir, "t", 0, 0)) < 0);
    assert_true(lgt_file_size(lgt_seg_path(f->dir, "t", 0, after.log_start_offset)) > 0);
    /* the held read still works on the unlinked file */
    unsigned char again[64];
    assert_int_equal(pread(held.fd, again, sizeof(again), held.file_pos), (ssize_t)sizeof(again));
    assert_memory_equal(first, again, sizeof(first));
    lg_read_release(f->log, &held);
    lg_read_result r;
    assert_int_equal(lg_read(f->log, "t", 0, 0, 1, &r), LG_EOFFSET);
    assert_int_equal(lg_read(f->log, "t", 0, after.log_start_offset, 1, &r), 0);
    assert_true(r.first_offset == after.log_start_offset);
    lg_read_release(f->log, &r);
    /* an iterator from 0 is clamped to the start */
    lg_iter *it;
    assert_int_equal(lg_iter_open(&it, f->log, "t", 0, 0), 0);
    lg_record rec;
    assert_int_equal(lg_iter_next(it, &rec), 0);
    assert_true(rec.offset == after.log_start_offset);
    lg_iter_close(it);
    /* far in the future: everything but the active segment */
    f->now = 10000000;
    assert_true(lg_retention_run(f->log) > 0);
    assert_int_equal(info_of(f, "t", 0).segments, 1);
    assert_int_equal(lg_retention_run(f->log), 0);
    lg_partition_info last = info_of(f, "t", 0);
    reopen(f);
    lg_partition_info re = info_of(f, "t", 0);
    assert_true(re.log_start_offset == last.log_start_offset &&
                re.log_end_offset == last.log_end_offset && re.bytes == last.bytes);
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
}

static void test_retention_by_size_and_forever(void **st)
{
    fx *f = *st;
    lg_topic_config c = {1, -1, 10000, 4096};
    assert_int_equal(lg_topic_create(f->log, "s", &c), 0);
    lg_topic_config keep = {1, -1, -1, 4096};
    assert_int_equal(lg_topic_create(f->log, "k", &keep), 0);
    fill(f, "s", -1);
    fill(f, "k", -1);
    f->now = INT64_MAX / 2;
    int n = lg_retention_run(f->log);
    assert_true(n > 0);
    lg_partition_info s = info_of(f, "s", 0);
    assert_true(s.bytes >= 10000 - 4096 && s.bytes < 10000 + 4096);
    lg_partition_info k = info_of(f, "k", 0);
    assert_true(k.log_start_offset == 0); /* retention -1: kept */
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
}

static void test_truncate(void **st)
{
    fx *f = *st;
    lg_topic_config c = {1, -1, -1, 4096};
    assert_int_equal(lg_topic_create(f->log, "t", &c), 0);
    int64_t pid;
    assert_int_equal(lg_producer_id_alloc(f->log, &pid), 0);
    fill(f, "t", pid);
    lg_partition_info before = info_of(f, "t", 0);
    assert_true(before.log_end_offset == 300 && before.leader_epoch == 0);
    /* not a batch boundary */
    assert_int_equal(lg_truncate(f->log, "t", 0, 297), CN_EINVAL);
    assert_int_equal(lg_truncate(f->log, "t", 0, 301), LG_EOFFSET);
    /* inside the active segment */
    assert_int_equal(lg_truncate(f->log, "t", 0, 295), 0);
    lg_partition_info a = info_of(f, "t", 0);
    assert_true(a.log_end_offset == 295 && a.leader_epoch == 1);
    assert_int_equal(a.segments, before.segments);
    /* into an older segment: later files go */
    assert_int_equal(lg_truncate(f->log, "t", 0, 100), 0);
    lg_partition_info b = info_of(f, "t", 0);
    assert_true(b.log_end_offset == 100 && b.leader_epoch == 2);
    assert_true(b.segments < before.segments);
    assert_true(lgt_file_size(lgt_seg_path(f->dir, "t", 0, 295 - 5)) < 0 ||
                lgt_file_size(lgt_seg_path(f->dir, "t", 0, 290)) < 0);
    assert_true(b.last_timestamp == 19 * 1000 + 4);
    /* producer state was cut back: the batch at seq 100 is new again */
    cn_buf buf = CN_BUF_INIT;
    lgt_batch(&buf, 999, 5, 120, 50000, pid, 0, 100);
    lg_append_result r;
    assert_int_equal(lg_append(f->log, "t", 0, buf.data, buf.len, &r), 0);
    assert_true(r.base_offset == 100 && !r.duplicate);
    /* its stored leader epoch is the new one */
    lg_read_result rr;
    assert_int_equal(lg_read(f->log, "t", 0, 100, 1, &rr), 0);
    unsigned char hdr[16];
    assert_int_equal(pread(rr.fd, hdr, 16, rr.file_pos), 16);
    assert_int_equal(cn_rd_be32(hdr + 12), 2);
    assert_true((int64_t)cn_rd_be64(hdr) == 100);
    lg_read_release(f->log, &rr);
    reopen(f);
    lg_partition_info re = info_of(f, "t", 0);
    assert_true(re.log_end_offset == 105 && re.leader_epoch == 2);
    assert_true(re.last_timestamp == 50004);
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
    /* truncate everything */
    assert_int_equal(lg_truncate(f->log, "t", 0, 0), 0);
    re = info_of(f, "t", 0);
    assert_true(re.log_end_offset == 0 && re.segments == 0 && re.bytes == 0);
    assert_int_equal(lg_append(f->log, "t", 0, buf.data, buf.len, &r), 0);
    assert_true(r.base_offset == 0);
    reopen(f);
    assert_true(info_of(f, "t", 0).log_end_offset == 5);
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
    cn_buf_free(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retention_by_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_by_size_and_forever, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
