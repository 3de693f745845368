/* SPDX-License-Identifier: MIT */
/*
 * test_lg_hostile.c — appends a hostile or careless client can send: a
 * batch whose lastOffsetDelta disagrees with its recordCount (an empty
 * batch claiming 2^31 offsets), producer ids the log never handed out
 * (including one near INT64_MAX, which must not make later allocations
 * overflow), and idle producer state, which expires as Kafka's does
 * (producer.id.expiration.ms) so that it cannot grow without bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_bytes.h"
#include "cn_crc32c.h"
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

static int64_t fake_clock(void *ud)
{
    return ((fx *)ud)->now;
}

static int setup(void **st)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = cn_test_tmpdir("lghostile");
    f->now = 1000000;
    lg_opts_init(&f->o);
    f->o.dir = f->dir;
    f->o.clock_ms = fake_clock;
    f->o.clock_ud = f;
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    lg_topic_config c = {1, 0, 0, 0};
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

static void reopen(fx *f)
{
    lg_close(f->log);
    f->log = NULL;
    assert_int_equal(lg_open(&f->log, &f->o), 0);
}

static int64_t end_of(fx *f)
{
    lg_partition_info info;
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &info), 0);
    return info.log_end_offset;
}

/* Rewrite the header fields at off (big-endian) and fix the CRC. */
static void patch(cn_buf *b, size_t off, uint64_t v, int width)
{
    if (width == 4)
        cn_wr_be32(b->data + off, (uint32_t)v);
    else
        cn_wr_be64(b->data + off, v);
    cn_wr_be32(b->data + 17, cn_crc32c(0, b->data + 21, b->len - 21));
}

#define OFF_LAST_DELTA 23
#define OFF_PRODUCER_ID 43
#define OFF_RECORD_COUNT 57

static void test_append_refuses_offset_delta_not_count_minus_one(void **st)
{
    fx *f = *st;
    cn_buf b = CN_BUF_INIT;
    /* An empty batch claiming INT32_MAX offsets: 61 bytes would burn 2^31. */
    lgt_batch(&b, 1, 1, 0, 100, -1, -1, -1);
    patch(&b, OFF_RECORD_COUNT, 0, 4);
    patch(&b, OFF_LAST_DELTA, INT32_MAX, 4);
    assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), LG_EBADBATCH);
    /* Three records claiming 100 offsets. */
    cn_buf_reset(&b);
    lgt_batch(&b, 2, 3, 8, 100, -1, -1, -1);
    patch(&b, OFF_LAST_DELTA, 99, 4);
    assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), LG_EBADBATCH);
    assert_int_equal(end_of(f), 0);
    /* A well-formed batch still goes in and takes exactly its count. */
    cn_buf_reset(&b);
    lgt_batch(&b, 3, 3, 8, 100, -1, -1, -1);
    assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), 0);
    assert_int_equal(end_of(f), 3);
    cn_buf_free(&b);
}

static int app(fx *f, int64_t pid, int16_t epoch, int32_t seq, int64_t ts)
{
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, (uint32_t)seq + 7, 2, 8, ts, pid, epoch, seq);
    int rc = lg_append(f->log, "t", 0, b.data, b.len, NULL);
    cn_buf_free(&b);
    return rc;
}

static void test_append_refuses_producer_id_never_allocated(void **st)
{
    fx *f = *st;
    int64_t pid;
    assert_int_equal(lg_producer_id_alloc(f->log, &pid), 0);
    assert_int_equal(app(f, pid, 0, 0, 100), 0);
    /* Ids the log never handed out are refused, whatever their size. */
    assert_int_equal(app(f, pid + 1, 0, 0, 100), LG_EUNKNOWNPID);
    assert_int_equal(app(f, 123456789, 0, 0, 100), LG_EUNKNOWNPID);
    assert_int_equal(app(f, INT64_MAX, 0, 0, 100), LG_EUNKNOWNPID);
    assert_int_equal(app(f, INT64_MAX - 1, 0, 0, 100), LG_EUNKNOWNPID);
    assert_int_equal(end_of(f), 2);
    reopen(f);
    int64_t next;
    assert_int_equal(lg_producer_id_alloc(f->log, &next), 0);
    assert_true(next == pid + 1);
}

/* A segment written by an older build that accepted any id holds a batch
 * from producer INT64_MAX: after reopen, allocation must not overflow. */
static void test_producer_id_near_int64_max_in_segment_never_overflows(void **st)
{
    fx *f = *st;
    lg_close(f->log);
    f->log = NULL;
    /* Plant the batch straight into the segment file, as the older build
     * would have written it, and drop the index so that recovery reads it. */
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 9, 2, 8, 100, INT64_MAX, 0, 0);
    FILE *fp = fopen(lgt_seg_path(f->dir, "t", 0, 0), "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b.data, 1, b.len, fp), b.len);
    fclose(fp);
    cn_buf_free(&b);
    char idx[4096];
    snprintf(idx, sizeof(idx), "%s/index", f->dir);
    cn_test_rmrf(idx);
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    assert_int_equal(end_of(f), 2);
    for (int i = 0; i < 3; i++) {
        int64_t pid = -1;
        assert_int_equal(lg_producer_id_alloc(f->log, &pid), 0);
        assert_true(pid >= 1000 && pid < INT64_MAX / 2);
    }
}

static uint32_t producers(fx *f)
{
    lg_partition_info info;
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &info), 0);
    return info.producers;
}

static void test_idle_producer_state_expires(void **st)
{
    fx *f = *st;
    lg_close(f->log);
    f->log = NULL;
    f->o.producer_expiry_ms = 60000;
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    int64_t a, b;
    assert_int_equal(lg_producer_id_alloc(f->log, &a), 0);
    assert_int_equal(lg_producer_id_alloc(f->log, &b), 0);
    assert_int_equal(app(f, a, 0, 0, f->now), 0);
    assert_int_equal(app(f, b, 0, 0, f->now), 0);
    assert_int_equal(producers(f), 2);
    /* b keeps producing; a goes quiet for longer than the expiry. */
    f->now += 50000;
    assert_int_equal(app(f, b, 0, 2, f->now), 0);
    f->now += 20000;
    assert_int_equal(lg_maintenance_run(f->log), 0);
    assert_int_equal(producers(f), 1);
    /* Forgotten for good: not back after reopen; b's retry is still
     * recognised as a duplicate. */
    reopen(f);
    assert_int_equal(producers(f), 1);
    lg_append_result r;
    cn_buf x = CN_BUF_INIT;
    lgt_batch(&x, 9, 2, 8, f->now - 20000, b, 0, 2);
    assert_int_equal(lg_append(f->log, "t", 0, x.data, x.len, &r), 0);
    assert_true(r.duplicate);
    cn_buf_free(&x);
    /* a starts afresh at any sequence, as a new producer would. */
    assert_int_equal(app(f, a, 0, 40, f->now), 0);
    assert_int_equal(producers(f), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_refuses_offset_delta_not_count_minus_one, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_append_refuses_producer_id_never_allocated, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_producer_id_near_int64_max_in_segment_never_overflows,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_producer_state_expires, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
