/* SPDX-License-Identifier: MIT */
/*
 * auth_token_keys.c — the token key files.
 *
 * Format: one text line each, so a key can be inspected, copied and
 * diffed with ordinary tools, and the kind of key is visible:
 *   FILE      "cairn-ed25519-secret:" base64(64-byte libsodium secret key) "\n"   mode 0600
 *   FILE.pub  "cairn-ed25519-public:" base64(32-byte public key) "\n"             mode 0644
 * Guarantees: keys are never overwritten (O_EXCL); the secret file is
 * 0600 regardless of umask; both files are fsynced, and the directory too,
 * before success is reported; if writing the public half fails the secret
 * half is removed, so a failed keygen leaves nothing behind.  Reading
 * checks the prefix, the exact length and (secret) that the embedded
 * public half matches the seed.  Called from the CLI thread or at gateway
 * start-up; no state kept.
 */
#include "auth.h"

#include "cn_err.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char auth_sk_prefix[] = "cairn-ed25519-secret:";
static const char auth_pk_prefix[] = "cairn-ed25519-public:";

static int write_all_sync(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return cn_err_from_errno(w < 0 ? errno : EIO);
        p += w;
        n -= (size_t)w;
    }
    return fsync(fd) ? cn_err_from_errno(errno) : 0;
}

static int write_key_file(const char *path, const char *prefix, const unsigned char *key,
                          size_t klen, mode_t mode)
{
    char line[256];
    size_t pl = strlen(prefix);
    memcpy(line, prefix, pl);
    sodium_bin2base64(line + pl, sizeof(line) - pl - 1, key, klen, sodium_base64_VARIANT_ORIGINAL);
    size_t n = strlen(line);
    line[n++] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return errno == EEXIST ? CN_EEXIST : cn_err_from_errno(errno);
    int rc = fchmod(fd, mode) ? cn_err_from_errno(errno) : write_all_sync(fd, line, n);
    sodium_memzero(line, sizeof(line));
    if (close(fd) && !rc)
        rc = cn_err_from_errno(errno);
    if (rc)
        unlink(path);
    return rc;
}

static void sync_parent_dir(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    int fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: the files themselves are synced */
        close(fd);
    }
}

int auth_token_write_keys(const char *path, const unsigned char pk[AUTH_TOKEN_PK_LEN],
                          const unsigned char sk[AUTH_TOKEN_SK_LEN])
{
    char pub[4096];
    if ((size_t)snprintf(pub, sizeof(pub), "%s.pub", path) >= sizeof(pub))
        return CN_EINVAL;
    if (access(pub, F_OK) == 0)
        return CN_EEXIST; /* checked first so we do not create the secret in vain */
    int rc = write_key_file(path, auth_sk_prefix, sk, AUTH_TOKEN_SK_LEN, 0600);
    if (rc)
        return rc;
    rc = write_key_file(pub, auth_pk_prefix, pk, AUTH_TOKEN_PK_LEN, 0644);
    if (rc) {
        unlink(path);
        return rc;
    }
    sync_parent_dir(path);
    return 0;
}

/* Read "PREFIX base64\n" from path and decode exactly klen bytes into key. */
static int read_key_file(const char *path, const char *prefix, unsigned char *key, size_t klen)
{
    char buf[512];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cn_err_from_errno(errno);
    ssize_t n = read(fd, buf, sizeof(buf));
    int e = errno;
    close(fd);
    if (n < 0)
        return cn_err_from_errno(e);
    int rc = AUTH_EKEYFILE;
    size_t len = (size_t)n, pl = strlen(prefix);
    if (len < sizeof(buf) && len > pl && memcmp(buf, prefix, pl) == 0) {
        if (buf[len - 1] == '\n')
            len--;
        size_t out = 0;
        const char *end = NULL;
        if (sodium_base642bin(key, klen, buf + pl, len - pl, NULL, &out, &end,
                              sodium_base64_VARIANT_ORIGINAL) == 0 &&
            out == klen && end == buf + len)
            rc = 0;
    }
    sodium_memzero(buf, sizeof(buf));
    return rc;
}

int auth_token_read_secret(const char *path, unsigned char sk[AUTH_TOKEN_SK_LEN])
{
    int rc = read_key_file(path, auth_sk_prefix, sk, AUTH_TOKEN_SK_LEN);
    if (rc)
        return rc;
    /* The secret key carries its public half: check it matches the seed. */
    unsigned char seed[crypto_sign_SEEDBYTES], pk[AUTH_TOKEN_PK_LEN], sk2[AUTH_TOKEN_SK_LEN];
    if (sodium_init() < 0)
        return CN_ESYS;
    crypto_sign_ed25519_sk_to_seed(seed, sk);
    crypto_sign_seed_keypair(pk, sk2, seed);
    rc = sodium_memcmp(sk2, sk, AUTH_TOKEN_SK_LEN) == 0 ? 0 : AUTH_EKEYFILE;
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(sk2, sizeof(sk2));
    return rc;
}

int auth_token_read_public(const char *path, unsigned char pk[AUTH_TOKEN_PK_LEN])
{
    return read_key_file(path, auth_pk_prefix, pk, AUTH_TOKEN_PK_LEN);
}
