/* SPDX-License-Identifier: MIT */
/*
 * ws_sha1.h — internal to ws/: SHA-1 (FIPS 180-4), only for
 * Sec-WebSocket-Accept (libsodium, which cairn links, has no SHA-1).
 */
#ifndef WS_SHA1_H
#define WS_SHA1_H

#include <stddef.h>

#define WS_SHA1_LEN 20

/** out = SHA-1(p[0..n)). */
void ws_sha1(const void *p, size_t n, unsigned char out[WS_SHA1_LEN]);

#endif
