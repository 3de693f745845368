/* SPDX-License-Identifier: MIT */
/*
 * cmd_gateway.c — `cairn gateway`: the WebSocket tier.  One process
 * (--workers 1) runs a gw_server with an in-process log (--log DIR) or a
 * librdkafka producer (--brokers).  With --workers N > 1 this process is a
 * supervisor: it starts N worker processes (this binary again, with
 * --reuseport, so they share the port) and, with --log, owns the log and
 * serves it over the Kafka protocol on a private loopback port that the
 * workers use as their --brokers (one writer per data directory; see
 * docs/architecture.md "Workers and the data directory").
 *
 * SIGTERM/SIGINT drain: workers stop accepting and reading, send the acks
 * of what is durable, close with 1001 and exit 0; the supervisor waits for
 * them, drains its Kafka server, closes the log and exits 0.
 * Threads: main runs the libevent loop; the log and librdkafka run their
 * own threads.  This file owns the base, log, sink, server and workers.
 */
#include "commands.h"
#include "cmd_shared.h"

#include "cn_cli.h"
#include "cn_err.h"
#include "cn_log.h"
#include "cn_time.h"
#include "gw_server.h"
#include "auth.h"
#include "kf_server.h"
#include "lg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define GWC_MAX_WORKERS 64

typedef struct gwc {
    struct event_base *base;
    gw_server *srv;
    kf_server *kf;
    int draining;
    /* supervisor */
    int nworkers;
    pid_t pids[GWC_MAX_WORKERS];
    int alive;
    char **wargv;
    const char *port_file;
    int port;
    struct event *sigchld, *pf_timer;
    int status;
    pid_t self;
} gwc;

static cn_flag gw_flags[] = {
    {"listen", "HOST:PORT", "127.0.0.1:8080", "WebSocket + HTTP listener; port 0 picks one"},
    {"workers", "N", "1", "processes sharing the port (SO_REUSEPORT); each has its own fd budget"},
    {"log", "DIR", NULL,
     "append in-process to the log in DIR (with --workers > 1: through this process)"},
    {"brokers", "H:P,...", NULL, "append through librdkafka to a cairn logd or a Kafka cluster"},
    {"topic", "NAME", "ble-raw", "topic the pings go to"},
    {"partitions", "N", "4", "partitions of the topic when --log has to create it"},
    {"durability", "MODE", "fsync", "--log: fsync | interval=DURATION | none (acks wait for this)"},
    {"node", "NAME", "gw", "node name: CloudEvent source /gateway/NAME (workers add -wI)"},
    {"idle-close", "DURATION", "5s", "close with 1000 \"idle\" this long after the last ping"},
    {"handshake-timeout", "DURATION", "10s",
     "drop connections whose request head is not complete by then"},
    {"stall-close", "DURATION", "10s",
     "close with 1013 connections held back by a slow log this long"},
    {"auth-key", "FILE", NULL,
     "Ed25519 public key (cairn token keygen → FILE.pub); none: development mode"},
    {"max-conns", "N", "19000", "connections held at once per process (table preallocated)"},
    {"max-conns-per-ip", "N", "0", "connections per source address; 0: no limit"},
    {"max-msg-bytes", "SIZE", "64KiB", "largest WebSocket message; larger closes with 1009"},
    {"max-inflight", "N", "100000",
     "pings appended but not durable before reading stops (per process)"},
    {"produce-timeout", "DURATION", "30s",
     "--brokers: give up on a message after this (never acked)"},
    {"sock-buf", "SIZE", "4KiB", "kernel socket send/receive buffer per connection"},
    {"port-file", "PATH", NULL, "write the bound port here once listening (for tests)"},
    {"reuseport", NULL, NULL, "bind with SO_REUSEPORT (set by --workers for its workers)"},
};

/* ---- one serving process ------------------------------------------------ */

static void gwc_drained(void *ud)
{
    gwc *g = ud;
    event_base_loopexit(g->base, NULL);
}

static void gwc_signal(evutil_socket_t sig, short what, void *ud)
{
    gwc *g = ud;
    (void)what;
    if (g->draining) {
        cn_log_warn("gw", "second signal %d: exiting without waiting", (int)sig);
        event_base_loopexit(g->base, NULL);
        return;
    }
    g->draining = 1;
    if (g->srv) {
        cn_log_info("gw", "signal %d: draining (no new connections, acking what is durable)",
                    (int)sig);
        gw_server_drain(g->srv, gwc_drained, g);
        return;
    }
    /* supervisor: tell the workers; the log goes when they are gone */
    cn_log_info("gw", "signal %d: draining %d workers", (int)sig, g->alive);
    for (int i = 0; i < g->nworkers; i++)
        if (g->pids[i] > 0)
            kill(g->pids[i], SIGTERM);
    if (!g->alive) {
        if (g->kf)
            kf_server_drain(g->kf, gwc_drained, g);
        else
            event_base_loopexit(g->base, NULL);
    }
}

static int gwc_ensure_topic(lg_log *log, const char *topic, int32_t parts)
{
    if (lg_topic_partitions(log, topic) > 0)
        return 0;
    lg_topic_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.partitions = parts;
    int rc = lg_topic_create(log, topic, &cfg);
    return rc == CN_EEXIST ? 0 : rc;
}

/* ---- supervisor ----------------------------------------------------------- */

static pid_t gwc_spawn(gwc *g, int i)
{
    char node_arg[128], pf_arg[4200];
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* child: if the supervisor dies (even by SIGKILL), drain and exit
     * rather than serve on as an orphan nobody will stop */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != g->self)
        _exit(1); /* the supervisor died before prctl took effect */
    /* fill in its own node name and port file, then exec */
    for (int k = 0; g->wargv[k]; k++) {
        if (strcmp(g->wargv[k], "--node") == 0) {
            snprintf(node_arg, sizeof(node_arg), "%s-w%d", g->wargv[k + 1], i);
            g->wargv[k + 1] = node_arg;
        }
        if (strcmp(g->wargv[k], "--port-file") == 0) {
            snprintf(pf_arg, sizeof(pf_arg), "%s.w%d", g->wargv[k + 1], i);
            g->wargv[k + 1] = pf_arg;
        }
    }
    execv("/proc/self/exe", g->wargv);
    fprintf(stderr, "cairn gateway: cannot start worker: %s\n", strerror(errno));
    _exit(1);
}

static void gwc_sigchld(evutil_socket_t sig, short what, void *ud)
{
    gwc *g = ud;
    (void)sig;
    (void)what;
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (int i = 0; i < g->nworkers; i++) {
            if (g->pids[i] != pid)
                continue;
            g->pids[i] = 0;
            g->alive--;
            int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
            if (!ok && g->draining)
                g->status = CN_EXIT_FAIL; /* a worker failed its drain */
            if (!g->draining) {
                /* A worker died: its clients reconnect to the others;
                 * start a new one so the port keeps its capacity. */
                cn_log_error("gw", "worker %d (pid %d) ended (status %d); starting another", i,
                             (int)pid, st);
                g->pids[i] = gwc_spawn(g, i);
                if (g->pids[i] > 0)
                    g->alive++;
            }
        }
    }
    if (g->draining && !g->alive) {
        if (g->kf)
            kf_server_drain(g->kf, gwc_drained, g);
        else
            event_base_loopexit(g->base, NULL);
    }
}

/* Once every worker has written its port file, write ours. */
static void gwc_pf_check(evutil_socket_t fd, short what, void *ud)
{
    gwc *g = ud;
    (void)fd;
    (void)what;
    char p[4200];
    for (int i = 0; i < g->nworkers; i++) {
        struct stat st;
        snprintf(p, sizeof(p), "%s.w%d", g->port_file, i);
        if (stat(p, &st))
            return;
    }
    if (cmd_write_port_file(g->port_file, g->port))
        cn_log_error("gw", "cannot write --port-file %s", g->port_file);
    event_del(g->pf_timer);
}

/* The port all workers bind: port 0 is resolved here once, by binding a
 * SO_REUSEPORT socket that never listens (so it takes no connections).  It
 * is kept for the supervisor's life: the port stays reserved for this
 * gateway even while every worker is being restarted. */
static int gwc_resolve_listen(const char *listen, char *out, size_t cap, int *port, int *holdfd)
{
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return CN_EINVAL;
    char host[256];
    size_t hl = (size_t)(colon - listen);
    if (hl >= sizeof(host))
        return CN_EINVAL;
    memcpy(host, listen, hl);
    host[hl] = 0;
    char *h = host;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h[hl - 1] = 0;
        h++;
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(h, colon + 1, &hints, &ai) || !ai)
        return CN_EINVAL;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen)) {
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return CN_ESYS;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                          : ((struct sockaddr_in6 *)&ss)->sin6_port);
    snprintf(out, cap, "%.*s:%d", (int)hl, listen, *port);
    *holdfd = fd;
    return 0;
}

/* argv for a worker: every flag given to us except the ones the
 * supervisor decides, then those.  Static storage: lives until exec. */
static char **gwc_worker_argv(cn_cli *cli, const char *listen, const char *brokers)
{
    static const char *skip[] = {"workers",    "log",        "brokers",  "listen",
                                 "durability", "partitions", "reuseport"};
    size_t cap = 2 * cli->nflags + 16, n = 0;
    char **av = calloc(cap, sizeof(char *));
    if (!av)
        return NULL;
    av[n++] = "cairn";
    av[n++] = "gateway";
    for (size_t i = 0; i < cli->nflags; i++) {
        cn_flag *f = &cli->flags[i];
        int skipped = 0;
        for (size_t k = 0; k < sizeof(skip) / sizeof(skip[0]); k++)
            skipped |= strcmp(f->name, skip[k]) == 0;
        if (skipped || (!f->set && strcmp(f->name, "node") != 0))
            continue;
        static char names[32][40];
        snprintf(names[i % 32], sizeof(names[0]), "--%s", f->name);
        av[n++] = names[i % 32];
        if (f->arg)
            av[n++] = (char *)f->val;
    }
    av[n++] = "--listen";
    av[n++] = (char *)listen;
    av[n++] = "--brokers";
    av[n++] = (char *)brokers;
    av[n++] = "--reuseport";
    av[n] = NULL;
    return av;
}

static int gwc_supervise(gwc *g, cn_cli *cli, int64_t workers, const char *brokers_in, lg_opts *lo,
                         int32_t parts)
{
    lg_log *log = NULL;
    char brokers[4096], listen[300];
    int holdfd = -1, rc;
    struct event *sigterm = NULL, *sigint = NULL;
    g->status = CN_EXIT_FAIL;
    if (gwc_resolve_listen(cn_cli_str(cli, "listen"), listen, sizeof(listen), &g->port, &holdfd)) {
        fprintf(stderr, "cairn gateway: cannot bind %s: %s; pick another --listen\n",
                cn_cli_str(cli, "listen"), strerror(errno));
        return CN_EXIT_FAIL;
    }
    if (lo->dir) {
        rc = lg_open(&log, lo);
        if (rc || gwc_ensure_topic(log, cn_cli_str(cli, "topic"), parts)) {
            fprintf(stderr, "cairn gateway: cannot open the log in %s: %s%s\n", lo->dir,
                    cn_strerror(rc), rc == CN_EBUSY ? " (is another cairn process using it?)" : "");
            goto out;
        }
        kf_server_opts ko;
        kf_server_opts_init(&ko);
        ko.listen = "127.0.0.1:0";
        ko.default_partitions = parts;
        if (kf_server_new(&g->kf, g->base, log, &ko)) {
            fprintf(stderr, "cairn gateway: cannot start the private Kafka listener\n");
            goto out;
        }
        snprintf(brokers, sizeof(brokers), "127.0.0.1:%d", kf_server_port(g->kf));
        cn_log_info("gw", "log %s served to %lld workers on 127.0.0.1:%d", lo->dir,
                    (long long)workers, kf_server_port(g->kf));
    } else {
        snprintf(brokers, sizeof(brokers), "%s", brokers_in);
    }
    g->wargv = gwc_worker_argv(cli, listen, brokers);
    if (!g->wargv)
        goto out;
    g->nworkers = (int)workers;
    g->self = getpid();
    g->port_file = cn_cli_str(cli, "port-file");
    sigterm = evsignal_new(g->base, SIGTERM, gwc_signal, g);
    sigint = evsignal_new(g->base, SIGINT, gwc_signal, g);
    g->sigchld = evsignal_new(g->base, SIGCHLD, gwc_sigchld, g);
    g->pf_timer = event_new(g->base, -1, EV_PERSIST, gwc_pf_check, g);
    if (!sigterm || !sigint || !g->sigchld || !g->pf_timer || evsignal_add(sigterm, NULL) ||
        evsignal_add(sigint, NULL) || evsignal_add(g->sigchld, NULL))
        goto out;
    for (int i = 0; i < g->nworkers; i++) {
        g->pids[i] = gwc_spawn(g, i);
        if (g->pids[i] < 0) {
            fprintf(stderr, "cairn gateway: fork failed: %s\n", strerror(errno));
            goto out;
        }
        g->alive++;
    }
    if (g->port_file) {
        struct timeval tv = {0, 50000};
        event_add(g->pf_timer, &tv);
    }
    cn_log_info("gw", "%d workers on %s", g->nworkers, listen);
    g->status = CN_EXIT_OK;
    event_base_dispatch(g->base);
out:
    if (holdfd >= 0)
        close(holdfd);
    for (int i = 0; i < g->nworkers; i++)
        if (g->pids[i] > 0) {
            kill(g->pids[i], SIGKILL);
            waitpid(g->pids[i], NULL, 0);
            g->status = CN_EXIT_FAIL;
        }
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (g->sigchld)
        event_free(g->sigchld);
    if (g->pf_timer)
        event_free(g->pf_timer);
    kf_server_free(g->kf);
    lg_close(log);
    free(g->wargv);
    return g->status;
}

/* ---- entry ----------------------------------------------------------------- */

static int gwc_serve(gwc *g, cn_cli *cli, gw_server_opts *so, const char *brokers, lg_opts *lo,
                     int32_t parts, int64_t produce_timeout)
{
    lg_log *log = NULL;
    gw_sink *sink = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    int status = CN_EXIT_FAIL, rc;
    const char *topic = cn_cli_str(cli, "topic");
    if (lo->dir) {
        rc = lg_open(&log, lo);
        if (rc) {
            fprintf(stderr, "cairn gateway: cannot open the log in %s: %s%s\n", lo->dir,
                    cn_strerror(rc),
                    rc == CN_EBUSY ? " (another process owns it: use --brokers to its logd)" : "");
            goto out;
        }
        if ((rc = gwc_ensure_topic(log, topic, parts)) ||
            (rc = gw_sink_log_new(&sink, g->base, log, topic))) {
            fprintf(stderr, "cairn gateway: topic %s: %s\n", topic, cn_strerror(rc));
            goto out;
        }
    } else {
        char err[512] = "";
        rc = gw_sink_kafka_new(&sink, g->base, brokers, topic, 15000, produce_timeout, err,
                               sizeof(err));
        if (rc) {
            fprintf(stderr, "cairn gateway: %s\n", err);
            goto out;
        }
    }
    rc = gw_server_new(&g->srv, g->base, sink, so);
    if (rc) {
        if (rc == CN_ESYS)
            fprintf(stderr,
                    "cairn gateway: cannot listen on %s: %s; pick another address or port with "
                    "--listen\n",
                    so->listen, strerror(errno));
        else
            fprintf(stderr, "cairn gateway: cannot listen on %s: %s; --listen wants HOST:PORT\n",
                    so->listen, cn_strerror(rc));
        goto out;
    }
    sigterm = evsignal_new(g->base, SIGTERM, gwc_signal, g);
    sigint = evsignal_new(g->base, SIGINT, gwc_signal, g);
    if (!sigterm || !sigint || evsignal_add(sigterm, NULL) || evsignal_add(sigint, NULL)) {
        fprintf(stderr, "cairn gateway: cannot install signal handlers\n");
        goto out;
    }
    const char *pf = cn_cli_str(cli, "port-file");
    if (pf && cmd_write_port_file(pf, gw_server_port(g->srv))) {
        fprintf(stderr, "cairn gateway: cannot write --port-file %s\n", pf);
        goto out;
    }
    cn_log_info("gw", "listening on port %d (node %s, %s sink, topic %s with %d partitions%s)",
                gw_server_port(g->srv), so->node, sink->kind, topic, sink->partitions,
                so->has_auth_key ? "" : ", DEVELOPMENT MODE: no --auth-key");
    event_base_dispatch(g->base);
    status = sink->failed ? CN_EXIT_FAIL : CN_EXIT_OK;
out:
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    gw_sink_free(sink); /* completes outstanding appends into the server */
    gw_server_free(g->srv);
    g->srv = NULL;
    lg_close(log);
    return status;
}

int cmd_gateway(int argc, char **argv)
{
    cn_cli cli = {
        "cairn gateway",
        "(--log DIR | --brokers H:P,...) [flags]",
        "Run the WebSocket tier: players connect to ws://HOST:PORT/ws?token=TOKEN and send pings; "
        "each ping is appended to the topic as a CloudEvent and acknowledged once durable.  "
        "Also serves GET /healthz and /metrics.  SIGTERM/SIGINT drain and exit 0.",
        gw_flags,
        sizeof(gw_flags) / sizeof(gw_flags[0]),
        0,
        0,
        NULL,
        0};
    int rc = cn_cli_parse(&cli, argc, argv);
    if (rc) {
        cn_cli_free(&cli); /* parse allocates even when it prints help or an error */
        return rc == CN_DONE ? CN_EXIT_OK : CN_EXIT_USAGE;
    }
    int status = CN_EXIT_USAGE;
    int64_t workers, parts, maxc, maxip, inflight, idle, hs, stall, ptmo;
    uint64_t maxmsg, sockbuf;
    gw_server_opts so;
    gw_server_opts_init(&so);
    lg_opts lo;
    lg_opts_init(&lo);
    if (cn_cli_i64(&cli, "workers", 1, GWC_MAX_WORKERS, &workers) ||
        cn_cli_i64(&cli, "partitions", 1, 10000, &parts) ||
        cn_cli_i64(&cli, "max-conns", 1, 1000000, &maxc) ||
        cn_cli_i64(&cli, "max-conns-per-ip", 0, 1000000, &maxip) ||
        cn_cli_i64(&cli, "max-inflight", 1, 100000000, &inflight) ||
        cn_cli_duration_ms(&cli, "idle-close", &idle) ||
        cn_cli_duration_ms(&cli, "handshake-timeout", &hs) ||
        cn_cli_duration_ms(&cli, "stall-close", &stall) ||
        cn_cli_duration_ms(&cli, "produce-timeout", &ptmo) ||
        cn_cli_size(&cli, "max-msg-bytes", &maxmsg) || cn_cli_size(&cli, "sock-buf", &sockbuf))
        goto out;
    const char *logdir = cn_cli_str(&cli, "log"), *brokers = cn_cli_str(&cli, "brokers");
    if (!logdir == !brokers) {
        status = cn_cli_usage_error(&cli, "give exactly one of --log DIR or --brokers H:P,...");
        goto out;
    }
    if (idle < 100 || hs < 100 || stall < 100 || ptmo < 100) {
        status = cn_cli_usage_error(&cli, "durations must be at least 100ms");
        goto out;
    }
    if (maxmsg < 128 || maxmsg > (64u << 20)) {
        status = cn_cli_usage_error(&cli, "--max-msg-bytes must be between 128 and 64MiB");
        goto out;
    }
    if (sockbuf > (16u << 20)) {
        status = cn_cli_usage_error(&cli, "--sock-buf must be at most 16MiB");
        goto out;
    }
    if (cmd_parse_durability(cn_cli_str(&cli, "durability"), &lo)) {
        status = cn_cli_usage_error(&cli, "--durability must be fsync, interval=DURATION or none");
        goto out;
    }
    const char *node = cn_cli_str(&cli, "node");
    if (!cn_id_valid(node, strlen(node)) || strlen(node) > 40) {
        status = cn_cli_usage_error(&cli, "--node must be 1-40 of A-Za-z0-9._:@-");
        goto out;
    }
    so.listen = cn_cli_str(&cli, "listen");
    const char *lc = strrchr(so.listen, ':');
    char *pend = NULL;
    long lport = lc ? strtol(lc + 1, &pend, 10) : -1;
    if (!lc || lc == so.listen || !lc[1] || *pend || lport < 0 || lport > 65535) {
        status = cn_cli_usage_error(&cli, "--listen wants HOST:PORT (port 0 picks one), got '%s'",
                                    so.listen);
        goto out;
    }
    so.reuseport = cn_cli_bool(&cli, "reuseport");
    so.node = node;
    so.idle_close_ms = idle;
    so.handshake_timeout_ms = hs;
    so.stall_close_ms = stall;
    so.max_conns = (uint32_t)maxc;
    so.max_conns_per_ip = (uint32_t)maxip;
    so.max_msg_bytes = maxmsg;
    so.max_inflight = (uint32_t)inflight;
    so.sock_buf = (int)sockbuf;
    const char *keyf = cn_cli_str(&cli, "auth-key");
    status = CN_EXIT_FAIL;
    if (keyf) {
        rc = auth_token_read_public(keyf, so.auth_pk);
        if (rc) {
            fprintf(
                stderr, "cairn gateway: cannot read public key %s: %s%s\n", keyf, cn_strerror(rc),
                rc == AUTH_EKEYFILE ? " (give the .pub file written by cairn token keygen)" : "");
            goto out;
        }
        so.has_auth_key = 1;
    }
    lo.dir = logdir;
    /* Completions arrive on the log's writer thread and wake the loop with
     * event_active: libevent must be thread-aware before the base exists. */
    evthread_use_pthreads();
    gwc g;
    memset(&g, 0, sizeof(g));
    g.base = event_base_new();
    if (!g.base) {
        fprintf(stderr, "cairn gateway: cannot create the event loop\n");
        goto out;
    }
    if (workers > 1)
        status = gwc_supervise(&g, &cli, workers, brokers, &lo, (int32_t)parts);
    else
        status = gwc_serve(&g, &cli, &so, brokers, &lo, (int32_t)parts, ptmo);
    event_base_free(g.base);
out:
    cn_cli_free(&cli);
    return status;
}
