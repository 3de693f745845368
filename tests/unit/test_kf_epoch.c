/* SPDX-License-Identifier: MIT */
/*
 * test_kf_epoch.c — leader epochs on the Kafka wire, in-process (a real
 * lg_log and kf_server on an event-loop thread, loopback TCP, cairn's codec
 * as the client), over every advertised version:
 *  - OffsetForLeaderEpoch v0-4 answers from the log's epoch history with
 *    Kafka's rule (the current epoch ends at the log end; an older epoch at
 *    the start of the next; below every epoch: the first start; above the
 *    current: -1/-1), v0 without the epoch field; unknown topics and
 *    partitions; the currentLeaderEpoch fence (v2+);
 *  - Fetch v9-11 and ListOffsets v4-5 refuse an older currentLeaderEpoch
 *    with FENCED_LEADER_EPOCH and a newer one with UNKNOWN_LEADER_EPOCH,
 *    and serve the current one or -1; older versions have no fence;
 *  - ListOffsets reports the leader epoch of the offset it answers;
 *  - with a read limit (the high watermark of a replicated partition),
 *    Fetch, ListOffsets latest and by time answer below it, and a parked
 *    Fetch wakes when the limit moves (no append needed);
 *  - hostile OffsetForLeaderEpoch bodies (every truncation, a huge array
 *    count) close the connection or are refused, never crash the server;
 *  - real clients (kcat, confluent-kafka/librdkafka 2.0.2, kafka-python)
 *    produce to and read a partition whose batches carry epochs 1 and 3,
 *    unfenced (they learn no epoch from the Metadata versions they use and
 *    send currentLeaderEpoch -1 where the field exists; none of them sends
 *    OffsetForLeaderEpoch).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cn_buf.h"
#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "cn_time.h"
#include "kf_errors.h"
#include "kf_frame.h"
#include "kf_msgs.h"
#include "kf_server.h"
#include "kf_testsrv.h"
#include "lg.h"
#include "lg_batch.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static kft_srv E;

static int setup(void **st)
{
    (void)st;
    memset(&E, 0, sizeof(E));
    E.dir = cn_test_tmpdir("kf-epoch");
    assert_int_equal(kf_arena_new(&E.a, 64u << 20), 0);
    kf_server_opts ko;
    kf_server_opts_init(&ko);
    ko.listen = "127.0.0.1:0";
    ko.auto_create = 1;
    ko.default_partitions = 3;
    kft_start(&E, NULL, &ko, 10);
    lg_topic_config cfg = {2, 0, 0, 0};
    assert_int_equal(lg_topic_create(E.log, "t1", &cfg), 0);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    kft_stop(&E);
    kf_arena_free(E.a);
    cn_test_rmrf(E.dir);
    free(E.dir);
    return 0;
}

/* Send one request and decode its reply (in E.a). */
static void *rpc(int16_t key, int16_t ver, const void *body)
{
    return kft_rpc(&E, key, ver, body);
}

static const kf_api_info *api(int16_t key)
{
    const kf_api_info *a = kf_api_find(key);
    assert_non_null(a);
    return a;
}

/* ---------------------------------------------------------------------- */

typedef struct done {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n, err;
} done;

static void done_cb(void *ud, const lg_append_result *r)
{
    done *d = ud;
    pthread_mutex_lock(&d->mu);
    if (r->err && !d->err)
        d->err = r->err;
    d->n++;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

/* One batch of n records at base in epoch (as a replica stores it), with
 * record timestamps ts, ts+1, ... */
static void rput(int32_t part, int64_t base, int32_t epoch, int n, int64_t ts)
{
    lg_batch_builder *b;
    assert_int_equal(lg_batch_builder_new(&b, LG_COMP_NONE), 0);
    for (int i = 0; i < n; i++)
        lg_batch_builder_add(b, ts + i, "k", 1, "v", 1, NULL, 0);
    cn_buf out = CN_BUF_INIT;
    assert_int_equal(lg_batch_builder_finish(b, &out), 0);
    lg_batch_builder_free(b);
    done d = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    assert_int_equal(
        lg_replica_append(E.log, "t1", part, base, epoch, out.data, out.len, done_cb, &d), 0);
    pthread_mutex_lock(&d.mu);
    while (d.n < 1)
        pthread_cond_wait(&d.cv, &d.mu);
    pthread_mutex_unlock(&d.mu);
    assert_int_equal(d.err, 0);
    cn_buf_free(&out);
}

/* Partition 0 of t1: epochs (1, 0) and (3, 2), log end 5; timestamps
 * 1000, 1001 (epoch 1) and 2000.. (epoch 3). */
static void make_history(void)
{
    rput(0, 0, 1, 2, 1000);
    rput(0, 2, 3, 3, 2000);
}

static kf_EpochEndOffset *ofle(int16_t v, const char *topic, int32_t part, int32_t current,
                               int32_t epoch)
{
    kf_OffsetForLeaderPartition p;
    kf_OffsetForLeaderPartition_init(&p);
    p.Partition = part;
    p.CurrentLeaderEpoch = current;
    p.LeaderEpoch = epoch;
    kf_OffsetForLeaderTopic t = {kf_str_c(topic), {&p, 1}};
    kf_OffsetForLeaderEpochRequest q;
    kf_OffsetForLeaderEpochRequest_init(&q);
    q.ReplicaId = -1;
    q.Topics.v = &t;
    q.Topics.n = 1;
    kf_OffsetForLeaderEpochResponse *r = rpc(23, v, &q);
    assert_int_equal(r->Topics.n, 1);
    assert_true(kf_str_eq(&r->Topics.v[0].Topic, topic));
    assert_int_equal(r->Topics.v[0].Partitions.n, 1);
    assert_int_equal(r->Topics.v[0].Partitions.v[0].Partition, part);
    return &r->Topics.v[0].Partitions.v[0];
}

static void want_ofle(int16_t v, int32_t epoch, int32_t want_epoch, int64_t want_end)
{
    kf_EpochEndOffset *o = ofle(v, "t1", 0, -1, epoch);
    assert_int_equal(o->ErrorCode, 0);
    assert_int_equal(o->EndOffset, want_end);
    assert_int_equal(o->LeaderEpoch, v >= 1 ? want_epoch : -1);
}

static void test_offset_for_leader_epoch_all_versions(void **st)
{
    (void)st;
    const kf_api_info *a = api(23);
    assert_int_equal(a->min_version, 0);
    assert_int_equal(a->max_version, 4);
    /* An empty partition: its current epoch (0) ends at the log end. */
    for (int16_t v = 0; v <= 4; v++) {
        want_ofle(v, 0, 0, 0);
        want_ofle(v, 1, -1, -1);
    }
    make_history();
    for (int16_t v = 0; v <= 4; v++) {
        want_ofle(v, 3, 3, 5); /* the current epoch: the log end */
        want_ofle(v, 2, 1, 2); /* no epoch 2: epoch 1, ending where 3 starts */
        want_ofle(v, 1, 1, 2);
        want_ofle(v, 0, 0, 0);   /* below every epoch: the first start */
        want_ofle(v, 4, -1, -1); /* newer than this node knows */
        want_ofle(v, -1, -1, -1);
        kf_EpochEndOffset *o = ofle(v, "t1", 9, -1, 1);
        assert_int_equal(o->ErrorCode, KF_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_int_equal(o->EndOffset, -1);
        o = ofle(v, "nope", 0, -1, 1);
        assert_int_equal(o->ErrorCode, KF_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    }
    for (int16_t v = 2; v <= 4; v++) {
        assert_int_equal(ofle(v, "t1", 0, 2, 1)->ErrorCode, KF_ERR_FENCED_LEADER_EPOCH);
        assert_int_equal(ofle(v, "t1", 0, 4, 1)->ErrorCode, KF_ERR_UNKNOWN_LEADER_EPOCH);
        kf_EpochEndOffset *o = ofle(v, "t1", 0, 3, 1);
        assert_int_equal(o->ErrorCode, 0);
        assert_int_equal(o->EndOffset, 2);
    }
    /* v0-1 have no currentLeaderEpoch: an encoder drops it, no fence. */
    assert_int_equal(ofle(1, "t1", 0, 2, 1)->ErrorCode, 0);
}

static kf_PartitionData *fetch_at(int16_t v, int32_t part, int64_t off, int32_t current)
{
    kf_FetchPartition p;
    kf_FetchPartition_init(&p);
    p.Partition = part;
    p.FetchOffset = off;
    p.CurrentLeaderEpoch = current;
    p.PartitionMaxBytes = 1 << 20;
    kf_FetchTopic t = {kf_str_c("t1"), {&p, 1}};
    kf_FetchRequest q;
    kf_FetchRequest_init(&q);
    q.ReplicaId = -1;
    q.MaxWaitMs = 0;
    q.MinBytes = 0;
    q.MaxBytes = 1 << 20;
    q.Topics.v = &t;
    q.Topics.n = 1;
    kf_FetchResponse *r = rpc(1, v, &q);
    return &r->Responses.v[0].Partitions.v[0];
}

static void test_fetch_fences_leader_epoch(void **st)
{
    (void)st;
    make_history();
    for (int16_t v = api(1)->min_version; v <= api(1)->max_version; v++) {
        kf_PartitionData *d = fetch_at(v, 0, 0, v >= 9 ? 2 : -1);
        assert_int_equal(d->ErrorCode, v >= 9 ? KF_ERR_FENCED_LEADER_EPOCH : 0);
        if (v < 9)
            continue;
        d = fetch_at(v, 0, 0, 4);
        assert_int_equal(d->ErrorCode, KF_ERR_UNKNOWN_LEADER_EPOCH);
        assert_int_equal(d->Records.len, 0);
        d = fetch_at(v, 0, 0, 3);
        assert_int_equal(d->ErrorCode, 0);
        assert_int_equal(d->HighWatermark, 5);
        assert_true(d->Records.len > 0);
        /* the stored batch carries its epoch */
        assert_int_equal((int32_t)cn_rd_be32(d->Records.ptr + 12), 1);
        d = fetch_at(v, 0, 0, -1);
        assert_int_equal(d->ErrorCode, 0);
        d = fetch_at(v, 1, 0, 0); /* partition 1: epoch 0 */
        assert_int_equal(d->ErrorCode, 0);
        d = fetch_at(v, 7, 0, 0);
        assert_int_equal(d->ErrorCode, KF_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    }
}

static kf_ListOffsetsPartitionResponse *list_at(int16_t v, int64_t ts, int32_t current)
{
    kf_ListOffsetsPartition p;
    kf_ListOffsetsPartition_init(&p);
    p.PartitionIndex = 0;
    p.Timestamp = ts;
    p.CurrentLeaderEpoch = current;
    kf_ListOffsetsTopic t = {kf_str_c("t1"), {&p, 1}};
    kf_ListOffsetsRequest q;
    kf_ListOffsetsRequest_init(&q);
    q.ReplicaId = -1;
    q.Topics.v = &t;
    q.Topics.n = 1;
    kf_ListOffsetsResponse *r = rpc(2, v, &q);
    return &r->Topics.v[0].Partitions.v[0];
}

static void test_list_offsets_fences_and_reports_epochs(void **st)
{
    (void)st;
    /* Empty: latest and earliest are offset 0 in the current epoch 0. */
    assert_int_equal(list_at(5, -1, -1)->LeaderEpoch, 0);
    assert_int_equal(list_at(5, -2, -1)->LeaderEpoch, 0);
    make_history();
    for (int16_t v = 4; v <= api(2)->max_version; v++) {
        assert_int_equal(list_at(v, -1, 2)->ErrorCode, KF_ERR_FENCED_LEADER_EPOCH);
        assert_int_equal(list_at(v, -1, 4)->ErrorCode, KF_ERR_UNKNOWN_LEADER_EPOCH);
        kf_ListOffsetsPartitionResponse *o = list_at(v, -1, 3);
        assert_int_equal(o->ErrorCode, 0);
        assert_int_equal(o->Offset, 5);
        assert_int_equal(o->LeaderEpoch, 3);
        o = list_at(v, -2, -1);
        assert_int_equal(o->Offset, 0);
        assert_int_equal(o->LeaderEpoch, 1);
        o = list_at(v, 1001, -1);
        assert_int_equal(o->Offset, 1);
        assert_int_equal(o->LeaderEpoch, 1);
        o = list_at(v, 2001, -1);
        assert_int_equal(o->Offset, 3);
        assert_int_equal(o->LeaderEpoch, 3);
        o = list_at(v, 9999, -1);
        assert_int_equal(o->Offset, -1);
        assert_int_equal(o->LeaderEpoch, -1);
    }
    /* Before v4 there is no fence (the field is not on the wire). */
    assert_int_equal(list_at(3, -1, 2)->ErrorCode, 0);
}

static void test_consumers_read_below_the_read_limit(void **st)
{
    (void)st;
    make_history();
    assert_int_equal(lg_read_limit_set(E.log, "t1", 0, 2), 0);
    kf_PartitionData *d = fetch_at(11, 0, 0, -1);
    assert_int_equal(d->ErrorCode, 0);
    assert_int_equal(d->HighWatermark, 2);
    /* Only the first batch (offsets 0-1) comes back. */
    assert_true(d->Records.len > 0);
    size_t first = 12 + cn_rd_be32(d->Records.ptr + 8);
    assert_int_equal((size_t)d->Records.len, first);
    d = fetch_at(11, 0, 2, -1); /* at the limit: nothing yet, no error */
    assert_int_equal(d->ErrorCode, 0);
    assert_int_equal(d->Records.len, 0);
    d = fetch_at(11, 0, 4, -1); /* past the limit, below the log end */
    assert_int_equal(d->ErrorCode, 0);
    assert_int_equal(d->Records.len, 0);
    assert_int_equal(list_at(5, -1, -1)->Offset, 2);
    assert_int_equal(list_at(5, 2001, -1)->Offset, -1); /* exists, but above the limit */
    assert_int_equal(lg_read_limit_set(E.log, "t1", 0, -1), 0);
    assert_int_equal(list_at(5, -1, -1)->Offset, 5);
    assert_int_equal(list_at(5, 2001, -1)->Offset, 3);
}

static void *raise_limit_later(void *ud)
{
    (void)ud;
    usleep(500 * 1000); /* let the Fetch park first (if it has not, it is answered at once) */
    assert_int_equal(lg_read_limit_set(E.log, "t1", 0, 5), 0);
    return NULL;
}

static void test_parked_fetch_wakes_when_the_read_limit_moves(void **st)
{
    (void)st;
    make_history();
    assert_int_equal(lg_read_limit_set(E.log, "t1", 0, 2), 0);
    kf_FetchPartition p;
    kf_FetchPartition_init(&p);
    p.FetchOffset = 2;
    p.PartitionMaxBytes = 1 << 20;
    kf_FetchTopic t = {kf_str_c("t1"), {&p, 1}};
    kf_FetchRequest q;
    kf_FetchRequest_init(&q);
    q.ReplicaId = -1;
    q.MaxWaitMs = 120000; /* far beyond the client's 10 s receive timeout */
    q.MinBytes = 1;
    q.MaxBytes = 1 << 20;
    q.Topics.v = &t;
    q.Topics.n = 1;
    pthread_t th;
    pthread_create(&th, NULL, raise_limit_later, NULL);
    /* Answered only because the limit's move woke the parked Fetch: with no
     * append, nothing else would before MaxWaitMs. */
    kf_FetchResponse *r = rpc(1, 11, &q);
    pthread_join(th, NULL);
    kf_PartitionData *d = &r->Responses.v[0].Partitions.v[0];
    assert_int_equal(d->ErrorCode, 0);
    assert_int_equal(d->HighWatermark, 5);
    assert_true(d->Records.len > 0);
    assert_int_equal((int64_t)cn_rd_be64(d->Records.ptr), 2);
}

/* Send raw request bytes; 1 if the server answered, 0 if it closed. */
static int raw_answered(const unsigned char *frame, size_t n)
{
    int fd = kft_connect(kf_server_port(E.srv), 10);
    assert_int_equal(send(fd, frame, n, 0), (ssize_t)n);
    unsigned char b[4];
    ssize_t r = recv(fd, b, sizeof(b), MSG_WAITALL);
    close(fd);
    return r == 4;
}

static void test_offset_for_leader_epoch_hostile_bodies(void **st)
{
    (void)st;
    make_history();
    for (int16_t v = 0; v <= 4; v++) {
        kf_OffsetForLeaderPartition p;
        kf_OffsetForLeaderPartition_init(&p);
        p.LeaderEpoch = 1;
        kf_OffsetForLeaderTopic t = {kf_str_c("t1"), {&p, 1}};
        kf_OffsetForLeaderEpochRequest q;
        kf_OffsetForLeaderEpochRequest_init(&q);
        q.Topics.v = &t;
        q.Topics.n = 1;
        cn_buf out = CN_BUF_INIT;
        assert_int_equal(kf_request_encode(&out, 23, v, 1, "unit", &q), 0);
        assert_true(raw_answered(out.data, out.len));
        /* Every body cut short (the frame length says so): refused. */
        size_t hdr = 4 + 2 + 2 + 4 + 2 + 4 + (v >= 4 ? 1 : 0); /* len, key, ver, corr, id */
        for (size_t n = hdr; n < out.len; n++) {
            cn_buf cut = CN_BUF_INIT;
            cn_buf_append(&cut, out.data, n);
            cn_wr_be32(cut.data, (uint32_t)(n - 4));
            assert_false(raw_answered(cut.data, cut.len));
            cn_buf_free(&cut);
        }
        /* A topic array claiming 2^31-1 entries. */
        size_t at = hdr + (v >= 3 ? 4 : 0);
        if (v < 4) {
            cn_wr_be32(out.data + at, 0x7fffffffu);
            assert_false(raw_answered(out.data, out.len));
        }
        cn_buf_free(&out);
    }
    /* The server still serves. */
    want_ofle(2, 3, 3, 5);
}

/* Run a shell command, returning its stdout (malloc'd) and exit status. */
static char *run(const char *cmd, int *status)
{
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t cap = 65536, n = 0;
    char *out = malloc(cap);
    size_t r;
    while ((r = fread(out + n, 1, cap - 1 - n, f)) > 0)
        n += r;
    out[n] = '\0';
    *status = pclose(f);
    return out;
}

static void test_real_clients_use_a_partition_in_a_later_epoch(void **st)
{
    (void)st;
    if (access("/usr/bin/kcat", X_OK) != 0 || access("/usr/bin/python3", X_OK) != 0)
        skip();
    make_history(); /* partition 0: epochs 1 and 3, offsets 0-4 */
    int port = kf_server_port(E.srv);
    char cmd[1024];
    int status;
    /* kcat produces one more (stamped with epoch 3) and reads all six. */
    snprintf(cmd, sizeof(cmd),
             "printf 'six\\n' | timeout 120 kcat -b 127.0.0.1:%d -P -t t1 -p 0 2>&1", port);
    free(run(cmd, &status));
    assert_int_equal(status, 0);
    snprintf(cmd, sizeof(cmd),
             "timeout 120 kcat -b 127.0.0.1:%d -C -t t1 -p 0 -o beginning -e -q -f '%%o %%s\\n'",
             port);
    char *out = run(cmd, &status);
    assert_int_equal(status, 0);
    assert_string_equal(out, "0 v\n1 v\n2 v\n3 v\n4 v\n5 six\n");
    free(out);
    /* librdkafka (confluent-kafka) and kafka-python: assign, read from the
     * beginning, list offsets. */
    snprintf(cmd, sizeof(cmd),
             "timeout 120 /usr/bin/python3 -c '\n"
             "import sys\n"
             "from confluent_kafka import Consumer, TopicPartition\n"
             "c = Consumer({\"bootstrap.servers\": \"127.0.0.1:%d\", \"group.id\": \"g\",\n"
             "              \"enable.auto.commit\": False})\n"
             "c.assign([TopicPartition(\"t1\", 0, 0)])\n"
             "got = []\n"
             "while len(got) < 6:\n"
             "    m = c.poll(10)\n"
             "    if m is None or m.error(): sys.exit(\"librdkafka: %%r\" %% (m and m.error()))\n"
             "    got.append(m.offset())\n"
             "lo, hi = c.get_watermark_offsets(TopicPartition(\"t1\", 0), timeout=10)\n"
             "c.close()\n"
             "from kafka import KafkaConsumer, TopicPartition as TP\n"
             "k = KafkaConsumer(bootstrap_servers=\"127.0.0.1:%d\", consumer_timeout_ms=10000)\n"
             "tp = TP(\"t1\", 0)\n"
             "k.assign([tp]); k.seek_to_beginning(tp)\n"
             "kp = [r.offset for r in k][:6]\n"
             "end = k.end_offsets([tp])[tp]\n"
             "k.close()\n"
             "print(got, lo, hi, kp, end)\n"
             "' 2>&1",
             port, port);
    out = run(cmd, &status);
    if (status != 0 || strcmp(out, "[0, 1, 2, 3, 4, 5] 0 6 [0, 1, 2, 3, 4, 5] 6\n") != 0)
        fprintf(stderr, "clients said: %s\n", out);
    assert_int_equal(status, 0);
    assert_string_equal(out, "[0, 1, 2, 3, 4, 5] 0 6 [0, 1, 2, 3, 4, 5] 6\n");
    free(out);
    /* The produced batch is in epoch 3. */
    kf_PartitionData *d = fetch_at(11, 0, 5, 3);
    assert_int_equal(d->ErrorCode, 0);
    assert_int_equal((int32_t)cn_rd_be32(d->Records.ptr + 12), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_offset_for_leader_epoch_all_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_fences_leader_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_offsets_fences_and_reports_epochs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_consumers_read_below_the_read_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parked_fetch_wakes_when_the_read_limit_moves, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_offset_for_leader_epoch_hostile_bodies, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_real_clients_use_a_partition_in_a_later_epoch, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
