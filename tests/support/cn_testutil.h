/* SPDX-License-Identifier: MIT */
/*
 * cn_testutil.h — helpers shared by unit tests: scratch directories,
 * recursive removal, and a fault-injecting allocator (fail-at-N, once or
 * forever) with a live-allocation counter for leak checks.
 */
#ifndef CN_TESTUTIL_H
#define CN_TESTUTIL_H

#include <stddef.h>

/** Make a fresh directory under $TMPDIR (or /tmp); returns malloc'd path. */
char *cn_test_tmpdir(const char *tag);
/** rm -rf path (only used on our own scratch dirs). */
void cn_test_rmrf(const char *path);

/** Install an allocator that fails allocation number n (1-based) and, if
 *  forever, every one after it.  n = 0 never fails. */
void cn_test_alloc_fail_at(long n, int forever);
/** Allocations made and currently live since the last install. */
long cn_test_alloc_count(void);
long cn_test_alloc_live(void);
/** Restore libc allocation. */
void cn_test_alloc_reset(void);

#endif
