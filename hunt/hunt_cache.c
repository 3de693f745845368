/* SPDX-License-Identifier: MIT */
/*
 * hunt_cache.c — the worker's write-through player cache (contract in
 * hunt_cache.h): a fixed table of entries (allocated on first use, up to
 * max_players), a linear-probing hash index with backward-shift deletion
 * (no tombstones, so lookups stay short under churn) and an intrusive LRU
 * list by entry index.
 * Threads: the worker's only.  Ownership: the cache owns entries and blobs.
 */
#include "hunt_cache.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_hash.h"

#include <string.h>

#define HC_NONE UINT32_MAX
#define HC_ID_MAX 64u

typedef struct hc_entry {
    uint32_t prev, next; /* LRU list: head = most recent */
    uint8_t len;
    char id[HC_ID_MAX];
    int64_t written_ms;
    unsigned char *blob; /* session bytes, then progress bytes */
    uint32_t slen, plen, cap;
} hc_entry;

struct hunt_cache {
    hc_entry *e;
    size_t n, max;
    uint32_t *slots; /* entry index + 1; 0 = empty */
    size_t nslots;
    uint32_t head, tail;
};

int hunt_cache_new(hunt_cache **out, size_t max_players)
{
    hunt_cache *c = cn_calloc(1, sizeof(*c));
    if (!c || !max_players) {
        cn_free(c);
        return c ? CN_EINVAL : CN_ENOMEM;
    }
    c->max = max_players;
    c->nslots = 1;
    while (c->nslots < 2 * max_players)
        c->nslots <<= 1;
    c->slots = cn_calloc(c->nslots, sizeof(*c->slots));
    c->e = cn_malloc(max_players * sizeof(*c->e));
    if (!c->slots || !c->e) {
        hunt_cache_free(c);
        return CN_ENOMEM;
    }
    c->head = c->tail = HC_NONE;
    *out = c;
    return 0;
}

void hunt_cache_free(hunt_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        cn_free(c->e[i].blob);
    cn_free(c->e);
    cn_free(c->slots);
    cn_free(c);
}

size_t hunt_cache_size(const hunt_cache *c)
{
    return c->n;
}

/* Slot holding the player, or the empty slot where it would go. */
static size_t hc_slot(const hunt_cache *c, const char *id, size_t len)
{
    size_t j = cn_hash(id, len) & (c->nslots - 1);
    for (; c->slots[j]; j = (j + 1) & (c->nslots - 1)) {
        const hc_entry *x = &c->e[c->slots[j] - 1];
        if (x->len == len && memcmp(x->id, id, len) == 0)
            break;
    }
    return j;
}

static void hc_unlink(hunt_cache *c, uint32_t i)
{
    hc_entry *x = &c->e[i];
    if (x->prev != HC_NONE)
        c->e[x->prev].next = x->next;
    else
        c->head = x->next;
    if (x->next != HC_NONE)
        c->e[x->next].prev = x->prev;
    else
        c->tail = x->prev;
}

static void hc_push_front(hunt_cache *c, uint32_t i)
{
    hc_entry *x = &c->e[i];
    x->prev = HC_NONE;
    x->next = c->head;
    if (c->head != HC_NONE)
        c->e[c->head].prev = i;
    c->head = i;
    if (c->tail == HC_NONE)
        c->tail = i;
}

/* Remove slot j from the index, shifting later members of its probe run
 * back so every lookup still finds them. */
static void hc_slot_delete(hunt_cache *c, size_t j)
{
    size_t mask = c->nslots - 1;
    c->slots[j] = 0;
    for (size_t k = (j + 1) & mask; c->slots[k]; k = (k + 1) & mask) {
        const hc_entry *x = &c->e[c->slots[k] - 1];
        size_t home = cn_hash(x->id, x->len) & mask;
        /* Move k back to j unless its home lies cyclically in (j, k]. */
        if ((k > j && (home <= j || home > k)) || (k < j && home <= j && home > k)) {
            c->slots[j] = c->slots[k];
            c->slots[k] = 0;
            j = k;
        }
    }
}

int hunt_cache_get(hunt_cache *c, const char *id, size_t len, const unsigned char **sess,
                   size_t *slen, const unsigned char **prog, size_t *plen, int64_t *written_ms)
{
    if (len == 0 || len > HC_ID_MAX)
        return CN_ENOENT;
    size_t j = hc_slot(c, id, len);
    if (!c->slots[j])
        return CN_ENOENT;
    uint32_t i = c->slots[j] - 1;
    hc_entry *x = &c->e[i];
    if (c->head != i) {
        hc_unlink(c, i);
        hc_push_front(c, i);
    }
    *sess = x->blob;
    *slen = x->slen;
    *prog = x->blob + x->slen;
    *plen = x->plen;
    *written_ms = x->written_ms;
    return 0;
}

/* An entry for a new player: a fresh one while below max, else the least
 * recently used one, taken out of the index and the list. */
static uint32_t hc_take(hunt_cache *c)
{
    if (c->n < c->max) {
        hc_entry *x = &c->e[c->n];
        x->blob = NULL;
        x->cap = 0;
        return (uint32_t)c->n++;
    }
    uint32_t i = c->tail;
    hc_unlink(c, i);
    if (c->e[i].len) /* a parked entry (see hc_forget) is in no index slot */
        hc_slot_delete(c, hc_slot(c, c->e[i].id, c->e[i].len));
    return i;
}

/* Drop entry i (its value can no longer be kept current): out of the index,
 * parked as least recently used with no id, reused first. */
static void hc_forget(hunt_cache *c, uint32_t i, size_t j)
{
    hc_slot_delete(c, j);
    hc_unlink(c, i);
    hc_entry *x = &c->e[i];
    x->len = 0;
    x->prev = c->tail;
    x->next = HC_NONE;
    if (c->tail != HC_NONE)
        c->e[c->tail].next = i;
    c->tail = i;
    if (c->head == HC_NONE)
        c->head = i;
}

int hunt_cache_put(hunt_cache *c, const char *id, size_t len, const void *sess, size_t slen,
                   const void *prog, size_t plen, int64_t written_ms)
{
    if (len == 0 || len > HC_ID_MAX)
        return CN_EINVAL;
    size_t j = hc_slot(c, id, len);
    uint32_t i;
    if (c->slots[j]) {
        i = c->slots[j] - 1;
        if (slen + plen > c->e[i].cap) {
            unsigned char *nb = cn_realloc(c->e[i].blob, slen + plen);
            if (!nb) {
                /* The cached value is stale now: it must not be served. */
                hc_forget(c, i, j);
                return CN_ENOMEM;
            }
            c->e[i].blob = nb;
            c->e[i].cap = (uint32_t)(slen + plen);
        }
        hc_unlink(c, i);
    } else {
        unsigned char *nb = cn_malloc(slen + plen ? slen + plen : 1);
        if (!nb)
            return CN_ENOMEM; /* nothing cached for it: reads go to RocksDB */
        i = hc_take(c);
        cn_free(c->e[i].blob);
        c->e[i].blob = nb;
        c->e[i].cap = (uint32_t)(slen + plen);
        j = hc_slot(c, id, len); /* an eviction may have shifted the probe run */
        c->slots[j] = i + 1;
        c->e[i].len = (uint8_t)len;
        memcpy(c->e[i].id, id, len);
    }
    hc_entry *x = &c->e[i];
    hc_push_front(c, i);
    memcpy(x->blob, sess, slen);
    memcpy(x->blob + slen, prog, plen);
    x->slen = (uint32_t)slen;
    x->plen = (uint32_t)plen;
    x->written_ms = written_ms;
    return 0;
}
