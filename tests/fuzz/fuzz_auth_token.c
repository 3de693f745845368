/* SPDX-License-Identifier: MIT */
/*
 * fuzz_auth_token.c — libFuzzer target for token verification, the parser
 * that sees ?token= from anyone on the network.  The key pair is derived
 * from a fixed seed so a corpus of real tokens stays valid across runs.
 * Checks: verification never reads out of bounds or crashes; only a token
 * whose signature verifies is ever accepted or reported expired, and its
 * claims then re-issue to the very same token text (the encoding is
 * canonical: no second spelling of a valid token passes).
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cn_err.h"
#include "auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char pk[AUTH_TOKEN_PK_LEN], sk[AUTH_TOKEN_SK_LEN];
    static int ready;
    if (!ready) {
        unsigned char seed[crypto_sign_SEEDBYTES];
        memset(seed, 7, sizeof(seed));
        if (sodium_init() < 0)
            abort();
        crypto_sign_seed_keypair(pk, sk, seed);
        ready = 1;
    }
    auth_token_claims c;
    int rc = auth_token_verify(pk, (const char *)data, size, 1764320000000LL, &c);
    if (rc != 0 && rc != AUTH_ETOKEN && rc != AUTH_ETOKENSIG && rc != AUTH_ETOKENEXP)
        abort();
    if (rc == 0 || rc == AUTH_ETOKENEXP) {
        char again[AUTH_TOKEN_MAX_LEN];
        if (auth_token_issue(sk, &c, again, sizeof(again)) != 0)
            abort();
        if (strlen(again) != size || memcmp(again, data, size) != 0)
            abort();
    }
    return 0;
}
