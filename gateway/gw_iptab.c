/* SPDX-License-Identifier: MIT */
/*
 * gw_iptab.c — connections per source address, for --max-conns-per-ip.
 *
 * An open-addressing hash table (linear probing, backward-shift deletion,
 * so no tombstones accumulate) with twice as many entries as connection
 * slots: it can never fill, because every live entry has a live
 * connection.  Allocated once at start like the connection table.
 * Loop thread only; owned by gw_server.
 */
#include "gw_server_int.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_hash.h"

#include <string.h>

int gw__iptab_init(gw_iptab *t, uint32_t max_conns)
{
    uint32_t n = 16;
    while (n < 2u * max_conns)
        n <<= 1;
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
    uint32_t i = (uint32_t)cn_hash(a, 16) & t->mask;
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
        uint32_t home = (uint32_t)cn_hash(t->ents[j].addr, 16) & t->mask;
        int between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (between)
            continue;
        t->ents[hole] = t->ents[j];
        t->ents[j].count = 0;
        hole = j;
    }
    t->ents[hole].count = 0;
}
