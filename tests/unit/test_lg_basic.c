/* SPDX-License-Identifier: MIT */
/*
 * test_lg_basic.c — the log engine's core contract: append/read round trips
 * byte for byte with offsets assigned and stamped, bad batches refused with
 * nothing written, reads by offset with byte limits (always one whole
 * batch), reads across segment rolls by size and by age (injected clock),
 * lookup by time, the record iterator, reopen keeping everything, topics
 * (create/delete/list/invalid names), the single-writer LOCK, and opening
 * with the default 1 TiB index map inside a small address space.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

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

static int64_t fx_clock(void *ud)
{
    return ((fx *)ud)->now;
}

static int setup(void **st)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = cn_test_tmpdir("lgbasic");
    lg_opts_init(&f->o);
    f->o.dir = f->dir;
    f->o.clock_ms = fx_clock;
    f->o.clock_ud = f;
    f->now = 1700000000000;
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

static void fx_open(fx *f)
{
    assert_int_equal(lg_open(&f->log, &f->o), 0);
}

static void fx_reopen(fx *f)
{
    lg_close(f->log);
    f->log = NULL;
    fx_open(f);
}

static void topic(fx *f, const char *name, int parts, uint64_t seg_bytes)
{
    lg_topic_config c = {parts, 0, 0, seg_bytes};
    assert_int_equal(lg_topic_create(f->log, name, &c), 0);
}

/* Read the whole partition with lg_read into out (the raw stored bytes). */
static void read_all(lg_log *log, const char *t, int p, cn_buf *out, size_t max_bytes)
{
    int64_t off = 0;
    lg_partition_info info;
    assert_int_equal(lg_partition_info_get(log, t, p, &info), 0);
    off = info.log_start_offset;
    for (;;) {
        lg_read_result r;
        assert_int_equal(lg_read(log, t, p, off, max_bytes, &r), 0);
        if (r.len == 0) {
            assert_true(off == info.log_end_offset);
            break;
        }
        assert_int_equal(cn_buf_reserve(out, r.len), 0);
        assert_int_equal(pread(r.fd, out->data + out->len, r.len, r.file_pos), (ssize_t)r.len);
        out->len += r.len;
        assert_true(r.next_offset > off);
        off = r.next_offset;
        lg_read_release(log, &r);
    }
}

/* Expected stored bytes: the batch with base offset and epoch stamped. */
static void expect_stamped(cn_buf *exp, const cn_buf *batch, int64_t base, int32_t epoch)
{
    size_t at = exp->len;
    assert_int_equal(cn_buf_append(exp, batch->data, batch->len), 0);
    lg_batch_stamp(exp->data + at, base, epoch);
}

static void test_roundtrip_and_reopen(void **st)
{
    fx *f = *st;
    fx_open(f);
    topic(f, "ble-raw", 2, 0);
    cn_buf exp = CN_BUF_INIT, b = CN_BUF_INIT;
    int64_t next = 0, max_ts = -1;
    for (int i = 0; i < 50; i++) {
        cn_buf_reset(&b);
        int n = 1 + i % 7;
        if (f->now + i + n - 1 > max_ts)
            max_ts = f->now + i + n - 1;
        lgt_batch(&b, (uint32_t)i, n, 20 + (size_t)i, f->now + i, -1, -1, -1);
        lg_append_result r;
        assert_int_equal(lg_append(f->log, "ble-raw", 1, b.data, b.len, &r), 0);
        assert_int_equal(r.err, 0);
        assert_true(r.base_offset == next);
        assert_false(r.duplicate);
        expect_stamped(&exp, &b, next, 0);
        next += n;
    }
    cn_buf got = CN_BUF_INIT;
    read_all(f->log, "ble-raw", 1, &got, 1);
    assert_int_equal(got.len, exp.len);
    assert_memory_equal(got.data, exp.data, exp.len);
    lg_partition_info info;
    assert_int_equal(lg_partition_info_get(f->log, "ble-raw", 1, &info), 0);
    assert_true(info.log_start_offset == 0 && info.log_end_offset == next);
    assert_int_equal(info.bytes, exp.len);
    assert_int_equal(info.segments, 1);
    assert_true(info.first_timestamp == f->now && info.last_timestamp == max_ts);
    /* partition 0 untouched */
    assert_int_equal(lg_partition_info_get(f->log, "ble-raw", 0, &info), 0);
    assert_true(info.log_end_offset == 0 && info.first_timestamp == -1);

    fx_reopen(f);
    cn_buf_reset(&got);
    read_all(f->log, "ble-raw", 1, &got, 1 << 20);
    assert_int_equal(got.len, exp.len);
    assert_memory_equal(got.data, exp.data, exp.len);
    /* appends continue at the right offset after reopen */
    cn_buf_reset(&b);
    lgt_batch(&b, 99, 3, 10, f->now, -1, -1, -1);
    lg_append_result r;
    assert_int_equal(lg_append(f->log, "ble-raw", 1, b.data, b.len, &r), 0);
    assert_true(r.base_offset == next);
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
    cn_buf_free(&exp);
    cn_buf_free(&b);
    cn_buf_free(&got);
}

static void test_bad_batches_refused(void **st)
{
    fx *f = *st;
    fx_open(f);
    topic(f, "t", 1, 0);
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 1, 3, 30, f->now, -1, -1, -1);
    assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), 0);
    lg_partition_info before;
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &before), 0);
    long long size0 = lgt_file_size(lgt_seg_path(f->dir, "t", 0, 0));

    unsigned char *x = malloc(b.len + 16);
    /* CRC: flip a payload byte */
    memcpy(x, b.data, b.len);
    x[b.len - 1] ^= 1;
    assert_int_equal(lg_append(f->log, "t", 0, x, b.len, NULL), LG_ECRC);
    /* magic */
    memcpy(x, b.data, b.len);
    x[16] = 1;
    assert_int_equal(lg_append(f->log, "t", 0, x, b.len, NULL), LG_EMAGIC);
    /* length field disagrees with the buffer */
    memcpy(x, b.data, b.len);
    cn_wr_be32(x + 8, (uint32_t)(b.len - 12 + 5));
    assert_true(lg_append(f->log, "t", 0, x, b.len, NULL) < 0);
    /* truncated */
    assert_true(lg_append(f->log, "t", 0, b.data, b.len - 1, NULL) < 0);
    assert_true(lg_append(f->log, "t", 0, b.data, 10, NULL) < 0);
    /* trailing garbage after a whole batch */
    memcpy(x, b.data, b.len);
    assert_true(lg_append(f->log, "t", 0, x, b.len + 3, NULL) < 0);
    /* oversized per max_batch_bytes */
    lg_close(f->log);
    f->o.max_batch_bytes = 100;
    fx_open(f);
    assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), CN_ETOOBIG);
    /* unknown topic / partition */
    assert_int_equal(lg_append(f->log, "nope", 0, b.data, b.len, NULL), CN_ETOOBIG);
    f->o.max_batch_bytes = 8 << 20;
    fx_reopen(f);
    assert_int_equal(lg_append(f->log, "nope", 0, b.data, b.len, NULL), LG_ENOTOPIC);
    assert_int_equal(lg_append(f->log, "t", 1, b.data, b.len, NULL), LG_ENOPART);
    assert_int_equal(lg_append(f->log, "t", -1, b.data, b.len, NULL), LG_ENOPART);

    lg_partition_info after;
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &after), 0);
    assert_true(after.log_end_offset == before.log_end_offset);
    assert_int_equal(after.bytes, before.bytes);
    assert_int_equal(lgt_file_size(lgt_seg_path(f->dir, "t", 0, 0)), size0);
    free(x);
    cn_buf_free(&b);
}

static void test_read_limits_and_offsets(void **st)
{
    fx *f = *st;
    fx_open(f);
    topic(f, "t", 1, 0);
    cn_buf b = CN_BUF_INIT;
    size_t sizes[20];
    for (int i = 0; i < 20; i++) {
        cn_buf_reset(&b);
        lgt_batch(&b, (uint32_t)i, 10, 100, f->now + i * 10, -1, -1, -1);
        sizes[i] = b.len;
        assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), 0);
    }
    lg_read_result r;
    /* max_bytes smaller than a batch still returns one whole batch */
    assert_int_equal(lg_read(f->log, "t", 0, 0, 1, &r), 0);
    assert_int_equal(r.len, sizes[0]);
    assert_true(r.first_offset == 0 && r.next_offset == 10 && r.file_pos == 0);
    lg_read_release(f->log, &r);
    /* an offset inside a batch starts at that batch */
    assert_int_equal(lg_read(f->log, "t", 0, 57, sizes[5] + sizes[6], &r), 0);
    assert_true(r.first_offset == 50 && r.next_offset == 70);
    assert_int_equal(r.len, sizes[5] + sizes[6]);
    lg_read_release(f->log, &r);
    /* one byte less: only one batch */
    assert_int_equal(lg_read(f->log, "t", 0, 57, sizes[5] + sizes[6] - 1, &r), 0);
    assert_true(r.next_offset == 60);
    lg_read_release(f->log, &r);
    /* the end: empty, not an error; beyond: out of range */
    assert_int_equal(lg_read(f->log, "t", 0, 200, 1000, &r), 0);
    assert_int_equal(r.len, 0);
    assert_true(r.log_end_offset == 200 && r.next_offset == 200);
    lg_read_release(f->log, &r);
    assert_int_equal(lg_read(f->log, "t", 0, 201, 1000, &r), LG_EOFFSET);
    assert_int_equal(lg_read(f->log, "t", 0, -1, 1000, &r), LG_EOFFSET);
    assert_int_equal(lg_read(f->log, "x", 0, 0, 1000, &r), LG_ENOTOPIC);
    assert_int_equal(lg_read(f->log, "t", 3, 0, 1000, &r), LG_ENOPART);

    /* by time: records have ts now + i*10 + j */
    int64_t off;
    assert_int_equal(lg_offset_for_time(f->log, "t", 0, 0, &off), 0);
    assert_true(off == 0);
    assert_int_equal(lg_offset_for_time(f->log, "t", 0, f->now + 53, &off), 0);
    assert_true(off == 53);
    assert_int_equal(lg_offset_for_time(f->log, "t", 0, f->now + 58, &off), 0);
    assert_true(off == 58); /* batch 5 holds now+50..59 at offsets 50..59 */
    cn_buf_free(&b);
}

static void test_time_lookup_exact(void **st)
{
    fx *f = *st;
    fx_open(f);
    topic(f, "t", 1, 0);
    cn_buf b = CN_BUF_INIT;
    /* 200 batches of 5 records, ts strictly increasing by 1 per record:
     * record k has ts base + k.  Enough bytes for many index entries. */
    for (int i = 0; i < 200; i++) {
        cn_buf_reset(&b);
        lgt_batch(&b, (uint32_t)i, 5, 200, 1000 + i * 5, -1, -1, -1);
        assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), 0);
    }
    for (int64_t k = 0; k < 1000; k += 37) {
        int64_t off;
        assert_int_equal(lg_offset_for_time(f->log, "t", 0, 1000 + k, &off), 0);
        assert_true(off == k);
    }
    int64_t off;
    assert_int_equal(lg_offset_for_time(f->log, "t", 0, 999999, &off), 0);
    assert_true(off == 1000); /* none: the log end */
    cn_buf_free(&b);
}

/* Out-of-order timestamps (Kafka allows them): the answer must be the
 * first offset whose record timestamp >= T, checked against a linear scan. */
static void test_time_lookup_unordered(void **st)
{
    fx *f = *st;
    fx_open(f);
    topic(f, "t", 1, 16384);
    enum { NB = 300, NR = 4 };
    static int64_t ts[NB * NR];
    uint32_t x = 12345;
    cn_buf b = CN_BUF_INIT;
    for (int i = 0; i < NB; i++) {
        lg_batch_builder *bb;
        assert_int_equal(lg_batch_builder_new(&bb, LG_COMP_NONE), 0);
        for (int r = 0; r < NR; r++) {
            x = x * 1103515245u + 12345u;
            /* drifting upwards with jitter far larger than the drift */
            ts[i * NR + r] = 100000 + i * 10 + (int64_t)((x >> 8) % 5000) - 2500;
            char v[150];
            memset(v, 'a' + r, sizeof(v));
            assert_int_equal(
                lg_batch_builder_add(bb, ts[i * NR + r], NULL, 0, v, sizeof(v), NULL, 0), 0);
        }
        cn_buf_reset(&b);
        assert_int_equal(lg_batch_builder_finish(bb, &b), 0);
        lg_batch_builder_free(bb);
        assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), 0);
    }
    for (int q = 0; q < 200; q++) {
        x = x * 1103515245u + 12345u;
        int64_t t = 97000 + (int64_t)((x >> 8) % 8000);
        int64_t want = NB * NR;
        for (int k = 0; k < NB * NR; k++)
            if (ts[k] >= t) {
                want = k;
                break;
            }
        int64_t off;
        assert_int_equal(lg_offset_for_time(f->log, "t", 0, t, &off), 0);
        if (off != want)
            fail_msg("T=%lld: got %lld, linear scan says %lld", (long long)t, (long long)off,
                     (long long)want);
    }
    cn_buf_free(&b);
}

static void test_roll_by_size_and_age(void **st)
{
    fx *f = *st;
    f->o.segment_ms = 60000;
    fx_open(f);
    topic(f, "t", 1, 4096);
    cn_buf b = CN_BUF_INIT, exp = CN_BUF_INIT;
    int64_t next = 0;
    for (int i = 0; i < 40; i++) {
        cn_buf_reset(&b);
        lgt_batch(&b, (uint32_t)i, 4, 200, f->now, -1, -1, -1); /* ~900 bytes */
        lg_append_result r;
        assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, &r), 0);
        assert_true(r.base_offset == next);
        expect_stamped(&exp, &b, next, 0);
        next += 4;
    }
    lg_partition_info info;
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &info), 0);
    assert_true(info.segments >= 9);
    /* every segment within the size (each holds whole batches) */
    for (int64_t base = 0; base < next; base += 4) {
        long long sz = lgt_file_size(lgt_seg_path(f->dir, "t", 0, base));
        if (sz >= 0)
            assert_true(sz <= 4096);
    }
    uint32_t segs_before = info.segments;
    /* age: one small batch, clock past segment_ms, another -> new segment */
    f->now += 61000;
    cn_buf_reset(&b);
    lgt_batch(&b, 100, 1, 10, f->now, -1, -1, -1);
    assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), 0);
    expect_stamped(&exp, &b, next, 0);
    assert_true(lgt_file_size(lgt_seg_path(f->dir, "t", 0, next)) == (long long)b.len);
    next += 1;
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &info), 0);
    assert_int_equal(info.segments, segs_before + 1);
    cn_buf got = CN_BUF_INIT;
    read_all(f->log, "t", 0, &got, 1 << 20); /* never crosses a segment per call */
    assert_int_equal(got.len, exp.len);
    assert_memory_equal(got.data, exp.data, exp.len);
    fx_reopen(f);
    cn_buf_reset(&got);
    read_all(f->log, "t", 0, &got, 3000);
    assert_memory_equal(got.data, exp.data, exp.len);
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
    cn_buf_free(&b);
    cn_buf_free(&exp);
    cn_buf_free(&got);
}

static void test_iterator(void **st)
{
    fx *f = *st;
    fx_open(f);
    topic(f, "t", 1, 2048);
    cn_buf b = CN_BUF_INIT;
    for (int i = 0; i < 30; i++) {
        cn_buf_reset(&b);
        lgt_batch(&b, (uint32_t)i, 3, 150, f->now + i, -1, -1, -1);
        assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), 0);
    }
    lg_iter *it;
    assert_int_equal(lg_iter_open(&it, f->log, "t", 0, 7), 0);
    lg_record rec;
    int64_t expect = 7;
    while (lg_iter_next(it, &rec) == 0) {
        assert_true(rec.offset == expect);
        char key[32];
        int kl = snprintf(key, sizeof(key), "k%d-%d", (int)(expect / 3), (int)(expect % 3));
        assert_int_equal(rec.key_len, (size_t)kl);
        assert_memory_equal(rec.key, key, (size_t)kl);
        assert_int_equal(rec.value_len, 150);
        assert_true(lg_iter_batch(it)->base_offset == expect - expect % 3);
        expect++;
    }
    assert_true(expect == 90);
    assert_int_equal(lg_iter_next(it, &rec), CN_DONE);
    /* new data shows up on the next call */
    cn_buf_reset(&b);
    lgt_batch(&b, 30, 2, 10, f->now, -1, -1, -1);
    assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), 0);
    assert_int_equal(lg_iter_next(it, &rec), 0);
    assert_true(rec.offset == 90);
    assert_int_equal(lg_iter_next(it, &rec), 0);
    assert_int_equal(lg_iter_next(it, &rec), CN_DONE);
    lg_iter_close(it);
    assert_int_equal(lg_iter_open(&it, f->log, "t", 0, 93), LG_EOFFSET);
    lg_iter_close(NULL);
    cn_buf_free(&b);
}

/* Batches are stored as produced, compressed or not; the iterator decodes. */
static void test_compressed_batches(void **st)
{
    fx *f = *st;
    fx_open(f);
    topic(f, "z", 1, 0);
    enum lg_compression comps[] = {LG_COMP_NONE, LG_COMP_GZIP, LG_COMP_SNAPPY, LG_COMP_LZ4,
                                   LG_COMP_ZSTD};
    cn_buf b = CN_BUF_INIT, exp = CN_BUF_INIT;
    int64_t off = 0;
    for (size_t c = 0; c < sizeof(comps) / sizeof(comps[0]); c++) {
        lg_batch_builder *bb;
        assert_int_equal(lg_batch_builder_new(&bb, comps[c]), 0);
        for (int r = 0; r < 10; r++) {
            char v[64];
            int n = snprintf(v, sizeof(v), "value-%zu-%d-%s", c, r, "padpadpadpadpadpadpad");
            assert_int_equal(lg_batch_builder_add(bb, 500 + r, "k", 1, v, (size_t)n, NULL, 0), 0);
        }
        cn_buf_reset(&b);
        assert_int_equal(lg_batch_builder_finish(bb, &b), 0);
        lg_batch_builder_free(bb);
        lg_append_result r;
        assert_int_equal(lg_append(f->log, "z", 0, b.data, b.len, &r), 0);
        assert_true(r.base_offset == off);
        expect_stamped(&exp, &b, off, 0);
        off += 10;
    }
    cn_buf got = CN_BUF_INIT;
    read_all(f->log, "z", 0, &got, 1);
    assert_int_equal(got.len, exp.len);
    assert_memory_equal(got.data, exp.data, exp.len); /* stored as produced */
    lg_iter *it;
    assert_int_equal(lg_iter_open(&it, f->log, "z", 0, 3), 0);
    lg_record rec;
    int64_t want = 3;
    while (lg_iter_next(it, &rec) == 0) {
        char v[64];
        int n = snprintf(v, sizeof(v), "value-%d-%d-%s", (int)(want / 10), (int)(want % 10),
                         "padpadpadpadpadpadpad");
        assert_true(rec.offset == want);
        assert_int_equal(rec.value_len, (size_t)n);
        assert_memory_equal(rec.value, v, (size_t)n);
        assert_true((lg_iter_batch(it)->attributes & LG_ATTR_COMPRESSION_MASK) ==
                    (int)comps[want / 10]);
        want++;
    }
    assert_true(want == 50);
    lg_iter_close(it);
    cn_buf_free(&b);
    cn_buf_free(&exp);
    cn_buf_free(&got);
}

static int count_topic(void *ud, const char *name, const lg_topic_config *cfg)
{
    (void)cfg;
    char *acc = ud;
    strcat(acc, name);
    strcat(acc, ",");
    return 0;
}

static void test_topics(void **st)
{
    fx *f = *st;
    fx_open(f);
    lg_topic_config c = {3, 0, 0, 0};
    assert_int_equal(lg_topic_create(f->log, "b-topic", &c), 0);
    assert_int_equal(lg_topic_create(f->log, "a.topic_1", &c), 0);
    assert_int_equal(lg_topic_create(f->log, "b-topic", &c), CN_EEXIST);
    assert_int_equal(lg_topic_create(f->log, "", &c), CN_EINVAL);
    assert_int_equal(lg_topic_create(f->log, "..", &c), CN_EINVAL);
    assert_int_equal(lg_topic_create(f->log, "a/b", &c), CN_EINVAL);
    assert_int_equal(lg_topic_create(f->log, "sp ace", &c), CN_EINVAL);
    char big[300];
    memset(big, 'x', 260);
    big[260] = 0;
    assert_int_equal(lg_topic_create(f->log, big, &c), CN_EINVAL);
    lg_topic_config z = {0, 0, 0, 0};
    assert_int_equal(lg_topic_create(f->log, "zero", &z), CN_EINVAL);
    assert_int_equal(lg_topic_partitions(f->log, "b-topic"), 3);
    assert_int_equal(lg_topic_partitions(f->log, "nope"), LG_ENOTOPIC);
    char acc[256] = "";
    lg_topics_each(f->log, count_topic, acc);
    assert_string_equal(acc, "a.topic_1,b-topic,");
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 1, 1, 10, 0, -1, -1, -1);
    assert_int_equal(lg_append(f->log, "b-topic", 2, b.data, b.len, NULL), 0);
    fx_reopen(f);
    assert_int_equal(lg_topic_partitions(f->log, "b-topic"), 3);
    assert_int_equal(lg_topic_delete(f->log, "b-topic"), 0);
    assert_int_equal(lg_topic_delete(f->log, "b-topic"), LG_ENOTOPIC);
    assert_int_equal(lg_topic_partitions(f->log, "b-topic"), LG_ENOTOPIC);
    assert_true(lgt_file_size(lgt_seg_path(f->dir, "b-topic", 2, 0)) < 0);
    fx_reopen(f);
    acc[0] = 0;
    lg_topics_each(f->log, count_topic, acc);
    assert_string_equal(acc, "a.topic_1,");
    /* recreate with the same name: empty, fresh */
    assert_int_equal(lg_topic_create(f->log, "b-topic", &c), 0);
    lg_partition_info info;
    assert_int_equal(lg_partition_info_get(f->log, "b-topic", 2, &info), 0);
    assert_true(info.log_end_offset == 0);
    cn_buf_free(&b);
}

static void test_single_writer_lock(void **st)
{
    fx *f = *st;
    fx_open(f);
    lg_log *second = (lg_log *)1;
    assert_int_equal(lg_open(&second, &f->o), CN_EBUSY);
    assert_null(second);
    lg_opts bad = f->o;
    bad.dir = NULL;
    assert_int_equal(lg_open(&second, &bad), CN_EINVAL);
    lg_close(NULL);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

/* The default index map is 1 TiB of address space; a ulimit -v (or a
 * sanitizer's smaller application range) refuses it. Opening must then
 * settle for a smaller map rather than fail with "out of memory". A child
 * process takes the limit so the rest of the suite keeps its own. */
static void test_open_in_small_address_space(void **st)
{
#ifdef SANITIZED
    (void)st;
    skip(); /* sanitizers reserve terabytes of shadow memory up front */
#else
    fx *f = *st;
    assert_int_equal(f->o.lmdb_map_bytes, 1ull << 40);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {.rlim_cur = 8ull << 30, .rlim_max = 8ull << 30};
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(3);
        lg_log *log = NULL;
        int rc = lg_open(&log, &f->o);
        if (rc == 0) {
            lg_topic_config c = {.partitions = 1};
            rc = lg_topic_create(log, "t", &c);
        }
        lg_close(log);
        _exit(rc == 0 ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_batches_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_limits_and_offsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_lookup_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_lookup_unordered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roll_by_size_and_age, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iterator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compressed_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_writer_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_in_small_address_space, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
