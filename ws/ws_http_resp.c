/* SPDX-License-Identifier: MIT */
/*
 * ws_http_resp.c — the HTTP/1.1 responses the gateway port sends: the 101
 * upgrade, error answers before or instead of an upgrade, and plain
 * responses for /healthz, /metrics and /api/....
 *
 * Guarantees: every response carries Content-Length (or none for 101),
 * error responses carry Connection: close (the gateway closes after
 * them: a refused handshake gets no second try on the same socket), and
 * nothing a caller passes as detail can inject a header (CR/LF become
 * spaces).  On error nothing is appended.  Pure; any thread; the caller
 * owns out.
 */
#include "ws.h"

#include "cn_err.h"

#include <stdio.h>
#include <string.h>

const char *ws_http_reason(int status)
{
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 414:
        return "URI Too Long";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

int ws_http_write_101(cn_buf *out, const char *accept)
{
    size_t before = out->len;
    int rc = cn_buf_printf(out,
                           "HTTP/1.1 101 Switching Protocols\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: %s\r\n\r\n",
                           accept);
    if (rc)
        out->len = before;
    return rc;
}

static const char *extra_headers(int status)
{
    switch (status) {
    case 401:
        return "WWW-Authenticate: Bearer realm=\"cairn\"\r\n";
    case 405:
        return "Allow: GET\r\n";
    case 426:
        return "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
    case 429:
    case 503:
        return "Retry-After: 1\r\n";
    default:
        return "";
    }
}

int ws_http_write_error(cn_buf *out, int status, const char *detail)
{
    if (status < 400 || status > 599)
        return CN_EINVAL;
    char body[256];
    snprintf(body, sizeof(body), "%s", detail ? detail : ws_http_reason(status));
    for (char *c = body; *c; c++)
        if (*c == '\r' || *c == '\n')
            *c = ' ';
    size_t before = out->len;
    int rc = cn_buf_printf(out,
                           "HTTP/1.1 %d %s\r\n"
                           "%s"
                           "Content-Type: text/plain; charset=utf-8\r\n"
                           "Content-Length: %zu\r\n"
                           "Connection: close\r\n\r\n%s\n",
                           status, ws_http_reason(status), extra_headers(status), strlen(body) + 1,
                           body);
    if (rc)
        out->len = before;
    return rc;
}

int ws_http_write_response(cn_buf *out, int status, const char *content_type, const void *body,
                           size_t len, int keep_alive)
{
    size_t before = out->len;
    int rc = cn_buf_printf(out,
                           "HTTP/1.1 %d %s\r\n"
                           "Content-Type: %s\r\n"
                           "Content-Length: %zu\r\n"
                           "Cache-Control: no-store\r\n"
                           "Connection: %s\r\n\r\n",
                           status, ws_http_reason(status), content_type, len,
                           keep_alive ? "keep-alive" : "close");
    if (!rc && len)
        rc = cn_buf_append(out, body, len);
    if (rc)
        out->len = before;
    return rc;
}
