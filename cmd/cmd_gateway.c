/* SPDX-License-Identifier: MIT */
/*
 * cmd_gateway.c — `cairn gateway`: the WebSocket tier.  One process
 * (--workers 1) runs a gw_server with an in-process log (--data DIR) or a
 * librdkafka producer (--brokers).  With --workers N > 1 this process is a
 * supervisor (gateway/gw_supervisor.c): it starts N worker processes (this
 * binary again, with --reuseport, so they share the port) and, with --data,
 * owns the log and serves it over the Kafka protocol on a private loopback
 * port that the workers use as their --brokers (one writer per data
 * directory; see
 * docs/architecture.md "Workers and the data directory").
 *
 * SIGTERM/SIGINT drain: workers stop accepting and reading, send the acks
 * of what is durable, close with 1001 and exit 0; the supervisor waits for
 * them, drains its Kafka server, closes the log and exits 0.
 * Threads: main runs the libevent loop; the log and librdkafka run their
 * own threads.  This file parses the flags and owns the base, log, sink,
 * server and supervisor.
 */
#include "commands.h"
#include "cmd_shared.h"

#include "cn_cli.h"
#include "cn_err.h"
#include "cn_log.h"
#include "cn_time.h"
#include "gw_server.h"
#include "gw_supervisor.h"
#include "kf_server.h"
#include "lg.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct gwc {
    struct event_base *base;
    gw_server *srv;    /* one serving process */
    gw_supervisor *sv; /* --workers > 1 */
    kf_server *kf;     /* --workers > 1 with --data: the workers' private broker */
    const char *port_file;
    int port;
    int draining;
    int log_failed; /* the log failed: drained, exit 1 */
    int tls;        /* --tls-cert given: SIGHUP reloads it (else SIGHUP is ignored) */
} gwc;

static cn_flag gw_flags[] = {
    {"listen", "HOST:PORT", "127.0.0.1:8080", "WebSocket + HTTP listener; port 0 picks one"},
    {"workers", "N", "1", "processes sharing the port (SO_REUSEPORT); each has its own fd budget"},
    {"data", "DIR", NULL,
     "append in-process to the log in DIR (with --workers > 1: through this process)", "log"},
    {"brokers", "H:P,...", NULL, "append through librdkafka to a cairn logd or a Kafka cluster"},
    {"topic", "NAME", "ble-raw", "topic the pings go to"},
    {"partitions", "N", "4", "partitions of the topic when --data has to create it"},
    {"durability", "MODE", "fsync",
     "--data: fsync | interval=DURATION | none (acks wait for this)"},
    {"node", "NAME", "gw", "node name: CloudEvent source /gateway/NAME (workers add -wI)"},
    {"idle-timeout", "DURATION", "5s", "close with 1000 \"idle\" this long after the last ping",
     "idle-close"},
    {"handshake-timeout", "DURATION", "10s",
     "drop connections whose request head is not complete by then"},
    {"stall-close", "DURATION", "10s",
     "close with 1013 connections held back by a slow log this long"},
    {"auth-key", "FILE", NULL,
     "Ed25519 public key (cairn token keygen → FILE.pub); none: development mode"},
    {"tls-cert", "FILE", NULL,
     "serve wss:// and https://: PEM certificate chain, leaf first (reloaded on SIGHUP)"},
    {"tls-key", "FILE", NULL, "the PEM private key of --tls-cert (reloaded on SIGHUP)"},
    {"max-buffer-bytes", "SIZE", "256MiB",
     "heap all connections' partial messages and unsent output may hold; beyond, the connection "
     "growing is closed; 0: no limit"},
    {"max-half-open", "N", "4096",
     "connections not yet upgraded or answered at once; beyond, 503 at once; 0: no limit"},
    {"max-tls-handshakes", "N", "2048",
     "TLS handshakes in progress at once (~72 KB each); beyond, closed at once; 0: no limit"},
    {"trusted-proxies", "CIDR,...", NULL,
     "proxies whose X-Forwarded-For (and PROXY header) names the client"},
    {"proxy-protocol", NULL, NULL,
     "connections from --trusted-proxies start with a PROXY protocol v1/v2 header"},
    {"max-conns", "N", "19000", "connections held at once per process (table preallocated)"},
    {"max-conns-per-ip", "N", "0", "connections per source address; 0: no limit"},
    {"max-msg-bytes", "SIZE", "64KiB", "largest WebSocket message; larger closes with 1009"},
    {"max-inflight", "N", "100000",
     "pings appended but not durable before reading stops (per process)"},
    {"produce-timeout", "DURATION", "30s",
     "--brokers: give up on a message after this (never acked)"},
    {"sock-buf", "SIZE", "4KiB", "kernel socket send/receive buffer per connection"},
    {"port-file", "PATH", NULL, "write the bound port here once listening (for tests)"},
    {"stay-up-on-log-failure", NULL, NULL,
     "with a log of its own: keep serving (/healthz 503) after the log failed instead of "
     "draining and exiting 1"},
    {"reuseport", NULL, NULL, "bind with SO_REUSEPORT (set by --workers for its workers)"},
};

/* ---- one serving process ------------------------------------------------ */

static void gwc_drained(void *ud)
{
    gwc *g = ud;
    event_base_loopexit(g->base, NULL);
}

/* Supervisor: the last worker is gone; the log's Kafka listener goes next. */
static void gwc_workers_gone(void *ud)
{
    gwc *g = ud;
    if (g->kf)
        kf_server_drain(g->kf, gwc_drained, g);
    else
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
    cn_log_info("gw", "signal %d: draining %d workers", (int)sig, gw_supervisor_alive(g->sv));
    gw_supervisor_drain(g->sv, gwc_workers_gone, g);
}

/* SIGHUP with --tls-cert: load the certificate and key again (renewed
 * files) for new connections; a supervisor passes it to every worker.
 * Without TLS it is logged and ignored (never the default action, which
 * would end the process without its drain). */
static void gwc_sighup(evutil_socket_t sig, short what, void *ud)
{
    gwc *g = ud;
    (void)sig;
    (void)what;
    if (!g->tls) {
        cn_log_info("gw", "SIGHUP: no --tls-cert, nothing to reload");
        return;
    }
    if (!g->sv && !g->srv)
        return; /* not serving yet: the files are read at start */
    if (g->sv) {
        cn_log_info("gw", "SIGHUP: workers reload the TLS certificate");
        gw_supervisor_signal(g->sv, SIGHUP);
        return;
    }
    char err[600];
    if (gw_server_tls_reload(g->srv, err, sizeof(err)))
        cn_log_error("gw", "SIGHUP: TLS certificate not reloaded, the old one stays: %s", err);
    else
        cn_log_info("gw", "SIGHUP: TLS certificate reloaded for new connections");
}

/* The log failed (gw_server_watch_log logged why): drain, then exit 1 so
 * a supervisor restarts us and recovery runs. */
static void gwc_log_failed(void *ud)
{
    gwc *g = ud;
    g->log_failed = 1;
    if (g->draining)
        return;
    g->draining = 1;
    gw_server_drain(g->srv, gwc_drained, g);
}

static int gwc_signals(gwc *g, struct event **term, struct event **intr, struct event **hup)
{
    *term = evsignal_new(g->base, SIGTERM, gwc_signal, g);
    *intr = evsignal_new(g->base, SIGINT, gwc_signal, g);
    *hup = evsignal_new(g->base, SIGHUP, gwc_sighup, g);
    if (!*term || !*intr || !*hup || evsignal_add(*term, NULL) || evsignal_add(*intr, NULL) ||
        evsignal_add(*hup, NULL)) {
        fprintf(stderr, "cairn gateway: cannot install signal handlers\n");
        return CN_ENOMEM;
    }
    return 0;
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

/* Every worker listens: the gateway's port file. */
static void gwc_ready(void *ud)
{
    gwc *g = ud;
    if (cmd_write_port_file(g->port_file, g->port))
        cn_log_error("gw", "cannot write --port-file %s", g->port_file);
}

/* argv for a worker: every flag given to us except the ones the
 * supervisor decides, then those.  Static storage: lives until exec. */
static char **gwc_worker_argv(cn_cli *cli, const char *listen, const char *brokers)
{
    static const char *skip[] = {"workers",    "data",       "brokers",  "listen",
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

/* The log and its private Kafka listener, which the workers use as their
 * --brokers (one writer per data directory). */
static int gwc_serve_log(gwc *g, lg_log **log, lg_opts *lo, const char *topic, int32_t parts,
                         char *brokers, size_t cap)
{
    int rc = lg_open(log, lo);
    if (rc || (rc = gwc_ensure_topic(*log, topic, parts)) != 0) {
        fprintf(stderr, "cairn gateway: cannot open the log in %s: %s%s\n", lo->dir,
                cn_strerror(rc), rc == CN_EBUSY ? " (is another cairn process using it?)" : "");
        return rc;
    }
    kf_server_opts ko;
    kf_server_opts_init(&ko);
    ko.listen = "127.0.0.1:0";
    ko.default_partitions = parts;
    if ((rc = kf_server_new(&g->kf, g->base, *log, &ko)) != 0) {
        fprintf(stderr, "cairn gateway: cannot start the private Kafka listener\n");
        return rc;
    }
    snprintf(brokers, cap, "127.0.0.1:%d", kf_server_port(g->kf));
    return 0;
}

static int gwc_supervise(gwc *g, cn_cli *cli, int64_t workers, const char *brokers_in, lg_opts *lo,
                         int32_t parts)
{
    lg_log *log = NULL;
    char brokers[4096], listen[300];
    char **wargv = NULL;
    int holdfd = -1, rc, status = CN_EXIT_FAIL;
    struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL;
    if (gw_supervisor_reserve(cn_cli_str(cli, "listen"), listen, sizeof(listen), &g->port,
                              &holdfd)) {
        fprintf(stderr, "cairn gateway: cannot bind %s: %s; pick another --listen\n",
                cn_cli_str(cli, "listen"), strerror(errno));
        return CN_EXIT_FAIL;
    }
    if (lo->dir) {
        if (gwc_serve_log(g, &log, lo, cn_cli_str(cli, "topic"), parts, brokers, sizeof(brokers)))
            goto out;
        cn_log_info("gw", "log %s served to %lld workers on %s", lo->dir, (long long)workers,
                    brokers);
    } else {
        snprintf(brokers, sizeof(brokers), "%s", brokers_in);
    }
    if (!(wargv = gwc_worker_argv(cli, listen, brokers)) ||
        gwc_signals(g, &sigterm, &sigint, &sighup) != 0)
        goto out;
    g->port_file = cn_cli_str(cli, "port-file");
    gw_supervisor_opts vo = {(int)workers, wargv, g->port_file, gwc_ready, g};
    if ((rc = gw_supervisor_start(&g->sv, g->base, &vo)) != 0) {
        fprintf(stderr, "cairn gateway: cannot start the workers: %s\n",
                rc == CN_ESYS ? strerror(errno) : cn_strerror(rc));
        goto out;
    }
    cn_log_info("gw", "%d workers on %s", (int)workers, listen);
    event_base_dispatch(g->base);
    status = CN_EXIT_OK;
out:
    if (holdfd >= 0)
        close(holdfd);
    if (gw_supervisor_free(g->sv))
        status = CN_EXIT_FAIL;
    g->sv = NULL;
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (sighup)
        event_free(sighup);
    kf_server_free(g->kf);
    lg_close(log);
    free(wargv);
    return status;
}

/* ---- entry ----------------------------------------------------------------- */

static int gwc_serve(gwc *g, cn_cli *cli, gw_server_opts *so, const char *brokers, lg_opts *lo,
                     int32_t parts, int64_t produce_timeout)
{
    lg_log *log = NULL;
    gw_sink *sink = NULL;
    struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL;
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
    if (cmd_gateway_start(&g->srv, g->base, sink, so, cli, "listen"))
        goto out;
    if (log)
        gw_server_watch_log(g->srv, log, cn_cli_bool(cli, "stay-up-on-log-failure"), gwc_log_failed,
                            g);
    if (gwc_signals(g, &sigterm, &sigint, &sighup))
        goto out;
    const char *pf = cn_cli_str(cli, "port-file");
    if (pf && cmd_write_port_file(pf, gw_server_port(g->srv))) {
        fprintf(stderr, "cairn gateway: cannot write --port-file %s\n", pf);
        goto out;
    }
    cn_log_info("gw", "listening on port %d (%s, node %s, %s sink, topic %s with %d partitions%s)",
                gw_server_port(g->srv), so->tls_cert ? "wss" : "ws", so->node, sink->kind, topic,
                sink->partitions, so->has_auth_key ? "" : ", DEVELOPMENT MODE: no --auth-key");
    event_base_dispatch(g->base);
    status = sink->failed || g->log_failed ? CN_EXIT_FAIL : CN_EXIT_OK;
out:
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (sighup)
        event_free(sighup);
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
        "(--data DIR | --brokers H:P,...) [flags]",
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
    int64_t workers, parts, maxip, inflight, stall, ptmo;
    uint64_t maxmsg, sockbuf;
    gw_server_opts so;
    gw_server_opts_init(&so);
    lg_opts lo;
    lg_opts_init(&lo);
    if (cn_cli_i64(&cli, "workers", 1, GW_SUPERVISOR_MAX_WORKERS, &workers) ||
        cn_cli_i64(&cli, "partitions", 1, 10000, &parts) ||
        cn_cli_i64(&cli, "max-conns-per-ip", 0, 1000000, &maxip) ||
        cn_cli_i64(&cli, "max-inflight", 1, 100000000, &inflight) ||
        cn_cli_duration_ms(&cli, "stall-close", &stall) ||
        cn_cli_duration_ms(&cli, "produce-timeout", &ptmo) ||
        cn_cli_size(&cli, "max-msg-bytes", &maxmsg) || cn_cli_size(&cli, "sock-buf", &sockbuf))
        goto out;
    const char *logdir = cn_cli_str(&cli, "data"), *brokers = cn_cli_str(&cli, "brokers");
    if (!logdir == !brokers) {
        status = cn_cli_usage_error(&cli, "give exactly one of --data DIR or --brokers H:P,...");
        goto out;
    }
    if (stall < 100 || ptmo < 100) {
        status =
            cn_cli_usage_error(&cli, "--stall-close and --produce-timeout must be at least 100ms");
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
    if ((status = cmd_gateway_flags(&cli, "listen", CMD_FD_RESERVE_GATEWAY, &so)) != 0)
        goto out;
    so.reuseport = cn_cli_bool(&cli, "reuseport");
    so.stall_close_ms = stall;
    so.max_conns_per_ip = (uint32_t)maxip;
    so.max_msg_bytes = maxmsg;
    so.max_inflight = (uint32_t)inflight;
    so.sock_buf = (int)sockbuf;
    status = CN_EXIT_FAIL;
    lo.dir = logdir;
    /* Completions arrive on the log's writer thread and wake the loop with
     * event_active: libevent must be thread-aware before the base exists. */
    evthread_use_pthreads();
    gwc g;
    memset(&g, 0, sizeof(g));
    g.tls = so.tls_cert != NULL;
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
