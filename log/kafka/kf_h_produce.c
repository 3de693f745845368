/* SPDX-License-Identifier: MIT */
/*
 * kf_h_produce.c — the Produce handler (v3-v7, RecordBatch v2 only).
 *
 * Each partition's Records may hold several batches; they are handed to
 * lg_append_batches as one set, stored all or none (as Kafka appends
 * them), which validates (length, magic, CRC), checks the
 * idempotent-producer sequences and queues them for the writer thread's
 * group commit.  Replies go out only after every batch's callback, i.e. after
 * the fdatasync of its segment (acks 1 and -1 alike: one node is the whole
 * ISR).  Clustered (kf_server_opts.repl), a partition this node does not
 * lead gets NOT_LEADER_OR_FOLLOWER, and each batch is proposed to the
 * partition's replication group: acks=-1 is answered once the batch is
 * below the HW (fdatasync'd on a majority), acks=1 once it is fdatasync'd
 * here, and a leader that loses its term fails what is pending with
 * NOT_LEADER_OR_FOLLOWER.  acks=0 gets no reply, as in Kafka, but the connection still waits
 * for the appends before serving its next request so ordering holds.
 *
 * Backpressure: the loop never waits for the log.  Appends go through
 * lg_append_batches_try; when the log's queue is full the request is
 * parked where it stopped (a partition's batches are queued whole or not
 * at all), its connection stops being read, and it is retried after each
 * writer round (the lg_end_listen wake) and on a short timer, so one
 * flooding client waits alone while every other connection is served.
 *
 * Pipelining: a connection may have several Produces in flight (its pipe,
 * c->prod .. c->prod_tail, in request order; kf_server.c decides when the
 * next one may start).  Each one's batches are queued when it is served,
 * so they reach the log in request order; a Produce whose callbacks are
 * all in is marked complete, and replies leave from the pipe's head only,
 * so they go out in request order whatever order the rounds finished them.
 *
 * Threads: kf_h_produce and kf__produce_complete run on the loop; the
 * append callback runs on the log's writer thread and only records the
 * result under kf_server.mu and wakes the loop.
 * Ownership: the kf_produce and its result slots live in the arena it was
 * decoded into (the connection's, or its own once detached: freed when
 * it is answered); the connection is kept alive while its pipe is not
 * empty (kf__conn_pinned).
 */
#include "kf_server_int.h"

#include "cn_err.h"
#include "cn_log.h"
#include "kf_errors.h"
#include "lg_batch.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <string.h>

/* Note one batch's outcome (kerr: a Kafka error code); the last one wakes
 * the loop.  Writer thread (standalone) or loop thread (clustered). */
static void kf_produce_note(kf_prod_part *pp, int16_t kerr, int64_t base, int64_t log_start)
{
    kf_produce *p = pp->prod;
    kf_server *s = p->conn->s;
    pthread_mutex_lock(&s->mu);
    if (kerr && !pp->error)
        pp->error = kerr;
    if (!pp->have_first && !kerr) {
        /* Batches of one partition complete in queue order, so the first
         * success is the first batch's offset. */
        pp->have_first = 1;
        pp->base_offset = base;
        pp->log_append_time = -1;
        pp->log_start_offset = log_start;
    }
    pp->batches_left--;
    int last = --p->outstanding == 0;
    if (last) {
        p->next_done = NULL;
        if (s->done_tail)
            s->done_tail->next_done = p;
        else
            s->done_head = p;
        s->done_tail = p;
    }
    pthread_mutex_unlock(&s->mu);
    if (last)
        event_active(s->wake, EV_READ, 0);
}

/* Writer thread: a standalone append completed. */
static void kf_produce_cb(void *ud, const lg_append_result *res)
{
    kf_produce_note(ud, res->err ? kf__kafka_error(res->err) : 0, res->base_offset,
                    res->log_start_offset);
}

/* Loop thread: a clustered proposal was acknowledged (acks=all: below the
 * HW; acks=1: fdatasync'd here) or failed; CN_EPERM is leadership lost
 * before the acknowledgement, which Kafka calls NOT_LEADER_OR_FOLLOWER. */
static void kf_produce_rp_cb(void *ud, int err, int64_t base)
{
    kf_produce_note(ud,
                    err == CN_EPERM ? KF_ERR_NOT_LEADER_OR_FOLLOWER
                    : err           ? kf__kafka_error(err)
                                    : 0,
                    base, -1);
}

/* Clustered: propose each batch to the partition's replication group.
 * Unlike the standalone set append, batches are acknowledged one by one
 * (a request with several batches for one partition is not all or none). */
static int16_t kf_produce_replicated(kf_server *s, kf_produce *p, kf_prod_part *pp,
                                     const char *topic, int32_t part, const lg_batchv *v, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        pthread_mutex_lock(&s->mu);
        p->outstanding++;
        pp->batches_left++;
        pthread_mutex_unlock(&s->mu);
        int rc = rp_repl_propose(s->o.repl, topic, part, v[k].batch, v[k].len, p->acks == -1,
                                 kf_produce_rp_cb, pp);
        if (rc) {
            pthread_mutex_lock(&s->mu);
            p->outstanding--;
            pp->batches_left--;
            pthread_mutex_unlock(&s->mu);
            return rc == CN_EPERM    ? KF_ERR_NOT_LEADER_OR_FOLLOWER
                   : rc == CN_EINVAL ? KF_ERR_CORRUPT_MESSAGE
                                     : kf__kafka_error(rc);
        }
    }
    return 0;
}

/* kf_produce_partition: the log's queue is full; park and retry. */
#define KF_PRODUCE_PARK (-1)
/* How often a parked Produce looks again when no writer round woke it. */
#define KF_PARK_RETRY_MS 20

/* Cut one partition's Records into its batches (pp->v), validating every
 * one.  0, or the Kafka error for the partition. */
static int16_t kf_produce_cut(kf_produce *p, kf_prod_part *pp, const kf_bytes *rec)
{
    if (rec->len <= 0)
        return KF_ERR_CORRUPT_MESSAGE;
    const unsigned char *b = rec->ptr;
    size_t left = (size_t)rec->len, nbatches = 0;
    /* Walk the batch boundaries first: a Records field that does not cut
     * into whole v2 batches is refused before anything is queued. */
    for (size_t off = 0; off < left;) {
        size_t total;
        if (left - off < LG_BATCH_HEADER_LEN || b[off + 16] != 2)
            return left - off >= 17 && b[off + 16] != 2 ? KF_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT
                                                        : KF_ERR_CORRUPT_MESSAGE;
        int rc = lg_batch_size(b + off, left - off, left - off, &total);
        if (rc || total > left - off)
            return KF_ERR_CORRUPT_MESSAGE;
        /* Validate every batch (CRC included) before queueing any, so a
         * bad batch late in the set leaves the partition untouched, as
         * Kafka's all-or-nothing append does. */
        rc = lg_batch_validate(b + off, total, NULL);
        if (rc)
            return rc == LG_EMAGIC ? KF_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT : KF_ERR_CORRUPT_MESSAGE;
        off += total;
        nbatches++;
    }
    /* All or none: the partition's batches go to the log as one set, so a
     * refused one (sequence, fencing, I/O) leaves none of them stored and
     * the client's retry cannot duplicate the others. */
    lg_batchv *v = kf_arena_alloc(p->own ? p->arena : p->conn->arena, nbatches * sizeof(*v));
    if (!v)
        return KF_ERR_UNKNOWN_SERVER_ERROR;
    size_t k = 0;
    for (size_t off = 0; off < left; k++) {
        size_t total;
        lg_batch_size(b + off, left - off, left - off, &total);
        v[k] = (lg_batchv){b + off, total};
        off += total;
    }
    pp->v = v;
    pp->nv = nbatches;
    return 0;
}

/* Queue every batch of one partition's Records, never waiting.  Returns
 * 0, the Kafka error for the partition if nothing could be queued, or
 * KF_PRODUCE_PARK when the log's queue is full (nothing queued). */
static int kf_produce_partition(kf_server *s, kf_produce *p, kf_prod_part *pp, const char *topic,
                                int32_t part, const kf_bytes *rec)
{
    if (s->o.repl && strcmp(topic, KF_OFFSETS_TOPIC) == 0)
        return KF_ERR_INVALID_TOPIC_EXCEPTION; /* written by group coordinators only */
    int16_t lerr = kf__leader_check(s, topic, part);
    if (lerr)
        return lerr;
    if (!pp->v) {
        int16_t e = kf_produce_cut(p, pp, rec);
        if (e)
            return e;
    }
    lg_batchv *v = pp->v;
    size_t nbatches = pp->nv;
    const kf_ProduceRequest *q = p->req.body;
    int16_t terr = kf__txn_produce_check(s, &q->TransactionalId, topic, part, v, nbatches);
    if (terr)
        return terr; /* kf_h_txn.c: markers, and transactional batches outside their transaction */
    /* Clustered proposals are not parked: the driver's lg_replica_append
     * still waits for room when the log's queue is full (not handled yet). */
    if (s->o.repl)
        return kf_produce_replicated(s, p, pp, topic, part, v, nbatches);
    pthread_mutex_lock(&s->mu);
    p->outstanding += (int)nbatches;
    pp->batches_left += (int)nbatches;
    pthread_mutex_unlock(&s->mu);
    int rc = lg_append_batches_try(s->log, topic, part, v, nbatches, kf_produce_cb, pp);
    if (rc) {
        pthread_mutex_lock(&s->mu);
        p->outstanding -= (int)nbatches;
        pp->batches_left -= (int)nbatches;
        pthread_mutex_unlock(&s->mu);
        if (rc == CN_AGAIN)
            return KF_PRODUCE_PARK;
        return rc == CN_ETOOBIG ? KF_ERR_MESSAGE_TOO_LARGE : kf__kafka_error(rc);
    }
    return 0;
}

/* Queue the request's partitions, from where it last stopped.  1 when the
 * log's queue is full (p->at_* say where to go on), 0 when every
 * partition is queued or answered. */
static int kf_produce_run(kf_produce *p)
{
    kf_server *s = p->conn->s;
    const kf_ProduceRequest *q = p->req.body;
    int32_t ntopics = q->TopicData.n > 0 ? q->TopicData.n : 0;
    for (; p->at_t < ntopics; p->at_t++, p->at_i = 0) {
        const kf_TopicProduceData *td = &q->TopicData.v[p->at_t];
        const char *topic = kf__name(&td->Name);
        if (p->at_i == 0)
            p->topic_ok = p->global_err == 0 && kf__topic_autocreate(s, topic) == 0;
        int32_t np = td->PartitionData.n > 0 ? td->PartitionData.n : 0;
        for (; p->at_i < np; p->at_i++, p->at_k++) {
            kf_prod_part *pp = &p->parts[p->at_k];
            int e;
            if (p->global_err)
                e = p->global_err;
            else if (!p->topic_ok)
                e = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            else
                e = kf_produce_partition(s, p, pp, topic, td->PartitionData.v[p->at_i].Index,
                                         &td->PartitionData.v[p->at_i].Records);
            if (e == KF_PRODUCE_PARK)
                return 1;
            if (e) {
                /* Callbacks for batches already queued may run (and set
                 * pp->error) meanwhile: merge, never overwrite. */
                pthread_mutex_lock(&s->mu);
                if (!pp->error)
                    pp->error = (int16_t)e;
                pthread_mutex_unlock(&s->mu);
            }
        }
    }
    return 0;
}

/* Loop: stop reading c and put p at the end of the parked list. */
static void kf_produce_park(kf_produce *p)
{
    kf_conn *c = p->conn;
    kf_server *s = c->s;
    if (c->bev)
        bufferevent_disable(c->bev, EV_READ);
    p->parked = 1;
    p->next_parked = NULL;
    if (s->pq_tail)
        s->pq_tail->next_parked = p;
    else
        s->pq_head = p;
    s->pq_tail = p;
    s->produce_parks++;
    if (!evtimer_pending(s->park_timer, NULL)) {
        struct timeval tv = {0, KF_PARK_RETRY_MS * 1000};
        evtimer_add(s->park_timer, &tv);
    }
}

/* Drop the submitting reference: 1 when every callback already ran. */
static int kf_produce_submitted(kf_produce *p)
{
    kf_server *s = p->conn->s;
    pthread_mutex_lock(&s->mu);
    int done = --p->outstanding == 0;
    pthread_mutex_unlock(&s->mu);
    return done;
}

void kf__produce_retry_parked(kf_server *s)
{
    kf_produce *list = s->pq_head;
    s->pq_head = s->pq_tail = NULL;
    while (list) {
        kf_produce *p = list;
        list = p->next_parked;
        p->next_parked = NULL;
        if (kf_produce_run(p)) {
            kf_produce_park(p);
            continue;
        }
        p->parked = 0;
        if (p->conn->bev)
            bufferevent_enable(p->conn->bev, EV_READ);
        if (kf_produce_submitted(p))
            kf__produce_complete(p);
    }
}

static void kf_park_timer_cb(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    kf__produce_retry_parked(ud);
}

int kf__produce_start(kf_server *s)
{
    s->park_timer = evtimer_new(s->base, kf_park_timer_cb, s);
    return s->park_timer ? 0 : CN_ENOMEM;
}

static int kf_produce_pipe_flush(kf_conn *c);

int kf_h_produce(kf_conn *c)
{
    const kf_ProduceRequest *q = c->req.body;
    kf_produce *p = kf_arena_alloc(c->arena, sizeof(*p));
    if (!p)
        return CN_ENOMEM;
    memset(p, 0, sizeof(*p));
    p->conn = c;
    p->req = c->req;
    p->acks = q->Acks;
    kf_ProduceResponse *r = &p->resp;
    kf_ProduceResponse_init(r);
    int32_t ntopics = q->TopicData.n > 0 ? q->TopicData.n : 0, nparts = 0;
    for (int32_t t = 0; t < ntopics; t++)
        nparts += q->TopicData.v[t].PartitionData.n > 0 ? q->TopicData.v[t].PartitionData.n : 0;
    r->Responses.n = ntopics;
    r->Responses.v =
        kf_arena_alloc(c->arena, (size_t)(ntopics ? ntopics : 1) * sizeof(*r->Responses.v));
    p->parts = kf_arena_alloc(c->arena, (size_t)(nparts ? nparts : 1) * sizeof(*p->parts));
    if (!r->Responses.v || !p->parts)
        return CN_ENOMEM;
    memset(p->parts, 0, (size_t)(nparts ? nparts : 1) * sizeof(*p->parts));
    p->nparts = nparts;
    for (int32_t t = 0; t < ntopics; t++) {
        const kf_TopicProduceData *td = &q->TopicData.v[t];
        kf_TopicProduceResponse *tr = &r->Responses.v[t];
        tr->Name = td->Name;
        int32_t np = td->PartitionData.n > 0 ? td->PartitionData.n : 0;
        tr->PartitionResponses.n = np;
        tr->PartitionResponses.v =
            kf_arena_alloc(c->arena, (size_t)(np ? np : 1) * sizeof(*tr->PartitionResponses.v));
        if (!tr->PartitionResponses.v)
            return CN_ENOMEM;
    }
    for (int32_t k = 0; k < nparts; k++) {
        kf_prod_part *pp = &p->parts[k];
        pp->prod = p;
        pp->base_offset = -1;
        pp->log_append_time = -1;
        pp->log_start_offset = -1;
    }
    if (q->Acks != 0 && q->Acks != 1 && q->Acks != -1)
        p->global_err = KF_ERR_INVALID_REQUIRED_ACKS;
    /* The guard reference: no completion can finish the request while we
     * are still queueing its batches (or it is parked). */
    p->outstanding = 1;
    if (c->prod_tail)
        c->prod_tail->next_pipe = p;
    else
        c->prod = p;
    c->prod_tail = p;
    c->nprod++;
    if (kf_produce_run(p)) {
        kf_produce_park(p);
        return KF_ASYNC;
    }
    if (!kf_produce_submitted(p))
        return KF_ASYNC;
    /* Nothing was queued (every partition failed up front): answered at
     * once, unless earlier Produces still wait for theirs. */
    p->complete = 1;
    int rc = kf_produce_pipe_flush(c);
    if (rc < 0)
        return rc;
    return c->prod ? KF_ASYNC : KF_DONE;
}

/* Fill the reply from the results and send it (unless acks=0).
 * Returns 0 or an encoding error. */
static int kf_produce_reply(kf_produce *p)
{
    kf_conn *c = p->conn;
    const kf_ProduceRequest *q = p->req.body;
    kf_ProduceResponse *r = &p->resp;
    int32_t k = 0;
    for (int32_t t = 0; t < r->Responses.n; t++) {
        kf_TopicProduceResponse *tr = &r->Responses.v[t];
        for (int32_t i = 0; i < tr->PartitionResponses.n; i++, k++) {
            kf_PartitionProduceResponse *o = &tr->PartitionResponses.v[i];
            const kf_prod_part *pp = &p->parts[k];
            kf_PartitionProduceResponse_init(o);
            o->Index = q->TopicData.v[t].PartitionData.v[i].Index;
            o->ErrorCode = pp->error;
            o->BaseOffset = pp->error ? -1 : pp->base_offset;
            o->LogAppendTimeMs = -1;
            o->LogStartOffset = pp->error ? -1 : pp->log_start_offset;
        }
    }
    if (p->acks != 0 && !c->dead)
        return kf__reply_as(c, &p->req, r, NULL, 0);
    return 0;
}

/* Answer the complete Produces at the pipe's head, in order, and free
 * those that own their memory.  The number answered, or an encoding
 * error (the connection must then be closed). */
static int kf_produce_pipe_flush(kf_conn *c)
{
    int n = 0;
    while (c->prod && c->prod->complete) {
        kf_produce *p = c->prod;
        int rc = kf_produce_reply(p);
        c->prod = p->next_pipe;
        if (!c->prod)
            c->prod_tail = NULL;
        c->nprod--;
        if (p->own) {
            kf_arena *a = p->arena;
            cn_buf_free(&p->frame);
            kf_arena_free(a); /* p lived in it */
        }
        if (rc)
            return rc;
        n++;
    }
    return n;
}

/* Loop thread: all callbacks of p are in; answer what the pipe's order
 * allows, and serve the next requests once the connection may. */
void kf__produce_complete(kf_produce *p)
{
    kf_conn *c = p->conn;
    p->complete = 1;
    int n = kf_produce_pipe_flush(c);
    if (n < 0) {
        c->busy = 0;
        kf__conn_fail(c, "cannot encode Produce reply");
        return;
    }
    if (n > 0 && (c->busy || !c->prod || c->dead))
        kf__call_done(c);
}
