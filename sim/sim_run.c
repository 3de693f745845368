/* SPDX-License-Identifier: MIT */
/*
 * sim_run.c — a `cairn sim` run: sets up the players (walker, id, timers),
 * generates each player's pings on time, hands them to its connection,
 * prints the progress line once a second, and ends the run: after the
 * last ping it waits up to ack_timeout for the outstanding acks, then
 * closes every connection with 1000 and counts what was never acked.
 *
 * Guarantees: the pings generated are a function of the options (seed,
 * players, duration, rate, venue, start time), never of timing: a ping
 * due while the loop is busy is sent late with its scheduled ts.  Every
 * generated ping is accounted for at the end as acked, refused (error
 * frame) or unacked.  Loop thread only; sim_run owns everything it makes.
 */
#include "sim_int.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* One source address per this many players: each 127.0.0.x has ~28,000
 * ephemeral ports (32768-60999), and reconnects need headroom. */
#define SIM_PLAYERS_PER_SOURCE 10000
/* File descriptors kept for everything that is not a player's socket. */
#define SIM_FD_RESERVE 64
/* After the last close frame, how long to wait for the gateway's answers. */
#define SIM_CLOSE_WAIT_MS 2000

void sim_opts_init(sim_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->url = "ws://127.0.0.1:8080/ws";
    o->players = 100;
    o->duration_ms = 60000;
    o->rate = 1.0;
    o->player_prefix = "p-";
    o->id_prefix = "";
    o->ack_timeout_ms = 10000;
    o->max_connecting = 512;
}

int sim_result_ok(const sim_result *r)
{
    /* A run that sent nothing showed nothing: not ok. */
    return r->pings_sent > 0 && r->unacked == 0 && r->acked_twice == 0 && r->unknown_acks == 0 &&
           r->ping_errors == 0 && r->pings_acked == r->pings_sent;
}

/* ---- the URL ---------------------------------------------------------------- */

static int sim__parse_url(sim *s, const char *url, char *err, size_t errlen)
{
    if (strncmp(url, "ws://", 5) != 0) {
        snprintf(err, errlen,
                 "--url must start with ws:// (wss is not supported: run TLS in front)");
        return CN_EINVAL;
    }
    const char *h = url + 5, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    if (hl == 0 || hl >= sizeof(s->host_hdr) - 8 ||
        strlen(slash ? slash : "/") >= sizeof(s->path) - 200) {
        snprintf(err, errlen, "--url has no host or is too long");
        return CN_EINVAL;
    }
    memcpy(s->host_hdr, h, hl);
    s->host_hdr[hl] = 0;
    snprintf(s->path, sizeof(s->path), "%s", slash ? slash : "/");
    char host[300], port[16] = "80";
    snprintf(host, sizeof(host), "%s", s->host_hdr);
    char *hp = host, *colon;
    if (host[0] == '[') {
        char *rb = strchr(host, ']');
        if (!rb) {
            snprintf(err, errlen, "--url: unterminated [IPv6] host");
            return CN_EINVAL;
        }
        *rb = 0;
        hp = host + 1;
        colon = rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = strrchr(host, ':');
    }
    if (colon) {
        *colon = 0;
        snprintf(port, sizeof(port), "%s", colon + 1);
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(hp, port, &hints, &ai);
    if (rc || !ai) {
        snprintf(err, errlen, "--url: cannot resolve %.100s port %s: %s", hp, port,
                 gai_strerror(rc));
        return CN_EINVAL;
    }
    memcpy(&s->dst, ai->ai_addr, ai->ai_addrlen);
    s->dstlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    s->loopback = s->dst.ss_family == AF_INET &&
                  (ntohl(((struct sockaddr_in *)&s->dst)->sin_addr.s_addr) >> 24) == 127;
    return 0;
}

/* Each player's socket is a file descriptor: raise the soft limit to the
 * hard one, and refuse a run that cannot fit rather than fail midway. */
static int sim__fd_budget(uint32_t players, char *err, size_t errlen)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && (uint64_t)players + SIM_FD_RESERVE > rl.rlim_cur) {
        snprintf(err, errlen,
                 "%u players need %u file descriptors but this process may open %llu; run several "
                 "cairn sim "
                 "processes with different --player-prefix",
                 players, players + SIM_FD_RESERVE, (unsigned long long)rl.rlim_cur);
        return CN_EINVAL;
    }
    return 0;
}

/* ---- players and their pings ------------------------------------------------- */

static void sim__schedule(sim *s, sim_player *p)
{
    uint64_t due = s->t0_ns + (uint64_t)p->w.t_ms * 1000000ull, now = cn_mono_ns();
    uint64_t d = due > now ? due - now : 0;
    struct timeval tv = {(time_t)(d / 1000000000ull), (suseconds_t)((d % 1000000000ull) / 1000)};
    event_add(p->tick, &tv);
}

static void sim__player_done(sim *s, sim_player *p)
{
    p->done = 1;
    s->players_done++;
    if (s->players_done == s->o->players) {
        s->ending = 1;
        struct timeval tv = {(time_t)(s->o->ack_timeout_ms / 1000),
                             (suseconds_t)(s->o->ack_timeout_ms % 1000) * 1000};
        event_add(s->deadline_ev, &tv);
        sim__check_end(s);
    }
}

static int sim__push(sim *s, sim_player *p, const sim_gen_ping *g)
{
    if (p->nout == p->capout) {
        uint32_t cap = p->capout ? p->capout * 2 : 4;
        sim_out *n = cn_realloc(p->out, cap * sizeof(*n));
        if (!n)
            return CN_ENOMEM;
        p->out = n;
        p->capout = cap;
    }
    sim_out *q = &p->out[p->nout++];
    memset(q, 0, sizeof(*q));
    q->seq = p->next_seq++;
    q->ts = s->r->start_ms + g->t_ms;
    q->rssi = g->rssi;
    q->beacon = g->beacon;
    s->outstanding++;
    s->r->pings_sent++;
    if (s->o->pings_out)
        fprintf(
            s->o->pings_out,
            "{\"id\":\"%s%s.%llu\",\"player\":\"%s\",\"beacon\":\"%s\",\"rssi\":%d,\"ts\":%lld}\n",
            s->o->id_prefix, p->id, (unsigned long long)q->seq, p->id, s->o->beacon_ids[q->beacon],
            (int)q->rssi, (long long)q->ts);
    return 0;
}

static void sim__tick_cb(evutil_socket_t fd, short what, void *ud)
{
    sim_player *p = ud;
    sim *s = p->s;
    (void)fd;
    (void)what;
    if (s->finished)
        return;
    sim_gen_ping g;
    sim_walker_next(&p->w, &s->venue, &g);
    if (sim__push(s, p, &g)) {
        sim__fail(s, "out of memory queueing a ping");
        sim__player_done(s, p);
        return;
    }
    if (p->cstate == SIM_C_OPEN)
        sim__conn_flush(s, p);
    else
        sim__conn_want(s, p);
    if (p->w.t_ms >= s->o->duration_ms)
        sim__player_done(s, p);
    else
        sim__schedule(s, p);
}

/* ---- the end of the run -------------------------------------------------------- */

static void sim__finish(sim *s)
{
    if (s->finished)
        return;
    s->finished = 1;
    for (uint32_t i = 0; i < s->o->players; i++) {
        sim_player *p = &s->pl[i];
        s->r->unacked += p->nout;
        event_del(p->tick);
        event_del(p->retry);
        sim__conn_close(s, p);
    }
    if (s->r->unacked)
        sim__fail(s, "%llu pings were never acknowledged", (unsigned long long)s->r->unacked);
    if (!s->closing) {
        event_base_loopexit(s->base, NULL);
        return;
    }
    struct timeval tv = {SIM_CLOSE_WAIT_MS / 1000, (SIM_CLOSE_WAIT_MS % 1000) * 1000};
    event_add(s->end_ev, &tv);
}

void sim__check_end(sim *s)
{
    if (s->ending && !s->finished && s->outstanding == 0)
        sim__finish(s);
}

void sim__closed_one(sim *s)
{
    if (--s->closing == 0 && s->finished)
        event_base_loopexit(s->base, NULL);
}

static void sim__deadline_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    sim__finish(ud);
}

static void sim__end_cb(evutil_socket_t fd, short what, void *ud)
{
    sim *s = ud;
    (void)fd;
    (void)what;
    event_base_loopexit(s->base, NULL);
}

static void sim__fmt_ms(char *out, size_t cap, uint64_t us)
{
    if (us < 10000)
        snprintf(out, cap, "%.2fms", (double)us / 1000.0);
    else
        snprintf(out, cap, "%.0fms", (double)us / 1000.0);
}

static void sim__progress_cb(evutil_socket_t fd, short what, void *ud)
{
    sim *s = ud;
    (void)fd;
    (void)what;
    uint64_t now = cn_mono_ns();
    double dt = (double)(now - s->last_ns) / 1e9;
    char p50[16], p99[16];
    sim__fmt_ms(p50, sizeof(p50), sim_hist_quantile(&s->win, 0.50));
    sim__fmt_ms(p99, sizeof(p99), sim_hist_quantile(&s->win, 0.99));
    fprintf(s->o->progress,
            "sim: %5.0fs players %u/%u conns %u pings/s %.0f acks/s %.0f acked %llu/%llu p50 %s "
            "p99 %s%s\n",
            (double)(now - s->t0_ns) / 1e9, s->o->players - s->players_done, s->o->players, s->open,
            (double)(s->r->pings_sent - s->last_sent) / dt,
            (double)(s->r->pings_acked - s->last_acked) / dt, (unsigned long long)s->r->pings_acked,
            (unsigned long long)s->r->pings_sent, p50, p99,
            s->finished ? " (closing)"
            : s->ending ? " (waiting for acks)"
                        : "");
    fflush(s->o->progress);
    s->last_sent = s->r->pings_sent;
    s->last_acked = s->r->pings_acked;
    s->last_ns = now;
    sim_hist_reset(&s->win);
}

/* ---- setup and teardown ---------------------------------------------------------- */

static int sim__setup_players(sim *s)
{
    const sim_opts *o = s->o;
    s->pl = cn_calloc(o->players, sizeof(*s->pl));
    s->orders = cn_calloc((size_t)o->players * o->nbeacons, sizeof(uint32_t));
    s->cq = cn_calloc(o->players, sizeof(uint32_t));
    if (!s->pl || !s->orders || !s->cq)
        return CN_ENOMEM;
    for (uint32_t i = 0; i < o->players; i++) {
        sim_player *p = &s->pl[i];
        p->s = s;
        p->idx = i;
        snprintf(p->id, sizeof(p->id), "%s%05u", o->player_prefix, i);
        p->order = s->orders + (size_t)i * o->nbeacons;
        sim_walker_init(&p->w, &s->venue, o->seed, i, p->order);
        p->tick = evtimer_new(s->base, sim__tick_cb, p);
        p->retry = evtimer_new(s->base, sim__retry_cb, p);
        if (!p->tick || !p->retry)
            return CN_ENOMEM;
    }
    return 0;
}

static void sim__teardown(sim *s)
{
    if (s->pl) {
        for (uint32_t i = 0; i < s->o->players; i++) {
            sim_player *p = &s->pl[i];
            if (p->bev)
                bufferevent_free(p->bev);
            if (p->tick)
                event_free(p->tick);
            if (p->retry)
                event_free(p->retry);
            cn_buf_free(&p->in);
            cn_buf_free(&p->ctl);
            cn_free(p->out);
            free(p->token);
        }
    }
    cn_free(s->pl);
    cn_free(s->orders);
    cn_free(s->cq);
    if (s->progress_ev)
        event_free(s->progress_ev);
    if (s->deadline_ev)
        event_free(s->deadline_ev);
    if (s->end_ev)
        event_free(s->end_ev);
    if (s->drain_ev)
        event_free(s->drain_ev);
    cn_buf_free(&s->frame);
    cn_buf_free(&s->tmp);
    if (s->base)
        event_base_free(s->base);
}

int sim_run(const sim_opts *o, sim_result *res)
{
    memset(res, 0, sizeof(*res));
    sim *s = cn_calloc(1, sizeof(*s));
    if (!s)
        return CN_ENOMEM;
    s->o = o;
    s->r = res;
    int rc = sim__parse_url(s, o->url, res->first_error, sizeof(res->first_error));
    if (!rc)
        rc = sim__fd_budget(o->players, res->first_error, sizeof(res->first_error));
    if (rc)
        goto out;
    s->venue.beacons = o->beacons;
    s->venue.nbeacons = o->nbeacons;
    s->venue.radio = (sim_radio)SIM_RADIO_DEFAULT;
    s->venue.interval_ms = (int64_t)(1000.0 / o->rate + 0.5);
    if (s->venue.interval_ms < 1)
        s->venue.interval_ms = 1;
    res->sources = 1;
    if (s->loopback)
        res->sources = o->sources
                           ? o->sources
                           : (o->players + SIM_PLAYERS_PER_SOURCE - 1) / SIM_PLAYERS_PER_SOURCE;
    if (res->sources < 1)
        res->sources = 1;
    if (res->sources > 250)
        res->sources = 250;
    sim_rng_seed(&s->mask_rng, cn_mono_ns(), (uint64_t)getpid());
    rc = CN_ENOMEM;
    s->base = event_base_new();
    if (!s->base || sim__setup_players(s))
        goto out;
    s->progress_ev = event_new(s->base, -1, EV_PERSIST, sim__progress_cb, s);
    s->deadline_ev = evtimer_new(s->base, sim__deadline_cb, s);
    s->end_ev = evtimer_new(s->base, sim__end_cb, s);
    s->drain_ev = event_new(s->base, -1, 0, sim__drain_cb, s);
    if (!s->progress_ev || !s->deadline_ev || !s->end_ev || !s->drain_ev)
        goto out;
    rc = 0;
    s->t0_ns = s->last_ns = cn_mono_ns();
    res->start_ms = o->start_ms ? o->start_ms : cn_now_ms();
    for (uint32_t i = 0; i < o->players; i++) {
        if (s->pl[i].w.t_ms >= o->duration_ms)
            sim__player_done(s, &s->pl[i]);
        else
            sim__schedule(s, &s->pl[i]);
    }
    if (o->progress) {
        struct timeval sec = {1, 0};
        event_add(s->progress_ev, &sec);
    }
    event_base_dispatch(s->base);
    if (!s->finished)
        sim__finish(s); /* only if the loop stopped on its own: count what is left */
    res->elapsed_s = (double)(cn_mono_ns() - s->t0_ns) / 1e9;
out:
    sim__teardown(s);
    cn_free(s);
    return rc;
}
