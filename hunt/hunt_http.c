/* SPDX-License-Identifier: MIT */
/*
 * hunt_http.c — the worker's HTTP API (contract in hunt_http.h).  Every
 * answer is built in one cn_buf and sent whole; JSON strings go through
 * cn_json_str so ids from the hunt file or the URL are always escaped.
 * Only GET (and HEAD) are served; anything else is 405.
 * Threads: the loop's.  Ownership: owns the evhttp server; borrows the
 * worker, whose store and leaderboard are read between batches.
 */
#include "hunt_http.h"

#include "cn_alloc.h"
#include "cn_buf.h"
#include "cn_err.h"
#include "cn_json.h"
#include "hunt_board.h"
#include "hunt_player.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define HTTP_LIMIT_DEFAULT 10
#define HTTP_LIMIT_MAX 1000 /* bounds the heap of hunt_board_top per request */

struct hunt_http {
    struct evhttp *http;
    int port;
    hunt_worker *w;
};

static void http_send(struct evhttp_request *req, int code, const char *reason, const char *type,
                      const cn_buf *b)
{
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evbuffer_add(out, b->data ? (const void *)b->data : "", b->len);
    evhttp_send_reply(req, code, reason, out);
    evbuffer_free(out);
}

static void http_error(struct evhttp_request *req, int code, const char *reason, const char *detail)
{
    cn_buf b = CN_BUF_INIT;
    if (cn_buf_printf(&b, "{\"error\":") || cn_json_str(&b, detail, strlen(detail)) ||
        cn_buf_append(&b, "}\n", 2))
        evhttp_send_error(req, 500, "out of memory");
    else
        http_send(req, code, reason, "application/json", &b);
    cn_buf_free(&b);
}

static int http_limit(const char *query, long *limit)
{
    struct evkeyvalq q;
    *limit = HTTP_LIMIT_DEFAULT;
    if (!query)
        return 0;
    if (evhttp_parse_query_str(query, &q))
        return CN_EINVAL;
    const char *v = evhttp_find_header(&q, "limit");
    int rc = 0;
    if (v) {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < 1 || n > HTTP_LIMIT_MAX)
            rc = CN_EINVAL;
        else
            *limit = n;
    }
    evhttp_clear_headers(&q);
    return rc;
}

static void http_leaderboard(hunt_http *h, struct evhttp_request *req, const char *query)
{
    long limit;
    if (http_limit(query, &limit)) {
        http_error(req, 400, "Bad Request", "limit must be an integer in 1..1000");
        return;
    }
    hunt_board *board = hunt_worker_board(h->w);
    hunt_board_row *rows = board ? cn_malloc((size_t)limit * sizeof(*rows)) : NULL;
    if (!rows) {
        http_error(req, 503, "Service Unavailable", "the leaderboard could not be loaded; retry");
        return;
    }
    size_t n = hunt_board_top(board, (size_t)limit, rows);
    cn_buf b = CN_BUF_INIT;
    int rc = cn_buf_append(&b, "[", 1);
    for (size_t i = 0; !rc && i < n; i++) {
        rc = cn_buf_printf(&b, "%s{\"rank\":%zu,\"player\":", i ? "," : "", i + 1);
        rc = rc ? rc : cn_json_str(&b, rows[i].player, strlen(rows[i].player));
        rc = rc ? rc
                : cn_buf_printf(&b,
                                ",\"score\":%" PRId64 ",\"found\":%u,\"last_seen\":%" PRId64
                                ",\"last_found\":%" PRId64 "}",
                                rows[i].score, rows[i].found, rows[i].last_seen_ms,
                                rows[i].last_found_ms);
    }
    rc = rc ? rc : cn_buf_append(&b, "]\n", 2);
    if (rc)
        evhttp_send_error(req, 500, "out of memory");
    else
        http_send(req, 200, "OK", "application/json", &b);
    cn_buf_free(&b);
    cn_free(rows);
}

static int http_player_json(hunt_http *h, cn_buf *b, const char *id, size_t len,
                            const hunt_session *s, const hunt_progress *p, unsigned flags)
{
    const hunt_def *d = hunt_rules_def(hunt_worker_rules(h->w));
    int rc = cn_buf_append(b, "{\"player\":", 10);
    rc = rc ? rc : cn_json_str(b, id, len);
    rc = rc ? rc
            : cn_buf_printf(
                  b,
                  ",\"score\":%" PRId64 ",\"found\":%u,\"completed\":%s,\"joined\":%" PRId64
                  ",\"last_seen\":%" PRId64 ",\"last_found\":%" PRId64 ",\"beacons\":[",
                  p->score, p->nfound, (p->flags & HUNT_PROGRESS_COMPLETED) ? "true" : "false",
                  p->joined_ms, p->last_seen_ms, p->last_found_ms);
    int first = 1;
    for (uint32_t i = 0; !rc && i < d->nbeacons; i++) {
        if (!hunt_progress_has(p, i))
            continue;
        rc = first ? 0 : cn_buf_append(b, ",", 1);
        rc = rc ? rc : cn_json_str(b, d->beacons[i].id, strlen(d->beacons[i].id));
        first = 0;
    }
    int live = !(flags & HUNT_PLAYER_FRESH) && s->current != HUNT_NONE;
    rc = rc ? rc : cn_buf_printf(b, "],\"session\":{\"live\":%s", live ? "true" : "false");
    if (!rc && live) {
        rc = cn_buf_append(b, ",\"at\":", 6);
        rc = rc ? rc : cn_json_str(b, d->beacons[s->current].id, strlen(d->beacons[s->current].id));
        rc = rc ? rc : cn_buf_printf(b, ",\"pending_hits\":%u", s->nhits);
    }
    return rc ? rc : cn_buf_append(b, "}}\n", 3);
}

static void http_player(hunt_http *h, struct evhttp_request *req, const char *enc_id)
{
    size_t len = 0;
    char *id = evhttp_uridecode(enc_id, 0, &len);
    cn_buf scratch = CN_BUF_INIT, b = CN_BUF_INIT;
    hunt_session *s = cn_malloc(sizeof(*s)); /* ~4 KiB: not on the loop's stack */
    hunt_progress p;
    unsigned flags = 0;
    int rc = id && s ? 0 : CN_ENOMEM;
    if (!rc && (len == 0 || len > 64)) {
        http_error(req, 404, "Not Found", "no such player");
        goto out;
    }
    rc = rc ? rc
            : hunt_player_load(hunt_worker_store(h->w), hunt_worker_rules(h->w), id, len, s, &p,
                               &scratch, &flags);
    if (rc == CN_ECORRUPT || rc == CN_EUNSUPPORTED) {
        http_error(req, 500, "Internal Server Error",
                   "the stored progress of this player does not decode");
        goto out;
    }
    if (!rc && !(p.flags & HUNT_PROGRESS_JOINED)) {
        http_error(req, 404, "Not Found", "no such player");
        goto out;
    }
    rc = rc ? rc : http_player_json(h, &b, id, len, s, &p, flags);
    if (rc)
        http_error(req, 500, "Internal Server Error", cn_strerror(rc));
    else
        http_send(req, 200, "OK", "application/json", &b);
out:
    free(id); /* evhttp_uridecode allocates with malloc */
    cn_free(s);
    cn_buf_free(&scratch);
    cn_buf_free(&b);
}

static void http_beacons(hunt_http *h, struct evhttp_request *req)
{
    const hunt_def *d = hunt_rules_def(hunt_worker_rules(h->w));
    cn_buf b = CN_BUF_INIT;
    int rc = cn_buf_append(&b, "[", 1);
    for (uint32_t i = 0; !rc && i < d->nbeacons; i++) {
        const hunt_beacon *bc = &d->beacons[i];
        rc = cn_buf_append(&b, i ? ",{\"id\":" : "{\"id\":", i ? 7 : 6);
        rc = rc ? rc : cn_json_str(&b, bc->id, strlen(bc->id));
        rc = rc ? rc : cn_buf_append(&b, ",\"name\":", 8);
        rc = rc ? rc : cn_json_str(&b, bc->name, strlen(bc->name));
        rc = rc ? rc
                : cn_buf_printf(&b, ",\"x\":%.17g,\"y\":%.17g,\"points\":%d,\"clue\":", bc->x,
                                bc->y, (int)bc->points);
        rc = rc ? rc : cn_json_str(&b, bc->clue, strlen(bc->clue));
        rc = rc ? rc : cn_buf_append(&b, "}", 1);
    }
    rc = rc ? rc : cn_buf_append(&b, "]\n", 2);
    if (rc)
        evhttp_send_error(req, 500, "out of memory");
    else
        http_send(req, 200, "OK", "application/json", &b);
    cn_buf_free(&b);
}

static void http_metrics(hunt_http *h, struct evhttp_request *req)
{
    cn_buf b = CN_BUF_INIT;
    if (hunt_worker_metrics(h->w, &b))
        evhttp_send_error(req, 500, "out of memory");
    else
        http_send(req, 200, "OK", "text/plain; version=0.0.4", &b);
    cn_buf_free(&b);
}

static void http_route(struct evhttp_request *req, void *ud)
{
    hunt_http *h = ud;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
        http_error(req, 405, "Method Not Allowed", "only GET is served");
        return;
    }
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    if (!path) {
        http_error(req, 400, "Bad Request", "malformed request target");
        return;
    }
    if (strcmp(path, "/healthz") == 0) {
        cn_buf b = {(unsigned char *)"ok\n", 3, 0};
        http_send(req, 200, "OK", "text/plain", &b);
    } else if (strcmp(path, "/metrics") == 0) {
        http_metrics(h, req);
    } else if (strcmp(path, "/api/leaderboard") == 0) {
        http_leaderboard(h, req, evhttp_uri_get_query(u));
    } else if (strcmp(path, "/api/beacons") == 0) {
        http_beacons(h, req);
    } else if (strncmp(path, "/api/players/", 13) == 0 && path[13] && !strchr(path + 13, '/')) {
        http_player(h, req, path + 13);
    } else {
        http_error(req, 404, "Not Found",
                   "unknown path; try /api/leaderboard, /api/players/ID, /api/beacons, /metrics, "
                   "/healthz");
    }
}

int hunt_http_new(hunt_http **out, struct event_base *base, const char *addr, hunt_worker *w)
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
    hunt_http *h = cn_calloc(1, sizeof(*h));
    if (!h || !(h->http = evhttp_new(base))) {
        cn_free(h);
        return CN_ENOMEM;
    }
    h->w = w;
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
    /* Requests are tiny; a slow or huge one is dropped (10 s like the gateway). */
    evhttp_set_timeout(h->http, 10);
    evhttp_set_max_headers_size(h->http, 16384);
    evhttp_set_max_body_size(h->http, 4096);
    evhttp_set_gencb(h->http, http_route, h);
    struct evhttp_bound_socket *bs =
        evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port);
    if (!bs) {
        hunt_http_free(h);
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

int hunt_http_port(const hunt_http *h)
{
    return h->port;
}

struct evhttp *hunt_http_evhttp(hunt_http *h)
{
    return h->http;
}

void hunt_http_free(hunt_http *h)
{
    if (!h)
        return;
    if (h->http)
        evhttp_free(h->http);
    cn_free(h);
}
