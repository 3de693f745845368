/* SPDX-License-Identifier: MIT */
/*
 * hunt_game.h — the game rules as a pure, deterministic state machine.
 *
 * One call, hunt_game_step(), applies one ping to one player's session and
 * progress and says what happened: accepted (with 0..4 derived events in a
 * fixed order) or ignored/rejected with a reason.  No I/O, no allocation,
 * no clock: every time comes from the ping, so replaying the same pings in
 * the same order always yields the same states and events — which is what
 * makes a worker's state derivable from the log (`--rebuild`) and testable
 * against a reference model.  Thread-safe for distinct states.
 *
 * The rules (docs/hunts.md has the user-facing version):
 *  - Checks, in this order, each with its reason code: player id
 *    (HUNT_REJ_BAD_PLAYER), beacon id (HUNT_REJ_UNKNOWN_BEACON), RSSI in
 *    -127..20 dBm (HUNT_REJ_BAD_RSSI), time in [2000, 2100) and, when the
 *    receive time is known, at most 5 min after it and 24 h before it, and
 *    at most 24 h before the caller's floor (HUNT_REJ_BAD_TIME); then the hunt window [starts_at,
 * ends_at) (HUNT_IGN_OUTSIDE_HUNT); then the session's expiry, on ping time: a session whose latest
 * accepted ping is session_ttl_s or more before this ping's time is over, and the ping meets a new
 * one (what the player found stays in progress); then against the player's state: a ping older than
 * the player's latest accepted ping (HUNT_IGN_OUT_OF_ORDER; the latest time is kept in progress
 * too, so this holds after the session expired) or a repeat of the latest — same beacon, same time,
 * session still live (HUNT_IGN_DUPLICATE).
 *  - An accepted ping moves the player to its beacon.  It is a *hit* if
 *    rssi >= rssi_min, the beacon is not found yet, the hunt is not complete
 *    and (order "sequence") it is the next beacon of the list.  A beacon is
 *    found at a hit at time T when the hits at it with time in
 *    [T - window_s, T], this one included, number at least `hits`.
 *  - Each beacon is found once per player; score = sum of found points.
 *  - Events of one ping, in order: player_joined (first accepted ping of
 *    the player in this hunt), beacon_found, score_changed (only if the
 *    points are not 0), hunt_completed (the last beacon was found).
 */
#ifndef HUNT_GAME_H
#define HUNT_GAME_H

#include "hunt_rules.h"
#include "hunt_state.h"

#include <stddef.h>
#include <stdint.h>

#define HUNT_PLAYER_MAX 64u /* player ids: 1..64 bytes of A-Z a-z 0-9 "._:@-" (cn_id.h) */
#define HUNT_RSSI_LO (-127) /* plausible BLE RSSI, dBm */
#define HUNT_RSSI_HI 20
#define HUNT_MAX_FUTURE_MS INT64_C(300000) /* ping time at most 5 min after receipt */
#define HUNT_MAX_AGE_MS INT64_C(86400000)  /* ... and at most 24 h before it */
#define HUNT_MAX_EVENTS 4u

/* Why a ping did not count.  HUNT_IGN_* are normal (late, repeated, or out
 * of the hunt's hours); HUNT_REJ_* mean a bad record, which the worker
 * counts and audits as rejected.  Values are stable: they go into audit. */
enum hunt_reason {
    HUNT_ACCEPTED = 0,
    HUNT_IGN_OUTSIDE_HUNT = 1,
    HUNT_IGN_OUT_OF_ORDER = 2,
    HUNT_IGN_DUPLICATE = 3,
    HUNT_REJ_BAD_PLAYER = 16,
    HUNT_REJ_UNKNOWN_BEACON = 17,
    HUNT_REJ_BAD_RSSI = 18,
    HUNT_REJ_BAD_TIME = 19,
};

enum hunt_event_type {
    HUNT_EV_PLAYER_JOINED = 1,
    HUNT_EV_BEACON_FOUND = 2,
    HUNT_EV_SCORE_CHANGED = 3,
    HUNT_EV_HUNT_COMPLETED = 4,
};

/** One ping, as the worker decoded it from a ble-raw record.  Borrowed. */
typedef struct hunt_ping {
    const char *player;
    size_t player_len;
    const char *beacon;
    size_t beacon_len;
    int32_t rssi;     /* dBm */
    int64_t ts_ms;    /* the phone's time of the sighting */
    int64_t recv_ms;  /* when the log got it (record timestamp); 0 = unknown */
    int64_t floor_ms; /* the caller's receive-time floor (0 = none): a ping more than
                         HUNT_MAX_AGE_MS older than it is bad_time too, whatever recv_ms */
} hunt_ping;

typedef struct hunt_event {
    enum hunt_event_type type;
    int64_t ts_ms;        /* the causing ping's time */
    int32_t beacon;       /* beacon_found: its index; otherwise HUNT_NONE */
    int32_t points;       /* beacon_found: its points; otherwise 0 */
    int64_t score_before; /* score_changed: the old score */
    int64_t score;        /* the score after this event */
    uint32_t found;       /* beacons found after this event */
} hunt_event;

typedef struct hunt_step {
    enum hunt_reason reason;
    int32_t beacon;      /* the ping's beacon index, HUNT_NONE if unknown */
    int hit;             /* 1 if the ping counted as a hit (found or recorded) */
    int session_expired; /* accepted by a joined player whose session was over
                            (expired on ping time, or absent) */
    uint32_t nevents;
    hunt_event events[HUNT_MAX_EVENTS];
} hunt_step;

/**
 * Apply one ping.  On HUNT_ACCEPTED the session and progress are updated
 * (both must then be written back); otherwise neither is touched.
 * @param[in]     r     the hunt
 * @param[in,out] s     the player's session (hunt_session_init if none/expired)
 * @param[in,out] p     the player's progress (hunt_progress_init if none)
 * @param[in]     ping  the ping
 * @param[out]    out   reason and events
 * @return 0, or CN_EINVAL if s or p refer to beacons this hunt lacks or
 *         carry more points than it has (a state written for another hunt
 *         definition); nothing is changed.
 */
int hunt_game_step(const hunt_rules *r, hunt_session *s, hunt_progress *p, const hunt_ping *ping,
                   hunt_step *out);

/** "accepted", "outside_hunt", "out_of_order", "duplicate", "bad_player",
 *  "unknown_beacon", "bad_rssi", "bad_time"; "unknown" otherwise. */
const char *hunt_reason_name(int reason);
/** 1 for HUNT_REJ_* (a bad record), 0 otherwise. */
int hunt_reason_is_rejection(int reason);
/** "player_joined", "beacon_found", "score_changed", "hunt_completed". */
const char *hunt_event_name(int type);

#endif
