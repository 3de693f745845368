/* SPDX-License-Identifier: MIT */
/*
 * cmd_up.c — `cairn up`: a venue in one process.  The log (lg_open on
 * --data), its Kafka listener (kf_server, as `cairn logd`), the gateway
 * (gw_server over the in-process log sink, as `cairn gateway --log`), the
 * hunt worker with its HTTP API (hunt_service, on its own thread) and the
 * dashboard mounted on it (as `cairn hunt --log --http`), and gw_proxy,
 * which serves the worker's HTTP on the gateway's port.  One process because a data directory has
 * one writer (docs/architecture.md, "The data directory and --log").
 *
 * Shutdown (SIGTERM/SIGINT): the gateway drains (no new connections, acks
 * for what is durable, close 1001) while the Kafka listener finishes its
 * in-flight requests; then the worker stops after its committed batch,
 * the store is closed, and lg_close syncs.  Exit 0.  A second signal stops
 * at once (still closing the log).  A restart resumes from the committed
 * offsets: the log recovers to its last synced batch, the worker to its
 * last RocksDB commit (docs/operations.md).
 *
 * Threads: main runs the gateway's loop (gateway, Kafka listener, proxy,
 * signals); the hunt thread runs the worker's loop (hunt_service.c); the log
 * has its writer thread.  Ownership: this file owns everything for the
 * life of the command.
 */
#include "commands.h"

#include "cmd_shared.h"
#include "kf_sasl.h"
#include "cn_cli.h"
#include "cn_err.h"
#include "cn_log.h"
#include "cn_prom.h"
#include "dash_http.h"
#include "dash_hunt.h"
#include "gw_proxy.h"
#include "gw_server.h"
#include "hunt_service.h"
#include "hunt_worker.h"
#include "kf_server.h"
#include "lg.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* HTTP connections piped to the worker at once (dashboards, API clients,
 * scrapers); two fds each, far below the gateway's share. */
#define UP_MAX_HTTP_PIPES 256

static const char *const up_topics[] = {HUNT_TOPIC_IN, HUNT_TOPIC_OUT};

typedef struct up {
    struct event_base *base;
    lg_log *log;
    gw_sink *sink;
    gw_server *gw;
    kf_server *kf;
    gw_proxy *proxy;
    hunt_service *hunt;
    dash_hunt *dh;   /* the dashboard's numbers, from the worker */
    dash_http *dash; /* the dashboard, on the worker's HTTP server and thread */
    struct event *sigterm, *sigint, *sighup, *hunt_failed;
    int tls;                          /* --tls-cert: SIGHUP reloads the gateway's */
    const char *ktls_cert, *ktls_key; /* --kafka-tls-*: SIGHUP reloads; NULL without */
    int draining, pending;
    int status;
} up;

static cn_flag up_flags[] = {
    {"data", "DIR", "./cairn-data", "data directory: the log, and the hunt state under it"},
    {"hunt", "FILE", NULL, "hunt definition (docs/hunts.md); default: the bundled sample hunt"},
    {"listen", "HOST:PORT", "127.0.0.1:8080",
     "WebSocket /ws, dashboard /, /api/*, /metrics, /healthz; port 0 picks one", "http"},
    {"kafka-listen", "HOST:PORT", "127.0.0.1:9092",
     "Kafka wire-protocol listener; port 0 picks one", "kafka"},
    {"kafka-tls-cert", "FILE", NULL,
     "serve Kafka over TLS with this PEM certificate chain (with --kafka-tls-key)"},
    {"kafka-tls-key", "FILE", NULL, "the PEM private key of --kafka-tls-cert"},
    {"sasl-users", "FILE", NULL,
     "require SASL (PLAIN, SCRAM-SHA-256/512) from Kafka clients; FILE has name:password lines, "
     "mode 0600"},
    {"advertise", "HOST:PORT", NULL,
     "Kafka address given to clients in Metadata (default: --kafka-listen's; required when "
     "--kafka-listen is "
     "a wildcard such as 0.0.0.0)"},
    {"partitions", "N", "4", "partitions of ble-raw and hunt-events when they are created"},
    {"node", "NAME", "up",
     "CloudEvent sources /gateway/NAME and /hunt/NAME (keep it across restarts)"},
    {"state", "DIR", "DATA/hunt-state", "the worker's RocksDB state (one hunt per directory)"},
    {"durability", "MODE", "fsync",
     "fsync | interval=DURATION | none: when pings are acknowledged"},
    {"idle-timeout", "DURATION", "5s", "close a player's WebSocket this long after its last ping",
     "idle-close"},
    {"handshake-timeout", "DURATION", "10s",
     "drop connections whose request head is not complete by then"},
    {"auth-key", "FILE", NULL,
     "Ed25519 public key (cairn token keygen); none: development mode (?player=ID)"},
    {"tls-cert", "FILE", NULL,
     "serve wss:// and https:// on --listen: PEM certificate chain, leaf first (reloaded on "
     "SIGHUP)"},
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
    {"max-conns", "N", "18000", "player connections at once (the table is allocated at start)"},
    {"batch", "N", "4096", "worker: input records per RocksDB commit and hunt-events append"},
    {"stay-up-on-log-failure", NULL, NULL,
     "with a log of its own: keep serving (/healthz 503) after the log failed instead of "
     "draining and exiting 1"},
    {"port-file", "PATH", NULL, "write the bound HTTP port here once serving (for tests)"},
};

/* ---- wiring ---------------------------------------------------------------- */

/* Hunt thread: the worker stopped; wake the main loop to shut down. */
static void up_hunt_fail(void *ud)
{
    up *u = ud;
    event_active(u->hunt_failed, 0, 0);
}

/* Log end offsets, for /metrics beside the gateway's and the worker's. */
static int up_log_metrics(up *u, cn_buf *out)
{
    cn_prom w;
    cn_prom_init(&w, out);
    cn_prom_family(&w, "cairn_log_end_offset", CN_PROM_GAUGE, "Next offset of each partition.");
    for (size_t t = 0; t < sizeof(up_topics) / sizeof(up_topics[0]); t++) {
        int n = lg_topic_partitions(u->log, up_topics[t]);
        for (int p = 0; p < n; p++) {
            lg_partition_info pi;
            char part[16];
            snprintf(part, sizeof(part), "%d", p);
            const char *l[] = {"topic", up_topics[t], "partition", part, NULL};
            if (lg_partition_info_get(u->log, up_topics[t], p, &pi) == 0)
                cn_prom_i64(&w, "cairn_log_end_offset", l, pi.log_end_offset);
        }
    }
    return gw_proxy_metrics(u->proxy, &w);
}

static int up_metrics(void *ud, cn_buf *out)
{
    up *u = ud;
    int rc = up_log_metrics(u, out);
    return rc ? rc : hunt_service_metrics(u->hunt, out);
}

/* ---- shutdown --------------------------------------------------------------- */

static void up_part_drained(void *ud)
{
    up *u = ud;
    if (--u->pending == 0)
        event_base_loopexit(u->base, NULL);
}

static void up_drain(up *u, const char *why)
{
    if (u->draining) {
        cn_log_warn("up", "%s again: stopping without waiting", why);
        event_base_loopexit(u->base, NULL);
        return;
    }
    u->draining = 1;
    cn_log_info("up", "%s: draining (no new connections, acking what is durable)", why);
    u->pending = 2;
    gw_server_drain(u->gw, up_part_drained, u);
    kf_server_drain(u->kf, up_part_drained, u);
}

static void up_signal(evutil_socket_t sig, short what, void *ud)
{
    (void)what;
    char why[32];
    snprintf(why, sizeof(why), "signal %d", (int)sig);
    up_drain(ud, why);
}

/* SIGHUP: renewed certificates (--tls-cert, --kafka-tls-cert) for new
 * connections; without either it is logged and ignored (its default action
 * would end the venue without its drain). */
static void up_sighup(evutil_socket_t sig, short what, void *ud)
{
    up *u = ud;
    (void)sig;
    (void)what;
    if (!u->tls && !u->ktls_cert)
        cn_log_info("up", "SIGHUP: no --tls-cert or --kafka-tls-cert, nothing to reload");
    char err[600];
    if (u->tls && gw_server_tls_reload(u->gw, err, sizeof(err)))
        cn_log_error("up", "SIGHUP: TLS certificate not reloaded, the old one stays: %s", err);
    else if (u->tls)
        cn_log_info("up", "SIGHUP: TLS certificate reloaded for new connections");
    cmd_kafka_tls_reload(u->kf, u->ktls_cert, u->ktls_key, "up");
}

static void up_on_hunt_failed(evutil_socket_t fd, short what, void *ud)
{
    up *u = ud;
    (void)fd;
    (void)what;
    u->status = CN_EXIT_FAIL;
    up_drain(u, "hunt worker failed");
}

/* The log failed (the gateway logged why): drain, exit 1. */
static void up_log_failed(void *ud)
{
    up *u = ud;
    u->status = CN_EXIT_FAIL;
    if (!u->draining)
        up_drain(u, "the log failed");
}

/* ---- setup ------------------------------------------------------------------ */

typedef struct up_cfg {
    lg_opts lo;
    kf_server_opts ko;
    gw_server_opts so;
    hunt_service_opts ho;
    int32_t parts;
    char state[4096];
    char advertise[256];
    kf_sasl_users *users;    /* --sasl-users, or NULL */
    struct ssl_ctx_st *ktls; /* --kafka-tls-cert/--kafka-tls-key, or NULL */
} up_cfg;

static int up_parse(cn_cli *cli, up_cfg *c)
{
    int64_t parts, batch;
    if (cn_cli_i64(cli, "partitions", 1, HUNT_MAX_PARTITIONS, &parts) ||
        cn_cli_i64(cli, "batch", 1, HUNT_BATCH_MAX, &batch))
        return CN_EXIT_USAGE;
    lg_opts_init(&c->lo);
    if (cmd_parse_durability(cn_cli_str(cli, "durability"), &c->lo))
        return cn_cli_usage_error(cli, "--durability must be fsync, interval=DURATION or none");
    if (!cmd_is_hostport(cn_cli_str(cli, "kafka-listen")))
        return cn_cli_usage_error(cli,
                                  "--kafka-listen wants HOST:PORT (port 0 picks one), got '%s'",
                                  cn_cli_str(cli, "kafka-listen"));
    gw_server_opts_init(&c->so);
    int rc = cmd_gateway_flags(cli, "listen", CMD_FD_RESERVE_UP, &c->so);
    if (rc)
        return rc;
    c->lo.dir = cn_cli_str(cli, "data");
    const char *st = cn_cli_str(cli, "state");
    /* the default names a place under --data, wherever that is */
    int n = strcmp(st, "DATA/hunt-state") != 0
                ? snprintf(c->state, sizeof(c->state), "%s", st)
                : snprintf(c->state, sizeof(c->state), "%s/hunt-state", c->lo.dir);
    if (n >= (int)sizeof(c->state))
        return cn_cli_usage_error(cli, "--state or --data is too long");
    kf_server_opts_init(&c->ko);
    c->ko.listen = cn_cli_str(cli, "kafka-listen");
    c->ko.default_partitions = c->parts = (int32_t)parts;
    if ((rc = cmd_advertise_flags(cli, "kafka-listen", c->advertise, sizeof(c->advertise),
                                  &c->ko)) != 0)
        return rc;
    if ((rc = cmd_sasl_users(cli, &c->users)) != 0)
        return rc;
    c->ko.sasl_users = c->users;
    if ((rc = cmd_kafka_tls(cli, &c->ktls)) != 0)
        return rc;
    c->ko.tls_ctx = c->ktls;
    memset(&c->ho, 0, sizeof(c->ho));
    c->ho.hunt_file = cn_cli_str(cli, "hunt");
    c->ho.state = c->state;
    c->ho.node = c->so.node;
    c->ho.batch = (uint32_t)batch;
    return 0;
}

static int up_open_log(up *u, up_cfg *c)
{
    int rc = lg_open(&u->log, &c->lo);
    if (rc) {
        fprintf(stderr, "cairn up: cannot open the log in %s: %s%s\n", c->lo.dir, cn_strerror(rc),
                rc == CN_EBUSY ? " (another cairn process owns it: stop it, or give another --data)"
                               : "");
        return rc;
    }
    size_t bad = 0;
    rc = cmd_ensure_topics(u->log, up_topics, sizeof(up_topics) / sizeof(up_topics[0]), c->parts,
                           &bad);
    if (rc)
        fprintf(stderr, "cairn up: cannot create topic %s in %s: %s\n", up_topics[bad], c->lo.dir,
                cn_strerror(rc));
    return rc;
}

static int up_listen(up *u, cn_cli *cli, up_cfg *c)
{
    int rc = kf_server_new(&u->kf, u->base, u->log, &c->ko);
    if (rc) {
        fprintf(stderr, "cairn up: cannot listen on --kafka-listen %s: %s; pick a free HOST:PORT\n",
                c->ko.listen, rc == CN_ESYS ? strerror(errno) : cn_strerror(rc));
        return rc;
    }
    if ((rc = gw_sink_log_new(&u->sink, u->base, u->log, HUNT_TOPIC_IN)) != 0) {
        fprintf(stderr, "cairn up: topic %s: %s\n", HUNT_TOPIC_IN, cn_strerror(rc));
        return rc;
    }
    if ((rc = cmd_gateway_start(&u->gw, u->base, u->sink, &c->so, cli, "listen")) != 0)
        return rc;
    if ((rc = gw_proxy_new(&u->proxy, u->base, hunt_service_http_port(u->hunt),
                           UP_MAX_HTTP_PIPES)) != 0)
        return rc;
    gw_server_set_http_other(u->gw, gw_proxy_take, u->proxy);
    gw_server_set_metrics_extra(u->gw, up_metrics, u);
    gw_server_watch_log(u->gw, u->log, cn_cli_bool(cli, "stay-up-on-log-failure"), up_log_failed,
                        u);
    return 0;
}

/* The dashboard on the worker's HTTP server, before its thread starts. */
static int up_mount_dashboard(up *u)
{
    hunt_service *h = u->hunt;
    int rc = dash_hunt_new(&u->dh, hunt_service_worker(h), hunt_service_io(h));
    if (!rc)
        rc = dash_http_mount(&u->dash, hunt_service_base(h), hunt_service_evhttp(h),
                             dash_hunt_snapshot, u->dh);
    if (rc)
        fprintf(stderr, "cairn up: cannot mount the dashboard: %s\n", cn_strerror(rc));
    return rc;
}

static int up_events(up *u, int tls)
{
    u->sigterm = evsignal_new(u->base, SIGTERM, up_signal, u);
    u->sigint = evsignal_new(u->base, SIGINT, up_signal, u);
    u->tls = tls;
    u->sighup = evsignal_new(u->base, SIGHUP, up_sighup, u);
    u->hunt_failed = event_new(u->base, -1, 0, up_on_hunt_failed, u);
    if (!u->sigterm || !u->sigint || !u->sighup || !u->hunt_failed ||
        evsignal_add(u->sigterm, NULL) || evsignal_add(u->sigint, NULL) ||
        evsignal_add(u->sighup, NULL)) {
        fprintf(stderr, "cairn up: cannot install signal handlers\n");
        return CN_ENOMEM;
    }
    return 0;
}

/* The one block that says where everything is (stdout). */
static void up_print(up *u, cn_cli *cli, up_cfg *c)
{
    const char *http = c->so.listen, *kafka = c->ko.listen;
    int hh = (int)(strrchr(http, ':') - http), kh = (int)(strrchr(kafka, ':') - kafka);
    const char *id, *name;
    uint32_t nb;
    hunt_service_describe(u->hunt, &id, &name, &nb);
    int port = gw_server_port(u->gw);
    char kaddr[320];
    if (c->ko.advertise_host)
        snprintf(kaddr, sizeof(kaddr), "%s:%d (advertised; listening on %.*s:%d)",
                 c->ko.advertise_host, c->ko.advertise_port, kh, kafka, kf_server_port(u->kf));
    else
        snprintf(kaddr, sizeof(kaddr), "%.*s:%d", kh, kafka, kf_server_port(u->kf));
    const char *sfx = c->so.tls_cert ? "s" : ""; /* https, wss */
    printf(
        "cairn up: the venue is running\n"
        "  dashboard  http%s://%.*s:%d/\n"
        "  websocket  ws%s://%.*s:%d/ws?%s\n"
        "  api        http%s://%.*s:%d/api/leaderboard  /api/players/ID  /api/beacons  /metrics  "
        "/healthz\n"
        "  kafka      %s  (topics %s, %s: %d partitions)\n"
        "  data       %s  (hunt state %s)\n"
        "  hunt       %s \"%s\", %u beacons (%s)\n"
        "SIGTERM or Ctrl-C drains and stops.\n",
        sfx, hh, http, port, sfx, hh, http, port,
        c->so.has_auth_key ? "token=TOKEN" : "player=ID (development mode: no --auth-key)", sfx, hh,
        http, port, kaddr, HUNT_TOPIC_IN, HUNT_TOPIC_OUT,
        lg_topic_partitions(u->log, HUNT_TOPIC_IN), c->lo.dir, c->state, id, name, nb,
        c->ho.hunt_file ? c->ho.hunt_file : "the bundled sample hunt");
    fflush(stdout);
    (void)cli;
}

static void up_free(up *u)
{
    if (u->sigterm)
        event_free(u->sigterm);
    if (u->sigint)
        event_free(u->sigint);
    if (u->sighup)
        event_free(u->sighup);
    if (u->hunt_failed)
        event_free(u->hunt_failed);
    gw_proxy_free(u->proxy);
    gw_sink_free(u->sink); /* completes outstanding appends into the server */
    gw_server_free(u->gw);
    kf_server_free(u->kf);
    /* Fetch replies not yet freed by libevent hold segment references
     * that go back to the log: the base goes before the log (as logd). */
    if (u->base)
        event_base_free(u->base);
    dash_http_free(u->dash); /* the hunt thread has stopped: its loop is ours */
    dash_hunt_free(u->dh);
    hunt_service_close(u->hunt);
    lg_close(u->log); /* syncs */
}

static int up_run(cn_cli *cli, up_cfg *c)
{
    up u;
    memset(&u, 0, sizeof(u));
    char err[512] = "";
    int rc;
    c->ho.on_fail = up_hunt_fail;
    c->ho.ud = &u;
    if ((rc = up_open_log(&u, c)) != 0)
        goto out;
    if ((rc = hunt_service_open(&u.hunt, u.log, &c->ho, err, sizeof(err))) != 0) {
        fprintf(stderr, "cairn up: %s\n", err);
        goto out;
    }
    if ((rc = up_mount_dashboard(&u)) != 0)
        goto out;
    if (!(u.base = event_base_new()) || (rc = up_listen(&u, cli, c)) != 0 ||
        (rc = up_events(&u, c->so.tls_cert != NULL)) != 0)
        goto out;
    const char *pf = cn_cli_str(cli, "port-file");
    if (pf && cmd_write_port_file(pf, gw_server_port(u.gw))) {
        fprintf(stderr, "cairn up: cannot write --port-file %s\n", pf);
        goto out;
    }
    if (hunt_service_start(u.hunt)) {
        fprintf(stderr, "cairn up: cannot start the hunt worker's thread\n");
        goto out;
    }
    u.ktls_cert = c->ktls ? cn_cli_str(cli, "kafka-tls-cert") : NULL;
    u.ktls_key = c->ktls ? cn_cli_str(cli, "kafka-tls-key") : NULL;
    up_print(&u, cli, c);
    u.status = CN_EXIT_OK;
    event_base_dispatch(u.base);
    if (hunt_service_stop(u.hunt))
        u.status = CN_EXIT_FAIL;
    cn_log_info("up", "drained; closing the worker's state and the log");
    up_free(&u);
    return u.status;
out:
    hunt_service_stop(u.hunt);
    up_free(&u);
    return CN_EXIT_FAIL;
}

int cmd_up(int argc, char **argv)
{
    cn_cli cli = {
        "cairn up",
        "[flags]",
        "Run a venue in one process: the log and its Kafka listener, the WebSocket gateway, the "
        "hunt "
        "worker, its API and the dashboard, with the bundled sample hunt unless --hunt is given.  "
        "SIGTERM/SIGINT drain and exit 0; a restart resumes where it stopped.",
        up_flags,
        sizeof(up_flags) / sizeof(up_flags[0]),
        0,
        0,
        NULL,
        0};
    int rc = cn_cli_parse(&cli, argc, argv);
    if (rc) {
        cn_cli_free(&cli);
        return rc == CN_DONE ? CN_EXIT_OK : CN_EXIT_USAGE;
    }
    up_cfg c;
    memset(&c, 0, sizeof(c));
    int status = up_parse(&cli, &c);
    if (!status) {
        /* The log's writer thread wakes the gateway's loop, and the hunt
         * thread wakes the main loop: libevent must be thread-aware before
         * any base exists. */
        evthread_use_pthreads();
        status = up_run(&cli, &c);
    }
    kf_sasl_users_free(c.users);
    kf_tls_ctx_free(c.ktls);
    cn_cli_free(&cli);
    return status;
}
