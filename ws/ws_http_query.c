/* SPDX-License-Identifier: MIT */
/*
 * ws_http_query.c — query-string lookup with percent-decoding, for the
 * handshake's ?token= and ?player= and the /api/... parameters.
 *
 * Guarantees: a name that appears twice is refused (CN_EINVAL) rather than
 * resolved one way or the other — two components disagreeing on which
 * "token" counts is how parameter-pollution attacks work; bad %-escapes
 * and decoded NUL bytes are refused; the output is bounded by the caller's
 * buffer and always NUL-terminated.  Pure; any thread; no allocation.
 */
#include "ws.h"

#include "cn_err.h"

#include <string.h>

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode src into out (cap includes the NUL).  0, CN_EINVAL or CN_ETOOBIG. */
static int pct_decode(const unsigned char *s, size_t n, char *out, size_t cap, size_t *outlen)
{
    size_t o = 0;
    if (cap == 0)
        return CN_ETOOBIG;
    for (size_t i = 0; i < n; i++) {
        int c = s[i];
        if (c == '%') {
            if (n - i < 3)
                return CN_EINVAL;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return CN_EINVAL;
            c = h * 16 + l;
            i += 2;
            if (c == 0)
                return CN_EINVAL;
        } else if (c == '+') {
            c = ' ';
        }
        if (o + 1 >= cap)
            return CN_ETOOBIG;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    if (outlen)
        *outlen = o;
    return 0;
}

int ws_http_query_get(cn_slice query, const char *name, char *out, size_t cap, size_t *outlen)
{
    size_t nl = strlen(name);
    const unsigned char *q = query.ptr;
    const unsigned char *val = NULL;
    size_t vlen = 0;
    size_t i = 0;
    while (i < query.len) {
        size_t s = i;
        while (i < query.len && q[i] != '&')
            i++;
        const unsigned char *eq = memchr(q + s, '=', i - s);
        size_t klen = eq ? (size_t)(eq - (q + s)) : i - s;
        if (klen == nl && memcmp(q + s, name, nl) == 0) {
            if (val)
                return CN_EINVAL; /* the same name twice: ambiguous */
            val = eq ? eq + 1 : q + i;
            vlen = eq ? (size_t)(q + i - (eq + 1)) : 0;
        }
        i++; /* skip '&' */
    }
    if (!val)
        return CN_ENOENT;
    return pct_decode(val, vlen, out, cap, outlen);
}
