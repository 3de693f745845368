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

/** A blocking TCP connection to 127.0.0.1:port from a source address that
 *  changes with every call (127.1.0.1, 127.1.0.2, ...): a fuzz target that
 *  opens and closes one connection per input leaves each closed one in
 *  TIME_WAIT, and from one source address it would run out of ephemeral
 *  ports after some ten thousand inputs.  Returns the fd, or -1. */
int cn_test_loopback_connect(int port);

#endif
