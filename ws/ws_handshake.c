/* SPDX-License-Identifier: MIT */
/*
 * ws_handshake.c — the server side of the RFC 6455 §4.2 opening handshake
 * on top of a parsed request head: is this a valid upgrade, and what is
 * its Sec-WebSocket-Accept.
 *
 * Guarantees: accepts only GET, HTTP/1.1, Upgrade listing "websocket",
 * Connection listing "upgrade", Sec-WebSocket-Version exactly "13" and a
 * Sec-WebSocket-Key that is the base64 of exactly 16 bytes; every refusal
 * carries the HTTP status the RFC asks for.  Authentication (token or
 * player query) is the gateway's decision, not made here.
 * Pure; any thread; no allocation.  Base64 comes from libsodium (already
 * linked for tokens); SHA-1 from ws_sha1.c (see there for why).
 */
#include "ws.h"

#include "cn_err.h"
#include "ws_sha1.h"

#include <sodium.h>
#include <string.h>

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static int key_valid(cn_slice key)
{
    unsigned char bin[18];
    size_t binlen = 0;
    const char *end = NULL;
    if (key.len != 24)
        return 0;
    if (sodium_base642bin(bin, sizeof(bin), (const char *)key.ptr, key.len, NULL, &binlen, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return 0;
    if (binlen != 16 || end != (const char *)key.ptr + key.len)
        return 0;
    /* libsodium also decodes some non-alphabet bytes and non-zero trailing
     * bits; a key must be the canonical spelling of its 16 bytes. */
    char again[25];
    sodium_bin2base64(again, sizeof(again), bin, 16, sodium_base64_VARIANT_ORIGINAL);
    return memcmp(again, key.ptr, 24) == 0;
}

static int refuse(int *status, const char **why, int st, const char *w)
{
    *status = st;
    if (why)
        *why = w;
    return WS_EHANDSHAKE;
}

int ws_http_upgrade_check(const ws_http_req *req, int *status, const char **why)
{
    if (!(req->method.len == 3 && memcmp(req->method.ptr, "GET", 3) == 0))
        return refuse(status, why, 405, "WebSocket upgrade must use GET");
    if (req->minor != 1)
        return refuse(status, why, 400, "WebSocket upgrade needs HTTP/1.1");
    if (!req->upgrade_websocket || !req->connection_upgrade)
        return refuse(status, why, 426, "send Upgrade: websocket and Connection: Upgrade");
    if (!(req->ws_version.len == 2 && memcmp(req->ws_version.ptr, "13", 2) == 0))
        return refuse(status, why, 426, "Sec-WebSocket-Version must be 13");
    if (!req->has_ws_key || !key_valid(req->ws_key))
        return refuse(status, why, 400, "Sec-WebSocket-Key must be base64 of 16 bytes");
    *status = 101;
    return 0;
}

int ws_http_accept_key(const char *key, size_t keylen, char out[WS_ACCEPT_LEN + 1])
{
    char buf[64 + sizeof(ws_guid)];
    unsigned char h[WS_SHA1_LEN];
    if (keylen > 64)
        return CN_EINVAL;
    memcpy(buf, key, keylen);
    memcpy(buf + keylen, ws_guid, sizeof(ws_guid) - 1);
    ws_sha1(buf, keylen + sizeof(ws_guid) - 1, h);
    sodium_bin2base64(out, WS_ACCEPT_LEN + 1, h, sizeof(h), sodium_base64_VARIANT_ORIGINAL);
    return 0;
}
