/* SPDX-License-Identifier: MIT */
/*
 * cn_benchutil.c — medians, quantiles, load and the raw fdatasync rate for
 * the benchmarks in tests/bench (cn_benchutil.h).  No state; any thread.
 */
#include "cn_benchutil.h"

#include "cn_time.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cn_bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double cn_bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cn_bench_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double cn_bench_quantile(double *v, long n, double q)
{
    qsort(v, (size_t)n, sizeof(double), cn_bench_cmp);
    long k = (long)(q * (double)(n - 1) + 0.5);
    return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

double cn_bench_fdatasync_rate(const char *dir, double seconds)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/fdatasync-probe.bin", dir);
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd < 0)
        return 0;
    char buf[4096];
    memset(buf, 'x', sizeof(buf));
    long n = 0;
    uint64_t t0 = cn_mono_ns();
    double el = 0;
    while ((el = (double)(cn_mono_ns() - t0) / 1e9) < seconds) {
        if (pwrite(fd, buf, sizeof(buf), (off_t)n * 4096) != (ssize_t)sizeof(buf) || fdatasync(fd))
            break;
        n++;
    }
    close(fd);
    unlink(path);
    return el > 0 ? (double)n / el : 0;
}

double cn_bench_load1(void)
{
    double l[1];
    return getloadavg(l, 1) == 1 ? l[0] : -1;
}
