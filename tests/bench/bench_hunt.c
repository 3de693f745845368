/* SPDX-License-Identifier: MIT */
/*
 * bench_hunt.c — benchmarks of the hunt worker's building blocks (the
 * worker loop itself lands with the log): one JSON object per line.
 *
 *   engine        hunt_game_step on in-memory states (pings/s), and with
 *                 the state codecs on every step as a worker does
 *   store_synced  load -> step -> save for a batch of distinct players,
 *                 one WriteBatch per batch with the WAL fsynced
 *                 (events/s); reference: bare write+fdatasync/s of the
 *                 same directory, so the ratio is events per fsync
 *   restart       open a store holding 100,000 sessions and process one
 *                 event, synced (ms); reference: the same on an empty store
 *   ttl_day       a simulated day of players (injected clock, compaction
 *                 every simulated hour), live SST bytes at the end with
 *                 the session TTL on (30 min) and off (10 years)
 *
 * Each figure is the median of --runs runs (default 5), min and max beside
 * it.  Scratch data goes under $TMPDIR.  Usage: bench_hunt [--runs N]
 * [--only NAME].  Single-threaded: "on one core".
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cn_buf.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "cn_time.h"
#include "hunt_game.h"
#include "hunt_player.h"
#include "hunt_rules.h"
#include "hunt_store.h"

#define T0 INT64_C(1795888800000)
#define MAXRUNS 21

static const char *only;

static int64_t sim_now;
static int64_t sim_clock(void *ud)
{
    (void)ud;
    return __atomic_load_n(&sim_now, __ATOMIC_RELAXED);
}
static void sim_set(int64_t t)
{
    __atomic_store_n(&sim_now, t, __ATOMIC_RELAXED);
}

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
    printf("{\"bench\":\"hunt\",\"name\":\"%s\",\"unit\":\"%s\",\"median\":%.1f,\"min\":%.1f,"
           "\"max\":%.1f,\"runs\":%d%s%s}\n",
           name, unit, v[n / 2], v[0], v[n - 1], n, extra ? "," : "", extra ? extra : "");
    fflush(stdout);
}

static hunt_rules *rules(void)
{
    /* The bundled sample's rules with more beacons, so finds are rarer. */
    char *j = malloc(16384), *p = j;
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
        fprintf(stderr, "bench_hunt: %s\n", err);
        exit(1);
    }
    free(j);
    return r;
}

static hunt_ping make_ping(const hunt_rules *r, char *player, size_t cap, uint32_t pi, int64_t ts)
{
    const hunt_def *d = hunt_rules_def(r);
    int n = snprintf(player, cap, "player-%06u", pi);
    const char *bid = d->beacons[(pi * 7 + (uint32_t)(ts / 4000)) % d->nbeacons].id;
    return (hunt_ping){player, (size_t)n, bid, strlen(bid), -50 - (int32_t)rnd(35), ts, ts};
}

/* ---- engine -------------------------------------------------------------- */

static void bench_engine(int runs)
{
    enum { PLAYERS = 10000, PINGS = 2000000 };
    hunt_rules *r = rules();
    hunt_session *ss = malloc(sizeof(*ss) * PLAYERS);
    hunt_progress *pp = malloc(sizeof(*pp) * PLAYERS);
    double plain[MAXRUNS], codec[MAXRUNS];
    long events = 0;
    for (int run = 0; run < runs; run++) {
        for (int withcodec = 0; withcodec <= 1; withcodec++) {
            for (int i = 0; i < PLAYERS; i++) {
                hunt_session_init(&ss[i]);
                hunt_progress_init(&pp[i]);
            }
            char player[32];
            unsigned char sb[HUNT_SESSION_ENC_MAX], pb[HUNT_PROGRESS_ENC_MAX];
            uint64_t t0 = cn_mono_ns();
            for (long k = 0; k < PINGS; k++) {
                uint32_t pi = (uint32_t)(k % PLAYERS);
                hunt_ping g = make_ping(r, player, sizeof(player), pi, T0 + (k / PLAYERS) * 1500);
                hunt_step out;
                if (withcodec) {
                    hunt_session s;
                    hunt_progress p;
                    size_t sn = hunt_session_encode(&ss[pi], sb),
                           pn = hunt_progress_encode(&pp[pi], 48, pb);
                    if (hunt_session_decode(sb, sn, 48, &s) || hunt_progress_decode(pb, pn, 48, &p))
                        abort();
                    hunt_game_step(r, &s, &p, &g, &out);
                    ss[pi] = s;
                    pp[pi] = p;
                } else {
                    hunt_game_step(r, &ss[pi], &pp[pi], &g, &out);
                }
                events += out.nevents;
            }
            double secs = (double)(cn_mono_ns() - t0) / 1e9;
            (withcodec ? codec : plain)[run] = PINGS / secs;
        }
    }
    char extra[128];
    snprintf(extra, sizeof(extra), "\"pings\":%d,\"players\":%d,\"events\":%ld", PINGS, PLAYERS,
             events / runs / 2);
    report("engine_steps_per_s", "pings/s", plain, runs, extra);
    report("engine_steps_with_codec_per_s", "pings/s", codec, runs, extra);
    free(ss);
    free(pp);
    hunt_rules_free(r);
}

/* ---- synced store ----------------------------------------------------------- */

static double fsync_rate(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/fsync-probe", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    char buf[4096] = {0};
    enum { N = 300 };
    uint64_t t0 = cn_mono_ns();
    for (int i = 0; i < N; i++) {
        if (pwrite(fd, buf, sizeof(buf), (off_t)i * (off_t)sizeof(buf)) != (ssize_t)sizeof(buf) ||
            fdatasync(fd))
            abort();
    }
    double secs = (double)(cn_mono_ns() - t0) / 1e9;
    close(fd);
    unlink(path);
    return N / secs;
}

/* One input batch: distinct players, so no player is read back before its
 * batch is written (the worker keeps such states in hand instead). */
static long process_batch(hunt_store *s, hunt_batch *b, const hunt_rules *r, uint32_t first,
                          uint32_t n, int64_t ts, cn_buf *scratch, int64_t offset)
{
    long events = 0;
    char player[32];
    hunt_batch_clear(b);
    for (uint32_t i = 0; i < n; i++) {
        hunt_ping g = make_ping(r, player, sizeof(player), first + i, ts);
        hunt_session ss;
        hunt_progress pp;
        hunt_step out;
        if (hunt_player_load(s, r, g.player, g.player_len, &ss, &pp, scratch, NULL) ||
            hunt_game_step(r, &ss, &pp, &g, &out))
            abort();
        if (out.reason == HUNT_ACCEPTED)
            hunt_player_save(b, r, g.player, g.player_len, &ss, &pp);
        for (uint32_t e = 0; e < out.nevents; e++)
            hunt_batch_put_audit(b, 0, offset + i, (uint16_t)e, "event", 5, NULL);
        events++;
    }
    hunt_batch_put_offset(b, "ble-raw", 0, offset + n);
    if (hunt_store_write(s, b))
        abort();
    return events;
}

static void bench_store(int runs)
{
    enum { PLAYERS = 20000, BATCH = 1000, EVENTS = 200000 };
    hunt_rules *r = rules();
    double rate[MAXRUNS], ref[MAXRUNS];
    for (int run = 0; run < runs; run++) {
        char *dir = cn_test_tmpdir("benchhunt");
        ref[run] = fsync_rate(dir);
        hunt_store_opts o = {0};
        hunt_store *s;
        if (hunt_store_open(dir, &o, &s, NULL, 0))
            abort();
        hunt_batch *b;
        hunt_batch_new(s, &b);
        cn_buf scratch = CN_BUF_INIT;
        uint64_t t0 = cn_mono_ns();
        long done = 0;
        for (long k = 0; k < EVENTS; k += BATCH)
            done += process_batch(s, b, r, (uint32_t)(k % PLAYERS), BATCH,
                                  T0 + (k / PLAYERS) * 1500, &scratch, k);
        rate[run] = done / ((double)(cn_mono_ns() - t0) / 1e9);
        cn_buf_free(&scratch);
        hunt_batch_free(b);
        hunt_store_close(s);
        cn_test_rmrf(dir);
        free(dir);
    }
    double rr[MAXRUNS];
    memcpy(rr, ref, sizeof(double) * (size_t)runs);
    qsort(rr, (size_t)runs, sizeof(double), cmp_d);
    double rs[MAXRUNS];
    memcpy(rs, rate, sizeof(double) * (size_t)runs);
    qsort(rs, (size_t)runs, sizeof(double), cmp_d);
    char extra[256];
    snprintf(extra, sizeof(extra),
             "\"batch\":%d,\"events\":%d,\"players\":%d,\"reference_fdatasync_per_s\":%.1f,"
             "\"events_per_fsync\":%.1f",
             BATCH, EVENTS, PLAYERS, rr[runs / 2], rs[runs / 2] / rr[runs / 2]);
    report("store_synced_events_per_s", "events/s", rate, runs, extra);
    hunt_rules_free(r);
}

/* ---- restart ------------------------------------------------------------------ */

static void fill(const char *dir, const hunt_rules *r, uint32_t sessions)
{
    hunt_store_opts o = {0};
    o.no_sync = 1;
    hunt_store *s;
    if (hunt_store_open(dir, &o, &s, NULL, 0))
        abort();
    hunt_batch *b;
    hunt_batch_new(s, &b);
    cn_buf scratch = CN_BUF_INIT;
    for (uint32_t k = 0; k < sessions; k += 10000)
        process_batch(s, b, r, k, 10000, T0, &scratch, k);
    cn_buf_free(&scratch);
    hunt_batch_free(b);
    hunt_store_close(s);
}

static double first_event_ms(const char *dir, const hunt_rules *r)
{
    uint64_t t0 = cn_mono_ns();
    hunt_store *s;
    hunt_store_opts o = {0};
    if (hunt_store_open(dir, &o, &s, NULL, 0))
        abort();
    hunt_batch *b;
    hunt_batch_new(s, &b);
    cn_buf scratch = CN_BUF_INIT;
    process_batch(s, b, r, 4242, 1, T0 + 5000, &scratch, 1000000);
    double ms = (double)(cn_mono_ns() - t0) / 1e6;
    cn_buf_free(&scratch);
    hunt_batch_free(b);
    hunt_store_close(s);
    return ms;
}

static void bench_restart(int runs)
{
    hunt_rules *r = rules();
    char *full = cn_test_tmpdir("benchhunt"), *empty = cn_test_tmpdir("benchhunt");
    fill(full, r, 100000);
    double v[MAXRUNS], ref[MAXRUNS];
    for (int run = 0; run < runs; run++) {
        v[run] = first_event_ms(full, r);
        ref[run] = first_event_ms(empty, r);
    }
    qsort(ref, (size_t)runs, sizeof(double), cmp_d);
    char extra[128];
    snprintf(extra, sizeof(extra), "\"sessions\":100000,\"reference_empty_store_ms\":%.2f",
             ref[runs / 2]);
    report("restart_to_first_event_ms", "ms", v, runs, extra);
    cn_test_rmrf(full);
    cn_test_rmrf(empty);
    free(full);
    free(empty);
    hunt_rules_free(r);
}

/* ---- a simulated day ---------------------------------------------------------------- */

static double day_bytes(const hunt_rules *r, int ttl_on, uint64_t *live_sessions,
                        uint64_t *session_bytes)
{
    enum { PLAYERS = 24000, PINGS_PER_PLAYER = 40 };
    char *dir = cn_test_tmpdir("benchhunt");
    hunt_store_opts o = {0};
    o.clock = sim_clock;
    o.no_sync = 1;
    hunt_store *s;
    sim_set(T0);
    if (hunt_store_open(dir, &o, &s, NULL, 0))
        abort();
    hunt_batch *b;
    hunt_batch_new(s, &b);
    cn_buf scratch = CN_BUF_INIT;
    /* Players arrive evenly over 24 h; each pings every 15 s for 10 min.
     * Time advances in 1-minute steps; each step is one batch. */
    const int64_t step = 60000, day = 86400000;
    int64_t off = 0;
    for (int64_t t = 0; t < day; t += step) {
        sim_set(T0 + t);
        uint32_t first = (uint32_t)((t - 600000 < 0 ? 0 : t - 600000) * PLAYERS / day);
        uint32_t last = (uint32_t)(t * PLAYERS / day);
        if (last > first)
            for (int k = 0; k < 4; k++)
                off +=
                    process_batch(s, b, r, first, last - first, T0 + t + k * 15000, &scratch, off);
        /* A 30-minute garbage horizon on ping time (a worker sets its own
         * from its committed input; here the clock stands for it). */
        if (ttl_on)
            hunt_store_set_session_horizon(s, T0 + t - 1800000);
        if (t % 3600000 == 0)
            hunt_store_compact_expired(s);
    }
    sim_set(T0 + day);
    if (ttl_on)
        hunt_store_set_session_horizon(s, T0 + day - 1800000);
    hunt_store_compact_expired(s);
    uint64_t total = 0, v;
    for (int cf = 0; cf < HUNT_CF_COUNT; cf++)
        if (hunt_store_property(s, (enum hunt_cf)cf, "rocksdb.total-sst-files-size", &v) == 0)
            total += v;
    hunt_store_property(s, HUNT_CF_SESSIONS, "rocksdb.estimate-num-keys", live_sessions);
    hunt_store_property(s, HUNT_CF_SESSIONS, "rocksdb.total-sst-files-size", session_bytes);
    cn_buf_free(&scratch);
    hunt_batch_free(b);
    hunt_store_close(s);
    cn_test_rmrf(dir);
    free(dir);
    return (double)total;
}

static void bench_ttl_day(int runs)
{
    hunt_rules *r = rules();
    double on[MAXRUNS], off[MAXRUNS];
    uint64_t keys_on = 0, keys_off = 0, sb_on = 0, sb_off = 0;
    int n = runs < 3 ? runs : 3; /* deterministic sizes: a few runs suffice */
    for (int run = 0; run < n; run++) {
        on[run] = day_bytes(r, 1, &keys_on, &sb_on);
        off[run] = day_bytes(r, 0, &keys_off, &sb_off);
    }
    char extra[300];
    qsort(off, (size_t)n, sizeof(double), cmp_d);
    snprintf(extra, sizeof(extra),
             "\"players\":24000,\"ttl_off_bytes\":%.0f,\"sessions_sst_bytes_ttl_on\":%llu,"
             "\"sessions_sst_bytes_ttl_off\":%llu,\"sessions_left_ttl_on\":%llu,\"sessions_left_"
             "ttl_off\":%llu",
             off[n / 2], (unsigned long long)sb_on, (unsigned long long)sb_off,
             (unsigned long long)keys_on, (unsigned long long)keys_off);
    report("day_sst_bytes_ttl_on", "bytes", on, n, extra);
    hunt_rules_free(r);
}

int main(int argc, char **argv)
{
    int runs = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else {
            fprintf(stderr,
                    "usage: bench_hunt [--runs N] [--only engine|store_synced|restart|ttl_day]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > MAXRUNS) {
        fprintf(stderr, "bench_hunt: --runs must be 1..%d\n", MAXRUNS);
        return 2;
    }
    if (!only || !strcmp(only, "engine"))
        bench_engine(runs);
    if (!only || !strcmp(only, "store_synced"))
        bench_store(runs);
    if (!only || !strcmp(only, "restart"))
        bench_restart(runs);
    if (!only || !strcmp(only, "ttl_day"))
        bench_ttl_day(runs);
    return 0;
}
