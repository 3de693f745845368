/* SPDX-License-Identifier: MIT */
/*
 * kf_sasl.h — SASL authentication for the Kafka listener: the users file,
 * and the server side of the mechanisms Kafka clients speak: PLAIN
 * (RFC 4616) and SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677).
 *
 * Users file (--sasl-users FILE): one "name:password" per line ('#'
 * comments and blank lines allowed; the password is everything after the
 * first ':').  Refused when other users may read it.  Passwords are not
 * kept: at load each user gets a random salt, and only the SCRAM keys
 * (StoredKey, ServerKey, 4096 PBKDF2 iterations) are held in memory, per
 * hash; PLAIN is checked by deriving the same StoredKey.
 *
 * Pure: no sockets, no event loop; one kf_sasl_sess per connection, owned
 * by the caller.  Any thread.
 */
#ifndef KF_SASL_H
#define KF_SASL_H

#include <stddef.h>
#include <stdint.h>

typedef struct kf_sasl_users kf_sasl_users; /* struct kf_sasl_users in kf_server.h */

/** Mechanism names, as SaslHandshake lists them. */
#define KF_SASL_MECHANISMS "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"
#define KF_SASL_NMECH 3
#define KF_SASL_ITERATIONS 4096
#define KF_SASL_MAX_USERS 10000

/**
 * Load a users file.  @return 0; CN_ENOENT; CN_EPERM (group or others may
 * read it); CN_EINVAL with *line set (a line without ':', an empty name or
 * password, a name over 255 bytes or with a control character, a name
 * twice); CN_ETOOBIG (over KF_SASL_MAX_USERS or 1 MiB); CN_ESYS.
 */
int kf_sasl_users_load(kf_sasl_users **out, const char *path, int *line);
/** The same from text (tests, fuzzing): no permission check. */
int kf_sasl_users_parse(kf_sasl_users **out, const char *text, size_t len, int *line);
/** Add one user; salt (16 bytes) NULL for a random one (tests pass a
 *  published vector's).  @return 0, CN_EINVAL, CN_ETOOBIG, CN_ENOMEM. */
int kf_sasl_users_add(kf_sasl_users *u, const char *name, const char *pw,
                      const unsigned char *salt);
void kf_sasl_users_free(kf_sasl_users *u);
size_t kf_sasl_users_count(const kf_sasl_users *u);

/** Index of a mechanism name in KF_SASL_MECHANISMS, or -1. */
int kf_sasl_mech(const char *name, size_t len);
/** The name of mechanism index mech ("none" outside the table). */
const char *kf_sasl_mech_name(int mech);

enum { KF_SASL_CONTINUE = 1, KF_SASL_OK = 0 };

typedef struct kf_sasl_sess {
    const kf_sasl_users *users;
    int mech;      /* kf_sasl_mech(); -1 before a handshake */
    int stage;     /* SCRAM: 0 expect client-first, 1 expect client-final, 2 done */
    int user;      /* index of the user being authenticated, -1 */
    char gs2[128]; /* the GS2 header of the client-first message */
    char nonce[160];
    char client_first_bare[640];
    char server_first[400];
    char fail[128]; /* why, for the log and the error message */
    char name[256]; /* the authenticated (or claimed) user */
    /* Tests inject the server nonce (RFC 7677's example); NULL: random. */
    const char *test_server_nonce;
} kf_sasl_sess;

void kf_sasl_sess_init(kf_sasl_sess *s, const kf_sasl_users *users, int mech);

/**
 * Feed one client message; the reply (possibly empty) goes to out (cap
 * bytes; 512 is always enough), its length to *outlen.
 * @return KF_SASL_CONTINUE (send the reply, expect another message),
 *         KF_SASL_OK (send the reply: authenticated as s->name), or
 *         CN_EAUTH (wrong user or password, or a malformed message:
 *         s->fail says which; nothing more is accepted on the session).
 */
int kf_sasl_step(kf_sasl_sess *s, const unsigned char *in, size_t inlen, unsigned char *out,
                 size_t cap, size_t *outlen);

#endif
