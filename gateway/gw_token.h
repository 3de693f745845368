/* SPDX-License-Identifier: MIT */
/*
 * gw_token.h — player auth tokens: Ed25519-signed (libsodium) claims of
 * player, optional hunt, issue and expiry time, carried as url-safe
 * base64 in ?token=.  `cairn token` issues them with the secret key; the
 * gateway verifies them with the public key before the upgrade.
 * Format and key files: docs/protocol.md "Tokens".
 */
#ifndef GW_TOKEN_H
#define GW_TOKEN_H

#include "gw_id.h"

#include <stddef.h>
#include <stdint.h>

#define GW_TOKEN_PK_LEN 32 /* crypto_sign_PUBLICKEYBYTES */
#define GW_TOKEN_SK_LEN 64 /* crypto_sign_SECRETKEYBYTES */
#define GW_TOKEN_VERSION 1
/* Longest token text: base64url of 1+8+8+1+64+1+64+64 bytes, plus NUL. */
#define GW_TOKEN_MAX_LEN 284

typedef struct gw_token_claims {
    char player[GW_ID_MAX + 1]; /* gw_id_valid */
    char hunt[GW_ID_MAX + 1];   /* gw_id_valid, or "" for any hunt */
    int64_t issued_ms;          /* ms since the Unix epoch */
    int64_t expires_ms;         /* the token is refused from this instant on */
} gw_token_claims;

/** A fresh key pair.  @return 0 or CN_ESYS (libsodium failed to initialise). */
int gw_token_keygen(unsigned char pk[GW_TOKEN_PK_LEN], unsigned char sk[GW_TOKEN_SK_LEN]);

/**
 * Write the secret key to path (mode 0600) and the public key to
 * path + ".pub" (0644), each fsynced.  Refuses to overwrite either file.
 * @return 0; CN_EEXIST; CN_ENOMEM; an I/O error mapped from errno.  On
 *         failure no new file is left behind.
 */
int gw_token_write_keys(const char *path, const unsigned char pk[GW_TOKEN_PK_LEN],
                        const unsigned char sk[GW_TOKEN_SK_LEN]);

/**
 * Read a key file written by gw_token_write_keys.
 * @return 0; CN_ENOENT/CN_EPERM/...; GW_EKEYFILE if the file is not a key
 *         of that kind (a public key given where the secret is needed, or
 *         garbage), so the caller can say which file is wrong.
 */
int gw_token_read_secret(const char *path, unsigned char sk[GW_TOKEN_SK_LEN]);
int gw_token_read_public(const char *path, unsigned char pk[GW_TOKEN_PK_LEN]);

/**
 * Sign claims into a token.
 * @param[out] out  NUL-terminated token text; cap >= GW_TOKEN_MAX_LEN is always enough
 * @return 0; CN_EINVAL (player/hunt not gw_id_valid, expiry not after
 *         issue); CN_ETOOBIG (cap too small)
 */
int gw_token_issue(const unsigned char sk[GW_TOKEN_SK_LEN], const gw_token_claims *c, char *out, size_t cap);

/**
 * Verify a token and return its claims.  Checks, in order: encoding and
 * layout (GW_ETOKEN), the signature (GW_ETOKENSIG), then expiry against
 * now_ms (GW_ETOKENEXP: out is still filled, so the caller can say when it
 * expired).  The signature is checked before anything in the payload is
 * believed.  Safe on any input; allocates nothing.
 */
int gw_token_verify(const unsigned char pk[GW_TOKEN_PK_LEN], const char *tok, size_t len, int64_t now_ms,
                    gw_token_claims *out);

#endif
