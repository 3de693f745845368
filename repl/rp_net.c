/* SPDX-License-Identifier: MIT */
/*
 * rp_net.c — the replication transport: one TCP connection per node pair
 * on the replication listener, a HELLO handshake, then rp_msg frames
 * (docs/replication.md, "Transport between nodes").
 *
 * Guarantees:
 *  - for the pair {i, j}, i < j, only i dials; j keeps the newest
 *    connection that completed the handshake as i and closes the older;
 *  - nothing but a valid HELLO is read before the handshake (the read
 *    watermark is one HELLO), and a connection that does not complete it
 *    within hello_timeout_ms is closed;
 *  - after it, every frame must decode and carry the peer's id as sender
 *    and ours as addressee; a frame over RP_MAX_FRAME, a malformed frame,
 *    a spoofed sender or a stream ending inside a frame closes that
 *    connection with one log line and a counted reason; the other
 *    connections are unaffected;
 *  - input holds at most one frame ahead; output at most out_max bytes per
 *    connection: a send beyond it, or to a peer without a connection, is
 *    dropped and counted (the protocol survives loss; blocking would stall
 *    every partition behind one slow peer);
 *  - a dialer reconnects after any close with a backoff doubling from
 *    backoff_min_ms to backoff_max_ms, each wait drawn from [b/2, b).
 *  - with opts.tls, every connection is mutual TLS first: both sides
 *    present a certificate and verify the other's against the cluster CA
 *    (rp_tls.c); a failed handshake closes with its reason, counted as a
 *    protocol close.
 * Threads: everything on the event_base's thread.
 * Ownership: rp_net owns its listener, connections and their buffers;
 * rp_net_send copies the encoded message; delivered messages point into
 * the connection's input and live for the delivery callback only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "cn_alloc.h"
#include "cn_buf.h"
#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_log.h"
#include "rp.h"

/* Connections accepted but not yet identified (a flood of silent
 * connections cannot grow this past the bound; each also times out). */
#define RP_NET_PENDING_MAX 16

typedef struct rp_conn rp_conn;

struct rp_conn {
    rp_net *net;
    struct bufferevent *bev;
    struct event *hello_timer;
    int32_t peer;  /* the dialed id, or (accepting side) -1 until HELLO */
    int dialer;    /* we dialed */
    int ready;     /* both HELLOs accepted */
    rp_conn *next; /* the list of unidentified accepted connections */
    char addr[64]; /* the peer's address, for log lines */
};

typedef struct rp_slot {
    rp_net *net;
    int32_t id;
    struct sockaddr_storage sa;
    socklen_t salen;
    rp_conn *conn; /* ready connection, or (dialer) the one being set up */
    struct event *retry;
    uint32_t backoff_ms;
} rp_slot;

struct rp_net {
    struct event_base *base;
    rp_cluster cluster;
    int32_t self;
    rp_deliver_fn deliver;
    void *ud;
    uint32_t out_max, hello_timeout_ms, backoff_min_ms, backoff_max_ms;
    struct evconnlistener *lst;
    struct ssl_ctx_st *tls;       /* NULL: plain TCP; borrowed */
    rp_slot slots[RP_MAX_VOTERS]; /* one per voter, self's unused */
    rp_conn *pending;
    int npending;
    uint64_t rng;
    cn_buf enc;
    rp_net_stats st;
};

/* ======================================================================
 * cluster membership
 * ====================================================================== */

static int rp_parse_entry(const char *s, size_t len, rp_peer *p)
{
    char tmp[RP_HOST_MAX + 32];
    if (len == 0 || len >= sizeof(tmp))
        return CN_EINVAL;
    memcpy(tmp, s, len);
    tmp[len] = 0;
    char *at = strchr(tmp, '@');
    char *colon = strrchr(tmp, ':');
    if (!at || !colon || colon < at)
        return CN_EINVAL;
    char *end;
    errno = 0;
    long id = strtol(tmp, &end, 10);
    if (end != at || at == tmp || tmp[0] == '-' || tmp[0] == '+' || errno || id < 0 ||
        id > INT32_MAX)
        return CN_EINVAL;
    long port = strtol(colon + 1, &end, 10);
    if (*end || colon[1] == 0 || colon[1] == '-' || colon[1] == '+' || port < 1 || port > 65535)
        return CN_EINVAL;
    char *host = at + 1;
    size_t hl = (size_t)(colon - host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        host++;
        hl -= 2;
    }
    if (hl == 0 || hl >= RP_HOST_MAX)
        return CN_EINVAL;
    for (size_t i = 0; i < hl; i++) {
        char c = host[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '_'))
            return CN_EINVAL;
    }
    p->id = (int32_t)id;
    memcpy(p->host, host, hl);
    p->host[hl] = 0;
    p->port = (uint16_t)port;
    return 0;
}

/* The cluster id: FNV-1a 64 of "ID@HOST:PORT,..." in id order.  Written
 * out here (not cn_hash, whose values may change) because it goes on the
 * wire: every version must compute the same id. */
static uint64_t rp_cluster_hash(const rp_cluster *c)
{
    uint64_t h = 0xcbf29ce484222325ull;
    char e[RP_HOST_MAX + 40];
    for (int i = 0; i < c->npeers; i++) {
        const rp_peer *p = &c->peers[i];
        int k = snprintf(e, sizeof(e), "%s%d@%s%s%s:%u", i ? "," : "", (int)p->id,
                         strchr(p->host, ':') ? "[" : "", p->host, strchr(p->host, ':') ? "]" : "",
                         (unsigned)p->port);
        for (int j = 0; j < k && j < (int)sizeof(e); j++)
            h = (h ^ (unsigned char)e[j]) * 0x100000001b3ull;
    }
    return h;
}

int rp_cluster_parse(const char *spec, rp_cluster *out)
{
    memset(out, 0, sizeof(*out));
    if (!spec || !*spec)
        return CN_EINVAL;
    const char *s = spec;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (out->npeers == RP_MAX_VOTERS)
            return CN_EINVAL;
        rp_peer p;
        if (rp_parse_entry(s, len, &p) != 0)
            return CN_EINVAL;
        int at = out->npeers;
        while (at > 0 && out->peers[at - 1].id > p.id) {
            out->peers[at] = out->peers[at - 1];
            at--;
        }
        if (at > 0 && out->peers[at - 1].id == p.id)
            return CN_EINVAL;
        out->peers[at] = p;
        out->npeers++;
        if (!comma)
            break;
        s = comma + 1;
    }
    out->id = rp_cluster_hash(out);
    return 0;
}

const rp_peer *rp_cluster_peer(const rp_cluster *c, int32_t id)
{
    for (int i = 0; i < c->npeers; i++)
        if (c->peers[i].id == id)
            return &c->peers[i];
    return NULL;
}

/* ======================================================================
 * the handshake codec (pure)
 * ====================================================================== */

void rp_hello_encode(const rp_hello *h, unsigned char out[RP_HELLO_BYTES])
{
    cn_wr_be32(out, RP_HELLO_BYTES - 4);
    cn_wr_be32(out + 4, RP_HELLO_MAGIC);
    cn_wr_be16(out + 8, h->version);
    cn_wr_be16(out + 10, 0);
    cn_wr_be64(out + 12, h->cluster_id);
    cn_wr_be32(out + 20, (uint32_t)h->from);
    cn_wr_be32(out + 24, (uint32_t)h->to);
}

int rp_hello_decode(const unsigned char *p, size_t n, rp_hello *h, const char **why)
{
    memset(h, 0, sizeof(*h));
    if (n >= 4 && cn_rd_be32(p) != RP_HELLO_BYTES - 4) {
        *why = "handshake: wrong length";
        return CN_EDECODE;
    }
    if (n >= 8 && cn_rd_be32(p + 4) != RP_HELLO_MAGIC) {
        *why = "handshake: wrong magic (not a cairn replication peer)";
        return CN_EDECODE;
    }
    if (n < RP_HELLO_BYTES)
        return CN_WANT_MORE;
    if (cn_rd_be16(p + 10) != 0) {
        *why = "handshake: non-zero flags";
        return CN_EDECODE;
    }
    h->version = cn_rd_be16(p + 8);
    h->cluster_id = cn_rd_be64(p + 12);
    h->from = (int32_t)cn_rd_be32(p + 20);
    h->to = (int32_t)cn_rd_be32(p + 24);
    return 0;
}

int rp_hello_check(const rp_hello *h, const rp_cluster *c, int32_t self, int32_t dialed,
                   const char **why)
{
    if (h->version != RP_WIRE_VERSION)
        *why = "handshake: another wire version";
    else if (h->cluster_id != c->id)
        *why = "handshake: another cluster id (membership differs)";
    else if (h->to != self)
        *why = "handshake: addressed to another node id";
    else if (h->from == self || !rp_cluster_peer(c, h->from))
        *why = "handshake: sender is not a voter of this cluster";
    else if (dialed < 0 && h->from > self)
        *why = "handshake: sender should be dialed, not dial (higher id)";
    else if (dialed >= 0 && h->from != dialed)
        *why = "handshake: answered by another node id";
    else
        return 0;
    return CN_EPROTO;
}

/* ======================================================================
 * connections
 * ====================================================================== */

static void rp_conn_read_cb(struct bufferevent *bev, void *ud);
static void rp_conn_event_cb(struct bufferevent *bev, short what, void *ud);
static void rp_dial(rp_net *n, rp_slot *sl);

static rp_slot *rp_slot_of(rp_net *n, int32_t id)
{
    for (int i = 0; i < n->cluster.npeers; i++)
        if (n->slots[i].id == id && id != n->self)
            return &n->slots[i];
    return NULL;
}

static uint32_t rp_rand(rp_net *n)
{
    n->rng ^= n->rng >> 12;
    n->rng ^= n->rng << 25;
    n->rng ^= n->rng >> 27;
    return (uint32_t)((n->rng * 2685821657736338717ULL) >> 32);
}

static void rp_pending_unlink(rp_net *n, rp_conn *c)
{
    for (rp_conn **pp = &n->pending; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            n->npending--;
            return;
        }
}

static void rp_schedule_dial(rp_net *n, rp_slot *sl)
{
    uint32_t b = sl->backoff_ms;
    uint32_t wait = b / 2 + (b > 1 ? rp_rand(n) % (b - b / 2) : 0);
    struct timeval tv = {wait / 1000, (wait % 1000) * 1000};
    evtimer_add(sl->retry, &tv);
    sl->backoff_ms = b * 2 > n->backoff_max_ms ? n->backoff_max_ms : b * 2;
}

/* Close c; reason NULL for a close we chose without fault (replacement,
 * shutdown).  A dialer's slot schedules the next attempt. */
static void rp_conn_close(rp_conn *c, const char *reason, int protocol)
{
    rp_net *n = c->net;
    if (reason) {
        snprintf(n->st.last_close, sizeof(n->st.last_close), "%s", reason);
        if (protocol)
            n->st.closed_protocol++;
        else
            n->st.closed_peer++;
        /* A dialer's refused connects repeat every backoff while the
         * peer is down: debug, not info. */
        enum cn_log_level lvl = protocol ? CN_LOG_WARN : c->ready ? CN_LOG_INFO : CN_LOG_DEBUG;
        cn_log(lvl, "rp", "closing replication connection peer=%d addr=%s: %s", (int)c->peer,
               c->addr, reason);
    }
    rp_slot *sl = c->peer >= 0 ? rp_slot_of(n, c->peer) : NULL;
    if (sl && sl->conn == c) {
        sl->conn = NULL;
        if (c->dialer && n->lst)
            rp_schedule_dial(n, sl);
    } else if (!c->dialer) {
        rp_pending_unlink(n, c);
    }
    if (c->hello_timer)
        event_free(c->hello_timer);
    bufferevent_free(c->bev);
    cn_free(c);
}

static void rp_hello_timeout_cb(evutil_socket_t fd, short what, void *ud)
{
    rp_conn_close(ud, "handshake not completed in time", 1);
}

/* The connection's bufferevent: plain, or TLS (the handshake, whose
 * certificate checks are both sides', runs first; the hello timer covers
 * it). */
static struct bufferevent *rp_conn_bev(rp_net *n, evutil_socket_t fd, int dialer)
{
    if (!n->tls)
        return bufferevent_socket_new(n->base, fd, BEV_OPT_CLOSE_ON_FREE);
    SSL *ssl = SSL_new(n->tls);
    if (!ssl)
        return NULL;
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        n->base, fd, ssl, dialer ? BUFFEREVENT_SSL_CONNECTING : BUFFEREVENT_SSL_ACCEPTING,
        BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        SSL_free(ssl);
    else
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

static rp_conn *rp_conn_new(rp_net *n, evutil_socket_t fd, int32_t peer, int dialer)
{
    rp_conn *c = cn_calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->net = n;
    c->peer = peer;
    c->dialer = dialer;
    c->bev = rp_conn_bev(n, fd, dialer);
    c->hello_timer = evtimer_new(n->base, rp_hello_timeout_cb, c);
    if (!c->bev || !c->hello_timer) {
        if (c->bev)
            bufferevent_free(c->bev);
        else if (fd >= 0)
            evutil_closesocket(fd);
        if (c->hello_timer)
            event_free(c->hello_timer);
        cn_free(c);
        return NULL;
    }
    bufferevent_setcb(c->bev, rp_conn_read_cb, NULL, rp_conn_event_cb, c);
    /* Before the handshake, read nothing beyond one HELLO. */
    bufferevent_setwatermark(c->bev, EV_READ, 0, RP_HELLO_BYTES);
    struct timeval tv = {n->hello_timeout_ms / 1000, (n->hello_timeout_ms % 1000) * 1000};
    evtimer_add(c->hello_timer, &tv);
    return c;
}

static void rp_sock_opts(evutil_socket_t fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

static void rp_send_hello(rp_conn *c)
{
    rp_hello h = {RP_WIRE_VERSION, c->net->cluster.id, c->net->self, c->peer};
    unsigned char b[RP_HELLO_BYTES];
    rp_hello_encode(&h, b);
    bufferevent_write(c->bev, b, sizeof(b));
}

/* Both HELLOs accepted: the connection carries frames from now on. */
static void rp_conn_ready(rp_conn *c)
{
    rp_net *n = c->net;
    rp_slot *sl = rp_slot_of(n, c->peer);
    if (!c->dialer) {
        rp_pending_unlink(n, c);
        if (sl->conn) {
            n->st.replaced++;
            cn_log_info("rp", "peer=%d reconnected from %s; the older connection is closed",
                        (int)c->peer, c->addr);
            rp_conn_close(sl->conn, NULL, 0);
        }
        sl->conn = c;
    }
    sl->backoff_ms = n->backoff_min_ms;
    c->ready = 1;
    evtimer_del(c->hello_timer);
    n->st.handshakes++;
    bufferevent_setwatermark(c->bev, EV_READ, 0, RP_MAX_FRAME + 4);
    cn_log_info("rp", "replication connection up peer=%d addr=%s", (int)c->peer, c->addr);
}

/* @return 1 if the connection is still open, 0 if closed. */
static int rp_conn_hello(rp_conn *c, struct evbuffer *in)
{
    rp_net *n = c->net;
    size_t have = evbuffer_get_length(in);
    unsigned char b[RP_HELLO_BYTES];
    size_t k = have < sizeof(b) ? have : sizeof(b);
    evbuffer_copyout(in, b, k);
    rp_hello h;
    const char *why = NULL;
    int rc = rp_hello_decode(b, k, &h, &why);
    if (rc == CN_WANT_MORE)
        return 1;
    if (rc == 0)
        rc = rp_hello_check(&h, &n->cluster, n->self, c->dialer ? c->peer : -1, &why);
    if (rc != 0) {
        rp_conn_close(c, why, 1);
        return 0;
    }
    evbuffer_drain(in, sizeof(b));
    if (!c->dialer) {
        c->peer = h.from;
        rp_send_hello(c);
    }
    rp_conn_ready(c);
    return 1;
}

/* One frame from in, if whole.  @return 1 delivered, 0 wait, -1 closed. */
static int rp_conn_frame(rp_conn *c, struct evbuffer *in)
{
    rp_net *n = c->net;
    size_t have = evbuffer_get_length(in);
    unsigned char lb[4];
    if (have < 4)
        return 0;
    evbuffer_copyout(in, lb, 4);
    uint32_t flen = cn_rd_be32(lb);
    if (flen > RP_MAX_FRAME) {
        rp_conn_close(c, "frame longer than 16 MiB", 1);
        return -1;
    }
    if (have - 4 < flen)
        return 0;
    unsigned char *p = evbuffer_pullup(in, (ssize_t)flen + 4);
    if (!p) {
        rp_conn_close(c, "out of memory reading a frame", 1);
        return -1;
    }
    rp_msg m;
    size_t used = 0;
    int rc = rp_msg_decode(p, (size_t)flen + 4, &m, &used);
    const char *why = rc != 0             ? "malformed frame"
                      : m.from != c->peer ? "frame from another sender than the peer"
                      : m.to != n->self   ? "frame addressed to another node"
                                          : NULL;
    if (why) {
        rp_conn_close(c, why, 1);
        return -1;
    }
    n->st.frames_in++;
    n->deliver(n->ud, &m);
    evbuffer_drain(in, used);
    return 1;
}

static void rp_conn_read_cb(struct bufferevent *bev, void *ud)
{
    rp_conn *c = ud;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (!c->ready && (!rp_conn_hello(c, in) || !c->ready))
        return;
    int rc;
    while ((rc = rp_conn_frame(c, in)) == 1)
        ;
}

/* Why TLS failed (a peer without a certificate our CA signed, most often). */
static void rp_tls_reason(struct bufferevent *bev, char *why, size_t n)
{
    unsigned long e = bufferevent_get_openssl_error(bev);
    char s[88]; /* fits the caller's reason buffer after "TLS: " */
    ERR_error_string_n(e, s, sizeof(s));
    snprintf(why, n, "TLS: %s", s);
    while (bufferevent_get_openssl_error(bev))
        ;
}

static void rp_conn_event_cb(struct bufferevent *bev, short what, void *ud)
{
    rp_conn *c = ud;
    if (what & BEV_EVENT_CONNECTED) {
        if (!c->dialer)
            return; /* a TLS handshake accepted: the dialer speaks first */
        rp_sock_opts(bufferevent_getfd(bev));
        rp_send_hello(c);
        bufferevent_enable(bev, EV_READ | EV_WRITE);
        return;
    }
    char why[96];
    size_t left = evbuffer_get_length(bufferevent_get_input(bev));
    if (what & BEV_EVENT_EOF)
        snprintf(why, sizeof(why), "%s",
                 !left      ? "closed by peer"
                 : c->ready ? "stream ended inside a frame"
                            : "stream ended inside the handshake");
    else if (c->net->tls && bufferevent_get_openssl_error(bev))
        rp_tls_reason(bev, why, sizeof(why));
    else
        snprintf(why, sizeof(why), "socket error: %s",
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    rp_conn_close(c, why, left > 0);
}

static void rp_dial(rp_net *n, rp_slot *sl)
{
    rp_conn *c = rp_conn_new(n, -1, sl->id, 1);
    if (!c) {
        rp_schedule_dial(n, sl);
        return;
    }
    const rp_peer *p = rp_cluster_peer(&n->cluster, sl->id);
    snprintf(c->addr, sizeof(c->addr), "%s:%u", p->host, (unsigned)p->port);
    sl->conn = c;
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sl->sa, (int)sl->salen) != 0)
        rp_conn_close(c, "connect failed", 0);
}

static void rp_retry_cb(evutil_socket_t fd, short what, void *ud)
{
    rp_slot *sl = ud;
    if (!sl->conn)
        rp_dial(sl->net, sl);
}

static void rp_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                         int salen, void *ud)
{
    rp_net *n = ud;
    if (n->npending >= RP_NET_PENDING_MAX) {
        cn_log_warn("rp", "too many unidentified replication connections; refusing one");
        evutil_closesocket(fd);
        return;
    }
    rp_sock_opts(fd);
    rp_conn *c = rp_conn_new(n, fd, -1, 0);
    if (!c)
        return;
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, host, sizeof(host));
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof(host));
    unsigned port = sa->sa_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)sa)->sin6_port)
                                              : ntohs(((struct sockaddr_in *)sa)->sin_port);
    snprintf(c->addr, sizeof(c->addr), "%s:%u", host, port);
    c->next = n->pending;
    n->pending = c;
    n->npending++;
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* ======================================================================
 * public API
 * ====================================================================== */

static int rp_resolve(const rp_peer *p, struct sockaddr_storage *sa, socklen_t *len)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)p->port);
    if (getaddrinfo(p->host, port, &hints, &res) != 0 || !res)
        return CN_EINVAL;
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int rp_net_setup(rp_net *n, const rp_net_opts *o)
{
    for (int i = 0; i < n->cluster.npeers; i++) {
        rp_slot *sl = &n->slots[i];
        sl->net = n;
        sl->id = n->cluster.peers[i].id;
        sl->backoff_ms = n->backoff_min_ms;
        if (rp_resolve(&n->cluster.peers[i], &sl->sa, &sl->salen) != 0) {
            cn_log_error("rp", "cannot resolve replication address of node %d: %s", (int)sl->id,
                         n->cluster.peers[i].host);
            return CN_EINVAL;
        }
        sl->retry = evtimer_new(n->base, rp_retry_cb, sl);
        if (!sl->retry)
            return CN_ENOMEM;
    }
    rp_slot *me = NULL;
    for (int i = 0; i < n->cluster.npeers; i++)
        if (n->slots[i].id == n->self)
            me = &n->slots[i];
    const rp_peer *at = o->listen.port ? &o->listen : rp_cluster_peer(&n->cluster, n->self);
    struct sockaddr_storage lsa = me->sa;
    socklen_t lsalen = me->salen;
    if (o->listen.port && rp_resolve(&o->listen, &lsa, &lsalen) != 0) {
        cn_log_error("rp", "cannot resolve replication listen address %s", o->listen.host);
        return CN_EINVAL;
    }
    n->lst =
        evconnlistener_new_bind(n->base, rp_accept_cb, n, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                64, (struct sockaddr *)&lsa, (int)lsalen);
    if (!n->lst) {
        cn_log_error("rp", "cannot listen on replication address %s:%u: %s", at->host,
                     (unsigned)at->port, strerror(errno));
        return CN_ESYS;
    }
    for (int i = 0; i < n->cluster.npeers; i++)
        if (n->slots[i].id > n->self)
            rp_dial(n, &n->slots[i]);
    return 0;
}

int rp_net_new(rp_net **out, struct event_base *base, const rp_net_opts *o)
{
    *out = NULL;
    if (!base || !o || !o->cluster || !o->deliver || !rp_cluster_peer(o->cluster, o->self))
        return CN_EINVAL;
    rp_net *n = cn_calloc(1, sizeof(*n));
    if (!n)
        return CN_ENOMEM;
    n->base = base;
    n->cluster = *o->cluster;
    n->self = o->self;
    n->deliver = o->deliver;
    n->ud = o->ud;
    n->out_max = o->out_max ? o->out_max : RP_NET_OUT_MAX;
    n->hello_timeout_ms = o->hello_timeout_ms ? o->hello_timeout_ms : 5000;
    n->tls = o->tls;
    n->backoff_min_ms = o->backoff_min_ms ? o->backoff_min_ms : 50;
    n->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : 2000;
    if (n->backoff_max_ms < n->backoff_min_ms)
        n->backoff_max_ms = n->backoff_min_ms;
    if (getrandom(&n->rng, sizeof(n->rng), 0) != (ssize_t)sizeof(n->rng) || n->rng == 0)
        n->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)n;
    int rc = rp_net_setup(n, o);
    if (rc != 0) {
        rp_net_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

int rp_net_send(rp_net *n, const rp_msg *m)
{
    if (m->from != n->self)
        return CN_EINVAL;
    rp_slot *sl = rp_slot_of(n, m->to);
    if (!sl)
        return CN_EINVAL;
    if (!sl->conn || !sl->conn->ready) {
        n->st.dropped_nopeer++;
        return CN_ECLOSED;
    }
    struct evbuffer *ob = bufferevent_get_output(sl->conn->bev);
    if (evbuffer_get_length(ob) >= n->out_max) {
        n->st.dropped_full++;
        return CN_EOVERLOAD;
    }
    n->enc.len = 0;
    int rc = rp_msg_encode(m, &n->enc);
    if (rc != 0)
        return rc;
    if (evbuffer_get_length(ob) + n->enc.len > n->out_max) {
        n->st.dropped_full++;
        return CN_EOVERLOAD;
    }
    if (evbuffer_add(ob, n->enc.data, n->enc.len) != 0)
        return CN_ENOMEM;
    n->st.frames_out++;
    return 0;
}

int rp_net_connected(const rp_net *n, int32_t peer)
{
    for (int i = 0; i < n->cluster.npeers; i++)
        if (n->slots[i].id == peer && peer != n->self)
            return n->slots[i].conn && n->slots[i].conn->ready;
    return 0;
}

void rp_net_stats_get(const rp_net *n, rp_net_stats *out)
{
    *out = n->st;
}

void rp_net_free(rp_net *n)
{
    if (!n)
        return;
    if (n->lst)
        evconnlistener_free(n->lst);
    n->lst = NULL; /* no more redials from closes below */
    while (n->pending)
        rp_conn_close(n->pending, NULL, 0);
    for (int i = 0; i < n->cluster.npeers; i++) {
        rp_slot *sl = &n->slots[i];
        if (sl->conn)
            rp_conn_close(sl->conn, NULL, 0);
        if (sl->retry)
            event_free(sl->retry);
    }
    cn_buf_free(&n->enc);
    cn_free(n);
}
