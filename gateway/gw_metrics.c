/* SPDX-License-Identifier: MIT */
/*
 * gw_metrics.c — the gateway's counters as Prometheus text (exposition
 * format 0.0.4) for GET /metrics: connections, handshakes, pings, acks,
 * ping errors by code, disconnects by reason, the append→durable latency
 * histogram, memory held by connections, TLS handshakes and certificate
 * reloads, PROXY headers and X-Forwarded-For from trusted proxies.
 * Loop thread only; the counters live in gw_server (no globals), so two
 * servers in one process report separately.
 */
#include "gw_server_int.h"

#include "cn_err.h"
#include "cn_prom.h"

#include <string.h>

static const char *const pe_codes[GW_PE_N] = {
    GW_PE_BAD_JSON,       GW_PE_BAD_PROTOBUF, GW_PE_NOT_PING,     GW_PE_EMPTY_BATCH,
    GW_PE_TOO_MANY,       GW_PE_MISSING_ID,   GW_PE_BAD_ID,       GW_PE_DUPLICATE_ID,
    GW_PE_MISSING_BEACON, GW_PE_BAD_BEACON,   GW_PE_MISSING_RSSI, GW_PE_BAD_RSSI,
    GW_PE_MISSING_TS,     GW_PE_BAD_TS,
};

static const char *const disc_names[GW_DISC_N] = {
    "idle",
    "peer_close",
    "eof",
    "io_error",
    "protocol",
    "bad_utf8",
    "too_big",
    "unsupported",
    "overload",
    "append_failed",
    "handshake_timeout",
    "handshake_error",
    "auth",
    "http_done",
    "slow_reader",
    "drain",
    "limit",
};

/* Upper bounds in seconds: fsync here takes ~0.3 ms, group commit a few. */
static const double lat_le[GW_LAT_BUCKETS] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                              0.1,    0.25,  0.5,   1.0,   2.5,  10.0};

void gw__metrics_ping_error(gw_metrics *m, const char *code)
{
    for (int i = 0; i < GW_PE_N; i++)
        if (strcmp(pe_codes[i], code) == 0) {
            m->ping_errors[i]++;
            return;
        }
}

void gw__metrics_latency(gw_metrics *m, double s)
{
    for (int i = 0; i < GW_LAT_BUCKETS; i++)
        if (s <= lat_le[i])
            m->lat_buckets[i]++;
    m->lat_count++;
    m->lat_sum_s += s;
}

/* Families in the order /metrics has always listed them; names and help
 * texts are part of what dashboards and alerts rely on. */
static void gw_metrics_totals(cn_prom *w, const gw_server *s, const gw_metrics *m)
{
    cn_prom_gauge(w, "cairn_gateway_connections", "Open connections (any state).", s->nopen);
    cn_prom_gauge(w, "cairn_gateway_connections_max", "Connection table size (--max-conns).",
                  s->nconns);
    cn_prom_gauge(w, "cairn_gateway_connections_parked",
                  "Connections not read because of backpressure.", s->nparked);
    cn_prom_counter(w, "cairn_gateway_accepted_total", "TCP connections accepted.", m->accepted);
    cn_prom_family(w, "cairn_gateway_refused_total", CN_PROM_COUNTER,
                   "Connections refused at accept or handshake, by limit.");
    const char *full[] = {"limit", "max_conns", NULL}, *ip[] = {"limit", "max_conns_per_ip", NULL};
    cn_prom_u64(w, "cairn_gateway_refused_total", full, m->refused_full);
    cn_prom_u64(w, "cairn_gateway_refused_total", ip, m->refused_ip);
    const char *af[] = {"limit", "auth_failures_per_ip", NULL};
    cn_prom_u64(w, "cairn_gateway_refused_total", af, m->refused_auth_budget);
    const char *vq[] = {"limit", "pending_verifications", NULL};
    cn_prom_u64(w, "cairn_gateway_refused_total", vq, m->verify_shed);
    const char *ho[] = {"limit", "half_open", NULL};
    cn_prom_u64(w, "cairn_gateway_refused_total", ho, m->refused_half_open);
    const char *bb[] = {"limit", "buffer_bytes", NULL};
    cn_prom_u64(w, "cairn_gateway_refused_total", bb, m->buffer_budget_refused);
    cn_prom_family(w, "cairn_gateway_handshakes_total", CN_PROM_COUNTER,
                   "WebSocket upgrades, by result.");
    const char *ok[] = {"result", "ok", NULL}, *bad[] = {"result", "failed", NULL};
    cn_prom_u64(w, "cairn_gateway_handshakes_total", ok, m->handshakes_ok);
    cn_prom_u64(w, "cairn_gateway_handshakes_total", bad, m->handshakes_failed);
    uint64_t th = 0, tm = 0;
    if (s->tokens)
        auth_token_cache_stats(s->tokens, &th, &tm);
    cn_prom_counter(w, "cairn_gateway_token_verifications_total",
                    "Player token signature checks (Ed25519; tokens not in the cache).", tm);
    cn_prom_counter(w, "cairn_gateway_token_cache_hits_total",
                    "Player tokens answered from the token cache without a signature check.", th);
    cn_prom_counter(w, "cairn_gateway_http_requests_total",
                    "Plain HTTP requests (/healthz, /metrics, others).", m->http_requests);
    cn_prom_counter(w, "cairn_gateway_frames_total", "Data messages received.", m->frames_in);
    cn_prom_counter(w, "cairn_gateway_pings_total", "Valid pings received.", m->pings_in);
    cn_prom_counter(w, "cairn_gateway_acks_total", "Pings acknowledged (durable).", m->pings_acked);
    cn_prom_counter(w, "cairn_gateway_ack_frames_total", "Ack frames sent.", m->ack_frames);
    cn_prom_counter(w, "cairn_gateway_error_frames_total",
                    "Error frames sent (one per message with refused pings).", m->error_frames);
    cn_prom_counter(w, "cairn_gateway_socket_writes_total",
                    "Writes to client sockets (all frames a connection gets in one wake: one).",
                    m->sock_writes);
}

static void gw_metrics_by_label(cn_prom *w, const gw_metrics *m)
{
    cn_prom_family(w, "cairn_gateway_ping_errors_total", CN_PROM_COUNTER,
                   "Refused pings, by code.");
    for (int i = 0; i < GW_PE_N; i++) {
        const char *l[] = {"code", pe_codes[i], NULL};
        cn_prom_u64(w, "cairn_gateway_ping_errors_total", l, m->ping_errors[i]);
    }
    cn_prom_counter(w, "cairn_gateway_append_failures_total",
                    "Appends the log or broker failed (never acked).", m->append_failed);
    cn_prom_family(w, "cairn_gateway_disconnects_total", CN_PROM_COUNTER,
                   "Connections ended, by reason.");
    for (int i = 0; i < GW_DISC_N; i++) {
        const char *l[] = {"reason", disc_names[i], NULL};
        cn_prom_u64(w, "cairn_gateway_disconnects_total", l, m->disc[i]);
    }
    cn_prom_histogram(w, "cairn_gateway_append_seconds", "Append to durable, per coalesced batch.",
                      lat_le, m->lat_buckets, GW_LAT_BUCKETS, m->lat_count, m->lat_sum_s);
}

/* TLS handshakes and certificate reloads (all zero on a plain listener). */
static void gw_metrics_tls(cn_prom *w, const gw_metrics *m)
{
    cn_prom_family(w, "cairn_gateway_tls_handshakes_total", CN_PROM_COUNTER,
                   "TLS handshakes, by result (plain_http: an HTTP request on the TLS port, "
                   "answered 400; shed: closed at its first bytes, --max-tls-handshakes in "
                   "progress).");
    const char *ok[] = {"result", "ok", NULL}, *bad[] = {"result", "failed", NULL};
    const char *tmo[] = {"result", "timeout", NULL}, *ph[] = {"result", "plain_http", NULL};
    cn_prom_u64(w, "cairn_gateway_tls_handshakes_total", ok, m->tls_handshakes_ok);
    cn_prom_u64(w, "cairn_gateway_tls_handshakes_total", bad, m->tls_handshakes_failed);
    cn_prom_u64(w, "cairn_gateway_tls_handshakes_total", tmo, m->tls_handshake_timeouts);
    cn_prom_u64(w, "cairn_gateway_tls_handshakes_total", ph, m->tls_plain_http);
    const char *shed[] = {"result", "shed", NULL};
    cn_prom_u64(w, "cairn_gateway_tls_handshakes_total", shed, m->tls_shed);
    cn_prom_family(w, "cairn_gateway_tls_reloads_total", CN_PROM_COUNTER,
                   "Certificate reloads (SIGHUP), by result.");
    cn_prom_u64(w, "cairn_gateway_tls_reloads_total", ok, m->tls_reloads_ok);
    cn_prom_u64(w, "cairn_gateway_tls_reloads_total", bad, m->tls_reloads_failed);
}

/* Real-client-address headers (all zero without --trusted-proxies). */
static void gw_metrics_realip(cn_prom *w, const gw_metrics *m)
{
    cn_prom_family(w, "cairn_gateway_proxy_headers_total", CN_PROM_COUNTER,
                   "PROXY protocol headers from trusted proxies, by result (local: the proxy's "
                   "own connection; bad: malformed, oversized or not sent in time).");
    const char *ok[] = {"result", "ok", NULL}, *lo[] = {"result", "local", NULL};
    const char *bad[] = {"result", "bad", NULL}, *used[] = {"result", "used", NULL};
    cn_prom_u64(w, "cairn_gateway_proxy_headers_total", ok, m->pp_ok);
    cn_prom_u64(w, "cairn_gateway_proxy_headers_total", lo, m->pp_local);
    cn_prom_u64(w, "cairn_gateway_proxy_headers_total", bad, m->pp_bad);
    cn_prom_family(w, "cairn_gateway_forwarded_for_total", CN_PROM_COUNTER,
                   "X-Forwarded-For headers from trusted proxies, by result (bad: an entry "
                   "that is not an address; the proxy is taken as the client).");
    cn_prom_u64(w, "cairn_gateway_forwarded_for_total", used, m->xff_used);
    cn_prom_u64(w, "cairn_gateway_forwarded_for_total", bad, m->xff_bad);
}

int gw__metrics_render(gw_server *s, cn_buf *out)
{
    const gw_metrics *m = &s->m;
    cn_prom w;
    cn_prom_init(&w, out);
    gw_metrics_totals(&w, s, m);
    gw_metrics_by_label(&w, m);
    gw_metrics_tls(&w, m);    /* zeros without --tls-cert */
    gw_metrics_realip(&w, m); /* zeros without --trusted-proxies */
    cn_prom_gauge(&w, "cairn_gateway_inflight_pings", "Pings appended, not yet durable.",
                  (int64_t)s->inflight_pings);
    cn_prom_gauge(&w, "cairn_gateway_conn_struct_bytes",
                  "Bytes of one connection slot (preallocated).", (int64_t)sizeof(gw_conn));
    gw_server_mem mem;
    gw_server_mem_get(s, &mem);
    cn_prom_gauge(&w, "cairn_gateway_slot_bytes",
                  "Preallocated bytes per connection slot (struct, parked entry, per-IP share).",
                  (int64_t)(mem.table_bytes / s->nconns));
    cn_prom_gauge(&w, "cairn_gateway_conn_buffer_bytes",
                  "Heap bytes connections hold now (partial input, unsent output).",
                  (int64_t)m->buffer_bytes);
    cn_prom_gauge(&w, "cairn_gateway_connections_half_open",
                  "Connections accepted, not yet upgraded or answered (--max-half-open).",
                  (int64_t)s->half_open);
    cn_prom_gauge(&w, "cairn_gateway_pending_verifications",
                  "Handshakes waiting for their token's signature check (verifier thread).",
                  (int64_t)gw__verifier_pending(s->verifier));
    cn_prom_gauge(&w, "cairn_gateway_draining", "1 while draining.", s->draining);
    cn_prom_gauge(&w, "cairn_gateway_log_healthy",
                  "0 once the log this process owns failed (appends refused until restarted); "
                  "1 otherwise, also without a log of its own.",
                  gw__server_log_ok(s));
    return w.err;
}
