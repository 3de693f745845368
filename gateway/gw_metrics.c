/* SPDX-License-Identifier: MIT */
/*
 * gw_metrics.c — the gateway's counters as Prometheus text (exposition
 * format 0.0.4) for GET /metrics: connections, handshakes, pings, acks,
 * ping errors by code, disconnects by reason, the append→durable latency
 * histogram, and memory held by connections.
 * Loop thread only; the counters live in gw_server (no globals), so two
 * servers in one process report separately.
 */
#include "gw_server_int.h"

#include "cn_err.h"

#include <string.h>

static const char *const pe_codes[GW_PE_N] = {
    GW_PE_BAD_JSON,     GW_PE_BAD_PROTOBUF,   GW_PE_NOT_PING, GW_PE_EMPTY_BATCH, GW_PE_TOO_MANY,
    GW_PE_MISSING_ID,   GW_PE_BAD_ID,         GW_PE_DUPLICATE_ID, GW_PE_MISSING_BEACON, GW_PE_BAD_BEACON,
    GW_PE_MISSING_RSSI, GW_PE_BAD_RSSI,       GW_PE_MISSING_TS, GW_PE_BAD_TS,
};

static const char *const disc_names[GW_DISC_N] = {
    "idle",        "peer_close",       "eof",          "io_error",        "protocol", "bad_utf8",
    "too_big",     "unsupported",      "overload",     "append_failed",   "handshake_timeout",
    "handshake_error", "auth",         "http_done",    "slow_reader",     "drain",    "limit",
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

#define P(...)                                                                                                \
    do {                                                                                                      \
        if (cn_buf_printf(out, __VA_ARGS__))                                                                  \
            return CN_ENOMEM;                                                                                 \
    } while (0)

int gw__metrics_render(gw_server *s, cn_buf *out)
{
    const gw_metrics *m = &s->m;
    P("# HELP cairn_gateway_connections Open connections (any state).\n"
      "# TYPE cairn_gateway_connections gauge\ncairn_gateway_connections %u\n", s->nopen);
    P("# HELP cairn_gateway_connections_max Connection table size (--max-conns).\n"
      "# TYPE cairn_gateway_connections_max gauge\ncairn_gateway_connections_max %u\n", s->nconns);
    P("# HELP cairn_gateway_connections_parked Connections not read because of backpressure.\n"
      "# TYPE cairn_gateway_connections_parked gauge\ncairn_gateway_connections_parked %u\n", s->nparked);
    P("# HELP cairn_gateway_accepted_total TCP connections accepted.\n"
      "# TYPE cairn_gateway_accepted_total counter\ncairn_gateway_accepted_total %llu\n",
      (unsigned long long)m->accepted);
    P("# HELP cairn_gateway_refused_total Connections refused at accept, by limit.\n"
      "# TYPE cairn_gateway_refused_total counter\n"
      "cairn_gateway_refused_total{limit=\"max_conns\"} %llu\n"
      "cairn_gateway_refused_total{limit=\"max_conns_per_ip\"} %llu\n",
      (unsigned long long)m->refused_full, (unsigned long long)m->refused_ip);
    P("# HELP cairn_gateway_handshakes_total WebSocket upgrades, by result.\n"
      "# TYPE cairn_gateway_handshakes_total counter\n"
      "cairn_gateway_handshakes_total{result=\"ok\"} %llu\n"
      "cairn_gateway_handshakes_total{result=\"failed\"} %llu\n",
      (unsigned long long)m->handshakes_ok, (unsigned long long)m->handshakes_failed);
    P("# HELP cairn_gateway_http_requests_total Plain HTTP requests (/healthz, /metrics, others).\n"
      "# TYPE cairn_gateway_http_requests_total counter\ncairn_gateway_http_requests_total %llu\n",
      (unsigned long long)m->http_requests);
    P("# HELP cairn_gateway_frames_total Data messages received.\n"
      "# TYPE cairn_gateway_frames_total counter\ncairn_gateway_frames_total %llu\n",
      (unsigned long long)m->frames_in);
    P("# HELP cairn_gateway_pings_total Valid pings received.\n"
      "# TYPE cairn_gateway_pings_total counter\ncairn_gateway_pings_total %llu\n",
      (unsigned long long)m->pings_in);
    P("# HELP cairn_gateway_acks_total Pings acknowledged (durable).\n"
      "# TYPE cairn_gateway_acks_total counter\ncairn_gateway_acks_total %llu\n",
      (unsigned long long)m->pings_acked);
    P("# HELP cairn_gateway_ack_frames_total Ack frames sent.\n"
      "# TYPE cairn_gateway_ack_frames_total counter\ncairn_gateway_ack_frames_total %llu\n",
      (unsigned long long)m->ack_frames);
    P("# HELP cairn_gateway_ping_errors_total Error frames sent, by code.\n"
      "# TYPE cairn_gateway_ping_errors_total counter\n");
    for (int i = 0; i < GW_PE_N; i++)
        P("cairn_gateway_ping_errors_total{code=\"%s\"} %llu\n", pe_codes[i], (unsigned long long)m->ping_errors[i]);
    P("# HELP cairn_gateway_append_failures_total Appends the log or broker failed (never acked).\n"
      "# TYPE cairn_gateway_append_failures_total counter\ncairn_gateway_append_failures_total %llu\n",
      (unsigned long long)m->append_failed);
    P("# HELP cairn_gateway_disconnects_total Connections ended, by reason.\n"
      "# TYPE cairn_gateway_disconnects_total counter\n");
    for (int i = 0; i < GW_DISC_N; i++)
        P("cairn_gateway_disconnects_total{reason=\"%s\"} %llu\n", disc_names[i], (unsigned long long)m->disc[i]);
    P("# HELP cairn_gateway_append_seconds Append to durable, per coalesced batch.\n"
      "# TYPE cairn_gateway_append_seconds histogram\n");
    for (int i = 0; i < GW_LAT_BUCKETS; i++)
        P("cairn_gateway_append_seconds_bucket{le=\"%g\"} %llu\n", lat_le[i], (unsigned long long)m->lat_buckets[i]);
    P("cairn_gateway_append_seconds_bucket{le=\"+Inf\"} %llu\n"
      "cairn_gateway_append_seconds_sum %.6f\ncairn_gateway_append_seconds_count %llu\n",
      (unsigned long long)m->lat_count, m->lat_sum_s, (unsigned long long)m->lat_count);
    P("# HELP cairn_gateway_inflight_pings Pings appended, not yet durable.\n"
      "# TYPE cairn_gateway_inflight_pings gauge\ncairn_gateway_inflight_pings %llu\n",
      (unsigned long long)s->inflight_pings);
    P("# HELP cairn_gateway_conn_struct_bytes Bytes of one connection slot (preallocated).\n"
      "# TYPE cairn_gateway_conn_struct_bytes gauge\ncairn_gateway_conn_struct_bytes %zu\n", sizeof(gw_conn));
    gw_server_mem mem;
    gw_server_mem_get(s, &mem);
    P("# HELP cairn_gateway_slot_bytes Preallocated bytes per connection slot (struct, parked entry, per-IP share).\n"
      "# TYPE cairn_gateway_slot_bytes gauge\ncairn_gateway_slot_bytes %zu\n", mem.table_bytes / s->nconns);
    P("# HELP cairn_gateway_conn_buffer_bytes Heap bytes connections hold now (partial input, unsent output).\n"
      "# TYPE cairn_gateway_conn_buffer_bytes gauge\ncairn_gateway_conn_buffer_bytes %llu\n",
      (unsigned long long)m->buffer_bytes);
    P("# HELP cairn_gateway_draining 1 while draining.\n"
      "# TYPE cairn_gateway_draining gauge\ncairn_gateway_draining %d\n", s->draining);
    return 0;
}
