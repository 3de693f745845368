/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sim_proto.c — libFuzzer target for what `cairn sim` parses from a
 * gateway (sim_proto.h).  Byte 0 picks the parser.
 *   ack frames: whenever the fast reader accepts a (valid UTF-8, as the
 *   WebSocket layer guarantees) text frame, jansson must read the same
 *   frame as {"ack":[...]} with exactly the same ids in the same order;
 *   upgrade answers: the head length never exceeds the input, success
 *   means status 101 and the expected accept key, and the verdict is the
 *   same whether the head arrives whole or byte by byte (as the
 *   simulator re-parses a growing buffer).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cn_err.h"
#include "sim_proto.h"
#include "cn_utf8.h"

#define FZ_MAX_IDS 4096

typedef struct fz_ids {
    const char *p[FZ_MAX_IDS];
    size_t len[FZ_MAX_IDS];
    size_t n;
} fz_ids;

static void fz_id(void *ud, const char *p, size_t len)
{
    fz_ids *ids = ud;
    if (ids->n < FZ_MAX_IDS) {
        ids->p[ids->n] = p;
        ids->len[ids->n] = len;
    }
    ids->n++;
}

static void fz_acks(const char *m, size_t n)
{
    static fz_ids ids;
    ids.n = 0;
    if (sim_parse_acks(m, n, fz_id, &ids) != 0 || !cn_utf8_valid((const unsigned char *)m, n))
        return;
    json_error_t e;
    json_t *j = json_loadb(m, n, JSON_REJECT_DUPLICATES, &e);
    json_t *a = j ? json_object_get(j, "ack") : NULL;
    if (!json_is_array(a) || json_object_size(j) != 1 || json_array_size(a) != ids.n)
        abort();
    for (size_t i = 0; i < ids.n && i < FZ_MAX_IDS; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_string(v) || json_string_length(v) != ids.len[i] ||
            memcmp(json_string_value(v), ids.p[i], ids.len[i]))
            abort();
    }
    json_decref(j);
}

static void fz_head(const char *m, size_t n)
{
    static const char accept[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
    int st, st2 = 0;
    size_t hl = 0, hl2 = 0;
    int rc = sim_parse_head(m, n, accept, &st, &hl);
    if (rc == 0 && (st != 101 || hl > n || hl < 4 || memcmp(m + hl - 4, "\r\n\r\n", 4) ||
                    !memmem(m, hl, accept, 28)))
        abort();
    if (rc != 0 && rc != CN_WANT_MORE && rc != WS_EHANDSHAKE)
        abort();
    /* Byte by byte: the first non-WANT_MORE verdict must match. */
    int rc2 = CN_WANT_MORE;
    for (size_t k = 1; k <= n && rc2 == CN_WANT_MORE; k++)
        rc2 = sim_parse_head(m, k, accept, &st2, &hl2);
    if (rc2 != rc || (rc == 0 && hl2 != hl))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *m = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] & 1)
        fz_head(m, n > 9000 ? 9000 : n);
    else
        fz_acks(m, n);
    return 0;
}
