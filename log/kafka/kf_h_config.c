/* SPDX-License-Identifier: MIT */
/*
 * kf_h_config.c — changing topic configs over Kafka: AlterConfigs (the
 * whole set of a topic's configs: any not named returns to its default)
 * and IncrementalAlterConfigs (SET or DELETE one config at a time; APPEND
 * and SUBTRACT apply only to list configs, and cairn's are all scalars),
 * plus the validation CreateTopics shares (kf__topic_config_apply).
 *
 * Guarantees: the configs cairn stores per topic are retention.ms,
 * retention.bytes and segment.bytes; cleanup.policy, compression.type and
 * message.timestamp.type are accepted only at the one value cairn
 * implements, and any other name is refused with INVALID_CONFIG, so a
 * client never believes a setting took effect when it did not.  A
 * resource is changed all or nothing (lg_topic_config_set, durable on
 * return); ValidateOnly runs every check and changes nothing.  Errors
 * follow Kafka's: unknown topic UNKNOWN_TOPIC_OR_PARTITION, a bad name or
 * value INVALID_CONFIG, a malformed request (null value to set, duplicate
 * config key or resource, unknown operation, a resource type other than
 * TOPIC) INVALID_REQUEST, each with an ErrorMessage saying why.
 * Threads: the event loop.  Ownership: replies live in the connection's
 * arena.
 */
#include "kf_server_int.h"

#include "cn_err.h"
#include "cn_log.h"
#include "kf_errors.h"
#include "lg_batch.h"

#include <stdlib.h>
#include <string.h>

#define KF_RES_TOPIC 2
#define KF_OP_SET 0
#define KF_OP_DELETE 1
#define KF_OP_APPEND 2
#define KF_OP_SUBTRACT 3

/* A decimal int64 and nothing else (no sign but '-', no spaces). */
static int kf_parse_i64(const char *s, int64_t *out)
{
    const char *p = s;
    int neg = *p == '-';
    if (neg)
        p++;
    if (!*p)
        return CN_EINVAL;
    uint64_t x = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return CN_EINVAL;
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINT64_C(9223372036854775807) - d) / 10)
            return CN_EINVAL; /* beyond INT64_MAX (and -INT64_MIN: not needed) */
        x = x * 10 + d;
    }
    *out = neg ? -(int64_t)x : (int64_t)x;
    return 0;
}

/* The topic configs cairn knows, in one table: the bit is for duplicate
 * detection within one resource. */
static const char *const kf_topic_cfg_names[] = {
    "retention.ms",   "retention.bytes",  "segment.bytes",
    "cleanup.policy", "compression.type", "message.timestamp.type",
};

static int kf_topic_cfg_index(const kf_str *name)
{
    for (size_t i = 0; i < sizeof(kf_topic_cfg_names) / sizeof(kf_topic_cfg_names[0]); i++)
        if (kf_str_eq(name, kf_topic_cfg_names[i]))
            return (int)i;
    return -1;
}

int16_t kf__topic_config_apply(lg_topic_config *cfg, const kf_str *name, const char *value,
                               const char **why)
{
    int idx = kf_topic_cfg_index(name);
    int64_t x = 0;
    *why = NULL;
    if (idx < 0) {
        *why = "unknown topic config (cairn stores retention.ms, retention.bytes, segment.bytes)";
        return KF_ERR_INVALID_CONFIG;
    }
    if (idx >= 3) { /* accepted at the one value cairn implements */
        static const char *const fixed[] = {"delete", "producer", "CreateTime"};
        if (value && strcmp(value, fixed[idx - 3]) != 0) {
            *why = idx == 3   ? "cairn implements cleanup.policy=delete only"
                   : idx == 4 ? "cairn stores batches as produced: compression.type=producer only"
                              : "cairn implements message.timestamp.type=CreateTime only";
            return KF_ERR_INVALID_CONFIG;
        }
        return 0;
    }
    if (value && kf_parse_i64(value, &x)) {
        *why = "the value is not a decimal integer";
        return KF_ERR_INVALID_CONFIG;
    }
    switch (idx) {
    case 0:
    case 1:
        /* 0 would mean "the log default" to the log; Kafka's 0 (delete at
         * once) is refused rather than silently reinterpreted. */
        if (value && (x < -1 || x == 0)) {
            *why = idx == 0 ? "retention.ms must be -1 (keep forever) or > 0"
                            : "retention.bytes must be -1 (no limit) or > 0";
            return KF_ERR_INVALID_CONFIG;
        }
        if (idx == 0)
            cfg->retention_ms = value ? x : 0;
        else
            cfg->retention_bytes = value ? x : 0;
        return 0;
    default:
        if (value && (x < LG_BATCH_HEADER_LEN || (uint64_t)x > LG_SEGMENT_BYTES_MAX)) {
            *why = "segment.bytes must lie in 61 .. 1073741824";
            return KF_ERR_INVALID_CONFIG;
        }
        cfg->segment_bytes = value ? (uint64_t)x : 0;
        return 0;
    }
}

/* One requested change, the same for both APIs. */
typedef struct kf_cfg_op {
    const kf_str *name;
    int8_t op;
    const kf_str *value;
} kf_cfg_op;

/* A kf_str that is a C string: not null, no NUL inside. */
static const char *kf_cstr(const kf_str *s)
{
    return s->len >= 0 && s->s && strlen(s->s) == (size_t)s->len ? s->s : NULL;
}

/* Check (and unless validate_only, store) one resource's changes.
 * Returns the Kafka error for it, *why set when it is not 0. */
static int16_t kf_alter_resource(kf_conn *c, int8_t type, const kf_str *rname, const kf_cfg_op *ops,
                                 int32_t n, int incremental, int validate_only, const char **why)
{
    kf_server *s = c->s;
    *why = NULL;
    if (type != KF_RES_TOPIC) {
        *why = "cairn changes TOPIC (2) configs only; its broker settings are command-line flags";
        return KF_ERR_INVALID_REQUEST;
    }
    const char *topic = kf_cstr(rname);
    lg_topic_config cfg;
    if (!topic || lg_topic_config_get(s->log, topic, &cfg, NULL) != 0) {
        *why = "no such topic";
        return KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    cfg.partitions = 0; /* unchanged */
    if (!incremental)   /* the request is the whole set: the rest reverts */
        cfg.retention_ms = cfg.retention_bytes = 0, cfg.segment_bytes = 0;
    unsigned seen = 0;
    for (int32_t i = 0; i < n; i++) {
        int idx = kf_topic_cfg_index(ops[i].name);
        if (idx >= 0 && (seen & (1u << idx))) {
            *why = "a config key appears twice for one resource";
            return KF_ERR_INVALID_REQUEST;
        }
        if (idx >= 0)
            seen |= 1u << idx;
    }
    for (int32_t i = 0; i < n; i++) {
        const kf_cfg_op *o = &ops[i];
        if (o->op < KF_OP_SET || o->op > KF_OP_SUBTRACT) {
            *why = "unknown config operation (0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT)";
            return KF_ERR_INVALID_REQUEST;
        }
        if (!kf_cstr(o->name)) {
            *why = "a config name is null or holds a NUL byte";
            return KF_ERR_INVALID_REQUEST;
        }
        const char *value = NULL;
        if (o->op == KF_OP_SET) {
            if (o->value->len < 0) {
                *why = "a null value cannot be set (DELETE reverts a config to its default)";
                return KF_ERR_INVALID_REQUEST;
            }
            value = kf_cstr(o->value);
            if (!value) {
                *why = "a config value holds a NUL byte";
                return KF_ERR_INVALID_CONFIG;
            }
        }
        int16_t e = kf__topic_config_apply(&cfg, o->name, value, why);
        if (e)
            return e;
        if (o->op == KF_OP_APPEND || o->op == KF_OP_SUBTRACT) {
            *why = "APPEND and SUBTRACT apply to list configs; cairn's topic configs are scalars";
            return KF_ERR_INVALID_CONFIG;
        }
    }
    if (validate_only)
        return 0;
    int rc = lg_topic_config_set(s->log, topic, &cfg);
    if (rc == LG_ENOTOPIC) {
        *why = "no such topic";
        return KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (rc == CN_EINVAL) {
        *why = "the log refused the config";
        return KF_ERR_INVALID_CONFIG;
    }
    if (rc) {
        *why = cn_strerror(rc);
        return kf__kafka_error(rc);
    }
    cn_log_info("kf", "changed the configs of topic %s for %s", topic, c->peer);
    return 0;
}

/* A resource as (type, name), for finding duplicates by sorting. */
typedef struct kf_res_key {
    int8_t type;
    const kf_str *name;
    int32_t at;
} kf_res_key;

static int kf_res_key_cmp(const void *a, const void *b)
{
    const kf_res_key *x = a, *y = b;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    int32_t xl = x->name->len > 0 ? x->name->len : 0, yl = y->name->len > 0 ? y->name->len : 0;
    int32_t m = xl < yl ? xl : yl;
    int r = m ? memcmp(x->name->s, y->name->s, (size_t)m) : 0;
    if (r)
        return r;
    if (xl != yl)
        return xl < yl ? -1 : 1;
    return (x->at > y->at) - (x->at < y->at);
}

/* Mark dup[i] = 1 for every resource named more than once (Kafka refuses
 * them all); sorting keeps a hostile request of many resources at
 * n log n. */
static void kf_find_dups(kf_res_key *k, int32_t n, unsigned char *dup)
{
    qsort(k, (size_t)n, sizeof(*k), kf_res_key_cmp);
    for (int32_t i = 1; i < n; i++) {
        kf_res_key a = k[i - 1], b = k[i];
        a.at = b.at = 0;
        if (kf_res_key_cmp(&a, &b) == 0)
            dup[k[i - 1].at] = dup[k[i].at] = 1;
    }
}

static const char *const kf_dup_why = "the same resource appears twice in the request";

int kf_h_alter_configs(kf_conn *c)
{
    const kf_AlterConfigsRequest *q = c->req.body;
    int32_t n = q->Resources.n > 0 ? q->Resources.n : 0;
    kf_AlterConfigsResponse r;
    kf_AlterConfigsResponse_init(&r);
    r.Responses.n = n;
    r.Responses.v = kf_arena_alloc(c->arena, (size_t)(n ? n : 1) * sizeof(*r.Responses.v));
    kf_res_key *keys = kf_arena_alloc(c->arena, (size_t)(n ? n : 1) * sizeof(*keys));
    unsigned char *dup = kf_arena_alloc(c->arena, (size_t)(n ? n : 1));
    if (!r.Responses.v || !keys || !dup)
        return CN_ENOMEM;
    memset(dup, 0, (size_t)(n ? n : 1));
    for (int32_t i = 0; i < n; i++)
        keys[i] = (kf_res_key){q->Resources.v[i].ResourceType, &q->Resources.v[i].ResourceName, i};
    kf_find_dups(keys, n, dup);
    for (int32_t i = 0; i < n; i++) {
        const kf_AlterConfigsResource *res = &q->Resources.v[i];
        kf_AlterConfigsResourceResponse *o = &r.Responses.v[i];
        kf_AlterConfigsResourceResponse_init(o);
        o->ResourceType = res->ResourceType;
        o->ResourceName = res->ResourceName;
        o->ErrorMessage.len = -1;
        int32_t nc = res->Configs.n > 0 ? res->Configs.n : 0;
        kf_cfg_op *ops = kf_arena_alloc(c->arena, (size_t)(nc ? nc : 1) * sizeof(*ops));
        if (!ops)
            return CN_ENOMEM;
        for (int32_t k = 0; k < nc; k++)
            ops[k] = (kf_cfg_op){&res->Configs.v[k].Name, KF_OP_SET, &res->Configs.v[k].Value};
        const char *why = kf_dup_why;
        o->ErrorCode = dup[i] ? KF_ERR_INVALID_REQUEST
                              : kf_alter_resource(c, res->ResourceType, &res->ResourceName, ops, nc,
                                                  0, q->ValidateOnly, &why);
        if (o->ErrorCode && why)
            o->ErrorMessage = kf_str_c(why);
    }
    return kf__reply(c, &r, NULL, 0);
}

int kf_h_incremental_alter_configs(kf_conn *c)
{
    const kf_IncrementalAlterConfigsRequest *q = c->req.body;
    int32_t n = q->Resources.n > 0 ? q->Resources.n : 0;
    kf_IncrementalAlterConfigsResponse r;
    kf_IncrementalAlterConfigsResponse_init(&r);
    r.Responses.n = n;
    r.Responses.v = kf_arena_alloc(c->arena, (size_t)(n ? n : 1) * sizeof(*r.Responses.v));
    kf_res_key *keys = kf_arena_alloc(c->arena, (size_t)(n ? n : 1) * sizeof(*keys));
    unsigned char *dup = kf_arena_alloc(c->arena, (size_t)(n ? n : 1));
    if (!r.Responses.v || !keys || !dup)
        return CN_ENOMEM;
    memset(dup, 0, (size_t)(n ? n : 1));
    for (int32_t i = 0; i < n; i++)
        keys[i] = (kf_res_key){q->Resources.v[i].ResourceType, &q->Resources.v[i].ResourceName, i};
    kf_find_dups(keys, n, dup);
    for (int32_t i = 0; i < n; i++) {
        const kf_IncrementalAlterConfigsRequest_AlterConfigsResource *res = &q->Resources.v[i];
        kf_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse *o = &r.Responses.v[i];
        kf_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse_init(o);
        o->ResourceType = res->ResourceType;
        o->ResourceName = res->ResourceName;
        o->ErrorMessage.len = -1;
        int32_t nc = res->Configs.n > 0 ? res->Configs.n : 0;
        kf_cfg_op *ops = kf_arena_alloc(c->arena, (size_t)(nc ? nc : 1) * sizeof(*ops));
        if (!ops)
            return CN_ENOMEM;
        for (int32_t k = 0; k < nc; k++)
            ops[k] = (kf_cfg_op){&res->Configs.v[k].Name, res->Configs.v[k].ConfigOperation,
                                 &res->Configs.v[k].Value};
        const char *why = kf_dup_why;
        o->ErrorCode = dup[i] ? KF_ERR_INVALID_REQUEST
                              : kf_alter_resource(c, res->ResourceType, &res->ResourceName, ops, nc,
                                                  1, q->ValidateOnly, &why);
        if (o->ErrorCode && why)
            o->ErrorMessage = kf_str_c(why);
    }
    return kf__reply(c, &r, NULL, 0);
}
