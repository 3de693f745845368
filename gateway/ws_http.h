/* SPDX-License-Identifier: MIT */
/*
 * ws_http.h — strict HTTP/1.1 request heads for the gateway port: the
 * WebSocket upgrade (RFC 6455 §4.2.1) and plain GETs (/healthz, /metrics,
 * /api/...), plus the responses the gateway sends before or instead of an
 * upgrade.  Pure byte-in/struct-out code: no sockets, no allocation; the
 * parsed request borrows slices of the caller's buffer.
 * Rules and limits: docs/protocol.md "HTTP and the handshake".
 */
#ifndef WS_HTTP_H
#define WS_HTTP_H

#include "cn_buf.h"

#include <stddef.h>
#include <stdint.h>

/* Defaults: a phone's upgrade request is ~300-600 bytes; 8 KiB and 32
 * header lines leave room for proxies and cookies and bound what a slow or
 * hostile client can make us hold before the head is complete. */
#define WS_HTTP_MAX_HEAD 8192
#define WS_HTTP_MAX_HEADERS 32
#define WS_HTTP_MAX_TARGET 2048

typedef struct ws_http_limits {
    size_t max_head;    /* bytes of request line + headers + blank line */
    size_t max_headers; /* header lines */
    size_t max_target;  /* bytes of the request target */
} ws_http_limits;

#define WS_HTTP_LIMITS_DEFAULT {WS_HTTP_MAX_HEAD, WS_HTTP_MAX_HEADERS, WS_HTTP_MAX_TARGET}

/** A parsed request head.  Slices borrow the caller's buffer. */
typedef struct ws_http_req {
    cn_slice method; /* "GET" */
    cn_slice target; /* "/ws?token=..." */
    cn_slice path;   /* "/ws" */
    cn_slice query;  /* "token=..." (without '?'); len 0 if none */
    int minor;       /* HTTP/1.<minor>: 0 or 1 */
    cn_slice host;
    cn_slice ws_key;     /* Sec-WebSocket-Key value */
    cn_slice ws_version; /* Sec-WebSocket-Version value */
    cn_slice origin;
    uint8_t upgrade_websocket;  /* an Upgrade header lists "websocket" */
    uint8_t connection_upgrade; /* a Connection header lists "upgrade" */
    uint8_t connection_close;   /* a Connection header lists "close" */
    uint8_t has_ws_key;
    size_t nheaders;
    size_t head_len; /* bytes of the head including the blank line */
    int status;      /* on error: the HTTP status to answer (400, 431, 505) */
    const char *why; /* on error: a short reason, for logs and the body */
} ws_http_req;

/**
 * Parse a request head from the bytes received so far.
 *
 * Call again with the same buffer (grown) each time more bytes arrive;
 * scan carries the position already searched so each byte is looked at a
 * bounded number of times however the head is split (slowloris-safe in CPU;
 * the time limit is the caller's).  Start with *scan = 0.  Bytes no request
 * head may contain (controls, bare LF) are refused as soon as they arrive.
 *
 * @return 0: complete and valid, req filled, req->head_len bytes used
 *         (anything after belongs to the next layer);
 *         CN_WANT_MORE: incomplete so far, read more;
 *         WS_EHANDSHAKE: malformed, req->status and req->why set; answer
 *         with ws_http_write_error(req->status) and close;
 *         CN_ETOOBIG: over a limit, req->status 431 (or 414 for the target).
 */
int ws_http_parse(const char *buf, size_t len, size_t *scan, const ws_http_limits *lim, ws_http_req *req);

/**
 * Check that a parsed request is a valid WebSocket upgrade (§4.2.1).
 * @return 0, or WS_EHANDSHAKE with *status: 405 (not GET), 400 (not
 *         HTTP/1.1, missing or malformed Sec-WebSocket-Key), 426 (no
 *         Upgrade: websocket / Connection: upgrade, or Sec-WebSocket-Version
 *         is not 13: answer with ws_http_write_error(426), which lists 13)
 */
int ws_http_upgrade_check(const ws_http_req *req, int *status, const char **why);

#define WS_ACCEPT_LEN 28

/**
 * Sec-WebSocket-Accept for a key: base64(SHA-1(key + RFC 6455 GUID)),
 * NUL-terminated.  @return 0, or CN_EINVAL for a key over 64 bytes (a
 * valid key, checked by ws_http_upgrade_check, is 24).
 */
int ws_http_accept_key(const char *key, size_t keylen, char out[WS_ACCEPT_LEN + 1]);

/**
 * Find name in a query string and percent-decode its value into out
 * (NUL-terminated; '+' decodes to a space, as in HTML forms).
 * @return 0 found; CN_ENOENT absent; CN_EINVAL the name appears twice
 *         (ambiguous, refused), a bad %-escape or a decoded NUL;
 *         CN_ETOOBIG the decoded value needs more than cap-1 bytes
 */
int ws_http_query_get(cn_slice query, const char *name, char *out, size_t cap, size_t *outlen);

/** 1 if the token list (comma separated, OWS) contains token, case-insensitively. */
int ws_http_token_list_has(const char *list, size_t len, const char *token);

/* ---- responses (ws_http_resp.c) ---- */

/** Reason phrase for a status we send ("Bad Request"); "Unknown" otherwise. */
const char *ws_http_reason(int status);

/** 101 Switching Protocols with the accept key.  0 or CN_ENOMEM. */
int ws_http_write_101(cn_buf *out, const char *accept);

/**
 * An error response with a one-line text body (detail, or the reason
 * phrase if NULL) and Connection: close.  Adds what each status needs:
 * 401 WWW-Authenticate, 405 Allow: GET, 426 Upgrade + Sec-WebSocket-Version: 13,
 * 429/503 Retry-After: 1.  CR and LF in detail are replaced by spaces.
 * @return 0; CN_EINVAL for a status not in 400-599; CN_ENOMEM
 */
int ws_http_write_error(cn_buf *out, int status, const char *detail);

/** A complete response with a body (e.g. 200 for /healthz, /metrics).  0 or CN_ENOMEM. */
int ws_http_write_response(cn_buf *out, int status, const char *content_type, const void *body, size_t len,
                           int keep_alive);

#endif
