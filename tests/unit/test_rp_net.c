/* SPDX-License-Identifier: MIT */
/*
 * test_rp_net.c — the replication transport (repl/rp_net.c) over real
 * loopback TCP: membership parsing and the cluster id; the HELLO codec and
 * its checks; two nodes connecting (the lower id dials) and exchanging
 * frames both ways; hostile, truncated, oversized and spoofed input from a
 * raw socket closing only that connection with its reason (a connection
 * that did its handshake keeps working beside them); a silent connection
 * timed out; a newer connection from the same peer replacing the older;
 * reconnection after the peer restarts; and the output bound dropping
 * messages to a peer that does not read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cn_buf.h"
#include "cn_bytes.h"
#include "cn_err.h"
#include "rp.h"

#define WAIT_MS 20000 /* generous: the machine may be loaded */

/* ---- plumbing ------------------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t l = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

typedef struct tnode {
    rp_net *net;
    int got;
    rp_msg last;
    unsigned char rec[4096];
} tnode;

static void tdeliver(void *ud, const rp_msg *m)
{
    tnode *t = ud;
    t->got++;
    t->last = *m;
    if (m->records_len && m->records_len <= sizeof(t->rec)) {
        memcpy(t->rec, m->records, m->records_len);
        t->last.records = t->rec;
    }
}

static rp_net *tnet(struct event_base *b, const rp_cluster *c, int32_t self, tnode *t,
                    uint32_t hello_ms)
{
    rp_net_opts o = {.cluster = c, .self = self, .deliver = tdeliver, .ud = t};
    o.hello_timeout_ms = hello_ms;
    o.backoff_min_ms = 20;
    o.backoff_max_ms = 200;
    rp_net *n = NULL;
    assert_int_equal(rp_net_new(&n, b, &o), 0);
    t->net = n;
    return n;
}

/* Run the loop until *flag != 0 (or cond(ud) when given). */
static void run_until(struct event_base *b, int (*cond)(void *), void *ud)
{
    int64_t end = now_ms() + WAIT_MS;
    while (!cond(ud)) {
        assert_true(now_ms() < end);
        event_base_loop(b, EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

typedef struct conn_wait {
    rp_net *a;
    int32_t peer;
} conn_wait;

static int is_connected(void *ud)
{
    conn_wait *w = ud;
    return rp_net_connected(w->a, w->peer);
}

static int got_one(void *ud)
{
    return ((tnode *)ud)->got > 0;
}

static void wait_connected(struct event_base *b, rp_net *a, int32_t peer)
{
    conn_wait w = {a, peer};
    run_until(b, is_connected, &w);
}

static size_t batch(unsigned char *p, int64_t base, int32_t delta, int32_t epoch, size_t extra)
{
    size_t len = RP_BATCH_HDR_BYTES + extra;
    memset(p, 0, RP_BATCH_HDR_BYTES);
    cn_wr_be64(p, (uint64_t)base);
    cn_wr_be32(p + 8, (uint32_t)(len - 12));
    cn_wr_be32(p + 12, (uint32_t)epoch);
    p[16] = 2;
    cn_wr_be32(p + 23, (uint32_t)delta);
    return len;
}

static rp_msg fetch_req(int32_t from, int32_t to)
{
    rp_msg m = {0};
    m.type = RP_FETCH_REQ;
    m.topic_id = 7;
    m.partition = 3;
    m.from = from;
    m.to = to;
    m.term = 4;
    m.seq = 11;
    m.fetch_offset = 100;
    m.last_fetched_epoch = 4;
    m.synced_offset = 90;
    m.max_bytes = 1 << 20;
    return m;
}

/* ---- raw peer ------------------------------------------------------------ */

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void raw_send(int fd, const void *p, size_t n)
{
    assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void raw_hello(int fd, uint16_t version, uint64_t cluster, int32_t from, int32_t to)
{
    rp_hello h = {version, cluster, from, to};
    unsigned char b[RP_HELLO_BYTES];
    rp_hello_encode(&h, b);
    raw_send(fd, b, sizeof(b));
}

typedef struct raw_wait {
    int fd;
    int closed;
    unsigned char in[256];
    size_t nin;
} raw_wait;

static int raw_closed(void *ud)
{
    raw_wait *w = ud;
    struct pollfd p = {w->fd, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0)
        return 0;
    unsigned char b[4096];
    ssize_t k = recv(w->fd, b, sizeof(b), MSG_DONTWAIT);
    if (k > 0) {
        size_t c = (size_t)k < sizeof(w->in) - w->nin ? (size_t)k : sizeof(w->in) - w->nin;
        memcpy(w->in + w->nin, b, c);
        w->nin += c;
        return 0;
    }
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    w->closed = 1;
    return 1;
}

static int raw_has_hello(void *ud)
{
    raw_wait *w = ud;
    raw_closed(w);
    return w->nin >= RP_HELLO_BYTES || w->closed;
}

/* The server closes fd; its last close reason contains want. */
static void expect_closed(struct event_base *b, rp_net *n, int fd, const char *want)
{
    raw_wait w = {.fd = fd};
    run_until(b, raw_closed, &w);
    close(fd);
    rp_net_stats st;
    rp_net_stats_get(n, &st);
    if (!strstr(st.last_close, want))
        fail_msg("close reason '%s', wanted '%s'", st.last_close, want);
}

/* ---- membership and the HELLO codec ---------------------------------------- */

static void test_cluster_parse(void **state)
{
    rp_cluster a, b, c;
    assert_int_equal(rp_cluster_parse("3@h3:9003,1@127.0.0.1:9001,2@[::1]:9002", &a), 0);
    assert_int_equal(a.npeers, 3);
    assert_int_equal(a.peers[0].id, 1);
    assert_string_equal(a.peers[1].host, "::1");
    assert_int_equal(a.peers[2].port, 9003);
    assert_int_equal(rp_cluster_parse("1@127.0.0.1:9001,2@[::1]:9002,3@h3:9003", &b), 0);
    assert_true(a.id == b.id); /* the order given does not matter */
    assert_int_equal(rp_cluster_parse("1@127.0.0.1:9001,2@[::1]:9002,3@h3:9004", &c), 0);
    assert_true(a.id != c.id); /* any difference in membership does */
    const char *bad[] = {"",
                         "1@h:1,1@h:2",
                         "1@h",
                         "1@h:0",
                         "1@h:70000",
                         "-1@h:1",
                         "x@h:1",
                         "1@:1",
                         "1@h:1,",
                         "1@h/x:1",
                         "1@h:1x",
                         "@h:1",
                         "1@h:1,2@h:2,3@h:3,4@h:4,5@h:5,6@h:6,7@h:7,8@h:8",
                         "99999999999@h:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (rp_cluster_parse(bad[i], &c) != CN_EINVAL)
            fail_msg("accepted '%s'", bad[i]);
}

static void test_hello_codec(void **state)
{
    rp_cluster c;
    assert_int_equal(rp_cluster_parse("1@h:1,2@h:2,3@h:3", &c), 0);
    rp_hello h = {RP_WIRE_VERSION, c.id, 1, 2}, d;
    unsigned char b[RP_HELLO_BYTES];
    rp_hello_encode(&h, b);
    const char *why = NULL;
    for (size_t n = 0; n < RP_HELLO_BYTES; n++)
        assert_int_equal(rp_hello_decode(b, n, &d, &why), CN_WANT_MORE);
    assert_int_equal(rp_hello_decode(b, sizeof(b), &d, &why), 0);
    assert_memory_equal(&d, &h, sizeof(h));
    assert_int_equal(rp_hello_check(&d, &c, 2, -1, &why), 0); /* accepting side */
    unsigned char x[RP_HELLO_BYTES];
    memcpy(x, b, sizeof(x));
    x[3] = 25;
    assert_int_equal(rp_hello_decode(x, 4, &d, &why), CN_EDECODE);
    memcpy(x, b, sizeof(x));
    x[4] ^= 1;
    assert_int_equal(rp_hello_decode(x, 8, &d, &why), CN_EDECODE);
    memcpy(x, b, sizeof(x));
    x[11] = 1;
    assert_int_equal(rp_hello_decode(x, sizeof(x), &d, &why), CN_EDECODE);
    struct {
        rp_hello h;
        int32_t self, dialed;
    } refused[] = {
        {{RP_WIRE_VERSION + 1, c.id, 1, 2}, 2, -1}, /* version */
        {{RP_WIRE_VERSION, c.id ^ 1, 1, 2}, 2, -1}, /* cluster */
        {{RP_WIRE_VERSION, c.id, 1, 3}, 2, -1},     /* addressed to 3 */
        {{RP_WIRE_VERSION, c.id, 4, 2}, 2, -1},     /* not a voter */
        {{RP_WIRE_VERSION, c.id, 2, 2}, 2, -1},     /* from itself */
        {{RP_WIRE_VERSION, c.id, 3, 2}, 2, -1},     /* higher id dialing */
        {{RP_WIRE_VERSION, c.id, 3, 1}, 1, 2},      /* dialed 2, 3 answered */
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        why = NULL;
        assert_int_equal(
            rp_hello_check(&refused[i].h, &c, refused[i].self, refused[i].dialed, &why), CN_EPROTO);
        assert_non_null(why);
    }
    rp_hello ok = {RP_WIRE_VERSION, c.id, 3, 1};
    assert_int_equal(rp_hello_check(&ok, &c, 1, 3, &why), 0); /* dialing side */
}

/* ---- real connections ------------------------------------------------------ */

static void spec2(char *s, size_t n, int p1, int p2)
{
    snprintf(s, n, "1@127.0.0.1:%d,2@127.0.0.1:%d", p1, p2);
}

static void test_two_nodes_exchange_frames(void **state)
{
    struct event_base *b = event_base_new();
    char spec[128];
    snprintf(spec, sizeof(spec), "1@127.0.0.1:%d,2@127.0.0.1:%d,3@127.0.0.1:%d", free_port(),
             free_port(), free_port());
    rp_cluster c;
    assert_int_equal(rp_cluster_parse(spec, &c), 0);
    tnode t1 = {0}, t2 = {0}, t3 = {0};
    tnet(b, &c, 1, &t1, 0);
    tnet(b, &c, 2, &t2, 0);
    tnet(b, &c, 3, &t3, 0);
    wait_connected(b, t1.net, 2);
    wait_connected(b, t1.net, 3);
    wait_connected(b, t3.net, 2);
    wait_connected(b, t2.net, 3);
    /* 3 -> 1 travels on the connection 1 dialed. */
    rp_msg m = fetch_req(3, 1);
    assert_int_equal(rp_net_send(t3.net, &m), 0);
    run_until(b, got_one, &t1);
    assert_int_equal(t1.last.type, RP_FETCH_REQ);
    assert_int_equal(t1.last.from, 3);
    assert_int_equal(t1.last.partition, 3);
    assert_int_equal(t1.last.fetch_offset, 100);
    /* 1 -> 3: a FetchResponse with two batches of records. */
    unsigned char rec[512];
    size_t k = batch(rec, 100, 4, 4, 20);
    k += batch(rec + k, 105, 0, 4, 7);
    rp_msg r = {0};
    r.type = RP_FETCH_RESP;
    r.topic_id = 7;
    r.partition = 3;
    r.from = 1;
    r.to = 3;
    r.term = 4;
    r.seq = 11;
    r.leader = 1;
    r.fetch_offset = 100;
    r.last_fetched_epoch = 4;
    r.high_watermark = 100;
    r.log_end = 106;
    r.diverging_epoch = -1;
    r.diverging_end = -1;
    r.records = rec;
    r.records_len = (uint32_t)k;
    assert_int_equal(rp_net_send(t1.net, &r), 0);
    run_until(b, got_one, &t3);
    assert_int_equal(t3.last.type, RP_FETCH_RESP);
    assert_int_equal(t3.last.records_len, k);
    assert_memory_equal(t3.rec, rec, k);
    /* Refused sends: another sender, an unknown or own addressee. */
    m = fetch_req(2, 1);
    assert_int_equal(rp_net_send(t1.net, &m), CN_EINVAL);
    m = fetch_req(1, 9);
    assert_int_equal(rp_net_send(t1.net, &m), CN_EINVAL);
    m = fetch_req(1, 1);
    assert_int_equal(rp_net_send(t1.net, &m), CN_EINVAL);
    rp_net_stats st;
    rp_net_stats_get(t1.net, &st);
    assert_int_equal(st.closed_protocol, 0);
    assert_true(st.handshakes >= 2);
    rp_net_free(t1.net);
    rp_net_free(t2.net);
    rp_net_free(t3.net);
    event_base_free(b);
}

static void test_hostile_input_closes_only_that_connection(void **state)
{
    struct event_base *b = event_base_new();
    int p1 = free_port(), p2 = free_port();
    char spec[128];
    spec2(spec, sizeof(spec), p1, p2);
    rp_cluster c;
    assert_int_equal(rp_cluster_parse(spec, &c), 0);
    tnode t2 = {0};
    rp_net *n = tnet(b, &c, 2, &t2, 300);
    /* A well-behaved node 1 (raw): handshake, reply HELLO, one frame. */
    int good = raw_connect(p2);
    raw_hello(good, RP_WIRE_VERSION, c.id, 1, 2);
    raw_wait gw = {.fd = good};
    run_until(b, raw_has_hello, &gw);
    assert_false(gw.closed);
    rp_hello h;
    const char *why;
    assert_int_equal(rp_hello_decode(gw.in, gw.nin, &h, &why), 0);
    assert_int_equal(h.from, 2);
    assert_int_equal(h.to, 1);
    assert_true(rp_net_connected(n, 1));

    struct {
        const char *what;
        uint16_t version;
        uint64_t cluster;
        int32_t from, to;
    } hs[] = {
        {"another wire version", RP_WIRE_VERSION + 1, c.id, 1, 2},
        {"another cluster id", RP_WIRE_VERSION, c.id + 1, 1, 2},
        {"addressed to another node", RP_WIRE_VERSION, c.id, 1, 7},
        {"not a voter", RP_WIRE_VERSION, c.id, 5, 2},
    };
    for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
        int fd = raw_connect(p2);
        raw_hello(fd, hs[i].version, hs[i].cluster, hs[i].from, hs[i].to);
        expect_closed(b, n, fd, hs[i].what);
    }
    int fd = raw_connect(p2);
    raw_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    expect_closed(b, n, fd, "wrong length");
    fd = raw_connect(p2);
    unsigned char x[RP_HELLO_BYTES];
    rp_hello hh = {RP_WIRE_VERSION, c.id, 1, 2};
    rp_hello_encode(&hh, x);
    x[5] ^= 0x20;
    raw_send(fd, x, sizeof(x));
    expect_closed(b, n, fd, "wrong magic");
    fd = raw_connect(p2);
    rp_hello_encode(&hh, x);
    raw_send(fd, x, 17);
    shutdown(fd, SHUT_WR);
    expect_closed(b, n, fd, "inside the handshake");
    fd = raw_connect(p2); /* silent */
    expect_closed(b, n, fd, "not completed in time");

    /* The connection that did its handshake still works. */
    cn_buf f = CN_BUF_INIT;
    rp_msg m = fetch_req(1, 2);
    assert_int_equal(rp_msg_encode(&m, &f), 0);
    raw_send(good, f.data, f.len);
    run_until(b, got_one, &t2);
    assert_int_equal(t2.last.seq, 11);

    /* After a good handshake (each replaces the previous connection). */
    struct {
        const char *what;
        int mutate; /* 0 oversized, 1 bad version byte, 2 spoofed from, 3 wrong to, 4 half */
    } fr[] = {{"longer than 16 MiB", 0},
              {"malformed frame", 1},
              {"another sender", 2},
              {"addressed to another node", 3},
              {"inside a frame", 4}};
    for (size_t i = 0; i < sizeof(fr) / sizeof(fr[0]); i++) {
        fd = raw_connect(p2);
        raw_hello(fd, RP_WIRE_VERSION, c.id, 1, 2);
        m = fetch_req(1, 2);
        if (fr[i].mutate == 2)
            m.from = 2;
        if (fr[i].mutate == 3)
            m.to = 1;
        f.len = 0;
        assert_int_equal(rp_msg_encode(&m, &f), 0);
        if (fr[i].mutate == 0)
            cn_wr_be32(f.data, RP_MAX_FRAME + 1);
        if (fr[i].mutate == 1)
            f.data[4] = 9;
        raw_send(fd, f.data, fr[i].mutate == 4 ? f.len - 3 : f.len);
        if (fr[i].mutate == 4)
            shutdown(fd, SHUT_WR);
        expect_closed(b, n, fd, fr[i].what);
    }
    rp_net_stats st;
    rp_net_stats_get(n, &st);
    assert_int_equal(st.closed_protocol, 13);
    assert_int_equal(st.frames_in, 1);
    /* The first good connection was replaced by the later handshakes. */
    raw_wait w = {.fd = good};
    run_until(b, raw_closed, &w);
    assert_true(st.replaced >= 1);
    close(good);
    cn_buf_free(&f);
    rp_net_free(n);
    event_base_free(b);
}

static void test_reconnect_after_peer_restart(void **state)
{
    struct event_base *b = event_base_new();
    char spec[128];
    spec2(spec, sizeof(spec), free_port(), free_port());
    rp_cluster c;
    assert_int_equal(rp_cluster_parse(spec, &c), 0);
    tnode t1 = {0}, t2 = {0};
    tnet(b, &c, 1, &t1, 0);
    tnet(b, &c, 2, &t2, 0);
    wait_connected(b, t1.net, 2);
    rp_net_free(t2.net);
    /* Node 1 notices the close; sends are dropped meanwhile. */
    rp_msg m = fetch_req(1, 2);
    int64_t end = now_ms() + WAIT_MS;
    while (rp_net_send(t1.net, &m) != CN_ECLOSED) {
        assert_true(now_ms() < end);
        event_base_loop(b, EVLOOP_NONBLOCK);
        usleep(1000);
    }
    /* Let node 1 fail a few reconnects against the closed port. */
    end = now_ms() + 300;
    while (now_ms() < end) {
        event_base_loop(b, EVLOOP_NONBLOCK);
        usleep(2000);
    }
    assert_false(rp_net_connected(t1.net, 2));
    memset(&t2, 0, sizeof(t2));
    tnet(b, &c, 2, &t2, 0);
    wait_connected(b, t1.net, 2);
    assert_int_equal(rp_net_send(t1.net, &m), 0);
    run_until(b, got_one, &t2);
    rp_net_stats st;
    rp_net_stats_get(t1.net, &st);
    assert_true(st.dropped_nopeer >= 1);
    assert_int_equal(st.handshakes, 2);
    rp_net_free(t1.net);
    rp_net_free(t2.net);
    event_base_free(b);
}

static void test_output_bound_drops_to_a_peer_that_does_not_read(void **state)
{
    struct event_base *b = event_base_new();
    int p1 = free_port(), p2 = free_port();
    char spec[128];
    spec2(spec, sizeof(spec), p1, p2);
    rp_cluster c;
    assert_int_equal(rp_cluster_parse(spec, &c), 0);
    /* Node 2 is a raw listener that answers the HELLO and never reads. */
    int l = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    int small = 4096;
    setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)p2),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l, 4), 0);
    tnode t1 = {0};
    rp_net_opts o = {.cluster = &c, .self = 1, .deliver = tdeliver, .ud = &t1};
    o.out_max = 1u << 20;
    assert_int_equal(rp_net_new(&t1.net, b, &o), 0);
    int fd = -1;
    int64_t end = now_ms() + WAIT_MS;
    while (fd < 0) {
        assert_true(now_ms() < end);
        event_base_loop(b, EVLOOP_NONBLOCK);
        struct pollfd p = {l, POLLIN, 0};
        if (poll(&p, 1, 1) > 0)
            fd = accept(l, NULL, NULL);
    }
    raw_hello(fd, RP_WIRE_VERSION, c.id, 2, 1);
    wait_connected(b, t1.net, 2);
    /* 256 KiB answers: the kernel takes some, then the bound drops. */
    size_t big = 256u << 10;
    unsigned char *rec = calloc(1, big);
    size_t k = batch(rec, 0, 0, 1, big - RP_BATCH_HDR_BYTES);
    rp_msg r = {0};
    r.type = RP_FETCH_RESP;
    r.from = 1;
    r.to = 2;
    r.term = 1;
    r.leader = 1;
    r.log_end = 1;
    r.diverging_epoch = -1;
    r.diverging_end = -1;
    r.records = rec;
    r.records_len = (uint32_t)k;
    int rc = 0, sent = 0;
    end = now_ms() + WAIT_MS;
    while ((rc = rp_net_send(t1.net, &r)) == 0) {
        assert_true(now_ms() < end);
        sent++;
        event_base_loop(b, EVLOOP_NONBLOCK);
    }
    assert_int_equal(rc, CN_EOVERLOAD);
    assert_true(sent >= 4); /* at least the bound's worth was queued */
    rp_net_stats st;
    rp_net_stats_get(t1.net, &st);
    assert_int_equal(st.dropped_full, 1);
    assert_true(rp_net_connected(t1.net, 2)); /* dropping is not closing */
    free(rec);
    close(fd);
    close(l);
    rp_net_free(t1.net);
    event_base_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster_parse),
        cmocka_unit_test(test_hello_codec),
        cmocka_unit_test(test_two_nodes_exchange_frames),
        cmocka_unit_test(test_hostile_input_closes_only_that_connection),
        cmocka_unit_test(test_reconnect_after_peer_restart),
        cmocka_unit_test(test_output_bound_drops_to_a_peer_that_does_not_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
