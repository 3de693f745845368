/* SPDX-License-Identifier: MIT */
/*
 * kf_h_meta.c — handlers for the cluster/topic-metadata APIs: ApiVersions,
 * Metadata, CreateTopics, DeleteTopics, DescribeConfigs, InitProducerId.
 *
 * Standalone, cairn is one node: every partition's leader and only
 * replica, the controller and the group coordinator (node id --node-id,
 * default 0).  Clustered (kf_server_opts.repl), Metadata lists every node
 * and each partition's leader, epoch, replicas (all voters) and ISR as the
 * replication driver knows them; this node stays the controller and group
 * coordinator it names itself (no controller group yet).
 * All handlers reply synchronously on the loop thread; they read and
 * change topics through lg_* (which may take LMDB locks briefly).
 * Replies are built in the connection's arena and freed with it.
 */
#include "kf_server_int.h"

#include "cn_err.h"
#include "cn_log.h"
#include "kf_errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KF_CLUSTER_ID "cairn-0000000000000000"

/* ======================================================================
 * ApiVersions
 * ====================================================================== */

/* librdkafka derives its "features" from the advertised ranges, and some
 * of them (gzip, snappy and lz4 compression among them) require Produce
 * and Fetch to include version 0 — a broker advertising Produce 3+ gets
 * uncompressed batches even when the client is configured to compress.
 * So we advertise 0 as the floor of both; a request older than what we
 * decode (no client that uses RecordBatch v2 sends one) is answered with
 * UNSUPPORTED_VERSION per partition (kf_h_oldver.c), never a close. */
static int16_t kf_advertised_min(const kf_api_info *a)
{
    if (a->api_key == KF_API_PRODUCE || a->api_key == KF_API_FETCH)
        return 0;
    return a->min_version;
}

int kf__api_keys(kf_conn *c, kf_ApiVersion **out, size_t *n)
{
    const kf_api_info *t = kf_api_table(n);
    kf_ApiVersion *keys = kf_arena_alloc(c->arena, *n * sizeof(*keys));
    if (!keys)
        return CN_ENOMEM;
    for (size_t i = 0; i < *n; i++) {
        keys[i].ApiKey = t[i].api_key;
        keys[i].MinVersion = kf_advertised_min(&t[i]);
        keys[i].MaxVersion = t[i].max_version;
    }
    *out = keys;
    return 0;
}

int kf_h_api_versions(kf_conn *c)
{
    size_t n;
    kf_ApiVersion *keys;
    int rc = kf__api_keys(c, &keys, &n);
    if (rc)
        return rc;
    kf_ApiVersionsResponse r;
    memset(&r, 0, sizeof(r));
    r.ApiKeys.v = keys;
    r.ApiKeys.n = (int32_t)n;
    r.FinalizedFeaturesEpoch = -1;
    return kf__reply(c, &r, NULL, 0);
}

/* ======================================================================
 * topics
 * ====================================================================== */

typedef struct kf_topic_list {
    kf_arena *a;
    char **names;
    int32_t n, cap;
    int err;
} kf_topic_list;

static int kf_topic_collect(void *ud, const char *name, const lg_topic_config *cfg)
{
    kf_topic_list *l = ud;
    (void)cfg;
    if (l->n == l->cap) {
        int32_t cap = l->cap ? l->cap * 2 : 16;
        char **nn = kf_arena_alloc(l->a, (size_t)cap * sizeof(*nn));
        if (!nn) {
            l->err = CN_ENOMEM;
            return 1;
        }
        if (l->n)
            memcpy(nn, l->names, (size_t)l->n * sizeof(*nn));
        l->names = nn;
        l->cap = cap;
    }
    l->names[l->n] = kf_arena_strndup(l->a, name, strlen(name));
    if (!l->names[l->n]) {
        l->err = CN_ENOMEM;
        return 1;
    }
    l->n++;
    return 0;
}

int kf__topic_autocreate(kf_server *s, const char *topic)
{
    if (lg_topic_partitions(s->log, topic) > 0)
        return 0;
    if (!s->o.auto_create || s->o.repl)
        return LG_ENOTOPIC;
    lg_topic_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.partitions = s->o.default_partitions;
    int rc = lg_topic_create(s->log, topic, &cfg);
    if (rc == 0)
        cn_log_info("kf", "auto-created topic %s with %d partitions", topic, cfg.partitions);
    if (rc == CN_EEXIST)
        rc = 0;
    return rc;
}

int16_t kf__leader_check(kf_server *s, const char *topic, int32_t partition)
{
    if (!s->o.repl)
        return 0;
    rp_part_state st;
    if (rp_repl_state(s->o.repl, topic, partition, &st) != 0)
        return KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    return st.serving ? 0 : KF_ERR_NOT_LEADER_OR_FOLLOWER;
}

/* Clustered: one partition as the replication driver knows it. */
static int kf_fill_replicated(kf_conn *c, kf_MetadataResponsePartition *p, const char *name,
                              int32_t i)
{
    const rp_cluster *b = c->s->o.brokers;
    rp_part_state st;
    p->PartitionIndex = i;
    if (rp_repl_state(c->s->o.repl, name, i, &st) != 0) {
        p->ErrorCode = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        p->LeaderId = -1;
        p->LeaderEpoch = -1;
        return 0;
    }
    int32_t *rep = kf_arena_alloc(c->arena, (size_t)(b->npeers + st.nisr + 1) * sizeof(int32_t));
    if (!rep)
        return CN_ENOMEM;
    for (int k = 0; k < b->npeers; k++)
        rep[k] = b->peers[k].id;
    memcpy(rep + b->npeers, st.isr, (size_t)st.nisr * sizeof(int32_t));
    p->LeaderId = st.leader;
    p->LeaderEpoch = st.term;
    p->ErrorCode = st.leader < 0 ? KF_ERR_LEADER_NOT_AVAILABLE : 0;
    p->ReplicaNodes.v = rep;
    p->ReplicaNodes.n = b->npeers;
    p->IsrNodes.v = rep + b->npeers;
    p->IsrNodes.n = st.nisr;
    return 0;
}

static int kf_fill_topic(kf_conn *c, kf_MetadataResponseTopic *t, const char *name, int16_t err)
{
    kf_server *s = c->s;
    t->Name = kf_str_c(name);
    t->TopicAuthorizedOperations = INT32_MIN;
    /* Clustered, the replicated consumer-group offsets are internal, as in Kafka. */
    t->IsInternal = s->o.repl && strcmp(name, KF_OFFSETS_TOPIC) == 0;
    if (err) {
        t->ErrorCode = err;
        return 0;
    }
    int np = lg_topic_partitions(s->log, name);
    if (np <= 0) {
        t->ErrorCode = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        return 0;
    }
    int32_t *node = kf_arena_alloc(c->arena, sizeof(int32_t));
    kf_MetadataResponsePartition *p = kf_arena_alloc(c->arena, (size_t)np * sizeof(*p));
    if (!p || !node)
        return CN_ENOMEM;
    *node = s->o.node_id;
    for (int i = 0; i < np && s->o.repl; i++)
        if (kf_fill_replicated(c, &p[i], name, i))
            return CN_ENOMEM;
    for (int i = 0; i < np && !s->o.repl; i++) {
        lg_partition_info info;
        int32_t epoch = 0;
        if (lg_partition_info_get(s->log, name, i, &info) == 0)
            epoch = info.leader_epoch;
        p[i].PartitionIndex = i;
        p[i].LeaderId = s->o.node_id;
        p[i].LeaderEpoch = epoch;
        p[i].ReplicaNodes.v = node;
        p[i].ReplicaNodes.n = 1;
        p[i].IsrNodes.v = node;
        p[i].IsrNodes.n = 1;
    }
    t->Partitions.v = p;
    t->Partitions.n = np;
    return 0;
}

int kf_h_metadata(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_MetadataRequest *q = c->req.body;
    int16_t v = c->req.hdr.api_version;
    kf_MetadataResponse r;
    memset(&r, 0, sizeof(r));
    kf_MetadataResponseBroker *b = kf_arena_alloc(c->arena, sizeof(*b));
    if (!b)
        return CN_ENOMEM;
    b->NodeId = s->o.node_id;
    b->Host = kf_str_c(s->host);
    b->Port = s->adv_port;
    b->Rack.len = -1;
    r.Brokers.v = b;
    r.Brokers.n = 1;
    if (s->o.brokers) {
        const rp_cluster *cl = s->o.brokers;
        b = kf_arena_alloc(c->arena, (size_t)cl->npeers * sizeof(*b));
        if (!b)
            return CN_ENOMEM;
        /* Live brokers only, as Kafka lists the registered ones: this node
         * and the peers it has a replication connection with.  A client
         * (kafkajs) that keeps a fetcher per listed broker otherwise keeps
         * dialling a dead node and stops fetching from the live ones. */
        const rp_net *net = s->o.repl ? rp_repl_net(s->o.repl) : NULL;
        int n = 0;
        for (int i = 0; i < cl->npeers; i++) {
            if (cl->peers[i].id != s->o.node_id && net && !rp_net_connected(net, cl->peers[i].id))
                continue;
            b[n].NodeId = cl->peers[i].id;
            b[n].Host = kf_str_c(cl->peers[i].host);
            b[n].Port = cl->peers[i].port;
            b[n].Rack.len = -1;
            n++;
        }
        r.Brokers.v = b;
        r.Brokers.n = n;
    }
    r.ClusterId = kf_str_c(KF_CLUSTER_ID);
    r.ControllerId = s->o.node_id;
    r.ClusterAuthorizedOperations = INT32_MIN;
    /* v0: an empty list means all topics; v1+: null means all, empty none. */
    int all = q->Topics.n < 0 || (v == 0 && q->Topics.n == 0);
    if (all) {
        kf_topic_list l = {c->arena, NULL, 0, 0, 0};
        lg_topics_each(s->log, kf_topic_collect, &l);
        if (l.err)
            return l.err;
        r.Topics.v = kf_arena_alloc(c->arena, (size_t)(l.n ? l.n : 1) * sizeof(*r.Topics.v));
        if (!r.Topics.v)
            return CN_ENOMEM;
        r.Topics.n = l.n;
        for (int32_t i = 0; i < l.n; i++)
            if (kf_fill_topic(c, &r.Topics.v[i], l.names[i], 0))
                return CN_ENOMEM;
    } else {
        r.Topics.n = q->Topics.n;
        r.Topics.v =
            kf_arena_alloc(c->arena, (size_t)(q->Topics.n ? q->Topics.n : 1) * sizeof(*r.Topics.v));
        if (!r.Topics.v)
            return CN_ENOMEM;
        /* v4+ lets the client forbid auto-creation; older versions always
         * allowed it (subject to the broker flag). */
        int may_create = v < 4 || q->AllowAutoTopicCreation;
        for (int32_t i = 0; i < q->Topics.n; i++) {
            const char *name = kf__name(&q->Topics.v[i].Name);
            int16_t err = 0;
            if (lg_topic_partitions(s->log, name) <= 0) {
                int rc = may_create ? kf__topic_autocreate(s, name) : LG_ENOTOPIC;
                if (rc == CN_EINVAL)
                    err = KF_ERR_INVALID_TOPIC_EXCEPTION;
                else if (rc)
                    err = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            }
            if (kf_fill_topic(c, &r.Topics.v[i], name, err))
                return CN_ENOMEM;
        }
    }
    return kf__reply(c, &r, NULL, 0);
}

int kf_h_create_topics(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_CreateTopicsRequest *q = c->req.body;
    kf_CreateTopicsResponse r;
    memset(&r, 0, sizeof(r));
    r.Topics.n = q->Topics.n;
    r.Topics.v =
        kf_arena_alloc(c->arena, (size_t)(q->Topics.n > 0 ? q->Topics.n : 1) * sizeof(*r.Topics.v));
    if (!r.Topics.v)
        return CN_ENOMEM;
    for (int32_t i = 0; i < q->Topics.n; i++) {
        const kf_CreatableTopic *t = &q->Topics.v[i];
        kf_CreatableTopicResult *o = &r.Topics.v[i];
        const char *name = kf__name(&t->Name);
        o->Name = t->Name;
        o->ErrorMessage.len = -1;
        lg_topic_config cfg;
        memset(&cfg, 0, sizeof(cfg));
        cfg.partitions = t->NumPartitions == -1 ? s->o.default_partitions : t->NumPartitions;
        if (s->o.repl) {
            /* A topic created here alone would have no replicas elsewhere. */
            o->ErrorCode = KF_ERR_POLICY_VIOLATION;
            o->ErrorMessage = kf_str_c("clustered cairn creates topics at start on every node; "
                                       "topic creation across nodes is not built yet");
            continue;
        }
        if (t->ReplicationFactor != -1 && t->ReplicationFactor != 1) {
            o->ErrorCode = KF_ERR_INVALID_REPLICATION_FACTOR;
            o->ErrorMessage =
                kf_str_c("cairn is a single node: replication factor must be 1 or -1");
            continue;
        }
        if (t->Assignments.n > 0) {
            o->ErrorCode = KF_ERR_INVALID_REPLICA_ASSIGNMENT;
            continue;
        }
        if (cfg.partitions < 1) {
            o->ErrorCode = KF_ERR_INVALID_PARTITIONS;
            continue;
        }
        int16_t cerr = 0;
        const char *why = NULL;
        for (int32_t k = 0; k < t->Configs.n && !cerr; k++) {
            const kf_str *v = &t->Configs.v[k].Value;
            if (v->len < 0 || !v->s || strlen(v->s) != (size_t)v->len) {
                cerr = KF_ERR_INVALID_CONFIG;
                why = "a config value is null or holds a NUL byte";
            } else {
                cerr = kf__topic_config_apply(&cfg, &t->Configs.v[k].Name, v->s, &why);
            }
        }
        if (cerr) {
            o->ErrorCode = cerr;
            if (why)
                o->ErrorMessage = kf_str_c(why);
            continue;
        }
        if (q->validateOnly) {
            o->ErrorCode = lg_topic_partitions(s->log, name) > 0 ? KF_ERR_TOPIC_ALREADY_EXISTS : 0;
            continue;
        }
        int rc = lg_topic_create(s->log, name, &cfg);
        if (rc == CN_EEXIST)
            o->ErrorCode = KF_ERR_TOPIC_ALREADY_EXISTS;
        else if (rc == CN_EINVAL)
            o->ErrorCode = KF_ERR_INVALID_TOPIC_EXCEPTION;
        else if (rc)
            o->ErrorCode = kf__kafka_error(rc);
        else
            cn_log_info("kf", "created topic %s (%d partitions) for %s", name, cfg.partitions,
                        c->peer);
    }
    return kf__reply(c, &r, NULL, 0);
}

int kf_h_delete_topics(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_DeleteTopicsRequest *q = c->req.body;
    kf_DeleteTopicsResponse r;
    memset(&r, 0, sizeof(r));
    r.Responses.n = q->TopicNames.n > 0 ? q->TopicNames.n : 0;
    r.Responses.v = kf_arena_alloc(c->arena, (size_t)(r.Responses.n ? r.Responses.n : 1) *
                                                 sizeof(*r.Responses.v));
    if (!r.Responses.v)
        return CN_ENOMEM;
    for (int32_t i = 0; i < r.Responses.n; i++) {
        const char *name = kf__name(&q->TopicNames.v[i]);
        r.Responses.v[i].Name = q->TopicNames.v[i];
        if (s->o.repl) {
            /* Deleting here alone would leave the other replicas (and this
             * node's replication driver) with a topic this node lacks. */
            r.Responses.v[i].ErrorCode = KF_ERR_POLICY_VIOLATION;
            continue;
        }
        int rc = lg_topic_delete(s->log, name);
        r.Responses.v[i].ErrorCode = rc ? kf__kafka_error(rc) : 0;
        if (!rc)
            cn_log_info("kf", "deleted topic %s for %s", name, c->peer);
    }
    return kf__reply(c, &r, NULL, 0);
}

/* ======================================================================
 * DescribeConfigs
 * ====================================================================== */

static int kf_add_config(kf_conn *c, kf_DescribeConfigsResourceResult *o, int *n,
                         const kf_DescribeConfigsResource *res, const char *name, const char *value,
                         int is_default)
{
    if (res->ConfigurationKeys.n >= 0) {
        int want = 0;
        for (int32_t i = 0; i < res->ConfigurationKeys.n; i++)
            if (kf_str_eq(&res->ConfigurationKeys.v[i], name))
                want = 1;
        if (!want)
            return 0;
    }
    kf_DescribeConfigsResourceResult *e = &o[*n];
    e->Name = kf_str_c(name);
    char *val = kf_arena_strndup(c->arena, value, strlen(value));
    if (!val)
        return CN_ENOMEM;
    e->Value = kf_str_c(val);
    e->ReadOnly = 0;
    e->IsDefault = is_default;
    e->ConfigSource = is_default ? 5 /* DEFAULT_CONFIG */ : 1 /* DYNAMIC_TOPIC_CONFIG */;
    e->IsSensitive = 0;
    e->ConfigType = 0;
    e->Documentation.len = -1;
    (*n)++;
    return 0;
}

int kf_h_describe_configs(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_DescribeConfigsRequest *q = c->req.body;
    kf_DescribeConfigsResponse r;
    memset(&r, 0, sizeof(r));
    r.Results.n = q->Resources.n;
    r.Results.v = kf_arena_alloc(c->arena, (size_t)(q->Resources.n > 0 ? q->Resources.n : 1) *
                                               sizeof(*r.Results.v));
    if (!r.Results.v)
        return CN_ENOMEM;
    for (int32_t i = 0; i < q->Resources.n; i++) {
        const kf_DescribeConfigsResource *res = &q->Resources.v[i];
        kf_DescribeConfigsResult *o = &r.Results.v[i];
        o->ResourceType = res->ResourceType;
        o->ResourceName = res->ResourceName;
        o->ErrorMessage.len = -1;
        kf_DescribeConfigsResourceResult *cf = kf_arena_alloc(c->arena, 8 * sizeof(*cf));
        if (!cf)
            return CN_ENOMEM;
        int n = 0, rc = 0;
        char num[32];
        if (res->ResourceType == 2) { /* TOPIC */
            /* set: as the topic was created or last altered (0 = the log's
             * default, reported as a default); eff: what applies. */
            lg_topic_config set, eff;
            if (lg_topic_config_get(s->log, kf__name(&res->ResourceName), &set, &eff) != 0) {
                o->ErrorCode = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            rc |= kf_add_config(c, cf, &n, res, "cleanup.policy", "delete", 1);
            snprintf(num, sizeof(num), "%lld", (long long)eff.retention_ms);
            rc |= kf_add_config(c, cf, &n, res, "retention.ms", num, set.retention_ms == 0);
            snprintf(num, sizeof(num), "%lld", (long long)eff.retention_bytes);
            rc |= kf_add_config(c, cf, &n, res, "retention.bytes", num, set.retention_bytes == 0);
            snprintf(num, sizeof(num), "%llu", (unsigned long long)eff.segment_bytes);
            rc |= kf_add_config(c, cf, &n, res, "segment.bytes", num, set.segment_bytes == 0);
            rc |= kf_add_config(c, cf, &n, res, "compression.type", "producer", 1);
            rc |= kf_add_config(c, cf, &n, res, "message.timestamp.type", "CreateTime", 1);
        } else if (res->ResourceType == 4) { /* BROKER */
            snprintf(num, sizeof(num), "%d", s->o.default_partitions);
            rc |= kf_add_config(c, cf, &n, res, "num.partitions", num, 1);
            rc |= kf_add_config(c, cf, &n, res, "auto.create.topics.enable",
                                s->o.auto_create ? "true" : "false", 1);
            snprintf(num, sizeof(num), "%llu", (unsigned long long)s->o.max_request_bytes);
            rc |= kf_add_config(c, cf, &n, res, "socket.request.max.bytes", num, 1);
        } else {
            o->ErrorCode = KF_ERR_INVALID_REQUEST;
            o->ErrorMessage = kf_str_c("cairn describes TOPIC (2) and BROKER (4) resources");
            continue;
        }
        if (rc)
            return CN_ENOMEM;
        o->Configs.v = cf;
        o->Configs.n = n;
    }
    return kf__reply(c, &r, NULL, 0);
}

/* ======================================================================
 * InitProducerId
 * ====================================================================== */

int kf_h_init_producer_id(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_InitProducerIdRequest *q = c->req.body;
    kf_InitProducerIdResponse r;
    memset(&r, 0, sizeof(r));
    r.ProducerId = -1;
    r.ProducerEpoch = -1;
    if (q->TransactionalId.len >= 0 && s->txns) {
        return kf__init_transactional(c); /* kf_h_txn.c */
    } else if (q->TransactionalId.len >= 0) {
        /* Clustered: transactions are served by standalone nodes only; say
         * so in a way clients surface as a clear, non-retriable error. */
        r.ErrorCode = KF_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    } else {
        /* Idempotent producer: a fresh id each time (also when a client
         * asks to bump the epoch of an old id, KIP-360 — a new id with
         * epoch 0 is an equally valid answer and keeps no extra state). */
        int64_t pid;
        int rc = lg_producer_id_alloc(s->log, &pid);
        if (rc) {
            r.ErrorCode = kf__kafka_error(rc);
        } else {
            r.ProducerId = pid;
            r.ProducerEpoch = 0;
        }
    }
    return kf__reply(c, &r, NULL, 0);
}
