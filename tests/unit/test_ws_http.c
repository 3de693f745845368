/* SPDX-License-Identifier: MIT */
/*
 * test_ws_http.c — the HTTP request-head parser, the WebSocket handshake
 * and the response writers: SHA-1 (FIPS 180 vectors and padding edges),
 * the RFC 6455 accept-key example, a valid upgrade fed one byte at a time
 * (CN_WANT_MORE until the last byte, bounded rescanning), every malformed
 * head we refuse and with which status (bare LF/CR, controls, TLS bytes,
 * folding, space before colon, missing/duplicate Host, bodies, bad
 * targets and versions), the size/count/target limits (431/414) crossed
 * slowloris-style, the upgrade rules (405/400/426), query decoding and
 * the exact response bytes, including under allocation failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "ws.h"
#include "ws_sha1.h"

static void hex(const unsigned char *h, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", h[i]);
}

static void test_sha1_vectors(void **st)
{
    (void)st;
    unsigned char h[20];
    char x[41];
    ws_sha1("", 0, h);
    hex(h, 20, x);
    assert_string_equal(x, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    ws_sha1("abc", 3, h);
    hex(h, 20, x);
    assert_string_equal(x, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ws_sha1(m, strlen(m), h);
    hex(h, 20, x);
    assert_string_equal(x, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    char *mil = malloc(1000000);
    memset(mil, 'a', 1000000);
    ws_sha1(mil, 1000000, h);
    hex(h, 20, x);
    assert_string_equal(x, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    /* padding edges: one or two final blocks */
    static const struct {
        size_t n;
        const char *want;
    } edge[] = {{55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
                {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
                {63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
                {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
                {65, "11655326c708d70319be2610e8a57d9a5b959d3b"},
                {119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"},
                {120, "f34c1488385346a55709ba056ddd08280dd4c6d6"},
                {128, "ad5b3fdbcb526778c2839d2f151ea753995e26a0"}};
    for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
        ws_sha1(mil, edge[i].n, h);
        hex(h, 20, x);
        assert_string_equal(x, edge[i].want);
    }
    free(mil);
}

static void test_accept_key_rfc(void **st)
{
    (void)st;
    char acc[WS_ACCEPT_LEN + 1];
    assert_int_equal(ws_http_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, acc), 0);
    assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    char big[80];
    memset(big, 'A', sizeof(big));
    assert_int_equal(ws_http_accept_key(big, sizeof(big), acc), CN_EINVAL);
}

static const char rfc_req[] = "GET /ws?token=abc%2Ddef&player=p+1 HTTP/1.1\r\n"
                              "Host: server.example.com\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: keep-alive, Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Origin: http://example.com\r\n"
                              "Sec-WebSocket-Version: 13\r\n"
                              "\r\n";

static void test_valid_upgrade_byte_by_byte(void **st)
{
    (void)st;
    size_t n = strlen(rfc_req);
    char buf[1024];
    memcpy(buf, rfc_req, n);
    memcpy(buf + n, "\x81\x85", 2); /* a first frame right behind the head */
    size_t scan = 0;
    ws_http_req req;
    for (size_t len = 1; len < n; len++) {
        assert_int_equal(ws_http_parse(buf, len, &scan, NULL, &req), CN_WANT_MORE);
        assert_int_equal(scan, len); /* each byte scanned once */
    }
    assert_int_equal(ws_http_parse(buf, n + 2, &scan, NULL, &req), 0);
    assert_int_equal(req.head_len, n);
    assert_int_equal(req.minor, 1);
    assert_int_equal(req.nheaders, 6);
    assert_memory_equal(req.path.ptr, "/ws", 3);
    assert_int_equal(req.path.len, 3);
    assert_int_equal(req.query.len, strlen("token=abc%2Ddef&player=p+1"));
    assert_memory_equal(req.host.ptr, "server.example.com", req.host.len);
    assert_true(req.upgrade_websocket && req.connection_upgrade && !req.connection_close);
    int status;
    const char *why;
    assert_int_equal(ws_http_upgrade_check(&req, &status, &why), 0);
    assert_int_equal(status, 101);
    char acc[WS_ACCEPT_LEN + 1];
    assert_int_equal(ws_http_accept_key((const char *)req.ws_key.ptr, req.ws_key.len, acc), 0);
    assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    char v[64];
    size_t vl;
    assert_int_equal(ws_http_query_get(req.query, "token", v, sizeof(v), &vl), 0);
    assert_string_equal(v, "abc-def");
    assert_int_equal(vl, 7);
    assert_int_equal(ws_http_query_get(req.query, "player", v, sizeof(v), NULL), 0);
    assert_string_equal(v, "p 1");
    /* A plain GET with HTTP/1.0 needs no Host. */
    const char *g = "GET /healthz HTTP/1.0\r\n\r\n";
    scan = 0;
    assert_int_equal(ws_http_parse(g, strlen(g), &scan, NULL, &req), 0);
    assert_int_equal(req.minor, 0);
    assert_int_equal(req.query.len, 0);
    assert_int_equal(ws_http_upgrade_check(&req, &status, NULL), WS_EHANDSHAKE);
}

/* Parse s whole and return the status it is refused with (0 if accepted). */
static int status_of(const char *s, size_t n, const ws_http_limits *lim, int *rc_out)
{
    size_t scan = 0;
    ws_http_req req;
    int rc = ws_http_parse(s, n, &scan, lim, &req);
    if (rc_out)
        *rc_out = rc;
    if (rc == CN_WANT_MORE)
        return -1;
    return rc ? req.status : 0;
}

static int st_of(const char *s)
{
    return status_of(s, strlen(s), NULL, NULL);
}

static void test_malformed_heads(void **st)
{
    (void)st;
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        {"GET / HTTP/1.1\nHost: a\r\n\r\n", 400},                 /* bare LF */
        {"GET / HTTP/1.1\r\nHost: a\rX\r\n\r\n", 400},            /* bare CR */
        {"GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", 400},           /* control byte */
        {"GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", 400},           /* DEL */
        {"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400}, /* folding */
        {"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\t2\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},           /* space before colon */
        {"GET / HTTP/1.1\r\nHost a\r\n\r\n", 400},             /* no colon */
        {"GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n", 400},     /* empty name */
        {"GET / HTTP/1.1\r\n\r\n", 400},                       /* no Host */
        {"GET / HTTP/1.1\r\nHost:\r\n\r\n", 400},              /* empty Host */
        {"GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\n\r\n", 400}, /* two Hosts */
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400}, /* absolute-form */
        {"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400}, /* double space */
        {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
        {"GET /\r\nHost: a\r\n\r\n", 400}, /* HTTP/0.9 style */
        {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
        {"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505},
        {"GET / http/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400},
        {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400}, /* not a token */
        {"VERYLONGMETHODNAME / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},     /* leading empty line */
        {"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400}, /* raw non-ASCII target */
        {"GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: a\r\nSec-WebSocket-Key: b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Version: "
         "13\r\n\r\n",
         400},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = st_of(cases[i].req);
        if (got != cases[i].status)
            fail_msg("case %zu (%s): status %d, want %d", i, cases[i].req, got, cases[i].status);
    }
    /* Fine: header values with obs-text, tabs, odd spacing; lowercase names; POST parses (405 is
     * routing's). */
    assert_int_equal(st_of("GET / HTTP/1.1\r\nhost:a\r\nUser-Agent: \xc3\xa9t\xc3\xa9\t \r\n\r\n"),
                     0);
    assert_int_equal(st_of("POST /ws HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"), 0);
}

static void test_early_rejection(void **st)
{
    (void)st;
    /* A TLS ClientHello or binary garbage is refused at its first byte. */
    const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    size_t scan = 0;
    ws_http_req req;
    assert_int_equal(ws_http_parse(tls, 1, &scan, NULL, &req), WS_EHANDSHAKE);
    assert_int_equal(req.status, 400);
    /* A bare LF is refused when it arrives, not when the head ends. */
    const char *s = "GET / HTTP/1.1\n";
    scan = 0;
    assert_int_equal(ws_http_parse(s, 14, &scan, NULL, &req), CN_WANT_MORE);
    assert_int_equal(ws_http_parse(s, 15, &scan, NULL, &req), WS_EHANDSHAKE);
}

static void test_limits_slowloris(void **st)
{
    (void)st;
    ws_http_limits lim = {256, 4, 64};
    /* An endless header dribbled byte by byte: refused exactly at max_head. */
    char buf[1024];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ");
    memset(buf + n, 'x', sizeof(buf) - n);
    size_t scan = 0;
    ws_http_req req;
    size_t len;
    int rc = CN_WANT_MORE;
    for (len = 1; len <= sizeof(buf) && rc == CN_WANT_MORE; len++)
        rc = ws_http_parse(buf, len, &scan, &lim, &req);
    assert_int_equal(rc, CN_ETOOBIG);
    assert_int_equal(req.status, 431);
    assert_int_equal(len - 1, 257); /* the 257th byte crossed the limit */
    /* A head of exactly max_head bytes passes. */
    char ok[256];
    n = (size_t)snprintf(ok, sizeof(ok), "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ");
    memset(ok + n, 'y', 256 - n - 4);
    memcpy(ok + 252, "\r\n\r\n", 4);
    assert_int_equal(status_of(ok, 256, &lim, NULL), 0);
    /* Header count. */
    const char *many = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
    assert_int_equal(status_of(many, strlen(many), &lim, &rc), 431);
    assert_int_equal(rc, CN_ETOOBIG);
    const char *four = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_int_equal(status_of(four, strlen(four), &lim, NULL), 0);
    /* Target length. */
    char t[512];
    n = (size_t)snprintf(t, sizeof(t), "GET /%065d HTTP/1.1\r\nHost: a\r\n\r\n", 0);
    assert_int_equal(status_of(t, n, &lim, &rc), 414);
    assert_int_equal(rc, CN_ETOOBIG);
    n = (size_t)snprintf(t, sizeof(t), "GET /%063d HTTP/1.1\r\nHost: a\r\n\r\n", 0);
    assert_int_equal(status_of(t, n, &lim, NULL), 0);
}

static const char *upg(const char *method, const char *ver, const char *up, const char *conn,
                       const char *wsv, const char *key, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s /ws %s\r\nHost: h\r\n%s%s%s%s\r\n", method, ver, up, conn, wsv, key);
    return buf;
}

static int upgrade_status(const char *s)
{
    size_t scan = 0;
    ws_http_req req;
    int status = 0;
    if (ws_http_parse(s, strlen(s), &scan, NULL, &req))
        return -req.status;
    ws_http_upgrade_check(&req, &status, NULL);
    return status;
}

static void test_upgrade_rules(void **st)
{
    (void)st;
    char b[512];
    const char *U = "Upgrade: websocket\r\n", *C = "Connection: Upgrade\r\n",
               *V = "Sec-WebSocket-Version: 13\r\n",
               *K = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    assert_int_equal(upgrade_status(upg("GET", "HTTP/1.1", U, C, V, K, b, sizeof(b))), 101);
    assert_int_equal(upgrade_status(upg("GET", "HTTP/1.1", "Upgrade: WebSocket\r\n",
                                        "Connection: UPGRADE\r\n", V, K, b, sizeof(b))),
                     101);
    assert_int_equal(upgrade_status(upg("POST", "HTTP/1.1", U, C, V, K, b, sizeof(b))), 405);
    assert_int_equal(upgrade_status(upg("get", "HTTP/1.1", U, C, V, K, b, sizeof(b))), 405);
    assert_int_equal(upgrade_status(upg("GET", "HTTP/1.0", U, C, V, K, b, sizeof(b))), 400);
    assert_int_equal(upgrade_status(upg("GET", "HTTP/1.1", "", C, V, K, b, sizeof(b))), 426);
    assert_int_equal(
        upgrade_status(upg("GET", "HTTP/1.1", "Upgrade: h2c\r\n", C, V, K, b, sizeof(b))), 426);
    assert_int_equal(upgrade_status(upg("GET", "HTTP/1.1", U, "", V, K, b, sizeof(b))), 426);
    assert_int_equal(
        upgrade_status(upg("GET", "HTTP/1.1", U, "Connection: close\r\n", V, K, b, sizeof(b))),
        426);
    assert_int_equal(upgrade_status(upg("GET", "HTTP/1.1", U, C, "Sec-WebSocket-Version: 8\r\n", K,
                                        b, sizeof(b))),
                     426);
    assert_int_equal(upgrade_status(upg("GET", "HTTP/1.1", U, C, "", K, b, sizeof(b))), 426);
    assert_int_equal(upgrade_status(upg("GET", "HTTP/1.1", U, C, V, "", b, sizeof(b))), 400);
    /* keys: 20 bytes of base64, bad characters, no padding, 17 bytes */
    assert_int_equal(
        upgrade_status(upg("GET", "HTTP/1.1", U, C, V,
                           "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n", b, sizeof(b))),
        400);
    assert_int_equal(
        upgrade_status(upg("GET", "HTTP/1.1", U, C, V,
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j*Q==\r\n", b, sizeof(b))),
        400);
    assert_int_equal(
        upgrade_status(upg("GET", "HTTP/1.1", U, C, V,
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA\r\n", b, sizeof(b))),
        400);
    assert_int_equal(
        upgrade_status(upg("GET", "HTTP/1.1", U, C, V, "Sec-WebSocket-Key: \r\n", b, sizeof(b))),
        400);
    /* non-canonical: unused bits set in the last data character, and a high-bit byte */
    assert_int_equal(
        upgrade_status(upg("GET", "HTTP/1.1", U, C, V,
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n", b, sizeof(b))),
        400);
    assert_int_equal(
        upgrade_status(upg("GET", "HTTP/1.1", U, C, V,
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j\xdaQ==\r\n", b, sizeof(b))),
        400);
}

static void test_token_lists(void **st)
{
    (void)st;
    const char *l = " keep-alive ,\tUpgrade , ,close";
    assert_true(ws_http_token_list_has(l, strlen(l), "upgrade"));
    assert_true(ws_http_token_list_has(l, strlen(l), "close"));
    assert_true(ws_http_token_list_has(l, strlen(l), "keep-alive"));
    assert_false(ws_http_token_list_has(l, strlen(l), "upgrad"));
    assert_false(ws_http_token_list_has("upgrades", 8, "upgrade"));
    assert_false(ws_http_token_list_has("", 0, "upgrade"));
}

static void test_query(void **st)
{
    (void)st;
    char v[8];
    size_t vl;
    const char *qs = "a=1&tokenx=2&token=%41%62&e&f=";
    cn_slice q = {(const unsigned char *)qs, strlen(qs)};
    assert_int_equal(ws_http_query_get(q, "token", v, sizeof(v), &vl), 0);
    assert_string_equal(v, "Ab");
    assert_int_equal(ws_http_query_get(q, "e", v, sizeof(v), &vl), 0);
    assert_int_equal(vl, 0);
    assert_int_equal(ws_http_query_get(q, "f", v, sizeof(v), &vl), 0);
    assert_int_equal(vl, 0);
    assert_int_equal(ws_http_query_get(q, "missing", v, sizeof(v), &vl), CN_ENOENT);
    assert_int_equal(ws_http_query_get(q, "toke", v, sizeof(v), &vl), CN_ENOENT);
    cn_slice dup = {(const unsigned char *)"token=a&token=b", 15};
    assert_int_equal(ws_http_query_get(dup, "token", v, sizeof(v), &vl), CN_EINVAL);
    const char *bad[] = {"x=%", "x=%4", "x=%G1", "x=%00", "x=a%zz"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cn_slice b = {(const unsigned char *)bad[i], strlen(bad[i])};
        assert_int_equal(ws_http_query_get(b, "x", v, sizeof(v), &vl), CN_EINVAL);
    }
    cn_slice big = {(const unsigned char *)"x=12345678", 10};
    assert_int_equal(ws_http_query_get(big, "x", v, sizeof(v), &vl), CN_ETOOBIG);
    cn_slice fits = {(const unsigned char *)"x=1234567", 9};
    assert_int_equal(ws_http_query_get(fits, "x", v, sizeof(v), &vl), 0);
    assert_int_equal(vl, 7);
    cn_slice empty = {NULL, 0};
    assert_int_equal(ws_http_query_get(empty, "x", v, sizeof(v), &vl), CN_ENOENT);
}

static void test_responses(void **st)
{
    (void)st;
    cn_buf o = CN_BUF_INIT;
    assert_int_equal(ws_http_write_101(&o, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), 0);
    const char *want101 =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    assert_int_equal(o.len, strlen(want101));
    assert_memory_equal(o.data, want101, o.len);
    cn_buf_reset(&o);
    assert_int_equal(ws_http_write_error(&o, 426, NULL), 0);
    const char *want426 =
        "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 17\r\nConnection: close\r\n\r\n"
        "Upgrade Required\n";
    assert_int_equal(o.len, strlen(want426));
    assert_memory_equal(o.data, want426, o.len);
    const int codes[] = {400, 401, 404, 405, 429, 431, 503};
    const char *must[] = {"400 Bad Request", "WWW-Authenticate: Bearer", "404 Not Found",
                          "Allow: GET",      "Retry-After: 1",           "431 Request Header",
                          "Retry-After: 1"};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        cn_buf_reset(&o);
        assert_int_equal(ws_http_write_error(&o, codes[i], "detail"), 0);
        assert_int_equal(cn_buf_append(&o, "", 1), 0);
        assert_non_null(strstr((char *)o.data, must[i]));
        assert_non_null(strstr((char *)o.data, "\r\n\r\ndetail\n"));
    }
    /* Header injection through detail is neutralised. */
    cn_buf_reset(&o);
    assert_int_equal(ws_http_write_error(&o, 401, "bad\r\nSet-Cookie: x=1"), 0);
    assert_int_equal(cn_buf_append(&o, "", 1), 0);
    assert_null(strstr((char *)o.data, "\r\nSet-Cookie"));
    assert_int_equal(ws_http_write_error(&o, 200, "x"), CN_EINVAL);
    cn_buf_reset(&o);
    assert_int_equal(ws_http_write_response(&o, 200, "text/plain", "ok\n", 3, 1), 0);
    const char *want200 = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
                          "Cache-Control: no-store\r\nConnection: keep-alive\r\n\r\nok\n";
    assert_int_equal(o.len, strlen(want200));
    assert_memory_equal(o.data, want200, o.len);
    /* Allocation failure: error, buffer unchanged. */
    size_t before = o.len;
    for (long k = 1; k <= 3; k++) {
        cn_buf fresh = CN_BUF_INIT;
        cn_test_alloc_fail_at(k, 1);
        int r1 = ws_http_write_error(&fresh, 503, NULL);
        int r2 = ws_http_write_101(&fresh, "x");
        cn_test_alloc_reset();
        if (k == 1) {
            assert_int_equal(r1, CN_ENOMEM);
            assert_int_equal(r2, CN_ENOMEM);
            assert_int_equal(fresh.len, 0);
        }
        cn_buf_free(&fresh);
    }
    assert_int_equal(o.len, before);
    cn_buf_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha1_vectors),
        cmocka_unit_test(test_accept_key_rfc),
        cmocka_unit_test(test_valid_upgrade_byte_by_byte),
        cmocka_unit_test(test_malformed_heads),
        cmocka_unit_test(test_early_rejection),
        cmocka_unit_test(test_limits_slowloris),
        cmocka_unit_test(test_upgrade_rules),
        cmocka_unit_test(test_token_lists),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
