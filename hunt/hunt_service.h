/* SPDX-License-Identifier: MIT */
/*
 * hunt_service.h — a hunt worker (hunt_worker over an in-process log) and
 * its HTTP API on an event loop of their own, in a thread of their own:
 * what `cairn up` runs beside its gateway.  Why a thread: a batch (up to
 * batch records per partition, one synced RocksDB commit and one
 * hunt-events append) takes milliseconds to tens of milliseconds, which on
 * the gateway's loop would land directly in ack latency; and HTTP handlers
 * (hunt_http, and a dashboard mounted on hunt_service_evhttp) read the
 * worker's state between batches without locks only if they share its
 * thread.
 *
 * Threads: hunt_service_open/start/stop/close and the accessors on the
 * caller's thread, before start or after stop; everything else of the
 * worker runs on the hunt thread; hunt_service_metrics from any thread (a
 * copy of the last sample, under a mutex).
 * Ownership: owns rules, store, io, worker, HTTP and its base; borrows the
 * log (which must outlive it).
 */
#ifndef HUNT_SERVICE_H
#define HUNT_SERVICE_H

#include "cn_buf.h"
#include "hunt_worker.h"
#include "lg.h"

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evhttp;
typedef struct hunt_service hunt_service;

typedef struct hunt_service_opts {
    const char *hunt_file; /* NULL: the bundled sample hunt */
    const char *state;     /* RocksDB directory */
    const char *node;      /* CloudEvent source /hunt/NODE */
    uint32_t batch;
    void (*on_fail)(void *ud); /* hunt thread: the worker stopped on an error */
    void *ud;
} hunt_service_opts;

/** Load the hunt, open the state, create the worker and bind its HTTP
 *  service on 127.0.0.1 (a free port).  @return 0, or an error with one
 *  line in err (what failed and what to do). */
int hunt_service_open(hunt_service **out, lg_log *log, const hunt_service_opts *o, char *err,
                      size_t errlen);
/** The private HTTP port (what gw_proxy pipes to). */
int hunt_service_http_port(const hunt_service *h);
/** The hunt's id, name and beacon count (borrowed until hunt_service_close). */
void hunt_service_describe(const hunt_service *h, const char **id, const char **name,
                           uint32_t *nbeacons);
/** What a dashboard mounts on (dash_hunt_new, dash_http_mount) before
 *  hunt_service_start, and frees after hunt_service_stop: the loop, the
 *  HTTP server, the worker and its io.  Borrowed until hunt_service_close. */
struct event_base *hunt_service_base(hunt_service *h);
struct evhttp *hunt_service_evhttp(hunt_service *h);
hunt_worker *hunt_service_worker(hunt_service *h);
hunt_io *hunt_service_io(hunt_service *h);
/** Start the thread.  @return 0 or CN_ESYS. */
int hunt_service_start(hunt_service *h);
/** Append the worker's last metrics sample (taken once a second).  Any thread. */
int hunt_service_metrics(void *h, cn_buf *out);
/** Stop after the batch in progress (each batch is committed whole) and
 *  join the thread (NULL or never started: nothing to do).
 *  @return 0 if the worker never failed. */
int hunt_service_stop(hunt_service *h);
void hunt_service_close(hunt_service *h); /* NULL ok; after hunt_service_stop */

#endif
