/* SPDX-License-Identifier: MIT */
/*
 * ws_sha1.c — a small one-shot SHA-1 (FIPS 180-4 §6.1) for the WebSocket
 * handshake's Sec-WebSocket-Accept (RFC 6455 §4.2.2), and nothing else.
 *
 * Why our own: RFC 6455 fixes SHA-1 for the accept key; libsodium (our
 * crypto library) deliberately has no SHA-1, and linking OpenSSL for one
 * 60-line hash would add a large dependency to every gateway worker.
 * SHA-1 is not used here for security (the accept key only proves the
 * server understood the handshake), so its collision weakness is moot.
 *
 * Guarantees: matches the FIPS 180 test vectors (tests/unit/test_ws_http.c).
 * Pure, no allocation, no globals; any thread.
 */
#include "ws_sha1.h"

#include "cn_bytes.h"

#include <stdint.h>
#include <string.h>

static uint32_t rol32(uint32_t x, int k)
{
    return (x << k) | (x >> (32 - k));
}

static void sha1_block(uint32_t h[5], const unsigned char *blk)
{
    uint32_t w[80];
    for (int t = 0; t < 16; t++)
        w[t] = cn_rd_be32(blk + 4 * t);
    for (int t = 16; t < 80; t++)
        w[t] = rol32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; t++) {
        uint32_t f, k;
        if (t < 20)
            f = (b & c) | (~b & d), k = 0x5a827999;
        else if (t < 40)
            f = b ^ c ^ d, k = 0x6ed9eba1;
        else if (t < 60)
            f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
        else
            f = b ^ c ^ d, k = 0xca62c1d6;
        uint32_t tmp = rol32(a, 5) + f + e + k + w[t];
        e = d, d = c, c = rol32(b, 30), b = a, a = tmp;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

void ws_sha1(const void *p, size_t n, unsigned char out[WS_SHA1_LEN])
{
    uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    const unsigned char *in = p;
    size_t i = 0;
    for (; n - i >= 64; i += 64)
        sha1_block(h, in + i);
    /* Padding: 0x80, zeros, then the bit length in the last 8 bytes; one or
     * two final blocks depending on whether the length still fits. */
    unsigned char last[128] = {0};
    size_t rem = n - i;
    if (rem)
        memcpy(last, in + i, rem);
    last[rem] = 0x80;
    size_t tail = rem + 1 + 8 <= 64 ? 64 : 128;
    cn_wr_be64(last + tail - 8, (uint64_t)n * 8);
    sha1_block(h, last);
    if (tail == 128)
        sha1_block(h, last + 64);
    for (int k = 0; k < 5; k++)
        cn_wr_be32(out + 4 * k, h[k]);
}
