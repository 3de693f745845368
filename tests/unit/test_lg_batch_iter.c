/* SPDX-License-Identifier: MIT */
/*
 * test_lg_batch_iter.c — the RecordBatch record iterator:
 *   - interop: batches written by kafka-python (tests/vectors/<name>.bin, made by
 *     tests/vectors/gen_batches.py) in every codec, including raw and
 *     xerial snappy and zstd with and without a content size, and by
 *     librdkafka (rdkafka-*.bin, gen_rdkafka.py) and kafkajs
 *     (kafkajs-*.bin, gen_kafkajs.js) decode to exactly the records listed
 *     in tests/vectors/batches.json;
 *   - our builder round-trips in every codec, with null/empty keys, values
 *     and headers; LOG_APPEND_TIME batches report maxTimestamp;
 *   - hostile records inside CRC-valid batches (re-CRC'd on purpose, also
 *     inside compressed payloads): lengths past the end, negative lengths,
 *     huge header counts, over-long varints, short/long records, wrong
 *     record counts, bad offset deltas, truncation at every byte;
 *   - decompression bombs fail with LG_ECOMPRESS under the cap;
 *   - allocation failure at every step returns CN_ENOMEM and leaks nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_bytes.h"
#include "cn_crc32c.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "lg_batch.h"
#include "lg_codec.h"

#define MiB (1024u * 1024u)

/* ---- helpers --------------------------------------------------------------- */

static void vectors_dir(char *out, size_t n)
{
    const char *src = getenv("CAIRN_SRC");
    if (src && *src) {
        snprintf(out, n, "%s/tests/vectors", src);
        return;
    }
    /* __FILE__ is absolute in CMake builds: .../tests/unit/test_lg_batch_iter.c */
    snprintf(out, n, "%s", __FILE__);
    char *cut = strstr(out, "/tests/unit/");
    assert_non_null(cut);
    strcpy(cut, "/tests/vectors");
}

static void read_file(const char *path, cn_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    unsigned char tmp[65536];
    size_t got;
    while ((got = fread(tmp, 1, sizeof(tmp), f)) > 0)
        assert_int_equal(cn_buf_append(out, tmp, got), 0);
    fclose(f);
}

static size_t unhex(const char *hex, unsigned char *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (unsigned char)v;
    }
    return n;
}

/* Compare bytes (NULL = null) with a hex string or JSON null. */
static void check_bytes(const unsigned char *p, size_t n, json_t *want)
{
    if (json_is_null(want)) {
        assert_null(p);
        assert_int_equal(n, 0);
        return;
    }
    static unsigned char buf[256 * 1024];
    size_t wn = unhex(json_string_value(want), buf, sizeof(buf));
    assert_non_null(p);
    assert_int_equal(n, wn);
    assert_memory_equal(p, buf, n);
}

/* Header + CRC around arbitrary records bytes (compressed with comp unless
 * NONE): how a hostile producer would wrap malformed records so that they
 * pass lg_batch_validate and reach the record decoder. */
static void wrap_batch(cn_buf *out, int comp, const unsigned char *recs, size_t n, int32_t count,
                       int32_t last_delta, int16_t extra_attr)
{
    cn_buf_reset(out);
    unsigned char h[LG_BATCH_HEADER_LEN] = {0};
    assert_int_equal(cn_buf_append(out, h, sizeof(h)), 0);
    if (comp == LG_COMP_NONE)
        assert_int_equal(cn_buf_append(out, recs, n), 0);
    else
        assert_int_equal(lg__compress((enum lg_compression)comp, recs, n, out), 0);
    unsigned char *p = out->data;
    cn_wr_be64(p, 1000);
    cn_wr_be32(p + 8, (uint32_t)(out->len - LG_BATCH_LOG_OVERHEAD));
    cn_wr_be32(p + 12, 0);
    p[16] = 2;
    cn_wr_be16(p + 21, (uint16_t)(comp | extra_attr));
    cn_wr_be32(p + 23, (uint32_t)last_delta);
    cn_wr_be64(p + 27, 5000);
    cn_wr_be64(p + 35, 9000);
    cn_wr_be64(p + 43, (uint64_t)-1);
    cn_wr_be16(p + 51, (uint16_t)-1);
    cn_wr_be32(p + 53, (uint32_t)-1);
    cn_wr_be32(p + 57, (uint32_t)count);
    cn_wr_be32(p + 17, cn_crc32c(0, p + 21, out->len - 21));
}

/* Iterate all records; returns the final code (CN_DONE or an error) and
 * the number of records returned before it. */
static int drain(const cn_buf *b, size_t max, int *nrec)
{
    lg_batch_iter *it;
    *nrec = 0;
    int rc = lg_batch_iter_open(&it, b->data, b->len, max);
    if (rc) {
        assert_null(it);
        return rc;
    }
    lg_record r;
    while ((rc = lg_batch_iter_next(it, &r)) == 0) {
        (*nrec)++;
        for (size_t i = 0; i < r.header_count; i++) {
            lg_header h;
            assert_int_equal(lg_record_header(&r, i, &h), 0);
        }
    }
    /* errors are sticky; the end stays the end */
    lg_record again;
    assert_int_equal(lg_batch_iter_next(it, &again), rc);
    lg_batch_iter_close(it);
    return rc;
}

/* A small varint-encoding record writer for hand-made records. */
typedef struct rw {
    unsigned char b[4096];
    size_t n;
} rw;

static void rw_var(rw *w, int64_t v)
{
    w->n += (size_t)cn_wr_varint(w->b + w->n, v);
}
static void rw_raw(rw *w, const void *p, size_t n)
{
    memcpy(w->b + w->n, p, n);
    w->n += n;
}
/* Prefix body with its length as a record. */
static void rw_record(rw *out, const rw *body)
{
    rw_var(out, (int64_t)body->n);
    rw_raw(out, body->b, body->n);
}
/* A well-formed body: attributes, ts delta, offset delta, key, value, headers. */
static void rw_good_body(rw *w, int64_t off_delta)
{
    w->n = 0;
    w->b[w->n++] = 0;
    rw_var(w, 7);
    rw_var(w, off_delta);
    rw_var(w, 3);
    rw_raw(w, "key", 3);
    rw_var(w, 5);
    rw_raw(w, "value", 5);
    rw_var(w, 1);
    rw_var(w, 2);
    rw_raw(w, "hk", 2);
    rw_var(w, -1);
}

/* ---- interop vectors ------------------------------------------------------- */

/* Check the batch file vec names: it must hold records[first, first+count). */
static void check_vector(const char *dir, json_t *vec, json_t *records, size_t first, size_t count)
{
    char path[8192];
    snprintf(path, sizeof(path), "%.4000s/%.4000s", dir,
             json_string_value(json_object_get(vec, "file")));
    cn_buf b = CN_BUF_INIT;
    read_file(path, &b);
    lg_batch_hdr h;
    assert_int_equal(lg_batch_validate(b.data, b.len, &h), 0);
    assert_int_equal(h.attributes & LG_ATTR_COMPRESSION_MASK,
                     json_integer_value(json_object_get(vec, "codec")));
    assert_int_equal(!!(h.attributes & LG_ATTR_TRANSACTIONAL),
                     json_is_true(json_object_get(vec, "transactional")));
    assert_true(h.producer_id == json_integer_value(json_object_get(vec, "producer_id")));
    assert_int_equal(h.producer_epoch, json_integer_value(json_object_get(vec, "producer_epoch")));
    assert_int_equal(h.base_sequence, json_integer_value(json_object_get(vec, "base_sequence")));
    json_int_t first_ts =
        json_integer_value(json_object_get(json_array_get(records, first), "timestamp"));
    json_int_t max_ts = first_ts, min_ts = first_ts;
    for (size_t i = first; i < first + count; i++) {
        json_int_t t = json_integer_value(json_object_get(json_array_get(records, i), "timestamp"));
        max_ts = t > max_ts ? t : max_ts;
        min_ts = t < min_ts ? t : min_ts;
    }
    /* Java, kafka-python and librdkafka base the deltas on the first
     * record's timestamp, kafkajs on the smallest; both are legal. */
    json_t *want_base = json_object_get(vec, "base_timestamp");
    if (want_base)
        assert_true(h.base_timestamp == json_integer_value(want_base));
    else
        assert_true(h.base_timestamp == first_ts || h.base_timestamp == min_ts);
    assert_true(h.max_timestamp == max_ts);
    assert_int_equal(h.record_count, count);

    /* The log stamps a base offset: offsets must follow it. */
    lg_batch_stamp(b.data, 5000000000LL, 9);
    lg_batch_iter *it;
    assert_int_equal(lg_batch_iter_open(&it, b.data, b.len, 16 * MiB), 0);
    for (size_t i = first; i < first + count; i++) {
        json_t *want = json_array_get(records, i);
        lg_record r;
        assert_int_equal(lg_batch_iter_next(it, &r), 0);
        assert_true(r.offset == 5000000000LL + (int64_t)(i - first));
        assert_true(r.timestamp == json_integer_value(json_object_get(want, "timestamp")));
        check_bytes(r.key, r.key_len, json_object_get(want, "key"));
        check_bytes(r.value, r.value_len, json_object_get(want, "value"));
        json_t *hs = json_object_get(want, "headers");
        assert_int_equal(r.header_count, json_array_size(hs));
        for (size_t j = 0; j < r.header_count; j++) {
            lg_header hd;
            assert_int_equal(lg_record_header(&r, j, &hd), 0);
            check_bytes(hd.key, hd.key_len, json_array_get(json_array_get(hs, j), 0));
            check_bytes(hd.value, hd.value_len, json_array_get(json_array_get(hs, j), 1));
        }
        lg_header none;
        assert_int_equal(lg_record_header(&r, r.header_count, &none), LG_EBADBATCH);
    }
    lg_record r;
    assert_int_equal(lg_batch_iter_next(it, &r), CN_DONE);
    lg_batch_iter_close(it);

    /* The same bytes under a cap below their decompressed size: refused. */
    if (h.attributes & LG_ATTR_COMPRESSION_MASK) {
        assert_int_equal(lg_batch_iter_open(&it, b.data, b.len, 64 * 1024), LG_ECOMPRESS);
        assert_null(it);
    }
    cn_buf_free(&b);
}

static json_t *load_json(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof(path), "%.4000s/%s", dir, name);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root)
        fail_msg("%s: %s", path, jerr.text);
    return root;
}

/* kafka-python's batches: every file holds all the records. */
static void test_kafka_python_vectors(void **st)
{
    (void)st;
    char dir[4096];
    vectors_dir(dir, sizeof(dir));
    json_t *root = load_json(dir, "batches.json");
    json_t *vecs = json_object_get(root, "vectors");
    json_t *records = json_object_get(root, "records");
    assert_true(json_array_size(vecs) >= 8); /* none gzip snappy lz4 zstd txn + variants */
    assert_true(json_array_size(records) > 40);
    int seen[5] = {0};
    size_t i;
    json_t *vec;
    json_array_foreach(vecs, i, vec)
    {
        check_vector(dir, vec, records, 0, json_array_size(records));
        assert_int_equal(json_integer_value(json_object_get(vec, "record_count")),
                         json_array_size(records));
        seen[json_integer_value(json_object_get(vec, "codec"))]++;
    }
    for (int c = 0; c < 5; c++)
        assert_true(seen[c] > 0); /* every codec was exercised */
    json_decref(root);
}

/* Vectors whose files each hold a slice [first, first + count) of the
 * records sent: batches.json's records, or those listed in "indices". */
static void check_sliced_vectors(const char *name, int min_codecs)
{
    char dir[4096];
    vectors_dir(dir, sizeof(dir));
    json_t *root = load_json(dir, "batches.json");
    json_t *doc = load_json(dir, name);
    json_t *all = json_object_get(root, "records");
    json_t *indices = json_object_get(doc, "indices");
    json_t *records = all;
    if (indices) {
        records = json_array();
        size_t k;
        json_t *ix;
        json_array_foreach(indices, k, ix)
        {
            json_t *r = json_array_get(all, (size_t)json_integer_value(ix));
            assert_non_null(r);
            json_array_append(records, r);
        }
    }
    json_t *vecs = json_object_get(doc, "vectors");
    assert_true(json_array_size(vecs) >= 2);
    int seen[5] = {0}, kinds = 0;
    size_t i;
    json_t *vec;
    json_array_foreach(vecs, i, vec)
    {
        size_t first = (size_t)json_integer_value(json_object_get(vec, "first"));
        size_t count = (size_t)json_integer_value(json_object_get(vec, "count"));
        assert_true(count > 0 && first + count <= json_array_size(records));
        check_vector(dir, vec, records, first, count);
        kinds += !seen[json_integer_value(json_object_get(vec, "codec"))]++;
    }
    assert_true(kinds >= min_codecs);
    if (indices)
        json_decref(records);
    json_decref(doc);
    json_decref(root);
}

/* librdkafka: raw snappy, lz4 frames, zstd without a content size, an
 * idempotent producer; every codec. */
static void test_librdkafka_vectors(void **st)
{
    (void)st;
    check_sliced_vectors("rdkafka.json", 5);
}

/* kafkajs: uncompressed and gzip (its built-in codecs). */
static void test_kafkajs_vectors(void **st)
{
    (void)st;
    check_sliced_vectors("kafkajs.json", 2);
}

/* ---- builder round trips ----------------------------------------------------- */

static void build_sample(cn_buf *out, enum lg_compression comp, int n, size_t big)
{
    lg_batch_builder *b;
    assert_int_equal(lg_batch_builder_new(&b, comp), 0);
    unsigned char *bigv = calloc(1, big ? big : 1);
    for (size_t i = 0; i < big; i++)
        bigv[i] = (unsigned char)("cairn"[i % 5]);
    for (int i = 0; i < n; i++) {
        char k[32], v[64];
        int kl = snprintf(k, sizeof(k), "p-%d", i);
        int vl = snprintf(v, sizeof(v), "ping %d from the hall of bones", i);
        lg_header hs[3] = {{(const unsigned char *)"content-type", 12,
                            (const unsigned char *)"application/cloudevents+protobuf", 32},
                           {(const unsigned char *)"nil", 3, NULL, 0},
                           {(const unsigned char *)"", 0, (const unsigned char *)"", 0}};
        const void *key = i % 5 == 1 ? NULL : k;
        const void *val = i % 7 == 2 ? NULL : v;
        size_t vlen = (size_t)vl;
        if (big && i == n / 2) {
            val = bigv;
            vlen = big;
        }
        assert_int_equal(lg_batch_builder_add(b, 1764320000000LL + (i % 3 ? i : -i), key,
                                              (size_t)kl, val, vlen, hs, (size_t)(i % 4)),
                         0);
    }
    assert_int_equal(lg_batch_builder_finish(b, out), 0);
    lg_batch_builder_free(b);
    free(bigv);
}

static void test_builder_roundtrip_all_codecs(void **st)
{
    (void)st;
    for (int comp = LG_COMP_NONE; comp <= LG_COMP_ZSTD; comp++) {
        cn_buf b = CN_BUF_INIT;
        build_sample(&b, (enum lg_compression)comp, 300, 200000);
        lg_batch_hdr h;
        assert_int_equal(lg_batch_validate(b.data, b.len, &h), 0);
        assert_int_equal(h.attributes & LG_ATTR_COMPRESSION_MASK, comp);
        if (comp != LG_COMP_NONE)
            assert_true(b.len < 200000 / 4); /* it really is compressed */
        lg_batch_iter *it;
        assert_int_equal(lg_batch_iter_open(&it, b.data, b.len, 4 * MiB), 0);
        for (int i = 0; i < 300; i++) {
            lg_record r;
            assert_int_equal(lg_batch_iter_next(it, &r), 0);
            assert_int_equal(r.offset, i);
            assert_true(r.timestamp == 1764320000000LL + (i % 3 ? i : -i));
            char k[32], v[64];
            int kl = snprintf(k, sizeof(k), "p-%d", i);
            int vl = snprintf(v, sizeof(v), "ping %d from the hall of bones", i);
            if (i % 5 == 1) {
                assert_null(r.key);
            } else {
                assert_int_equal(r.key_len, kl);
                assert_memory_equal(r.key, k, (size_t)kl);
            }
            if (i == 150) {
                assert_int_equal(r.value_len, 200000);
                assert_int_equal(r.value[199999], "cairn"[199999 % 5]);
            } else if (i % 7 == 2) {
                assert_null(r.value);
            } else {
                assert_int_equal(r.value_len, vl);
                assert_memory_equal(r.value, v, (size_t)vl);
            }
            assert_int_equal(r.header_count, (size_t)(i % 4));
            for (size_t j = 0; j < r.header_count; j++) {
                lg_header hd;
                assert_int_equal(lg_record_header(&r, j, &hd), 0);
                if (j == 0)
                    assert_memory_equal(hd.key, "content-type", 12);
                if (j == 1)
                    assert_null(hd.value);
                if (j == 2) {
                    assert_int_equal(hd.key_len, 0);
                    assert_non_null(hd.value);
                    assert_int_equal(hd.value_len, 0);
                }
            }
        }
        lg_record r;
        assert_int_equal(lg_batch_iter_next(it, &r), CN_DONE);
        lg_batch_iter_close(it);
        cn_buf_free(&b);
    }
}

static void test_empty_batches(void **st)
{
    (void)st;
    for (int comp = LG_COMP_NONE; comp <= LG_COMP_ZSTD; comp++) {
        cn_buf b = CN_BUF_INIT;
        build_sample(&b, (enum lg_compression)comp, 0, 0);
        assert_int_equal(lg_batch_validate(b.data, b.len, NULL), 0);
        int n;
        assert_int_equal(drain(&b, 1024, &n), CN_DONE);
        assert_int_equal(n, 0);
        cn_buf_free(&b);
    }
}

static void test_log_append_time(void **st)
{
    (void)st;
    cn_buf b = CN_BUF_INIT;
    build_sample(&b, LG_COMP_NONE, 10, 0);
    /* As a broker with message.timestamp.type=LogAppendTime rewrites it. */
    cn_wr_be16(b.data + 21, (uint16_t)(cn_rd_be16(b.data + 21) | LG_ATTR_TIMESTAMP_LOG_APPEND));
    cn_wr_be64(b.data + 35, 1800000000000ULL);
    cn_wr_be32(b.data + 17, cn_crc32c(0, b.data + 21, b.len - 21));
    assert_int_equal(lg_batch_validate(b.data, b.len, NULL), 0);
    lg_batch_iter *it;
    assert_int_equal(lg_batch_iter_open(&it, b.data, b.len, 0), 0);
    lg_record r;
    int n = 0;
    while (lg_batch_iter_next(it, &r) == 0) {
        assert_true(r.timestamp == 1800000000000LL);
        n++;
    }
    assert_int_equal(n, 10);
    lg_batch_iter_close(it);
    cn_buf_free(&b);
}

/* A transaction marker as a broker writes it: a control batch whose one
 * record has key (version 0, type 1 = COMMIT) and value (version 0,
 * coordinator epoch 5).  The iterator hands it out like any record; the
 * batch attributes tell the caller what it is. */
static void test_control_batch(void **st)
{
    (void)st;
    rw recs = {.n = 0}, body = {.n = 0};
    body.b[body.n++] = 0;
    rw_var(&body, 0);
    rw_var(&body, 0);
    rw_var(&body, 4);
    rw_raw(&body, "\0\0\0\1", 4);
    rw_var(&body, 6);
    rw_raw(&body, "\0\0\0\0\0\5", 6);
    rw_var(&body, 0);
    rw_record(&recs, &body);
    cn_buf b = CN_BUF_INIT;
    wrap_batch(&b, LG_COMP_NONE, recs.b, recs.n, 1, 0, LG_ATTR_CONTROL | LG_ATTR_TRANSACTIONAL);
    lg_batch_hdr h;
    assert_int_equal(lg_batch_validate(b.data, b.len, &h), 0);
    assert_true(h.attributes & LG_ATTR_CONTROL);
    lg_batch_iter *it;
    assert_int_equal(lg_batch_iter_open(&it, b.data, b.len, 0), 0);
    lg_record r;
    assert_int_equal(lg_batch_iter_next(it, &r), 0);
    assert_int_equal(r.offset, 1000);
    assert_int_equal(r.key_len, 4);
    assert_int_equal(cn_rd_be16(r.key + 2), 1);
    assert_int_equal(r.value_len, 6);
    assert_int_equal(cn_rd_be32(r.value + 2), 5);
    assert_int_equal(lg_batch_iter_next(it, &r), CN_DONE);
    lg_batch_iter_close(it);
    cn_buf_free(&b);
}

/* ---- hostile records --------------------------------------------------------- */

/* One malformed record after a good one, in every codec. */
static void expect_bad_second(const rw *second_record, int32_t count, int32_t last_delta)
{
    rw recs = {.n = 0}, body;
    rw_good_body(&body, 0);
    rw_record(&recs, &body);
    rw_raw(&recs, second_record->b, second_record->n);
    for (int comp = LG_COMP_NONE; comp <= LG_COMP_ZSTD; comp++) {
        cn_buf b = CN_BUF_INIT;
        wrap_batch(&b, comp, recs.b, recs.n, count, last_delta, 0);
        if (comp == LG_COMP_NONE && (size_t)count * 7 > recs.n)
            continue; /* lg_batch_validate already refuses this one */
        assert_int_equal(lg_batch_validate(b.data, b.len, NULL), 0);
        int n;
        assert_int_equal(drain(&b, MiB, &n), LG_EBADBATCH);
        assert_int_equal(n, 1);
        cn_buf_free(&b);
    }
}

static void test_hostile_lengths(void **st)
{
    (void)st;
    rw rec, body;

    /* record length past the end of the batch */
    rw_good_body(&body, 1);
    rec.n = 0;
    rw_var(&rec, (int64_t)body.n + 1);
    rw_raw(&rec, body.b, body.n);
    expect_bad_second(&rec, 2, 1);

    /* negative and zero record lengths */
    rec.n = 0;
    rw_var(&rec, -5);
    rw_raw(&rec, body.b, body.n);
    expect_bad_second(&rec, 2, 1);
    rec.n = 0;
    rw_var(&rec, 0);
    rw_raw(&rec, body.b, body.n);
    expect_bad_second(&rec, 2, 1);

    /* key length beyond the record (but inside the batch), -2, INT32_MAX */
    int64_t bad_lens[] = {100, -2, INT32_MAX, INT32_MIN};
    for (size_t i = 0; i < sizeof(bad_lens) / sizeof(bad_lens[0]); i++) {
        for (int field = 0; field < 2; field++) { /* key, value */
            body.n = 0;
            body.b[body.n++] = 0;
            rw_var(&body, 0);
            rw_var(&body, 1);
            if (field == 1)
                rw_var(&body, -1); /* null key */
            rw_var(&body, bad_lens[i]);
            rw_raw(&body, "xxxxxxxxxxxxxxxx", 16);
            rw_var(&body, 0);
            rec.n = 0;
            rw_record(&rec, &body);
            rw_raw(&rec, "padding padding padding padding padding padding padding", 50);
            expect_bad_second(&rec, 2, 1);
        }
    }
}

static void test_hostile_headers(void **st)
{
    (void)st;
    rw rec, body;
    /* header counts: huge, negative, one more than present */
    int64_t counts[] = {INT32_MAX, 1000000, -1, 2};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        body.n = 0;
        body.b[body.n++] = 0;
        rw_var(&body, 0);
        rw_var(&body, 1);
        rw_var(&body, -1);
        rw_var(&body, -1);
        rw_var(&body, counts[i]);
        rw_var(&body, 1);
        rw_raw(&body, "k", 1);
        rw_var(&body, 1);
        rw_raw(&body, "v", 1);
        rec.n = 0;
        rw_record(&rec, &body);
        expect_bad_second(&rec, 2, 1);
    }
    /* a null header key; a header value past the record's end */
    for (int variant = 0; variant < 2; variant++) {
        body.n = 0;
        body.b[body.n++] = 0;
        rw_var(&body, 0);
        rw_var(&body, 1);
        rw_var(&body, -1);
        rw_var(&body, -1);
        rw_var(&body, 1);
        if (variant == 0) {
            rw_var(&body, -1);
            rw_var(&body, 1);
            rw_raw(&body, "v", 1);
        } else {
            rw_var(&body, 1);
            rw_raw(&body, "k", 1);
            rw_var(&body, 40);
            rw_raw(&body, "v", 1);
        }
        rec.n = 0;
        rw_record(&rec, &body);
        rw_raw(&rec, "padding padding padding padding padding padding", 40);
        expect_bad_second(&rec, 2, 1);
    }
}

static void test_hostile_structure(void **st)
{
    (void)st;
    rw rec, body;
    /* the record has bytes left over after its headers */
    rw_good_body(&body, 1);
    body.b[body.n++] = 'X';
    rec.n = 0;
    rw_record(&rec, &body);
    expect_bad_second(&rec, 2, 1);

    /* over-long varints: 6-byte 32-bit offset delta, 11-byte length */
    body.n = 0;
    body.b[body.n++] = 0;
    rw_var(&body, 0);
    rw_raw(&body, "\x82\x80\x80\x80\x80\x00", 6);
    rw_var(&body, -1);
    rw_var(&body, -1);
    rw_var(&body, 0);
    rec.n = 0;
    rw_record(&rec, &body);
    expect_bad_second(&rec, 2, 1);
    rec.n = 0;
    rw_raw(&rec, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
    expect_bad_second(&rec, 2, 1);

    /* offset deltas: repeated, going backwards, beyond lastOffsetDelta */
    int64_t deltas[] = {0, -1, 2};
    for (size_t i = 0; i < 3; i++) {
        rw_good_body(&body, deltas[i]);
        rec.n = 0;
        rw_record(&rec, &body);
        expect_bad_second(&rec, 2, 1);
    }
    /* a gap below lastOffsetDelta is fine (compacted batches have them) */
    rw recs = {.n = 0};
    rw_good_body(&body, 0);
    rw_record(&recs, &body);
    rw_good_body(&body, 5);
    rw_record(&recs, &body);
    cn_buf b = CN_BUF_INIT;
    wrap_batch(&b, LG_COMP_NONE, recs.b, recs.n, 2, 5, 0);
    lg_batch_iter *it;
    lg_record r;
    assert_int_equal(lg_batch_iter_open(&it, b.data, b.len, 0), 0);
    assert_int_equal(lg_batch_iter_next(it, &r), 0);
    assert_int_equal(r.offset, 1000);
    assert_true(r.timestamp == 5007);
    assert_int_equal(lg_batch_iter_next(it, &r), 0);
    assert_int_equal(r.offset, 1005);
    assert_int_equal(lg_batch_iter_next(it, &r), CN_DONE);
    lg_batch_iter_close(it);

    /* record count larger than the records present, and smaller */
    for (int comp = LG_COMP_NONE; comp <= LG_COMP_ZSTD; comp++) {
        int n;
        wrap_batch(&b, comp, recs.b, recs.n, 3, 5, 0);
        assert_int_equal(lg_batch_validate(b.data, b.len, NULL), 0);
        assert_int_equal(drain(&b, MiB, &n), LG_EBADBATCH);
        assert_int_equal(n, 2);
        wrap_batch(&b, comp, recs.b, recs.n, 1, 5, 0);
        assert_int_equal(drain(&b, MiB, &n), LG_EBADBATCH);
        assert_int_equal(n, 1);
    }
    cn_buf_free(&b);
}

/* Cut the records section at every byte, re-CRC, and iterate: never a
 * crash, never a clean end with fewer records than the count. */
static void test_truncated_records(void **st)
{
    (void)st;
    rw recs = {.n = 0}, body;
    for (int i = 0; i < 3; i++) {
        rw_good_body(&body, i);
        rw_record(&recs, &body);
    }
    for (int comp = LG_COMP_NONE; comp <= LG_COMP_ZSTD; comp++) {
        for (size_t cut = 0; cut < recs.n; cut++) {
            cn_buf b = CN_BUF_INIT;
            wrap_batch(&b, comp, recs.b, cut, 3, 2, 0);
            int n;
            int rc = drain(&b, MiB, &n);
            assert_int_equal(rc, LG_EBADBATCH);
            assert_true(n < 3);
            cn_buf_free(&b);
        }
    }
}

/* Flip each byte of the records section (re-CRC'd): the decoder may accept
 * or refuse, but must stay inside the bytes (ASan checks) and terminate. */
static void test_mutated_records(void **st)
{
    (void)st;
    rw recs = {.n = 0}, body;
    for (int i = 0; i < 3; i++) {
        rw_good_body(&body, i);
        rw_record(&recs, &body);
    }
    for (size_t i = 0; i < recs.n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            rw m = recs;
            m.b[i] ^= (unsigned char)(1u << bit);
            cn_buf b = CN_BUF_INIT;
            wrap_batch(&b, LG_COMP_NONE, m.b, m.n, 3, 2, 0);
            int n;
            int rc = drain(&b, MiB, &n);
            assert_true(rc == CN_DONE || rc == LG_EBADBATCH);
            assert_true(n <= 3);
            cn_buf_free(&b);
        }
    }
}

static void test_bad_batches(void **st)
{
    (void)st;
    cn_buf b = CN_BUF_INIT;
    build_sample(&b, LG_COMP_NONE, 3, 0);
    lg_batch_iter *it = (lg_batch_iter *)&b; /* must be overwritten with NULL */
    assert_int_equal(lg_batch_iter_open(&it, b.data, 60, 0), LG_EBADBATCH);
    assert_null(it);
    assert_int_equal(lg_batch_iter_open(&it, b.data, b.len - 1, 0), LG_EBADBATCH);
    b.data[16] = 1; /* (lg_batch_validate says LG_EMAGIC; open keeps to its contract) */
    assert_int_equal(lg_batch_iter_open(&it, b.data, b.len, 0), LG_EBADBATCH);
    b.data[16] = 2;
    cn_wr_be16(b.data + 21, 6); /* undefined codec */
    assert_int_equal(lg_batch_iter_open(&it, b.data, b.len, 0), LG_EBADBATCH);

    /* compressed flag over garbage: the payload fails to decompress */
    const unsigned char junk[] = "this is not a compressed stream at all, honestly";
    for (int comp = LG_COMP_GZIP; comp <= LG_COMP_ZSTD; comp++) {
        wrap_batch(&b, LG_COMP_NONE, junk, sizeof(junk), 1, 0, (int16_t)comp);
        assert_int_equal(lg_batch_validate(b.data, b.len, NULL), 0);
        assert_int_equal(lg_batch_iter_open(&it, b.data, b.len, MiB), LG_ECOMPRESS);
        assert_null(it);
    }
    lg_batch_iter_close(NULL);
    cn_buf_free(&b);
}

/* 64 MiB of one repeated byte as a single record value: each codec shrinks
 * it to a few KiB; under a 1 MiB cap opening fails without ever holding
 * more than the cap. */
static void test_decompression_bomb(void **st)
{
    (void)st;
    size_t big = 64 * MiB;
    unsigned char *zeros = calloc(1, big);
    assert_non_null(zeros);
    for (int comp = LG_COMP_GZIP; comp <= LG_COMP_ZSTD; comp++) {
        lg_batch_builder *bb;
        assert_int_equal(lg_batch_builder_new(&bb, (enum lg_compression)comp), 0);
        assert_int_equal(lg_batch_builder_add(bb, 1, "k", 1, zeros, big, NULL, 0), 0);
        cn_buf b = CN_BUF_INIT;
        assert_int_equal(lg_batch_builder_finish(bb, &b), 0);
        lg_batch_builder_free(bb);
        assert_true(b.len < 4 * MiB);
        lg_batch_iter *it;
        assert_int_equal(lg_batch_iter_open(&it, b.data, b.len, MiB), LG_ECOMPRESS);
        assert_null(it);
        /* the same batch with room for it opens and yields the value */
        assert_int_equal(lg_batch_iter_open(&it, b.data, b.len, big + 64), 0);
        lg_record r;
        assert_int_equal(lg_batch_iter_next(it, &r), 0);
        assert_int_equal(r.value_len, big);
        assert_int_equal(r.value[big - 1], 0);
        lg_batch_iter_close(it);
        cn_buf_free(&b);
    }
    free(zeros);
}

static void test_oom(void **st)
{
    (void)st;
    for (int comp = LG_COMP_NONE; comp <= LG_COMP_ZSTD; comp++) {
        cn_buf b = CN_BUF_INIT;
        build_sample(&b, (enum lg_compression)comp, 50, 70000);
        int ok = 0;
        for (long n = 1; n < 200 && !ok; n++) {
            cn_test_alloc_fail_at(n, 1);
            lg_batch_iter *it;
            int rc = lg_batch_iter_open(&it, b.data, b.len, MiB);
            int count = 0;
            if (!rc) {
                lg_record r;
                while ((rc = lg_batch_iter_next(it, &r)) == 0)
                    count++;
                assert_int_equal(rc, CN_DONE);
                assert_int_equal(count, 50);
                lg_batch_iter_close(it);
                ok = 1;
            } else {
                assert_int_equal(rc, CN_ENOMEM);
                assert_null(it);
            }
            long live = cn_test_alloc_live();
            cn_test_alloc_reset();
            assert_int_equal(live, 0);
        }
        assert_true(ok);
        cn_buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kafka_python_vectors),
        cmocka_unit_test(test_librdkafka_vectors),
        cmocka_unit_test(test_kafkajs_vectors),
        cmocka_unit_test(test_builder_roundtrip_all_codecs),
        cmocka_unit_test(test_empty_batches),
        cmocka_unit_test(test_log_append_time),
        cmocka_unit_test(test_control_batch),
        cmocka_unit_test(test_hostile_lengths),
        cmocka_unit_test(test_hostile_headers),
        cmocka_unit_test(test_hostile_structure),
        cmocka_unit_test(test_truncated_records),
        cmocka_unit_test(test_mutated_records),
        cmocka_unit_test(test_bad_batches),
        cmocka_unit_test(test_decompression_bomb),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
