/* SPDX-License-Identifier: MIT */
/*
 * gw_sink_log.c — the in-process append backend: builds one RecordBatch v2
 * per append (lg_batch_builder: key = player id, value = CloudEvent,
 * header content-type) and hands it to lg_append_async.
 *
 * Threads: append() runs on the loop thread; lg_append_async's callback
 * runs on the log's writer thread, where it must not block: it only pushes
 * the completion onto a mutex-protected list and event_active()s the
 * loop's completion event; the loop then calls done() for each, so acks
 * are only ever written by the loop thread.
 * Ownership: the sink borrows the log and the base; it owns its builder,
 * batch buffer and completion records (one per append, freed on the loop).
 */
#include "gw_sink.h"

#include "cn_alloc.h"
#include "cn_ce.h"
#include "cn_err.h"
#include "lg.h"

#include <event2/event.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

typedef struct log_done {
    struct log_done *next;
    struct log_sink *ls;
    void *ticket;
    int err;
} log_done;

typedef struct log_sink {
    gw_sink base;
    lg_log *log;
    char *topic;
    lg_batch_builder *bb;
    cn_buf batch;
    struct event *wake;
    pthread_mutex_t mu;
    log_done *head, *tail; /* completions waiting for the loop (under mu) */
    size_t outstanding;    /* appends whose done() has not run (loop thread) */
} log_sink;

/* Writer thread. */
static void log_append_cb(void *ud, const lg_append_result *res)
{
    log_done *d = ud;
    log_sink *ls = d->ls;
    d->err = res->err;
    pthread_mutex_lock(&ls->mu);
    if (ls->tail)
        ls->tail->next = d;
    else
        ls->head = d;
    ls->tail = d;
    pthread_mutex_unlock(&ls->mu);
    event_active(ls->wake, EV_READ, 0);
}

/* Loop thread: deliver completions in the order the log finished them. */
static void log_wake(evutil_socket_t fd, short what, void *arg)
{
    log_sink *ls = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&ls->mu);
    log_done *d = ls->head;
    ls->head = ls->tail = NULL;
    pthread_mutex_unlock(&ls->mu);
    while (d) {
        log_done *next = d->next;
        ls->outstanding--;
        if (ls->base.done)
            ls->base.done(ls->base.done_ud, d->ticket, d->err);
        cn_free(d);
        d = next;
    }
}

static int log_append(gw_sink *s, int32_t partition, const gw_rec *recs, size_t n, int64_t ts_ms,
                      void *ticket)
{
    log_sink *ls = (log_sink *)s;
    static const char ct_key[] = "content-type";
    lg_header h = {(const unsigned char *)ct_key, sizeof(ct_key) - 1,
                   (const unsigned char *)CN_CE_CONTENT_TYPE, sizeof(CN_CE_CONTENT_TYPE) - 1};
    lg_batch_builder_reset(ls->bb);
    cn_buf_reset(&ls->batch);
    for (size_t i = 0; i < n; i++) {
        int rc = lg_batch_builder_add(ls->bb, ts_ms, recs[i].key, recs[i].klen, recs[i].val,
                                      recs[i].vlen, &h, 1);
        if (rc)
            return rc;
    }
    int rc = lg_batch_builder_finish(ls->bb, &ls->batch);
    if (rc)
        return rc;
    log_done *d = cn_calloc(1, sizeof(*d));
    if (!d)
        return CN_ENOMEM;
    d->ls = ls;
    d->ticket = ticket;
    rc = lg_append_async(ls->log, ls->topic, partition, ls->batch.data, ls->batch.len,
                         log_append_cb, d);
    if (rc) {
        cn_free(d);
        return rc;
    }
    ls->outstanding++;
    /* Keep the staging buffer from growing without bound after a burst. */
    if (ls->batch.cap > (4u << 20))
        cn_buf_free(&ls->batch);
    return 0;
}

static void log_destroy(gw_sink *s)
{
    log_sink *ls = (log_sink *)s;
    /* Outstanding appends complete: lg callbacks land on the list; wait by
     * running the wake handler until the count reaches zero. */
    while (ls->outstanding) {
        log_wake(-1, 0, ls);
        if (ls->outstanding) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    event_free(ls->wake);
    pthread_mutex_destroy(&ls->mu);
    lg_batch_builder_free(ls->bb);
    cn_buf_free(&ls->batch);
    cn_free(ls->topic);
    cn_free(ls);
}

static const gw_sink_ops log_ops = {log_append, log_destroy};

int gw_sink_log_new(gw_sink **out, struct event_base *base, lg_log *log, const char *topic)
{
    *out = NULL;
    int parts = lg_topic_partitions(log, topic);
    if (parts < 0)
        return parts;
    log_sink *ls = cn_calloc(1, sizeof(*ls));
    if (!ls)
        return CN_ENOMEM;
    ls->base.ops = &log_ops;
    ls->base.partitions = parts;
    ls->base.kind = "log";
    ls->log = log;
    pthread_mutex_init(&ls->mu, NULL);
    ls->topic = cn_strdup(topic);
    ls->wake = event_new(base, -1, 0, log_wake, ls);
    if (!ls->topic || !ls->wake || lg_batch_builder_new(&ls->bb, LG_COMP_NONE)) {
        if (ls->wake)
            event_free(ls->wake);
        pthread_mutex_destroy(&ls->mu);
        cn_free(ls->topic);
        cn_free(ls);
        return CN_ENOMEM;
    }
    *out = &ls->base;
    return 0;
}

void gw_sink_free(gw_sink *s)
{
    if (s)
        s->ops->destroy(s);
}
