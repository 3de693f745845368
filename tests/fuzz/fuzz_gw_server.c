/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gw_server.c — libFuzzer target for the gateway server's input path
 * as a whole: arbitrary bytes from a real loopback client into a real
 * gw_server (request head → upgrade/auth or HTTP answer → WebSocket
 * decoder → pings → appends to a real log → acks), so the glue between
 * the fuzzed codecs is fuzzed too: partial heads and messages kept across
 * reads, close handshakes, error frames, the connection slot's reuse.
 * Input: byte 0 bit 0 prepends a valid upgrade request (to reach the
 * WebSocket states quickly); bits 1..7 pick the write size (1-128 bytes,
 * the loop runs between writes); the rest is the client's byte stream.
 * Checks after every input: the connection is gone once the client
 * closes, no bytes stay held by connections, nothing is left in flight,
 * and never more pings were acked than accepted.
 * The server, its log (a scratch directory, durability none) and the loop
 * are made once per process.
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
#include "gw_server.h"
#include "gw_server_int.h"
#include "lg.h"

static struct event_base *fz_base;
static gw_server *fz_srv;

static void fz_init(void)
{
    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN); /* the server may close before we finish writing */
    cn_log_set_level(CN_LOG_OFF);
    char *dir = cn_test_tmpdir("fuzz-gw-server");
    lg_opts lo;
    lg_opts_init(&lo);
    lo.dir = dir;
    lo.durability = LG_DUR_NONE; /* speed: durability is not what is fuzzed */
    lg_log *log;
    lg_topic_config tc = {2, 0, 0, 0};
    gw_sink *sink;
    gw_server_opts o;
    gw_server_opts_init(&o);
    o.listen = "127.0.0.1:0";
    o.max_conns = 4;
    o.node = "fuzz";
    o.max_msg_bytes = 4096;
    fz_base = event_base_new();
    if (!fz_base || lg_open(&log, &lo) || lg_topic_create(log, "ble-raw", &tc) ||
        gw_sink_log_new(&sink, fz_base, log, "ble-raw") ||
        gw_server_new(&fz_srv, fz_base, sink, &o))
        abort();
}

static void fz_pump(int rounds)
{
    for (int i = 0; i < rounds; i++)
        event_base_loop(fz_base, EVLOOP_NONBLOCK);
}

static void fz_drain_client(int fd)
{
    char buf[4096];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
}

static const char fz_hs[] =
    "GET /ws?player=fz-1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

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
        fz_drain_client(fd);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_srv)
        fz_init();
    if (size < 1 || size > 16384)
        return 0;
    int fd = cn_test_loopback_connect(gw_server_port(fz_srv));
    if (fd < 0)
        abort();
    fcntl(fd, F_SETFL, O_NONBLOCK);
    size_t chunk = (size_t)(data[0] >> 1) + 1;
    if (data[0] & 1)
        fz_write(fd, (const uint8_t *)fz_hs, sizeof(fz_hs) - 1, sizeof(fz_hs));
    fz_write(fd, data + 1, size - 1, chunk);
    /* let appends complete and acks go out, then hang up */
    uint64_t end = cn_mono_ns() + 2000000000u;
    do {
        fz_pump(2);
        fz_drain_client(fd);
    } while (fz_srv->tickets_out && cn_mono_ns() < end);
    close(fd);
    end = cn_mono_ns() + 5000000000u;
    while ((fz_srv->nopen || fz_srv->tickets_out) && cn_mono_ns() < end) {
        fz_pump(1);
        usleep(100);
    }
    if (fz_srv->nopen || fz_srv->tickets_out || fz_srv->inflight_pings || fz_srv->m.buffer_bytes) {
        fprintf(stderr,
                "fuzz_gw_server: left behind: %u connections, %u appends, %llu pings, %llu bytes\n",
                fz_srv->nopen, fz_srv->tickets_out, (unsigned long long)fz_srv->inflight_pings,
                (unsigned long long)fz_srv->m.buffer_bytes);
        abort();
    } /* a connection, an append or held bytes outlived the client */
    if (fz_srv->m.pings_acked > fz_srv->m.pings_in)
        abort();
    return 0;
}
