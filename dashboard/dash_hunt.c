/* SPDX-License-Identifier: MIT */
/*
 * dash_hunt.c — a dash_snapshot from a hunt worker (see dash_hunt.h).
 *
 * Where each number comes from: pings = input records consumed
 * (hunt_worker_get_stats), finds = beacon_found events derived, players =
 * leaderboard size, active = leaderboard rows whose last ping is at most
 * 60 s older than the wall clock, lag = hunt_worker_lag, end offsets =
 * the io's end_offset of each ble-raw partition.  Recent finds are the
 * rows with the latest last_found; their `beacon` is where the player is
 * now (the session's current beacon), which right after a find is the
 * beacon found, since players stay near it (the page labels it so).
 *
 * Cost: one pass over the leaderboard rows (O(players)) and up to
 * DASH_MAX_FINDS player loads from RocksDB per snapshot, once a second.
 * Loop thread only; the dash_hunt owns its row buffer and scratch.
 */
#include "dash_hunt.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_time.h"
#include "hunt_board.h"
#include "hunt_game.h"
#include "hunt_player.h"

#include <stdio.h>
#include <string.h>

/* A player counts as active with a ping in this last stretch of time. */
#define DASH_ACTIVE_MS 60000

struct dash_hunt {
    hunt_worker *w;
    hunt_io *io;
    hunt_board_row *rows;
    size_t cap;
    cn_buf scratch;
    hunt_session *sess; /* ~4 KiB: on the heap, not the loop's stack */
};

int dash_hunt_new(dash_hunt **out, hunt_worker *w, hunt_io *io)
{
    dash_hunt *d = cn_calloc(1, sizeof(*d));
    if (!d || !(d->sess = cn_malloc(sizeof(*d->sess)))) {
        cn_free(d);
        return CN_ENOMEM;
    }
    d->w = w;
    d->io = io;
    *out = d;
    return 0;
}

void dash_hunt_free(dash_hunt *d)
{
    if (!d)
        return;
    cn_free(d->rows);
    cn_free(d->sess);
    cn_buf_free(&d->scratch);
    cn_free(d);
}

/* Keep finds[] as the n most recent last_found rows, newest first. */
static void dash__consider(dash_snapshot *s, const hunt_board_row *r)
{
    if (r->last_found_ms <= 0)
        return;
    uint32_t n = s->nfinds, i = n;
    while (i > 0 && s->finds[i - 1].at_ms < r->last_found_ms)
        i--;
    if (i >= DASH_MAX_FINDS)
        return;
    uint32_t keep = n < DASH_MAX_FINDS ? n : DASH_MAX_FINDS - 1;
    memmove(&s->finds[i + 1], &s->finds[i], (keep - i) * sizeof(s->finds[0]));
    dash_find *f = &s->finds[i];
    memset(f, 0, sizeof(*f));
    snprintf(f->player, sizeof(f->player), "%s", r->player);
    f->at_ms = r->last_found_ms;
    f->score = r->score;
    f->found = r->found;
    s->nfinds = keep + 1;
}

static void dash__where(dash_hunt *d, dash_find *f)
{
    const hunt_rules *rules = hunt_worker_rules(d->w);
    hunt_progress p;
    unsigned flags = 0;
    if (hunt_player_load(hunt_worker_store(d->w), rules, f->player, strlen(f->player), d->sess, &p,
                         &d->scratch, &flags))
        return;
    if ((flags & HUNT_PLAYER_FRESH) || d->sess->current == HUNT_NONE)
        return;
    const hunt_def *def = hunt_rules_def(rules);
    if ((uint32_t)d->sess->current < def->nbeacons)
        snprintf(f->beacon, sizeof(f->beacon), "%s", def->beacons[d->sess->current].id);
}

static int dash__board(dash_hunt *d, dash_snapshot *s)
{
    hunt_board *b = hunt_worker_board(d->w);
    if (!b)
        return CN_ENOMEM;
    size_t n = hunt_board_size(b);
    if (n > d->cap) {
        hunt_board_row *r = cn_realloc(d->rows, n * sizeof(*r));
        if (!r)
            return CN_ENOMEM;
        d->rows = r;
        d->cap = n;
    }
    n = n ? hunt_board_top(b, n, d->rows) : 0;
    int64_t since = cn_now_ms() - DASH_ACTIVE_MS;
    s->players = (int64_t)n;
    s->active_players = 0;
    for (size_t i = 0; i < n; i++) {
        s->active_players += d->rows[i].last_seen_ms >= since;
        dash__consider(s, &d->rows[i]);
    }
    for (uint32_t i = 0; i < s->nfinds; i++)
        dash__where(d, &s->finds[i]);
    return 0;
}

int dash_hunt_snapshot(void *ud, dash_snapshot *s)
{
    dash_hunt *d = ud;
    const hunt_worker_stats *st = hunt_worker_get_stats(d->w);
    s->pings_total = st->records;
    s->finds_total = (int64_t)st->events[HUNT_EV_BEACON_FOUND];
    s->lag = hunt_worker_lag(d->w);
    int np = d->io->partitions(d->io, "ble-raw");
    for (int p = 0; p < np && s->nparts < DASH_MAX_PARTS; p++) {
        dash_part *dp = &s->parts[s->nparts++];
        dp->partition = p;
        dp->end_offset = d->io->end_offset(d->io, p);
    }
    return dash__board(d, s);
}
