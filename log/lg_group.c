/* SPDX-License-Identifier: MIT */
/*
 * lg_group.c — state that the segments cannot give back: consumer-group
 * committed offsets and producer-id allocation, kept in the DATA/state LMDB
 * environment, whose commits are synced before returning and which is
 * never deleted or rebuilt (lg_index.c).  A lost or rebuilt index costs
 * neither.  Producer ids also restart above the largest id found in the
 * segments (lg__producer_ids_fixup), so a lost state directory cannot hand
 * out an id that is still in the log.  A cluster node allocates from its
 * own range (node id << 31 | k, lg_opts.producer_id_node), so ids are
 * unique across the cluster without a controller: node ids are unique in
 * the membership, and each node's counter is durable before an id leaves.
 * lg_group_offsets_commit stores any number of offsets with one
 * transaction, so one sync (an OffsetCommit of many partitions, or several
 * requests grouped, pay one sync).  A clustered node writes the table only
 * through lg_group_offsets_apply: the committed records of a replicated
 * offsets partition, with the offset the applier reached, in one
 * transaction.
 * Threads: any; each call is one LMDB transaction.
 */
#include "lg_int.h"

#include "cn_bytes.h"
#include "cn_err.h"

#include <stdio.h>
#include <string.h>

#define LG__GROUP_MAX 255
#define LG__GROUP_MD_MAX 4096
#define LG__FIRST_PRODUCER_ID 1000
#define LG__NODE_PID_SHIFT 31 /* a cluster node's producer ids: node id << 31 | k */

/* group NUL topic NUL partition(u32 BE) */
static int lg__group_key(unsigned char *k, size_t cap, const char *group, const char *topic,
                         int32_t partition, size_t *kn)
{
    size_t gl = strlen(group), tl = strlen(topic);
    if (gl == 0 || gl > LG__GROUP_MAX || tl == 0 || tl > 249 || partition < 0 || gl + tl + 6 > cap)
        return CN_EINVAL;
    memcpy(k, group, gl + 1);
    memcpy(k + gl + 1, topic, tl + 1);
    cn_wr_be32(k + gl + tl + 2, (uint32_t)partition);
    *kn = gl + tl + 6;
    return 0;
}

int lg_group_offset_commit(lg_log *log, const char *group, const char *topic, int32_t partition,
                           int64_t offset, const char *metadata)
{
    if (!log || !group || !topic || offset < -1)
        return CN_EINVAL;
    if (log->o.read_only)
        return CN_EPERM;
    unsigned char kb[LG__GROUP_MAX + 256 + 8];
    size_t kn;
    int rc = lg__group_key(kb, sizeof(kb), group, topic, partition, &kn);
    if (rc)
        return rc;
    size_t ml = metadata ? strlen(metadata) : 0;
    if (ml > LG__GROUP_MD_MAX)
        return CN_ETOOBIG;
    unsigned char vb[8 + LG__GROUP_MD_MAX];
    cn_wr_be64(vb, (uint64_t)offset);
    if (ml)
        memcpy(vb + 8, metadata, ml);
    MDB_txn *txn;
    rc = lg__ix_err(mdb_txn_begin(log->ix.senv, NULL, 0, &txn));
    if (rc)
        return rc;
    MDB_val k = {kn, kb}, d = {8 + ml, vb};
    rc = lg__ix_err(mdb_put(txn, log->ix.sgroups, &k, &d, 0));
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    return lg__ix_err(mdb_txn_commit(txn)); /* synced: DATA/state is not MDB_NOSYNC */
}

/* Encode one entry's key and value; 0 or its validation error. */
static int lg__group_entry(const lg_group_offset *e, unsigned char *kb, size_t kcap, size_t *kn,
                           unsigned char *vb, size_t *vn)
{
    if (!e->group || !e->topic || e->offset < -1)
        return CN_EINVAL;
    int rc = lg__group_key(kb, kcap, e->group, e->topic, e->partition, kn);
    if (rc)
        return rc;
    size_t ml = e->metadata ? strlen(e->metadata) : 0;
    if (ml > LG__GROUP_MD_MAX)
        return CN_ETOOBIG;
    cn_wr_be64(vb, (uint64_t)e->offset);
    if (ml)
        memcpy(vb + 8, e->metadata, ml);
    *vn = 8 + ml;
    return 0;
}

int lg_group_offsets_commit(lg_log *log, lg_group_offset *v, size_t n)
{
    if (!log || (!v && n))
        return CN_EINVAL;
    int rc = log->o.read_only ? CN_EPERM : 0;
    MDB_txn *txn = NULL;
    if (!rc && !log->ix.senv)
        rc = CN_EPERM;
    if (!rc)
        rc = lg__ix_err(mdb_txn_begin(log->ix.senv, NULL, 0, &txn));
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char kb[LG__GROUP_MAX + 256 + 8], vb[8 + LG__GROUP_MD_MAX];
        size_t kn, vn;
        v[i].err = lg__group_entry(&v[i], kb, sizeof(kb), &kn, vb, &vn);
        if (v[i].err)
            continue;
        MDB_val k = {kn, kb}, d = {vn, vb};
        rc = lg__ix_err(mdb_put(txn, log->ix.sgroups, &k, &d, 0));
    }
    if (rc && txn)
        mdb_txn_abort(txn);
    else if (txn)
        rc = lg__ix_err(mdb_txn_commit(txn)); /* synced: DATA/state is not MDB_NOSYNC */
    for (size_t i = 0; i < n && rc; i++)
        if (!v[i].err)
            v[i].err = rc;
    return rc;
}

/* "offsets.applied.<part>": where the applier of a replicated offsets
 * partition stopped (docs/replication.md, "Consumer-group offsets"). */
static void lg__applied_key(char *k, size_t cap, int32_t part)
{
    snprintf(k, cap, "offsets.applied.%d", (int)part);
}

int lg_group_offsets_apply(lg_log *log, lg_group_offset *v, size_t n, int32_t part, int64_t applied)
{
    if (!log || (!v && n) || part < 0 || applied < 0)
        return CN_EINVAL;
    if (log->o.read_only || !log->ix.senv)
        return CN_EPERM;
    MDB_txn *txn;
    int rc = lg__ix_err(mdb_txn_begin(log->ix.senv, NULL, 0, &txn));
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char kb[LG__GROUP_MAX + 256 + 8], vb[8 + LG__GROUP_MD_MAX];
        size_t kn, vn;
        v[i].err = lg__group_entry(&v[i], kb, sizeof(kb), &kn, vb, &vn);
        if (v[i].err)
            continue;
        MDB_val k = {kn, kb}, d = {vn, vb};
        rc = lg__ix_err(mdb_put(txn, log->ix.sgroups, &k, &d, 0));
    }
    char key[48];
    lg__applied_key(key, sizeof(key), part);
    if (!rc)
        rc = lg__ix_put_u64(txn, log->ix.smeta, key, (uint64_t)applied);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    return lg__ix_err(mdb_txn_commit(txn)); /* synced: DATA/state is not MDB_NOSYNC */
}

int lg_group_offsets_applied(lg_log *log, int32_t part, int64_t *applied)
{
    if (!log || part < 0 || !applied)
        return CN_EINVAL;
    *applied = 0;
    if (!log->ix.senv)
        return 0;
    MDB_txn *txn;
    int rc = lg__ix_err(mdb_txn_begin(log->ix.senv, NULL, MDB_RDONLY, &txn));
    if (rc)
        return rc;
    char key[48];
    lg__applied_key(key, sizeof(key), part);
    uint64_t v = 0;
    rc = lg__ix_get_u64(txn, log->ix.smeta, key, &v);
    mdb_txn_abort(txn);
    if (rc == CN_ENOENT)
        return 0;
    if (!rc && v > (uint64_t)INT64_MAX)
        rc = LG_EINDEX;
    if (!rc)
        *applied = (int64_t)v;
    return rc;
}

int lg_group_offset_fetch(lg_log *log, const char *group, const char *topic, int32_t partition,
                          int64_t *offset, char *md, size_t mdcap)
{
    if (!log || !group || !topic || !offset)
        return CN_EINVAL;
    unsigned char kb[LG__GROUP_MAX + 256 + 8];
    size_t kn;
    int rc = lg__group_key(kb, sizeof(kb), group, topic, partition, &kn);
    if (rc)
        return rc;
    if (!log->ix.senv)
        return CN_ENOENT; /* read-only opener, nothing ever committed */
    MDB_txn *txn;
    rc = lg__ix_err(mdb_txn_begin(log->ix.senv, NULL, MDB_RDONLY, &txn));
    if (rc)
        return rc;
    MDB_val k = {kn, kb}, d;
    rc = lg__ix_err(mdb_get(txn, log->ix.sgroups, &k, &d));
    if (!rc && d.mv_size < 8)
        rc = LG_EINDEX;
    if (!rc) {
        *offset = (int64_t)cn_rd_be64(d.mv_data);
        if (md && mdcap) {
            size_t n = d.mv_size - 8 < mdcap - 1 ? d.mv_size - 8 : mdcap - 1;
            memcpy(md, (const char *)d.mv_data + 8, n);
            md[n] = '\0';
        }
    }
    mdb_txn_abort(txn);
    return rc;
}

int lg_group_offsets_each(lg_log *log,
                          int (*fn)(void *ud, const char *group, const char *topic,
                                    int32_t partition, int64_t offset),
                          void *ud)
{
    if (!log || !fn)
        return CN_EINVAL;
    if (!log->ix.senv)
        return 0; /* read-only opener, nothing ever committed */
    MDB_txn *txn;
    int rc = lg__ix_err(mdb_txn_begin(log->ix.senv, NULL, MDB_RDONLY, &txn));
    if (rc)
        return rc;
    MDB_cursor *c = NULL;
    rc = lg__ix_err(mdb_cursor_open(txn, log->ix.sgroups, &c));
    MDB_val k, d;
    int op = MDB_FIRST;
    while (!rc && mdb_cursor_get(c, &k, &d, op) == 0) {
        op = MDB_NEXT;
        /* Decode defensively: the index is a file on disk. */
        const unsigned char *p = k.mv_data;
        size_t n = k.mv_size;
        const unsigned char *z1 = memchr(p, 0, n);
        if (!z1 || d.mv_size < 8)
            continue;
        size_t rest = n - (size_t)(z1 + 1 - p);
        const unsigned char *z2 = memchr(z1 + 1, 0, rest);
        if (!z2 || (size_t)(p + n - (z2 + 1)) != 4)
            continue;
        char group[LG__GROUP_MAX + 1], topic[256];
        size_t gl = (size_t)(z1 - p), tl = (size_t)(z2 - z1 - 1);
        if (gl > LG__GROUP_MAX || tl > 255)
            continue;
        memcpy(group, p, gl + 1);
        memcpy(topic, z1 + 1, tl + 1);
        if (fn(ud, group, topic, (int32_t)cn_rd_be32(z2 + 1), (int64_t)cn_rd_be64(d.mv_data)))
            break;
    }
    if (c && !rc)
        mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return rc;
}

/* The ids this log may hand out: [*lo, *hi).  A cluster node's range
 * carries its node id in the bits from 2^31 up (node ids are below 2^31,
 * so every id stays below LG__PRODUCER_ID_LIMIT = 2^62). */
static void lg__pid_range(const lg_log *log, uint64_t *lo, uint64_t *hi)
{
    if (log->o.producer_id_node < 0) {
        *lo = LG__FIRST_PRODUCER_ID;
        *hi = (uint64_t)LG__PRODUCER_ID_LIMIT;
        return;
    }
    uint64_t base = (uint64_t)log->o.producer_id_node << LG__NODE_PID_SHIFT;
    *lo = base + LG__FIRST_PRODUCER_ID;
    *hi = base + (UINT64_C(1) << LG__NODE_PID_SHIFT);
}

int lg_producer_id_alloc(lg_log *log, int64_t *pid)
{
    if (!log || !pid)
        return CN_EINVAL;
    if (log->o.read_only)
        return CN_EPERM;
    uint64_t lo, hi;
    lg__pid_range(log, &lo, &hi);
    MDB_txn *txn;
    int rc = lg__ix_err(mdb_txn_begin(log->ix.senv, NULL, 0, &txn));
    if (rc)
        return rc;
    uint64_t next;
    rc = lg__ix_get_u64(txn, log->ix.smeta, "next_producer_id", &next);
    if (rc == CN_ENOENT)
        next = lo, rc = 0;
    if (!rc && next < lo)
        next = lo; /* cannot happen after open's fixup; never leave the range */
    if (!rc && next + 1 >= hi)
        rc = CN_ENOSPC;
    if (!rc)
        rc = lg__ix_put_u64(txn, log->ix.smeta, "next_producer_id", next + 1);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = lg__ix_err(mdb_txn_commit(txn)); /* synced */
    if (!rc) {
        *pid = (int64_t)next;
        atomic_store(&log->next_pid, (int64_t)next + 1);
    }
    return rc;
}

int lg__producer_ids_fixup(lg_log *log)
{
    uint64_t lo, hi;
    lg__pid_range(log, &lo, &hi);
    /* The largest id of this log's range in the segments (a node's range
     * starts at node << 31; ids below 1000 in it are never handed out but
     * are counted all the same). */
    uint64_t floor = log->o.producer_id_node < 0 ? 0 : lo - LG__FIRST_PRODUCER_ID;
    int64_t max = -1;
    for (size_t i = 0; i < log->ntopics; i++) {
        lg_topic *t = log->topics[i];
        for (int32_t j = 0; j < t->cfg.partitions; j++) {
            lg_ptable *pt = &t->parts[j].prod;
            for (size_t s = 0; s < pt->cap; s++) {
                int64_t id = pt->slots[s].pid;
                if (id > max && id >= 0 && (uint64_t)id >= floor && (uint64_t)id < hi)
                    max = id;
            }
        }
    }
    MDB_txn *txn;
    int rc = lg__ix_err(mdb_txn_begin(log->ix.senv, NULL, 0, &txn));
    if (rc)
        return rc;
    uint64_t next = lo;
    int g = lg__ix_get_u64(txn, log->ix.smeta, "next_producer_id", &next);
    int fix = 0;
    if (g == CN_ENOENT)
        next = lo;
    else if (next < lo || next > hi) /* hi: the range is used up */
        next = lo, fix = 1;          /* another range (the directory changed node id or mode), or an
                                        older build overflowed it */
    if (max >= 0 && (uint64_t)max >= next)
        next = (uint64_t)max + 1, fix = 1;
    if (fix)
        rc = lg__ix_put_u64(txn, log->ix.smeta, "next_producer_id", next);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    atomic_store(&log->next_pid, (int64_t)next);
    return lg__ix_err(mdb_txn_commit(txn));
}
