/* SPDX-License-Identifier: MIT */
/*
 * gw_sink.h — where the gateway's ping records go: one small interface
 * with two backends, the in-process log (gw_sink_log.c, lg_append_async)
 * and a Kafka cluster or cairn logd through librdkafka (gw_sink_kafka.c).
 *
 * Contract: append() takes the records of one partition (key = player id,
 * value = CloudEvent protobuf; every record gets the header content-type:
 * application/cloudevents+protobuf) and an opaque ticket.  It returns 0 and
 * then calls done(ticket, err) exactly once, later, ON THE LOOP THREAD,
 * with err == 0 only once every record is durable (fsync'd log / acks=all);
 * or it returns an error and never calls done.  Record bytes are copied
 * before append() returns.
 * Threads: every call is made on the loop thread that created the sink.
 */
#ifndef GW_SINK_H
#define GW_SINK_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
typedef struct lg_log lg_log;

typedef struct gw_rec {
    const unsigned char *key;
    size_t klen;
    const unsigned char *val;
    size_t vlen;
} gw_rec;

typedef void (*gw_sink_done_fn)(void *ud, void *ticket, int err);

typedef struct gw_sink gw_sink;
typedef struct gw_sink_ops {
    int (*append)(gw_sink *s, int32_t partition, const gw_rec *recs, size_t n, int64_t ts_ms,
                  void *ticket);
    void (*destroy)(gw_sink *s); /* outstanding appends complete (done is called) first */
} gw_sink_ops;

struct gw_sink {
    const gw_sink_ops *ops;
    gw_sink_done_fn done; /* set by the server that uses the sink */
    void *done_ud;
    int32_t partitions; /* of the topic, known once the sink is made */
    const char *kind;   /* "log" or "kafka", for logs and metrics */
    int failed;         /* unrecoverable (a fatal producer error): the sink
                         * stopped its loop; the process should exit 1 */
};

/**
 * In-process: appends to topic in log (borrowed; must outlive the sink).
 * Completions bounce from the log's writer thread to base's loop (base must
 * be made after evthread_use_pthreads()).
 * @return 0; LG_ENOTOPIC; CN_ENOMEM.
 */
int gw_sink_log_new(gw_sink **out, struct event_base *base, lg_log *log, const char *topic);

/**
 * librdkafka producer (idempotent, acks=all) to brokers "H:P,...".  Reads
 * the topic's partition count from the cluster (waits up to timeout_ms).
 * @param err  a one-line reason on failure
 * @return 0; CN_EINVAL (bad config); CN_ETIMEDOUT (no metadata);
 *         LG_ENOTOPIC (the topic does not exist); CN_ENOMEM.
 */
int gw_sink_kafka_new(gw_sink **out, struct event_base *base, const char *brokers,
                      const char *topic, int64_t timeout_ms, int64_t message_timeout_ms, char *err,
                      size_t errcap);

/** Destroy (NULL-safe). */
void gw_sink_free(gw_sink *s);

#endif
