/* SPDX-License-Identifier: MIT */
/*
 * test_rp_msg.c — the replication wire codec (repl/rp_msg.c): every message
 * type round-trips field for field and byte for byte; a frame fed byte by
 * byte wants more until complete; malformed frames (bad version, type,
 * flags, length, field ranges, records that are not whole contiguous v2
 * batches, records beside an error or a divergence), truncated frames,
 * oversized frames and every single-byte corruption are refused without
 * reading outside the buffer; the encoder refuses what the decoder would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cn_buf.h"
#include "cn_bytes.h"
#include "cn_err.h"
#include "rp.h"

static size_t batch(unsigned char *p, int64_t base, int32_t delta, int32_t epoch, size_t extra)
{
    size_t len = RP_BATCH_HDR_BYTES + extra;
    memset(p, 0, len);
    cn_wr_be64(p, (uint64_t)base);
    cn_wr_be32(p + 8, (uint32_t)(len - 12));
    cn_wr_be32(p + 12, (uint32_t)epoch);
    p[16] = 2;
    cn_wr_be32(p + 23, (uint32_t)delta);
    return len;
}

static rp_msg base_msg(uint8_t type)
{
    rp_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.topic_id = 9;
    m.partition = 2;
    m.from = 1;
    m.to = 3;
    m.term = 7;
    m.diverging_epoch = -1;
    m.diverging_end = -1;
    return m;
}

static unsigned char g_rec[1024];

static rp_msg fetch_resp(void)
{
    rp_msg m = base_msg(RP_FETCH_RESP);
    m.seq = 44;
    m.leader = 1;
    m.fetch_offset = 100;
    m.last_fetched_epoch = 5;
    m.high_watermark = 90;
    m.log_end = 120;
    size_t n = batch(g_rec, 100, 4, 6, 10);
    n += batch(g_rec + n, 105, 0, 7, 0);
    m.records = g_rec;
    m.records_len = (uint32_t)n;
    return m;
}

static void roundtrip(const rp_msg *m)
{
    cn_buf b = CN_BUF_INIT;
    assert_int_equal(rp_msg_encode(m, &b), 0);
    rp_msg d;
    size_t used = 0;
    assert_int_equal(rp_msg_decode(b.data, b.len, &d, &used), 0);
    assert_int_equal(used, b.len);
    assert_int_equal(d.type, m->type);
    assert_int_equal(d.topic_id, m->topic_id);
    assert_int_equal(d.partition, m->partition);
    assert_int_equal(d.from, m->from);
    assert_int_equal(d.to, m->to);
    assert_int_equal(d.term, m->term);
    /* re-encoding the decoded message gives the same bytes */
    cn_buf b2 = CN_BUF_INIT;
    assert_int_equal(rp_msg_encode(&d, &b2), 0);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    /* byte by byte: every proper prefix wants more */
    for (size_t k = 0; k < b.len; k++)
        assert_int_equal(rp_msg_decode(b.data, k, &d, &used), CN_WANT_MORE);
    cn_buf_free(&b);
    cn_buf_free(&b2);
}

static void test_roundtrip_all_types(void **st)
{
    (void)st;
    rp_msg m = base_msg(RP_PREVOTE_REQ);
    m.last_epoch = 6;
    m.log_end = 1234567890123LL;
    roundtrip(&m);
    m.type = RP_VOTE_REQ;
    roundtrip(&m);
    m.last_epoch = -1;
    m.log_end = 0;
    roundtrip(&m);
    m = base_msg(RP_PREVOTE_RESP);
    m.granted = 1;
    roundtrip(&m);
    m.type = RP_VOTE_RESP;
    m.granted = 0;
    roundtrip(&m);
    m = base_msg(RP_BEGIN_EPOCH);
    roundtrip(&m);
    m = base_msg(RP_FETCH_REQ);
    m.seq = 0xfffffffeu;
    m.fetch_offset = 500;
    m.last_fetched_epoch = 7;
    m.synced_offset = 499;
    m.max_bytes = 1 << 20;
    roundtrip(&m);
    m = fetch_resp();
    roundtrip(&m);
    m.records = NULL;
    m.records_len = 0;
    m.diverging_epoch = 4;
    m.diverging_end = 80;
    roundtrip(&m);
    m.diverging_epoch = -1; /* no epoch <= the one asked: cut to the start */
    m.diverging_end = 0;
    roundtrip(&m);
    m = fetch_resp();
    m.records = NULL;
    m.records_len = 0;
    m.error = RP_ERR_NOT_LEADER;
    m.leader = -1;
    roundtrip(&m);
}

static void test_fetch_resp_fields(void **st)
{
    (void)st;
    rp_msg m = fetch_resp();
    cn_buf b = CN_BUF_INIT;
    assert_int_equal(rp_msg_encode(&m, &b), 0);
    rp_msg d;
    size_t used;
    assert_int_equal(rp_msg_decode(b.data, b.len, &d, &used), 0);
    assert_int_equal(d.seq, 44);
    assert_true(d.fetch_offset == 100 && d.high_watermark == 90 && d.log_end == 120);
    assert_int_equal(d.last_fetched_epoch, 5);
    assert_true(d.diverging_epoch == -1 && d.diverging_end == -1);
    assert_int_equal(d.records_len, m.records_len);
    assert_memory_equal(d.records, g_rec, m.records_len);
    assert_true(d.records >= b.data && d.records + d.records_len == b.data + b.len);
    rp_entry e;
    int64_t sz = rp_batch_peek(d.records, d.records_len, &e);
    assert_int_equal(sz, RP_BATCH_HDR_BYTES + 10);
    assert_true(e.base == 100 && e.last == 104 && e.epoch == 6);
    /* two frames back to back: the first decodes alone */
    assert_int_equal(rp_msg_encode(&m, &b), 0);
    assert_int_equal(rp_msg_decode(b.data, b.len, &d, &used), 0);
    assert_int_equal(used * 2, b.len);
    cn_buf_free(&b);
}

/* Encoding m must fail (the encoder refuses what the decoder would). */
static void refuse(const rp_msg *m)
{
    cn_buf b = CN_BUF_INIT;
    assert_int_equal(rp_msg_encode(m, &b), CN_EINVAL);
    assert_int_equal(b.len, 0);
    cn_buf_free(&b);
}

static void test_encoder_refuses_bad_fields(void **st)
{
    (void)st;
    rp_msg m = base_msg(99);
    refuse(&m);
    m = base_msg(RP_VOTE_REQ);
    m.term = -1;
    refuse(&m);
    m = base_msg(RP_VOTE_REQ);
    m.last_epoch = 8; /* newer than the term */
    refuse(&m);
    m = base_msg(RP_VOTE_RESP);
    m.granted = 2;
    refuse(&m);
    m = base_msg(RP_FETCH_REQ);
    m.fetch_offset = 10;
    m.synced_offset = 11;
    m.max_bytes = 1;
    refuse(&m);
    m.synced_offset = 5;
    m.max_bytes = 0;
    refuse(&m);
    m = fetch_resp();
    m.error = 3;
    refuse(&m);
    m = fetch_resp();
    m.high_watermark = 121; /* above the log end */
    refuse(&m);
    m = fetch_resp();
    m.diverging_epoch = 3;
    m.diverging_end = 50; /* a divergence never carries records */
    refuse(&m);
    m = fetch_resp();
    m.error = RP_ERR_FENCED_EPOCH; /* nor does an error */
    refuse(&m);
    m = fetch_resp();
    m.fetch_offset = 99; /* records must start at the fetch offset */
    refuse(&m);
    m = fetch_resp();
    m.log_end = 105; /* the last batch reaches past the leader's end */
    refuse(&m);
    m = fetch_resp();
    m.term = 6; /* a batch of epoch 7 from a term-6 leader */
    refuse(&m);
    m = fetch_resp();
    m.records_len -= 1; /* the last batch is cut */
    refuse(&m);
}

static void test_records_must_be_contiguous_batches(void **st)
{
    (void)st;
    unsigned char rec[512];
    rp_msg m = fetch_resp();
    m.records = rec;
    /* a gap between batches */
    size_t n = batch(rec, 100, 1, 6, 0);
    n += batch(rec + n, 103, 0, 6, 0);
    m.records_len = (uint32_t)n;
    refuse(&m);
    /* epochs going back */
    n = batch(rec, 100, 1, 7, 0);
    n += batch(rec + n, 102, 0, 6, 0);
    m.records_len = (uint32_t)n;
    refuse(&m);
    /* magic 1 */
    n = batch(rec, 100, 0, 6, 0);
    rec[16] = 1;
    m.records_len = (uint32_t)n;
    refuse(&m);
    /* batchLength below the header */
    n = batch(rec, 100, 0, 6, 0);
    cn_wr_be32(rec + 8, 10);
    refuse(&m);
    /* negative lastOffsetDelta, negative epoch */
    n = batch(rec, 100, -1, 6, 0);
    refuse(&m);
    n = batch(rec, 100, 0, -2, 0);
    refuse(&m);
    /* lastOffsetDelta overflowing the offset */
    n = batch(rec, INT64_MAX - 3, 0x7fffffff, 6, 0);
    m.fetch_offset = INT64_MAX - 3;
    m.log_end = INT64_MAX;
    m.high_watermark = 0;
    refuse(&m);
    (void)n;
}

static void test_decoder_hostile_frames(void **st)
{
    (void)st;
    rp_msg m = base_msg(RP_FETCH_REQ);
    m.fetch_offset = 10;
    m.max_bytes = 100;
    cn_buf b = CN_BUF_INIT;
    assert_int_equal(rp_msg_encode(&m, &b), 0);
    rp_msg d;
    size_t used;
    unsigned char f[256];
    assert_true(b.len <= sizeof(f));
    /* version, flags, type */
    memcpy(f, b.data, b.len);
    f[4] = 2;
    assert_int_equal(rp_msg_decode(f, b.len, &d, &used), CN_EDECODE);
    memcpy(f, b.data, b.len);
    f[7] = 1;
    assert_int_equal(rp_msg_decode(f, b.len, &d, &used), CN_EDECODE);
    memcpy(f, b.data, b.len);
    f[5] = 0;
    assert_int_equal(rp_msg_decode(f, b.len, &d, &used), CN_EDECODE);
    memcpy(f, b.data, b.len);
    f[5] = 8;
    assert_int_equal(rp_msg_decode(f, b.len, &d, &used), CN_EDECODE);
    /* a length one longer or shorter than the body */
    memcpy(f, b.data, b.len);
    f[b.len] = 0;
    cn_wr_be32(f, (uint32_t)(b.len - 4 + 1));
    assert_int_equal(rp_msg_decode(f, b.len + 1, &d, &used), CN_EDECODE);
    cn_wr_be32(f, (uint32_t)(b.len - 4 - 1));
    assert_int_equal(rp_msg_decode(f, b.len, &d, &used), CN_EDECODE);
    /* shorter than any header */
    cn_wr_be32(f, 3);
    assert_int_equal(rp_msg_decode(f, b.len, &d, &used), CN_EDECODE);
    /* oversized: refused from the length alone */
    cn_wr_be32(f, RP_MAX_FRAME + 1);
    assert_int_equal(rp_msg_decode(f, 4, &d, &used), CN_ETOOBIG);
    cn_wr_be32(f, 0xffffffffu);
    assert_int_equal(rp_msg_decode(f, 4, &d, &used), CN_ETOOBIG);
    /* a FetchResponse whose records_len claims more than the frame holds */
    rp_msg r = fetch_resp();
    cn_buf rb = CN_BUF_INIT;
    assert_int_equal(rp_msg_encode(&r, &rb), 0);
    size_t rl_at = 4 + 24 + 50; /* records_len field */
    cn_wr_be32(rb.data + rl_at, r.records_len + 1);
    assert_int_equal(rp_msg_decode(rb.data, rb.len, &d, &used), CN_EDECODE);
    cn_wr_be32(rb.data + rl_at, 0xffffffffu);
    assert_int_equal(rp_msg_decode(rb.data, rb.len, &d, &used), CN_EDECODE);
    cn_buf_free(&rb);
    /* every single-byte change either decodes to a valid message that
     * re-encodes to exactly those bytes, or is refused */
    for (size_t i = 0; i < b.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(f, b.data, b.len);
            f[i] ^= (unsigned char)(1u << bit);
            int rc = rp_msg_decode(f, b.len, &d, &used);
            if (rc == 0) {
                cn_buf e = CN_BUF_INIT;
                assert_int_equal(rp_msg_encode(&d, &e), 0);
                assert_int_equal(e.len, used);
                assert_memory_equal(e.data, f, used);
                cn_buf_free(&e);
            } else {
                assert_true(rc == CN_EDECODE || rc == CN_ETOOBIG || rc == CN_WANT_MORE);
            }
        }
    }
    cn_buf_free(&b);
}

static void test_batch_peek(void **st)
{
    (void)st;
    unsigned char p[128];
    rp_entry e;
    size_t n = batch(p, 5, 2, 3, 4);
    assert_int_equal(rp_batch_peek(p, n, &e), (int64_t)n);
    assert_true(e.base == 5 && e.last == 7 && e.epoch == 3);
    assert_int_equal(rp_batch_peek(p, n - 1, &e), CN_EDECODE);
    assert_int_equal(rp_batch_peek(p, 60, &e), CN_EDECODE);
    cn_wr_be64(p, UINT64_MAX); /* negative base */
    assert_int_equal(rp_batch_peek(p, n, &e), CN_EDECODE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_types),
        cmocka_unit_test(test_fetch_resp_fields),
        cmocka_unit_test(test_encoder_refuses_bad_fields),
        cmocka_unit_test(test_records_must_be_contiguous_batches),
        cmocka_unit_test(test_decoder_hostile_frames),
        cmocka_unit_test(test_batch_peek),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
