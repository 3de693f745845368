/* SPDX-License-Identifier: MIT */
/*
 * bench_kafka.c — Kafka-protocol throughput of cairn's log, one JSON object
 * per line per figure (run by `scripts/bench kafka`):
 *   - reference: in-process lg_append_async of the same 100-byte records in
 *     1,000-record batches, fsync durability, in the same run;
 *   - produce through librdkafka (acks=all, no compression, linger 5 ms)
 *     to a Kafka server running in this process on loopback;
 *   - consume the same records back through librdkafka (assign from the
 *     beginning, no group).
 * The server is the real one (kf_server + lg_log on its own event-loop
 * thread, as `cairn logd` runs it).  Each figure is the median of --runs
 * runs (default 3) over --records records (default 1,000,000); each run
 * uses a fresh topic of 4 partitions.  Nothing here asserts a time.
 */
#include "cn_buf.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "cn_time.h"
#include "kf_server.h"
#include "lg.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORD_BYTES 100
#define PARTS 4

typedef struct bench {
    lg_log *log;
    struct event_base *base;
    kf_server *srv;
    pthread_t loop;
    char brokers[64];
} bench;

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_dbl);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void *loop_main(void *ud)
{
    bench *b = ud;
    event_base_loop(b->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

/* ---- reference: in-process appends ------------------------------------ */

/* Completion counting with a condition variable, not a spin: on a
 * 2-core machine a spinning waiter would steal the writer thread's core. */
typedef struct ref_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long done, failed;
} ref_wait;

static void ref_cb(void *ud, const lg_append_result *res)
{
    ref_wait *w = ud;
    pthread_mutex_lock(&w->mu);
    if (res->err)
        w->failed++;
    w->done++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void ref_wait_until(ref_wait *w, long done)
{
    pthread_mutex_lock(&w->mu);
    while (w->done < done)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

static double ref_append_once(bench *b, const char *topic, long records)
{
    lg_batch_builder *bb;
    cn_buf batch = CN_BUF_INIT;
    char val[RECORD_BYTES];
    memset(val, 'v', sizeof(val));
    if (lg_batch_builder_new(&bb, LG_COMP_NONE))
        return 0;
    for (int i = 0; i < 1000; i++)
        lg_batch_builder_add(bb, cn_now_ms(), NULL, 0, val, sizeof(val), NULL, 0);
    lg_batch_builder_finish(bb, &batch);
    lg_batch_builder_free(bb);
    ref_wait w;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    w.done = w.failed = 0;
    long batches = records / 1000, queued = 0;
    uint64_t t0 = cn_mono_ns();
    for (long i = 0; i < batches; i++) {
        /* Keep at most 64 batches in flight so the queue stays bounded. */
        ref_wait_until(&w, queued - 64);
        if (lg_append_async(b->log, topic, (int32_t)(i % PARTS), batch.data, batch.len, ref_cb,
                            &w) == 0)
            queued++;
    }
    ref_wait_until(&w, queued);
    double s = (double)(cn_mono_ns() - t0) / 1e9;
    cn_buf_free(&batch);
    if (w.failed)
        fprintf(stderr, "bench_kafka: %ld reference appends failed\n", w.failed);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return (double)(queued * 1000) / s;
}

/* ---- librdkafka producer ---------------------------------------------- */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    long *failed = opaque;
    if (m->err)
        (*failed)++;
}

static double produce_once(bench *b, const char *topic, long records)
{
    char err[512];
    long failed = 0;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", b->brokers, err, sizeof(err));
    rd_kafka_conf_set(conf, "acks", "all", err, sizeof(err));
    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err));
    rd_kafka_conf_set(conf, "batch.num.messages", "10000", err, sizeof(err));
    rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, sizeof(err));
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, &failed);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "bench_kafka: producer: %s\n", err);
        return 0;
    }
    char val[RECORD_BYTES];
    memset(val, 'k', sizeof(val));
    uint64_t t0 = cn_mono_ns();
    for (long i = 0; i < records; i++) {
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION((int32_t)(i % PARTS)),
                RD_KAFKA_V_VALUE(val, sizeof(val)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "bench_kafka: produce: %s\n", rd_kafka_err2str(e));
                rd_kafka_destroy(rk);
                return 0;
            }
            rd_kafka_poll(rk, 1);
        }
        if ((i & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 120000);
    double s = (double)(cn_mono_ns() - t0) / 1e9;
    rd_kafka_destroy(rk);
    if (failed)
        fprintf(stderr, "bench_kafka: %ld deliveries failed\n", failed);
    return failed ? 0 : (double)records / s;
}

/* ---- librdkafka consumer ---------------------------------------------- */

static double consume_once(bench *b, const char *topic, long records)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", b->brokers, err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "bench-reader", err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "bench_kafka: consumer: %s\n", err);
        return 0;
    }
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(PARTS);
    for (int p = 0; p < PARTS; p++)
        rd_kafka_topic_partition_list_add(tl, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, tl);
    rd_kafka_topic_partition_list_destroy(tl);
    long got = 0;
    /* Batch consumption: per-message polling would measure librdkafka's
     * queue overhead more than the broker. */
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    rd_kafka_message_t *msgs[4096];
    uint64_t t0 = cn_mono_ns(), limit = t0 + 120ull * 1000000000ull;
    while (got < records && cn_mono_ns() < limit) {
        ssize_t n = rd_kafka_consume_batch_queue(q, 100, msgs, 4096);
        for (ssize_t i = 0; i < n; i++) {
            if (!msgs[i]->err)
                got++;
            rd_kafka_message_destroy(msgs[i]);
        }
    }
    double s = (double)(cn_mono_ns() - t0) / 1e9;
    rd_kafka_queue_destroy(q);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (got < records) {
        fprintf(stderr, "bench_kafka: consumed %ld of %ld\n", got, records);
        return 0;
    }
    return (double)records / s;
}

int main(int argc, char **argv)
{
    int runs = 3;
    long records = 1000000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--records") == 0 && i + 1 < argc) {
            records = atol(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_kafka [--runs N] [--records N]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 50 || records < 1000) {
        fprintf(stderr, "bench_kafka: --runs 1..50, --records >= 1000\n");
        return 2;
    }
    records -= records % 1000;
    bench b;
    memset(&b, 0, sizeof(b));
    char *dir = cn_test_tmpdir("bench-kafka");
    lg_opts lo;
    lg_opts_init(&lo);
    lo.dir = dir;
    int rc = lg_open(&b.log, &lo);
    if (rc) {
        fprintf(stderr, "bench_kafka: lg_open: %s\n", cn_strerror(rc));
        return 1;
    }
    evthread_use_pthreads();
    b.base = event_base_new();
    kf_server_opts ko;
    kf_server_opts_init(&ko);
    ko.listen = "127.0.0.1:0";
    if (!b.base || kf_server_new(&b.srv, b.base, b.log, &ko)) {
        fprintf(stderr, "bench_kafka: cannot start the server\n");
        return 1;
    }
    snprintf(b.brokers, sizeof(b.brokers), "127.0.0.1:%d", kf_server_port(b.srv));
    pthread_create(&b.loop, NULL, loop_main, &b);

    double *ref = calloc((size_t)runs, sizeof(double)),
           *prod = calloc((size_t)runs, sizeof(double)),
           *cons = calloc((size_t)runs, sizeof(double));
    for (int r = 0; r < runs; r++) {
        char t1[64], t2[64];
        snprintf(t1, sizeof(t1), "ref-%d", r);
        snprintf(t2, sizeof(t2), "kafka-%d", r);
        lg_topic_config cfg = {PARTS, 0, 0, 0};
        lg_topic_create(b.log, t1, &cfg);
        lg_topic_create(b.log, t2, &cfg);
        ref[r] = ref_append_once(&b, t1, records);
        prod[r] = produce_once(&b, t2, records);
        cons[r] = consume_once(&b, t2, records);
        fprintf(stderr, "bench_kafka: run %d: append %.0f/s produce %.0f/s consume %.0f/s\n", r + 1,
                ref[r], prod[r], cons[r]);
    }
    double mr = median(ref, runs), mp = median(prod, runs), mc = median(cons, runs);
    /* median() sorted the arrays: [0] is the min, [runs-1] the max. */
    printf("{\"bench\":\"log.append.inprocess\",\"record_bytes\":%d,\"batch\":1000,\"durability\":"
           "\"fsync\","
           "\"records_per_s\":%.0f,\"min\":%.0f,\"max\":%.0f,\"runs\":%d}\n",
           RECORD_BYTES, mr, ref[0], ref[runs - 1], runs);
    printf("{\"bench\":\"kafka.produce.librdkafka\",\"record_bytes\":%d,\"acks\":\"all\","
           "\"records\":%ld,"
           "\"records_per_s\":%.0f,\"min\":%.0f,\"max\":%.0f,\"ratio_to_inprocess_append\":%.3f,"
           "\"runs\":%d}\n",
           RECORD_BYTES, records, mp, prod[0], prod[runs - 1], mr > 0 ? mp / mr : 0, runs);
    printf("{\"bench\":\"kafka.consume.librdkafka\",\"record_bytes\":%d,\"records\":%ld,"
           "\"records_per_s\":%.0f,\"min\":%.0f,\"max\":%.0f,\"ratio_to_inprocess_append\":%.3f,"
           "\"runs\":%d}\n",
           RECORD_BYTES, records, mc, cons[0], cons[runs - 1], mr > 0 ? mc / mr : 0, runs);

    event_base_loopexit(b.base, NULL);
    pthread_join(b.loop, NULL);
    kf_server_free(b.srv);
    event_base_free(b.base);
    lg_close(b.log);
    cn_test_rmrf(dir);
    free(dir);
    free(ref);
    free(prod);
    free(cons);
    return 0;
}
