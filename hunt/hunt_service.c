/* SPDX-License-Identifier: MIT */
/*
 * hunt_service.c — a hunt worker and its HTTP API on a loop of their own
 * in a thread of their own (why: hunt_service.h).  The batch loop is the
 * one `cairn hunt --log` runs: poll, and re-arm at once after work or
 * after HUNT_IDLE_MS when there was none.
 *
 * Guarantees: every batch is finished and committed inside one callback,
 * so stopping the loop between callbacks never leaves a batch half done
 * (the worker's exactly-once story, docs/architecture.md "The hunt
 * workers", is unchanged); the metrics copy is replaced whole under the
 * mutex, never read half written.
 * Threads: open/start/stop/close on the main thread, before the thread
 * starts and after it is joined; ticks and HTTP on the hunt thread.
 * Ownership: see hunt_service.h.
 */
#include "hunt_service.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_log.h"
#include "hunt_http.h"
#include "hunt_io_log.h"
#include "hunt_rules.h"
#include "hunt_store.h"
#include "hunt_worker.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* How long a new ping may wait when the worker was idle (as cmd_hunt). */
#define HUNT_IDLE_MS 10
/* Metrics sample period: RocksDB property reads are not free, and
 * Prometheus scrapes every 10-60 s. */
#define HUNT_METRICS_MS 1000

struct hunt_service {
    hunt_service_opts o;
    hunt_rules *rules;
    hunt_store *st;
    hunt_io *io;
    hunt_worker *w;
    struct event_base *base;
    struct event *tick, *mtick;
    hunt_http *http;
    pthread_t thr;
    int started, failed;
    pthread_mutex_t mu; /* guards metrics */
    cn_buf metrics;     /* last sample */
    cn_buf scratch;     /* hunt thread: the sample being built */
};

static void hunt_sample_metrics(hunt_service *h)
{
    cn_buf_reset(&h->scratch);
    if (hunt_worker_metrics(h->w, &h->scratch))
        return;
    pthread_mutex_lock(&h->mu);
    cn_buf t = h->metrics;
    h->metrics = h->scratch;
    h->scratch = t;
    pthread_mutex_unlock(&h->mu);
}

static void hunt_mtick(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    hunt_sample_metrics(ud);
}

static void hunt_tick(evutil_socket_t fd, short what, void *ud)
{
    hunt_service *h = ud;
    (void)fd;
    (void)what;
    int n = hunt_worker_poll(h->w);
    if (n < 0) {
        cn_log_error("hunt", "hunt worker stopped: %s (nothing of the failed batch was committed)",
                     hunt_worker_error(h->w));
        h->failed = 1;
        event_base_loopexit(h->base, NULL);
        if (h->o.on_fail)
            h->o.on_fail(h->o.ud);
        return;
    }
    struct timeval tv = {0, n > 0 ? 0 : HUNT_IDLE_MS * 1000};
    event_add(h->tick, &tv);
}

static int hunt_load_rules(hunt_service *h, char *err, size_t errlen)
{
    return hunt_rules_load_or_sample(h->o.hunt_file, &h->rules, err, errlen);
}

static int hunt_open_worker(hunt_service *h, lg_log *log, char *err, size_t errlen)
{
    const hunt_def *d = hunt_rules_def(h->rules);
    hunt_store_opts so;
    memset(&so, 0, sizeof(so));
    so.audit_ttl_ms = d->audit_ttl_s * 1000;
    int rc = hunt_store_open(h->o.state, &so, &h->st, err, errlen);
    if (rc)
        return rc;
    if ((rc = hunt_io_log_new(&h->io, log)) != 0) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    hunt_worker_opts wo;
    memset(&wo, 0, sizeof(wo));
    wo.node = h->o.node;
    wo.batch = h->o.batch;
    return hunt_worker_new(&h->w, h->rules, h->st, h->io, &wo, err, errlen);
}

static int hunt_open_http(hunt_service *h, char *err, size_t errlen)
{
    h->base = event_base_new();
    h->tick = h->base ? event_new(h->base, -1, 0, hunt_tick, h) : NULL;
    h->mtick = h->base ? event_new(h->base, -1, EV_PERSIST, hunt_mtick, h) : NULL;
    if (!h->tick || !h->mtick) {
        snprintf(err, errlen, "cannot set up the hunt worker's event loop");
        return CN_ENOMEM;
    }
    int rc = hunt_http_new(&h->http, h->base, "127.0.0.1:0", h->w);
    if (rc)
        snprintf(err, errlen, "cannot bind the worker's private HTTP port on 127.0.0.1: %s",
                 rc == CN_ESYS ? strerror(errno) : cn_strerror(rc));
    return rc;
}

int hunt_service_open(hunt_service **out, lg_log *log, const hunt_service_opts *o, char *err,
                      size_t errlen)
{
    *out = NULL;
    hunt_service *h = cn_calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return CN_ENOMEM;
    }
    h->o = *o;
    pthread_mutex_init(&h->mu, NULL);
    int rc = hunt_load_rules(h, err, errlen);
    if (!rc)
        rc = hunt_open_worker(h, log, err, errlen);
    if (!rc)
        rc = hunt_open_http(h, err, errlen);
    if (rc) {
        hunt_service_close(h);
        return rc;
    }
    hunt_sample_metrics(h);
    *out = h;
    return 0;
}

int hunt_service_http_port(const hunt_service *h)
{
    return hunt_http_port(h->http);
}

void hunt_service_describe(const hunt_service *h, const char **id, const char **name,
                           uint32_t *nbeacons)
{
    const hunt_def *d = hunt_rules_def(h->rules);
    *id = d->id;
    *name = d->name;
    *nbeacons = d->nbeacons;
}

struct event_base *hunt_service_base(hunt_service *h)
{
    return h->base;
}

struct evhttp *hunt_service_evhttp(hunt_service *h)
{
    return hunt_http_evhttp(h->http);
}

hunt_worker *hunt_service_worker(hunt_service *h)
{
    return h->w;
}

hunt_io *hunt_service_io(hunt_service *h)
{
    return h->io;
}

static void *hunt_thread(void *ud)
{
    hunt_service *h = ud;
    event_base_dispatch(h->base);
    return NULL;
}

int hunt_service_start(hunt_service *h)
{
    struct timeval tv = {HUNT_METRICS_MS / 1000, (HUNT_METRICS_MS % 1000) * 1000};
    event_add(h->mtick, &tv);
    event_active(h->tick, 0, 0);
    if (pthread_create(&h->thr, NULL, hunt_thread, h))
        return CN_ESYS;
    h->started = 1;
    return 0;
}

int hunt_service_metrics(void *ud, cn_buf *out)
{
    hunt_service *h = ud;
    pthread_mutex_lock(&h->mu);
    int rc = h->metrics.len ? cn_buf_append(out, h->metrics.data, h->metrics.len) : 0;
    pthread_mutex_unlock(&h->mu);
    return rc;
}

int hunt_service_stop(hunt_service *h)
{
    if (!h)
        return 0;
    if (h->started) {
        /* Thread-safe (evthread_use_pthreads): the loop ends between two
         * callbacks, i.e. between two committed batches. */
        event_base_loopexit(h->base, NULL);
        pthread_join(h->thr, NULL);
        h->started = 0;
    }
    return h->failed ? CN_EIO : 0;
}

void hunt_service_close(hunt_service *h)
{
    if (!h)
        return;
    if (h->tick)
        event_free(h->tick);
    if (h->mtick)
        event_free(h->mtick);
    hunt_http_free(h->http);
    hunt_worker_free(h->w);
    hunt_io_log_free(h->io);
    hunt_store_close(h->st); /* flushes the memtables */
    if (h->base)
        event_base_free(h->base);
    hunt_rules_free(h->rules);
    cn_buf_free(&h->metrics);
    cn_buf_free(&h->scratch);
    pthread_mutex_destroy(&h->mu);
    cn_free(h);
}
