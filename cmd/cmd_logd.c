/* SPDX-License-Identifier: MIT */
/*
 * cmd_logd.c — `cairn logd`: a log node.  Opens (and recovers) the log in
 * --data, makes sure the topics ble-raw and hunt-events exist, and serves
 * the Kafka wire protocol on --kafka-listen until SIGTERM/SIGINT, then
 * drains: stops accepting, lets every in-flight request finish (Produce
 * replies only after fsync), closes the log (which syncs) and exits 0.
 *
 * Clustered (--cluster, --cluster-kafka, --node-id): the node also runs
 * the replication driver (rp_repl: one Raft group per partition, its own
 * listener) for every topic it has at start, and the Kafka listener routes
 * by leadership.  Topics are created at start on every node alike (no
 * controller group yet): CreateTopics and auto-creation are refused.
 * A clustered node also has the internal topic __consumer_offsets, where
 * the group coordinators store committed offsets (kf_offsets.c).
 * Standalone (no --cluster) nothing of it runs.
 *
 * Threads: main runs the libevent loop (the Kafka server and, clustered,
 * the replication driver and transport); the log runs its own writer
 * thread.  Ownership: this file owns the base, the log, the server and the
 * driver for the life of the command.  See docs/kafka.md and
 * docs/replication.md.
 */
#include "commands.h"

#include "cmd_logd_http.h"
#include "cmd_shared.h"
#include "cn_cli.h"
#include "cn_err.h"
#include "cn_log.h"
#include "kf_sasl.h"
#include "cn_time.h"
#include "kf_offrec.h"
#include "kf_server.h"
#include "lg.h"
#include "rp.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The topics every node serves from the start: pings in, derived hunt events out. */
static const char *const logd_topics[] = {"ble-raw", "hunt-events"};

typedef struct logd {
    struct event_base *base;
    kf_server *srv;
    rp_repl *repl;
    lg_log *log;
    logd_http *http;
    struct event *health;
    const char *ktls_cert, *ktls_key; /* --kafka-tls-*, for SIGHUP; NULL without */
    int draining;
    int failed; /* the log failed: exit non-zero */
} logd;

/* Once a second: a failed log (lg_health) ends the node with a non-zero
 * exit status, so a supervisor restarts it (reopening recovers what was
 * durable) instead of it answering every append with an error. */
static void logd_health_cb(evutil_socket_t fd, short what, void *ud)
{
    logd *d = ud;
    (void)fd;
    (void)what;
    if (d->failed || lg_health(d->log, NULL) == 0)
        return;
    d->failed = 1;
    cn_log_error("logd", "the log failed (see above); exiting so that a restart recovers it");
    event_base_loopexit(d->base, NULL);
}

/* The replication HW moved: parked long-poll Fetches look again. */
static void logd_hw_moved(void *ud)
{
    logd *d = ud;
    if (d->srv)
        kf_server_notify_append(d->srv);
}

typedef struct logd_parts {
    rp_repl *r;
    int rc;
    const char *bad;
} logd_parts;

static int logd_add_topic(void *ud, const char *name, const lg_topic_config *cfg)
{
    logd_parts *lp = ud;
    for (int32_t i = 0; i < cfg->partitions && lp->rc == 0; i++)
        lp->rc = rp_repl_add(lp->r, name, i);
    if (lp->rc)
        lp->bad = name; /* stops the walk while the name is still valid to print */
    if (lp->rc)
        cn_log_error("logd", "cannot replicate topic %s: %s", name, cn_strerror(lp->rc));
    return lp->rc != 0;
}

/* "HOST:PORT" of --cluster-listen into *out (parsed as a one-node
 * membership under self's id).  @return 0 or CN_EINVAL. */
static int logd_parse_listen(const char *listen, int32_t node, rp_peer *out)
{
    char entry[RP_HOST_MAX + 32];
    rp_cluster one;
    if (strlen(listen) >= RP_HOST_MAX + 16)
        return CN_EINVAL;
    snprintf(entry, sizeof(entry), "%d@%s", (int)node, listen);
    if (rp_cluster_parse(entry, &one) != 0)
        return CN_EINVAL;
    *out = one.peers[0];
    return 0;
}

/* Parse and check the cluster flags.  @return 0, or a usage error printed. */
static int logd_cluster_flags(cn_cli *cli, int64_t node, rp_cluster *repl, rp_cluster *kafka,
                              int64_t *rf)
{
    const char *cs = cn_cli_str(cli, "cluster"), *ks = cn_cli_str(cli, "cluster-kafka");
    if (!ks || rp_cluster_parse(cs, repl) || rp_cluster_parse(ks, kafka))
        return cn_cli_usage_error(cli,
                                  "--cluster and --cluster-kafka want "
                                  "ID@HOST:PORT,ID@HOST:PORT,... (ids unique, at most %d)",
                                  RP_MAX_VOTERS);
    int same = repl->npeers == kafka->npeers;
    for (int i = 0; same && i < repl->npeers; i++)
        same = repl->peers[i].id == kafka->peers[i].id;
    if (!same)
        return cn_cli_usage_error(cli, "--cluster and --cluster-kafka must name the same node ids");
    if (!rp_cluster_peer(repl, (int32_t)node))
        return cn_cli_usage_error(cli, "--node-id %lld is not in --cluster", (long long)node);
    if (cn_cli_i64(cli, "replication-factor", 1, RP_MAX_VOTERS, rf))
        return CN_EXIT_USAGE;
    if (*rf != repl->npeers)
        return cn_cli_usage_error(cli, "--replication-factor must equal the number of nodes in "
                                       "--cluster (every node replicates every partition)");
    if (cn_cli_bool(cli, "auto-create"))
        return cn_cli_usage_error(cli, "--auto-create is refused with --cluster (topics are "
                                       "created at start on every node)");
    rp_peer lp;
    const char *ls = cn_cli_str(cli, "cluster-listen");
    if (ls && logd_parse_listen(ls, (int32_t)node, &lp) != 0)
        return cn_cli_usage_error(cli, "--cluster-listen wants HOST:PORT, got '%s'", ls);
    return 0;
}

/* Clustered: the internal topic of replicated consumer-group offsets, with
 * retention off (a node re-derives its LMDB table from offset 0:
 * docs/replication.md, "Consumer-group offsets, replicated").  Every node
 * must have it with the same partition count (groups hash onto it). */
static int logd_offsets_topic(lg_log *log)
{
    int n = lg_topic_partitions(log, KF_OFFSETS_TOPIC);
    if (n > 0 && n != KF_OFFSETS_PARTITIONS) {
        fprintf(stderr, "cairn logd: topic %s has %d partitions; a cluster node wants %d\n",
                KF_OFFSETS_TOPIC, n, KF_OFFSETS_PARTITIONS);
        return CN_EINVAL;
    }
    if (n > 0)
        return 0;
    lg_topic_config cfg = {
        .partitions = KF_OFFSETS_PARTITIONS, .retention_ms = -1, .retention_bytes = -1};
    int rc = lg_topic_create(log, KF_OFFSETS_TOPIC, &cfg);
    if (rc && rc != CN_EEXIST) {
        fprintf(stderr, "cairn logd: cannot create topic %s: %s\n", KF_OFFSETS_TOPIC,
                cn_strerror(rc));
        return rc;
    }
    return 0;
}

/* Clustered: start the replication driver for every partition.  listen:
 * --cluster-listen (NULL: bind self's --cluster entry). */
static int logd_start_repl(logd *d, rp_cluster *cl, int32_t node, const char *listen,
                           struct ssl_ctx_st *tls)
{
    rp_repl_opts ro = {.cluster = cl, .self = node, .tls = tls};
    if (listen && logd_parse_listen(listen, node, &ro.listen) != 0)
        return CN_EINVAL; /* checked with the flags */
    int rc = rp_repl_new(&d->repl, d->base, d->log, &ro);
    if (rc) {
        const rp_peer *at = listen ? &ro.listen : rp_cluster_peer(cl, node);
        fprintf(stderr, "cairn logd: cannot start replication on %s:%u: %s\n", at->host,
                (unsigned)at->port, rc == CN_ESYS ? strerror(errno) : cn_strerror(rc));
        return rc;
    }
    rp_repl_on_hw(d->repl, logd_hw_moved, d);
    logd_parts lp = {d->repl, 0, NULL};
    lg_topics_each(d->log, logd_add_topic, &lp);
    return lp.rc;
}

static void logd_drained(void *ud)
{
    logd *d = ud;
    event_base_loopexit(d->base, NULL);
}

/* SIGHUP: a renewed Kafka certificate for new connections (its default
 * action would end the node without its drain). */
static void logd_sighup(evutil_socket_t sig, short what, void *ud)
{
    logd *d = ud;
    (void)sig;
    (void)what;
    if (!d->ktls_cert)
        cn_log_info("logd", "SIGHUP: no --kafka-tls-cert, nothing to reload");
    cmd_kafka_tls_reload(d->srv, d->ktls_cert, d->ktls_key, "logd");
}

static void logd_signal(evutil_socket_t sig, short what, void *ud)
{
    logd *d = ud;
    (void)what;
    if (d->draining) {
        cn_log_warn("logd", "second signal %d: exiting without waiting for clients", (int)sig);
        event_base_loopexit(d->base, NULL);
        return;
    }
    d->draining = 1;
    cn_log_info("logd", "signal %d: draining (no new connections; finishing in-flight requests)",
                (int)sig);
    kf_server_drain(d->srv, logd_drained, d);
}

int cmd_logd(int argc, char **argv)
{
    cn_flag flags[] = {
        {"data", "DIR", "./cairn-data", "data directory (created if missing)"},
        {"kafka-listen", "HOST:PORT", "127.0.0.1:9092",
         "Kafka wire-protocol listener; port 0 picks one"},
        {"kafka-tls-cert", "FILE", NULL,
         "serve Kafka over TLS with this PEM certificate chain (with --kafka-tls-key)"},
        {"kafka-tls-key", "FILE", NULL, "the PEM private key of --kafka-tls-cert"},
        {"sasl-users", "FILE", NULL,
         "require SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) from Kafka clients; FILE has "
         "name:password lines, mode 0600"},
        {"advertise", "HOST:PORT", NULL,
         "address given to clients in Metadata (default: the listener's)"},
        {"partitions", "N", "4", "partitions of ble-raw, hunt-events and auto-created topics"},
        {"max-request-bytes", "SIZE", "100MiB", "larger request frames close the connection"},
        {"auto-create", NULL, NULL, "create unknown topics on Metadata/Produce"},
        {"durability", "MODE", "fsync",
         "fsync | interval=DURATION | none: when appends are acknowledged"},
        {"node-id", "N", "0", "this broker's id in Metadata"},
        {"idle-timeout", "DURATION", "10m", "close client connections silent this long"},
        {"port-file", "PATH", NULL, "write the bound Kafka port here once listening (for tests)"},
        {"cluster", "ID@HOST:PORT,...", NULL,
         "replicate with these nodes: each node's replication listener (not its Kafka port)"},
        {"cluster-kafka", "ID@HOST:PORT,...", NULL,
         "with --cluster: each node's advertised Kafka address, by the same ids"},
        {"replication-factor", "N", "3", "with --cluster: must equal the number of nodes"},
        {"http", "HOST:PORT", NULL,
         "serve GET /metrics (Prometheus) and /healthz (503 once the log failed) here"},
        {"cluster-listen", "HOST:PORT", NULL,
         "with --cluster: bind the replication listener here instead of this node's --cluster "
         "entry (peers still dial the entry: a proxy or NAT forwards it)"},
        {"cluster-tls-cert", "FILE", NULL,
         "with --cluster: replicate over mutual TLS, presenting this PEM certificate chain"},
        {"cluster-tls-key", "FILE", NULL, "the PEM private key of --cluster-tls-cert"},
        {"cluster-tls-ca", "FILE", NULL,
         "the PEM CA certificate every node's --cluster-tls-cert must be signed by (peers "
         "without one are refused)"},
    };
    cn_cli cli = {
        "cairn logd",
        "[flags]",
        "Run a log node: partitioned, crash-safe storage served over the Kafka wire "
        "protocol (kcat, librdkafka, kafka-python, kafkajs).  SIGTERM/SIGINT drain and exit 0.",
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
    int64_t parts, node;
    uint64_t maxreq;
    int64_t idle;
    lg_opts lo;
    lg_opts_init(&lo);
    kf_server_opts ko;
    kf_server_opts_init(&ko);
    char adv_host[256];
    if (cn_cli_i64(&cli, "partitions", 1, 10000, &parts) ||
        cn_cli_i64(&cli, "node-id", 0, INT32_MAX, &node) ||
        cn_cli_size(&cli, "max-request-bytes", &maxreq) ||
        cn_cli_duration_ms(&cli, "idle-timeout", &idle)) {
        cn_cli_free(&cli);
        return CN_EXIT_USAGE;
    }
    char node_name[24];
    snprintf(node_name, sizeof(node_name), "%lld", (long long)node);
    cn_log_set_node(node_name);
    if (maxreq < 1024 || maxreq > INT32_MAX) {
        rc = cn_cli_usage_error(&cli, "--max-request-bytes must be between 1KiB and 2GiB");
        cn_cli_free(&cli);
        return rc;
    }
    if (cmd_parse_durability(cn_cli_str(&cli, "durability"), &lo)) {
        rc = cn_cli_usage_error(&cli, "--durability must be fsync, interval=DURATION or none");
        cn_cli_free(&cli);
        return rc;
    }
    if ((rc = cmd_advertise_flags(&cli, "kafka-listen", adv_host, sizeof(adv_host), &ko)) != 0) {
        cn_cli_free(&cli);
        return rc;
    }
    rp_cluster repl_cl, kafka_cl;
    int64_t rf = 0;
    int clustered = cn_cli_str(&cli, "cluster") != NULL;
    if (!clustered && cn_cli_str(&cli, "cluster-listen"))
        rc = cn_cli_usage_error(&cli, "--cluster-listen needs --cluster");
    else if (clustered)
        rc = logd_cluster_flags(&cli, node, &repl_cl, &kafka_cl, &rf);
    if (rc != 0) {
        cn_cli_free(&cli);
        return rc;
    }
    lo.dir = cn_cli_str(&cli, "data");
    /* A cluster node hands out producer ids from its own range (node id in
     * the high bits): unique across the cluster without asking a peer. */
    lo.producer_id_node = clustered ? (int32_t)node : -1;
    ko.listen = cn_cli_str(&cli, "kafka-listen");
    ko.max_request_bytes = maxreq;
    ko.auto_create = cn_cli_bool(&cli, "auto-create");
    ko.default_partitions = (int32_t)parts;
    ko.node_id = (int32_t)node;
    ko.idle_timeout_ms = idle;
    ko.brokers = clustered ? &kafka_cl : NULL;
    kf_sasl_users *users = NULL;
    if (cmd_sasl_users(&cli, &users)) {
        cn_cli_free(&cli);
        return CN_EXIT_FAIL;
    }
    ko.sasl_users = users;
    struct ssl_ctx_st *tls = NULL;
    if ((rc = cmd_kafka_tls(&cli, &tls)) != 0) {
        kf_sasl_users_free(users);
        cn_cli_free(&cli);
        return rc;
    }
    ko.tls_ctx = tls;
    struct ssl_ctx_st *ctls = NULL;
    if ((rc = cmd_cluster_tls(&cli, &ctls)) != 0) {
        kf_tls_ctx_free(tls);
        kf_sasl_users_free(users);
        cn_cli_free(&cli);
        return rc;
    }

    /* Append completions arrive on the log's writer thread and wake the
     * loop with event_active: libevent must be thread-aware, before the
     * base exists. */
    evthread_use_pthreads();
    int status = CN_EXIT_FAIL;
    lg_log *log = NULL;
    logd d;
    memset(&d, 0, sizeof(d));
    struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL;
    rc = lg_open(&log, &lo);
    if (rc) {
        fprintf(stderr, "cairn logd: cannot open the log in %s: %s%s\n", lo.dir, cn_strerror(rc),
                rc == CN_EBUSY ? " (is another cairn process using it?)" : "");
        goto out;
    }
    size_t bad = 0;
    rc = cmd_ensure_topics(log, logd_topics, sizeof(logd_topics) / sizeof(logd_topics[0]),
                           (int32_t)parts, &bad);
    if (rc) {
        fprintf(stderr, "cairn logd: cannot create topic %s: %s\n", logd_topics[bad],
                cn_strerror(rc));
        goto out;
    }
    d.base = event_base_new();
    if (!d.base) {
        fprintf(stderr, "cairn logd: cannot create the event loop\n");
        goto out;
    }
    d.log = log;
    if (clustered && logd_offsets_topic(log) != 0)
        goto out;
    if (clustered &&
        logd_start_repl(&d, &repl_cl, (int32_t)node, cn_cli_str(&cli, "cluster-listen"), ctls) != 0)
        goto out;
    ko.repl = d.repl;
    rc = kf_server_new(&d.srv, d.base, log, &ko);
    if (rc) {
        fprintf(stderr,
                "cairn logd: cannot listen on %s: %s; pick a free HOST:PORT with --kafka-listen\n",
                ko.listen, rc == CN_ESYS ? strerror(errno) : cn_strerror(rc));
        goto out;
    }
    sigterm = evsignal_new(d.base, SIGTERM, logd_signal, &d);
    sigint = evsignal_new(d.base, SIGINT, logd_signal, &d);
    sighup = evsignal_new(d.base, SIGHUP, logd_sighup, &d);
    d.ktls_cert = tls ? cn_cli_str(&cli, "kafka-tls-cert") : NULL;
    d.ktls_key = tls ? cn_cli_str(&cli, "kafka-tls-key") : NULL;
    if (!sigterm || !sigint || !sighup || evsignal_add(sigterm, NULL) ||
        evsignal_add(sigint, NULL) || evsignal_add(sighup, NULL)) {
        fprintf(stderr, "cairn logd: cannot install signal handlers\n");
        goto out;
    }
    const char *http = cn_cli_str(&cli, "http");
    if (http && (rc = logd_http_new(&d.http, d.base, http, log, d.repl, clustered ? &repl_cl : NULL,
                                    (int32_t)node)) != 0) {
        fprintf(stderr, "cairn logd: cannot serve --http %s: %s\n", http,
                rc == CN_ESYS ? strerror(errno) : cn_strerror(rc));
        goto out;
    }
    struct timeval one_s = {1, 0};
    d.health = event_new(d.base, -1, EV_PERSIST, logd_health_cb, &d);
    if (!d.health || event_add(d.health, &one_s)) {
        fprintf(stderr, "cairn logd: cannot start the health timer\n");
        goto out;
    }
    const char *pf = cn_cli_str(&cli, "port-file");
    if (pf && cmd_write_port_file(pf, kf_server_port(d.srv))) {
        fprintf(stderr, "cairn logd: cannot write --port-file %s\n", pf);
        goto out;
    }
    cn_log_info("logd", "serving Kafka on port %d (data %s, %lld partitions per topic%s)",
                kf_server_port(d.srv), lo.dir, (long long)parts, clustered ? ", clustered" : "");
    event_base_dispatch(d.base);
    if (d.failed) {
        status = CN_EXIT_FAIL;
        goto out;
    }
    cn_log_info("logd", "drained; closing the log");
    status = CN_EXIT_OK;
out:
    if (d.health)
        event_free(d.health);
    logd_http_free(d.http);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (sighup)
        event_free(sighup);
    /* Pending proposals fail first (their Produce requests get
     * NOT_LEADER_OR_FOLLOWER), then the server goes. */
    rp_repl_free(d.repl);
    kf_server_free(d.srv);
    /* libevent finalizes freed connections lazily; their unsent Fetch
     * replies hold segment references that go back to the log.  So the
     * base goes before the log. */
    if (d.base)
        event_base_free(d.base);
    lg_close(log);
    kf_sasl_users_free(users);
    kf_tls_ctx_free(tls);
    rp_tls_ctx_free(ctls);
    cn_cli_free(&cli);
    return status;
}
