/* SPDX-License-Identifier: MIT */
/*
 * hunt_store.c — the RocksDB layer of a hunt worker (contract in
 * hunt_store.h): opening the four column families, time-stamped values,
 * TTL at read time and in a compaction filter, atomic synced batches,
 * forced compaction of cold ranges, and RocksDB error mapping.
 *
 * Guarantees: every RocksDB error string (errptr) is freed here and turned
 * into a cn_err code; a value is never handed out without its stamp being
 * checked; the TTL test is one function used by reads and by the filter,
 * so what a read calls expired is exactly what compaction drops.
 * Threads: the handle is shared (RocksDB is thread-safe); the compaction
 * filter runs on RocksDB's background threads and only reads the
 * immutable TTL, the atomic session horizon and the (thread-safe) clock.
 * hunt_store_maybe_compact() only signals the store's compaction thread,
 * which runs the compactions (RocksDB calls are thread-safe) and is joined
 * by hunt_store_close().  hunt_store_errmsg() and
 * hunt_store_maybe_compact() keep per-handle fields and are meant for the
 * worker's own thread.  Ownership: the handle owns the DB, the options,
 * the filters and the column family handles; a batch owns its WriteBatch.
 */
#include "hunt_store.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_log.h"
#include "cn_time.h"

#include <pthread.h>
#include <rocksdb/c.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define HUNT__STAMP 8u
#define HUNT__MAX_WAL_BYTES (32u << 20)

/* State of one TTL compaction filter: immutable after open.  gc: drop
 * stamps at or before the store's session horizon instead of on a TTL. */
struct hunt__ttl {
    const hunt_store *s;
    int64_t ttl_ms;
    const char *name;
    int gc;
};

struct hunt_store {
    rocksdb_t *db;
    rocksdb_options_t *dbopts;
    rocksdb_options_t *cfopts[HUNT_CF_COUNT];
    rocksdb_column_family_handle_t *cf[HUNT_CF_COUNT];
    rocksdb_column_family_handle_t *cf_default;
    rocksdb_compactionfilter_t *filter[HUNT_CF_COUNT]; /* sessions, audit only */
    struct hunt__ttl ttl[HUNT_CF_COUNT];
    rocksdb_writeoptions_t *wopts;
    rocksdb_readoptions_t *ropts;
    hunt_clock_fn clock;
    void *clock_ud;
    int64_t last_compact_ms;
    /* the compaction thread (hunt_store_maybe_compact) */
    pthread_t compactor;
    pthread_mutex_t cmu;
    pthread_cond_t ccv;
    int cthread, cwant, cstop; /* under cmu */
    _Atomic uint64_t compactions;
    void (*on_compact)(void *ud);
    void *on_compact_ud;
    _Atomic int64_t session_horizon; /* read by the filter on RocksDB's threads */
    char errmsg[HUNT_STORE_ERR_MAX];
};

struct hunt_batch {
    hunt_store *s;
    rocksdb_writebatch_t *wb;
};

static const char *const hunt__cf_names[HUNT_CF_COUNT] = {"sessions", "progress", "audit",
                                                          "offsets"};

const char *hunt_store_cf_name(enum hunt_cf cf)
{
    return (unsigned)cf < HUNT_CF_COUNT ? hunt__cf_names[cf] : "unknown";
}

/* ---- errors ------------------------------------------------------------- */

/* RocksDB reports a Status as text ("IO error: No space left on device");
 * its code is the prefix, the errno is only in the words. */
static int hunt__map(const char *e)
{
    static const struct {
        const char *needle;
        int code;
    } map[] = {
        {"Corruption", CN_ECORRUPT},   {"No space left", CN_ENOSPC},
        {"While lock file", CN_EBUSY}, {"lock hold by current process", CN_EBUSY},
        {"Resource busy", CN_EBUSY},   {"Invalid argument", CN_EINVAL},
        {"NotFound", CN_ENOENT},       {"Not implemented", CN_EUNSUPPORTED},
        {"Timed out", CN_ETIMEDOUT},   {"Permission denied", CN_EPERM},
        {"IO error", CN_EIO},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strstr(e, map[i].needle))
            return map[i].code;
    return HUNT_ESTORE;
}

/* Take ownership of a RocksDB error string: keep its text, free it, map it. */
static int hunt__err(hunt_store *s, char *e, const char *what)
{
    int rc = hunt__map(e);
    snprintf(s->errmsg, sizeof(s->errmsg), "%s: %s", what, e);
    cn_log_warn("hunt", "rocksdb %s failed: %s", what, e);
    rocksdb_free(e);
    return rc;
}

/* ---- clock and TTL -------------------------------------------------------- */

static int64_t hunt__wall(void *ud)
{
    (void)ud;
    return cn_now_ms();
}

int64_t hunt_store_now(const hunt_store *s)
{
    return s->clock(s->clock_ud);
}

/* The one TTL test.  A stamp from the future (clock stepped back) is not
 * expired: keeping data a little longer is safe, losing it is not. */
static int hunt__expired(int64_t now, int64_t written, int64_t ttl_ms)
{
    return ttl_ms > 0 && now >= written && now - written >= ttl_ms;
}

static unsigned char hunt__filter(void *st, int level, const char *key, size_t klen,
                                  const char *val, size_t vlen, char **nv, size_t *nvlen,
                                  unsigned char *changed)
{
    const struct hunt__ttl *t = st;
    *changed = 0;
    /* A value too short to hold a stamp is kept: dropping data we cannot
     * read would hide the corruption that reads will report. */
    if (vlen < HUNT__STAMP)
        return 0;
    /* RocksDB turns a removed entry into a deletion marker, so an older
     * version of the key in a lower level stays hidden; the marker itself
     * goes when it reaches the bottommost level, where the forced
     * compaction of hunt_store_compact_expired() takes every file. */
    int64_t written = (int64_t)cn_rd_be64((const unsigned char *)val);
    if (t->gc)
        return (unsigned char)(written <= hunt_store_session_horizon(t->s));
    return (unsigned char)hunt__expired(hunt_store_now(t->s), written, t->ttl_ms);
}

static const char *hunt__filter_name(void *st)
{
    return ((const struct hunt__ttl *)st)->name;
}

static void hunt__filter_nop(void *st)
{
    (void)st;
}

/* ---- open / close ------------------------------------------------------------ */

static void hunt__setup_options(hunt_store *s, const hunt_store_opts *o)
{
    s->dbopts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(s->dbopts, 1);
    rocksdb_options_set_create_missing_column_families(s->dbopts, 1);
    /* Restart time is bounded by WAL replay: past this much WAL RocksDB
     * flushes the oldest memtables, so even after kill -9 at most this
     * much is replayed on open. */
    rocksdb_options_set_max_total_wal_size(s->dbopts, HUNT__MAX_WAL_BYTES);
    /* After kill -9, replay the WAL into memtables without first writing
     * it all out as L0 files (the default): restart time.  The 7.8 C API
     * has no setter, the options string does. */
    rocksdb_options_t *ro = rocksdb_options_create();
    char *re = NULL;
    rocksdb_get_options_from_string(s->dbopts, "avoid_flush_during_recovery=true", ro, &re);
    if (re) {
        rocksdb_free(re);
        rocksdb_options_destroy(ro);
    } else {
        rocksdb_options_destroy(s->dbopts);
        s->dbopts = ro;
    }
    /* Sessions: no TTL for readers (ttl_ms 0), garbage collection only. */
    s->ttl[HUNT_CF_SESSIONS] = (struct hunt__ttl){s, 0, "cairn.hunt.gc.sessions", 1};
    s->ttl[HUNT_CF_AUDIT] =
        (struct hunt__ttl){s, o && o->audit_ttl_ms ? o->audit_ttl_ms : 7776000 * INT64_C(1000),
                           "cairn.hunt.ttl.audit", 0};
    for (int i = 0; i < HUNT_CF_COUNT; i++) {
        s->cfopts[i] = rocksdb_options_create_copy(s->dbopts);
        if (s->ttl[i].ttl_ms > 0 || s->ttl[i].gc) {
            s->filter[i] = rocksdb_compactionfilter_create(&s->ttl[i], hunt__filter_nop,
                                                           hunt__filter, hunt__filter_name);
            rocksdb_options_set_compaction_filter(s->cfopts[i], s->filter[i]);
        }
    }
    s->wopts = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(s->wopts, !(o && o->no_sync));
    s->ropts = rocksdb_readoptions_create();
}

int hunt_store_open(const char *dir, const hunt_store_opts *o, hunt_store **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    hunt_store *s = cn_calloc(1, sizeof(*s));
    if (!s)
        return CN_ENOMEM;
    s->clock = o && o->clock ? o->clock : hunt__wall;
    s->clock_ud = o && o->clock ? o->clock_ud : NULL;
    atomic_init(&s->session_horizon, INT64_MIN);
    atomic_init(&s->compactions, 0);
    pthread_mutex_init(&s->cmu, NULL);
    pthread_cond_init(&s->ccv, NULL);
    s->on_compact = o ? o->on_compact : NULL;
    s->on_compact_ud = o ? o->on_compact_ud : NULL;
    hunt__setup_options(s, o);
    const char *names[HUNT_CF_COUNT + 1] = {"default"};
    const rocksdb_options_t *opts[HUNT_CF_COUNT + 1] = {s->dbopts};
    rocksdb_column_family_handle_t *handles[HUNT_CF_COUNT + 1] = {0};
    for (int i = 0; i < HUNT_CF_COUNT; i++) {
        names[i + 1] = hunt__cf_names[i];
        opts[i + 1] = s->cfopts[i];
    }
    char *e = NULL;
    s->db =
        rocksdb_open_column_families(s->dbopts, dir, HUNT_CF_COUNT + 1, names, opts, handles, &e);
    if (e) {
        int rc = hunt__err(s, e, "open");
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot open hunt state: %s", dir, s->errmsg);
        hunt_store_close(s);
        return rc;
    }
    s->cf_default = handles[0];
    memcpy(s->cf, handles + 1, sizeof(s->cf));
    s->last_compact_ms = hunt_store_now(s);
    *out = s;
    return 0;
}

/* RocksDB does not flush memtables at close when the WAL is on, so the
 * next open would replay the whole WAL; flushing here makes a clean
 * restart replay nothing. */
static void hunt__flush_all(hunt_store *s)
{
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 1);
    for (int i = 0; i < HUNT_CF_COUNT; i++) {
        char *e = NULL;
        rocksdb_flush_cf(s->db, fo, s->cf[i], &e);
        if (e)
            hunt__err(s, e, "flush at close");
    }
    /* The default family too: its memtable holds the hunt binding, and a
     * WAL stays alive (and is replayed at every open: 28 MB, ~200 ms with
     * 100,000 players) while any family still has data only in it. */
    char *e = NULL;
    if (s->cf_default)
        rocksdb_flush_cf(s->db, fo, s->cf_default, &e);
    if (e)
        hunt__err(s, e, "flush at close");
    rocksdb_flushoptions_destroy(fo);
}

static void hunt__stop_compactor(hunt_store *s)
{
    pthread_mutex_lock(&s->cmu);
    int running = s->cthread;
    s->cstop = 1;
    pthread_cond_signal(&s->ccv);
    pthread_mutex_unlock(&s->cmu);
    if (!running)
        return;
    /* A compaction in progress is cut short: the next open starts over. */
    rocksdb_disable_manual_compaction(s->db);
    pthread_join(s->compactor, NULL);
}

void hunt_store_close(hunt_store *s)
{
    if (!s)
        return;
    hunt__stop_compactor(s);
    pthread_cond_destroy(&s->ccv);
    pthread_mutex_destroy(&s->cmu);
    if (s->db && s->cf[0])
        hunt__flush_all(s);
    for (int i = 0; i < HUNT_CF_COUNT; i++)
        if (s->cf[i])
            rocksdb_column_family_handle_destroy(s->cf[i]);
    if (s->cf_default)
        rocksdb_column_family_handle_destroy(s->cf_default);
    if (s->db)
        rocksdb_close(s->db);
    /* Filters and options must outlive the DB: destroy them after close. */
    for (int i = 0; i < HUNT_CF_COUNT; i++) {
        if (s->filter[i])
            rocksdb_compactionfilter_destroy(s->filter[i]);
        if (s->cfopts[i])
            rocksdb_options_destroy(s->cfopts[i]);
    }
    if (s->dbopts)
        rocksdb_options_destroy(s->dbopts);
    if (s->wopts)
        rocksdb_writeoptions_destroy(s->wopts);
    if (s->ropts)
        rocksdb_readoptions_destroy(s->ropts);
    cn_free(s);
}

const char *hunt_store_errmsg(const hunt_store *s)
{
    return s->errmsg;
}

/* ---- reads ------------------------------------------------------------------- */

int hunt_store_get(hunt_store *s, enum hunt_cf cf, const void *key, size_t klen, cn_buf *val,
                   int64_t *written_ms)
{
    char *e = NULL;
    cn_buf_reset(val);
    if ((unsigned)cf >= HUNT_CF_COUNT)
        return CN_EINVAL;
    rocksdb_pinnableslice_t *ps = rocksdb_get_pinned_cf(s->db, s->ropts, s->cf[cf], key, klen, &e);
    if (e)
        return hunt__err(s, e, "get");
    if (!ps)
        return CN_ENOENT;
    size_t n;
    const unsigned char *v = (const unsigned char *)rocksdb_pinnableslice_value(ps, &n);
    int rc = 0;
    if (n < HUNT__STAMP) {
        rc = CN_ECORRUPT;
    } else {
        int64_t written = (int64_t)cn_rd_be64(v);
        if (hunt__expired(hunt_store_now(s), written, s->ttl[cf].ttl_ms))
            rc = CN_ENOENT;
        else
            rc = cn_buf_append(val, v + HUNT__STAMP, n - HUNT__STAMP);
        if (!rc && written_ms)
            *written_ms = written;
    }
    rocksdb_pinnableslice_destroy(ps);
    return rc;
}

/* offsets key: topic bytes, NUL, be32 partition (topic names have no NUL). */
static size_t hunt__offset_key(const char *topic, int32_t partition, unsigned char *k, size_t cap)
{
    size_t tl = strlen(topic);
    if (tl + 5 > cap)
        return 0;
    memcpy(k, topic, tl);
    k[tl] = 0;
    cn_wr_be32(k + tl + 1, (uint32_t)partition);
    return tl + 5;
}

int hunt_store_get_offset(hunt_store *s, const char *topic, int32_t partition, int64_t *next)
{
    unsigned char k[300];
    size_t kl = hunt__offset_key(topic, partition, k, sizeof(k));
    if (!kl)
        return CN_EINVAL;
    cn_buf v = CN_BUF_INIT;
    int rc = hunt_store_get(s, HUNT_CF_OFFSETS, k, kl, &v, NULL);
    if (!rc && v.len != 8)
        rc = CN_ECORRUPT;
    if (!rc)
        *next = (int64_t)cn_rd_be64(v.data);
    cn_buf_free(&v);
    return rc;
}

/* ---- hunt binding ------------------------------------------------------------ */

int hunt_store_bind(hunt_store *s, const char *hunt_id, char *other, size_t otherlen)
{
    static const char key[] = "hunt_id";
    size_t idlen = strlen(hunt_id), vlen = 0;
    char *e = NULL;
    if (idlen == 0)
        return CN_EINVAL;
    char *v = rocksdb_get_cf(s->db, s->ropts, s->cf_default, key, sizeof(key) - 1, &vlen, &e);
    if (e)
        return hunt__err(s, e, "get hunt_id");
    if (v) {
        int same = vlen == idlen && memcmp(v, hunt_id, idlen) == 0;
        if (!same && other && otherlen)
            snprintf(other, otherlen, "%.*s", (int)vlen, v);
        rocksdb_free(v);
        return same ? 0 : CN_EEXIST;
    }
    rocksdb_put_cf(s->db, s->wopts, s->cf_default, key, sizeof(key) - 1, hunt_id, idlen, &e);
    return e ? hunt__err(s, e, "put hunt_id") : 0;
}

/* ---- batches ----------------------------------------------------------------- */

int hunt_batch_new(hunt_store *s, hunt_batch **out)
{
    hunt_batch *b = cn_calloc(1, sizeof(*b));
    if (!b)
        return CN_ENOMEM;
    b->s = s;
    b->wb = rocksdb_writebatch_create();
    *out = b;
    return 0;
}

void hunt_batch_free(hunt_batch *b)
{
    if (!b)
        return;
    rocksdb_writebatch_destroy(b->wb);
    cn_free(b);
}

void hunt_batch_clear(hunt_batch *b)
{
    rocksdb_writebatch_clear(b->wb);
}

int hunt_batch_count(const hunt_batch *b)
{
    return rocksdb_writebatch_count(b->wb);
}

/* The stamp and the payload go in as two slices, so the payload is copied
 * once (into the WriteBatch) and never through a scratch buffer. */
static int hunt__put_at(hunt_batch *b, enum hunt_cf cf, const void *key, size_t klen,
                        const void *val, size_t vlen, int64_t now)
{
    if ((unsigned)cf >= HUNT_CF_COUNT)
        return CN_EINVAL;
    unsigned char stamp[HUNT__STAMP];
    cn_wr_be64(stamp, (uint64_t)now);
    const char *keys[1] = {key};
    size_t klens[1] = {klen};
    const char *vals[2] = {(const char *)stamp, val};
    size_t vlens[2] = {HUNT__STAMP, vlen};
    rocksdb_writebatch_putv_cf(b->wb, b->s->cf[cf], 1, keys, klens, 2, vals, vlens);
    return 0;
}

int hunt_batch_put(hunt_batch *b, enum hunt_cf cf, const void *key, size_t klen, const void *val,
                   size_t vlen)
{
    return hunt__put_at(b, cf, key, klen, val, vlen, hunt_store_now(b->s));
}

int hunt_batch_put_stamped(hunt_batch *b, enum hunt_cf cf, const void *key, size_t klen,
                           const void *val, size_t vlen, int64_t stamp_ms)
{
    return hunt__put_at(b, cf, key, klen, val, vlen, stamp_ms);
}

int hunt_batch_delete(hunt_batch *b, enum hunt_cf cf, const void *key, size_t klen)
{
    if ((unsigned)cf >= HUNT_CF_COUNT)
        return CN_EINVAL;
    rocksdb_writebatch_delete_cf(b->wb, b->s->cf[cf], key, klen);
    return 0;
}

int hunt_batch_put_audit(hunt_batch *b, int32_t partition, int64_t offset, uint16_t seq,
                         const void *val, size_t vlen, unsigned char *key_out)
{
    unsigned char k[HUNT_AUDIT_KEY_LEN];
    int64_t now = hunt_store_now(b->s);
    /* Key time and value stamp are the same reading, so the key range
     * compacted as "cold" is exactly the range whose stamps are old. */
    cn_wr_be64(k, (uint64_t)now);
    cn_wr_be32(k + 8, (uint32_t)partition);
    cn_wr_be64(k + 12, (uint64_t)offset);
    cn_wr_be16(k + 20, seq);
    if (key_out)
        memcpy(key_out, k, sizeof(k));
    return hunt__put_at(b, HUNT_CF_AUDIT, k, sizeof(k), val, vlen, now);
}

int hunt_batch_put_offset(hunt_batch *b, const char *topic, int32_t partition, int64_t next)
{
    unsigned char k[300], v[8];
    size_t kl = hunt__offset_key(topic, partition, k, sizeof(k));
    if (!kl)
        return CN_EINVAL;
    cn_wr_be64(v, (uint64_t)next);
    return hunt_batch_put(b, HUNT_CF_OFFSETS, k, kl, v, sizeof(v));
}

int hunt_store_write(hunt_store *s, hunt_batch *b)
{
    char *e = NULL;
    rocksdb_write(s->db, s->wopts, b->wb, &e);
    return e ? hunt__err(s, e, "write") : 0;
}

/* ---- compaction and inspection -------------------------------------------------- */

void hunt_store_set_session_horizon(hunt_store *s, int64_t horizon_ms)
{
    int64_t cur = atomic_load(&s->session_horizon);
    while (horizon_ms > cur && !atomic_compare_exchange_weak(&s->session_horizon, &cur, horizon_ms))
        ;
}

int64_t hunt_store_session_horizon(const hunt_store *s)
{
    return atomic_load(&((hunt_store *)s)->session_horizon);
}

/* The compaction itself: thread-safe (RocksDB is), touches no field the
 * caller's thread writes. */
static void hunt__compact(hunt_store *s)
{
    /* RocksDB's default for manual compactions (kIfHaveCompactionFilter)
     * rewrites even the bottommost level when a filter is set, so every
     * expired entry in range meets the filter; memtables overlapping the
     * range are flushed first. */
    rocksdb_compactoptions_t *co = rocksdb_compactoptions_create();
    rocksdb_compact_range_cf_opt(s->db, s->cf[HUNT_CF_SESSIONS], co, NULL, 0, NULL, 0);
    int64_t cold = hunt_store_now(s) - s->ttl[HUNT_CF_AUDIT].ttl_ms;
    if (cold > 0) {
        unsigned char limit[9];
        cn_wr_be64(limit, (uint64_t)cold);
        limit[8] = 0xff; /* past every key written at exactly `cold` */
        rocksdb_compact_range_cf_opt(s->db, s->cf[HUNT_CF_AUDIT], co, NULL, 0, (const char *)limit,
                                     sizeof(limit));
    }
    rocksdb_compactoptions_destroy(co);
}

int hunt_store_compact_expired(hunt_store *s)
{
    hunt__compact(s);
    s->last_compact_ms = hunt_store_now(s);
    return 0;
}

static void *hunt__compactor(void *ud)
{
    hunt_store *s = ud;
    pthread_mutex_lock(&s->cmu);
    for (;;) {
        while (!s->cwant && !s->cstop)
            pthread_cond_wait(&s->ccv, &s->cmu);
        if (s->cstop)
            break;
        s->cwant = 0;
        pthread_mutex_unlock(&s->cmu);
        if (s->on_compact)
            s->on_compact(s->on_compact_ud);
        hunt__compact(s);
        atomic_fetch_add(&s->compactions, 1);
        pthread_mutex_lock(&s->cmu);
    }
    pthread_mutex_unlock(&s->cmu);
    return NULL;
}

int hunt_store_maybe_compact(hunt_store *s, int64_t every_ms)
{
    int64_t now = hunt_store_now(s);
    if (now - s->last_compact_ms < every_ms)
        return 0;
    s->last_compact_ms = now;
    int rc = 0;
    pthread_mutex_lock(&s->cmu);
    if (!s->cthread && !s->cstop) {
        if (pthread_create(&s->compactor, NULL, hunt__compactor, s) == 0)
            s->cthread = 1;
        else
            rc = CN_ESYS;
    }
    s->cwant = 1;
    pthread_cond_signal(&s->ccv);
    pthread_mutex_unlock(&s->cmu);
    return rc ? rc : 1;
}

uint64_t hunt_store_compactions(const hunt_store *s)
{
    return atomic_load(&((hunt_store *)s)->compactions);
}

int hunt_store_scan(hunt_store *s, enum hunt_cf cf, int raw, hunt_scan_fn fn, void *ud)
{
    if ((unsigned)cf >= HUNT_CF_COUNT)
        return CN_EINVAL;
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, s->ropts, s->cf[cf]);
    int64_t now = hunt_store_now(s);
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        const unsigned char *v = (const unsigned char *)rocksdb_iter_value(it, &vl);
        int64_t written = vl >= HUNT__STAMP ? (int64_t)cn_rd_be64(v) : 0;
        if (!raw && (vl < HUNT__STAMP || hunt__expired(now, written, s->ttl[cf].ttl_ms)))
            continue;
        size_t skip = vl >= HUNT__STAMP ? HUNT__STAMP : vl;
        if (fn(ud, k, kl, v + skip, vl - skip, written))
            break;
    }
    char *e = NULL;
    rocksdb_iter_get_error(it, &e);
    rocksdb_iter_destroy(it);
    return e ? hunt__err(s, e, "scan") : 0;
}

int hunt_store_property(hunt_store *s, enum hunt_cf cf, const char *name, uint64_t *out)
{
    if ((unsigned)cf >= HUNT_CF_COUNT)
        return CN_EINVAL;
    return rocksdb_property_int_cf(s->db, s->cf[cf], name, out) == 0 ? 0 : CN_ENOENT;
}
