/* SPDX-License-Identifier: MIT */
/*
 * gw_iptab.c — state per source address: connections per address (for
 * --max-conns-per-ip) and failed token checks per address (the handshake
 * budget that bounds what an address can make the gateway verify), and
 * the key an address is counted under (IPv4 address, IPv6 /64).
 *
 * Connections: an open-addressing hash table (linear probing,
 * backward-shift deletion, so no tombstones accumulate) with twice as many
 * entries as connection slots: it can never fill, because every live
 * entry has a live connection.  Failures: a fixed table, windows of 4
 * slots, the entry with the most credit (the least suspect) evicted.
 * Both hash with SipHash-2-4 under a random per-table key, so a client
 * cannot choose addresses that collide into one long probe run.
 * Allocated once at start like the connection table.
 * Loop thread only; owned by gw_server.
 */
#include "gw_server_int.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include <sodium.h>
#include <string.h>

static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void gw__addr_full(const struct sockaddr_storage *ss, unsigned char out[16])
{
    memset(out, 0, 16);
    if (ss->ss_family == AF_INET) {
        memcpy(out, mapped, sizeof(mapped));
        memcpy(out + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        memcpy(out, ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr, 16);
    }
}

void gw__addr_key16(const unsigned char a[16], unsigned char out[16])
{
    if (memcmp(a, mapped, sizeof(mapped)) == 0) {
        memcpy(out, a, 16); /* IPv4 (also an IPv4 peer on a dual-stack socket) */
    } else {
        memcpy(out, a, 8); /* the /64 */
        memset(out + 8, 0, 8);
    }
}

void gw__addr_key(const struct sockaddr_storage *ss, unsigned char out[16])
{
    unsigned char full[16];
    gw__addr_full(ss, full);
    gw__addr_key16(full, out);
}

static uint64_t addr_hash(const unsigned char key[16], const unsigned char a[16])
{
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, a, 16, key);
    uint64_t x;
    memcpy(&x, h, sizeof(x));
    return x;
}

static int random_key(unsigned char key[16])
{
    if (sodium_init() < 0)
        return CN_ESYS;
    randombytes_buf(key, 16);
    return 0;
}

int gw__iptab_init(gw_iptab *t, uint32_t max_conns)
{
    uint32_t n = 16;
    while (n < 2u * max_conns)
        n <<= 1;
    if (random_key(t->key))
        return CN_ESYS;
    t->ents = cn_calloc(n, sizeof(*t->ents));
    t->mask = n - 1;
    return t->ents ? 0 : CN_ENOMEM;
}

void gw__iptab_free(gw_iptab *t)
{
    cn_free(t->ents);
    t->ents = NULL;
}

static uint32_t ip_find(const gw_iptab *t, const unsigned char a[16])
{
    uint32_t i = (uint32_t)addr_hash(t->key, a) & t->mask;
    while (t->ents[i].count && memcmp(t->ents[i].addr, a, 16) != 0)
        i = (i + 1) & t->mask;
    return i; /* the entry, or the empty slot where it would go */
}

int gw__iptab_add(gw_iptab *t, const unsigned char addr[16], uint32_t limit)
{
    uint32_t i = ip_find(t, addr);
    if (limit && t->ents[i].count >= limit)
        return GW_ELIMIT;
    if (!t->ents[i].count)
        memcpy(t->ents[i].addr, addr, 16);
    t->ents[i].count++;
    return 0;
}

void gw__iptab_del(gw_iptab *t, const unsigned char addr[16])
{
    uint32_t i = ip_find(t, addr);
    if (!t->ents[i].count || --t->ents[i].count)
        return;
    /* Backward-shift: move later entries of the probe run into the hole
     * when their home slot does not lie cyclically in (hole, j]. */
    uint32_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        if (!t->ents[j].count)
            break;
        uint32_t home = (uint32_t)addr_hash(t->key, t->ents[j].addr) & t->mask;
        int between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (between)
            continue;
        t->ents[hole] = t->ents[j];
        t->ents[j].count = 0;
        hole = j;
    }
    t->ents[hole].count = 0;
}

#define GW_FAIL_WAYS 4

int gw__failtab_init(gw_failtab *t, double rate_per_s, double burst)
{
    memset(t, 0, sizeof(*t));
    if (random_key(t->key))
        return CN_ESYS;
    t->rate = rate_per_s;
    t->burst = burst;
    t->ents = cn_calloc(GW_AUTHFAIL_SLOTS, sizeof(*t->ents));
    return t->ents ? 0 : CN_ENOMEM;
}

void gw__failtab_free(gw_failtab *t)
{
    cn_free(t->ents);
    t->ents = NULL;
}

static double fail_credit(const gw_failtab *t, const struct gw_failent *e, int64_t now_ms)
{
    double c = e->credit + (double)(now_ms - e->stamp_ms) * t->rate / 1000.0;
    return c > t->burst ? t->burst : c;
}

/* The entry of addr, or NULL (create: the slot to take over, reset). */
static struct gw_failent *fail_find(gw_failtab *t, const unsigned char addr[16], int64_t now_ms,
                                    int create)
{
    size_t s = (size_t)addr_hash(t->key, addr);
    struct gw_failent *victim = NULL;
    double vc = -1;
    for (size_t k = 0; k < GW_FAIL_WAYS; k++) {
        struct gw_failent *e = &t->ents[(s + k) % GW_AUTHFAIL_SLOTS];
        if (e->stamp_ms && memcmp(e->addr, addr, 16) == 0)
            return e;
        double c = e->stamp_ms ? fail_credit(t, e, now_ms) : t->burst + 1;
        if (c > vc) {
            victim = e;
            vc = c;
        }
    }
    if (!create)
        return NULL;
    memcpy(victim->addr, addr, 16);
    victim->stamp_ms = now_ms ? now_ms : 1;
    victim->credit = t->burst;
    return victim;
}

int gw__failtab_allow(gw_failtab *t, const unsigned char addr[16], int64_t now_ms)
{
    struct gw_failent *e = fail_find(t, addr, now_ms, 0);
    return !e || fail_credit(t, e, now_ms) >= 1.0;
}

void gw__failtab_charge(gw_failtab *t, const unsigned char addr[16], int64_t now_ms)
{
    struct gw_failent *e = fail_find(t, addr, now_ms, 1);
    e->credit = fail_credit(t, e, now_ms) - 1.0;
    e->stamp_ms = now_ms ? now_ms : 1;
}

void gw__failtab_refund(gw_failtab *t, const unsigned char addr[16], int64_t now_ms)
{
    struct gw_failent *e = fail_find(t, addr, now_ms, 0);
    if (!e)
        return;
    double c = fail_credit(t, e, now_ms) + 1.0;
    e->credit = c > t->burst ? t->burst : c;
    e->stamp_ms = now_ms ? now_ms : 1;
}
