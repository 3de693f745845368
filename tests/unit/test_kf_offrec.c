/* SPDX-License-Identifier: MIT */
/*
 * test_kf_offrec.c — the records of replicated consumer-group offsets
 * (log/kafka/kf_offrec.c) and the log's side of applying them
 * (lg_group_offsets_apply): a record round-trips byte for byte; the
 * encoder refuses what the decoder would; the decoder refuses every
 * truncation, every extra byte, another version, oversized and zero
 * lengths, NUL in names, negative partitions and offsets below -1, and a
 * null key or value; a group always maps to the same partition in range;
 * the applier's LMDB write stores the offsets and its position in one
 * transaction, later entries winning, invalid entries skipped, and both
 * survive a reopen.
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
#include "kf_offrec.h"
#include "lg.h"

static kf_offrec sample(void)
{
    kf_offrec r = {"readers", 7, "ble-raw", 7, 3, 12345, "meta", 4};
    return r;
}

static void test_round_trip(void **st)
{
    (void)st;
    kf_offrec r = sample();
    unsigned char k[KF_OFFREC_KEY_MAX], v[KF_OFFREC_VALUE_MAX];
    size_t kl, vl;
    assert_int_equal(kf_offrec_encode(&r, k, &kl, v, &vl), 0);
    assert_int_equal(kl, 2 + 2 + 7 + 2 + 7 + 4);
    assert_int_equal(vl, 2 + 8 + 2 + 4);
    assert_int_equal(cn_rd_be16(k), KF_OFFREC_VERSION);
    kf_offrec d;
    assert_int_equal(kf_offrec_decode(k, kl, v, vl, &d), 0);
    assert_int_equal(d.group_len, 7);
    assert_memory_equal(d.group, "readers", 7);
    assert_memory_equal(d.topic, "ble-raw", 7);
    assert_int_equal(d.partition, 3);
    assert_int_equal(d.offset, 12345);
    assert_int_equal(d.metadata_len, 4);
    assert_memory_equal(d.metadata, "meta", 4);
    /* No metadata, offset -1 (Kafka's "no offset"), the largest names. */
    char g[KF_OFFREC_GROUP_MAX], t[KF_OFFREC_TOPIC_MAX];
    memset(g, 'g', sizeof(g));
    memset(t, 't', sizeof(t));
    kf_offrec big = {g, sizeof(g), t, sizeof(t), 0, -1, NULL, 0};
    assert_int_equal(kf_offrec_encode(&big, k, &kl, v, &vl), 0);
    assert_int_equal(kl, KF_OFFREC_KEY_MAX);
    assert_int_equal(kf_offrec_decode(k, kl, v, vl, &d), 0);
    assert_int_equal(d.offset, -1);
    assert_null(d.metadata);
}

static void test_encode_refuses(void **st)
{
    (void)st;
    unsigned char k[KF_OFFREC_KEY_MAX], v[KF_OFFREC_VALUE_MAX];
    size_t kl, vl;
    char big[KF_OFFREC_METADATA_MAX + 1];
    memset(big, 'm', sizeof(big));
    kf_offrec bad[8];
    for (int i = 0; i < 8; i++)
        bad[i] = sample();
    bad[0].group_len = 0;
    bad[1].group_len = KF_OFFREC_GROUP_MAX + 1;
    bad[2].topic_len = KF_OFFREC_TOPIC_MAX + 1;
    bad[3].partition = -1;
    bad[4].offset = -2;
    bad[5].metadata = big;
    bad[5].metadata_len = sizeof(big);
    bad[6].group = "a\0b";
    bad[6].group_len = 3;
    bad[7].topic = NULL;
    for (int i = 0; i < 8; i++)
        assert_int_equal(kf_offrec_encode(&bad[i], k, &kl, v, &vl), CN_EINVAL);
}

static void test_decode_refuses_truncation_and_extra(void **st)
{
    (void)st;
    kf_offrec r = sample(), d;
    unsigned char k[KF_OFFREC_KEY_MAX + 1], v[KF_OFFREC_VALUE_MAX + 1];
    size_t kl, vl;
    assert_int_equal(kf_offrec_encode(&r, k, &kl, v, &vl), 0);
    for (size_t n = 0; n < kl; n++)
        assert_int_equal(kf_offrec_decode(k, n, v, vl, &d), CN_EDECODE);
    for (size_t n = 0; n < vl; n++)
        assert_int_equal(kf_offrec_decode(k, kl, v, n, &d), CN_EDECODE);
    k[kl] = 0;
    v[vl] = 0;
    assert_int_equal(kf_offrec_decode(k, kl + 1, v, vl, &d), CN_EDECODE);
    assert_int_equal(kf_offrec_decode(k, kl, v, vl + 1, &d), CN_EDECODE);
    assert_int_equal(kf_offrec_decode(NULL, 0, v, vl, &d), CN_EDECODE); /* null key */
    assert_int_equal(kf_offrec_decode(k, kl, NULL, 0, &d), CN_EDECODE); /* tombstone */
}

/* Decode after one change to an encoded record; expects refusal. */
static void refuse_patched(size_t at_key, size_t at_val, const unsigned char *bytes, size_t n)
{
    kf_offrec r = sample(), d;
    unsigned char k[KF_OFFREC_KEY_MAX], v[KF_OFFREC_VALUE_MAX];
    size_t kl, vl;
    assert_int_equal(kf_offrec_encode(&r, k, &kl, v, &vl), 0);
    if (at_key != (size_t)-1)
        memcpy(k + at_key, bytes, n);
    else
        memcpy(v + at_val, bytes, n);
    assert_int_equal(kf_offrec_decode(k, kl, v, vl, &d), CN_EDECODE);
}

static void test_decode_refuses_hostile_fields(void **st)
{
    (void)st;
    const size_t none = (size_t)-1;
    refuse_patched(0, none, (const unsigned char *)"\0\2", 2);     /* key version 2 */
    refuse_patched(none, 0, (const unsigned char *)"\0\0", 2);     /* value version 0 */
    refuse_patched(2, none, (const unsigned char *)"\0\0", 2);     /* empty group */
    refuse_patched(2, none, (const unsigned char *)"\xff\xff", 2); /* group longer than key */
    refuse_patched(2, none, (const unsigned char *)"\1\0", 2);     /* group 256 bytes */
    refuse_patched(4, none, (const unsigned char *)"\0", 1);       /* NUL in group */
    refuse_patched(11, none, (const unsigned char *)"\0\0", 2);    /* empty topic */
    refuse_patched(20, none, (const unsigned char *)"\x80", 1);    /* partition < 0 */
    refuse_patched(none, 2, (const unsigned char *)"\xff\xff\xff\xff\xff\xff\xff\xfe", 8);
    refuse_patched(none, 10, (const unsigned char *)"\x10\x01", 2); /* metadata 4097 */
    refuse_patched(none, 10, (const unsigned char *)"\0\5", 2);     /* longer than value */
    refuse_patched(none, 10, (const unsigned char *)"\0\3", 2);     /* shorter than value */
}

static void test_partition_is_stable_and_in_range(void **st)
{
    (void)st;
    int seen[KF_OFFSETS_PARTITIONS] = {0};
    char g[32];
    for (int i = 0; i < 300; i++) {
        int n = snprintf(g, sizeof(g), "group-%d", i);
        int32_t p = kf_offrec_partition(g, (size_t)n);
        assert_true(p >= 0 && p < KF_OFFSETS_PARTITIONS);
        assert_int_equal(p, kf_offrec_partition(g, (size_t)n));
        seen[p]++;
    }
    for (int p = 0; p < KF_OFFSETS_PARTITIONS; p++)
        assert_true(seen[p] > 0); /* groups spread over every partition */
}

static void test_apply_stores_offsets_and_position_together(void **st)
{
    (void)st;
    char *dir = cn_test_tmpdir("kfoffrec");
    lg_opts o;
    lg_opts_init(&o);
    o.dir = dir;
    lg_log *log;
    assert_int_equal(lg_open(&log, &o), 0);
    int64_t at = -1;
    assert_int_equal(lg_group_offsets_applied(log, 1, &at), 0);
    assert_int_equal(at, 0); /* never applied */
    lg_group_offset v[3] = {{"g", "t", 0, 10, "a", 0},
                            {"", "t", 0, 11, NULL, 0}, /* invalid: skipped */
                            {"g", "t", 0, 12, NULL, 0}};
    assert_int_equal(lg_group_offsets_apply(log, v, 3, 1, 40), 0);
    assert_int_equal(v[1].err, CN_EINVAL);
    assert_int_equal(lg_group_offsets_applied(log, 1, &at), 0);
    assert_int_equal(at, 40);
    assert_int_equal(lg_group_offsets_applied(log, 2, &at), 0);
    assert_int_equal(at, 0); /* per partition */
    assert_int_equal(lg_group_offsets_apply(log, NULL, 0, -1, 1), CN_EINVAL);
    assert_int_equal(lg_group_offsets_apply(log, NULL, 0, 1, -1), CN_EINVAL);
    lg_close(log);
    assert_int_equal(lg_open(&log, &o), 0);
    int64_t off;
    char md[16];
    assert_int_equal(lg_group_offset_fetch(log, "g", "t", 0, &off, md, sizeof(md)), 0);
    assert_int_equal(off, 12); /* the later entry wins */
    assert_string_equal(md, "");
    assert_int_equal(lg_group_offsets_applied(log, 1, &at), 0);
    assert_int_equal(at, 40);
    lg_close(log);
    cn_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encode_refuses),
        cmocka_unit_test(test_decode_refuses_truncation_and_extra),
        cmocka_unit_test(test_decode_refuses_hostile_fields),
        cmocka_unit_test(test_partition_is_stable_and_in_range),
        cmocka_unit_test(test_apply_stores_offsets_and_position_together),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
