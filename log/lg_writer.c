/* SPDX-License-Identifier: MIT */
/*
 * lg_writer.c — the append path: lg_append_async / lg_append on the
 * callers' threads (validate, copy into the partition's pending queue) and
 * the one writer thread per lg_log that group-commits them.
 *
 * A round takes everything pending (the queues are double-buffered, so
 * appenders keep filling the other side while a round runs) and then:
 *   1. per partition: check producer sequences, assign offsets, stamp base
 *      offset and leader epoch, and write each contiguous run of batches
 *      with one pwrite (a run breaks only at a segment roll or a refused
 *      batch, so normally one write per partition per round);
 *   2. durability fsync: the fdatasyncs of every segment written, issued at
 *      once from the sync pool (lg_sync.c), so the round waits for the
 *      device once; the index checkpoint rides along when due;
 *   3. one LMDB write transaction for the whole round (sparse offset/time
 *      index entries, segment and partition records, producer state), from
 *      a snapshot taken at the end of step 1;
 *   4. completion callbacks.
 * Rounds overlap (fsync mode, lg__pipeline): while round N syncs, round
 * N+1 is taken and written; then N commits and acknowledges and N+1's
 * sync starts.  Two round contexts and two writer-side queues per
 * partition (wq[2]) make that possible; the snapshot keeps N's commit
 * from describing N+1's unsynced bytes.  The writer holds wmu while rounds
 * are in flight and lets go when lg__wmu_lock callers wait, maintenance is
 * due, or nothing is pending.
 * Guarantees (docs/architecture.md, I1–I5): an append is acknowledged only
 * after its bytes were fdatasync'ed (fsync mode); LMDB is committed after
 * the segment write of the same round, so readers — bounded by what LMDB
 * says — never see a partial batch; an fdatasync or LMDB failure is sticky
 * (CN_EPANIC until reopen); a failed or short write is truncated away, that
 * run's appends fail, and later appends are tried afresh.
 * Steady state allocates nothing per append: queue buffers are reused.
 */
#include "lg_int.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_log.h"
#include "cn_time.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define LG__CHECKPOINT_NS 1000000000ull /* LMDB checkpoint sync period */
#define LG__KEEP_QUEUE_BYTES (8u << 20) /* a queue buffer up to this size is always kept */
#define LG__SHRINK_ROUNDS 16            /* ...a larger one after this many rounds mostly unused */

/* ---- queues ---------------------------------------------------------------- */

void lg__queue_free(lg_queue *q)
{
    cn_buf_free(&q->bytes);
    cn_free(q->v);
    q->v = NULL;
    q->n = q->cap = 0;
}

void lg__queue_fail(lg_queue *q, const unsigned char *unused, int err)
{
    (void)unused;
    for (size_t i = 0; i < q->n; i++) {
        lg_append_result r = {err, -1, -1, -1, 0};
        q->v[i].cb(q->v[i].ud, &r);
    }
    q->n = 0;
    cn_buf_reset(&q->bytes);
}

static int lg__queue_push(lg_queue *q, const void *batch, size_t len, const lg_batch_hdr *h,
                          lg_append_cb cb, void *ud)
{
    if (q->n == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 64;
        lg_pend *nv = cn_realloc(q->v, nc * sizeof(*nv));
        if (!nv)
            return CN_ENOMEM;
        q->v = nv;
        q->cap = nc;
    }
    size_t off = q->bytes.len;
    int rc = cn_buf_append(&q->bytes, batch, len);
    if (rc)
        return rc;
    lg_pend *e = &q->v[q->n++];
    e->off = off;
    e->len = len;
    e->cb = cb;
    e->ud = ud;
    e->h = *h;
    e->grp = 0;
    e->want_base = -1;
    e->want_epoch = -1;
    return 0;
}

/* ---- append (callers' threads) ---------------------------------------------- */

/* The checks an append makes before anything is queued.  A replica append
 * (replica != 0) carries producer ids another node allocated. */
static int lg__append_check(const lg_log *log, const void *batch, size_t len, int replica,
                            lg_batch_hdr *h)
{
    if (!batch)
        return CN_EINVAL;
    if (len > log->o.max_batch_bytes)
        return CN_ETOOBIG;
    int rc = lg_batch_validate(batch, len, h);
    if (rc)
        return rc;
    /* What a producer may send, stricter than what a log may hold: Kafka
     * requires recordCount >= 1 and lastOffsetDelta == recordCount - 1, else
     * a 61-byte empty batch could claim 2^31 offsets. */
    if (h->record_count < 1 || h->last_offset_delta != h->record_count - 1)
        return LG_EBADBATCH;
    /* Only ids this log handed out (lg_producer_id_alloc): producer state
     * is kept per id, so made-up ids would grow it without bound. */
    if (!replica && h->producer_id >= 0 && h->producer_id >= atomic_load(&log->next_pid))
        return LG_EUNKNOWNPID;
    return 0;
}

/* Where a replica append's batches must land (NULL for a plain append). */
typedef struct lg__want {
    int64_t base;  /* the first batch's offset */
    int32_t epoch; /* -1: each batch keeps its own */
} lg__want;

/* wait: block for queue room, or refuse with CN_AGAIN (lg_append_batches_try). */
static int lg__enqueue(lg_log *log, const char *topic, int32_t partition, const lg_batchv *v,
                       size_t n, lg_append_cb cb, void *ud, const lg__want *want, int wait)
{
    if (!log || !topic || !v || !n || !cb || n > UINT32_MAX)
        return CN_EINVAL;
    if (log->o.read_only)
        return CN_EPERM;
    if (atomic_load_explicit(&log->panic, memory_order_relaxed))
        return CN_EPANIC;
    lg_batch_hdr h1;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = lg__append_check(log, v[i].batch, v[i].len, want != NULL, &h1);
        if (rc)
            return rc;
        total += v[i].len;
    }

    /* Backpressure before any other lock: a topic delete holds wmu and
     * waits for tmu, so waiting here with tmu held could deadlock.  An
     * append callback (the writer thread) never waits: only the writer
     * itself makes room. */
    int on_writer = lg__on_writer(log);
    uint64_t max = log->o.max_queued_bytes;
    pthread_mutex_lock(&log->qmu);
    while (!on_writer && !log->stop && log->queued_bytes > 0 && log->queued_bytes + total > max) {
        if (!wait) {
            pthread_mutex_unlock(&log->qmu);
            return CN_AGAIN;
        }
        pthread_cond_wait(&log->spacecond, &log->qmu);
    }
    pthread_mutex_unlock(&log->qmu);

    pthread_rwlock_rdlock(&log->tmu);
    lg_part *p;
    int rc = lg__topic_lookup_part(log, topic, partition, &p);
    if (!rc && p->failed)
        rc = CN_ECORRUPT;
    if (!rc) {
        pthread_mutex_lock(&log->qmu);
        if (log->stop)
            rc = CN_ECLOSED;
        if (!rc && !p->queued && log->ndirty == log->dirtycap) {
            size_t nc = log->dirtycap ? log->dirtycap * 2 : 16;
            lg_part **nd = cn_realloc(log->dirty, nc * sizeof(*nd));
            if (!nd)
                rc = CN_ENOMEM;
            else
                log->dirty = nd, log->dirtycap = nc;
        }
        /* One hold of qmu: the set is contiguous in the queue and so in
         * one round.  On failure what was pushed is taken back. */
        size_t n0 = p->q.n, len0 = p->q.bytes.len;
        int64_t at = want ? want->base : -1;
        for (size_t i = 0; !rc && i < n; i++) {
            lg_batch_hdr h;
            lg_batch_parse_hdr(v[i].batch, v[i].len, &h); /* validated above */
            rc = lg__queue_push(&p->q, v[i].batch, v[i].len, &h, cb, ud);
            if (!rc && want) {
                p->q.v[p->q.n - 1].want_base = at;
                p->q.v[p->q.n - 1].want_epoch = want->epoch >= 0 ? want->epoch : h.leader_epoch;
                at += (int64_t)h.last_offset_delta + 1;
            }
        }
        if (rc) {
            p->q.n = n0;
            p->q.bytes.len = len0;
        } else {
            p->q.v[n0].grp = n > 1 ? (uint32_t)n : 0;
            log->queued_bytes += total;
            if (!p->queued) {
                p->queued = 1;
                log->dirty[log->ndirty++] = p;
                if (log->ndirty == 1)
                    pthread_cond_signal(&log->qcond);
            }
        }
        pthread_mutex_unlock(&log->qmu);
    }
    pthread_rwlock_unlock(&log->tmu);
    return rc;
}

int lg_append_batches(lg_log *log, const char *topic, int32_t partition, const lg_batchv *v,
                      size_t n, lg_append_cb cb, void *ud)
{
    return lg__enqueue(log, topic, partition, v, n, cb, ud, NULL, 1);
}

int lg_append_batches_try(lg_log *log, const char *topic, int32_t partition, const lg_batchv *v,
                          size_t n, lg_append_cb cb, void *ud)
{
    return lg__enqueue(log, topic, partition, v, n, cb, ud, NULL, 0);
}

/* Split a run of whole batches into *out (cn_malloc'd): CN_EINVAL unless
 * it splits exactly; in verbatim mode (epoch -1) each batch's own base
 * offset must follow from base and its epoch must be >= 0 and not go back. */
static int lg__replica_split(const unsigned char *b, size_t len, int64_t base, int32_t epoch,
                             uint64_t max_batch, lg_batchv **out, size_t *n_out)
{
    size_t n = 0, cap = 0;
    lg_batchv *v = NULL;
    int32_t last_epoch = -1;
    int rc = 0;
    for (size_t pos = 0; pos < len && !rc;) {
        size_t total;
        lg_batch_hdr h;
        if (len - pos < LG_BATCH_HEADER_LEN ||
            lg_batch_size(b + pos, len - pos, len - pos, &total) != 0 ||
            lg_batch_parse_hdr(b + pos, total, &h) != 0 || h.last_offset_delta < 0) {
            rc = CN_EINVAL;
            break;
        }
        if (epoch < 0 &&
            (h.base_offset != base || h.leader_epoch < 0 || h.leader_epoch < last_epoch)) {
            rc = CN_EINVAL;
            break;
        }
        if (total > max_batch) {
            rc = CN_ETOOBIG;
            break;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            lg_batchv *nv = cn_realloc(v, nc * sizeof(*nv));
            if (!nv) {
                rc = CN_ENOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[n++] = (lg_batchv){b + pos, total};
        last_epoch = h.leader_epoch;
        if (base > INT64_MAX - 1 - h.last_offset_delta)
            rc = CN_EINVAL; /* offsets would overflow */
        else
            base += (int64_t)h.last_offset_delta + 1;
        pos += total;
    }
    if (rc) {
        cn_free(v);
        return rc;
    }
    *out = v;
    *n_out = n;
    return 0;
}

int lg_replica_append(lg_log *log, const char *topic, int32_t partition, int64_t base_offset,
                      int32_t epoch, const void *batch, size_t len, lg_append_cb cb, void *ud)
{
    if (!log || !topic || !batch || !len || !cb || base_offset < 0 || epoch < -1)
        return CN_EINVAL;
    lg_batchv *v;
    size_t n;
    int rc = lg__replica_split(batch, len, base_offset, epoch, log->o.max_batch_bytes, &v, &n);
    if (rc)
        return rc;
    lg__want want = {base_offset, epoch};
    rc = lg__enqueue(log, topic, partition, v, n, cb, ud, &want, 1);
    cn_free(v);
    return rc;
}

int lg_append_async(lg_log *log, const char *topic, int32_t partition, const void *batch,
                    size_t len, lg_append_cb cb, void *ud)
{
    lg_batchv v = {batch, len};
    return lg__enqueue(log, topic, partition, &v, 1, cb, ud, NULL, 1);
}

typedef struct lg__waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    lg_append_result res;
} lg__waiter;

static void lg__waiter_cb(void *ud, const lg_append_result *res)
{
    lg__waiter *w = ud;
    pthread_mutex_lock(&w->mu);
    w->res = *res;
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int lg__on_writer(const lg_log *log)
{
    return log->writer_started && pthread_equal(pthread_self(), log->writer);
}

int lg_append(lg_log *log, const char *topic, int32_t partition, const void *batch, size_t len,
              lg_append_result *res)
{
    if (log && lg__on_writer(log)) {
        /* From an append callback: waiting for the writer would wait forever. */
        if (res) {
            memset(res, 0, sizeof(*res));
            res->err = CN_EBUSY;
            res->base_offset = -1;
        }
        return CN_EBUSY;
    }
    lg__waiter w;
    memset(&w, 0, sizeof(w));
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int rc = lg_append_async(log, topic, partition, batch, len, lg__waiter_cb, &w);
    if (!rc) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        rc = w.res.err;
        if (res)
            *res = w.res;
    } else if (res) {
        memset(res, 0, sizeof(*res));
        res->err = rc;
        res->base_offset = -1;
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}

/* ---- the round (writer thread, wmu held) ------------------------------------ */

typedef struct lg__ixent {
    lg_part *p;
    int64_t base;
    lg_oidxval v;
    int64_t run_max; /* running max timestamp before this batch */
} lg__ixent;

typedef struct lg__undo {
    lg_part *p;
    lg_pstate st;  /* state before this round touched it */
    lg_pstate now; /* after the round (lg__round_snap); now.epoch < 0: nothing to record */
} lg__undo;

typedef struct lg__segw {
    lg_part *p;
    lg_seg *s;     /* ref held for the round */
    lg_segrec rec; /* its record as the round left it (lg__round_snap) */
} lg__segw;

/* A partition the round wrote, and its records as the round left them:
 * the next round may run on before this one commits (lg__round_snap). */
typedef struct lg__touch {
    lg_part *p;
    lg_partrec rec;
    int has_active;
    int64_t active_base;
    lg_segrec active;
} lg__touch;

/* A new leader epoch a replica append started this round. */
typedef struct lg__epent {
    lg_part *p;
    int32_t epoch;
    int64_t start;
} lg__epent;

typedef struct lg__wctx {
    lg__epent *ep;
    size_t nep, epcap;
    lg_part **parts;
    size_t nparts, partcap;
    lg__ixent *ix;
    size_t nix, ixcap;
    lg__undo *undo;
    size_t nundo, undocap;
    lg__segw *segs;
    size_t nsegs, segcap;
    lg__touch *touched; /* partitions with bytes written this round */
    size_t ntouched, touchcap;
    lg_seg **syncv; /* the segments handed to the sync pool */
    size_t syncvcap;
    int slot; /* which of each partition's wq this round uses */
    int rolled;
} lg__wctx;

/* The writer thread's state (log->wctx): two rounds, one being written
 * while the other syncs. */
typedef struct lg__writer {
    lg__wctx r[2];
    lg__sync *sync;
    int ix_dirty;        /* LMDB commits since the last checkpoint */
    int ckpt_due;        /* a round rolled: checkpoint with the next sync */
    int sync_failed;     /* a round's sync or commit failed: later rounds fail */
    uint64_t last_ckpt;  /* monotonic ns of the last checkpoint */
    uint64_t last_maint; /* monotonic ns of the last maintenance run */
} lg__writer;

#define LG__GROW(arr, n, cap) ((n) < (cap) ? 0 : lg__grow((void **)&(arr), &(cap), sizeof(*(arr))))

static int lg__grow(void **arr, size_t *cap, size_t elem)
{
    size_t nc = *cap ? *cap * 2 : 32;
    void *na = cn_realloc(*arr, nc * elem);
    if (!na)
        return CN_ENOMEM;
    *arr = na;
    *cap = nc;
    return 0;
}

/* Everything a failed run must put back. */
typedef struct lg__snap {
    int64_t log_end, first_ts, last_ts, run_max_ts;
    uint32_t since_idx;
    int32_t epoch;
    int64_t seg_first_ts, seg_max_ts, seg_next_off;
    size_t nix, nundo, nep;
} lg__snap;

static void lg__snap_take(lg__snap *s, const lg_part *p, const lg_seg *seg, const lg__wctx *w)
{
    s->log_end = p->log_end;
    s->first_ts = p->first_ts;
    s->last_ts = p->last_ts;
    s->run_max_ts = p->run_max_ts;
    s->since_idx = p->since_idx;
    s->epoch = p->epoch;
    s->nep = w->nep;
    s->seg_first_ts = seg->first_ts;
    s->seg_max_ts = seg->max_ts;
    s->seg_next_off = seg->next_off;
    s->nix = w->nix;
    s->nundo = w->nundo;
}

static void lg__snap_restore(const lg__snap *s, lg_part *p, lg_seg *seg, lg__wctx *w)
{
    p->log_end = s->log_end;
    p->first_ts = s->first_ts;
    p->last_ts = s->last_ts;
    p->run_max_ts = s->run_max_ts;
    p->since_idx = s->since_idx;
    p->epoch = s->epoch;
    w->nep = s->nep;
    seg->first_ts = s->seg_first_ts;
    seg->max_ts = s->seg_max_ts;
    seg->next_off = s->seg_next_off;
    w->nix = s->nix;
    while (w->nundo > s->nundo) {
        w->nundo--;
        lg__prod_put(&w->undo[w->nundo].p->prod, &w->undo[w->nundo].st);
    }
}

/* Room for one more entry in the round's segment and partition lists.
 * Called before a write: once bytes are in a file, nothing may fail. */
static int lg__reserve_notes(lg__wctx *w)
{
    if (LG__GROW(w->segs, w->nsegs, w->segcap) || LG__GROW(w->touched, w->ntouched, w->touchcap))
        return CN_ENOMEM;
    if (w->syncvcap < w->segcap) {
        lg_seg **nv = cn_realloc(w->syncv, w->segcap * sizeof(*nv));
        if (!nv)
            return CN_ENOMEM;
        w->syncv = nv;
        w->syncvcap = w->segcap;
    }
    return 0;
}

static void lg__note_seg(lg__wctx *w, lg_part *p, lg_seg *s)
{
    for (size_t i = w->nsegs; i-- > 0;)
        if (w->segs[i].s == s)
            return;
    lg__seg_ref(s);
    w->segs[w->nsegs++] = (lg__segw){.p = p, .s = s}; /* room reserved by lg__reserve_notes */
}

static int lg__note_touched(lg__wctx *w, lg_part *p)
{
    if (w->ntouched && w->touched[w->ntouched - 1].p == p)
        return 0;
    if (LG__GROW(w->touched, w->ntouched, w->touchcap))
        return CN_ENOMEM;
    w->touched[w->ntouched++] = (lg__touch){.p = p};
    return 0;
}

/* Write one run of contiguous stamped batches at the end of seg.  On
 * failure the file is cut back to where the run began (I1). */
static int lg__flush_run(lg_log *log, lg__wctx *w, lg_part *p, lg_seg *seg,
                         const unsigned char *buf, size_t len)
{
    if (len == 0)
        return 0;
    if (lg__reserve_notes(w))
        return CN_ENOMEM;
    const lg_vfs *v = log->vfs;
    ssize_t r = v->pwrite(v->ud, seg->fd, buf, len, (off_t)seg->size);
    if (r == (ssize_t)len) {
        seg->size += len;
        p->bytes += len;
        lg__note_seg(w, p, seg);
        lg__note_touched(w, p); /* cannot fail: room reserved */
        return 0;
    }
    /* A short write is treated as failed: on a regular file it means the
     * device refused the rest (ENOSPC/EIO), so the retry is the next append. */
    int rc = r < 0 ? cn_err_from_errno(errno) : CN_EIO;
    if (v->ftruncate(v->ud, seg->fd, (off_t)seg->size) != 0) {
        /* We cannot vouch for the file any more: sticky. */
        cn_log_error("lg", "%s: cannot truncate a failed write at %llu: %s", seg->path,
                     (unsigned long long)seg->size, strerror(errno));
        atomic_store(&log->panic, 1);
        return CN_EPANIC;
    }
    cn_log_warn("lg", "%s: write of %zu bytes failed (%s); appends fail, later ones retry",
                seg->path, len, cn_strerror(rc));
    return rc;
}

/* Start a new segment at p->log_end. */
static int lg__roll(lg_log *log, lg__wctx *w, lg_part *p, lg_seg **out)
{
    if (lg__reserve_notes(w))
        return CN_ENOMEM;
    lg_seg *s;
    int rc = lg__seg_open(&s, log->vfs, p->dir, p->log_end, 1);
    if (rc)
        return rc;
    s->created_ms = lg__now(log);
    /* The new name must be durable before anything in it is acknowledged. */
    if (log->o.durability != LG_DUR_NONE && (rc = lg__dir_sync(log->vfs, p->dir)) != 0) {
        log->vfs->unlink(log->vfs->ud, s->path);
        lg__seg_unref(s);
        return rc;
    }
    rc = lg__part_seg_add(p, s);
    if (rc) {
        lg__seg_unref(s);
        return rc;
    }
    /* The rolled segment is synced before anything is written to the new
     * one.  Then, after any crash, valid data in a later segment means
     * every earlier segment was whole on disk, so damage found in an
     * earlier one is corruption (the partition is failed), never a torn
     * write recovery should have cut: a disk may keep a later unsynced
     * write and lose an earlier one, which without this sync made recovery
     * fail a partition over unacknowledged bytes (test_lg_powerloss found
     * it).  In interval mode it also lets the interval timer look only at
     * active segments. */
    lg_seg *old = p->nsegs >= 2 ? p->segs[p->nsegs - 2] : NULL;
    if (old && log->o.durability != LG_DUR_NONE &&
        log->vfs->fdatasync(log->vfs->ud, old->fd) != 0) {
        atomic_store(&log->panic, 1);
        return CN_EPANIC;
    }
    w->rolled = 1;
    *out = s;
    return lg__note_touched(w, p);
}

static int lg__need_roll(const lg_log *log, const lg_part *p, const lg_seg *seg, size_t pending,
                         size_t len, int64_t now)
{
    if (!seg)
        return 1;
    uint64_t used = seg->size + pending;
    if (used == 0)
        return 0; /* an empty segment takes any batch, however large */
    lg_topic_config c = p->tp->cfg;
    lg__topic_cfg_resolve(log, &c);
    return used + len > c.segment_bytes || now - seg->created_ms >= log->o.segment_ms;
}

/* Remember pid's state before the current run first changes it; from is
 * where the run's undo entries begin (a failed run restores only those). */
static int lg__undo_save(lg__wctx *w, lg_part *p, int64_t pid, size_t from)
{
    for (size_t i = w->nundo; i-- > from;)
        if (w->undo[i].p == p && w->undo[i].st.pid == pid)
            return 0;
    if (LG__GROW(w->undo, w->nundo, w->undocap))
        return CN_ENOMEM;
    lg_pstate *cur = lg__prod_find(&p->prod, pid);
    lg__undo *u = &w->undo[w->nundo++];
    u->p = p;
    if (cur) {
        u->st = *cur;
    } else {
        memset(&u->st, 0, sizeof(u->st));
        u->st.pid = pid;
        u->st.epoch = -1; /* behaves as unknown: any sequence starts it */
    }
    return 0;
}

/* Entries i.. fail with err: the failed run and everything not processed
 * yet (a duplicate never sits inside a run, so none is overwritten). */
static void lg__fail_from(lg_queue *q, size_t i, int err)
{
    for (; i < q->n; i++)
        q->v[i].res = (lg_append_result){err, -1, -1, -1, 0};
}

/* An all-or-none group being processed (lg_append_batches). */
typedef struct lg__grp {
    size_t start, end; /* entries [start, end); end == 0: none */
    lg__snap snap;     /* state at the group's start */
    uint64_t seg_size, bytes;
} lg__grp;

/* Undo everything the group did: state, index entries, producer state and
 * bytes already written to the segment (cut back).  0 or CN_EPANIC. */
static int lg__grp_undo(lg_log *log, lg__wctx *w, lg_part *p, lg_seg *seg, const lg__grp *g)
{
    lg__snap_restore(&g->snap, p, seg, w);
    if (seg->size > g->seg_size) {
        const lg_vfs *v = log->vfs;
        if (v->ftruncate(v->ud, seg->fd, (off_t)g->seg_size) != 0) {
            cn_log_error("lg", "%s: cannot cut back a refused batch set at %llu: %s", seg->path,
                         (unsigned long long)g->seg_size, strerror(errno));
            atomic_store(&log->panic, 1);
            return CN_EPANIC;
        }
        seg->size = g->seg_size;
    }
    p->bytes = g->bytes;
    return 0;
}

/* Start a group at entry i: the pending run is written first (the group
 * must be undoable on its own), and a roll due for the group's total
 * happens before it, so the whole group lands in one segment. */
static int lg__grp_begin(lg_log *log, lg__wctx *w, lg_part *p, lg_seg **seg, lg__grp *g, size_t i,
                         int64_t now)
{
    lg_queue *q = &p->wq[w->slot];
    size_t gb = 0, end = i + q->v[i].grp;
    if (end > q->n)
        end = q->n; /* cannot happen: a group is queued whole */
    for (size_t j = i; j < end; j++)
        gb += q->v[j].len;
    if (lg__need_roll(log, p, *seg, 0, gb, now)) {
        int rc = lg__roll(log, w, p, seg);
        if (rc)
            return rc;
    }
    g->start = i;
    g->end = end;
    lg__snap_take(&g->snap, p, *seg, w);
    g->seg_size = (*seg)->size;
    g->bytes = p->bytes;
    return 0;
}

/* A replica append needs no producer check (the leader made it; its state
 * is recorded all the same): only its place and its epoch are checked. */
static int lg__replica_check(const lg_part *p, const lg_pend *e)
{
    if (e->want_base != p->log_end)
        return LG_EOFFSET;
    if (e->want_epoch < p->epoch)
        return LG_EFENCED;
    return LG__PCHK_NEW;
}

/* Step 1 for one partition. */
static void lg__part_round(lg_log *log, lg__wctx *w, lg_part *p, int64_t now)
{
    lg_queue *q = &p->wq[w->slot];
    lg_seg *seg = lg__part_active(p);
    size_t run_first = 0, run_len = 0;
    lg__snap snap;
    memset(&snap, 0, sizeof(snap));
    lg__grp g = {0, 0, {0}, 0, 0};
    for (size_t i = 0; i < q->n; i++) {
        lg_pend *e = &q->v[i];
        unsigned char *b = q->bytes.data + e->off;
        const lg_batch_hdr *h = &e->h;
        int rc = 0;
        if (i >= g.end && e->grp > 1) {
            rc = run_len
                     ? lg__flush_run(log, w, p, seg, q->bytes.data + q->v[run_first].off, run_len)
                     : 0;
            if (rc) {
                lg__snap_restore(&snap, p, seg, w);
                lg__fail_from(q, run_first, rc);
                return;
            }
            run_len = 0;
            if ((rc = lg__grp_begin(log, w, p, &seg, &g, i, now)) != 0) {
                lg__fail_from(q, i, rc);
                return;
            }
        }
        int in_grp = i < g.end;
        e->res = (lg_append_result){0, -1, -1, p->log_start, 0};
        int32_t first_seq = h->base_sequence;
        int32_t last_seq =
            (int32_t)(((int64_t)first_seq + h->last_offset_delta) % ((int64_t)INT32_MAX + 1));
        int64_t dup_base = -1;
        int ctl = (h->attributes & LG_ATTR_CONTROL) != 0; /* a marker has no sequence */
        int chk = e->want_base >= 0 ? lg__replica_check(p, e)
                  : ctl             ? lg__txn_ctl_check(&p->prod, h)
                        : lg__prod_check(&p->prod, h->producer_id, h->producer_epoch, first_seq,
                                         last_seq, &dup_base);
        int roll =
            chk == LG__PCHK_NEW && !in_grp && lg__need_roll(log, p, seg, run_len, e->len, now);
        if (chk != LG__PCHK_NEW || roll) {
            /* The run ends here: write what it holds. */
            rc = run_len
                     ? lg__flush_run(log, w, p, seg, q->bytes.data + q->v[run_first].off, run_len)
                     : 0;
            if (rc)
                goto fail;
            run_len = 0;
        }
        if (chk == LG__PCHK_DUP) {
            e->res.base_offset = dup_base;
            e->res.duplicate = 1;
            goto next;
        }
        if (chk < 0) {
            if (!in_grp) {
                e->res.err = chk;
                continue;
            }
            /* One refused batch refuses its whole set; later entries go on. */
            if (lg__grp_undo(log, w, p, seg, &g)) {
                lg__fail_from(q, g.start, CN_EPANIC);
                return;
            }
            for (size_t j = g.start; j < g.end; j++)
                q->v[j].res = (lg_append_result){chk, -1, -1, -1, 0};
            i = g.end - 1;
            run_len = 0;
            g.end = 0;
            continue;
        }
        if (roll) {
            rc = lg__roll(log, w, p, &seg);
            if (rc) {
                lg__fail_from(q, i, rc);
                return;
            }
        }
        if (run_len == 0) {
            run_first = i;
            lg__snap_take(&snap, p, seg, w);
        }
        if (e->want_base >= 0 && e->want_epoch > p->epoch) {
            /* A replica append starts a new epoch here (undone with the run). */
            if (LG__GROW(w->ep, w->nep, w->epcap)) {
                rc = CN_ENOMEM;
                goto fail;
            }
            w->ep[w->nep++] = (lg__epent){p, e->want_epoch, p->log_end};
            p->epoch = e->want_epoch;
        }
        if (h->producer_id >= 0) {
            rc = lg__undo_save(w, p, h->producer_id, in_grp ? g.snap.nundo : snap.nundo);
            if (!rc && ctl)
                rc = lg__txn_ctl_record(&p->prod, h);
            else if (!rc)
                rc = lg__prod_record(&p->prod, h->producer_id, h->producer_epoch, first_seq,
                                     last_seq, p->log_end, h->max_timestamp);
            if (rc)
                goto fail;
        }
        lg_batch_stamp(b, p->log_end, p->epoch);
        uint64_t pos = seg->size + run_len;
        if (pos == 0 || p->since_idx >= LG__INDEX_INTERVAL) {
            if (LG__GROW(w->ix, w->nix, w->ixcap)) {
                rc = CN_ENOMEM;
                goto fail;
            }
            w->ix[w->nix++] = (lg__ixent){p,
                                          p->log_end,
                                          {seg->base, (uint32_t)pos, (uint32_t)e->len,
                                           h->last_offset_delta, h->max_timestamp},
                                          p->run_max_ts};
            p->since_idx = 0;
        }
        p->since_idx += (uint32_t)e->len;
        if (h->max_timestamp > p->run_max_ts)
            p->run_max_ts = h->max_timestamp;
        if (p->first_ts < 0 && p->log_end == p->log_start)
            p->first_ts = h->max_timestamp;
        if (h->max_timestamp > p->last_ts)
            p->last_ts = h->max_timestamp;
        if (seg->first_ts < 0)
            seg->first_ts = h->max_timestamp;
        if (h->max_timestamp > seg->max_ts)
            seg->max_ts = h->max_timestamp;
        e->res.base_offset = p->log_end;
        p->log_end += (int64_t)h->last_offset_delta + 1;
        seg->next_off = p->log_end;
        run_len += e->len;
    next:
        if (in_grp && i + 1 == g.end) {
            /* The set is complete: write it now, so that nothing after it
             * can fail it half-way. */
            rc = run_len
                     ? lg__flush_run(log, w, p, seg, q->bytes.data + q->v[run_first].off, run_len)
                     : 0;
            run_len = 0;
            if (rc)
                goto fail;
            g.end = 0;
        }
        continue;
    fail:
        if (in_grp) {
            int u = lg__grp_undo(log, w, p, seg, &g);
            lg__fail_from(q, g.start, u ? u : rc);
        } else {
            lg__snap_restore(&snap, p, seg, w);
            lg__fail_from(q, run_first, rc);
        }
        return;
    }
    if (run_len) {
        int rc = lg__flush_run(log, w, p, seg, q->bytes.data + q->v[run_first].off, run_len);
        if (rc) {
            lg__snap_restore(&snap, p, seg, w);
            lg__fail_from(q, run_first, rc);
        }
    }
}

static lg__writer *lg__wr(lg_log *log)
{
    return log->wctx;
}

/* The round's records as it leaves them, taken right after its writes:
 * the next round may move the partitions on before this one commits, and
 * the index must describe only what this round's sync covers (I3, I4). */
static void lg__round_snap(lg__wctx *w)
{
    for (size_t i = 0; i < w->nsegs; i++) {
        lg_seg *s = w->segs[i].s;
        w->segs[i].rec = (lg_segrec){s->size, s->created_ms, s->first_ts, s->max_ts, s->next_off};
    }
    for (size_t i = 0; i < w->nundo; i++) {
        lg__undo *u = &w->undo[i];
        lg_pstate *st = lg__prod_find(&u->p->prod, u->st.pid);
        if (st && st->epoch >= 0) {
            u->now = *st;
        } else {
            memset(&u->now, 0, sizeof(u->now));
            u->now.pid = u->st.pid;
            u->now.epoch = -1;
        }
    }
    for (size_t i = 0; i < w->ntouched; i++) {
        lg__touch *t = &w->touched[i];
        lg_part *p = t->p;
        lg_seg *a = lg__part_active(p);
        t->rec = (lg_partrec){p->log_start,    p->log_end, a ? a->base : p->log_end,
                              a ? a->size : 0, p->epoch,   p->first_ts,
                              p->last_ts,      p->bytes,   p->run_max_ts,
                              p->since_idx};
        t->has_active = a != NULL;
        if (a) {
            /* an empty new segment still needs its record */
            t->active_base = a->base;
            t->active = (lg_segrec){a->size, a->created_ms, a->first_ts, a->max_ts, a->next_off};
        }
    }
}

/* Step 3: one LMDB transaction for the round, from its snapshot. */
static int lg__round_commit(lg_log *log, lg__wctx *w)
{
    if (!w->ntouched && !w->nundo && !w->nep)
        return 0;
    MDB_txn *txn;
    int rc = lg__ix_err(mdb_txn_begin(log->ix.env, NULL, 0, &txn));
    if (rc)
        return rc;
    for (size_t i = 0; !rc && i < w->nix; i++) {
        lg__ixent *x = &w->ix[i];
        uint32_t tid = x->p->tp->id;
        rc = lg__ix_oidx_put(log, txn, tid, x->p->idx, x->base, &x->v);
        if (!rc)
            rc = lg__ix_tidx_put(log, txn, tid, x->p->idx, x->run_max, x->base);
    }
    for (size_t i = 0; !rc && i < w->nep; i++)
        rc = lg__ix_epoch_put(log, txn, w->ep[i].p->tp->id, w->ep[i].p->idx, w->ep[i].epoch,
                              w->ep[i].start);
    for (size_t i = 0; !rc && i < w->nsegs; i++) {
        lg__segw *sw = &w->segs[i];
        rc = lg__ix_seg_put(log, txn, sw->p->tp->id, sw->p->idx, sw->s->base, &sw->rec);
    }
    for (size_t i = 0; !rc && i < w->nundo; i++) {
        lg__undo *u = &w->undo[i];
        if (u->now.epoch >= 0)
            rc = lg__ix_prod_put(log, txn, u->p->tp->id, u->p->idx, &u->now);
    }
    for (size_t i = 0; !rc && i < w->ntouched; i++) {
        lg__touch *t = &w->touched[i];
        lg_part *p = t->p;
        if (i && w->touched[i - 1].p == p)
            continue;
        if (t->has_active)
            rc = lg__ix_seg_put(log, txn, p->tp->id, p->idx, t->active_base, &t->active);
        if (!rc)
            rc = lg__ix_part_put(log, txn, p->tp->id, p->idx, &t->rec);
        if (!rc) /* after the round's fdatasync (step 2) */
            rc = lg__txn_round(log, txn, p, &p->wq[w->slot]);
    }
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = lg__ix_err(mdb_txn_commit(txn));
    if (!rc)
        lg__wr(log)->ix_dirty = 1;
    return rc;
}

/* Step 1 for every partition of the round, then its snapshot. */
static void lg__round_write(lg_log *log, lg__wctx *w)
{
    int64_t now = lg__now(log);
    w->nix = w->nundo = w->nsegs = w->ntouched = w->nep = 0;
    w->rolled = 0;
    for (size_t i = 0; i < w->nparts; i++) {
        lg_part *p = w->parts[i];
        if (atomic_load(&log->panic))
            lg__fail_from(&p->wq[w->slot], 0, CN_EPANIC);
        else if (p->failed)
            lg__fail_from(&p->wq[w->slot], 0, CN_ECORRUPT);
        else
            lg__part_round(log, w, p, now);
    }
    if (log->o.durability == LG_DUR_INTERVAL) {
        uint64_t t = cn_mono_ns();
        for (size_t i = 0; i < w->ntouched; i++)
            if (w->touched[i].p->unsynced_since < 0)
                w->touched[i].p->unsynced_since = (int64_t)t;
    }
    lg__round_snap(w);
}

/* Step 2 (I2), started: every segment the round wrote goes to the sync
 * pool at once (fsync mode), with the index checkpoint when one is due.
 * In fsync mode every LMDB commit so far came after its own round's sync,
 * so syncing the index beside this round's fdatasyncs never makes it lead
 * the segments (I4).  CN_EPANIC, nothing started, when an earlier sync or
 * commit failed: nothing is acknowledged after a failed flush. */
static int lg__round_sync_start(lg_log *log, lg__writer *wr, lg__wctx *w)
{
    if (wr->sync_failed)
        return CN_EPANIC;
    int fsync_mode = log->o.durability == LG_DUR_FSYNC;
    size_t n = fsync_mode ? w->nsegs : 0;
    for (size_t i = 0; i < n; i++)
        w->syncv[i] = w->segs[i].s; /* room: syncvcap >= segcap */
    uint64_t now = cn_mono_ns();
    int ckpt =
        fsync_mode && wr->ix_dirty && (wr->ckpt_due || now - wr->last_ckpt >= LG__CHECKPOINT_NS);
    if (ckpt) {
        wr->ix_dirty = 0;
        wr->ckpt_due = 0;
        wr->last_ckpt = now;
    }
    if (lg__sync_start(wr->sync, w->syncv, n, ckpt))
        wr->sync_failed = 1; /* the job before failed (an idle checkpoint) */
    return 0;
}

/* Steps 3 and 4, once the round's sync returned sync_err: the index
 * commit, the durable end, the callbacks, the end listeners. */
static void lg__round_finish(lg_log *log, lg__writer *wr, lg__wctx *w, int sync_err)
{
    int err = sync_err ? sync_err : wr->sync_failed ? CN_EPANIC : 0;
    if (!err) {
        int rc = lg__round_commit(log, w);
        if (rc) {
            cn_log_error("lg",
                         "index commit failed: %s; the log stops accepting appends until "
                         "reopened",
                         cn_strerror(rc));
            err = CN_EPANIC;
        }
    }
    if (err) {
        wr->sync_failed = 1;
        atomic_store(&log->panic, 1);
        for (size_t i = 0; i < w->nparts; i++)
            lg__fail_from(&w->parts[i]->wq[w->slot], 0, CN_EPANIC);
    } else {
        for (size_t i = 0; i < w->ntouched; i++) {
            /* lg_durable_end: synced (fsync mode) or as durable as the
             * mode makes it (none); interval mode advances at its syncs. */
            if (log->o.durability != LG_DUR_INTERVAL)
                atomic_store(&w->touched[i].p->durable_end, w->touched[i].rec.log_end);
            atomic_store(&w->touched[i].p->pub_end, w->touched[i].rec.log_end);
        }
    }
    if (w->rolled)
        wr->ckpt_due = 1;
    for (size_t i = 0; i < w->nsegs; i++)
        lg__seg_unref(w->segs[i].s);
    w->nsegs = 0;
    /* Step 4. */
    int advanced = 0;
    for (size_t i = 0; i < w->nparts; i++) {
        lg_queue *q = &w->parts[i]->wq[w->slot];
        for (size_t j = 0; j < q->n; j++) {
            lg_pend *e = &q->v[j];
            if (e->res.err)
                e->res.base_offset = -1;
            else
                advanced = 1;
            e->res.log_start_offset = w->parts[i]->log_start;
            e->cb(e->ud, &e->res);
        }
        /* Keep the buffer while rounds use it: faulting in fresh pages
         * every round costs more than the copy itself.  One that a burst
         * left far larger than recent rounds need is dropped after a while. */
        if (q->bytes.cap > LG__KEEP_QUEUE_BYTES && q->bytes.len < q->bytes.cap / 4)
            q->small_rounds++;
        else
            q->small_rounds = 0;
        if (q->small_rounds > LG__SHRINK_ROUNDS) {
            cn_buf_free(&q->bytes);
            q->small_rounds = 0;
        } else {
            cn_buf_reset(&q->bytes);
        }
        q->n = 0;
    }
    w->nparts = 0;
    if (advanced)
        lg__end_publish(log);
}

/* ---- timers: interval fsync and index checkpoints ---------------------------- */

/* fdatasync the active segment of every partition written since its last
 * sync (interval mode).  wmu held. */
static int lg__sync_unsynced(lg_log *log, int all)
{
    uint64_t now = cn_mono_ns();
    int rc = 0;
    pthread_rwlock_rdlock(&log->tmu);
    for (size_t i = 0; i < log->ntopics; i++) {
        lg_topic *t = log->topics[i];
        for (int32_t j = 0; j < t->cfg.partitions; j++) {
            lg_part *p = &t->parts[j];
            if (p->unsynced_since < 0)
                continue;
            if (!all && now - (uint64_t)p->unsynced_since < (uint64_t)log->o.interval_ms * 1000000u)
                continue;
            lg_seg *a = lg__part_active(p);
            if (a && log->vfs->fdatasync(log->vfs->ud, a->fd) != 0) {
                cn_log_error("lg", "%s: fdatasync failed: %s", a->path, strerror(errno));
                rc = CN_EPANIC;
            } else {
                atomic_store(&p->durable_end, p->log_end);
            }
            p->unsynced_since = -1;
        }
    }
    pthread_rwlock_unlock(&log->tmu);
    return rc;
}

/* Segments first, then LMDB, so the durable index never leads the durable
 * segments (I4) in fsync and interval modes.  On the writer thread: used
 * by the interval and none modes and at close; fsync mode checkpoints
 * through the sync pool (lg__round_sync_start, lg__timers). */
static void lg__checkpoint(lg_log *log, lg__writer *wr, int all)
{
    if (!all && !wr->ix_dirty)
        return; /* nothing committed since the last one */
    wr->ix_dirty = 0;
    int rc = 0;
    if (log->o.durability == LG_DUR_INTERVAL)
        rc = lg__sync_unsynced(log, 1);
    if (!rc)
        rc = lg__ix_sync(log);
    if (rc && !atomic_exchange(&log->panic, 1))
        cn_log_error("lg", "checkpoint failed: %s; the log stops accepting appends until reopened",
                     cn_strerror(rc));
}

static int lg__maintenance_due(const lg_log *log, const lg__writer *wr, uint64_t now)
{
    return log->o.maintenance_ms > 0 && !atomic_load(&log->panic) &&
           now - wr->last_maint >= (uint64_t)log->o.maintenance_ms * 1000000u;
}

/* Retention and producer expiry every maintenance_ms (wmu held, no round
 * in flight): every process that opens a log for writing bounds its disk
 * this way. */
static void lg__maintenance_timer(lg_log *log, lg__writer *wr, uint64_t now)
{
    if (!lg__maintenance_due(log, wr, now))
        return;
    wr->last_maint = now;
    int rc = lg__maintenance_locked(log);
    if (rc < 0)
        cn_log_warn("lg", "retention / producer expiry failed: %s; retried in %lld ms",
                    cn_strerror(rc), (long long)log->o.maintenance_ms);
}

/* wmu held, no round in flight. */
static void lg__timers(lg_log *log, lg__writer *wr)
{
    uint64_t now = cn_mono_ns();
    lg__maintenance_timer(log, wr, now);
    int due = wr->ckpt_due || now - wr->last_ckpt >= LG__CHECKPOINT_NS;
    if (log->o.durability == LG_DUR_FSYNC) {
        /* Started, not waited for: the next round's writes go on beside
         * it, and its sync start waits for it. */
        if (due && wr->ix_dirty && !wr->sync_failed) {
            wr->ix_dirty = 0;
            wr->ckpt_due = 0;
            wr->last_ckpt = now;
            if (lg__sync_start(wr->sync, NULL, 0, 1))
                wr->sync_failed = 1;
        }
        return;
    }
    if (due) {
        lg__checkpoint(log, wr, 0);
        wr->last_ckpt = now;
        wr->ckpt_due = 0;
    } else if (log->o.durability == LG_DUR_INTERVAL) {
        if (lg__sync_unsynced(log, 0))
            atomic_store(&log->panic, 1);
    }
}

/* ---- the writer thread ------------------------------------------------------- */

void lg__wmu_lock(lg_log *log)
{
    atomic_fetch_add(&log->wmu_want, 1);
    pthread_mutex_lock(&log->wmu);
    atomic_fetch_sub(&log->wmu_want, 1);
}

/* Stop taking rounds and let the pipeline empty: another thread waits for
 * wmu, maintenance is due, or the mode acknowledges before any sync (then
 * a round has no sync for the next one to overlap). */
static int lg__drain_wanted(lg_log *log, const lg__writer *wr)
{
    return log->o.durability != LG_DUR_FSYNC || atomic_load(&log->wmu_want) > 0 ||
           lg__maintenance_due(log, wr, cn_mono_ns());
}

/* Take what is pending as round w (qmu held): each partition's queue is
 * swapped with its w->slot side, which is empty (that side's previous
 * round has finished).  0 when there is nothing to take. */
static int lg__round_take(lg_log *log, lg__wctx *w)
{
    if (log->ndirty == 0)
        return 0;
    if (w->partcap < log->ndirty) {
        lg_part **np = cn_realloc(w->parts, log->ndirty * sizeof(*np));
        if (!np) {
            /* Cannot even list the work: fail it rather than spin. */
            for (size_t i = 0; i < log->ndirty; i++) {
                log->queued_bytes -= log->dirty[i]->q.bytes.len;
                lg__queue_fail(&log->dirty[i]->q, NULL, CN_ENOMEM);
                log->dirty[i]->queued = 0;
            }
            log->ndirty = 0;
            pthread_cond_broadcast(&log->spacecond);
            return 0;
        }
        w->parts = np;
        w->partcap = log->ndirty;
    }
    w->nparts = log->ndirty;
    for (size_t i = 0; i < log->ndirty; i++) {
        lg_part *p = log->dirty[i];
        lg_queue tmp = p->q;
        p->q = p->wq[w->slot];
        p->wq[w->slot] = tmp;
        p->queued = 0;
        log->queued_bytes -= p->wq[w->slot].bytes.len;
        w->parts[i] = p;
    }
    log->ndirty = 0;
    pthread_cond_broadcast(&log->spacecond);
    return 1;
}

/* Rounds back to back (wmu held): while one round's fdatasyncs run in the
 * pool, the next round is taken and written; then the first commits and
 * acknowledges, and the second's sync starts.  Returns with no round in
 * flight, when nothing is pending or lg__drain_wanted. */
static void lg__pipeline(lg_log *log, lg__writer *wr)
{
    lg__wctx *cur = NULL;
    int k = 0;
    for (;;) {
        lg__wctx *next = NULL;
        if (!cur || !lg__drain_wanted(log, wr)) {
            /* Take what is pending; with a sync in flight and nothing
             * pending, wait for whichever comes first, new work (written
             * at once, beside the sync) or the sync's end. */
            lg__wctx *w = &wr->r[k];
            pthread_mutex_lock(&log->qmu);
            while (cur && log->ndirty == 0 && !log->stop && !lg__sync_done(wr->sync))
                pthread_cond_wait(&log->qcond, &log->qmu);
            int took = lg__round_take(log, w);
            pthread_mutex_unlock(&log->qmu);
            if (took) {
                lg__round_write(log, w);
                next = w;
                k ^= 1;
            }
        }
        if (cur)
            lg__round_finish(log, wr, cur, lg__sync_wait(wr->sync));
        cur = NULL;
        if (!next)
            break;
        int rc = lg__round_sync_start(log, wr, next);
        if (rc)
            lg__round_finish(log, wr, next, rc);
        else
            cur = next;
    }
}

static void *lg__writer_main(void *arg)
{
    lg_log *log = arg;
    lg__writer *wr = log->wctx;
    pthread_mutex_lock(&log->qmu);
    for (;;) {
        while (log->ndirty == 0 && !log->stop) {
            /* Wake for the next timer: the interval fsync or a checkpoint. */
            uint64_t period = LG__CHECKPOINT_NS;
            if (log->o.durability == LG_DUR_INTERVAL &&
                (uint64_t)log->o.interval_ms * 1000000u < period)
                period = (uint64_t)log->o.interval_ms * 1000000u;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t ns = (uint64_t)ts.tv_nsec + period;
            ts.tv_sec += (time_t)(ns / 1000000000u);
            ts.tv_nsec = (long)(ns % 1000000000u);
            int r = pthread_cond_timedwait(&log->qcond, &log->qmu, &ts);
            if (r == ETIMEDOUT && log->ndirty == 0) {
                pthread_mutex_unlock(&log->qmu);
                pthread_mutex_lock(&log->wmu);
                lg__timers(log, wr);
                pthread_mutex_unlock(&log->wmu);
                pthread_mutex_lock(&log->qmu);
            }
        }
        if (log->ndirty == 0 && log->stop)
            break;
        /* The round lock before the queues: a topic delete (which holds
         * wmu) must never free partitions whose queues the writer already
         * took.  Lock order is wmu, then qmu; the work may be gone (failed
         * by a delete) once both are held. */
        pthread_mutex_unlock(&log->qmu);
        pthread_mutex_lock(&log->wmu);
        lg__pipeline(log, wr);
        lg__timers(log, wr);
        pthread_mutex_unlock(&log->wmu);
        pthread_mutex_lock(&log->qmu);
    }
    pthread_mutex_unlock(&log->qmu);
    pthread_mutex_lock(&log->wmu);
    (void)lg__sync_wait(wr->sync); /* an idle checkpoint (failures are sticky) */
    if (!atomic_load(&log->panic))
        lg__checkpoint(log, wr, 1);
    pthread_mutex_unlock(&log->wmu);
    return NULL;
}

int lg__writer_start(lg_log *log)
{
    lg__writer *wr = cn_calloc(1, sizeof(*wr));
    if (!wr)
        return CN_ENOMEM;
    int rc = lg__sync_create(&wr->sync, log);
    if (rc) {
        cn_free(wr);
        return rc;
    }
    wr->r[1].slot = 1;
    wr->last_maint = wr->last_ckpt = cn_mono_ns();
    log->wctx = wr;
    int r = pthread_create(&log->writer, NULL, lg__writer_main, log);
    if (r) {
        lg__sync_destroy(wr->sync);
        cn_free(wr);
        log->wctx = NULL;
        return cn_err_from_errno(r);
    }
    log->writer_started = 1;
    return 0;
}

void lg__writer_stop(lg_log *log)
{
    if (!log->writer_started)
        return;
    pthread_mutex_lock(&log->qmu);
    log->stop = 1;
    pthread_cond_broadcast(&log->qcond);
    pthread_cond_broadcast(&log->spacecond);
    pthread_mutex_unlock(&log->qmu);
    pthread_join(log->writer, NULL);
    log->writer_started = 0;
    lg__writer *wr = log->wctx;
    lg__sync_destroy(wr->sync);
    for (int i = 0; i < 2; i++) {
        lg__wctx *w = &wr->r[i];
        cn_free(w->parts);
        cn_free(w->ix);
        cn_free(w->undo);
        cn_free(w->segs);
        cn_free(w->touched);
        cn_free(w->syncv);
        cn_free(w->ep);
    }
    cn_free(wr);
    log->wctx = NULL;
}
