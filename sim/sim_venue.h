/* SPDX-License-Identifier: MIT */
/*
 * sim_venue.h — simulated players walking a venue between a hunt's beacons,
 * and the BLE radio they carry.  Pure: no clock, no I/O.  A walker's whole
 * future (where it goes, which beacon it reports, the RSSI it reads and
 * when) is a function of (seed, player index, venue, rate), so a seeded
 * run always sends the same pings, whatever the network does.
 *
 * The radio is the log-distance path-loss model with Gaussian shadowing:
 *   rssi = tx_1m - 10 * n * log10(d) + N(0, sigma)   (dBm, d in metres)
 * with tx_1m -59 dBm (a typical iBeacon calibrated power), n 2.2 (indoor
 * line of sight) and sigma 4 dB: a phone within ~1 m of a beacon reads
 * about -59 ± 4, at 10 m about -81, so a hunt's rssi_min of -70 is met
 * near a beacon and rarely in a corridor.
 */
#ifndef SIM_VENUE_H
#define SIM_VENUE_H

#include "sim_rng.h"

#include <stdint.h>

typedef struct sim_beacon_pos {
    double x, y;
} sim_beacon_pos;

typedef struct sim_radio {
    double tx_1m_dbm; /* RSSI at one metre */
    double path_n;    /* path-loss exponent */
    double sigma_db;  /* shadowing noise, standard deviation */
} sim_radio;

#define SIM_RADIO_DEFAULT                                                                          \
    {                                                                                              \
        -59.0, 2.2, 4.0                                                                            \
    }

typedef struct sim_venue {
    const sim_beacon_pos *beacons; /* borrowed; nbeacons >= 1 */
    uint32_t nbeacons;
    sim_radio radio;
    int64_t interval_ms; /* mean time between two pings of one player (1000 / rate) */
} sim_venue;

/* What a walker is doing. */
enum sim_phase { SIM_WALK = 0, SIM_DWELL, SIM_REST };

typedef struct sim_walker {
    sim_rng rng;
    double x, y;       /* position, venue units (metres) */
    double speed;      /* walking speed, m/s */
    uint32_t target;   /* beacon walked to or dwelt at */
    uint32_t visited;  /* beacons visited so far (the first ones of the order) */
    uint8_t phase;     /* enum sim_phase */
    int64_t phase_end; /* DWELL/REST: when it ends (ms since start) */
    int64_t t_ms;      /* time of the next ping, ms since the run started */
    uint32_t *order;   /* the walker's own beacon order (nbeacons entries), caller-owned */
} sim_walker;

/** One generated ping. */
typedef struct sim_gen_ping {
    int64_t t_ms;    /* ms since the run started; strictly increasing per walker */
    uint32_t beacon; /* index into the venue's beacons */
    int32_t rssi;    /* dBm, clamped to -127..20 */
} sim_gen_ping;

/**
 * Start a walker: a random start point in the venue's bounding box, a
 * shuffled visiting order of the beacons, a first ping within the first
 * interval (so N players do not all connect in the same millisecond).
 * @param order  caller-owned array of v->nbeacons entries, kept by the walker
 */
void sim_walker_init(sim_walker *w, const sim_venue *v, uint64_t seed, uint32_t player,
                     uint32_t *order);

/** Produce the walker's next ping and advance it to the one after. */
void sim_walker_next(sim_walker *w, const sim_venue *v, sim_gen_ping *out);

/** The radio model once: RSSI (rounded, clamped to -127..20) at distance d. */
int32_t sim_radio_rssi(const sim_radio *r, sim_rng *rng, double d);

#endif
