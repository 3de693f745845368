/* SPDX-License-Identifier: MIT */
/*
 * kf_commit.c — the offset committer: OffsetCommit's durable write runs on
 * one thread of its own, never on the event loop.
 *
 * The handler (kf_h_group.c, loop thread) validates a request and hands
 * its offsets over as one kf_commit; the connection waits (KF_ASYNC).  The
 * committer thread takes every commit queued since its last round and
 * stores all their offsets with ONE LMDB transaction and ONE sync
 * (lg_group_offsets_commit), so a request of any number of partitions —
 * and every request that arrived meanwhile — costs one fdatasync, and a
 * slow disk stalls only the committing clients.  The finished commits go
 * back to the loop through a mutex-protected list and one event; the loop
 * fills in the per-partition errors and sends the reply, which therefore
 * leaves only after the offsets are durable.
 * Threads: kf__commit_submit and the completion event on the loop; the
 * committer thread only touches queued kf_commits and the lists under mu.
 * Ownership: a kf_commit and its entries live in the connection's arena;
 * the connection stays allocated (c->commit) until its commit completes.
 * Clustered, this thread is the applier of the replicated offsets
 * partitions instead (kf_offsets.c) and OffsetCommit is proposed there.
 */
#include "kf_server_int.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_log.h"
#include "kf_errors.h"

#include <event2/event.h>
#include <string.h>

/* Committer thread: store every entry of a round's commits at once. */
static void kf_commit_round(kf_server *s, kf_commit *list)
{
    size_t total = 0;
    for (kf_commit *k = list; k; k = k->next)
        total += k->n;
    lg_group_offset *all = cn_malloc((total ? total : 1) * sizeof(*all));
    if (!all) {
        /* No room to group them: one transaction and sync per request. */
        for (kf_commit *k = list; k; k = k->next)
            lg_group_offsets_commit(s->log, k->v, k->n);
        return;
    }
    size_t at = 0;
    for (kf_commit *k = list; k; k = k->next) {
        memcpy(all + at, k->v, k->n * sizeof(*all));
        at += k->n;
    }
    lg_group_offsets_commit(s->log, all, total);
    at = 0;
    for (kf_commit *k = list; k; k = k->next) {
        for (size_t i = 0; i < k->n; i++)
            k->v[i].err = all[at + i].err;
        at += k->n;
    }
    cn_free(all);
}

static void *kf_committer_main(void *ud)
{
    kf_server *s = ud;
    pthread_mutex_lock(&s->cmu);
    for (;;) {
        while (!s->cq_head && !s->cstop)
            pthread_cond_wait(&s->ccond, &s->cmu);
        if (!s->cq_head)
            break; /* stopping, nothing left */
        kf_commit *list = s->cq_head;
        s->cq_head = s->cq_tail = NULL;
        pthread_mutex_unlock(&s->cmu);
        kf_commit_round(s, list);
        pthread_mutex_lock(&s->cmu);
        while (list) {
            kf_commit *k = list;
            list = k->next;
            k->next = NULL;
            if (s->cdone_tail)
                s->cdone_tail->next = k;
            else
                s->cdone_head = k;
            s->cdone_tail = k;
        }
        event_active(s->commit_wake, EV_READ, 0);
    }
    pthread_mutex_unlock(&s->cmu);
    return NULL;
}

/* Loop: answer every commit the committer finished. */
static void kf_commit_wake_cb(evutil_socket_t fd, short what, void *ud)
{
    kf_server *s = ud;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&s->cmu);
    kf_commit *list = s->cdone_head;
    s->cdone_head = s->cdone_tail = NULL;
    pthread_mutex_unlock(&s->cmu);
    while (list) {
        kf_commit *k = list;
        list = k->next;
        for (size_t i = 0; i < k->n; i++)
            k->out[i]->ErrorCode = k->v[i].err ? kf__kafka_error(k->v[i].err) : 0;
        kf__commit_answer(k);
    }
    if (s->o.repl)
        kf__offsets_answer_applied(s); /* the applier moved */
}

void kf__commit_answer(kf_commit *k)
{
    kf_conn *c = k->conn;
    c->commit = NULL;
    int rc = kf__reply(c, &k->resp, NULL, 0);
    if (rc) {
        c->busy = 0;
        kf__conn_fail(c, "cannot encode OffsetCommit reply");
        return;
    }
    kf__call_done(c);
}

int kf__commit_start(kf_server *s)
{
    pthread_mutex_init(&s->cmu, NULL);
    pthread_cond_init(&s->ccond, NULL);
    s->cinit = 1;
    s->commit_wake = event_new(s->base, -1, 0, kf_commit_wake_cb, s);
    if (!s->commit_wake)
        return CN_ENOMEM;
    /* Clustered, offsets reach LMDB only through the applier: the
     * committed records of the replicated offsets partitions. */
    int rc = s->o.repl ? kf__offsets_load(s) : 0;
    if (rc)
        return rc;
    if (pthread_create(&s->committer, NULL,
                       s->o.repl ? kf__offsets_applier_main : kf_committer_main, s))
        return CN_ENOMEM;
    s->committer_up = 1;
    return 0;
}

void kf__commit_stop(kf_server *s)
{
    if (!s->cinit)
        return;
    if (s->committer_up) {
        pthread_mutex_lock(&s->cmu);
        s->cstop = 1;
        pthread_cond_signal(&s->ccond);
        pthread_mutex_unlock(&s->cmu);
        pthread_join(s->committer, NULL);
        s->committer_up = 0;
    }
    if (s->commit_wake)
        event_free(s->commit_wake);
    s->commit_wake = NULL;
    pthread_cond_destroy(&s->ccond);
    pthread_mutex_destroy(&s->cmu);
    s->cinit = 0;
}

void kf__commit_submit(kf_commit *k)
{
    kf_server *s = k->conn->s;
    k->conn->commit = k;
    k->next = NULL;
    pthread_mutex_lock(&s->cmu);
    if (s->cq_tail)
        s->cq_tail->next = k;
    else
        s->cq_head = k;
    s->cq_tail = k;
    pthread_cond_signal(&s->ccond);
    pthread_mutex_unlock(&s->cmu);
}
