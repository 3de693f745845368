/* SPDX-License-Identifier: MIT */
/*
 * test_kf_txn.c — the transaction APIs in-process (a real lg_log and
 * kf_server on an event-loop thread, loopback TCP), driven with cairn's own
 * codec over every advertised version:
 *  - InitProducerId with a transactional id (new id, epoch bumps, KIP-360
 *    checks, timeouts out of range, bad ids), AddPartitionsToTxn v0-3,
 *    transactional Produce, EndTxn v0-3 commit and abort, then Fetch v4-11
 *    read_committed (last stable offset, aborted-transaction list, nothing
 *    above the LSO) and read_uncommitted, ListOffsets read_committed;
 *  - AddOffsetsToTxn v0-3 + TxnOffsetCommit v0-3: offsets committed with
 *    the transaction, dropped with an abort;
 *  - fencing: a second InitProducerId aborts the open transaction under a
 *    new epoch; the old epoch gets PRODUCER_FENCED / INVALID_PRODUCER_EPOCH;
 *  - hostile and wrong requests: unknown transactional or producer ids,
 *    wrong epochs, unknown partitions, EndTxn without a transaction, offsets
 *    for a group not added, markers and transactional batches a client may
 *    not write, every truncation of every new request (the connection
 *    closes, the server serves on);
 *  - a transaction left open is aborted by its timeout;
 *  - DescribeTransactions v0 and ListTransactions v0 (filters);
 *  - the coordinator's state survives a restart of server and log: an open
 *    transaction is still open (and can be committed), a Prepare* record is
 *    completed;
 *  - its stored records, truncated at every byte and with every bit flipped,
 *    decode or are refused as damaged, never read out of bounds.
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
#include "kf_testsrv.h"
#include "lg.h"
#include "lg_batch.h"
#include "lg_testutil.h"

/* kf__txn_decode, the coordinator's record decoder (internal header) */
typedef struct kf_txn kf_txn;
int kf__txn_decode(const char *id, const void *val, size_t n, kf_txn **out);
void kf__txn_free_for_test(kf_txn *t);

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static kft_srv E;

static void start(void)
{
    kft_start(&E, NULL, NULL, 20);
}

static void stop(void)
{
    kft_stop(&E);
}

static int setup(void **st)
{
    (void)st;
    memset(&E, 0, sizeof(E));
    E.dir = cn_test_tmpdir("kf-txn");
    assert_int_equal(kf_arena_new(&E.a, 64u << 20), 0);
    start();
    lg_topic_config cfg = {2, 0, 0, 0};
    assert_int_equal(lg_topic_create(E.log, "t", &cfg), 0);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    stop();
    kf_arena_free(E.a);
    cn_test_rmrf(E.dir);
    free(E.dir);
    return 0;
}

/* Send one request and decode its reply (in E.a). */
static void *rpc(int16_t key, int16_t ver, const void *body)
{
    return kft_rpc(&E, key, ver, body);
}

static int16_t maxv(int16_t key)
{
    const kf_api_info *a = kf_api_find(key);
    assert_non_null(a);
    return a->max_version;
}

/* ---- requests ---------------------------------------------------------- */

static kf_InitProducerIdResponse *init_txn(int16_t v, const char *tid, int32_t timeout_ms)
{
    kf_InitProducerIdRequest q;
    kf_InitProducerIdRequest_init(&q);
    q.TransactionalId = kf_str_c(tid);
    q.TransactionTimeoutMs = timeout_ms;
    return rpc(22, v, &q);
}

static int16_t add_parts(int16_t v, const char *tid, int64_t pid, int16_t epoch, const char *topic,
                         const int32_t *parts, int32_t n, int16_t *errs)
{
    kf_AddPartitionsToTxnTopic tp = {kf_str_c(topic), {(int32_t *)parts, n}};
    kf_AddPartitionsToTxnRequest q;
    kf_AddPartitionsToTxnRequest_init(&q);
    q.V3AndBelowTransactionalId = kf_str_c(tid);
    q.V3AndBelowProducerId = pid;
    q.V3AndBelowProducerEpoch = epoch;
    q.V3AndBelowTopics.v = &tp;
    q.V3AndBelowTopics.n = 1;
    kf_AddPartitionsToTxnResponse *r = rpc(24, v, &q);
    assert_int_equal(r->ResultsByTopicV3AndBelow.n, 1);
    assert_int_equal(r->ResultsByTopicV3AndBelow.v[0].ResultsByPartition.n, n);
    for (int32_t i = 0; i < n; i++) {
        kf_AddPartitionsToTxnPartitionResult *pr =
            &r->ResultsByTopicV3AndBelow.v[0].ResultsByPartition.v[i];
        assert_int_equal(pr->PartitionIndex, parts[i]);
        if (errs)
            errs[i] = pr->PartitionErrorCode;
    }
    return r->ResultsByTopicV3AndBelow.v[0].ResultsByPartition.v[0].PartitionErrorCode;
}

static int16_t end_txn(int16_t v, const char *tid, int64_t pid, int16_t epoch, int commit)
{
    kf_EndTxnRequest q;
    kf_EndTxnRequest_init(&q);
    q.TransactionalId = kf_str_c(tid);
    q.ProducerId = pid;
    q.ProducerEpoch = epoch;
    q.Committed = commit;
    kf_EndTxnResponse *r = rpc(26, v, &q);
    return r->ErrorCode;
}

static int16_t add_offsets(int16_t v, const char *tid, int64_t pid, int16_t epoch,
                           const char *group)
{
    kf_AddOffsetsToTxnRequest q;
    kf_AddOffsetsToTxnRequest_init(&q);
    q.TransactionalId = kf_str_c(tid);
    q.ProducerId = pid;
    q.ProducerEpoch = epoch;
    q.GroupId = kf_str_c(group);
    kf_AddOffsetsToTxnResponse *r = rpc(25, v, &q);
    return r->ErrorCode;
}

static int16_t txn_commit_offset(int16_t v, const char *tid, int64_t pid, int16_t epoch,
                                 const char *group, int32_t part, int64_t offset)
{
    kf_TxnOffsetCommitRequestPartition pp;
    memset(&pp, 0, sizeof(pp));
    pp.PartitionIndex = part;
    pp.CommittedOffset = offset;
    pp.CommittedLeaderEpoch = -1;
    pp.CommittedMetadata = kf_str_c("m");
    kf_TxnOffsetCommitRequestTopic tp = {kf_str_c("t"), {&pp, 1}};
    kf_TxnOffsetCommitRequest q;
    kf_TxnOffsetCommitRequest_init(&q);
    q.TransactionalId = kf_str_c(tid);
    q.GroupId = kf_str_c(group);
    q.ProducerId = pid;
    q.ProducerEpoch = epoch;
    q.MemberId = kf_str_c("");
    q.Topics.v = &tp;
    q.Topics.n = 1;
    kf_TxnOffsetCommitResponse *r = rpc(28, v, &q);
    assert_int_equal(r->Topics.n, 1);
    assert_int_equal(r->Topics.v[0].Partitions.n, 1);
    return r->Topics.v[0].Partitions.v[0].ErrorCode;
}

/* A transactional batch of 2 records (attributes: transactional, or what
 * attrs says) from (pid, epoch) at seq. */
static void txn_batch(cn_buf *b, int64_t pid, int16_t epoch, int32_t seq, uint16_t attrs)
{
    cn_buf_reset(b);
    lgt_batch(b, (uint32_t)seq, 2, 8, cn_now_ms(), pid, epoch, seq);
    lgt_batch_set_attributes(b->data, b->len, attrs);
}

static int16_t produce(const char *tid, int32_t part, const cn_buf *batch, int64_t *base)
{
    kf_PartitionProduceData pd = {part, {batch->data, (int32_t)batch->len}};
    kf_TopicProduceData td = {kf_str_c("t"), {&pd, 1}};
    kf_ProduceRequest q;
    kf_ProduceRequest_init(&q);
    q.TransactionalId = tid ? kf_str_c(tid) : (kf_str){NULL, -1};
    q.Acks = -1;
    q.TimeoutMs = 10000;
    q.TopicData.v = &td;
    q.TopicData.n = 1;
    kf_ProduceResponse *r = rpc(0, 7, &q);
    if (base)
        *base = r->Responses.v[0].PartitionResponses.v[0].BaseOffset;
    return r->Responses.v[0].PartitionResponses.v[0].ErrorCode;
}

static kf_PartitionData *fetch(int16_t v, int32_t part, int64_t off, int8_t isolation)
{
    kf_FetchPartition fp;
    kf_FetchPartition_init(&fp);
    fp.Partition = part;
    fp.FetchOffset = off;
    fp.PartitionMaxBytes = 1 << 20;
    kf_FetchTopic ft = {kf_str_c("t"), {&fp, 1}};
    kf_FetchRequest q;
    kf_FetchRequest_init(&q);
    q.MaxWaitMs = 0;
    q.MinBytes = 0;
    q.MaxBytes = 1 << 24;
    q.IsolationLevel = isolation;
    q.Topics.v = &ft;
    q.Topics.n = 1;
    kf_FetchResponse *r = rpc(1, v, &q);
    return &r->Responses.v[0].Partitions.v[0];
}

/* The last offset of the records a Fetch returned (-1: none). */
static int64_t last_offset(const kf_PartitionData *d)
{
    int64_t last = -1;
    const unsigned char *p = d->Records.ptr;
    size_t n = d->Records.len > 0 ? (size_t)d->Records.len : 0, at = 0;
    while (n - at >= LG_BATCH_HEADER_LEN) {
        lg_batch_hdr h;
        assert_int_equal(lg_batch_parse_hdr(p + at, n - at, &h), 0);
        last = h.base_offset + h.last_offset_delta;
        at += (size_t)h.batch_length + LG_BATCH_LOG_OVERHEAD;
    }
    return last;
}

static int64_t list_latest(int16_t v, int32_t part, int8_t isolation)
{
    kf_ListOffsetsPartition lp;
    kf_ListOffsetsPartition_init(&lp);
    lp.PartitionIndex = part;
    lp.Timestamp = -1;
    lp.MaxNumOffsets = 1;
    kf_ListOffsetsTopic lt = {kf_str_c("t"), {&lp, 1}};
    kf_ListOffsetsRequest q;
    kf_ListOffsetsRequest_init(&q);
    q.ReplicaId = -1;
    q.IsolationLevel = isolation;
    q.Topics.v = &lt;
    q.Topics.n = 1;
    kf_ListOffsetsResponse *r = rpc(2, v, &q);
    kf_ListOffsetsPartitionResponse *o = &r->Topics.v[0].Partitions.v[0];
    assert_int_equal(o->ErrorCode, 0);
    return v == 0 ? o->OldStyleOffsets.v[0] : o->Offset;
}

static kf_TransactionState *describe(const char *tid)
{
    kf_str id = kf_str_c(tid);
    kf_DescribeTransactionsRequest q;
    kf_DescribeTransactionsRequest_init(&q);
    q.TransactionalIds.v = &id;
    q.TransactionalIds.n = 1;
    kf_DescribeTransactionsResponse *r = rpc(65, 0, &q);
    assert_int_equal(r->TransactionStates.n, 1);
    return &r->TransactionStates.v[0];
}

/* ---- tests --------------------------------------------------------------- */

/* Over every version of the transaction APIs: a committed and an aborted
 * transaction on partition 0, seen by read_committed and
 * read_uncommitted Fetches of every version. */
static void test_commit_and_abort_every_version(void **st)
{
    (void)st;
    cn_buf b = CN_BUF_INIT;
    const int32_t p0 = 0;
    for (int16_t v = 0; v <= maxv(26); v++) {
        char tid[32];
        snprintf(tid, sizeof(tid), "tx-v%d", v);
        kf_InitProducerIdResponse *ir = init_txn(v <= maxv(22) ? v : maxv(22), tid, 60000);
        assert_int_equal(ir->ErrorCode, 0);
        int64_t pid = ir->ProducerId;
        int16_t ep = ir->ProducerEpoch;
        assert_int_equal(ep, 0);
        /* committed: 2 records + marker */
        assert_int_equal(add_parts(v, tid, pid, ep, "t", &p0, 1, NULL), 0);
        txn_batch(&b, pid, ep, 0, LG_ATTR_TRANSACTIONAL);
        int64_t c_off;
        assert_int_equal(produce(tid, 0, &b, &c_off), 0);
        assert_int_equal(describe(tid)->ErrorCode, 0);
        assert_true(kf_str_eq(&describe(tid)->TransactionState, "Ongoing"));
        /* open: read_committed stops before it, ListOffsets says so */
        for (int16_t fv = 4; fv <= maxv(1); fv++) {
            kf_PartitionData *d = fetch(fv, 0, c_off, 1);
            assert_int_equal(d->ErrorCode, 0);
            assert_int_equal(d->Records.len, 0);
            assert_int_equal(d->LastStableOffset, c_off);
            assert_int_equal(d->HighWatermark, c_off + 2);
            d = fetch(fv, 0, c_off, 0);
            assert_int_equal(last_offset(d), c_off + 1);
        }
        for (int16_t lv = 2; lv <= maxv(2); lv++) {
            assert_int_equal(list_latest(lv, 0, 1), c_off);
            assert_int_equal(list_latest(lv, 0, 0), c_off + 2);
        }
        assert_int_equal(end_txn(v, tid, pid, ep, 1), 0);
        assert_int_equal(end_txn(v, tid, pid, ep, 1), 0); /* a retry: answered the same */
        assert_int_equal(end_txn(v, tid, pid, ep, 0), KF_ERR_INVALID_TXN_STATE);
        /* aborted: 2 records + marker */
        assert_int_equal(add_parts(v, tid, pid, ep, "t", &p0, 1, NULL), 0);
        txn_batch(&b, pid, ep, 2, LG_ATTR_TRANSACTIONAL);
        int64_t a_off;
        assert_int_equal(produce(tid, 0, &b, &a_off), 0);
        assert_int_equal(a_off, c_off + 3);
        assert_int_equal(end_txn(v, tid, pid, ep, 0), 0);
        assert_true(kf_str_eq(&describe(tid)->TransactionState, "CompleteAbort"));
        for (int16_t fv = 4; fv <= maxv(1); fv++) {
            kf_PartitionData *d = fetch(fv, 0, c_off, 1);
            assert_int_equal(d->ErrorCode, 0);
            assert_int_equal(d->LastStableOffset, a_off + 3);
            assert_int_equal(d->HighWatermark, a_off + 3);
            assert_int_equal(last_offset(d), a_off + 2); /* the records and both markers */
            assert_int_equal(d->AbortedTransactions.n, 1);
            assert_int_equal(d->AbortedTransactions.v[0].ProducerId, pid);
            assert_int_equal(d->AbortedTransactions.v[0].FirstOffset, a_off);
            d = fetch(fv, 0, c_off, 0); /* read_uncommitted: no list */
            assert_true(d->AbortedTransactions.n <= 0);
        }
    }
    cn_buf_free(&b);
}

static void test_offsets_commit_with_the_transaction(void **st)
{
    (void)st;
    for (int16_t v = 0; v <= maxv(28); v++) {
        char tid[32], group[32];
        snprintf(tid, sizeof(tid), "tx-off-%d", v);
        snprintf(group, sizeof(group), "g-%d", v);
        kf_InitProducerIdResponse *ir = init_txn(0, tid, 60000);
        int64_t pid = ir->ProducerId;
        /* offsets for a group the transaction did not add */
        assert_int_equal(txn_commit_offset(v, tid, pid, 0, group, 0, 5), KF_ERR_INVALID_TXN_STATE);
        assert_int_equal(add_offsets(v, tid, pid, 0, group), 0);
        assert_int_equal(txn_commit_offset(v, tid, pid, 0, group, 0, 5), 0);
        assert_int_equal(txn_commit_offset(v, tid, pid, 0, group, 9, 5),
                         KF_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_int_equal(txn_commit_offset(v, tid, pid, 1, group, 0, 5),
                         KF_ERR_INVALID_PRODUCER_EPOCH);
        int64_t off = -1;
        /* not committed before the transaction ends */
        assert_int_equal(lg_group_offset_fetch(E.log, group, "t", 0, &off, NULL, 0), CN_ENOENT);
        assert_int_equal(end_txn(v, tid, pid, 0, 0), 0); /* abort: dropped */
        assert_int_equal(lg_group_offset_fetch(E.log, group, "t", 0, &off, NULL, 0), CN_ENOENT);
        assert_int_equal(add_offsets(v, tid, pid, 0, group), 0);
        assert_int_equal(txn_commit_offset(v, tid, pid, 0, group, 0, 7), 0);
        assert_int_equal(end_txn(v, tid, pid, 0, 1), 0);
        assert_int_equal(lg_group_offset_fetch(E.log, group, "t", 0, &off, NULL, 0), 0);
        assert_int_equal(off, 7);
    }
}

static void test_fencing_and_wrong_producers(void **st)
{
    (void)st;
    cn_buf b = CN_BUF_INIT;
    const int32_t parts[2] = {0, 1};
    kf_InitProducerIdResponse *ir = init_txn(4, "tx-f", 60000);
    int64_t pid = ir->ProducerId;
    assert_int_equal(add_parts(3, "tx-f", pid, 0, "t", parts, 2, NULL), 0);
    txn_batch(&b, pid, 0, 0, LG_ATTR_TRANSACTIONAL);
    int64_t zoff;
    assert_int_equal(produce("tx-f", 1, &b, &zoff), 0);
    /* the successor: the open transaction is aborted under epoch 1 */
    ir = init_txn(4, "tx-f", 60000);
    assert_int_equal(ir->ErrorCode, 0);
    assert_int_equal(ir->ProducerId, pid);
    assert_int_equal(ir->ProducerEpoch, 1);
    kf_PartitionData *d = fetch(11, 1, zoff, 1);
    assert_int_equal(d->AbortedTransactions.n, 1);
    assert_int_equal(d->LastStableOffset, zoff + 3);
    /* the zombie (epoch 0) */
    for (int16_t v = 0; v <= maxv(24); v++)
        assert_int_equal(add_parts(v, "tx-f", pid, 0, "t", parts, 1, NULL),
                         v >= 2 ? KF_ERR_PRODUCER_FENCED : KF_ERR_INVALID_PRODUCER_EPOCH);
    for (int16_t v = 0; v <= maxv(26); v++)
        assert_int_equal(end_txn(v, "tx-f", pid, 0, 1),
                         v >= 2 ? KF_ERR_PRODUCER_FENCED : KF_ERR_INVALID_PRODUCER_EPOCH);
    txn_batch(&b, pid, 0, 1, LG_ATTR_TRANSACTIONAL);
    assert_int_equal(produce("tx-f", 1, &b, NULL), KF_ERR_INVALID_PRODUCER_EPOCH);
    /* a newer epoch than handed out, another producer id, an unknown id */
    assert_int_equal(add_parts(3, "tx-f", pid, 5, "t", parts, 1, NULL),
                     KF_ERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(add_parts(3, "tx-f", pid + 1, 1, "t", parts, 1, NULL),
                     KF_ERR_INVALID_PRODUCER_ID_MAPPING);
    assert_int_equal(add_parts(3, "nobody", pid, 1, "t", parts, 1, NULL),
                     KF_ERR_INVALID_PRODUCER_ID_MAPPING);
    assert_int_equal(end_txn(3, "nobody", pid, 1, 1), KF_ERR_INVALID_PRODUCER_ID_MAPPING);
    assert_int_equal(add_offsets(3, "nobody", pid, 1, "g"), KF_ERR_INVALID_PRODUCER_ID_MAPPING);
    /* KIP-360: bumping with the wrong current epoch */
    kf_InitProducerIdRequest q;
    kf_InitProducerIdRequest_init(&q);
    q.TransactionalId = kf_str_c("tx-f");
    q.TransactionTimeoutMs = 60000;
    q.ProducerId = pid;
    q.ProducerEpoch = 0;
    assert_int_equal(((kf_InitProducerIdResponse *)rpc(22, 4, &q))->ErrorCode,
                     KF_ERR_PRODUCER_FENCED);
    assert_int_equal(((kf_InitProducerIdResponse *)rpc(22, 3, &q))->ErrorCode,
                     KF_ERR_INVALID_PRODUCER_EPOCH);
    q.ProducerEpoch = 1; /* right: bumped to 2 */
    kf_InitProducerIdResponse *r2 = rpc(22, 4, &q);
    assert_int_equal(r2->ErrorCode, 0);
    assert_int_equal(r2->ProducerEpoch, 2);
    cn_buf_free(&b);
}

static void test_wrong_requests(void **st)
{
    (void)st;
    cn_buf b = CN_BUF_INIT;
    const int32_t parts[3] = {0, 7, 1};
    /* InitProducerId: timeouts out of range, ids cairn does not take */
    assert_int_equal(init_txn(4, "tx-w", 0)->ErrorCode, KF_ERR_INVALID_TRANSACTION_TIMEOUT);
    assert_int_equal(init_txn(4, "tx-w", -5)->ErrorCode, KF_ERR_INVALID_TRANSACTION_TIMEOUT);
    assert_int_equal(init_txn(4, "tx-w", 15 * 60 * 1000 + 1)->ErrorCode,
                     KF_ERR_INVALID_TRANSACTION_TIMEOUT);
    assert_int_equal(init_txn(4, "", 1000)->ErrorCode, KF_ERR_INVALID_REQUEST);
    char big[300];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_int_equal(init_txn(4, big, 1000)->ErrorCode, KF_ERR_INVALID_REQUEST);
    kf_InitProducerIdResponse *ir = init_txn(4, "tx-w", 60000);
    assert_int_equal(ir->ErrorCode, 0);
    int64_t pid = ir->ProducerId;
    /* EndTxn without a transaction */
    for (int16_t v = 0; v <= maxv(26); v++) {
        assert_int_equal(end_txn(v, "tx-w", pid, 0, 1), KF_ERR_INVALID_TXN_STATE);
        assert_int_equal(end_txn(v, "tx-w", pid, 0, 0), KF_ERR_INVALID_TXN_STATE);
    }
    /* an unknown partition: it gets UNKNOWN_TOPIC_OR_PARTITION, the
     * others OPERATION_NOT_ATTEMPTED, and nothing is added */
    int16_t errs[3];
    add_parts(1, "tx-w", pid, 0, "t", parts, 3, errs);
    assert_int_equal(errs[0], KF_ERR_OPERATION_NOT_ATTEMPTED);
    assert_int_equal(errs[1], KF_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(errs[2], KF_ERR_OPERATION_NOT_ATTEMPTED);
    assert_int_equal(add_parts(1, "tx-w", pid, 0, "nope", parts, 1, NULL),
                     KF_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_true(kf_str_eq(&describe("tx-w")->TransactionState, "Empty"));
    /* Produce: a transactional batch to a partition not added */
    assert_int_equal(add_parts(1, "tx-w", pid, 0, "t", parts, 1, NULL), 0);
    txn_batch(&b, pid, 0, 0, LG_ATTR_TRANSACTIONAL);
    assert_int_equal(produce("tx-w", 1, &b, NULL), KF_ERR_INVALID_TXN_STATE);
    /* ... without its transactional id, or from another producer id */
    assert_int_equal(produce(NULL, 0, &b, NULL), KF_ERR_INVALID_TXN_STATE);
    txn_batch(&b, pid + 100, 0, 0, LG_ATTR_TRANSACTIONAL);
    assert_int_equal(produce("tx-w", 0, &b, NULL), KF_ERR_INVALID_PRODUCER_ID_MAPPING);
    /* a marker from a client, with or without a transactional id */
    txn_batch(&b, pid, 0, 0, LG_ATTR_TRANSACTIONAL | LG_ATTR_CONTROL);
    assert_int_equal(produce("tx-w", 0, &b, NULL), KF_ERR_INVALID_RECORD);
    assert_int_equal(produce(NULL, 0, &b, NULL), KF_ERR_INVALID_RECORD);
    /* nothing of it was stored */
    kf_PartitionData *d = fetch(11, 0, 0, 0);
    assert_int_equal(d->HighWatermark, 0);
    assert_int_equal(d->LastStableOffset, 0);
    /* an invalid group id */
    assert_int_equal(add_offsets(3, "tx-w", pid, 0, ""), KF_ERR_INVALID_GROUP_ID);
    /* a Prepare* state answers CONCURRENT_TRANSACTIONS: covered by the
     * integration test (librdkafka retries it); here the plain abort */
    assert_int_equal(end_txn(3, "tx-w", pid, 0, 0), 0);
    cn_buf_free(&b);
}

static void test_describe_and_list(void **st)
{
    (void)st;
    const int32_t parts[2] = {1, 0};
    int64_t pa = init_txn(4, "tx-a", 30000)->ProducerId;
    int64_t pb = init_txn(4, "tx-b", 30000)->ProducerId;
    assert_int_equal(add_parts(3, "tx-a", pa, 0, "t", parts, 2, NULL), 0);
    kf_TransactionState *s = describe("tx-a");
    assert_int_equal(s->ErrorCode, 0);
    assert_true(kf_str_eq(&s->TransactionState, "Ongoing"));
    assert_int_equal(s->ProducerId, pa);
    assert_int_equal(s->TransactionTimeoutMs, 30000);
    assert_true(s->TransactionStartTimeMs > 0);
    assert_int_equal(s->Topics.n, 1);
    assert_int_equal(s->Topics.v[0].Partitions.n, 2);
    assert_int_equal(describe("nobody")->ErrorCode, KF_ERR_TRANSACTIONAL_ID_NOT_FOUND);
    kf_str filt[2] = {kf_str_c("Ongoing"), kf_str_c("Bogus")};
    kf_ListTransactionsRequest q;
    kf_ListTransactionsRequest_init(&q);
    kf_ListTransactionsResponse *r = rpc(66, 0, &q);
    assert_int_equal(r->ErrorCode, 0);
    assert_int_equal(r->TransactionStates.n, 2);
    q.StateFilters.v = filt;
    q.StateFilters.n = 2;
    r = rpc(66, 0, &q);
    assert_int_equal(r->TransactionStates.n, 1);
    assert_true(kf_str_eq(&r->TransactionStates.v[0].TransactionalId, "tx-a"));
    assert_int_equal(r->UnknownStateFilters.n, 1);
    assert_true(kf_str_eq(&r->UnknownStateFilters.v[0], "Bogus"));
    int64_t pf = pb;
    q.StateFilters.n = 0;
    q.ProducerIdFilters.v = &pf;
    q.ProducerIdFilters.n = 1;
    r = rpc(66, 0, &q);
    assert_int_equal(r->TransactionStates.n, 1);
    assert_true(kf_str_eq(&r->TransactionStates.v[0].TransactionState, "Empty"));
    assert_int_equal(end_txn(3, "tx-a", pa, 0, 0), 0);
}

static void test_timeout_aborts_abandoned_transaction(void **st)
{
    (void)st;
    cn_buf b = CN_BUF_INIT;
    const int32_t p0 = 0;
    kf_InitProducerIdResponse *ir = init_txn(4, "tx-t", 1000);
    int64_t pid = ir->ProducerId;
    assert_int_equal(add_parts(3, "tx-t", pid, 0, "t", &p0, 1, NULL), 0);
    txn_batch(&b, pid, 0, 0, LG_ATTR_TRANSACTIONAL);
    int64_t off;
    assert_int_equal(produce("tx-t", 0, &b, &off), 0);
    assert_int_equal(fetch(11, 0, 0, 1)->LastStableOffset, off);
    /* The tick aborts it once its 1 s are up (generous bound: loaded CI). */
    int64_t deadline = cn_now_ms() + 60000;
    while (cn_now_ms() < deadline &&
           !kf_str_eq(&describe("tx-t")->TransactionState, "CompleteAbort"))
        usleep(50 * 1000);
    kf_TransactionState *s = describe("tx-t");
    assert_true(kf_str_eq(&s->TransactionState, "CompleteAbort"));
    assert_int_equal(s->ProducerEpoch, 1); /* bumped: the producer is fenced */
    kf_PartitionData *d = fetch(11, 0, 0, 1);
    assert_int_equal(d->LastStableOffset, off + 3);
    assert_int_equal(d->AbortedTransactions.n, 1);
    assert_int_equal(end_txn(3, "tx-t", pid, 0, 1), KF_ERR_PRODUCER_FENCED);
    cn_buf_free(&b);
}

static void test_state_survives_restart(void **st)
{
    (void)st;
    cn_buf b = CN_BUF_INIT;
    const int32_t p0 = 0;
    kf_InitProducerIdResponse *ir = init_txn(4, "tx-r", 120000);
    int64_t pid = ir->ProducerId;
    assert_int_equal(add_parts(3, "tx-r", pid, 0, "t", &p0, 1, NULL), 0);
    assert_int_equal(add_offsets(3, "tx-r", pid, 0, "g-r"), 0);
    assert_int_equal(txn_commit_offset(3, "tx-r", pid, 0, "g-r", 1, 11), 0);
    txn_batch(&b, pid, 0, 0, LG_ATTR_TRANSACTIONAL);
    int64_t off;
    assert_int_equal(produce("tx-r", 0, &b, &off), 0);
    stop();
    start();
    kf_TransactionState *s = describe("tx-r");
    assert_true(kf_str_eq(&s->TransactionState, "Ongoing"));
    assert_int_equal(s->ProducerId, pid);
    assert_int_equal(fetch(11, 0, 0, 1)->LastStableOffset, off);
    /* the restarted coordinator ends it: marker, offsets, LSO */
    assert_int_equal(end_txn(3, "tx-r", pid, 0, 1), 0);
    assert_int_equal(fetch(11, 0, 0, 1)->LastStableOffset, off + 3);
    int64_t g = -1;
    assert_int_equal(lg_group_offset_fetch(E.log, "g-r", "t", 1, &g, NULL, 0), 0);
    assert_int_equal(g, 11);
    /* the next instance gets the next epoch */
    ir = init_txn(4, "tx-r", 120000);
    assert_int_equal(ir->ProducerId, pid);
    assert_int_equal(ir->ProducerEpoch, 1);
    stop();
    start();
    ir = init_txn(4, "tx-r", 120000);
    assert_int_equal(ir->ProducerEpoch, 2);
    cn_buf_free(&b);
}

/* Every truncation of every new request, alone in a well-formed frame: the
 * connection closes, and the server serves the next client. */
static int connect_other(void)
{
    int fd = kft_connect(kf_server_port(E.srv), 10);
    return fd;
}

static void expect_closed(const cn_buf *f, size_t cut)
{
    int fd = connect_other();
    unsigned char szb[4];
    cn_wr_be32(szb, (uint32_t)cut);
    assert_int_equal(send(fd, szb, 4, 0), 4);
    if (cut)
        assert_int_equal(send(fd, f->data + 4, cut, 0), (ssize_t)cut);
    char x[64];
    ssize_t r = recv(fd, x, sizeof(x), 0);
    close(fd);
    assert_true(r <= 0);
}

static void test_truncated_requests_close(void **st)
{
    (void)st;
    int32_t p0 = 0;
    kf_str id = kf_str_c("tx-h");
    kf_AddPartitionsToTxnTopic tp = {kf_str_c("t"), {&p0, 1}};
    kf_AddPartitionsToTxnRequest apq;
    kf_AddPartitionsToTxnRequest_init(&apq);
    apq.V3AndBelowTransactionalId = id;
    apq.V3AndBelowTopics.v = &tp;
    apq.V3AndBelowTopics.n = 1;
    kf_AddOffsetsToTxnRequest aoq;
    kf_AddOffsetsToTxnRequest_init(&aoq);
    aoq.TransactionalId = id;
    aoq.GroupId = kf_str_c("g");
    kf_EndTxnRequest eq;
    kf_EndTxnRequest_init(&eq);
    eq.TransactionalId = id;
    kf_TxnOffsetCommitRequestPartition pp;
    memset(&pp, 0, sizeof(pp));
    pp.CommittedMetadata = kf_str_c("m");
    kf_TxnOffsetCommitRequestTopic ttp = {kf_str_c("t"), {&pp, 1}};
    kf_TxnOffsetCommitRequest toq;
    kf_TxnOffsetCommitRequest_init(&toq);
    toq.TransactionalId = id;
    toq.GroupId = kf_str_c("g");
    toq.MemberId = kf_str_c("m");
    toq.Topics.v = &ttp;
    toq.Topics.n = 1;
    kf_DescribeTransactionsRequest dq;
    kf_DescribeTransactionsRequest_init(&dq);
    dq.TransactionalIds.v = &id;
    dq.TransactionalIds.n = 1;
    kf_ListTransactionsRequest lq;
    kf_ListTransactionsRequest_init(&lq);
    lq.StateFilters.v = &id;
    lq.StateFilters.n = 1;
    kf_InitProducerIdRequest iq;
    kf_InitProducerIdRequest_init(&iq);
    iq.TransactionalId = id;
    iq.TransactionTimeoutMs = 1000;
    struct {
        int16_t key;
        const void *body;
    } reqs[] = {{24, &apq}, {25, &aoq}, {26, &eq}, {28, &toq}, {65, &dq}, {66, &lq}, {22, &iq}};
    int n = 0;
    for (size_t k = 0; k < sizeof(reqs) / sizeof(reqs[0]); k++) {
        for (int16_t v = 0; v <= maxv(reqs[k].key); v++) {
            cn_buf f = CN_BUF_INIT;
            assert_int_equal(kf_request_encode(&f, reqs[k].key, v, 1, "h", reqs[k].body), 0);
            /* the request header: size(4) key(2) ver(2) corr(4) client(2+1) [tags(1)] */
            size_t hdr = 2 + 2 + 4 + 2 + 1 + (kf_req_hdr_version(reqs[k].key, v) >= 2 ? 1 : 0);
            for (size_t cut = hdr; cut < f.len - 4; cut++, n++)
                expect_closed(&f, cut);
            cn_buf_free(&f);
        }
    }
    assert_true(n > 100);
    /* the server still answers, and nothing was created */
    assert_int_equal(describe("tx-h")->ErrorCode, KF_ERR_TRANSACTIONAL_ID_NOT_FOUND);
}

static int grab(void *ud, const char *key, const void *val, size_t n)
{
    cn_buf *b = ud;
    if (strcmp(key, "tx-d") == 0)
        cn_buf_append(b, val, n);
    return 0;
}

static void test_damaged_records_are_refused(void **st)
{
    (void)st;
    const int32_t parts[2] = {0, 1};
    int64_t pid = init_txn(4, "tx-d", 60000)->ProducerId;
    assert_int_equal(add_parts(3, "tx-d", pid, 0, "t", parts, 2, NULL), 0);
    assert_int_equal(add_offsets(3, "tx-d", pid, 0, "g-d"), 0);
    assert_int_equal(txn_commit_offset(3, "tx-d", pid, 0, "g-d", 1, 9), 0);
    cn_buf rec = CN_BUF_INIT;
    assert_int_equal(lg_txn_state_each(E.log, grab, &rec), 0);
    assert_true(rec.len > 40);
    kf_txn *t;
    assert_int_equal(kf__txn_decode("tx-d", rec.data, rec.len, &t), 0);
    kf__txn_free_for_test(t);
    unsigned char *copy = malloc(rec.len);
    for (size_t cut = 0; cut < rec.len; cut++) {
        memcpy(copy, rec.data, cut); /* exactly cut bytes: ASan sees any overread */
        assert_int_equal(kf__txn_decode("tx-d", copy, cut, &t), CN_ECORRUPT);
    }
    free(copy);
    for (size_t i = 0; i < rec.len * 8; i++) {
        unsigned char *c = malloc(rec.len);
        memcpy(c, rec.data, rec.len);
        c[i / 8] ^= (unsigned char)(1u << (i % 8));
        int rc = kf__txn_decode("tx-d", c, rec.len, &t);
        assert_true(rc == 0 || rc == CN_ECORRUPT);
        if (rc == 0)
            kf__txn_free_for_test(t);
        free(c);
    }
    cn_buf_free(&rec);
    assert_int_equal(end_txn(3, "tx-d", pid, 0, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_and_abort_every_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offsets_commit_with_the_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fencing_and_wrong_producers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe_and_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_aborts_abandoned_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_survives_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_requests_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_records_are_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
