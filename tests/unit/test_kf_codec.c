/* SPDX-License-Identifier: MIT */
/*
 * test_kf_codec.c — unit tests for the Kafka wire codec (log/kafka/):
 *  - byte-exact round trips against an independent implementation: 125
 *    vectors encoded by kafka-python 2.0.2 (kf_vectors.h, made by
 *    gen_kf_vectors.py) are decoded and re-encoded to the same bytes;
 *  - hand-built flexible-version vectors (compact strings, tagged fields,
 *    request header v2) checked byte by byte against the spec;
 *  - every truncation of every vector fails cleanly, and a trailing byte
 *    is refused;
 *  - hostile lengths (huge array counts, negative and over-long lengths,
 *    over-long varints, nulls where the spec forbids them) fail with
 *    KF_EFRAME without allocating beyond the arena cap;
 *  - framing limits and the request header, including unknown APIs and
 *    versions (KF_EVERSION with the header still readable);
 *  - allocation failure at every point (fail-at-N) returns CN_ENOMEM and
 *    leaks nothing.
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
#include "cn_err.h"
#include "cn_testutil.h"
#include "kf_errors.h"
#include "kf_frame.h"
#include "kf_msgs.h"
#include "kf_wire.h"

#include "kf_vectors.h"

#define NVEC (sizeof(kf_vectors) / sizeof(kf_vectors[0]))

/* Decode one body (request or response) and re-encode it into out. */
static int kf_t_roundtrip(const struct kf_vec *v, const unsigned char *p, size_t n, cn_buf *out)
{
    kf_arena *a = NULL;
    int rc = kf_arena_new(&a, kf_arena_cap_for(n));
    if (rc)
        return rc;
    void *msg = NULL;
    rc = v->response ? kf_decode_response(v->api_key, v->version, p, n, a, &msg)
                     : kf_decode_request(v->api_key, v->version, p, n, a, &msg);
    if (rc == 0) {
        kf_wr w;
        kf_wr_init(&w, out);
        rc = v->response ? kf_encode_response(&w, v->api_key, v->version, msg)
                         : kf_encode_request(&w, v->api_key, v->version, msg);
    }
    kf_arena_free(a);
    return rc;
}

static void test_vectors_roundtrip(void **st)
{
    (void)st;
    assert_true(NVEC >= 100);
    for (size_t i = 0; i < NVEC; i++) {
        const struct kf_vec *v = &kf_vectors[i];
        cn_buf out = CN_BUF_INIT;
        int rc = kf_t_roundtrip(v, v->bytes, v->len, &out);
        if (rc != 0 || out.len != v->len || (v->len && memcmp(out.data, v->bytes, v->len) != 0)) {
            fprintf(stderr, "vector %s: rc=%s len %zu vs %zu\n", v->name, cn_errname(rc), out.len,
                    v->len);
            fail();
        }
        cn_buf_free(&out);
    }
}

static void test_vectors_truncated_and_trailing(void **st)
{
    (void)st;
    for (size_t i = 0; i < NVEC; i++) {
        const struct kf_vec *v = &kf_vectors[i];
        /* Every strict prefix is malformed: each is a walk that runs off
         * the end somewhere, and must say so rather than read past it.
         * Copies go to exact-size heap blocks so ASan sees any overrun. */
        for (size_t k = 0; k < v->len; k++) {
            unsigned char *p = malloc(k ? k : 1);
            memcpy(p, v->bytes, k);
            cn_buf out = CN_BUF_INIT;
            int rc = kf_t_roundtrip(v, p, k, &out);
            if (rc != KF_EFRAME) {
                fprintf(stderr, "vector %s cut at %zu: %s\n", v->name, k, cn_errname(rc));
                fail();
            }
            cn_buf_free(&out);
            free(p);
        }
        unsigned char *p = malloc(v->len + 1);
        memcpy(p, v->bytes, v->len);
        p[v->len] = 0;
        cn_buf out = CN_BUF_INIT;
        assert_int_equal(kf_t_roundtrip(v, p, v->len + 1, &out), KF_ETRAILING);
        cn_buf_free(&out);
        free(p);
    }
}

static void test_vectors_oom(void **st)
{
    (void)st;
    /* A big nested vector: every allocation point fails once in turn. */
    const struct kf_vec *big = NULL;
    for (size_t i = 0; i < NVEC; i++)
        if (!big || kf_vectors[i].len > big->len)
            big = &kf_vectors[i];
    for (long n = 1;; n++) {
        cn_test_alloc_fail_at(n, 0);
        cn_buf out = CN_BUF_INIT;
        int rc = kf_t_roundtrip(big, big->bytes, big->len, &out);
        cn_buf_free(&out);
        long live = cn_test_alloc_live();
        cn_test_alloc_reset();
        assert_int_equal(live, 0);
        if (rc == 0)
            break;
        assert_int_equal(rc, CN_ENOMEM);
        assert_true(n < 10000);
    }
}

/* ---- hand-built flexible vectors -------------------------------------- */

static void test_apiversions_v3_request_exact(void **st)
{
    (void)st;
    /* What librdkafka 2.0.2 sends first: ApiVersions v3, header v2
     * (client id as classic string, then empty header tags), body with
     * compact strings ClientSoftwareName/Version and empty body tags. */
    static const unsigned char frame[] = {
        0x00, 0x00, 0x00, 0x24,                                        /* size 36 */
        0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x07,                /* key 18, v3, corr 7 */
        0x00, 0x07, 'r',  'd',  'k',  'a',  'f',  'k',  'a',           /* client id */
        0x00,                                                          /* header tags */
        0x0b, 'l',  'i',  'b',  'r',  'd',  'k',  'a',  'f', 'k', 'a', /* compact "librdkafka" */
        0x06, '2',  '.',  '0',  '.',  '2',                             /* compact "2.0.2" */
        0x00,                                                          /* body tags */
    };
    size_t total;
    assert_int_equal(kf_frame_size(frame, sizeof(frame), 1 << 20, &total), 0);
    assert_int_equal(total, sizeof(frame));
    kf_arena *a;
    assert_int_equal(kf_arena_new(&a, kf_arena_cap_for(total)), 0);
    kf_request req;
    assert_int_equal(kf_request_decode(frame + 4, total - 4, a, &req), 0);
    assert_int_equal(req.hdr.api_key, 18);
    assert_int_equal(req.hdr.api_version, 3);
    assert_int_equal(req.hdr.correlation_id, 7);
    assert_int_equal(req.hdr.hdr_version, 2);
    assert_true(kf_str_eq(&req.hdr.client_id, "rdkafka"));
    const kf_ApiVersionsRequest *b = req.body;
    assert_true(kf_str_eq(&b->ClientSoftwareName, "librdkafka"));
    assert_true(kf_str_eq(&b->ClientSoftwareVersion, "2.0.2"));
    /* Re-encoding the whole request gives the same bytes. */
    cn_buf out = CN_BUF_INIT;
    assert_int_equal(kf_request_encode(&out, 18, 3, 7, "rdkafka", b), 0);
    assert_int_equal(out.len, sizeof(frame));
    assert_memory_equal(out.data, frame, sizeof(frame));
    cn_buf_free(&out);
    kf_arena_free(a);
}

static void test_apiversions_v3_response_exact(void **st)
{
    (void)st;
    kf_ApiVersion keys[2] = {{18, 0, 3}, {3, 0, 9}};
    kf_ApiVersionsResponse r;
    memset(&r, 0, sizeof(r));
    r.ApiKeys.v = keys;
    r.ApiKeys.n = 2;
    r.ThrottleTimeMs = 0;
    r.FinalizedFeaturesEpoch = -1; /* the default: not sent as a tag */
    cn_buf out = CN_BUF_INIT;
    kf_wr w;
    kf_wr_init(&w, &out);
    size_t start = kf_resp_begin(&w, 18, 3, 0x01020304);
    assert_int_equal(kf_encode_ApiVersionsResponse(&w, 3, &r), 0);
    assert_int_equal(kf_resp_finish(&w, start, 0), 0);
    static const unsigned char want[] = {
        0x00, 0x00, 0x00, 0x1a,                   /* size 26 */
        0x01, 0x02, 0x03, 0x04,                   /* corr; header v0: no tags even for v3 */
        0x00, 0x00,                               /* ErrorCode */
        0x03,                                     /* compact array of 2 */
        0x00, 0x12, 0x00, 0x00, 0x00, 0x03, 0x00, /* key 18 0..3, element tags */
        0x00, 0x03, 0x00, 0x00, 0x00, 0x09, 0x00, /* key 3 0..9 */
        0x00, 0x00, 0x00, 0x00,                   /* ThrottleTimeMs */
        0x00,                                     /* no tagged fields */
    };
    assert_int_equal(out.len, sizeof(want));
    assert_memory_equal(out.data, want, sizeof(want));

    /* With a non-default tagged field it is sent as (tag 1, size 8, i64). */
    cn_buf_reset(&out);
    r.FinalizedFeaturesEpoch = 5;
    kf_wr_init(&w, &out);
    assert_int_equal(kf_encode_ApiVersionsResponse(&w, 3, &r), 0);
    static const unsigned char tail[] = {0x01, 0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 5};
    assert_true(out.len > sizeof(tail));
    assert_memory_equal(out.data + out.len - sizeof(tail), tail, sizeof(tail));
    /* ... and decodes back. */
    kf_arena *a;
    assert_int_equal(kf_arena_new(&a, 1 << 16), 0);
    kf_ApiVersionsResponse d;
    assert_int_equal(kf_decode_ApiVersionsResponse(out.data, out.len, 3, a, &d), 0);
    assert_int_equal(d.FinalizedFeaturesEpoch, 5);
    assert_int_equal(d.ApiKeys.n, 2);
    assert_int_equal(d.ApiKeys.v[1].MaxVersion, 9);
    /* An unknown tag (7) in front is skipped, as the spec requires. */
    cn_buf x = CN_BUF_INIT;
    cn_buf_append(&x, out.data, out.len - sizeof(tail));
    static const unsigned char tail2[] = {0x02, 0x01, 0x08, 0,    0,    0,    0,   0,
                                          0,    0,    6,    0x07, 0x02, 0xaa, 0xbb};
    cn_buf_append(&x, tail2, sizeof(tail2));
    assert_int_equal(kf_decode_ApiVersionsResponse(x.data, x.len, 3, a, &d), 0);
    assert_int_equal(d.FinalizedFeaturesEpoch, 6);
    /* A tag whose size runs past the end is malformed. */
    x.data[x.len - 3] = 0x09;
    assert_int_equal(kf_decode_ApiVersionsResponse(x.data, x.len, 3, a, &d), KF_EFRAME);
    cn_buf_free(&x);
    kf_arena_free(a);
    cn_buf_free(&out);
}

/* Flexible request versions real clients send: InitProducerId v2-4
 * (librdkafka idempotence), OffsetFetch v6-7, ListGroups v3-4. */
static void test_flexible_roundtrips(void **st)
{
    (void)st;
    kf_arena *a;
    assert_int_equal(kf_arena_new(&a, 1 << 20), 0);
    for (int16_t v = 0; v <= 4; v++) {
        kf_InitProducerIdRequest r;
        memset(&r, 0, sizeof(r));
        r.TransactionalId.len = -1;
        r.TransactionTimeoutMs = 60000;
        r.ProducerId = v >= 3 ? 12345 : -1;
        r.ProducerEpoch = v >= 3 ? 3 : -1;
        cn_buf out = CN_BUF_INIT;
        kf_wr w;
        kf_wr_init(&w, &out);
        assert_int_equal(kf_encode_InitProducerIdRequest(&w, v, &r), 0);
        /* v0/1: int16 -1 null + int32; v2: compact null (0) + int32 + tags;
         * v3+: adds int64 + int16. */
        size_t want = v < 2 ? 6 : v == 2 ? 6 : 16;
        assert_int_equal(out.len, want);
        if (v >= 2)
            assert_int_equal(out.data[0], 0x00);
        kf_InitProducerIdRequest d;
        assert_int_equal(kf_decode_InitProducerIdRequest(out.data, out.len, v, a, &d), 0);
        assert_true(d.TransactionalId.len == -1);
        assert_int_equal(d.TransactionTimeoutMs, 60000);
        assert_int_equal(d.ProducerId, v >= 3 ? 12345 : -1); /* default -1 when absent */
        cn_buf_free(&out);
    }
    for (int16_t v = 0; v <= 7; v++) {
        int32_t parts[3] = {0, 1, 7};
        kf_OffsetFetchRequestTopic t = {kf_str_c("ble-raw"), {parts, 3}};
        kf_OffsetFetchRequest r;
        memset(&r, 0, sizeof(r));
        r.GroupId = kf_str_c("g1");
        r.Topics.v = &t;
        r.Topics.n = 1;
        r.RequireStable = v >= 7;
        cn_buf out = CN_BUF_INIT, out2 = CN_BUF_INIT;
        kf_wr w;
        kf_wr_init(&w, &out);
        assert_int_equal(kf_encode_OffsetFetchRequest(&w, v, &r), 0);
        kf_OffsetFetchRequest d;
        assert_int_equal(kf_decode_OffsetFetchRequest(out.data, out.len, v, a, &d), 0);
        assert_true(kf_str_eq(&d.GroupId, "g1"));
        assert_int_equal(d.Topics.n, 1);
        assert_true(kf_str_eq(&d.Topics.v[0].Name, "ble-raw"));
        assert_int_equal(d.Topics.v[0].PartitionIndexes.n, 3);
        assert_int_equal(d.Topics.v[0].PartitionIndexes.v[2], 7);
        kf_wr_init(&w, &out2);
        assert_int_equal(kf_encode_OffsetFetchRequest(&w, v, &d), 0);
        assert_int_equal(out.len, out2.len);
        assert_memory_equal(out.data, out2.data, out.len);
        if (v >= 6) {
            /* compact: "g1" is 0x03 'g' '1' */
            assert_int_equal(out.data[0], 0x03);
        } else {
            assert_int_equal(cn_rd_be16(out.data), 2);
        }
        cn_buf_free(&out);
        cn_buf_free(&out2);
    }
    /* A null topic array means "all" from v2, is refused in v0/v1. */
    static const unsigned char nulltopics[] = {0x00, 0x01, 'g', 0xff, 0xff, 0xff, 0xff};
    kf_OffsetFetchRequest d;
    assert_int_equal(kf_decode_OffsetFetchRequest(nulltopics, sizeof(nulltopics), 2, a, &d), 0);
    assert_int_equal(d.Topics.n, -1);
    assert_int_equal(kf_decode_OffsetFetchRequest(nulltopics, sizeof(nulltopics), 1, a, &d),
                     KF_EFRAME);
    kf_arena_free(a);
}

/* ---- hostile input ---------------------------------------------------- */

static void test_hostile_lengths(void **st)
{
    (void)st;
    kf_arena *a;
    assert_int_equal(kf_arena_new(&a, kf_arena_cap_for(64)), 0);
    kf_MetadataRequest m;
    /* Metadata v1: topic count 0x7fffffff with 4 bytes behind it. */
    static const unsigned char huge[] = {0x7f, 0xff, 0xff, 0xff, 0, 1, 'x', 0};
    assert_int_equal(kf_decode_MetadataRequest(huge, sizeof(huge), 1, a, &m), KF_EFRAME);
    assert_true(kf_arena_used(a) < 1024);
    /* Negative count other than -1; -1 where not nullable (v0). */
    static const unsigned char neg[] = {0xff, 0xff, 0xff, 0xfe};
    assert_int_equal(kf_decode_MetadataRequest(neg, sizeof(neg), 1, a, &m), KF_EFRAME);
    static const unsigned char null[] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(kf_decode_MetadataRequest(null, sizeof(null), 0, a, &m), KF_EFRAME);
    assert_int_equal(kf_decode_MetadataRequest(null, sizeof(null), 1, a, &m), 0);
    assert_int_equal(m.Topics.n, -1);
    /* String length past the end; string length -2. */
    static const unsigned char longstr[] = {0, 0, 0, 1, 0x7f, 0xff, 'a', 'b'};
    assert_int_equal(kf_decode_MetadataRequest(longstr, sizeof(longstr), 1, a, &m), KF_EFRAME);
    static const unsigned char negstr[] = {0, 0, 0, 1, 0xff, 0xfe};
    assert_int_equal(kf_decode_MetadataRequest(negstr, sizeof(negstr), 1, a, &m), KF_EFRAME);
    /* Null topic name in v1 (not nullable). */
    static const unsigned char nullname[] = {0, 0, 0, 1, 0xff, 0xff};
    assert_int_equal(kf_decode_MetadataRequest(nullname, sizeof(nullname), 1, a, &m), KF_EFRAME);
    /* Flexible v9: over-long varint (6 bytes) and a compact count past the end. */
    static const unsigned char ovl[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0, 0, 0};
    assert_int_equal(kf_decode_MetadataRequest(ovl, sizeof(ovl), 9, a, &m), KF_EFRAME);
    static const unsigned char cbig[] = {0xff, 0xff, 0xff, 0xff, 0x07, 0, 0, 0, 0};
    assert_int_equal(kf_decode_MetadataRequest(cbig, sizeof(cbig), 9, a, &m), KF_EFRAME);
    /* A tagged-field count that lies. */
    static const unsigned char tags[] = {0x01, 1, 1, 1, 0x7f};
    assert_int_equal(kf_decode_MetadataRequest(tags, sizeof(tags), 9, a, &m), KF_EFRAME);
    /* Versions outside the advertised range. */
    assert_int_equal(kf_decode_MetadataRequest(null, sizeof(null), 10, a, &m), KF_EVERSION);
    assert_int_equal(kf_decode_MetadataRequest(null, sizeof(null), -1, a, &m), KF_EVERSION);
    kf_arena_free(a);

    /* Produce v3 with a records length pointing past the frame. */
    kf_arena_new(&a, kf_arena_cap_for(64));
    static const unsigned char prod[] = {0xff, 0xff, 0, 1, 0,    0, 0x75, 0x30, 0, 0,
                                         0,    1,    0, 1, 't',  0, 0,    0,    1, 0,
                                         0,    0,    0, 0, 0x10, 0, 0,    1,    2};
    kf_ProduceRequest pr;
    assert_int_equal(kf_decode_ProduceRequest(prod, sizeof(prod), 3, a, &pr), KF_EFRAME);
    kf_arena_free(a);
}

static void test_arena_cap(void **st)
{
    (void)st;
    /* The cap is enforced: an arena of 100 bytes refuses the 101st. */
    kf_arena *a;
    assert_int_equal(kf_arena_new(&a, 104), 0);
    assert_non_null(kf_arena_alloc(a, 100));
    assert_null(kf_arena_alloc(a, 8));
    assert_int_equal(kf_arena_error(a), KF_EFRAME);
    kf_arena_reset(a, 1 << 20);
    void *p = kf_arena_alloc(a, 100000); /* larger than a chunk */
    assert_non_null(p);
    memset(p, 1, 100000);
    assert_non_null(kf_arena_alloc(a, 10));
    kf_arena_free(a);
    kf_arena_free(NULL);
}

static void test_framing(void **st)
{
    (void)st;
    size_t total;
    static const unsigned char three[] = {0, 0, 0};
    assert_int_equal(kf_frame_size(three, 3, 100, &total), CN_WANT_MORE);
    static const unsigned char neg[] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(kf_frame_size(neg, 4, 100, &total), KF_EFRAME);
    static const unsigned char small[] = {0, 0, 0, 7};
    assert_int_equal(kf_frame_size(small, 4, 100, &total), KF_EFRAME);
    static const unsigned char big[] = {0, 0, 0, 101};
    assert_int_equal(kf_frame_size(big, 4, 100, &total), KF_EFRAME);
    static const unsigned char ok[] = {0, 0, 0, 100};
    assert_int_equal(kf_frame_size(ok, 4, 100, &total), 0);
    assert_int_equal(total, 104);

    kf_arena *a;
    kf_arena_new(&a, 1 << 16);
    kf_request req;
    /* Unknown API key 9999 / 0x270f: KF_EVERSION with the header read. */
    static const unsigned char unk[] = {0x27, 0x0f, 0, 0, 0, 0, 0, 42, 0, 1, 'c'};
    assert_int_equal(kf_request_decode(unk, sizeof(unk), a, &req), KF_EVERSION);
    assert_int_equal(req.hdr.correlation_id, 42);
    assert_true(kf_str_eq(&req.hdr.client_id, "c"));
    assert_null(req.api);
    /* Known API, version past the range (Produce v99). */
    static const unsigned char pv[] = {0, 0, 0, 99, 0, 0, 0, 43, 0xff, 0xff};
    assert_int_equal(kf_request_decode(pv, sizeof(pv), a, &req), KF_EVERSION);
    assert_non_null(req.api);
    assert_int_equal(req.hdr.api_version, 99);
    /* Produce v2 (below our minimum: message sets v0/v1). */
    static const unsigned char p2[] = {0, 0, 0, 2, 0, 0, 0, 44, 0xff, 0xff};
    assert_int_equal(kf_request_decode(p2, sizeof(p2), a, &req), KF_EVERSION);
    /* Header cut short; client id cut short. */
    assert_int_equal(kf_request_decode(unk, 5, a, &req), KF_EFRAME);
    static const unsigned char cut[] = {0, 18, 0, 0, 0, 0, 0, 1, 0, 5, 'a'};
    assert_int_equal(kf_request_decode(cut, sizeof(cut), a, &req), KF_EFRAME);
    /* ApiVersions v0 with a null client id and empty body. */
    static const unsigned char av0[] = {0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff};
    assert_int_equal(kf_request_decode(av0, sizeof(av0), a, &req), 0);
    assert_int_equal(req.hdr.client_id.len, -1);
    assert_int_equal(req.trailing, 0);
    /* librdkafka 2.0.2's ListConsumerGroups: ListGroups v4, header v2
     * (client id "rdkafka", no tags), body 01 00 (empty StatesFilter, no
     * tags) and one extra 00.  Kafka's broker answers it; so does cairn. */
    static const unsigned char lg4[] = {0,   16,  0,   4,   0,   0,   0, 7,    0,    7,   'r',
                                        'd', 'k', 'a', 'f', 'k', 'a', 0, 0x01, 0x00, 0x00};
    assert_int_equal(kf_request_decode(lg4, sizeof(lg4), a, &req), 0);
    assert_int_equal(req.trailing, 1);
    assert_int_equal(((kf_ListGroupsRequest *)req.body)->StatesFilter.n, 0);
    /* ...but a body cut short is still malformed. */
    assert_int_equal(kf_request_decode(lg4, sizeof(lg4) - 3, a, &req), KF_EFRAME);
    kf_arena_free(a);

    /* Header versions: ApiVersions responses always v0. */
    assert_int_equal(kf_resp_hdr_version(18, 3), 0);
    assert_int_equal(kf_req_hdr_version(18, 3), 2);
    assert_int_equal(kf_resp_hdr_version(9, 6), 1);
    assert_int_equal(kf_resp_hdr_version(9, 5), 0);
    assert_int_equal(kf_req_hdr_version(0, 7), 1);
}

static void test_api_table(void **st)
{
    (void)st;
    size_t n;
    const kf_api_info *t = kf_api_table(&n);
    assert_int_equal(n, 29);
    for (size_t i = 1; i < n; i++)
        assert_true(t[i - 1].api_key < t[i].api_key);
    /* librdkafka's high-level consumer needs v0 of the group APIs,
     * OffsetFetch >= 1, OffsetCommit overlapping 1-2; RecordBatch v2 needs
     * Produce >= 3 and Fetch >= 4 (librdkafka's rule, docs/kafka.md). */
    static const int16_t group_keys[] = {10, 11, 12, 13, 14};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(kf_api_find(group_keys[i])->min_version, 0);
    assert_true(kf_api_find(9)->max_version >= 1);
    assert_true(kf_api_find(8)->min_version <= 2 && kf_api_find(8)->max_version >= 1);
    assert_true(kf_api_find(0)->min_version == 3 && kf_api_find(0)->max_version >= 7);
    assert_true(kf_api_find(1)->min_version <= 4 && kf_api_find(1)->max_version >= 11);
    /* librdkafka validates positions with OffsetForLeaderEpoch v2 (KIP-320). */
    assert_true(kf_api_find(23)->min_version == 0 && kf_api_find(23)->max_version >= 2);
    /* SASL: kafka-python 2.0.2 sends SaslHandshake v0 and then raw tokens;
     * librdkafka uses v1 and SaslAuthenticate. */
    assert_true(kf_api_find(17)->min_version == 0 && kf_api_find(17)->max_version == 1);
    assert_true(kf_api_find(36)->min_version == 0 && kf_api_find(36)->max_version >= 1);
    /* kafka-python infers 2.3 from Fetch 11, not 2.4 from Produce 8. */
    assert_true(kf_api_find(0)->max_version < 8);
    assert_string_equal(kf_error_name(KF_ERR_UNSUPPORTED_VERSION), "UNSUPPORTED_VERSION");
    assert_int_equal(KF_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, 45);
    assert_null(kf_api_find(9999));
}

static void test_generated_up_to_date(void **st)
{
    (void)st;
    /* With Apache Kafka's message definitions at hand (CAIRN_KAFKA_SPEC: a
     * directory holding messages/<Name>.json and error-codes.tsv; they are
     * not part of this repository), re-run the generator: the committed
     * kf_msgs*, kf_errors.h must be exactly what it produces.  Without
     * them, check the committed files against the SHA-256 manifest the
     * generator wrote beside them (kf_msgs.sha256): a file edited by hand,
     * or a stray kf_msgs_*.c, fails either way. */
    const char *src = getenv("CAIRN_SRC");
    if (!src || !*src)
        fail_msg("CAIRN_SRC (the source tree; ctest sets it) is not set");
    const char *specdir = getenv("CAIRN_KAFKA_SPEC");
    char cmd[12288];
    if (specdir && *specdir) {
        char spec[4096];
        snprintf(spec, sizeof(spec), "%s/messages/ApiVersionsRequest.json", specdir);
        FILE *f = fopen(spec, "r");
        if (!f)
            fail_msg("CAIRN_KAFKA_SPEC=%s holds no messages/ApiVersionsRequest.json", specdir);
        fclose(f);
        snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/scripts/gen_kafka.py --check --spec '%s'",
                 src, specdir);
    } else {
        snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/scripts/gen_kafka.py --verify-manifest",
                 src);
    }
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_roundtrip),
        cmocka_unit_test(test_vectors_truncated_and_trailing),
        cmocka_unit_test(test_vectors_oom),
        cmocka_unit_test(test_apiversions_v3_request_exact),
        cmocka_unit_test(test_apiversions_v3_response_exact),
        cmocka_unit_test(test_flexible_roundtrips),
        cmocka_unit_test(test_hostile_lengths),
        cmocka_unit_test(test_arena_cap),
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_api_table),
        cmocka_unit_test(test_generated_up_to_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
