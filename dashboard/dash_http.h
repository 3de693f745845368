/* SPDX-License-Identifier: MIT */
/*
 * dash_http.h — the dashboard's server side, reusable by any process that
 * has the numbers: the embedded static assets (index.html, app.js,
 * style.css, compiled into the binary), the live snapshot as JSON
 * (GET /api/stats) and as Server-Sent Events once a second
 * (GET /api/events).  Contract of both endpoints: docs/protocol.md,
 * "Dashboard endpoints".
 *
 * The numbers come from a snapshot callback of the process that mounts
 * the dashboard (dash_hunt.h adapts a hunt worker); dash_http samples it
 * once a second, derives pings/s from successive samples and pushes the
 * result to every open event stream.
 *
 * Mounting: on a libevent evhttp (`cairn hunt --http`, and `cairn up`),
 * with dash_http_mount; a server with its own router (the gateway's) can
 * serve the assets with dash_serve_asset and the JSON with dash_stats_json.
 * Threads: the loop's thread of the base given to dash_http_mount, which
 * is also where the snapshot callback runs.  Ownership: the dash_http owns
 * its timer and event-stream clients; it borrows the base and the evhttp
 * (free the dash_http before them).
 */
#ifndef DASH_HTTP_H
#define DASH_HTTP_H

#include "cn_buf.h"
#include "cn_id.h"

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evhttp;

/* Bounds of one snapshot: partitions shown, recent finds listed. */
#define DASH_MAX_PARTS 256
#define DASH_MAX_FINDS 10
/* Event-stream clients at once per process: a dashboard is for a few
 * operators, and each stream holds a connection open. */
#define DASH_MAX_STREAMS 64

typedef struct dash_part {
    int32_t partition;
    int64_t end_offset; /* ble-raw log end offset */
} dash_part;

typedef struct dash_find {
    char player[CN_ID_MAX + 1];
    char beacon[CN_ID_MAX + 1]; /* "" when not known */
    int64_t at_ms;              /* ping time of the find */
    int64_t score;              /* the player's score after it */
    uint32_t found;             /* beacons the player has found */
} dash_find;

/** What a process knows at one moment; -1 marks a number it does not know. */
typedef struct dash_snapshot {
    uint64_t pings_total;   /* pings processed so far (monotonic: pings/s is derived from it) */
    int64_t finds_total;    /* beacons found, all players */
    int64_t players;        /* players who joined the hunt */
    int64_t active_players; /* players with a ping in the last 60 s of ping time */
    int64_t lag;            /* records the hunt workers are behind the log end */
    uint32_t nparts;
    dash_part parts[DASH_MAX_PARTS];
    uint32_t nfinds;
    dash_find finds[DASH_MAX_FINDS]; /* most recent first */
} dash_snapshot;

/** Fill *out (zeroed by the caller).  0, or a negative cn_err (the
 *  sample is skipped and the streams get nothing that second). */
typedef int (*dash_snapshot_fn)(void *ud, dash_snapshot *out);

/**
 * An embedded asset by URL path ("/" is "/index.html").
 * @param[out] body,len  the bytes, static storage
 * @param[out] ctype     its Content-Type
 * @return 0, or CN_ENOENT for any other path
 */
int dash_serve_asset(const char *path, const unsigned char **body, size_t *len, const char **ctype);

/**
 * Append the /api/stats JSON object for a snapshot.
 * @param pings_per_s  derived by the caller from two samples; < 0: unknown (null)
 * @return 0 or CN_ENOMEM
 */
int dash_stats_json(cn_buf *out, const dash_snapshot *s, double pings_per_s, int64_t now_ms);

typedef struct dash_http dash_http;

/**
 * Serve the dashboard on http: "/", "/index.html", "/app.js", "/style.css",
 * "/api/stats" and "/api/events"; sample fn(ud) once a second.  With http
 * NULL only the sampling runs (for dash_http_stats).
 * Paths registered here take precedence over the evhttp's general
 * callback, so the mounting server's other routes are untouched.
 * @return 0; CN_EEXIST if a path is already taken; CN_ENOMEM
 */
int dash_http_mount(dash_http **out, struct event_base *base, struct evhttp *http,
                    dash_snapshot_fn fn, void *ud);

/**
 * For a server with its own router: the /api/stats object, the same bytes
 * the mounted path serves.  The last sample (at most a second old), or one
 * taken now before the first tick.  d may come from dash_http_mount with
 * http NULL (sampling only, no evhttp).
 * @param[out] json  borrowed from d, valid until its next sample or free
 * @return 0; the snapshot callback's error when no sample could be taken
 *         (answer 503 and let the client retry); CN_ENOMEM
 */
int dash_http_stats(dash_http *d, cn_slice *json);

/** Open event streams (for tests and metrics). */
uint32_t dash_http_streams(const dash_http *d);
/** Snapshots taken so far (none while nobody watches). */
uint64_t dash_http_samples(const dash_http *d);

/** End every event stream, stop sampling, unregister the paths.  NULL ok. */
void dash_http_free(dash_http *d);

#endif
