/* SPDX-License-Identifier: MIT */
/*
 * kf_h_fetch.c — Fetch (v4-v11) with max-wait/min-bytes long polling, and
 * ListOffsets (v0-v5).  Both apply the currentLeaderEpoch fence
 * (kf_h_epoch.c) and read below the partition's high watermark (the log's
 * read limit; the log end on a standalone node); ListOffsets reports the
 * leader epoch of the offset it answers.
 *
 * Fetch replies carry record bytes straight from segment files: lg_read
 * gives a file range of whole batches, which kf__reply splices into the
 * output as a libevent file segment (sendfile), holding the segment
 * reference until the bytes are sent.  Only acknowledged (fsynced) data
 * is visible, so a consumer never sees a batch a crash could take back.
 * A Fetch that finds fewer than MinBytes parks until new appends arrive
 * (kf__fetch_recheck, on the loop after produce completions or
 * kf_server_notify_append) or MaxWaitMs passes.  A wake evaluates a parked
 * Fetch again only when the end of one of its partitions moved (the ends
 * are noted, with lg_end_peek, before each evaluation, so an append that
 * lands during one is seen by the next wake): a flood of appends to other
 * partitions costs each parked Fetch a few memory reads, not a read of
 * every partition it asked for.  Fetch sessions (KIP-227)
 * are not kept: replies carry SessionId 0, so clients send full fetches.
 * Threads: loop only.
 */
#include "kf_server_int.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_log.h"
#include "cn_time.h"
#include "kf_errors.h"

#include <event2/event.h>
#include <string.h>

/* ======================================================================
 * Fetch
 * ====================================================================== */

static void kf_fetch_park(kf_conn *c)
{
    kf_server *s = c->s;
    if (c->fetch.parked)
        return;
    c->fetch.parked = 1;
    atomic_fetch_add(&s->fetch_parks, 1);
    c->park_prev = NULL;
    c->park_next = s->parked;
    if (s->parked)
        s->parked->park_prev = c;
    s->parked = c;
}

void kf__fetch_unpark(kf_conn *c)
{
    kf_server *s = c->s;
    if (!c->fetch.parked)
        return;
    if (c->park_prev)
        c->park_prev->park_next = c->park_next;
    else
        s->parked = c->park_next;
    if (c->park_next)
        c->park_next->park_prev = c->park_prev;
    c->park_prev = c->park_next = NULL;
    c->fetch.parked = 0;
    if (c->timer)
        evtimer_del(c->timer);
}

/* read_committed: the aborted transactions of [from, upto), in the arena. */
typedef struct kf_aborted_acc {
    kf_arena *a;
    kf_AbortedTransaction *v;
    int32_t n, cap;
    int err;
} kf_aborted_acc;

static int kf_aborted_add(void *ud, const lg_aborted_txn *t)
{
    kf_aborted_acc *acc = ud;
    if (acc->n == acc->cap) {
        int32_t nc = acc->cap ? acc->cap * 2 : 8;
        kf_AbortedTransaction *nv = kf_arena_alloc(acc->a, (size_t)nc * sizeof(*nv));
        if (!nv)
            return acc->err = CN_ENOMEM;
        if (acc->n)
            memcpy(nv, acc->v, (size_t)acc->n * sizeof(*nv));
        acc->v = nv;
        acc->cap = nc;
    }
    acc->v[acc->n].ProducerId = t->producer_id;
    acc->v[acc->n].FirstOffset = t->first_offset;
    acc->n++;
    return 0;
}

static int kf_fetch_aborted(kf_server *s, kf_arena *a, const char *topic, int32_t part,
                            int64_t from, int64_t upto, kf_PartitionData *o)
{
    kf_aborted_acc acc = {a, NULL, 0, 0, 0};
    o->AbortedTransactions.n = 0;
    o->AbortedTransactions.v = NULL;
    if (upto <= from)
        return 0;
    int rc = lg_aborted_txns(s->log, topic, part, from, upto, kf_aborted_add, &acc);
    if (rc)
        return rc;
    o->AbortedTransactions.v = acc.v;
    o->AbortedTransactions.n = acc.n;
    return 0;
}

/*
 * Build the Fetch reply for c's request.  Sends it (returning KF_DONE) if
 * final, or if it holds MinBytes or an error; otherwise releases what it
 * read and returns KF_ASYNC so the caller parks.
 */
static int kf_fetch_eval(kf_conn *c, int final)
{
    kf_server *s = c->s;
    const kf_FetchRequest *q = c->req.body;
    /* The reply is built in a scratch arena reset on every evaluation: a
     * parked fetch is re-evaluated after each append round, and must not
     * grow the request arena each time. */
    if (!c->scratch && kf_arena_new(&c->scratch, 0))
        return CN_ENOMEM;
    kf_arena_reset(c->scratch, 65536 + (size_t)c->frame.len * 64);
    kf_arena *a = c->scratch;
    kf_FetchResponse r;
    kf_FetchResponse_init(&r);
    int32_t nt = q->Topics.n > 0 ? q->Topics.n : 0, nparts = 0;
    for (int32_t t = 0; t < nt; t++)
        nparts += q->Topics.v[t].Partitions.n > 0 ? q->Topics.v[t].Partitions.n : 0;
    /* Re-evaluations reuse the request arena; a parked fetch re-checks a
     * bounded number of times per append round, each costing O(partitions). */
    r.Responses.n = nt;
    r.Responses.v = kf_arena_alloc(a, (size_t)(nt ? nt : 1) * sizeof(*r.Responses.v));
    lg_read_result *reads = kf_arena_alloc(a, (size_t)(nparts ? nparts : 1) * sizeof(*reads));
    if (!r.Responses.v || !reads)
        return CN_ENOMEM;
    int nreads = 0, any_error = 0;
    uint64_t bytes = 0;
    uint64_t budget = q->MaxBytes > 0 ? (uint64_t)q->MaxBytes : 0;
    /* read_committed (KIP-98): nothing at or past the last stable offset,
     * and the aborted transactions of what is returned, which the client
     * drops. */
    int committed = q->IsolationLevel == 1;
    for (int32_t t = 0; t < nt; t++) {
        const kf_FetchTopic *ft = &q->Topics.v[t];
        const char *topic = kf__name(&ft->Topic);
        kf_FetchableTopicResponse *tr = &r.Responses.v[t];
        kf_FetchableTopicResponse_init(tr);
        tr->Topic = ft->Topic;
        int32_t np = ft->Partitions.n > 0 ? ft->Partitions.n : 0;
        tr->Partitions.n = np;
        tr->Partitions.v = kf_arena_alloc(a, (size_t)(np ? np : 1) * sizeof(*tr->Partitions.v));
        if (!tr->Partitions.v) {
            for (int i = 0; i < nreads; i++)
                lg_read_release(s->log, &reads[i]);
            return CN_ENOMEM;
        }
        for (int32_t i = 0; i < np; i++) {
            const kf_FetchPartition *fp = &ft->Partitions.v[i];
            kf_PartitionData *o = &tr->Partitions.v[i];
            kf_PartitionData_init(o);
            o->PartitionIndex = fp->Partition;
            o->AbortedTransactions.n = -1;
            o->Records.ptr = (const unsigned char *)"";
            o->Records.len = 0;
            int16_t lerr = kf__leader_check(s, topic, fp->Partition);
            if (lerr) { /* clustered: consumers read from the serving leader only */
                any_error = 1;
                o->ErrorCode = lerr;
                o->HighWatermark = -1;
                continue;
            }
            size_t want = fp->PartitionMaxBytes > 0 ? (size_t)fp->PartitionMaxBytes : 0;
            if (budget < want)
                want = (size_t)budget;
            lg_read_result rr;
            memset(&rr, 0, sizeof(rr));
            int rc;
            /* KIP-74: once the response budget is spent, later partitions
             * report offsets only; the first non-empty one always gets at
             * least one whole batch (lg_read guarantees that). */
            int16_t fenced = kf__epoch_fence_part(s, topic, fp->Partition, fp->CurrentLeaderEpoch);
            if (fenced) {
                any_error = 1;
                o->ErrorCode = fenced;
                o->HighWatermark = -1;
                continue;
            }
            if (want == 0 && bytes > 0) {
                lg_partition_info info;
                rc = lg_partition_info_get(s->log, topic, fp->Partition, &info);
                if (rc == 0) {
                    o->HighWatermark = info.high_watermark;
                    o->LastStableOffset = info.high_watermark;
                    o->LogStartOffset = info.log_start_offset;
                    if (committed)
                        rc = lg_last_stable_offset(s->log, topic, fp->Partition,
                                                   &o->LastStableOffset);
                }
            } else {
                int64_t hw = -1;
                rc = committed ? lg_read_committed(s->log, topic, fp->Partition, fp->FetchOffset,
                                                   want ? want : 1, &rr, &hw)
                               : lg_read(s->log, topic, fp->Partition, fp->FetchOffset,
                                         want ? want : 1, &rr);
                if (rc == 0) {
                    o->HighWatermark = committed ? hw : rr.log_end_offset;
                    o->LastStableOffset = rr.log_end_offset;
                    o->LogStartOffset = rr.log_start_offset;
                    if (committed && rr.len > 0)
                        rc = kf_fetch_aborted(s, a, topic, fp->Partition, rr.first_offset,
                                              rr.next_offset, o);
                    else if (committed)
                        o->AbortedTransactions.n = 0;
                    if (rc) {
                        lg_read_release(s->log, &rr);
                    } else if (rr.len > 0) {
                        reads[nreads++] = rr;
                        o->Records.ptr = NULL; /* spliced from the file */
                        o->Records.len = (int32_t)rr.len;
                        bytes += rr.len;
                        budget = budget > rr.len ? budget - rr.len : 0;
                    } else {
                        lg_read_release(s->log, &rr);
                    }
                }
            }
            if (rc) {
                any_error = 1;
                o->ErrorCode = kf__kafka_error(rc);
                o->HighWatermark = -1;
                if (rc == LG_EOFFSET) {
                    lg_partition_info info;
                    if (lg_partition_info_get(s->log, topic, fp->Partition, &info) == 0) {
                        o->HighWatermark = info.high_watermark;
                        o->LastStableOffset = info.high_watermark;
                        o->LogStartOffset = info.log_start_offset;
                        if (committed)
                            lg_last_stable_offset(s->log, topic, fp->Partition,
                                                  &o->LastStableOffset);
                    }
                }
            }
        }
    }
    int64_t min_bytes = q->MinBytes > 0 ? q->MinBytes : 0;
    if (!final && !any_error && q->MaxWaitMs > 0 && (int64_t)bytes < min_bytes && !s->draining) {
        for (int i = 0; i < nreads; i++)
            lg_read_release(s->log, &reads[i]);
        return KF_ASYNC;
    }
    int rc = kf__reply(c, &r, reads, nreads);
    return rc ? rc : KF_DONE;
}

static void kf_fetch_timer_cb(evutil_socket_t fd, short what, void *ud)
{
    kf_conn *c = ud;
    (void)fd;
    (void)what;
    kf__fetch_unpark(c);
    int rc = kf_fetch_eval(c, 1);
    if (rc < 0) {
        c->busy = 0;
        kf__conn_fail(c, "cannot build Fetch reply");
        return;
    }
    kf__call_done(c);
}

/* Note the ends of c's partitions (c->fetch.seen, in the request arena);
 * without room every wake evaluates c again. */
static void kf_fetch_note_ends(kf_conn *c)
{
    const kf_FetchRequest *q = c->req.body;
    int32_t nt = q->Topics.n > 0 ? q->Topics.n : 0, n = 0;
    for (int32_t t = 0; t < nt; t++)
        n += q->Topics.v[t].Partitions.n > 0 ? q->Topics.v[t].Partitions.n : 0;
    if (!c->fetch.seen) {
        c->fetch.seen = kf_arena_alloc(c->arena, (size_t)(n ? n : 1) * sizeof(int64_t));
        c->fetch.nseen = c->fetch.seen ? n : 0;
        if (!c->fetch.seen)
            return;
    }
    int32_t k = 0;
    for (int32_t t = 0; t < nt; t++) {
        const kf_FetchTopic *ft = &q->Topics.v[t];
        const char *topic = kf__name(&ft->Topic);
        for (int32_t i = 0; i < ft->Partitions.n && k < c->fetch.nseen; i++, k++) {
            int64_t e;
            int rc = lg_end_peek(c->s->log, topic, ft->Partitions.v[i].Partition, &e);
            c->fetch.seen[k] = rc ? -2 : e;
        }
    }
}

/* Did the end of any of c's partitions move since they were noted? */
static int kf_fetch_moved(kf_conn *c)
{
    if (!c->fetch.seen)
        return 1;
    const kf_FetchRequest *q = c->req.body;
    int32_t nt = q->Topics.n > 0 ? q->Topics.n : 0, k = 0;
    for (int32_t t = 0; t < nt; t++) {
        const kf_FetchTopic *ft = &q->Topics.v[t];
        const char *topic = kf__name(&ft->Topic);
        for (int32_t i = 0; i < ft->Partitions.n && k < c->fetch.nseen; i++, k++) {
            int64_t e;
            if (c->fetch.seen[k] == -2 ||
                lg_end_peek(c->s->log, topic, ft->Partitions.v[i].Partition, &e) != 0 ||
                e != c->fetch.seen[k])
                return 1;
        }
    }
    return 0;
}

int kf_h_fetch(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_FetchRequest *q = c->req.body;
    c->fetch.seen = NULL; /* the last request's, in an arena since reset */
    c->fetch.nseen = 0;
    kf_fetch_note_ends(c);
    int rc = kf_fetch_eval(c, 0);
    if (rc != KF_ASYNC)
        return rc;
    if (!c->timer) {
        c->timer = evtimer_new(s->base, kf_fetch_timer_cb, c);
        if (!c->timer)
            return CN_ENOMEM;
    }
    c->fetch.deadline_ms = cn_now_ms() + q->MaxWaitMs;
    struct timeval tv = {q->MaxWaitMs / 1000, (q->MaxWaitMs % 1000) * 1000};
    evtimer_add(c->timer, &tv);
    kf_fetch_park(c);
    return KF_ASYNC;
}

void kf__fetch_recheck(kf_server *s, int only_expired)
{
    /* Walk a snapshot: replying can unpark (and a failure free) entries. */
    size_t n = 0;
    for (kf_conn *c = s->parked; c; c = c->park_next)
        n++;
    if (!n)
        return;
    kf_conn **list = cn_malloc(n * sizeof(*list));
    if (!list)
        return; /* the timers still answer every parked fetch */
    size_t k = 0;
    for (kf_conn *c = s->parked; c; c = c->park_next)
        list[k++] = c;
    for (size_t i = 0; i < n; i++) {
        kf_conn *c = list[i];
        int final = only_expired ? c->fetch.deadline_ms <= cn_now_ms() : 0;
        if (only_expired && !final)
            continue;
        if (!final) {
            if (!kf_fetch_moved(c))
                continue; /* nothing new for it */
            kf_fetch_note_ends(c);
            atomic_fetch_add(&s->fetch_rechecks, 1);
        }
        int rc = kf_fetch_eval(c, final);
        if (rc == KF_ASYNC)
            continue;
        kf__fetch_unpark(c);
        if (rc < 0) {
            c->busy = 0;
            kf__conn_fail(c, "cannot build Fetch reply");
            continue;
        }
        kf__call_done(c);
    }
    cn_free(list);
}

/* ======================================================================
 * ListOffsets
 * ====================================================================== */

/* The offset for one ListOffsets query: -1 latest, -2 earliest, else the
 * first offset with timestamp >= ts (and that record's timestamp), and the
 * leader epoch Kafka reports with it: latest, the partition's current
 * epoch; else the epoch of the batch at the offset (the current one for an
 * empty log; -1 when no record matched). */
static int kf_list_one(kf_server *s, const char *topic, int32_t part, int64_t ts, int committed,
                       int64_t *off, int64_t *found_ts, int32_t *epoch)
{
    lg_partition_info info;
    int rc = lg_partition_info_get(s->log, topic, part, &info);
    if (rc)
        return rc;
    *found_ts = -1;
    *epoch = info.leader_epoch;
    if (ts == -1) {
        /* what consumers may read below; read_committed ones the LSO */
        *off = info.high_watermark;
        return committed ? lg_last_stable_offset(s->log, topic, part, off) : 0;
    }
    if (ts == -2) {
        *off = info.log_start_offset;
        if (info.high_watermark > info.log_start_offset)
            *epoch = kf__epoch_at(s, topic, part, *off);
        return 0;
    }
    if (ts < 0)
        return CN_EINVAL;
    rc = lg_offset_for_time(s->log, topic, part, ts, off);
    if (rc || *off >= info.high_watermark) {
        if (!rc) {
            *off = -1; /* Kafka: no record at or after ts → offset -1 */
            *epoch = -1;
        }
        return rc;
    }
    lg_iter *it;
    if (lg_iter_open(&it, s->log, topic, part, *off) == 0) {
        lg_record rec;
        while (lg_iter_next(it, &rec) == 0) {
            if (rec.offset >= *off && rec.timestamp >= ts) {
                *off = rec.offset;
                *found_ts = rec.timestamp;
                break;
            }
        }
        lg_iter_close(it);
    }
    *epoch = kf__epoch_at(s, topic, part, *off);
    return 0;
}

int kf_h_list_offsets(kf_conn *c)
{
    kf_server *s = c->s;
    const kf_ListOffsetsRequest *q = c->req.body;
    int16_t v = c->req.hdr.api_version;
    kf_ListOffsetsResponse r;
    kf_ListOffsetsResponse_init(&r);
    int32_t nt = q->Topics.n > 0 ? q->Topics.n : 0;
    r.Topics.n = nt;
    r.Topics.v = kf_arena_alloc(c->arena, (size_t)(nt ? nt : 1) * sizeof(*r.Topics.v));
    if (!r.Topics.v)
        return CN_ENOMEM;
    for (int32_t t = 0; t < nt; t++) {
        const kf_ListOffsetsTopic *qt = &q->Topics.v[t];
        kf_ListOffsetsTopicResponse *rt = &r.Topics.v[t];
        kf_ListOffsetsTopicResponse_init(rt);
        rt->Name = qt->Name;
        int32_t np = qt->Partitions.n > 0 ? qt->Partitions.n : 0;
        rt->Partitions.n = np;
        rt->Partitions.v =
            kf_arena_alloc(c->arena, (size_t)(np ? np : 1) * sizeof(*rt->Partitions.v));
        if (!rt->Partitions.v)
            return CN_ENOMEM;
        for (int32_t i = 0; i < np; i++) {
            const kf_ListOffsetsPartition *qp = &qt->Partitions.v[i];
            kf_ListOffsetsPartitionResponse *o = &rt->Partitions.v[i];
            kf_ListOffsetsPartitionResponse_init(o);
            o->PartitionIndex = qp->PartitionIndex;
            const char *topic = kf__name(&qt->Name);
            o->ErrorCode =
                kf__epoch_fence_part(s, topic, qp->PartitionIndex, qp->CurrentLeaderEpoch);
            if (o->ErrorCode)
                continue;
            int64_t off = -1, ts = -1;
            int16_t lerr = kf__leader_check(s, topic, qp->PartitionIndex);
            if (lerr) {
                o->ErrorCode = lerr;
                continue;
            }
            int32_t epoch = -1;
            int rc = kf_list_one(s, topic, qp->PartitionIndex, qp->Timestamp,
                                 q->IsolationLevel == 1, &off, &ts, &epoch);
            if (rc) {
                o->ErrorCode = kf__kafka_error(rc);
                continue;
            }
            o->Offset = off;
            o->Timestamp = ts;
            o->LeaderEpoch = epoch;
            if (v == 0 && off >= 0) {
                int64_t *old = kf_arena_alloc(c->arena, sizeof(int64_t));
                if (!old)
                    return CN_ENOMEM;
                *old = off;
                o->OldStyleOffsets.v = old;
                o->OldStyleOffsets.n = qp->MaxNumOffsets > 0 ? 1 : 0;
            }
        }
    }
    return kf__reply(c, &r, NULL, 0);
}
