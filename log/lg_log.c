/* SPDX-License-Identifier: MIT */
/*
 * lg_log.c — opening and closing a log directory (LOCK, index, recovery,
 * writer thread), options, and the topic table: create, delete, lookup,
 * enumerate, settings.  A topic's existence and configuration are recorded
 * twice: in DATA/topics/<name>/topic.meta (written atomically at creation
 * and by lg_topic_config_set; the source of truth that lets a lost index be rebuilt with the same
 * topic ids) and in the LMDB `topics` db (what read-only openers see). Threads: any; the topic
 * table is under log->tmu.  lg_log owns every topic, partition and segment it lists.
 */
#include "lg_int.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_log.h"
#include "cn_time.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

void lg_opts_init(lg_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->durability = LG_DUR_FSYNC;
    o->interval_ms = 1000;
    o->segment_bytes = 128ull << 20;
    o->segment_ms = 7LL * 24 * 3600 * 1000;
    o->retention_ms = 7LL * 24 * 3600 * 1000;
    o->retention_bytes = -1;
    o->max_batch_bytes = 8ull << 20;
    o->max_queued_bytes = 256ull << 20;
    o->maintenance_ms = 5LL * 60 * 1000;
    o->producer_expiry_ms = 24LL * 3600 * 1000;
    o->producer_id_node = -1;
    /* Address space only: the file grows as used.  The sparse index costs
     * about 2% of segment bytes, so this covers tens of TiB of segments. */
    o->lmdb_map_bytes = 1ull << 40;
}

int64_t lg__now(const lg_log *log)
{
    return log->o.clock_ms ? log->o.clock_ms(log->o.clock_ud) : cn_now_ms();
}

void lg__topic_cfg_resolve(const lg_log *log, lg_topic_config *c)
{
    if (c->retention_ms == 0)
        c->retention_ms = log->o.retention_ms;
    if (c->retention_bytes == 0)
        c->retention_bytes = log->o.retention_bytes;
    if (c->segment_bytes == 0)
        c->segment_bytes = log->o.segment_bytes;
}

static int lg__topic_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* ---- partitions -------------------------------------------------------- */

static int lg__part_init(lg_part *p, lg_topic *t, int32_t idx)
{
    memset(p, 0, sizeof(*p));
    p->tp = t;
    p->idx = idx;
    size_t n = strlen(t->dir) + 16;
    p->dir = cn_malloc(n);
    if (!p->dir)
        return CN_ENOMEM;
    snprintf(p->dir, n, "%s/%" PRId32, t->dir, idx);
    pthread_mutex_init(&p->mu, NULL);
    p->first_ts = p->last_ts = -1;
    p->run_max_ts = INT64_MIN;
    p->unsynced_since = -1;
    atomic_store(&p->durable_end, 0);
    atomic_store(&p->pub_end, 0);
    atomic_store(&p->read_limit, -1);
    return 0;
}

static void lg__part_destroy(lg_part *p)
{
    if (!p->dir)
        return;
    for (size_t i = 0; i < p->nsegs; i++)
        lg__seg_unref(p->segs[i]);
    cn_free(p->segs);
    lg__prod_free(&p->prod);
    lg__txn_free(p);
    lg__queue_free(&p->q);
    lg__queue_free(&p->wq[0]);
    lg__queue_free(&p->wq[1]);
    pthread_mutex_destroy(&p->mu);
    cn_free(p->dir);
}

void lg__part_mark_failed(lg_part *p, const char *file, uint64_t pos, const char *what)
{
    pthread_mutex_lock(&p->mu);
    if (!p->failed) {
        snprintf(p->err_detail, sizeof(p->err_detail), "%s at byte %" PRIu64 ": %s", file, pos,
                 what);
        p->failed = 1; /* after the detail: lock-free readers then see both */
        cn_log_error("lg", "partition %s/%d failed: %s", p->tp->name, p->idx, p->err_detail);
    }
    pthread_mutex_unlock(&p->mu);
}

static size_t lg__seg_floor_idx(lg_part *p, int64_t base, int *found)
{
    size_t lo = 0, hi = p->nsegs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->segs[mid]->base < base)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < p->nsegs && p->segs[lo]->base == base;
    return lo;
}

/* Insert s at its sorted place; p->mu held. */
static int lg__seg_insert_locked(lg_part *p, lg_seg *s)
{
    int found;
    size_t i = lg__seg_floor_idx(p, s->base, &found);
    if (found)
        return CN_EEXIST;
    if (p->nsegs == p->segcap) {
        size_t nc = p->segcap ? p->segcap * 2 : 8;
        lg_seg **ns = cn_realloc(p->segs, nc * sizeof(*ns));
        if (!ns)
            return CN_ENOMEM;
        p->segs = ns;
        p->segcap = nc;
    }
    memmove(&p->segs[i + 1], &p->segs[i], (p->nsegs - i) * sizeof(*p->segs));
    p->segs[i] = s;
    p->nsegs++;
    return 0;
}

int lg__part_seg_add(lg_part *p, lg_seg *s)
{
    pthread_mutex_lock(&p->mu);
    int rc = lg__seg_insert_locked(p, s);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

lg_seg *lg__part_active(lg_part *p)
{
    return p->nsegs ? p->segs[p->nsegs - 1] : NULL;
}

lg_seg *lg__part_seg_get(lg_log *log, lg_part *p, int64_t base)
{
    pthread_mutex_lock(&p->mu);
    int found;
    size_t i = lg__seg_floor_idx(p, base, &found);
    lg_seg *s = NULL;
    if (found) {
        s = p->segs[i];
        lg__seg_ref(s);
    } else if (log->o.read_only && lg__seg_open(&s, log->vfs, p->dir, base, 0) == 0) {
        /* Another process writes this directory: open lazily, cache. */
        if (lg__seg_insert_locked(p, s) == 0)
            lg__seg_ref(s);
        /* on failure to cache, the caller still gets our only ref */
    }
    pthread_mutex_unlock(&p->mu);
    return s;
}

/* ---- topics ------------------------------------------------------------- */

void lg__topic_free(lg_topic *t)
{
    if (!t)
        return;
    if (t->parts)
        for (int32_t i = 0; i < t->cfg.partitions; i++)
            lg__part_destroy(&t->parts[i]);
    cn_free(t->parts);
    cn_free(t->dir);
    cn_free(t->name);
    cn_free(t);
}

int lg__topic_alloc(lg_topic **out, lg_log *log, const char *name, uint32_t id,
                    const lg_topic_config *cfg, int64_t created_ms)
{
    *out = NULL;
    lg_topic *t = cn_calloc(1, sizeof(*t));
    if (!t)
        return CN_ENOMEM;
    t->name = cn_strdup(name);
    size_t n = strlen(log->dir) + strlen(name) + 16;
    t->dir = cn_malloc(n);
    t->parts = cn_calloc((size_t)cfg->partitions, sizeof(lg_part));
    if (!t->name || !t->dir || !t->parts) {
        cn_free(t->parts);
        t->parts = NULL;
        lg__topic_free(t);
        return CN_ENOMEM;
    }
    snprintf(t->dir, n, "%s/topics/%s", log->dir, name);
    t->id = id;
    t->cfg = *cfg;
    t->created_ms = created_ms;
    int32_t i = 0;
    int rc = 0;
    for (; i < cfg->partitions && !rc; i++)
        rc = lg__part_init(&t->parts[i], t, i);
    if (rc) {
        lg__topic_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

lg_topic *lg__topic_find(lg_log *log, const char *name)
{
    size_t lo = 0, hi = log->ntopics;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(log->topics[mid]->name, name);
        if (c == 0)
            return log->topics[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int lg__topic_insert(lg_log *log, lg_topic *t)
{
    if (log->ntopics == log->topcap) {
        size_t nc = log->topcap ? log->topcap * 2 : 8;
        lg_topic **nt = cn_realloc(log->topics, nc * sizeof(*nt));
        if (!nt)
            return CN_ENOMEM;
        log->topics = nt;
        log->topcap = nc;
    }
    size_t i = 0;
    while (i < log->ntopics && strcmp(log->topics[i]->name, t->name) < 0)
        i++;
    memmove(&log->topics[i + 1], &log->topics[i], (log->ntopics - i) * sizeof(*log->topics));
    log->topics[i] = t;
    log->ntopics++;
    return 0;
}

static void lg__topic_remove(lg_log *log, lg_topic *t)
{
    for (size_t i = 0; i < log->ntopics; i++) {
        if (log->topics[i] == t) {
            memmove(&log->topics[i], &log->topics[i + 1],
                    (log->ntopics - i - 1) * sizeof(*log->topics));
            log->ntopics--;
            return;
        }
    }
}

int lg__file_write_atomic(const lg_vfs *v, const char *dir, const char *name, const void *body,
                          size_t n)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = v->open(v->ud, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return cn_err_from_errno(errno);
    int rc = 0;
    ssize_t w = v->pwrite(v->ud, fd, body, n, 0);
    if (w < 0 || (size_t)w != n)
        rc = w < 0 ? cn_err_from_errno(errno) : CN_EIO;
    if (!rc && v->fdatasync(v->ud, fd))
        rc = cn_err_from_errno(errno);
    v->close(v->ud, fd);
    if (!rc && v->rename(v->ud, tmp, path))
        rc = cn_err_from_errno(errno);
    if (!rc)
        rc = lg__dir_sync(v, dir);
    if (rc)
        v->unlink(v->ud, tmp);
    return rc;
}

/* topic.meta: "key=value" lines; written to a temp name, synced, renamed. */
int lg__topic_meta_write(lg_log *log, const lg_topic *t)
{
    char body[512];
    int n = snprintf(body, sizeof(body),
                     "id=%" PRIu32 "\npartitions=%" PRId32 "\nretention_ms=%" PRId64
                     "\nretention_bytes=%" PRId64 "\nsegment_bytes=%" PRIu64 "\ncreated_ms=%" PRId64
                     "\n",
                     t->id, t->cfg.partitions, t->cfg.retention_ms, t->cfg.retention_bytes,
                     t->cfg.segment_bytes, t->created_ms);
    return lg__file_write_atomic(log->vfs, t->dir, "topic.meta", body, (size_t)n);
}

int lg__topic_meta_read(const char *path, lg_topic *t)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? CN_ENOENT : cn_err_from_errno(errno);
    char line[256];
    int seen = 0;
    while (fgets(line, sizeof(line), f)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *end;
        errno = 0;
        long long v = strtoll(eq + 1, &end, 10);
        if (errno || end == eq + 1)
            continue;
        if (!strcmp(line, "id") && v >= 0 && v <= UINT32_MAX)
            t->id = (uint32_t)v, seen |= 1;
        else if (!strcmp(line, "partitions") && v >= 1 && v <= 1000000)
            t->cfg.partitions = (int32_t)v, seen |= 2;
        else if (!strcmp(line, "retention_ms"))
            t->cfg.retention_ms = v;
        else if (!strcmp(line, "retention_bytes"))
            t->cfg.retention_bytes = v;
        else if (!strcmp(line, "segment_bytes") && v >= 0)
            /* Older builds accepted any size; positions are 32-bit. */
            t->cfg.segment_bytes =
                (uint64_t)v > LG_SEGMENT_BYTES_MAX ? LG_SEGMENT_BYTES_MAX : (uint64_t)v;
        else if (!strcmp(line, "created_ms"))
            t->created_ms = v;
    }
    fclose(f);
    return seen == 3 ? 0 : CN_ECORRUPT;
}

static void lg__topic_rec_encode(const lg_topic *t, unsigned char *p)
{
    cn_wr_be32(p, t->id);
    cn_wr_be32(p + 4, (uint32_t)t->cfg.partitions);
    cn_wr_be64(p + 8, (uint64_t)t->cfg.retention_ms);
    cn_wr_be64(p + 16, (uint64_t)t->cfg.retention_bytes);
    cn_wr_be64(p + 24, t->cfg.segment_bytes);
    cn_wr_be64(p + 32, (uint64_t)t->created_ms);
}

static int lg__topic_rec_put(lg_log *log, MDB_txn *txn, const lg_topic *t)
{
    unsigned char p[40];
    lg__topic_rec_encode(t, p);
    MDB_val k = {strlen(t->name), t->name}, d = {40, p};
    return lg__ix_err(mdb_put(txn, log->ix.topics, &k, &d, 0));
}

/* Read every topic the index knows into the table (read-only mode; also
 * refreshes a read-only view when a writer created topics since). */
static int lg__topics_load_index(lg_log *log)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(log->ix.env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return lg__ix_err(rc);
    MDB_cursor *c = NULL;
    rc = mdb_cursor_open(txn, log->ix.topics, &c);
    MDB_val k, d;
    int op = MDB_FIRST;
    while (!rc && (rc = mdb_cursor_get(c, &k, &d, op)) == 0) {
        op = MDB_NEXT;
        if (d.mv_size != 40 || k.mv_size == 0 || k.mv_size > 249)
            continue;
        char name[256];
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        if (lg__topic_find(log, name))
            continue;
        const unsigned char *p = d.mv_data;
        lg_topic_config cfg = {(int32_t)cn_rd_be32(p + 4), (int64_t)cn_rd_be64(p + 8),
                               (int64_t)cn_rd_be64(p + 16), cn_rd_be64(p + 24)};
        if (cfg.partitions < 1)
            continue;
        lg_topic *t;
        int r2 = lg__topic_alloc(&t, log, name, cn_rd_be32(p), &cfg, (int64_t)cn_rd_be64(p + 32));
        if (!r2 && (r2 = lg__topic_insert(log, t)) != 0)
            lg__topic_free(t);
        if (r2) {
            rc = r2;
            break;
        }
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (c)
        mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return rc > 0 || rc < -100 ? lg__ix_err(rc) : rc;
}

int lg__topic_lookup_part(lg_log *log, const char *topic, int32_t partition, lg_part **out)
{
    lg_topic *t = lg__topic_find(log, topic);
    if (!t && log->o.read_only) {
        /* A writer may have created it since we opened: take a look.
         * Upgrading the lock means a short window with no lock held;
         * callers re-find under their own lock, so that is harmless. */
        pthread_rwlock_unlock(&log->tmu);
        pthread_rwlock_wrlock(&log->tmu);
        lg__topics_load_index(log);
        pthread_rwlock_unlock(&log->tmu);
        pthread_rwlock_rdlock(&log->tmu);
        t = lg__topic_find(log, topic);
    }
    if (!t || t->deleted)
        return LG_ENOTOPIC;
    if (partition < 0 || partition >= t->cfg.partitions)
        return LG_ENOPART;
    *out = &t->parts[partition];
    return 0;
}

int lg_health(lg_log *log, int *failed_parts)
{
    if (!log)
        return CN_EINVAL;
    if (failed_parts) {
        int n = 0;
        pthread_rwlock_rdlock(&log->tmu);
        for (size_t k = 0; k < log->ntopics; k++) {
            const lg_topic *t = log->topics[k];
            for (int32_t i = 0; !t->deleted && i < t->cfg.partitions; i++)
                n += atomic_load(&t->parts[i].failed) != 0;
        }
        pthread_rwlock_unlock(&log->tmu);
        *failed_parts = n;
    }
    return atomic_load(&log->panic) ? CN_EPANIC : 0;
}

int lg_topic_create(lg_log *log, const char *name, const lg_topic_config *cfg)
{
    if (!log || !cfg || !lg__topic_name_ok(name) || cfg->partitions < 1 ||
        cfg->partitions > 100000 || cfg->retention_ms < -1 || cfg->retention_bytes < -1 ||
        (cfg->segment_bytes != 0 &&
         (cfg->segment_bytes < LG_BATCH_HEADER_LEN || cfg->segment_bytes > LG_SEGMENT_BYTES_MAX)))
        return CN_EINVAL;
    if (log->o.read_only)
        return CN_EPERM;
    if (atomic_load(&log->panic))
        return CN_EPANIC;
    pthread_rwlock_wrlock(&log->tmu);
    lg_topic *t = NULL;
    MDB_txn *txn = NULL;
    int rc = lg__topic_find(log, name) ? CN_EEXIST : 0;
    if (!rc)
        rc = lg__ix_err(mdb_txn_begin(log->ix.env, NULL, 0, &txn));
    uint64_t id = 1;
    if (!rc) {
        rc = lg__ix_get_u64(txn, log->ix.meta, "next_topic_id", &id);
        if (rc == CN_ENOENT)
            id = 1, rc = 0;
    }
    if (!rc)
        rc = lg__topic_alloc(&t, log, name, (uint32_t)id, cfg, lg__now(log));
    for (int32_t i = 0; !rc && i < cfg->partitions; i++)
        rc = lg__mkdirs(t->parts[i].dir);
    if (!rc)
        rc = lg__topic_meta_write(log, t);
    if (!rc)
        rc = lg__topic_rec_put(log, txn, t);
    if (!rc)
        rc = lg__ix_put_u64(txn, log->ix.meta, "next_topic_id", id + 1);
    for (int32_t i = 0; !rc && i < cfg->partitions; i++) {
        lg_partrec r = {0, 0, 0, 0, 0, -1, -1, 0, INT64_MIN, 0};
        rc = lg__ix_part_put(log, txn, t->id, i, &r);
    }
    if (!rc) {
        rc = lg__ix_err(mdb_txn_commit(txn));
        txn = NULL;
    }
    if (!rc)
        rc = lg__ix_sync(log);
    if (!rc)
        rc = lg__topic_insert(log, t);
    if (rc) {
        if (txn)
            mdb_txn_abort(txn);
        if (t && rc != CN_EEXIST) {
            char path[4200];
            snprintf(path, sizeof(path), "%s/topic.meta", t->dir);
            unlink(path);
        }
        lg__topic_free(t);
    }
    pthread_rwlock_unlock(&log->tmu);
    return rc;
}

static void lg__rm_part_files(const lg_vfs *v, const char *pdir)
{
    int64_t *bases;
    size_t n;
    if (lg__seg_list(pdir, &bases, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            char *p = lg__seg_path(pdir, bases[i]);
            if (p)
                v->unlink(v->ud, p);
            cn_free(p);
        }
        cn_free(bases);
    }
    rmdir(pdir);
}

int lg_topic_delete(lg_log *log, const char *name)
{
    if (!log || !name)
        return CN_EINVAL;
    if (lg__on_writer(log))
        return CN_EBUSY;
    if (log->o.read_only)
        return CN_EPERM;
    /* wmu first: no writer round runs while the topic goes away. */
    lg__wmu_lock(log);
    pthread_rwlock_wrlock(&log->tmu);
    lg_topic *t = lg__topic_find(log, name);
    int rc = t ? 0 : LG_ENOTOPIC;
    if (!rc) {
        /* Fail what is still queued for it; the writer cannot see these
         * partitions again once they leave the dirty list. */
        pthread_mutex_lock(&log->qmu);
        for (int32_t i = 0; i < t->cfg.partitions; i++) {
            lg_part *p = &t->parts[i];
            log->queued_bytes -= p->q.bytes.len;
            lg__queue_fail(&p->q, NULL, LG_ENOTOPIC);
            for (size_t j = 0; j < log->ndirty; j++)
                if (log->dirty[j] == p)
                    log->dirty[j--] = log->dirty[--log->ndirty];
            p->queued = 0;
        }
        pthread_cond_broadcast(&log->spacecond);
        pthread_mutex_unlock(&log->qmu);
        /* The meta file goes first: once it is gone the topic is gone, and
         * a crash part-way leaves only garbage that open() sweeps away. */
        char path[4200];
        snprintf(path, sizeof(path), "%s/topic.meta", t->dir);
        if (log->vfs->unlink(log->vfs->ud, path) != 0 && errno != ENOENT)
            rc = cn_err_from_errno(errno);
        if (!rc)
            lg__dir_sync(log->vfs, t->dir);
    }
    if (!rc) {
        MDB_txn *txn;
        rc = lg__ix_err(mdb_txn_begin(log->ix.env, NULL, 0, &txn));
        if (!rc) {
            MDB_val k = {strlen(name), (void *)name};
            int r = mdb_del(txn, log->ix.topics, &k, NULL);
            rc = r == MDB_NOTFOUND ? 0 : lg__ix_err(r);
            MDB_dbi dbs[] = {log->ix.parts,     log->ix.epochs, log->ix.oidx,   log->ix.tidx,
                             log->ix.producers, log->ix.segs,   log->ix.txopen, log->ix.txabort};
            for (size_t i = 0; !rc && i < sizeof(dbs) / sizeof(dbs[0]); i++)
                rc = lg__ix_del_topic(txn, dbs[i], t->id);
            if (rc)
                mdb_txn_abort(txn);
            else
                rc = lg__ix_err(mdb_txn_commit(txn));
        }
        if (!rc)
            lg__ix_sync(log);
        for (int32_t i = 0; i < t->cfg.partitions; i++)
            lg__rm_part_files(log->vfs, t->parts[i].dir);
        rmdir(t->dir);
        lg__topic_remove(log, t);
        lg__topic_free(t);
        rc = 0; /* the topic is gone either way (its meta file is) */
    }
    pthread_rwlock_unlock(&log->tmu);
    pthread_mutex_unlock(&log->wmu);
    return rc;
}

int lg_topic_config_set(lg_log *log, const char *name, const lg_topic_config *cfg)
{
    if (!log || !name || !cfg || cfg->partitions < 0 || cfg->retention_ms < -1 ||
        cfg->retention_bytes < -1 ||
        (cfg->segment_bytes != 0 &&
         (cfg->segment_bytes < LG_BATCH_HEADER_LEN || cfg->segment_bytes > LG_SEGMENT_BYTES_MAX)))
        return CN_EINVAL;
    if (lg__on_writer(log))
        return CN_EBUSY;
    if (log->o.read_only)
        return CN_EPERM;
    if (atomic_load(&log->panic))
        return CN_EPANIC;
    /* wmu: the writer reads a topic's segment size during its rounds. */
    lg__wmu_lock(log);
    pthread_rwlock_wrlock(&log->tmu);
    lg_topic *t = lg__topic_find(log, name);
    int rc = t ? 0 : LG_ENOTOPIC;
    if (!rc && cfg->partitions != 0 && cfg->partitions != t->cfg.partitions)
        rc = CN_EINVAL; /* adding partitions would remap keys: not here */
    lg_topic_config old = t ? t->cfg : *cfg;
    if (!rc) {
        t->cfg.retention_ms = cfg->retention_ms;
        t->cfg.retention_bytes = cfg->retention_bytes;
        t->cfg.segment_bytes = cfg->segment_bytes;
        /* topic.meta first: it is what a rebuilt index reads back. */
        rc = lg__topic_meta_write(log, t);
    }
    MDB_txn *txn = NULL;
    if (!rc)
        rc = lg__ix_err(mdb_txn_begin(log->ix.env, NULL, 0, &txn));
    if (!rc)
        rc = lg__topic_rec_put(log, txn, t);
    if (txn) {
        if (rc)
            mdb_txn_abort(txn);
        else
            rc = lg__ix_err(mdb_txn_commit(txn));
    }
    if (!rc)
        rc = lg__ix_sync(log);
    if (rc && t) {
        t->cfg = old;
        /* best effort: the old settings back on disk too */
        if (lg__topic_meta_write(log, t) != 0)
            cn_log_error("lg",
                         "topic %s: settings change failed half-way (%s); reopen reads "
                         "topic.meta",
                         name, cn_strerror(rc));
    }
    pthread_rwlock_unlock(&log->tmu);
    pthread_mutex_unlock(&log->wmu);
    if (!rc)
        cn_log_info("lg", "topic %s: retention_ms=%lld retention_bytes=%lld segment_bytes=%llu",
                    name, (long long)cfg->retention_ms, (long long)cfg->retention_bytes,
                    (unsigned long long)cfg->segment_bytes);
    return rc;
}

int lg_topic_partitions(lg_log *log, const char *name)
{
    if (!log || !name)
        return CN_EINVAL;
    pthread_rwlock_rdlock(&log->tmu);
    lg_part *p;
    int rc = lg__topic_lookup_part(log, name, 0, &p);
    if (rc == 0)
        rc = p->tp->cfg.partitions;
    pthread_rwlock_unlock(&log->tmu);
    return rc;
}

int lg_topic_config_get(lg_log *log, const char *name, lg_topic_config *set, lg_topic_config *eff)
{
    if (!log || !name)
        return CN_EINVAL;
    pthread_rwlock_rdlock(&log->tmu);
    lg_topic *t = lg__topic_find(log, name);
    if (t) {
        if (set)
            *set = t->cfg;
        if (eff) {
            *eff = t->cfg;
            lg__topic_cfg_resolve(log, eff);
        }
    }
    pthread_rwlock_unlock(&log->tmu);
    return t ? 0 : LG_ENOTOPIC;
}

int lg_topics_each(lg_log *log, int (*fn)(void *ud, const char *name, const lg_topic_config *cfg),
                   void *ud)
{
    if (!log || !fn)
        return CN_EINVAL;
    pthread_rwlock_wrlock(&log->tmu);
    if (log->o.read_only)
        lg__topics_load_index(log);
    pthread_rwlock_unlock(&log->tmu);
    pthread_rwlock_rdlock(&log->tmu);
    int rc = 0;
    for (size_t i = 0; i < log->ntopics && !rc; i++) {
        lg_topic_config c = log->topics[i]->cfg;
        lg__topic_cfg_resolve(log, &c);
        rc = fn(ud, log->topics[i]->name, &c);
    }
    pthread_rwlock_unlock(&log->tmu);
    return 0;
}

/* ---- open / close ------------------------------------------------------- */

/* Writer mode: the topic directories are the truth.  Topics the index does
 * not know (or knows under another id) are rebuilt from their segments;
 * index entries of topics that no longer exist on disk are dropped;
 * directories without topic.meta (an interrupted delete) are swept. */
static int lg__topics_load_disk(lg_log *log)
{
    char tdir[4096];
    snprintf(tdir, sizeof(tdir), "%s/topics", log->dir);
    DIR *d = opendir(tdir);
    if (!d)
        return cn_err_from_errno(errno);
    int rc = 0;
    uint32_t max_id = 0;
    struct dirent *e;
    MDB_txn *txn = NULL;
    rc = lg__ix_err(mdb_txn_begin(log->ix.env, NULL, 0, &txn));
    while (!rc && (e = readdir(d)) != NULL) {
        if (!lg__topic_name_ok(e->d_name))
            continue;
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s/topic.meta", tdir, e->d_name);
        lg_topic tmp;
        memset(&tmp, 0, sizeof(tmp));
        int r = lg__topic_meta_read(path, &tmp);
        if (r == CN_ENOENT) {
            snprintf(path, sizeof(path), "%s/%s", tdir, e->d_name);
            cn_log_warn("lg", "removing %s: no topic.meta (interrupted topic delete)", path);
            for (int i = 0; i < 100000; i++) {
                char pd[4500];
                snprintf(pd, sizeof(pd), "%s/%d", path, i);
                struct stat st;
                if (stat(pd, &st) != 0)
                    break;
                lg__rm_part_files(log->vfs, pd);
            }
            rmdir(path);
            continue;
        }
        if (r) {
            cn_log_error("lg", "%s: unreadable topic metadata (%s); topic skipped", path,
                         cn_strerror(r));
            continue;
        }
        MDB_val k = {strlen(e->d_name), e->d_name}, v;
        int known = mdb_get(txn, log->ix.topics, &k, &v) == 0 && v.mv_size == 40 &&
                    cn_rd_be32(v.mv_data) == tmp.id;
        lg_topic *t;
        rc = lg__topic_alloc(&t, log, e->d_name, tmp.id, &tmp.cfg, tmp.created_ms);
        if (rc)
            break;
        t->deleted = !known; /* reused below as "needs a rebuild" */
        if ((rc = lg__topic_insert(log, t)) != 0) {
            lg__topic_free(t);
            break;
        }
        if (!known) {
            lg__ix_del_topic(txn, log->ix.parts, t->id);
            rc = lg__topic_rec_put(log, txn, t);
        }
        if (tmp.id > max_id)
            max_id = tmp.id;
    }
    closedir(d);
    /* Drop index entries of topics that are not on disk: collect their
     * ids first, then delete (no cursor games across deletes). */
    uint32_t gone[64];
    size_t ngone;
    do {
        ngone = 0;
        MDB_cursor *c;
        if (rc || (rc = lg__ix_err(mdb_cursor_open(txn, log->ix.topics, &c))) != 0)
            break;
        MDB_val k, v;
        int op = MDB_FIRST;
        char names[64][256];
        while (ngone < 64 && mdb_cursor_get(c, &k, &v, op) == 0) {
            op = MDB_NEXT;
            size_t n = k.mv_size < 255 ? k.mv_size : 255;
            memcpy(names[ngone], k.mv_data, n);
            names[ngone][n] = '\0';
            if (lg__topic_find(log, names[ngone]))
                continue;
            gone[ngone++] = v.mv_size == 40 ? cn_rd_be32(v.mv_data) : 0;
        }
        mdb_cursor_close(c);
        for (size_t g = 0; !rc && g < ngone; g++) {
            MDB_dbi dbs[] = {log->ix.parts,     log->ix.epochs, log->ix.oidx,   log->ix.tidx,
                             log->ix.producers, log->ix.segs,   log->ix.txopen, log->ix.txabort};
            for (size_t i = 0; !rc && gone[g] && i < sizeof(dbs) / sizeof(dbs[0]); i++)
                rc = lg__ix_del_topic(txn, dbs[i], gone[g]);
            k.mv_size = strlen(names[g]);
            k.mv_data = names[g];
            if (!rc)
                rc = lg__ix_err(mdb_del(txn, log->ix.topics, &k, NULL));
        }
    } while (!rc && ngone == 64);
    uint64_t next = 1;
    if (!rc && lg__ix_get_u64(txn, log->ix.meta, "next_topic_id", &next) != 0)
        next = 1;
    if (!rc && next <= max_id)
        rc = lg__ix_put_u64(txn, log->ix.meta, "next_topic_id", (uint64_t)max_id + 1);
    if (rc)
        mdb_txn_abort(txn);
    else
        rc = lg__ix_err(mdb_txn_commit(txn));
    return rc;
}

static int lg__lock_dir(lg_log *log)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/LOCK", log->dir);
    log->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (log->lock_fd < 0)
        return cn_err_from_errno(errno);
    if (flock(log->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return errno == EWOULDBLOCK ? CN_EBUSY : cn_err_from_errno(errno);
    return 0;
}

static void lg__free(lg_log *log)
{
    for (size_t i = 0; i < log->ntopics; i++)
        lg__topic_free(log->topics[i]);
    cn_free(log->topics);
    cn_free(log->dirty);
    lg__state_close(log);
    lg__ix_close(log);
    if (log->lock_fd >= 0)
        close(log->lock_fd); /* releases the flock */
    pthread_rwlock_destroy(&log->tmu);
    pthread_mutex_destroy(&log->wmu);
    pthread_mutex_destroy(&log->lmu);
    pthread_mutex_destroy(&log->qmu);
    pthread_cond_destroy(&log->qcond);
    pthread_cond_destroy(&log->spacecond);
    cn_free(log->dir);
    cn_free(log);
}

int lg_open(lg_log **out, const lg_opts *o)
{
    if (!out)
        return CN_EINVAL;
    *out = NULL;
    if (!o || !o->dir || !*o->dir || o->segment_bytes < LG_BATCH_HEADER_LEN ||
        o->segment_bytes > LG_SEGMENT_BYTES_MAX || o->max_batch_bytes < LG_BATCH_HEADER_LEN ||
        o->max_batch_bytes > (1u << 30) || o->durability < LG_DUR_FSYNC ||
        o->durability > LG_DUR_NONE || (o->durability == LG_DUR_INTERVAL && o->interval_ms <= 0) ||
        o->producer_id_node < -1)
        return CN_EINVAL;
    lg_log *log = cn_calloc(1, sizeof(*log));
    if (!log)
        return CN_ENOMEM;
    log->o = *o;
    if (log->o.max_queued_bytes == 0) /* options made without lg_opts_init */
        log->o.max_queued_bytes = 256ull << 20;
    log->lock_fd = -1;
    log->vfs = o->vfs ? o->vfs : lg_vfs_posix();
    log->dir = cn_strdup(o->dir);
    atomic_init(&log->panic, 0);
    pthread_rwlock_init(&log->tmu, NULL);
    pthread_mutex_init(&log->wmu, NULL);
    pthread_mutex_init(&log->lmu, NULL);
    pthread_mutex_init(&log->qmu, NULL);
    pthread_cond_init(&log->qcond, NULL);
    pthread_cond_init(&log->spacecond, NULL);
    if (!log->dir) {
        lg__free(log);
        return CN_ENOMEM;
    }
    int rc = 0, fresh = 0;
    if (!o->read_only) {
        char tdir[4200];
        snprintf(tdir, sizeof(tdir), "%s/topics", log->dir);
        rc = lg__mkdirs(tdir);
        if (!rc)
            rc = lg__lock_dir(log);
    }
    if (!rc)
        rc = lg__ix_open(log, &fresh);
    if (!rc)
        rc = lg__state_open(log);
    if (!rc && o->read_only)
        rc = lg__topics_load_index(log);
    if (!rc && !o->read_only) {
        rc = lg__topics_load_disk(log);
        for (size_t i = 0; !rc && i < log->ntopics; i++) {
            lg_topic *t = log->topics[i];
            int rebuild = fresh || t->deleted;
            t->deleted = 0;
            for (int32_t p = 0; !rc && p < t->cfg.partitions; p++)
                rc = lg__recover_part(log, &t->parts[p], rebuild);
        }
        if (!rc)
            rc = lg__producer_ids_fixup(log);
        if (!rc)
            rc = lg__ix_sync(log);
        /* Truncates finished by recovery are recorded durably now. */
        for (size_t i = 0; !rc && i < log->ntopics; i++)
            for (int32_t p = 0; !rc && p < log->topics[i]->cfg.partitions; p++)
                if (log->topics[i]->parts[p].trunc_redone) {
                    rc = lg__trunc_intent_clear(log, &log->topics[i]->parts[p]);
                    log->topics[i]->parts[p].trunc_redone = 0;
                }
        log->last_checkpoint_ms = lg__now(log);
        if (!rc)
            rc = lg__writer_start(log);
    }
    if (rc) {
        lg__free(log);
        return rc;
    }
    *out = log;
    return 0;
}

void lg_close(lg_log *log)
{
    if (!log)
        return;
    if (!log->o.read_only)
        lg__writer_stop(log); /* drains the queues and checkpoints */
    lg__free(log);
}
