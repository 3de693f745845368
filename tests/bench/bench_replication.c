/* SPDX-License-Identifier: MIT */
/*
 * bench_replication.c — what replication costs, one JSON object per line
 * per figure (run by `scripts/bench replication`):
 *   - produce throughput through librdkafka (idempotent, acks=all, 100-byte
 *     records, 4 partitions of ble-raw) against one standalone `cairn logd`
 *     and against three `cairn logd --cluster` nodes on loopback, in the
 *     same run, with the ratio cluster/standalone;
 *   - acknowledgement latency (produce() to delivery report) at a fixed,
 *     open-loop rate against both, p50 and p99, with the ratio;
 *   - failover: a producer sends to partition 0 every 5 ms; its leader is
 *     SIGKILLed; the time from the kill to the first acknowledgement of a
 *     record produced after it (which only a new leader can give), median
 *     over --failovers kills (the killed node is restarted and caught up
 *     between them).
 * Every line carries the 1-minute load average and the disk's raw
 * fdatasync rate measured at the start of the run: figures from a busy
 * machine measure the machine.  The nodes are real `cairn` processes
 * (--bin, default ../cairn beside this program), fdatasync durability,
 * started in scratch directories and stopped by PID.  Nothing here
 * asserts a time.
 */
#include "cn_benchutil.h"
#include "cn_testutil.h"
#include "cn_time.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RECORD_BYTES 100
#define PARTS 4
#define TOPIC "ble-raw"
#define MAX_NODES 3

typedef struct node {
    int id, kport, rport;
    pid_t pid;
    char dir[512];
} node;

typedef struct venue {
    const char *bin;
    int nn; /* 1: standalone; 3: a cluster */
    node n[MAX_NODES];
    char bootstrap[256], cluster[256], ckafka[256];
} venue;

typedef struct bcfg {
    const char *bin;
    int runs, failovers;
    long records;
    double rate, seconds;
    double load, fsync_rate;
} bcfg;

/* ---- processes ---------------------------------------------------------- */

/* k free loopback ports, all held open until every one is picked. */
static int pick_ports(int *out, int k)
{
    int fds[2 * MAX_NODES];
    for (int i = 0; i < k; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t al = sizeof(a);
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof(a)) ||
            getsockname(fds[i], (struct sockaddr *)&a, &al))
            return -1;
        out[i] = ntohs(a.sin_port);
    }
    for (int i = 0; i < k; i++)
        close(fds[i]);
    return 0;
}

static int node_start(venue *v, node *n)
{
    char kl[64], id[16], logf[600], parts[16];
    snprintf(kl, sizeof(kl), "127.0.0.1:%d", n->kport);
    snprintf(id, sizeof(id), "%d", n->id);
    snprintf(parts, sizeof(parts), "%d", PARTS);
    snprintf(logf, sizeof(logf), "%s.log", n->dir);
    const char *av[24] = {v->bin, "logd",         "--data", n->dir,         "--kafka-listen",
                          kl,     "--partitions", parts,    "--durability", "fsync"};
    int k = 10;
    if (v->nn > 1) {
        const char *more[] = {"--node-id",       id,       "--cluster", v->cluster,
                              "--cluster-kafka", v->ckafka};
        for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
            av[k++] = more[i];
    }
    av[k] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(v->bin, (char *const *)av);
        _exit(127);
    }
    n->pid = pid;
    return pid > 0 ? 0 : -1;
}

static void node_end(node *n, int sig)
{
    if (n->pid <= 0)
        return;
    kill(n->pid, sig);
    for (int i = 0; i < 600; i++) {
        if (waitpid(n->pid, NULL, WNOHANG) == n->pid) {
            n->pid = 0;
            return;
        }
        usleep(50000);
    }
    kill(n->pid, SIGKILL);
    waitpid(n->pid, NULL, 0);
    n->pid = 0;
}

static int venue_start(venue *v, const char *bin, int nn, const char *scratch, const char *tag)
{
    memset(v, 0, sizeof(*v));
    v->bin = bin;
    v->nn = nn;
    int ports[2 * MAX_NODES];
    if (pick_ports(ports, 2 * nn))
        return -1;
    size_t bo = 0, co = 0, ko = 0;
    for (int i = 0; i < nn; i++) {
        node *n = &v->n[i];
        n->id = i + 1;
        n->kport = ports[i];
        n->rport = ports[nn + i];
        snprintf(n->dir, sizeof(n->dir), "%s/%s-%d", scratch, tag, n->id);
        const char *sep = i ? "," : "";
        bo += (size_t)snprintf(v->bootstrap + bo, sizeof(v->bootstrap) - bo, "%s127.0.0.1:%d", sep,
                               n->kport);
        co += (size_t)snprintf(v->cluster + co, sizeof(v->cluster) - co, "%s%d@127.0.0.1:%d", sep,
                               n->id, n->rport);
        ko += (size_t)snprintf(v->ckafka + ko, sizeof(v->ckafka) - ko, "%s%d@127.0.0.1:%d", sep,
                               n->id, n->kport);
    }
    for (int i = 0; i < nn; i++)
        if (node_start(v, &v->n[i]))
            return -1;
    return 0;
}

static void venue_stop(venue *v)
{
    for (int i = 0; i < v->nn; i++)
        node_end(&v->n[i], SIGTERM);
}

/* ---- the client ----------------------------------------------------------- */

typedef struct sent {
    uint64_t *t_send; /* per sequence number: produce() time */
    double *lat_ms;   /* per acknowledged record */
    long nlat, acked, failed;
    uint64_t first_ack_after; /* failover: mono ns of the first ack of a record sent after t_cut */
    uint64_t t_cut;
} sent;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    sent *s = opaque;
    uint64_t now = cn_mono_ns();
    long seq = (long)(intptr_t)m->_private;
    if (m->err) {
        s->failed++;
        return;
    }
    s->acked++;
    if (s->lat_ms && seq >= 0)
        s->lat_ms[s->nlat++] = (double)(now - s->t_send[seq]) / 1e6;
    if (s->t_cut && !s->first_ack_after && seq >= 0 && s->t_send[seq] >= s->t_cut)
        s->first_ack_after = now;
}

static rd_kafka_t *producer(const char *bootstrap, sent *s, const char *linger)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    const char *kv[][2] = {{"bootstrap.servers", bootstrap},
                           {"acks", "all"},
                           {"enable.idempotence", "true"},
                           {"linger.ms", linger},
                           {"message.timeout.ms", "120000"},
                           {"retry.backoff.ms", "50"},
                           {"queue.buffering.max.messages", "1000000"}};
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        if (rd_kafka_conf_set(c, kv[i][0], kv[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "bench_replication: %s: %s\n", kv[i][0], err);
            rd_kafka_conf_destroy(c);
            return NULL;
        }
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_conf_set_opaque(c, s);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    if (!rk)
        fprintf(stderr, "bench_replication: producer: %s\n", err);
    return rk;
}

static int produce(rd_kafka_t *rk, int32_t part, long seq, const char *val)
{
    for (;;) {
        rd_kafka_resp_err_t e =
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(part),
                              RD_KAFKA_V_VALUE((void *)val, RECORD_BYTES),
                              RD_KAFKA_V_OPAQUE((void *)(intptr_t)seq), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return e ? -1 : 0;
        rd_kafka_poll(rk, 10);
    }
}

/* The node id leading partition part, or -1 (none known yet). */
static int leader_of(rd_kafka_t *rk, int32_t part, int *isr)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, TOPIC, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int leader = -1;
    if (t && rd_kafka_metadata(rk, 0, t, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && part < md->topics[0].partition_cnt) {
        leader = md->topics[0].partitions[part].leader;
        *isr = md->topics[0].partitions[part].isr_cnt;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    if (t)
        rd_kafka_topic_destroy(t);
    return leader;
}

/* Every partition led and fully in sync, and a record acknowledged on
 * each: the venue serves. */
static int wait_ready(rd_kafka_t *rk, sent *s, int nn)
{
    char val[RECORD_BYTES];
    memset(val, 'w', sizeof(val));
    for (int tries = 0; tries < 600; tries++) {
        int ok = 1;
        for (int32_t p = 0; p < PARTS && ok; p++) {
            int isr = 0;
            ok = leader_of(rk, p, &isr) >= 0 && isr >= nn;
        }
        if (ok)
            break;
        usleep(100000);
    }
    long before = s->acked;
    for (int32_t p = 0; p < PARTS; p++)
        if (produce(rk, p, -1, val))
            return -1;
    rd_kafka_flush(rk, 60000);
    return s->acked - before == PARTS ? 0 : -1;
}

/* ---- figures --------------------------------------------------------------- */

static double throughput_once(const char *bootstrap, long records, int nn)
{
    sent s = {0};
    rd_kafka_t *rk = producer(bootstrap, &s, "5");
    if (!rk || wait_ready(rk, &s, nn)) {
        if (rk)
            rd_kafka_destroy(rk);
        return 0;
    }
    char val[RECORD_BYTES];
    memset(val, 'x', sizeof(val));
    long acked0 = s.acked;
    uint64_t t0 = cn_mono_ns();
    for (long i = 0; i < records; i++) {
        if (produce(rk, (int32_t)(i % PARTS), -1, val))
            break;
        if (i % 1024 == 0)
            rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 300000);
    double el = (double)(cn_mono_ns() - t0) / 1e9;
    long got = s.acked - acked0;
    rd_kafka_destroy(rk);
    return got == records && s.failed == 0 ? (double)records / el : 0;
}

/* Open loop at `rate` records/s for `seconds`: p50 and p99 in ms. */
static int latency_once(const char *bootstrap, double rate, double seconds, int nn, double *p50,
                        double *p99)
{
    long n = (long)(rate * seconds);
    sent s = {0};
    s.t_send = calloc((size_t)n, sizeof(uint64_t));
    double *lat = calloc((size_t)n, sizeof(double));
    rd_kafka_t *rk = producer(bootstrap, &s, "0");
    int rc = -1;
    if (!s.t_send || !lat || !rk || wait_ready(rk, &s, nn))
        goto out;
    s.lat_ms = lat;
    char val[RECORD_BYTES];
    memset(val, 'l', sizeof(val));
    uint64_t t0 = cn_mono_ns();
    for (long i = 0; i < n; i++) {
        uint64_t due = t0 + (uint64_t)((double)i * 1e9 / rate);
        for (uint64_t now = cn_mono_ns(); now < due; now = cn_mono_ns())
            rd_kafka_poll(rk, (int)((due - now) / 1000000));
        s.t_send[i] = cn_mono_ns();
        if (produce(rk, (int32_t)(i % PARTS), i, val))
            goto out;
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 120000);
    if (s.nlat != n || s.failed)
        goto out;
    *p50 = cn_bench_quantile(lat, n, 0.50);
    *p99 = cn_bench_quantile(lat, n, 0.99);
    rc = 0;
out:
    if (rk)
        rd_kafka_destroy(rk);
    free(s.t_send);
    free(lat);
    return rc;
}

/* One leader kill: seconds from SIGKILL to the first acknowledgement of a
 * record produced after it; the node is restarted and caught up. */
static double failover_once(venue *v)
{
    enum { MAXSEQ = 200000 };
    sent s = {0};
    s.t_send = calloc(MAXSEQ, sizeof(uint64_t));
    rd_kafka_t *rk = producer(v->bootstrap, &s, "0");
    double r = -1;
    if (!s.t_send || !rk || wait_ready(rk, &s, v->nn))
        goto out;
    int isr = 0, lead = leader_of(rk, 0, &isr);
    if (lead < 1 || lead > v->nn)
        goto out;
    char val[RECORD_BYTES];
    memset(val, 'f', sizeof(val));
    long seq = 0;
    uint64_t t_kill = 0, give_up = 0;
    while (seq < MAXSEQ && !s.first_ack_after) {
        s.t_send[seq] = cn_mono_ns();
        if (produce(rk, 0, seq, val))
            goto out;
        seq++;
        rd_kafka_poll(rk, 5);
        if (!t_kill && seq == 100) {
            t_kill = cn_mono_ns();
            kill(v->n[lead - 1].pid, SIGKILL);
            waitpid(v->n[lead - 1].pid, NULL, 0);
            v->n[lead - 1].pid = 0;
            s.t_cut = t_kill;
            give_up = t_kill + 60ull * 1000000000ull;
        }
        if (give_up && cn_mono_ns() > give_up)
            break;
    }
    if (s.first_ack_after)
        r = (double)(s.first_ack_after - t_kill) / 1e9;
    rd_kafka_flush(rk, 60000);
    if (node_start(v, &v->n[lead - 1]) || wait_ready(rk, &s, v->nn))
        r = -1; /* the next kill needs every replica back */
out:
    if (rk)
        rd_kafka_destroy(rk);
    free(s.t_send);
    return r;
}

/* ---- output --------------------------------------------------------------- */

static void print_pair(const bcfg *c, const char *figure, const char *unit, double alone,
                       double cluster)
{
    printf("{\"bench\":\"replication.%s\",\"unit\":\"%s\",\"standalone\":%.3f,\"cluster3\":%.3f,"
           "\"ratio_cluster_to_standalone\":%.3f,\"record_bytes\":%d,\"partitions\":%d,"
           "\"runs\":%d,\"load1\":%.2f,\"fdatasync_per_s\":%.0f}\n",
           figure, unit, alone, cluster, alone > 0 ? cluster / alone : 0, RECORD_BYTES, PARTS,
           c->runs, c->load, c->fsync_rate);
    fflush(stdout);
}

static int bench_pair(const bcfg *c, const char *scratch)
{
    double tp[2][64], p50[2][64], p99[2][64];
    for (int k = 0; k < 2; k++) {
        venue v;
        int nn = k ? 3 : 1;
        if (venue_start(&v, c->bin, nn, scratch, k ? "cluster" : "alone")) {
            fprintf(stderr, "bench_replication: cannot start %d node(s) of %s\n", nn, c->bin);
            venue_stop(&v);
            return -1;
        }
        for (int r = 0; r < c->runs; r++) {
            tp[k][r] = throughput_once(v.bootstrap, c->records, nn);
            p50[k][r] = p99[k][r] = -1;
            latency_once(v.bootstrap, c->rate, c->seconds, nn, &p50[k][r], &p99[k][r]);
            fprintf(stderr,
                    "bench_replication: %s run %d: %.0f records/s; at %.0f/s p50 %.2f ms "
                    "p99 %.2f ms\n",
                    k ? "cluster" : "standalone", r + 1, tp[k][r], c->rate, p50[k][r], p99[k][r]);
        }
        venue_stop(&v);
    }
    print_pair(c, "produce_acks_all", "records_per_s", cn_bench_median(tp[0], c->runs),
               cn_bench_median(tp[1], c->runs));
    print_pair(c, "ack_latency_p50", "ms", cn_bench_median(p50[0], c->runs),
               cn_bench_median(p50[1], c->runs));
    print_pair(c, "ack_latency_p99", "ms", cn_bench_median(p99[0], c->runs),
               cn_bench_median(p99[1], c->runs));
    return 0;
}

static int bench_failover(const bcfg *c, const char *scratch)
{
    venue v;
    if (venue_start(&v, c->bin, 3, scratch, "failover")) {
        venue_stop(&v);
        return -1;
    }
    double f[64];
    int n = 0;
    for (int i = 0; i < c->failovers; i++) {
        double r = failover_once(&v);
        fprintf(stderr, "bench_replication: failover %d: %.3f s\n", i + 1, r);
        if (r < 0)
            break;
        f[n++] = r;
    }
    venue_stop(&v);
    if (n == 0)
        return -1;
    double med = cn_bench_median(f, n);
    printf("{\"bench\":\"replication.failover\",\"unit\":\"s\",\"median\":%.3f,\"min\":%.3f,"
           "\"max\":%.3f,\"kills\":%d,\"load1\":%.2f,\"fdatasync_per_s\":%.0f}\n",
           med, f[0], f[n - 1], n, c->load, c->fsync_rate);
    fflush(stdout);
    return n == c->failovers ? 0 : -1;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_replication [--bin CAIRN] [--runs N] [--records N] "
                    "[--rate RECORDS_PER_S] [--seconds S] [--failovers N]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static char defbin[4096];
    snprintf(defbin, sizeof(defbin), "%s", argv[0]);
    char *slash = strrchr(defbin, '/');
    if (slash)
        *slash = 0;
    slash = strrchr(defbin, '/');
    snprintf(slash ? slash + 1 : defbin, sizeof(defbin) - (size_t)(slash ? slash + 1 - defbin : 0),
             "%s", slash ? "cairn" : "../cairn");
    bcfg c = {defbin, 3, 5, 300000, 5000, 5, 0, 0};
    for (int i = 1; i < argc; i += 2) { /* every flag takes one value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        if (!strcmp(a, "--bin"))
            c.bin = v;
        else if (!strcmp(a, "--runs"))
            c.runs = atoi(v);
        else if (!strcmp(a, "--records"))
            c.records = atol(v);
        else if (!strcmp(a, "--rate"))
            c.rate = atof(v);
        else if (!strcmp(a, "--seconds"))
            c.seconds = atof(v);
        else if (!strcmp(a, "--failovers"))
            c.failovers = atoi(v);
        else
            return usage();
    }
    if (c.runs < 1 || c.runs > 64 || c.records < 1000 || c.rate <= 0 || c.seconds <= 0 ||
        c.failovers < 1 || c.failovers > 64)
        return usage();
    signal(SIGPIPE, SIG_IGN);
    char *scratch = cn_test_tmpdir("bench-replication");
    c.load = cn_bench_load1();
    c.fsync_rate = cn_bench_fdatasync_rate(scratch, 1.0);
    int rc = bench_pair(&c, scratch);
    if (rc == 0)
        rc = bench_failover(&c, scratch);
    cn_test_rmrf(scratch);
    free(scratch);
    return rc ? 1 : 0;
}
