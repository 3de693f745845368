/* SPDX-License-Identifier: MIT */
/*
 * test_lg_fault.c — fault injection through a test VFS and damage to files
 * on disk: ENOSPC (appends fail cleanly, nothing partial stays, appends
 * resume when space returns), EIO on write, short write, fdatasync failure
 * (sticky CN_EPANIC, reopen recovers), garbled tail, torn tail, a valid but
 * unindexed tail (kept, indexed), a garbled middle segment (partition failed
 * with file and byte position while other partitions serve; found by
 * recovery, by the iterator and by lg_verify), a deleted index directory
 * rebuilt identically, an index file overwritten with garbage, and an index
 * whose records lie about the files (rebuilt to the same observable state).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "lg.h"
#include "lg_testutil.h"

typedef struct fx {
    char *dir;
    lg_opts o;
    lg_log *log;
    lgt_vfs v;
} fx;

static int setup(void **st)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = cn_test_tmpdir("lgfault");
    lgt_vfs_init(&f->v);
    lg_opts_init(&f->o);
    f->o.dir = f->dir;
    f->o.vfs = &f->v.vfs;
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    fx *f = *st;
    lg_close(f->log);
    cn_test_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void fx_open(fx *f)
{
    assert_int_equal(lg_open(&f->log, &f->o), 0);
}

static void fx_close(fx *f)
{
    lg_close(f->log);
    f->log = NULL;
}

static void mk_topic(fx *f, const char *name, int parts, uint64_t seg)
{
    lg_topic_config c = {parts, 0, 0, seg};
    assert_int_equal(lg_topic_create(f->log, name, &c), 0);
}

static int64_t append_n(fx *f, const char *t, int p, int n, uint32_t seed)
{
    cn_buf b = CN_BUF_INIT;
    int64_t last = -1;
    for (int i = 0; i < n; i++) {
        cn_buf_reset(&b);
        lgt_batch(&b, seed + (uint32_t)i, 5, 120, 1000 + i, -1, -1, -1);
        lg_append_result r;
        assert_int_equal(lg_append(f->log, t, p, b.data, b.len, &r), 0);
        last = r.base_offset;
    }
    cn_buf_free(&b);
    return last;
}

static int64_t end_of(fx *f, const char *t, int p)
{
    lg_partition_info info;
    assert_int_equal(lg_partition_info_get(f->log, t, p, &info), 0);
    return info.log_end_offset;
}

/* Every batch readable and valid, reading the whole partition. */
static void check_readable(fx *f, const char *t, int p)
{
    lg_iter *it;
    assert_int_equal(lg_iter_open(&it, f->log, t, p, 0), 0);
    lg_record r;
    int64_t n = 0;
    int rc;
    while ((rc = lg_iter_next(it, &r)) == 0)
        n++;
    assert_int_equal(rc, CN_DONE);
    lg_iter_close(it);
    lg_partition_info info;
    assert_int_equal(lg_partition_info_get(f->log, t, p, &info), 0);
    assert_true(n == info.log_end_offset - info.log_start_offset);
}

static void write_write_err(fx *f, int err, int count, int expect)
{
    fx_open(f);
    mk_topic(f, "t", 1, 0);
    append_n(f, "t", 0, 10, 1);
    const char *seg = lgt_seg_path(f->dir, "t", 0, 0);
    long long size0 = lgt_file_size(seg);
    int64_t end0 = end_of(f, "t", 0);
    atomic_store(&f->v.pwrite_fail_count, count);
    atomic_store(&f->v.pwrite_errno, err);
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 77, 5, 120, 5000, -1, -1, -1);
    for (int i = 0; i < 3; i++) {
        lg_append_result r;
        int rc = lg_append(f->log, "t", 0, b.data, b.len, &r);
        if (count > 0 && i >= count)
            break;
        assert_int_equal(rc, expect);
        assert_true(r.base_offset == -1);
        /* the partial write was cut away; nothing was published */
        assert_int_equal(lgt_file_size(seg), size0);
        assert_true(end_of(f, "t", 0) == end0);
    }
    /* space returns: not sticky, same offsets as if nothing happened */
    atomic_store(&f->v.pwrite_errno, 0);
    cn_buf_reset(&b);
    lgt_batch(&b, 78, 5, 120, 5000, -1, -1, -1);
    lg_append_result r;
    assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, &r), 0);
    assert_true(r.base_offset == end0 || (count > 0 && r.base_offset > end0));
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
    check_readable(f, "t", 0);
    fx_close(f);
    fx_open(f);
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
    check_readable(f, "t", 0);
    cn_buf_free(&b);
}

static void test_enospc(void **st)
{
    write_write_err(*st, ENOSPC, -1, CN_ENOSPC);
}

static void test_eio_once(void **st)
{
    write_write_err(*st, EIO, 1, CN_EIO);
}

static void test_short_write(void **st)
{
    fx *f = *st;
    fx_open(f);
    mk_topic(f, "t", 1, 0);
    append_n(f, "t", 0, 3, 1);
    const char *seg = lgt_seg_path(f->dir, "t", 0, 0);
    long long size0 = lgt_file_size(seg);
    atomic_store(&f->v.short_write, 1);
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 9, 5, 120, 5000, -1, -1, -1);
    assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), CN_EIO);
    assert_int_equal(lgt_file_size(seg), size0);
    lg_append_result r;
    assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, &r), 0);
    assert_true(r.base_offset == 15);
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
    cn_buf_free(&b);
}

static void test_fsync_failure_sticky(void **st)
{
    fx *f = *st;
    fx_open(f);
    mk_topic(f, "t", 1, 0);
    append_n(f, "t", 0, 4, 1);
    atomic_store(&f->v.fsync_fail, 1);
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 9, 5, 120, 5000, -1, -1, -1);
    assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), CN_EPANIC);
    atomic_store(&f->v.fsync_fail, 0);
    /* sticky: the disk said no once; we do not retry and carry on (I5) */
    assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), CN_EPANIC);
    assert_int_equal(lg_retention_run(f->log), CN_EPANIC);
    /* reads of what was acknowledged still work */
    check_readable(f, "t", 0);
    fx_close(f);
    fx_open(f);
    /* the unacknowledged batch may or may not have survived; the four
     * acknowledged ones did, and appends work again */
    int64_t end = end_of(f, "t", 0);
    assert_true(end == 20 || end == 25);
    lg_append_result r;
    assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, &r), 0);
    assert_true(r.base_offset == end);
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
    cn_buf_free(&b);
}

static void append_raw(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static void test_garbled_and_torn_tail(void **st)
{
    fx *f = *st;
    fx_open(f);
    mk_topic(f, "t", 1, 0);
    append_n(f, "t", 0, 8, 1);
    fx_close(f);
    const char *seg = lgt_seg_path(f->dir, "t", 0, 0);
    long long size0 = lgt_file_size(seg);
    /* garbage */
    unsigned char junk[300];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)(i * 7 + 3);
    append_raw(seg, junk, sizeof(junk));
    fx_open(f);
    assert_int_equal(lgt_file_size(seg), size0);
    assert_true(end_of(f, "t", 0) == 40);
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
    fx_close(f);
    /* torn: the first part of the next valid batch */
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 50, 5, 120, 9000, -1, -1, -1);
    lg_batch_stamp(b.data, 40, 0);
    append_raw(seg, b.data, b.len / 2);
    fx_open(f);
    assert_int_equal(lgt_file_size(seg), size0);
    assert_true(end_of(f, "t", 0) == 40);
    fx_close(f);
    /* a whole valid batch with the right offset past the index: kept */
    append_raw(seg, b.data, b.len);
    fx_open(f);
    assert_true(end_of(f, "t", 0) == 45);
    assert_int_equal(lgt_file_size(seg), size0 + (long long)b.len);
    lg_read_result r;
    assert_int_equal(lg_read(f->log, "t", 0, 42, 1, &r), 0);
    assert_true(r.first_offset == 40 && r.len == b.len);
    lg_read_release(f->log, &r);
    /* ...but one with a wrong offset is not */
    fx_close(f);
    lg_batch_stamp(b.data, 1234, 0);
    append_raw(seg, b.data, b.len);
    fx_open(f);
    assert_true(end_of(f, "t", 0) == 45);
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
    cn_buf_free(&b);
}

/* Path of the segment file with the largest base. */
static void last_segment(fx *f, const char *t, int p, char *out, size_t cap)
{
    char d[4096], best[256] = "";
    snprintf(d, sizeof(d), "%s/topics/%s/%d", f->dir, t, p);
    DIR *dd = opendir(d);
    assert_non_null(dd);
    struct dirent *e;
    while ((e = readdir(dd)) != NULL)
        if (strstr(e->d_name, ".log") && strcmp(e->d_name, best) > 0)
            memcpy(best, e->d_name, strlen(e->d_name) + 1);
    closedir(dd);
    snprintf(out, cap, "%s/%s", d, best);
}

/* A torn tail in an earlier segment whose later files hold nothing valid
 * (the roll's new file was created, then power was lost): cut and removed. */
static void test_torn_before_empty_segment(void **st)
{
    fx *f = *st;
    fx_open(f);
    mk_topic(f, "t", 1, 4096);
    append_n(f, "t", 0, 12, 1); /* several segments */
    lg_partition_info info;
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &info), 0);
    int64_t end = info.log_end_offset;
    fx_close(f);
    char last[4400];
    last_segment(f, "t", 0, last, sizeof(last));
    long long lsize = lgt_file_size(last);
    assert_true(lsize > 0);
    /* torn next batch in the (so far) last segment, then two later files:
     * one empty and one with garbage */
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 500, 5, 120, 9000, -1, -1, -1);
    lg_batch_stamp(b.data, end, 0);
    append_raw(last, b.data, b.len / 3);
    char p1[4096], p2[4096];
    snprintf(p1, sizeof(p1), "%s", lgt_seg_path(f->dir, "t", 0, end));
    snprintf(p2, sizeof(p2), "%s", lgt_seg_path(f->dir, "t", 0, end + 5));
    int fd = open(p1, O_CREAT | O_WRONLY, 0644);
    close(fd);
    fd = open(p2, O_CREAT | O_WRONLY, 0644);
    assert_int_equal(write(fd, "garbage!", 8), 8);
    close(fd);
    fx_open(f);
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &info), 0);
    assert_false(info.failed);
    assert_true(info.log_end_offset == end);
    assert_int_equal(lgt_file_size(last), lsize);
    assert_true(lgt_file_size(p1) < 0 && lgt_file_size(p2) < 0);
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
    /* and appends go on from there, into a fresh segment when due */
    assert_true(append_n(f, "t", 0, 3, 900) == end + 10);
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
    cn_buf_free(&b);
}

typedef struct problems {
    int n;
    char file[512];
    uint64_t pos;
    char what[256];
} problems;

static void on_problem(void *ud, const char *file, uint64_t pos, const char *what)
{
    problems *p = ud;
    if (p->n++ == 0) {
        snprintf(p->file, sizeof(p->file), "%s", file);
        p->pos = pos;
        snprintf(p->what, sizeof(p->what), "%s", what);
    }
}

static int count_files(fx *f, const char *t, int p)
{
    char d[4096];
    snprintf(d, sizeof(d), "%s/topics/%s/%d", f->dir, t, p);
    DIR *dd = opendir(d);
    assert_non_null(dd);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dd)) != NULL)
        n += e->d_name[0] != '.';
    closedir(dd);
    return n;
}

/* Flip one byte inside the 3rd batch of the first segment of t/0. */
static uint64_t garble_first_segment(fx *f, size_t batch_len)
{
    const char *seg = lgt_seg_path(f->dir, "t", 0, 0);
    int fd = open(seg, O_RDWR);
    assert_true(fd >= 0);
    uint64_t bad = 2 * batch_len;
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, (off_t)(bad + 70)), 1);
    c ^= 0x40;
    assert_int_equal(pwrite(fd, &c, 1, (off_t)(bad + 70)), 1);
    close(fd);
    return bad;
}

static void test_garbled_middle_segment(void **st)
{
    fx *f = *st;
    fx_open(f);
    mk_topic(f, "t", 2, 4096);
    append_n(f, "t", 0, 30, 1);
    append_n(f, "t", 1, 30, 1);
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 1, 5, 120, 1000, -1, -1, -1);
    size_t blen = b.len;
    fx_close(f);
    int nfiles = count_files(f, "t", 0);
    assert_true(nfiles > 3);
    uint64_t bad = garble_first_segment(f, blen);

    /* 1. with the index intact, open is fast and does not read old data;
     *    lg_verify finds it with file and position */
    fx_open(f);
    problems pr = {0};
    assert_int_equal(lg_verify(f->log, on_problem, &pr), 1);
    assert_string_equal(pr.file, lgt_seg_path(f->dir, "t", 0, 0));
    assert_true(pr.pos == bad);
    /* the iterator refuses to hand it out and fails the partition */
    lg_iter *it;
    assert_int_equal(lg_iter_open(&it, f->log, "t", 0, 0), 0);
    lg_record rec;
    int rc, n = 0;
    while ((rc = lg_iter_next(it, &rec)) == 0)
        n++;
    assert_int_equal(rc, LG_ECRC);
    assert_int_equal(n, 10); /* the two good batches before it */
    lg_iter_close(it);
    lg_read_result r;
    assert_int_equal(lg_read(f->log, "t", 0, 0, 100, &r), CN_ECORRUPT);
    lg_partition_info info;
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &info), 0);
    assert_true(info.failed);
    assert_non_null(strstr(info.err_detail, "00000000000000000000.log"));
    /* the other partition serves */
    check_readable(f, "t", 1);
    assert_int_equal(lg_append(f->log, "t", 1, b.data, b.len, NULL), 0);
    assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), CN_ECORRUPT);
    fx_close(f);

    /* 2. with the index gone, recovery scans everything and finds it */
    char idx[4096];
    snprintf(idx, sizeof(idx), "%s/index", f->dir);
    cn_test_rmrf(idx);
    fx_open(f);
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &info), 0);
    assert_true(info.failed);
    char want[600];
    snprintf(want, sizeof(want), "%s at byte %llu", lgt_seg_path(f->dir, "t", 0, 0),
             (unsigned long long)bad);
    assert_non_null(strstr(info.err_detail, want));
    assert_int_equal(lg_read(f->log, "t", 0, 0, 100, &r), CN_ECORRUPT);
    /* later segments were not deleted: nothing acknowledged is destroyed */
    assert_int_equal(count_files(f, "t", 0), nfiles);
    assert_int_equal(lg_partition_info_get(f->log, "t", 1, &info), 0);
    assert_false(info.failed);
    assert_true(info.log_end_offset == 155);
    check_readable(f, "t", 1);
    cn_buf_free(&b);
}

/* Everything observable about a partition, for before/after comparison. */
static void snapshot(fx *f, const char *t, int p, cn_buf *out)
{
    lg_partition_info info;
    assert_int_equal(lg_partition_info_get(f->log, t, p, &info), 0);
    cn_buf_printf(out, "start=%lld end=%lld first=%lld last=%lld bytes=%llu segs=%u epoch=%d|",
                  (long long)info.log_start_offset, (long long)info.log_end_offset,
                  (long long)info.first_timestamp, (long long)info.last_timestamp,
                  (unsigned long long)info.bytes, info.segments, info.leader_epoch);
    for (int64_t off = info.log_start_offset; off < info.log_end_offset;) {
        lg_read_result r;
        assert_int_equal(lg_read(f->log, t, p, off, 3000, &r), 0);
        cn_buf_printf(out, "%lld:%lld:%zu|", (long long)off, (long long)r.file_pos, r.len);
        cn_buf_reserve(out, r.len);
        assert_int_equal(pread(r.fd, out->data + out->len, r.len, r.file_pos), (ssize_t)r.len);
        out->len += r.len;
        off = r.next_offset;
        lg_read_release(f->log, &r);
    }
    for (int64_t ts = 900; ts < 1200; ts += 13) {
        int64_t o;
        assert_int_equal(lg_offset_for_time(f->log, t, p, ts, &o), 0);
        cn_buf_printf(out, "t%lld=%lld|", (long long)ts, (long long)o);
    }
}

static void test_deleted_index_rebuilt_identically(void **st)
{
    fx *f = *st;
    fx_open(f);
    mk_topic(f, "a", 3, 8192);
    mk_topic(f, "b", 1, 0);
    for (int p = 0; p < 3; p++)
        append_n(f, "a", p, 40 + p * 10, (uint32_t)p * 1000);
    append_n(f, "b", 0, 5, 7);
    assert_int_equal(lg_truncate(f->log, "a", 2, 100), 0); /* epoch 1 */
    append_n(f, "a", 2, 3, 99);
    cn_buf before = CN_BUF_INIT, after = CN_BUF_INIT;
    for (int p = 0; p < 3; p++)
        snapshot(f, "a", p, &before);
    snapshot(f, "b", 0, &before);
    fx_close(f);
    char idx[4096];
    snprintf(idx, sizeof(idx), "%s/index", f->dir);
    cn_test_rmrf(idx);
    fx_open(f);
    assert_int_equal(lg_topic_partitions(f->log, "a"), 3);
    for (int p = 0; p < 3; p++)
        snapshot(f, "a", p, &after);
    snapshot(f, "b", 0, &after);
    assert_int_equal(after.len, before.len);
    assert_memory_equal(after.data, before.data, before.len);
    assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
    /* and again with the index file overwritten by garbage */
    fx_close(f);
    char dm[4200];
    snprintf(dm, sizeof(dm), "%s/index/data.mdb", f->dir);
    int fd = open(dm, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    char junk[8192];
    memset(junk, 0x5a, sizeof(junk));
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    fx_open(f);
    cn_buf_reset(&after);
    for (int p = 0; p < 3; p++)
        snapshot(f, "a", p, &after);
    snapshot(f, "b", 0, &after);
    assert_int_equal(after.len, before.len);
    assert_memory_equal(after.data, before.data, before.len);
    cn_buf_free(&before);
    cn_buf_free(&after);
}

/* Open the raw index (the log must be closed) and apply fn in a write txn. */
static void index_edit(fx *f, void (*fn)(MDB_txn *txn, MDB_dbi parts, MDB_dbi segs))
{
    char idir[4096];
    snprintf(idir, sizeof(idir), "%s/index", f->dir);
    MDB_env *env;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    mdb_env_set_mapsize(env, 16ull << 30);
    assert_int_equal(mdb_env_open(env, idir, 0, 0644), 0);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    MDB_dbi parts, segs;
    assert_int_equal(mdb_dbi_open(txn, "parts", 0, &parts), 0);
    assert_int_equal(mdb_dbi_open(txn, "segs", 0, &segs), 0);
    fn(txn, parts, segs);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* topic id 1 (the first topic created), partition 0 */
static void lie_part_record(MDB_txn *txn, MDB_dbi parts, MDB_dbi segs)
{
    (void)segs;
    unsigned char k[8] = {0, 0, 0, 1, 0, 0, 0, 0};
    MDB_val key = {8, k}, val;
    assert_int_equal(mdb_get(txn, parts, &key, &val), 0);
    unsigned char v[128];
    assert_true(val.mv_size <= sizeof(v));
    memcpy(v, val.mv_data, val.mv_size);
    cn_wr_be64(v + 8, cn_rd_be64(v + 8) + 50);     /* log end */
    cn_wr_be64(v + 24, cn_rd_be64(v + 24) + 1000); /* indexed position */
    MDB_val nv = {val.mv_size, v};
    assert_int_equal(mdb_put(txn, parts, &key, &nv, 0), 0);
}

static void drop_first_seg_record(MDB_txn *txn, MDB_dbi parts, MDB_dbi segs)
{
    (void)parts;
    unsigned char k[16] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    MDB_val key = {16, k};
    assert_int_equal(mdb_del(txn, segs, &key, NULL), 0);
}

static void test_index_that_lies(void **st)
{
    fx *f = *st;
    fx_open(f);
    mk_topic(f, "a", 2, 4096);
    append_n(f, "a", 0, 20, 1);
    append_n(f, "a", 1, 20, 50);
    cn_buf before = CN_BUF_INIT, after = CN_BUF_INIT;
    snapshot(f, "a", 0, &before);
    snapshot(f, "a", 1, &before);
    fx_close(f);
    void (*lies[])(MDB_txn *, MDB_dbi, MDB_dbi) = {lie_part_record, drop_first_seg_record};
    for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
        index_edit(f, lies[i]);
        fx_open(f);
        cn_buf_reset(&after);
        snapshot(f, "a", 0, &after);
        snapshot(f, "a", 1, &after);
        assert_int_equal(after.len, before.len);
        assert_memory_equal(after.data, before.data, before.len);
        assert_int_equal(lg_verify(f->log, NULL, NULL), 0);
        fx_close(f);
    }
    cn_buf_free(&before);
    cn_buf_free(&after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_enospc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eio_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsync_failure_sticky, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbled_and_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_before_empty_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbled_middle_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_index_rebuilt_identically, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_that_lies, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
