/* SPDX-License-Identifier: MIT */
/*
 * hunt_player.c — load and save one player's session and progress through
 * the store (contract in hunt_player.h).
 *
 * Guarantees: the engine never sees a state that did not decode; a bad
 * session is replaced (derived data), a bad progress record is an error the
 * caller must not write over; sessions and progress are written together
 * so their latest times agree (the engine's ordering check relies on it).
 * Threads: the caller's; no state of its own.  Ownership: the caller owns
 * the states and the scratch buffer; nothing is kept.
 */
#include "hunt_player.h"

#include "cn_err.h"

int hunt_player_load(hunt_store *st, const hunt_rules *r, const char *player, size_t len,
                     hunt_session *s, hunt_progress *p, cn_buf *scratch, unsigned *flags)
{
    uint32_t nb = hunt_rules_def(r)->nbeacons;
    unsigned f = HUNT_PLAYER_FRESH;
    hunt_session_init(s);
    hunt_progress_init(p);
    int rc = hunt_store_get(st, HUNT_CF_PROGRESS, player, len, scratch, NULL);
    if (rc == 0)
        rc = hunt_progress_decode(scratch->data, scratch->len, nb, p);
    else if (rc == CN_ENOENT)
        rc = 0;
    if (rc == 0) {
        rc = hunt_store_get(st, HUNT_CF_SESSIONS, player, len, scratch, NULL);
        if (rc == 0 && hunt_session_decode(scratch->data, scratch->len, nb, s) == 0)
            f &= ~HUNT_PLAYER_FRESH;
        else if (rc == 0)
            f |= HUNT_PLAYER_SESSION_BAD; /* s is still the new session */
        if (rc == CN_ENOENT)
            rc = 0;
    }
    if (rc) {
        hunt_session_init(s);
        hunt_progress_init(p);
    }
    if (flags)
        *flags = f;
    return rc;
}

int hunt_player_save(hunt_batch *b, const hunt_rules *r, const char *player, size_t len,
                     const hunt_session *s, const hunt_progress *p)
{
    unsigned char sb[HUNT_SESSION_ENC_MAX], pb[HUNT_PROGRESS_ENC_MAX];
    if (len == 0)
        return CN_EINVAL;
    size_t sn = hunt_session_encode(s, sb);
    size_t pn = hunt_progress_encode(p, hunt_rules_def(r)->nbeacons, pb);
    /* The session's stamp is its latest ping time: the worker's garbage
     * horizon is on ping time too (hunt_store_set_session_horizon). */
    int rc = hunt_batch_put_stamped(b, HUNT_CF_SESSIONS, player, len, sb, sn, s->last_ts_ms);
    return rc ? rc : hunt_batch_put(b, HUNT_CF_PROGRESS, player, len, pb, pn);
}
