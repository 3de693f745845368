/* SPDX-License-Identifier: MIT */
/*
 * hunt_worker.c — the consume loop of a hunt worker (contract in
 * hunt_worker.h; mechanism and crash points in docs/architecture.md, "The
 * hunt workers").  For each assigned partition and turn: read up to
 * `batch` ble-raw records, step each ping through the game on the
 * player's states (loaded once per batch), append the derived events to
 * hunt-events (durably), then commit states + audit + input offset +
 * output bookkeeping in one synced RocksDB WriteBatch.
 *
 * Guarantees: a batch's effects are committed all together or not at all;
 * derived events are appended at most once per identity (input partition,
 * input offset, index) thanks to the output tail scan at start; bad
 * records are audited and skipped, never fatal.
 * Threads: one (the caller's).  Ownership: the worker owns its partition
 * table, the batch player cache, the output buffer, the store batch and
 * the leaderboard; it borrows the rules, store and io.
 */
#include "hunt_worker.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_ce.h"
#include "cn_err.h"
#include "cn_json.h"
#include "cn_hash.h"
#include "cn_log.h"
#include "cn_prom.h"
#include "cn_time.h"
#include "hunt_board.h"
#include "hunt_cache.h"
#include "hunt_player.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sessions expire on the store's clock; RocksDB's filter only drops them
 * when it compacts, so force it this often (docs/hunts.md, Expiry). */
#define HW_COMPACT_EVERY_MS INT64_C(60000)
#define HW_OUT_KEY_LEN 9u /* "~out" NUL be32 partition: not a topic name, no clash */
/* At most one log line per this many ms about pings for another hunt: a
 * misconfigured client would otherwise write one line per ping. */
#define HW_WRONG_HUNT_LOG_NS UINT64_C(10000000000)

typedef struct hw_part {
    int32_t p;
    int64_t next;     /* next input offset */
    int64_t out_next; /* hunt-events offset after our last output */
    int64_t out_seq;  /* records emitted so far = next producer sequence */
    int64_t pid;      /* producer id, -1 until allocated */
    int64_t wm;       /* committed receive-time floor: the highest record timestamp consumed */
    int16_t epoch;    /* producer epoch: bumped at every start, fencing older instances */
    int input_lost;   /* the input log ended before our committed offset (power loss) */
    int suppress_all; /* --rebuild: every derived event is in hunt-events already */
    struct hw_seen
        *seen; /* (input offset, index) of our events found past the last commit, sorted */
    size_t nseen, capseen;
    int at_end;
} hw_part;

typedef struct hw_seen {
    int64_t off;
    int64_t k;
} hw_seen;

typedef struct hw_player {
    uint32_t len;
    int bad, dirty;
    char id[HUNT_PLAYER_MAX + 1];
    hunt_session s;
    hunt_progress p;
} hw_player;

typedef struct hw_out {
    size_t koff, klen, voff, vlen;
    int64_t ts;
} hw_out;

struct hunt_worker {
    const hunt_rules *rules;
    hunt_store *st;
    hunt_io *io;
    char *node;
    char *source; /* "/hunt/<node>" */
    uint32_t batch;
    int rebuild;
    hw_part *parts;
    size_t nparts;
    /* one batch's player cache: open addressing over pl[0..npl) */
    hw_player *pl;
    size_t npl;
    uint32_t *slots;
    size_t nslots;
    /* one batch's outputs */
    cn_buf out_data;
    hw_out *outs;
    size_t nouts, capouts;
    hunt_out_rec *recs;
    cn_buf scratch, audit, ce;
    hunt_batch *hb;
    hunt_cache *cache; /* write-through: players committed recently */
    int64_t recv_ms;   /* receive time of the record in hand (its timestamp; 0 unknown) */
    int64_t batch_wm;  /* the partition's floor as this batch moves it */
    int64_t other_wm;  /* lowest floor of stored partitions this worker is not assigned */
    hunt_board *board;
    hunt_worker_stats stats;
    uint64_t wrong_hunt_logged_ns; /* last log line about another hunt's pings */
    uint64_t wrong_hunt_unlogged;  /* refused since that line */
    char errmsg[256];              /* why the last poll failed */
};

/* ---- output bookkeeping ------------------------------------------------- */

static void hw_out_key(int32_t p, unsigned char k[HW_OUT_KEY_LEN])
{
    memcpy(k, "~out", 5);
    cn_wr_be32(k + 5, (uint32_t)p);
}

/* The output bookkeeping value: pid, sequence, output end, receive-time
 * floor, epoch (be64 each). */
static void hw_out_val(const hw_part *pt, int64_t wm, unsigned char v[40])
{
    cn_wr_be64(v, (uint64_t)pt->pid);
    cn_wr_be64(v + 8, (uint64_t)pt->out_seq);
    cn_wr_be64(v + 16, (uint64_t)pt->out_next);
    cn_wr_be64(v + 24, (uint64_t)wm);
    cn_wr_be64(v + 32, (uint64_t)(int64_t)pt->epoch);
}

static int hw_load_part(hunt_worker *w, hw_part *pt)
{
    unsigned char k[HW_OUT_KEY_LEN];
    int rc = hunt_store_get_offset(w->st, HUNT_TOPIC_IN, pt->p, &pt->next);
    if (rc == CN_ENOENT)
        pt->next = 0;
    else if (rc)
        return rc;
    pt->pid = -1;
    pt->out_seq = 0;
    pt->out_next = 0;
    hw_out_key(pt->p, k);
    pt->wm = 0;
    pt->epoch = 0;
    rc = hunt_store_get(w->st, HUNT_CF_OFFSETS, k, sizeof(k), &w->scratch, NULL);
    if (rc == 0 && (w->scratch.len == 24 || w->scratch.len == 32 || w->scratch.len == 40)) {
        pt->pid = (int64_t)cn_rd_be64(w->scratch.data);
        pt->out_seq = (int64_t)cn_rd_be64(w->scratch.data + 8);
        pt->out_next = (int64_t)cn_rd_be64(w->scratch.data + 16);
        if (w->scratch.len >= 32) /* older states have no floor: 0 keeps every session */
            pt->wm = (int64_t)cn_rd_be64(w->scratch.data + 24);
        if (w->scratch.len == 40)
            pt->epoch = (int16_t)cn_rd_be64(w->scratch.data + 32);
    } else if (rc == 0) {
        return CN_ECORRUPT;
    } else if (rc != CN_ENOENT) {
        return rc;
    }
    return 0;
}

/* ---- the session garbage horizon ---------------------------------------- */

/* The engine expires sessions on ping time.  A ping it can still accept
 * has ts >= recv - HUNT_MAX_AGE_MS (older is bad_time), and its recv is at
 * least the committed floor of its partition (hw_batch never lets the
 * receive time go below it).  So a session whose latest ping is at or
 * before floor - HUNT_MAX_AGE_MS - ttl can never be live again: the lowest
 * floor over every partition the store holds, minus both, is the horizon
 * up to which RocksDB may drop sessions.  A partition with no floor yet
 * (0) keeps everything. */
static void hw_update_horizon(hunt_worker *w)
{
    int64_t lo = w->other_wm;
    for (size_t i = 0; i < w->nparts; i++)
        if (w->parts[i].wm < lo)
            lo = w->parts[i].wm;
    int64_t ttl = hunt_rules_def(w->rules)->session_ttl_s * 1000;
    if (lo > HUNT_TS_MIN_MS && lo != INT64_MAX)
        hunt_store_set_session_horizon(w->st, lo - HUNT_MAX_AGE_MS - ttl);
}

typedef struct hw_wm_scan {
    hunt_worker *w;
    int64_t lo;
} hw_wm_scan;

static int hw_wm_one(void *ud, const void *key, size_t klen, const void *val, size_t vlen,
                     int64_t written)
{
    hw_wm_scan *ws = ud;
    (void)written;
    if (klen != HW_OUT_KEY_LEN || memcmp(key, "~out", 5) != 0)
        return 0;
    int32_t p = (int32_t)cn_rd_be32((const unsigned char *)key + 5);
    for (size_t i = 0; i < ws->w->nparts; i++)
        if (ws->w->parts[i].p == p)
            return 0;
    int64_t wm = vlen >= 32 ? (int64_t)cn_rd_be64((const unsigned char *)val + 24) : 0;
    if (wm < ws->lo)
        ws->lo = wm;
    return 0;
}

/* Partitions this store holds state for but this run does not consume:
 * their players' sessions must outlive their own floor too. */
static int hw_load_other_wm(hunt_worker *w)
{
    hw_wm_scan ws = {w, INT64_MAX};
    int rc = hunt_store_scan(w->st, HUNT_CF_OFFSETS, 0, hw_wm_one, &ws);
    w->other_wm = ws.lo;
    return rc;
}

/* ---- the output tail scan ------------------------------------------------- */

typedef struct hw_scan {
    hunt_worker *w;
    hw_part *pt;
    const char *prefix; /* "<hunt>/<p>/" */
    size_t plen;
    int64_t found, last_offset;
    int rc;
} hw_scan;

/* One record of hunt-events partition p at or past our last committed
 * output: is it one of ours, and which input event made it? */
static int hw_scan_one(void *ud, const lg_record *rec)
{
    hw_scan *sc = ud;
    cn_ce_msg *m = NULL;
    cn_ce ev;
    sc->last_offset = rec->offset;
    if (!rec->value || cn_ce_decode(rec->value, rec->value_len, &m, &ev))
        return 0;
    /* The id alone ("<hunt>/<input partition>/<input offset>/<index>")
     * names the event: not the source, which carries --node, so a
     * partition moved to a worker of another name still finds its events. */
    hw_part *pt = sc->pt;
    int rc = 0;
    if (strncmp(ev.id, sc->prefix, sc->plen) == 0) {
        char *end;
        long long off = strtoll(ev.id + sc->plen, &end, 10);
        long k = *end == '/' ? strtol(end + 1, NULL, 10) : -1;
        /* Events of inputs before the committed offset are never derived
         * again; after a log lost its input tail, the offsets past its end
         * name other pings now: neither is kept. */
        if (k >= 0 && off >= pt->next && !pt->input_lost) {
            if (pt->nseen == pt->capseen) {
                size_t nc = pt->capseen ? pt->capseen * 2 : 64;
                hw_seen *ns = cn_realloc(pt->seen, nc * sizeof(*ns));
                if (!ns)
                    rc = CN_ENOMEM;
                else
                    pt->seen = ns, pt->capseen = nc;
            }
            if (!rc)
                pt->seen[pt->nseen++] = (hw_seen){off, k};
        }
        sc->found++;
    }
    cn_ce_msg_free(m);
    sc->rc = rc;
    return rc ? 1 : 0;
}

static int hw_seen_cmp(const void *a, const void *b)
{
    const hw_seen *x = a, *y = b;
    if (x->off != y->off)
        return x->off < y->off ? -1 : 1;
    return x->k < y->k ? -1 : x->k > y->k;
}

/* Is derived event (input offset, k) of pt already in hunt-events?  Only
 * the ids actually found count, so a gap (a record lost while later ones
 * were delivered, then a crash) is filled, not skipped. */
static int hw_already_out(const hw_part *pt, int64_t off, unsigned k)
{
    if (pt->suppress_all)
        return 1;
    hw_seen key = {off, (int64_t)k};
    return pt->nseen && bsearch(&key, pt->seen, pt->nseen, sizeof(key), hw_seen_cmp) != NULL;
}

static int hw_scan_tail(hunt_worker *w, hw_part *pt)
{
    char prefix[HUNT_ID_MAX + 32];
    snprintf(prefix, sizeof(prefix), "%s/%d/", hunt_rules_def(w->rules)->id, (int)pt->p);
    hw_scan sc = {w, pt, prefix, strlen(prefix), 0, -1, 0};
    pt->nseen = 0;
    int rc = w->io->scan_out(w->io, pt->p, pt->out_next, hw_scan_one, &sc);
    if (rc == LG_EOFFSET) {
        /* hunt-events ends before our last committed output: the log lost
         * its tail in a power loss (flush mode interval or none).  Scan it
         * all for what survived, and continue as a new producer: the log's
         * record of our sequence went back with the data. */
        cn_log_warn("hunt",
                    "partition %d: %s ends before offset %" PRId64
                    ", the end of this worker's last "
                    "committed output: the log lost its tail (power loss with --flush interval or "
                    "none); derived events it lost are not emitted again",
                    (int)pt->p, HUNT_TOPIC_OUT, pt->out_next);
        pt->out_next = 0;
        pt->out_seq = 0;
        pt->pid = -1;
        sc.found = 0;
        sc.last_offset = -1;
        pt->nseen = 0;
        rc = w->io->scan_out(w->io, pt->p, 0, hw_scan_one, &sc);
    }
    rc = rc ? rc : sc.rc;
    if (rc)
        return rc;
    if (pt->nseen)
        qsort(pt->seen, pt->nseen, sizeof(*pt->seen), hw_seen_cmp);
    if (w->rebuild) {
        /* The log already holds every event: derive, emit nothing, and let
         * a later live worker start its scan after what exists now. */
        pt->suppress_all = 1;
        if (sc.last_offset >= 0)
            pt->out_next = sc.last_offset + 1;
        return 0;
    }
    /* What was scanned is accounted for now: the next commit records it,
     * so the next start neither scans nor counts it again. */
    if (sc.last_offset >= pt->out_next)
        pt->out_next = sc.last_offset + 1;
    if (pt->nseen)
        cn_log_info("hunt",
                    "partition %d: %zu derived events already in %s past the last commit: "
                    "not emitted again",
                    (int)pt->p, pt->nseen, HUNT_TOPIC_OUT);
    return 0;
}

/* Every start is a new producer epoch for the partition's producer id, made
 * durable before anything is appended: an older instance still appending
 * with the same id (a copy of this state, a worker that hung and came
 * back) is refused by the log (LG_EFENCED) instead of interleaving its
 * sequence with ours.  A new epoch starts its sequence at 0. */
static int hw_bump_epoch(hunt_worker *w, hw_part *pt)
{
    if (w->rebuild || pt->pid < 0)
        return 0;
    if (pt->epoch == INT16_MAX) {
        pt->pid = -1; /* out of epochs: a new id (allocated at the next append) */
        pt->epoch = 0;
    } else {
        pt->epoch++;
    }
    pt->out_seq = 0;
    unsigned char k[HW_OUT_KEY_LEN], v[40];
    hw_out_key(pt->p, k);
    hw_out_val(pt, pt->wm, v);
    hunt_batch_clear(w->hb);
    int rc = hunt_batch_put(w->hb, HUNT_CF_OFFSETS, k, sizeof(k), v, sizeof(v));
    rc = rc ? rc : hunt_store_write(w->st, w->hb);
    hunt_batch_clear(w->hb);
    return rc;
}

/* After a power loss in flush mode interval or none, the log recovers only
 * what was synced, while the offsets in RocksDB (synced per batch) may lie
 * past it.  The records in between are gone from the log for good; their
 * effects stay in the state.  The worker resumes at the recovered end, so
 * the pings the log stores next at those offsets are played, and says so
 * loudly (docs/operations.md, "Power loss"). */
static int hw_check_input_end(hunt_worker *w, hw_part *pt)
{
    int64_t end = w->io->end_offset(w->io, pt->p);
    if (end < 0 || pt->next <= end)
        return 0; /* unknown (Kafka before its first fetch) or fine */
    cn_log_warn("hunt",
                "partition %d: %s ends at offset %" PRId64 " but this state consumed up to %" PRId64
                ": the log lost its tail (power loss with --flush interval or none); those %" PRId64
                " records are gone, their effects stay in the state; resuming at %" PRId64,
                (int)pt->p, HUNT_TOPIC_IN, end, pt->next, pt->next - end, end);
    pt->next = end;
    pt->input_lost = 1;
    return 0;
}

/* ---- create / free ------------------------------------------------------ */

static int hw_setup_parts(hunt_worker *w, const hunt_worker_opts *o, char *err, size_t errlen)
{
    int nin = w->io->partitions(w->io, HUNT_TOPIC_IN);
    int nout = nin < 0 ? nin : w->io->partitions(w->io, HUNT_TOPIC_OUT); /* one timeout, not two */
    if (nin < 0 || nout < 0) {
        int e = nin < 0 ? nin : nout;
        snprintf(err, errlen, "topic %s: %s%s", nin < 0 ? HUNT_TOPIC_IN : HUNT_TOPIC_OUT,
                 cn_strerror(e),
                 e == LG_ENOTOPIC    ? " (cairn logd creates ble-raw and hunt-events)"
                 : e == CN_ETIMEDOUT ? " (no metadata from the brokers: is the node up?)"
                                     : "");
        return nin < 0 ? nin : nout;
    }
    if (nout < nin) {
        snprintf(err, errlen, "%s has %d partitions, fewer than %s's %d: give it at least as many",
                 HUNT_TOPIC_OUT, nout, HUNT_TOPIC_IN, nin);
        return CN_EINVAL;
    }
    size_t n = o->parts ? o->nparts : (size_t)nin;
    w->parts = cn_calloc(n ? n : 1, sizeof(*w->parts));
    if (!w->parts)
        return CN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int32_t p = o->parts ? o->parts[i] : (int32_t)i;
        if (p < 0 || p >= nin) {
            snprintf(err, errlen, "partition %d does not exist: %s has %d (0..%d)", (int)p,
                     HUNT_TOPIC_IN, nin, nin - 1);
            return CN_EINVAL;
        }
        w->parts[i].p = p;
    }
    w->nparts = n;
    return 0;
}

static int hw_alloc_batch(hunt_worker *w)
{
    w->nslots = 1;
    while (w->nslots < 2u * w->batch)
        w->nslots <<= 1;
    w->slots = cn_calloc(w->nslots, sizeof(*w->slots));
    /* Players are allocated as the batch meets them (sessions are ~4 KiB). */
    return w->slots ? hunt_batch_new(w->st, &w->hb) : CN_ENOMEM;
}

int hunt_worker_new(hunt_worker **out, const hunt_rules *r, hunt_store *st, hunt_io *io,
                    const hunt_worker_opts *o, char *err, size_t errlen)
{
    char other[HUNT_ID_MAX + 1] = "";
    hunt_worker *w = cn_calloc(1, sizeof(*w));
    if (!w)
        return CN_ENOMEM;
    w->rules = r;
    w->st = st;
    w->io = io;
    w->batch = o->batch ? o->batch : HUNT_BATCH_DEFAULT;
    w->rebuild = o->rebuild;
    const char *node = o->node ? o->node : "hunt";
    w->node = cn_strdup(node);
    w->source = cn_malloc(strlen(node) + 7);
    int rc = w->node && w->source ? 0 : CN_ENOMEM;
    if (!rc)
        snprintf(w->source, strlen(node) + 7, "/hunt/%s", node);
    if (!rc && (rc = hunt_store_bind(st, hunt_rules_def(r)->id, other, sizeof(other))) != 0)
        snprintf(err, errlen,
                 "the state directory belongs to hunt '%s', not '%s': use another --state", other,
                 hunt_rules_def(r)->id);
    if (!rc)
        rc = hw_setup_parts(w, o, err, errlen);
    if (!rc)
        rc = hw_alloc_batch(w);
    if (!rc)
        rc = hunt_cache_new(&w->cache, o->cache_players ? o->cache_players : HUNT_CACHE_DEFAULT);
    for (size_t i = 0; !rc && i < w->nparts; i++) {
        hw_part *pt = &w->parts[i];
        if ((rc = hw_load_part(w, pt)) != 0)
            snprintf(err, errlen, "cannot read the stored offsets of partition %d: %s", (int)pt->p,
                     cn_strerror(rc));
        else if ((rc = hw_check_input_end(w, pt)) != 0 || (rc = hw_scan_tail(w, pt)) != 0)
            snprintf(err, errlen, "cannot read %s partition %d: %s", HUNT_TOPIC_OUT, (int)pt->p,
                     cn_strerror(rc));
        else if ((rc = hw_bump_epoch(w, pt)) != 0)
            snprintf(err, errlen, "cannot record the producer epoch of partition %d: %s",
                     (int)pt->p, cn_strerror(rc));
        else if ((rc = io->seek(io, pt->p, pt->next)) != 0)
            snprintf(err, errlen, "cannot read %s partition %d at offset %" PRId64 ": %s",
                     HUNT_TOPIC_IN, (int)pt->p, pt->next, cn_strerror(rc));
    }
    if (!rc && (rc = hw_load_other_wm(w)) != 0)
        snprintf(err, errlen, "cannot read the stored offsets: %s", cn_strerror(rc));
    if (!rc)
        hw_update_horizon(w);
    if (rc) {
        if (rc == CN_ENOMEM && !err[0])
            snprintf(err, errlen, "out of memory");
        hunt_worker_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void hunt_worker_free(hunt_worker *w)
{
    if (!w)
        return;
    hunt_board_free(w->board);
    hunt_cache_free(w->cache);
    hunt_batch_free(w->hb);
    cn_free(w->pl);
    cn_free(w->slots);
    cn_free(w->outs);
    cn_free(w->recs);
    cn_buf_free(&w->out_data);
    cn_buf_free(&w->scratch);
    cn_buf_free(&w->audit);
    cn_buf_free(&w->ce);
    for (size_t i = 0; w->parts && i < w->nparts; i++)
        cn_free(w->parts[i].seen);
    cn_free(w->parts);
    cn_free(w->node);
    cn_free(w->source);
    cn_free(w);
}

/* ---- the batch's player cache ------------------------------------------ */

/* A player committed recently, from the write-through cache: the states
 * as committed (the engine decides on ping time whether the session is
 * over).  CN_ENOENT: not cached (or, defensively, not decodable): read
 * RocksDB. */
static int hw_from_cache(hunt_worker *w, hw_player *p, unsigned *flags)
{
    const unsigned char *sb, *pb;
    size_t sn, pn;
    int64_t written;
    uint32_t nb = hunt_rules_def(w->rules)->nbeacons;
    if (hunt_cache_get(w->cache, p->id, p->len, &sb, &sn, &pb, &pn, &written) ||
        hunt_progress_decode(pb, pn, nb, &p->p))
        return CN_ENOENT;
    *flags = HUNT_PLAYER_FRESH;
    if (hunt_session_decode(sb, sn, nb, &p->s) == 0)
        *flags = 0;
    else
        hunt_session_init(&p->s);
    return 0;
}

/* After a successful commit: the committed states become the cached ones. */
static void hw_cache_batch(hunt_worker *w)
{
    unsigned char sb[HUNT_SESSION_ENC_MAX], pb[HUNT_PROGRESS_ENC_MAX];
    uint32_t nb = hunt_rules_def(w->rules)->nbeacons;
    int64_t now = hunt_store_now(w->st);
    for (size_t i = 0; i < w->npl; i++) {
        const hw_player *pl = &w->pl[i];
        if (!pl->dirty)
            continue;
        size_t sn = hunt_session_encode(&pl->s, sb), pn = hunt_progress_encode(&pl->p, nb, pb);
        /* CN_ENOMEM leaves the player uncached: it is read from RocksDB. */
        (void)hunt_cache_put(w->cache, pl->id, pl->len, sb, sn, pb, pn, now);
    }
}

/* The player's states for this batch: loaded from RocksDB on the first
 * ping of the batch, then the copy in hand (the batch is not readable
 * before it is written).  NULL only on CN_ENOMEM or a store error (*rc). */
static hw_player *hw_player_get(hunt_worker *w, const char *id, size_t len, int *rc)
{
    size_t j = cn_hash(id, len) & (w->nslots - 1);
    for (; w->slots[j]; j = (j + 1) & (w->nslots - 1)) {
        hw_player *p = &w->pl[w->slots[j] - 1];
        if (p->len == len && memcmp(p->id, id, len) == 0)
            return p;
    }
    if (!w->pl) {
        w->pl = cn_malloc((size_t)w->batch * sizeof(*w->pl));
        if (!w->pl) {
            *rc = CN_ENOMEM;
            return NULL;
        }
    }
    hw_player *p = &w->pl[w->npl];
    unsigned flags = 0;
    p->len = (uint32_t)len;
    memcpy(p->id, id, len);
    p->id[len] = 0;
    p->dirty = 0;
    p->bad = 0;
    int lr = hw_from_cache(w, p, &flags);
    if (lr == CN_ENOENT)
        lr = hunt_player_load(w->st, w->rules, id, len, &p->s, &p->p, &w->scratch, &flags);
    if (lr == CN_ECORRUPT || lr == CN_EUNSUPPORTED) {
        p->bad = 1; /* progress we cannot read: never written over */
    } else if (lr) {
        *rc = lr;
        return NULL;
    }
    w->slots[j] = (uint32_t)++w->npl;
    return p;
}

static void hw_batch_reset(hunt_worker *w)
{
    if (w->npl)
        memset(w->slots, 0, w->nslots * sizeof(*w->slots));
    w->npl = 0;
    w->nouts = 0;
    cn_buf_reset(&w->out_data);
    hunt_batch_clear(w->hb);
}

/* ---- audit and outputs ----------------------------------------------------- */

static int hw_audit(hunt_worker *w, const hw_part *pt, const lg_record *rec, uint16_t seq,
                    const char *what, const char *player, size_t plen,
                    const Cairn__V1__BlePing *ping, const hunt_event *e)
{
    cn_buf *a = &w->audit;
    cn_buf_reset(a);
    int rc = cn_buf_printf(a, "{\"%s\":\"%s\",\"partition\":%d,\"offset\":%" PRId64,
                           e ? "event" : "rejected", what, (int)pt->p, rec->offset);
    if (!rc && player) {
        rc = cn_buf_append(a, ",\"player\":", 10);
        rc = rc ? rc : cn_json_str(a, player, plen);
    }
    if (!rc && ping) {
        rc = cn_buf_append(a, ",\"ping\":", 8);
        rc = rc ? rc : cn_json_str(a, ping->id ? ping->id : "", ping->id ? strlen(ping->id) : 0);
        rc = rc ? rc : cn_buf_append(a, ",\"beacon\":", 10);
        rc = rc ? rc
                : cn_json_str(a, ping->beacon ? ping->beacon : "",
                              ping->beacon ? strlen(ping->beacon) : 0);
        rc = rc ? rc
                : cn_buf_printf(a, ",\"rssi\":%d,\"ts\":%" PRId64, (int)ping->rssi,
                                (int64_t)ping->ts);
    }
    if (!rc && e)
        rc = cn_buf_printf(a, ",\"score\":%" PRId64 ",\"found\":%u", e->score, e->found);
    rc = rc ? rc : cn_buf_append(a, "}", 1);
    return rc ? rc : hunt_batch_put_audit(w->hb, pt->p, rec->offset, seq, a->data, a->len, NULL);
}

static const char *hw_rej_name(int reason)
{
    return reason == HUNT_REJ_BAD_RECORD   ? "bad_record"
           : reason == HUNT_REJ_BAD_STATE  ? "bad_state"
           : reason == HUNT_REJ_WRONG_HUNT ? "wrong_hunt"
                                           : hunt_reason_name(reason);
}

static int hw_reject(hunt_worker *w, const hw_part *pt, const lg_record *rec, int reason,
                     const char *player, size_t plen, const Cairn__V1__BlePing *ping)
{
    w->stats.rejected[reason - HUNT_REJ_BAD_PLAYER]++;
    const char *name = hw_rej_name(reason);
    /* A player id that failed its check is still shown (escaped), cut to
     * the id limit so a hostile record cannot bloat the audit store. */
    return hw_audit(w, pt, rec, 0, name, player, plen > HUNT_PLAYER_MAX ? HUNT_PLAYER_MAX : plen,
                    ping, NULL);
}

static int hw_emit(hunt_worker *w, const hw_part *pt, const lg_record *rec, unsigned k,
                   const hw_player *pl, const Cairn__V1__BlePing *ping, const hunt_event *e)
{
    const hunt_def *d = hunt_rules_def(w->rules);
    char ce_id[HUNT_ID_MAX + 64];
    Cairn__V1__HuntEvent he = CAIRN__V1__HUNT_EVENT__INIT;
    he.hunt = (char *)d->id;
    he.player = (char *)pl->id;
    he.kind = (char *)hunt_event_name(e->type);
    he.beacon = e->type == HUNT_EV_BEACON_FOUND ? (char *)d->beacons[e->beacon].id : (char *)"";
    he.score = e->score;
    he.found = (int32_t)e->found;
    he.ts = e->ts_ms;
    he.cause_ping_id = ping->id ? ping->id : (char *)"";
    he.input_partition = pt->p;
    he.input_offset = rec->offset;
    snprintf(ce_id, sizeof(ce_id), "%s/%d/%" PRId64 "/%u", d->id, (int)pt->p, rec->offset, k);
    if (w->nouts == w->capouts) {
        size_t nc = w->capouts ? w->capouts * 2 : 256;
        hw_out *no = cn_realloc(w->outs, nc * sizeof(*no));
        if (!no)
            return CN_ENOMEM;
        w->outs = no;
        w->capouts = nc;
    }
    hw_out *o = &w->outs[w->nouts];
    o->koff = w->out_data.len;
    o->klen = pl->len;
    o->ts = e->ts_ms;
    int rc = cn_buf_append(&w->out_data, pl->id, pl->len);
    o->voff = w->out_data.len;
    rc = rc ? rc : cn_ce_encode_hunt(&w->out_data, w->node, ce_id, e->ts_ms, &he);
    if (rc)
        return rc;
    o->vlen = w->out_data.len - o->voff;
    w->nouts++;
    return 0;
}

/* ---- one record ---------------------------------------------------------- */

static const char *hw_player_of(const cn_ce *ev, const Cairn__V1__BlePing *ping,
                                const lg_record *rec, size_t *len)
{
    /* The gateway sets all three to the same id; other producers may set
     * only some: the ping's own field first, then the event subject, then
     * the record key. */
    if (ping->player && ping->player[0]) {
        *len = strlen(ping->player);
        return ping->player;
    }
    if (ev->subject && ev->subject[0]) {
        *len = strlen(ev->subject);
        return ev->subject;
    }
    *len = rec->key ? rec->key_len : 0;
    return (const char *)rec->key;
}

static int hw_step(hunt_worker *w, hw_part *pt, const lg_record *rec,
                   const Cairn__V1__BlePing *ping, const char *player, size_t plen)
{
    hunt_ping g = {player,     plen,     ping->beacon, ping->beacon ? strlen(ping->beacon) : 0,
                   ping->rssi, ping->ts, w->recv_ms,   w->batch_wm};
    hunt_step out;
    int rc = 0;
    if (plen == 0 || plen > HUNT_PLAYER_MAX || memchr(player, 0, plen))
        return hw_reject(w, pt, rec, HUNT_REJ_BAD_PLAYER, player, plen, ping);
    hw_player *pl = hw_player_get(w, player, plen, &rc);
    if (!pl)
        return rc;
    if (pl->bad)
        return hw_reject(w, pt, rec, HUNT_REJ_BAD_STATE, player, plen, ping);
    /* A state the engine refuses (written for another version of the
     * hunt file) is left unchanged and the ping audited. */
    if (hunt_game_step(w->rules, &pl->s, &pl->p, &g, &out))
        return hw_reject(w, pt, rec, HUNT_REJ_BAD_STATE, player, plen, ping);
    if (hunt_reason_is_rejection((int)out.reason))
        return hw_reject(w, pt, rec, (int)out.reason, player, plen, ping);
    if (out.reason != HUNT_ACCEPTED) {
        w->stats.ignored[out.reason]++;
        return 0;
    }
    w->stats.accepted++;
    if (w->recv_ms > w->batch_wm)
        w->batch_wm = w->recv_ms; /* only an accepted ping moves the floor */
    w->stats.sessions_expired += (uint64_t)out.session_expired;
    pl->dirty = 1;
    for (unsigned k = 0; k < out.nevents && !rc; k++) {
        const hunt_event *e = &out.events[k];
        w->stats.events[e->type]++;
        rc = hw_audit(w, pt, rec, (uint16_t)k, hunt_event_name(e->type), pl->id, pl->len, ping, e);
        if (rc)
            break;
        if (hw_already_out(pt, rec->offset, k)) {
            w->stats.suppressed++;
            continue;
        }
        rc = hw_emit(w, pt, rec, k, pl, ping, e);
    }
    return rc;
}

/* A ping with a hunt claim plays that hunt only; no claim (a node without
 * an auth key, other producers) plays any.  A refused ping is logged at
 * most once per HW_WRONG_HUNT_LOG_NS, with the count since the last line. */
static int hw_hunt_ok(hunt_worker *w, const hw_part *pt, const lg_record *rec,
                      const Cairn__V1__BlePing *ping)
{
    const char *mine = hunt_rules_def(w->rules)->id;
    if (!ping->hunt || !ping->hunt[0] || strcmp(ping->hunt, mine) == 0)
        return 1;
    w->wrong_hunt_unlogged++;
    uint64_t now = cn_mono_ns();
    if (w->wrong_hunt_logged_ns == 0 || now - w->wrong_hunt_logged_ns >= HW_WRONG_HUNT_LOG_NS) {
        char claim[HUNT_ID_MAX + 1];
        size_t i = 0;
        for (; ping->hunt[i] && i < HUNT_ID_MAX;
             i++) /* the claim is outside input: printable only */
            claim[i] = ping->hunt[i] > 0x20 && ping->hunt[i] < 0x7f && ping->hunt[i] != '"'
                           ? ping->hunt[i]
                           : '?';
        claim[i] = 0;
        cn_log_warn("hunt",
                    "partition %d offset %" PRId64
                    ": ping for hunt '%s' refused, this worker runs '%s' "
                    "(%" PRIu64
                    " such pings since the last line; a token plays the hunt it was issued for)",
                    (int)pt->p, rec->offset, claim, mine, w->wrong_hunt_unlogged);
        w->wrong_hunt_logged_ns = now;
        w->wrong_hunt_unlogged = 0;
    }
    return 0;
}

static int hw_record(hunt_worker *w, hw_part *pt, const lg_record *rec)
{
    cn_ce_msg *m = NULL;
    cn_ce ev;
    const ProtobufCMessage *pm = NULL;
    w->stats.records++;
    if (!rec->value || cn_ce_decode(rec->value, rec->value_len, &m, &ev) ||
        strcmp(ev.type, CN_CE_TYPE_PING) != 0 ||
        cn_ce_msg_data(m, &ev, &cairn__v1__ble_ping__descriptor, &pm)) {
        cn_ce_msg_free(m);
        return hw_reject(w, pt, rec, HUNT_REJ_BAD_RECORD, (const char *)rec->key,
                         rec->key ? rec->key_len : 0, NULL);
    }
    const Cairn__V1__BlePing *ping = (const Cairn__V1__BlePing *)pm;
    size_t plen;
    const char *player = hw_player_of(&ev, ping, rec, &plen);
    int rc = hw_hunt_ok(w, pt, rec, ping)
                 ? hw_step(w, pt, rec, ping, player, plen)
                 : hw_reject(w, pt, rec, HUNT_REJ_WRONG_HUNT, player, plen, ping);
    cn_ce_msg_free(m);
    return rc;
}

/* ---- commit ----------------------------------------------------------------- */

static int hw_append(hunt_worker *w, hw_part *pt)
{
    if (!w->nouts || w->rebuild)
        return 0;
    if (pt->pid < 0 && w->io->alloc_pid) {
        int rc = w->io->alloc_pid(w->io, &pt->pid);
        if (rc)
            return rc;
    }
    hunt_out_rec *nr = cn_realloc(w->recs, w->nouts * sizeof(*nr));
    if (!nr)
        return CN_ENOMEM;
    w->recs = nr;
    for (size_t i = 0; i < w->nouts; i++) {
        const hw_out *o = &w->outs[i];
        nr[i] = (hunt_out_rec){w->out_data.data + o->koff, o->klen, w->out_data.data + o->voff,
                               o->vlen, o->ts};
    }
    int64_t next_off;
    int32_t seq = (int32_t)(pt->out_seq % ((int64_t)INT32_MAX + 1)); /* wraps like Kafka's */
    int rc = w->io->append(w->io, pt->p, nr, w->nouts, pt->pid, pt->epoch, seq, &next_off);
    if (rc)
        return rc;
    pt->out_seq += (int64_t)w->nouts;
    pt->out_next = next_off;
    w->stats.emitted += w->nouts;
    return 0;
}

static int hw_commit(hunt_worker *w, hw_part *pt, int64_t next, int64_t wm)
{
    unsigned char k[HW_OUT_KEY_LEN], v[40];
    int rc = hw_append(w, pt);
    for (size_t i = 0; !rc && i < w->npl; i++) {
        const hw_player *pl = &w->pl[i];
        if (pl->dirty)
            rc = hunt_player_save(w->hb, w->rules, pl->id, pl->len, &pl->s, &pl->p);
    }
    rc = rc ? rc : hunt_batch_put_offset(w->hb, HUNT_TOPIC_IN, pt->p, next);
    hw_out_key(pt->p, k);
    hw_out_val(pt, wm, v);
    rc = rc ? rc : hunt_batch_put(w->hb, HUNT_CF_OFFSETS, k, sizeof(k), v, sizeof(v));
    rc = rc ? rc : hunt_store_write(w->st, w->hb);
    if (rc)
        return rc;
    pt->next = next;
    if (wm > pt->wm) {
        pt->wm = wm;
        hw_update_horizon(w);
    }
    w->stats.batches++;
    hw_cache_batch(w);
    for (size_t i = 0; w->board && i < w->npl; i++) {
        const hw_player *pl = &w->pl[i];
        if (pl->dirty && hunt_board_update(w->board, pl->id, pl->len, &pl->p)) {
            /* Out of memory: drop the board; the next query rebuilds it. */
            hunt_board_free(w->board);
            w->board = NULL;
        }
    }
    return 0;
}

static int hw_batch(hunt_worker *w, hw_part *pt)
{
    lg_record rec;
    int64_t next = pt->next;
    uint32_t n = 0;
    int rc = 0;
    hw_batch_reset(w);
    w->batch_wm = pt->wm;
    pt->at_end = 0;
    while (n < w->batch) {
        rc = w->io->next(w->io, pt->p, &rec);
        if (rc == CN_DONE) {
            pt->at_end = 1;
            rc = 0;
            break;
        }
        if (rc)
            return rc;
        if (rec.offset < next) {
            snprintf(w->errmsg, sizeof(w->errmsg),
                     "%s partition %d: input offset went back from %" PRId64 " to %" PRId64
                     " (topic recreated or truncated?): refusing to apply history twice; "
                     "start on a new --state (or --rebuild one) if the log was really replaced",
                     HUNT_TOPIC_IN, (int)pt->p, next, rec.offset);
            return CN_ERANGE;
        }
        /* The engine also holds the ping's age against the partition's
         * floor (a record without a timestamp, a producer's clock behind
         * another's): the session horizon relies on it, and the floor is
         * committed with the offset, so a replay sees the same bound. */
        w->recv_ms = rec.timestamp > 0 ? rec.timestamp : 0;
        /* A log start moved by retention skips offsets: resume after rec. */
        if ((rc = hw_record(w, pt, &rec)) != 0)
            return rc;
        next = rec.offset + 1;
        n++;
    }
    if (!n)
        return 0;
    rc = hw_commit(w, pt, next, w->batch_wm);
    return rc ? rc : (int)n;
}

int hunt_worker_poll(hunt_worker *w)
{
    int total = 0;
    w->errmsg[0] = 0;
    for (size_t i = 0; i < w->nparts; i++) {
        int n = hw_batch(w, &w->parts[i]);
        if (n < 0) {
            if (!w->errmsg[0])
                snprintf(w->errmsg, sizeof(w->errmsg),
                         "partition %d: batch at offset %" PRId64 " failed: %s%s%s",
                         (int)w->parts[i].p, w->parts[i].next, cn_strerror(n),
                         n == HUNT_ESTORE ? ": " : "",
                         n == HUNT_ESTORE ? hunt_store_errmsg(w->st) : "");
            cn_log_error("hunt", "%s", w->errmsg);
            return n;
        }
        total += n;
    }
    /* Only a request: the compaction runs on the store's thread, so a
     * minute-ly pass over every session never stalls this loop. */
    if (hunt_store_maybe_compact(w->st, HW_COMPACT_EVERY_MS) < 0)
        cn_log_warn("hunt",
                    "cannot start the compaction thread: expired data stays on disk for now");
    w->stats.compactions = hunt_store_compactions(w->st);
    return total;
}

const char *hunt_worker_error(const hunt_worker *w)
{
    return w->errmsg;
}

int hunt_worker_caught_up(const hunt_worker *w)
{
    /* "Nothing now" is not "at the end" for a Kafka consumer that has not
     * fetched yet: also require the partition's end offset to be known
     * and reached. */
    for (size_t i = 0; i < w->nparts; i++) {
        int64_t end = w->io->end_offset(w->io, w->parts[i].p);
        if (!w->parts[i].at_end || end < 0 || w->parts[i].next < end)
            return 0;
    }
    return 1;
}

/* ---- accessors and metrics --------------------------------------------------- */

const hunt_worker_stats *hunt_worker_get_stats(const hunt_worker *w)
{
    return &w->stats;
}

const hunt_rules *hunt_worker_rules(const hunt_worker *w)
{
    return w->rules;
}

hunt_store *hunt_worker_store(const hunt_worker *w)
{
    return w->st;
}

hunt_board *hunt_worker_board(hunt_worker *w)
{
    if (!w->board && hunt_board_load(&w->board, w->st, w->rules))
        w->board = NULL;
    return w->board;
}

int64_t hunt_worker_lag(hunt_worker *w)
{
    int64_t lag = 0;
    for (size_t i = 0; i < w->nparts; i++) {
        int64_t end = w->io->end_offset(w->io, w->parts[i].p);
        if (end > w->parts[i].next)
            lag += end - w->parts[i].next;
    }
    return lag;
}

static const int hw_rej_codes[] = {HUNT_REJ_BAD_PLAYER, HUNT_REJ_UNKNOWN_BEACON, HUNT_REJ_BAD_RSSI,
                                   HUNT_REJ_BAD_TIME,   HUNT_REJ_BAD_RECORD,     HUNT_REJ_BAD_STATE,
                                   HUNT_REJ_WRONG_HUNT};

static void hw_metrics_totals(cn_prom *p, const hunt_worker_stats *s)
{
    cn_prom_counter(p, "cairn_hunt_records_total", "Input records (ble-raw) consumed.", s->records);
    cn_prom_counter(p, "cairn_hunt_accepted_total", "Pings applied to the game state.",
                    s->accepted);
    cn_prom_counter(p, "cairn_hunt_batches_total",
                    "Batches committed (RocksDB state, offsets and hunt-events together).",
                    s->batches);
    cn_prom_counter(p, "cairn_hunt_emitted_total", "Records appended to hunt-events.", s->emitted);
    cn_prom_counter(
        p, "cairn_hunt_suppressed_total",
        "Derived events found already in hunt-events after a crash, not appended again.",
        s->suppressed);
    cn_prom_counter(p, "cairn_hunt_sessions_expired_total",
                    "Pings that found their player's session over (on ping time).",
                    s->sessions_expired);
    cn_prom_counter(p, "cairn_hunt_ttl_compactions_total", "Timed TTL compactions finished.",
                    s->compactions);
}

static void hw_metrics_reasons(cn_prom *p, const hunt_worker_stats *s)
{
    cn_prom_family(p, "cairn_hunt_ignored_total", CN_PROM_COUNTER,
                   "Pings ignored (valid, no effect), by reason.");
    for (int r = HUNT_IGN_OUTSIDE_HUNT; r <= HUNT_IGN_DUPLICATE; r++) {
        const char *l[] = {"reason", hunt_reason_name(r), NULL};
        cn_prom_u64(p, "cairn_hunt_ignored_total", l, s->ignored[r]);
    }
    cn_prom_family(p, "cairn_hunt_rejected_total", CN_PROM_COUNTER,
                   "Input records refused as invalid, by reason.");
    for (size_t i = 0; i < sizeof(hw_rej_codes) / sizeof(hw_rej_codes[0]); i++) {
        int r = hw_rej_codes[i];
        const char *l[] = {"reason", hw_rej_name(r), NULL};
        cn_prom_u64(p, "cairn_hunt_rejected_total", l, s->rejected[r - HUNT_REJ_BAD_PLAYER]);
    }
    cn_prom_family(p, "cairn_hunt_events_total", CN_PROM_COUNTER, "Game events derived, by type.");
    for (int t = HUNT_EV_PLAYER_JOINED; t <= HUNT_EV_HUNT_COMPLETED; t++) {
        const char *l[] = {"type", hunt_event_name(t), NULL};
        cn_prom_u64(p, "cairn_hunt_events_total", l, s->events[t]);
    }
}

static void hw_metrics_partitions(cn_prom *p, hunt_worker *w)
{
    char part[16];
    const char *l[] = {"partition", part, NULL};
    cn_prom_family(
        p, "cairn_hunt_next_offset", CN_PROM_GAUGE,
        "Next input offset to consume, per ble-raw partition (committed with the state).");
    for (size_t i = 0; i < w->nparts; i++) {
        snprintf(part, sizeof(part), "%d", (int)w->parts[i].p);
        cn_prom_i64(p, "cairn_hunt_next_offset", l, w->parts[i].next);
    }
    cn_prom_family(p, "cairn_hunt_lag_records", CN_PROM_GAUGE,
                   "Input records not yet consumed, per ble-raw partition.");
    for (size_t i = 0; i < w->nparts; i++) {
        int64_t end = w->io->end_offset(w->io, w->parts[i].p);
        snprintf(part, sizeof(part), "%d", (int)w->parts[i].p);
        cn_prom_i64(p, "cairn_hunt_lag_records", l,
                    end > w->parts[i].next ? end - w->parts[i].next : 0);
    }
}

int hunt_worker_metrics(hunt_worker *w, cn_buf *b)
{
    cn_prom p;
    cn_prom_init(&p, b);
    hw_metrics_totals(&p, &w->stats);
    hw_metrics_reasons(&p, &w->stats);
    hw_metrics_partitions(&p, w);
    static const char *const props[][3] = {
        {"rocksdb.estimate-num-keys", "cairn_hunt_rocksdb_keys",
         "RocksDB's estimate of keys, per column family."},
        {"rocksdb.total-sst-files-size", "cairn_hunt_rocksdb_sst_bytes",
         "Bytes of RocksDB table files, per column family."},
        {"rocksdb.cur-size-all-mem-tables", "cairn_hunt_rocksdb_memtable_bytes",
         "Bytes of RocksDB memtables, per column family."}};
    for (size_t j = 0; j < sizeof(props) / sizeof(props[0]); j++) {
        cn_prom_family(&p, props[j][1], CN_PROM_GAUGE, props[j][2]);
        for (int cf = 0; cf < HUNT_CF_COUNT; cf++) {
            uint64_t v;
            const char *l[] = {"cf", hunt_store_cf_name((enum hunt_cf)cf), NULL};
            if (hunt_store_property(w->st, (enum hunt_cf)cf, props[j][0], &v) == 0)
                cn_prom_u64(&p, props[j][1], l, v);
        }
    }
    return p.err;
}
