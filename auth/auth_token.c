/* SPDX-License-Identifier: MIT */
/*
 * auth_token.c — issuing and verifying player tokens (Ed25519, libsodium).
 *
 * Token v1, before url-safe base64 without padding:
 *   u8 version (1) | i64 issued_ms BE | i64 expires_ms BE |
 *   u8 player_len (1..64) | player | u8 hunt_len (0..64) | hunt |
 *   64-byte Ed25519 signature over "cairn-token-v1" NUL payload
 * The context string keeps a signature over a token from ever being valid
 * for another message type signed with the same key.  Fixed-width binary
 * rather than JSON keeps tokens short in URLs (~130 characters for a
 * typical id) and the parser trivial: lengths are checked against the
 * exact total before any field is read.
 *
 * Guarantees: verify allocates nothing and reads nothing outside the
 * decoded buffer; a token has exactly one accepted text form; the signature is checked before any
 * claim is trusted; expiry is checked after it (so a forged token says "bad signature", never
 * "expired").  Threads: any; keys are the caller's, read-only here.
 */
#include "auth.h"

#include "cn_bytes.h"
#include "cn_err.h"

#include <sodium.h>
#include <string.h>

static const char auth_token_ctx[] = "cairn-token-v1"; /* signed with its NUL */

#define AUTH_TOKEN_FIXED 19 /* version + two i64 + two length bytes */
#define AUTH_TOKEN_MAX_BIN (AUTH_TOKEN_FIXED + 2 * CN_ID_MAX + crypto_sign_BYTES)

_Static_assert(AUTH_TOKEN_MAX_LEN >= (AUTH_TOKEN_MAX_BIN * 4 + 2) / 3 + 1,
               "AUTH_TOKEN_MAX_LEN too small");

int auth_token_keygen(unsigned char pk[AUTH_TOKEN_PK_LEN], unsigned char sk[AUTH_TOKEN_SK_LEN])
{
    if (sodium_init() < 0)
        return CN_ESYS;
    return crypto_sign_keypair(pk, sk) == 0 ? 0 : CN_ESYS;
}

/* ctx || payload, the bytes the signature covers. */
static size_t signed_msg(unsigned char *m, const unsigned char *payload, size_t n)
{
    memcpy(m, auth_token_ctx, sizeof(auth_token_ctx));
    memcpy(m + sizeof(auth_token_ctx), payload, n);
    return sizeof(auth_token_ctx) + n;
}

int auth_token_issue(const unsigned char sk[AUTH_TOKEN_SK_LEN], const auth_token_claims *c,
                     char *out, size_t cap)
{
    size_t pl = strnlen(c->player, sizeof(c->player)), hl = strnlen(c->hunt, sizeof(c->hunt));
    if (!cn_id_valid(c->player, pl) || (hl && !cn_id_valid(c->hunt, hl)) ||
        c->expires_ms <= c->issued_ms)
        return CN_EINVAL;
    unsigned char bin[AUTH_TOKEN_MAX_BIN], m[sizeof(auth_token_ctx) + AUTH_TOKEN_MAX_BIN];
    size_t n = 0;
    bin[n++] = AUTH_TOKEN_VERSION;
    cn_wr_be64(bin + n, (uint64_t)c->issued_ms);
    cn_wr_be64(bin + n + 8, (uint64_t)c->expires_ms);
    n += 16;
    bin[n++] = (unsigned char)pl;
    memcpy(bin + n, c->player, pl);
    n += pl;
    bin[n++] = (unsigned char)hl;
    memcpy(bin + n, c->hunt, hl);
    n += hl;
    if (sodium_init() < 0)
        return CN_ESYS;
    size_t ml = signed_msg(m, bin, n);
    crypto_sign_detached(bin + n, NULL, m, ml, sk);
    n += crypto_sign_BYTES;
    if (cap < sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING))
        return CN_ETOOBIG;
    sodium_bin2base64(out, cap, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return 0;
}

/* Split a decoded token into claims and check its ids; 0 or AUTH_ETOKEN.
 * *signed_len = payload bytes.  Nothing here is trusted until the
 * signature is checked; this only refuses what we would never issue. */
static int token_layout(const unsigned char *bin, size_t n, auth_token_claims *out,
                        size_t *signed_len)
{
    if (n < AUTH_TOKEN_FIXED + 1 + crypto_sign_BYTES || bin[0] != AUTH_TOKEN_VERSION)
        return AUTH_ETOKEN;
    size_t pl = bin[17];
    if (pl == 0 || pl > CN_ID_MAX || n < AUTH_TOKEN_FIXED + pl + crypto_sign_BYTES)
        return AUTH_ETOKEN;
    size_t hl = bin[18 + pl];
    if (hl > CN_ID_MAX || n != AUTH_TOKEN_FIXED + pl + hl + crypto_sign_BYTES)
        return AUTH_ETOKEN;
    memset(out, 0, sizeof(*out));
    out->issued_ms = (int64_t)cn_rd_be64(bin + 1);
    out->expires_ms = (int64_t)cn_rd_be64(bin + 9);
    memcpy(out->player, bin + 18, pl);
    memcpy(out->hunt, bin + 19 + pl, hl);
    *signed_len = n - crypto_sign_BYTES;
    /* Checked on the raw bytes with their lengths: an embedded NUL must not
     * shorten an id into a different, valid one. */
    if (!cn_id_valid((const char *)bin + 18, pl) ||
        (hl && !cn_id_valid((const char *)bin + 19 + pl, hl)))
        return AUTH_ETOKEN;
    return 0;
}

/* libsodium's decoder accepts more than one spelling of the same bytes
 * (the unused low bits of the last character; the fuzzer also found a
 * byte with the high bit set decoding like '_').  A token must have
 * exactly one text form, or a "revoked token" list, a log grep or a cache
 * keyed by token text could be dodged: re-encode and compare. */
static int canonical(const unsigned char *bin, size_t n, const char *tok, size_t len)
{
    char again[AUTH_TOKEN_MAX_LEN];
    if (sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING) > sizeof(again))
        return 0;
    sodium_bin2base64(again, sizeof(again), bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return strlen(again) == len && memcmp(again, tok, len) == 0;
}

int auth_token_verify(const unsigned char pk[AUTH_TOKEN_PK_LEN], const char *tok, size_t len,
                      int64_t now_ms, auth_token_claims *out)
{
    unsigned char bin[AUTH_TOKEN_MAX_BIN], m[sizeof(auth_token_ctx) + AUTH_TOKEN_MAX_BIN];
    size_t n = 0, sl = 0;
    const char *end = NULL;
    if (len == 0 || len >= AUTH_TOKEN_MAX_LEN)
        return AUTH_ETOKEN;
    if (sodium_base642bin(bin, sizeof(bin), tok, len, NULL, &n, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
        end != tok + len || !canonical(bin, n, tok, len))
        return AUTH_ETOKEN;
    auth_token_claims c;
    int rc = token_layout(bin, n, &c, &sl);
    if (rc)
        return rc;
    if (sodium_init() < 0)
        return CN_ESYS;
    size_t ml = signed_msg(m, bin, sl);
    if (crypto_sign_verify_detached(bin + sl, m, ml, pk) != 0)
        return AUTH_ETOKENSIG;
    /* Signed, but still only what we would have issued. */
    if (c.expires_ms <= c.issued_ms)
        return AUTH_ETOKEN;
    *out = c;
    return now_ms >= c.expires_ms ? AUTH_ETOKENEXP : 0;
}
