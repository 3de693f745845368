/* SPDX-License-Identifier: MIT */
/*
 * test_kf_server.c — the Kafka server in-process (a real lg_log and
 * kf_server on an event-loop thread, loopback TCP), driven with cairn's own
 * codec as the client, over EVERY advertised version of every API — the
 * real clients in tests/integration/ only exercise the versions they pick:
 *  - ApiVersions v0-3 lists exactly the generated table;
 *  - Metadata v0-9: v0 empty list = all topics, v1+ empty = none and
 *    null = all, unknown topics, v4+ AllowAutoTopicCreation honoured;
 *  - Produce v3-7 then Fetch v4-11: the batch comes back byte for byte
 *    (but for the offset the log stamped), high watermark and log start
 *    right; out-of-range offsets, unknown partitions, bad CRC; a Records
 *    field of two batches lands whole or not at all;
 *  - ListOffsets v0-5 (old-style offsets in v0), earliest/latest/by time;
 *  - CreateTopics v0-4 (validateOnly, configs, bad partitions, replication,
 *    names), DeleteTopics v0-3, DescribeConfigs v0-3 (key filters, broker,
 *    unknown resource types);
 *  - InitProducerId v0-4 (a transactional id bumps its epoch), FindCoordinator v0-3;
 *  - OffsetCommit v0-7 / OffsetFetch v0-7 (null topics = all from v2),
 *    ListGroups v0-4, DescribeGroups v0-4 for unknown and offset-only groups;
 *  - an OffsetCommit waiting for the offsets store's write lock stalls only its own
 *    client and is answered after its offsets are stored;
 *  - Produce v0-2 and Fetch v0-3 (advertised, never decoded) are answered
 *    UNSUPPORTED_VERSION per partition in their own layout;
 *  - AlterConfigs v0-2 / IncrementalAlterConfigs v0-1: retention.ms,
 *    retention.bytes, segment.bytes stored and described, validate_only,
 *    Kafka's error codes for bad names/values/operations/duplicates, every
 *    truncation and a hostile count close the connection;
 *  - a Produce that finds the log's queue full is parked, not the loop:
 *    other clients are served meanwhile, and every batch is stored once;
 *  - Produces are pipelined: with the log's writer stalled, the Produces
 *    sent after the first are read and their batches handed to the log
 *    before any reply; an ApiVersions among them is held back until the
 *    Produces before it are answered, and the Produce after it until the
 *    ApiVersions is; replies come in request order;
 *  - a parked long-poll Fetch is evaluated again only when the end of one
 *    of its partitions moved: appends to another partition leave it
 *    alone, an append to its own answers it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cn_buf.h"
#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "cn_time.h"
#include "kf_errors.h"
#include "kf_frame.h"
#include "kf_msgs.h"
#include "kf_server.h"
#include "kf_server_int.h" /* the server's count of parked-Fetch re-evaluations */
#include "kf_testsrv.h"
#include "lg.h"
#include "lg_batch.h"
#include "lg_int.h" /* the index's environment: a test holds its write lock */

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static kft_srv E;

static int setup(void **st)
{
    (void)st;
    memset(&E, 0, sizeof(E));
    E.dir = cn_test_tmpdir("kf-server");
    assert_int_equal(kf_arena_new(&E.a, 64u << 20), 0);
    kf_server_opts ko;
    kf_server_opts_init(&ko);
    ko.listen = "127.0.0.1:0";
    ko.auto_create = 1;
    ko.default_partitions = 3;
    kft_start(&E, NULL, &ko, 10);
    lg_topic_config cfg = {2, 0, 0, 0};
    assert_int_equal(lg_topic_create(E.log, "t1", &cfg), 0);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    kft_stop(&E);
    kf_arena_free(E.a);
    cn_test_rmrf(E.dir);
    free(E.dir);
    return 0;
}

static void read_exact(void *buf, size_t n)
{
    kft_recv_exact(E.fd, buf, n);
}

/* Send one request and decode its reply (in E.a). */
static void *rpc(int16_t key, int16_t ver, const void *body)
{
    return kft_rpc(&E, key, ver, body);
}

static const kf_api_info *api(int16_t key)
{
    const kf_api_info *a = kf_api_find(key);
    assert_non_null(a);
    return a;
}

/* ---------------------------------------------------------------------- */

static void test_api_versions_all(void **st)
{
    (void)st;
    size_t n;
    const kf_api_info *t = kf_api_table(&n);
    for (int16_t v = 0; v <= api(18)->max_version; v++) {
        kf_ApiVersionsRequest q;
        kf_ApiVersionsRequest_init(&q);
        q.ClientSoftwareName = kf_str_c("unit");
        q.ClientSoftwareVersion = kf_str_c("1");
        kf_ApiVersionsResponse *r = rpc(18, v, &q);
        assert_int_equal(r->ErrorCode, 0);
        assert_int_equal(r->ApiKeys.n, (int32_t)n);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(r->ApiKeys.v[i].ApiKey, t[i].api_key);
            /* Produce and Fetch advertise 0 so librdkafka enables compression. */
            int16_t want_min = (t[i].api_key == 0 || t[i].api_key == 1) ? 0 : t[i].min_version;
            assert_int_equal(r->ApiKeys.v[i].MinVersion, want_min);
            assert_int_equal(r->ApiKeys.v[i].MaxVersion, t[i].max_version);
        }
    }
}

static int has_topic(const kf_MetadataResponse *r, const char *name, int16_t *err, int32_t *np)
{
    for (int32_t i = 0; i < r->Topics.n; i++)
        if (kf_str_eq(&r->Topics.v[i].Name, name)) {
            *err = r->Topics.v[i].ErrorCode;
            *np = r->Topics.v[i].Partitions.n;
            return 1;
        }
    return 0;
}

static void test_metadata_all_versions(void **st)
{
    (void)st;
    int16_t err;
    int32_t np;
    for (int16_t v = 0; v <= api(3)->max_version; v++) {
        kf_MetadataRequest q;
        kf_MetadataRequest_init(&q);
        /* Empty list: all topics in v0, none from v1. */
        kf_MetadataResponse *r = rpc(3, v, &q);
        assert_int_equal(r->Brokers.n, 1);
        assert_int_equal(r->Brokers.v[0].Port, kf_server_port(E.srv));
        assert_true(kf_str_eq(&r->Brokers.v[0].Host, "127.0.0.1"));
        if (v == 0) {
            assert_true(has_topic(r, "t1", &err, &np) && err == 0 && np == 2);
        } else {
            assert_int_equal(r->Topics.n, 0);
            q.Topics.n = -1; /* null: all */
            r = rpc(3, v, &q);
            assert_true(has_topic(r, "t1", &err, &np) && err == 0 && np == 2);
            assert_int_equal(r->ControllerId, 0);
        }
        /* An unknown topic with auto-creation forbidden (v4+) stays unknown. */
        if (v >= 4) {
            kf_MetadataRequestTopic t = {kf_str_c("never-made")};
            kf_MetadataRequest q2;
            kf_MetadataRequest_init(&q2);
            q2.Topics.v = &t;
            q2.Topics.n = 1;
            q2.AllowAutoTopicCreation = 0;
            r = rpc(3, v, &q2);
            assert_true(has_topic(r, "never-made", &err, &np));
            assert_int_equal(err, KF_ERR_UNKNOWN_TOPIC_OR_PARTITION);
            assert_true(lg_topic_partitions(E.log, "never-made") < 0);
        }
    }
    /* With auto-create on (this server), a Metadata for a new name makes it. */
    kf_MetadataRequestTopic t = {kf_str_c("made-by-metadata")};
    kf_MetadataRequest q;
    kf_MetadataRequest_init(&q);
    q.Topics.v = &t;
    q.Topics.n = 1;
    kf_MetadataResponse *r = rpc(3, 1, &q);
    assert_true(has_topic(r, "made-by-metadata", &err, &np) && err == 0 && np == 3);
}

static void build_batch(cn_buf *out, int n, const char *tag)
{
    lg_batch_builder *b;
    assert_int_equal(lg_batch_builder_new(&b, LG_COMP_NONE), 0);
    for (int i = 0; i < n; i++) {
        char v[32];
        int vl = snprintf(v, sizeof(v), "%s-%d", tag, i);
        lg_header h = {(const unsigned char *)"h", 1, (const unsigned char *)"x", 1};
        lg_batch_builder_add(b, cn_now_ms(), "k", 1, v, (size_t)vl, &h, 1);
    }
    assert_int_equal(lg_batch_builder_finish(b, out), 0);
    lg_batch_builder_free(b);
}

static int16_t produce(int16_t v, const char *topic, int32_t part, const cn_buf *batch,
                       int64_t *base)
{
    kf_PartitionProduceData pd = {part, {batch->data, (int32_t)batch->len}};
    kf_TopicProduceData td = {kf_str_c(topic), {&pd, 1}};
    kf_ProduceRequest q;
    kf_ProduceRequest_init(&q);
    q.Acks = -1;
    q.TimeoutMs = 10000;
    q.TopicData.v = &td;
    q.TopicData.n = 1;
    kf_ProduceResponse *r = rpc(0, v, &q);
    assert_int_equal(r->Responses.n, 1);
    assert_int_equal(r->Responses.v[0].PartitionResponses.n, 1);
    *base = r->Responses.v[0].PartitionResponses.v[0].BaseOffset;
    return r->Responses.v[0].PartitionResponses.v[0].ErrorCode;
}

static kf_PartitionData *fetch(int16_t v, const char *topic, int32_t part, int64_t off,
                               int32_t maxwait)
{
    kf_FetchPartition fp;
    kf_FetchPartition_init(&fp);
    fp.Partition = part;
    fp.FetchOffset = off;
    fp.PartitionMaxBytes = 1 << 20;
    kf_FetchTopic ft = {kf_str_c(topic), {&fp, 1}};
    kf_FetchRequest q;
    kf_FetchRequest_init(&q);
    q.MaxWaitMs = maxwait;
    q.MinBytes = 1;
    q.Topics.v = &ft;
    q.Topics.n = 1;
    kf_FetchResponse *r = rpc(1, v, &q);
    assert_int_equal(r->Responses.n, 1);
    assert_int_equal(r->Responses.v[0].Partitions.n, 1);
    return &r->Responses.v[0].Partitions.v[0];
}

/* Two batches for one partition in one Produce, the second out of
 * sequence: the partition gets the error and neither batch is stored, so
 * the client's retry cannot duplicate the first. */
static void test_produce_partition_batches_stored_all_or_none(void **st)
{
    (void)st;
    lg_topic_config c = {1, 0, 0, 0};
    assert_int_equal(lg_topic_create(E.log, "all-or-none", &c), 0);
    int64_t pid;
    assert_int_equal(lg_producer_id_alloc(E.log, &pid), 0);
    cn_buf recs = CN_BUF_INIT;
    const int32_t seqs[2] = {0, 5}; /* 2 records each: the second should start at 2 */
    for (int i = 0; i < 2; i++) {
        lg_batch_builder *b;
        assert_int_equal(lg_batch_builder_new(&b, LG_COMP_NONE), 0);
        lg_batch_builder_producer(b, pid, 0, seqs[i]);
        for (int r = 0; r < 2; r++)
            assert_int_equal(lg_batch_builder_add(b, cn_now_ms(), "k", 1, "v", 1, NULL, 0), 0);
        assert_int_equal(lg_batch_builder_finish(b, &recs), 0);
        lg_batch_builder_free(b);
    }
    int64_t base = 0;
    assert_int_equal(produce(api(0)->max_version, "all-or-none", 0, &recs, &base),
                     KF_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(base, -1);
    lg_partition_info pi;
    assert_int_equal(lg_partition_info_get(E.log, "all-or-none", 0, &pi), 0);
    assert_int_equal(pi.log_end_offset, 0);
    cn_buf_free(&recs);
    lg_topic_delete(E.log, "all-or-none");
}

static void test_produce_fetch_all_versions(void **st)
{
    (void)st;
    int64_t expect = 0;
    for (int16_t pv = api(0)->min_version; pv <= api(0)->max_version; pv++) {
        cn_buf b = CN_BUF_INIT;
        char tag[16];
        snprintf(tag, sizeof(tag), "p%d", pv);
        build_batch(&b, 3, tag);
        int64_t base;
        assert_int_equal(produce(pv, "t1", 1, &b, &base), 0);
        assert_int_equal(base, expect);
        for (int16_t fv = api(1)->min_version; fv <= api(1)->max_version; fv++) {
            kf_PartitionData *d = fetch(fv, "t1", 1, expect, 0);
            assert_int_equal(d->ErrorCode, 0);
            assert_int_equal(d->HighWatermark, expect + 3);
            if (fv >= 5)
                assert_int_equal(d->LogStartOffset, 0);
            /* The first batch returned is ours, byte for byte past the
             * two fields the log stamps (baseOffset, leader epoch). */
            assert_true(d->Records.len >= (int32_t)b.len);
            assert_int_equal(cn_rd_be64(d->Records.ptr), expect);
            assert_memory_equal(d->Records.ptr + 8, b.data + 8, 4);
            assert_memory_equal(d->Records.ptr + 16, b.data + 16, b.len - 16);
        }
        expect += 3;
        cn_buf_free(&b);
    }
    /* Offset past the end; unknown partition; unknown topic. */
    kf_PartitionData *d = fetch(4, "t1", 1, expect + 100, 0);
    assert_int_equal(d->ErrorCode, KF_ERR_OFFSET_OUT_OF_RANGE);
    assert_int_equal(d->HighWatermark, expect);
    d = fetch(11, "t1", 7, 0, 0);
    assert_int_equal(d->ErrorCode, KF_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    d = fetch(11, "nope", 0, 0, 0);
    assert_int_equal(d->ErrorCode, KF_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    /* At the end with a short wait: an empty, successful reply. */
    d = fetch(11, "t1", 1, expect, 50);
    assert_int_equal(d->ErrorCode, 0);
    assert_int_equal(d->Records.len, 0);
    /* A corrupted batch is refused and not appended. */
    cn_buf b = CN_BUF_INIT;
    build_batch(&b, 2, "bad");
    b.data[b.len - 1] ^= 0x55;
    int64_t base;
    assert_int_equal(produce(7, "t1", 1, &b, &base), KF_ERR_CORRUPT_MESSAGE);
    d = fetch(11, "t1", 1, 0, 0);
    assert_int_equal(d->HighWatermark, expect);
    /* Two batches in one Records field, the second corrupt: neither lands. */
    cn_buf two = CN_BUF_INIT;
    build_batch(&two, 2, "good");
    size_t first = two.len;
    build_batch(&two, 2, "bad2");
    two.data[first + 30] ^= 0x01;
    assert_int_equal(produce(7, "t1", 1, &two, &base), KF_ERR_CORRUPT_MESSAGE);
    d = fetch(11, "t1", 1, 0, 0);
    assert_int_equal(d->HighWatermark, expect);
    /* Both good: both land, the base offset is the first one's. */
    two.data[first + 30] ^= 0x01;
    assert_int_equal(produce(7, "t1", 1, &two, &base), 0);
    assert_int_equal(base, expect);
    d = fetch(11, "t1", 1, 0, 0);
    assert_int_equal(d->HighWatermark, expect + 4);
    /* acks outside {0, 1, -1}, and a transactional id the coordinator
     * never handed out: refused. */
    kf_PartitionProduceData pd = {1, {two.data, (int32_t)two.len}};
    kf_TopicProduceData td = {kf_str_c("t1"), {&pd, 1}};
    kf_ProduceRequest q;
    kf_ProduceRequest_init(&q);
    q.Acks = 2;
    q.TimeoutMs = 1000;
    q.TopicData.v = &td;
    q.TopicData.n = 1;
    kf_ProduceResponse *r = rpc(0, 7, &q);
    assert_int_equal(r->Responses.v[0].PartitionResponses.v[0].ErrorCode,
                     KF_ERR_INVALID_REQUIRED_ACKS);
    q.Acks = -1;
    q.TransactionalId = kf_str_c("txn-1");
    r = rpc(0, 7, &q);
    assert_int_equal(r->Responses.v[0].PartitionResponses.v[0].ErrorCode,
                     KF_ERR_INVALID_PRODUCER_ID_MAPPING);
    d = fetch(11, "t1", 1, 0, 0);
    assert_int_equal(d->HighWatermark, expect + 4);
    cn_buf_free(&two);
    cn_buf_free(&b);
}

static void test_list_offsets_all_versions(void **st)
{
    (void)st;
    cn_buf b = CN_BUF_INIT;
    build_batch(&b, 4, "lo");
    lg_append_result ar;
    assert_int_equal(lg_append(E.log, "t1", 0, b.data, b.len, &ar), 0);
    cn_buf_free(&b);
    lg_partition_info info;
    assert_int_equal(lg_partition_info_get(E.log, "t1", 0, &info), 0);
    for (int16_t v = 0; v <= api(2)->max_version; v++) {
        for (int k = 0; k < 2; k++) {
            int64_t ts = k == 0 ? -1 : -2;
            kf_ListOffsetsPartition p;
            kf_ListOffsetsPartition_init(&p);
            p.PartitionIndex = 0;
            p.Timestamp = ts;
            kf_ListOffsetsTopic t = {kf_str_c("t1"), {&p, 1}};
            kf_ListOffsetsRequest q;
            kf_ListOffsetsRequest_init(&q);
            q.ReplicaId = -1;
            q.Topics.v = &t;
            q.Topics.n = 1;
            kf_ListOffsetsResponse *r = rpc(2, v, &q);
            kf_ListOffsetsPartitionResponse *o = &r->Topics.v[0].Partitions.v[0];
            assert_int_equal(o->ErrorCode, 0);
            int64_t want = ts == -1 ? info.log_end_offset : info.log_start_offset;
            if (v == 0) {
                assert_int_equal(o->OldStyleOffsets.n, 1);
                assert_int_equal(o->OldStyleOffsets.v[0], want);
            } else {
                assert_int_equal(o->Offset, want);
            }
        }
    }
    /* By time: a timestamp far in the future has no offset (-1). */
    kf_ListOffsetsPartition p;
    kf_ListOffsetsPartition_init(&p);
    p.Timestamp = cn_now_ms() + 86400000;
    kf_ListOffsetsTopic t = {kf_str_c("t1"), {&p, 1}};
    kf_ListOffsetsRequest q;
    kf_ListOffsetsRequest_init(&q);
    q.Topics.v = &t;
    q.Topics.n = 1;
    kf_ListOffsetsResponse *r = rpc(2, 1, &q);
    assert_int_equal(r->Topics.v[0].Partitions.v[0].Offset, -1);
    p.Timestamp = 0; /* before everything: the first offset */
    r = rpc(2, 1, &q);
    assert_int_equal(r->Topics.v[0].Partitions.v[0].Offset, info.log_start_offset);
    assert_true(r->Topics.v[0].Partitions.v[0].Timestamp > 0);
}

static int16_t create_topic(int16_t v, const char *name, int32_t parts, int16_t rf,
                            const char *cfgname, const char *cfgval, int validate)
{
    kf_CreatableTopicConfig c = {kf_str_c(cfgname), kf_str_c(cfgval)};
    kf_CreatableTopic t;
    kf_CreatableTopic_init(&t);
    t.Name = kf_str_c(name);
    t.NumPartitions = parts;
    t.ReplicationFactor = rf;
    if (cfgname) {
        t.Configs.v = &c;
        t.Configs.n = 1;
    }
    kf_CreateTopicsRequest q;
    kf_CreateTopicsRequest_init(&q);
    q.Topics.v = &t;
    q.Topics.n = 1;
    q.validateOnly = validate;
    kf_CreateTopicsResponse *r = rpc(19, v, &q);
    assert_int_equal(r->Topics.n, 1);
    assert_true(kf_str_eq(&r->Topics.v[0].Name, name));
    return r->Topics.v[0].ErrorCode;
}

/* Positions inside a segment are 32-bit: segment.bytes past 1 GiB (or
 * below one batch header) is refused, not stored. */
static void test_create_topics_refuses_segment_bytes_over_one_gib(void **st)
{
    (void)st;
    assert_int_equal(create_topic(4, "seg-huge", 1, 1, "segment.bytes", "5368709120", 0),
                     KF_ERR_INVALID_CONFIG);
    assert_int_equal(create_topic(4, "seg-huge", 1, 1, "segment.bytes", "1073741825", 0),
                     KF_ERR_INVALID_CONFIG);
    assert_true(lg_topic_partitions(E.log, "seg-huge") < 0);
    assert_int_equal(create_topic(4, "seg-huge", 1, 1, "segment.bytes", "1073741824", 0), 0);
    lg_topic_delete(E.log, "seg-huge");
}

static void test_topic_admin_all_versions(void **st)
{
    (void)st;
    for (int16_t v = 0; v <= api(19)->max_version; v++) {
        char name[32];
        snprintf(name, sizeof(name), "adm-%d", v);
        if (v >= 1) {
            assert_int_equal(create_topic(v, name, 2, 1, NULL, NULL, 1), 0);
            assert_true(lg_topic_partitions(E.log, name) < 0); /* validateOnly */
        }
        assert_int_equal(create_topic(v, name, 2, 1, "retention.ms", "60000", 0), 0);
        assert_int_equal(lg_topic_partitions(E.log, name), 2);
        assert_int_equal(create_topic(v, name, 2, 1, NULL, NULL, 0), KF_ERR_TOPIC_ALREADY_EXISTS);
        assert_int_equal(create_topic(v, "x-bad-rf", 2, 3, NULL, NULL, 0),
                         KF_ERR_INVALID_REPLICATION_FACTOR);
        assert_int_equal(create_topic(v, "x-bad-parts", 0, 1, NULL, NULL, 0),
                         KF_ERR_INVALID_PARTITIONS);
        assert_int_equal(create_topic(v, "x-bad-cfg", 1, 1, "min.insync.replicas", "2", 0),
                         KF_ERR_INVALID_CONFIG);
        assert_int_equal(create_topic(v, "bad name!", 1, 1, NULL, NULL, 0),
                         KF_ERR_INVALID_TOPIC_EXCEPTION);
        assert_int_equal(create_topic(v, "x-default-parts", -1, -1, NULL, NULL, 0), 0);
        assert_int_equal(lg_topic_partitions(E.log, "x-default-parts"), 3);
        lg_topic_delete(E.log, "x-default-parts");
    }
    /* DescribeConfigs: the topic's retention.ms as created, filtered keys. */
    for (int16_t v = 0; v <= api(32)->max_version; v++) {
        kf_str keys[1] = {kf_str_c("retention.ms")};
        kf_DescribeConfigsResource res[4];
        for (int i = 0; i < 4; i++)
            kf_DescribeConfigsResource_init(&res[i]);
        res[0].ResourceType = 2;
        res[0].ResourceName = kf_str_c("adm-0");
        res[0].ConfigurationKeys.v = keys;
        res[0].ConfigurationKeys.n = 1;
        res[1].ResourceType = 2;
        res[1].ResourceName = kf_str_c("no-such-topic");
        res[1].ConfigurationKeys.n = -1;
        res[2].ResourceType = 4;
        res[2].ResourceName = kf_str_c("0");
        res[2].ConfigurationKeys.n = -1;
        res[3].ResourceType = 1;
        res[3].ResourceName = kf_str_c("x");
        res[3].ConfigurationKeys.n = -1;
        kf_DescribeConfigsRequest q;
        kf_DescribeConfigsRequest_init(&q);
        q.Resources.v = res;
        q.Resources.n = 4;
        kf_DescribeConfigsResponse *r = rpc(32, v, &q);
        assert_int_equal(r->Results.n, 4);
        assert_int_equal(r->Results.v[0].ErrorCode, 0);
        assert_int_equal(r->Results.v[0].Configs.n, 1);
        assert_true(kf_str_eq(&r->Results.v[0].Configs.v[0].Name, "retention.ms"));
        assert_true(kf_str_eq(&r->Results.v[0].Configs.v[0].Value, "60000"));
        assert_int_equal(r->Results.v[1].ErrorCode, KF_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_int_equal(r->Results.v[2].ErrorCode, 0);
        assert_true(r->Results.v[2].Configs.n >= 3);
        assert_int_equal(r->Results.v[3].ErrorCode, KF_ERR_INVALID_REQUEST);
    }
    /* DeleteTopics: each version deletes one; unknown names are reported. */
    for (int16_t v = 0; v <= api(20)->max_version; v++) {
        char name[32];
        snprintf(name, sizeof(name), "adm-%d", v);
        kf_str names[2] = {kf_str_c(name), kf_str_c("no-such-topic")};
        kf_DeleteTopicsRequest q;
        kf_DeleteTopicsRequest_init(&q);
        q.TopicNames.v = names;
        q.TopicNames.n = 2;
        q.TimeoutMs = 1000;
        kf_DeleteTopicsResponse *r = rpc(20, v, &q);
        assert_int_equal(r->Responses.n, 2);
        assert_int_equal(r->Responses.v[0].ErrorCode, 0);
        assert_int_equal(r->Responses.v[1].ErrorCode, KF_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_true(lg_topic_partitions(E.log, name) < 0);
    }
}

static void test_producer_ids_and_coordinator(void **st)
{
    (void)st;
    int64_t last = -1;
    for (int16_t v = 0; v <= api(22)->max_version; v++) {
        kf_InitProducerIdRequest q;
        kf_InitProducerIdRequest_init(&q);
        q.TransactionTimeoutMs = 60000;
        q.TransactionalId.len = -1;
        kf_InitProducerIdResponse *r = rpc(22, v, &q);
        assert_int_equal(r->ErrorCode, 0);
        assert_true(r->ProducerId > last);
        assert_int_equal(r->ProducerEpoch, 0);
        last = r->ProducerId;
        /* A transactional id: the same producer id, its epoch bumped by
         * each InitProducerId (test_kf_txn covers the rest). */
        q.TransactionalId = kf_str_c("txn");
        r = rpc(22, v, &q);
        assert_int_equal(r->ErrorCode, 0);
        assert_int_equal(r->ProducerEpoch, v);
    }
    for (int16_t v = 0; v <= api(10)->max_version; v++) {
        kf_FindCoordinatorRequest q = {kf_str_c("g"), 0};
        kf_FindCoordinatorResponse *r = rpc(10, v, &q);
        assert_int_equal(r->ErrorCode, 0);
        assert_int_equal(r->NodeId, 0);
        assert_int_equal(r->Port, kf_server_port(E.srv));
        if (v >= 1) {
            q.KeyType = 1; /* the transaction coordinator: this node too */
            r = rpc(10, v, &q);
            assert_int_equal(r->ErrorCode, 0);
            assert_int_equal(r->Port, kf_server_port(E.srv));
            q.KeyType = 2;
            r = rpc(10, v, &q);
            assert_int_equal(r->ErrorCode, KF_ERR_COORDINATOR_NOT_AVAILABLE);
        }
    }
}

static void test_offsets_and_groups_all_versions(void **st)
{
    (void)st;
    for (int16_t v = 0; v <= api(8)->max_version; v++) {
        char group[16];
        snprintf(group, sizeof(group), "og-%d", v);
        kf_OffsetCommitRequestPartition p[2];
        for (int i = 0; i < 2; i++) {
            kf_OffsetCommitRequestPartition_init(&p[i]);
            p[i].PartitionIndex = i;
            p[i].CommittedOffset = 100 * v + i;
            p[i].CommittedMetadata = kf_str_c(i ? "meta" : "");
        }
        kf_OffsetCommitRequestTopic t = {kf_str_c("t1"), {p, 2}};
        kf_OffsetCommitRequest q;
        kf_OffsetCommitRequest_init(&q);
        q.GroupId = kf_str_c(group);
        q.MemberId = kf_str_c("");
        q.Topics.v = &t;
        q.Topics.n = 1;
        kf_OffsetCommitResponse *r = rpc(8, v, &q);
        assert_int_equal(r->Topics.v[0].Partitions.v[0].ErrorCode, 0);
        assert_int_equal(r->Topics.v[0].Partitions.v[1].ErrorCode, 0);
        /* Unknown partition. */
        p[1].PartitionIndex = 9;
        r = rpc(8, v, &q);
        assert_int_equal(r->Topics.v[0].Partitions.v[1].ErrorCode,
                         KF_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    }
    for (int16_t v = 0; v <= api(9)->max_version; v++) {
        int32_t parts[3] = {0, 1, 5};
        kf_OffsetFetchRequestTopic t = {kf_str_c("t1"), {parts, 3}};
        kf_OffsetFetchRequest q;
        kf_OffsetFetchRequest_init(&q);
        q.GroupId = kf_str_c("og-3");
        q.Topics.v = &t;
        q.Topics.n = 1;
        kf_OffsetFetchResponse *r = rpc(9, v, &q);
        kf_OffsetFetchResponsePartition *o = r->Topics.v[0].Partitions.v;
        assert_int_equal(o[0].CommittedOffset, 300);
        assert_int_equal(o[1].CommittedOffset, 301);
        assert_true(kf_str_eq(&o[1].Metadata, "meta"));
        assert_int_equal(o[2].CommittedOffset, -1); /* never committed */
        if (v >= 2) {
            q.Topics.n = -1; /* everything the group committed */
            r = rpc(9, v, &q);
            assert_int_equal(r->Topics.n, 1);
            assert_int_equal(r->Topics.v[0].Partitions.n, 2);
        }
    }
    for (int16_t v = 0; v <= api(16)->max_version; v++) {
        kf_ListGroupsRequest q;
        kf_ListGroupsRequest_init(&q);
        kf_ListGroupsResponse *r = rpc(16, v, &q);
        int found = 0;
        for (int32_t i = 0; i < r->Groups.n; i++)
            if (kf_str_eq(&r->Groups.v[i].GroupId, "og-5"))
                found = 1;
        assert_true(found);
    }
    for (int16_t v = 0; v <= api(15)->max_version; v++) {
        kf_str ids[2] = {kf_str_c("og-1"), kf_str_c("never")};
        kf_DescribeGroupsRequest q;
        kf_DescribeGroupsRequest_init(&q);
        q.Groups.v = ids;
        q.Groups.n = 2;
        kf_DescribeGroupsResponse *r = rpc(15, v, &q);
        assert_int_equal(r->Groups.n, 2);
        assert_true(kf_str_eq(&r->Groups.v[0].GroupState, "Empty"));
        assert_true(kf_str_eq(&r->Groups.v[1].GroupState, "Dead"));
        assert_int_equal(r->Groups.v[1].ErrorCode, 0);
    }
}

/* ---- Produce v0-2 and Fetch v0-3: advertised, never served --------------
 * ApiVersions advertises both from v0 (librdkafka derives its compression
 * features from that floor), but those versions carry message sets v0/v1,
 * which the log cannot store.  A client told a version is supported must
 * get an answer in that version's layout, with UNSUPPORTED_VERSION per
 * partition, and keep its connection. */

static size_t raw_put16(unsigned char *p, int16_t v)
{
    cn_wr_be16(p, (uint16_t)v);
    return 2;
}

static size_t raw_put32(unsigned char *p, int32_t v)
{
    cn_wr_be32(p, (uint32_t)v);
    return 4;
}

static size_t raw_put64(unsigned char *p, int64_t v)
{
    cn_wr_be64(p, (uint64_t)v);
    return 8;
}

static size_t raw_putstr(unsigned char *p, const char *s)
{
    size_t n = strlen(s);
    raw_put16(p, (int16_t)n);
    memcpy(p + 2, s, n);
    return 2 + n;
}

/* Send a hand-built request (header v1) with body b. */
static void raw_send(int16_t key, int16_t ver, int32_t corr, const unsigned char *b, size_t bn)
{
    unsigned char f[512];
    size_t n = 4;
    n += raw_put16(f + n, key);
    n += raw_put16(f + n, ver);
    n += raw_put32(f + n, corr);
    n += raw_putstr(f + n, "raw");
    assert_true(n + bn <= sizeof(f));
    memcpy(f + n, b, bn);
    n += bn;
    raw_put32(f, (int32_t)(n - 4));
    assert_int_equal(send(E.fd, f, n, 0), (ssize_t)n);
}

/* Receive one reply frame (malloc'd, size in *n) and check its correlation id. */
static unsigned char *raw_recv(int32_t corr, size_t *n)
{
    unsigned char szb[4];
    read_exact(szb, 4);
    *n = cn_rd_be32(szb);
    unsigned char *p = malloc(*n);
    read_exact(p, *n);
    assert_int_equal((int32_t)cn_rd_be32(p), corr);
    return p;
}

static void test_old_produce_fetch_versions_get_unsupported_version(void **st)
{
    (void)st;
    int32_t corr = 5000;
    for (int16_t v = 0; v <= 2; v++) {
        /* acks -1, timeout, [t1: [partition 1: a message set v0 of 26 bytes]] */
        unsigned char b[128];
        size_t n = 0;
        n += raw_put16(b + n, -1);
        n += raw_put32(b + n, 10000);
        n += raw_put32(b + n, 1);
        n += raw_putstr(b + n, "t1");
        n += raw_put32(b + n, 1);
        n += raw_put32(b + n, 1);
        n += raw_put32(b + n, 26);
        memset(b + n, 0, 26);
        n += 26;
        raw_send(0, v, ++corr, b, n);
        size_t rn;
        unsigned char *r = raw_recv(corr, &rn);
        /* v0 [name [index error base_offset]]; v1 + throttle at the end;
         * v2 + log_append_time per partition. */
        size_t want = 4 + 4 + 2 + 2 + 4 + 4 + 2 + 8 + (v >= 2 ? 8 : 0) + (v >= 1 ? 4 : 0);
        assert_int_equal(rn, want);
        assert_int_equal((int32_t)cn_rd_be32(r + 4), 1);
        assert_memory_equal(r + 8, "\0\2t1", 4);
        assert_int_equal((int32_t)cn_rd_be32(r + 12), 1);
        assert_int_equal((int32_t)cn_rd_be32(r + 16), 1);
        assert_int_equal((int16_t)cn_rd_be16(r + 20), KF_ERR_UNSUPPORTED_VERSION);
        assert_int_equal((int64_t)cn_rd_be64(r + 22), -1);
        free(r);
        /* acks=0: no answer, as Kafka; the next request is still served. */
        raw_put16(b, 0);
        raw_send(0, v, ++corr, b, n);
    }
    for (int16_t v = 0; v <= 3; v++) {
        /* replica -1, max_wait, min_bytes, [v3 max_bytes], [t1: [0 @ 0, 1 MiB], [9 @ 5]] */
        unsigned char b[128];
        size_t n = 0;
        n += raw_put32(b + n, -1);
        n += raw_put32(b + n, 100);
        n += raw_put32(b + n, 1);
        if (v >= 3)
            n += raw_put32(b + n, 1 << 20);
        n += raw_put32(b + n, 1);
        n += raw_putstr(b + n, "t1");
        n += raw_put32(b + n, 2);
        n += raw_put32(b + n, 0);
        n += raw_put64(b + n, 0);
        n += raw_put32(b + n, 1 << 20);
        n += raw_put32(b + n, 9);
        n += raw_put64(b + n, 5);
        n += raw_put32(b + n, 1 << 20);
        raw_send(1, v, ++corr, b, n);
        size_t rn;
        unsigned char *r = raw_recv(corr, &rn);
        /* v1+ start with throttle; [name [partition error hw records(empty)]] */
        size_t o = 4 + (v >= 1 ? 4 : 0);
        assert_int_equal(rn, o + 4 + 4 + 4 + 2 * (4 + 2 + 8 + 4));
        if (v >= 1)
            assert_int_equal((int32_t)cn_rd_be32(r + 4), 0);
        assert_int_equal((int32_t)cn_rd_be32(r + o), 1);
        assert_memory_equal(r + o + 4, "\0\2t1", 4);
        assert_int_equal((int32_t)cn_rd_be32(r + o + 8), 2);
        for (int i = 0; i < 2; i++) {
            const unsigned char *pp = r + o + 12 + (size_t)i * 18;
            assert_int_equal((int32_t)cn_rd_be32(pp), i ? 9 : 0);
            assert_int_equal((int16_t)cn_rd_be16(pp + 4), KF_ERR_UNSUPPORTED_VERSION);
            assert_int_equal((int64_t)cn_rd_be64(pp + 6), -1);
            assert_int_equal((int32_t)cn_rd_be32(pp + 14), 0);
        }
        free(r);
    }
    /* The connection still serves current versions. */
    kf_ApiVersionsRequest q;
    kf_ApiVersionsRequest_init(&q);
    kf_ApiVersionsResponse *av = rpc(18, 0, &q);
    assert_int_equal(av->ErrorCode, 0);
    /* A malformed old-version body (truncated) still closes, as any
     * malformed request does: the stream cannot be trusted after it. */
}

/* ---- OffsetCommit is durable off the event loop ------------------------
 * While the offsets store's write lock is held (a slow disk, a long writer
 * transaction), an OffsetCommit waits — but only its own client: another
 * connection is still served, and the commit is answered only after its
 * offsets are stored. */

static int connect_other(void)
{
    int fd = kft_connect(kf_server_port(E.srv), 2);
    return fd;
}

static int readable_within(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, ms) == 1;
}

static void test_offset_commit_does_not_stall_other_clients(void **st)
{
    (void)st;
    kf_OffsetCommitRequestPartition p[2];
    for (int i = 0; i < 2; i++) {
        kf_OffsetCommitRequestPartition_init(&p[i]);
        p[i].PartitionIndex = i;
        p[i].CommittedOffset = 40 + i;
    }
    kf_OffsetCommitRequestTopic t = {kf_str_c("t1"), {p, 2}};
    kf_OffsetCommitRequest q;
    kf_OffsetCommitRequest_init(&q);
    q.GroupId = kf_str_c("stall-g");
    q.MemberId = kf_str_c("");
    q.GenerationIdOrMemberEpoch = -1;
    q.Topics.v = &t;
    q.Topics.n = 1;
    cn_buf out = CN_BUF_INIT;
    int32_t corr = ++E.corr;
    assert_int_equal(kf_request_encode(&out, 8, 2, corr, "unit", &q), 0);

    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(E.log->ix.senv, NULL, 0, &txn),
                     0); /* the offsets store is busy */
    assert_int_equal(send(E.fd, out.data, out.len, 0), (ssize_t)out.len);
    cn_buf_free(&out);
    usleep(100 * 1000); /* let the server take the commit */
    /* Another client's ApiVersions is answered at once. */
    int other = connect_other();
    kf_ApiVersionsRequest aq;
    kf_ApiVersionsRequest_init(&aq);
    assert_int_equal(kf_request_encode(&out, 18, 0, 77, "other", &aq), 0);
    assert_int_equal(send(other, out.data, out.len, 0), (ssize_t)out.len);
    cn_buf_free(&out);
    int other_answered = readable_within(other, 10000);
    /* The commit itself is not answered before it is stored. */
    int commit_early = readable_within(E.fd, 200);
    mdb_txn_abort(txn); /* release first: a failed assert must not leave the server blocked */
    close(other);
    assert_true(other_answered);
    assert_false(commit_early);
    assert_true(readable_within(E.fd, 5000));
    unsigned char szb[4];
    read_exact(szb, 4);
    size_t n = cn_rd_be32(szb);
    unsigned char *r = kf_arena_alloc(E.a, n);
    read_exact(r, n);
    assert_int_equal((int32_t)cn_rd_be32(r), corr);
    kf_OffsetCommitResponse *resp = NULL;
    assert_int_equal(kf_decode_response(8, 2, r + 4, n - 4, E.a, (void **)&resp), 0);
    assert_int_equal(resp->Topics.v[0].Partitions.v[0].ErrorCode, 0);
    assert_int_equal(resp->Topics.v[0].Partitions.v[1].ErrorCode, 0);
    int64_t off;
    assert_int_equal(lg_group_offset_fetch(E.log, "stall-g", "t1", 1, &off, NULL, 0), 0);
    assert_int_equal(off, 41);
}

/* A producer with acks=0 closes right after its last write: every whole
 * request it sent before the close is still appended, in order; the partial
 * one after them is dropped. Its own connection: the others stay open. */
static void test_requests_sent_before_close_are_served(void **st)
{
    (void)st;
    cn_buf wire = CN_BUF_INIT, batch = CN_BUF_INIT;
    build_batch(&batch, 5, "eof");
    kf_PartitionProduceData pd = {1, {batch.data, (int32_t)batch.len}};
    kf_TopicProduceData td = {kf_str_c("t1"), {&pd, 1}};
    kf_ProduceRequest q;
    kf_ProduceRequest_init(&q);
    q.Acks = 0;
    q.TimeoutMs = 10000;
    q.TopicData.v = &td;
    q.TopicData.n = 1;
    for (int i = 0; i < 4; i++)
        assert_int_equal(kf_request_encode(&wire, 0, 7, ++E.corr, "unit", &q), 0);
    lg_partition_info pi = {0};
    assert_int_equal(lg_partition_info_get(E.log, "t1", 1, &pi), 0);
    int64_t start = pi.log_end_offset;
    int fd = connect_other();
    size_t one = wire.len / 4, send_len = 3 * one + one / 2;
    assert_int_equal(send(fd, wire.data, send_len, 0), (ssize_t)send_len);
    close(fd);
    for (int i = 0; i < 1000; i++) { /* bounded wait, not a timing check */
        assert_int_equal(lg_partition_info_get(E.log, "t1", 1, &pi), 0);
        if (pi.log_end_offset >= start + 15)
            break;
        usleep(10000);
    }
    usleep(100000); /* the partial fourth must not show up either */
    assert_int_equal(lg_partition_info_get(E.log, "t1", 1, &pi), 0);
    assert_int_equal(pi.log_end_offset, start + 15);
    cn_buf_free(&wire);
    cn_buf_free(&batch);
}

/* ---- AlterConfigs / IncrementalAlterConfigs ---------------------------- */

/* One AlterConfigs of one resource; returns its error code. */
static int16_t alter(int16_t v, int8_t type, const char *res, const kf_AlterableConfig *cfg, int n,
                     int validate)
{
    kf_AlterConfigsResource r;
    kf_AlterConfigsResource_init(&r);
    r.ResourceType = type;
    r.ResourceName = kf_str_c(res);
    r.Configs.v = (kf_AlterableConfig *)cfg;
    r.Configs.n = n;
    kf_AlterConfigsRequest q;
    kf_AlterConfigsRequest_init(&q);
    q.Resources.v = &r;
    q.Resources.n = 1;
    q.ValidateOnly = validate;
    kf_AlterConfigsResponse *resp = rpc(33, v, &q);
    assert_int_equal(resp->Responses.n, 1);
    assert_int_equal(resp->Responses.v[0].ResourceType, type);
    assert_true(kf_str_eq(&resp->Responses.v[0].ResourceName, res));
    int16_t e = resp->Responses.v[0].ErrorCode;
    /* every refusal says why */
    assert_true(e == 0 ? resp->Responses.v[0].ErrorMessage.len < 0
                       : resp->Responses.v[0].ErrorMessage.len > 0);
    return e;
}

static int16_t alter1(int16_t v, const char *topic, const char *name, const char *value)
{
    kf_AlterableConfig c = {kf_str_c(name), kf_str_c(value)};
    return alter(v, 2, topic, &c, 1, 0);
}

typedef kf_IncrementalAlterConfigsRequest_AlterableConfig inc_cfg;

static int16_t inc_alter(int16_t v, const char *topic, const inc_cfg *cfg, int n, int validate)
{
    kf_IncrementalAlterConfigsRequest_AlterConfigsResource r;
    kf_IncrementalAlterConfigsRequest_AlterConfigsResource_init(&r);
    r.ResourceType = 2;
    r.ResourceName = kf_str_c(topic);
    r.Configs.v = (inc_cfg *)cfg;
    r.Configs.n = n;
    kf_IncrementalAlterConfigsRequest q;
    kf_IncrementalAlterConfigsRequest_init(&q);
    q.Resources.v = &r;
    q.Resources.n = 1;
    q.ValidateOnly = validate;
    kf_IncrementalAlterConfigsResponse *resp = rpc(44, v, &q);
    assert_int_equal(resp->Responses.n, 1);
    int16_t e = resp->Responses.v[0].ErrorCode;
    assert_true(e == 0 ? resp->Responses.v[0].ErrorMessage.len < 0
                       : resp->Responses.v[0].ErrorMessage.len > 0);
    return e;
}

static int16_t inc1(int16_t v, const char *topic, int8_t op, const char *name, const char *value)
{
    inc_cfg c = {kf_str_c(name), op, kf_str_c(value)};
    return inc_alter(v, topic, &c, 1, 0);
}

/* What DescribeConfigs says about one config of a topic. */
static void described(const char *topic, const char *name, const char *want, int want_default)
{
    kf_str keys[1] = {kf_str_c(name)};
    kf_DescribeConfigsResource res;
    kf_DescribeConfigsResource_init(&res);
    res.ResourceType = 2;
    res.ResourceName = kf_str_c(topic);
    res.ConfigurationKeys.v = keys;
    res.ConfigurationKeys.n = 1;
    kf_DescribeConfigsRequest q;
    kf_DescribeConfigsRequest_init(&q);
    q.Resources.v = &res;
    q.Resources.n = 1;
    /* v0 says IsDefault; v1 on says ConfigSource (5 default, 1 dynamic topic) */
    for (int16_t v = 0; v <= 1; v++) {
        kf_DescribeConfigsResponse *r = rpc(32, v, &q);
        assert_int_equal(r->Results.v[0].ErrorCode, 0);
        assert_int_equal(r->Results.v[0].Configs.n, 1);
        const kf_DescribeConfigsResourceResult *e = &r->Results.v[0].Configs.v[0];
        if (!kf_str_eq(&e->Value, want))
            fprintf(stderr, "%s of %s: %s, want %s\n", name, topic, e->Value.s, want);
        assert_true(kf_str_eq(&e->Value, want));
        if (v == 0)
            assert_int_equal(e->IsDefault, want_default);
        else
            assert_int_equal(e->ConfigSource, want_default ? 5 : 1);
    }
}

static void test_alter_configs_all_versions(void **st)
{
    (void)st;
    lg_topic_config c = {1, 0, 0, 0};
    assert_int_equal(lg_topic_create(E.log, "cfg-t", &c), 0);
    lg_topic_config set;
    for (int16_t v = 0; v <= api(33)->max_version; v++) {
        kf_AlterableConfig three[3] = {
            {kf_str_c("retention.ms"), kf_str_c("3600000")},
            {kf_str_c("retention.bytes"), kf_str_c("1048576")},
            {kf_str_c("segment.bytes"), kf_str_c("2097152")},
        };
        /* an empty set: every config back to its default */
        assert_int_equal(alter(v, 2, "cfg-t", NULL, 0, 0), 0);
        /* validate_only: every check, no change */
        assert_int_equal(alter(v, 2, "cfg-t", three, 3, 1), 0);
        assert_int_equal(lg_topic_config_get(E.log, "cfg-t", &set, NULL), 0);
        assert_true(set.retention_ms == 0 && set.retention_bytes == 0 && set.segment_bytes == 0);
        assert_int_equal(alter(v, 2, "cfg-t", three, 3, 0), 0);
        assert_int_equal(lg_topic_config_get(E.log, "cfg-t", &set, NULL), 0);
        assert_true(set.retention_ms == 3600000 && set.retention_bytes == 1048576 &&
                    set.segment_bytes == 2097152);
        described("cfg-t", "retention.ms", "3600000", 0);
        described("cfg-t", "segment.bytes", "2097152", 0);
        /* AlterConfigs sets the whole set: what is not named reverts */
        assert_int_equal(alter1(v, "cfg-t", "cleanup.policy", "delete"), 0);
        assert_int_equal(alter1(v, "cfg-t", "retention.ms", "-1"), 0);
        assert_int_equal(lg_topic_config_get(E.log, "cfg-t", &set, NULL), 0);
        assert_true(set.retention_ms == -1 && set.retention_bytes == 0 && set.segment_bytes == 0);
        described("cfg-t", "retention.ms", "-1", 0);
        described("cfg-t", "retention.bytes", "-1", 1); /* the log's default: no limit */

        /* refused, nothing changes */
        static const char *const bad[][2] = {
            {"retention.ms", "abc"},
            {"retention.ms", "-2"},
            {"retention.ms", "0"},
            {"retention.ms", ""},
            {"retention.ms", "12 "},
            {"retention.ms", "+5"},
            {"retention.ms", "99999999999999999999"},
            {"retention.bytes", "0"},
            {"segment.bytes", "10"},
            {"segment.bytes", "1073741825"},
            {"segment.bytes", "-1"},
            {"cleanup.policy", "compact"},
            {"compression.type", "gzip"},
            {"min.insync.replicas", "2"},
            {"", "1"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            assert_int_equal(alter1(v, "cfg-t", bad[i][0], bad[i][1]), KF_ERR_INVALID_CONFIG);
        /* a value with a NUL inside is not the number before it */
        kf_AlterableConfig nul = {kf_str_c("retention.ms"),
                                  {"100\0"
                                   "5",
                                   5}};
        assert_int_equal(alter(v, 2, "cfg-t", &nul, 1, 0), KF_ERR_INVALID_CONFIG);
        kf_AlterableConfig null_value = {kf_str_c("retention.ms"), {NULL, -1}};
        assert_int_equal(alter(v, 2, "cfg-t", &null_value, 1, 0), KF_ERR_INVALID_REQUEST);
        kf_AlterableConfig twice[2] = {{kf_str_c("retention.ms"), kf_str_c("5000")},
                                       {kf_str_c("retention.ms"), kf_str_c("6000")}};
        assert_int_equal(alter(v, 2, "cfg-t", twice, 2, 0), KF_ERR_INVALID_REQUEST);
        /* one bad config refuses the whole resource */
        kf_AlterableConfig mixed[2] = {{kf_str_c("retention.ms"), kf_str_c("5000")},
                                       {kf_str_c("segment.bytes"), kf_str_c("1")}};
        assert_int_equal(alter(v, 2, "cfg-t", mixed, 2, 0), KF_ERR_INVALID_CONFIG);
        assert_int_equal(alter1(v, "no-such-topic", "retention.ms", "5000"),
                         KF_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_int_equal(alter(v, 4, "0", three, 1, 0), KF_ERR_INVALID_REQUEST); /* BROKER */
        assert_int_equal(alter(v, 99, "x", three, 1, 0), KF_ERR_INVALID_REQUEST);
        assert_int_equal(lg_topic_config_get(E.log, "cfg-t", &set, NULL), 0);
        assert_true(set.retention_ms == -1 && set.retention_bytes == 0 && set.segment_bytes == 0);
    }

    /* Several resources: each answered on its own; duplicates all refused. */
    assert_int_equal(lg_topic_create(E.log, "cfg-u", &c), 0);
    kf_AlterableConfig rm = {kf_str_c("retention.ms"), kf_str_c("7000")};
    kf_AlterConfigsResource rs[4];
    const char *names[4] = {"cfg-t", "cfg-u", "cfg-u", "no-such-topic"};
    for (int i = 0; i < 4; i++) {
        kf_AlterConfigsResource_init(&rs[i]);
        rs[i].ResourceType = 2;
        rs[i].ResourceName = kf_str_c(names[i]);
        rs[i].Configs.v = &rm;
        rs[i].Configs.n = 1;
    }
    kf_AlterConfigsRequest q;
    kf_AlterConfigsRequest_init(&q);
    q.Resources.v = rs;
    q.Resources.n = 4;
    kf_AlterConfigsResponse *r = rpc(33, 1, &q);
    assert_int_equal(r->Responses.n, 4);
    assert_int_equal(r->Responses.v[0].ErrorCode, 0);
    assert_int_equal(r->Responses.v[1].ErrorCode, KF_ERR_INVALID_REQUEST);
    assert_int_equal(r->Responses.v[2].ErrorCode, KF_ERR_INVALID_REQUEST);
    assert_int_equal(r->Responses.v[3].ErrorCode, KF_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_true(kf_str_eq(&r->Responses.v[3].ResourceName, "no-such-topic"));
    assert_int_equal(lg_topic_config_get(E.log, "cfg-u", &set, NULL), 0);
    assert_true(set.retention_ms == 0);
    lg_topic_delete(E.log, "cfg-u");

    /* IncrementalAlterConfigs: SET and DELETE one at a time, the rest kept. */
    for (int16_t v = 0; v <= api(44)->max_version; v++) {
        assert_int_equal(alter1(1, "cfg-t", "segment.bytes", "4194304"), 0);
        assert_int_equal(inc1(v, "cfg-t", 0, "retention.ms", "120000"), 0);
        assert_int_equal(inc1(v, "cfg-t", 0, "retention.bytes", "5000000"), 0);
        assert_int_equal(lg_topic_config_get(E.log, "cfg-t", &set, NULL), 0);
        assert_true(set.retention_ms == 120000 && set.retention_bytes == 5000000 &&
                    set.segment_bytes == 4194304);
        described("cfg-t", "retention.bytes", "5000000", 0);
        inc_cfg vo = {kf_str_c("retention.ms"), 0, kf_str_c("1")};
        assert_int_equal(inc_alter(v, "cfg-t", &vo, 1, 1), 0);          /* validate_only */
        assert_int_equal(inc1(v, "cfg-t", 1, "retention.ms", NULL), 0); /* DELETE */
        assert_int_equal(lg_topic_config_get(E.log, "cfg-t", &set, NULL), 0);
        assert_true(set.retention_ms == 0 && set.retention_bytes == 5000000 &&
                    set.segment_bytes == 4194304);
        described("cfg-t", "retention.ms", "604800000", 1); /* the log default, 7 days */
        assert_int_equal(inc1(v, "cfg-t", 2, "retention.ms", "1"), KF_ERR_INVALID_CONFIG);
        assert_int_equal(inc1(v, "cfg-t", 3, "retention.ms", "1"), KF_ERR_INVALID_CONFIG);
        assert_int_equal(inc1(v, "cfg-t", 4, "retention.ms", "1"), KF_ERR_INVALID_REQUEST);
        assert_int_equal(inc1(v, "cfg-t", -1, "retention.ms", "1"), KF_ERR_INVALID_REQUEST);
        assert_int_equal(inc1(v, "cfg-t", 0, "retention.ms", NULL), KF_ERR_INVALID_REQUEST);
        assert_int_equal(inc1(v, "cfg-t", 0, "retention.ms", "x"), KF_ERR_INVALID_CONFIG);
        assert_int_equal(inc1(v, "cfg-t", 1, "no.such.config", NULL), KF_ERR_INVALID_CONFIG);
        assert_int_equal(inc1(v, "no-such-topic", 0, "retention.ms", "1"),
                         KF_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        inc_cfg twice[2] = {{kf_str_c("retention.ms"), 0, kf_str_c("5000")},
                            {kf_str_c("retention.ms"), 1, {NULL, -1}}};
        assert_int_equal(inc_alter(v, "cfg-t", twice, 2, 0), KF_ERR_INVALID_REQUEST);
        assert_int_equal(lg_topic_config_get(E.log, "cfg-t", &set, NULL), 0);
        assert_true(set.retention_ms == 0 && set.retention_bytes == 5000000);
    }
    lg_topic_delete(E.log, "cfg-t");
}

/* Every truncation of an AlterConfigs v0 and an IncrementalAlterConfigs v1
 * (flexible) request, each alone in a well-formed frame, and a hostile
 * element count: that connection closes, nothing changes, the server
 * serves the next client. */
static void expect_closed(const cn_buf *frame_body_with_hdr, size_t cut)
{
    int fd = connect_other();
    unsigned char szb[4];
    cn_wr_be32(szb, (uint32_t)cut);
    assert_int_equal(send(fd, szb, 4, 0), 4);
    if (cut)
        assert_int_equal(send(fd, frame_body_with_hdr->data + 4, cut, 0), (ssize_t)cut);
    char b[64];
    ssize_t r = recv(fd, b, sizeof(b), 0);
    close(fd);
    assert_true(r <= 0); /* closed (0) or reset, never an answer */
}

static void test_alter_configs_malformed_requests_close(void **st)
{
    (void)st;
    lg_topic_config c = {1, 0, 0, 0};
    assert_int_equal(lg_topic_create(E.log, "cfg-h", &c), 0);
    kf_AlterableConfig ac = {kf_str_c("retention.ms"), kf_str_c("5000")};
    kf_AlterConfigsResource ar;
    kf_AlterConfigsResource_init(&ar);
    ar.ResourceType = 2;
    ar.ResourceName = kf_str_c("cfg-h");
    ar.Configs.v = &ac;
    ar.Configs.n = 1;
    kf_AlterConfigsRequest aq;
    kf_AlterConfigsRequest_init(&aq);
    aq.Resources.v = &ar;
    aq.Resources.n = 1;
    inc_cfg ic = {kf_str_c("retention.ms"), 0, kf_str_c("5000")};
    kf_IncrementalAlterConfigsRequest_AlterConfigsResource ir;
    kf_IncrementalAlterConfigsRequest_AlterConfigsResource_init(&ir);
    ir.ResourceType = 2;
    ir.ResourceName = kf_str_c("cfg-h");
    ir.Configs.v = &ic;
    ir.Configs.n = 1;
    kf_IncrementalAlterConfigsRequest iq;
    kf_IncrementalAlterConfigsRequest_init(&iq);
    iq.Resources.v = &ir;
    iq.Resources.n = 1;
    cn_buf f[2] = {CN_BUF_INIT, CN_BUF_INIT};
    assert_int_equal(kf_request_encode(&f[0], 33, 0, 1, "h", &aq), 0);
    assert_int_equal(kf_request_encode(&f[1], 44, 1, 1, "h", &iq), 0);
    for (int k = 0; k < 2; k++) {
        size_t full = f[k].len - 4, hdr = k == 0 ? 8 + 2 + 1 : 8 + 2 + 1 + 1;
        /* from just past the request header up to one byte short */
        for (size_t cut = hdr; cut < full; cut++)
            expect_closed(&f[k], cut);
    }
    /* a Resources count of 2^31-1 with no bytes behind it */
    cn_buf h = CN_BUF_INIT;
    kf_AlterConfigsRequest empty;
    kf_AlterConfigsRequest_init(&empty);
    assert_int_equal(kf_request_encode(&h, 33, 0, 1, "h", &empty), 0);
    /* body: count(4) + ValidateOnly(1); make the count huge */
    cn_wr_be32((unsigned char *)h.data + h.len - 5, 0x7fffffffu);
    expect_closed(&h, h.len - 4);
    cn_buf_free(&h);
    cn_buf_free(&f[0]);
    cn_buf_free(&f[1]);
    lg_topic_config set;
    assert_int_equal(lg_topic_config_get(E.log, "cfg-h", &set, NULL), 0);
    assert_true(set.retention_ms == 0);
    /* the server still answers */
    assert_int_equal(alter1(2, "cfg-h", "retention.ms", "5000"), 0);
    lg_topic_delete(E.log, "cfg-h");
}

/* ---- Backpressure: a full log queue parks the Produce, not the loop -----
 * A log whose writer is stuck (here: its index's write lock is held, as a
 * slow disk would hold a round) and whose queue limit is small.  A client
 * floods it with one Produce of many partitions: the request parks once
 * the queue is full.  Another client is still served; the flood is
 * answered, every batch stored, once the writer moves again. */

static int connect_port(int port)
{
    int fd = kft_connect(port, 30);
    return fd;
}

/* Receive the reply to corr on fd (a non-flexible response header). */
static void *recv_reply_fd(int fd, int16_t key, int16_t ver, int32_t corr)
{
    unsigned char szb[4];
    kft_recv_exact(fd, szb, 4);
    size_t n = cn_rd_be32(szb);
    unsigned char *r = kf_arena_alloc(E.a, n);
    kft_recv_exact(fd, r, n);
    assert_int_equal((int32_t)cn_rd_be32(r), corr);
    size_t off = kf_resp_hdr_version(key, ver) >= 1 ? 5 : 4;
    void *resp = NULL;
    assert_int_equal(kf_decode_response(key, ver, r + off, n - off, E.a, &resp), 0);
    return resp;
}

#define FLOOD_PARTS 8
#define FLOOD_VALUE (32u << 10)

/* One Produce v7 of FLOOD_PARTS partitions, one 32 KiB record each. */
static void send_flood(int fd, int32_t corr, cn_buf *batches)
{
    kf_PartitionProduceData pd[FLOOD_PARTS];
    char *val = malloc(FLOOD_VALUE);
    memset(val, 'f', FLOOD_VALUE);
    for (int i = 0; i < FLOOD_PARTS; i++) {
        lg_batch_builder *b;
        assert_int_equal(lg_batch_builder_new(&b, LG_COMP_NONE), 0);
        assert_int_equal(lg_batch_builder_add(b, cn_now_ms(), "k", 1, val, FLOOD_VALUE, NULL, 0),
                         0);
        cn_buf_reset(&batches[i]);
        assert_int_equal(lg_batch_builder_finish(b, &batches[i]), 0);
        lg_batch_builder_free(b);
        pd[i].Index = i;
        pd[i].Records = (kf_bytes){batches[i].data, (int32_t)batches[i].len};
    }
    free(val);
    kf_TopicProduceData td = {kf_str_c("flood"), {pd, FLOOD_PARTS}};
    kf_ProduceRequest q;
    kf_ProduceRequest_init(&q);
    q.Acks = -1;
    q.TimeoutMs = 30000;
    q.TopicData.v = &td;
    q.TopicData.n = 1;
    cn_buf out = CN_BUF_INIT;
    assert_int_equal(kf_request_encode(&out, 0, 7, corr, "flood", &q), 0);
    assert_int_equal(send(fd, out.data, out.len, 0), (ssize_t)out.len);
    cn_buf_free(&out);
}

static void check_flood_reply(int fd, int32_t corr)
{
    kf_ProduceResponse *r = recv_reply_fd(fd, 0, 7, corr);
    assert_int_equal(r->Responses.n, 1);
    assert_int_equal(r->Responses.v[0].PartitionResponses.n, FLOOD_PARTS);
    for (int i = 0; i < FLOOD_PARTS; i++) {
        assert_int_equal(r->Responses.v[0].PartitionResponses.v[i].Index, i);
        assert_int_equal(r->Responses.v[0].PartitionResponses.v[i].ErrorCode, 0);
    }
}

static void test_produce_parks_when_log_queue_full(void **st)
{
    (void)st;
    kft_srv x;
    memset(&x, 0, sizeof(x));
    x.dir = cn_test_tmpdir("kf-backpressure");
    lg_opts lo;
    lg_opts_init(&lo);
    lo.max_queued_bytes = 64u << 10; /* two partitions' batches */
    kft_start(&x, &lo, NULL, 30);
    lg_topic_config cfg = {FLOOD_PARTS, 0, 0, 0};
    assert_int_equal(lg_topic_create(x.log, "flood", &cfg), 0);
    int port = kf_server_port(x.srv);
    cn_buf batches[FLOOD_PARTS];
    for (int i = 0; i < FLOOD_PARTS; i++)
        batches[i] = (cn_buf)CN_BUF_INIT;

    /* The writer's next round waits for the index's write lock. */
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(x.log->ix.env, NULL, 0, &txn), 0);
    int flooder = connect_port(port);
    send_flood(flooder, 1, batches);
    usleep(200 * 1000); /* let the server queue what fits and park */
    int other = connect_port(port);
    kf_ApiVersionsRequest aq;
    kf_ApiVersionsRequest_init(&aq);
    cn_buf out = CN_BUF_INIT;
    assert_int_equal(kf_request_encode(&out, 18, 0, 77, "other", &aq), 0);
    assert_int_equal(send(other, out.data, out.len, 0), (ssize_t)out.len);
    cn_buf_free(&out);
    int other_answered = readable_within(other, 10000);
    int flood_early = readable_within(flooder, 200);
    mdb_txn_abort(txn); /* release first: a failed assert must not leave the writer stuck */
    assert_true(other_answered);
    assert_false(flood_early);
    kf_ApiVersionsResponse *ar = recv_reply_fd(other, 18, 0, 77);
    assert_int_equal(ar->ErrorCode, 0);
    check_flood_reply(flooder, 1);

    /* Keep flooding with the writer free: requests park and resume over
     * and over, and every batch lands once, in order per partition. */
    for (int32_t corr = 2; corr <= 6; corr++) {
        send_flood(flooder, corr, batches);
        check_flood_reply(flooder, corr);
    }
    for (int i = 0; i < FLOOD_PARTS; i++) {
        lg_partition_info pi;
        assert_int_equal(lg_partition_info_get(x.log, "flood", i, &pi), 0);
        assert_int_equal(pi.log_end_offset, 6);
    }
    close(flooder);
    close(other);
    for (int i = 0; i < FLOOD_PARTS; i++)
        cn_buf_free(&batches[i]);
    kft_stop(&x);
    cn_test_rmrf(x.dir);
    free(x.dir);
}

/* ---- pipelining ------------------------------------------------------------ */

static void encode_produce(cn_buf *wire, int32_t corr, const char *topic, int32_t part,
                           const cn_buf *batch)
{
    kf_PartitionProduceData pd = {part, {batch->data, (int32_t)batch->len}};
    kf_TopicProduceData td = {kf_str_c(topic), {&pd, 1}};
    kf_ProduceRequest q;
    kf_ProduceRequest_init(&q);
    q.Acks = -1;
    q.TimeoutMs = 30000;
    q.TopicData.v = &td;
    q.TopicData.n = 1;
    assert_int_equal(kf_request_encode(wire, 0, 7, corr, "pipe", &q), 0);
}

/* Bytes the log has taken from the server: written to the partitions'
 * segment files (the first segment of each) or queued for its writer. */
static uint64_t log_taken(int parts)
{
    uint64_t n = 0;
    for (int i = 0; i < parts; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/topics/pipe/%d/%020d.log", E.dir, i, 0);
        struct stat sb;
        if (stat(path, &sb) == 0)
            n += (uint64_t)sb.st_size;
    }
    pthread_mutex_lock(&E.log->qmu);
    n += E.log->queued_bytes;
    pthread_mutex_unlock(&E.log->qmu);
    return n;
}

static void test_produce_pipelined_replies_in_request_order(void **st)
{
    (void)st;
    lg_topic_config cfg = {2, 0, 0, 0};
    assert_int_equal(lg_topic_create(E.log, "pipe", &cfg), 0);
    cn_buf b[4], wire = CN_BUF_INIT;
    const int32_t part[4] = {0, 1, 0, 1};
    for (int i = 0; i < 4; i++) {
        b[i] = (cn_buf)CN_BUF_INIT;
        build_batch(&b[i], 2, "pipe");
    }
    /* 101-103 Produce, 104 ApiVersions, 105 Produce, in one write */
    for (int i = 0; i < 3; i++)
        encode_produce(&wire, 101 + i, "pipe", part[i], &b[i]);
    kf_ApiVersionsRequest aq;
    kf_ApiVersionsRequest_init(&aq);
    assert_int_equal(kf_request_encode(&wire, 18, 0, 104, "pipe", &aq), 0);
    encode_produce(&wire, 105, "pipe", part[3], &b[3]);
    uint64_t before = log_taken(2), three = b[0].len + b[1].len + b[2].len;

    /* The writer's first round cannot commit: its index write lock is ours. */
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(E.log->ix.env, NULL, 0, &txn), 0);
    int fd = connect_port(kf_server_port(E.srv));
    assert_int_equal(send(fd, wire.data, wire.len, 0), (ssize_t)wire.len);
    for (int i = 0; i < 3000 && log_taken(2) - before < three; i++) /* bounded wait */
        usleep(10000);
    uint64_t taken = log_taken(2) - before;
    int early = readable_within(fd, 300);
    uint64_t taken_later = log_taken(2) - before; /* 105 waits behind 104 */
    mdb_txn_abort(txn); /* release before asserting: the writer must not stay stuck */
    assert_int_equal(taken, three);
    assert_int_equal(taken_later, three);
    assert_false(early);

    int64_t next[2] = {0, 0};
    for (int i = 0; i < 5; i++) {
        int32_t corr = 101 + i;
        if (i == 3) {
            kf_ApiVersionsResponse *ar = recv_reply_fd(fd, 18, 0, corr);
            assert_int_equal(ar->ErrorCode, 0);
            continue;
        }
        int32_t pn = part[i < 3 ? i : 3];
        kf_ProduceResponse *r = recv_reply_fd(fd, 0, 7, corr);
        assert_int_equal(r->Responses.n, 1);
        assert_int_equal(r->Responses.v[0].PartitionResponses.n, 1);
        kf_PartitionProduceResponse *pr = &r->Responses.v[0].PartitionResponses.v[0];
        assert_int_equal(pr->ErrorCode, 0);
        assert_int_equal(pr->Index, pn);
        assert_int_equal(pr->BaseOffset, next[pn]); /* stored in request order */
        next[pn] += 2;
    }
    close(fd);
    cn_buf_free(&wire);
    for (int i = 0; i < 4; i++)
        cn_buf_free(&b[i]);
}

static void test_parked_fetch_wakes_only_for_its_partitions(void **st)
{
    (void)st;
    lg_topic_config cfg = {2, 0, 0, 0};
    assert_int_equal(lg_topic_create(E.log, "wake", &cfg), 0);
    cn_buf b = CN_BUF_INIT, wire = CN_BUF_INIT;
    build_batch(&b, 1, "wake");
    /* A long poll on partition 0 at its end, on a connection of its own;
     * MaxWaitMs far beyond any wait below, so only a wake can answer it. */
    kf_FetchPartition fp;
    kf_FetchPartition_init(&fp);
    fp.Partition = 0;
    fp.FetchOffset = 0;
    fp.PartitionMaxBytes = 1 << 20;
    kf_FetchTopic ft = {kf_str_c("wake"), {&fp, 1}};
    kf_FetchRequest q;
    kf_FetchRequest_init(&q);
    q.MaxWaitMs = 600000;
    q.MinBytes = 1;
    q.Topics.v = &ft;
    q.Topics.n = 1;
    assert_int_equal(kf_request_encode(&wire, 1, 11, 301, "wake", &q), 0);
    int fd = connect_port(kf_server_port(E.srv));
    uint64_t r0 = atomic_load(&E.srv->fetch_rechecks), p0 = atomic_load(&E.srv->fetch_parks);
    assert_int_equal(send(fd, wire.data, wire.len, 0), (ssize_t)wire.len);
    for (int i = 0; i < 3000 && atomic_load(&E.srv->fetch_parks) == p0; i++) /* bounded wait */
        usleep(10000);
    assert_int_equal(atomic_load(&E.srv->fetch_parks), p0 + 1);
    /* Appends to partition 1 wake the server each time; the Fetch stays
     * parked and is not evaluated again. */
    for (int i = 0; i < 20; i++) {
        int64_t base;
        assert_int_equal(produce(7, "wake", 1, &b, &base), 0);
        assert_int_equal(base, i);
    }
    int early = readable_within(fd, 200);
    uint64_t r1 = atomic_load(&E.srv->fetch_rechecks);
    int64_t base;
    assert_int_equal(produce(7, "wake", 0, &b, &base), 0);
    int woken = readable_within(fd, 30000);
    uint64_t r2 = atomic_load(&E.srv->fetch_rechecks);
    assert_false(early);
    assert_int_equal(r1, r0); /* twenty wakes, no evaluation */
    assert_true(woken);
    assert_int_equal(r2, r0 + 1);
    kf_FetchResponse *r = recv_reply_fd(fd, 1, 11, 301);
    assert_int_equal(r->Responses.v[0].Partitions.v[0].ErrorCode, 0);
    assert_true(r->Responses.v[0].Partitions.v[0].Records.len > 0);
    close(fd);
    cn_buf_free(&b);
    cn_buf_free(&wire);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_versions_all),
        cmocka_unit_test(test_metadata_all_versions),
        cmocka_unit_test(test_produce_fetch_all_versions),
        cmocka_unit_test(test_produce_partition_batches_stored_all_or_none),
        cmocka_unit_test(test_list_offsets_all_versions),
        cmocka_unit_test(test_topic_admin_all_versions),
        cmocka_unit_test(test_create_topics_refuses_segment_bytes_over_one_gib),
        cmocka_unit_test(test_producer_ids_and_coordinator),
        cmocka_unit_test(test_offsets_and_groups_all_versions),
        cmocka_unit_test(test_old_produce_fetch_versions_get_unsupported_version),
        cmocka_unit_test(test_requests_sent_before_close_are_served),
        cmocka_unit_test(test_offset_commit_does_not_stall_other_clients),
        cmocka_unit_test(test_produce_parks_when_log_queue_full),
        cmocka_unit_test(test_produce_pipelined_replies_in_request_order),
        cmocka_unit_test(test_parked_fetch_wakes_only_for_its_partitions),
        cmocka_unit_test(test_alter_configs_all_versions),
        cmocka_unit_test(test_alter_configs_malformed_requests_close),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
