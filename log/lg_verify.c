/* SPDX-License-Identifier: MIT */
/*
 * lg_verify.c — lg_verify: read every committed batch of every partition
 * and check its length, magic, CRC-32C and offset continuity (within and
 * across segments), then check every sparse offset-index entry points at a
 * batch with that base offset, position and length, and that the
 * partition's recorded end matches the data.  Each problem is reported
 * with file and byte position.  Works in read-only mode too (the `cairn
 * log verify` CLI), bounded by what the index has committed; it never
 * changes anything.  Threads: any; it holds no lock while reading files.
 */
#include "lg_int.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_err.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef struct lg__vseg {
    int64_t base;
    uint64_t bytes;
} lg__vseg;

typedef struct lg__vix {
    int64_t base;
    lg_oidxval v;
} lg__vix;

typedef struct lg__vctx {
    void (*fn)(void *ud, const char *file, uint64_t pos, const char *what);
    void *ud;
    int problems;
} lg__vctx;

static void lg__vreport(lg__vctx *c, const char *file, uint64_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#include <stdarg.h>
static void lg__vreport(lg__vctx *c, const char *file, uint64_t pos, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    c->problems++;
    if (c->fn)
        c->fn(c->ud, file, pos, what);
}

/* Snapshot the partition's segment and index records (short txn). */
static int lg__vsnap(lg_log *log, uint32_t tid, int32_t part, lg_partrec *pr, lg__vseg **segs,
                     size_t *nsegs, lg__vix **ix, size_t *nix)
{
    *segs = NULL;
    *ix = NULL;
    *nsegs = *nix = 0;
    MDB_txn *txn;
    int rc = lg__ix_err(mdb_txn_begin(log->ix.env, NULL, MDB_RDONLY, &txn));
    if (rc)
        return rc;
    rc = lg__ix_part_get(log, txn, tid, part, pr);
    size_t cs = 0, ci = 0;
    MDB_dbi dbs[2] = {log->ix.segs, log->ix.oidx};
    for (int which = 0; which < 2 && !rc; which++) {
        MDB_cursor *c;
        rc = lg__ix_err(mdb_cursor_open(txn, dbs[which], &c));
        if (rc)
            break;
        unsigned char pre[8];
        lg__ix_key_tp(pre, tid, part);
        MDB_val k = {8, pre}, d;
        int m = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
        while (!rc && m == 0 && k.mv_size == 16 && memcmp(k.mv_data, pre, 8) == 0) {
            int64_t base = (int64_t)cn_rd_be64((const unsigned char *)k.mv_data + 8);
            const unsigned char *p = d.mv_data;
            if (which == 0 && d.mv_size == 40) {
                if (*nsegs == cs) {
                    size_t nc = cs ? cs * 2 : 16;
                    lg__vseg *n = cn_realloc(*segs, nc * sizeof(*n));
                    if (!n) {
                        rc = CN_ENOMEM;
                        break;
                    }
                    *segs = n, cs = nc;
                }
                (*segs)[(*nsegs)++] = (lg__vseg){base, cn_rd_be64(p)};
            } else if (which == 1 && d.mv_size == 28) {
                if (*nix == ci) {
                    size_t nc = ci ? ci * 2 : 64;
                    lg__vix *n = cn_realloc(*ix, nc * sizeof(*n));
                    if (!n) {
                        rc = CN_ENOMEM;
                        break;
                    }
                    *ix = n, ci = nc;
                }
                lg__vix *e = &(*ix)[(*nix)++];
                e->base = base;
                e->v.seg_base = (int64_t)cn_rd_be64(p);
                e->v.pos = cn_rd_be32(p + 8);
                e->v.len = cn_rd_be32(p + 12);
                e->v.lod = (int32_t)cn_rd_be32(p + 16);
                e->v.max_ts = (int64_t)cn_rd_be64(p + 20);
            }
            m = mdb_cursor_get(c, &k, &d, MDB_NEXT);
        }
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return rc;
}

/* Check every batch of one segment; returns the next expected offset. */
static int64_t lg__vseg_check(lg__vctx *c, lg_seg *s, uint64_t bytes, int64_t expect, cn_buf *buf)
{
    uint64_t pos = 0;
    while (pos < bytes) {
        unsigned char hb[LG_BATCH_LOG_OVERHEAD];
        size_t total;
        if (lg__seg_pread(s, hb, sizeof(hb), pos) != 0) {
            lg__vreport(c, s->path, pos, "file shorter than the index records (%" PRIu64 " bytes)",
                        bytes);
            return -1;
        }
        if (lg_batch_size(hb, sizeof(hb), (size_t)(bytes - pos), &total) != 0) {
            lg__vreport(c, s->path, pos, "bad batch length");
            return -1;
        }
        cn_buf_reset(buf);
        if (cn_buf_reserve(buf, total) != 0 || lg__seg_pread(s, buf->data, total, pos) != 0) {
            lg__vreport(c, s->path, pos, "unreadable batch of %zu bytes", total);
            return -1;
        }
        lg_batch_hdr h;
        int rc = lg_batch_validate(buf->data, total, &h);
        if (rc) {
            lg__vreport(c, s->path, pos, "%s", cn_strerror(rc));
            return -1;
        }
        if (h.base_offset != expect) {
            lg__vreport(c, s->path, pos, "batch base offset %" PRId64 ", expected %" PRId64,
                        h.base_offset, expect);
            return -1;
        }
        expect = h.base_offset + h.last_offset_delta + 1;
        pos += total;
    }
    return expect;
}

static void lg__vix_check(lg__vctx *c, lg_log *log, lg_part *p, const lg__vix *e,
                          const lg__vseg *segs, size_t nsegs)
{
    char label[512];
    snprintf(label, sizeof(label), "%s (offset index)", p->dir);
    size_t i = 0;
    while (i < nsegs && segs[i].base != e->v.seg_base)
        i++;
    if (i == nsegs) {
        lg__vreport(c, label, e->v.pos,
                    "entry for offset %" PRId64 " names missing segment %" PRId64, e->base,
                    e->v.seg_base);
        return;
    }
    lg_seg *s = lg__part_seg_get(log, p, e->v.seg_base);
    if (!s) {
        lg__vreport(c, label, e->v.pos, "segment %" PRId64 " cannot be opened", e->v.seg_base);
        return;
    }
    unsigned char hb[LG_BATCH_HEADER_LEN];
    lg_batch_hdr h;
    size_t total;
    if ((uint64_t)e->v.pos + LG_BATCH_HEADER_LEN > segs[i].bytes ||
        lg__seg_pread(s, hb, sizeof(hb), e->v.pos) != 0 ||
        lg_batch_size(hb, sizeof(hb), SIZE_MAX, &total) != 0 ||
        lg_batch_parse_hdr(hb, sizeof(hb), &h) != 0)
        lg__vreport(c, s->path, e->v.pos, "offset index entry for %" PRId64 " points at no batch",
                    e->base);
    else if (h.base_offset != e->base || total != e->v.len || h.last_offset_delta != e->v.lod)
        lg__vreport(c, s->path, e->v.pos,
                    "offset index entry for %" PRId64 " points at batch %" PRId64 " (%zu bytes)",
                    e->base, h.base_offset, total);
    lg__seg_unref(s);
}

static int lg__verify_part(lg__vctx *c, lg_log *log, lg_part *p)
{
    lg_partrec pr;
    lg__vseg *segs;
    lg__vix *ix;
    size_t nsegs, nix;
    int rc = lg__vsnap(log, p->tp->id, p->idx, &pr, &segs, &nsegs, &ix, &nix);
    if (rc) {
        cn_free(segs);
        cn_free(ix);
        return rc;
    }
    cn_buf buf = CN_BUF_INIT;
    int64_t expect = pr.log_start;
    for (size_t i = 0; i < nsegs && expect >= 0; i++) {
        lg_seg *s = lg__part_seg_get(log, p, segs[i].base);
        if (!s) {
            char label[512];
            snprintf(label, sizeof(label), "%s/%020" PRId64 ".log", p->dir, segs[i].base);
            lg__vreport(c, label, 0, "segment file missing");
            expect = -1;
            break;
        }
        if (segs[i].base != expect && !(i == 0 && segs[i].base <= expect))
            lg__vreport(c, s->path, 0, "segment starts at %" PRId64 ", expected %" PRId64,
                        segs[i].base, expect);
        expect = lg__vseg_check(c, s, segs[i].bytes, segs[i].base, &buf);
        lg__seg_unref(s);
    }
    if (expect >= 0 && expect != pr.log_end) {
        char label[512];
        snprintf(label, sizeof(label), "%s (partition record)", p->dir);
        lg__vreport(c, label, 0, "log end %" PRId64 " but the data ends at %" PRId64, pr.log_end,
                    expect);
    }
    for (size_t i = 0; i < nix; i++)
        lg__vix_check(c, log, p, &ix[i], segs, nsegs);
    cn_buf_free(&buf);
    cn_free(segs);
    cn_free(ix);
    return 0;
}

int lg_verify(lg_log *log, void (*fn)(void *ud, const char *file, uint64_t pos, const char *what),
              void *ud)
{
    if (!log)
        return CN_EINVAL;
    lg__vctx c = {fn, ud, 0};
    /* Partitions are listed under the topic lock, then checked one at a
     * time holding it only as a reader (topic deletes wait). */
    pthread_rwlock_rdlock(&log->tmu);
    int rc = 0;
    for (size_t i = 0; i < log->ntopics && !rc; i++) {
        lg_topic *t = log->topics[i];
        for (int32_t j = 0; j < t->cfg.partitions && !rc; j++)
            rc = lg__verify_part(&c, log, &t->parts[j]);
    }
    pthread_rwlock_unlock(&log->tmu);
    return rc ? rc : c.problems;
}
