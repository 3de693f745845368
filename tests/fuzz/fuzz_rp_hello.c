/* SPDX-License-Identifier: MIT */
/*
 * fuzz_rp_hello.c — libFuzzer target for the replication handshake
 * (repl/rp_net.c: rp_hello_decode, rp_hello_check) and the membership
 * parser (rp_cluster_parse).  A HELLO the decoder accepts must re-encode to
 * exactly its bytes; one it refuses must say why; the check against a
 * fixed 3-node cluster, from both sides of a connection, must accept only
 * what the handshake rules allow (same version and cluster id, addressed
 * to us, a voter other than us, the dial direction).  The input read as a
 * string must parse into a sorted, duplicate-free membership or be
 * refused, and its cluster id must not depend on the order of entries.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_err.h"
#include "rp.h"

static void fz_hello(const uint8_t *d, size_t n)
{
    static rp_cluster c;
    if (!c.npeers && rp_cluster_parse("1@127.0.0.1:9001,2@127.0.0.1:9002,3@127.0.0.1:9003", &c))
        abort();
    rp_hello h;
    const char *why = NULL;
    int rc = rp_hello_decode(d, n, &h, &why);
    if (rc == CN_WANT_MORE) {
        if (n >= RP_HELLO_BYTES)
            abort();
        return;
    }
    if (rc != 0) {
        if (rc != CN_EDECODE || !why)
            abort();
        return;
    }
    unsigned char b[RP_HELLO_BYTES];
    rp_hello_encode(&h, b);
    if (memcmp(b, d, RP_HELLO_BYTES) != 0)
        abort();
    for (int32_t self = 1; self <= 3; self++)
        for (int32_t dialed = -1; dialed <= 3; dialed++) {
            if (dialed == 0 || dialed == self || (dialed > 0 && dialed < self))
                continue;
            why = NULL;
            rc = rp_hello_check(&h, &c, self, dialed, &why);
            int ok = h.version == RP_WIRE_VERSION && h.cluster_id == c.id && h.to == self &&
                     h.from >= 1 && h.from <= 3 && h.from != self &&
                     (dialed < 0 ? h.from < self : h.from == dialed);
            if ((rc == 0) != ok || (rc != 0 && (rc != CN_EPROTO || !why)))
                abort();
        }
}

static void fz_cluster(const uint8_t *d, size_t n)
{
    char s[512];
    if (n >= sizeof(s))
        return;
    memcpy(s, d, n);
    s[n] = 0;
    rp_cluster c, r;
    if (rp_cluster_parse(s, &c) != 0)
        return;
    if (c.npeers < 1 || c.npeers > RP_MAX_VOTERS)
        abort();
    for (int i = 1; i < c.npeers; i++)
        if (c.peers[i - 1].id >= c.peers[i].id)
            abort();
    /* The same membership listed in reverse has the same id. */
    char rev[4096];
    size_t k = 0;
    for (int i = c.npeers - 1; i >= 0; i--) {
        const rp_peer *p = &c.peers[i];
        const char *br = strchr(p->host, ':') ? "[" : "", *bc = *br ? "]" : "";
        int w = snprintf(rev + k, sizeof(rev) - k, "%s%d@%s%s%s:%u", k ? "," : "", (int)p->id, br,
                         p->host, bc, (unsigned)p->port);
        if (w < 0 || (size_t)w >= sizeof(rev) - k)
            return;
        k += (size_t)w;
    }
    if (rp_cluster_parse(rev, &r) != 0 || r.id != c.id || r.npeers != c.npeers)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    fz_hello(d, n);
    fz_cluster(d, n);
    return 0;
}
