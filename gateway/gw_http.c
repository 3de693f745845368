/* SPDX-License-Identifier: MIT */
/*
 * gw_http.c — what the gateway does with an HTTP request head: parse it
 * (ws_http_parse, resumable), then /ws → upgrade check, auth (Ed25519
 * token with --auth-key, checked through the server's verified-token
 * cache so a reconnecting player costs no second Ed25519 verification;
 * a token not in the cache is checked on the verifier thread (gw_verify.c)
 * while the handshake waits unread (GW_ST_AUTH), only while the source
 * address has credit for failed checks (429 otherwise) and the verifier's
 * queue has room (503 otherwise);
 * ?player=ID in development mode), 101 and the
 * WebSocket state; /healthz and /metrics → answer and close; anything
 * else → the HTTP error the codec or the route calls for, and close.
 *
 * Guarantees: no upgrade without a valid token (or, in development mode,
 * a valid player id); the head is parsed from the scratch buffer in place
 * and copied into the connection only while it is incomplete (freed as
 * soon as it completes); bytes after the head go to the WebSocket decoder;
 * a connection from a trusted proxy is counted per client address (its
 * X-Forwarded-For) before anything is routed.
 * Loop thread only.
 */
#include "gw_server_int.h"

#include "cn_err.h"
#include "cn_log.h"
#include "cn_time.h"
#include "ws.h"

#include <string.h>

static void http_reply_error(gw_server *s, gw_conn *c, int status, const char *why,
                             enum gw_disc disc)
{
    cn_buf_reset(&s->frame);
    if (ws_http_write_error(&s->frame, status, why)) {
        gw__conn_abort(s, c, disc);
        return;
    }
    gw__conn_finish(s, c, s->frame.data, s->frame.len, disc);
}

/* Give the connection (and its TLS session) and the bytes read so far to
 * the composing process's HTTP service: our event goes first (it must never fire on an fd we no
 * longer own), then the owner gets the fd, then the slot is freed with
 * fd = -1 so nothing closes it. */
static void http_hand_over(gw_server *s, gw_conn *c, const unsigned char *buf, size_t len)
{
    int fd = c->fd;
    void *tls = NULL;
    if (s->ssl) { /* the TLS session goes with the socket */
        tls = s->ssl[c - s->conns];
        s->ssl[c - s->conns] = NULL;
    }
    if (c->evflags)
        event_del(&c->ev);
    c->evflags = 0;
    s->http_other(s->http_other_ud, fd, tls, buf, len);
    c->fd = -1;
    gw__conn_abort(s, c, GW_DISC_HTTP_DONE);
}

static void http_plain(gw_server *s, gw_conn *c, const ws_http_req *req, const unsigned char *buf,
                       size_t len)
{
    s->m.http_requests++;
    int is_get = req->method.len == 3 && memcmp(req->method.ptr, "GET", 3) == 0;
    int healthz = req->path.len == 8 && memcmp(req->path.ptr, "/healthz", 8) == 0;
    int metrics = req->path.len == 8 && memcmp(req->path.ptr, "/metrics", 8) == 0;
    if (!healthz && !metrics && s->http_other) {
        http_hand_over(s, c, buf, len);
        return;
    }
    if (!healthz && !metrics) {
        http_reply_error(s, c, 404, "no such path: the WebSocket endpoint is /ws",
                         GW_DISC_HTTP_DONE);
        return;
    }
    if (!is_get) {
        http_reply_error(s, c, 405, "use GET", GW_DISC_HTTP_DONE);
        return;
    }
    cn_buf_reset(&s->tmp);
    cn_buf_reset(&s->frame);
    int rc;
    if (healthz) {
        int log_ok = gw__server_log_ok(s);
        const char *body = !log_ok       ? "log failed: appends refused until restarted\n"
                           : s->draining ? "draining\n"
                                         : "ok\n";
        rc = ws_http_write_response(&s->frame, log_ok && !s->draining ? 200 : 503, "text/plain",
                                    body, strlen(body), 0);
    } else {
        rc = gw__metrics_render(s, &s->tmp);
        if (!rc && s->metrics_extra)
            rc = s->metrics_extra(s->metrics_extra_ud, &s->tmp);
        if (!rc)
            rc = ws_http_write_response(&s->frame, 200, "text/plain; version=0.0.4", s->tmp.data,
                                        s->tmp.len, 0);
    }
    if (rc) {
        gw__conn_abort(s, c, GW_DISC_OVERLOAD);
        return;
    }
    gw__conn_finish(s, c, s->frame.data, s->frame.len, GW_DISC_HTTP_DONE);
}

/* http_auth: the token goes to the verifier thread; the handshake waits. */
#define GW_AUTH_PENDING (-1)

static const char *auth_why(int rc)
{
    return rc == AUTH_ETOKENEXP   ? "token expired"
           : rc == AUTH_ETOKENSIG ? "token signature is not valid"
                                  : "malformed token";
}

/* A token not in the cache: its signature check costs ~125 µs of CPU, so
 * it runs on the verifier thread, and only while the source address has
 * credit for failed checks (charged now, given back if it verifies), so
 * garbage tokens cannot buy our CPU.  @return GW_AUTH_PENDING or a status. */
static int http_auth_miss(gw_server *s, gw_conn *c, const char *tok, size_t len, int64_t now,
                          const char *accept, const char **why)
{
    if (!gw__failtab_allow(&s->fails, c->addr, now)) {
        s->m.refused_auth_budget++;
        *why = "too many invalid tokens from this address: retry later";
        return 429;
    }
    int rc =
        gw__verifier_submit(s->verifier, (uint32_t)(c - s->conns), c->gen, tok, len, now, accept);
    if (rc) {
        s->m.verify_shed += rc == CN_EOVERLOAD;
        *why = rc == CN_EOVERLOAD ? "busy checking tokens: retry in a moment" : "malformed token";
        return rc == CN_EOVERLOAD ? 503 : 401;
    }
    gw__failtab_charge(&s->fails, c->addr, now);
    return GW_AUTH_PENDING;
}

/* Who is connecting: 0 with c->player (and c->hunt) set, GW_AUTH_PENDING,
 * or an HTTP status. */
static int http_auth(gw_server *s, gw_conn *c, const ws_http_req *req, const char *accept,
                     const char **why)
{
    char val[AUTH_TOKEN_MAX_LEN + 1];
    size_t vlen = 0;
    c->hunt[0] = 0;
    if (s->o.has_auth_key) {
        int rc = ws_http_query_get(req->query, "token", val, sizeof(val), &vlen);
        if (rc) {
            *why = rc == CN_ENOENT ? "missing ?token=" : "malformed ?token=";
            return 401;
        }
        auth_token_claims cl;
        int64_t now = cn_now_ms();
        rc = auth_token_cache_lookup(s->tokens, val, vlen, now, &cl);
        if (rc == CN_ENOENT)
            return http_auth_miss(s, c, val, vlen, now, accept, why);
        if (rc) {
            *why = auth_why(rc);
            return 401;
        }
        memcpy(c->player, cl.player, sizeof(c->player));
        memcpy(c->hunt, cl.hunt, sizeof(c->hunt));
        return 0;
    }
    int rc = ws_http_query_get(req->query, "player", val, CN_ID_MAX + 2, &vlen);
    if (rc || !cn_id_valid(val, vlen)) {
        *why = "development mode: connect with ?player=ID (1-64 of A-Za-z0-9._:@-)";
        return 401;
    }
    if (!s->dev_warned) {
        cn_log_warn("gw", "development mode: no --auth-key, accepting ?player=ID without a token");
        s->dev_warned = 1;
    }
    memcpy(c->player, val, vlen + 1);
    return 0;
}

/* 101, then the WebSocket state; rest (bytes after the head) goes to the
 * decoder.  rest must not live in c->in (freed here). */
static void http_open(gw_server *s, gw_conn *c, const char *accept, unsigned char *rest,
                      size_t nrest)
{
    cn_buf_reset(&s->frame);
    if (ws_http_write_101(&s->frame, accept)) {
        gw__conn_abort(s, c, GW_DISC_OVERLOAD);
        return;
    }
    gw__buf_free(s, &c->in);
    s->half_open--; /* from GW_ST_HEAD or GW_ST_AUTH */
    c->state = GW_ST_OPEN;
    c->errq = 0; /* was head_scan */
    c->deadline_ms = gw__now_ms() + s->o.idle_close_ms;
    ws_decoder_init(&c->dec, WS_ROLE_SERVER, s->o.max_msg_bytes);
    s->m.handshakes_ok++;
    uint32_t gen = c->gen;
    if (gw__conn_send(s, c, s->frame.data, s->frame.len) || c->gen != gen)
        return;
    if (nrest)
        gw__ws_input(s, c, rest, nrest);
}

/* Wait for the verifier: not read (GW_ST_AUTH), the bytes after the head
 * kept in c->in, the handshake deadline still running. */
static void http_park(gw_server *s, gw_conn *c, const unsigned char *rest, size_t nrest)
{
    gw__buf_free(s, &c->in);
    c->state = GW_ST_AUTH;
    if (nrest) {
        if (gw__buf_append(s, &c->in, rest, nrest)) {
            gw__conn_abort(s, c, GW_DISC_OVERLOAD);
            return;
        }
    }
    gw__conn_arm(s, c);
}

void gw__http_verified(gw_server *s, uint32_t slot, uint32_t gen, const char *tok, size_t len,
                       int64_t now_ms, int rc, const auth_token_claims *cl,
                       const char accept[WS_ACCEPT_LEN + 1])
{
    auth_token_cache_put(s->tokens, tok, len, now_ms, rc, cl);
    gw_conn *c = &s->conns[slot];
    if (rc != AUTH_ETOKENSIG) /* charged in advance: it did not fail after all */
        gw__failtab_refund(&s->fails, c->addr, now_ms);
    if (c->gen != gen || c->state != GW_ST_AUTH)
        return; /* closed meanwhile (timeout, drain, peer): the answer stays cached */
    if (s->draining) {
        s->m.handshakes_failed++;
        http_reply_error(s, c, 503, "draining: reconnect in a moment", GW_DISC_DRAIN);
        return;
    }
    if (rc) {
        s->m.handshakes_failed++;
        http_reply_error(s, c, 401, auth_why(rc), GW_DISC_AUTH);
        return;
    }
    memcpy(c->player, cl->player, sizeof(c->player));
    memcpy(c->hunt, cl->hunt, sizeof(c->hunt));
    cn_buf rest = c->in; /* http_open frees c->in: feed from our own copy of it */
    c->in = (cn_buf)CN_BUF_INIT;
    http_open(s, c, accept, rest.data, rest.len);
    s->m.buffer_bytes -= rest.cap;
    cn_buf_free(&rest);
    if (c->gen == gen && c->state != GW_ST_FREE)
        gw__conn_arm(s, c); /* not in c's own event: read from now on */
}

static void http_upgrade(gw_server *s, gw_conn *c, const ws_http_req *req, unsigned char *rest,
                         size_t nrest)
{
    int status;
    const char *why = NULL;
    if (s->draining) {
        s->m.handshakes_failed++;
        http_reply_error(s, c, 503, "draining: reconnect in a moment", GW_DISC_DRAIN);
        return;
    }
    if (ws_http_upgrade_check(req, &status, &why)) {
        s->m.handshakes_failed++;
        http_reply_error(s, c, status, why, GW_DISC_HANDSHAKE_ERROR);
        return;
    }
    char accept[WS_ACCEPT_LEN + 1];
    if (ws_http_accept_key((const char *)req->ws_key.ptr, req->ws_key.len, accept)) {
        gw__conn_abort(s, c, GW_DISC_OVERLOAD);
        return;
    }
    status = http_auth(s, c, req, accept, &why);
    if (status == GW_AUTH_PENDING) {
        http_park(s, c, rest, nrest);
        return;
    }
    if (status) {
        s->m.handshakes_failed++;
        http_reply_error(s, c, status, why, GW_DISC_AUTH);
        return;
    }
    http_open(s, c, accept, rest, nrest);
}

/* A connection from a trusted proxy: the client is the one its
 * X-Forwarded-For names (gw_xff_client), or, without one, the proxy
 * itself.  Counted now against --max-conns-per-ip.  @return 0, or 1 if
 * the connection was refused (429 sent). */
static int http_count_client(gw_server *s, gw_conn *c, const char *head, size_t len)
{
    unsigned char full[16];
    const char *how = "x-forwarded-for";
    int rc = gw_xff_client(head, len, s->trusted, s->ntrusted, full, NULL, 0);
    if (rc == 0) {
        s->m.xff_used++;
    } else {
        if (rc == CN_EINVAL)
            s->m.xff_bad++; /* not believed: the proxy is the client */
        memcpy(full, c->addr, 16);
        how = "trusted proxy, no usable x-forwarded-for";
    }
    if (gw__server_count_client(s, c, full, how) == 0)
        return 0;
    http_reply_error(s, c, 429, "too many connections from this address", GW_DISC_LIMIT);
    return 1;
}

void gw__http_input(gw_server *s, gw_conn *c, unsigned char *p, size_t n)
{
    static const ws_http_limits lim = WS_HTTP_LIMITS_DEFAULT;
    const char *buf = (const char *)p;
    size_t len = n, total = n;
    if (c->in.len) {
        total = c->in.len + n;
        /* Keep at most one byte past the limit: enough for the parser to
         * say 431, never more than the limit in memory. */
        size_t room = lim.max_head + 1 > c->in.len ? lim.max_head + 1 - c->in.len : 0;
        if (gw__buf_append(s, &c->in, p, n < room ? n : room)) {
            gw__conn_abort(s, c, GW_DISC_OVERLOAD);
            return;
        }
        buf = (const char *)c->in.data;
        len = c->in.len;
    }
    size_t scan = c->head_scan;
    ws_http_req req;
    int rc = ws_http_parse(buf, len, &scan, &lim, &req);
    if (rc == CN_WANT_MORE) {
        if (!c->in.len) {
            if (gw__buf_append(s, &c->in, p, n)) {
                gw__conn_abort(s, c, GW_DISC_OVERLOAD);
                return;
            }
        }
        c->head_scan = (uint16_t)(scan > UINT16_MAX ? UINT16_MAX : scan);
        return;
    }
    if (rc) {
        s->m.handshakes_failed++;
        http_reply_error(s, c, req.status ? req.status : 400, req.why, GW_DISC_HANDSHAKE_ERROR);
        return;
    }
    if ((c->flags & GW_CF_UNCOUNTED) && http_count_client(s, c, buf, req.head_len))
        return;
    /* The head ended inside this read, so what follows it is in p. */
    size_t nrest = total - req.head_len;
    unsigned char *rest = p + (n - nrest);
    if (req.path.len == 3 && memcmp(req.path.ptr, "/ws", 3) == 0)
        http_upgrade(s, c, &req, rest, nrest);
    else
        http_plain(s, c, &req, (const unsigned char *)buf, len);
}
