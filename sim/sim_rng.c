/* SPDX-License-Identifier: MIT */
/*
 * sim_rng.c — xoshiro256** (Blackman & Vigna, public domain algorithm,
 * written from its description) seeded by splitmix64, plus Box-Muller
 * Gaussians.  Guarantees: the same (seed, stream) always yields the same
 * sequence on every platform (integer arithmetic, and the doubles are
 * built from the top 53 bits); no global state, so any thread may use its
 * own generator.  Why not rand(): it is process-global and its sequence
 * differs between libcs, and determinism for a seed is a contract here.
 */
#include "sim_rng.h"

#include <math.h>

static uint64_t sim__splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream)
{
    /* Mix the stream in through splitmix first so that streams 0,1,2...
     * of one seed start from unrelated states. */
    uint64_t x = seed;
    uint64_t k = sim__splitmix(&x) ^ (stream * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = sim__splitmix(&k);
    r->has_spare = 0;
    r->spare = 0;
}

static uint64_t sim__rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_u64(sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = sim__rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim__rotl(s[3], 45);
    return out;
}

double sim_rng_unit(sim_rng *r)
{
    return (double)(sim_rng_u64(r) >> 11) * 0x1.0p-53;
}

double sim_rng_range(sim_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * sim_rng_unit(r);
}

uint32_t sim_rng_below(sim_rng *r, uint32_t n)
{
    /* Multiply-shift: bias below 2^-32 for the small n used here. */
    return (uint32_t)(((sim_rng_u64(r) >> 32) * (uint64_t)n) >> 32);
}

double sim_rng_gauss(sim_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1;
    do
        u1 = sim_rng_unit(r);
    while (u1 <= 0.0);
    double u2 = sim_rng_unit(r);
    double mag = sqrt(-2.0 * log(u1));
    r->spare = mag * sin(2.0 * M_PI * u2);
    r->has_spare = 1;
    return mag * cos(2.0 * M_PI * u2);
}
