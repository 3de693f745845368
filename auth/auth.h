/* SPDX-License-Identifier: MIT */
/*
 * auth.h — player auth tokens, the one public header of auth/:
 * Ed25519-signed (libsodium) claims of player, optional hunt, issue and
 * expiry time, carried as url-safe base64 in ?token=.  `cairn token`
 * issues them with the secret key; the gateway verifies them with the
 * public key before the upgrade (through the cache below); `cairn sim`
 * issues them for its players.  Pure of sockets and loops.
 * Format and key files: docs/protocol.md "Tokens".
 */
#ifndef AUTH_TOKEN_H
#define AUTH_TOKEN_H

#include "cn_id.h"

#include <stddef.h>
#include <stdint.h>

#define AUTH_TOKEN_PK_LEN 32 /* crypto_sign_PUBLICKEYBYTES */
#define AUTH_TOKEN_SK_LEN 64 /* crypto_sign_SECRETKEYBYTES */
#define AUTH_TOKEN_VERSION 1
/* Longest token text: base64url of 1+8+8+1+64+1+64+64 bytes, plus NUL. */
#define AUTH_TOKEN_MAX_LEN 284

typedef struct auth_token_claims {
    char player[CN_ID_MAX + 1]; /* cn_id_valid */
    char hunt[CN_ID_MAX + 1];   /* cn_id_valid, or "" for any hunt */
    int64_t issued_ms;          /* ms since the Unix epoch */
    int64_t expires_ms;         /* the token is refused from this instant on */
} auth_token_claims;

/** A fresh key pair.  @return 0 or CN_ESYS (libsodium failed to initialise). */
int auth_token_keygen(unsigned char pk[AUTH_TOKEN_PK_LEN], unsigned char sk[AUTH_TOKEN_SK_LEN]);

/**
 * Write the secret key to path (mode 0600) and the public key to
 * path + ".pub" (0644), each fsynced.  Refuses to overwrite either file.
 * @return 0; CN_EEXIST; CN_ENOMEM; an I/O error mapped from errno.  On
 *         failure no new file is left behind.
 */
int auth_token_write_keys(const char *path, const unsigned char pk[AUTH_TOKEN_PK_LEN],
                          const unsigned char sk[AUTH_TOKEN_SK_LEN]);

/**
 * Read a key file written by auth_token_write_keys.
 * @return 0; CN_ENOENT/CN_EPERM/...; AUTH_EKEYFILE if the file is not a key
 *         of that kind (a public key given where the secret is needed, or
 *         garbage), so the caller can say which file is wrong.
 */
int auth_token_read_secret(const char *path, unsigned char sk[AUTH_TOKEN_SK_LEN]);
int auth_token_read_public(const char *path, unsigned char pk[AUTH_TOKEN_PK_LEN]);

/**
 * Sign claims into a token.
 * @param[out] out  NUL-terminated token text; cap >= AUTH_TOKEN_MAX_LEN is always enough
 * @return 0; CN_EINVAL (player/hunt not cn_id_valid, expiry not after
 *         issue); CN_ETOOBIG (cap too small)
 */
int auth_token_issue(const unsigned char sk[AUTH_TOKEN_SK_LEN], const auth_token_claims *c,
                     char *out, size_t cap);

/**
 * Verify a token and return its claims.  Checks, in order: encoding and
 * layout (AUTH_ETOKEN), the signature (AUTH_ETOKENSIG), then expiry against
 * now_ms (AUTH_ETOKENEXP: out is still filled, so the caller can say when it
 * expired).  The signature is checked before anything in the payload is
 * believed.  Safe on any input; allocates nothing.
 */
int auth_token_verify(const unsigned char pk[AUTH_TOKEN_PK_LEN], const char *tok, size_t len,
                      int64_t now_ms, auth_token_claims *out);

/* ---- the token cache (auth_token_cache.c) ----
 * A bounded cache of verified tokens in front of auth_token_verify.  Players
 * reconnect with the same token after every idle close, and an Ed25519
 * verification costs ~125 µs here (docs/benchmarks.md), so re-verifying
 * each handshake would cap authenticated handshakes far below 20,000/s.
 * One cache per worker thread. */
typedef struct auth_token_cache auth_token_cache;

/**
 * Create a cache for tokens signed by pk holding at most capacity tokens
 * (rounded up to a power of two; AUTH_TOKEN_CACHE_ENTRY_SIZE bytes each),
 * plus a table of refused tokens a quarter that size (20 bytes each).
 * @return 0 or CN_ENOMEM / CN_ESYS (libsodium failed to initialise)
 */
int auth_token_cache_new(auth_token_cache **out, const unsigned char pk[AUTH_TOKEN_PK_LEN],
                         size_t capacity);
/** NULL-safe. */
void auth_token_cache_free(auth_token_cache *c);

/**
 * auth_token_verify with a memory: the same results and claims, but a token
 * whose signature was checked before (and is still cached) is not checked
 * again.  Expiry is always checked against now_ms.  Tokens whose signature
 * verified are cached with their claims; tokens whose signature did not
 * (forged, tampered, another key) go to a separate table of refusals and
 * are refused again without a verification, and they can evict only other
 * refusals, never a good entry.  Malformed tokens cost no signature check
 * and are not cached.  Each new forged token still costs one verification:
 * rate-limit handshakes per address.
 */
int auth_token_cache_verify(auth_token_cache *c, const char *tok, size_t len, int64_t now_ms,
                            auth_token_claims *out);

/**
 * Only the cache: auth_token_cache_verify's answer when it needs no
 * signature check (counted as a hit; AUTH_ETOKEN for an impossible
 * length), else CN_ENOENT — the caller decides whether this token may
 * cost a verification now.
 */
int auth_token_cache_lookup(auth_token_cache *c, const char *tok, size_t len, int64_t now_ms,
                            auth_token_claims *out);

/**
 * Store the answer of a signature check made elsewhere (auth_token_verify
 * with this cache's key, on another thread) as auth_token_cache_verify
 * would have: rc 0 or AUTH_ETOKENEXP with the claims, AUTH_ETOKENSIG as a
 * refusal; other answers are not cached.  Counted as a miss.
 */
void auth_token_cache_put(auth_token_cache *c, const char *tok, size_t len, int64_t now_ms, int rc,
                          const auth_token_claims *cl);

/** Lookups answered from the cache (good or refused) without a signature
 *  check, and signature checks performed (each a miss). */
void auth_token_cache_stats(const auth_token_cache *c, uint64_t *hits, uint64_t *misses);

/** Bytes per cached token. */
extern const size_t AUTH_TOKEN_CACHE_ENTRY_SIZE;

#endif
