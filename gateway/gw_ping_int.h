/* SPDX-License-Identifier: MIT */
/*
 * gw_ping_int.h — shared between the ping decoders (gw_ping_json.c,
 * gw_ping_pb.c) and the validation in gw_ping.c: a ping as decoded, with
 * what each field was, before any rule is applied.  Internal to gateway/.
 */
#ifndef GW_PING_INT_H
#define GW_PING_INT_H

#include "gw_ping.h"

/* What a decoder found for one field. */
enum gw__field { GW_F_MISSING = 0, GW_F_OK, GW_F_WRONG_TYPE };

typedef struct gw__ping_in {
    const char *id, *beacon; /* not NUL-terminated; may hold any bytes */
    size_t id_len, beacon_len;
    int64_t rssi, ts;
    uint8_t id_f, beacon_f, rssi_f, ts_f; /* enum gw__field */
} gw__ping_in;

/** Start a frame: empty b.  CN_EINVAL if b is smaller than lim->max_batch. */
int gw__ping_begin(gw_ping_batch *b, const gw_ping_limits *lim);
/** Validate one decoded ping at position index; accept it or record its error. */
void gw__ping_add(gw_ping_batch *b, const gw__ping_in *in, const gw_ping_limits *lim,
                  int64_t now_ms, int32_t index);
/** Record an error for the element at index that is not a ping at all. */
void gw__ping_error_at(gw_ping_batch *b, int32_t index, const char *code, const char *detail);
/** Record a frame-level error (no id, index -1). */
void gw__ping_frame_error(gw_ping_batch *b, const char *code, const char *detail);

/**
 * The fast path for common frames (gw_ping_fast.c): 1 if it handled the
 * frame (b filled, b already begun), 0 if it declined and the frame must
 * go through jansson.  Writes nothing to b when it declines.
 */
int gw__ping_parse_json_fast(const char *text, size_t len, const gw_ping_limits *lim,
                             int64_t now_ms, gw_ping_batch *b);
/** The jansson path alone (also the reference the fuzzer compares against). */
int gw__ping_parse_json_slow(const char *text, size_t len, const gw_ping_limits *lim,
                             int64_t now_ms, gw_ping_batch *b);

#endif
