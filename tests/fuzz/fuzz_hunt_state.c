/* SPDX-License-Identifier: MIT */
/*
 * fuzz_hunt_state.c — libFuzzer target for the session and progress
 * decoders (hunt_state.h), the bytes a worker reads back from RocksDB.
 * Input: byte 0 = length L of the session bytes (the rest is progress),
 * then session bytes, then progress bytes.  Whatever decodes must
 * re-encode to bytes that decode to the same state (sessions: to the very
 * same bytes), and the game engine must take a ping on those states
 * without crashing, leaving states that still encode and decode.
 * Corpus: corpus/fuzz_hunt_state/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cn_err.h"
#include "hunt_game.h"
#include "hunt_rules.h"
#include "hunt_state.h"

#define NB 16

static hunt_rules *fuzz_rules(void)
{
    static hunt_rules *r;
    if (!r) {
        static const char json[] = "{\"id\":\"f\",\"name\":\"F\",\"order\":\"sequence\",\"found\":{"
                                   "\"rssi_min\":-70,\"hits\":3,"
                                   "\"window_s\":10},\"beacons\":["
                                   "{\"id\":\"b0\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":1},{"
                                   "\"id\":\"b1\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":2},"
                                   "{\"id\":\"b2\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":3},{"
                                   "\"id\":\"b3\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":0},"
                                   "{\"id\":\"b4\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":5},{"
                                   "\"id\":\"b5\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":6},"
                                   "{\"id\":\"b6\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":7},{"
                                   "\"id\":\"b7\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":8},"
                                   "{\"id\":\"b8\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":9},{"
                                   "\"id\":\"b9\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":1},"
                                   "{\"id\":\"ba\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":1},{"
                                   "\"id\":\"bb\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":1},"
                                   "{\"id\":\"bc\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":1},{"
                                   "\"id\":\"bd\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":1},"
                                   "{\"id\":\"be\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":1},{"
                                   "\"id\":\"bf\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":1}]}";
        if (hunt_rules_parse(json, sizeof(json) - 1, &r, NULL, 0) != 0)
            abort();
    }
    return r;
}

static void roundtrip(const hunt_session *s, const hunt_progress *p)
{
    unsigned char sb[HUNT_SESSION_ENC_MAX], pb[HUNT_PROGRESS_ENC_MAX];
    hunt_session s2;
    hunt_progress p2;
    size_t sn = hunt_session_encode(s, sb), pn = hunt_progress_encode(p, NB, pb);
    if (sn > sizeof(sb) || pn > sizeof(pb))
        abort();
    if (hunt_session_decode(sb, sn, NB, &s2) != 0 || hunt_progress_decode(pb, pn, NB, &p2) != 0)
        abort();
    if (memcmp(&p2, p, sizeof(p2)) != 0 || s2.nhits != s->nhits || s2.last_ts_ms != s->last_ts_ms)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t sl = data[0];
    if (sl > size - 1)
        sl = size - 1;
    const uint8_t *sp = data + 1, *pp = data + 1 + sl;
    size_t pl = size - 1 - sl;
    hunt_session s;
    hunt_progress p;
    hunt_session_init(&s);
    hunt_progress_init(&p);
    int src = hunt_session_decode(sp, sl, NB, &s);
    int prc = hunt_progress_decode(pp, pl, NB, &p);
    if (src == 0) {
        unsigned char sb[HUNT_SESSION_ENC_MAX];
        size_t n = hunt_session_encode(&s, sb);
        if (n != sl || memcmp(sb, sp, n) != 0)
            abort(); /* only canonical session bytes decode */
    } else {
        hunt_session_init(&s);
    }
    if (prc != 0)
        hunt_progress_init(&p);
    /* Progress and session decoded independently may disagree (a hit at a
     * found beacon); the engine must cope.  Drive it with pings at the
     * session's time and just after. */
    static const char *const ids[] = {"b0", "b1", "b2", "b7", "bf", "zz"};
    for (int k = 0; k < 6; k++) {
        int64_t ts = s.last_ts_ms ? s.last_ts_ms + k * 3000 : INT64_C(1795888800000) + k;
        hunt_ping g = {"fuzz", 4, ids[k], 2, -60 - (int32_t)(pl % 20), ts, 0};
        hunt_step out;
        int rc = hunt_game_step(fuzz_rules(), &s, &p, &g, &out);
        if (rc != 0 && rc != CN_EINVAL)
            abort();
        if (out.nevents > HUNT_MAX_EVENTS)
            abort();
        if (rc == 0 && out.reason == HUNT_ACCEPTED)
            roundtrip(&s, &p);
    }
    return 0;
}
