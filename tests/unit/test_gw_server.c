/* SPDX-License-Identifier: MIT */
/*
 * test_gw_server.c — the gateway server in process, over real loopback
 * sockets, with a real log whose fdatasync the test can hold back (an
 * lg_vfs wrapping the POSIX one), so durability is under the test's
 * control:
 *   - a ping is acked only after the log's fdatasync returned (held: no
 *     ack; released: the ack);
 *   - a completion for a connection that closed, whose slot was reused by
 *     a new connection (table of 1), is not delivered to the newcomer
 *     (generation check);
 *   - backpressure: at --max-inflight the connection is parked, after
 *     --stall-close it gets 1013 and never an ack; a failed append (fdatasync
 *     EIO) closes with 1013 and acks nothing, also when two frames of one
 *     connection were in the failed append (the 1013 is not lost);
 *   - allocation failure at every allocation of setup + handshake + ping
 *     (fail once): no crash, no leak, and never an ack without the ping
 *     in the log;
 *   - the per-address table against a reference count under random
 *     add/delete (backward-shift deletion), keyed per table, IPv6 counted
 *     per /64, and the partition hash;
 *   - output coalescing: a message of refused pings gets one error frame
 *     (one write), acks of appends completing in one wake leave in one
 *     write, unwritten error frames count in flight (a client that does
 *     not read them is parked, then resumed);
 *   - token checks run on the verifier thread: while one hangs the loop
 *     serves other connections, the waiting handshake (and bytes behind
 *     its head) resumes when it ends, a full queue answers 503;
 *   - --max-buffer-bytes closes the connection whose buffer would pass
 *     it; --max-half-open answers 503 past that many unfinished
 *     handshakes while open players are served;
 *   - a failed log (fdatasync EIO) shows on /healthz (503) and /metrics at
 *     once, and the watcher asks the command to stop once (unless told
 *     to keep running);
 *   - player tokens: a repeated token is verified once; forged tokens
 *     cost a verification each only within the address's budget of failed
 *     checks (then 429, no verification), cached answers stay free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cn_err.h"
#include "cn_log.h"
#include "cn_testutil.h"
#include "cn_time.h"
#include "gw_server.h"
#include "gw_server_int.h"
#include "lg.h"

/* ---- a log whose fdatasync waits for the test ---------------------------- */

typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    int syncs; /* fdatasync calls completed */
    lg_vfs vfs;
} gate;

static int gate_fail_sync; /* fdatasync fails with EIO (for the append-failure test) */

static int gate_fdatasync(void *ud, int fd)
{
    gate *g = ud;
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    const lg_vfs *p = lg_vfs_posix();
    if (gate_fail_sync) {
        errno = EIO;
        return -1;
    }
    int rc = p->fdatasync(p->ud, fd);
    pthread_mutex_lock(&g->mu);
    g->syncs++;
    pthread_mutex_unlock(&g->mu);
    return rc;
}

#define GATE_FWD(name, ret, params, args)                                                          \
    static ret gate_##name params                                                                  \
    {                                                                                              \
        (void)ud;                                                                                  \
        const lg_vfs *p = lg_vfs_posix();                                                          \
        return p->name args;                                                                       \
    }
GATE_FWD(open, int, (void *ud, const char *path, int flags, mode_t mode),
         (p->ud, path, flags, mode))
GATE_FWD(close, int, (void *ud, int fd), (p->ud, fd))
GATE_FWD(pwrite, ssize_t, (void *ud, int fd, const void *b, size_t n, off_t o),
         (p->ud, fd, b, n, o))
GATE_FWD(pread, ssize_t, (void *ud, int fd, void *b, size_t n, off_t o), (p->ud, fd, b, n, o))
GATE_FWD(ftruncate, int, (void *ud, int fd, off_t len), (p->ud, fd, len))
GATE_FWD(unlink, int, (void *ud, const char *path), (p->ud, path))
GATE_FWD(rename, int, (void *ud, const char *a, const char *b), (p->ud, a, b))

static void gate_set(gate *g, int open)
{
    pthread_mutex_lock(&g->mu);
    g->open = open;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* ---- a sink whose appends complete when the test says ----------------------- */

typedef struct held_sink {
    gw_sink base;
    void *tickets[64];
    int n;
} held_sink;

static int held_append(gw_sink *s, int32_t partition, const gw_rec *recs, size_t n, int64_t ts_ms,
                       void *ticket)
{
    held_sink *h = (held_sink *)s;
    (void)partition;
    (void)recs;
    (void)n;
    (void)ts_ms;
    if (h->n == 64)
        return CN_EOVERLOAD;
    h->tickets[h->n++] = ticket;
    return 0;
}

/* Complete every held append now, in one go (as one loop wake would). */
static void held_complete(gw_sink *s, int err)
{
    held_sink *h = (held_sink *)s;
    int n = h->n;
    h->n = 0;
    for (int i = 0; i < n; i++)
        h->base.done(h->base.done_ud, h->tickets[i], err);
}

static void held_destroy(gw_sink *s)
{
    held_complete(s, CN_EIO);
    free(s);
}

static const gw_sink_ops held_ops = {held_append, held_destroy};

/* ---- fixture ------------------------------------------------------------------ */

typedef struct fx {
    char *dir;
    gate g;
    lg_log *log;
    struct event_base *base;
    gw_sink *sink;
    gw_server *srv;
} fx;

static int fx_open_opts(fx *f, uint32_t max_conns, uint32_t max_inflight, int64_t stall_ms);

/* Options a test sets beyond fx_open_opts's (NULL: none). */
static void (*fx_tweak)(gw_server_opts *o);
/* The server appends into a held_sink instead of the log. */
static int fx_held;

static int fx_open(fx *f, uint32_t max_conns)
{
    return fx_open_opts(f, max_conns, 100000, 10000);
}

static int fx_open_opts(fx *f, uint32_t max_conns, uint32_t max_inflight, int64_t stall_ms)
{
    memset(f, 0, sizeof(*f));
    f->dir = cn_test_tmpdir("gwsrv");
    pthread_mutex_init(&f->g.mu, NULL);
    pthread_cond_init(&f->g.cv, NULL);
    f->g.open = 1;
    f->g.vfs = (lg_vfs){gate_open,      gate_close,  gate_pwrite, gate_pread, gate_fdatasync,
                        gate_ftruncate, gate_unlink, gate_rename, &f->g};
    lg_opts lo;
    lg_opts_init(&lo);
    lo.dir = f->dir;
    lo.vfs = &f->g.vfs;
    int rc = lg_open(&f->log, &lo);
    if (rc)
        return rc;
    lg_topic_config tc = {2, 0, 0, 0};
    if ((rc = lg_topic_create(f->log, "ble-raw", &tc)))
        return rc;
    f->base = event_base_new();
    if (!f->base)
        return CN_ENOMEM;
    if (fx_held) {
        held_sink *h = calloc(1, sizeof(*h));
        h->base.ops = &held_ops;
        h->base.partitions = 2;
        h->base.kind = "held";
        f->sink = &h->base;
    } else if ((rc = gw_sink_log_new(&f->sink, f->base, f->log, "ble-raw"))) {
        return rc;
    }
    gw_server_opts o;
    gw_server_opts_init(&o);
    o.listen = "127.0.0.1:0";
    o.max_conns = max_conns;
    o.max_inflight = max_inflight;
    o.stall_close_ms = stall_ms;
    o.node = "unit";
    if (fx_tweak)
        fx_tweak(&o);
    return gw_server_new(&f->srv, f->base, f->sink, &o);
}

static void fx_close(fx *f)
{
    gate_set(&f->g, 1);
    gw_sink_free(f->sink);
    gw_server_free(f->srv);
    if (f->base)
        event_base_free(f->base);
    lg_close(f->log);
    pthread_mutex_destroy(&f->g.mu);
    pthread_cond_destroy(&f->g.cv);
    if (f->dir) {
        cn_test_rmrf(f->dir);
        free(f->dir);
    }
}

static void pump(fx *f, int ms)
{
    uint64_t end = cn_mono_ns() + (uint64_t)ms * 1000000u;
    while (cn_mono_ns() < end) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        usleep(500);
    }
}

static int client_connect(fx *f)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)gw_server_port(f->srv));
    a.sin_addr.s_addr = htonl(0x7f000001u);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static const char hs[] =
    "GET /ws?player=p-1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/* Read what is there into buf (appending); -1 on EOF/reset. */
static int client_read(int fd, char *buf, size_t cap, size_t *len)
{
    for (;;) {
        ssize_t r = read(fd, buf + *len, cap - 1 - *len);
        if (r > 0) {
            *len += (size_t)r;
            buf[*len] = 0;
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return -1;
    }
}

/* Pump the loop until needle shows up in what fd received (or ms pass). */
static int wait_for(fx *f, int fd, char *buf, size_t cap, size_t *len, const char *needle, int ms)
{
    uint64_t end = cn_mono_ns() + (uint64_t)ms * 1000000u;
    while (cn_mono_ns() < end) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        if (client_read(fd, buf, cap, len) < 0)
            return memmem(buf, *len, needle, strlen(needle)) != NULL;
        if (memmem(buf, *len, needle, strlen(needle)))
            return 1;
        usleep(500);
    }
    return 0;
}

static void send_ping(int fd, const char *id)
{
    char p[200];
    int n = snprintf(p, sizeof(p), "{\"id\":\"%s\",\"beacon\":\"b-1\",\"rssi\":-60,\"ts\":%lld}",
                     id, (long long)cn_now_ms());
    unsigned char fr[256];
    const uint8_t mask[4] = {1, 2, 3, 4};
    fr[0] = 0x81;
    fr[1] = (unsigned char)(0x80 | n);
    memcpy(fr + 2, mask, 4);
    for (int i = 0; i < n; i++)
        fr[6 + i] = (unsigned char)p[i] ^ mask[i % 4];
    assert_int_equal(write(fd, fr, (size_t)(6 + n)), 6 + n);
}

/* ---- tests -------------------------------------------------------------------- */

static void test_ack_only_after_fdatasync(void **st)
{
    (void)st;
    fx f;
    assert_int_equal(fx_open(&f, 16), 0);
    int fd = client_connect(&f);
    char buf[4096];
    size_t len = 0;
    assert_int_equal(write(fd, hs, sizeof(hs) - 1), (ssize_t)(sizeof(hs) - 1));
    assert_true(wait_for(&f, fd, buf, sizeof(buf), &len, "\r\n\r\n", 5000));
    assert_non_null(strstr(buf, "101 Switching Protocols"));
    /* The accepted socket inherited the listener's small buffers and
     * TCP_NODELAY (set once on the listener, not per connection). */
    int sfd = -1, v = 0;
    for (uint32_t i = 0; i < f.srv->nconns; i++)
        if (f.srv->conns[i].state == GW_ST_OPEN)
            sfd = f.srv->conns[i].fd;
    socklen_t vl = sizeof(v);
    assert_int_equal(getsockopt(sfd, SOL_SOCKET, SO_RCVBUF, &v, &vl), 0);
    assert_true(v <= 4 * 4096); /* Linux reports twice what was set */
    assert_int_equal(getsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &v, &vl), 0);
    assert_true(v <= 4 * 4096);
    assert_int_equal(getsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &v, &vl), 0);
    assert_int_equal(v, 1);
    gate_set(&f.g, 0); /* the disk "hangs" */
    send_ping(fd, "held-1");
    assert_false(wait_for(&f, fd, buf, sizeof(buf), &len, "held-1", 400));
    assert_int_equal(f.srv->m.pings_acked, 0);
    assert_int_equal(f.srv->inflight_pings, 1);
    gate_set(&f.g, 1);
    assert_true(wait_for(&f, fd, buf, sizeof(buf), &len, "{\"ack\":[\"held-1\"]}", 5000));
    assert_true(f.g.syncs >= 1);
    assert_int_equal(f.srv->inflight_pings, 0);
    close(fd);
    fx_close(&f);
}

static void test_stale_completion_not_delivered(void **st)
{
    (void)st;
    fx f;
    assert_int_equal(fx_open(&f, 1), 0); /* one slot: B must reuse A's */
    char buf[4096];
    size_t len = 0;
    int a = client_connect(&f);
    assert_int_equal(write(a, hs, sizeof(hs) - 1), (ssize_t)(sizeof(hs) - 1));
    assert_true(wait_for(&f, a, buf, sizeof(buf), &len, "\r\n\r\n", 5000));
    uint32_t gen_a = f.srv->conns[0].gen;
    gate_set(&f.g, 0);
    send_ping(a, "from-a");
    pump(&f, 100);
    assert_int_equal(f.srv->tickets_out, 1);
    struct linger l = {1, 0};
    setsockopt(a, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(a); /* RST while its ping waits for the disk */
    pump(&f, 200);
    assert_int_equal(f.srv->nopen, 0);
    int b = client_connect(&f);
    len = 0;
    assert_int_equal(write(b, hs, sizeof(hs) - 1), (ssize_t)(sizeof(hs) - 1));
    assert_true(wait_for(&f, b, buf, sizeof(buf), &len, "\r\n\r\n", 5000));
    assert_int_not_equal(f.srv->conns[0].gen, gen_a); /* same slot, new generation */
    size_t after_head = len;
    gate_set(&f.g, 1);
    uint64_t end = cn_mono_ns() + 3000000000u;
    while (f.srv->tickets_out && cn_mono_ns() < end)
        pump(&f, 5);
    assert_int_equal(f.srv->tickets_out, 0);
    pump(&f, 100);
    client_read(b, buf, sizeof(buf), &len);
    assert_int_equal(len, after_head); /* nothing for B */
    assert_int_equal(f.srv->m.pings_acked, 0);
    assert_int_equal(f.srv->conns[0].inflight, 0);
    close(b);
    fx_close(&f);
}

/* The close frame's code in what a client received after the 101, or -1. */
static int close_code_in(const char *buf, size_t len)
{
    const char *p = memmem(buf, len, "\r\n\r\n", 4);
    if (!p)
        return -1;
    const unsigned char *u = (const unsigned char *)p + 4, *end = (const unsigned char *)buf + len;
    while (end - u >= 2) {
        size_t n = u[1] & 0x7f;
        if ((size_t)(end - u) < 2 + n)
            return -1;
        if ((u[0] & 0x0f) == 8 && n >= 2)
            return u[2] << 8 | u[3];
        u += 2 + n;
    }
    return -1;
}

/* Backpressure: with the disk held, the process stops reading at
 * --max-inflight; a connection held back past --stall-close gets 1013,
 * and no ack is ever sent for the pings that never became durable. */
static void test_stall_close_1013(void **st)
{
    (void)st;
    fx f;
    assert_int_equal(fx_open_opts(&f, 4, 3, 300), 0);
    int fd = client_connect(&f);
    char buf[8192];
    size_t len = 0;
    assert_int_equal(write(fd, hs, sizeof(hs) - 1), (ssize_t)(sizeof(hs) - 1));
    assert_true(wait_for(&f, fd, buf, sizeof(buf), &len, "\r\n\r\n", 5000));
    gate_set(&f.g, 0);
    char id[16];
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof(id), "s-%d", i);
        send_ping(fd, id);
        pump(&f, 30);
    }
    assert_int_equal(f.srv->inflight_pings, 3);
    send_ping(fd, "s-over"); /* not read: the process is at --max-inflight */
    pump(&f, 100);
    assert_int_equal(f.srv->nparked, 1);
    assert_int_equal(f.srv->inflight_pings, 3);
    assert_true(wait_for(&f, fd, buf, sizeof(buf), &len, "retry later", 3000));
    assert_int_equal(close_code_in(buf, len), 1013);
    assert_null(memmem(buf, len, "ack", 3));
    gate_set(&f.g, 1);
    uint64_t end = cn_mono_ns() + 3000000000u;
    while (f.srv->tickets_out && cn_mono_ns() < end)
        pump(&f, 5);
    client_read(fd, buf, sizeof(buf), &len);
    assert_null(memmem(buf, len, "ack", 3)); /* closing: nothing follows the close frame */
    assert_int_equal(f.srv->m.pings_acked, 0);
    close(fd); /* the gateway lingers for our EOF, then counts the disconnect */
    pump(&f, 100);
    assert_int_equal(f.srv->m.disc[GW_DISC_OVERLOAD], 1);
    assert_int_equal(f.srv->nopen, 0);
    fx_close(&f);
}

/* A failed append (fdatasync EIO → the log goes sticky-failed) is never
 * acked: the connection gets 1013 and the failure is counted. */
static void test_append_failure_1013(void **st)
{
    (void)st;
    fx f;
    assert_int_equal(fx_open(&f, 4), 0);
    int fd = client_connect(&f);
    char buf[8192];
    size_t len = 0;
    assert_int_equal(write(fd, hs, sizeof(hs) - 1), (ssize_t)(sizeof(hs) - 1));
    assert_true(wait_for(&f, fd, buf, sizeof(buf), &len, "\r\n\r\n", 5000));
    gate_fail_sync = 1;
    send_ping(fd, "doomed-1");
    assert_true(wait_for(&f, fd, buf, sizeof(buf), &len, "log unavailable", 5000));
    gate_fail_sync = 0;
    assert_int_equal(close_code_in(buf, len), 1013);
    assert_null(memmem(buf, len, "doomed-1", 8));
    assert_int_equal(f.srv->m.pings_acked, 0);
    assert_int_equal(f.srv->m.append_failed, 1);
    close(fd);
    fx_close(&f);
}

/* Two frames of one connection in one failed append: the first failure
 * sends 1013 and the connection lingers for the peer's close; the second
 * must not abort it (an abort would close at once and could reset the
 * connection before the 1013 is read). */
static void test_failed_append_two_frames_keeps_1013(void **st)
{
    (void)st;
    fx f;
    assert_int_equal(fx_open(&f, 4), 0);
    int fd = client_connect(&f);
    char buf[8192];
    size_t len = 0;
    assert_int_equal(write(fd, hs, sizeof(hs) - 1), (ssize_t)(sizeof(hs) - 1));
    assert_true(wait_for(&f, fd, buf, sizeof(buf), &len, "\r\n\r\n", 5000));
    gate_set(&f.g, 0); /* hold the sync so both frames join one append */
    gate_fail_sync = 1;
    send_ping(fd, "twin-1");
    send_ping(fd, "twin-2");
    pump(&f, 200);
    uint32_t slot = GW_NONE;
    for (uint32_t i = 0; i < f.srv->nconns; i++)
        if (f.srv->conns[i].state == GW_ST_OPEN)
            slot = i;
    assert_true(slot != GW_NONE);
    assert_int_equal(f.srv->conns[slot].inflight, 2);
    gate_set(&f.g, 1);
    assert_true(wait_for(&f, fd, buf, sizeof(buf), &len, "log unavailable", 5000));
    gate_fail_sync = 0;
    assert_int_equal(close_code_in(buf, len), 1013);
    /* Still lingering for our EOF, not aborted by the second frame. */
    assert_int_equal(f.srv->conns[slot].state, GW_ST_CLOSING);
    assert_int_equal(f.srv->m.disc[GW_DISC_APPEND_FAILED], 0);
    assert_int_equal(f.srv->m.pings_acked, 0);
    close(fd);
    pump(&f, 100);
    assert_int_equal(f.srv->conns[slot].state, GW_ST_FREE);
    assert_int_equal(f.srv->m.disc[GW_DISC_APPEND_FAILED], 1);
    fx_close(&f);
}

static int drained_flag;
static void on_drained(void *ud)
{
    (void)ud;
    drained_flag = 1;
}

/* During a drain the port still answers: /healthz 503 "draining" and /ws
 * 503, while an open connection waits for its ack; the drain then ends. */
static void test_healthz_503_during_drain(void **st)
{
    (void)st;
    fx f;
    assert_int_equal(fx_open(&f, 8), 0);
    int fd = client_connect(&f);
    char buf[8192];
    size_t len = 0;
    assert_int_equal(write(fd, hs, sizeof(hs) - 1), (ssize_t)(sizeof(hs) - 1));
    assert_true(wait_for(&f, fd, buf, sizeof(buf), &len, "\r\n\r\n", 5000));
    gate_set(&f.g, 0); /* the ping's append stays in flight: the drain cannot end */
    send_ping(fd, "drain-1");
    pump(&f, 100);
    drained_flag = 0;
    gw_server_drain(f.srv, on_drained, NULL);
    pump(&f, 20);
    assert_false(drained_flag);
    static const char hz[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    int h = client_connect(&f);
    char hb[4096];
    size_t hl = 0;
    assert_int_equal(write(h, hz, sizeof(hz) - 1), (ssize_t)(sizeof(hz) - 1));
    assert_true(wait_for(&f, h, hb, sizeof(hb), &hl, "draining", 10000));
    assert_non_null(strstr(hb, "HTTP/1.1 503"));
    close(h);
    int w = client_connect(&f);
    hl = 0;
    assert_int_equal(write(w, hs, sizeof(hs) - 1), (ssize_t)(sizeof(hs) - 1));
    assert_true(wait_for(&f, w, hb, sizeof(hb), &hl, "\r\n\r\n", 10000));
    assert_non_null(strstr(hb, "HTTP/1.1 503"));
    close(w);
    gate_set(&f.g, 1);
    assert_true(wait_for(&f, fd, buf, sizeof(buf), &len, "{\"ack\":[\"drain-1\"]}", 10000));
    close(fd);
    for (int i = 0; i < 200 && !drained_flag; i++)
        pump(&f, 50);
    assert_true(drained_flag);
    fx_close(&f);
}

/* Is the client ping id in the log (any partition)? */
static int log_has(lg_log *log, const char *id)
{
    for (int32_t p = 0; p < 2; p++) {
        lg_iter *it;
        if (lg_iter_open(&it, log, "ble-raw", p, 0))
            continue;
        lg_record rec;
        while (lg_iter_next(it, &rec) == 0)
            if (rec.value && memmem(rec.value, rec.value_len, id, strlen(id))) {
                lg_iter_close(it);
                return 1;
            }
        lg_iter_close(it);
    }
    return 0;
}

static void test_alloc_failures(void **st)
{
    (void)st;
    int completed = 0;
    long last_n = 0;
    for (long n = 1; n < 5000 && !completed; n++) {
        last_n = n - 1;
        cn_test_alloc_fail_at(n, 0);
        fx f;
        int rc = fx_open(&f, 4);
        int acked = 0;
        if (!rc) {
            int fd = client_connect(&f);
            char buf[4096];
            size_t len = 0;
            if (write(fd, hs, sizeof(hs) - 1) == (ssize_t)(sizeof(hs) - 1) &&
                wait_for(&f, fd, buf, sizeof(buf), &len, "\r\n\r\n", 2000) &&
                strstr(buf, " 101 ")) {
                send_ping(fd, "oom-1");
                acked = wait_for(&f, fd, buf, sizeof(buf), &len, "{\"ack\":[\"oom-1\"]}", 2000);
            }
            close(fd);
            pump(&f, 20);
            /* Never an ack without the ping stored.  Looked up twice: the
             * one failing allocation may hit the lookup itself. */
            if (acked && !log_has(f.log, "oom-1") && !log_has(f.log, "oom-1"))
                fail_msg("allocation %ld failing: acked but not in the log", n);
        }
        long made = cn_test_alloc_count();
        fx_close(&f);
        assert_int_equal(cn_test_alloc_live(), 0);
        cn_test_alloc_reset();
        if (made < n) /* the failure point was never reached: every path covered */
            completed = acked || rc == 0;
    }
    assert_true(completed);
    print_message("allocation failure injected at each of %ld allocations\n", last_n);
}

static void test_iptab(void **st)
{
    (void)st;
    gw_iptab t;
    assert_int_equal(gw__iptab_init(&t, 64), 0);
    enum { NA = 40 };
    unsigned char addr[NA][16];
    int ref[NA] = {0};
    for (int i = 0; i < NA; i++) {
        memset(addr[i], 0, 16);
        addr[i][15] = (unsigned char)i;
        addr[i][14] = (unsigned char)(i * 37);
    }
    srand(7);
    int live = 0;
    for (int step = 0; step < 20000; step++) {
        int i = rand() % NA;
        if (rand() % 2 && live < 64) {
            int rc = gw__iptab_add(&t, addr[i], 3);
            if (ref[i] < 3) {
                assert_int_equal(rc, 0);
                ref[i]++;
                live++;
            } else {
                assert_int_equal(rc, GW_ELIMIT);
            }
        } else if (ref[i]) {
            gw__iptab_del(&t, addr[i]);
            ref[i]--;
            live--;
        }
        /* every address's count is findable after deletions moved entries */
        int k = rand() % NA;
        uint32_t found = 0;
        for (uint32_t j = 0; j <= t.mask; j++)
            if (t.ents[j].count && memcmp(t.ents[j].addr, addr[k], 16) == 0)
                found = t.ents[j].count;
        assert_int_equal(found, ref[k]);
    }
    gw__iptab_free(&t);
}

/* ---- player tokens: cache and the per-address budget of failed checks ---- */

static unsigned char t_pk[AUTH_TOKEN_PK_LEN], t_sk[AUTH_TOKEN_SK_LEN];

static void tweak_auth(gw_server_opts *o)
{
    o->has_auth_key = 1;
    memcpy(o->auth_pk, t_pk, sizeof(t_pk));
    o->auth_fail_burst = 3;
    o->auth_fail_rate = 0.001; /* one credit back per 1000 s: none during the test */
}

static void mint_token(const char *player, int forge, char *tok)
{
    auth_token_claims c;
    memset(&c, 0, sizeof(c));
    snprintf(c.player, sizeof(c.player), "%s", player);
    c.issued_ms = cn_now_ms() - 1000;
    c.expires_ms = cn_now_ms() + 3600000;
    assert_int_equal(auth_token_issue(t_sk, &c, tok, AUTH_TOKEN_MAX_LEN), 0);
    if (forge) { /* a signature byte: still well-formed, signature fails */
        size_t n = strlen(tok);
        tok[n - 3] = tok[n - 3] == 'A' ? 'B' : 'A';
    }
}

/* One upgrade attempt with ?token=tok: the HTTP status answered. */
static int upgrade_status(fx *f, const char *tok)
{
    char req[1024], buf[4096];
    size_t len = 0;
    int n = snprintf(req, sizeof(req),
                     "GET /ws?token=%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     tok);
    int fd = client_connect(f);
    assert_int_equal(write(fd, req, (size_t)n), n);
    assert_true(wait_for(f, fd, buf, sizeof(buf), &len, "\r\n\r\n", 10000));
    close(fd);
    pump(f, 5);
    int status = 0;
    assert_int_equal(sscanf(buf, "HTTP/1.1 %d", &status), 1);
    return status;
}

/* A good token is verified once and then served from the cache; forged
 * tokens cost a verification each until the address has spent its budget
 * of failed checks, then get 429 with no verification; a refusal already
 * in the cache still answers 401 at no cost; the cached good token still
 * upgrades from the throttled address. */
static void test_token_cache_and_failure_budget(void **st)
{
    (void)st;
    assert_int_equal(auth_token_keygen(t_pk, t_sk), 0);
    fx_tweak = tweak_auth;
    fx f;
    int rc = fx_open(&f, 16);
    fx_tweak = NULL;
    assert_int_equal(rc, 0);
    char good[AUTH_TOKEN_MAX_LEN], bad[4][AUTH_TOKEN_MAX_LEN];
    mint_token("p-good", 0, good);
    uint64_t hits, checks;
    for (int i = 0; i < 3; i++)
        assert_int_equal(upgrade_status(&f, good), 101);
    auth_token_cache_stats(f.srv->tokens, &hits, &checks);
    assert_int_equal(checks, 1);
    assert_int_equal(hits, 2);
    for (int i = 0; i < 4; i++) {
        char p[16];
        snprintf(p, sizeof(p), "p-bad-%d", i);
        mint_token(p, 1, bad[i]);
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(upgrade_status(&f, bad[i]), 401);
    auth_token_cache_stats(f.srv->tokens, &hits, &checks);
    assert_int_equal(checks, 4);
    /* Out of credit: a new forged token is not verified. */
    assert_int_equal(upgrade_status(&f, bad[3]), 429);
    assert_int_equal(upgrade_status(&f, bad[3]), 429);
    auth_token_cache_stats(f.srv->tokens, &hits, &checks);
    assert_int_equal(checks, 4);
    assert_int_equal(f.srv->m.refused_auth_budget, 2);
    /* Known answers cost nothing and are still given. */
    assert_int_equal(upgrade_status(&f, bad[0]), 401);
    assert_int_equal(upgrade_status(&f, good), 101);
    auth_token_cache_stats(f.srv->tokens, &hits, &checks);
    assert_int_equal(checks, 4);
    cn_buf out = {0};
    assert_int_equal(gw__metrics_render(f.srv, &out), 0);
    assert_non_null(memmem(out.data, out.len,
                           "cairn_gateway_refused_total{limit=\"auth_failures_per_ip\"} 2", 58));
    assert_non_null(memmem(out.data, out.len, "cairn_gateway_token_verifications_total 4", 41));
    cn_buf_free(&out);
    fx_close(&f);
}

static void test_failtab_budget(void **st)
{
    (void)st;
    gw_failtab t;
    assert_int_equal(gw__failtab_init(&t, 1.0, 3), 0);
    unsigned char a[16] = {0x20, 0x01, 0x0d, 0xb8}, b[16] = {0x20, 0x01, 0x0d, 0xb9};
    for (int i = 0; i < 3; i++) {
        assert_true(gw__failtab_allow(&t, a, 1000));
        gw__failtab_charge(&t, a, 1000);
    }
    assert_false(gw__failtab_allow(&t, a, 1000));
    assert_false(gw__failtab_allow(&t, a, 1999));
    assert_true(gw__failtab_allow(&t, b, 1000)); /* another address is not charged */
    assert_true(gw__failtab_allow(&t, a, 2000)); /* one per second comes back */
    gw__failtab_charge(&t, a, 2000);
    assert_false(gw__failtab_allow(&t, a, 2500));
    assert_true(gw__failtab_allow(&t, a, 100000)); /* and at most burst */
    for (int i = 0; i < 3; i++)
        gw__failtab_charge(&t, a, 100000);
    assert_false(gw__failtab_allow(&t, a, 100000));
    /* A flood of other addresses evicts the fullest entries first: the
     * exhausted address keeps its debt through 100,000 one-off addresses. */
    for (uint32_t i = 0; i < 100000; i++) {
        unsigned char x[16] = {0xfd};
        memcpy(x + 4, &i, 4);
        gw__failtab_charge(&t, x, 100000);
    }
    int kept = !gw__failtab_allow(&t, a, 100000);
    gw__failtab_free(&t);
    /* Eviction is by credit within a window of 4: a one-off address has
     * burst-1 credit, more than the exhausted one, so it is evicted first. */
    assert_true(kept);
}

static void test_addr_key_ipv6_prefix(void **st)
{
    (void)st;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    unsigned char k1[16], k2[16], k3[16];
    inet_pton(AF_INET6, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", &s6->sin6_addr);
    gw__addr_key(&ss, k1);
    inet_pton(AF_INET6, "2001:db8:1:2::1", &s6->sin6_addr);
    gw__addr_key(&ss, k2);
    inet_pton(AF_INET6, "2001:db8:1:3::1", &s6->sin6_addr);
    gw__addr_key(&ss, k3);
    assert_memory_equal(k1, k2, 16);     /* one /64, one key */
    assert_memory_not_equal(k1, k3, 16); /* the next /64 is another subscriber */
    /* IPv4, directly or mapped on a dual-stack socket: the whole address. */
    inet_pton(AF_INET6, "::ffff:192.0.2.1", &s6->sin6_addr);
    gw__addr_key(&ss, k1);
    inet_pton(AF_INET6, "::ffff:192.0.2.2", &s6->sin6_addr);
    gw__addr_key(&ss, k2);
    assert_memory_not_equal(k1, k2, 16);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    memset(&ss, 0, sizeof(ss));
    s4->sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.2", &s4->sin_addr);
    gw__addr_key(&ss, k3);
    assert_memory_equal(k2, k3, 16);
    /* Per-/64 connection limit: two hosts of one /64 share it. */
    gw_iptab t;
    assert_int_equal(gw__iptab_init(&t, 8), 0);
    inet_pton(AF_INET6, "2001:db8:1:2::1", &s6->sin6_addr);
    memset(&ss, 0, sizeof(ss));
    s6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8:1:2::1", &s6->sin6_addr);
    gw__addr_key(&ss, k1);
    inet_pton(AF_INET6, "2001:db8:1:2::2", &s6->sin6_addr);
    gw__addr_key(&ss, k2);
    assert_int_equal(gw__iptab_add(&t, k1, 2), 0);
    assert_int_equal(gw__iptab_add(&t, k2, 2), 0);
    assert_int_equal(gw__iptab_add(&t, k2, 2), GW_ELIMIT);
    gw__iptab_free(&t);
}

/* The per-address table's hash is keyed per table: the same addresses land
 * in different slots in two tables, so nobody can precompute collisions. */
static void test_iptab_hash_keyed(void **st)
{
    (void)st;
    gw_iptab a, b;
    assert_int_equal(gw__iptab_init(&a, 64), 0);
    assert_int_equal(gw__iptab_init(&b, 64), 0);
    int same = 1;
    for (int i = 0; i < 40; i++) {
        unsigned char x[16] = {0};
        x[15] = (unsigned char)i;
        assert_int_equal(gw__iptab_add(&a, x, 0), 0);
        assert_int_equal(gw__iptab_add(&b, x, 0), 0);
    }
    for (uint32_t j = 0; j <= a.mask; j++)
        if (a.ents[j].count != b.ents[j].count ||
            (a.ents[j].count && memcmp(a.ents[j].addr, b.ents[j].addr, 16)))
            same = 0;
    assert_false(same);
    gw__iptab_free(&a);
    gw__iptab_free(&b);
}

static void test_partition_hash(void **st)
{
    (void)st;
    /* FNV-1a 32 test vectors: "a" → 0xe40c292c, "foobar" → 0xbf9cf968. */
    assert_int_equal(gw__partition_of("a", 1000000007), 0xe40c292cu % 1000000007u);
    assert_int_equal(gw__partition_of("foobar", 1000000007), 0xbf9cf968u % 1000000007u);
    int hits[4] = {0};
    char id[32];
    for (int i = 0; i < 4000; i++) {
        snprintf(id, sizeof(id), "player-%d", i);
        hits[gw__partition_of(id, 4)]++;
    }
    for (int p = 0; p < 4; p++)
        assert_true(hits[p] > 800 && hits[p] < 1200);
}

/* A client that reads slowly through a small receive buffer: acks pile up
 * in the connection's output and leave it a socket's worth at a time
 * (partial writes, the skipped prefix compacted now and then); every ack
 * arrives exactly once, in order, in well-formed frames. */
static void test_slow_reader_gets_every_ack_in_order(void **st)
{
    (void)st;
    enum { N = 1200 };
    fx f;
    assert_int_equal(fx_open(&f, 4), 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 2048;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)gw_server_port(f.srv));
    a.sin_addr.s_addr = htonl(0x7f000001u);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    static char buf[1 << 20];
    size_t len = 0;
    assert_int_equal(write(fd, hs, sizeof(hs) - 1), (ssize_t)(sizeof(hs) - 1));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    assert_true(wait_for(&f, fd, buf, sizeof(buf), &len, "\r\n\r\n", 5000));
    size_t head = (size_t)((char *)memmem(buf, len, "\r\n\r\n", 4) - buf) + 4;
    fcntl(fd, F_SETFL, 0);
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof(id), "s-%05d", i);
        send_ping(fd, id);
        if (i % 50 == 0)
            pump(&f, 2); /* acks pile up: nobody reads them yet */
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    pump(&f, 200);
    /* Now read, a little at a time, until every ack is there. */
    char want[16];
    snprintf(want, sizeof(want), "s-%05d", N - 1);
    for (int t = 0; t < 20000 && !memmem(buf + head, len - head, want, strlen(want)); t++) {
        event_base_loop(f.base, EVLOOP_NONBLOCK);
        ssize_t r = read(fd, buf + len, 512);
        if (r > 0)
            len += (size_t)r;
        else
            usleep(200);
    }
    /* Walk the server's frames (unmasked text) and the ids they ack. */
    size_t p = head;
    int next = 0;
    while (p + 2 <= len) {
        assert_int_equal((unsigned char)buf[p], 0x81);
        size_t plen = (unsigned char)buf[p + 1] & 0x7f, hl = 2;
        if (plen == 126) {
            plen = ((size_t)(unsigned char)buf[p + 2] << 8) | (unsigned char)buf[p + 3];
            hl = 4;
        }
        assert_true(p + hl + plen <= len);
        const char *q = buf + p + hl, *end = q + plen;
        while ((q = memmem(q, (size_t)(end - q), "\"s-", 3)) != NULL) {
            assert_int_equal(atoi(q + 3), next);
            next++;
            q += 3;
        }
        p += hl + plen;
    }
    assert_int_equal(p, len);
    assert_int_equal(next, N);
    close(fd);
    fx_close(&f);
}

/* A masked text frame with any payload (up to 64 KiB). */
static void send_text(int fd, const char *p, size_t n)
{
    static unsigned char fr[70000];
    const uint8_t mask[4] = {9, 8, 7, 6};
    size_t h = 2;
    fr[0] = 0x81;
    if (n < 126) {
        fr[1] = (unsigned char)(0x80 | n);
    } else {
        fr[1] = 0x80 | 126;
        fr[2] = (unsigned char)(n >> 8);
        fr[3] = (unsigned char)n;
        h = 4;
    }
    memcpy(fr + h, mask, 4);
    for (size_t i = 0; i < n; i++)
        fr[h + 4 + i] = (unsigned char)p[i] ^ mask[i % 4];
    size_t tot = h + 4 + n, off = 0;
    while (off < tot) {
        ssize_t w = write(fd, fr + off, tot - off);
        if (w > 0)
            off += (size_t)w;
        else
            usleep(200);
    }
}

/* Whole server frames (unmasked) in buf from off on; payload of the k-th
 * into pk and nk if asked. */
static int count_frames(const char *buf, size_t len, size_t off, int k, const char **pk, size_t *nk)
{
    int n = 0;
    while (off + 2 <= len) {
        size_t plen = (unsigned char)buf[off + 1] & 0x7f, hl = 2;
        if (plen == 126) {
            if (off + 4 > len)
                break;
            plen = ((size_t)(unsigned char)buf[off + 2] << 8) | (unsigned char)buf[off + 3];
            hl = 4;
        }
        if (off + hl + plen > len)
            break;
        if (n == k && pk) {
            *pk = buf + off + hl;
            *nk = plen;
        }
        n++;
        off += hl + plen;
    }
    return n;
}

static uint32_t open_slot(fx *f)
{
    for (uint32_t i = 0; i < f->srv->nconns; i++)
        if (f->srv->conns[i].state == GW_ST_OPEN)
            return i;
    return GW_NONE;
}

static size_t handshake(fx *f, int fd, char *buf, size_t cap, size_t *len)
{
    assert_int_equal(write(fd, hs, sizeof(hs) - 1), (ssize_t)(sizeof(hs) - 1));
    assert_true(wait_for(f, fd, buf, cap, len, "\r\n\r\n", 5000));
    assert_non_null(strstr(buf, " 101 "));
    return (size_t)((char *)memmem(buf, *len, "\r\n\r\n", 4) - buf) + 4;
}

/* A message of 20 refused pings ([{},{},...]) costs one error frame and
 * one socket write, not 20 of each; the frame lists every error in order. */
static void test_refused_pings_one_error_frame_one_write(void **st)
{
    (void)st;
    fx f;
    assert_int_equal(fx_open(&f, 4), 0);
    int fd = client_connect(&f);
    static char buf[65536];
    size_t len = 0;
    size_t head = handshake(&f, fd, buf, sizeof(buf), &len);
    uint64_t w0 = f.srv->m.sock_writes;
    char msg[128] = "[";
    for (int i = 0; i < 20; i++)
        strcat(msg, i ? ",{}" : "{}");
    strcat(msg, "]");
    send_text(fd, msg, strlen(msg));
    assert_true(wait_for(&f, fd, buf, sizeof(buf), &len, "]}", 5000));
    pump(&f, 100);
    client_read(fd, buf, sizeof(buf), &len);
    const char *pl = NULL;
    size_t pn = 0;
    assert_int_equal(count_frames(buf, len, head, 0, &pl, &pn), 1);
    assert_int_equal(f.srv->m.sock_writes - w0, 1);
    assert_int_equal(f.srv->m.error_frames, 1);
    assert_int_equal(
        f.srv->m.ping_errors[0] + f.srv->m.ping_errors[1] + f.srv->m.ping_errors[2] +
            f.srv->m.ping_errors[3] + f.srv->m.ping_errors[4] + f.srv->m.ping_errors[5] +
            f.srv->m.ping_errors[6] + f.srv->m.ping_errors[7] + f.srv->m.ping_errors[8] +
            f.srv->m.ping_errors[9] + f.srv->m.ping_errors[10] + f.srv->m.ping_errors[11] +
            f.srv->m.ping_errors[12] + f.srv->m.ping_errors[13],
        20);
    assert_true(pn > 11 && memcmp(pl, "{\"errors\":[", 11) == 0);
    int n = 0;
    for (const char *q = pl; (q = memmem(q, pn - (size_t)(q - pl), "missing_id", 10)); q++)
        n++;
    assert_int_equal(n, 20);
    /* Written: no longer in flight. */
    assert_int_equal(f.srv->conns[open_slot(&f)].inflight, 0);
    close(fd);
    fx_close(&f);
}

/* Three appends of one connection complete in one wake: their three ack
 * frames leave in one socket write, in frame order. */
static void test_acks_of_one_wake_leave_in_one_write(void **st)
{
    (void)st;
    fx f;
    fx_held = 1;
    int rc = fx_open(&f, 4);
    fx_held = 0;
    assert_int_equal(rc, 0);
    held_sink *h = (held_sink *)f.sink;
    int fd = client_connect(&f);
    static char buf[65536];
    size_t len = 0;
    size_t head = handshake(&f, fd, buf, sizeof(buf), &len);
    const char *ids[3] = {"w-1", "w-2", "w-3"};
    for (int i = 0; i < 3; i++) {
        send_ping(fd, ids[i]);
        for (int t = 0; t < 2000 && h->n < i + 1; t++)
            pump(&f, 1);
        assert_int_equal(h->n, i + 1); /* one append per wake */
    }
    uint64_t w0 = f.srv->m.sock_writes;
    held_complete(f.sink, 0);
    assert_true(wait_for(&f, fd, buf, sizeof(buf), &len, "w-3", 5000));
    pump(&f, 50);
    client_read(fd, buf, sizeof(buf), &len);
    assert_int_equal(f.srv->m.sock_writes - w0, 1);
    assert_int_equal(f.srv->m.ack_frames, 3);
    for (int i = 0; i < 3; i++) {
        const char *pl = NULL;
        size_t pn = 0;
        assert_int_equal(count_frames(buf, len, head, i, &pl, &pn), 3);
        char want[32];
        snprintf(want, sizeof(want), "{\"ack\":[\"%s\"]}", ids[i]);
        assert_int_equal(pn, strlen(want));
        assert_memory_equal(pl, want, pn);
    }
    close(fd);
    fx_close(&f);
}

/* Error frames count in flight until written: a client that sends refused
 * pings and never reads its errors is held back (parked, not read) at 64
 * unwritten error frames, like one waiting for 64 acks; once it reads,
 * it is read again and gets its acks. */
static void test_unread_error_frames_hold_the_connection_back(void **st)
{
    (void)st;
    fx f;
    assert_int_equal(fx_open(&f, 4), 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 2048;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)gw_server_port(f.srv));
    a.sin_addr.s_addr = htonl(0x7f000001u);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    static char buf[1 << 20];
    size_t len = 0;
    handshake(&f, fd, buf, sizeof(buf), &len);
    uint32_t slot = open_slot(&f);
    assert_true(slot != GW_NONE);
    gw_conn *c = &f.srv->conns[slot];
    int sent = 0;
    for (; sent < 4000 && !(c->flags & GW_CF_PARKED); sent++) {
        send_text(fd, "{}", 2);
        pump(&f, 1);
    }
    assert_true(c->flags & GW_CF_PARKED);
    assert_int_equal(c->state, GW_ST_OPEN);
    assert_true(c->inflight >= GW_CONN_MAX_INFLIGHT);
    assert_int_equal(c->errq, c->inflight);
    assert_int_equal(f.srv->m.disc[GW_DISC_SLOW_READER], 0);
    /* Read everything: the errors are written, the connection read again. */
    for (int t = 0; t < 20000 && ((c->flags & GW_CF_PARKED) || c->inflight); t++) {
        event_base_loop(f.base, EVLOOP_NONBLOCK);
        len = 0;
        client_read(fd, buf, sizeof(buf), &len);
        usleep(200);
    }
    assert_false(c->flags & GW_CF_PARKED);
    assert_int_equal(c->inflight, 0);
    len = 0;
    send_ping(fd, "after-errors");
    assert_true(wait_for(&f, fd, buf, sizeof(buf), &len, "{\"ack\":[\"after-errors\"]}", 10000));
    assert_int_equal(f.srv->m.error_frames, (uint64_t)sent);
    close(fd);
    fx_close(&f);
}

/* ---- token checks off the loop ------------------------------------------------ */

static gate vgate; /* holds the verifier thread's checks (only mu, cv, open) */
static int vchecks;

static int slow_verify(void *ud, const unsigned char pk[AUTH_TOKEN_PK_LEN], const char *tok,
                       size_t len, int64_t now_ms, auth_token_claims *out)
{
    gate *g = ud;
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    vchecks++;
    pthread_mutex_unlock(&g->mu);
    return auth_token_verify(pk, tok, len, now_ms, out);
}

static void tweak_auth_queue2(gw_server_opts *o)
{
    tweak_auth(o);
    o->auth_fail_burst = 50;
    o->max_pending_verifications = 2;
}

static int token_connect(fx *f, const char *tok)
{
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "GET /ws?token=%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     tok);
    int fd = client_connect(f);
    assert_int_equal(write(fd, req, (size_t)n), n);
    return fd;
}

/* A token not in the cache is checked on the verifier thread: while a
 * check hangs, the loop still acks another connection's pings, answers
 * /healthz and opens a handshake whose token is cached; the waiting
 * handshake is not read (a ping sent right behind its head waits too)
 * and completes when the check does, ping acked; past the queue bound a
 * handshake gets 503 at once instead of waiting. */
static void test_token_checks_do_not_block_the_loop(void **st)
{
    (void)st;
    assert_int_equal(auth_token_keygen(t_pk, t_sk), 0);
    pthread_mutex_init(&vgate.mu, NULL);
    pthread_cond_init(&vgate.cv, NULL);
    vgate.open = 1;
    vchecks = 0;
    fx_tweak = tweak_auth_queue2;
    fx f;
    int rc = fx_open(&f, 16);
    fx_tweak = NULL;
    assert_int_equal(rc, 0);
    gw__verifier_set_fn(f.srv->verifier, slow_verify, &vgate);
    char tb[AUTH_TOKEN_MAX_LEN], ta[AUTH_TOKEN_MAX_LEN], ta2[AUTH_TOKEN_MAX_LEN],
        ta3[AUTH_TOKEN_MAX_LEN];
    mint_token("p-b", 0, tb);
    mint_token("p-a", 0, ta);
    mint_token("p-a2", 0, ta2);
    mint_token("p-a3", 0, ta3);
    static char bb[8192], ab[8192], hb[4096];
    size_t bl = 0, al = 0, hl = 0;
    int b = token_connect(&f, tb);
    assert_true(wait_for(&f, b, bb, sizeof(bb), &bl, "\r\n\r\n", 10000));
    assert_non_null(strstr(bb, " 101 "));
    assert_int_equal(vchecks, 1);
    gate_set(&vgate, 0); /* every check from now on hangs */
    int a = token_connect(&f, ta);
    send_ping(a, "behind-head"); /* right behind the head: must wait with it */
    pump(&f, 200);
    client_read(a, ab, sizeof(ab), &al);
    assert_int_equal(al, 0);
    assert_int_equal(gw__verifier_pending(f.srv->verifier), 1);
    /* The loop serves others meanwhile. */
    send_ping(b, "while-checking");
    assert_true(wait_for(&f, b, bb, sizeof(bb), &bl, "{\"ack\":[\"while-checking\"]}", 10000));
    static const char hz[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    int h = client_connect(&f);
    assert_int_equal(write(h, hz, sizeof(hz) - 1), (ssize_t)(sizeof(hz) - 1));
    assert_true(wait_for(&f, h, hb, sizeof(hb), &hl, "ok", 10000));
    assert_non_null(strstr(hb, "HTTP/1.1 200"));
    close(h);
    int b2 = token_connect(&f, tb); /* cached: no check needed */
    hl = 0;
    assert_true(wait_for(&f, b2, hb, sizeof(hb), &hl, "\r\n\r\n", 10000));
    assert_non_null(strstr(hb, " 101 "));
    close(b2);
    /* The queue holds 2: a second miss waits, a third is refused at once. */
    int a2 = token_connect(&f, ta2);
    pump(&f, 50);
    assert_int_equal(gw__verifier_pending(f.srv->verifier), 2);
    int a3 = token_connect(&f, ta3);
    hl = 0;
    assert_true(wait_for(&f, a3, hb, sizeof(hb), &hl, "\r\n\r\n", 10000));
    assert_non_null(strstr(hb, "HTTP/1.1 503"));
    assert_int_equal(f.srv->m.verify_shed, 1);
    close(a3);
    client_read(a, ab, sizeof(ab), &al);
    assert_int_equal(al, 0); /* still waiting */
    gate_set(&vgate, 1);
    assert_true(wait_for(&f, a, ab, sizeof(ab), &al, "{\"ack\":[\"behind-head\"]}", 10000));
    assert_non_null(strstr(ab, " 101 "));
    hl = 0;
    assert_true(wait_for(&f, a2, hb, sizeof(hb), &hl, "\r\n\r\n", 10000));
    assert_non_null(strstr(hb, " 101 "));
    assert_int_equal(gw__verifier_pending(f.srv->verifier), 0);
    assert_int_equal(vchecks, 3);
    /* The answers are cached: reconnecting costs no check. */
    int a4 = token_connect(&f, ta);
    hl = 0;
    assert_true(wait_for(&f, a4, hb, sizeof(hb), &hl, "\r\n\r\n", 10000));
    assert_non_null(strstr(hb, " 101 "));
    assert_int_equal(vchecks, 3);
    close(a4);
    close(a2);
    close(a);
    close(b);
    fx_close(&f);
    pthread_mutex_destroy(&vgate.mu);
    pthread_cond_destroy(&vgate.cv);
}

/* ---- memory budget and half-open cap ----------------------------------------- */

static void tweak_budget(gw_server_opts *o)
{
    o->max_buffer_bytes = 100000;
}

static void tweak_half_open(gw_server_opts *o)
{
    o->max_half_open = 2;
}

/* The start of a masked text message of total bytes: its header and the
 * first `part` bytes of payload ('a's), written while the loop runs. */
static void send_partial(fx *f, int fd, size_t total, size_t part)
{
    static unsigned char fr[70000];
    const uint8_t mask[4] = {3, 1, 4, 1};
    fr[0] = 0x81;
    fr[1] = 0x80 | 126;
    fr[2] = (unsigned char)(total >> 8);
    fr[3] = (unsigned char)total;
    memcpy(fr + 4, mask, 4);
    for (size_t i = 0; i < part; i++)
        fr[8 + i] = (unsigned char)('a' ^ mask[i % 4]);
    size_t n = 8 + part, off = 0;
    for (int t = 0; t < 20000 && off < n; t++) {
        ssize_t w = write(fd, fr + off, n - off);
        if (w > 0)
            off += (size_t)w;
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        if (w <= 0)
            usleep(200);
    }
    assert_int_equal(off, n);
}

/* --max-buffer-bytes holds for all connections together: a second
 * connection gathering a large message past it is closed with 1013 while
 * the first keeps its partial message and stays open. */
static void test_buffer_budget_closes_the_connection_that_grows(void **st)
{
    (void)st;
    fx_tweak = tweak_budget;
    fx f;
    int rc = fx_open(&f, 4);
    fx_tweak = NULL;
    assert_int_equal(rc, 0);
    static char ab[8192], bb[8192];
    size_t al = 0, bl = 0;
    int a = client_connect(&f);
    handshake(&f, a, ab, sizeof(ab), &al);
    uint32_t sa = open_slot(&f);
    int b = client_connect(&f);
    handshake(&f, b, bb, sizeof(bb), &bl);
    send_partial(&f, a, 60000, 50000);
    for (int t = 0; t < 2000 && f.srv->conns[sa].in.len < 50000; t++)
        pump(&f, 1);
    assert_int_equal(f.srv->conns[sa].in.len, 50000);
    send_partial(&f, b, 60000, 50000);
    assert_true(wait_for(&f, b, bb, sizeof(bb), &bl, "overloaded", 10000));
    assert_int_equal(close_code_in(bb, bl), 1013);
    assert_true(f.srv->m.buffer_budget_refused >= 1);
    assert_true(f.srv->m.buffer_bytes <= 100000);
    assert_int_equal(f.srv->conns[sa].state, GW_ST_OPEN);
    assert_int_equal(f.srv->conns[sa].in.len, 50000);
    close(a);
    close(b);
    fx_close(&f);
}

/* --max-half-open: connections that send no request head hold at most
 * that many slots; the next connection gets 503 at once, an open player
 * is still served, and a slot frees when a half-open one goes. */
static void test_half_open_connections_capped(void **st)
{
    (void)st;
    fx_tweak = tweak_half_open;
    fx f;
    int rc = fx_open(&f, 16);
    fx_tweak = NULL;
    assert_int_equal(rc, 0);
    static char pb[8192], hb[4096];
    size_t pl = 0, hl = 0;
    int p = client_connect(&f);
    handshake(&f, p, pb, sizeof(pb), &pl);
    assert_int_equal(f.srv->half_open, 0);
    int h1 = client_connect(&f), h2 = client_connect(&f);
    pump(&f, 50);
    assert_int_equal(f.srv->half_open, 2);
    int h3 = client_connect(&f);
    assert_true(wait_for(&f, h3, hb, sizeof(hb), &hl, "\r\n\r\n", 10000));
    assert_non_null(strstr(hb, "HTTP/1.1 503"));
    assert_int_equal(f.srv->m.refused_half_open, 1);
    close(h3);
    send_ping(p, "still-served");
    assert_true(wait_for(&f, p, pb, sizeof(pb), &pl, "{\"ack\":[\"still-served\"]}", 10000));
    close(h1);
    for (int t = 0; t < 2000 && f.srv->half_open != 1; t++)
        pump(&f, 1);
    assert_int_equal(f.srv->half_open, 1);
    int h4 = client_connect(&f);
    hl = 0;
    handshake(&f, h4, hb, sizeof(hb), &hl);
    assert_int_equal(f.srv->half_open, 1); /* h2 */
    close(h4);
    close(h2);
    close(p);
    fx_close(&f);
}

/* ---- a failed log ------------------------------------------------------------- */

static int log_fail_calls;
static void on_log_fail(void *ud)
{
    (void)ud;
    log_fail_calls++;
}

static void http_get(fx *f, const char *path, char *buf, size_t cap, const char *needle)
{
    char req[128];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    size_t len = 0;
    int fd = client_connect(f);
    assert_int_equal(write(fd, req, (size_t)n), n);
    int ok = wait_for(f, fd, buf, cap, &len, needle, 10000);
    if (!ok)
        print_message("GET %s: no '%s' in %zu bytes: %.300s\n", path, needle, len, buf);
    assert_true(ok);
    close(fd);
}

/* fdatasync fails (EIO): the log is failed for good.  The gateway that
 * owns it says so on /healthz (503) and /metrics (log_healthy 0) at once,
 * and its 1 s tick calls on_fail exactly once (the command drains and
 * exits 1) — not at all with keep_running. */
static void run_failed_log(int keep_running)
{
    fx f;
    assert_int_equal(fx_open(&f, 8), 0);
    log_fail_calls = 0;
    gw_server_watch_log(f.srv, f.log, keep_running, on_log_fail, NULL);
    static char buf[65536];
    http_get(&f, "/healthz", buf, sizeof(buf), "ok");
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    http_get(&f, "/metrics", buf, sizeof(buf), "cairn_gateway_draining");
    assert_non_null(strstr(buf, "cairn_gateway_log_healthy 1"));
    pump(&f, 1200);
    assert_int_equal(log_fail_calls, 0);
    int fd = client_connect(&f);
    size_t len = 0;
    handshake(&f, fd, buf, sizeof(buf), &len);
    send_ping(fd, "ok-first"); /* the segment exists: the next sync is the round's */
    assert_true(wait_for(&f, fd, buf, sizeof(buf), &len, "ok-first", 10000));
    gate_fail_sync = 1;
    send_ping(fd, "fails-the-log");
    assert_true(wait_for(&f, fd, buf, sizeof(buf), &len, "log unavailable", 10000));
    gate_fail_sync = 0;
    close(fd);
    assert_int_equal(lg_health(f.log, NULL), CN_EPANIC);
    http_get(&f, "/healthz", buf, sizeof(buf), "log failed");
    assert_non_null(strstr(buf, "HTTP/1.1 503"));
    http_get(&f, "/metrics", buf, sizeof(buf), "cairn_gateway_draining");
    assert_non_null(strstr(buf, "cairn_gateway_log_healthy 0"));
    for (int t = 0; t < 100 && log_fail_calls == 0; t++)
        pump(&f, 50);
    pump(&f, 2500); /* at least two more ticks */
    assert_int_equal(log_fail_calls, keep_running ? 0 : 1);
    http_get(&f, "/healthz", buf, sizeof(buf), "log failed");
    assert_non_null(strstr(buf, "HTTP/1.1 503"));
    fx_close(&f);
}

static void test_failed_log_reported_and_stops_the_process(void **st)
{
    (void)st;
    run_failed_log(0);
}

static void test_failed_log_keep_running(void **st)
{
    (void)st;
    run_failed_log(1);
}

int main(void)
{
    evthread_use_pthreads();
    cn_log_set_level(CN_LOG_ERROR); /* the development-mode warning, once per fixture */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack_only_after_fdatasync),
        cmocka_unit_test(test_slow_reader_gets_every_ack_in_order),
        cmocka_unit_test(test_stale_completion_not_delivered),
        cmocka_unit_test(test_stall_close_1013),
        cmocka_unit_test(test_append_failure_1013),
        cmocka_unit_test(test_failed_append_two_frames_keeps_1013),
        cmocka_unit_test(test_healthz_503_during_drain),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_iptab),
        cmocka_unit_test(test_token_cache_and_failure_budget),
        cmocka_unit_test(test_failtab_budget),
        cmocka_unit_test(test_addr_key_ipv6_prefix),
        cmocka_unit_test(test_iptab_hash_keyed),
        cmocka_unit_test(test_partition_hash),
        cmocka_unit_test(test_refused_pings_one_error_frame_one_write),
        cmocka_unit_test(test_acks_of_one_wake_leave_in_one_write),
        cmocka_unit_test(test_unread_error_frames_hold_the_connection_back),
        cmocka_unit_test(test_token_checks_do_not_block_the_loop),
        cmocka_unit_test(test_buffer_budget_closes_the_connection_that_grows),
        cmocka_unit_test(test_half_open_connections_capped),
        cmocka_unit_test(test_failed_log_reported_and_stops_the_process),
        cmocka_unit_test(test_failed_log_keep_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
