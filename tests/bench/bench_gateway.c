/* SPDX-License-Identifier: MIT */
/*
 * bench_gateway.c — load generator and benchmark for `cairn gateway`, one
 * JSON object per line per figure (run by `scripts/bench gateway`):
 *   - idle:       concurrent idle connections held by `--workers 2`
 *                 (target 38,000), the workers' RSS growth per connection,
 *                 and the gateway's own accounting (slot bytes, buffers);
 *   - handshakes: WebSocket upgrades per second (connect, upgrade, RST);
 *   - pings:      durable (fsync'd) acknowledged pings per second, one ping
 *                 per frame, closed loop (a window of frames per connection);
 *   - latency:    p50/p99 send→ack at half the measured rate, open loop;
 *   - idle and handshakes again over TLS (`--tls-cert`, a P-256
 *     certificate made at start; the generators speak TLS 1.3 through
 *     OpenSSL, without verifying): bytes per idle wss:// connection and
 *     TLS handshakes + upgrades per second, beside the plain figures.
 * The gateway is the real binary (--bin, default: cairn next to this
 * program's directory) started on a free loopback port with a fresh data
 * directory per run, stopped by PID.  The load comes from --procs forked
 * generator processes (each its own 20,000-fd budget), spread over --ips
 * source addresses 127.0.0.2.. (each its own ephemeral port range), using
 * epoll and frames masked once at start.  Their CPU time is reported
 * beside each figure (they share the 2 cores with the gateway).  Every
 * phase is bounded in time and stops by itself.  Nothing asserts a time.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "cn_testutil.h"

#define MAX_PROCS 16
#define WINDOW_MAX 16
#define HIST_US 10    /* latency histogram bucket width */
#define HIST_N 300000 /* 10 µs × 300,000 = 3 s, then overflow */

enum gen_mode { GEN_HOLD, GEN_HANDSHAKE, GEN_CLOSED, GEN_OPEN };

typedef struct gen_args {
    enum gen_mode mode;
    int id, nprocs, nips;
    int port;
    int conns;    /* connections of this process */
    int parallel; /* GEN_HANDSHAKE: concurrent attempts */
    int window;   /* GEN_CLOSED: frames in flight per connection */
    double rate;  /* GEN_OPEN: pings/s of this process */
    double seconds;
    int ready_fd; /* GEN_HOLD: write 1 int (established) when done connecting */
    int tls;      /* speak TLS (wss://) */
} gen_args;

typedef struct gen_result {
    int64_t established, failed, completed, acks, closed_by_server;
    int64_t cpu_us;
    double wall_s;
    uint32_t hist[HIST_N + 1];
} gen_result;

typedef struct gconn {
    int fd;
    SSL *ssl;    /* with TLS */
    uint8_t st;  /* 0 free, 1 connecting, 2 head sent, 3 open, 4 TLS handshake */
    uint8_t nin; /* frames in flight */
    uint8_t qh;  /* ring head */
    uint16_t rlen;
    uint64_t sent_ns[WINDOW_MAX];
    char rbuf[512];
} gconn;

/* The generators' TLS client context (no verification: the certificate
 * is the one this program made). */
static SSL_CTX *tls_cli;

/* read/write, or SSL_read/SSL_write on a TLS connection (EAGAIN for
 * "wait", as a non-blocking socket says it). */
static ssize_t c_read(int fd, SSL *ssl, void *p, size_t n)
{
    if (!ssl)
        return read(fd, p, n);
    int r = SSL_read(ssl, p, (int)n);
    if (r > 0)
        return r;
    int e = SSL_get_error(ssl, r);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

static ssize_t c_write(int fd, SSL *ssl, const void *p, size_t n)
{
    if (!ssl)
        return write(fd, p, n);
    int r = SSL_write(ssl, p, (int)n);
    if (r <= 0)
        ERR_clear_error();
    return r > 0 ? r : -1;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- generator ------------------------------------------------------------ */

typedef struct gen {
    gen_args a;
    int ep;
    gconn *c;
    int nc;
    gen_result *r;
    int measuring;            /* pings/latency: counting started (all connected) */
    unsigned char frame[256]; /* one masked ping frame, built once */
    size_t flen;
    int next_ip;
} gen;

static void gen_build_frame(gen *g)
{
    char p[160];
    int n = snprintf(p, sizeof(p), "{\"id\":\"b-%d\",\"beacon\":\"b-07\",\"rssi\":-61,\"ts\":%lld}",
                     g->a.id, (long long)wall_ms());
    const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    g->frame[0] = 0x81;
    g->frame[1] = (unsigned char)(0x80 | n);
    memcpy(g->frame + 2, mask, 4);
    for (int i = 0; i < n; i++)
        g->frame[6 + i] = (unsigned char)p[i] ^ mask[i % 4];
    g->flen = (size_t)(6 + n);
}

static int gen_connect(gen *g, gconn *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (g->a.mode == GEN_HOLD) {
        int b = 4096; /* the client side's kernel memory matters too at 38k */
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &b, sizeof(b));
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &b, sizeof(b));
    }
    struct sockaddr_in src = {0}, dst = {0};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr =
        htonl(0x7f000002u + (uint32_t)((g->a.id + g->next_ip++ * g->a.nprocs) % g->a.nips));
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)g->a.port);
    dst.sin_addr.s_addr = htonl(0x7f000001u);
    if (bind(fd, (struct sockaddr *)&src, sizeof(src)) ||
        (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) && errno != EINPROGRESS)) {
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->st = 1;
    c->rlen = 0;
    c->nin = 0;
    c->qh = 0;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
    epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

static void gen_drop(gen *g, gconn *c, int rst)
{
    if (rst) {
        struct linger l = {1, 0}; /* RST: no TIME_WAIT on our side */
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    epoll_ctl(g->ep, EPOLL_CTL_DEL, c->fd, NULL);
    SSL_free(c->ssl);
    c->ssl = NULL;
    close(c->fd);
    c->fd = -1;
    c->st = 0;
}

static void gen_send_head(gen *g, gconn *c)
{
    char h[300];
    int n = snprintf(h, sizeof(h),
                     "GET /ws?player=g%d-%d HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     g->a.id, (int)(c - g->c));
    if (c_write(c->fd, c->ssl, h, (size_t)n) != n) {
        g->r->failed++;
        gen_drop(g, c, 1);
        return;
    }
    c->st = 2;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int gen_send_ping(gen *g, gconn *c)
{
    if (c->nin >= WINDOW_MAX)
        return -1;
    if (c_write(c->fd, c->ssl, g->frame, g->flen) != (ssize_t)g->flen)
        return -1;
    c->sent_ns[(c->qh + c->nin) % WINDOW_MAX] = mono_ns();
    c->nin++;
    return 0;
}

static void gen_ack(gen *g, gconn *c)
{
    if (!c->nin)
        return;
    uint64_t us = (mono_ns() - c->sent_ns[c->qh]) / 1000;
    c->qh = (uint8_t)((c->qh + 1) % WINDOW_MAX);
    c->nin--;
    if (g->measuring) {
        g->r->acks++;
        uint64_t b = us / HIST_US;
        g->r->hist[b < HIST_N ? b : HIST_N]++;
    }
    if (g->a.mode == GEN_CLOSED)
        gen_send_ping(g, c);
}

/* Server frames are unmasked; acks are small text frames. */
static int gen_frames(gen *g, gconn *c)
{
    size_t off = 0;
    while (c->rlen - off >= 2) {
        unsigned char *p = (unsigned char *)c->rbuf + off;
        size_t len = p[1] & 0x7f, hl = 2;
        if (len == 126) {
            if (c->rlen - off < 4)
                break;
            len = (size_t)p[2] << 8 | p[3];
            hl = 4;
        } else if (len == 127) {
            return -1; /* never for acks */
        }
        if (c->rlen - off < hl + len)
            break;
        int op = p[0] & 0x0f;
        if (op == 8) {
            g->r->closed_by_server++;
            return -1;
        }
        if (op == 1 && len > 7 && memcmp(p + hl, "{\"ack\"", 6) == 0)
            gen_ack(g, c);
        off += hl + len;
    }
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen = (uint16_t)(c->rlen - off);
    return 0;
}

static void gen_readable(gen *g, gconn *c)
{
    ssize_t r = c_read(c->fd, c->ssl, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
    if (r <= 0) {
        if (r < 0 && errno == EAGAIN)
            return;
        if (c->st != 3)
            g->r->failed++;
        gen_drop(g, c, 1);
        return;
    }
    c->rlen = (uint16_t)(c->rlen + r);
    if (c->st == 2) {
        char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
        if (!end) {
            if (c->rlen == sizeof(c->rbuf)) {
                g->r->failed++;
                gen_drop(g, c, 1);
            }
            return;
        }
        if (memcmp(c->rbuf, "HTTP/1.1 101", 12) != 0) {
            g->r->failed++;
            gen_drop(g, c, 1);
            return;
        }
        size_t hl = (size_t)(end + 4 - c->rbuf);
        memmove(c->rbuf, c->rbuf + hl, c->rlen - hl);
        c->rlen = (uint16_t)(c->rlen - hl);
        c->st = 3;
        g->r->established++;
        if (g->a.mode == GEN_HANDSHAKE) {
            g->r->completed++;
            gen_drop(g, c, 1);
            return;
        }
        if (g->a.mode == GEN_CLOSED)
            for (int i = 0; i < g->a.window; i++)
                gen_send_ping(g, c);
    }
    if (gen_frames(g, c)) {
        gen_drop(g, c, 1);
        return;
    }
}

/* One TLS handshake step; done: the request head goes. */
static void gen_tls_step(gen *g, gconn *c)
{
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        gen_send_head(g, c);
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    ERR_clear_error();
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        g->r->failed++;
        gen_drop(g, c, 1);
        return;
    }
    struct epoll_event ev = {.events = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT,
                             .data.ptr = c};
    epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void gen_event(gen *g, gconn *c, uint32_t ev)
{
    if (c->st == 4) {
        if (ev & (EPOLLERR | EPOLLHUP) && !(ev & EPOLLIN)) {
            g->r->failed++;
            gen_drop(g, c, 1);
            return;
        }
        gen_tls_step(g, c);
        return;
    }
    if (c->st == 1 && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t el = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err || (ev & (EPOLLERR | EPOLLHUP))) {
            g->r->failed++;
            gen_drop(g, c, 1);
            return;
        }
        if (g->a.tls) {
            c->ssl = SSL_new(tls_cli);
            if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
                g->r->failed++;
                gen_drop(g, c, 1);
                return;
            }
            SSL_set_connect_state(c->ssl);
            c->st = 4;
            gen_tls_step(g, c);
            return;
        }
        gen_send_head(g, c);
        return;
    }
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
        gen_readable(g, c);
}

static volatile sig_atomic_t gen_stop;
static void gen_on_term(int sig)
{
    (void)sig;
    gen_stop = 1;
}

static void gen_run(const gen_args *a, int out_fd)
{
    gen g;
    memset(&g, 0, sizeof(g));
    g.a = *a;
    g.r = calloc(1, sizeof(gen_result));
    g.nc = a->mode == GEN_HANDSHAKE ? a->parallel : a->conns;
    g.c = calloc((size_t)g.nc, sizeof(gconn));
    g.ep = epoll_create1(0);
    signal(SIGTERM, gen_on_term);
    gen_build_frame(&g);
    for (int i = 0; i < g.nc; i++)
        g.c[i].fd = -1;
    /* Pings and latency are measured for --seconds from the moment every
     * connection is up (connecting thousands takes seconds on a busy box
     * and is what the handshake phase measures); connecting may take up
     * to 30 s.  Hold and handshake phases count from the start. */
    uint64_t t0 = mono_ns(), end = t0 + (uint64_t)(a->seconds * 1e9);
    int timed_after_connect = a->mode == GEN_CLOSED || a->mode == GEN_OPEN;
    if (timed_after_connect)
        end = t0 + 30000000000u;
    /* Connect in waves so the listen backlog (4096) is not overrun. */
    int started = 0, retries = 0, reported = 0;
    const int wave = 500;
    struct epoll_event evs[512];
    uint64_t next_send = t0;
    int rr = 0;
    while (!gen_stop) {
        uint64_t now = mono_ns();
        if (timed_after_connect && !g.measuring && started == g.nc &&
            g.r->established + g.r->failed >= g.nc) {
            g.measuring = 1;
            t0 = now;
            end = now + (uint64_t)(a->seconds * 1e9);
            next_send = now;
        }
        if (a->mode != GEN_HOLD && now >= end)
            break;
        if (a->mode == GEN_HOLD && now >= end && !reported)
            break; /* could not connect everything in time */
        int connecting = 0;
        if (a->mode == GEN_HOLD || a->mode == GEN_CLOSED || a->mode == GEN_OPEN)
            connecting = started - (int)g.r->established - (int)g.r->failed + retries;
        while (started < g.nc && connecting < wave) {
            if (gen_connect(&g, &g.c[started]) == 0)
                connecting++;
            else
                g.r->failed++;
            started++;
        }
        if (a->mode == GEN_HANDSHAKE)
            for (int i = 0; i < g.nc; i++)
                if (g.c[i].st == 0 && gen_connect(&g, &g.c[i]))
                    g.r->failed++;
        if (a->mode == GEN_HOLD && !reported && started == g.nc &&
            g.r->established + g.r->failed - retries >= g.nc) {
            /* Retry failures (a full worker answers 503: another source
             * port may hash to the other worker), a few rounds at most. */
            int again = 0;
            for (int i = 0; i < g.nc && retries < g.nc * 3; i++)
                if (g.c[i].st == 0) {
                    if (gen_connect(&g, &g.c[i]) == 0) {
                        again++;
                        retries++;
                    }
                }
            if (!again) {
                int64_t est = 0;
                for (int i = 0; i < g.nc; i++)
                    est += g.c[i].st == 3;
                if (write(a->ready_fd, &est, sizeof(est)) != sizeof(est))
                    break;
                reported = 1;
            }
        }
        if (a->mode == GEN_OPEN && g.measuring) {
            /* Paced sends, round-robin over open connections. */
            double per_ns = 1e9 / a->rate;
            while (next_send <= now) {
                for (int k = 0; k < g.nc; k++) {
                    gconn *c = &g.c[rr++ % g.nc];
                    if (c->st == 3 && c->nin < WINDOW_MAX) {
                        gen_send_ping(&g, c);
                        break;
                    }
                }
                next_send += (uint64_t)per_ns;
            }
        }
        int n = epoll_wait(g.ep, evs, 512, a->mode == GEN_OPEN ? 1 : 50);
        for (int i = 0; i < n; i++)
            gen_event(&g, evs[i].data.ptr, evs[i].events);
    }
    g.r->wall_s = (double)(mono_ns() - t0) / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    g.r->cpu_us = (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
                  (int64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
    for (int i = 0; i < g.nc; i++)
        if (g.c[i].fd >= 0)
            gen_drop(&g, &g.c[i], 1);
    const char *p = (const char *)g.r;
    size_t left = sizeof(*g.r);
    while (left) {
        ssize_t w = write(out_fd, p, left);
        if (w <= 0)
            break;
        p += w;
        left -= (size_t)w;
    }
    _exit(0);
}

/* ---- orchestration -------------------------------------------------------- */

typedef struct gens {
    int n;
    pid_t pid[MAX_PROCS];
    int res_fd[MAX_PROCS], ready_fd[MAX_PROCS];
} gens;

static void gens_start(gens *gs, gen_args base, int nprocs, int total_conns, double total_rate)
{
    gs->n = nprocs;
    for (int i = 0; i < nprocs; i++) {
        int rp[2], yp[2];
        if (pipe(rp) || pipe(yp)) {
            perror("pipe");
            exit(1);
        }
        gen_args a = base;
        a.id = i;
        a.nprocs = nprocs;
        a.conns = total_conns / nprocs + (i < total_conns % nprocs);
        a.rate = total_rate / nprocs;
        a.ready_fd = yp[1];
        pid_t pid = fork();
        if (pid == 0) {
            close(rp[0]);
            close(yp[0]);
            gen_run(&a, rp[1]);
        }
        close(rp[1]);
        close(yp[1]);
        gs->pid[i] = pid;
        gs->res_fd[i] = rp[0];
        gs->ready_fd[i] = yp[0];
    }
}

static int64_t gens_wait_ready(gens *gs)
{
    int64_t total = 0;
    for (int i = 0; i < gs->n; i++) {
        int64_t v = 0;
        if (read(gs->ready_fd[i], &v, sizeof(v)) == sizeof(v))
            total += v;
    }
    return total;
}

static void gens_collect(gens *gs, gen_result *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (int i = 0; i < gs->n; i++) {
        static gen_result r;
        char *p = (char *)&r;
        size_t got = 0;
        while (got < sizeof(r)) {
            ssize_t n = read(gs->res_fd[i], p + got, sizeof(r) - got);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        waitpid(gs->pid[i], NULL, 0);
        close(gs->res_fd[i]);
        close(gs->ready_fd[i]);
        if (got != sizeof(r))
            continue;
        sum->established += r.established;
        sum->failed += r.failed;
        sum->completed += r.completed;
        sum->acks += r.acks;
        sum->closed_by_server += r.closed_by_server;
        sum->cpu_us += r.cpu_us;
        if (r.wall_s > sum->wall_s)
            sum->wall_s = r.wall_s;
        for (int k = 0; k <= HIST_N; k++)
            sum->hist[k] += r.hist[k];
    }
}

static double hist_pct(const gen_result *r, double q)
{
    uint64_t total = 0, acc = 0;
    for (int k = 0; k <= HIST_N; k++)
        total += r->hist[k];
    if (!total)
        return -1;
    for (int k = 0; k <= HIST_N; k++) {
        acc += r->hist[k];
        if ((double)acc >= q * (double)total)
            return (k + 0.5) * HIST_US / 1000.0; /* ms */
    }
    return HIST_N * HIST_US / 1000.0;
}

typedef struct gw_proc {
    pid_t pid;
    int port;
    char dir[256];
} gw_proc;

static const char *bin_path;
static int attach_port; /* --port: measure a gateway started by hand instead */

static int gw_start(gw_proc *gp, int workers, const char *const *extra);
static void gw_stop(gw_proc *gp);

static int gw_start_or_attach(gw_proc *gp, int workers, const char *const *extra)
{
    if (!attach_port)
        return gw_start(gp, workers, extra);
    gp->pid = 0;
    gp->port = attach_port;
    gp->dir[0] = 0;
    return 0;
}

static void gw_stop_or_detach(gw_proc *gp)
{
    if (gp->pid)
        gw_stop(gp);
}

static int gw_start(gw_proc *gp, int workers, const char *const *extra)
{
    snprintf(gp->dir, sizeof(gp->dir), "/tmp/cairn-bench-gw-XXXXXX");
    if (!mkdtemp(gp->dir))
        return -1;
    char pf[300], data[300], logf[300], wk[16];
    snprintf(pf, sizeof(pf), "%s/port", gp->dir);
    snprintf(data, sizeof(data), "%s/data", gp->dir);
    snprintf(logf, sizeof(logf), "%s/gateway.log", gp->dir);
    snprintf(wk, sizeof(wk), "%d", workers);
    const char *av[64] = {bin_path, "gateway", "--listen", "127.0.0.1:0", "--port-file",
                          pf,       "--log",   data,       "--workers",   wk};
    int n = 10;
    for (int i = 0; extra && extra[i]; i++)
        av[n++] = extra[i];
    av[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(bin_path, (char *const *)av);
        _exit(127);
    }
    gp->pid = pid;
    for (int i = 0; i < 400; i++) {
        FILE *f = fopen(pf, "r");
        if (f) {
            int ok = fscanf(f, "%d", &gp->port) == 1;
            fclose(f);
            if (ok)
                return 0;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -1;
        usleep(50000);
    }
    return -1;
}

static void gw_stop(gw_proc *gp)
{
    kill(gp->pid, SIGTERM);
    for (int i = 0; i < 600; i++) {
        if (waitpid(gp->pid, NULL, WNOHANG) == gp->pid)
            goto clean;
        usleep(50000);
    }
    kill(gp->pid, SIGKILL);
    waitpid(gp->pid, NULL, 0);
clean:;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", gp->dir);
    if (system(cmd)) {
    }
}

/* Sum of VmRSS (KiB) and CPU ticks of pid's children (the workers), or of
 * pid itself when it has none. */
static void proc_stats(pid_t pid, long *rss_kib, long *cpu_ticks)
{
    *rss_kib = 0;
    *cpu_ticks = 0;
    char path[128], buf[4096];
    pid_t kids[MAX_PROCS];
    int nk = 0;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    if (f) {
        int k;
        while (nk < MAX_PROCS && fscanf(f, "%d", &k) == 1)
            kids[nk++] = k;
        fclose(f);
    }
    if (!nk)
        kids[nk++] = pid;
    for (int i = 0; i < nk; i++) {
        snprintf(path, sizeof(path), "/proc/%d/status", (int)kids[i]);
        f = fopen(path, "r");
        if (f) {
            while (fgets(buf, sizeof(buf), f))
                if (strncmp(buf, "VmRSS:", 6) == 0)
                    *rss_kib += strtol(buf + 6, NULL, 10);
            fclose(f);
        }
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)kids[i]);
        f = fopen(path, "r");
        if (f) {
            if (fgets(buf, sizeof(buf), f)) {
                char *p = strrchr(buf, ')');
                long ut = 0, st = 0;
                /* fields after ')': state(3) ... utime(14) stime(15) */
                if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut,
                                &st) == 2)
                    *cpu_ticks += ut + st;
            }
            fclose(f);
        }
    }
}

/* One metric from GET /metrics (whichever worker answers); over TLS
 * (blocking) when tls. */
static double gw_metric_tls(int port, const char *name, int tls)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(0x7f000001u);
    SSL *ssl = NULL;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
        (tls && (!(ssl = SSL_new(tls_cli)) || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1))) {
        SSL_free(ssl);
        close(fd);
        return -1;
    }
    const char req[] = "GET /metrics HTTP/1.1\r\nHost: b\r\n\r\n";
    if (c_write(fd, ssl, req, sizeof(req) - 1) < 0) {
        SSL_free(ssl);
        close(fd);
        return -1;
    }
    static char buf[65536];
    size_t len = 0;
    ssize_t r;
    while ((r = c_read(fd, ssl, buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)r;
    SSL_free(ssl);
    ERR_clear_error();
    close(fd);
    buf[len] = 0;
    char pat[200];
    snprintf(pat, sizeof(pat), "\n%s ", name);
    char *p = strstr(buf, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1;
}

static double gw_metric(int port, const char *name)
{
    return gw_metric_tls(port, name, 0);
}

/* ---- TLS: a certificate for the gateway, a context for the generators ---- */

static char tls_cert[4200], tls_key[4200];
static char *tls_dir; /* the certificate's scratch directory, removed at exit */

static void tls_dir_remove(void)
{
    cn_test_rmrf(tls_dir);
    free(tls_dir);
}

static int tls_setup(void)
{
    if (tls_cli)
        return 0;
    char *dir = tls_dir = cn_test_tmpdir("bench-tls");
    if (!dir)
        return -1;
    atexit(tls_dir_remove);
    snprintf(tls_cert, sizeof(tls_cert), "%s/cert.pem", dir);
    snprintf(tls_key, sizeof(tls_key), "%s/key.pem", dir);
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, pk);
    X509_NAME *nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, nm);
    X509_sign(x, pk, EVP_sha256());
    FILE *fc = fopen(tls_cert, "w"), *fk = fopen(tls_key, "w");
    int ok = fc && fk && PEM_write_X509(fc, x) == 1 &&
             PEM_write_PrivateKey(fk, pk, NULL, NULL, 0, NULL, NULL) == 1;
    if (fc)
        fclose(fc);
    if (fk)
        fclose(fk);
    X509_free(x);
    EVP_PKEY_free(pk);
    tls_cli = SSL_CTX_new(TLS_client_method());
    if (!ok || !tls_cli)
        return -1;
    SSL_CTX_set_verify(tls_cli, SSL_VERIFY_NONE, NULL);
    /* a phone resumes rarely after a long idle: count full handshakes */
    SSL_CTX_set_session_cache_mode(tls_cli, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(tls_cli, SSL_MODE_RELEASE_BUFFERS);
    return 0;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void stats3(double *v, int n, double *med, double *lo, double *hi)
{
    qsort(v, (size_t)n, sizeof(double), cmp_dbl);
    *med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    *lo = v[0];
    *hi = v[n - 1];
}

typedef struct opts {
    int conns, procs, ips, runs, tput_conns, window, hs_parallel, tls_conns;
    double seconds;
    const char *only;
} opts;

static double cpu_share(int64_t cpu_us, double wall)
{
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    return wall > 0 ? (double)cpu_us / 1e6 / (wall * (double)nc) : 0;
}

static void phase_idle(const opts *o, int tls)
{
    /* Each worker may hold 19,900: the 20,000-fd budget minus its few own fds. */
    const char *extra[] = {"--idle-close", "10m",         "--handshake-timeout",
                           "60s",          "--max-conns", "19900",
                           NULL,           NULL,          NULL,
                           NULL,           NULL};
    if (tls) {
        extra[6] = "--tls-cert", extra[7] = tls_cert, extra[8] = "--tls-key", extra[9] = tls_key;
    }
    int conns = tls ? o->tls_conns : o->conns;
    gw_proc gp;
    if (gw_start(&gp, 2, extra)) {
        fprintf(stderr, "bench_gateway: cannot start the gateway (--bin %s)\n", bin_path);
        exit(1);
    }
    sleep(1);
    long rss0, t0, rss1, t1;
    proc_stats(gp.pid, &rss0, &t0);
    gens gs;
    gen_args a = {.mode = GEN_HOLD, .nips = o->ips, .port = gp.port, .seconds = 60, .tls = tls};
    uint64_t c0 = mono_ns();
    gens_start(&gs, a, o->procs, conns, 0);
    int64_t held = gens_wait_ready(&gs);
    double connect_s = (double)(mono_ns() - c0) / 1e9;
    sleep(2); /* let the workers settle, then measure while everything is idle */
    proc_stats(gp.pid, &rss1, &t1);
    double slot = gw_metric_tls(gp.port, "cairn_gateway_slot_bytes", tls);
    double bufb = gw_metric_tls(gp.port, "cairn_gateway_conn_buffer_bytes", tls);
    double open1 = gw_metric_tls(gp.port, "cairn_gateway_connections", tls);
    for (int i = 0; i < gs.n; i++)
        kill(gs.pid[i], SIGTERM);
    static gen_result sum;
    gens_collect(&gs, &sum);
    gw_stop(&gp);
    double per = held > 0 ? (double)(rss1 - rss0) * 1024.0 / (double)held : -1;
    printf("{\"bench\":\"gateway\",\"figure\":\"idle_connections_held\",\"tls\":%s,\"workers\":2,"
           "\"value\":%lld,\"target\":%d,\"attempted\":%d,\"connect_seconds\":%.1f,\"source_ips\":%"
           "d,\"gen_procs\":%d}\n",
           tls ? "true" : "false", (long long)held, tls ? conns : 38000, conns, connect_s, o->ips,
           o->procs);
    /* The slots are preallocated (and touched) before the "before" sample,
     * so the RSS growth alone leaves them out: the per-connection figure
     * is growth + slot.  Whole-process RSS over connections is also given
     * (it includes every fixed cost: libraries, librdkafka, buffers). */
    printf(
        "{\"bench\":\"gateway\",\"figure\":\"user_bytes_per_idle_connection\",\"tls\":%s,"
        "\"value\":%.0f,\"target\":%s,"
        "\"rss_growth_per_connection\":%.0f,\"slot_bytes\":%.0f,\"whole_rss_per_connection\":%.0f,"
        "\"workers_rss_before_kib\":%ld,\"workers_rss_after_kib\":%ld,\"connections\":%lld}\n",
        tls ? "true" : "false", per + slot, tls ? "null" : "1024", per, slot,
        held > 0 ? (double)rss1 * 1024.0 / (double)held : -1, rss0, rss1, (long long)held);
    printf("{\"bench\":\"gateway\",\"figure\":\"accounted_bytes_per_connection\",\"tls\":%s,"
           "\"slot_bytes\":%.0f,\"buffer_bytes_one_worker\":%.0f,\"connections_one_worker\":%.0f,"
           "\"note\":\"slot = connection struct + parked entry + per-IP table share (+ the SSL "
           "pointer with TLS; OpenSSL's own state is not in it); buffers are 0 while idle\"}\n",
           tls ? "true" : "false", slot, bufb, open1);
    fflush(stdout);
}

static void phase_handshakes(const opts *o, int tls)
{
    double v[16], cpu[16], gwcpu[16];
    for (int r = 0; r < o->runs; r++) {
        gw_proc gp;
        const char *extra[] = {"--max-conns", "19900", NULL, NULL, NULL, NULL, NULL};
        if (tls) {
            extra[2] = "--tls-cert", extra[3] = tls_cert, extra[4] = "--tls-key";
            extra[5] = tls_key;
        }
        if (gw_start(&gp, 2, extra))
            exit(1);
        sleep(1);
        long rss, tk0, tk1;
        proc_stats(gp.pid, &rss, &tk0);
        gens gs;
        gen_args a = {.mode = GEN_HANDSHAKE,
                      .nips = o->ips,
                      .port = gp.port,
                      .seconds = o->seconds,
                      .parallel = o->hs_parallel / o->procs,
                      .tls = tls};
        gens_start(&gs, a, o->procs, 0, 0);
        static gen_result sum;
        gens_collect(&gs, &sum);
        proc_stats(gp.pid, &rss, &tk1);
        gw_stop(&gp);
        v[r] = (double)sum.completed / sum.wall_s;
        cpu[r] = cpu_share(sum.cpu_us, sum.wall_s);
        gwcpu[r] = (double)(tk1 - tk0) / (double)sysconf(_SC_CLK_TCK) / sum.wall_s;
        fprintf(stderr, "# handshakes run %d: %.0f/s (failed %lld)\n", r, v[r],
                (long long)sum.failed);
    }
    double med, lo, hi, cm, cl, ch, gm, gl, gh;
    stats3(v, o->runs, &med, &lo, &hi);
    stats3(cpu, o->runs, &cm, &cl, &ch);
    stats3(gwcpu, o->runs, &gm, &gl, &gh);
    printf("{\"bench\":\"gateway\",\"figure\":\"handshakes_per_second\",\"tls\":%s,\"workers\":2,"
           "\"median\":%.0f,\"min\":%.0f,\"max\":%.0f,\"runs\":%d,\"target\":%s,"
           "\"generator_cpu_share\":%.2f,\"gateway_cores\":%.2f,\"parallel\":%d%s}\n",
           tls ? "true" : "false", med, lo, hi, o->runs, tls ? "null" : "20000", cm, gm,
           o->hs_parallel,
           tls ? ",\"note\":\"full TLS 1.3 handshakes (P-256, no resumption) + upgrade\"" : "");
    fflush(stdout);
}

/* Closed loop: returns the median rate. */
static double phase_pings(const opts *o, int workers)
{
    double v[16], cpu[16], gwcpu[16];
    static gen_result last;
    for (int r = 0; r < o->runs; r++) {
        gw_proc gp;
        if (gw_start_or_attach(&gp, workers, NULL))
            exit(1);
        sleep(1);
        long rss, tk0, tk1;
        proc_stats(gp.pid, &rss, &tk0);
        gens gs;
        gen_args a = {.mode = GEN_CLOSED,
                      .nips = o->ips,
                      .port = gp.port,
                      .seconds = o->seconds,
                      .window = o->window};
        gens_start(&gs, a, o->procs, o->tput_conns, 0);
        usleep((useconds_t)(o->seconds * 0.8e6));
        double infl = gw_metric(gp.port, "cairn_gateway_inflight_pings");
        double parked = gw_metric(gp.port, "cairn_gateway_connections_parked");
        double open_c = gw_metric(gp.port, "cairn_gateway_connections");
        fprintf(stderr,
                "# during the run: %.0f pings in flight, %.0f connections open, %.0f parked\n",
                infl, open_c, parked);
        static gen_result sum;
        gens_collect(&gs, &sum);
        proc_stats(gp.pid, &rss, &tk1);
        double apc = gw_metric(gp.port, "cairn_gateway_append_seconds_count");
        double aps = gw_metric(gp.port, "cairn_gateway_append_seconds_sum");
        double acks = gw_metric(gp.port, "cairn_gateway_acks_total");
        gw_stop_or_detach(&gp);
        fprintf(stderr, "# appends %.0f, mean append→durable %.2f ms, %.1f pings per append\n", apc,
                apc > 0 ? aps / apc * 1000 : -1, apc > 0 ? acks / apc : -1);
        v[r] = (double)sum.acks / sum.wall_s;
        cpu[r] = cpu_share(sum.cpu_us, sum.wall_s);
        gwcpu[r] = (double)(tk1 - tk0) / (double)sysconf(_SC_CLK_TCK) / sum.wall_s;
        last = sum;
        fprintf(stderr, "# established %lld, generator wall %.2f s\n", (long long)sum.established,
                sum.wall_s);
        fprintf(stderr, "# pings run %d (workers %d): %.0f acked/s (failed %lld, closed %lld)\n", r,
                workers, v[r], (long long)sum.failed, (long long)sum.closed_by_server);
    }
    double med, lo, hi, cm, cl, ch, gm, gl, gh;
    stats3(v, o->runs, &med, &lo, &hi);
    stats3(cpu, o->runs, &cm, &cl, &ch);
    stats3(gwcpu, o->runs, &gm, &gl, &gh);
    printf("{\"bench\":\"gateway\",\"figure\":\"durable_acked_pings_per_second\",\"workers\":%d,"
           "\"log\":\"%s\","
           "\"durability\":\"fsync\",\"pings_per_frame\":1,\"median\":%.0f,\"min\":%.0f,\"max\":%."
           "0f,\"runs\":%d,"
           "\"target\":200000,\"connections\":%d,\"window\":%d,\"p50_ms\":%.2f,\"p99_ms\":%.2f,"
           "\"generator_cpu_share\":%.2f,\"gateway_cores\":%.2f}\n",
           workers, workers > 1 ? "parent process via loopback Kafka" : "in-process", med, lo, hi,
           o->runs, o->tput_conns, o->window, hist_pct(&last, 0.5), hist_pct(&last, 0.99), cm, gm);
    fflush(stdout);
    return med;
}

static void phase_latency(const opts *o, double rate, int workers)
{
    double p50[16], p99[16], got[16];
    for (int r = 0; r < o->runs; r++) {
        gw_proc gp;
        if (gw_start_or_attach(&gp, workers, NULL))
            exit(1);
        sleep(1);
        gens gs;
        gen_args a = {.mode = GEN_OPEN, .nips = o->ips, .port = gp.port, .seconds = o->seconds};
        gens_start(&gs, a, o->procs, o->tput_conns, rate);
        static gen_result sum;
        gens_collect(&gs, &sum);
        gw_stop_or_detach(&gp);
        p50[r] = hist_pct(&sum, 0.5);
        p99[r] = hist_pct(&sum, 0.99);
        got[r] = (double)sum.acks / sum.wall_s;
    }
    double m50, l50, h50, m99, l99, h99, mg, lg, hg;
    stats3(p50, o->runs, &m50, &l50, &h50);
    stats3(p99, o->runs, &m99, &l99, &h99);
    stats3(got, o->runs, &mg, &lg, &hg);
    printf("{\"bench\":\"gateway\",\"figure\":\"ack_latency_at_half_load\",\"workers\":%d,"
           "\"offered_per_s\":%.0f,"
           "\"acked_per_s\":%.0f,\"p50_ms\":%.2f,\"p50_min\":%.2f,\"p50_max\":%.2f,\"p99_ms\":%.2f,"
           "\"p99_min\":%.2f,"
           "\"p99_max\":%.2f,\"runs\":%d,\"target_p99_ms\":10}\n",
           workers, rate, mg, m50, l50, h50, m99, l99, h99, o->runs);
    fflush(stdout);
}

/* Reference figures of this run: how busy the machine is and how fast it
 * fsyncs (durable acks cannot beat the disk's group-commit cadence). */
static void phase_context(void)
{
    double la[3] = {0, 0, 0};
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3)
            la[0] = -1;
        fclose(f);
    }
    char path[] = "/tmp/cairn-bench-fsync-XXXXXX";
    int fd = mkstemp(path);
    char blk[4096];
    memset(blk, 'x', sizeof(blk));
    int n = 0;
    uint64_t t0 = mono_ns();
    while (fd >= 0 && mono_ns() - t0 < 1000000000u) {
        if (write(fd, blk, sizeof(blk)) != (ssize_t)sizeof(blk) || fdatasync(fd))
            break;
        n++;
    }
    double secs = (double)(mono_ns() - t0) / 1e9;
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    printf("{\"bench\":\"gateway\",\"figure\":\"context\",\"loadavg_1m\":%.2f,\"cores\":%ld,"
           "\"reference_fdatasync_per_s\":%.0f}\n",
           la[0], sysconf(_SC_NPROCESSORS_ONLN), n / secs);
    fflush(stdout);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_gateway [--bin CAIRN] [--only "
                    "idle|handshakes|pings|pings-workers|idle-tls|handshakes-tls] [--conns N "
                    "(38000)]\n"
                    "                     [--tls-conns N (10000)] [--procs N (4)]\n"
                    "                     [--ips N (8)] [--runs N (3)] [--seconds S (5)] "
                    "[--tput-conns N (2000)]\n"
                    "                     [--window N (4)] [--hs-parallel N (512)]\n");
}

int main(int argc, char **argv)
{
    opts o = {.conns = 38000,
              .procs = 4,
              .ips = 8,
              .runs = 3,
              .tput_conns = 2000,
              .window = 4,
              .hs_parallel = 512,
              .tls_conns = 10000,
              .seconds = 5,
              .only = NULL};
    static char defbin[4096];
    snprintf(defbin, sizeof(defbin), "%s", argv[0]);
    char *slash = strrchr(defbin, '/');
    if (slash) {
        *slash = 0;
        slash = strrchr(defbin, '/');
    }
    if (slash)
        strcpy(slash + 1, "cairn");
    else
        strcpy(defbin, "../cairn");
    bin_path = defbin;
    for (int i = 1; i < argc; i += 2) { /* every flag takes one value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 2;
        }
        if (!strcmp(a, "--bin"))
            bin_path = v;
        else if (!strcmp(a, "--port"))
            attach_port = atoi(v);
        else if (!strcmp(a, "--only"))
            o.only = v;
        else if (!strcmp(a, "--conns"))
            o.conns = atoi(v);
        else if (!strcmp(a, "--procs"))
            o.procs = atoi(v);
        else if (!strcmp(a, "--ips"))
            o.ips = atoi(v);
        else if (!strcmp(a, "--runs"))
            o.runs = atoi(v);
        else if (!strcmp(a, "--seconds"))
            o.seconds = atof(v);
        else if (!strcmp(a, "--tput-conns"))
            o.tput_conns = atoi(v);
        else if (!strcmp(a, "--window"))
            o.window = atoi(v);
        else if (!strcmp(a, "--hs-parallel"))
            o.hs_parallel = atoi(v);
        else if (!strcmp(a, "--tls-conns"))
            o.tls_conns = atoi(v);
        else {
            usage();
            return 2;
        }
    }
    if (o.procs < 1 || o.procs > MAX_PROCS || o.runs < 1 || o.runs > 16 || o.ips < 1 ||
        o.ips > 250 || o.window < 1 || o.window > WINDOW_MAX || o.conns / o.procs > 19000 ||
        o.tls_conns < 1 || o.tls_conns / o.procs > 19000 || o.seconds <= 0 || o.seconds > 60) {
        fprintf(
            stderr,
            "bench_gateway: bad option value (each generator holds at most 19,000 connections)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (access(bin_path, X_OK)) {
        fprintf(stderr, "bench_gateway: no cairn binary at %s (give --bin)\n", bin_path);
        return 1;
    }
    phase_context();
    int want_tls = !o.only || !strcmp(o.only, "idle-tls") || !strcmp(o.only, "handshakes-tls");
    if (want_tls && tls_setup()) {
        fprintf(stderr, "bench_gateway: cannot make a TLS certificate\n");
        return 1;
    }
    if (!o.only || !strcmp(o.only, "idle"))
        phase_idle(&o, 0);
    if (!o.only || !strcmp(o.only, "idle-tls"))
        phase_idle(&o, 1);
    if (!o.only || !strcmp(o.only, "handshakes"))
        phase_handshakes(&o, 0);
    if (!o.only || !strcmp(o.only, "handshakes-tls"))
        phase_handshakes(&o, 1);
    if (!o.only || !strcmp(o.only, "pings")) {
        double rate = phase_pings(&o, 1);
        phase_latency(&o, rate / 2, 1);
    }
    /* Opt-in: --workers 2 --log, the workers appending through the
     * parent's loopback Kafka listener (librdkafka, acks=all). */
    if (o.only && !strcmp(o.only, "pings-workers"))
        phase_pings(&o, 2);
    return 0;
}
