/* SPDX-License-Identifier: MIT */
/*
 * test_lg_batch_interop.c — our RecordBatch builder's output for other
 * readers.  Two modes:
 *   test_lg_batch_interop            (ctest) writes the batches to a scratch
 *                                    dir and reads every file back with our
 *                                    own iterator against the manifest;
 *   test_lg_batch_interop --write DIR  writes DIR/<codec>.bin, one batch per
 *                                    codec, and DIR/manifest.json listing
 *                                    every record (bytes as hex, null as
 *                                    null).  tests/integration/
 *                                    batch/kafka_python_decode.py runs this and
 *                                    decodes each file with kafka-python's
 *                                    DefaultRecordBatch.
 * The records cover null and empty keys, values and header values, binary
 * bytes, negative timestamp deltas and a 100 KiB value spanning several
 * codec blocks; one batch carries idempotent-producer fields.
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

#include "cn_err.h"
#include "cn_testutil.h"
#include "lg_batch.h"

#define NREC 60
#define BIG 100000

static const char *codec_name[] = {"none", "gzip", "snappy", "lz4", "zstd"};

/* Record i's fields (deterministic); bytes live in the caller's scratch. */
typedef struct rec {
    int64_t ts;
    const unsigned char *key, *val;
    size_t klen, vlen;
    lg_header hs[3];
    size_t nh;
} rec;

static void make_rec(int i, rec *r, char *kbuf, char *vbuf, const unsigned char *big)
{
    r->ts = 1764320000000LL + (i % 4 == 3 ? -i * 100 : i * 7);
    int kl = snprintf(kbuf, 32, "player-%03d", i);
    int vl = snprintf(vbuf, 96, "{\"id\":\"c-%d\",\"beacon\":\"b-%02d\",\"rssi\":-%d}", i, i % 40,
                      40 + i % 50);
    r->key = (const unsigned char *)kbuf;
    r->klen = (size_t)kl;
    r->val = (const unsigned char *)vbuf;
    r->vlen = (size_t)vl;
    if (i % 9 == 4)
        r->key = NULL, r->klen = 0;
    if (i % 11 == 5)
        r->val = NULL, r->vlen = 0;
    if (i == 7)
        r->klen = 0, r->vlen = 0; /* empty, not null */
    if (i == 13) {
        r->val = (const unsigned char *)"\xff\x00\xfe\x80 binary \x01";
        r->vlen = 13;
    }
    if (i == NREC / 2) {
        r->val = big;
        r->vlen = BIG;
    }
    lg_header ct = {(const unsigned char *)"content-type", 12,
                    (const unsigned char *)"application/cloudevents+protobuf", 32};
    lg_header nul = {(const unsigned char *)"trace", 5, NULL, 0};
    lg_header bin = {(const unsigned char *)"bin", 3, (const unsigned char *)"\x00\x01\xff", 3};
    r->hs[0] = ct;
    r->hs[1] = nul;
    r->hs[2] = bin;
    r->nh = (size_t)(i % 4);
    if (r->nh > 3)
        r->nh = 3;
}

static json_t *hexj(const unsigned char *p, size_t n)
{
    if (!p)
        return json_null();
    char *h = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        sprintf(h + 2 * i, "%02x", p[i]);
    h[2 * n] = 0;
    json_t *s = json_string(h);
    free(h);
    return s;
}

static unsigned char *big_value(void)
{
    unsigned char *b = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        b[i] = (unsigned char)("hall of bones, beacon b-01; "[i % 28] ^ (i / 4096));
    return b;
}

/* Build one batch per codec into dir and describe them in manifest.json. */
static int write_all(const char *dir)
{
    unsigned char *big = big_value();
    json_t *files = json_array();
    for (int comp = LG_COMP_NONE; comp <= LG_COMP_ZSTD; comp++) {
        lg_batch_builder *b;
        if (lg_batch_builder_new(&b, (enum lg_compression)comp))
            return -1;
        int idem = comp == LG_COMP_ZSTD;
        if (idem)
            lg_batch_builder_producer(b, 77, 2, 10);
        json_t *recs = json_array();
        for (int i = 0; i < NREC; i++) {
            char kb[32], vb[96];
            rec r;
            make_rec(i, &r, kb, vb, big);
            if (lg_batch_builder_add(b, r.ts, r.key, r.klen, r.val, r.vlen, r.hs, r.nh))
                return -1;
            json_t *hs = json_array();
            for (size_t j = 0; j < r.nh; j++)
                json_array_append_new(hs, json_pack("[o,o]", hexj(r.hs[j].key, r.hs[j].key_len),
                                                    hexj(r.hs[j].value, r.hs[j].value_len)));
            json_array_append_new(recs, json_pack("{s:i,s:I,s:o,s:o,s:o}", "offset", i, "timestamp",
                                                  (json_int_t)r.ts, "key", hexj(r.key, r.klen),
                                                  "value", hexj(r.val, r.vlen), "headers", hs));
        }
        cn_buf out = CN_BUF_INIT;
        if (lg_batch_builder_finish(b, &out))
            return -1;
        lg_batch_builder_free(b);
        char path[4200];
        snprintf(path, sizeof(path), "%.4000s/%s.bin", dir, codec_name[comp]);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(out.data, 1, out.len, f) != out.len || fclose(f))
            return -1;
        cn_buf_free(&out);
        json_array_append_new(files, json_pack("{s:s+,s:i,s:I,s:i,s:i,s:o}", "file",
                                               codec_name[comp], ".bin", "codec", comp,
                                               "producer_id", (json_int_t)(idem ? 77 : -1),
                                               "producer_epoch", idem ? 2 : -1, "base_sequence",
                                               idem ? 10 : -1, "records", recs));
    }
    char path[4200];
    snprintf(path, sizeof(path), "%.4000s/manifest.json", dir);
    int rc = json_dump_file(files, path, JSON_COMPACT);
    json_decref(files);
    free(big);
    return rc;
}

static void check_bytes(const unsigned char *p, size_t n, const unsigned char *want, size_t wn)
{
    if (!want) {
        assert_null(p);
        return;
    }
    assert_non_null(p);
    assert_int_equal(n, wn);
    if (n)
        assert_memory_equal(p, want, n);
}

/* Self-check: what --write produces reads back with our iterator. */
static void test_written_batches_read_back(void **st)
{
    (void)st;
    char *dir = cn_test_tmpdir("interop");
    assert_non_null(dir);
    assert_int_equal(write_all(dir), 0);
    unsigned char *big = big_value();
    for (int comp = LG_COMP_NONE; comp <= LG_COMP_ZSTD; comp++) {
        char path[4200];
        snprintf(path, sizeof(path), "%.4000s/%s.bin", dir, codec_name[comp]);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        static unsigned char data[1 << 20];
        size_t n = fread(data, 1, sizeof(data), f);
        fclose(f);
        lg_batch_hdr h;
        assert_int_equal(lg_batch_validate(data, n, &h), 0);
        assert_int_equal(h.attributes & LG_ATTR_COMPRESSION_MASK, comp);
        assert_int_equal(h.record_count, NREC);
        lg_batch_iter *it;
        assert_int_equal(lg_batch_iter_open(&it, data, n, 1 << 20), 0);
        for (int i = 0; i < NREC; i++) {
            char kb[32], vb[96];
            rec r;
            make_rec(i, &r, kb, vb, big);
            lg_record got;
            assert_int_equal(lg_batch_iter_next(it, &got), 0);
            assert_int_equal(got.offset, i);
            assert_true(got.timestamp == r.ts);
            check_bytes(got.key, got.key_len, r.key, r.klen);
            check_bytes(got.value, got.value_len, r.val, r.vlen);
            assert_int_equal(got.header_count, r.nh);
        }
        lg_record end;
        assert_int_equal(lg_batch_iter_next(it, &end), CN_DONE);
        lg_batch_iter_close(it);
    }
    free(big);
    cn_test_rmrf(dir);
    free(dir);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write") == 0) {
        if (write_all(argv[2])) {
            fprintf(stderr, "test_lg_batch_interop: cannot write batches to %s\n", argv[2]);
            return 1;
        }
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_written_batches_read_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
