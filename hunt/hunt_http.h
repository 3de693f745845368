/* SPDX-License-Identifier: MIT */
/*
 * hunt_http.h — the worker's HTTP API on a libevent evhttp server:
 * /api/leaderboard?limit=N, /api/players/ID, /api/beacons, /metrics,
 * /healthz (docs/hunts.md, "The worker's HTTP API").
 * Threads: the loop's thread, the same one that runs the worker's batches,
 * so handlers read committed state without locks.  Ownership: borrows the
 * base and the worker; owns the evhttp server.
 */
#ifndef HUNT_HTTP_H
#define HUNT_HTTP_H

#include "hunt_worker.h"

struct event_base;
struct evhttp;
typedef struct hunt_http hunt_http;

/** Listen on "HOST:PORT" (port 0 picks one).  @return 0, CN_EINVAL (bad
 *  address), CN_ESYS (bind failed: errno says why) or CN_ENOMEM. */
int hunt_http_new(hunt_http **out, struct event_base *base, const char *addr, hunt_worker *w);
/** The bound port. */
int hunt_http_port(const hunt_http *h);
/** The evhttp server, so other routes can be mounted on it (the dashboard,
 *  dash_http_mount); borrowed, valid until hunt_http_free. */
struct evhttp *hunt_http_evhttp(hunt_http *h);
void hunt_http_free(hunt_http *h); /* NULL ok */

#endif
