/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gw_token.c — libFuzzer target for token verification, the parser
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
#include "gw_token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char pk[GW_TOKEN_PK_LEN], sk[GW_TOKEN_SK_LEN];
    static int ready;
    if (!ready) {
        unsigned char seed[crypto_sign_SEEDBYTES];
        memset(seed, 7, sizeof(seed));
        if (sodium_init() < 0)
            abort();
        crypto_sign_seed_keypair(pk, sk, seed);
        ready = 1;
    }
    gw_token_claims c;
    int rc = gw_token_verify(pk, (const char *)data, size, 1764320000000LL, &c);
    if (rc != 0 && rc != GW_ETOKEN && rc != GW_ETOKENSIG && rc != GW_ETOKENEXP)
        abort();
    if (rc == 0 || rc == GW_ETOKENEXP) {
        char again[GW_TOKEN_MAX_LEN];
        if (gw_token_issue(sk, &c, again, sizeof(again)) != 0)
            abort();
        if (strlen(again) != size || memcmp(again, data, size) != 0)
            abort();
    }
    return 0;
}
