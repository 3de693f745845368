/* SPDX-License-Identifier: MIT */
/*
 * cmd_log_live.c — `cairn log SUB --brokers HOST:PORT[,...]`: read a
 * running node over the Kafka protocol:
 *   topics          Metadata: name, tab, partition count (as from --data);
 *   describe TOPIC  per partition: log start and end offsets (watermarks)
 *                   and leader;
 *   groups          per group (ListGroups, DescribeGroups): state, protocol,
 *                   members with client id and host — membership lives only
 *                   in the node's memory, so this is the view --data cannot
 *                   give — then committed offsets and lag as with --data
 *                   (OffsetFetch of all partitions, ListOffsets latest).
 * topics and describe are librdkafka clients (metadata and
 * rd_kafka_query_watermark_offsets).  groups stays on cairn's own codec
 * (kf_client, one connection to the first node, one request at a time):
 * librdkafka 2.0.2's ListConsumerGroups and ListConsumerGroupOffsets send
 * ListGroups v4 and OffsetFetch v7 bodies with bytes past their end, which
 * the node refuses as malformed (docs/architecture.md has the capture).
 * Every wait is bounded by LIVE_TIMEOUT_MS.  librdkafka's own log lines are
 * dropped: failures are reported as one line each by this file.  Main
 * thread only (librdkafka's threads stay inside the rd_kafka_t, which this
 * file creates and destroys).
 */
#include "cmd_log_live.h"

#include "cn_cli.h"
#include "cn_err.h"
#include "cn_time.h"
#include "kf_client.h"
#include "kf_msgs.h"
#include "kf_wire.h"

#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>

#define LIVE_TIMEOUT_MS 10000
/* The first metadata request is retried in slices this long, so that a
 * node nobody answers for is reported as soon as librdkafka gives up on
 * every broker, not after the whole timeout. */
#define LIVE_PROBE_SLICE_MS 100

/* ---- topics, describe: librdkafka ---------------------------------------------- */

typedef struct live {
    const char *prog;
    rd_kafka_t *rk;
    int down;      /* error_cb saw all brokers down */
    char why[256]; /* the last transport error's text */
} live;

static void live_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk, (void)level, (void)fac, (void)buf;
}

static void live_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    live *l = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        l->down = 1;
    else if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__RESOLVE)
        snprintf(l->why, sizeof(l->why), "%s", reason);
}

/* Metadata for all topics, with the first call doubling as the reachability
 * check.  @return 0 or -1 (reported). */
static int live_metadata(live *l, const struct rd_kafka_metadata **md, const char *brokers)
{
    uint64_t deadline = cn_mono_ns() + (uint64_t)LIVE_TIMEOUT_MS * 1000000u;
    rd_kafka_resp_err_t err;
    do {
        err = rd_kafka_metadata(l->rk, 1, NULL, md, LIVE_PROBE_SLICE_MS);
        if (!err)
            return 0;
        rd_kafka_poll(l->rk, 0); /* serves live_error_cb */
    } while (!l->down && cn_mono_ns() < deadline);
    fprintf(stderr, "%s: cannot reach a node at %s: %s; is `cairn logd` running there?\n", l->prog,
            brokers, l->why[0] ? l->why : rd_kafka_err2str(err));
    return -1;
}

static int live_topics(live *l, const struct rd_kafka_metadata *md)
{
    for (int i = 0; i < md->topic_cnt; i++)
        printf("%s\t%d\n", md->topics[i].topic, md->topics[i].partition_cnt);
    return CN_EXIT_OK;
}

/* Log start (low) and end (high) offsets of topic:part.  @return 0 or -1. */
static int live_watermarks(live *l, const char *topic, int32_t part, int64_t *lo, int64_t *hi)
{
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(l->rk, topic, part, lo, hi, LIVE_TIMEOUT_MS);
    if (err)
        fprintf(stderr, "%s: offsets of %s:%d: %s\n", l->prog, topic, part, rd_kafka_err2str(err));
    return err ? -1 : 0;
}

static int live_describe(live *l, const struct rd_kafka_metadata *md, const char *topic)
{
    const struct rd_kafka_metadata_topic *t = NULL;
    for (int i = 0; i < md->topic_cnt && !t; i++)
        if (!strcmp(md->topics[i].topic, topic) && !md->topics[i].err)
            t = &md->topics[i];
    if (!t) {
        fprintf(stderr, "%s: no topic '%s' on the node\n", l->prog, topic);
        return CN_EXIT_FAIL;
    }
    printf("topic %s partitions=%d\n", topic, t->partition_cnt);
    for (int i = 0; i < t->partition_cnt; i++) {
        int32_t p = t->partitions[i].id;
        int64_t start, end;
        if (live_watermarks(l, topic, p, &start, &end))
            return CN_EXIT_FAIL;
        printf("  partition %d\tstart=%" PRId64 "\tend=%" PRId64 "\tleader=%d\n", p, start, end,
               t->partitions[i].leader);
    }
    return CN_EXIT_OK;
}

/* The client: a producer-type handle (the usual one for metadata work: no
 * group membership of its own), no logging. */
static int live_open(live *l, const char *brokers)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "client.id", "cairn-log", err, sizeof(err))) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "%s: --brokers %s: %s\n", l->prog, brokers, err);
        return -1;
    }
    rd_kafka_conf_set_log_cb(conf, live_log_cb);
    rd_kafka_conf_set_error_cb(conf, live_error_cb);
    rd_kafka_conf_set_opaque(conf, l);
    l->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!l->rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "%s: %s\n", l->prog, err);
        return -1;
    }
    return 0;
}

static void live_close(live *l)
{
    if (l->rk)
        rd_kafka_destroy(l->rk);
}

/* ---- groups: cairn's own codec ---------------------------------------------- */

typedef struct live_kf {
    const char *prog;
    kf_client *c;
    kf_arena *a;
} live_kf;

static int kfc_call(live_kf *l, int16_t key, int16_t ver, const void *req, void **resp)
{
    int rc = kf_client_call(l->c, key, ver, req, l->a, resp);
    if (rc)
        fprintf(stderr, "%s: request to the node failed: %s\n", l->prog, cn_strerror(rc));
    return rc;
}

/* Latest offset of topic:part, or -1. */
static int64_t kfc_end_offset(live_kf *l, const kf_str *topic, int32_t part)
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
    if (kfc_call(l, KF_API_LISTOFFSETS, 1, &q, (void **)&r))
        return -1;
    if (r->Topics.n != 1 || r->Topics.v[0].Partitions.n != 1 ||
        r->Topics.v[0].Partitions.v[0].ErrorCode)
        return -1;
    return r->Topics.v[0].Partitions.v[0].Offset;
}

static int kfc_group(live_kf *l, const kf_str *gid)
{
    kf_DescribeGroupsRequest dq;
    kf_DescribeGroupsRequest_init(&dq);
    dq.Groups.v = (kf_str *)gid;
    dq.Groups.n = 1;
    kf_DescribeGroupsResponse *dr;
    if (kfc_call(l, KF_API_DESCRIBEGROUPS, 1, &dq, (void **)&dr) || dr->Groups.n != 1)
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
    if (kfc_call(l, KF_API_OFFSETFETCH, 2, &oq, (void **)&orr))
        return CN_EXIT_FAIL;
    for (int32_t t = 0; t < orr->Topics.n; t++)
        for (int32_t p = 0; p < orr->Topics.v[t].Partitions.n; p++) {
            const kf_OffsetFetchResponsePartition *op = &orr->Topics.v[t].Partitions.v[p];
            int64_t end = kfc_end_offset(l, &orr->Topics.v[t].Name, op->PartitionIndex);
            printf("%s\t%s:%d\toffset=%" PRId64 "\tlag=%" PRId64 "\n", gid->s,
                   orr->Topics.v[t].Name.s, op->PartitionIndex, op->CommittedOffset,
                   end >= 0 ? end - op->CommittedOffset : -1);
        }
    return CN_EXIT_OK;
}

static int kfc_groups(live_kf *l)
{
    kf_ListGroupsRequest q;
    kf_ListGroupsRequest_init(&q);
    kf_ListGroupsResponse *r;
    if (kfc_call(l, KF_API_LISTGROUPS, 1, &q, (void **)&r))
        return CN_EXIT_FAIL;
    if (r->ErrorCode) {
        fprintf(stderr, "%s: the node refused ListGroups (Kafka error %d)\n", l->prog,
                r->ErrorCode);
        return CN_EXIT_FAIL;
    }
    for (int32_t i = 0; i < r->Groups.n; i++)
        if (kfc_group(l, &r->Groups.v[i].GroupId))
            return CN_EXIT_FAIL;
    return CN_EXIT_OK;
}

/* groups over one kf_client connection to the first node listed. */
static int live_groups(const char *prog, const char *brokers)
{
    char first[512];
    snprintf(first, sizeof(first), "%s", brokers);
    char *comma = strchr(first, ',');
    if (comma)
        *comma = 0;
    live_kf l = {prog, NULL, NULL};
    int rc = kf_client_connect(&l.c, first, LIVE_TIMEOUT_MS);
    if (rc) {
        fprintf(stderr, "%s: cannot reach a node at %s: %s; is `cairn logd` running there?\n", prog,
                first, rc == CN_ESYS ? strerror(errno) : cn_strerror(rc));
        return CN_EXIT_FAIL;
    }
    int status = CN_EXIT_FAIL;
    if (kf_arena_new(&l.a, 256u << 20) == 0)
        status = kfc_groups(&l);
    kf_arena_free(l.a);
    kf_client_close(l.c);
    return status;
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
    if (!strcmp(sub, "groups"))
        return live_groups(prog, brokers);
    live l = {.prog = prog};
    const struct rd_kafka_metadata *md = NULL;
    int status = CN_EXIT_FAIL;
    if (live_open(&l, brokers) == 0 && live_metadata(&l, &md, brokers) == 0)
        status = !strcmp(sub, "topics") ? live_topics(&l, md) : live_describe(&l, md, arg);
    if (md)
        rd_kafka_metadata_destroy(md);
    live_close(&l);
    return status;
}
