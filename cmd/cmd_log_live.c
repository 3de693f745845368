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
 *   cluster         the cluster as this node sees it: the live nodes
 *                   (Metadata's brokers), then per partition its leader,
 *                   replicas, in-sync replicas, replicas whose node is down
 *                   and the high watermark (ListOffsets latest); a
 *                   partition the answering node leads is flagged
 *                   under-replicated when its ISR is smaller than its
 *                   replica set (only the leader knows the ISR: for the
 *                   others it says which node to ask).  Terms, log ends and lag
 *                   per replica are on each node's /metrics (logd --http).
 * All four are librdkafka clients: metadata and
 * rd_kafka_query_watermark_offsets, and for groups its admin API
 * (ListConsumerGroups, DescribeConsumerGroups, ListConsumerGroupOffsets;
 * librdkafka 2.0.2 sends ListGroups v4 and OffsetFetch v7 bodies with bytes
 * past their end, which the node accepts as Kafka does).
 * Every wait is bounded by LIVE_TIMEOUT_MS.  librdkafka's own log lines are
 * dropped: failures are reported as one line each by this file.  Main
 * thread only (librdkafka's threads stay inside the rd_kafka_t, which this
 * file creates and destroys).
 */
#include "cmd_log_live.h"

#include "cn_cli.h"
#include "cn_err.h"
#include "cn_time.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void live_ids(const int32_t *v, int n, char *out, size_t cap)
{
    size_t at = 0;
    out[0] = 0;
    for (int i = 0; i < n && at < cap; i++)
        at += (size_t)snprintf(out + at, cap - at, "%s%d", i ? "," : "", (int)v[i]);
}

static int live_node_up(const struct rd_kafka_metadata *md, int32_t id)
{
    for (int i = 0; i < md->broker_cnt; i++)
        if (md->brokers[i].id == id)
            return 1;
    return 0;
}

/* The HW (the end consumers see) of a partition the metadata gave a
 * leader.  Leadership moves while a cluster heals, and the client's own
 * metadata may lag the snapshot being printed: a few short retries, then
 * the error (shown on the partition's line; the rest is still printed). */
static rd_kafka_resp_err_t live_cluster_hw(live *l, const char *topic, int32_t part, int64_t *hi)
{
    rd_kafka_resp_err_t err;
    uint64_t end = cn_mono_ns() + (uint64_t)LIVE_TIMEOUT_MS * 1000000u;
    for (;;) {
        int64_t lo, left = (int64_t)(end - cn_mono_ns()) / 1000000;
        err = rd_kafka_query_watermark_offsets(l->rk, topic, part, &lo, hi,
                                               left > 100 ? (int)left : 100);
        if (!err || cn_mono_ns() + 200000000u >= end)
            return err;
        usleep(200 * 1000);
    }
}

static int live_cluster(live *l, const struct rd_kafka_metadata *md)
{
    printf("nodes (live, as %s answers)\n", md->orig_broker_name);
    for (int i = 0; i < md->broker_cnt; i++)
        printf("  node %d\t%s:%d\n", (int)md->brokers[i].id, md->brokers[i].host,
               md->brokers[i].port);
    int under = 0, led = 0;
    for (int t = 0; t < md->topic_cnt; t++) {
        const struct rd_kafka_metadata_topic *tp = &md->topics[t];
        if (tp->err)
            continue;
        for (int i = 0; i < tp->partition_cnt; i++) {
            const struct rd_kafka_metadata_partition *p = &tp->partitions[i];
            int64_t hi = -1;
            rd_kafka_resp_err_t werr = p->leader >= 0 ? live_cluster_hw(l, tp->topic, p->id, &hi)
                                                      : RD_KAFKA_RESP_ERR_NO_ERROR;
            char rep[128], isr[128], down[128];
            int32_t dv[64];
            int nd = 0;
            for (int k = 0; k < p->replica_cnt && nd < 64; k++)
                if (!live_node_up(md, p->replicas[k]))
                    dv[nd++] = p->replicas[k];
            live_ids(p->replicas, p->replica_cnt, rep, sizeof(rep));
            live_ids(p->isrs, p->isr_cnt, isr, sizeof(isr));
            live_ids(dv, nd, down, sizeof(down));
            /* Only a partition's leader knows its ISR (another node
             * reports the leader alone): judge only what this node leads. */
            int mine = p->leader == md->orig_broker_id;
            int ur = mine && p->isr_cnt < p->replica_cnt;
            under += ur;
            led += mine;
            if (!mine && p->leader >= 0)
                snprintf(isr, sizeof(isr), "(ask node %d)", (int)p->leader);
            char hw[32];
            snprintf(hw, sizeof(hw), "%" PRId64, hi);
            printf("%s/%d\tleader=%d\treplicas=%s\tisr=%s\tdown=%s\thw=%s%s%s%s%s\n", tp->topic,
                   (int)p->id, (int)p->leader, rep, isr, nd ? down : "-", werr ? "?" : hw,
                   p->leader < 0 ? "\tno leader" : "", ur ? "\tunder-replicated" : "",
                   werr ? "\toffsets unavailable: " : "", werr ? rd_kafka_err2str(werr) : "");
        }
    }
    printf("%d of the %d partitions node %d leads under-replicated\n", under, led,
           (int)md->orig_broker_id);
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

/* ---- groups: librdkafka's admin API ------------------------------------------ */

/* Wait for the admin result of type want on q.  NULL (reported) on a
 * timeout or a request-level error; else the event, which the caller
 * destroys. */
static rd_kafka_event_t *live_admin_wait(live *l, rd_kafka_queue_t *q, rd_kafka_event_type_t want,
                                         const char *what)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, LIVE_TIMEOUT_MS + 1000);
    if (!ev) {
        fprintf(stderr, "%s: %s: no answer from the node in %d s\n", l->prog, what,
                LIVE_TIMEOUT_MS / 1000);
        return NULL;
    }
    if (rd_kafka_event_type(ev) != want || rd_kafka_event_error(ev)) {
        fprintf(stderr, "%s: %s: %s\n", l->prog, what,
                rd_kafka_event_error(ev) ? rd_kafka_event_error_string(ev) : "unexpected event");
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

static rd_kafka_AdminOptions_t *live_admin_opts(live *l)
{
    char err[256];
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(l->rk, RD_KAFKA_ADMIN_OP_ANY);
    if (o && rd_kafka_AdminOptions_set_request_timeout(o, LIVE_TIMEOUT_MS, err, sizeof(err))) {
        rd_kafka_AdminOptions_destroy(o);
        return NULL;
    }
    return o;
}

/* Committed offsets of group gid (every partition) with their lag. */
static int live_group_offsets(live *l, rd_kafka_queue_t *q, const char *gid)
{
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(gid, NULL);
    rd_kafka_AdminOptions_t *o = live_admin_opts(l);
    if (!req || !o) {
        if (req)
            rd_kafka_ListConsumerGroupOffsets_destroy(req);
        if (o)
            rd_kafka_AdminOptions_destroy(o);
        fprintf(stderr, "%s: out of memory\n", l->prog);
        return -1;
    }
    rd_kafka_ListConsumerGroupOffsets(l->rk, &req, 1, o, q);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_event_t *ev = live_admin_wait(l, q, RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT,
                                           "ListConsumerGroupOffsets");
    if (!ev)
        return -1;
    size_t n;
    const rd_kafka_group_result_t **g = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const rd_kafka_error_t *e = rd_kafka_group_result_error(g[i]);
        if (e) {
            fprintf(stderr, "%s: offsets of group %s: %s\n", l->prog, gid,
                    rd_kafka_error_string(e));
            rc = -1;
            break;
        }
        const rd_kafka_topic_partition_list_t *ps = rd_kafka_group_result_partitions(g[i]);
        for (int k = 0; ps && k < ps->cnt && !rc; k++) {
            const rd_kafka_topic_partition_t *tp = &ps->elems[k];
            if (tp->err || tp->offset < 0)
                continue; /* nothing committed there */
            int64_t start, end;
            rc = live_watermarks(l, tp->topic, tp->partition, &start, &end);
            if (!rc)
                printf("%s\t%s:%d\toffset=%" PRId64 "\tlag=%" PRId64 "\n", gid, tp->topic,
                       tp->partition, tp->offset, end - tp->offset);
        }
    }
    rd_kafka_event_destroy(ev);
    return rc;
}

/* State, protocol and members of the groups in ids (one request), each
 * followed by its committed offsets. */
static int live_describe_groups(live *l, rd_kafka_queue_t *q, const char **ids, size_t n)
{
    rd_kafka_AdminOptions_t *o = live_admin_opts(l);
    if (!o) {
        fprintf(stderr, "%s: out of memory\n", l->prog);
        return -1;
    }
    rd_kafka_DescribeConsumerGroups(l->rk, ids, n, o, q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_event_t *ev = live_admin_wait(l, q, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT,
                                           "DescribeConsumerGroups");
    if (!ev)
        return -1;
    size_t cnt;
    const rd_kafka_ConsumerGroupDescription_t **d = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &cnt);
    int rc = 0;
    for (size_t i = 0; i < cnt && !rc; i++) {
        const char *gid = rd_kafka_ConsumerGroupDescription_group_id(d[i]);
        const rd_kafka_error_t *e = rd_kafka_ConsumerGroupDescription_error(d[i]);
        if (e) {
            fprintf(stderr, "%s: group %s: %s\n", l->prog, gid, rd_kafka_error_string(e));
            rc = -1;
            break;
        }
        const char *proto = rd_kafka_ConsumerGroupDescription_partition_assignor(d[i]);
        size_t nm = rd_kafka_ConsumerGroupDescription_member_count(d[i]);
        printf("%s\tstate=%s\tprotocol=%s\tmembers=%zu\n", gid,
               rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(d[i])),
               proto && *proto ? proto : "-", nm);
        for (size_t m = 0; m < nm; m++) {
            const rd_kafka_MemberDescription_t *md =
                rd_kafka_ConsumerGroupDescription_member(d[i], m);
            printf("  member=%s\tclient=%s\thost=%s\n", rd_kafka_MemberDescription_consumer_id(md),
                   rd_kafka_MemberDescription_client_id(md), rd_kafka_MemberDescription_host(md));
        }
        rc = live_group_offsets(l, q, gid);
    }
    rd_kafka_event_destroy(ev);
    return rc;
}

static int live_groups(live *l)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(l->rk);
    rd_kafka_AdminOptions_t *o = live_admin_opts(l);
    if (!q || !o) {
        if (q)
            rd_kafka_queue_destroy(q);
        if (o)
            rd_kafka_AdminOptions_destroy(o);
        fprintf(stderr, "%s: out of memory\n", l->prog);
        return CN_EXIT_FAIL;
    }
    rd_kafka_ListConsumerGroups(l->rk, o, q);
    rd_kafka_AdminOptions_destroy(o);
    int status = CN_EXIT_FAIL;
    rd_kafka_event_t *ev =
        live_admin_wait(l, q, RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT, "ListConsumerGroups");
    if (ev) {
        const rd_kafka_ListConsumerGroups_result_t *res =
            rd_kafka_event_ListConsumerGroups_result(ev);
        size_t nerr, n;
        const rd_kafka_error_t **errs = rd_kafka_ListConsumerGroups_result_errors(res, &nerr);
        const rd_kafka_ConsumerGroupListing_t **g =
            rd_kafka_ListConsumerGroups_result_valid(res, &n);
        if (nerr) {
            fprintf(stderr, "%s: the node refused ListGroups: %s\n", l->prog,
                    rd_kafka_error_string(errs[0]));
        } else {
            const char **ids = n ? malloc(n * sizeof(*ids)) : NULL;
            if (n && !ids) {
                fprintf(stderr, "%s: out of memory\n", l->prog);
            } else {
                for (size_t i = 0; i < n; i++)
                    ids[i] = rd_kafka_ConsumerGroupListing_group_id(g[i]);
                status =
                    n == 0 || live_describe_groups(l, q, ids, n) == 0 ? CN_EXIT_OK : CN_EXIT_FAIL;
                free(ids);
            }
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    return status;
}

int cmd_log_live(const char *prog, const char *sub, const char *arg, const char *brokers)
{
    if (strcmp(sub, "topics") && strcmp(sub, "describe") && strcmp(sub, "groups") &&
        strcmp(sub, "cluster")) {
        fprintf(stderr,
                "%s: '%s' reads segment files: use --data DIR (--brokers serves topics, describe, "
                "groups, cluster); see '%s --help'\n",
                prog, sub, prog);
        return CN_EXIT_USAGE;
    }
    live l = {.prog = prog};
    const struct rd_kafka_metadata *md = NULL;
    int status = CN_EXIT_FAIL;
    if (live_open(&l, brokers) == 0 && live_metadata(&l, &md, brokers) == 0) {
        if (!strcmp(sub, "groups"))
            status = live_groups(&l);
        else if (!strcmp(sub, "cluster"))
            status = live_cluster(&l, md);
        else
            status = !strcmp(sub, "topics") ? live_topics(&l, md) : live_describe(&l, md, arg);
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    live_close(&l);
    return status;
}
