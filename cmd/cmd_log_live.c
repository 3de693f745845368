/* SPDX-License-Identifier: MIT */
/*
 * cmd_log_live.c — `cairn log SUB --brokers HOST:PORT`: read a running node
 * over the Kafka wire protocol with cairn's own codec (kf_client):
 *   topics          Metadata: name, tab, partition count (as from --data);
 *   describe TOPIC  per partition: log start and end offsets (ListOffsets);
 *   groups          per group (ListGroups, DescribeGroups): state, protocol,
 *                   members with client id and host — membership lives only
 *                   in the node's memory, so this is the view --data cannot
 *                   give — then committed offsets and lag as with --data
 *                   (OffsetFetch of all partitions, ListOffsets latest).
 * One connection, one request at a time; main thread only.
 */
#include "cmd_log_live.h"

#include "cn_cli.h"
#include "cn_err.h"
#include "kf_client.h"
#include "kf_msgs.h"
#include "kf_wire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define LIVE_TIMEOUT_MS 10000

typedef struct live {
    const char *prog;
    kf_client *c;
    kf_arena *a;
} live;

static int live_call(live *l, int16_t key, int16_t ver, const void *req, void **resp)
{
    int rc = kf_client_call(l->c, key, ver, req, l->a, resp);
    if (rc)
        fprintf(stderr, "%s: request to the node failed: %s\n", l->prog, cn_strerror(rc));
    return rc;
}

/* Latest offset of topic:part, or -1. */
static int64_t live_end_offset(live *l, const kf_str *topic, int32_t part)
{
    kf_ListOffsetsPartition p;
    kf_ListOffsetsPartition_init(&p);
    p.PartitionIndex = part;
    p.Timestamp = -1;
    kf_ListOffsetsTopic t = {*topic, {&p, 1}};
    kf_ListOffsetsRequest q;
    kf_ListOffsetsRequest_init(&q);
    q.ReplicaId = -1;
    q.Topics.v = &t;
    q.Topics.n = 1;
    kf_ListOffsetsResponse *r;
    if (live_call(l, KF_API_LISTOFFSETS, 1, &q, (void **)&r))
        return -1;
    if (r->Topics.n != 1 || r->Topics.v[0].Partitions.n != 1 ||
        r->Topics.v[0].Partitions.v[0].ErrorCode)
        return -1;
    return r->Topics.v[0].Partitions.v[0].Offset;
}

static int live_metadata(live *l, const char *only, kf_MetadataResponse **out)
{
    kf_MetadataRequestTopic t = {kf_str_c(only)};
    kf_MetadataRequest q;
    kf_MetadataRequest_init(&q);
    q.Topics.n = -1;
    if (only) {
        q.Topics.v = &t;
        q.Topics.n = 1;
    }
    q.AllowAutoTopicCreation = 0;
    return live_call(l, KF_API_METADATA, 4, &q, (void **)out);
}

static int live_topics(live *l)
{
    kf_MetadataResponse *r;
    if (live_metadata(l, NULL, &r))
        return CN_EXIT_FAIL;
    for (int32_t i = 0; i < r->Topics.n; i++)
        printf("%s\t%d\n", r->Topics.v[i].Name.s, r->Topics.v[i].Partitions.n);
    return CN_EXIT_OK;
}

static int live_describe(live *l, const char *topic)
{
    kf_MetadataResponse *r;
    if (live_metadata(l, topic, &r))
        return CN_EXIT_FAIL;
    if (r->Topics.n != 1 || r->Topics.v[0].ErrorCode) {
        fprintf(stderr, "%s: no topic '%s' on the node\n", l->prog, topic);
        return CN_EXIT_FAIL;
    }
    const kf_MetadataResponseTopic *t = &r->Topics.v[0];
    printf("topic %s partitions=%d\n", topic, t->Partitions.n);
    for (int32_t i = 0; i < t->Partitions.n; i++) {
        int32_t p = t->Partitions.v[i].PartitionIndex;
        kf_ListOffsetsPartition lp[1];
        kf_ListOffsetsPartition_init(&lp[0]);
        lp[0].PartitionIndex = p;
        lp[0].Timestamp = -2;
        kf_ListOffsetsTopic lt = {t->Name, {lp, 1}};
        kf_ListOffsetsRequest q;
        kf_ListOffsetsRequest_init(&q);
        q.ReplicaId = -1;
        q.Topics.v = &lt;
        q.Topics.n = 1;
        kf_ListOffsetsResponse *lr;
        if (live_call(l, KF_API_LISTOFFSETS, 1, &q, (void **)&lr))
            return CN_EXIT_FAIL;
        int64_t start = lr->Topics.v[0].Partitions.v[0].Offset;
        int64_t end = live_end_offset(l, &t->Name, p);
        printf("  partition %d\tstart=%" PRId64 "\tend=%" PRId64 "\tleader=%d\n", p, start, end,
               t->Partitions.v[i].LeaderId);
    }
    return CN_EXIT_OK;
}

static int live_group(live *l, const kf_str *gid)
{
    kf_DescribeGroupsRequest dq;
    kf_DescribeGroupsRequest_init(&dq);
    dq.Groups.v = (kf_str *)gid;
    dq.Groups.n = 1;
    kf_DescribeGroupsResponse *dr;
    if (live_call(l, KF_API_DESCRIBEGROUPS, 1, &dq, (void **)&dr) || dr->Groups.n != 1)
        return CN_EXIT_FAIL;
    const kf_DescribedGroup *g = &dr->Groups.v[0];
    printf("%s\tstate=%s\tprotocol=%s\tmembers=%d\n", gid->s, g->GroupState.s,
           g->ProtocolData.len > 0 ? g->ProtocolData.s : "-", g->Members.n);
    for (int32_t m = 0; m < g->Members.n; m++)
        printf("  member=%s\tclient=%s\thost=%s\n", g->Members.v[m].MemberId.s,
               g->Members.v[m].ClientId.s, g->Members.v[m].ClientHost.s);
    kf_OffsetFetchRequest oq;
    kf_OffsetFetchRequest_init(&oq);
    oq.GroupId = *gid;
    oq.Topics.n = -1; /* everything committed */
    kf_OffsetFetchResponse *orr;
    if (live_call(l, KF_API_OFFSETFETCH, 2, &oq, (void **)&orr))
        return CN_EXIT_FAIL;
    for (int32_t t = 0; t < orr->Topics.n; t++)
        for (int32_t p = 0; p < orr->Topics.v[t].Partitions.n; p++) {
            const kf_OffsetFetchResponsePartition *op = &orr->Topics.v[t].Partitions.v[p];
            int64_t end = live_end_offset(l, &orr->Topics.v[t].Name, op->PartitionIndex);
            printf("%s\t%s:%d\toffset=%" PRId64 "\tlag=%" PRId64 "\n", gid->s,
                   orr->Topics.v[t].Name.s, op->PartitionIndex, op->CommittedOffset,
                   end >= 0 ? end - op->CommittedOffset : -1);
        }
    return CN_EXIT_OK;
}

static int live_groups(live *l)
{
    kf_ListGroupsRequest q;
    kf_ListGroupsRequest_init(&q);
    kf_ListGroupsResponse *r;
    if (live_call(l, KF_API_LISTGROUPS, 1, &q, (void **)&r))
        return CN_EXIT_FAIL;
    if (r->ErrorCode) {
        fprintf(stderr, "%s: the node refused ListGroups (Kafka error %d)\n", l->prog,
                r->ErrorCode);
        return CN_EXIT_FAIL;
    }
    for (int32_t i = 0; i < r->Groups.n; i++)
        if (live_group(l, &r->Groups.v[i].GroupId))
            return CN_EXIT_FAIL;
    return CN_EXIT_OK;
}

int cmd_log_live(const char *prog, const char *sub, const char *arg, const char *brokers)
{
    if (strcmp(sub, "topics") && strcmp(sub, "describe") && strcmp(sub, "groups")) {
        fprintf(stderr,
                "%s: '%s' reads segment files: use --data DIR (--brokers serves topics, describe, "
                "groups); see '%s --help'\n",
                prog, sub, prog);
        return CN_EXIT_USAGE;
    }
    /* --brokers may list several nodes: the first one answers for all. */
    char first[512];
    snprintf(first, sizeof(first), "%s", brokers);
    char *comma = strchr(first, ',');
    if (comma)
        *comma = 0;
    live l = {prog, NULL, NULL};
    int rc = kf_client_connect(&l.c, first, LIVE_TIMEOUT_MS);
    if (rc) {
        fprintf(stderr, "%s: cannot reach a node at %s: %s; is `cairn logd` running there?\n", prog,
                first, rc == CN_ESYS ? strerror(errno) : cn_strerror(rc));
        return CN_EXIT_FAIL;
    }
    int status = CN_EXIT_FAIL;
    if (kf_arena_new(&l.a, 256u << 20) == 0) {
        if (!strcmp(sub, "topics"))
            status = live_topics(&l);
        else if (!strcmp(sub, "describe"))
            status = live_describe(&l, arg);
        else
            status = live_groups(&l);
    }
    kf_arena_free(l.a);
    kf_client_close(l.c);
    return status;
}
