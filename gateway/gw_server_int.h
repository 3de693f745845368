/* SPDX-License-Identifier: MIT */
/*
 * gw_server_int.h — structures shared by the gateway server's files:
 *   gw_server.c   listener, accept, limits, housekeeping, drain, lifecycle
 *   gw_conn.c     one connection: events, reads, writes, close handshake
 *   gw_http.c     request heads: /ws upgrade + auth, /healthz, /metrics
 *   gw_msg.c      WebSocket messages → pings → staged records; acks
 *   gw_stage.c    per-partition coalescing, tickets, completion → acks
 *   gw_metrics.c  counters and the Prometheus text
 *   gw_iptab.c    connections per source address
 *   gw_tls.c      wss://: the TLS context, handshake, reads and writes
 *   gw_verify.c   token signature checks on a verifier thread (cache misses)
 * Everything runs on the server's loop thread.
 */
#ifndef GW_SERVER_INT_H
#define GW_SERVER_INT_H

#include "cn_buf.h"
#include "cn_id.h"
#include "gw_ping.h"
#include "gw_realip.h"
#include "gw_server.h"
#include "ws.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <stdint.h>

#define GW_NONE UINT32_MAX
/* Frames a connection may have waiting for acks before it is no longer
 * read: a phone waits for acks long before this; a flood does not. */
#define GW_CONN_MAX_INFLIGHT 64
/* Unsent output a connection may hold: acks for 64 frames fit easily; a
 * client that does not read its acks is dropped past this. */
#define GW_OUT_MAX (256u * 1024)
/* How long a closing connection is kept for the peer's EOF. */
#define GW_LINGER_MS 2000

enum gw_conn_state {
    GW_ST_FREE = 0,
    GW_ST_HEAD,    /* reading the HTTP request head */
    GW_ST_OPEN,    /* WebSocket open */
    GW_ST_CLOSING, /* last bytes (close frame, HTTP answer) sent or queued; discarding input until
                      EOF */
    GW_ST_TLS,     /* TLS handshake (--tls-cert), before the request head */
    GW_ST_PROXY,   /* PROXY protocol header from a trusted proxy, before anything else */
    GW_ST_AUTH,    /* request head done; its token's signature is being checked (gw_verify.c):
                      not read; in holds the bytes that followed the head */
};

/* Why connections end: one counter each, so an operator can tell idle
 * closes from overload, abuse and protocol errors. */
enum gw_disc {
    GW_DISC_IDLE = 0,
    GW_DISC_PEER_CLOSE,
    GW_DISC_EOF,
    GW_DISC_IO_ERROR,
    GW_DISC_PROTOCOL,
    GW_DISC_BAD_UTF8,
    GW_DISC_TOO_BIG,
    GW_DISC_UNSUPPORTED,
    GW_DISC_OVERLOAD,
    GW_DISC_APPEND_FAILED,
    GW_DISC_HANDSHAKE_TIMEOUT,
    GW_DISC_HANDSHAKE_ERROR,
    GW_DISC_AUTH,
    GW_DISC_HTTP_DONE,
    GW_DISC_SLOW_READER,
    GW_DISC_DRAIN,
    GW_DISC_LIMIT,
    GW_DISC_N
};

/* Accepted, not yet a WebSocket or answered: what --max-half-open caps. */
static inline int gw__half_open(uint8_t state)
{
    return state == GW_ST_HEAD || state == GW_ST_TLS || state == GW_ST_PROXY || state == GW_ST_AUTH;
}

/* conn flags */
#define GW_CF_PARKED 0x01     /* read event removed by backpressure */
#define GW_CF_MSG_OPEN 0x02   /* a data message has started (chunks seen) */
#define GW_CF_SHUT 0x04       /* write side shut down */
#define GW_CF_BINARY 0x08     /* last message was binary (protobuf client) */
#define GW_CF_TLS_WANT_W 0x10 /* TLS must write before it can go on reading */
#define GW_CF_UNCOUNTED 0x20  /* not in the per-IP table yet: the client's address is not known */
#define GW_CF_VIA_PROXY 0x40  /* the peer is a trusted proxy: X-Forwarded-For is believed */
#define GW_CF_QUEUED 0x80 /* on the server's output queue: written once, at the end of the wake */

/* A connection slot.  Idle, it owns nothing outside this struct: the
 * cn_bufs are empty (data NULL) unless a head, message, control payload or
 * output is in progress, and are freed as soon as that completes. */
typedef struct gw_conn {
    struct event ev;
    struct gw_server *srv; /* read (+write) with the deadline as timeout */
    ws_decoder dec;
    int fd;
    uint32_t gen;  /* bumped when the slot is freed: stale tickets see the change */
    uint32_t next; /* free list / parked list link */
    uint8_t state; /* enum gw_conn_state */
    uint8_t flags;
    uint8_t evflags;   /* EV_READ/EV_WRITE currently registered */
    uint8_t disc;      /* enum gw_disc once closing */
    uint16_t inflight; /* frames waiting for their ack */
    union {
        uint16_t head_scan; /* GW_ST_HEAD: ws_http_parse resume position */
        uint16_t errq;      /* GW_ST_OPEN on: error frames in out not yet written (in inflight) */
    };
    uint32_t out_off; /* bytes of out already written (in what was padding) */
    int64_t deadline_ms;
    int64_t parked_ms;
    cn_buf in;              /* incomplete request head or message */
    cn_buf ctl;             /* incomplete control frame payload (ping) */
    cn_buf out;             /* bytes the kernel did not take yet */
    unsigned char addr[16]; /* peer address (IPv4 mapped), for the per-IP count */
    char player[CN_ID_MAX + 1];
    char hunt[CN_ID_MAX + 1];
} gw_conn;

/* Counters (gw_metrics.c renders them). */
#define GW_LAT_BUCKETS 13
#define GW_PE_N 14
typedef struct gw_metrics {
    uint64_t accepted, refused_full, refused_ip, refused_auth_budget;
    uint64_t handshakes_ok, handshakes_failed, http_requests;
    uint64_t frames_in, pings_in, pings_acked, ack_frames, error_frames, ping_errors[GW_PE_N];
    uint64_t sock_writes; /* write(2)/SSL_write calls on client sockets */
    uint64_t append_failed, disc[GW_DISC_N];
    uint64_t lat_buckets[GW_LAT_BUCKETS]; /* append → durable, per ticket */
    uint64_t lat_count;
    double lat_sum_s;
    uint64_t buffer_bytes; /* live heap bytes held by connections */
    uint64_t tls_handshakes_ok, tls_handshakes_failed, tls_handshake_timeouts, tls_plain_http;
    uint64_t tls_shed; /* closed at the first bytes: --max-tls-handshakes in progress */
    uint64_t tls_reloads_ok, tls_reloads_failed;
    uint64_t pp_ok, pp_local, pp_bad, xff_used, xff_bad;
    uint64_t verify_shed;           /* handshakes answered 503: the verifier's queue was full */
    uint64_t buffer_budget_refused; /* connections closed: --max-buffer-bytes reached */
    uint64_t refused_half_open;     /* accepts refused: --max-half-open connections */
} gw_metrics;

/* One client frame waiting for its ack inside a ticket. */
typedef struct gw_ackref {
    uint32_t slot, gen;
    uint32_t ids_off; /* into ticket->ids: NUL-terminated ids, back to back */
    uint16_t nids;
    uint8_t binary;
} gw_ackref;

typedef struct gw_recoff {
    uint32_t koff, klen, voff, vlen;
} gw_recoff;

/* The pings of one partition flushed as one append.  Reused from a free
 * list: its buffers are loop-owned staging memory, bounded by max_inflight. */
typedef struct gw_ticket {
    struct gw_ticket *next;
    struct gw_server *srv;
    int32_t partition;
    uint64_t t0_ns;
    size_t npings;
    cn_buf data; /* keys and CloudEvent values */
    cn_buf ids;  /* client ping ids */
    gw_recoff *recs;
    size_t nrec, caprec;
    gw_ackref *refs;
    size_t nref, capref;
} gw_ticket;

typedef struct gw_iptab {
    struct gw_ipent {
        unsigned char addr[16];
        uint32_t count;
    } * ents;
    uint32_t mask;
    unsigned char key[16]; /* SipHash key, random per table */
} gw_iptab;

/* Failed token signature checks per source address: a token bucket each
 * (GW_AUTHFAIL_RATE per second, GW_AUTHFAIL_BURST at most), in a fixed
 * table of GW_AUTHFAIL_SLOTS entries (windows of 4 under a keyed hash). */
#define GW_AUTHFAIL_SLOTS 4096
typedef struct gw_failtab {
    struct gw_failent {
        unsigned char addr[16];
        int64_t stamp_ms; /* 0: empty */
        double credit;    /* failures this address may still cause now */
    } * ents;
    unsigned char key[16];
    double rate, burst;
} gw_failtab;

typedef struct gw_verifier gw_verifier;
/* What checks a token's signature on the verifier thread (tests slow it). */
typedef int (*gw_verify_fn)(void *ud, const unsigned char pk[AUTH_TOKEN_PK_LEN], const char *tok,
                            size_t len, int64_t now_ms, auth_token_claims *out);

struct gw_server {
    struct event_base *base;
    gw_sink *sink;
    gw_server_opts o;
    char node[CN_ID_MAX + 1];
    int lfd, port;
    struct event *lev;        /* listener */
    struct event *resume_lev; /* re-enables accept after EMFILE */
    struct event *flush_ev;   /* coalesced appends, queued behind this iteration's reads */
    struct event *tick_ev;    /* 1 s housekeeping */
    struct event *out_ev; /* writes queued output, behind this iteration's reads and completions */
    uint32_t *outq;       /* slots with GW_CF_QUEUED (each at most once) */
    uint32_t noutq;
    gw_conn *conns;
    uint32_t nconns, free_head, nopen;
    uint32_t half_open; /* connections in a gw__half_open state */
    struct gw_parked {
        uint32_t slot, gen;
    } * parked; /* parked connections (stale entries skipped) */
    uint32_t nparked_ents, nparked;
    gw_iptab ips;
    gw_failtab fails;         /* with --auth-key: failed token checks per address */
    auth_token_cache *tokens; /* with --auth-key: verified and refused tokens */
    gw_verifier *verifier;    /* with --auth-key: checks cache misses off the loop */
    unsigned char *scratch;   /* the loop's one read buffer */
    size_t scratch_cap;
    cn_buf tmp, frame; /* payload / frame staging for outgoing messages */
    gw_ping_batch batch;
    const char **idv; /* ids of one ack (max_batch) */
    gw_rec *recs;     /* records of one append */
    size_t caprecs;
    gw_ping_limits plim;
    int32_t nparts;   /* partitions of the topic (the sink's, copied) */
    gw_ticket **open; /* per partition: the ticket being filled */
    gw_ticket *free_tickets;
    uint32_t tickets_out; /* appended, waiting for done */
    uint64_t inflight_pings;
    uint64_t ce_seq;
    uint64_t boot_id;
    int dev_warned;
    int draining;
    void (*drain_done)(void *);
    void *drain_ud;
    gw_http_other_fn http_other; /* other paths: handed over (cairn up) */
    void *http_other_ud;
    lg_log *watched;  /* gw_server_watch_log: the process's own log, or NULL */
    int log_failed;   /* it failed (sticky): reported, on_fail called */
    int keep_running; /* do not call on_fail */
    void (*on_log_fail)(void *);
    void *on_log_fail_ud;
    gw_metrics_extra_fn metrics_extra; /* more /metrics text (cairn up) */
    void *metrics_extra_ud;
    gw_metrics m;
    struct ssl_ctx_st *tls_ctx;   /* --tls-cert: the context new connections start with */
    struct ssl_st **ssl;          /* --tls-cert: per slot, NULL until its first bytes */
    uint32_t tls_hs;              /* connections in GW_ST_TLS holding an SSL */
    gw_cidr trusted[GW_CIDR_MAX]; /* trusted proxies */
    size_t ntrusted;
};

/* gw_conn.c */
/* gw_bind.c: resolve and bind listen_at (SO_REUSEPORT if reuseport;
 * SO_RCVBUF/SO_SNDBUF sock_buf if > 0); listen(backlog) unless backlog is
 * 0.  0 with *out_fd and the bound *out_port; CN_EINVAL; CN_ESYS (errno). */
int gw__bind(const char *listen_at, int reuseport, int sock_buf, int backlog, int *out_fd,
             int *out_port);

void gw__conn_event(evutil_socket_t fd, short what, void *arg);
void gw__conn_arm(gw_server *s, gw_conn *c);
int gw__conn_send(gw_server *s, gw_conn *c, const void *p, size_t n);
/* Queue a frame (ack, error, pong) behind c's output: every frame queued
 * for a connection in one loop wake leaves in one write, made by
 * gw__conn_out_flush at the end of the wake.  An error frame (is_err)
 * counts as one frame in flight until it is written.  0, or -1 if the
 * connection is gone (slow reader, no memory). */
int gw__conn_queue(gw_server *s, gw_conn *c, const void *p, size_t n, int is_err);
void gw__conn_out_flush(evutil_socket_t fd, short what, void *arg);
/* Send p (a close frame or an HTTP answer), then half-close and linger. */
void gw__conn_finish(gw_server *s, gw_conn *c, const void *p, size_t n, enum gw_disc why);
void gw__conn_close_ws(gw_server *s, gw_conn *c, uint16_t code, const char *reason,
                       enum gw_disc why);
void gw__conn_abort(gw_server *s, gw_conn *c, enum gw_disc why);
void gw__conn_unpark(gw_server *s, gw_conn *c);
void gw__buf_free(gw_server *s, cn_buf *b);
/* Append to a connection's buffer within --max-buffer-bytes (all
 * connections' buffers together): 0; CN_EOVERLOAD (over the budget,
 * counted); CN_ENOMEM.  The caller closes the connection on failure. */
int gw__buf_append(gw_server *s, cn_buf *b, const void *p, size_t n);
void gw__buf_track(gw_server *s, cn_buf *b, size_t before);
int64_t gw__now_ms(void);

/* PROXY header bytes from a trusted proxy (GW_ST_PROXY). */
void gw__conn_proxy_read(gw_server *s, gw_conn *c);

/* gw_http.c: handle bytes of a request head; 0 or the connection is gone. */
void gw__http_input(gw_server *s, gw_conn *c, unsigned char *p, size_t n);

/* A token check of gw_verify.c finished (loop thread): cache the answer,
 * then open or refuse the handshake of (slot, gen) if it is still waiting. */
void gw__http_verified(gw_server *s, uint32_t slot, uint32_t gen, const char *tok, size_t len,
                       int64_t now_ms, int rc, const auth_token_claims *cl,
                       const char accept[WS_ACCEPT_LEN + 1]);

/* gw_verify.c: one verifier thread, at most queue_cap checks queued or
 * running.  new: 0, CN_ENOMEM, CN_ESYS.  submit: 0, or CN_EOVERLOAD when
 * queue_cap checks are pending (answer 503). */
int gw__verifier_new(gw_verifier **out, gw_server *s, uint32_t queue_cap);
void gw__verifier_free(gw_verifier *v);
int gw__verifier_submit(gw_verifier *v, uint32_t slot, uint32_t gen, const char *tok, size_t len,
                        int64_t now_ms, const char accept[WS_ACCEPT_LEN + 1]);
uint32_t gw__verifier_pending(const gw_verifier *v);
/* Tests: check with fn instead of auth_token_verify (set before traffic). */
void gw__verifier_set_fn(gw_verifier *v, gw_verify_fn fn, void *ud);

/* gw_msg.c */
void gw__ws_input(gw_server *s, gw_conn *c, unsigned char *p, size_t n);

/* gw_stage.c */
int gw__stage_frame(gw_server *s, gw_conn *c, const gw_ping *pings, size_t n, int binary);
void gw__stage_flush(evutil_socket_t fd, short what, void *arg);
void gw__sink_done(void *ud, void *ticket, int err);
void gw__tickets_free(gw_server *s);
uint32_t gw__partition_of(const char *player, int32_t partitions);

/* gw_metrics.c */
int gw__metrics_render(gw_server *s, cn_buf *out);
void gw__metrics_ping_error(gw_metrics *m, const char *code);
void gw__metrics_latency(gw_metrics *m, double seconds);

/* gw_iptab.c */
int gw__iptab_init(gw_iptab *t, uint32_t max_conns);
void gw__iptab_free(gw_iptab *t);
/* Count one more connection from addr: 0, or GW_ELIMIT if that would pass
 * limit (0: no limit).  The table has room for every connection slot. */
int gw__iptab_add(gw_iptab *t, const unsigned char addr[16], uint32_t limit);
void gw__iptab_del(gw_iptab *t, const unsigned char addr[16]);
/* The key a peer is counted under: an IPv4 address (IPv4-mapped), or an
 * IPv6 address's /64 (one subscriber's prefix: the last 64 bits are the
 * host's own choice, so counting per /128 would count nothing). */
void gw__addr_key(const struct sockaddr_storage *ss, unsigned char out[16]);
/* The whole address (IPv4-mapped for IPv4), and the key of one. */
void gw__addr_full(const struct sockaddr_storage *ss, unsigned char out[16]);
void gw__addr_key16(const unsigned char full[16], unsigned char out[16]);
int gw__failtab_init(gw_failtab *t, double rate_per_s, double burst);
void gw__failtab_free(gw_failtab *t);
/* May addr cause one more failed signature check now?  1 or 0. */
int gw__failtab_allow(gw_failtab *t, const unsigned char addr[16], int64_t now_ms);
/* addr caused one. */
void gw__failtab_charge(gw_failtab *t, const unsigned char addr[16], int64_t now_ms);
/* A check charged in advance did not fail after all: give the credit back. */
void gw__failtab_refund(gw_failtab *t, const unsigned char addr[16], int64_t now_ms);

/* gw_tls.c: only with s->tls_ctx.  err gets one line on failure. */
int gw__tls_init(gw_server *s, char *err, size_t cap);
void gw__tls_fini(gw_server *s);
/* One handshake step: 0 done; CN_WANT_MORE (wait for the socket, with
 * GW_CF_TLS_WANT_W when it must become writable); CN_ENOMEM; CN_EOVERLOAD
 * (max_tls_handshakes in progress: counted); CN_EPROTO (failed, counted;
 * a plain-HTTP client was answered): close. */
int gw__tls_handshake(gw_server *s, gw_conn *c);
/* As read(2)/write(2): >0, 0 (end of stream, reads), -1 with errno. */
ssize_t gw__tls_read(gw_server *s, gw_conn *c, void *p, size_t n);
ssize_t gw__tls_write(gw_server *s, gw_conn *c, const void *p, size_t n);
void gw__tls_close_notify(gw_server *s, gw_conn *c);
void gw__tls_free(gw_server *s, gw_conn *c);

/* gw_server.c */
/* The canned 429/503 of a refused connection (nothing on a TLS listener,
 * whose peer cannot read it); best effort.  The caller closes. */
void gw__refuse_write(gw_server *s, int fd, int status);
/* The client's address is known now (full, from a PROXY header or
 * X-Forwarded-For, or the peer's own): count it.  0, or GW_ELIMIT. */
int gw__server_count_client(gw_server *s, gw_conn *c, const unsigned char full[16],
                            const char *how);
void gw__server_maybe_drained(gw_server *s);
/* Is the watched log healthy (1 without one)?  Notices a failure (logs
 * it once); on_fail is called by the 1 s tick, never from here. */
int gw__server_log_ok(gw_server *s);
void gw__server_resume_parked(gw_server *s);
void gw__server_parked_compact(gw_server *s);

#endif
