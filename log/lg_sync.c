/* SPDX-License-Identifier: MIT */
/*
 * lg_sync.c — the writer's sync pool: the durability barrier of one round.
 *
 * A round that wrote k segments needs k fdatasyncs.  Issued one after
 * another each waits for its own device flush; issued at once, the file
 * system commits them together (ext4's journal takes every waiting inode
 * into one commit and one cache flush), so the round waits for the device
 * about once however many partitions it touched.  `scripts/bench log
 * --only sync` measures the two ways (and preallocated files) side by side.
 * The pool also runs the index checkpoint (mdb_env_sync) beside a round's
 * fdatasyncs, so LMDB's flush rides in the same device wait and never
 * delays an acknowledgement on the writer thread.
 *
 * Guarantees: lg__sync_wait returns only after every fdatasync (and the
 * checkpoint) of the job started last has returned; any failure sets the
 * log's sticky panic (I5) and is logged with the file, and the job's wait
 * returns CN_EPANIC.  One job at a time: a start first waits for the
 * previous job.
 * Threads: lg__sync_start / _done / _wait / _destroy on the writer thread
 * (or the thread that stops it); the pool's threads call only
 * vfs->fdatasync and lg__ix_sync, and at the end of a job broadcast the
 * log's qcond (under qmu, with the pool's own lock released: lock order
 * qmu, then the pool's).  Segments handed to a job stay referenced by the caller
 * until its wait returns.
 */
#include "lg_int.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_log.h"

#include <errno.h>
#include <string.h>

#define LG__SYNC_THREADS 8 /* at most this many fdatasyncs at once */

struct lg__sync {
    lg_log *log;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    pthread_t th[LG__SYNC_THREADS];
    int nth;
    lg_seg **items; /* the job's segments (borrowed) */
    size_t cap;
    size_t total; /* items + 1 when the job includes the checkpoint */
    size_t n;     /* segments in the job */
    size_t next;  /* next item a thread takes */
    size_t left;  /* items not finished */
    int err;      /* a failure in this job */
    int stop;
};

/* One item: a segment's fdatasync, or (seg NULL) the checkpoint. */
static int lg__sync_do(lg_log *log, lg_seg *seg)
{
    if (seg) {
        if (log->vfs->fdatasync(log->vfs->ud, seg->fd) == 0)
            return 0;
        cn_log_error("lg",
                     "%s: fdatasync failed: %s; the log stops accepting appends until reopened",
                     seg->path, strerror(errno));
    } else {
        int rc = lg__ix_sync(log);
        if (rc == 0)
            return 0;
        cn_log_error("lg", "checkpoint failed: %s; the log stops accepting appends until reopened",
                     cn_strerror(rc));
    }
    atomic_store(&log->panic, 1);
    return CN_EPANIC;
}

static void *lg__sync_main(void *arg)
{
    lg__sync *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stop && s->next >= s->total)
            pthread_cond_wait(&s->go, &s->mu);
        if (s->next >= s->total)
            break; /* stop, and nothing left to take */
        size_t i = s->next++;
        lg_seg *seg = i < s->n ? s->items[i] : NULL;
        pthread_mutex_unlock(&s->mu);
        int rc = lg__sync_do(s->log, seg);
        pthread_mutex_lock(&s->mu);
        if (rc)
            s->err = rc;
        if (--s->left == 0) {
            pthread_cond_broadcast(&s->done);
            /* The writer may wait on qcond for "sync done or new work". */
            pthread_mutex_unlock(&s->mu);
            pthread_mutex_lock(&s->log->qmu);
            pthread_cond_broadcast(&s->log->qcond);
            pthread_mutex_unlock(&s->log->qmu);
            pthread_mutex_lock(&s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int lg__sync_create(lg__sync **out, lg_log *log)
{
    lg__sync *s = cn_calloc(1, sizeof(*s));
    if (!s)
        return CN_ENOMEM;
    s->log = log;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->go, NULL);
    pthread_cond_init(&s->done, NULL);
    *out = s;
    return 0;
}

/* Wait for the job in flight (mu held).  Its result, cleared. */
static int lg__sync_wait_locked(lg__sync *s)
{
    while (s->left > 0)
        pthread_cond_wait(&s->done, &s->mu);
    int rc = s->err;
    s->err = 0;
    return rc;
}

int lg__sync_done(lg__sync *s)
{
    pthread_mutex_lock(&s->mu);
    int done = s->left == 0;
    pthread_mutex_unlock(&s->mu);
    return done;
}

int lg__sync_wait(lg__sync *s)
{
    pthread_mutex_lock(&s->mu);
    int rc = lg__sync_wait_locked(s);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int lg__sync_start(lg__sync *s, lg_seg *const *segs, size_t n, int ckpt)
{
    pthread_mutex_lock(&s->mu);
    int prev = lg__sync_wait_locked(s); /* failures were logged and made sticky */
    size_t total = n + (ckpt ? 1 : 0);
    if (n > s->cap) {
        lg_seg **ni = cn_realloc(s->items, n * sizeof(*ni));
        if (ni) {
            s->items = ni;
            s->cap = n;
        }
    }
    while (s->nth < LG__SYNC_THREADS && (size_t)s->nth < total &&
           pthread_create(&s->th[s->nth], NULL, lg__sync_main, s) == 0)
        s->nth++;
    if (n > s->cap || s->nth == 0) {
        /* No room to list the job or no thread to run it: do it here. */
        int rc = 0;
        for (size_t i = 0; i < total; i++)
            if (lg__sync_do(s->log, i < n ? segs[i] : NULL))
                rc = CN_EPANIC;
        s->err = rc; /* what the next wait returns */
        pthread_mutex_unlock(&s->mu);
        return prev;
    }
    if (n)
        memcpy(s->items, segs, n * sizeof(*segs));
    s->n = n;
    s->total = total;
    s->next = 0;
    s->left = total;
    s->err = 0;
    pthread_cond_broadcast(&s->go);
    pthread_mutex_unlock(&s->mu);
    return prev;
}

void lg__sync_destroy(lg__sync *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    (void)lg__sync_wait_locked(s);
    s->stop = 1;
    pthread_cond_broadcast(&s->go);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nth; i++)
        pthread_join(s->th[i], NULL);
    pthread_cond_destroy(&s->done);
    pthread_cond_destroy(&s->go);
    pthread_mutex_destroy(&s->mu);
    cn_free(s->items);
    cn_free(s);
}
