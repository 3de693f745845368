/* SPDX-License-Identifier: MIT */
/*
 * cmd_hunt.c — `cairn hunt`: a hunt worker.  Reads ble-raw (in-process
 * with --data DIR, or from a cairn log node / Kafka cluster with --brokers),
 * keeps the game state in RocksDB (--state), appends hunt-events exactly
 * once and serves the HTTP API (--http).  --rebuild derives a fresh state
 * directory from the log up to its current end and exits.
 * SIGTERM/SIGINT: the batch in progress is always finished and committed
 * (batches run inside one loop callback), then the loop stops, the store
 * is closed (memtables flushed) and the command exits 0.
 *
 * Threads: main runs the libevent loop (HTTP + a batch timer); the log
 * (--data) or librdkafka (--brokers) run their own threads.  Ownership:
 * this file owns every handle for the life of the command.  See
 * docs/cli.md and docs/architecture.md, "The hunt workers".
 */
#include "commands.h"
#include "cmd_shared.h"

#include "cn_alloc.h"
#include "cn_cli.h"
#include "cn_err.h"
#include "cn_log.h"
#include "cn_time.h"
#include "dash_http.h"
#include "dash_hunt.h"
#include "hunt_http.h"
#include "hunt_io_kafka.h"
#include "hunt_io_log.h"
#include "hunt_rules.h"
#include "hunt_store.h"
#include "hunt_worker.h"
#include "lg.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Idle poll period: how long a new ping may wait when the worker had
 * nothing to do (a busy worker runs batches back to back). */
#define HUNTC_IDLE_MS 10

typedef struct huntc {
    struct event_base *base;
    struct event *tick;
    hunt_worker *w;
    int rebuild;
    int status;
    uint64_t t0_ns;
    int first_done;
} huntc;

static void huntc_signal(evutil_socket_t sig, short what, void *ud)
{
    huntc *h = ud;
    (void)what;
    /* Batches run to completion inside huntc_tick, so when a signal is
     * handled no batch is half done: stopping the loop is the drain. */
    cn_log_info("hunt", "signal %d: stopping after the committed batch", (int)sig);
    event_base_loopexit(h->base, NULL);
}

static void huntc_tick(evutil_socket_t fd, short what, void *ud)
{
    huntc *h = ud;
    (void)fd;
    (void)what;
    int n = hunt_worker_poll(h->w);
    if (n < 0) {
        fprintf(stderr, "cairn hunt: %s\n", hunt_worker_error(h->w));
        h->status = CN_EXIT_FAIL;
        event_base_loopexit(h->base, NULL);
        return;
    }
    if (n > 0 && !h->first_done) {
        h->first_done = 1;
        cn_log_info("hunt", "first batch committed %.1f ms after start",
                    (double)(cn_mono_ns() - h->t0_ns) / 1e6);
    }
    if (h->rebuild && hunt_worker_caught_up(h->w)) {
        event_base_loopexit(h->base, NULL);
        return;
    }
    struct timeval tv = {0, n > 0 ? 0 : HUNTC_IDLE_MS * 1000};
    event_add(h->tick, &tv);
}

/* "all" or "0,2,5-7" -> parts (NULL for all). */
static int huntc_parse_parts(const char *s, int32_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (strcmp(s, "all") == 0)
        return 0;
    int32_t *v = cn_calloc(HUNT_MAX_PARTITIONS, sizeof(*v));
    if (!v)
        return CN_ENOMEM;
    const char *p = s;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b;
        if (end == p || a < 0 || a >= HUNT_MAX_PARTITIONS)
            goto bad;
        b = a;
        if (*end == '-') {
            p = end + 1;
            b = strtol(p, &end, 10);
            if (end == p || b < a || b >= HUNT_MAX_PARTITIONS)
                goto bad;
        }
        for (long i = a; i <= b; i++) {
            for (size_t k = 0; k < *n; k++)
                if (v[k] == i)
                    goto bad;
            v[(*n)++] = (int32_t)i;
        }
        if (*end == ',' && end[1])
            end++;
        else if (*end)
            goto bad;
        p = end;
    }
    *out = v;
    return 0;
bad:
    cn_free(v);
    return CN_EINVAL;
}

static int huntc_ensure_topics(lg_log *log, int32_t parts)
{
    int nin = lg_topic_partitions(log, HUNT_TOPIC_IN);
    lg_topic_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.partitions = nin > 0 ? nin : parts;
    int rc = nin > 0 ? 0 : lg_topic_create(log, HUNT_TOPIC_IN, &cfg);
    if ((rc == 0 || rc == CN_EEXIST) && lg_topic_partitions(log, HUNT_TOPIC_OUT) <= 0)
        rc = lg_topic_create(log, HUNT_TOPIC_OUT, &cfg);
    return rc == CN_EEXIST ? 0 : rc;
}

/* --rebuild writes into a fresh directory only: mixing a rebuild into live
 * state would double what is there. */
static int huntc_dir_is_fresh(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT;
    struct dirent *e;
    int fresh = 1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            fresh = 0;
    closedir(d);
    return fresh;
}

typedef struct huntc_res {
    hunt_rules *rules;
    hunt_store *st;
    lg_log *log;
    hunt_io *io;
    int io_kafka;
    hunt_http *http;
    dash_hunt *dh;   /* the dashboard's numbers, from the worker */
    dash_http *dash; /* the dashboard, mounted on http */
    struct event *sigterm, *sigint;
} huntc_res;

static void huntc_res_free(huntc *h, huntc_res *r)
{
    if (r->sigterm)
        event_free(r->sigterm);
    if (r->sigint)
        event_free(r->sigint);
    if (h->tick)
        event_free(h->tick);
    dash_http_free(r->dash);
    dash_hunt_free(r->dh);
    hunt_http_free(r->http);
    hunt_worker_free(h->w);
    if (r->io_kafka)
        hunt_io_kafka_free(r->io);
    else
        hunt_io_log_free(r->io);
    hunt_store_close(r->st);
    lg_close(r->log);
    hunt_rules_free(r->rules);
    if (h->base)
        event_base_free(h->base);
}

static int huntc_open_io(cn_cli *cli, huntc_res *r, int64_t parts, char *err, size_t errlen)
{
    const char *dir = cn_cli_str(cli, "data");
    int rc;
    if (dir) {
        lg_opts lo;
        lg_opts_init(&lo);
        lo.dir = dir;
        if ((rc = lg_open(&r->log, &lo)) != 0) {
            snprintf(err, errlen, "cannot open the log in %s: %s%s", dir, cn_strerror(rc),
                     rc == CN_EBUSY
                         ? " (another process owns it: run this worker with --brokers to its logd)"
                         : "");
            return rc;
        }
        if ((rc = huntc_ensure_topics(r->log, (int32_t)parts)) != 0) {
            snprintf(err, errlen, "cannot create the topics in %s: %s", dir, cn_strerror(rc));
            return rc;
        }
        rc = hunt_io_log_new(&r->io, r->log);
        if (rc)
            snprintf(err, errlen, "out of memory");
        return rc;
    }
    r->io_kafka = 1;
    return hunt_io_kafka_new(&r->io, cn_cli_str(cli, "brokers"), cn_cli_str(cli, "node"), err,
                             errlen);
}

static int huntc_run(huntc *h, cn_cli *cli, const hunt_worker_opts *wo, int64_t create_parts)
{
    huntc_res r;
    memset(&r, 0, sizeof(r));
    char err[512] = "";
    const char *state = cn_cli_str(cli, "state");
    int rc = hunt_rules_load(cn_cli_str(cli, "hunt"), &r.rules, err, sizeof(err));
    if (rc)
        goto fail;
    if (h->rebuild && !huntc_dir_is_fresh(state)) {
        snprintf(err, sizeof(err), "--rebuild needs a new or empty --state directory; %s has files",
                 state);
        goto fail;
    }
    hunt_store_opts so;
    memset(&so, 0, sizeof(so));
    const hunt_def *d = hunt_rules_def(r.rules);
    so.audit_ttl_ms = d->audit_ttl_s * 1000;
    if ((rc = hunt_store_open(state, &so, &r.st, err, sizeof(err))) != 0 ||
        (rc = huntc_open_io(cli, &r, create_parts, err, sizeof(err))) != 0 ||
        (rc = hunt_worker_new(&h->w, r.rules, r.st, r.io, wo, err, sizeof(err))) != 0)
        goto fail;
    h->base = event_base_new();
    h->tick = h->base ? event_new(h->base, -1, 0, huntc_tick, h) : NULL;
    r.sigterm = h->base ? evsignal_new(h->base, SIGTERM, huntc_signal, h) : NULL;
    r.sigint = h->base ? evsignal_new(h->base, SIGINT, huntc_signal, h) : NULL;
    if (!h->tick || !r.sigterm || !r.sigint || evsignal_add(r.sigterm, NULL) ||
        evsignal_add(r.sigint, NULL)) {
        snprintf(err, sizeof(err), "cannot set up the event loop");
        goto fail;
    }
    const char *addr = cn_cli_str(cli, "http");
    if (addr && *addr && (rc = hunt_http_new(&r.http, h->base, addr, h->w)) != 0) {
        snprintf(err, sizeof(err), "cannot listen on --http %s: %s; pick a free HOST:PORT", addr,
                 rc == CN_ESYS ? strerror(errno) : cn_strerror(rc));
        goto fail;
    }
    if (r.http && ((rc = dash_hunt_new(&r.dh, h->w, r.io)) != 0 ||
                   (rc = dash_http_mount(&r.dash, h->base, hunt_http_evhttp(r.http),
                                         dash_hunt_snapshot, r.dh)) != 0)) {
        snprintf(err, sizeof(err), "cannot mount the dashboard on --http: %s", cn_strerror(rc));
        goto fail;
    }
    const char *pf = cn_cli_str(cli, "port-file");
    if (pf && r.http && cmd_write_port_file(pf, hunt_http_port(r.http))) {
        snprintf(err, sizeof(err), "cannot write --port-file %s", pf);
        goto fail;
    }
    cn_log_info("hunt", "hunt %s, state %s, HTTP port %d", d->id, state,
                r.http ? hunt_http_port(r.http) : 0);
    h->status = CN_EXIT_OK;
    event_active(h->tick, 0, 0);
    event_base_dispatch(h->base);
    if (h->rebuild && h->status == CN_EXIT_OK) {
        const hunt_worker_stats *s = hunt_worker_get_stats(h->w);
        printf("rebuilt %s from %" PRIu64 " records: %" PRIu64 " accepted, %" PRIu64
               " derived events\n",
               state, s->records, s->accepted, s->suppressed);
    }
    huntc_res_free(h, &r);
    return h->status;
fail:
    fprintf(stderr, "cairn hunt: %s\n", err[0] ? err : cn_strerror(rc));
    huntc_res_free(h, &r);
    return CN_EXIT_FAIL;
}

int cmd_hunt(int argc, char **argv)
{
    cn_flag flags[] = {
        {"data", "DIR", NULL,
         "read ble-raw and append hunt-events in-process (this process must be DIR's only writer)",
         "log"},
        {"brokers", "H:P,...", NULL,
         "read and write over the Kafka protocol (cairn logd or Kafka)"},
        {"state", "DIR", "./cairn-hunt-state", "RocksDB state directory (created if missing)"},
        {"hunt", "FILE", "hunt/sample-hunt.json", "hunt definition (docs/hunts.md)"},
        {"assign", "all|LIST", "all", "ble-raw partitions to consume, e.g. 0,2-3"},
        {"http", "HOST:PORT", "127.0.0.1:8081",
         "HTTP API listener (port 0 picks one; empty: none)"},
        {"node", "NAME", "hunt",
         "this worker's name: CloudEvent source /hunt/NAME (keep it across restarts)"},
        {"batch", "N", "4096", "input records per RocksDB commit (and per hunt-events append)"},
        {"partitions", "N", "4",
         "--data: partitions of ble-raw / hunt-events when they are created", "create-partitions"},
        {"rebuild", NULL, NULL,
         "derive a new --state from the log up to its end (emits nothing) and exit"},
        {"port-file", "PATH", NULL, "write the bound HTTP port here once listening (for tests)"},
    };
    cn_cli cli = {
        "cairn hunt",
        "(--data DIR | --brokers H:P,...) [flags]",
        "Run a hunt worker: ble-raw pings in, game state in RocksDB, hunt-events out exactly once, "
        "leaderboard and player API over HTTP.  SIGTERM/SIGINT finish the batch, commit and exit "
        "0.",
        flags,
        sizeof(flags) / sizeof(flags[0]),
        0,
        0,
        NULL,
        0};
    int rc = cn_cli_parse(&cli, argc, argv);
    if (rc) {
        cn_cli_free(&cli);
        return rc == CN_DONE ? CN_EXIT_OK : CN_EXIT_USAGE;
    }
    int64_t batch, cparts;
    hunt_worker_opts wo;
    memset(&wo, 0, sizeof(wo));
    int32_t *parts = NULL;
    const char *pv = cn_cli_str(&cli, "partitions");
    if (pv && pv[strspn(pv, "0123456789")] != '\0') {
        /* --partitions was once the set to consume: say where that went. */
        rc = cn_cli_usage_error(&cli,
                                "--partitions is a count, as in every command, got '%s'; the "
                                "partitions to consume are --assign all|LIST",
                                pv);
        cn_cli_free(&cli);
        return rc;
    }
    if (cn_cli_i64(&cli, "batch", 1, HUNT_BATCH_MAX, &batch) ||
        cn_cli_i64(&cli, "partitions", 1, HUNT_MAX_PARTITIONS, &cparts)) {
        cn_cli_free(&cli);
        return CN_EXIT_USAGE;
    }
    if (!!cn_cli_str(&cli, "data") == !!cn_cli_str(&cli, "brokers")) {
        rc = cn_cli_usage_error(&cli, "give exactly one of --data DIR and --brokers H:P,...");
        cn_cli_free(&cli);
        return rc;
    }
    if (huntc_parse_parts(cn_cli_str(&cli, "assign"), &parts, &wo.nparts)) {
        rc = cn_cli_usage_error(
            &cli, "--assign wants all or a list such as 0,2-3 (0..%d, no repeats); got '%s'",
            HUNT_MAX_PARTITIONS - 1, cn_cli_str(&cli, "assign"));
        cn_cli_free(&cli);
        return rc;
    }
    wo.parts = parts;
    wo.node = cn_cli_str(&cli, "node");
    cn_log_set_node(wo.node);
    wo.batch = (uint32_t)batch;
    huntc h;
    memset(&h, 0, sizeof(h));
    h.t0_ns = cn_mono_ns();
    h.rebuild = wo.rebuild = cn_cli_bool(&cli, "rebuild");
    /* librdkafka and the log call back from their threads. */
    evthread_use_pthreads();
    int status = huntc_run(&h, &cli, &wo, cparts);
    cn_free(parts);
    cn_cli_free(&cli);
    return status;
}
