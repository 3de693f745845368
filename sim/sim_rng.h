/* SPDX-License-Identifier: MIT */
/*
 * sim_rng.h — the simulator's seeded random numbers: xoshiro256** seeded
 * through splitmix64, uniform doubles and Gaussian deviates.  Every player
 * owns one generator derived from (seed, player index), so what a player
 * does is a pure function of those two numbers, whatever order the event
 * loop runs players in.  Not for cryptography.
 */
#ifndef SIM_RNG_H
#define SIM_RNG_H

#include <stdint.h>

typedef struct sim_rng {
    uint64_t s[4];
    double spare; /* second Box-Muller deviate, valid when has_spare */
    int has_spare;
} sim_rng;

/** Seed from (seed, stream): different streams give unrelated sequences. */
void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream);
uint64_t sim_rng_u64(sim_rng *r);
/** Uniform in [0, 1). */
double sim_rng_unit(sim_rng *r);
/** Uniform in [lo, hi). */
double sim_rng_range(sim_rng *r, double lo, double hi);
/** Uniform integer in [0, n); n > 0. */
uint32_t sim_rng_below(sim_rng *r, uint32_t n);
/** Normal deviate with mean 0 and standard deviation 1 (Box-Muller). */
double sim_rng_gauss(sim_rng *r);

#endif
