/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ws_http.c — libFuzzer target for the HTTP request-head parser, the
 * upgrade check, the accept key, query decoding and the error writer.
 * Byte 0 picks the step in which the rest is fed (1..64 bytes per call,
 * as a slow client would send it).  Checks: fed in steps or whole, the
 * verdict and status are the same; every slice of a parsed request lies
 * inside the head; a refused head always names a 4xx/5xx status; decoded
 * query values fit their buffer and are NUL-terminated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cn_err.h"
#include "ws.h"

static void fz_in_head(cn_slice s, const char *buf, size_t head_len)
{
    if (s.len && ((const char *)s.ptr < buf || (const char *)s.ptr + s.len > buf + head_len))
        abort();
}

static void fz_check_ok(const ws_http_req *r, const char *buf, size_t len)
{
    if (r->head_len == 0 || r->head_len > len)
        abort();
    fz_in_head(r->method, buf, r->head_len);
    fz_in_head(r->target, buf, r->head_len);
    fz_in_head(r->path, buf, r->head_len);
    fz_in_head(r->query, buf, r->head_len);
    fz_in_head(r->host, buf, r->head_len);
    fz_in_head(r->ws_key, buf, r->head_len);
    int status = 0;
    const char *why = NULL;
    if (ws_http_upgrade_check(r, &status, &why) == 0) {
        char acc[WS_ACCEPT_LEN + 1];
        if (ws_http_accept_key((const char *)r->ws_key.ptr, r->ws_key.len, acc) ||
            strlen(acc) != WS_ACCEPT_LEN)
            abort();
    } else if (status < 400 || !why) {
        abort();
    }
    char v[32];
    size_t vl = 0;
    if (ws_http_query_get(r->query, "token", v, sizeof(v), &vl) == 0 &&
        (vl >= sizeof(v) || strlen(v) != vl))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)(data[0] & 63) + 1;
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    ws_http_limits lim = {1024, 16, 256};
    ws_http_req a, b;
    size_t scan = 0;
    int ra = CN_WANT_MORE;
    for (size_t have = step < len ? step : len;; have = have + step < len ? have + step : len) {
        ra = ws_http_parse(buf, have, &scan, &lim, &a);
        if (ra != CN_WANT_MORE || have == len)
            break;
    }
    size_t scan2 = 0;
    int rb = ws_http_parse(buf, len, &scan2, &lim, &b);
    if (ra != rb)
        abort();
    if (ra == 0) {
        if (a.head_len != b.head_len)
            abort();
        fz_check_ok(&a, buf, len);
    } else if (ra != CN_WANT_MORE) {
        if (a.status != b.status || a.status < 400 || a.status > 599 || !a.why)
            abort();
        cn_buf out = CN_BUF_INIT;
        if (ws_http_write_error(&out, a.status, a.why))
            abort();
        cn_buf_free(&out);
    }
    return 0;
}
