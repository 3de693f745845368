/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gw_ping.c — libFuzzer target for player protocol v1 payloads.
 * Byte 0 even: the rest is a text frame (JSON); odd: a binary frame
 * (protobuf PingBatch).  Checks on every input: the batch stays within
 * its bounds; every accepted ping obeys the rules (valid ids, unique ids,
 * rssi and ts in range); every error has a known code; the error and ack
 * payloads we would send back parse as JSON / protobuf and echo the ids;
 * and for text frames the fast path (gw_ping_fast.c) plus jansson gives
 * exactly the batch jansson alone gives.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn.pb-c.h"
#include "gw_ping_int.h"

#define FZ_NOW 1764320000123LL

static int fz_known_code(const char *c)
{
    static const char *codes[] = {GW_PE_BAD_JSON,    GW_PE_BAD_PROTOBUF, GW_PE_NOT_PING,
                                  GW_PE_EMPTY_BATCH, GW_PE_TOO_MANY,     GW_PE_MISSING_ID,
                                  GW_PE_BAD_ID,      GW_PE_DUPLICATE_ID, GW_PE_MISSING_BEACON,
                                  GW_PE_BAD_BEACON,  GW_PE_MISSING_RSSI, GW_PE_BAD_RSSI,
                                  GW_PE_MISSING_TS,  GW_PE_BAD_TS};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (c && strcmp(c, codes[i]) == 0)
            return 1;
    return 0;
}

static void fz_check_batch(const gw_ping_batch *b, const gw_ping_limits *lim)
{
    if (b->n > lim->max_batch || b->nerr > lim->max_batch + 1)
        abort();
    for (size_t i = 0; i < b->n; i++) {
        const gw_ping *p = &b->pings[i];
        if (!cn_id_valid(p->id, strlen(p->id)) || !cn_id_valid(p->beacon, strlen(p->beacon)))
            abort();
        if (p->rssi < lim->rssi_min || p->rssi > lim->rssi_max)
            abort();
        if (p->ts < FZ_NOW - lim->ts_past_ms || p->ts > FZ_NOW + lim->ts_future_ms)
            abort();
        for (size_t k = 0; k < i; k++)
            if (strcmp(b->pings[k].id, p->id) == 0)
                abort();
    }
    for (size_t i = 0; i < b->nerr; i++)
        if (!fz_known_code(b->errs[i].code) ||
            (b->errs[i].id[0] && !cn_id_valid(b->errs[i].id, strlen(b->errs[i].id))))
            abort();
}

static void fz_check_output(const gw_ping_batch *b)
{
    const char *ids[64];
    for (size_t i = 0; i < b->n; i++)
        ids[i] = b->pings[i].id;
    cn_buf o = CN_BUF_INIT;
    if (gw_ping_ack_json(&o, ids, b->n))
        abort();
    json_error_t je;
    json_t *v = json_loadb((const char *)o.data, o.len, JSON_REJECT_DUPLICATES, &je);
    if (!v || json_array_size(json_object_get(v, "ack")) != b->n)
        abort();
    json_decref(v);
    for (size_t i = 0; i < b->nerr; i++) {
        cn_buf_reset(&o);
        if (gw_ping_error_json(&o, &b->errs[i]))
            abort();
        v = json_loadb((const char *)o.data, o.len, JSON_REJECT_DUPLICATES, &je);
        if (!v || strcmp(json_string_value(json_object_get(v, "error")), b->errs[i].code) != 0)
            abort();
        json_decref(v);
    }
    cn_buf_reset(&o);
    if (gw_ping_ack_pb(&o, ids, b->n, b->errs, b->nerr))
        abort();
    Cairn__V1__Ack *ack = cairn__v1__ack__unpack(NULL, o.len, o.data);
    if (!ack || ack->n_ids != b->n || ack->n_errors != b->nerr)
        abort();
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(ack->ids[i], ids[i]) != 0)
            abort();
    cairn__v1__ack__free_unpacked(ack, NULL);
    cn_buf_free(&o);
}

static void fz_same_batches(const gw_ping_batch *a, const gw_ping_batch *b)
{
    if (a->n != b->n || a->nerr != b->nerr)
        abort();
    for (size_t i = 0; i < a->n; i++)
        if (memcmp(&a->pings[i], &b->pings[i], sizeof(gw_ping)) != 0)
            abort();
    for (size_t i = 0; i < a->nerr; i++) {
        const gw_ping_error *x = &a->errs[i], *y = &b->errs[i];
        if (strcmp(x->code, y->code) || strcmp(x->id, y->id) || strcmp(x->detail, y->detail) ||
            x->index != y->index)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const gw_ping_limits lim = GW_PING_LIMITS_DEFAULT;
    gw_ping_batch b;
    if (gw_ping_batch_init(&b, lim.max_batch))
        return 0;
    int rc = (data[0] & 1) ? gw_ping_parse_pb(data + 1, size - 1, &lim, FZ_NOW, &b)
                           : gw_ping_parse_json((const char *)data + 1, size - 1, &lim, FZ_NOW, &b);
    if (rc == 0 && !(data[0] & 1)) {
        gw_ping_batch ref;
        if (gw_ping_batch_init(&ref, lim.max_batch) == 0) {
            if (gw__ping_parse_json_slow((const char *)data + 1, size - 1, &lim, FZ_NOW, &ref) == 0)
                fz_same_batches(&b, &ref);
            gw_ping_batch_free(&ref);
        }
    }
    if (rc == 0) {
        if (b.n + b.nerr == 0)
            abort(); /* every frame gets an answer: an ack or an error */
        fz_check_batch(&b, &lim);
        fz_check_output(&b);
    }
    gw_ping_batch_free(&b);
    return 0;
}
