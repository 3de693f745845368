/* SPDX-License-Identifier: MIT */
/*
 * auth_token_cache.c — verified-token cache (see auth.h for why).
 *
 * Layout: a power-of-two array of entries, open addressing; a token maps
 * to a window of AUTH_TC_WAYS consecutive slots starting at its hash.  An
 * entry is the 16-byte keyed BLAKE2b hash of the token text plus its
 * claims.  Keying the hash with a per-cache random key means no client
 * can choose tokens that collide; at 128 bits an accidental collision is
 * beyond any realistic count.  Keying by text is sound because a token
 * has exactly one accepted spelling (auth_token.c, canonical()).
 *
 * What is cached: every token whose signature verified, expired or not
 * (expiry is checked against now_ms on every hit, so an expired token is
 * refused from the cache exactly as auth_token_verify refuses it), and,
 * in a separate smaller table, the text hash of every token whose
 * signature did NOT verify (a forged or tampered token is refused again
 * without a second verification).  Keeping refusals apart means garbage
 * can evict only garbage, never a good entry.
 *
 * Replacement (good table): an empty slot of the window, else an expired
 * one, else the one expiring soonest — those would be refused soonest
 * anyway; a token that is already expired only takes an empty or expired
 * slot.  Refusal table: an empty slot of the window, else round robin.  No deletion, no
 * resizing: memory is fixed at creation.
 * Threads: one cache per worker thread, no locks.  Ownership: the cache
 * owns its table (cn_alloc); pk is copied.
 */
#include "auth.h"

#include "cn_alloc.h"
#include "cn_err.h"

#include <sodium.h>
#include <string.h>

#define AUTH_TC_WAYS 8 /* slots probed per token: bounded work per lookup */
#define AUTH_TC_HASH 16

typedef struct auth_tc_entry {
    unsigned char h[AUTH_TC_HASH]; /* all zero: empty */
    uint8_t used;
    auth_token_claims claims;
} auth_tc_entry;

/* A refused token: its hash and the answer it got. */
typedef struct auth_tc_bad {
    unsigned char h[AUTH_TC_HASH];
    int32_t rc; /* 0: empty */
} auth_tc_bad;

const size_t AUTH_TOKEN_CACHE_ENTRY_SIZE = sizeof(auth_tc_entry);

struct auth_token_cache {
    unsigned char pk[AUTH_TOKEN_PK_LEN];
    unsigned char key[crypto_generichash_KEYBYTES];
    auth_tc_entry *slots;
    size_t mask;
    auth_tc_bad *bad; /* refusals: a quarter of the good table */
    size_t bad_mask;
    size_t bad_clock; /* round-robin victim within a window */
    uint64_t hits, misses;
};

int auth_token_cache_new(auth_token_cache **out, const unsigned char pk[AUTH_TOKEN_PK_LEN],
                         size_t capacity)
{
    *out = NULL;
    if (sodium_init() < 0)
        return CN_ESYS;
    size_t n = AUTH_TC_WAYS;
    while (n < capacity && n < ((size_t)1 << 30))
        n <<= 1;
    auth_token_cache *c = cn_calloc(1, sizeof(*c));
    if (!c)
        return CN_ENOMEM;
    size_t nb = n / 4 > AUTH_TC_WAYS ? n / 4 : AUTH_TC_WAYS;
    c->slots = cn_calloc(n, sizeof(auth_tc_entry));
    c->bad = c->slots ? cn_calloc(nb, sizeof(auth_tc_bad)) : NULL;
    if (!c->bad) {
        cn_free(c->slots);
        cn_free(c);
        return CN_ENOMEM;
    }
    c->bad_mask = nb - 1;
    memcpy(c->pk, pk, AUTH_TOKEN_PK_LEN);
    randombytes_buf(c->key, sizeof(c->key));
    c->mask = n - 1;
    *out = c;
    return 0;
}

void auth_token_cache_free(auth_token_cache *c)
{
    if (!c)
        return;
    cn_free(c->slots);
    cn_free(c->bad);
    sodium_memzero(c, sizeof(*c));
    cn_free(c);
}

static size_t window_start(size_t mask, const unsigned char h[AUTH_TC_HASH])
{
    uint64_t x;
    memcpy(&x, h, sizeof(x));
    return (size_t)x & mask;
}

static auth_tc_entry *find(auth_token_cache *c, const unsigned char h[AUTH_TC_HASH])
{
    size_t s = window_start(c->mask, h);
    for (size_t k = 0; k < AUTH_TC_WAYS; k++) {
        auth_tc_entry *e = &c->slots[(s + k) & c->mask];
        if (e->used && memcmp(e->h, h, AUTH_TC_HASH) == 0)
            return e;
    }
    return NULL;
}

static auth_tc_bad *find_bad(auth_token_cache *c, const unsigned char h[AUTH_TC_HASH])
{
    size_t s = window_start(c->bad_mask, h);
    for (size_t k = 0; k < AUTH_TC_WAYS; k++) {
        auth_tc_bad *e = &c->bad[(s + k) & c->bad_mask];
        if (e->rc && memcmp(e->h, h, AUTH_TC_HASH) == 0)
            return e;
    }
    return NULL;
}

static void insert_bad(auth_token_cache *c, const unsigned char h[AUTH_TC_HASH], int rc)
{
    size_t s = window_start(c->bad_mask, h);
    auth_tc_bad *e = NULL;
    for (size_t k = 0; k < AUTH_TC_WAYS && !e; k++)
        if (!c->bad[(s + k) & c->bad_mask].rc)
            e = &c->bad[(s + k) & c->bad_mask];
    if (!e)
        e = &c->bad[(s + c->bad_clock++ % AUTH_TC_WAYS) & c->bad_mask];
    memcpy(e->h, h, AUTH_TC_HASH);
    e->rc = rc;
}

static void insert(auth_token_cache *c, const unsigned char h[AUTH_TC_HASH],
                   const auth_token_claims *cl, int64_t now_ms)
{
    size_t s = window_start(c->mask, h);
    auth_tc_entry *victim = NULL;
    for (size_t k = 0; k < AUTH_TC_WAYS; k++) {
        auth_tc_entry *e = &c->slots[(s + k) & c->mask];
        if (!e->used || e->claims.expires_ms <= now_ms) {
            victim = e;
            break;
        }
        if (!victim || e->claims.expires_ms < victim->claims.expires_ms)
            victim = e;
    }
    if (cl->expires_ms <= now_ms && victim->used && victim->claims.expires_ms > now_ms)
        return; /* an expired token never displaces a live one */
    memcpy(victim->h, h, AUTH_TC_HASH);
    victim->used = 1;
    victim->claims = *cl;
}

/* The cached answer for the token hashed to h, or CN_ENOENT. */
static int cached(auth_token_cache *c, const unsigned char h[AUTH_TC_HASH], int64_t now_ms,
                  auth_token_claims *out)
{
    auth_tc_entry *e = find(c, h);
    if (e) {
        c->hits++;
        *out = e->claims;
        return now_ms >= e->claims.expires_ms ? AUTH_ETOKENEXP : 0;
    }
    auth_tc_bad *b = find_bad(c, h);
    if (b) {
        c->hits++;
        return b->rc;
    }
    return CN_ENOENT;
}

int auth_token_cache_lookup(auth_token_cache *c, const char *tok, size_t len, int64_t now_ms,
                            auth_token_claims *out)
{
    unsigned char h[AUTH_TC_HASH];
    if (len == 0 || len >= AUTH_TOKEN_MAX_LEN)
        return AUTH_ETOKEN; /* same answer auth_token_verify gives, without hashing megabytes */
    crypto_generichash(h, sizeof(h), (const unsigned char *)tok, len, c->key, sizeof(c->key));
    return cached(c, h, now_ms, out);
}

/* Remember what a signature check of the token hashed to h said. */
static void remember(auth_token_cache *c, const unsigned char h[AUTH_TC_HASH], int64_t now_ms,
                     int rc, const auth_token_claims *cl)
{
    if (rc == 0 || rc == AUTH_ETOKENEXP) {
        c->misses++;
        insert(c, h, cl, now_ms);
    } else if (rc == AUTH_ETOKENSIG) {
        c->misses++;
        insert_bad(c, h, rc);
    }
}

int auth_token_cache_verify(auth_token_cache *c, const char *tok, size_t len, int64_t now_ms,
                            auth_token_claims *out)
{
    unsigned char h[AUTH_TC_HASH];
    if (len == 0 || len >= AUTH_TOKEN_MAX_LEN)
        return AUTH_ETOKEN; /* same answer auth_token_verify gives, without hashing megabytes */
    crypto_generichash(h, sizeof(h), (const unsigned char *)tok, len, c->key, sizeof(c->key));
    int rc = cached(c, h, now_ms, out);
    if (rc != CN_ENOENT)
        return rc;
    rc = auth_token_verify(c->pk, tok, len, now_ms, out);
    remember(c, h, now_ms, rc, out);
    return rc;
}

void auth_token_cache_put(auth_token_cache *c, const char *tok, size_t len, int64_t now_ms, int rc,
                          const auth_token_claims *cl)
{
    unsigned char h[AUTH_TC_HASH];
    if (len == 0 || len >= AUTH_TOKEN_MAX_LEN)
        return;
    crypto_generichash(h, sizeof(h), (const unsigned char *)tok, len, c->key, sizeof(c->key));
    if (find(c, h) || find_bad(c, h))
        return; /* two handshakes with one token were checked at once: keep the first */
    remember(c, h, now_ms, rc, cl);
}

void auth_token_cache_stats(const auth_token_cache *c, uint64_t *hits, uint64_t *misses)
{
    *hits = c->hits;
    *misses = c->misses;
}
