/* SPDX-License-Identifier: MIT */
/*
 * gw_verify.c — player token signature checks off the event loop.  A
 * handshake whose token is not in the server's token cache is parked
 * (GW_ST_AUTH, not read) and its token goes to one verifier thread through
 * a bounded queue; the thread runs auth_token_verify (Ed25519, ~125 µs)
 * and hands the answer back to the loop (event_active), which stores it
 * in the cache and resumes or refuses the handshake (gw__http_verified).
 *
 * Guarantees: at most queue_cap checks are queued or running at once;
 * submitting more fails with CN_EOVERLOAD at once (the caller answers 503),
 * so a flood of handshakes cannot grow memory or latency without bound.
 * Every job's memory is allocated in gw__verifier_new.  Answers name the
 * connection by (slot, gen): one that closed meanwhile gets nothing, but
 * its token's answer is still cached.
 * Threads: submit, the answer handler and free run on the loop thread; the
 * verifier thread touches only the job lists (under mu) and the job it
 * holds.  The server owns the verifier.
 */
#include "gw_server_int.h"

#include "cn_alloc.h"
#include "cn_err.h"

#include <pthread.h>
#include <string.h>

typedef struct gw_vjob {
    struct gw_vjob *next;
    uint32_t slot, gen;
    int rc;
    size_t len;
    int64_t now_ms;
    auth_token_claims cl;
    char accept[WS_ACCEPT_LEN + 1];
    char tok[AUTH_TOKEN_MAX_LEN];
} gw_vjob;

struct gw_verifier {
    gw_server *srv;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;                         /* under mu */
    gw_vjob *queue_head, *queue_tail; /* under mu: FIFO for the thread */
    gw_vjob *done;                    /* under mu: answers for the loop (LIFO, reversed) */
    gw_vjob *free_jobs;               /* loop thread only */
    gw_vjob *jobs;                    /* the one allocation */
    uint32_t pending;                 /* loop thread: submitted, answer not handled */
    uint32_t cap;                     /* queue_cap */
    gw_verify_fn fn;                  /* under mu (tests): instead of auth_token_verify */
    void *fn_ud;
    unsigned char pk[AUTH_TOKEN_PK_LEN];
    struct event *done_ev;
};

static void *verify_main(void *arg)
{
    gw_verifier *v = arg;
    pthread_mutex_lock(&v->mu);
    for (;;) {
        while (!v->queue_head && !v->stop)
            pthread_cond_wait(&v->cv, &v->mu);
        if (v->stop)
            break;
        gw_vjob *j = v->queue_head;
        v->queue_head = j->next;
        if (!v->queue_head)
            v->queue_tail = NULL;
        gw_verify_fn fn = v->fn;
        void *ud = v->fn_ud;
        pthread_mutex_unlock(&v->mu);
        j->rc = fn ? fn(ud, v->pk, j->tok, j->len, j->now_ms, &j->cl)
                   : auth_token_verify(v->pk, j->tok, j->len, j->now_ms, &j->cl);
        pthread_mutex_lock(&v->mu);
        j->next = v->done;
        v->done = j;
        event_active(v->done_ev, EV_READ, 0);
    }
    pthread_mutex_unlock(&v->mu);
    return NULL;
}

/* Loop thread: hand every answer to the handshake code, oldest first. */
static void verify_done(evutil_socket_t fd, short what, void *arg)
{
    gw_verifier *v = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&v->mu);
    gw_vjob *d = v->done;
    v->done = NULL;
    pthread_mutex_unlock(&v->mu);
    gw_vjob *rev = NULL;
    while (d) {
        gw_vjob *next = d->next;
        d->next = rev;
        rev = d;
        d = next;
    }
    while (rev) {
        gw_vjob *j = rev;
        rev = j->next;
        v->pending--;
        gw__http_verified(v->srv, j->slot, j->gen, j->tok, j->len, j->now_ms, j->rc, &j->cl,
                          j->accept);
        j->next = v->free_jobs;
        v->free_jobs = j;
    }
}

int gw__verifier_new(gw_verifier **out, gw_server *s, uint32_t queue_cap)
{
    *out = NULL;
    gw_verifier *v = cn_calloc(1, sizeof(*v));
    if (!v)
        return CN_ENOMEM;
    v->srv = s;
    v->cap = queue_cap;
    memcpy(v->pk, s->o.auth_pk, AUTH_TOKEN_PK_LEN);
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->cv, NULL);
    v->jobs = cn_calloc(queue_cap, sizeof(*v->jobs));
    v->done_ev = event_new(s->base, -1, 0, verify_done, v);
    if (!v->jobs || !v->done_ev) {
        gw__verifier_free(v);
        return CN_ENOMEM;
    }
    for (uint32_t i = 0; i < queue_cap; i++) {
        v->jobs[i].next = v->free_jobs;
        v->free_jobs = &v->jobs[i];
    }
    if (pthread_create(&v->thread, NULL, verify_main, v)) {
        gw__verifier_free(v);
        return CN_ESYS;
    }
    v->started = 1;
    *out = v;
    return 0;
}

void gw__verifier_free(gw_verifier *v)
{
    if (!v)
        return;
    if (v->started) {
        pthread_mutex_lock(&v->mu);
        v->stop = 1;
        pthread_cond_broadcast(&v->cv);
        pthread_mutex_unlock(&v->mu);
        pthread_join(v->thread, NULL);
    }
    if (v->done_ev)
        event_free(v->done_ev);
    pthread_mutex_destroy(&v->mu);
    pthread_cond_destroy(&v->cv);
    cn_free(v->jobs);
    cn_free(v);
}

int gw__verifier_submit(gw_verifier *v, uint32_t slot, uint32_t gen, const char *tok, size_t len,
                        int64_t now_ms, const char accept[WS_ACCEPT_LEN + 1])
{
    gw_vjob *j = v->free_jobs;
    if (!j || len >= AUTH_TOKEN_MAX_LEN)
        return j ? CN_EINVAL : CN_EOVERLOAD;
    v->free_jobs = j->next;
    j->next = NULL;
    j->slot = slot;
    j->gen = gen;
    j->len = len;
    j->now_ms = now_ms;
    memcpy(j->tok, tok, len);
    memcpy(j->accept, accept, WS_ACCEPT_LEN + 1);
    v->pending++;
    pthread_mutex_lock(&v->mu);
    if (v->queue_tail)
        v->queue_tail->next = j;
    else
        v->queue_head = j;
    v->queue_tail = j;
    pthread_cond_signal(&v->cv);
    pthread_mutex_unlock(&v->mu);
    return 0;
}

uint32_t gw__verifier_pending(const gw_verifier *v)
{
    return v ? v->pending : 0;
}

void gw__verifier_set_fn(gw_verifier *v, gw_verify_fn fn, void *ud)
{
    pthread_mutex_lock(&v->mu);
    v->fn = fn;
    v->fn_ud = ud;
    pthread_mutex_unlock(&v->mu);
}
