/* SPDX-License-Identifier: MIT */
/*
 * cmd_logd_http.c — the operating side of `cairn logd --http HOST:PORT`:
 *   GET /healthz  200 "ok" while the log accepts appends, 503 with the
 *                 reason once it has failed (lg_health: a failed fdatasync,
 *                 index commit or checkpoint is sticky until reopened);
 *   GET /metrics  Prometheus text (common/cn_prom): the log's health and,
 *                 clustered, every partition replica's role, leader, term,
 *                 high watermark, log end, in-sync replicas, each
 *                 follower's lag (on the leader), elections and leader
 *                 changes, plus the replication transport's counters.
 * Every metric is documented in docs/operations.md.  Numbers are read on
 * the loop thread at request time (rp_repl_state, lg_health): nothing is
 * kept here.
 * Threads: the loop thread only.  Ownership: owns its evhttp; borrows the
 * log, the replication driver and the membership for its life.
 */
#include "cmd_logd_http.h"

#include "cn_alloc.h"
#include "cn_buf.h"
#include "cn_err.h"
#include "cn_prom.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct logd_http {
    struct evhttp *http;
    lg_log *log;
    rp_repl *repl;
    const rp_cluster *cl;
    int32_t self;
    int port;
};

static void lh_send(struct evhttp_request *req, int code, const char *reason, const char *type,
                    const void *body, size_t len)
{
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evbuffer_add(out, body ? body : "", len);
    evhttp_send_reply(req, code, reason, out);
    evbuffer_free(out);
}

static void lh_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
    lh_send(req, code, reason, "text/plain", text, strlen(text));
}

/* ---- /metrics ------------------------------------------------------------ */

typedef struct lh_walk {
    logd_http *h;
    cn_prom *w;
    int pass; /* which family this walk writes */
    int64_t under_replicated, led;
} lh_walk;

enum {
    LH_LEADER,
    LH_LEADER_ID,
    LH_TERM,
    LH_HW,
    LH_LOG_END,
    LH_ISR,
    LH_UNDER,
    LH_LAG,
    LH_ELECTIONS,
    LH_CHANGES,
    LH_RUNNING,
    LH_NPASS
};

static const struct {
    const char *name;
    cn_prom_type type;
    const char *help;
} lh_fam[LH_NPASS] = {
    {"cairn_repl_leader", CN_PROM_GAUGE,
     "1 if this node leads the partition and serves it (its own-term marker is committed)"},
    {"cairn_repl_leader_id", CN_PROM_GAUGE,
     "the partition's leader as this node knows it, -1 none"},
    {"cairn_repl_term", CN_PROM_GAUGE, "the partition replica's Raft term (= Kafka leader epoch)"},
    {"cairn_repl_high_watermark", CN_PROM_GAUGE,
     "committed below this offset (fdatasync'd on a majority); consumers read below it"},
    {"cairn_repl_log_end_offset", CN_PROM_GAUGE, "the replica's log end (next offset)"},
    {"cairn_repl_in_sync_replicas", CN_PROM_GAUGE,
     "on the leader: replicas in sync (heard within an election timeout, synced to the HW)"},
    {"cairn_repl_under_replicated", CN_PROM_GAUGE,
     "on the leader: 1 if fewer replicas are in sync than the partition has"},
    {"cairn_repl_follower_lag", CN_PROM_GAUGE,
     "on the leader: its log end minus how far the replica is known to be fdatasync'd"},
    {"cairn_repl_elections_total", CN_PROM_COUNTER,
     "times this replica became leader since the process started"},
    {"cairn_repl_leader_changes_total", CN_PROM_COUNTER,
     "times the leader this replica knows changed since the process started"},
    {"cairn_repl_replica_running", CN_PROM_GAUGE,
     "0 while the replica is stopped after a storage failure (it restarts from storage)"},
};

static void lh_part(lh_walk *k, const char *topic, int32_t part)
{
    rp_part_state st;
    if (rp_repl_state(k->h->repl, topic, part, &st) != 0)
        return;
    char pbuf[16];
    snprintf(pbuf, sizeof(pbuf), "%d", (int)part);
    const char *lab[] = {"topic", topic, "partition", pbuf, NULL};
    int lead = st.role == RP_LEADER;
    int nrep = k->h->cl->npeers;
    switch (k->pass) {
    case LH_LEADER:
        cn_prom_i64(k->w, lh_fam[k->pass].name, lab, lead && st.serving);
        break;
    case LH_LEADER_ID:
        cn_prom_i64(k->w, lh_fam[k->pass].name, lab, st.leader);
        break;
    case LH_TERM:
        cn_prom_i64(k->w, lh_fam[k->pass].name, lab, st.term);
        break;
    case LH_HW:
        cn_prom_i64(k->w, lh_fam[k->pass].name, lab, st.hw);
        break;
    case LH_LOG_END:
        cn_prom_i64(k->w, lh_fam[k->pass].name, lab, st.log_end);
        break;
    case LH_ISR:
        if (lead)
            cn_prom_i64(k->w, lh_fam[k->pass].name, lab, st.nisr);
        break;
    case LH_UNDER:
        if (lead) {
            cn_prom_i64(k->w, lh_fam[k->pass].name, lab, st.nisr < nrep);
            k->under_replicated += st.nisr < nrep;
            k->led++;
        }
        break;
    case LH_LAG:
        for (int i = 0; lead && i < nrep; i++) {
            if (k->h->cl->peers[i].id == k->h->self || st.synced[i] < 0)
                continue;
            char rbuf[16];
            snprintf(rbuf, sizeof(rbuf), "%d", (int)k->h->cl->peers[i].id);
            const char *rl[] = {"topic", topic, "partition", pbuf, "replica", rbuf, NULL};
            int64_t lag = st.log_end - st.synced[i];
            cn_prom_i64(k->w, lh_fam[k->pass].name, rl, lag > 0 ? lag : 0);
        }
        break;
    case LH_ELECTIONS:
        cn_prom_u64(k->w, lh_fam[k->pass].name, lab, st.elections);
        break;
    case LH_CHANGES:
        cn_prom_u64(k->w, lh_fam[k->pass].name, lab, st.leader_changes);
        break;
    case LH_RUNNING:
        cn_prom_i64(k->w, lh_fam[k->pass].name, lab, st.running);
        break;
    }
}

static int lh_topic(void *ud, const char *name, const lg_topic_config *cfg)
{
    lh_walk *k = ud;
    for (int32_t i = 0; i < cfg->partitions; i++)
        lh_part(k, name, i);
    return k->w->err != 0;
}

static void lh_net(cn_prom *w, logd_http *h)
{
    rp_net *net = rp_repl_net(h->repl);
    rp_net_stats st;
    rp_net_stats_get(net, &st);
    cn_prom_family(w, "cairn_repl_peer_connected", CN_PROM_GAUGE,
                   "1 while the replication connection to the peer is up (handshake done)");
    for (int i = 0; i < h->cl->npeers; i++) {
        if (h->cl->peers[i].id == h->self)
            continue;
        char buf[16];
        snprintf(buf, sizeof(buf), "%d", (int)h->cl->peers[i].id);
        const char *lab[] = {"peer", buf, NULL};
        cn_prom_i64(w, "cairn_repl_peer_connected", lab, rp_net_connected(net, h->cl->peers[i].id));
    }
    cn_prom_counter(w, "cairn_repl_frames_in_total", "replication frames received", st.frames_in);
    cn_prom_counter(w, "cairn_repl_frames_out_total", "replication frames queued to send",
                    st.frames_out);
    cn_prom_family(w, "cairn_repl_frames_dropped_total", CN_PROM_COUNTER,
                   "replication frames dropped: output over its bound, or no connection");
    const char *full[] = {"reason", "output_full", NULL}, *nopeer[] = {"reason", "no_peer", NULL};
    cn_prom_u64(w, "cairn_repl_frames_dropped_total", full, st.dropped_full);
    cn_prom_u64(w, "cairn_repl_frames_dropped_total", nopeer, st.dropped_nopeer);
    cn_prom_counter(w, "cairn_repl_handshakes_total", "replication handshakes completed",
                    st.handshakes);
    cn_prom_family(w, "cairn_repl_connections_closed_total", CN_PROM_COUNTER,
                   "replication connections closed: by a protocol check, by the peer, replaced");
    const char *cp[] = {"reason", "protocol", NULL}, *cq[] = {"reason", "peer", NULL},
               *cr[] = {"reason", "replaced", NULL};
    cn_prom_u64(w, "cairn_repl_connections_closed_total", cp, st.closed_protocol);
    cn_prom_u64(w, "cairn_repl_connections_closed_total", cq, st.closed_peer);
    cn_prom_u64(w, "cairn_repl_connections_closed_total", cr, st.replaced);
}

static int lh_metrics(logd_http *h, cn_buf *b)
{
    cn_prom w;
    cn_prom_init(&w, b);
    int failed = 0;
    int health = lg_health(h->log, &failed);
    cn_prom_gauge(&w, "cairn_logd_healthy",
                  "1 while the log accepts appends, 0 once an fdatasync, index commit or "
                  "checkpoint failed (sticky until restarted)",
                  health == 0);
    cn_prom_gauge(&w, "cairn_logd_failed_partitions",
                  "partitions refusing reads and appends after corruption was found", failed);
    if (!h->repl)
        return w.err;
    lh_walk k = {h, &w, 0, 0, 0};
    for (k.pass = 0; k.pass < LH_NPASS && !w.err; k.pass++) {
        cn_prom_family(&w, lh_fam[k.pass].name, lh_fam[k.pass].type, lh_fam[k.pass].help);
        lg_topics_each(h->log, lh_topic, &k);
    }
    cn_prom_gauge(&w, "cairn_repl_under_replicated_partitions",
                  "partitions this node leads with fewer replicas in sync than it has",
                  k.under_replicated);
    cn_prom_gauge(&w, "cairn_repl_partitions_led", "partitions this node leads", k.led);
    lh_net(&w, h);
    return w.err;
}

/* ---- routing --------------------------------------------------------------- */

static void lh_route(struct evhttp_request *req, void *ud)
{
    logd_http *h = ud;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
        lh_text(req, 405, "Method Not Allowed", "only GET is served\n");
    } else if (!path) {
        lh_text(req, 400, "Bad Request", "malformed request target\n");
    } else if (strcmp(path, "/healthz") == 0) {
        if (lg_health(h->log, NULL) == 0)
            lh_text(req, 200, "OK", "ok\n");
        else
            lh_text(req, 503, "Service Unavailable",
                    "log failed: appends refused until restarted\n");
    } else if (strcmp(path, "/metrics") == 0) {
        cn_buf b = CN_BUF_INIT;
        if (lh_metrics(h, &b))
            evhttp_send_error(req, 500, "cannot render metrics");
        else
            lh_send(req, 200, "OK", "text/plain; version=0.0.4", b.data, b.len);
        cn_buf_free(&b);
    } else {
        lh_text(req, 404, "Not Found", "unknown path; try /metrics, /healthz\n");
    }
}

int logd_http_new(logd_http **out, struct event_base *base, const char *addr, lg_log *log,
                  rp_repl *repl, const rp_cluster *cl, int32_t self)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host) || *end ||
        end == colon + 1 || port < 0 || port > 65535)
        return CN_EINVAL;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;
    logd_http *h = cn_calloc(1, sizeof(*h));
    if (!h || !(h->http = evhttp_new(base))) {
        cn_free(h);
        return CN_ENOMEM;
    }
    h->log = log;
    h->repl = repl;
    h->cl = cl;
    h->self = self;
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
    /* Requests are tiny; a slow or huge one is dropped. */
    evhttp_set_timeout(h->http, 10);
    evhttp_set_max_headers_size(h->http, 16384);
    evhttp_set_max_body_size(h->http, 4096);
    evhttp_set_gencb(h->http, lh_route, h);
    struct evhttp_bound_socket *bs =
        evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port);
    if (!bs) {
        logd_http_free(h);
        return CN_ESYS;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0)
        h->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                           : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    *out = h;
    return 0;
}

int logd_http_port(const logd_http *h)
{
    return h->port;
}

void logd_http_free(logd_http *h)
{
    if (!h)
        return;
    if (h->http)
        evhttp_free(h->http);
    cn_free(h);
}
