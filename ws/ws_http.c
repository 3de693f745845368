/* SPDX-License-Identifier: MIT */
/*
 * ws_http.c — the strict HTTP/1.1 request-head parser of the gateway port.
 *
 * Guarantees:
 *  - incremental and bounded: each call scans only bytes not scanned
 *    before (the caller keeps one size_t), so a head dribbled in one byte
 *    at a time costs O(length) in total; no head longer than max_head
 *    bytes, with more than max_headers lines or a target over max_target
 *    is ever accepted, and the limit is reported as soon as it is crossed;
 *  - strict (RFC 9112): CRLF line ends only (bare CR or LF refused),
 *    no control bytes, no obsolete line folding, no whitespace between a
 *    header name and its colon (a request-smuggling vector), origin-form
 *    targets only, HTTP/1.0 or 1.1, exactly one Host (required in 1.1),
 *    no request bodies (Content-Length other than 0, Transfer-Encoding);
 *  - no allocation: the result borrows slices of the caller's buffer, and
 *    the caller must keep the buffer unchanged while it uses them.
 * Threads: called by the connection's event-loop thread; pure otherwise.
 * Docs: docs/protocol.md "HTTP and the handshake".
 */
#include "ws.h"

#include "cn_err.h"

#include <string.h>
#include <strings.h>

static int http_fail(ws_http_req *req, int status, const char *why, int err)
{
    req->status = status;
    req->why = why;
    return err;
}

static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int name_is(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* ------------------------------------------------------------------ */
/* finding the end of the head                                         */
/* ------------------------------------------------------------------ */

/* Scan bytes [*scan, len) for the blank line, refusing bytes a head may
 * not hold.  Returns 0 with *end set, CN_WANT_MORE, or an error. */
static int head_find_end(const char *buf, size_t len, size_t *scan, const ws_http_limits *lim,
                         ws_http_req *req, size_t *end)
{
    const unsigned char *b = (const unsigned char *)buf;
    for (size_t i = *scan; i < len; i++) {
        unsigned char c = b[i];
        if (i >= lim->max_head)
            return http_fail(req, 431, "request head too large", CN_ETOOBIG);
        if (i > 0 && b[i - 1] == '\r' && c != '\n')
            return http_fail(req, 400, "CR not followed by LF", WS_EHANDSHAKE);
        if (c == '\n') {
            if (i == 0 || b[i - 1] != '\r')
                return http_fail(req, 400, "bare LF line end", WS_EHANDSHAKE);
            if (i >= 3 && b[i - 3] == '\r' && b[i - 2] == '\n') {
                *scan = i + 1;
                *end = i + 1;
                return 0;
            }
        } else if ((c < 0x20 && c != '\r' && c != '\t') || c == 0x7f) {
            return http_fail(req, 400, "control character in request head", WS_EHANDSHAKE);
        }
    }
    *scan = len;
    return CN_WANT_MORE;
}

/* ------------------------------------------------------------------ */
/* request line                                                        */
/* ------------------------------------------------------------------ */

static int parse_request_line(const char *p, size_t n, const ws_http_limits *lim, ws_http_req *req)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i > 16 || i >= n || p[i] != ' ')
        return http_fail(req, 400, "malformed request line (method)", WS_EHANDSHAKE);
    req->method = (cn_slice){(const unsigned char *)p, i};
    size_t t0 = ++i;
    while (i < n && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f)
        i++;
    size_t tlen = i - t0;
    if (tlen > lim->max_target)
        return http_fail(req, 414, "request target too long", CN_ETOOBIG);
    if (tlen == 0 || i >= n || p[i] != ' ')
        return http_fail(req, 400, "malformed request line (target)", WS_EHANDSHAKE);
    const char *t = p + t0;
    if (t[0] != '/')
        return http_fail(req, 400, "request target must be a path (origin-form)", WS_EHANDSHAKE);
    if (memchr(t, '#', tlen))
        return http_fail(req, 400, "fragment in request target", WS_EHANDSHAKE);
    req->target = (cn_slice){(const unsigned char *)t, tlen};
    const char *q = memchr(t, '?', tlen);
    size_t plen = q ? (size_t)(q - t) : tlen;
    req->path = (cn_slice){(const unsigned char *)t, plen};
    req->query =
        q ? (cn_slice){(const unsigned char *)q + 1, tlen - plen - 1} : (cn_slice){NULL, 0};
    i++;
    const char *v = p + i;
    size_t vlen = n - i;
    if (vlen == 8 && memcmp(v, "HTTP/1.", 7) == 0 && (v[7] == '0' || v[7] == '1')) {
        req->minor = v[7] - '0';
        return 0;
    }
    if (vlen == 8 && memcmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' && v[6] == '.' &&
        v[7] >= '0' && v[7] <= '9')
        return http_fail(req, 505, "HTTP version not supported (use HTTP/1.1)", WS_EHANDSHAKE);
    return http_fail(req, 400, "malformed request line (version)", WS_EHANDSHAKE);
}

/* ------------------------------------------------------------------ */
/* headers                                                             */
/* ------------------------------------------------------------------ */

static int set_once(cn_slice *dst, uint8_t *seen, const char *v, size_t n, ws_http_req *req,
                    const char *why)
{
    if (*seen)
        return http_fail(req, 400, why, WS_EHANDSHAKE);
    *seen = 1;
    *dst = (cn_slice){(const unsigned char *)v, n};
    return 0;
}

typedef struct hdr_seen {
    uint8_t host, key, version, origin;
} hdr_seen;

static int apply_header(const char *name, size_t nl, const char *v, size_t vl, ws_http_req *req,
                        hdr_seen *s)
{
    if (name_is(name, nl, "host")) {
        if (vl == 0 || vl > 255)
            return http_fail(req, 400, "bad Host header", WS_EHANDSHAKE);
        return set_once(&req->host, &s->host, v, vl, req, "more than one Host header");
    }
    if (name_is(name, nl, "upgrade")) {
        req->upgrade_websocket |= (uint8_t)ws_http_token_list_has(v, vl, "websocket");
        return 0;
    }
    if (name_is(name, nl, "connection")) {
        req->connection_upgrade |= (uint8_t)ws_http_token_list_has(v, vl, "upgrade");
        req->connection_close |= (uint8_t)ws_http_token_list_has(v, vl, "close");
        return 0;
    }
    if (name_is(name, nl, "sec-websocket-key")) {
        req->has_ws_key = 1;
        return set_once(&req->ws_key, &s->key, v, vl, req, "more than one Sec-WebSocket-Key");
    }
    if (name_is(name, nl, "sec-websocket-version"))
        return set_once(&req->ws_version, &s->version, v, vl, req,
                        "more than one Sec-WebSocket-Version");
    if (name_is(name, nl, "origin"))
        return set_once(&req->origin, &s->origin, v, vl, req, "more than one Origin");
    if (name_is(name, nl, "content-length")) {
        if (!(vl == 1 && v[0] == '0'))
            return http_fail(req, 400, "request bodies are not accepted", WS_EHANDSHAKE);
        return 0;
    }
    if (name_is(name, nl, "transfer-encoding"))
        return http_fail(req, 400, "request bodies are not accepted", WS_EHANDSHAKE);
    return 0;
}

static int parse_header_line(const char *p, size_t n, ws_http_req *req, hdr_seen *s)
{
    if (p[0] == ' ' || p[0] == '\t')
        return http_fail(req, 400, "obsolete header line folding", WS_EHANDSHAKE);
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ':')
        return http_fail(req, 400, "malformed header line", WS_EHANDSHAKE);
    size_t nl = i++;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    size_t vend = n;
    while (vend > i && (p[vend - 1] == ' ' || p[vend - 1] == '\t'))
        vend--;
    return apply_header(p, nl, p + i, vend - i, req, s);
}

static int parse_head(const char *buf, size_t end, const ws_http_limits *lim, ws_http_req *req)
{
    hdr_seen seen = {0};
    /* head_find_end guaranteed every LF is preceded by CR. */
    const char *p = buf, *stop = buf + end;
    const char *lf = memchr(p, '\n', (size_t)(stop - p));
    int rc = parse_request_line(p, (size_t)(lf - 1 - p), lim, req);
    if (rc)
        return rc;
    for (p = lf + 1; p < stop; p = lf + 1) {
        lf = memchr(p, '\n', (size_t)(stop - p));
        size_t n = (size_t)(lf - 1 - p);
        if (n == 0)
            break; /* the blank line */
        if (++req->nheaders > lim->max_headers)
            return http_fail(req, 431, "too many header lines", CN_ETOOBIG);
        rc = parse_header_line(p, n, req, &seen);
        if (rc)
            return rc;
    }
    if (req->minor == 1 && !seen.host)
        return http_fail(req, 400, "Host header required", WS_EHANDSHAKE);
    req->head_len = end;
    return 0;
}

/* ------------------------------------------------------------------ */
/* API                                                                 */
/* ------------------------------------------------------------------ */

int ws_http_parse(const char *buf, size_t len, size_t *scan, const ws_http_limits *lim,
                  ws_http_req *req)
{
    static const ws_http_limits def = WS_HTTP_LIMITS_DEFAULT;
    if (!lim)
        lim = &def;
    memset(req, 0, sizeof(*req));
    size_t end = 0;
    int rc = head_find_end(buf, len, scan, lim, req, &end);
    if (rc)
        return rc;
    return parse_head(buf, end, lim, req);
}

int ws_http_token_list_has(const char *list, size_t len, const char *token)
{
    size_t tl = strlen(token);
    size_t i = 0;
    while (i < len) {
        while (i < len && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
            i++;
        size_t s = i;
        while (i < len && list[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (list[e - 1] == ' ' || list[e - 1] == '\t'))
            e--;
        if (e - s == tl && strncasecmp(list + s, token, tl) == 0)
            return 1;
    }
    return 0;
}
