/* SPDX-License-Identifier: MIT */
/*
 * lg_testutil.h — helpers for the log engine's tests: deterministic
 * RecordBatch construction, and a fault-injecting lg_vfs (counts calls;
 * fails pwrite with an errno or short-writes, fails fdatasync) that wraps
 * the POSIX one.  Counters are atomic: the log's writer thread calls in.
 */
#ifndef LG_TESTUTIL_H
#define LG_TESTUTIL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cn_buf.h"
#include "lg.h"

/** Build one uncompressed batch of nrec records whose values are vlen
 *  bytes derived from seed (so the same seed gives the same bytes),
 *  timestamps ts, ts+1, ...; pid < 0 for a non-idempotent producer.
 *  Appends to out.  Aborts the test process on failure. */
void lgt_batch(cn_buf *out, uint32_t seed, int nrec, size_t vlen, int64_t ts, int64_t pid,
               int16_t epoch, int32_t seq);
/** Set a whole batch's attributes (transactional, control, ...) and
 *  recompute its CRC. */
void lgt_batch_set_attributes(unsigned char *batch, size_t len, uint16_t attributes);

typedef struct lgt_vfs {
    lg_vfs vfs; /* pass &x.vfs as lg_opts.vfs */
    atomic_long n_pwrite, n_fdatasync, n_ftruncate, n_open;
    atomic_int pwrite_errno;      /* non-zero: pwrite fails with it */
    atomic_int pwrite_fail_count; /* how many pwrites fail (-1 forever) */
    atomic_int short_write;       /* next pwrite writes half and returns that */
    atomic_int fsync_fail;        /* fdatasync fails with EIO */
    /* fail-at-N over every operation but close: op number fail_op_at
     * (1-based; 0 off) fails with EIO (ENOSPC for writes), and every one
     * after it too if fail_op_forever.  n_ops counts operations. */
    atomic_long n_ops, fail_op_at;
    atomic_int fail_op_forever;
    /* crash-at-N (in a forked child): operation number crash_op_at
     * (1-based over the same count; 0 off) is not done: the process exits
     * with LGT_CRASH_EXIT at once, as if killed just before it. */
    atomic_long crash_op_at;
} lgt_vfs;

#define LGT_CRASH_EXIT 77

void lgt_vfs_init(lgt_vfs *v);

/** Segment file path of (topic, partition, base) under dir (static buf). */
const char *lgt_seg_path(const char *dir, const char *topic, int part, int64_t base);
/** Size of a file, -1 if missing. */
long long lgt_file_size(const char *path);

#endif
