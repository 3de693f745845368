/* SPDX-License-Identifier: MIT */
/*
 * kf_h_group.c — the consumer-group APIs: FindCoordinator, JoinGroup,
 * SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, ListGroups,
 * DescribeGroups.  Glue between the wire structs and the pure state
 * machine in kf_group.c; committed offsets go to the log's LMDB through
 * the committer thread (kf_commit.c: one transaction and one sync per
 * round, off the loop; the reply follows the sync, so they survive
 * SIGKILL).
 *
 * JoinGroup and SyncGroup may wait (for other members, for the leader):
 * the connection is the waiter; the state machine answers through
 * kf_join_done / kf_sync_done, possibly while another connection's handler
 * or the tick is on the stack, so those only encode the reply and resume
 * the connection from the next loop iteration (kf__call_done_later).
 * Threads: loop only.  Group membership lives in memory (a restart makes
 * members rejoin, as a Kafka coordinator failover does); offsets persist.
 * Clustered, the coordinator of a group is the leader of its replicated
 * offsets partition (kf_offsets.c): the other nodes answer every group API
 * NOT_COORDINATOR, and OffsetCommit is proposed to that partition instead
 * of going to the committer thread.
 */
#include "kf_server_int.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_log.h"
#include "cn_time.h"
#include "kf_errors.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Kafka's offset.metadata.max.bytes. */
#define KF_OFFSET_METADATA_MAX 4096
/* How often sessions and rebalance deadlines are checked: the precision of
 * every group timeout. */
#define KF_GROUP_TICK_MS 100

/* ======================================================================
 * state-machine callbacks
 * ====================================================================== */

static void kf_join_done(void *ud, void *waiter, const kf_join_result *res)
{
    kf_conn *c = waiter;
    (void)ud;
    kf_JoinGroupResponse r;
    kf_JoinGroupResponse_init(&r);
    r.ErrorCode = res->error;
    r.GenerationId = res->generation;
    r.ProtocolName = kf_str_c(res->protocol_name ? res->protocol_name : "");
    r.Leader = kf_str_c(res->leader ? res->leader : "");
    r.MemberId = kf_str_c(res->member_id ? res->member_id : "");
    int rc = 0;
    /* Strings from res are only valid now: encode before returning. */
    if (res->nmembers) {
        kf_JoinGroupResponseMember *m = kf_arena_alloc(c->arena, res->nmembers * sizeof(*m));
        if (!m) {
            rc = CN_ENOMEM;
        } else {
            for (size_t i = 0; i < res->nmembers; i++) {
                m[i].MemberId = kf_str_c(res->members[i].member_id);
                m[i].GroupInstanceId = kf_str_c(res->members[i].group_instance_id);
                m[i].Metadata.ptr = res->members[i].meta;
                m[i].Metadata.len = (int32_t)res->members[i].meta_len;
            }
            r.Members.v = m;
            r.Members.n = (int32_t)res->nmembers;
        }
    }
    if (rc == 0)
        rc = kf__reply(c, &r, NULL, 0);
    if (rc)
        cn_log_error("kf", "cannot reply to JoinGroup from %s: %s", c->peer, cn_strerror(rc));
    if (kf__call_done_later(c))
        c->closing = 1;
}

static void kf_sync_done(void *ud, void *waiter, int16_t err, const unsigned char *as, size_t len)
{
    kf_conn *c = waiter;
    (void)ud;
    kf_SyncGroupResponse r;
    kf_SyncGroupResponse_init(&r);
    r.ErrorCode = err;
    r.Assignment.ptr = as ? as : (const unsigned char *)"";
    r.Assignment.len = (int32_t)len;
    int rc = kf__reply(c, &r, NULL, 0);
    if (rc)
        cn_log_error("kf", "cannot reply to SyncGroup from %s: %s", c->peer, cn_strerror(rc));
    if (kf__call_done_later(c))
        c->closing = 1;
}

static void kf_group_tick_cb(evutil_socket_t fd, short what, void *ud)
{
    kf_server *s = ud;
    (void)fd;
    (void)what;
    kf_group_tick(s->groups, cn_now_ms());
}

int kf__group_start(kf_server *s)
{
    kf_group_cbs cbs = {kf_join_done, kf_sync_done, s};
    kf_group_limits lim = {s->o.group_min_session_ms, s->o.group_max_session_ms,
                           s->o.group_initial_rebalance_ms};
    kf_group_set_callbacks(s->groups, &cbs, &lim);
    s->group_tick = event_new(s->base, -1, EV_PERSIST, kf_group_tick_cb, s);
    if (!s->group_tick)
        return CN_ENOMEM;
    struct timeval tv = {0, KF_GROUP_TICK_MS * 1000};
    evtimer_add(s->group_tick, &tv);
    return 0;
}

void kf__group_conn_gone(kf_conn *c)
{
    if (c->s->groups)
        kf_group_cancel_waiter(c->s->groups, c);
}

/* ======================================================================
 * FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup
 * ====================================================================== */

/* Clustered: the coordinator of a group is the leader of its offsets
 * partition, as this node knows it (docs/replication.md). */
static int kf_find_replicated(kf_conn *c, const char *group, kf_FindCoordinatorResponse *r)
{
    const rp_cluster *b = c->s->o.brokers;
    int32_t node;
    const rp_peer *at = NULL;
    if (kf__offsets_leader(c->s, group, &node) == 0)
        at = rp_cluster_peer(b, node);
    if (!at) {
        r->ErrorCode = KF_ERR_COORDINATOR_NOT_AVAILABLE;
        r->NodeId = -1;
        r->Port = -1;
        r->Host = kf_str_c("");
    } else {
        r->NodeId = at->id;
        r->Host = kf_str_c(at->host);
        r->Port = at->port;
    }
    return kf__reply(c, r, NULL, 0);
}

/* Clustered: 0 if this node coordinates group now, else the error every
 * group API answers (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS). */
static int16_t kf_coord_check(kf_conn *c, const char *group)
{
    return c->s->o.repl && *group ? kf__offsets_coord(c->s, group) : 0;
}

int kf_h_find_coordinator(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_FindCoordinatorRequest *q = c->req.body;
    kf_FindCoordinatorResponse r;
    kf_FindCoordinatorResponse_init(&r);
    r.ErrorMessage.len = -1;
    if (s->o.repl && q->KeyType == 0)
        return kf_find_replicated(c, kf__name(&q->Key), &r);
    if (q->KeyType != 0 && (q->KeyType != 1 || !s->txns)) {
        /* Transaction coordinators exist on standalone nodes only (this
         * node coordinates every transactional id). */
        r.ErrorCode = KF_ERR_COORDINATOR_NOT_AVAILABLE;
        r.NodeId = -1;
        r.Port = -1;
    } else {
        r.NodeId = s->o.node_id;
        r.Host = kf_str_c(s->host);
        r.Port = s->adv_port;
    }
    return kf__reply(c, &r, NULL, 0);
}

/* A nullable GroupInstanceId: NULL when absent (null, or a version
 * without the field, decoded as its null default). */
static const char *kf_instance_id(const kf_str *s)
{
    return s->len > 0 && s->s ? s->s : NULL;
}

static void kf_peer_host(const kf_conn *c, char *out, size_t cap)
{
    /* Kafka reports "/ip" as the client host. */
    const char *colon = strrchr(c->peer, ':');
    int n = colon ? (int)(colon - c->peer) : (int)strlen(c->peer);
    snprintf(out, cap, "/%.*s", n, c->peer);
}

int kf_h_join_group(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_JoinGroupRequest *q = c->req.body;
    int16_t v = c->req.hdr.api_version;
    kf_group_protocol *protos = kf_arena_alloc(
        c->arena, (size_t)(q->Protocols.n > 0 ? q->Protocols.n : 1) * sizeof(*protos));
    if (!protos)
        return CN_ENOMEM;
    size_t np = 0;
    for (int32_t i = 0; i < q->Protocols.n; i++, np++) {
        protos[i].name = kf__name(&q->Protocols.v[i].Name);
        protos[i].meta = q->Protocols.v[i].Metadata.ptr;
        protos[i].meta_len =
            q->Protocols.v[i].Metadata.len > 0 ? (size_t)q->Protocols.v[i].Metadata.len : 0;
    }
    char host[80];
    kf_peer_host(c, host, sizeof(host));
    kf_join_req jr;
    memset(&jr, 0, sizeof(jr));
    jr.group_id = kf__name(&q->GroupId);
    jr.member_id = kf__name(&q->MemberId);
    jr.group_instance_id = kf_instance_id(&q->GroupInstanceId);
    jr.client_id = c->req.hdr.client_id.len >= 0 ? c->req.hdr.client_id.s : "";
    jr.client_host = host;
    jr.protocol_type = kf__name(&q->ProtocolType);
    jr.session_timeout_ms = q->SessionTimeoutMs;
    /* v0 has no rebalance timeout: Kafka uses the session timeout. */
    jr.rebalance_timeout_ms = v >= 1 ? q->RebalanceTimeoutMs : q->SessionTimeoutMs;
    jr.protocols = protos;
    jr.nprotocols = np;
    jr.require_known_member = v >= 4;
    jr.waiter = c;
    int16_t cerr = kf_coord_check(c, jr.group_id);
    if (cerr) {
        kf_JoinGroupResponse r;
        kf_JoinGroupResponse_init(&r);
        r.ErrorCode = cerr;
        r.MemberId = q->MemberId;
        return kf__reply(c, &r, NULL, 0);
    }
    int rc = kf_group_join(s->groups, &jr, cn_now_ms());
    return rc ? rc : KF_ASYNC;
}

int kf_h_sync_group(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_SyncGroupRequest *q = c->req.body;
    int16_t cerr = kf_coord_check(c, kf__name(&q->GroupId));
    if (cerr) {
        kf_SyncGroupResponse r;
        kf_SyncGroupResponse_init(&r);
        r.ErrorCode = cerr;
        return kf__reply(c, &r, NULL, 0);
    }
    size_t n = q->Assignments.n > 0 ? (size_t)q->Assignments.n : 0;
    kf_sync_assignment *as = kf_arena_alloc(c->arena, (n ? n : 1) * sizeof(*as));
    if (!as)
        return CN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        as[i].member_id = kf__name(&q->Assignments.v[i].MemberId);
        as[i].data = q->Assignments.v[i].Assignment.ptr;
        as[i].len =
            q->Assignments.v[i].Assignment.len > 0 ? (size_t)q->Assignments.v[i].Assignment.len : 0;
    }
    int rc =
        kf_group_sync(s->groups, kf__name(&q->GroupId), kf__name(&q->MemberId),
                      kf_instance_id(&q->GroupInstanceId), q->GenerationId, as, n, c, cn_now_ms());
    return rc ? rc : KF_ASYNC;
}

int kf_h_heartbeat(kf_conn *c)
{
    const kf_HeartbeatRequest *q = c->req.body;
    kf_HeartbeatResponse r;
    kf_HeartbeatResponse_init(&r);
    r.ErrorCode = kf_coord_check(c, kf__name(&q->GroupId));
    if (!r.ErrorCode)
        r.ErrorCode =
            kf_group_heartbeat(c->s->groups, kf__name(&q->GroupId), kf__name(&q->MemberId),
                               kf_instance_id(&q->GroupInstanceId), q->GenerationId, cn_now_ms());
    return kf__reply(c, &r, NULL, 0);
}

int kf_h_leave_group(kf_conn *c)
{
    const kf_LeaveGroupRequest *q = c->req.body;
    int16_t v = c->req.hdr.api_version;
    const char *group = kf__name(&q->GroupId);
    kf_LeaveGroupResponse r;
    kf_LeaveGroupResponse_init(&r);
    r.ErrorCode = kf_coord_check(c, group);
    if (r.ErrorCode) {
        r.Members.v = NULL;
        r.Members.n = 0;
    } else if (v < 3) {
        r.ErrorCode =
            kf_group_leave(c->s->groups, group, kf__name(&q->MemberId), NULL, cn_now_ms());
    } else {
        int32_t n = q->Members.n > 0 ? q->Members.n : 0;
        r.Members.v = kf_arena_alloc(c->arena, (size_t)(n ? n : 1) * sizeof(*r.Members.v));
        if (!r.Members.v)
            return CN_ENOMEM;
        r.Members.n = n;
        for (int32_t i = 0; i < n; i++) {
            r.Members.v[i].MemberId = q->Members.v[i].MemberId;
            r.Members.v[i].GroupInstanceId = q->Members.v[i].GroupInstanceId;
            r.Members.v[i].ErrorCode =
                kf_group_leave(c->s->groups, group, kf__name(&q->Members.v[i].MemberId),
                               kf_instance_id(&q->Members.v[i].GroupInstanceId), cn_now_ms());
        }
    }
    return kf__reply(c, &r, NULL, 0);
}

/* ======================================================================
 * offsets
 * ====================================================================== */

int kf_h_offset_commit(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_OffsetCommitRequest *q = c->req.body;
    int16_t v = c->req.hdr.api_version;
    const char *group = kf__name(&q->GroupId);
    /* v0 commits outside the group protocol (ZooKeeper-era clients). */
    int16_t gerr = 0;
    if (!*group)
        gerr = KF_ERR_INVALID_GROUP_ID;
    else if ((gerr = kf_coord_check(c, group)) != 0)
        ;
    else if (v >= 1)
        gerr = kf_group_commit_check(s->groups, group, kf__name(&q->MemberId),
                                     kf_instance_id(&q->GroupInstanceId),
                                     q->GenerationIdOrMemberEpoch, cn_now_ms());
    kf_commit *k = kf_arena_alloc(c->arena, sizeof(*k));
    if (!k)
        return CN_ENOMEM;
    memset(k, 0, sizeof(*k));
    k->conn = c;
    kf_OffsetCommitResponse *r = &k->resp;
    kf_OffsetCommitResponse_init(r);
    int32_t nt = q->Topics.n > 0 ? q->Topics.n : 0;
    size_t total = 0;
    for (int32_t t = 0; t < nt; t++)
        total += q->Topics.v[t].Partitions.n > 0 ? (size_t)q->Topics.v[t].Partitions.n : 0;
    r->Topics.n = nt;
    r->Topics.v = kf_arena_alloc(c->arena, (size_t)(nt ? nt : 1) * sizeof(*r->Topics.v));
    k->v = kf_arena_alloc(c->arena, (total ? total : 1) * sizeof(*k->v));
    k->out = kf_arena_alloc(c->arena, (total ? total : 1) * sizeof(*k->out));
    if (!r->Topics.v || !k->v || !k->out)
        return CN_ENOMEM;
    for (int32_t t = 0; t < nt; t++) {
        const kf_OffsetCommitRequestTopic *qt = &q->Topics.v[t];
        const char *topic = kf__name(&qt->Name);
        int32_t np = qt->Partitions.n > 0 ? qt->Partitions.n : 0;
        r->Topics.v[t].Name = qt->Name;
        r->Topics.v[t].Partitions.n = np;
        r->Topics.v[t].Partitions.v = kf_arena_alloc(
            c->arena, (size_t)(np ? np : 1) * sizeof(kf_OffsetCommitResponsePartition));
        if (!r->Topics.v[t].Partitions.v)
            return CN_ENOMEM;
        int nparts = lg_topic_partitions(s->log, topic);
        for (int32_t i = 0; i < np; i++) {
            const kf_OffsetCommitRequestPartition *qp = &qt->Partitions.v[i];
            kf_OffsetCommitResponsePartition *o = &r->Topics.v[t].Partitions.v[i];
            o->PartitionIndex = qp->PartitionIndex;
            if (gerr) {
                o->ErrorCode = gerr;
            } else if (nparts <= 0 || qp->PartitionIndex < 0 || qp->PartitionIndex >= nparts) {
                o->ErrorCode = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            } else if (qp->CommittedMetadata.len > KF_OFFSET_METADATA_MAX) {
                o->ErrorCode = KF_ERR_OFFSET_METADATA_TOO_LARGE;
            } else {
                lg_group_offset *e = &k->v[k->n];
                memset(e, 0, sizeof(*e));
                e->group = group;
                e->topic = topic;
                e->partition = qp->PartitionIndex;
                e->offset = qp->CommittedOffset;
                e->metadata = qp->CommittedMetadata.len >= 0 ? qp->CommittedMetadata.s : NULL;
                k->out[k->n++] = o;
            }
        }
    }
    if (k->n == 0)
        return kf__reply(c, r, NULL, 0);
    if (s->o.repl) {
        /* Clustered: one batch to the group's offsets partition, answered
         * once it is committed and applied here (kf_offsets.c). */
        int16_t perr = (int16_t)kf__offsets_propose(k, group);
        if (!perr)
            return KF_ASYNC;
        for (size_t i = 0; i < k->n; i++)
            k->out[i]->ErrorCode = perr;
        return kf__reply(c, r, NULL, 0);
    }
    /* The write and its sync happen on the committer thread; the reply
     * goes out once the offsets are durable (kf_commit.c). */
    kf__commit_submit(k);
    return KF_ASYNC;
}

typedef struct kf_off_collect {
    kf_conn *c;
    const char *group;
    kf_OffsetFetchResponseTopic *topics;
    int32_t n, cap;
    int err;
} kf_off_collect;

/* Collect one committed (topic, partition) of the group into the reply. */
static int kf_off_collect_cb(void *ud, const char *group, const char *topic, int32_t part,
                             int64_t off)
{
    kf_off_collect *k = ud;
    if (strcmp(group, k->group) != 0)
        return 0;
    kf_OffsetFetchResponseTopic *t = NULL;
    for (int32_t i = 0; i < k->n; i++)
        if (kf_str_eq(&k->topics[i].Name, topic))
            t = &k->topics[i];
    if (!t) {
        if (k->n == k->cap) {
            int32_t cap = k->cap ? k->cap * 2 : 8;
            kf_OffsetFetchResponseTopic *nt =
                kf_arena_alloc(k->c->arena, (size_t)cap * sizeof(*nt));
            if (!nt) {
                k->err = CN_ENOMEM;
                return 1;
            }
            if (k->n)
                memcpy(nt, k->topics, (size_t)k->n * sizeof(*nt));
            k->topics = nt;
            k->cap = cap;
        }
        t = &k->topics[k->n++];
        memset(t, 0, sizeof(*t));
        char *name = kf_arena_strndup(k->c->arena, topic, strlen(topic));
        if (!name) {
            k->err = CN_ENOMEM;
            return 1;
        }
        t->Name = kf_str_c(name);
    }
    /* Partitions grow one at a time: arena copies, fine for the handful
     * of partitions a group commits per topic. */
    kf_OffsetFetchResponsePartition *np =
        kf_arena_alloc(k->c->arena, (size_t)(t->Partitions.n + 1) * sizeof(*np));
    if (!np) {
        k->err = CN_ENOMEM;
        return 1;
    }
    if (t->Partitions.n)
        memcpy(np, t->Partitions.v, (size_t)t->Partitions.n * sizeof(*np));
    kf_OffsetFetchResponsePartition_init(&np[t->Partitions.n]);
    np[t->Partitions.n].PartitionIndex = part;
    np[t->Partitions.n].CommittedOffset = off;
    np[t->Partitions.n].Metadata = kf_str_c("");
    t->Partitions.v = np;
    t->Partitions.n++;
    return 0;
}

static void kf_fill_offset(kf_conn *c, const char *group, const char *topic, int32_t part,
                           kf_OffsetFetchResponsePartition *o)
{
    kf_OffsetFetchResponsePartition_init(o);
    o->PartitionIndex = part;
    o->CommittedOffset = -1;
    o->Metadata = kf_str_c("");
    char md[KF_OFFSET_METADATA_MAX + 1];
    int64_t off;
    int rc = lg_group_offset_fetch(c->s->log, group, topic, part, &off, md, sizeof(md));
    if (rc == 0) {
        o->CommittedOffset = off;
        char *m = kf_arena_strndup(c->arena, md, strlen(md));
        if (m)
            o->Metadata = kf_str_c(m);
    } else if (rc != CN_ENOENT) {
        o->ErrorCode = kf__kafka_error(rc);
    }
}

/* Clustered, at a node that does not coordinate the group (now): the
 * error at the top (v2+) and on every partition asked for (v0-1 clients
 * read only those). */
static int kf_offset_fetch_refuse(kf_conn *c, const kf_OffsetFetchRequest *q,
                                  kf_OffsetFetchResponse *r, int16_t err)
{
    r->ErrorCode = err;
    int32_t nt = q->Topics.n > 0 ? q->Topics.n : 0;
    r->Topics.n = nt;
    r->Topics.v = kf_arena_alloc(c->arena, (size_t)(nt ? nt : 1) * sizeof(*r->Topics.v));
    if (!r->Topics.v)
        return CN_ENOMEM;
    for (int32_t t = 0; t < nt; t++) {
        const kf_OffsetFetchRequestTopic *qt = &q->Topics.v[t];
        int32_t np = qt->PartitionIndexes.n > 0 ? qt->PartitionIndexes.n : 0;
        kf_OffsetFetchResponsePartition *o =
            kf_arena_alloc(c->arena, (size_t)(np ? np : 1) * sizeof(*o));
        if (!o)
            return CN_ENOMEM;
        for (int32_t i = 0; i < np; i++) {
            kf_OffsetFetchResponsePartition_init(&o[i]);
            o[i].PartitionIndex = qt->PartitionIndexes.v[i];
            o[i].CommittedOffset = -1;
            o[i].Metadata = kf_str_c("");
            o[i].ErrorCode = err;
        }
        r->Topics.v[t].Name = qt->Name;
        r->Topics.v[t].Partitions.v = o;
        r->Topics.v[t].Partitions.n = np;
    }
    return kf__reply(c, r, NULL, 0);
}

int kf_h_offset_fetch(kf_conn *c)
{
    const kf_OffsetFetchRequest *q = c->req.body;
    const char *group = kf__name(&q->GroupId);
    kf_OffsetFetchResponse r;
    kf_OffsetFetchResponse_init(&r);
    int16_t cerr = kf_coord_check(c, group);
    if (cerr)
        return kf_offset_fetch_refuse(c, q, &r, cerr);
    if (q->Topics.n < 0) {
        /* null: every partition the group has committed (v2+). */
        kf_off_collect k = {c, group, NULL, 0, 0, 0};
        lg_group_offsets_each(c->s->log, kf_off_collect_cb, &k);
        if (k.err)
            return k.err;
        for (int32_t t = 0; t < k.n; t++)
            for (int32_t i = 0; i < k.topics[t].Partitions.n; i++)
                kf_fill_offset(c, group, kf__name(&k.topics[t].Name),
                               k.topics[t].Partitions.v[i].PartitionIndex,
                               &k.topics[t].Partitions.v[i]);
        r.Topics.v = k.topics;
        r.Topics.n = k.n;
        return kf__reply(c, &r, NULL, 0);
    }
    int32_t nt = q->Topics.n;
    r.Topics.n = nt;
    r.Topics.v = kf_arena_alloc(c->arena, (size_t)(nt ? nt : 1) * sizeof(*r.Topics.v));
    if (!r.Topics.v)
        return CN_ENOMEM;
    for (int32_t t = 0; t < nt; t++) {
        const kf_OffsetFetchRequestTopic *qt = &q->Topics.v[t];
        int32_t np = qt->PartitionIndexes.n > 0 ? qt->PartitionIndexes.n : 0;
        r.Topics.v[t].Name = qt->Name;
        r.Topics.v[t].Partitions.n = np;
        r.Topics.v[t].Partitions.v = kf_arena_alloc(
            c->arena, (size_t)(np ? np : 1) * sizeof(kf_OffsetFetchResponsePartition));
        if (!r.Topics.v[t].Partitions.v)
            return CN_ENOMEM;
        for (int32_t i = 0; i < np; i++)
            kf_fill_offset(c, group, kf__name(&qt->Name), qt->PartitionIndexes.v[i],
                           &r.Topics.v[t].Partitions.v[i]);
    }
    return kf__reply(c, &r, NULL, 0);
}

/* ======================================================================
 * ListGroups, DescribeGroups
 * ====================================================================== */

typedef struct kf_list_ctx {
    kf_conn *c;
    const kf_ListGroupsRequest *q;
    kf_ListedGroup *v;
    int32_t n, cap;
    int err;
} kf_list_ctx;

static int kf_list_add(kf_list_ctx *k, const char *id, const char *ptype, const char *state)
{
    /* Clustered, every node holds every group's offsets: list only the
     * groups this node coordinates, as a Kafka broker does (admin clients
     * ask every broker and merge). */
    if (kf_coord_check(k->c, id) != 0)
        return 0;
    for (int32_t i = 0; i < k->n; i++)
        if (kf_str_eq(&k->v[i].GroupId, id))
            return 0;
    if (k->q->StatesFilter.n > 0) {
        int ok = 0;
        for (int32_t i = 0; i < k->q->StatesFilter.n; i++)
            if (strcasecmp(kf__name(&k->q->StatesFilter.v[i]), state) == 0)
                ok = 1;
        if (!ok)
            return 0;
    }
    if (k->n == k->cap) {
        int32_t cap = k->cap ? k->cap * 2 : 8;
        kf_ListedGroup *nv = kf_arena_alloc(k->c->arena, (size_t)cap * sizeof(*nv));
        if (!nv)
            return k->err = CN_ENOMEM;
        if (k->n)
            memcpy(nv, k->v, (size_t)k->n * sizeof(*nv));
        k->v = nv;
        k->cap = cap;
    }
    char *gid = kf_arena_strndup(k->c->arena, id, strlen(id));
    char *pt = kf_arena_strndup(k->c->arena, ptype, strlen(ptype));
    if (!gid || !pt)
        return k->err = CN_ENOMEM;
    k->v[k->n].GroupId = kf_str_c(gid);
    k->v[k->n].ProtocolType = kf_str_c(pt);
    k->v[k->n].GroupState = kf_str_c(state);
    k->n++;
    return 0;
}

static int kf_list_live_cb(void *ud, const kf_group_info *gi)
{
    return kf_list_add(ud, gi->group_id, gi->protocol_type, kf_group_state_name(gi->state)) != 0;
}

static int kf_list_offsets_cb(void *ud, const char *group, const char *topic, int32_t part,
                              int64_t off)
{
    (void)topic;
    (void)part;
    (void)off;
    /* A group known only by its committed offsets is Empty, "consumer". */
    return kf_list_add(ud, group, "consumer", "Empty") != 0;
}

int kf_h_list_groups(kf_conn *c)
{
    kf_list_ctx k = {c, c->req.body, NULL, 0, 0, 0};
    kf_group_each(c->s->groups, kf_list_live_cb, &k);
    if (!k.err)
        lg_group_offsets_each(c->s->log, kf_list_offsets_cb, &k);
    if (k.err)
        return k.err;
    kf_ListGroupsResponse r;
    kf_ListGroupsResponse_init(&r);
    r.Groups.v = k.v;
    r.Groups.n = k.n;
    return kf__reply(c, &r, NULL, 0);
}

typedef struct kf_desc_ctx {
    kf_conn *c;
    kf_DescribedGroup *out;
    int err;
} kf_desc_ctx;

/* Copy what the coordinator shows into the arena (its views are only
 * valid during the callback). */
static void kf_desc_cb(void *ud, const kf_group_info *gi)
{
    kf_desc_ctx *k = ud;
    kf_arena *a = k->c->arena;
    kf_DescribedGroup *o = k->out;
    o->GroupState = kf_str_c(kf_group_state_name(gi->state));
    char *pt = kf_arena_strndup(a, gi->protocol_type, strlen(gi->protocol_type));
    char *pn = kf_arena_strndup(a, gi->protocol_name, strlen(gi->protocol_name));
    kf_DescribedGroupMember *m = kf_arena_alloc(a, (gi->nmembers ? gi->nmembers : 1) * sizeof(*m));
    if (!pt || !pn || !m) {
        k->err = CN_ENOMEM;
        return;
    }
    o->ProtocolType = kf_str_c(pt);
    o->ProtocolData = kf_str_c(pn);
    for (size_t i = 0; i < gi->nmembers; i++) {
        const kf_group_member_info *x = &gi->members[i];
        kf_DescribedGroupMember_init(&m[i]);
        char *id = kf_arena_strndup(a, x->member_id, strlen(x->member_id));
        char *cid = kf_arena_strndup(a, x->client_id, strlen(x->client_id));
        char *host = kf_arena_strndup(a, x->client_host, strlen(x->client_host));
        unsigned char *meta = kf_arena_alloc(a, x->meta_len + 1);
        unsigned char *as = kf_arena_alloc(a, x->assignment_len + 1);
        if (!id || !cid || !host || !meta || !as) {
            k->err = CN_ENOMEM;
            return;
        }
        if (x->meta_len)
            memcpy(meta, x->meta, x->meta_len);
        if (x->assignment_len)
            memcpy(as, x->assignment, x->assignment_len);
        m[i].MemberId = kf_str_c(id);
        if (x->group_instance_id) {
            char *gi_id = kf_arena_strndup(a, x->group_instance_id, strlen(x->group_instance_id));
            if (gi_id)
                m[i].GroupInstanceId = kf_str_c(gi_id);
        }
        m[i].ClientId = kf_str_c(cid);
        m[i].ClientHost = kf_str_c(host);
        m[i].MemberMetadata.ptr = meta;
        m[i].MemberMetadata.len = (int32_t)x->meta_len;
        m[i].MemberAssignment.ptr = as;
        m[i].MemberAssignment.len = (int32_t)x->assignment_len;
    }
    o->Members.v = m;
    o->Members.n = (int32_t)gi->nmembers;
}

typedef struct kf_has_offsets {
    const char *group;
    int found;
} kf_has_offsets;

static int kf_has_offsets_cb(void *ud, const char *group, const char *topic, int32_t part,
                             int64_t off)
{
    kf_has_offsets *h = ud;
    (void)topic;
    (void)part;
    (void)off;
    if (strcmp(group, h->group) == 0) {
        h->found = 1;
        return 1;
    }
    return 0;
}

int kf_h_describe_groups(kf_conn *c)
{
    const kf_DescribeGroupsRequest *q = c->req.body;
    kf_DescribeGroupsResponse r;
    kf_DescribeGroupsResponse_init(&r);
    int32_t n = q->Groups.n > 0 ? q->Groups.n : 0;
    r.Groups.n = n;
    r.Groups.v = kf_arena_alloc(c->arena, (size_t)(n ? n : 1) * sizeof(*r.Groups.v));
    if (!r.Groups.v)
        return CN_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        kf_DescribedGroup *o = &r.Groups.v[i];
        kf_DescribedGroup_init(o);
        o->GroupId = q->Groups.v[i];
        o->ErrorCode = kf_coord_check(c, kf__name(&q->Groups.v[i]));
        if (o->ErrorCode)
            continue;
        kf_desc_ctx k = {c, o, 0};
        int rc = kf_group_describe(c->s->groups, kf__name(&q->Groups.v[i]), kf_desc_cb, &k);
        if (k.err)
            return k.err;
        if (rc == CN_ENOENT) {
            /* Kafka answers unknown groups with state Dead and no error;
             * one that only has committed offsets is Empty. */
            kf_has_offsets h = {kf__name(&q->Groups.v[i]), 0};
            lg_group_offsets_each(c->s->log, kf_has_offsets_cb, &h);
            o->GroupState = kf_str_c(h.found ? "Empty" : "Dead");
            o->ProtocolType = kf_str_c(h.found ? "consumer" : "");
        } else if (rc) {
            return rc;
        }
    }
    return kf__reply(c, &r, NULL, 0);
}
