/* SPDX-License-Identifier: MIT */
/*
 * hunt_game.c — the game engine: one ping in, updated session/progress and
 * derived events out (rules in hunt_game.h).
 *
 * Guarantees: deterministic (no clock, no randomness, no allocation);
 * a ping that is not accepted leaves both states untouched; the session
 * keeps only hits that can still count (at unfound beacons, inside the
 * window of the latest ping), so it stays small however long a player plays.
 * Threads: any; the caller serialises steps of one player (a worker owns
 * the player's partition).  Ownership: the caller owns every struct.
 */
#include "hunt_game.h"

#include "cn_err.h"
#include "cn_id.h"

#include <string.h>

/* Player ids follow the project's one rule for outside identifiers
 * (common/cn_id.h): 1..64 bytes of A-Z a-z 0-9 and "._:@-".  The gateway
 * already enforces it; records from other producers (--brokers mode) are
 * held to the same rule here, because the id becomes a RocksDB key, a JSON
 * string and a metrics label. */
static int hunt__player_ok(const hunt_ping *g)
{
    return g->player && cn_id_valid(g->player, g->player_len);
}
_Static_assert(HUNT_PLAYER_MAX == CN_ID_MAX, "player ids are outside ids");

static int hunt__time_ok(const hunt_ping *g)
{
    if (g->ts_ms < HUNT_TS_MIN_MS || g->ts_ms >= HUNT_TS_MAX_MS)
        return 0;
    /* Written so that no sum can overflow: ts is bounded, recv_ms is not. */
    if (g->recv_ms && g->recv_ms < g->ts_ms - HUNT_MAX_FUTURE_MS)
        return 0;
    /* The age bound also holds against the floor, so a worker knows the
     * oldest ping it can still accept (its session horizon relies on it). */
    int64_t ref = g->recv_ms > g->floor_ms ? g->recv_ms : g->floor_ms;
    return ref == 0 || ref <= g->ts_ms + HUNT_MAX_AGE_MS;
}

/* Stateless checks: what is wrong with the record itself. */
static enum hunt_reason hunt__check_ping(const hunt_rules *r, const hunt_ping *g, int32_t *beacon)
{
    *beacon = HUNT_NONE;
    if (!hunt__player_ok(g))
        return HUNT_REJ_BAD_PLAYER;
    int b = g->beacon ? hunt_rules_beacon_index(r, g->beacon, g->beacon_len) : CN_ENOENT;
    if (b < 0)
        return HUNT_REJ_UNKNOWN_BEACON;
    *beacon = b;
    if (g->rssi < HUNT_RSSI_LO || g->rssi > HUNT_RSSI_HI)
        return HUNT_REJ_BAD_RSSI;
    if (!hunt__time_ok(g))
        return HUNT_REJ_BAD_TIME;
    if (!hunt_rules_in_window(r, g->ts_ms))
        return HUNT_IGN_OUTSIDE_HUNT;
    return HUNT_ACCEPTED;
}

/* The states must describe this hunt; a state from a hunt with more
 * beacons or points (an edited file) is refused rather than read out of
 * bounds or carried past the bounds its decoder checks. */
static int hunt__states_ok(const hunt_def *d, const hunt_session *s, const hunt_progress *p)
{
    uint32_t nb = d->nbeacons;
    if (p->score < 0 || p->score > d->total_points || p->nfound > nb)
        return 0;
    if (s->current < HUNT_NONE || s->current >= (int32_t)nb || s->next < HUNT_NONE ||
        s->next >= (int32_t)nb || s->nhits > HUNT_SESSION_MAX_HITS)
        return 0;
    for (uint32_t i = 0; i < s->nhits; i++)
        if (s->hits[i].beacon >= nb)
            return 0;
    /* Bits at and past nb: the rest of the last used byte, then whole bytes
     * (a byte loop, not a bit loop: this runs on every ping). */
    if (nb % 8 && (p->found[nb / 8] >> (nb % 8)))
        return 0;
    for (uint32_t i = (nb + 7) / 8; i < HUNT_MAX_BEACONS / 8; i++)
        if (p->found[i])
            return 0;
    return 1;
}

/* Pings must not go back in time.  The latest accepted time is also kept
 * in progress, which outlives the session, so a late ping arriving after
 * the session expired is still recognised, and progress times never run
 * backwards (joined <= last_found <= last_seen holds). */
static enum hunt_reason hunt__check_order(const hunt_session *s, const hunt_progress *p, int32_t b,
                                          int64_t ts, int live)
{
    if ((p->flags & HUNT_PROGRESS_JOINED) && ts < p->last_seen_ms)
        return HUNT_IGN_OUT_OF_ORDER;
    if (live && ts < s->last_ts_ms)
        return HUNT_IGN_OUT_OF_ORDER;
    if (live && ts == s->last_ts_ms && b == s->current)
        return HUNT_IGN_DUPLICATE;
    return HUNT_ACCEPTED;
}

static void hunt__emit(hunt_step *out, enum hunt_event_type t, int64_t ts, int32_t beacon,
                       int32_t points, int64_t before, const hunt_progress *p)
{
    out->events[out->nevents++] = (hunt_event){t, ts, beacon, points, before, p->score, p->nfound};
}

/* Drop hits that can no longer count: older than the window of now (pings
 * are in time order, so they never will) or at a beacon just found. */
static void hunt__prune(hunt_session *s, int64_t oldest_ok, int32_t found)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->nhits; i++)
        if (s->hits[i].ts_ms >= oldest_ok && (int32_t)s->hits[i].beacon != found)
            s->hits[k++] = s->hits[i];
    s->nhits = k;
}

static void hunt__add_hit(hunt_session *s, int32_t b, int64_t ts)
{
    if (s->nhits == HUNT_SESSION_MAX_HITS) {
        memmove(&s->hits[0], &s->hits[1], (HUNT_SESSION_MAX_HITS - 1) * sizeof(s->hits[0]));
        s->nhits--;
    }
    s->hits[s->nhits++] = (hunt_hit){(uint32_t)b, ts};
}

/* First beacon not found yet, in list order; HUNT_NONE when all are. */
static int32_t hunt__first_unfound(const hunt_def *d, const hunt_progress *p)
{
    for (uint32_t i = 0; i < d->nbeacons; i++)
        if (!hunt_progress_has(p, i))
            return (int32_t)i;
    return HUNT_NONE;
}

static void hunt__find(const hunt_def *d, hunt_session *s, hunt_progress *p, int32_t b, int64_t ts,
                       hunt_step *out)
{
    int64_t before = p->score;
    int32_t pts = d->beacons[b].points;
    p->found[b / 8] |= (uint8_t)(1u << (b % 8));
    p->nfound++;
    p->score += pts;
    p->last_found_ms = ts;
    hunt__prune(s, INT64_MIN, b);
    hunt__emit(out, HUNT_EV_BEACON_FOUND, ts, b, pts, before, p);
    if (pts != 0)
        hunt__emit(out, HUNT_EV_SCORE_CHANGED, ts, HUNT_NONE, 0, before, p);
    if (p->nfound == d->nbeacons) {
        p->flags |= HUNT_PROGRESS_COMPLETED;
        hunt__emit(out, HUNT_EV_HUNT_COMPLETED, ts, HUNT_NONE, 0, before, p);
    }
}

/* Is this accepted ping a hit?  See the rules in hunt_game.h. */
static int hunt__is_hit(const hunt_def *d, const hunt_session *s, const hunt_progress *p, int32_t b,
                        int32_t rssi)
{
    if (rssi < d->rssi_min || hunt_progress_has(p, (uint32_t)b) ||
        (p->flags & HUNT_PROGRESS_COMPLETED))
        return 0;
    return d->order != HUNT_ORDER_SEQUENCE || b == s->next;
}

static void hunt__apply(const hunt_def *d, hunt_session *s, hunt_progress *p, int32_t b,
                        const hunt_ping *g, hunt_step *out)
{
    int64_t ts = g->ts_ms;
    if (!(p->flags & HUNT_PROGRESS_JOINED)) {
        p->flags |= HUNT_PROGRESS_JOINED;
        p->joined_ms = ts;
        hunt__emit(out, HUNT_EV_PLAYER_JOINED, ts, HUNT_NONE, 0, p->score, p);
    }
    p->last_seen_ms = ts;
    s->last_ts_ms = ts;
    s->current = b;
    /* A new or expired session has no next beacon yet; derive it. */
    s->next = d->order == HUNT_ORDER_SEQUENCE ? hunt__first_unfound(d, p) : HUNT_NONE;
    hunt__prune(s, ts - (int64_t)d->window_s * 1000, HUNT_NONE);
    if (hunt__is_hit(d, s, p, b, g->rssi)) {
        out->hit = 1;
        uint32_t n = 1; /* this ping */
        for (uint32_t i = 0; i < s->nhits; i++)
            n += (int32_t)s->hits[i].beacon == b;
        if (n >= d->hits)
            hunt__find(d, s, p, b, ts, out);
        else
            hunt__add_hit(s, b, ts);
    }
    if (d->order == HUNT_ORDER_SEQUENCE)
        s->next = hunt__first_unfound(d, p);
}

int hunt_game_step(const hunt_rules *r, hunt_session *s, hunt_progress *p, const hunt_ping *ping,
                   hunt_step *out)
{
    const hunt_def *d = hunt_rules_def(r);
    int32_t b;
    memset(out, 0, offsetof(hunt_step, events));
    out->reason = hunt__check_ping(r, ping, &b);
    out->beacon = b;
    if (out->reason != HUNT_ACCEPTED)
        return 0;
    if (!hunt__states_ok(d, s, p))
        return CN_EINVAL;
    /* Expiry is decided here, on the ping's own time, never on a clock:
     * a replay after any delay (a restart, lag, --rebuild) sees exactly
     * what the live run saw.  The caller may drop a stored session only
     * when no ping it can still accept could find it live. */
    int live = s->current != HUNT_NONE;
    if (live && d->session_ttl_s > 0 &&
        ping->ts_ms - s->last_ts_ms >= d->session_ttl_s * INT64_C(1000))
        live = 0;
    out->reason = hunt__check_order(s, p, b, ping->ts_ms, live);
    if (out->reason == HUNT_ACCEPTED) {
        out->session_expired = !live && (p->flags & HUNT_PROGRESS_JOINED);
        if (!live)
            hunt_session_init(s);
        hunt__apply(d, s, p, b, ping, out);
    }
    return 0;
}

const char *hunt_reason_name(int reason)
{
    switch (reason) {
    case HUNT_ACCEPTED:
        return "accepted";
    case HUNT_IGN_OUTSIDE_HUNT:
        return "outside_hunt";
    case HUNT_IGN_OUT_OF_ORDER:
        return "out_of_order";
    case HUNT_IGN_DUPLICATE:
        return "duplicate";
    case HUNT_REJ_BAD_PLAYER:
        return "bad_player";
    case HUNT_REJ_UNKNOWN_BEACON:
        return "unknown_beacon";
    case HUNT_REJ_BAD_RSSI:
        return "bad_rssi";
    case HUNT_REJ_BAD_TIME:
        return "bad_time";
    default:
        return "unknown";
    }
}

int hunt_reason_is_rejection(int reason)
{
    return reason >= HUNT_REJ_BAD_PLAYER && reason <= HUNT_REJ_BAD_TIME;
}

const char *hunt_event_name(int type)
{
    switch (type) {
    case HUNT_EV_PLAYER_JOINED:
        return "player_joined";
    case HUNT_EV_BEACON_FOUND:
        return "beacon_found";
    case HUNT_EV_SCORE_CHANGED:
        return "score_changed";
    case HUNT_EV_HUNT_COMPLETED:
        return "hunt_completed";
    default:
        return "unknown";
    }
}
