/* SPDX-License-Identifier: MIT */
/*
 * lg_testutil.c — batch construction and the fault-injecting VFS for the
 * log engine tests (see lg_testutil.h).  Test-only code.
 */
#include "lg_testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cn_bytes.h"
#include "cn_crc32c.h"
#include "lg_batch.h"

void lgt_batch_set_attributes(unsigned char *batch, size_t len, uint16_t attributes)
{
    cn_wr_be16(batch + 21, attributes);
    cn_wr_be32(batch + 17, cn_crc32c(0, batch + 21, len - 21));
}

void lgt_batch(cn_buf *out, uint32_t seed, int nrec, size_t vlen, int64_t ts, int64_t pid,
               int16_t epoch, int32_t seq)
{
    lg_batch_builder *b;
    if (lg_batch_builder_new(&b, LG_COMP_NONE) != 0)
        abort();
    lg_batch_builder_producer(b, pid, epoch, seq);
    unsigned char val[65536];
    if (vlen > sizeof(val))
        abort();
    uint32_t x = seed * 2654435761u + 1;
    for (int r = 0; r < nrec; r++) {
        for (size_t i = 0; i < vlen; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            val[i] = (unsigned char)x;
        }
        char key[32];
        int kl = snprintf(key, sizeof(key), "k%" PRIu32 "-%d", seed, r);
        if (lg_batch_builder_add(b, ts + r, key, (size_t)kl, val, vlen, NULL, 0) != 0)
            abort();
    }
    if (lg_batch_builder_finish(b, out) != 0)
        abort();
    lg_batch_builder_free(b);
}

/* The fail-at-N decision for one operation. */
static int t_fail_op(lgt_vfs *v, int err)
{
    long n = atomic_fetch_add(&v->n_ops, 1) + 1;
    long crash = atomic_load(&v->crash_op_at);
    if (crash && n >= crash)
        _exit(LGT_CRASH_EXIT);
    long at = atomic_load(&v->fail_op_at);
    if (at && (atomic_load(&v->fail_op_forever) ? n >= at : n == at)) {
        errno = err;
        return 1;
    }
    return 0;
}

static int t_open(void *ud, const char *path, int flags, mode_t mode)
{
    lgt_vfs *v = ud;
    atomic_fetch_add(&v->n_open, 1);
    if (t_fail_op(v, EIO))
        return -1;
    return lg_vfs_posix()->open(NULL, path, flags, mode);
}

static int t_close(void *ud, int fd)
{
    (void)ud;
    return lg_vfs_posix()->close(NULL, fd);
}

static ssize_t t_pwrite(void *ud, int fd, const void *buf, size_t n, off_t off)
{
    lgt_vfs *v = ud;
    atomic_fetch_add(&v->n_pwrite, 1);
    if (t_fail_op(v, ENOSPC)) {
        if (n > 1) /* part of it may land, as with a real ENOSPC */
            lg_vfs_posix()->pwrite(NULL, fd, buf, n / 2, off);
        errno = ENOSPC;
        return -1;
    }
    int e = atomic_load(&v->pwrite_errno);
    if (e) {
        int left = atomic_load(&v->pwrite_fail_count);
        if (left != 0) {
            if (left > 0)
                atomic_fetch_sub(&v->pwrite_fail_count, 1);
            /* Like a real ENOSPC mid-write: part of the data may land. */
            if (n > 1)
                lg_vfs_posix()->pwrite(NULL, fd, buf, n / 3, off);
            errno = e;
            return -1;
        }
    }
    if (atomic_exchange(&v->short_write, 0) && n > 1)
        return lg_vfs_posix()->pwrite(NULL, fd, buf, n / 2, off);
    return lg_vfs_posix()->pwrite(NULL, fd, buf, n, off);
}

static ssize_t t_pread(void *ud, int fd, void *buf, size_t n, off_t off)
{
    if (t_fail_op(ud, EIO))
        return -1;
    return lg_vfs_posix()->pread(NULL, fd, buf, n, off);
}

static int t_fdatasync(void *ud, int fd)
{
    lgt_vfs *v = ud;
    atomic_fetch_add(&v->n_fdatasync, 1);
    if (t_fail_op(v, EIO))
        return -1;
    if (atomic_load(&v->fsync_fail)) {
        errno = EIO;
        return -1;
    }
    return lg_vfs_posix()->fdatasync(NULL, fd);
}

static int t_ftruncate(void *ud, int fd, off_t len)
{
    lgt_vfs *v = ud;
    atomic_fetch_add(&v->n_ftruncate, 1);
    if (t_fail_op(v, EIO))
        return -1;
    return lg_vfs_posix()->ftruncate(NULL, fd, len);
}

static int t_unlink(void *ud, const char *path)
{
    if (t_fail_op(ud, EIO))
        return -1;
    return lg_vfs_posix()->unlink(NULL, path);
}

static int t_rename(void *ud, const char *from, const char *to)
{
    if (t_fail_op(ud, EIO))
        return -1;
    return lg_vfs_posix()->rename(NULL, from, to);
}

void lgt_vfs_init(lgt_vfs *v)
{
    memset(v, 0, sizeof(*v));
    v->vfs = (lg_vfs){t_open,      t_close,  t_pwrite, t_pread, t_fdatasync,
                      t_ftruncate, t_unlink, t_rename, v};
}

const char *lgt_seg_path(const char *dir, const char *topic, int part, int64_t base)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "%s/topics/%s/%d/%020" PRId64 ".log", dir, topic, part, base);
    return buf;
}

long long lgt_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}
