/* SPDX-License-Identifier: MIT */
/*
 * lg_listen.c — the log publishes its acknowledged end (lg.h,
 * lg_end_listen): after every writer round in which an append succeeded,
 * each subscriber is told, so in-process readers waiting for data (the
 * Kafka listener's parked Fetches) wake without every appender having to
 * know about them.
 * Guarantees: subscribers are called on the writer thread, after the
 * round's append callbacks (what they read next includes those records),
 * and on the thread of lg_read_limit_set when a read limit moves (what
 * consumers may read changed without an append); calls are serialised by
 * lmu, and the list changes only under wmu and lmu, so once
 * lg_end_unlisten returns its subscriber is not running and never runs
 * again.  Threads: lg_end_listen/unlisten on any thread but the writer's;
 * lg__end_publish on the writer thread or lg_read_limit_set's caller.
 * The log owns the list; subscribers' ud is borrowed.
 */
#include "lg_int.h"

#include "cn_err.h"

int lg_end_listen(lg_log *log, lg_end_fn fn, void *ud)
{
    if (lg__on_writer(log))
        return CN_EBUSY; /* the writer holds wmu: waiting would never end */
    int rc = 0;
    lg__wmu_lock(log);
    pthread_mutex_lock(&log->lmu);
    if (log->nend_listeners == LG_END_LISTENERS_MAX) {
        rc = CN_ENOSPC;
    } else {
        log->end_listeners[log->nend_listeners].fn = fn;
        log->end_listeners[log->nend_listeners].ud = ud;
        log->nend_listeners++;
    }
    pthread_mutex_unlock(&log->lmu);
    pthread_mutex_unlock(&log->wmu);
    return rc;
}

int lg_end_unlisten(lg_log *log, lg_end_fn fn, void *ud)
{
    if (!log)
        return 0;
    if (lg__on_writer(log))
        return CN_EBUSY;
    lg__wmu_lock(log);
    pthread_mutex_lock(&log->lmu);
    for (size_t i = 0; i < log->nend_listeners; i++) {
        if (log->end_listeners[i].fn != fn || log->end_listeners[i].ud != ud)
            continue;
        log->end_listeners[i] = log->end_listeners[--log->nend_listeners];
        break;
    }
    pthread_mutex_unlock(&log->lmu);
    pthread_mutex_unlock(&log->wmu);
    return 0;
}

void lg__end_publish(lg_log *log)
{
    pthread_mutex_lock(&log->lmu);
    for (size_t i = 0; i < log->nend_listeners; i++)
        log->end_listeners[i].fn(log->end_listeners[i].ud);
    pthread_mutex_unlock(&log->lmu);
}
