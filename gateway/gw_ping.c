/* SPDX-License-Identifier: MIT */
/*
 * gw_ping.c — the validation rules of a player ping (protocol v1) and the
 * batch that collects a frame's accepted pings and errors.  The JSON and
 * protobuf decoders (gw_ping_json.c, gw_ping_pb.c) only decode; every rule
 * lives here so both encodings accept exactly the same pings.
 *
 * Rules, checked in this order, first failure wins (one error per ping):
 *   id      present, a string, cn_id_valid          missing_id / bad_id
 *           not seen earlier in the same frame      duplicate_id
 *   beacon  present, a string, cn_id_valid          missing_beacon / bad_beacon
 *   rssi    present, an integer in [rssi_min, rssi_max]   missing_rssi / bad_rssi
 *   ts      present, an integer in [now - ts_past, now + ts_future]  missing_ts / bad_ts
 * Unknown fields are ignored (forward compatibility).
 *
 * Guarantees: a batch never holds more than cap pings plus cap+1 errors
 * (the decoders refuse frames over max_batch before adding any).
 * Threads: a batch is used by one thread at a time.  Ownership: the caller
 * owns the batch; arrays come from cn_alloc.
 */
#include "gw_ping_int.h"

#include "cn_alloc.h"
#include "cn_err.h"

#include <stdio.h>
#include <string.h>

int gw_ping_batch_init(gw_ping_batch *b, size_t max_batch)
{
    memset(b, 0, sizeof(*b));
    b->pings = cn_calloc(max_batch ? max_batch : 1, sizeof(gw_ping));
    /* +1: a frame-level error can follow per-ping ones only in theory, but
     * the bound must not depend on decoder details. */
    b->errs = cn_calloc(max_batch + 1, sizeof(gw_ping_error));
    if (!b->pings || !b->errs) {
        gw_ping_batch_free(b);
        return CN_ENOMEM;
    }
    b->cap = max_batch;
    return 0;
}

void gw_ping_batch_free(gw_ping_batch *b)
{
    if (!b)
        return;
    cn_free(b->pings);
    cn_free(b->errs);
    memset(b, 0, sizeof(*b));
}

int gw__ping_begin(gw_ping_batch *b, const gw_ping_limits *lim)
{
    if (!b->pings || b->cap < lim->max_batch)
        return CN_EINVAL;
    b->n = 0;
    b->nerr = 0;
    return 0;
}

static gw_ping_error *err_slot(gw_ping_batch *b)
{
    if (b->nerr >= b->cap + 1)
        return NULL; /* cannot happen with a conforming decoder; drop rather than overflow */
    gw_ping_error *e = &b->errs[b->nerr++];
    memset(e, 0, sizeof(*e));
    return e;
}

void gw__ping_frame_error(gw_ping_batch *b, const char *code, const char *detail)
{
    gw_ping_error *e = err_slot(b);
    if (!e)
        return;
    e->code = code;
    e->index = -1;
    snprintf(e->detail, sizeof(e->detail), "%s", detail);
}

static void ping_error(gw_ping_batch *b, const gw__ping_in *in, int32_t index, const char *code,
                       const char *detail)
{
    gw_ping_error *e = err_slot(b);
    if (!e)
        return;
    e->code = code;
    e->index = index;
    snprintf(e->detail, sizeof(e->detail), "%s", detail);
    if (in && in->id_f == GW_F_OK && cn_id_valid(in->id, in->id_len))
        memcpy(e->id, in->id, in->id_len);
}

void gw__ping_error_at(gw_ping_batch *b, int32_t index, const char *code, const char *detail)
{
    ping_error(b, NULL, index, code, detail);
}

static int id_taken(const gw_ping_batch *b, const char *id, size_t len)
{
    for (size_t i = 0; i < b->n; i++)
        if (strlen(b->pings[i].id) == len && memcmp(b->pings[i].id, id, len) == 0)
            return 1;
    for (size_t i = 0; i < b->nerr; i++)
        if (strlen(b->errs[i].id) == len && memcmp(b->errs[i].id, id, len) == 0)
            return 1;
    return 0;
}

/* Returns the error code for in, or NULL if it is a valid ping; *detail
 * explains.  Order matters: see the file comment. */
static const char *ping_check(const gw_ping_batch *b, const gw__ping_in *in,
                              const gw_ping_limits *lim, int64_t now_ms, const char **detail)
{
    if (in->id_f == GW_F_MISSING)
        return *detail = "\"id\" is required", GW_PE_MISSING_ID;
    if (in->id_f != GW_F_OK || !cn_id_valid(in->id, in->id_len))
        return *detail = "\"id\" must be a string of 1-64 characters A-Z a-z 0-9 . _ : @ -",
               GW_PE_BAD_ID;
    if (id_taken(b, in->id, in->id_len))
        return *detail = "\"id\" appears twice in this frame", GW_PE_DUPLICATE_ID;
    if (in->beacon_f == GW_F_MISSING)
        return *detail = "\"beacon\" is required", GW_PE_MISSING_BEACON;
    if (in->beacon_f != GW_F_OK || !cn_id_valid(in->beacon, in->beacon_len))
        return *detail = "\"beacon\" must be a string of 1-64 characters A-Z a-z 0-9 . _ : @ -",
               GW_PE_BAD_BEACON;
    if (in->rssi_f == GW_F_MISSING)
        return *detail = "\"rssi\" is required", GW_PE_MISSING_RSSI;
    if (in->rssi_f != GW_F_OK || in->rssi < lim->rssi_min || in->rssi > lim->rssi_max)
        return *detail = "\"rssi\" must be an integer dBm within the allowed range", GW_PE_BAD_RSSI;
    if (in->ts_f == GW_F_MISSING)
        return *detail = "\"ts\" is required (ms since the Unix epoch)", GW_PE_MISSING_TS;
    if (in->ts_f != GW_F_OK || in->ts < now_ms - lim->ts_past_ms ||
        in->ts > now_ms + lim->ts_future_ms)
        return *detail = "\"ts\" must be integer ms since the Unix epoch, near the gateway's clock",
               GW_PE_BAD_TS;
    return NULL;
}

void gw__ping_add(gw_ping_batch *b, const gw__ping_in *in, const gw_ping_limits *lim,
                  int64_t now_ms, int32_t index)
{
    const char *detail = NULL;
    const char *code = ping_check(b, in, lim, now_ms, &detail);
    if (code) {
        ping_error(b, in, index, code, detail);
        return;
    }
    if (b->n >= b->cap)
        return; /* decoders check the count first; never overflow */
    gw_ping *p = &b->pings[b->n++];
    memset(p, 0, sizeof(*p));
    memcpy(p->id, in->id, in->id_len);
    memcpy(p->beacon, in->beacon, in->beacon_len);
    p->rssi = (int32_t)in->rssi;
    p->ts = in->ts;
}
