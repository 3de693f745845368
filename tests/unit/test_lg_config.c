/* SPDX-License-Identifier: MIT */
/*
 * test_lg_config.c — the log's and a topic's configuration: segment.bytes
 * is bounded (positions inside a segment are 32-bit, so a segment must
 * stay far below 4 GiB); retention runs by itself on the writer thread
 * (every maintenance_ms), by time and by size, with no call from the
 * process that opened the log; topic retention and segment size can be
 * changed after creation (lg_topic_config_set), durably (reopen, and an
 * index rebuilt from topic.meta).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "lg.h"
#include "lg_testutil.h"

#include <stdatomic.h>
#include <unistd.h>

typedef struct fx {
    char *dir;
    lg_opts o;
    lg_log *log;
    _Atomic int64_t now;
} fx;

static int64_t fake_clock(void *ud)
{
    return atomic_load(&((fx *)ud)->now);
}

static int setup(void **st)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = cn_test_tmpdir("lgconfig");
    lg_opts_init(&f->o);
    f->o.dir = f->dir;
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

static void test_segment_bytes_bounded_to_one_gib(void **st)
{
    fx *f = *st;
    /* The log default. */
    f->o.segment_bytes = (1ull << 30) + 1;
    assert_int_equal(lg_open(&f->log, &f->o), CN_EINVAL);
    f->o.segment_bytes = 5ull << 30;
    assert_int_equal(lg_open(&f->log, &f->o), CN_EINVAL);
    f->o.segment_bytes = 1ull << 30;
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    /* A topic's own. */
    lg_topic_config c = {1, 0, 0, 5ull << 30};
    assert_int_equal(lg_topic_create(f->log, "big", &c), CN_EINVAL);
    c.segment_bytes = (1ull << 30) + 1;
    assert_int_equal(lg_topic_create(f->log, "big", &c), CN_EINVAL);
    c.segment_bytes = 1ull << 30;
    assert_int_equal(lg_topic_create(f->log, "big", &c), 0);
}

static void fill(fx *f, const char *topic, int n, int64_t ts)
{
    cn_buf b = CN_BUF_INIT;
    for (int i = 0; i < n; i++) {
        cn_buf_reset(&b);
        lgt_batch(&b, (uint32_t)i, 4, 200, ts, -1, -1, -1);
        assert_int_equal(lg_append(f->log, topic, 0, b.data, b.len, NULL), 0);
    }
    cn_buf_free(&b);
}

static lg_partition_info info(fx *f, const char *topic)
{
    lg_partition_info pi;
    assert_int_equal(lg_partition_info_get(f->log, topic, 0, &pi), 0);
    return pi;
}

/* Wait (up to 10 s) until the writer's own maintenance moved the log start. */
static int64_t wait_start_moves(fx *f, const char *topic)
{
    for (int i = 0; i < 1000; i++) {
        lg_partition_info pi = info(f, topic);
        if (pi.log_start_offset > 0)
            return pi.log_start_offset;
        usleep(10 * 1000);
    }
    return 0;
}

static void test_retention_runs_on_the_writer_timer_by_time_and_size(void **st)
{
    fx *f = *st;
    atomic_store(&f->now, 1000000000);
    f->o.clock_ms = fake_clock;
    f->o.clock_ud = f;
    f->o.segment_bytes = 4096;
    f->o.maintenance_ms = 20;
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    lg_topic_config byt = {1, -1, 8192, 0}, tim = {1, 60000, -1, 0};
    assert_int_equal(lg_topic_create(f->log, "by-size", &byt), 0);
    assert_int_equal(lg_topic_create(f->log, "by-time", &tim), 0);
    /* By size: nobody calls lg_retention_run; the log bounds itself. */
    fill(f, "by-size", 40, atomic_load(&f->now));
    assert_true(wait_start_moves(f, "by-size") > 0);
    /* A run may have come mid-fill: wait for the one after the last append. */
    int bounded = 0;
    for (int i = 0; i < 1000 && !bounded; i++) {
        bounded = info(f, "by-size").bytes < 8192 + 4096 + 1024;
        if (!bounded)
            usleep(10 * 1000);
    }
    assert_true(bounded);
    /* By time: segments become deletable when the clock passes them. */
    fill(f, "by-time", 40, atomic_load(&f->now));
    usleep(100 * 1000);
    assert_int_equal(info(f, "by-time").log_start_offset, 0);
    atomic_fetch_add(&f->now, 120000);
    fill(f, "by-time", 1, atomic_load(&f->now)); /* a fresh active segment */
    assert_true(wait_start_moves(f, "by-time") > 0);
}

typedef struct cfgs {
    const char *name;
    lg_topic_config c;
} cfgs;

static int find_cfg(void *ud, const char *name, const lg_topic_config *cfg)
{
    cfgs *x = ud;
    if (strcmp(name, x->name) == 0) {
        x->c = *cfg;
        return 1;
    }
    return 0;
}

static lg_topic_config cfg_of(fx *f, const char *name)
{
    cfgs x = {name, {0, 0, 0, 0}};
    lg_topics_each(f->log, find_cfg, &x);
    return x.c;
}

static void test_topic_config_set_is_durable_and_applied(void **st)
{
    fx *f = *st;
    f->o.segment_bytes = 4096;
    f->o.maintenance_ms = 0; /* runs only when called here */
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    lg_topic_config c = {1, -1, -1, 0};
    assert_int_equal(lg_topic_create(f->log, "t", &c), 0);
    fill(f, "t", 40, 1000);
    assert_int_equal(lg_maintenance_run(f->log), 0); /* keeps everything */
    lg_topic_config n = {0, -1, 8192, 2048};
    assert_int_equal(lg_topic_config_set(f->log, "t", &n), 0);
    assert_true(lg_maintenance_run(f->log) > 0);
    assert_true(info(f, "t").log_start_offset > 0);
    /* Refused: another partition count, out-of-range values, unknown topic. */
    lg_topic_config bad = {2, -1, 8192, 0};
    assert_int_equal(lg_topic_config_set(f->log, "t", &bad), CN_EINVAL);
    bad = (lg_topic_config){0, -2, 0, 0};
    assert_int_equal(lg_topic_config_set(f->log, "t", &bad), CN_EINVAL);
    bad = (lg_topic_config){0, 0, 0, 5ull << 30};
    assert_int_equal(lg_topic_config_set(f->log, "t", &bad), CN_EINVAL);
    assert_int_equal(lg_topic_config_set(f->log, "nope", &n), LG_ENOTOPIC);
    for (int round = 0; round < 2; round++) {
        lg_close(f->log);
        f->log = NULL;
        if (round == 1) {
            char idx[4096];
            snprintf(idx, sizeof(idx), "%s/index", f->dir);
            cn_test_rmrf(idx); /* rebuilt from topic.meta */
        }
        assert_int_equal(lg_open(&f->log, &f->o), 0);
        lg_topic_config got = cfg_of(f, "t");
        assert_int_equal(got.partitions, 1);
        assert_int_equal(got.retention_ms, -1);
        assert_int_equal(got.retention_bytes, 8192);
        assert_int_equal(got.segment_bytes, 2048);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_segment_bytes_bounded_to_one_gib, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_runs_on_the_writer_timer_by_time_and_size,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_topic_config_set_is_durable_and_applied, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
