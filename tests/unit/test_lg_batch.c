/* SPDX-License-Identifier: MIT */
/*
 * test_lg_batch.c — RecordBatch v2 header codec and builder: a built batch
 * validates; stamping keeps the CRC valid; every single-byte corruption of
 * the CRC'd region is caught; bad magic, bad length and truncation give
 * their own errors; builder failures under OOM leave no leak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "lg_batch.h"

static void build(cn_buf *out, int n)
{
    lg_batch_builder *b;
    assert_int_equal(lg_batch_builder_new(&b, LG_COMP_NONE), 0);
    for (int i = 0; i < n; i++) {
        char k[16], v[64];
        int kl = snprintf(k, sizeof(k), "p-%d", i % 7);
        int vl = snprintf(v, sizeof(v), "value number %d", i);
        lg_header h = {(const unsigned char *)"content-type", 12,
                       (const unsigned char *)"application/cloudevents+protobuf", 32};
        assert_int_equal(
            lg_batch_builder_add(b, 1764320000000LL + i * 10, k, (size_t)kl, v, (size_t)vl, &h, 1),
            0);
    }
    assert_int_equal(lg_batch_builder_finish(b, out), 0);
    lg_batch_builder_free(b);
}

static void test_build_validate(void **st)
{
    (void)st;
    cn_buf buf = CN_BUF_INIT;
    build(&buf, 10);
    lg_batch_hdr h;
    assert_int_equal(lg_batch_validate(buf.data, buf.len, &h), 0);
    assert_int_equal(h.record_count, 10);
    assert_int_equal(h.last_offset_delta, 9);
    assert_int_equal(h.magic, 2);
    assert_true(h.base_timestamp == 1764320000000LL);
    assert_true(h.max_timestamp == 1764320000090LL);
    assert_true(h.producer_id == -1);
    size_t total;
    assert_int_equal(lg_batch_size(buf.data, buf.len, 1 << 20, &total), 0);
    assert_int_equal(total, buf.len);
    assert_int_equal(lg_batch_size(buf.data, 11, 1 << 20, &total), CN_WANT_MORE);
    assert_int_equal(lg_batch_size(buf.data, buf.len, buf.len - 1, &total), LG_EBADBATCH);

    /* stamping the log-owned fields keeps the batch valid */
    lg_batch_stamp(buf.data, 123456789, 7);
    assert_int_equal(lg_batch_validate(buf.data, buf.len, &h), 0);
    assert_true(h.base_offset == 123456789);
    assert_int_equal(h.leader_epoch, 7);
    cn_buf_free(&buf);
}

static void test_corruption_caught(void **st)
{
    (void)st;
    cn_buf buf = CN_BUF_INIT;
    build(&buf, 5);
    /* Flip each byte from the magic onwards: never accepted. */
    for (size_t i = 16; i < buf.len; i++) {
        buf.data[i] ^= 0x5a;
        int rc = lg_batch_validate(buf.data, buf.len, NULL);
        assert_true(rc != 0);
        if (i == 16)
            assert_int_equal(rc, LG_EMAGIC);
        else
            assert_int_equal(rc, LG_ECRC);
        buf.data[i] ^= 0x5a;
    }
    assert_int_equal(lg_batch_validate(buf.data, buf.len, NULL), 0);
    /* truncation at every length */
    for (size_t n = 0; n < buf.len; n++)
        assert_true(lg_batch_validate(buf.data, n, NULL) != 0);
    assert_int_equal(lg_batch_validate(buf.data, buf.len - 1, NULL), CN_ETRUNC);
    /* trailing garbage: length field no longer matches */
    cn_buf_append(&buf, "x", 1);
    assert_int_equal(lg_batch_validate(buf.data, buf.len, NULL), LG_EBADBATCH);
    cn_buf_free(&buf);
}

static void test_builder_oom(void **st)
{
    (void)st;
    for (long n = 1; n < 64; n++) {
        cn_test_alloc_fail_at(n, 0);
        lg_batch_builder *b = NULL;
        cn_buf out = CN_BUF_INIT;
        int rc = lg_batch_builder_new(&b, LG_COMP_NONE);
        for (int i = 0; i < 50 && !rc; i++)
            rc = lg_batch_builder_add(b, i, "k", 1, "some value bytes", 16, NULL, 0);
        if (!rc)
            rc = lg_batch_builder_finish(b, &out);
        if (!rc)
            assert_int_equal(lg_batch_validate(out.data, out.len, NULL), 0);
        else
            assert_int_equal(rc, CN_ENOMEM);
        lg_batch_builder_free(b);
        cn_buf_free(&out);
        long live = cn_test_alloc_live();
        cn_test_alloc_reset();
        assert_int_equal(live, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_validate),
        cmocka_unit_test(test_corruption_caught),
        cmocka_unit_test(test_builder_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
