/* SPDX-License-Identifier: MIT */
/*
 * gw_server.h — the gateway server: a WebSocket listener on a libevent loop
 * that turns player pings into CloudEvent records appended through a
 * gw_sink and acknowledges them only once the sink reports them durable.
 * Also answers GET /healthz and /metrics on the same port.
 * See docs/architecture.md "The gateway" and docs/protocol.md.
 *
 * Threads: every call runs on the thread running the event_base.  With an
 * auth key the server also runs one verifier thread of its own (token
 * signature checks, gw_verify.c), started in gw_server_new and joined in
 * gw_server_free.
 * Ownership: the server borrows base and sink (the sink is freed just
 * before the server, see gw_server_free) and owns
 * its listener, connection table and staging buffers.
 */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "cn_buf.h"
#include "gw_sink.h"
#include "auth.h"

struct event_base;
typedef struct gw_server gw_server;

typedef struct gw_server_opts {
    const char *listen;           /* "HOST:PORT" (IPv4, or [v6]:PORT); port 0 picks one */
    int reuseport;                /* bind with SO_REUSEPORT (workers share the port) */
    const char *node;             /* CloudEvent source /gateway/<node> */
    int64_t idle_close_ms;        /* close 1000 "idle" this long after the last ping */
    int64_t handshake_timeout_ms; /* unfinished request heads are dropped after this */
    int64_t stall_close_ms;       /* a connection parked by backpressure this long gets 1013 */
    uint32_t max_conns;           /* table size: connections held at once */
    uint32_t max_conns_per_ip;    /* 0: no per-address limit */
    uint64_t max_msg_bytes;       /* largest WebSocket message (1009 beyond) */
    uint32_t max_inflight;        /* pings appended but not yet durable, per process */
    int has_auth_key;             /* 0: development mode (?player=ID accepted) */
    unsigned char auth_pk[AUTH_TOKEN_PK_LEN];
    int sock_buf; /* SO_RCVBUF/SO_SNDBUF per connection (bytes) */
    /* With a key: token signature checks that fail, per source address
     * (IPv4 address or IPv6 /64): a bucket of auth_fail_burst refilled at
     * auth_fail_rate per second.  An address out of credit gets 429 for a
     * token not already in the cache, without a verification. */
    double auth_fail_rate;
    double auth_fail_burst;
    /* With a key: signature checks of tokens not in the cache run on a
     * verifier thread, the handshake waiting meanwhile; at most this many
     * wait or run at once, a handshake beyond gets 503 + Retry-After. */
    uint32_t max_pending_verifications;
    /* wss://: both PEM files (the certificate chain, leaf first, and its
     * key), or both NULL for plain ws://.  The paths are read again on
     * gw_server_tls_reload, so they must outlive the server. */
    const char *tls_cert;
    const char *tls_key;
    /* TLS handshakes in progress at once (0: no limit).  A handshake holds
     * OpenSSL's handshake buffers (~72 KB) until it completes or the
     * handshake deadline; a connection whose handshake would pass this is
     * closed at its first bytes (the client retries), which bounds what a
     * flood of stalling handshakes can hold. */
    uint32_t max_tls_handshakes;
    /* Heap bytes all connections' buffers (partial heads and messages,
     * unsent output) may hold together (0: no limit).  A connection whose
     * buffer would grow past it is closed (1013 "overloaded" when it can
     * still be told, else dropped), so a flood of large partial messages
     * or unread output cannot take the host's memory. */
    uint64_t max_buffer_bytes;
    /* Connections accepted but not yet upgraded or answered (request head,
     * TLS or PROXY header pending, token being checked) at once (0: no
     * limit); beyond, a new connection gets 503 at once, so slow-header
     * floods cannot hold every slot while open players stay served. */
    uint32_t max_half_open;
    /* Behind a proxy: "CIDR,..." of the proxies whose word on the client's
     * address is taken (NULL: none).  A connection from one of them sends
     * a PROXY protocol v1/v2 header first when proxy_protocol is set (a
     * connection from any other address never does: its bytes are taken
     * as they come), and its X-Forwarded-For is honoured.  Per-address
     * limits, the token-failure budget and logs then see the client. */
    const char *trusted_proxies;
    int proxy_protocol;
} gw_server_opts;

/** Defaults: 127.0.0.1:8080, node "gw", idle 5 s, handshake 10 s, stall
 *  10 s, 20,000 conns, 0 per IP, 64 KiB messages, 100,000 in flight,
 *  development mode, 4 KiB socket buffers, 20 failed token checks per
 *  address then 2 per second, 1,024 pending token checks, 2,048 TLS
 *  handshakes in progress, 256 MiB of connection buffers, 4,096
 *  half-open connections. */
void gw_server_opts_init(gw_server_opts *o);

/**
 * Bind, listen and start serving on base.
 * @return 0; CN_EINVAL (bad address or options); CN_ESYS (bind/listen
 *         failed; errno says why, for the caller's message); CN_ENOMEM.
 *         On failure *out is NULL.
 */
int gw_server_new(gw_server **out, struct event_base *base, gw_sink *sink, const gw_server_opts *o);

/**
 * Check that cert and key load and belong together, as gw_server_new
 * would (for a supervisor that starts workers with them).
 * @return 0; CN_EINVAL with one line in err; CN_ENOMEM.
 */
int gw_tls_check(const char *cert, const char *key, char *err, size_t cap);

/**
 * Load the certificate and key files again (after they were renewed) for
 * the connections accepted from now on; open connections are untouched.
 * @return 0; CN_EINVAL (no TLS, or the files do not load: the old
 *         certificate stays, err says why); CN_ENOMEM.  Loop thread.
 */
int gw_server_tls_reload(gw_server *s, char *err, size_t cap);

/** The bound TCP port. */
int gw_server_port(const gw_server *s);

/**
 * Drain: stop reading, flush staged pings, wait for every outstanding
 * append and send its acks, close connections with 1001.  New connections
 * are still accepted and answered 503 (/healthz "draining", /ws "draining:
 * reconnect in a moment") until the server is freed.
 * done(ud) runs on the loop once no connection and no append is left.
 */
void gw_server_drain(gw_server *s, void (*done)(void *ud), void *ud);

/** Memory accounting for benchmarks and /metrics. */
typedef struct gw_server_mem {
    size_t conn_struct_bytes; /* sizeof one table slot */
    size_t table_bytes;       /* the whole preallocated table */
    size_t conn_buffer_bytes; /* heap bytes connections hold now (partial heads/messages, output) */
    uint32_t conns_open;
} gw_server_mem;
void gw_server_mem_get(const gw_server *s, gw_server_mem *m);

/**
 * Close everything now (no drain).  NULL-safe.  Free the sink FIRST: its
 * destroy completes every outstanding append into this server (acks go to
 * connections still open, tickets are released); the server never touches
 * the sink while being freed.
 */
void gw_server_free(gw_server *s);

/**
 * Watch the log this process owns (the one gw_sink_log appends to): once a
 * second, and on every /healthz and /metrics, lg_health.  Once it reports
 * the log failed (an fdatasync or index commit failed: every append is
 * refused until the process restarts and recovery runs), /healthz answers
 * 503 "log failed ...", /metrics says cairn_gateway_log_healthy 0, one
 * error line is logged, and — unless keep_running — on_fail(ud) is called
 * once on the loop thread (the command drains and exits non-zero, so a
 * supervisor restarts it).  log is borrowed and must outlive the server.
 */
void gw_server_watch_log(gw_server *s, lg_log *log, int keep_running, void (*on_fail)(void *ud),
                         void *ud);

/* ---- composing the gateway with other HTTP services (cairn up) ---------- */

/**
 * Called with a connection whose request head asks for a path the gateway
 * does not serve (anything but /ws, /healthz and /metrics).  It takes
 * ownership of fd (it must close it, also on failure) and, on a TLS
 * listener, of tls: the connection's established OpenSSL `SSL *` (free it
 * with SSL_free; NULL on a plain listener).  It gets every byte read from
 * it so far (the head and whatever followed, decrypted), borrowed for the
 * call.  The slot is freed right after; the gateway never touches fd again.
 * Loop thread.
 */
typedef void (*gw_http_other_fn)(void *ud, int fd, void *tls, const unsigned char *bytes,
                                 size_t len);
/** Without it (the default) such paths get 404. */
void gw_server_set_http_other(gw_server *s, gw_http_other_fn fn, void *ud);

/** Appends more Prometheus text to the gateway's /metrics answer (other
 *  parts of the same process).  @return 0 or CN_ENOMEM.  Loop thread. */
typedef int (*gw_metrics_extra_fn)(void *ud, cn_buf *out);
void gw_server_set_metrics_extra(gw_server *s, gw_metrics_extra_fn fn, void *ud);

#endif
