/* SPDX-License-Identifier: MIT */
/*
 * bench_hunt_worker.c — the hunt worker end to end (hunt_worker.h over an
 * in-process log, hunt_io_log.c): CloudEvent pings in ble-raw → decode →
 * game → one synced RocksDB WriteBatch per input batch, derived events
 * appended (fdatasync'ed) to hunt-events.  One JSON object per line.
 *
 *   throughput  events/s through the worker with synced commits (RocksDB
 *               WAL fsync + log fdatasync per batch of 4096); the worker
 *               thread's own CPU time gives "on one core" (events per CPU
 *               second of that thread).  Reference in the same run: the
 *               same workload with no syncs (store no_sync, log
 *               durability none), so the ratio is the cost of durability.
 *   restart     a state holding 100,000 sessions left by a worker that
 *               stopped cleanly — and again by one that was SIGKILLed (WAL
 *               to replay) — then: open the store, open the log, create
 *               the worker (offsets, output tail scan), process one new
 *               ping and commit it (synced): ms.  Reference: the same with
 *               an empty state.  The steps' times go to stderr.
 *
 * Median of --runs runs (default 3), min and max beside it.  Scratch data
 * under $TMPDIR.  Usage: bench_hunt_worker [--runs N] [--only NAME]
 * [--batch N] (the worker's largest input batch; default its own, 4096).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cn_buf.h"
#include "cn_ce.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "cn_time.h"
#include "hunt_io_log.h"
#include "hunt_rules.h"
#include "hunt_store.h"
#include "hunt_worker.h"
#include "lg.h"

#define T0 INT64_C(1764352800000)
#define MAXRUNS 21

static const char *only;
static uint32_t batch_size; /* --batch: the worker's max input batch (0: its default) */
static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *name, const char *unit, double *v, int n, const char *extra)
{
    qsort(v, (size_t)n, sizeof(double), cmp_d);
    printf(
        "{\"bench\":\"hunt_worker\",\"name\":\"%s\",\"unit\":\"%s\",\"median\":%.1f,\"min\":%.1f,"
        "\"max\":%.1f,\"runs\":%d%s%s}\n",
        name, unit, v[n / 2], v[0], v[n - 1], n, extra ? "," : "", extra ? extra : "");
    fflush(stdout);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_hunt_worker: %s: %s\n", what, cn_strerror(rc));
    exit(1);
}

static hunt_rules *rules(void)
{
    char j[8192], *p = j;
    p += sprintf(
        p,
        "{\"id\":\"bench\",\"name\":\"B\",\"found\":{\"rssi_min\":-70,\"hits\":2,\"window_s\":10},"
        "\"beacons\":[");
    for (int i = 0; i < 48; i++)
        p += sprintf(p, "%s{\"id\":\"b-%02d\",\"name\":\"n\",\"x\":%d,\"y\":0,\"points\":%d}",
                     i ? "," : "", i, i, 5 + i % 20);
    sprintf(p, "]}");
    hunt_rules *r;
    char err[HUNT_ERR_MAX];
    if (hunt_rules_parse(j, strlen(j), &r, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_hunt_worker: %s\n", err);
        exit(1);
    }
    return r;
}

static lg_log *open_log(const char *dir, int synced)
{
    lg_opts o;
    lg_opts_init(&o);
    o.dir = dir;
    o.durability = synced ? LG_DUR_FSYNC : LG_DUR_NONE;
    lg_log *log;
    int rc = lg_open(&log, &o);
    if (rc)
        die("lg_open", rc);
    lg_topic_config c = {1, -1, -1, 0};
    if (lg_topic_partitions(log, HUNT_TOPIC_IN) <= 0 &&
        (rc = lg_topic_create(log, HUNT_TOPIC_IN, &c)) != 0)
        die("topic", rc);
    if (lg_topic_partitions(log, HUNT_TOPIC_OUT) <= 0 &&
        (rc = lg_topic_create(log, HUNT_TOPIC_OUT, &c)) != 0)
        die("topic", rc);
    return log;
}

/* n pings of `players` players (player k % players, beacons wandering),
 * as the gateway writes them, in batches of 4096 records. */
static void fill(lg_log *log, long first, long n, uint32_t players)
{
    lg_batch_builder *bb;
    cn_buf ce = CN_BUF_INIT, batch = CN_BUF_INIT;
    char player[32], id[32], cid[32], beacon[8];
    static const char ctn[] = "content-type";
    lg_header h = {(const unsigned char *)ctn, 12, (const unsigned char *)CN_CE_CONTENT_TYPE,
                   strlen(CN_CE_CONTENT_TYPE)};
    if (lg_batch_builder_new(&bb, LG_COMP_NONE))
        die("builder", CN_ENOMEM);
    for (long k = first; k < first + n; k++) {
        uint32_t pi = (uint32_t)(k % players);
        int64_t ts = T0 + (k / players) * 1500;
        int pl = snprintf(player, sizeof(player), "player-%06u", pi);
        snprintf(id, sizeof(id), "e-%ld", k);
        snprintf(cid, sizeof(cid), "c-%ld", k);
        snprintf(beacon, sizeof(beacon), "b-%02u", (pi * 7 + (uint32_t)(ts / 4000)) % 48);
        Cairn__V1__BlePing p = CAIRN__V1__BLE_PING__INIT;
        p.id = cid;
        p.beacon = beacon;
        p.rssi = -50 - (int32_t)rnd(35);
        p.ts = ts;
        p.player = player;
        cn_buf_reset(&ce);
        int rc = cn_ce_encode_ping(&ce, "bench", id, ts, &p);
        rc = rc ? rc : lg_batch_builder_add(bb, ts, player, (size_t)pl, ce.data, ce.len, &h, 1);
        if (rc)
            die("encode", rc);
        if (lg_batch_builder_count(bb) == 4096 || k + 1 == first + n) {
            cn_buf_reset(&batch);
            if ((rc = lg_batch_builder_finish(bb, &batch)) != 0 ||
                (rc = lg_append(log, HUNT_TOPIC_IN, 0, batch.data, batch.len, NULL)) != 0)
                die("append", rc);
            lg_batch_builder_reset(bb);
        }
    }
    lg_batch_builder_free(bb);
    cn_buf_free(&ce);
    cn_buf_free(&batch);
}

typedef struct run {
    hunt_store *st;
    lg_log *log;
    hunt_io *io;
    hunt_worker *w;
} run;

/* Milliseconds spent in each step of the last run_open (restart breakdown). */
static double open_ms[3];

static void run_open(run *r, const char *dir, const hunt_rules *hr, int synced)
{
    uint64_t t0 = cn_mono_ns();
    char sdir[4096], ldir[4096], err[512] = "";
    snprintf(sdir, sizeof(sdir), "%s/state", dir);
    snprintf(ldir, sizeof(ldir), "%s/log", dir);
    hunt_store_opts so;
    memset(&so, 0, sizeof(so));
    so.no_sync = !synced;
    int rc = hunt_store_open(sdir, &so, &r->st, err, sizeof(err));
    if (rc)
        die(err, rc);
    uint64_t t1 = cn_mono_ns();
    r->log = open_log(ldir, synced);
    uint64_t t2 = cn_mono_ns();
    if ((rc = hunt_io_log_new(&r->io, r->log)) != 0)
        die("io", rc);
    hunt_worker_opts wo;
    memset(&wo, 0, sizeof(wo));
    wo.node = "bench";
    wo.batch = batch_size;
    if ((rc = hunt_worker_new(&r->w, hr, r->st, r->io, &wo, err, sizeof(err))) != 0)
        die(err, rc);
    open_ms[0] = (double)(t1 - t0) / 1e6;
    open_ms[1] = (double)(t2 - t1) / 1e6;
    open_ms[2] = (double)(cn_mono_ns() - t2) / 1e6;
}

static void run_close(run *r)
{
    hunt_worker_free(r->w);
    hunt_io_log_free(r->io);
    lg_close(r->log);
    hunt_store_close(r->st);
}

static long drain(run *r)
{
    long n = 0;
    for (;;) {
        int k = hunt_worker_poll(r->w);
        if (k < 0)
            die("poll", k);
        n += k;
        if (k == 0 && hunt_worker_caught_up(r->w))
            return n;
    }
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- throughput ------------------------------------------------------------ */

static void bench_throughput(int runs)
{
    enum { PLAYERS = 10000, PINGS = 400000 };
    hunt_rules *hr = rules();
    double wall[2][MAXRUNS], cpu[2][MAXRUNS];
    uint64_t emitted = 0;
    for (int i = 0; i < runs; i++) {
        for (int synced = 1; synced >= 0; synced--) {
            char *dir = cn_test_tmpdir("bench-hw");
            char ldir[4096];
            snprintf(ldir, sizeof(ldir), "%s/log", dir);
            lg_log *log = open_log(ldir, 0);
            fill(log, 0, PINGS, PLAYERS);
            lg_close(log);
            run r;
            run_open(&r, dir, hr, synced);
            uint64_t t0 = cn_mono_ns();
            double c0 = thread_cpu_s();
            long n = drain(&r);
            double c1 = thread_cpu_s();
            uint64_t t1 = cn_mono_ns();
            if (n != PINGS)
                die("not every ping was consumed", CN_EINVAL);
            emitted = hunt_worker_get_stats(r.w)->emitted;
            wall[synced][i] = (double)n / ((double)(t1 - t0) / 1e9);
            cpu[synced][i] = (double)n / (c1 - c0);
            run_close(&r);
            cn_test_rmrf(dir);
            free(dir);
        }
    }
    char extra[256];
    double ref = wall[0][0];
    qsort(wall[0], (size_t)runs, sizeof(double), cmp_d);
    ref = wall[0][runs / 2];
    snprintf(extra, sizeof(extra),
             "\"reference_unsynced_events_s\":%.1f,\"players\":%d,\"pings\":%d,"
             "\"hunt_events\":%llu",
             ref, PLAYERS, PINGS, (unsigned long long)emitted);
    report("throughput_synced", "events/s", wall[1], runs, extra);
    report("throughput_synced_worker_cpu", "events/cpu-s", cpu[1], runs, NULL);
    report("throughput_unsynced", "events/s", wall[0], runs, NULL);
}

/* ---- restart ------------------------------------------------------------------ */

static char self_exe[4096];

/* A worker that processes one ping from each of `players` players and
 * then stops cleanly (crash = 0: memtables flushed) or dies by SIGKILL
 * (crash = 1: the store's WAL is replayed on the next open).  Run in a
 * freshly exec'ed process: a fork of this one would inherit RocksDB's
 * background thread pool as bookkeeping without the threads, and stall. */
static int state_builder(const char *dir, uint32_t players, int crash)
{
    hunt_rules *hr = rules();
    run r;
    if (players) {
        char ldir[4096];
        snprintf(ldir, sizeof(ldir), "%s/log", dir);
        lg_log *log = open_log(ldir, 0);
        fill(log, 0, players, players);
        lg_close(log);
    }
    run_open(&r, dir, hr, 1);
    drain(&r);
    if (crash)
        kill(getpid(), SIGKILL);
    run_close(&r);
    hunt_rules_free(hr);
    return 0;
}

static void build_state(const char *dir, uint32_t players, int crash)
{
    char np[16], cr[4];
    snprintf(np, sizeof(np), "%u", players);
    snprintf(cr, sizeof(cr), "%d", crash);
    pid_t pid = fork();
    if (pid == 0) {
        execl(self_exe, self_exe, "--state-builder", dir, np, cr, (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    if (crash ? !WIFSIGNALED(st) : !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("the state builder did not end as planned", CN_EINVAL);
}

static void bench_restart(int runs, int crash)
{
    enum { SESSIONS = 100000 };
    hunt_rules *hr = rules();
    double full[MAXRUNS], empty[MAXRUNS];
    for (int i = 0; i < runs; i++) {
        for (int withstate = 1; withstate >= 0; withstate--) {
            char *dir = cn_test_tmpdir("bench-hw-restart");
            char ldir[4096];
            uint32_t n = withstate ? SESSIONS : 0;
            build_state(dir, n, crash);
            snprintf(ldir, sizeof(ldir), "%s/log", dir);
            lg_log *log = open_log(ldir, 0);
            fill(log, n, 1, SESSIONS + 1); /* one ping of a new player */
            lg_close(log);
            run r;
            uint64_t t0 = cn_mono_ns();
            run_open(&r, dir, hr, 1);
            int k;
            while ((k = hunt_worker_poll(r.w)) == 0) {
            }
            uint64_t t1 = cn_mono_ns();
            if (k != 1)
                die("restart: expected one record", k < 0 ? k : CN_EINVAL);
            (withstate ? full : empty)[i] = (double)(t1 - t0) / 1e6;
            fprintf(stderr,
                    "# restart%s %s: store open %.1f ms, log open %.1f ms, worker %.1f ms, first "
                    "batch %.1f ms\n",
                    crash ? " after kill" : "", withstate ? "100k" : "empty", open_ms[0],
                    open_ms[1], open_ms[2],
                    (double)(t1 - t0) / 1e6 - open_ms[0] - open_ms[1] - open_ms[2]);
            uint64_t keys = 0;
            hunt_store_property(r.st, HUNT_CF_SESSIONS, "rocksdb.estimate-num-keys", &keys);
            if (withstate && keys < SESSIONS)
                die("restart: the state lacks its sessions", CN_EINVAL);
            run_close(&r);
            cn_test_rmrf(dir);
            free(dir);
        }
    }
    char extra[128];
    qsort(empty, (size_t)runs, sizeof(double), cmp_d);
    snprintf(extra, sizeof(extra), "\"reference_empty_state_ms\":%.1f,\"sessions\":%d",
             empty[runs / 2], SESSIONS);
    report(crash ? "restart_to_first_event_after_kill" : "restart_to_first_event", "ms", full, runs,
           extra);
}

int main(int argc, char **argv)
{
    int runs = 3;
    if (argc == 5 && strcmp(argv[1], "--state-builder") == 0)
        return state_builder(argv[2], (uint32_t)strtoul(argv[3], NULL, 10), atoi(argv[4]));
    ssize_t sl = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
    if (sl <= 0)
        die("readlink /proc/self/exe", CN_EIO);
    self_exe[sl] = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            batch_size = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else {
            fprintf(
                stderr,
                "usage: bench_hunt_worker [--runs N] [--only throughput|restart] [--batch N]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > MAXRUNS) {
        fprintf(stderr, "bench_hunt_worker: --runs must be 1..%d\n", MAXRUNS);
        return 2;
    }
    if (!only || !strcmp(only, "throughput"))
        bench_throughput(runs);
    if (!only || !strcmp(only, "restart")) {
        bench_restart(runs, 0);
        bench_restart(runs, 1);
    }
    return 0;
}
