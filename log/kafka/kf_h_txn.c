/* SPDX-License-Identifier: MIT */
/*
 * kf_h_txn.c — the transaction APIs: InitProducerId with a transactional
 * id, AddPartitionsToTxn (v0-3), AddOffsetsToTxn (v0-3), EndTxn (v0-3),
 * TxnOffsetCommit (v0-3), DescribeTransactions (v0), ListTransactions
 * (v0), and the transactional checks of Produce.  The state machine,
 * records and markers are kf_txn.c's; these handlers validate a request
 * against it and answer with Kafka's error codes:
 *   unknown transactional id or producer id: INVALID_PRODUCER_ID_MAPPING;
 *   an older epoch: PRODUCER_FENCED from the versions that know it
 *   (KIP-588), INVALID_PRODUCER_EPOCH before; a newer one:
 *   INVALID_PRODUCER_EPOCH; a transaction being ended:
 *   CONCURRENT_TRANSACTIONS (the client retries); a request the state does
 *   not allow: INVALID_TXN_STATE.
 * Threads: loop only.
 */
#include "kf_txn.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_log.h"
#include "cn_time.h"
#include "kf_errors.h"
#include "lg_batch.h"

#include <string.h>

/* A request's transactional id as a C string, or NULL when it is not one
 * cairn accepts (null, empty, longer than a stored key). */
static const char *kf_txn_id(const kf_str *s)
{
    if (s->len <= 0 || s->len > LG_TXN_KEY_MAX || !s->s || memchr(s->s, 0, (size_t)s->len))
        return NULL;
    return s->s;
}

static int kf_txn_ending(const kf_txn *t)
{
    return t->in_flight || t->state == KF_TXN_PREPARE_COMMIT || t->state == KF_TXN_PREPARE_ABORT;
}

/* The common checks: 0 with *out, or the Kafka error.  fenced_v: the first
 * version of this API that knows PRODUCER_FENCED. */
static int16_t kf_txn_lookup(kf_conn *c, const kf_str *id, int64_t pid, int16_t epoch,
                             int16_t fenced_v, kf_txn **out)
{
    kf_server *s = c->s;
    *out = NULL;
    if (!s->txns)
        return KF_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    const char *tid = kf_txn_id(id);
    if (!tid)
        return KF_ERR_INVALID_REQUEST;
    kf_txn *t = kf__txn_find(s->txns, tid);
    if (!t || t->pid != pid)
        return KF_ERR_INVALID_PRODUCER_ID_MAPPING;
    if (epoch < t->epoch)
        return c->req.hdr.api_version >= fenced_v ? KF_ERR_PRODUCER_FENCED
                                                  : KF_ERR_INVALID_PRODUCER_EPOCH;
    if (epoch > t->epoch)
        return KF_ERR_INVALID_PRODUCER_EPOCH;
    *out = t;
    return 0;
}

/* Make t Ongoing (its start time is the first time it is). */
static void kf_txn_begin(kf_txn *t)
{
    if (t->state != KF_TXN_ONGOING) {
        t->state = KF_TXN_ONGOING;
        t->start_ms = cn_now_ms();
    }
}

/* ======================================================================
 * InitProducerId (transactional)
 * ====================================================================== */

static int kf_init_reply(kf_conn *c, int16_t err, const kf_txn *t)
{
    kf_InitProducerIdResponse r;
    kf_InitProducerIdResponse_init(&r);
    r.ErrorCode = err;
    r.ProducerId = err || !t ? -1 : t->pid;
    r.ProducerEpoch = err || !t ? -1 : t->epoch;
    return kf__reply(c, &r, NULL, 0);
}

int kf__init_transactional(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_InitProducerIdRequest *q = c->req.body;
    const char *tid = kf_txn_id(&q->TransactionalId);
    if (!tid)
        return kf_init_reply(c, KF_ERR_INVALID_REQUEST, NULL);
    if (q->TransactionTimeoutMs <= 0 || q->TransactionTimeoutMs > kf__txn_max_timeout_ms(s->txns))
        return kf_init_reply(c, KF_ERR_INVALID_TRANSACTION_TIMEOUT, NULL);
    kf_txn *t = kf__txn_find(s->txns, tid);
    if (!t) {
        int64_t pid;
        int rc = lg_producer_id_alloc(s->log, &pid);
        if (!rc)
            rc = kf__txn_create(s->txns, tid, pid, q->TransactionTimeoutMs, &t);
        return kf_init_reply(c, rc ? kf__kafka_error(rc) : 0, t);
    }
    if (kf_txn_ending(t))
        return kf_init_reply(c, KF_ERR_CONCURRENT_TRANSACTIONS, NULL);
    if (q->ProducerId >= 0 && (q->ProducerId != t->pid || q->ProducerEpoch != t->epoch)) {
        /* KIP-360: a producer bumping its own epoch must name the current one. */
        return kf_init_reply(
            c, c->req.hdr.api_version >= 4 ? KF_ERR_PRODUCER_FENCED : KF_ERR_INVALID_PRODUCER_EPOCH,
            NULL);
    }
    t->timeout_ms = q->TransactionTimeoutMs;
    if (t->state == KF_TXN_ONGOING) {
        /* Fence the previous instance: abort its transaction under a new
         * epoch, then hand that epoch out. */
        int rc = kf__txn_end(s->txns, t, 0, 1);
        if (rc < 0)
            return kf_init_reply(c, kf__kafka_error(rc), NULL);
        if (rc == 0) {
            kf__txn_wait(t, c, KF_API_INITPRODUCERID);
            return KF_ASYNC;
        }
        return kf_init_reply(c, 0, t);
    }
    int64_t old_pid = t->pid;
    int16_t old_epoch = t->epoch;
    if (t->epoch >= INT16_MAX - 1) {
        /* The epoch is exhausted: a new producer id starts again at 0. */
        int64_t pid;
        int rc = lg_producer_id_alloc(s->log, &pid);
        if (rc)
            return kf_init_reply(c, kf__kafka_error(rc), NULL);
        t->pid = pid;
        t->epoch = 0;
    } else {
        t->epoch++;
    }
    int rc = kf__txn_save(s->txns, t);
    if (rc) {
        t->pid = old_pid;
        t->epoch = old_epoch;
        return kf_init_reply(c, kf__kafka_error(rc), NULL);
    }
    return kf_init_reply(c, 0, t);
}

/* ======================================================================
 * AddPartitionsToTxn
 * ====================================================================== */

int kf_h_add_partitions_to_txn(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_AddPartitionsToTxnRequest *q = c->req.body;
    kf_AddPartitionsToTxnResponse r;
    kf_AddPartitionsToTxnResponse_init(&r);
    int32_t nt = q->V3AndBelowTopics.n > 0 ? q->V3AndBelowTopics.n : 0;
    r.ResultsByTopicV3AndBelow.n = nt;
    r.ResultsByTopicV3AndBelow.v =
        kf_arena_alloc(c->arena, (size_t)(nt ? nt : 1) * sizeof(*r.ResultsByTopicV3AndBelow.v));
    if (!r.ResultsByTopicV3AndBelow.v)
        return CN_ENOMEM;
    kf_txn *t;
    int16_t err = kf_txn_lookup(c, &q->V3AndBelowTransactionalId, q->V3AndBelowProducerId,
                                q->V3AndBelowProducerEpoch, 2, &t);
    if (!err && kf_txn_ending(t))
        err = KF_ERR_CONCURRENT_TRANSACTIONS;
    /* Every partition must exist; if one does not, it gets
     * UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED. */
    int bad = 0;
    for (int32_t i = 0; i < nt && !err; i++) {
        const kf_AddPartitionsToTxnTopic *tp = &q->V3AndBelowTopics.v[i];
        int np = lg_topic_partitions(s->log, kf__name(&tp->Name));
        for (int32_t j = 0; j < tp->Partitions.n; j++)
            if (np <= 0 || tp->Partitions.v[j] < 0 || tp->Partitions.v[j] >= np)
                bad = 1;
    }
    size_t old_ntp = t ? t->ntp : 0;
    int old_state = t ? t->state : 0;
    int64_t old_start = t ? t->start_ms : 0;
    if (!err && !bad) {
        int rc = 0;
        for (int32_t i = 0; i < nt && !rc; i++) {
            const kf_AddPartitionsToTxnTopic *tp = &q->V3AndBelowTopics.v[i];
            for (int32_t j = 0; j < tp->Partitions.n && !rc; j++)
                rc = kf__txn_add_partition(t, kf__name(&tp->Name), tp->Partitions.v[j]);
        }
        kf_txn_begin(t);
        if (!rc)
            rc = kf__txn_save(s->txns, t);
        if (rc) {
            while (t->ntp > old_ntp)
                cn_free(t->tps[--t->ntp].topic);
            t->state = old_state;
            t->start_ms = old_start;
            err = kf__kafka_error(rc);
        }
    }
    for (int32_t i = 0; i < nt; i++) {
        const kf_AddPartitionsToTxnTopic *tp = &q->V3AndBelowTopics.v[i];
        kf_AddPartitionsToTxnTopicResult *o = &r.ResultsByTopicV3AndBelow.v[i];
        kf_AddPartitionsToTxnTopicResult_init(o);
        o->Name = tp->Name;
        int32_t np = tp->Partitions.n > 0 ? tp->Partitions.n : 0;
        o->ResultsByPartition.n = np;
        o->ResultsByPartition.v =
            kf_arena_alloc(c->arena, (size_t)(np ? np : 1) * sizeof(*o->ResultsByPartition.v));
        if (!o->ResultsByPartition.v)
            return CN_ENOMEM;
        int tnp = bad ? lg_topic_partitions(s->log, kf__name(&tp->Name)) : 0;
        for (int32_t j = 0; j < np; j++) {
            int32_t pi = tp->Partitions.v[j];
            o->ResultsByPartition.v[j].PartitionIndex = pi;
            int16_t e = err;
            if (!e && bad)
                e = tnp <= 0 || pi < 0 || pi >= tnp ? KF_ERR_UNKNOWN_TOPIC_OR_PARTITION
                                                    : KF_ERR_OPERATION_NOT_ATTEMPTED;
            o->ResultsByPartition.v[j].PartitionErrorCode = e;
        }
    }
    return kf__reply(c, &r, NULL, 0);
}

/* ======================================================================
 * AddOffsetsToTxn
 * ====================================================================== */

int kf_h_add_offsets_to_txn(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_AddOffsetsToTxnRequest *q = c->req.body;
    kf_AddOffsetsToTxnResponse r;
    kf_AddOffsetsToTxnResponse_init(&r);
    kf_txn *t;
    r.ErrorCode = kf_txn_lookup(c, &q->TransactionalId, q->ProducerId, q->ProducerEpoch, 2, &t);
    if (!r.ErrorCode && kf_txn_ending(t))
        r.ErrorCode = KF_ERR_CONCURRENT_TRANSACTIONS;
    const char *group = kf_txn_id(&q->GroupId);
    if (!r.ErrorCode && !group)
        r.ErrorCode = KF_ERR_INVALID_GROUP_ID;
    if (!r.ErrorCode) {
        size_t old_n = t->ngroups;
        int old_state = t->state;
        int64_t old_start = t->start_ms;
        int rc = kf__txn_add_group(t, group);
        kf_txn_begin(t);
        if (!rc)
            rc = kf__txn_save(s->txns, t);
        if (rc) {
            while (t->ngroups > old_n)
                cn_free(t->groups[--t->ngroups]);
            t->state = old_state;
            t->start_ms = old_start;
            r.ErrorCode = kf__kafka_error(rc);
        }
    }
    return kf__reply(c, &r, NULL, 0);
}

/* ======================================================================
 * TxnOffsetCommit
 * ====================================================================== */

int kf_h_txn_offset_commit(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_TxnOffsetCommitRequest *q = c->req.body;
    kf_TxnOffsetCommitResponse r;
    kf_TxnOffsetCommitResponse_init(&r);
    int32_t nt = q->Topics.n > 0 ? q->Topics.n : 0;
    r.Topics.n = nt;
    r.Topics.v = kf_arena_alloc(c->arena, (size_t)(nt ? nt : 1) * sizeof(*r.Topics.v));
    if (!r.Topics.v)
        return CN_ENOMEM;
    kf_txn *t;
    int16_t err = kf_txn_lookup(c, &q->TransactionalId, q->ProducerId, q->ProducerEpoch, 3, &t);
    const char *group = kf_txn_id(&q->GroupId);
    if (!err && !group)
        err = KF_ERR_INVALID_GROUP_ID;
    if (!err && kf_txn_ending(t))
        err = KF_ERR_CONCURRENT_TRANSACTIONS;
    /* Offsets belong to an open transaction that named the group. */
    if (!err && (t->state != KF_TXN_ONGOING || !kf__txn_has_group(t, group)))
        err = KF_ERR_INVALID_TXN_STATE;
    int changed = 0;
    for (int32_t i = 0; i < nt; i++) {
        const kf_TxnOffsetCommitRequestTopic *tp = &q->Topics.v[i];
        kf_TxnOffsetCommitResponseTopic *o = &r.Topics.v[i];
        kf_TxnOffsetCommitResponseTopic_init(o);
        o->Name = tp->Name;
        int32_t np = tp->Partitions.n > 0 ? tp->Partitions.n : 0;
        o->Partitions.n = np;
        o->Partitions.v =
            kf_arena_alloc(c->arena, (size_t)(np ? np : 1) * sizeof(*o->Partitions.v));
        if (!o->Partitions.v)
            return CN_ENOMEM;
        int tnp = lg_topic_partitions(s->log, kf__name(&tp->Name));
        for (int32_t j = 0; j < np; j++) {
            const kf_TxnOffsetCommitRequestPartition *pp = &tp->Partitions.v[j];
            o->Partitions.v[j].PartitionIndex = pp->PartitionIndex;
            int16_t e = err;
            if (!e && (tnp <= 0 || pp->PartitionIndex < 0 || pp->PartitionIndex >= tnp))
                e = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            if (!e && pp->CommittedOffset < -1)
                e = KF_ERR_INVALID_REQUEST;
            if (!e) {
                const char *md = pp->CommittedMetadata.len >= 0 && pp->CommittedMetadata.s
                                     ? pp->CommittedMetadata.s
                                     : NULL;
                int rc = kf__txn_add_offset(t, group, kf__name(&tp->Name), pp->PartitionIndex,
                                            pp->CommittedOffset, md);
                if (rc)
                    return rc;
                changed = 1;
            }
            o->Partitions.v[j].ErrorCode = e;
        }
    }
    if (changed) {
        int rc = kf__txn_save(s->txns, t);
        if (rc) {
            /* Not stored: the offsets stay in memory and go with the next
             * stored change; this reply says they failed. */
            for (int32_t i = 0; i < nt; i++)
                for (int32_t j = 0; j < r.Topics.v[i].Partitions.n; j++)
                    if (!r.Topics.v[i].Partitions.v[j].ErrorCode)
                        r.Topics.v[i].Partitions.v[j].ErrorCode = kf__kafka_error(rc);
        }
    }
    return kf__reply(c, &r, NULL, 0);
}

/* ======================================================================
 * EndTxn
 * ====================================================================== */

int kf_h_end_txn(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_EndTxnRequest *q = c->req.body;
    kf_EndTxnResponse r;
    kf_EndTxnResponse_init(&r);
    kf_txn *t;
    r.ErrorCode = kf_txn_lookup(c, &q->TransactionalId, q->ProducerId, q->ProducerEpoch, 2, &t);
    int commit = q->Committed ? 1 : 0;
    if (r.ErrorCode)
        return kf__reply(c, &r, NULL, 0);
    switch (t->state) {
    case KF_TXN_ONGOING:
        if (t->in_flight) {
            r.ErrorCode = KF_ERR_CONCURRENT_TRANSACTIONS;
            break;
        }
        {
            int rc = kf__txn_end(s->txns, t, commit, 0);
            if (rc < 0) {
                r.ErrorCode = kf__kafka_error(rc);
            } else if (rc == 0) {
                kf__txn_wait(t, c, KF_API_ENDTXN);
                return KF_ASYNC;
            }
        }
        break;
    case KF_TXN_PREPARE_COMMIT:
    case KF_TXN_PREPARE_ABORT:
        /* Being ended: the same outcome is a retry (wait for it); the
         * other one cannot be had any more. */
        r.ErrorCode = (t->state == KF_TXN_PREPARE_COMMIT) == commit ? KF_ERR_CONCURRENT_TRANSACTIONS
                                                                    : KF_ERR_INVALID_TXN_STATE;
        break;
    case KF_TXN_COMPLETE_COMMIT:
    case KF_TXN_COMPLETE_ABORT:
        /* A retry of the end that completed is answered as it was. */
        r.ErrorCode = (t->state == KF_TXN_COMPLETE_COMMIT) == commit ? 0 : KF_ERR_INVALID_TXN_STATE;
        break;
    default:
        r.ErrorCode = KF_ERR_INVALID_TXN_STATE;
    }
    return kf__reply(c, &r, NULL, 0);
}

/* ======================================================================
 * DescribeTransactions, ListTransactions
 * ====================================================================== */

static int kf_describe_one(kf_conn *c, kf_TransactionState *o, kf_txn *t)
{
    o->TransactionState = kf_str_c(kf__txn_state_name(t->state));
    o->TransactionTimeoutMs = t->timeout_ms;
    o->TransactionStartTimeMs = t->start_ms;
    o->ProducerId = t->pid;
    o->ProducerEpoch = t->epoch;
    /* Partitions grouped by topic, in the order they were added. */
    kf_TopicData *td = kf_arena_alloc(c->arena, (t->ntp ? t->ntp : 1) * sizeof(*td));
    if (!td)
        return CN_ENOMEM;
    int32_t ntd = 0;
    for (size_t i = 0; i < t->ntp; i++) {
        int32_t k = 0;
        while (k < ntd && strcmp(td[k].Topic.s, t->tps[i].topic) != 0)
            k++;
        if (k == ntd) {
            td[k].Topic = kf_str_c(t->tps[i].topic);
            td[k].Partitions.v = kf_arena_alloc(c->arena, t->ntp * sizeof(int32_t));
            if (!td[k].Partitions.v)
                return CN_ENOMEM;
            td[k].Partitions.n = 0;
            ntd++;
        }
        td[k].Partitions.v[td[k].Partitions.n++] = t->tps[i].part;
    }
    o->Topics.v = td;
    o->Topics.n = ntd;
    return 0;
}

int kf_h_describe_transactions(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_DescribeTransactionsRequest *q = c->req.body;
    kf_DescribeTransactionsResponse r;
    kf_DescribeTransactionsResponse_init(&r);
    int32_t n = q->TransactionalIds.n > 0 ? q->TransactionalIds.n : 0;
    r.TransactionStates.n = n;
    r.TransactionStates.v =
        kf_arena_alloc(c->arena, (size_t)(n ? n : 1) * sizeof(*r.TransactionStates.v));
    if (!r.TransactionStates.v)
        return CN_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        kf_TransactionState *o = &r.TransactionStates.v[i];
        kf_TransactionState_init(o);
        o->TransactionalId = q->TransactionalIds.v[i];
        o->TransactionState = kf_str_c("");
        o->ProducerId = -1;
        o->ProducerEpoch = -1;
        o->TransactionStartTimeMs = -1;
        const char *tid = kf_txn_id(&q->TransactionalIds.v[i]);
        kf_txn *t = s->txns && tid ? kf__txn_find(s->txns, tid) : NULL;
        if (!s->txns)
            o->ErrorCode = KF_ERR_COORDINATOR_NOT_AVAILABLE;
        else if (!t)
            o->ErrorCode = KF_ERR_TRANSACTIONAL_ID_NOT_FOUND;
        else if (kf_describe_one(c, o, t))
            return CN_ENOMEM;
    }
    return kf__reply(c, &r, NULL, 0);
}

static int kf_state_known(const kf_str *f)
{
    for (int st = 0; st <= KF_TXN_COMPLETE_ABORT; st++)
        if (kf_str_eq(f, kf__txn_state_name(st)))
            return 1;
    return 0;
}

int kf_h_list_transactions(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_ListTransactionsRequest *q = c->req.body;
    kf_ListTransactionsResponse r;
    kf_ListTransactionsResponse_init(&r);
    int32_t nf = q->StateFilters.n > 0 ? q->StateFilters.n : 0;
    int32_t np = q->ProducerIdFilters.n > 0 ? q->ProducerIdFilters.n : 0;
    r.UnknownStateFilters.v = kf_arena_alloc(c->arena, (size_t)(nf ? nf : 1) * sizeof(kf_str));
    size_t n = s->txns ? kf__txn_count(s->txns) : 0;
    r.TransactionStates.v = kf_arena_alloc(c->arena, (n ? n : 1) * sizeof(*r.TransactionStates.v));
    if (!r.UnknownStateFilters.v || !r.TransactionStates.v)
        return CN_ENOMEM;
    if (!s->txns)
        r.ErrorCode = KF_ERR_COORDINATOR_NOT_AVAILABLE;
    for (int32_t i = 0; i < nf; i++)
        if (!kf_state_known(&q->StateFilters.v[i]))
            r.UnknownStateFilters.v[r.UnknownStateFilters.n++] = q->StateFilters.v[i];
    for (size_t i = 0; i < n; i++) {
        kf_txn *t = kf__txn_at(s->txns, i);
        int ok = nf == 0;
        for (int32_t j = 0; j < nf && !ok; j++)
            ok = kf_str_eq(&q->StateFilters.v[j], kf__txn_state_name(t->state));
        int pok = np == 0;
        for (int32_t j = 0; j < np && !pok; j++)
            pok = q->ProducerIdFilters.v[j] == t->pid;
        if (!ok || !pok)
            continue;
        kf_ListTransactionsResponse_TransactionState *o =
            &r.TransactionStates.v[r.TransactionStates.n++];
        o->TransactionalId = kf_str_c(t->id);
        o->ProducerId = t->pid;
        o->TransactionState = kf_str_c(kf__txn_state_name(t->state));
    }
    return kf__reply(c, &r, NULL, 0);
}

/* ======================================================================
 * Produce: the transactional checks of one partition
 * ====================================================================== */

int16_t kf__txn_produce_check(kf_server *s, const kf_str *txn_id, const char *topic, int32_t part,
                              const lg_batchv *v, size_t n)
{
    kf_txn *t = NULL;
    const char *tid = txn_id->len >= 0 ? kf_txn_id(txn_id) : NULL;
    if (txn_id->len >= 0) {
        if (!s->txns)
            return KF_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        t = tid ? kf__txn_find(s->txns, tid) : NULL;
        if (!t)
            return KF_ERR_INVALID_PRODUCER_ID_MAPPING;
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *b = v[i].batch; /* validated: the header is there */
        uint16_t attr = cn_rd_be16(b + 21);
        int64_t pid = (int64_t)cn_rd_be64(b + 43);
        int16_t epoch = (int16_t)cn_rd_be16(b + 51);
        /* Markers are the coordinator's alone (Kafka: INVALID_RECORD). */
        if (attr & LG_ATTR_CONTROL)
            return KF_ERR_INVALID_RECORD;
        if (!(attr & LG_ATTR_TRANSACTIONAL))
            continue;
        /* A transactional batch needs the transaction it claims: its
         * producer's, open, with this partition added (else its records
         * would hold the last stable offset back with no marker to come). */
        if (!t)
            return KF_ERR_INVALID_TXN_STATE;
        if (pid != t->pid)
            return KF_ERR_INVALID_PRODUCER_ID_MAPPING;
        if (epoch != t->epoch)
            return KF_ERR_INVALID_PRODUCER_EPOCH;
        if (t->state != KF_TXN_ONGOING || t->in_flight || !kf__txn_has_partition(t, topic, part))
            return KF_ERR_INVALID_TXN_STATE;
    }
    return 0;
}
