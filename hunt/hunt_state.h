/* SPDX-License-Identifier: MIT */
/*
 * hunt_state.h — a player's game state, as the game engine (hunt_game.h)
 * reads and writes it and as RocksDB stores it (hunt_store.h):
 *   - hunt_session: short-lived (TTL since the last ping): where the player
 *     is and the recent qualifying hits that have not yet found a beacon;
 *   - hunt_progress: lives as long as the hunt: found set, score, times.
 * The structs are plain values (no pointers), so a worker keeps one of each
 * on its stack or in its handle and copies them freely.
 *
 * The byte encodings are versioned (first byte) and compact (varints).
 * Decoders are hardened against any input: they never read past the end,
 * bound every count, check every beacon index against the hunt, refuse
 * trailing bytes and return CN_ECORRUPT (or CN_EUNSUPPORTED for an unknown
 * version) without touching *out on failure.
 */
#ifndef HUNT_STATE_H
#define HUNT_STATE_H

#include "hunt_rules.h"

#include <stddef.h>
#include <stdint.h>

/* Recent hits kept per session.  The found rule needs at most hits-1
 * (<= 99) per beacon and hits older than window_s are pruned at every ping,
 * so this cap only binds for a player who collects partial hits at several
 * beacons inside one window; then the oldest hit is forgotten first. */
#define HUNT_SESSION_MAX_HITS 256u
#define HUNT_STATE_VERSION 1u
#define HUNT_NONE (-1) /* "no beacon" in session.current / session.next */
/* Ping times outside [2000-01-01, 2100-01-01) UTC are absurd, whatever the
 * receive time says; stored times must lie in this range too. */
#define HUNT_TS_MIN_MS INT64_C(946684800000)
#define HUNT_TS_MAX_MS INT64_C(4102444800000)

typedef struct hunt_hit {
    uint32_t beacon; /* index into the hunt's beacons */
    int64_t ts_ms;   /* the ping's time */
} hunt_hit;

typedef struct hunt_session {
    int64_t last_ts_ms; /* time of the latest accepted ping; 0 for a new session */
    int32_t current;    /* beacon of the latest accepted ping, HUNT_NONE if new */
    int32_t next;       /* sequence order: the beacon to find next; else HUNT_NONE */
    uint32_t nhits;
    hunt_hit hits[HUNT_SESSION_MAX_HITS]; /* oldest first; beacons not yet found */
} hunt_session;

#define HUNT_PROGRESS_JOINED 0x1u
#define HUNT_PROGRESS_COMPLETED 0x2u

typedef struct hunt_progress {
    uint32_t flags;                      /* HUNT_PROGRESS_* */
    uint32_t nfound;                     /* == popcount(found) */
    int64_t score;                       /* sum of the found beacons' points */
    int64_t joined_ms;                   /* time of the first accepted ping */
    int64_t last_seen_ms;                /* time of the latest accepted ping */
    int64_t last_found_ms;               /* time of the latest find; 0 if none */
    uint8_t found[HUNT_MAX_BEACONS / 8]; /* bit i set: beacon i found */
} hunt_progress;

/* Upper bounds of an encoding, for stack buffers. */
#define HUNT_SESSION_ENC_MAX (1u + 10u + 5u + 5u + 5u + HUNT_SESSION_MAX_HITS * (5u + 10u))
#define HUNT_PROGRESS_ENC_MAX (1u + 5u + 10u + 10u + 10u + 10u + 5u + HUNT_MAX_BEACONS / 8u)

/** A new, empty session (no ping seen). */
void hunt_session_init(hunt_session *s);
/** A new progress record (not joined, nothing found). */
void hunt_progress_init(hunt_progress *p);
/** 1 if beacon i is in the found set. */
int hunt_progress_has(const hunt_progress *p, uint32_t i);

/**
 * Encode into out (HUNT_SESSION_ENC_MAX bytes of room).  The session must
 * satisfy what the decoder checks (the engine's output always does).
 * @return the encoded length.
 */
size_t hunt_session_encode(const hunt_session *s, unsigned char *out);
/**
 * Decode and validate against a hunt of nbeacons beacons.
 * @return 0, CN_ECORRUPT or CN_EUNSUPPORTED (unknown version).
 */
int hunt_session_decode(const void *p, size_t n, uint32_t nbeacons, hunt_session *out);

/** Encode into out (HUNT_PROGRESS_ENC_MAX bytes of room); the set is stored
 *  for nbeacons beacons.  @return the encoded length. */
size_t hunt_progress_encode(const hunt_progress *pr, uint32_t nbeacons, unsigned char *out);
/** @return 0, CN_ECORRUPT or CN_EUNSUPPORTED. */
int hunt_progress_decode(const void *p, size_t n, uint32_t nbeacons, hunt_progress *out);

#endif
