/* SPDX-License-Identifier: MIT */
/*
 * hunt_rules.h — a hunt definition (the JSON file of docs/hunts.md), parsed
 * and validated once, then read-only.
 *
 * A hunt_rules handle is immutable after hunt_rules_parse() returns, so any
 * number of threads may read it at once without locks.  Every string it
 * hands out belongs to the handle and lives until hunt_rules_free().
 *
 * Validation is strict: unknown fields, wrong types, out-of-range numbers,
 * duplicate beacon ids, malformed RFC 3339 times and starts_at >= ends_at
 * are all refused with one line naming the field by its path, e.g.
 *   beacons[2].pts: unknown field
 *   found.hits: must be an integer in 1..100
 */
#ifndef HUNT_RULES_H
#define HUNT_RULES_H

#include <stddef.h>
#include <stdint.h>

/* Limits (documented in docs/hunts.md).  They bound memory per hunt and keep
 * ids usable as RocksDB keys, URL segments and log fields unescaped. */
#define HUNT_FILE_MAX_BYTES (1u << 20) /* a hunt file larger than 1 MiB is refused */
#define HUNT_MAX_BEACONS 1024u
#define HUNT_ID_MAX 64u     /* hunt and beacon ids: [A-Za-z0-9._-], 1..64 bytes */
#define HUNT_NAME_MAX 200u  /* names: 1..200 bytes of UTF-8, no control characters */
#define HUNT_CLUE_MAX 1000u /* clues: 0..1000 bytes of UTF-8, no control characters */
#define HUNT_POINTS_MAX 1000000
#define HUNT_RSSI_MIN_LO (-127) /* found.rssi_min range, dBm */
#define HUNT_RSSI_MIN_HI 0
#define HUNT_HITS_MAX 100u
#define HUNT_WINDOW_MAX_S 3600u
#define HUNT_COORD_MAX 1e7 /* |x|, |y| bound (venue units, e.g. metres) */
#define HUNT_SESSION_TTL_MIN_S 60
#define HUNT_SESSION_TTL_MAX_S 604800    /* 7 days */
#define HUNT_AUDIT_TTL_MAX_S 315360000   /* 10 years */
#define HUNT_DEFAULT_SESSION_TTL_S 1800  /* 30 minutes */
#define HUNT_DEFAULT_AUDIT_TTL_S 7776000 /* 90 days */
#define HUNT_ERR_MAX 256u                /* a buffer this big holds any message */

typedef struct hunt_rules hunt_rules;

enum hunt_order {
    HUNT_ORDER_ANY = 0,      /* beacons may be found in any order */
    HUNT_ORDER_SEQUENCE = 1, /* only the next beacon of the list can be found */
};

/** One beacon, as written in the file.  Read-only; owned by the hunt_rules. */
typedef struct hunt_beacon {
    const char *id;
    const char *name;
    const char *clue; /* "" when the file has none */
    double x, y;
    int32_t points;
} hunt_beacon;

/** The validated definition.  Read-only; owned by the hunt_rules. */
typedef struct hunt_def {
    const char *id;
    const char *name;
    int has_starts_at, has_ends_at; /* an absent bound leaves that side open */
    int64_t starts_at_ms;           /* inclusive, ms since the Unix epoch */
    int64_t ends_at_ms;             /* exclusive */
    enum hunt_order order;
    int32_t rssi_min;  /* dBm, inclusive */
    uint32_t hits;     /* qualifying pings needed ... */
    uint32_t window_s; /* ... within this many seconds of the ping */
    int64_t session_ttl_s;
    int64_t audit_ttl_s;
    uint32_t nbeacons;          /* 1..HUNT_MAX_BEACONS */
    const hunt_beacon *beacons; /* in file order (the sequence order) */
    int64_t total_points;       /* sum of every beacon's points */
} hunt_def;

/**
 * Parse and validate a hunt definition from memory.
 * @param[in]  json   the file's bytes (need not be NUL-terminated)
 * @param[out] out    the new handle on success (caller frees with hunt_rules_free)
 * @param[out] err    if non-NULL, one line saying what is wrong, on failure
 * @return 0; HUNT_ERULES for an invalid definition; CN_ETOOBIG over
 *         HUNT_FILE_MAX_BYTES; CN_ENOMEM.
 */
int hunt_rules_parse(const char *json, size_t len, hunt_rules **out, char *err, size_t errlen);

/**
 * Read and parse a hunt file.  Errors name the file ("FILE: beacons[1].x: ...").
 * @return as hunt_rules_parse, plus CN_ENOENT / CN_EIO / CN_EPERM for the file.
 */
int hunt_rules_load(const char *path, hunt_rules **out, char *err, size_t errlen);

/** The sample hunt compiled into the binary (hunt/sample-hunt.json, embedded
 *  at build time): its JSON bytes, NUL-terminated, len without the NUL.
 *  Read-only static data; any thread. */
const char *hunt_sample_json(size_t *len);

/** hunt_rules_load(path) when path is non-NULL, else hunt_rules_parse of
 *  the sample hunt: what every command with an optional --hunt FILE does.
 *  @return as hunt_rules_load. */
int hunt_rules_load_or_sample(const char *path, hunt_rules **out, char *err, size_t errlen);

/** Free a handle; NULL is fine. */
void hunt_rules_free(hunt_rules *r);

/** The validated definition; valid until hunt_rules_free. */
const hunt_def *hunt_rules_def(const hunt_rules *r);

/**
 * Index (file order) of the beacon with this id, found by binary search over
 * a sorted copy of the ids: O(log n), no allocation.
 * @return the index (>= 0) or CN_ENOENT.
 */
int hunt_rules_beacon_index(const hunt_rules *r, const char *id, size_t len);

/** 1 if a ping time (ms) lies in the hunt window [starts_at, ends_at). */
int hunt_rules_in_window(const hunt_rules *r, int64_t ts_ms);

#endif
