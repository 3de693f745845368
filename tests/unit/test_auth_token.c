/* SPDX-License-Identifier: MIT */
/*
 * test_auth_token.c — player tokens: issue/verify round trip, the expiry
 * boundary, every single-byte and single-character corruption refused
 * (never accepted), properly signed but malformed payloads refused,
 * foreign keys, limits on claims, and the key files (modes, no
 * overwrite, wrong kind, corruption, truncation).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "auth.h"

static unsigned char pk[AUTH_TOKEN_PK_LEN], sk[AUTH_TOKEN_SK_LEN];

static int setup(void **st)
{
    (void)st;
    return auth_token_keygen(pk, sk);
}

static auth_token_claims claims(const char *player, const char *hunt, int64_t iss, int64_t exp)
{
    auth_token_claims c;
    memset(&c, 0, sizeof(c));
    snprintf(c.player, sizeof(c.player), "%s", player);
    snprintf(c.hunt, sizeof(c.hunt), "%s", hunt);
    c.issued_ms = iss;
    c.expires_ms = exp;
    return c;
}

static void test_roundtrip_and_expiry(void **st)
{
    (void)st;
    auth_token_claims c = claims("p-1", "museum-night", 1764320000000, 1764320000000 + 43200000),
                      out;
    char tok[AUTH_TOKEN_MAX_LEN];
    assert_int_equal(auth_token_issue(sk, &c, tok, sizeof(tok)), 0);
    size_t n = strlen(tok);
    assert_int_equal(
        strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), n);
    assert_int_equal(auth_token_verify(pk, tok, n, c.issued_ms, &out), 0);
    assert_string_equal(out.player, "p-1");
    assert_string_equal(out.hunt, "museum-night");
    assert_true(out.issued_ms == c.issued_ms && out.expires_ms == c.expires_ms);
    /* Boundary: valid until the last millisecond, refused at expires_ms. */
    assert_int_equal(auth_token_verify(pk, tok, n, c.expires_ms - 1, &out), 0);
    assert_int_equal(auth_token_verify(pk, tok, n, c.expires_ms, &out), AUTH_ETOKENEXP);
    assert_string_equal(out.player, "p-1"); /* claims still reported */
    /* No hunt; longest ids. */
    char longid[CN_ID_MAX + 1];
    memset(longid, 'z', CN_ID_MAX);
    longid[CN_ID_MAX] = 0;
    c = claims(longid, longid, 1, 2);
    assert_int_equal(auth_token_issue(sk, &c, tok, sizeof(tok)), 0);
    assert_true(strlen(tok) < AUTH_TOKEN_MAX_LEN);
    assert_int_equal(auth_token_verify(pk, tok, strlen(tok), 1, &out), 0);
    assert_string_equal(out.hunt, longid);
    c = claims("solo", "", 1, 2);
    assert_int_equal(auth_token_issue(sk, &c, tok, sizeof(tok)), 0);
    assert_int_equal(auth_token_verify(pk, tok, strlen(tok), 1, &out), 0);
    assert_string_equal(out.hunt, "");
}

static void test_issue_refuses(void **st)
{
    (void)st;
    char tok[AUTH_TOKEN_MAX_LEN];
    auth_token_claims c = claims("", "", 1, 2);
    assert_int_equal(auth_token_issue(sk, &c, tok, sizeof(tok)), CN_EINVAL);
    c = claims("a b", "", 1, 2);
    assert_int_equal(auth_token_issue(sk, &c, tok, sizeof(tok)), CN_EINVAL);
    c = claims("ok", "h/1", 1, 2);
    assert_int_equal(auth_token_issue(sk, &c, tok, sizeof(tok)), CN_EINVAL);
    c = claims("ok", "", 5, 5); /* expires not after issue */
    assert_int_equal(auth_token_issue(sk, &c, tok, sizeof(tok)), CN_EINVAL);
    c = claims("ok", "", 1, 2);
    assert_int_equal(auth_token_issue(sk, &c, tok, 20), CN_ETOOBIG);
}

static void test_every_corruption_refused(void **st)
{
    (void)st;
    auth_token_claims c = claims("player-7", "h1", 1000, 1000000), out;
    char tok[AUTH_TOKEN_MAX_LEN], bad[AUTH_TOKEN_MAX_LEN];
    assert_int_equal(auth_token_issue(sk, &c, tok, sizeof(tok)), 0);
    size_t n = strlen(tok);
    const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=. ";
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < sizeof(alpha) - 1; k++) {
            if (alpha[k] == tok[i])
                continue;
            memcpy(bad, tok, n + 1);
            bad[i] = alpha[k];
            int rc = auth_token_verify(pk, bad, n, 2000, &out);
            if (rc != AUTH_ETOKEN && rc != AUTH_ETOKENSIG)
                fail_msg("corruption at %zu to '%c' gave %d", i, alpha[k], rc);
        }
    /* Every truncation and an extension. */
    for (size_t len = 0; len < n; len++)
        assert_true(auth_token_verify(pk, tok, len, 2000, &out) < 0);
    memcpy(bad, tok, n);
    memcpy(bad + n, "AA", 3);
    assert_true(auth_token_verify(pk, bad, n + 2, 2000, &out) < 0);
    /* Other spellings of the same bytes are refused: non-zero unused bits
     * in the last character (token lengths not a multiple of 3 bytes), and
     * a high-bit byte that libsodium decodes like '_' (found by
     * fuzz_auth_token). */
    for (int plen = 1; plen <= 3; plen++) {
        auth_token_claims d = claims(plen == 1 ? "a" : plen == 2 ? "ab" : "abc", "", 1000, 1000000);
        char t[AUTH_TOKEN_MAX_LEN];
        assert_int_equal(auth_token_issue(sk, &d, t, sizeof(t)), 0);
        size_t tl = strlen(t);
        assert_int_equal(auth_token_verify(pk, t, tl, 2000, &out), 0);
        int remainder = (int)((19 + (size_t)plen + 64) % 3);
        if (remainder) {
            /* 1 byte left: 4 unused bits; 2 bytes left: 2 unused bits. */
            static const char b64[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            int v = (int)(strchr(b64, t[tl - 1]) - b64);
            t[tl - 1] = b64[v | 1];
            assert_int_equal(auth_token_verify(pk, t, tl, 2000, &out), AUTH_ETOKEN);
        }
    }
    memcpy(bad, tok, n + 1);
    char *us = strchr(bad, '_') ? strchr(bad, '_') : strchr(bad, '-');
    if (us) {
        *us = (char)(*us | 0x80);
        assert_int_equal(auth_token_verify(pk, bad, n, 2000, &out), AUTH_ETOKEN);
    }
    /* Another key pair's public key. */
    unsigned char pk2[AUTH_TOKEN_PK_LEN], sk2[AUTH_TOKEN_SK_LEN];
    assert_int_equal(auth_token_keygen(pk2, sk2), 0);
    assert_int_equal(auth_token_verify(pk2, tok, n, 2000, &out), AUTH_ETOKENSIG);
    /* Huge input is refused without decoding. */
    char *huge = malloc(100000);
    memset(huge, 'A', 100000);
    assert_int_equal(auth_token_verify(pk, huge, 100000, 2000, &out), AUTH_ETOKEN);
    free(huge);
}

/* Sign an arbitrary payload the way auth_token does, to test layout checks
 * with a valid signature. */
static void sign_raw(const unsigned char *payload, size_t n, char *out, size_t cap)
{
    unsigned char m[512], bin[512];
    static const char ctx[] = "cairn-token-v1";
    memcpy(m, ctx, sizeof(ctx));
    memcpy(m + sizeof(ctx), payload, n);
    memcpy(bin, payload, n);
    crypto_sign_detached(bin + n, NULL, m, sizeof(ctx) + n, sk);
    sodium_bin2base64(out, cap, bin, n + 64, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static size_t payload(unsigned char *p, int ver, int64_t iss, int64_t exp, const char *pl,
                      size_t pll, const char *h, size_t hl)
{
    size_t n = 0;
    p[n++] = (unsigned char)ver;
    cn_wr_be64(p + n, (uint64_t)iss);
    cn_wr_be64(p + n + 8, (uint64_t)exp);
    n += 16;
    p[n++] = (unsigned char)pll;
    memcpy(p + n, pl, pll);
    n += pll;
    p[n++] = (unsigned char)hl;
    memcpy(p + n, h, hl);
    return n + hl;
}

static void test_signed_but_malformed(void **st)
{
    (void)st;
    unsigned char p[300];
    char tok[600];
    auth_token_claims out;
    /* control: a hand-built token verifies */
    sign_raw(p, payload(p, 1, 1, 10, "abc", 3, "", 0), tok, sizeof(tok));
    assert_int_equal(auth_token_verify(pk, tok, strlen(tok), 5, &out), 0);
    sign_raw(p, payload(p, 2, 1, 10, "abc", 3, "", 0), tok, sizeof(tok)); /* version */
    assert_int_equal(auth_token_verify(pk, tok, strlen(tok), 5, &out), AUTH_ETOKEN);
    sign_raw(p, payload(p, 1, 1, 10, "", 0, "", 0), tok, sizeof(tok)); /* empty player */
    assert_int_equal(auth_token_verify(pk, tok, strlen(tok), 5, &out), AUTH_ETOKEN);
    sign_raw(p, payload(p, 1, 1, 10, "a b", 3, "", 0), tok, sizeof(tok)); /* charset */
    assert_int_equal(auth_token_verify(pk, tok, strlen(tok), 5, &out), AUTH_ETOKEN);
    sign_raw(p, payload(p, 1, 1, 10, "a\0b", 3, "", 0), tok, sizeof(tok)); /* embedded NUL */
    assert_int_equal(auth_token_verify(pk, tok, strlen(tok), 5, &out), AUTH_ETOKEN);
    sign_raw(p, payload(p, 1, 10, 10, "abc", 3, "", 0), tok, sizeof(tok)); /* exp == iss */
    assert_int_equal(auth_token_verify(pk, tok, strlen(tok), 5, &out), AUTH_ETOKEN);
    char big[80];
    memset(big, 'q', sizeof(big));
    sign_raw(p, payload(p, 1, 1, 10, big, 65, "", 0), tok, sizeof(tok)); /* 65-byte player */
    assert_int_equal(auth_token_verify(pk, tok, strlen(tok), 5, &out), AUTH_ETOKEN);
    /* lengths that do not add up to the total */
    size_t n = payload(p, 1, 1, 10, "abc", 3, "h", 1);
    p[17] = 4;
    sign_raw(p, n, tok, sizeof(tok));
    assert_int_equal(auth_token_verify(pk, tok, strlen(tok), 5, &out), AUTH_ETOKEN);
    n = payload(p, 1, 1, 10, "abc", 3, "h", 1);
    p[21] = 200;
    sign_raw(p, n, tok, sizeof(tok));
    assert_int_equal(auth_token_verify(pk, tok, strlen(tok), 5, &out), AUTH_ETOKEN);
}

static void test_key_files(void **st)
{
    (void)st;
    char *dir = cn_test_tmpdir("gwtoken");
    char path[512], pub[512];
    snprintf(path, sizeof(path), "%s/k", dir);
    snprintf(pub, sizeof(pub), "%s/k.pub", dir);
    assert_int_equal(auth_token_write_keys(path, pk, sk), 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(auth_token_write_keys(path, pk, sk), CN_EEXIST);
    unsigned char rsk[AUTH_TOKEN_SK_LEN], rpk[AUTH_TOKEN_PK_LEN];
    assert_int_equal(auth_token_read_secret(path, rsk), 0);
    assert_memory_equal(rsk, sk, sizeof(sk));
    assert_int_equal(auth_token_read_public(pub, rpk), 0);
    assert_memory_equal(rpk, pk, sizeof(pk));
    /* Wrong kind of key either way. */
    assert_int_equal(auth_token_read_secret(pub, rsk), AUTH_EKEYFILE);
    assert_int_equal(auth_token_read_public(path, rpk), AUTH_EKEYFILE);
    assert_int_equal(auth_token_read_public("/nonexistent/cairn.pub", rpk), CN_ENOENT);
    /* Secret whose public half does not match its seed. */
    char line[256], b64[200];
    unsigned char tampered[AUTH_TOKEN_SK_LEN];
    memcpy(tampered, sk, sizeof(tampered));
    tampered[40] ^= 1;
    sodium_bin2base64(b64, sizeof(b64), tampered, sizeof(tampered), sodium_base64_VARIANT_ORIGINAL);
    snprintf(line, sizeof(line), "%s/bad", dir);
    FILE *f = fopen(line, "w");
    fprintf(f, "cairn-ed25519-secret:%s\n", b64);
    fclose(f);
    assert_int_equal(auth_token_read_secret(line, rsk), AUTH_EKEYFILE);
    /* Truncated, trailing garbage, empty, oversized. */
    const char *bodies[] = {"cairn-ed25519-public:AAAA\n", "", "cairn-ed25519-public:\n",
                            "cairn-ed25519-public"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        f = fopen(line, "w");
        fputs(bodies[i], f);
        fclose(f);
        assert_int_equal(auth_token_read_public(line, rpk), AUTH_EKEYFILE);
    }
    sodium_bin2base64(b64, sizeof(b64), pk, sizeof(pk), sodium_base64_VARIANT_ORIGINAL);
    f = fopen(line, "w");
    fprintf(f, "cairn-ed25519-public:%s\nextra\n", b64);
    fclose(f);
    assert_int_equal(auth_token_read_public(line, rpk), AUTH_EKEYFILE);
    f = fopen(line, "w");
    fprintf(f, "cairn-ed25519-public:%s", b64); /* no newline: fine */
    fclose(f);
    assert_int_equal(auth_token_read_public(line, rpk), 0);
    f = fopen(line, "w");
    for (int i = 0; i < 100; i++)
        fprintf(f, "cairn-ed25519-public:%s\n", b64);
    fclose(f);
    assert_int_equal(auth_token_read_public(line, rpk), AUTH_EKEYFILE);
    /* A missing directory: nothing created. */
    snprintf(line, sizeof(line), "%s/none/k", dir);
    assert_true(auth_token_write_keys(line, pk, sk) < 0);
    cn_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_expiry),
        cmocka_unit_test(test_issue_refuses),
        cmocka_unit_test(test_every_corruption_refused),
        cmocka_unit_test(test_signed_but_malformed),
        cmocka_unit_test(test_key_files),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
