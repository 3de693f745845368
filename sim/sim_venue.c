/* SPDX-License-Identifier: MIT */
/*
 * sim_venue.c — the walker model behind `cairn sim`: players walk at 0.8-
 * 1.5 m/s to the next beacon of their own shuffled order, stop near it
 * 4-10 s (reading it strongly: that is how beacons get found), sometimes
 * put the phone away for 6-15 s (no pings: the gateway idle-closes them
 * and they reconnect, as real phones do), and report at every ping the
 * beacon they hear strongest, with path-loss RSSI and Gaussian noise.
 *
 * Guarantees: deterministic for (seed, player, venue, interval): no clock
 * and no shared state; per walker the ping times strictly increase, so a
 * hunt worker never sees two pings of one player at the same beacon and
 * time.  Called from the simulator's loop thread; each walker is owned by
 * its player.  Model constants are explained where they are defined.
 */
#include "sim_venue.h"

#include <math.h>

/* Walking speeds of museum visitors: a stroll, not a march. */
#define SIM_SPEED_MIN 0.8
#define SIM_SPEED_MAX 1.5
/* Time spent near a beacon: long enough for a few pings at 1 Hz, which a
 * found rule such as "2 hits within 10 s" needs. */
#define SIM_DWELL_MIN_MS 4000
#define SIM_DWELL_MAX_MS 10000
/* Stopping point around a beacon: people stand near it, not on it. */
#define SIM_STAND_SIGMA_M 0.7
/* After a beacon, one time in six the phone goes into a pocket for longer
 * than the gateway's default 5 s idle close, so runs exercise reconnects. */
#define SIM_REST_P 0.16
#define SIM_REST_MIN_MS 6000
#define SIM_REST_MAX_MS 15000
/* Distance below which the RSSI model is flat (the near field). */
#define SIM_NEAR_M 0.3
/* Arrival: within this distance of the stopping point. */
#define SIM_ARRIVE_M 0.5

int32_t sim_radio_rssi(const sim_radio *r, sim_rng *rng, double d)
{
    if (d < SIM_NEAR_M)
        d = SIM_NEAR_M;
    double v = r->tx_1m_dbm - 10.0 * r->path_n * log10(d) + r->sigma_db * sim_rng_gauss(rng);
    long q = lround(v);
    if (q < -127)
        q = -127;
    if (q > 20)
        q = 20;
    return (int32_t)q;
}

static void sim__bbox(const sim_venue *v, double *x0, double *y0, double *x1, double *y1)
{
    *x0 = *x1 = v->beacons[0].x;
    *y0 = *y1 = v->beacons[0].y;
    for (uint32_t i = 1; i < v->nbeacons; i++) {
        *x0 = fmin(*x0, v->beacons[i].x);
        *x1 = fmax(*x1, v->beacons[i].x);
        *y0 = fmin(*y0, v->beacons[i].y);
        *y1 = fmax(*y1, v->beacons[i].y);
    }
}

static int64_t sim__jitter_interval(sim_walker *w, const sim_venue *v)
{
    /* ±20 % jitter: phones do not scan in lockstep. */
    int64_t d = (int64_t)llround((double)v->interval_ms * sim_rng_range(&w->rng, 0.8, 1.2));
    return d < 1 ? 1 : d;
}

static void sim__pick_target(sim_walker *w, const sim_venue *v)
{
    if (w->visited < v->nbeacons) {
        w->target = w->order[w->visited++];
        return;
    }
    /* Every beacon seen: wander to random ones (players linger). */
    w->target = sim_rng_below(&w->rng, v->nbeacons);
}

void sim_walker_init(sim_walker *w, const sim_venue *v, uint64_t seed, uint32_t player,
                     uint32_t *order)
{
    sim_rng_seed(&w->rng, seed, player);
    double x0, y0, x1, y1;
    sim__bbox(v, &x0, &y0, &x1, &y1);
    w->x = sim_rng_range(&w->rng, x0, x1 > x0 ? x1 : x0 + 1);
    w->y = sim_rng_range(&w->rng, y0, y1 > y0 ? y1 : y0 + 1);
    w->speed = sim_rng_range(&w->rng, SIM_SPEED_MIN, SIM_SPEED_MAX);
    w->order = order;
    for (uint32_t i = 0; i < v->nbeacons; i++)
        order[i] = i;
    for (uint32_t i = v->nbeacons; i > 1; i--) { /* Fisher-Yates */
        uint32_t j = sim_rng_below(&w->rng, i);
        uint32_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    w->visited = 0;
    sim__pick_target(w, v);
    w->phase = SIM_WALK;
    w->phase_end = 0;
    w->t_ms = (int64_t)sim_rng_below(&w->rng, (uint32_t)(v->interval_ms > 0 ? v->interval_ms : 1));
}

/* Move for dt ms, changing phase at its end.  A phase change inside the
 * step takes effect at the step's end: with 1 s steps that is well within
 * the model's coarseness. */
static void sim__advance(sim_walker *w, const sim_venue *v, int64_t dt)
{
    const sim_beacon_pos *b = &v->beacons[w->target];
    switch (w->phase) {
    case SIM_WALK: {
        double dx = b->x - w->x, dy = b->y - w->y;
        double dist = sqrt(dx * dx + dy * dy);
        double step = w->speed * (double)dt / 1000.0;
        if (dist <= step + SIM_ARRIVE_M) {
            w->x = b->x + SIM_STAND_SIGMA_M * sim_rng_gauss(&w->rng);
            w->y = b->y + SIM_STAND_SIGMA_M * sim_rng_gauss(&w->rng);
            w->phase = SIM_DWELL;
            w->phase_end =
                w->t_ms + (int64_t)sim_rng_range(&w->rng, SIM_DWELL_MIN_MS, SIM_DWELL_MAX_MS);
        } else {
            w->x += dx / dist * step;
            w->y += dy / dist * step;
        }
        break;
    }
    case SIM_DWELL:
        if (w->t_ms >= w->phase_end) {
            if (sim_rng_unit(&w->rng) < SIM_REST_P) {
                w->phase = SIM_REST;
                w->phase_end =
                    w->t_ms + (int64_t)sim_rng_range(&w->rng, SIM_REST_MIN_MS, SIM_REST_MAX_MS);
            } else {
                sim__pick_target(w, v);
                w->phase = SIM_WALK;
            }
        }
        break;
    default: /* SIM_REST is skipped over in sim_walker_next */
        break;
    }
}

void sim_walker_next(sim_walker *w, const sim_venue *v, sim_gen_ping *out)
{
    /* The strongest beacon as the phone hears it: every beacon gets its
     * own noisy reading, so near two beacons the report flips between
     * them, as it does on a real phone. */
    int32_t best = -128;
    uint32_t bi = 0;
    for (uint32_t i = 0; i < v->nbeacons; i++) {
        double dx = v->beacons[i].x - w->x, dy = v->beacons[i].y - w->y;
        int32_t r = sim_radio_rssi(&v->radio, &w->rng, sqrt(dx * dx + dy * dy));
        if (r > best) {
            best = r;
            bi = i;
        }
    }
    out->t_ms = w->t_ms;
    out->beacon = bi;
    out->rssi = best;
    int64_t dt = sim__jitter_interval(w, v);
    w->t_ms += dt;
    sim__advance(w, v, dt);
    if (w->phase == SIM_REST) {
        /* Phone in a pocket: no pings until the rest ends; then walk on. */
        if (w->t_ms < w->phase_end)
            w->t_ms = w->phase_end;
        sim__pick_target(w, v);
        w->phase = SIM_WALK;
    }
}
