/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kf_sasl.c — libFuzzer target for the Kafka listener's SASL server
 * (log/kafka/kf_sasl.c), which reads what unauthenticated clients send.
 * Byte 0 picks the mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); the
 * rest, split at 0xff bytes, is the sequence of client messages.  Checks:
 * replies fit the buffer; after a failure every later message fails; a
 * SCRAM session never authenticates (the fuzzer cannot know the key); a
 * session says OK at most once.  Short inputs are also parsed as a users
 * file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cn_err.h"
#include "kf_sasl.h"

static kf_sasl_users *fz_users;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int line;
    if (!fz_users && kf_sasl_users_parse(&fz_users, "bob:hunter2\n", 12, &line))
        abort();
    if (size < 1)
        return 0;
    if (size < 48) {
        kf_sasl_users *u = NULL;
        if (kf_sasl_users_parse(&u, (const char *)data, size, &line) == 0)
            kf_sasl_users_free(u);
    }
    kf_sasl_sess s;
    int mech = data[0] % KF_SASL_NMECH;
    kf_sasl_sess_init(&s, fz_users, mech);
    const uint8_t *p = data + 1, *end = data + size;
    int failed = 0, oks = 0;
    while (p <= end) {
        const uint8_t *q = memchr(p, 0xff, (size_t)(end - p));
        size_t n = q ? (size_t)(q - p) : (size_t)(end - p);
        unsigned char out[512];
        size_t outlen = 0;
        int rc = kf_sasl_step(&s, p, n, out, sizeof(out), &outlen);
        if (outlen > sizeof(out))
            abort();
        if (failed && rc != CN_EAUTH)
            abort();
        if (rc == CN_EAUTH)
            failed = 1;
        if (rc == KF_SASL_OK && (mech != 0 || ++oks > 1))
            abort();
        if (rc == KF_SASL_OK)
            failed = 1; /* nothing more is accepted after the end */
        if (!q)
            break;
        p = q + 1;
    }
    return 0;
}
