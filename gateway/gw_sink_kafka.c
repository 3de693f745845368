/* SPDX-License-Identifier: MIT */
/*
 * gw_sink_kafka.c — the remote append backend: a librdkafka producer
 * (enable.idempotence=true, hence acks=all) to a cairn logd or a real
 * Kafka cluster.  One Kafka message per record, in the partition the
 * gateway chose (so the player → partition mapping is the same as
 * in-process), with header content-type: application/cloudevents+protobuf.
 *
 * Threads: librdkafka runs its own threads; delivery reports are served
 * only by rd_kafka_poll, which runs on the loop thread: the main queue's
 * IO-event pipe wakes the loop (plus a 100 ms timer as a safety net).  So
 * done() runs on the loop thread.
 * Guarantees: a ticket completes with err == 0 only when every one of its
 * messages got a successful delivery report (acks=all); one failure fails
 * the ticket; done() runs once per ticket.
 * Ownership: the sink owns the producer, its pipe and events, and one
 * small record per append (freed when the ticket completes).
 */
#include "gw_sink.h"

#include "cn_alloc.h"
#include "cn_ce.h"
#include "cn_err.h"
#include "cn_log.h"

#include <event2/event.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct kafka_ticket {
    struct kafka_sink *ks;
    void *ticket;
    size_t remaining;
    int err;
} kafka_ticket;

typedef struct kafka_sink {
    gw_sink base;
    struct event_base *evbase;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    rd_kafka_queue_t *mainq;
    int pipefd[2];
    struct event *wake, *tick;
    size_t outstanding; /* tickets whose done() has not run */
} kafka_sink;

static void kafka_finish(kafka_ticket *kt)
{
    kafka_sink *ks = kt->ks;
    ks->outstanding--;
    if (ks->base.done)
        ks->base.done(ks->base.done_ud, kt->ticket, kt->err);
    cn_free(kt);
}

/* Runs inside rd_kafka_poll, i.e. on the loop thread. */
static void kafka_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    kafka_ticket *kt = m->_private;
    if (m->err && !kt->err) {
        cn_log_warn("gw", "delivery failed: %s", rd_kafka_err2str(m->err));
        kt->err = m->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT ? CN_ETIMEDOUT : CN_EIO;
    }
    if (--kt->remaining == 0)
        kafka_finish(kt);
}

/* Runs inside rd_kafka_poll (loop thread).  Transient errors (a broker
 * down) are retried by librdkafka; a fatal one (the idempotent producer's
 * state is lost, e.g. its sequence was refused) means this producer can
 * never deliver again: stop the loop so the process exits 1 and is
 * restarted (a --workers supervisor restarts its worker).  Nothing it had
 * not acked is acked. */
static void kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kafka_sink *ks = opaque;
    if (err != RD_KAFKA_RESP_ERR__FATAL) {
        cn_log_warn("gw", "kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
        return;
    }
    char why[512];
    rd_kafka_fatal_error(rk, why, sizeof(why));
    cn_log_error("gw",
                 "kafka producer failed for good: %s; exiting so that a fresh producer takes over",
                 why);
    ks->base.failed = 1;
    event_base_loopexit(ks->evbase, NULL);
}

static void kafka_poll(kafka_sink *ks)
{
    char drain[256];
    while (read(ks->pipefd[0], drain, sizeof(drain)) > 0) {
    }
    while (rd_kafka_poll(ks->rk, 0) > 0) {
    }
}

static void kafka_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    kafka_poll(arg);
}

static int kafka_append(gw_sink *s, int32_t partition, const gw_rec *recs, size_t n, int64_t ts_ms,
                        void *ticket)
{
    kafka_sink *ks = (kafka_sink *)s;
    if (ks->base.failed)
        return CN_EIO;
    kafka_ticket *kt = cn_calloc(1, sizeof(*kt));
    if (!kt)
        return CN_ENOMEM;
    kt->ks = ks;
    kt->ticket = ticket;
    kt->remaining = n;
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            ks->rk, RD_KAFKA_V_RKT(ks->rkt), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(recs[i].key, recs[i].klen),
            RD_KAFKA_V_VALUE((void *)recs[i].val, recs[i].vlen),
            RD_KAFKA_V_HEADER("content-type", CN_CE_CONTENT_TYPE,
                              (ssize_t)sizeof(CN_CE_CONTENT_TYPE) - 1),
            RD_KAFKA_V_TIMESTAMP(ts_ms), RD_KAFKA_V_OPAQUE(kt), RD_KAFKA_V_END);
        if (e) {
            if (i == 0) {
                cn_free(kt);
                return e == RD_KAFKA_RESP_ERR__QUEUE_FULL ? CN_EOVERLOAD : CN_EIO;
            }
            /* Some records are queued: their reports complete the ticket,
             * failed, as no ack may cover the ones that were not. */
            kt->err = CN_EOVERLOAD;
            kt->remaining -= n - i;
            break;
        }
    }
    ks->outstanding++;
    return 0;
}

static void kafka_destroy(gw_sink *s)
{
    kafka_sink *ks = (kafka_sink *)s;
    if (ks->rk) {
        /* Wait for every queued message's report (bounded by
         * message.timeout.ms), so every ticket completes. */
        while (ks->outstanding && rd_kafka_outq_len(ks->rk) > 0)
            rd_kafka_poll(ks->rk, 100);
        while (rd_kafka_poll(ks->rk, 0) > 0) {
        }
    }
    if (ks->wake)
        event_free(ks->wake);
    if (ks->tick)
        event_free(ks->tick);
    if (ks->mainq)
        rd_kafka_queue_destroy(ks->mainq);
    if (ks->rkt)
        rd_kafka_topic_destroy(ks->rkt);
    if (ks->rk)
        rd_kafka_destroy(ks->rk);
    if (ks->pipefd[0] >= 0)
        close(ks->pipefd[0]);
    if (ks->pipefd[1] >= 0)
        close(ks->pipefd[1]);
    cn_free(ks);
}

static const gw_sink_ops kafka_ops = {kafka_append, kafka_destroy};

static int kafka_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errcap)
{
    char e[256];
    if (rd_kafka_conf_set(conf, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errcap, "librdkafka %s=%s: %s", k, v, e);
        return CN_EINVAL;
    }
    return 0;
}

int gw_sink_kafka_new(gw_sink **out, struct event_base *base, const char *brokers,
                      const char *topic, int64_t timeout_ms, int64_t message_timeout_ms, char *err,
                      size_t errcap)
{
    *out = NULL;
    kafka_sink *ks = cn_calloc(1, sizeof(*ks));
    if (!ks)
        return CN_ENOMEM;
    ks->base.ops = &kafka_ops;
    ks->base.kind = "kafka";
    ks->pipefd[0] = ks->pipefd[1] = -1;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char mto[32];
    snprintf(mto, sizeof(mto), "%lld", (long long)message_timeout_ms);
    int rc = CN_EINVAL;
    /* linger 1 ms: coalescing already happened in the gateway's loop; a
     * little more batching across iterations at negligible latency. */
    if (kafka_set(conf, "bootstrap.servers", brokers, err, errcap) ||
        kafka_set(conf, "enable.idempotence", "true", err, errcap) ||
        kafka_set(conf, "acks", "all", err, errcap) ||
        kafka_set(conf, "linger.ms", "1", err, errcap) ||
        kafka_set(conf, "message.timeout.ms", mto, err, errcap) ||
        kafka_set(conf, "queue.buffering.max.messages", "1000000", err, errcap) ||
        kafka_set(conf, "reconnect.backoff.max.ms", "1000", err, errcap)) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr);
    rd_kafka_conf_set_error_cb(conf, kafka_error);
    rd_kafka_conf_set_opaque(conf, ks);
    ks->evbase = base;
    char e[512];
    ks->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
    if (!ks->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errcap, "cannot create the Kafka producer: %s", e);
        goto fail;
    }
    ks->rkt = rd_kafka_topic_new(ks->rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t me = ks->rkt ? rd_kafka_metadata(ks->rk, 0, ks->rkt, &md, (int)timeout_ms)
                                     : RD_KAFKA_RESP_ERR__FAIL;
    if (me) {
        snprintf(err, errcap, "no metadata from %s within %lld ms: %s", brokers,
                 (long long)timeout_ms, rd_kafka_err2str(me));
        rc = CN_ETIMEDOUT;
        goto fail;
    }
    int parts = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(md);
    if (parts < 1) {
        snprintf(err, errcap,
                 "topic %s does not exist on %s: create it (cairn logd creates ble-raw)", topic,
                 brokers);
        rc = LG_ENOTOPIC;
        goto fail;
    }
    ks->base.partitions = parts;
    rc = CN_ESYS;
    if (pipe2(ks->pipefd, O_NONBLOCK | O_CLOEXEC)) {
        snprintf(err, errcap, "pipe failed");
        goto fail;
    }
    ks->mainq = rd_kafka_queue_get_main(ks->rk);
    rd_kafka_queue_io_event_enable(ks->mainq, ks->pipefd[1], "1", 1);
    ks->wake = event_new(base, ks->pipefd[0], EV_READ | EV_PERSIST, kafka_wake, ks);
    ks->tick = event_new(base, -1, EV_PERSIST, kafka_wake, ks);
    struct timeval tv = {0, 100000};
    if (!ks->wake || !ks->tick || event_add(ks->wake, NULL) || event_add(ks->tick, &tv)) {
        snprintf(err, errcap, "cannot add events");
        goto fail;
    }
    *out = &ks->base;
    return 0;
fail:
    kafka_destroy(&ks->base);
    return rc;
}
