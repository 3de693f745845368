/* SPDX-License-Identifier: MIT */
/*
 * test_hunt_player.c — the engine running on states kept in RocksDB:
 * a seeded workload stepped through load/step/save/write (with a reopen
 * in the middle) ends in exactly the states of the same workload kept in
 * memory; the clock expires no session (the engine does, on ping time),
 * and a ping a session TTL after the last one starts a new session that
 * keeps the found set, score and the ordering guard; undecodable stored values
 * are reported and never half-used.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_buf.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "hunt_game.h"
#include "hunt_player.h"
#include "hunt_rules.h"
#include "hunt_store.h"

#define T0 INT64_C(1795888800000)
#define NPLAYERS 40
#define NPINGS 4000

static _Atomic int64_t fake_now;
static int64_t fake_clock(void *ud)
{
    (void)ud;
    return atomic_load(&fake_now);
}

static hunt_store *open_store(const char *dir)
{
    hunt_store_opts o = {0};
    o.clock = fake_clock;
    o.no_sync = 1; /* durability is not what this test is about */
    hunt_store *s;
    assert_int_equal(hunt_store_open(dir, &o, &s, NULL, 0), 0);
    return s;
}

static hunt_rules *sample(void)
{
    const char *src = getenv("CAIRN_SRC");
    char path[4096], err[HUNT_ERR_MAX];
    snprintf(path, sizeof(path), "%s/hunt/sample-hunt.json", src && *src ? src : ".");
    hunt_rules *r;
    if (hunt_rules_load(path, &r, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    return r;
}

static uint64_t rng = 12345;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void test_store_matches_memory(void **st)
{
    (void)st;
    hunt_rules *r = sample();
    const hunt_def *d = hunt_rules_def(r);
    char *dir = cn_test_tmpdir("huntplayer");
    atomic_store(&fake_now, T0);
    hunt_store *s = open_store(dir);
    hunt_batch *b;
    assert_int_equal(hunt_batch_new(s, &b), 0);
    cn_buf scratch = CN_BUF_INIT;
    static hunt_session msess[NPLAYERS];
    static hunt_progress mprog[NPLAYERS];
    int64_t clock[NPLAYERS];
    uint32_t at[NPLAYERS];
    long events_mem = 0, events_db = 0, found = 0;
    for (int i = 0; i < NPLAYERS; i++) {
        hunt_session_init(&msess[i]);
        hunt_progress_init(&mprog[i]);
        clock[i] = T0 + rnd(60000);
        at[i] = rnd(d->nbeacons);
    }
    for (int k = 0; k < NPINGS; k++) {
        if (k == NPINGS / 2) { /* a restart in the middle changes nothing */
            hunt_batch_free(b);
            hunt_store_close(s);
            s = open_store(dir);
            assert_int_equal(hunt_batch_new(s, &b), 0);
        }
        int i = (int)rnd(NPLAYERS);
        char player[16];
        int plen = snprintf(player, sizeof(player), "p%02d", i);
        if (rnd(4) == 0)
            at[i] = rnd(d->nbeacons);
        clock[i] += rnd(3000);
        atomic_store(&fake_now, clock[i]); /* wall clock follows the pings */
        const char *bid = d->beacons[at[i]].id;
        hunt_ping g = {player, (size_t)plen, bid, strlen(bid), -50 - (int32_t)rnd(40), clock[i], 0};
        hunt_step om, od;
        assert_int_equal(hunt_game_step(r, &msess[i], &mprog[i], &g, &om), 0);
        hunt_session ss;
        hunt_progress pp;
        assert_int_equal(hunt_player_load(s, r, player, (size_t)plen, &ss, &pp, &scratch, NULL), 0);
        assert_int_equal(hunt_game_step(r, &ss, &pp, &g, &od), 0);
        assert_int_equal(om.reason, od.reason);
        assert_int_equal(om.nevents, od.nevents);
        events_mem += om.nevents;
        events_db += od.nevents;
        if (od.reason == HUNT_ACCEPTED) {
            hunt_batch_clear(b);
            assert_int_equal(hunt_player_save(b, r, player, (size_t)plen, &ss, &pp), 0);
            assert_int_equal(hunt_store_write(s, b), 0);
        }
    }
    for (int i = 0; i < NPLAYERS; i++) {
        char player[16];
        int plen = snprintf(player, sizeof(player), "p%02d", i);
        hunt_session ss;
        hunt_progress pp;
        assert_int_equal(hunt_player_load(s, r, player, (size_t)plen, &ss, &pp, &scratch, NULL), 0);
        assert_memory_equal(&pp, &mprog[i], sizeof(pp));
        assert_true(ss.last_ts_ms == msess[i].last_ts_ms && ss.nhits == msess[i].nhits);
        found += pp.nfound;
    }
    assert_true(events_mem == events_db && found > NPLAYERS);
    hunt_batch_free(b);
    hunt_store_close(s);
    cn_buf_free(&scratch);
    cn_test_rmrf(dir);
    free(dir);
    hunt_rules_free(r);
}

static void test_expiry_on_ping_time_keeps_progress(void **st)
{
    (void)st;
    hunt_rules *r = sample();
    char *dir = cn_test_tmpdir("huntplayer");
    atomic_store(&fake_now, T0);
    hunt_store *s = open_store(dir);
    hunt_batch *b;
    assert_int_equal(hunt_batch_new(s, &b), 0);
    cn_buf scratch = CN_BUF_INIT;
    hunt_session ss;
    hunt_progress pp;
    hunt_step o;
    unsigned fresh = 99;
    /* Find b-01 (hits 2 within 10 s), plus one hit at b-02. */
    int64_t ts[] = {T0, T0 + 1000, T0 + 2000};
    const char *bs[] = {"b-01", "b-01", "b-02"};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(hunt_player_load(s, r, "ann", 3, &ss, &pp, &scratch, &fresh), 0);
        assert_int_equal(fresh, k == 0 ? HUNT_PLAYER_FRESH : 0);
        hunt_ping g = {"ann", 3, bs[k], 4, -60, ts[k], 0};
        assert_int_equal(hunt_game_step(r, &ss, &pp, &g, &o), 0);
        hunt_batch_clear(b);
        assert_int_equal(hunt_player_save(b, r, "ann", 3, &ss, &pp), 0);
        assert_int_equal(hunt_store_write(s, b), 0);
    }
    assert_int_equal(pp.nfound, 1);
    assert_int_equal(ss.nhits, 1);
    /* A day of clock later the stored session is still read back as it was. */
    atomic_store(&fake_now, T0 + 1440 * 60000);
    assert_int_equal(hunt_player_load(s, r, "ann", 3, &ss, &pp, &scratch, &fresh), 0);
    assert_int_equal(fresh, 0);
    assert_true(ss.current != HUNT_NONE && ss.nhits == 1);
    assert_true(pp.nfound == 1 && pp.score == 5 && pp.last_seen_ms == T0 + 2000);
    /* A late ping is still recognised; a ping 30 min of ping time after the
     * last one meets a new session: it joins no second time and needs two
     * fresh hits at b-02 (the old one was in the old session). */
    hunt_ping late = {"ann", 3, "b-02", 4, -60, T0 + 1500, 0};
    assert_int_equal(hunt_game_step(r, &ss, &pp, &late, &o), 0);
    assert_int_equal(o.reason, HUNT_IGN_OUT_OF_ORDER);
    hunt_ping now = {"ann", 3, "b-02", 4, -60, T0 + 2000 + 30 * 60000, 0};
    assert_int_equal(hunt_game_step(r, &ss, &pp, &now, &o), 0);
    assert_true(o.reason == HUNT_ACCEPTED && o.nevents == 0 && o.hit && o.session_expired);
    assert_true(ss.nhits == 1 && pp.nfound == 1 && pp.score == 5);
    hunt_batch_free(b);
    hunt_store_close(s);
    cn_buf_free(&scratch);
    cn_test_rmrf(dir);
    free(dir);
    hunt_rules_free(r);
}

static void test_undecodable(void **st)
{
    (void)st;
    hunt_rules *r = sample();
    char *dir = cn_test_tmpdir("huntplayer");
    atomic_store(&fake_now, T0);
    hunt_store *s = open_store(dir);
    hunt_batch *b;
    assert_int_equal(hunt_batch_new(s, &b), 0);
    cn_buf scratch = CN_BUF_INIT;
    hunt_session ss;
    hunt_progress pp;
    assert_int_equal(hunt_batch_put(b, HUNT_CF_PROGRESS, "mallory", 7, "\x01\xff", 2), 0);
    assert_int_equal(hunt_batch_put(b, HUNT_CF_SESSIONS, "trudy", 5, "\x07", 1), 0);
    assert_int_equal(hunt_store_write(s, b), 0);
    ss.nhits = 99;
    pp.score = 99;
    assert_int_equal(hunt_player_load(s, r, "mallory", 7, &ss, &pp, &scratch, NULL), CN_ECORRUPT);
    assert_true(ss.nhits == 0 && pp.score == 0 && ss.current == HUNT_NONE);
    /* A bad session is replaced and flagged; the player's progress is kept. */
    unsigned flags = 0;
    hunt_batch_clear(b);
    assert_int_equal(
        hunt_batch_put(b, HUNT_CF_PROGRESS, "trudy", 5, "\x01\x00\x00\x00\x00\x00\x00", 7), 0);
    assert_int_equal(hunt_store_write(s, b), 0);
    assert_int_equal(hunt_player_load(s, r, "trudy", 5, &ss, &pp, &scratch, &flags), 0);
    assert_int_equal(flags, HUNT_PLAYER_FRESH | HUNT_PLAYER_SESSION_BAD);
    assert_true(ss.current == HUNT_NONE && pp.flags == 0);
    /* A progress record from a future version is an error. */
    hunt_batch_clear(b);
    assert_int_equal(hunt_batch_put(b, HUNT_CF_PROGRESS, "trudy", 5, "\x02", 1), 0);
    assert_int_equal(hunt_store_write(s, b), 0);
    assert_int_equal(hunt_player_load(s, r, "trudy", 5, &ss, &pp, &scratch, &flags),
                     CN_EUNSUPPORTED);
    assert_int_equal(hunt_player_save(b, r, "", 0, &ss, &pp), CN_EINVAL);
    hunt_batch_free(b);
    hunt_store_close(s);
    cn_buf_free(&scratch);
    cn_test_rmrf(dir);
    free(dir);
    hunt_rules_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_matches_memory),
        cmocka_unit_test(test_expiry_on_ping_time_keeps_progress),
        cmocka_unit_test(test_undecodable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
