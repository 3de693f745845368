/* SPDX-License-Identifier: MIT */
/*
 * cn_benchutil.h — what every benchmark prints beside its figures so that
 * a reader can judge the machine they came from: the median of a sample,
 * the load average, and the raw fdatasync rate of the disk under a
 * directory (4 KiB writes, each followed by fdatasync, for a while).
 */
#ifndef CN_BENCHUTIL_H
#define CN_BENCHUTIL_H

/** Median of v[0..n) (n >= 1); sorts v in place, so v[0] is then the
 *  minimum and v[n-1] the maximum. */
double cn_bench_median(double *v, int n);
/** The value at quantile q (0..1) of v[0..n) (n >= 1); sorts v in place. */
double cn_bench_quantile(double *v, long n, double q);
/** fdatasync calls per second on a scratch file in dir over `seconds`;
 *  0 when the file cannot be written. */
double cn_bench_fdatasync_rate(const char *dir, double seconds);
/** The 1-minute load average, or -1. */
double cn_bench_load1(void);

#endif
