/* SPDX-License-Identifier: MIT */
/*
 * sim_hist.h — a latency histogram with log-linear buckets (64 per power of
 * two: values within 1.6 % of their bucket's lower bound), for ack
 * latencies from microseconds to hours in a fixed 20 KiB, O(1) to record.
 */
#ifndef SIM_HIST_H
#define SIM_HIST_H

#include <stdint.h>

#define SIM_HIST_SUB 64
#define SIM_HIST_BUCKETS (SIM_HIST_SUB * 40)

typedef struct sim_hist {
    uint64_t n;
    uint64_t max_us;
    uint64_t b[SIM_HIST_BUCKETS];
} sim_hist;

void sim_hist_reset(sim_hist *h);
void sim_hist_add(sim_hist *h, uint64_t us);
/** Add every count of src to dst. */
void sim_hist_merge(sim_hist *dst, const sim_hist *src);
/**
 * The q-quantile (0 < q <= 1) in microseconds: the lower bound of the
 * bucket holding the ceil(q*n)-th smallest value (never above the true
 * value, at most 1.6 % below it); 0 when empty.
 */
uint64_t sim_hist_quantile(const sim_hist *h, double q);

#endif
