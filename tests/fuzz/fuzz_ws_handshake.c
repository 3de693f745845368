/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ws_handshake.c — libFuzzer target for the server side of the
 * opening handshake on its own: ws_http_upgrade_check over request heads
 * built directly from the input (any method, HTTP minor, header flags,
 * Sec-WebSocket-Version and Sec-WebSocket-Key bytes, so the key check sees
 * far more keys than the head parser would let through), and
 * ws_http_accept_key over any key.
 * Input: byte 0 flags (bit 0 Upgrade: websocket, bit 1 Connection:
 * upgrade, bit 2 a key header present, bits 3-4 the HTTP minor), byte 1
 * the method length (mod 8), byte 2 the version length (mod 4), then the
 * method, the version and the key (the rest).
 * Checks, against an oracle written independently of ws/: a request is
 * accepted exactly when it is GET, HTTP/1.1, both headers, version "13"
 * and a key of 22 base64 characters whose last one encodes no stray bits
 * followed by "=="; every refusal carries 400, 405 or 426 and a reason;
 * the accept key of any key up to 64 bytes is 27 base64 characters and
 * '=' (20 bytes), deterministic, and a longer key is refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cn_err.h"
#include "ws.h"

static int fz_b64(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* The canonical base64 of 16 bytes: 21 free characters, a 22nd carrying
 * 2 data bits and 4 zero bits (A, Q, g or w), then "==". */
static int fz_key_ok(const unsigned char *k, size_t n)
{
    if (n != 24 || k[22] != '=' || k[23] != '=')
        return 0;
    for (size_t i = 0; i < 22; i++)
        if (!fz_b64(k[i]))
            return 0;
    return k[21] == 'A' || k[21] == 'Q' || k[21] == 'g' || k[21] == 'w';
}

static void fz_accept(const unsigned char *key, size_t n)
{
    char a[WS_ACCEPT_LEN + 1], b[WS_ACCEPT_LEN + 1];
    int rc = ws_http_accept_key((const char *)key, n, a);
    if (n > 64) {
        if (rc != CN_EINVAL)
            abort();
        return;
    }
    if (rc || strlen(a) != WS_ACCEPT_LEN || a[27] != '=')
        abort();
    for (size_t i = 0; i < 27; i++)
        if (!fz_b64((unsigned char)a[i]))
            abort();
    if (ws_http_accept_key((const char *)key, n, b) || memcmp(a, b, sizeof(a)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t mlen = data[1] & 7, vlen = data[2] & 3;
    if (size < 3 + mlen + vlen)
        return 0;
    ws_http_req r;
    memset(&r, 0, sizeof(r));
    r.upgrade_websocket = data[0] & 1;
    r.connection_upgrade = (data[0] >> 1) & 1;
    r.has_ws_key = (data[0] >> 2) & 1;
    r.minor = (data[0] >> 3) & 3;
    r.method = (cn_slice){data + 3, mlen};
    r.ws_version = (cn_slice){data + 3 + mlen, vlen};
    const unsigned char *key = data + 3 + mlen + vlen;
    size_t klen = size - 3 - mlen - vlen;
    if (r.has_ws_key)
        r.ws_key = (cn_slice){key, klen};

    int want = mlen == 3 && memcmp(r.method.ptr, "GET", 3) == 0 && r.minor == 1 &&
               r.upgrade_websocket && r.connection_upgrade && vlen == 2 &&
               memcmp(r.ws_version.ptr, "13", 2) == 0 && r.has_ws_key && fz_key_ok(key, klen);
    int status = 0;
    const char *why = NULL;
    int rc = ws_http_upgrade_check(&r, &status, &why);
    if (want ? (rc != 0 || status != 101) : (rc != WS_EHANDSHAKE || !why))
        abort();
    if (!want && status != 400 && status != 405 && status != 426)
        abort();
    fz_accept(key, klen);
    return 0;
}
