/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kf_server.c — libFuzzer target for the Kafka server's connection
 * handling as a whole: arbitrary bytes from a real loopback client into a
 * real kf_server over a real log, so what glues the fuzzed decoders
 * together is fuzzed too: frames split across reads, several frames in
 * one read, size prefixes that lie, requests parked (Fetch waits, Produce
 * on the log's queue, OffsetCommit on the committer) when the client goes
 * away, SASL and group state on a closing connection.
 * Input: byte 0 bit 0 prepends an ApiVersions v3 and a Metadata v9 request
 * (to start from a connection that has talked); bits 1..7 pick the write
 * size (1-128 bytes; the loop runs between writes); the rest is the
 * client's byte stream (size-prefixed frames, as a client sends them).
 * Checks after every input: once the client closes, the server holds no
 * connection but one still waiting in a request it ends by its own
 * deadline (JoinGroup, long-poll Fetch).  The server, its log (a
 * scratch directory, durability none, auto-created topics) and the loop
 * are made once per process.  Seeds: tests/fuzz/corpus/fuzz_kf_server/
 * (the request streams of fuzz_kf_request's corpus behind a control byte).
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

#include "cn_buf.h"
#include "cn_log.h"
#include "cn_testutil.h"
#include "cn_time.h"
#include "kf_frame.h"
#include "kf_msgs.h"
#include "kf_server.h"
#include "kf_server_int.h"
#include "lg.h"

static struct event_base *fz_base;
static kf_server *fz_srv;
static cn_buf fz_hello = CN_BUF_INIT;

static void fz_init(void)
{
    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN); /* the server may close before we finish writing */
    cn_log_set_level(CN_LOG_OFF);
    char *dir = cn_test_tmpdir("fuzz-kf-server");
    lg_opts lo;
    lg_opts_init(&lo);
    lo.dir = dir;
    lo.durability = LG_DUR_NONE; /* speed: durability is not what is fuzzed */
    lg_log *log;
    lg_topic_config tc = {2, 0, 0, 0};
    kf_server_opts o;
    kf_server_opts_init(&o);
    o.listen = "127.0.0.1:0";
    o.auto_create = 1;
    o.default_partitions = 2;
    fz_base = event_base_new();
    if (!fz_base || lg_open(&log, &lo) || lg_topic_create(log, "t", &tc) ||
        kf_server_new(&fz_srv, fz_base, log, &o))
        abort();
    kf_ApiVersionsRequest av;
    kf_ApiVersionsRequest_init(&av);
    av.ClientSoftwareName = kf_str_c("fuzz");
    av.ClientSoftwareVersion = kf_str_c("1");
    kf_MetadataRequest md;
    kf_MetadataRequest_init(&md);
    md.Topics.n = -1; /* all */
    if (kf_request_encode(&fz_hello, 18, 3, 1, "fuzz", &av) ||
        kf_request_encode(&fz_hello, 3, 9, 2, "fuzz", &md))
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
    if (size < 1 || size > 65536)
        return 0;
    int fd = cn_test_loopback_connect(kf_server_port(fz_srv));
    if (fd < 0)
        abort();
    fcntl(fd, F_SETFL, O_NONBLOCK);
    size_t chunk = (size_t)(data[0] >> 1) + 1;
    if (data[0] & 1)
        fz_write(fd, fz_hello.data, fz_hello.len, fz_hello.len);
    fz_write(fd, data + 1, size - 1, chunk);
    /* let the answers go out (produces complete on the writer thread) */
    for (int i = 0; i < 20; i++) {
        fz_pump(2);
        fz_drain_client(fd);
        usleep(200);
    }
    close(fd);
    /* Every connection the client left must go, except one still waiting
     * in a request the server ends by its own deadline (a JoinGroup until
     * the rebalance, a long-poll Fetch until its max wait): after EOF the
     * server answers whole requests it has read, then closes. */
    uint64_t end = cn_mono_ns() + 5000000000u;
    size_t held = 0;
    for (;;) {
        fz_pump(1);
        held = 0;
        for (kf_conn *c = fz_srv->conns; c; c = c->next)
            held += !(c->busy && c->eof);
        if (!held || cn_mono_ns() >= end)
            break;
        usleep(100);
    }
    if (held) {
        fprintf(stderr, "fuzz_kf_server: %zu idle connections outlived their client\n", held);
        abort();
    }
    return 0;
}
