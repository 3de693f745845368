/* SPDX-License-Identifier: MIT */
/*
 * gw_token_cache.h — a bounded cache of verified tokens in front of
 * gw_token_verify.  Players reconnect with the same token after every
 * idle close, and an Ed25519 verification costs ~125 µs here (docs/
 * benchmarks.md), so re-verifying each handshake would cap authenticated
 * handshakes far below the 20,000/s the gateway is built for.  One cache per worker thread.
 */
#ifndef GW_TOKEN_CACHE_H
#define GW_TOKEN_CACHE_H

#include "gw_token.h"

#include <stddef.h>
#include <stdint.h>

typedef struct gw_token_cache gw_token_cache;

/**
 * Create a cache for tokens signed by pk holding at most capacity tokens
 * (rounded up to a power of two; GW_TOKEN_CACHE_ENTRY_SIZE bytes each).
 * @return 0 or CN_ENOMEM / CN_ESYS (libsodium failed to initialise)
 */
int gw_token_cache_new(gw_token_cache **out, const unsigned char pk[GW_TOKEN_PK_LEN], size_t capacity);
/** NULL-safe. */
void gw_token_cache_free(gw_token_cache *c);

/**
 * gw_token_verify with a memory: the same results and claims, but a token
 * verified before (and still cached) skips the signature check.  Expiry is
 * always checked against now_ms.  Only tokens that verified are cached, so
 * garbage cannot evict good entries (it still costs a verification each:
 * rate-limit handshakes per address).
 */
int gw_token_cache_verify(gw_token_cache *c, const char *tok, size_t len, int64_t now_ms, gw_token_claims *out);

/** Lookups answered from the cache, and those that verified. */
void gw_token_cache_stats(const gw_token_cache *c, uint64_t *hits, uint64_t *misses);

/** Bytes per cached token. */
extern const size_t GW_TOKEN_CACHE_ENTRY_SIZE;

#endif
