/* SPDX-License-Identifier: MIT */
/*
 * test_auth_token_cache.c — the verified-token cache gives exactly the
 * answers of auth_token_verify: hits return the same claims, expiry is
 * still enforced on hits (an expired token is refused from the cache
 * too), forged tokens are verified once and refused again from a separate
 * table that cannot evict good entries, malformed ones cost nothing, a cache for
 * another key refuses, memory stays fixed while 10x its capacity of
 * tokens pass through (each still verified correctly), eviction prefers
 * the tokens expiring soonest, and creation fails cleanly without memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "auth.h"

static unsigned char pk[AUTH_TOKEN_PK_LEN], sk[AUTH_TOKEN_SK_LEN];

static int setup(void **st)
{
    (void)st;
    return auth_token_keygen(pk, sk);
}

static void mint(const char *player, int64_t iss, int64_t exp, char *tok)
{
    auth_token_claims c;
    memset(&c, 0, sizeof(c));
    snprintf(c.player, sizeof(c.player), "%s", player);
    c.issued_ms = iss;
    c.expires_ms = exp;
    assert_int_equal(auth_token_issue(sk, &c, tok, AUTH_TOKEN_MAX_LEN), 0);
}

static void test_hits_and_expiry(void **st)
{
    (void)st;
    auth_token_cache *c;
    assert_int_equal(auth_token_cache_new(&c, pk, 64), 0);
    char tok[AUTH_TOKEN_MAX_LEN];
    mint("p-1", 1000, 5000, tok);
    auth_token_claims a, b;
    uint64_t hits, misses;
    assert_int_equal(auth_token_cache_verify(c, tok, strlen(tok), 2000, &a), 0);
    assert_int_equal(auth_token_cache_verify(c, tok, strlen(tok), 2001, &b), 0);
    auth_token_cache_stats(c, &hits, &misses);
    assert_true(hits == 1 && misses == 1);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_string_equal(b.player, "p-1");
    /* Expiry is enforced on a hit, with the claims filled as verify does. */
    assert_int_equal(auth_token_cache_verify(c, tok, strlen(tok), 4999, &b), 0);
    assert_int_equal(auth_token_cache_verify(c, tok, strlen(tok), 5000, &b), AUTH_ETOKENEXP);
    assert_string_equal(b.player, "p-1");
    /* A forged token is refused like auth_token_verify refuses it, verified
     * once, and refused again from the cache. */
    char bad[AUTH_TOKEN_MAX_LEN];
    memcpy(bad, tok, sizeof(bad));
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    for (int i = 0; i < 3; i++)
        assert_int_equal(auth_token_cache_verify(c, bad, strlen(bad), 2000, &b), AUTH_ETOKENSIG);
    auth_token_cache_stats(c, &hits, &misses);
    assert_true(hits == 5 && misses == 2);
    /* Malformed tokens cost no signature check and are not cached. */
    assert_int_equal(auth_token_cache_verify(c, "x", 1, 2000, &b), AUTH_ETOKEN);
    assert_int_equal(auth_token_cache_verify(c, "", 0, 2000, &b), AUTH_ETOKEN);
    auth_token_cache_stats(c, &hits, &misses);
    assert_true(hits == 5 && misses == 2);
    /* An expired token: refused with its claims, verified once, refused
     * again from the cache with the same claims. */
    char expired[AUTH_TOKEN_MAX_LEN];
    mint("p-2", 1000, 1500, expired);
    for (int i = 0; i < 3; i++) {
        memset(&b, 0, sizeof(b));
        assert_int_equal(auth_token_cache_verify(c, expired, strlen(expired), 2000, &b),
                         AUTH_ETOKENEXP);
        assert_string_equal(b.player, "p-2");
        assert_int_equal(b.expires_ms, 1500);
    }
    auth_token_cache_stats(c, &hits, &misses);
    assert_true(hits == 7 && misses == 3);
    auth_token_cache_free(c);
    auth_token_cache_free(NULL);
}

static void test_other_key(void **st)
{
    (void)st;
    unsigned char pk2[AUTH_TOKEN_PK_LEN], sk2[AUTH_TOKEN_SK_LEN];
    assert_int_equal(auth_token_keygen(pk2, sk2), 0);
    auth_token_cache *c;
    assert_int_equal(auth_token_cache_new(&c, pk2, 8), 0);
    char tok[AUTH_TOKEN_MAX_LEN];
    mint("p-1", 1000, 5000, tok);
    auth_token_claims b;
    assert_int_equal(auth_token_cache_verify(c, tok, strlen(tok), 2000, &b), AUTH_ETOKENSIG);
    assert_int_equal(auth_token_cache_verify(c, tok, strlen(tok), 2000, &b), AUTH_ETOKENSIG);
    auth_token_cache_free(c);
}

static void test_bounded_and_eviction(void **st)
{
    (void)st;
    auth_token_cache *c;
    assert_int_equal(auth_token_cache_new(&c, pk, 16), 0);
    /* 160 tokens through a 16-entry cache: every answer still correct. */
    static char toks[160][AUTH_TOKEN_MAX_LEN];
    for (int i = 0; i < 160; i++) {
        char p[16];
        snprintf(p, sizeof(p), "p-%d", i);
        mint(p, 1000, 100000 + i, toks[i]);
    }
    auth_token_claims b;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 160; i++) {
            assert_int_equal(auth_token_cache_verify(c, toks[i], strlen(toks[i]), 2000, &b), 0);
            char p[16];
            snprintf(p, sizeof(p), "p-%d", i);
            assert_string_equal(b.player, p);
        }
    uint64_t hits, misses;
    auth_token_cache_stats(c, &hits, &misses);
    assert_true(hits + misses == 320);
    assert_true(misses >= 160); /* it cannot hold them all */
    auth_token_cache_free(c);
    /* Eviction: in a cache of one window (8 slots), a long-lived token
     * survives a stream of short-lived ones. */
    assert_int_equal(auth_token_cache_new(&c, pk, 1), 0);
    char keep[AUTH_TOKEN_MAX_LEN];
    mint("keeper", 1000, 1000000, keep);
    assert_int_equal(auth_token_cache_verify(c, keep, strlen(keep), 2000, &b), 0);
    for (int i = 0; i < 40; i++)
        assert_int_equal(auth_token_cache_verify(c, toks[i], strlen(toks[i]), 2000, &b), 0);
    auth_token_cache_stats(c, &hits, &misses);
    uint64_t before = hits;
    assert_int_equal(auth_token_cache_verify(c, keep, strlen(keep), 2000, &b), 0);
    auth_token_cache_stats(c, &hits, &misses);
    assert_int_equal(hits, before + 1);
    auth_token_cache_free(c);
}

/* Refusals never displace good entries: a cache of one window holding a
 * good token keeps it through a stream of 100 distinct forged tokens and
 * 100 distinct expired ones, each refused correctly; a forged token stays
 * refused after its good original is cached and vice versa. */
static void test_refusals_do_not_evict(void **st)
{
    (void)st;
    auth_token_cache *c;
    assert_int_equal(auth_token_cache_new(&c, pk, 1), 0);
    char good[AUTH_TOKEN_MAX_LEN], tok[AUTH_TOKEN_MAX_LEN];
    mint("keeper", 1000, 1000000, good);
    auth_token_claims b;
    assert_int_equal(auth_token_cache_verify(c, good, strlen(good), 2000, &b), 0);
    for (int i = 0; i < 100; i++) {
        char p[16];
        snprintf(p, sizeof(p), "f-%d", i);
        mint(p, 1000, 1000000, tok);
        tok[12] = tok[12] == 'A' ? 'B' : 'A'; /* inside the payload: signature fails */
        assert_int_equal(auth_token_cache_verify(c, tok, strlen(tok), 2000, &b), AUTH_ETOKENSIG);
        assert_int_equal(auth_token_cache_verify(c, tok, strlen(tok), 2000, &b), AUTH_ETOKENSIG);
        snprintf(p, sizeof(p), "e-%d", i);
        mint(p, 1000, 1500, tok);
        assert_int_equal(auth_token_cache_verify(c, tok, strlen(tok), 2000, &b), AUTH_ETOKENEXP);
    }
    uint64_t hits, misses, h0;
    auth_token_cache_stats(c, &h0, &misses);
    assert_int_equal(auth_token_cache_verify(c, good, strlen(good), 2000, &b), 0);
    assert_string_equal(b.player, "keeper");
    auth_token_cache_stats(c, &hits, &misses);
    assert_int_equal(hits, h0 + 1);
    /* The forgery of a cached good token is still a forgery. */
    memcpy(tok, good, sizeof(tok));
    size_t n = strlen(tok);
    tok[n - 3] = tok[n - 3] == 'A' ? 'B' : 'A';
    assert_int_equal(auth_token_cache_verify(c, tok, n, 2000, &b), AUTH_ETOKENSIG);
    assert_int_equal(auth_token_cache_verify(c, good, strlen(good), 2000, &b), 0);
    auth_token_cache_free(c);
}

static void test_oom(void **st)
{
    (void)st;
    for (long k = 1; k <= 3; k++) {
        auth_token_cache *c = (auth_token_cache *)1;
        cn_test_alloc_fail_at(k, 0);
        assert_int_equal(auth_token_cache_new(&c, pk, 1024), CN_ENOMEM);
        long live = cn_test_alloc_live();
        cn_test_alloc_reset();
        assert_null(c);
        assert_int_equal(live, 0);
    }
    assert_true(AUTH_TOKEN_CACHE_ENTRY_SIZE < 256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hits_and_expiry),
        cmocka_unit_test(test_other_key),
        cmocka_unit_test(test_bounded_and_eviction),
        cmocka_unit_test(test_refusals_do_not_evict),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
