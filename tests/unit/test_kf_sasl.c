/* SPDX-License-Identifier: MIT */
/*
 * test_kf_sasl.c — the Kafka listener's SASL mechanisms (log/kafka/kf_sasl.c)
 * against published vectors and hostile input: RFC 7677's SCRAM-SHA-256
 * exchange byte for byte (user "user", password "pencil", its salt and
 * nonces); SCRAM-SHA-512 and PLAIN round trips computed independently here
 * with libsodium; wrong passwords, unknown users, a replayed or altered
 * nonce, a wrong channel-binding echo, channel binding asked for, a
 * malformed proof, every truncation of every client message, and messages
 * after the end all fail; the users file (comments, CRLF, a password with
 * ':', empty names and passwords, duplicates, NUL bytes, permissions).
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
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "kf_sasl.h"

static kf_sasl_users *users_rfc(void)
{
    kf_sasl_users *u;
    int line;
    assert_int_equal(kf_sasl_users_parse(&u, "", 0, &line), 0);
    unsigned char salt[16];
    size_t n;
    assert_int_equal(sodium_base642bin(salt, sizeof(salt), "W22ZaJ0SNY7soEsUEjb6gQ==", 24, NULL, &n,
                                       NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(n, 16);
    assert_int_equal(kf_sasl_users_add(u, "user", "pencil", salt), 0);
    return u;
}

static int step(kf_sasl_sess *s, const char *msg, char *out)
{
    size_t n = 0;
    int rc =
        kf_sasl_step(s, (const unsigned char *)msg, strlen(msg), (unsigned char *)out, 512, &n);
    out[n] = 0;
    return rc;
}

static void test_rfc7677_vector(void **st)
{
    (void)st;
    kf_sasl_users *u = users_rfc();
    kf_sasl_sess s;
    kf_sasl_sess_init(&s, u, kf_sasl_mech("SCRAM-SHA-256", 13));
    s.test_server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    char out[600];
    assert_int_equal(step(&s, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", out), KF_SASL_CONTINUE);
    assert_string_equal(out, "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                             "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
    assert_int_equal(step(&s,
                          "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                          "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                          out),
                     KF_SASL_OK);
    assert_string_equal(out, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    assert_string_equal(s.name, "user");
    /* nothing more is accepted */
    assert_int_equal(step(&s, "c=biws", out), CN_EAUTH);
    kf_sasl_users_free(u);
}

/* A client computed here from the RFC's formulas (SHA-512). */
static void client_final512(const char *pw, const char *first_bare, const char *server_first,
                            char *out)
{
    const char *r = strstr(server_first, "r=") + 2, *sp = strstr(server_first, ",s=");
    const char *ip = strstr(server_first, ",i=");
    unsigned char salt[64];
    size_t sl;
    assert_int_equal(sodium_base642bin(salt, sizeof(salt), sp + 3, (size_t)(ip - sp - 3), NULL, &sl,
                                       NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    int iters = atoi(ip + 3);
    /* PBKDF2-HMAC-SHA-512, one block */
    unsigned char u1[64], salted[64], blk[68];
    memcpy(blk, salt, sl);
    blk[sl] = 0, blk[sl + 1] = 0, blk[sl + 2] = 0, blk[sl + 3] = 1;
    crypto_auth_hmacsha512_state h;
    crypto_auth_hmacsha512_init(&h, (const unsigned char *)pw, strlen(pw));
    crypto_auth_hmacsha512_update(&h, blk, sl + 4);
    crypto_auth_hmacsha512_final(&h, u1);
    memcpy(salted, u1, 64);
    for (int i = 1; i < iters; i++) {
        crypto_auth_hmacsha512_init(&h, (const unsigned char *)pw, strlen(pw));
        crypto_auth_hmacsha512_update(&h, u1, 64);
        crypto_auth_hmacsha512_final(&h, u1);
        for (int j = 0; j < 64; j++)
            salted[j] ^= u1[j];
    }
    unsigned char ck[64], sk[64], sig[64], proof[64];
    crypto_auth_hmacsha512_init(&h, salted, 64);
    crypto_auth_hmacsha512_update(&h, (const unsigned char *)"Client Key", 10);
    crypto_auth_hmacsha512_final(&h, ck);
    crypto_hash_sha512(sk, ck, 64);
    char without[300], auth[1200];
    snprintf(without, sizeof(without), "c=biws,r=%.*s", (int)(sp - r), r);
    snprintf(auth, sizeof(auth), "%s,%s,%s", first_bare, server_first, without);
    crypto_auth_hmacsha512_init(&h, sk, 64);
    crypto_auth_hmacsha512_update(&h, (const unsigned char *)auth, strlen(auth));
    crypto_auth_hmacsha512_final(&h, sig);
    for (int j = 0; j < 64; j++)
        proof[j] = ck[j] ^ sig[j];
    char p64[100];
    sodium_bin2base64(p64, sizeof(p64), proof, 64, sodium_base64_VARIANT_ORIGINAL);
    sprintf(out, "%s,p=%s", without, p64);
}

static void test_scram512_and_failures(void **st)
{
    (void)st;
    kf_sasl_users *u;
    int line;
    const char *file = "# users\r\nalice:s3cret:with:colons\r\nbob:hunter2\n";
    assert_int_equal(kf_sasl_users_parse(&u, file, strlen(file), &line), 0);
    assert_int_equal(kf_sasl_users_count(u), 2);
    int m512 = kf_sasl_mech("SCRAM-SHA-512", 13);
    char out[600], fin[600];
    kf_sasl_sess s;
    /* the right password */
    kf_sasl_sess_init(&s, u, m512);
    assert_int_equal(step(&s, "n,,n=alice,r=abcdefgh", out), KF_SASL_CONTINUE);
    client_final512("s3cret:with:colons", "n=alice,r=abcdefgh", out, fin);
    assert_int_equal(step(&s, fin, out), KF_SASL_OK);
    assert_true(!strncmp(out, "v=", 2));
    /* a wrong password, an unknown user (same-looking challenge) */
    const char *who[][2] = {{"alice", "wrong"}, {"mallory", "s3cret:with:colons"}};
    for (int i = 0; i < 2; i++) {
        char first[200], bare[100];
        snprintf(bare, sizeof(bare), "n=%s,r=nonce1", who[i][0]);
        snprintf(first, sizeof(first), "n,,%s", bare);
        kf_sasl_sess_init(&s, u, m512);
        assert_int_equal(step(&s, first, out), KF_SASL_CONTINUE);
        client_final512(who[i][1], bare, out, fin);
        assert_int_equal(step(&s, fin, out), CN_EAUTH);
        assert_non_null(strstr(s.fail, "wrong user name or password"));
    }
    /* every mangling of a good exchange fails */
    kf_sasl_sess_init(&s, u, m512);
    assert_int_equal(step(&s, "n,,n=bob,r=xyz", out), KF_SASL_CONTINUE);
    char sf[600];
    strcpy(sf, out);
    client_final512("hunter2", "n=bob,r=xyz", sf, fin);
    char bad[700];
    const char *edits[] = {"nonce", "cbind", "proof", "short"};
    for (int e = 0; e < 4; e++) {
        kf_sasl_sess t = s;
        strcpy(bad, fin);
        if (e == 0)
            bad[strlen("c=biws,r=") + 1] ^= 1;
        if (e == 1)
            memcpy(bad, "c=eSws", 6);
        if (e == 2)
            bad[strlen(bad) - 3] = bad[strlen(bad) - 3] == 'A' ? 'B' : 'A';
        if (e == 3)
            bad[strlen(bad) - 10] = 0;
        if (step(&t, bad, out) != CN_EAUTH)
            fail_msg("edit %s accepted", edits[e]);
    }
    /* every truncation of both client messages */
    for (size_t n = 0; n < strlen(fin); n++) {
        kf_sasl_sess t = s;
        size_t ol;
        if (kf_sasl_step(&t, (const unsigned char *)fin, n, (unsigned char *)out, 512, &ol) !=
            CN_EAUTH)
            fail_msg("client-final cut at %zu accepted", n);
    }
    const char *firsts[] = {"",
                            "n",
                            "n,",
                            "n,,",
                            "n,,n=",
                            "n,,n=bob",
                            "n,,n=bob,",
                            "n,,n=bob,r=",
                            "y,,n=bob,r=x",
                            "p=tls-unique,,n=bob,r=x",
                            "n,,n=b=ZZb,r=x",
                            "n,,n=bob,r=x,tokenauth=true",
                            "n,,m=bob,r=x"};
    for (size_t i = 0; i < sizeof(firsts) / sizeof(firsts[0]); i++) {
        kf_sasl_sess t;
        kf_sasl_sess_init(&t, u, m512);
        if (step(&t, firsts[i], out) != CN_EAUTH)
            fail_msg("client-first '%s' accepted", firsts[i]);
    }
    /* the right one still works after all that */
    assert_int_equal(step(&s, fin, out), KF_SASL_OK);
    kf_sasl_users_free(u);
}

static void test_plain(void **st)
{
    (void)st;
    kf_sasl_users *u;
    int line;
    assert_int_equal(kf_sasl_users_parse(&u, "bob:hunter2\n", 12, &line), 0);
    int mp = kf_sasl_mech("PLAIN", 5);
    struct {
        const char *m;
        size_t n;
        int ok;
    } cases[] = {
        {"\0bob\0hunter2", 12, 1},
        {"bob\0bob\0hunter2", 15, 1},
        {"\0bob\0hunter3", 12, 0},
        {"\0eve\0hunter2", 12, 0},
        {"eve\0bob\0hunter2", 15, 0},
        {"\0bob", 4, 0},
        {"bob hunter2", 11, 0},
        {"", 0, 0},
        {"\0bob\0", 5, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kf_sasl_sess s;
        kf_sasl_sess_init(&s, u, mp);
        unsigned char out[16];
        size_t ol;
        int rc =
            kf_sasl_step(&s, (const unsigned char *)cases[i].m, cases[i].n, out, sizeof(out), &ol);
        if ((rc == KF_SASL_OK) != cases[i].ok)
            fail_msg("PLAIN case %zu: %d", i, rc);
        assert_int_equal(ol, 0);
    }
    kf_sasl_users_free(u);
}

static void test_users_file(void **st)
{
    (void)st;
    kf_sasl_users *u;
    int line = 0;
    struct {
        const char *text;
        size_t len;
        int line;
    } bad[] = {
        {"a:b\nnocolon\n", 12, 2}, {":pw\n", 4, 1},     {"name:\n", 6, 1},
        {"a:1\na:2\n", 8, 2},      {"a\tb:pw\n", 7, 1}, {"ok:pw\nx\0y:z\n", 12, 0},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (kf_sasl_users_parse(&u, bad[i].text, bad[i].len, &line) != CN_EINVAL)
            fail_msg("users file case %zu accepted", i);
        if (bad[i].line && line != bad[i].line)
            fail_msg("users file case %zu: line %d, want %d", i, line, bad[i].line);
    }
    char *dir = cn_test_tmpdir("sasl");
    assert_non_null(dir);
    char path[4200];
    snprintf(path, sizeof(path), "%s/users", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "bob:hunter2\n", 12), 12);
    close(fd);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(kf_sasl_users_load(&u, path, &line), CN_EPERM);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(kf_sasl_users_load(&u, path, &line), 0);
    assert_int_equal(kf_sasl_users_count(u), 1);
    kf_sasl_users_free(u);
    unlink(path);
    assert_int_equal(kf_sasl_users_load(&u, path, &line), CN_ENOENT);
    cn_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7677_vector),
        cmocka_unit_test(test_scram512_and_failures),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_users_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
