/* SPDX-License-Identifier: MIT */
/*
 * dash_hunt.h — the dashboard's numbers from a running hunt worker:
 * pings processed, finds, players who joined and players active in the
 * last minute (from the leaderboard), worker lag, ble-raw end offsets
 * (from the worker's io) and the most recent finds.  A dash_snapshot_fn
 * for dash_http_mount.
 * Threads: the worker's loop thread (the one running hunt_worker_poll), so
 * it reads committed state between batches without locks.  Ownership:
 * borrows the worker and the io; owns its scratch buffers.
 */
#ifndef DASH_HUNT_H
#define DASH_HUNT_H

#include "dash_http.h"
#include "hunt_worker.h"

typedef struct dash_hunt dash_hunt;

/** @return 0 or CN_ENOMEM. */
int dash_hunt_new(dash_hunt **out, hunt_worker *w, hunt_io *io);
/** The dash_snapshot_fn: ud is the dash_hunt. */
int dash_hunt_snapshot(void *ud, dash_snapshot *out);
void dash_hunt_free(dash_hunt *d); /* NULL ok */

#endif
