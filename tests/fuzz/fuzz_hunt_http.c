/* SPDX-License-Identifier: MIT */
/*
 * fuzz_hunt_http.c — libFuzzer target for the HTTP server of `cairn hunt
 * --http` as a whole: the worker's API (hunt_http: /api/leaderboard,
 * /api/players/ID, /api/beacons, /metrics, /healthz) and the dashboard
 * mounted on the same evhttp (dash_http: its assets, /api/stats and the
 * /api/events stream), as `cairn hunt` builds them: a real worker over a
 * real log and RocksDB store (the sample hunt), arbitrary bytes from a
 * real loopback client.  Request heads split across reads, pipelined
 * requests, bodies, methods, percent-encoding and query strings reach the
 * routing and the handlers through libevent's parser.
 * Input: byte 0 bits 0..6 pick the write size (1-128 bytes; the loop runs
 * between writes); bit 7 makes the client half-close after writing instead
 * of waiting for answers; the rest is the client's byte stream.
 * Checks after every input: once the client is gone no dashboard event
 * stream is left open, and the server still answers a plain GET /healthz
 * with 200.  Everything is made once per process.  Seeds:
 * tests/fuzz/corpus/fuzz_hunt_http/.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cn_log.h"
#include "cn_testutil.h"
#include "cn_time.h"
#include "dash_http.h"
#include "dash_hunt.h"
#include "hunt_http.h"
#include "hunt_io_log.h"
#include "hunt_rules.h"
#include "hunt_store.h"
#include "hunt_worker.h"
#include "lg.h"

static struct event_base *fz_base;
static hunt_http *fz_http;
static dash_http *fz_dash;

static void fz_init(void)
{
    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN); /* the server may close before we finish writing */
    cn_log_set_level(CN_LOG_OFF);
    char *dir = cn_test_tmpdir("fuzz-hunt-http");
    char logdir[4096], state[4096], err[512];
    snprintf(logdir, sizeof(logdir), "%s/log", dir);
    snprintf(state, sizeof(state), "%s/state", dir);
    free(dir);
    lg_opts lo;
    lg_opts_init(&lo);
    lo.dir = logdir;
    lo.durability = LG_DUR_NONE;
    lg_log *log;
    lg_topic_config tc = {2, 0, 0, 0};
    hunt_rules *rules;
    hunt_store *st;
    hunt_store_opts so = {0};
    so.no_sync = 1; /* durability is not what is fuzzed */
    hunt_io *io;
    hunt_worker *w;
    hunt_worker_opts wo = {0};
    dash_hunt *dh;
    fz_base = event_base_new();
    if (!fz_base || lg_open(&log, &lo) || lg_topic_create(log, HUNT_TOPIC_IN, &tc) ||
        lg_topic_create(log, HUNT_TOPIC_OUT, &tc) ||
        hunt_rules_load_or_sample(NULL, &rules, err, sizeof(err)) ||
        hunt_store_open(state, &so, &st, err, sizeof(err)) || hunt_io_log_new(&io, log) ||
        hunt_worker_new(&w, rules, st, io, &wo, err, sizeof(err)) ||
        hunt_http_new(&fz_http, fz_base, "127.0.0.1:0", w) || dash_hunt_new(&dh, w, io) ||
        dash_http_mount(&fz_dash, fz_base, hunt_http_evhttp(fz_http), dash_hunt_snapshot, dh)) {
        fprintf(stderr, "fuzz_hunt_http: setup: %s\n", err);
        abort();
    }
}

static void fz_pump(int rounds)
{
    for (int i = 0; i < rounds; i++)
        event_base_loop(fz_base, EVLOOP_NONBLOCK);
}

/* Read what is there; 1 once the server closed. */
static int fz_drain_client(int fd, char *got, size_t cap, size_t *n)
{
    char buf[4096];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r == 0)
            return 1;
        if (r < 0)
            return errno != EAGAIN && errno != EWOULDBLOCK;
        if (got && *n < cap) {
            size_t k = (size_t)r < cap - *n ? (size_t)r : cap - *n;
            memcpy(got + *n, buf, k);
            *n += k;
        }
    }
}

static int fz_connect(void)
{
    int fd = cn_test_loopback_connect(hunt_http_port(fz_http));
    if (fd < 0)
        abort();
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void fz_write(int fd, const uint8_t *p, size_t n, size_t chunk)
{
    size_t off = 0;
    while (off < n) {
        size_t k = n - off < chunk ? n - off : chunk;
        ssize_t w = write(fd, p + off, k);
        if (w < 0 && errno != EAGAIN)
            return; /* the server closed on us: fine */
        if (w > 0)
            off += (size_t)w;
        fz_pump(2);
        if (fz_drain_client(fd, NULL, 0, NULL))
            return;
    }
}

/* The server still serves: GET /healthz answers 200. */
static void fz_check_alive(void)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    int fd = fz_connect();
    if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
        abort(); /* a fresh socket takes 60 bytes */
    char got[64];
    size_t n = 0;
    uint64_t end = cn_mono_ns() + 10000000000u;
    while (!fz_drain_client(fd, got, sizeof(got), &n) && cn_mono_ns() < end) {
        fz_pump(1);
        usleep(100);
    }
    close(fd);
    if (n < 12 || memcmp(got, "HTTP/1.1 200", 12) != 0) {
        fprintf(stderr, "fuzz_hunt_http: GET /healthz after the input: %.*s\n", (int)n, got);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_http)
        fz_init();
    if (size < 1 || size > 16384)
        return 0;
    int fd = fz_connect();
    size_t chunk = (size_t)(data[0] & 0x7f) + 1;
    fz_write(fd, data + 1, size - 1, chunk);
    if (data[0] & 0x80)
        shutdown(fd, SHUT_WR);
    for (int i = 0; i < 10; i++) {
        fz_pump(2);
        if (fz_drain_client(fd, NULL, 0, NULL))
            break;
        usleep(200);
    }
    close(fd);
    uint64_t end = cn_mono_ns() + 5000000000u;
    while (dash_http_streams(fz_dash) && cn_mono_ns() < end) {
        fz_pump(1);
        usleep(100);
    }
    if (dash_http_streams(fz_dash)) {
        fprintf(stderr, "fuzz_hunt_http: %u event streams outlived their client\n",
                dash_http_streams(fz_dash));
        abort();
    }
    fz_check_alive();
    return 0;
}
