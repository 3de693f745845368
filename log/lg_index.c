/* SPDX-License-Identifier: MIT */
/*
 * lg_index.c — the log's two LMDB environments.
 *
 * DATA/index/ holds only what the segments determine: it is rebuilt from
 * them when it is missing, damaged (LMDB reports corruption or "not an LMDB
 * file") or of another index version.  Any other open error (EIO, EMFILE,
 * EACCES, ENOMEM, ...) is returned: a transient failure is never a reason
 * to delete.  It is opened MDB_NOSYNC: commits reach the page cache only
 * and lg__ix_sync() (checkpoints, retention, truncate) makes them durable.
 *
 * DATA/state/ holds what cannot be rebuilt: consumer-group offsets and the
 * producer-id counter.  Every commit is synced (no MDB_NOSYNC) and nothing
 * ever deletes it; an error opening it is an error.  When it is created,
 * it takes over the groups and counter an older layout kept in the index.
 *
 * Also here: the named databases, the big-endian key/value codecs that
 * make LMDB's byte order numeric order, and small get/put helpers.  The
 * schema is in docs/architecture.md.
 * Threads: helpers take the caller's transaction; any thread.
 */
#include "lg_int.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int lg__ix_err(int rc)
{
    if (rc == 0)
        return 0;
    if (rc == MDB_NOTFOUND)
        return CN_ENOENT;
    if (rc == MDB_MAP_FULL)
        return CN_ENOSPC;
    if (rc > 0)
        return cn_err_from_errno(rc);
    return LG_EINDEX;
}

uint64_t lg__ts_bias(int64_t ts)
{
    return (uint64_t)ts ^ 0x8000000000000000ull;
}

int64_t lg__ts_unbias(uint64_t v)
{
    return (int64_t)(v ^ 0x8000000000000000ull);
}

void lg__ix_key_tp(unsigned char *k, uint32_t tid, int32_t part)
{
    cn_wr_be32(k, tid);
    cn_wr_be32(k + 4, (uint32_t)part);
}

int lg__ix_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t *v)
{
    MDB_val k = {strlen(key), (void *)key}, d;
    int rc = mdb_get(txn, dbi, &k, &d);
    if (rc)
        return lg__ix_err(rc);
    if (d.mv_size != 8)
        return LG_EINDEX;
    *v = cn_rd_be64(d.mv_data);
    return 0;
}

int lg__ix_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t v)
{
    unsigned char b[8];
    cn_wr_be64(b, v);
    MDB_val k = {strlen(key), (void *)key}, d = {8, b};
    return lg__ix_err(mdb_put(txn, dbi, &k, &d, 0));
}

/* ---- environment ---------------------------------------------------------- */

static int lg__ix_remove_files(const char *idir)
{
    char p[4200];
    snprintf(p, sizeof(p), "%s/data.mdb", idir);
    if (unlink(p) != 0 && errno != ENOENT)
        return cn_err_from_errno(errno);
    snprintf(p, sizeof(p), "%s/lock.mdb", idir);
    if (unlink(p) != 0 && errno != ENOENT)
        return cn_err_from_errno(errno);
    return 0;
}

/* Creates and opens an LMDB environment whose map is `bytes` of address
 * space. When the kernel (or a sanitizer's smaller address space, or a
 * ulimit -v) refuses a map that large, halves it and tries again down to
 * 1 GiB: the map only bounds how far the file may grow, and LMDB never maps
 * less than the file already holds. LMDB wants a failed environment closed,
 * so each try starts from a fresh one. */
static int lg__mdb_open(MDB_env **out, const char *dir, unsigned flags, unsigned maxdbs,
                        uint64_t bytes)
{
    for (;;) {
        MDB_env *env = NULL;
        int rc = mdb_env_create(&env);
        if (rc)
            return rc;
        mdb_env_set_maxdbs(env, maxdbs);
        mdb_env_set_maxreaders(env, 510);
        rc = mdb_env_set_mapsize(env, (size_t)bytes);
        if (!rc)
            rc = mdb_env_open(env, dir, flags, 0644);
        if (!rc) {
            *out = env;
            return 0;
        }
        mdb_env_close(env);
        if (rc != ENOMEM || bytes <= (1ull << 30))
            return rc;
        bytes /= 2;
    }
}

static int lg__ix_env_open(lg_log *log, const char *idir)
{
    unsigned flags = MDB_NOTLS | MDB_NOSYNC | (log->o.read_only ? MDB_RDONLY : 0);
    log->ix.env = NULL;
    return lg__mdb_open(&log->ix.env, idir, flags, 16, log->o.lmdb_map_bytes);
}

static int lg__ix_dbis(lg_log *log, MDB_txn *txn, unsigned flags)
{
    struct {
        const char *name;
        MDB_dbi *dbi;
    } t[] = {
        {"meta", &log->ix.meta},           {"topics", &log->ix.topics}, {"parts", &log->ix.parts},
        {"epochs", &log->ix.epochs},       {"oidx", &log->ix.oidx},     {"tidx", &log->ix.tidx},
        {"producers", &log->ix.producers}, {"groups", &log->ix.groups}, {"segs", &log->ix.segs}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int rc = mdb_dbi_open(txn, t[i].name, flags, t[i].dbi);
        if (rc)
            return rc;
    }
    /* The transaction tables came later: a read-only opener of an index
     * written before them sees no transactions. */
    int rc = mdb_dbi_open(txn, "txopen", flags, &log->ix.txopen);
    if (!rc)
        rc = mdb_dbi_open(txn, "txabort", flags, &log->ix.txabort);
    log->ix.has_tx = rc == 0;
    return rc == MDB_NOTFOUND && !(flags & MDB_CREATE) ? 0 : rc;
}

/* Opens the databases; in writer mode also checks the version and empties
 * everything when it is not ours (the index is derivable). */
static int lg__ix_prepare(lg_log *log, int *fresh)
{
    MDB_txn *txn;
    int ro = log->o.read_only;
    int rc = mdb_txn_begin(log->ix.env, NULL, ro ? MDB_RDONLY : 0, &txn);
    if (rc)
        return rc;
    rc = lg__ix_dbis(log, txn, ro ? 0 : MDB_CREATE);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    uint64_t ver = 0;
    int g = lg__ix_get_u64(txn, log->ix.meta, "version", &ver);
    if (ro) {
        /* Commit, not abort: handles opened in an aborted transaction are
         * closed with it (LMDB), and we keep these for the log's life. */
        if (g != 0 || ver != LG__INDEX_VERSION) {
            mdb_txn_abort(txn);
            return MDB_INVALID;
        }
        return mdb_txn_commit(txn);
    }
    if (g != 0 || ver != LG__INDEX_VERSION) {
        /* Not `groups`: an older layout kept committed offsets there, and
         * lg__state_open still takes them over from it. */
        MDB_dbi all[] = {log->ix.meta,   log->ix.topics, log->ix.parts,     log->ix.epochs,
                         log->ix.oidx,   log->ix.tidx,   log->ix.producers, log->ix.segs,
                         log->ix.txopen, log->ix.txabort};
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]) && !rc; i++)
            rc = mdb_drop(txn, all[i], 0);
        if (!rc)
            rc = lg__ix_put_u64(txn, log->ix.meta, "version", LG__INDEX_VERSION) ? MDB_PANIC : 0;
        *fresh = 1;
    }
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

/* LMDB's verdicts on the file itself, as opposed to errors of the system
 * (errno values), which may pass and must not cost the index. */
static int lg__ix_damaged(int rc)
{
    return rc == MDB_CORRUPTED || rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH ||
           rc == MDB_PAGE_NOTFOUND || rc == MDB_PANIC || rc == MDB_BAD_TXN ||
           rc == MDB_INCOMPATIBLE;
}

int lg__ix_open(lg_log *log, int *fresh)
{
    char idir[4096];
    snprintf(idir, sizeof(idir), "%s/index", log->dir);
    *fresh = 0;
    struct stat st;
    char dpath[4200];
    snprintf(dpath, sizeof(dpath), "%s/data.mdb", idir);
    if (stat(dpath, &st) != 0) {
        if (log->o.read_only)
            return CN_ENOENT;
        *fresh = 1;
        int rc = lg__mkdirs(idir);
        if (rc)
            return rc;
    }
    int rc = lg__ix_env_open(log, idir);
    if (!rc) {
        rc = lg__ix_prepare(log, fresh);
        if (rc) {
            mdb_env_close(log->ix.env);
            log->ix.env = NULL;
        }
    }
    if (rc && !log->o.read_only && lg__ix_damaged(rc)) {
        /* Damaged: the index is derivable, so start over. */
        cn_log_warn("lg", "index %s unusable (%s); rebuilding it from the segments", idir,
                    mdb_strerror(rc));
        int r2 = lg__ix_remove_files(idir);
        if (r2)
            return r2;
        *fresh = 1;
        rc = lg__ix_env_open(log, idir);
        if (!rc)
            rc = lg__ix_prepare(log, fresh);
        if (rc && log->ix.env) {
            mdb_env_close(log->ix.env);
            log->ix.env = NULL;
        }
    }
    if (rc)
        return rc == MDB_INVALID && log->o.read_only ? CN_ENOENT : lg__ix_err(rc);
    if (!log->o.read_only) {
        /* Reader slots of processes that died (kill -9 of a reader or of a
         * previous writer) would pin old pages and grow the file. */
        int dead = 0;
        mdb_reader_check(log->ix.env, &dead);
        if (dead)
            cn_log_info("lg", "cleared %d stale index reader slot(s)", dead);
    }
    return 0;
}

/* ---- the state environment ------------------------------------------------ */

#define LG__STATE_VERSION 1
#define LG__STATE_MAP_BYTES (1ull << 32) /* address space; groups are small */

/* Copy what an older layout kept in the index (groups, producer-id
 * counter) into a new state environment, in the same transaction that
 * stamps its version. */
static int lg__state_adopt(lg_log *log, MDB_txn *stxn)
{
    if (!log->ix.env)
        return 0;
    MDB_txn *itxn;
    int rc = mdb_txn_begin(log->ix.env, NULL, MDB_RDONLY, &itxn);
    if (rc)
        return rc;
    uint64_t next;
    if (lg__ix_get_u64(itxn, log->ix.meta, "next_producer_id", &next) == 0)
        rc = lg__ix_put_u64(stxn, log->ix.smeta, "next_producer_id", next) ? MDB_PANIC : 0;
    MDB_cursor *c = NULL;
    if (!rc)
        rc = mdb_cursor_open(itxn, log->ix.groups, &c);
    MDB_val k, d;
    int op = MDB_FIRST, n = 0;
    while (!rc && mdb_cursor_get(c, &k, &d, op) == 0) {
        op = MDB_NEXT;
        rc = mdb_put(stxn, log->ix.sgroups, &k, &d, 0);
        n++;
    }
    if (c)
        mdb_cursor_close(c);
    mdb_txn_abort(itxn);
    if (!rc && n)
        cn_log_info("lg", "moved %d committed group offset(s) from the index to %s/state", n,
                    log->dir);
    return rc;
}

int lg__state_open(lg_log *log)
{
    char sdir[4096];
    snprintf(sdir, sizeof(sdir), "%s/state", log->dir);
    int ro = log->o.read_only;
    struct stat st;
    if (stat(sdir, &st) != 0) {
        if (ro)
            return 0; /* nothing committed yet */
        int rc = lg__mkdirs(sdir);
        if (rc)
            return rc;
    }
    log->ix.senv = NULL;
    int rc = lg__mdb_open(&log->ix.senv, sdir, MDB_NOTLS | (ro ? MDB_RDONLY : 0), 4,
                          LG__STATE_MAP_BYTES);
    MDB_txn *txn = NULL;
    if (!rc)
        rc = mdb_txn_begin(log->ix.senv, NULL, ro ? MDB_RDONLY : 0, &txn);
    unsigned f = ro ? 0 : MDB_CREATE;
    if (!rc)
        rc = mdb_dbi_open(txn, "meta", f, &log->ix.smeta);
    if (!rc)
        rc = mdb_dbi_open(txn, "groups", f, &log->ix.sgroups);
    if (!rc) {
        /* The coordinator's transactions (lg_txn.c); absent in a directory
         * an older writer left, which a read-only opener tolerates. */
        int t = mdb_dbi_open(txn, "txns", f, &log->ix.stxns);
        log->ix.has_stxns = t == 0;
        rc = t == MDB_NOTFOUND && ro ? 0 : t;
    }
    uint64_t ver = 0;
    if (!rc && !ro && lg__ix_get_u64(txn, log->ix.smeta, "version", &ver) == CN_ENOENT) {
        rc = lg__state_adopt(log, txn);
        if (!rc)
            rc = lg__ix_put_u64(txn, log->ix.smeta, "version", LG__STATE_VERSION) ? MDB_PANIC : 0;
    }
    if (txn)
        rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn); /* keeps the handles */
    if (rc) {
        cn_log_error("lg",
                     "cannot open %s: %s (it holds committed group offsets and is never "
                     "rebuilt: fix the cause and reopen)",
                     sdir, mdb_strerror(rc));
        mdb_env_close(log->ix.senv); /* NULL when the open itself failed */
        log->ix.senv = NULL;
        return lg__ix_err(rc);
    }
    return 0;
}

void lg__state_close(lg_log *log)
{
    if (!log->ix.senv)
        return;
    mdb_env_close(log->ix.senv);
    log->ix.senv = NULL;
}

void lg__ix_close(lg_log *log)
{
    if (!log->ix.env)
        return;
    if (!log->o.read_only)
        mdb_env_sync(log->ix.env, 1);
    mdb_env_close(log->ix.env);
    log->ix.env = NULL;
}

int lg__ix_sync(lg_log *log)
{
    return lg__ix_err(mdb_env_sync(log->ix.env, 1));
}

/* ---- records --------------------------------------------------------------- */

#define LG__PARTREC_LEN 72

int lg__ix_part_get(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, lg_partrec *r)
{
    unsigned char kb[8];
    lg__ix_key_tp(kb, tid, part);
    MDB_val k = {8, kb}, d;
    int rc = mdb_get(txn, log->ix.parts, &k, &d);
    if (rc)
        return lg__ix_err(rc);
    if (d.mv_size != LG__PARTREC_LEN)
        return LG_EINDEX;
    const unsigned char *p = d.mv_data;
    r->log_start = (int64_t)cn_rd_be64(p);
    r->log_end = (int64_t)cn_rd_be64(p + 8);
    r->active_base = (int64_t)cn_rd_be64(p + 16);
    r->indexed_pos = cn_rd_be64(p + 24);
    r->epoch = (int32_t)cn_rd_be32(p + 32);
    r->first_ts = (int64_t)cn_rd_be64(p + 36);
    r->last_ts = (int64_t)cn_rd_be64(p + 44);
    r->bytes = cn_rd_be64(p + 52);
    r->run_max_ts = (int64_t)cn_rd_be64(p + 60);
    r->since_idx = cn_rd_be32(p + 68);
    return 0;
}

int lg__ix_part_put(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, const lg_partrec *r)
{
    unsigned char kb[8], p[LG__PARTREC_LEN];
    lg__ix_key_tp(kb, tid, part);
    cn_wr_be64(p, (uint64_t)r->log_start);
    cn_wr_be64(p + 8, (uint64_t)r->log_end);
    cn_wr_be64(p + 16, (uint64_t)r->active_base);
    cn_wr_be64(p + 24, r->indexed_pos);
    cn_wr_be32(p + 32, (uint32_t)r->epoch);
    cn_wr_be64(p + 36, (uint64_t)r->first_ts);
    cn_wr_be64(p + 44, (uint64_t)r->last_ts);
    cn_wr_be64(p + 52, r->bytes);
    cn_wr_be64(p + 60, (uint64_t)r->run_max_ts);
    cn_wr_be32(p + 68, r->since_idx);
    MDB_val k = {8, kb}, d = {LG__PARTREC_LEN, p};
    return lg__ix_err(mdb_put(txn, log->ix.parts, &k, &d, 0));
}

static void lg__key_tpo(unsigned char *k, uint32_t tid, int32_t part, int64_t off)
{
    lg__ix_key_tp(k, tid, part);
    cn_wr_be64(k + 8, (uint64_t)off);
}

int lg__ix_seg_get(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, int64_t base,
                   lg_segrec *r)
{
    unsigned char kb[16];
    lg__key_tpo(kb, tid, part, base);
    MDB_val k = {16, kb}, d;
    int rc = mdb_get(txn, log->ix.segs, &k, &d);
    if (rc)
        return lg__ix_err(rc);
    if (d.mv_size != 40)
        return LG_EINDEX;
    const unsigned char *p = d.mv_data;
    r->bytes = cn_rd_be64(p);
    r->created_ms = (int64_t)cn_rd_be64(p + 8);
    r->first_ts = (int64_t)cn_rd_be64(p + 16);
    r->max_ts = (int64_t)cn_rd_be64(p + 24);
    r->next_off = (int64_t)cn_rd_be64(p + 32);
    return 0;
}

int lg__ix_seg_put(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, int64_t base,
                   const lg_segrec *r)
{
    unsigned char kb[16], p[40];
    lg__key_tpo(kb, tid, part, base);
    cn_wr_be64(p, r->bytes);
    cn_wr_be64(p + 8, (uint64_t)r->created_ms);
    cn_wr_be64(p + 16, (uint64_t)r->first_ts);
    cn_wr_be64(p + 24, (uint64_t)r->max_ts);
    cn_wr_be64(p + 32, (uint64_t)r->next_off);
    MDB_val k = {16, kb}, d = {40, p};
    return lg__ix_err(mdb_put(txn, log->ix.segs, &k, &d, 0));
}

int lg__ix_oidx_put(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, int64_t base,
                    const lg_oidxval *v)
{
    unsigned char kb[16], p[28];
    lg__key_tpo(kb, tid, part, base);
    cn_wr_be64(p, (uint64_t)v->seg_base);
    cn_wr_be32(p + 8, v->pos);
    cn_wr_be32(p + 12, v->len);
    cn_wr_be32(p + 16, (uint32_t)v->lod);
    cn_wr_be64(p + 20, (uint64_t)v->max_ts);
    MDB_val k = {16, kb}, d = {28, p};
    return lg__ix_err(mdb_put(txn, log->ix.oidx, &k, &d, 0));
}

int lg__ix_oidx_floor(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, int64_t offset,
                      int64_t *base, lg_oidxval *v)
{
    unsigned char kb[16];
    lg__key_tpo(kb, tid, part, offset);
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, log->ix.oidx, &c);
    if (rc)
        return lg__ix_err(rc);
    MDB_val k = {16, kb}, d;
    rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    if (rc == 0 && (k.mv_size != 16 || memcmp(k.mv_data, kb, 16) != 0))
        rc = mdb_cursor_get(c, &k, &d, MDB_PREV); /* the next key is past offset */
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(c, &k, &d, MDB_LAST);
    if (rc == 0 && (k.mv_size != 16 || memcmp(k.mv_data, kb, 8) != 0))
        rc = MDB_NOTFOUND; /* belongs to another partition */
    if (rc == 0 && d.mv_size != 28)
        rc = MDB_CORRUPTED;
    if (rc == 0) {
        const unsigned char *p = d.mv_data;
        *base = (int64_t)cn_rd_be64((const unsigned char *)k.mv_data + 8);
        v->seg_base = (int64_t)cn_rd_be64(p);
        v->pos = cn_rd_be32(p + 8);
        v->len = cn_rd_be32(p + 12);
        v->lod = (int32_t)cn_rd_be32(p + 16);
        v->max_ts = (int64_t)cn_rd_be64(p + 20);
    }
    mdb_cursor_close(c);
    return lg__ix_err(rc);
}

int lg__ix_tidx_put(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, int64_t run_max,
                    int64_t base)
{
    unsigned char kb[24];
    lg__ix_key_tp(kb, tid, part);
    cn_wr_be64(kb + 8, lg__ts_bias(run_max));
    cn_wr_be64(kb + 16, (uint64_t)base);
    MDB_val k = {24, kb}, d = {0, kb};
    return lg__ix_err(mdb_put(txn, log->ix.tidx, &k, &d, 0));
}

int lg__ix_epoch_put(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, int32_t epoch,
                     int64_t start)
{
    unsigned char kb[12], p[8];
    lg__ix_key_tp(kb, tid, part);
    cn_wr_be32(kb + 8, (uint32_t)epoch);
    cn_wr_be64(p, (uint64_t)start);
    MDB_val k = {12, kb}, d = {8, p};
    return lg__ix_err(mdb_put(txn, log->ix.epochs, &k, &d, 0));
}

int lg__ix_prod_put(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, const lg_pstate *st)
{
    unsigned char kb[16], p[128];
    lg__key_tpo(kb, tid, part, st->pid);
    size_t n = lg__prod_encode(st, p);
    MDB_val k = {16, kb}, d = {n, p};
    return lg__ix_err(mdb_put(txn, log->ix.producers, &k, &d, 0));
}

int lg__ix_prod_del(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, int64_t pid)
{
    unsigned char kb[16];
    lg__key_tpo(kb, tid, part, pid);
    MDB_val k = {16, kb};
    int m = mdb_del(txn, log->ix.producers, &k, NULL);
    return m == MDB_NOTFOUND ? 0 : lg__ix_err(m);
}

static int lg__ix_del_range(MDB_txn *txn, MDB_dbi dbi, const unsigned char *pre, size_t pn,
                            int (*keep)(void *ud, const unsigned char *k, size_t kn), void *ud)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc)
        return lg__ix_err(rc);
    MDB_val k = {pn, (void *)pre}, d;
    rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    while (rc == 0) {
        if (k.mv_size < pn || memcmp(k.mv_data, pre, pn) != 0)
            break;
        if (!keep || !keep(ud, k.mv_data, k.mv_size)) {
            /* Re-seek after the delete rather than trusting the cursor's
             * position: O(log n) each, and correct on every LMDB version. */
            unsigned char kc[512];
            size_t kn = k.mv_size < sizeof(kc) ? k.mv_size : sizeof(kc);
            memcpy(kc, k.mv_data, kn);
            rc = mdb_cursor_del(c, 0);
            if (rc)
                break;
            k.mv_size = kn;
            k.mv_data = kc;
            rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
            continue;
        }
        rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : lg__ix_err(rc);
}

int lg__ix_del_prefix(MDB_txn *txn, MDB_dbi dbi, uint32_t tid, int32_t part,
                      int (*keep)(void *ud, const unsigned char *k, size_t kn), void *ud)
{
    unsigned char pre[8];
    lg__ix_key_tp(pre, tid, part);
    return lg__ix_del_range(txn, dbi, pre, 8, keep, ud);
}

int lg__ix_del_topic(MDB_txn *txn, MDB_dbi dbi, uint32_t tid)
{
    unsigned char pre[4];
    cn_wr_be32(pre, tid);
    return lg__ix_del_range(txn, dbi, pre, 4, NULL, NULL);
}
