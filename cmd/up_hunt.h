/* SPDX-License-Identifier: MIT */
/*
 * up_hunt.h — `cairn up`'s hunt side: the worker (hunt_worker over the
 * in-process log), its HTTP API and the dashboard, on their own event loop
 * in their own thread.  Why a thread: a batch (up to --batch records per
 * partition, one synced RocksDB commit and one hunt-events append) takes
 * milliseconds to tens of milliseconds, which on the gateway's loop would
 * land directly in ack latency; and hunt_http/dash_http read the worker's
 * state between batches without locks only if they share its thread.
 *
 * Threads: up_hunt_open/start/stop/close on the main thread; everything
 * else of the worker runs on the hunt thread; up_hunt_metrics from any
 * thread (a copy of the last sample, under a mutex).
 * Ownership: owns rules, store, io, worker, HTTP, dashboard and its base;
 * borrows the log (which must outlive it).
 */
#ifndef UP_HUNT_H
#define UP_HUNT_H

#include "cn_buf.h"
#include "lg.h"

#include <stddef.h>
#include <stdint.h>

typedef struct up_hunt up_hunt;

typedef struct up_hunt_opts {
    const char *hunt_file; /* NULL: the bundled sample hunt */
    const char *state;     /* RocksDB directory */
    const char *node;      /* CloudEvent source /hunt/NODE */
    uint32_t batch;
    void (*on_append)(void *ud); /* hunt thread: hunt-events grew */
    void (*on_fail)(void *ud);   /* hunt thread: the worker stopped on an error */
    void *ud;
} up_hunt_opts;

/** Load the hunt, open the state, create the worker and bind its HTTP
 *  service on 127.0.0.1 (a free port).  @return 0, or an error with one
 *  line in err (what failed and what to do). */
int up_hunt_open(up_hunt **out, lg_log *log, const up_hunt_opts *o, char *err, size_t errlen);
/** The private HTTP port (what up_proxy pipes to). */
int up_hunt_http_port(const up_hunt *h);
/** The hunt's id, name and beacon count (borrowed until up_hunt_close). */
void up_hunt_describe(const up_hunt *h, const char **id, const char **name, uint32_t *nbeacons);
/** Start the thread.  @return 0 or CN_ESYS. */
int up_hunt_start(up_hunt *h);
/** Append the worker's last metrics sample (taken once a second).  Any thread. */
int up_hunt_metrics(void *h, cn_buf *out);
/** Stop after the batch in progress (each batch is committed whole) and
 *  join the thread (NULL or never started: nothing to do).
 *  @return 0 if the worker never failed. */
int up_hunt_stop(up_hunt *h);
void up_hunt_close(up_hunt *h); /* NULL ok; after up_hunt_stop */

#endif
