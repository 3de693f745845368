/* SPDX-License-Identifier: MIT */
/*
 * sim_hist.c — log-linear latency histogram (see sim_hist.h).  Values below
 * 64 µs are exact; above, a value v with top bit k (k >= 6) falls in bucket
 * (k-5)*64 + (v >> (k-6)) - 64, so each power of two is split in 64.
 * Caller-owned, single-threaded (the simulator's loop thread).
 */
#include "sim_hist.h"

#include <math.h>
#include <string.h>

void sim_hist_reset(sim_hist *h)
{
    memset(h, 0, sizeof(*h));
}

static uint32_t sim__bucket(uint64_t v)
{
    if (v < SIM_HIST_SUB)
        return (uint32_t)v;
    int k = 63 - __builtin_clzll(v);         /* top bit, >= 6 */
    uint32_t sub = (uint32_t)(v >> (k - 6)); /* 64..127 */
    uint32_t idx = (uint32_t)(k - 5) * SIM_HIST_SUB + (sub - SIM_HIST_SUB);
    return idx < SIM_HIST_BUCKETS ? idx : SIM_HIST_BUCKETS - 1;
}

static uint64_t sim__lower(uint32_t idx)
{
    if (idx < SIM_HIST_SUB)
        return idx;
    uint32_t k = idx / SIM_HIST_SUB + 5, sub = idx % SIM_HIST_SUB + SIM_HIST_SUB;
    return (uint64_t)sub << (k - 6);
}

void sim_hist_add(sim_hist *h, uint64_t us)
{
    h->b[sim__bucket(us)]++;
    h->n++;
    if (us > h->max_us)
        h->max_us = us;
}

void sim_hist_merge(sim_hist *dst, const sim_hist *src)
{
    for (uint32_t i = 0; i < SIM_HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
    dst->n += src->n;
    if (src->max_us > dst->max_us)
        dst->max_us = src->max_us;
}

uint64_t sim_hist_quantile(const sim_hist *h, double q)
{
    if (!h->n)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->n);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < SIM_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank)
            return sim__lower(i);
    }
    return h->max_us;
}
