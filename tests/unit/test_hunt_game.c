/* SPDX-License-Identifier: MIT */
/*
 * test_hunt_game.c — the game engine and the state codecs.
 *
 * The main test drives the engine with seeded random workloads (many
 * players, random hunts in both orders, noisy pings: weak signals, late and
 * repeated pings, unknown beacons, absurd RSSI and times, bad player ids,
 * pings outside the hunt window) and compares every ping's outcome, every
 * event and the final scores and found sets with a reference model written
 * independently here: it keeps each player's whole hit history and applies
 * the found rule literally, with no pruning, no bitsets and no binary
 * search.  States pass through encode/decode between pings, as they do
 * through RocksDB in the worker.  Focused tests pin the edges: inclusive
 * RSSI, the window boundary, sequence order, the hunt window, each reason
 * code, event order, the hit cap, and hostile bytes for the decoders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_err.h"
#include "hunt_game.h"
#include "hunt_rules.h"
#include "hunt_state.h"

#define T0 INT64_C(1795888800000) /* 2026-11-28T18:00:00Z */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    /* splitmix64: seeded, reproducible across platforms */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static int64_t rnd_in(int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static hunt_rules *parse(const char *json)
{
    hunt_rules *r = NULL;
    char err[HUNT_ERR_MAX];
    int rc = hunt_rules_parse(json, strlen(json), &r, err, sizeof(err));
    if (rc)
        fail_msg("hunt did not parse: %s\n%s", err, json);
    return r;
}

/* ---- the reference model ------------------------------------------------ */

#define REF_MAXB 64

typedef struct ref_ev {
    int type, beacon;
    int32_t points;
    int64_t ts, before, score;
    uint32_t found;
} ref_ev;

typedef struct ref_player {
    char id[32];
    int used, joined, completed, has_last, last_beacon;
    int64_t last_ts, score;
    int found[REF_MAXB];
    int nfound;
    struct {
        int b;
        int64_t ts;
    } * hist; /* every hit ever, never pruned */
    size_t nhist;
} ref_player;

typedef struct ref_hunt {
    int nb, order_seq, hits, has_start, has_end;
    int32_t rssi_min, window_s, points[REF_MAXB];
    int64_t start, end;
    char ids[REF_MAXB][16];
} ref_hunt;

static int ref_player_ok(const char *p, size_t n)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@-";
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!p[i] || !strchr(ok, p[i]))
            return 0;
    return 1;
}

static int ref_reason(const ref_hunt *h, const ref_player *pl, const hunt_ping *g, int *beacon)
{
    *beacon = -1;
    if (!ref_player_ok(g->player, g->player_len))
        return HUNT_REJ_BAD_PLAYER;
    for (int i = 0; i < h->nb; i++)
        if (strlen(h->ids[i]) == g->beacon_len && memcmp(h->ids[i], g->beacon, g->beacon_len) == 0)
            *beacon = i;
    if (*beacon < 0)
        return HUNT_REJ_UNKNOWN_BEACON;
    if (g->rssi < -127 || g->rssi > 20)
        return HUNT_REJ_BAD_RSSI;
    if (g->ts_ms < INT64_C(946684800000) || g->ts_ms >= INT64_C(4102444800000))
        return HUNT_REJ_BAD_TIME;
    if (g->recv_ms && (g->ts_ms - g->recv_ms > 300000 || g->recv_ms - g->ts_ms > 86400000))
        return HUNT_REJ_BAD_TIME;
    if ((h->has_start && g->ts_ms < h->start) || (h->has_end && g->ts_ms >= h->end))
        return HUNT_IGN_OUTSIDE_HUNT;
    if (pl->has_last && g->ts_ms < pl->last_ts)
        return HUNT_IGN_OUT_OF_ORDER;
    if (pl->has_last && g->ts_ms == pl->last_ts && *beacon == pl->last_beacon)
        return HUNT_IGN_DUPLICATE;
    return HUNT_ACCEPTED;
}

static int ref_next(const ref_hunt *h, const ref_player *pl)
{
    for (int i = 0; i < h->nb; i++)
        if (!pl->found[i])
            return i;
    return -1;
}

/* Returns the reason; appends events to ev[*nev]. */
static int ref_step(const ref_hunt *h, ref_player *pl, const hunt_ping *g, ref_ev *ev, int *nev)
{
    int b;
    int reason = ref_reason(h, pl, g, &b);
    *nev = 0;
    if (reason != HUNT_ACCEPTED)
        return reason;
    if (!pl->joined) {
        pl->joined = 1;
        ev[(*nev)++] = (ref_ev){HUNT_EV_PLAYER_JOINED, -1, 0, g->ts_ms, pl->score, pl->score,
                                (uint32_t)pl->nfound};
    }
    pl->has_last = 1;
    pl->last_ts = g->ts_ms;
    pl->last_beacon = b;
    int is_hit = g->rssi >= h->rssi_min && !pl->found[b] && !pl->completed &&
                 (!h->order_seq || b == ref_next(h, pl));
    if (!is_hit)
        return reason;
    int count = 1;
    for (size_t i = 0; i < pl->nhist; i++)
        if (pl->hist[i].b == b && pl->hist[i].ts <= g->ts_ms &&
            g->ts_ms - pl->hist[i].ts <= (int64_t)h->window_s * 1000)
            count++;
    if (count < h->hits) {
        pl->hist = realloc(pl->hist, (pl->nhist + 1) * sizeof(*pl->hist));
        pl->hist[pl->nhist].b = b;
        pl->hist[pl->nhist++].ts = g->ts_ms;
        return reason;
    }
    int64_t before = pl->score;
    pl->found[b] = 1;
    pl->nfound++;
    pl->score += h->points[b];
    ev[(*nev)++] = (ref_ev){HUNT_EV_BEACON_FOUND, b, h->points[b], g->ts_ms, before, pl->score,
                            (uint32_t)pl->nfound};
    if (h->points[b])
        ev[(*nev)++] = (ref_ev){HUNT_EV_SCORE_CHANGED, -1, 0, g->ts_ms, before, pl->score,
                                (uint32_t)pl->nfound};
    if (pl->nfound == h->nb) {
        pl->completed = 1;
        ev[(*nev)++] = (ref_ev){HUNT_EV_HUNT_COMPLETED, -1, 0, g->ts_ms, before, pl->score,
                                (uint32_t)pl->nfound};
    }
    return reason;
}

/* ---- random hunts and workloads ---------------------------------------------- */

static char *gen_hunt(ref_hunt *h)
{
    memset(h, 0, sizeof(*h));
    h->nb = (int)rnd_in(1, 20);
    h->order_seq = (int)rnd_in(0, 2) == 0;
    h->hits = (int)rnd_in(1, 4);
    h->window_s = (int32_t)rnd_in(1, 20);
    h->rssi_min = (int32_t)rnd_in(-85, -55);
    h->has_start = (int)rnd_in(0, 1);
    h->has_end = (int)rnd_in(0, 1);
    h->start = T0 + 60000;
    h->end = T0 + 3600000;
    char *j = malloc(8192), *p = j;
    p += sprintf(p, "{\"id\":\"rand\",\"name\":\"R\",\"order\":\"%s\",",
                 h->order_seq ? "sequence" : "any");
    if (h->has_start)
        p += sprintf(p, "\"starts_at\":\"2026-11-28T18:01:00Z\",");
    if (h->has_end)
        p += sprintf(p, "\"ends_at\":\"2026-11-28T19:00:00Z\",");
    p += sprintf(p, "\"found\":{\"rssi_min\":%d,\"hits\":%d,\"window_s\":%d},\"beacons\":[",
                 h->rssi_min, h->hits, h->window_s);
    for (int i = 0; i < h->nb; i++) {
        h->points[i] = (int32_t)(rnd_in(0, 3) == 0 ? 0 : rnd_in(1, 50));
        snprintf(h->ids[i], sizeof(h->ids[i]), "b-%02d",
                 (int)rnd_in(0, 99) * 100 + i); /* unsorted ids */
        p += sprintf(p, "%s{\"id\":\"%s\",\"name\":\"n\",\"x\":%d,\"y\":0,\"points\":%d}",
                     i ? "," : "", h->ids[i], i, h->points[i]);
    }
    sprintf(p, "]}");
    return j;
}

typedef struct eng_player {
    unsigned char sess[HUNT_SESSION_ENC_MAX], prog[HUNT_PROGRESS_ENC_MAX];
    size_t slen, plen; /* 0: none stored yet */
} eng_player;

struct stats {
    long accepted, found, completed, reasons[32];
};

static void run_seed(uint64_t seed, int nplayers, int npings, struct stats *st)
{
    rng_state = seed;
    ref_hunt h;
    char *json = gen_hunt(&h);
    hunt_rules *r = parse(json);
    free(json);
    uint32_t nb = hunt_rules_def(r)->nbeacons;
    ref_player *rp = calloc((size_t)nplayers, sizeof(*rp));
    eng_player *ep = calloc((size_t)nplayers, sizeof(*ep));
    int64_t *clock = calloc((size_t)nplayers, sizeof(int64_t));
    int *at = calloc((size_t)nplayers, sizeof(int));
    for (int i = 0; i < nplayers; i++) {
        snprintf(rp[i].id, sizeof(rp[i].id), "p-%d", i);
        clock[i] = T0 + rnd_in(0, 120000);
        at[i] = (int)rnd_in(0, h.nb - 1);
    }
    hunt_session s;
    hunt_progress pr;
    for (int k = 0; k < npings; k++) {
        int pi = (int)rnd_in(0, nplayers - 1);
        char pid[40], bid[20];
        /* Mostly a player walks on or stays; some pings are noisy. */
        if (rnd_in(0, 9) < 3)
            at[pi] = h.order_seq && rnd_in(0, 1) ? ref_next(&h, &rp[pi]) : (int)rnd_in(0, h.nb - 1);
        if (at[pi] < 0)
            at[pi] = 0;
        clock[pi] += rnd_in(0, 4000);
        hunt_ping g = {rp[pi].id,
                       strlen(rp[pi].id),
                       h.ids[at[pi]],
                       strlen(h.ids[at[pi]]),
                       (int32_t)rnd_in(-95, -40),
                       clock[pi],
                       clock[pi] + rnd_in(-2000, 60000)};
        int noise = (int)rnd_in(0, 99);
        if (noise == 0) {
            snprintf(bid, sizeof(bid), "nope-%d", (int)rnd_in(0, 9));
            g.beacon = bid;
            g.beacon_len = strlen(bid);
        } else if (noise == 1)
            g.rssi = rnd_in(0, 1) ? -128 - (int32_t)rnd_in(0, 1000) : 21 + (int32_t)rnd_in(0, 200);
        else if (noise == 2)
            g.ts_ms = rnd_in(0, 1) ? rnd_in(-1000, INT64_C(946684799999))
                                   : INT64_C(4102444800000) + rnd_in(0, 5);
        else if (noise == 3)
            g.recv_ms = g.ts_ms + (rnd_in(0, 1) ? -300001 - rnd_in(0, 5) : 86400001 + rnd_in(0, 5));
        else if (noise == 4)
            g.recv_ms = 0;
        else if (noise == 5)
            g.ts_ms -= rnd_in(1, 9000); /* late */
        else if (noise == 6 && rp[pi].has_last) {
            g.ts_ms = rp[pi].last_ts;
            g.beacon = h.ids[rp[pi].last_beacon];
            g.beacon_len = strlen(g.beacon);
        } else if (noise == 7) {
            snprintf(pid, sizeof(pid), "%s", rnd_in(0, 1) ? "" : "p\x01x");
            g.player = pid;
            g.player_len = strlen(pid);
        } else if (noise == 8)
            g.ts_ms = h.end + rnd_in(0, 1000);
        else if (noise == 9)
            g.rssi = h.rssi_min; /* exactly at the threshold */
        else if (noise == 10)
            g.rssi = h.rssi_min - 1;
        int valid_player = g.player == rp[pi].id;

        /* reference */
        ref_ev rev[4];
        int rnev;
        int rreason = ref_step(&h, &rp[pi], &g, rev, &rnev);

        /* engine, with states passing through their encodings */
        if (ep[pi].slen)
            assert_int_equal(hunt_session_decode(ep[pi].sess, ep[pi].slen, nb, &s), 0);
        else
            hunt_session_init(&s);
        if (ep[pi].plen)
            assert_int_equal(hunt_progress_decode(ep[pi].prog, ep[pi].plen, nb, &pr), 0);
        else
            hunt_progress_init(&pr);
        hunt_step out;
        assert_int_equal(hunt_game_step(r, &s, &pr, &g, &out), 0);
        if ((int)out.reason != rreason || (int)out.nevents != rnev)
            fail_msg("seed %llu ping %d: engine %s/%u events, reference %s/%d",
                     (unsigned long long)seed, k, hunt_reason_name(out.reason), out.nevents,
                     hunt_reason_name(rreason), rnev);
        for (int e = 0; e < rnev; e++) {
            const hunt_event *x = &out.events[e];
            assert_int_equal(x->type, rev[e].type);
            assert_int_equal(x->beacon, rev[e].beacon);
            assert_int_equal(x->points, rev[e].points);
            assert_true(x->ts_ms == rev[e].ts && x->score == rev[e].score);
            assert_true(x->score_before == rev[e].before);
            assert_int_equal(x->found, rev[e].found);
            st->found += x->type == HUNT_EV_BEACON_FOUND;
            st->completed += x->type == HUNT_EV_HUNT_COMPLETED;
        }
        st->reasons[out.reason]++;
        if (out.reason == HUNT_ACCEPTED) {
            st->accepted++;
            assert_true(valid_player);
            assert_int_equal(s.next, h.order_seq ? ref_next(&h, &rp[pi]) : HUNT_NONE);
            ep[pi].slen = hunt_session_encode(&s, ep[pi].sess);
            ep[pi].plen = hunt_progress_encode(&pr, nb, ep[pi].prog);
        }
    }
    /* Final state: identical found sets and scores for every player. */
    for (int i = 0; i < nplayers; i++) {
        if (!ep[i].plen) {
            assert_false(rp[i].joined);
            free(rp[i].hist);
            continue;
        }
        assert_int_equal(hunt_progress_decode(ep[i].prog, ep[i].plen, nb, &pr), 0);
        assert_true(pr.score == rp[i].score);
        assert_int_equal(pr.nfound, rp[i].nfound);
        for (int b = 0; b < h.nb; b++)
            assert_int_equal(hunt_progress_has(&pr, (uint32_t)b), rp[i].found[b]);
        assert_int_equal(!!(pr.flags & HUNT_PROGRESS_COMPLETED), rp[i].completed);
        assert_true(pr.last_seen_ms == rp[i].last_ts);
        free(rp[i].hist);
    }
    free(rp);
    free(ep);
    free(clock);
    free(at);
    hunt_rules_free(r);
}

static void test_against_reference(void **unused)
{
    (void)unused;
    struct stats st = {0};
    for (uint64_t seed = 1; seed <= 40; seed++)
        run_seed(seed, (int)(50 + seed * 7), 20000, &st);
    /* The workload must exercise every outcome, or the comparison proves little. */
    assert_true(st.found > 1000 && st.completed > 10);
    for (int reason = 0; reason < 32; reason++)
        if (strcmp(hunt_reason_name(reason), "unknown") != 0 && st.reasons[reason] == 0)
            fail_msg("workload never produced reason %s", hunt_reason_name(reason));
    print_message("reference: %ld accepted, %ld found, %ld completed\n", st.accepted, st.found,
                  st.completed);
}

static void assert_same_session(const hunt_session *a, const hunt_session *b)
{
    assert_true(a->last_ts_ms == b->last_ts_ms);
    assert_int_equal(a->current, b->current);
    assert_int_equal(a->next, b->next);
    assert_int_equal(a->nhits, b->nhits);
    for (uint32_t i = 0; i < a->nhits; i++) {
        assert_int_equal(a->hits[i].beacon, b->hits[i].beacon);
        assert_true(a->hits[i].ts_ms == b->hits[i].ts_ms);
    }
}

/* ---- focused tests ---------------------------------------------------------------- */

static const char *one_hunt(const char *order, int rssi, int hits, int window)
{
    static char j[1024];
    snprintf(j, sizeof(j),
             "{\"id\":\"t\",\"name\":\"T\",\"order\":\"%s\",\"found\":{\"rssi_min\":%d,\"hits\":%d,"
             "\"window_s\":%d},"
             "\"beacons\":[{\"id\":\"A\",\"name\":\"a\",\"x\":0,\"y\":0,\"points\":10},"
             "{\"id\":\"B\",\"name\":\"b\",\"x\":0,\"y\":0,\"points\":0},"
             "{\"id\":\"C\",\"name\":\"c\",\"x\":0,\"y\":0,\"points\":5}]}",
             order, rssi, hits, window);
    return j;
}

static hunt_step step(hunt_rules *r, hunt_session *s, hunt_progress *p, const char *beacon,
                      int rssi, int64_t ts)
{
    hunt_ping g = {"alice", 5, beacon, strlen(beacon), rssi, ts, ts};
    hunt_step out;
    assert_int_equal(hunt_game_step(r, s, p, &g, &out), 0);
    return out;
}

/* A session is over when a ping comes session_ttl_s (default 1800) or more
 * of ping time after the latest accepted one: decided here on ping times
 * alone, so any replay decides the same.  Progress stays. */
static void test_session_expires_on_ping_time(void **unused)
{
    (void)unused;
    hunt_rules *r = parse(one_hunt("any", -70, 2, 60));
    hunt_session s;
    hunt_progress p;
    hunt_session_init(&s);
    hunt_progress_init(&p);
    hunt_step o = step(r, &s, &p, "A", -50, T0);
    assert_int_equal(o.nevents, 1); /* joined */
    assert_int_equal(o.session_expired, 0);
    o = step(r, &s, &p, "C", -50, T0 + 1800000 - 1); /* one ms before the TTL: live */
    assert_int_equal(o.session_expired, 0);
    assert_int_equal(s.nhits, 1); /* the hit at C (the one at A left the window) */
    o = step(r, &s, &p, "C", -90, T0 + 2 * 1800000 - 1); /* a TTL after the last ping */
    assert_int_equal(o.reason, HUNT_ACCEPTED);
    assert_int_equal(o.session_expired, 1);
    assert_int_equal(s.nhits, 0); /* a new session: no hit kept */
    assert_int_equal(s.current, 2);
    assert_int_equal(s.last_ts_ms, T0 + 2 * 1800000 - 1);
    assert_true(p.flags & HUNT_PROGRESS_JOINED);
    /* A first ping of a new player is no expiry. */
    hunt_session_init(&s);
    hunt_progress_init(&p);
    o = step(r, &s, &p, "A", -50, T0);
    assert_int_equal(o.session_expired, 0);
    hunt_rules_free(r);
}

static void test_window_edges(void **unused)
{
    (void)unused;
    hunt_rules *r = parse(one_hunt("any", -70, 2, 10));
    hunt_session s;
    hunt_progress p;
    hunt_session_init(&s);
    hunt_progress_init(&p);
    /* -71 is below the threshold: accepted, not a hit. */
    hunt_step o = step(r, &s, &p, "A", -71, T0);
    assert_int_equal(o.reason, HUNT_ACCEPTED);
    assert_int_equal(o.nevents, 1); /* player_joined */
    assert_int_equal(o.hit, 0);
    /* -70 is inclusive: a hit.  Then exactly window_s later: found. */
    o = step(r, &s, &p, "A", -70, T0 + 1);
    assert_true(o.hit && o.nevents == 0);
    o = step(r, &s, &p, "A", -70, T0 + 1 + 10000);
    assert_int_equal(o.nevents, 2);
    assert_int_equal(o.events[0].type, HUNT_EV_BEACON_FOUND);
    assert_int_equal(o.events[1].type, HUNT_EV_SCORE_CHANGED);
    assert_true(p.score == 10);
    /* One millisecond past the window: the first hit no longer counts. */
    o = step(r, &s, &p, "C", -60, T0 + 20000);
    o = step(r, &s, &p, "C", -60, T0 + 20000 + 10001);
    assert_true(o.hit && o.nevents == 0 && !hunt_progress_has(&p, 2));
    o = step(r, &s, &p, "C", -60, T0 + 20000 + 10002);
    assert_true(o.nevents == 2 && hunt_progress_has(&p, 2));
    /* A found beacon counts once. */
    o = step(r, &s, &p, "A", -40, T0 + 40000);
    o = step(r, &s, &p, "A", -40, T0 + 40001);
    assert_true(!o.hit && o.nevents == 0 && p.score == 15);
    hunt_rules_free(r);
}

static void test_sequence_and_events(void **unused)
{
    (void)unused;
    hunt_rules *r = parse(one_hunt("sequence", -70, 1, 10));
    hunt_session s;
    hunt_progress p;
    hunt_session_init(&s);
    hunt_progress_init(&p);
    /* B and C are not next: no find. */
    hunt_step o = step(r, &s, &p, "B", -50, T0);
    assert_int_equal(o.nevents, 1);
    assert_int_equal(o.events[0].type, HUNT_EV_PLAYER_JOINED);
    assert_int_equal(s.next, 0);
    o = step(r, &s, &p, "C", -50, T0 + 1);
    assert_true(!o.hit && o.nevents == 0);
    o = step(r, &s, &p, "A", -50, T0 + 2);
    assert_true(o.nevents == 2 && o.events[0].beacon == 0 && s.next == 1);
    o = step(r, &s, &p, "C", -50, T0 + 3);
    assert_true(!o.hit && o.nevents == 0);
    /* B has 0 points: beacon_found but no score_changed. */
    o = step(r, &s, &p, "B", -50, T0 + 4);
    assert_int_equal(o.nevents, 1);
    assert_true(o.events[0].type == HUNT_EV_BEACON_FOUND && o.events[0].points == 0);
    /* The last one: found, score, completed, in that order. */
    o = step(r, &s, &p, "C", -50, T0 + 5);
    assert_int_equal(o.nevents, 3);
    assert_int_equal(o.events[0].type, HUNT_EV_BEACON_FOUND);
    assert_int_equal(o.events[1].type, HUNT_EV_SCORE_CHANGED);
    assert_true(o.events[1].score_before == 10 && o.events[1].score == 15);
    assert_int_equal(o.events[2].type, HUNT_EV_HUNT_COMPLETED);
    assert_int_equal(o.events[2].found, 3);
    assert_true((p.flags & HUNT_PROGRESS_COMPLETED) && s.next == HUNT_NONE);
    assert_true(p.joined_ms == T0 && p.last_found_ms == T0 + 5);
    /* Nothing more happens after completion. */
    o = step(r, &s, &p, "A", -50, T0 + 6);
    assert_true(o.reason == HUNT_ACCEPTED && o.nevents == 0);
    hunt_rules_free(r);
    /* Names. */
    assert_string_equal(hunt_event_name(HUNT_EV_HUNT_COMPLETED), "hunt_completed");
    assert_string_equal(hunt_reason_name(HUNT_REJ_BAD_TIME), "bad_time");
    assert_true(hunt_reason_is_rejection(HUNT_REJ_UNKNOWN_BEACON) &&
                !hunt_reason_is_rejection(HUNT_IGN_DUPLICATE));
}

static void test_hunt_window_and_reasons(void **unused)
{
    (void)unused;
    hunt_rules *r =
        parse("{\"id\":\"t\",\"name\":\"T\",\"starts_at\":\"2026-11-28T18:00:00Z\","
              "\"ends_at\":\"2026-11-28T19:00:00Z\",\"found\":{\"rssi_min\":-70,\"hits\":1,"
              "\"window_s\":5},"
              "\"beacons\":[{\"id\":\"A\",\"name\":\"a\",\"x\":0,\"y\":0,\"points\":3}]}");
    hunt_session s;
    hunt_progress p;
    hunt_session_init(&s);
    hunt_progress_init(&p);
    hunt_session s0 = s;
    hunt_progress p0 = p;
    const int64_t end = T0 + 3600000;
    struct {
        const char *player;
        const char *beacon;
        int rssi;
        int64_t ts, recv;
        int reason;
    } cases[] = {
        {"alice", "A", -50, T0 - 1, 0, HUNT_IGN_OUTSIDE_HUNT},
        {"alice", "A", -50, end, 0, HUNT_IGN_OUTSIDE_HUNT},
        {"", "A", -50, T0, 0, HUNT_REJ_BAD_PLAYER},
        {"al\nice", "A", -50, T0, 0, HUNT_REJ_BAD_PLAYER},
        {"al ice", "A", -50, T0, 0, HUNT_REJ_BAD_PLAYER},
        {"al\xc3\xa9", "A", -50, T0, 0, HUNT_REJ_BAD_PLAYER},
        {"alice", "a", -50, T0, 0, HUNT_REJ_UNKNOWN_BEACON},
        {"alice", "", -50, T0, 0, HUNT_REJ_UNKNOWN_BEACON},
        {"alice", "A", -128, T0, 0, HUNT_REJ_BAD_RSSI},
        {"alice", "A", 21, T0, 0, HUNT_REJ_BAD_RSSI},
        {"alice", "A", -50, INT64_C(946684799999), 0, HUNT_REJ_BAD_TIME},
        {"alice", "A", -50, INT64_C(4102444800000), 0, HUNT_REJ_BAD_TIME},
        {"alice", "A", -50, T0 + 300001, T0, HUNT_REJ_BAD_TIME},
        {"alice", "A", -50, T0, T0 + 86400001, HUNT_REJ_BAD_TIME},
        {"alice", "A", -50, T0, INT64_MAX, HUNT_REJ_BAD_TIME},
        {"alice", "A", -50, T0, INT64_MIN, HUNT_REJ_BAD_TIME},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hunt_ping g = {cases[i].player, strlen(cases[i].player),
                       cases[i].beacon, strlen(cases[i].beacon),
                       cases[i].rssi,   cases[i].ts,
                       cases[i].recv};
        hunt_step o;
        assert_int_equal(hunt_game_step(r, &s, &p, &g, &o), 0);
        if ((int)o.reason != cases[i].reason)
            fail_msg("case %zu: %s, want %s", i, hunt_reason_name(o.reason),
                     hunt_reason_name(cases[i].reason));
        assert_int_equal(o.nevents, 0);
        assert_same_session(&s, &s0);
        assert_memory_equal(&p, &p0, sizeof(p));
    }
    /* A player id of 64 bytes is fine, 65 is not. */
    char long_id[66];
    memset(long_id, 'x', sizeof(long_id));
    long_id[1] = '@';
    long_id[2] = ':';
    hunt_ping g = {long_id, 65, "A", 1, -50, T0, 0};
    hunt_step o;
    hunt_game_step(r, &s, &p, &g, &o);
    assert_int_equal(o.reason, HUNT_REJ_BAD_PLAYER);
    g.player_len = 64;
    /* Bounds of the skew check are inclusive. */
    g.ts_ms = T0 + 300000;
    g.recv_ms = T0;
    hunt_game_step(r, &s, &p, &g, &o);
    assert_int_equal(o.reason, HUNT_ACCEPTED);
    assert_int_equal(o.nevents, 4); /* joined, found, score, completed (one beacon) */
    /* Late and repeated pings. */
    g.recv_ms = 0;
    g.ts_ms = T0 + 299999;
    hunt_game_step(r, &s, &p, &g, &o);
    assert_int_equal(o.reason, HUNT_IGN_OUT_OF_ORDER);
    g.ts_ms = T0 + 300000;
    hunt_game_step(r, &s, &p, &g, &o);
    assert_int_equal(o.reason, HUNT_IGN_DUPLICATE);
    /* After the session expired (the worker passes a fresh one), progress
     * still knows the latest time: an older ping stays out of order, and a
     * newer one is accepted without a second player_joined. */
    hunt_session fresh;
    hunt_session_init(&fresh);
    g.ts_ms = T0 + 299999;
    hunt_game_step(r, &fresh, &p, &g, &o);
    assert_int_equal(o.reason, HUNT_IGN_OUT_OF_ORDER);
    g.ts_ms = T0 + 300000; /* same time, but the session is new: not a repeat */
    hunt_game_step(r, &fresh, &p, &g, &o);
    assert_int_equal(o.reason, HUNT_ACCEPTED);
    assert_int_equal(o.nevents, 0);
    assert_true(fresh.current == 0 && p.last_seen_ms == T0 + 300000);
    hunt_rules_free(r);
}

static void test_hit_cap_and_foreign_state(void **unused)
{
    (void)unused;
    hunt_rules *r = parse(
        "{\"id\":\"t\",\"name\":\"T\",\"found\":{\"rssi_min\":-70,\"hits\":100,\"window_s\":3600},"
        "\"session_ttl_s\":3600,\"beacons\":[{\"id\":\"A\",\"name\":\"a\",\"x\":0,\"y\":0,"
        "\"points\":1},"
        "{\"id\":\"B\",\"name\":\"b\",\"x\":0,\"y\":0,\"points\":1},"
        "{\"id\":\"C\",\"name\":\"c\",\"x\":0,\"y\":0,\"points\":1}]}");
    hunt_session s;
    hunt_progress p;
    hunt_session_init(&s);
    hunt_progress_init(&p);
    int64_t t = T0;
    const char *bs[] = {"A", "B", "C"};
    for (int b = 0; b < 3; b++)
        for (int i = 0; i < 99; i++)
            step(r, &s, &p, bs[b], -50, t++);
    /* 297 partial hits, the cap keeps the newest 256: A lost its oldest 41. */
    assert_int_equal(s.nhits, HUNT_SESSION_MAX_HITS);
    assert_int_equal(s.hits[0].beacon, 0);
    assert_true(s.hits[0].ts_ms == T0 + 41);
    hunt_step o = step(r, &s, &p, "A", -50, t++);
    assert_true(o.hit && o.nevents == 0 && p.nfound == 0);
    /* The capped session still round-trips. */
    unsigned char buf[HUNT_SESSION_ENC_MAX];
    size_t n = hunt_session_encode(&s, buf);
    hunt_session s2;
    assert_int_equal(hunt_session_decode(buf, n, 3, &s2), 0);
    assert_same_session(&s, &s2);
    /* A state naming a beacon this hunt lacks is refused, untouched. */
    s.current = 7;
    hunt_session before = s;
    hunt_ping g = {"alice", 5, "A", 1, -50, t, 0};
    assert_int_equal(hunt_game_step(r, &s, &p, &g, &o), CN_EINVAL);
    assert_int_equal(s.current, before.current);
    s.current = 0;
    p.found[1] = 1; /* beacon 8 */
    assert_int_equal(hunt_game_step(r, &s, &p, &g, &o), CN_EINVAL);
    p.found[1] = 0;
    p.score = 4; /* more than the hunt's 3 points */
    assert_int_equal(hunt_game_step(r, &s, &p, &g, &o), CN_EINVAL);
    p.score = 0;
    assert_int_equal(hunt_game_step(r, &s, &p, &g, &o), 0);
    hunt_rules_free(r);
}

/* ---- codecs ---------------------------------------------------------------------- */

static void check_decoders_total(const unsigned char *enc, size_t n, int is_session, uint32_t nb)
{
    unsigned char buf[HUNT_SESSION_ENC_MAX + 8];
    hunt_session s;
    hunt_progress p;
    /* Every strict prefix is refused. */
    for (size_t k = 0; k < n; k++)
        assert_int_not_equal(is_session ? hunt_session_decode(enc, k, nb, &s)
                                        : hunt_progress_decode(enc, k, nb, &p),
                             0);
    /* A trailing byte is refused. */
    memcpy(buf, enc, n);
    buf[n] = 0;
    assert_int_equal(is_session ? hunt_session_decode(buf, n + 1, nb, &s)
                                : hunt_progress_decode(buf, n + 1, nb, &p),
                     CN_ECORRUPT);
    /* Any single-byte change: refused, or decodes to something that
     * re-encodes to exactly those bytes (the decoder accepts only
     * canonical, valid states). */
    for (size_t k = 0; k < n; k++) {
        for (int v = 0; v < 256; v += 17) {
            memcpy(buf, enc, n);
            buf[k] ^= (unsigned char)(v | 1);
            unsigned char re[HUNT_SESSION_ENC_MAX];
            if (is_session) {
                if (hunt_session_decode(buf, n, nb, &s) == 0) {
                    size_t m = hunt_session_encode(&s, re);
                    assert_true(m == n && memcmp(re, buf, n) == 0);
                }
            } else if (hunt_progress_decode(buf, n, nb, &p) == 0) {
                /* The stored bit count may be below nb (a hunt that grew
                 * since), so compare values, not bytes. */
                hunt_progress p2;
                size_t m = hunt_progress_encode(&p, nb, re);
                assert_int_equal(hunt_progress_decode(re, m, nb, &p2), 0);
                assert_memory_equal(&p, &p2, sizeof(p));
            }
        }
    }
}

static void test_codecs(void **unused)
{
    (void)unused;
    hunt_session s;
    hunt_session_init(&s);
    unsigned char buf[HUNT_SESSION_ENC_MAX];
    size_t n = hunt_session_encode(&s, buf);
    hunt_session d;
    assert_int_equal(hunt_session_decode(buf, n, 5, &d), 0);
    assert_true(d.current == HUNT_NONE && d.nhits == 0 && d.last_ts_ms == 0);
    s.last_ts_ms = T0 + 5000;
    s.current = 3;
    s.next = 4;
    s.nhits = 3;
    s.hits[0] = (hunt_hit){1, T0};
    s.hits[1] = (hunt_hit){2, T0 + 10};
    s.hits[2] = (hunt_hit){1, T0 + 5000};
    n = hunt_session_encode(&s, buf);
    assert_true(n < 20); /* compact: deltas, not absolute times */
    assert_int_equal(hunt_session_decode(buf, n, 5, &d), 0);
    assert_same_session(&s, &d);
    /* Beacon indices are checked against the hunt. */
    assert_int_equal(hunt_session_decode(buf, n, 3, &d), CN_ECORRUPT);
    check_decoders_total(buf, n, 1, 5);
    buf[0] = 2;
    assert_int_equal(hunt_session_decode(buf, n, 5, &d), CN_EUNSUPPORTED);
    assert_int_equal(hunt_session_decode(buf, 0, 5, &d), CN_ECORRUPT);
    /* Hits out of time order are refused. */
    s.hits[1].ts_ms = T0 - 1;
    n = hunt_session_encode(&s, buf);
    assert_int_equal(hunt_session_decode(buf, n, 5, &d), CN_ECORRUPT);
    /* Too many hits claimed. */
    unsigned char many[] = {1, 0x80, 0x80, 0x80, 0x80, 0x01, 1, 0, 0x81, 0x02};
    assert_int_equal(hunt_session_decode(many, sizeof(many), 5, &d), CN_ECORRUPT);

    hunt_progress p, q;
    hunt_progress_init(&p);
    unsigned char pb[HUNT_PROGRESS_ENC_MAX];
    n = hunt_progress_encode(&p, 12, pb);
    assert_int_equal(hunt_progress_decode(pb, n, 12, &q), 0);
    assert_memory_equal(&p, &q, sizeof(p));
    p.flags = HUNT_PROGRESS_JOINED;
    p.joined_ms = T0;
    p.last_found_ms = T0 + 7;
    p.last_seen_ms = T0 + 9;
    p.found[0] = 0x05;
    p.found[1] = 0x08; /* beacons 0, 2, 11 */
    p.nfound = 3;
    p.score = 42;
    n = hunt_progress_encode(&p, 12, pb);
    assert_int_equal(hunt_progress_decode(pb, n, 12, &q), 0);
    assert_memory_equal(&p, &q, sizeof(p));
    assert_true(hunt_progress_has(&q, 11) && !hunt_progress_has(&q, 1));
    /* Beacon 11 does not exist in an 11-beacon hunt. */
    assert_int_equal(hunt_progress_decode(pb, n, 11, &q), CN_ECORRUPT);
    check_decoders_total(pb, n, 0, 12);
    pb[0] = 0;
    assert_int_equal(hunt_progress_decode(pb, n, 12, &q), CN_EUNSUPPORTED);
    /* Inconsistent times: found before joining. */
    p.last_found_ms = T0 - 1;
    n = hunt_progress_encode(&p, 12, pb);
    assert_int_equal(hunt_progress_decode(pb, n, 12, &q), CN_ECORRUPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_expires_on_ping_time),
        cmocka_unit_test(test_window_edges),
        cmocka_unit_test(test_sequence_and_events),
        cmocka_unit_test(test_hunt_window_and_reasons),
        cmocka_unit_test(test_hit_cap_and_foreign_state),
        cmocka_unit_test(test_codecs),
        cmocka_unit_test(test_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
