/* SPDX-License-Identifier: MIT */
/*
 * gw_ping.h — player protocol v1 payloads (docs/protocol.md):
 * pings in (a text frame with one JSON ping or a JSON array of them, or a
 * binary frame with protobuf cairn.v1.PingBatch), validated one by one;
 * acks and errors out (JSON frames, or protobuf cairn.v1.Ack).
 *
 * A frame never fails as a whole because one ping is bad: good pings are
 * accepted, each bad one gets an error with a stable code.  Frame-level
 * problems (not JSON, too many pings, ...) are one error with no id.
 */
#ifndef GW_PING_H
#define GW_PING_H

#include "cn_buf.h"
#include "cn_id.h"

#include <stddef.h>
#include <stdint.h>

/* Stable error codes, sent to clients as {"error": CODE, ...}.  Never
 * rename one: apps switch on them.  Meanings in docs/protocol.md. */
#define GW_PE_BAD_JSON "bad_json"
#define GW_PE_BAD_PROTOBUF "bad_protobuf"
#define GW_PE_NOT_PING "not_ping"
#define GW_PE_EMPTY_BATCH "empty_batch"
#define GW_PE_TOO_MANY "too_many_pings"
#define GW_PE_MISSING_ID "missing_id"
#define GW_PE_BAD_ID "bad_id"
#define GW_PE_DUPLICATE_ID "duplicate_id"
#define GW_PE_MISSING_BEACON "missing_beacon"
#define GW_PE_BAD_BEACON "bad_beacon"
#define GW_PE_MISSING_RSSI "missing_rssi"
#define GW_PE_BAD_RSSI "bad_rssi"
#define GW_PE_MISSING_TS "missing_ts"
#define GW_PE_BAD_TS "bad_ts"

typedef struct gw_ping_limits {
    size_t max_batch;           /* pings per frame */
    int32_t rssi_min, rssi_max; /* dBm, inclusive */
    int64_t ts_past_ms;         /* a ping may be at most this much older than now */
    int64_t ts_future_ms;       /* ... and at most this much newer (clock skew) */
} gw_ping_limits;

/* 64 pings per frame: a phone batching a few seconds of sightings of a
 * dozen beacons stays far below it, and it bounds per-frame work and the
 * batch arrays.  RSSI: BLE radios report about -127..+20 dBm.  Time: a
 * phone may hold pings while offline (24 h back) and clocks drift (5 min
 * ahead). */
#define GW_PING_LIMITS_DEFAULT                                                                     \
    {                                                                                              \
        64, -127, 20, 24LL * 3600 * 1000, 5LL * 60 * 1000                                          \
    }

typedef struct gw_ping {
    char id[CN_ID_MAX + 1]; /* the client's own id for the ping */
    char beacon[CN_ID_MAX + 1];
    int32_t rssi; /* dBm */
    int64_t ts;   /* client time, ms since the Unix epoch */
} gw_ping;

typedef struct gw_ping_error {
    char id[CN_ID_MAX + 1]; /* the ping's id if it had a valid one, else "" */
    const char *code;       /* one of GW_PE_* */
    char detail[96];        /* human-readable, ASCII */
    int32_t index;          /* position in the frame, -1 for frame-level errors */
} gw_ping_error;

/**
 * Accepted pings and errors of one frame.  Owned by the caller; meant to
 * be one per worker thread and reused for every frame (not one per
 * connection: an idle connection must hold no buffers).
 */
typedef struct gw_ping_batch {
    gw_ping *pings;
    size_t n;
    gw_ping_error *errs;
    size_t nerr;
    size_t cap; /* max_batch it was made for */
} gw_ping_batch;

/** Allocate room for max_batch pings and errors.  0 or CN_ENOMEM. */
int gw_ping_batch_init(gw_ping_batch *b, size_t max_batch);
/** Free the arrays; NULL-safe and safe on a zeroed batch. */
void gw_ping_batch_free(gw_ping_batch *b);

/**
 * Parse a text frame: one JSON ping object or an array of them.
 * @param text,len  the message (already UTF-8 validated by the WebSocket layer)
 * @param lim       limits; b must have been made for >= lim->max_batch
 * @param now_ms    the gateway's clock, for the ts window
 * @return 0 (b->n pings accepted, b->nerr errors to report); CN_ENOMEM;
 *         CN_EINVAL if b is smaller than lim->max_batch
 */
int gw_ping_parse_json(const char *text, size_t len, const gw_ping_limits *lim, int64_t now_ms,
                       gw_ping_batch *b);

/** Parse a binary frame holding cairn.v1.PingBatch.  Same contract. */
int gw_ping_parse_pb(const uint8_t *data, size_t len, const gw_ping_limits *lim, int64_t now_ms,
                     gw_ping_batch *b);

/* ---- outgoing frames (payloads; the caller frames them) ---- */

/** {"ack":["c-1",...]}  0 or CN_ENOMEM (out unchanged). */
int gw_ping_ack_json(cn_buf *out, const char *const *ids, size_t n);

/** {"error":"<code>","detail":"...","id":"<id>"} (id left out if unknown).  0 or CN_ENOMEM. */
int gw_ping_error_json(cn_buf *out, const gw_ping_error *e);

/** {"errors":[<one gw_ping_error_json object per error>]}: the refused
 *  pings of one message in one frame.  0 or CN_ENOMEM (out unchanged). */
int gw_ping_errors_json(cn_buf *out, const gw_ping_error *errs, size_t n);

/** protobuf cairn.v1.Ack with ids and errors.  0 or CN_ENOMEM (out unchanged). */
int gw_ping_ack_pb(cn_buf *out, const char *const *ids, size_t n, const gw_ping_error *errs,
                   size_t nerr);

#endif
