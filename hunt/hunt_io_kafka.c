/* SPDX-License-Identifier: MIT */
/*
 * hunt_io_kafka.c — hunt_io over librdkafka (contract in hunt_io_kafka.h).
 *
 * Input: one consumer without a consumer group: the worker's partitions are
 * assign()ed at the offsets stored in RocksDB (offsets never go to the
 * group coordinator: they are committed with the state they produced), and
 * each partition's queue is unforwarded so the worker reads partition by
 * partition.  Output: an idempotent producer (acks=all); append() produces
 * a batch's records and flushes, so it returns only when every record is
 * acknowledged, with the offset after the last one.  The output tail scan
 * uses a short-lived second consumer that reads hunt-events p up to the
 * high watermark queried at the start of the scan.
 * Threads: the worker's; librdkafka's own threads run the network.
 * Ownership: owns both clients, the partition queues and the last message
 * handed out per partition (freed at the next call on that partition).
 */
#include "hunt_io_kafka.h"

#include "cn_alloc.h"
#include "cn_ce.h"
#include "cn_err.h"
#include "cn_log.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IOK_META_MS 15000
#define IOK_STR_(x) #x
#define IOK_STR(x) IOK_STR_(x)
/* A record is retried for IOK_MSG_TIMEOUT_MS (librdkafka's default, set
 * explicitly); append waits longer than that, so when it gives up (the
 * worker stops, nothing committed) no record is still in flight. */
#define IOK_MSG_TIMEOUT_MS 300000
#define IOK_FLUSH_MS (IOK_MSG_TIMEOUT_MS + 15000)

typedef struct io_kafka {
    hunt_io io;
    char *brokers;
    char group[160]; /* "cairn-hunt.<node>": required by librdkafka, never committed to */
    rd_kafka_t *cons, *prod;
    rd_kafka_topic_partition_list_t *assigned;
    rd_kafka_queue_t *q[HUNT_MAX_PARTITIONS];
    rd_kafka_message_t *last[HUNT_MAX_PARTITIONS];
    /* append's delivery state (the dr callback runs inside rd_kafka_flush) */
    int64_t dr_next;
    int dr_err;
} io_kafka;

static int iok_set(rd_kafka_conf_t *c, const char *k, const char *v, char *err, size_t errlen)
{
    char e[256];
    if (rd_kafka_conf_set(c, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "librdkafka %s=%s: %s", k, v, e);
        return CN_EINVAL;
    }
    return 0;
}

static rd_kafka_t *iok_consumer(const char *brokers, const char *group, char *err, size_t errlen)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char e[512];
    /* librdkafka wants a group.id even for assign(); no offset is ever
     * committed to it (auto commit and offset store are off). */
    if (iok_set(c, "bootstrap.servers", brokers, err, errlen) ||
        iok_set(c, "group.id", group, err, errlen) ||
        iok_set(c, "enable.auto.commit", "false", err, errlen) ||
        iok_set(c, "enable.auto.offset.store", "false", err, errlen) ||
        iok_set(c, "enable.partition.eof", "true", err, errlen) ||
        iok_set(c, "fetch.wait.max.ms", "10", err, errlen) ||
        iok_set(c, "auto.offset.reset", "earliest", err, errlen)) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
    if (!rk) {
        rd_kafka_conf_destroy(c);
        snprintf(err, errlen, "cannot create the Kafka consumer: %s", e);
    }
    return rk;
}

static void iok_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    io_kafka *k = opaque;
    (void)rk;
    if (m->err) {
        if (!k->dr_err)
            cn_log_error("hunt", "hunt-events delivery failed: %s", rd_kafka_err2str(m->err));
        k->dr_err = m->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT ? CN_ETIMEDOUT : CN_EIO;
    } else if (m->offset + 1 > k->dr_next) {
        k->dr_next = m->offset + 1;
    }
}

static rd_kafka_t *iok_producer(io_kafka *k, const char *brokers, char *err, size_t errlen)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char e[512];
    if (iok_set(c, "bootstrap.servers", brokers, err, errlen) ||
        iok_set(c, "enable.idempotence", "true", err, errlen) ||
        iok_set(c, "acks", "all", err, errlen) || iok_set(c, "linger.ms", "0", err, errlen) ||
        iok_set(c, "message.timeout.ms", IOK_STR(IOK_MSG_TIMEOUT_MS), err, errlen) ||
        iok_set(c, "queue.buffering.max.messages", "1000000", err, errlen)) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_conf_set_opaque(c, k);
    rd_kafka_conf_set_dr_msg_cb(c, iok_dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e));
    if (!rk) {
        rd_kafka_conf_destroy(c);
        snprintf(err, errlen, "cannot create the Kafka producer: %s", e);
    }
    return rk;
}

static int iok_partitions(hunt_io *io, const char *topic)
{
    io_kafka *k = io->ud;
    rd_kafka_topic_t *t = rd_kafka_topic_new(k->cons, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e =
        t ? rd_kafka_metadata(k->cons, 0, t, &md, IOK_META_MS) : RD_KAFKA_RESP_ERR__FAIL;
    if (t)
        rd_kafka_topic_destroy(t);
    if (e)
        return CN_ETIMEDOUT;
    int n = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(md);
    return n > 0 ? n : LG_ENOTOPIC;
}

static int iok_seek(hunt_io *io, int32_t p, int64_t offset)
{
    io_kafka *k = io->ud;
    if (p < 0 || p >= HUNT_MAX_PARTITIONS)
        return CN_EINVAL;
    rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_find(k->assigned, HUNT_TOPIC_IN, p);
    if (!tp)
        tp = rd_kafka_topic_partition_list_add(k->assigned, HUNT_TOPIC_IN, p);
    tp->offset = offset;
    /* The whole assignment again: plain assign() replaces, and seeks only
     * happen at start. */
    rd_kafka_resp_err_t e = rd_kafka_assign(k->cons, k->assigned);
    if (e) {
        cn_log_error("hunt", "assign %s/%d: %s", HUNT_TOPIC_IN, (int)p, rd_kafka_err2str(e));
        return CN_EIO;
    }
    if (!k->q[p]) {
        k->q[p] = rd_kafka_queue_get_partition(k->cons, HUNT_TOPIC_IN, p);
        if (!k->q[p])
            return CN_ENOMEM;
        rd_kafka_queue_forward(k->q[p], NULL); /* read per partition, not from the consumer queue */
    }
    return 0;
}

static void iok_fill(const rd_kafka_message_t *m, lg_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->offset = m->offset;
    rec->timestamp = rd_kafka_message_timestamp(m, NULL);
    rec->key = m->key;
    rec->key_len = m->key_len;
    rec->value = m->payload;
    rec->value_len = m->len;
}

static int iok_next(hunt_io *io, int32_t p, lg_record *rec)
{
    io_kafka *k = io->ud;
    if (k->last[p]) {
        rd_kafka_message_destroy(k->last[p]);
        k->last[p] = NULL;
    }
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consume_queue(k->q[p], 0);
        if (!m)
            return CN_DONE;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            return CN_DONE;
        }
        if (m->err) {
            /* Transient consumer errors (a broker restart) are retried by
             * librdkafka itself; report and try again at the next poll. */
            cn_log_warn("hunt", "%s/%d: %s", HUNT_TOPIC_IN, (int)p, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            return CN_DONE;
        }
        k->last[p] = m;
        iok_fill(m, rec);
        return 0;
    }
}

static int iok_scan_out(hunt_io *io, int32_t p, int64_t from, int (*fn)(void *, const lg_record *),
                        void *ud)
{
    io_kafka *k = io->ud;
    char err[512];
    int64_t lo, hi;
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(k->cons, HUNT_TOPIC_OUT, p, &lo, &hi, IOK_META_MS);
    if (e)
        return CN_ETIMEDOUT;
    if (from < lo)
        from = lo;
    if (from >= hi)
        return 0;
    rd_kafka_t *sc = iok_consumer(k->brokers, k->group, err, sizeof(err));
    if (!sc)
        return CN_ENOMEM;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, HUNT_TOPIC_OUT, p)->offset = from;
    int rc = rd_kafka_assign(sc, l) ? CN_EIO : 0;
    rd_kafka_topic_partition_list_destroy(l);
    uint64_t deadline = 0;
    int stop = 0;
    while (!rc && !stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(sc, 1000);
        if (!m) {
            if (++deadline > 60) /* a minute without data below the watermark */
                rc = CN_ETIMEDOUT;
            continue;
        }
        deadline = 0;
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            cn_log_warn("hunt", "%s/%d scan: %s", HUNT_TOPIC_OUT, (int)p,
                        rd_kafka_message_errstr(m));
        } else if (!m->err) {
            lg_record rec;
            iok_fill(m, &rec);
            stop = fn(ud, &rec) || m->offset + 1 >= hi;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(sc);
    rd_kafka_destroy(sc);
    return rc;
}

static int iok_append(hunt_io *io, int32_t p, const hunt_out_rec *recs, size_t n, int64_t pid,
                      int16_t epoch, int32_t base_seq, int64_t *next_offset)
{
    io_kafka *k = io->ud;
    (void)pid; /* librdkafka's idempotent producer owns its id, epoch and sequences */
    (void)epoch;
    (void)base_seq;
    k->dr_err = 0;
    k->dr_next = -1;
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(k->prod, RD_KAFKA_V_TOPIC(HUNT_TOPIC_OUT),
                                      RD_KAFKA_V_PARTITION(p),
                                      RD_KAFKA_V_KEY(recs[i].key, recs[i].key_len),
                                      RD_KAFKA_V_VALUE((void *)recs[i].value, recs[i].value_len),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_TIMESTAMP(recs[i].timestamp),
                                      RD_KAFKA_V_HEADER("content-type", CN_CE_CONTENT_TYPE,
                                                        (ssize_t)strlen(CN_CE_CONTENT_TYPE)),
                                      RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(k->prod, 10);
        if (e) {
            cn_log_error("hunt", "produce to %s/%d: %s", HUNT_TOPIC_OUT, (int)p,
                         rd_kafka_err2str(e));
            return CN_EIO;
        }
    }
    if (rd_kafka_flush(k->prod, IOK_FLUSH_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return CN_ETIMEDOUT;
    if (k->dr_err)
        return k->dr_err;
    *next_offset = k->dr_next;
    return 0;
}

static int64_t iok_end_offset(hunt_io *io, int32_t p)
{
    io_kafka *k = io->ud;
    int64_t lo, hi;
    /* Cached from fetch responses: never blocks the loop. */
    if (rd_kafka_get_watermark_offsets(k->cons, HUNT_TOPIC_IN, p, &lo, &hi) || hi < 0)
        return CN_ENOENT;
    return hi;
}

int hunt_io_kafka_new(hunt_io **out, const char *brokers, const char *node, char *err,
                      size_t errlen)
{
    io_kafka *k = cn_calloc(1, sizeof(*k));
    if (!k || !(k->brokers = cn_strdup(brokers)) ||
        !(k->assigned = rd_kafka_topic_partition_list_new(8))) {
        snprintf(err, errlen, "out of memory");
        hunt_io_kafka_free(k ? &k->io : NULL);
        return CN_ENOMEM;
    }
    snprintf(k->group, sizeof(k->group), "cairn-hunt.%s", node ? node : "hunt");
    k->io = (hunt_io){iok_partitions, iok_seek, iok_next,       iok_scan_out,
                      iok_append,     NULL,     iok_end_offset, k};
    k->cons = iok_consumer(brokers, k->group, err, errlen);
    k->prod = k->cons ? iok_producer(k, brokers, err, errlen) : NULL;
    if (!k->prod) {
        hunt_io_kafka_free(&k->io);
        return CN_EINVAL;
    }
    *out = &k->io;
    return 0;
}

void hunt_io_kafka_limits(hunt_io *io, int64_t *flush_ms, int64_t *msg_timeout_ms)
{
    io_kafka *k = io->ud;
    char v[32];
    size_t n = sizeof(v);
    *flush_ms = IOK_FLUSH_MS;
    *msg_timeout_ms = -1;
    if (rd_kafka_conf_get(rd_kafka_conf(k->prod), "message.timeout.ms", v, &n) == RD_KAFKA_CONF_OK)
        *msg_timeout_ms = strtoll(v, NULL, 10);
}

void hunt_io_kafka_free(hunt_io *io)
{
    if (!io)
        return;
    io_kafka *k = io->ud ? io->ud : (io_kafka *)io;
    for (int i = 0; i < HUNT_MAX_PARTITIONS; i++) {
        if (k->last[i])
            rd_kafka_message_destroy(k->last[i]);
        if (k->q[i])
            rd_kafka_queue_destroy(k->q[i]);
    }
    if (k->prod) {
        rd_kafka_flush(k->prod, 5000);
        rd_kafka_destroy(k->prod);
    }
    if (k->cons) {
        rd_kafka_consumer_close(k->cons);
        rd_kafka_destroy(k->cons);
    }
    if (k->assigned)
        rd_kafka_topic_partition_list_destroy(k->assigned);
    cn_free(k->brokers);
    cn_free(k);
}
