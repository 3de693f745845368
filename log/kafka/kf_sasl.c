/* SPDX-License-Identifier: MIT */
/*
 * kf_sasl.c — the users file and the PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512
 * server mechanisms of kf_sasl.h.  Crypto is libsodium's (HMAC-SHA-256/512,
 * SHA-256/512, base64, random bytes, constant-time compares); PBKDF2 is
 * written out here over its HMAC.  Every client message is parsed strictly
 * (RFC 5802 attribute order, base64 checked, the nonce and channel-binding
 * echo compared) and any deviation fails the session with a reason.
 */
#include "kf_sasl.h"

#include "cn_alloc.h"
#include "cn_cfg.h"
#include "cn_err.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define KF_SASL_SALT 16
#define KF_SASL_MAXH 64

static const char *const kf_sasl_names[KF_SASL_NMECH] = {KF_SASL_MECHANISMS};

const char *kf_sasl_mech_name(int mech)
{
    return mech >= 0 && mech < KF_SASL_NMECH ? kf_sasl_names[mech] : "none";
}

typedef struct kf_scram_keys {
    unsigned char salt[KF_SASL_SALT];
    unsigned char stored[KF_SASL_MAXH], server[KF_SASL_MAXH];
} kf_scram_keys;

typedef struct kf_sasl_user {
    char name[256];
    kf_scram_keys k[2]; /* [0] SHA-256, [1] SHA-512 */
} kf_sasl_user;

struct kf_sasl_users {
    kf_sasl_user *v;
    size_t n;
};

/* ---- hashes ------------------------------------------------------------ */

static size_t kf_hlen(int h)
{
    return h ? 64 : 32;
}

static void kf_hmac(int h, const unsigned char *key, size_t klen, const void *a, size_t alen,
                    const void *b, size_t blen, unsigned char *out)
{
    if (h) {
        crypto_auth_hmacsha512_state st;
        crypto_auth_hmacsha512_init(&st, key, klen);
        crypto_auth_hmacsha512_update(&st, a, alen);
        if (blen)
            crypto_auth_hmacsha512_update(&st, b, blen);
        crypto_auth_hmacsha512_final(&st, out);
    } else {
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, key, klen);
        crypto_auth_hmacsha256_update(&st, a, alen);
        if (blen)
            crypto_auth_hmacsha256_update(&st, b, blen);
        crypto_auth_hmacsha256_final(&st, out);
    }
}

static void kf_hash(int h, const unsigned char *in, size_t n, unsigned char *out)
{
    if (h)
        crypto_hash_sha512(out, in, n);
    else
        crypto_hash_sha256(out, in, n);
}

/* PBKDF2-HMAC with dkLen = hLen (RFC 8018 section 5.2, one block). */
static void kf_pbkdf2(int h, const char *pw, size_t pwlen, const unsigned char *salt,
                      size_t saltlen, unsigned iters, unsigned char *out)
{
    size_t n = kf_hlen(h);
    unsigned char u[KF_SASL_MAXH];
    static const unsigned char one[4] = {0, 0, 0, 1};
    kf_hmac(h, (const unsigned char *)pw, pwlen, salt, saltlen, one, 4, u);
    memcpy(out, u, n);
    for (unsigned i = 1; i < iters; i++) {
        kf_hmac(h, (const unsigned char *)pw, pwlen, u, n, NULL, 0, u);
        for (size_t j = 0; j < n; j++)
            out[j] ^= u[j];
    }
    sodium_memzero(u, sizeof(u));
}

/* SaltedPassword -> StoredKey and ServerKey. */
static void kf_scram_derive(int h, const char *pw, size_t pwlen, const unsigned char *salt,
                            unsigned char *stored, unsigned char *server)
{
    unsigned char salted[KF_SASL_MAXH], ck[KF_SASL_MAXH];
    kf_pbkdf2(h, pw, pwlen, salt, KF_SASL_SALT, KF_SASL_ITERATIONS, salted);
    kf_hmac(h, salted, kf_hlen(h), "Client Key", 10, NULL, 0, ck);
    kf_hash(h, ck, kf_hlen(h), stored);
    if (server)
        kf_hmac(h, salted, kf_hlen(h), "Server Key", 10, NULL, 0, server);
    sodium_memzero(salted, sizeof(salted));
    sodium_memzero(ck, sizeof(ck));
}

/* ---- users ------------------------------------------------------------- */

static int kf_sasl_add(kf_sasl_users *u, const char *name, size_t nlen, const char *pw,
                       size_t pwlen, const unsigned char *salt)
{
    if (!nlen || nlen >= sizeof(u->v[0].name) || !pwlen)
        return CN_EINVAL;
    for (size_t i = 0; i < nlen; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return CN_EINVAL;
    for (size_t i = 0; i < u->n; i++)
        if (strlen(u->v[i].name) == nlen && !memcmp(u->v[i].name, name, nlen))
            return CN_EINVAL;
    if (u->n == KF_SASL_MAX_USERS)
        return CN_ETOOBIG;
    kf_sasl_user *v = cn_realloc(u->v, (u->n + 1) * sizeof(*v));
    if (!v)
        return CN_ENOMEM;
    u->v = v;
    kf_sasl_user *x = &v[u->n++];
    memset(x, 0, sizeof(*x));
    memcpy(x->name, name, nlen);
    for (int h = 0; h < 2; h++) {
        if (salt)
            memcpy(x->k[h].salt, salt, KF_SASL_SALT);
        else
            randombytes_buf(x->k[h].salt, KF_SASL_SALT);
        kf_scram_derive(h, pw, pwlen, x->k[h].salt, x->k[h].stored, x->k[h].server);
    }
    return 0;
}

int kf_sasl_users_parse(kf_sasl_users **out, const char *text, size_t len, int *line)
{
    if (sodium_init() < 0)
        return CN_ENOMEM;
    kf_sasl_users *u = cn_calloc(1, sizeof(*u));
    if (!u)
        return CN_ENOMEM;
    *line = 0;
    const char *p = text, *end = text + len;
    int rc = 0;
    for (int ln = 1; p < end && !rc; ln++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        const char *le = e > p && e[-1] == '\r' ? e - 1 : e;
        *line = ln;
        if (le > p && *p != '#') {
            const char *colon = memchr(p, ':', (size_t)(le - p));
            rc = colon ? kf_sasl_add(u, p, (size_t)(colon - p), colon + 1, (size_t)(le - colon - 1),
                                     NULL)
                       : CN_EINVAL;
        }
        p = nl ? nl + 1 : end;
    }
    if (!rc && memchr(text, 0, len))
        rc = CN_EINVAL;
    if (rc) {
        kf_sasl_users_free(u);
        return rc;
    }
    *line = 0;
    *out = u;
    return 0;
}

int kf_sasl_users_load(kf_sasl_users **out, const char *path, int *line)
{
    *line = 0;
    struct stat st;
    if (stat(path, &st))
        return errno == ENOENT ? CN_ENOENT : CN_ESYS;
    if (S_ISREG(st.st_mode) && (st.st_mode & 077))
        return CN_EPERM;
    /* The common small-file reader: regular files only, at most 1 MiB,
     * short reads retried. */
    char *buf;
    size_t n;
    int rc = cn_cfg_read_file(path, &buf, &n);
    if (rc)
        return rc;
    rc = kf_sasl_users_parse(out, buf, n, line);
    sodium_memzero(buf, n);
    cn_free(buf);
    return rc;
}

int kf_sasl_users_add(kf_sasl_users *u, const char *name, const char *pw, const unsigned char *salt)
{
    return kf_sasl_add(u, name, strlen(name), pw, strlen(pw), salt);
}

void kf_sasl_users_free(kf_sasl_users *u)
{
    if (!u)
        return;
    if (u->v)
        sodium_memzero(u->v, u->n * sizeof(*u->v));
    cn_free(u->v);
    cn_free(u);
}

size_t kf_sasl_users_count(const kf_sasl_users *u)
{
    return u ? u->n : 0;
}

int kf_sasl_mech(const char *name, size_t len)
{
    for (int i = 0; i < KF_SASL_NMECH; i++)
        if (strlen(kf_sasl_names[i]) == len && !memcmp(kf_sasl_names[i], name, len))
            return i;
    return -1;
}

static int kf_sasl_find(const kf_sasl_users *u, const char *name, size_t n)
{
    for (size_t i = 0; u && i < u->n; i++)
        if (strlen(u->v[i].name) == n && !memcmp(u->v[i].name, name, n))
            return (int)i;
    return -1;
}

/* ---- sessions ---------------------------------------------------------- */

void kf_sasl_sess_init(kf_sasl_sess *s, const kf_sasl_users *users, int mech)
{
    memset(s, 0, sizeof(*s));
    s->users = users;
    s->mech = mech;
    s->user = -1;
}

static int kf_sasl_fail(kf_sasl_sess *s, const char *why)
{
    snprintf(s->fail, sizeof(s->fail), "%s", why);
    s->stage = 3;
    return CN_EAUTH;
}

/* PLAIN: [authzid] NUL authcid NUL passwd. */
static int kf_sasl_plain(kf_sasl_sess *s, const unsigned char *in, size_t n)
{
    const unsigned char *z1 = memchr(in, 0, n);
    const unsigned char *z2 = z1 ? memchr(z1 + 1, 0, n - (size_t)(z1 + 1 - in)) : NULL;
    if (!z2)
        return kf_sasl_fail(s, "malformed PLAIN message");
    size_t azlen = (size_t)(z1 - in), nlen = (size_t)(z2 - z1 - 1),
           pwlen = n - (size_t)(z2 + 1 - in);
    const char *name = (const char *)z1 + 1;
    snprintf(s->name, sizeof(s->name), "%.*s", (int)(nlen < 255 ? nlen : 255), name);
    if (azlen && (azlen != nlen || memcmp(in, name, nlen)))
        return kf_sasl_fail(s, "PLAIN authorization id differs from the user");
    int u = kf_sasl_find(s->users, name, nlen);
    unsigned char stored[KF_SASL_MAXH];
    /* A missing user costs the same derivation, so timing does not tell. */
    static const unsigned char dummy[KF_SASL_SALT];
    kf_scram_derive(0, (const char *)z2 + 1, pwlen, u >= 0 ? s->users->v[u].k[0].salt : dummy,
                    stored, NULL);
    int ok = u >= 0 && !sodium_memcmp(stored, s->users->v[u].k[0].stored, 32);
    sodium_memzero(stored, sizeof(stored));
    if (!ok)
        return kf_sasl_fail(s, "wrong user name or password");
    s->user = u;
    s->stage = 2;
    return KF_SASL_OK;
}

/* "n=" saslname: '=2C' is ',' and '=3D' is '='; any other '=' is an error. */
static int kf_sasl_unescape(const char *in, size_t n, char *out, size_t cap, size_t *outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '=') {
            if (i + 2 >= n)
                return -1;
            if (in[i + 1] == '2' && in[i + 2] == 'C')
                c = ',';
            else if (in[i + 1] == '3' && in[i + 2] == 'D')
                c = '=';
            else
                return -1;
            i += 2;
        }
        if (o + 1 >= cap || !c)
            return -1;
        out[o++] = c;
    }
    out[o] = 0;
    *outlen = o;
    return 0;
}

/* client-first: gs2-header client-first-bare, with gs2-header "n,," or
 * "n,a=NAME," (no channel binding) and bare "n=NAME,r=NONCE[,ext...]". */
static int kf_sasl_scram_first(kf_sasl_sess *s, const unsigned char *in, size_t n,
                               unsigned char *out, size_t cap, size_t *outlen)
{
    const char *m = (const char *)in;
    if (n < 3 || m[0] != 'n' || m[1] != ',')
        return kf_sasl_fail(s, "SCRAM: channel binding is not supported (want 'n,')");
    const char *c2 = memchr(m + 2, ',', n - 2);
    if (!c2)
        return kf_sasl_fail(s, "SCRAM: malformed GS2 header");
    const char *bare = c2 + 1;
    size_t blen = n - (size_t)(bare - m);
    if ((size_t)(bare - m) >= sizeof(s->gs2))
        return kf_sasl_fail(s, "SCRAM: malformed GS2 header");
    memcpy(s->gs2, m, (size_t)(bare - m));
    s->gs2[bare - m] = 0;
    if (blen >= sizeof(s->client_first_bare) || blen < 6 || memcmp(bare, "n=", 2))
        return kf_sasl_fail(s, "SCRAM: malformed client-first message");
    memcpy(s->client_first_bare, bare, blen);
    s->client_first_bare[blen] = 0;
    const char *nend = memchr(bare, ',', blen);
    if (!nend || (size_t)(bare + blen - nend) < 4 || memcmp(nend, ",r=", 3))
        return kf_sasl_fail(s, "SCRAM: malformed client-first message");
    size_t nlen;
    if (kf_sasl_unescape(bare + 2, (size_t)(nend - bare - 2), s->name, sizeof(s->name), &nlen))
        return kf_sasl_fail(s, "SCRAM: malformed user name");
    const char *r = nend + 3, *rend = memchr(r, ',', (size_t)(bare + blen - r));
    size_t rlen = rend ? (size_t)(rend - r) : (size_t)(bare + blen - r);
    if (!rlen || rlen > 64)
        return kf_sasl_fail(s, "SCRAM: bad client nonce");
    for (size_t i = 0; i < rlen; i++)
        if (r[i] < 0x21 || r[i] > 0x7e || r[i] == ',')
            return kf_sasl_fail(s, "SCRAM: bad client nonce");
    if (rend && (size_t)(bare + blen - rend) >= 11 && !memcmp(rend, ",tokenauth=", 11))
        return kf_sasl_fail(s, "SCRAM: delegation tokens are not supported");
    /* An unknown user gets a fake challenge; it fails at the proof. */
    s->user = kf_sasl_find(s->users, s->name, nlen);
    char snonce[48];
    if (s->test_server_nonce) {
        snprintf(snonce, sizeof(snonce), "%s", s->test_server_nonce);
    } else {
        unsigned char rb[24];
        randombytes_buf(rb, sizeof(rb));
        sodium_bin2base64(snonce, sizeof(snonce), rb, sizeof(rb), sodium_base64_VARIANT_ORIGINAL);
    }
    snprintf(s->nonce, sizeof(s->nonce), "%.*s%s", (int)rlen, r, snonce);
    int h = s->mech == 2;
    unsigned char fake_salt[KF_SASL_SALT];
    const unsigned char *salt = fake_salt;
    if (s->user >= 0)
        salt = s->users->v[s->user].k[h].salt;
    else
        crypto_generichash(fake_salt, sizeof(fake_salt), (const unsigned char *)s->name, nlen, NULL,
                           0);
    char salt64[64];
    sodium_bin2base64(salt64, sizeof(salt64), salt, KF_SASL_SALT, sodium_base64_VARIANT_ORIGINAL);
    int k = snprintf(s->server_first, sizeof(s->server_first), "r=%s,s=%s,i=%d", s->nonce, salt64,
                     KF_SASL_ITERATIONS);
    if (k < 0 || (size_t)k >= cap || (size_t)k >= sizeof(s->server_first))
        return kf_sasl_fail(s, "SCRAM: message too long");
    memcpy(out, s->server_first, (size_t)k);
    *outlen = (size_t)k;
    s->stage = 1;
    return KF_SASL_CONTINUE;
}

/* client-final: "c=" base64(gs2 header) ",r=" nonce [",ext"] ",p=" proof. */
static int kf_sasl_scram_final(kf_sasl_sess *s, const unsigned char *in, size_t n,
                               unsigned char *out, size_t cap, size_t *outlen)
{
    const char *m = (const char *)in;
    const char *pp = NULL;
    for (size_t i = n; i-- > 3;)
        if (!memcmp(m + i - 3, ",p=", 3)) {
            pp = m + i - 3;
            break;
        }
    if (!pp || n < 5 || memcmp(m, "c=", 2))
        return kf_sasl_fail(s, "SCRAM: malformed client-final message");
    const char *c_end = memchr(m, ',', n);
    if (!c_end || c_end > pp)
        return kf_sasl_fail(s, "SCRAM: malformed client-final message");
    /* c= is the base64 of the GS2 header the client-first message began with. */
    char gs2b64[sizeof(s->gs2) * 2];
    sodium_bin2base64(gs2b64, sizeof(gs2b64), (const unsigned char *)s->gs2, strlen(s->gs2),
                      sodium_base64_VARIANT_ORIGINAL);
    if ((size_t)(c_end - m - 2) != strlen(gs2b64) || memcmp(m + 2, gs2b64, strlen(gs2b64)))
        return kf_sasl_fail(s, "SCRAM: channel-binding echo differs from the GS2 header");
    const char *r = c_end + 1;
    if ((size_t)(pp - r) < 3 || memcmp(r, "r=", 2))
        return kf_sasl_fail(s, "SCRAM: malformed client-final message");
    const char *rend = memchr(r, ',', (size_t)(pp - r) + 1);
    size_t nl = strlen(s->nonce), rl = rend ? (size_t)(rend - r - 2) : 0;
    /* The nonce must end with the one we sent (Apache Kafka's rule:
     * librdkafka sends its client nonce again in front of it). */
    if (!rend || rl < nl || memcmp(r + 2 + rl - nl, s->nonce, nl))
        return kf_sasl_fail(s, "SCRAM: nonce mismatch");
    int h = s->mech == 2;
    size_t hl = kf_hlen(h);
    unsigned char proof[KF_SASL_MAXH + 8];
    size_t plen = 0;
    if (sodium_base642bin(proof, sizeof(proof), pp + 3, n - (size_t)(pp + 3 - m), NULL, &plen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) ||
        plen != hl)
        return kf_sasl_fail(s, "SCRAM: malformed proof");
    /* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
    char auth[1600];
    int al = snprintf(auth, sizeof(auth), "%s,%s,%.*s", s->client_first_bare, s->server_first,
                      (int)(pp - m), m);
    if (al < 0 || (size_t)al >= sizeof(auth))
        return kf_sasl_fail(s, "SCRAM: message too long");
    if (s->user < 0)
        return kf_sasl_fail(s, "wrong user name or password");
    const kf_scram_keys *k = &s->users->v[s->user].k[h];
    unsigned char sig[KF_SASL_MAXH], ck[KF_SASL_MAXH], stored[KF_SASL_MAXH];
    kf_hmac(h, k->stored, hl, auth, (size_t)al, NULL, 0, sig);
    for (size_t i = 0; i < hl; i++)
        ck[i] = proof[i] ^ sig[i];
    kf_hash(h, ck, hl, stored);
    if (sodium_memcmp(stored, k->stored, hl))
        return kf_sasl_fail(s, "wrong user name or password");
    kf_hmac(h, k->server, hl, auth, (size_t)al, NULL, 0, sig);
    char v64[128];
    sodium_bin2base64(v64, sizeof(v64), sig, hl, sodium_base64_VARIANT_ORIGINAL);
    int ol = snprintf((char *)out, cap, "v=%s", v64);
    if (ol < 0 || (size_t)ol >= cap)
        return kf_sasl_fail(s, "SCRAM: message too long");
    *outlen = (size_t)ol;
    s->stage = 2;
    return KF_SASL_OK;
}

int kf_sasl_step(kf_sasl_sess *s, const unsigned char *in, size_t inlen, unsigned char *out,
                 size_t cap, size_t *outlen)
{
    *outlen = 0;
    if (s->mech < 0 || s->stage >= 2)
        return kf_sasl_fail(s, "no authentication expected now");
    if (s->mech == 0)
        return kf_sasl_plain(s, in, inlen);
    if (s->stage == 0)
        return kf_sasl_scram_first(s, in, inlen, out, cap, outlen);
    return kf_sasl_scram_final(s, in, inlen, out, cap, outlen);
}
