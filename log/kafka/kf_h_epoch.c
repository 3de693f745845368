/* SPDX-License-Identifier: MIT */
/*
 * kf_h_epoch.c — leader epochs on the Kafka wire: OffsetForLeaderEpoch
 * (v0-v4) answered from the log's epoch history (lg_epoch_end_offset,
 * Kafka's rule), the currentLeaderEpoch fence that Fetch (v9+), ListOffsets
 * (v4+) and OffsetForLeaderEpoch (v2+) apply, and the epoch of the batch
 * at an offset (what ListOffsets reports).
 *
 * The node's leader epoch of a partition is the log's (lg_partition_info
 * leader_epoch), the same number Metadata (v7+) reports, so a client that
 * sends what Metadata told it passes the fence.  A client whose epoch is
 * older gets FENCED_LEADER_EPOCH, one from a newer epoch than this node
 * knows gets UNKNOWN_LEADER_EPOCH; both make clients refresh metadata.
 * Threads: loop only.  Replies are built in the connection's arena.
 */
#include "kf_server_int.h"

#include "cn_err.h"
#include "kf_errors.h"

#include <string.h>

int16_t kf__epoch_fence(int32_t current, int32_t node_epoch)
{
    if (current < 0)
        return KF_ERR_NONE; /* -1: the client does not ask for the check */
    if (current < node_epoch)
        return KF_ERR_FENCED_LEADER_EPOCH;
    if (current > node_epoch)
        return KF_ERR_UNKNOWN_LEADER_EPOCH;
    return KF_ERR_NONE;
}

int16_t kf__epoch_fence_part(kf_server *s, const char *topic, int32_t part, int32_t current)
{
    if (current < 0)
        return KF_ERR_NONE; /* no lookup on the common path */
    lg_partition_info info;
    int rc = lg_partition_info_get(s->log, topic, part, &info);
    if (rc)
        return kf__kafka_error(rc);
    return kf__epoch_fence(current, info.leader_epoch);
}

typedef struct kf_epoch_at {
    int64_t offset;
    int32_t epoch;
} kf_epoch_at;

static int kf_epoch_at_cb(void *ud, int32_t epoch, int64_t start)
{
    kf_epoch_at *e = ud;
    if (start > e->offset)
        return 1; /* history is in increasing order: done */
    e->epoch = epoch;
    return 0;
}

int32_t kf__epoch_at(kf_server *s, const char *topic, int32_t part, int64_t offset)
{
    if (offset < 0)
        return -1;
    kf_epoch_at e = {offset, -1};
    int rc = lg_epochs_each(s->log, topic, part, kf_epoch_at_cb, &e);
    return rc < 0 ? -1 : e.epoch;
}

/* One partition of an OffsetForLeaderEpoch request. */
static void kf_ofle_one(kf_server *s, const char *topic, const kf_OffsetForLeaderPartition *qp,
                        kf_EpochEndOffset *o)
{
    kf_EpochEndOffset_init(o);
    o->Partition = qp->Partition;
    o->LeaderEpoch = -1;
    o->EndOffset = -1;
    o->ErrorCode = kf__leader_check(s, topic, qp->Partition); /* clustered: the leader answers */
    if (o->ErrorCode)
        return;
    lg_partition_info info;
    int rc = lg_partition_info_get(s->log, topic, qp->Partition, &info);
    if (rc) {
        o->ErrorCode = kf__kafka_error(rc);
        return;
    }
    o->ErrorCode = kf__epoch_fence(qp->CurrentLeaderEpoch, info.leader_epoch);
    if (o->ErrorCode)
        return;
    if (qp->LeaderEpoch >= 0 && qp->LeaderEpoch == info.leader_epoch) {
        /* The current epoch ends at the log end, even before it holds a
         * batch (Kafka's leader records its epoch when it is elected). */
        o->LeaderEpoch = info.leader_epoch;
        o->EndOffset = info.log_end_offset;
        return;
    }
    int32_t e;
    int64_t end;
    rc = lg_epoch_end_offset(s->log, topic, qp->Partition, qp->LeaderEpoch, &e, &end);
    if (rc) {
        o->ErrorCode = kf__kafka_error(rc);
        return;
    }
    o->LeaderEpoch = e;
    o->EndOffset = end;
}

int kf_h_offset_for_leader_epoch(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_OffsetForLeaderEpochRequest *q = c->req.body;
    kf_OffsetForLeaderEpochResponse r;
    kf_OffsetForLeaderEpochResponse_init(&r);
    int32_t nt = q->Topics.n > 0 ? q->Topics.n : 0;
    r.Topics.n = nt;
    r.Topics.v = kf_arena_alloc(c->arena, (size_t)(nt ? nt : 1) * sizeof(*r.Topics.v));
    if (!r.Topics.v)
        return CN_ENOMEM;
    for (int32_t t = 0; t < nt; t++) {
        const kf_OffsetForLeaderTopic *qt = &q->Topics.v[t];
        kf_OffsetForLeaderTopicResult *rt = &r.Topics.v[t];
        kf_OffsetForLeaderTopicResult_init(rt);
        rt->Topic = qt->Topic;
        int32_t np = qt->Partitions.n > 0 ? qt->Partitions.n : 0;
        rt->Partitions.n = np;
        rt->Partitions.v =
            kf_arena_alloc(c->arena, (size_t)(np ? np : 1) * sizeof(*rt->Partitions.v));
        if (!rt->Partitions.v)
            return CN_ENOMEM;
        for (int32_t i = 0; i < np; i++)
            kf_ofle_one(s, kf__name(&qt->Topic), &qt->Partitions.v[i], &rt->Partitions.v[i]);
    }
    return kf__reply(c, &r, NULL, 0);
}
