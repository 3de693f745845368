/* SPDX-License-Identifier: MIT */
/*
 * hunt_player.h — a player's game state in the store: the glue between the
 * game engine (hunt_game.h), the state codecs (hunt_state.h) and RocksDB
 * (hunt_store.h).  Keys are the player id bytes in the `sessions` and
 * `progress` column families.
 *
 * A worker's step for one accepted ping is:
 *   hunt_player_load()  -> hunt_game_step()  -> hunt_player_save() into the
 *   input batch's hunt_batch (with the audit entries and the new offsets)
 *   -> hunt_store_write() once per input batch.
 * A player seen twice in one input batch must be stepped on the states
 * already in hand (the batch is not readable before it is written).
 */
#ifndef HUNT_PLAYER_H
#define HUNT_PLAYER_H

#include "cn_buf.h"
#include "hunt_rules.h"
#include "hunt_state.h"
#include "hunt_store.h"

#include <stddef.h>

#define HUNT_PLAYER_FRESH 0x1u       /* no live session: absent, expired or reset */
#define HUNT_PLAYER_SESSION_BAD 0x2u /* a stored session did not decode; replaced */

/**
 * Read and decode a player's session and progress.  An absent session
 * becomes a new one (hunt_session_init), an absent progress a new one.
 * A stored session is returned whatever its age: the game engine decides
 * on ping time whether it is over (expiry forgets where the player was,
 * never what they found).
 * A stored session that does not decode for this hunt is replaced by a new
 * one too (sessions are derived, short-lived data) and flagged so the
 * caller can audit it.  A progress record that does not decode is an
 * error: the caller must not save over it (that would erase the player's
 * finds) and should audit the record and skip the ping.
 * @param[in,out] scratch  a buffer reused between calls (caller frees)
 * @param[out]    flags    if non-NULL, HUNT_PLAYER_* bits
 * @return 0; CN_ECORRUPT or CN_EUNSUPPORTED when the stored progress does
 *         not decode for this hunt; CN_ENOMEM or a mapped RocksDB error.
 *         On error both states are initialised but must not be saved.
 */
int hunt_player_load(hunt_store *st, const hunt_rules *r, const char *player, size_t len,
                     hunt_session *s, hunt_progress *p, cn_buf *scratch, unsigned *flags);

/**
 * Add the player's session and progress to a batch (the session stamped
 * with its latest ping time, progress with the write time).
 * @return 0 or CN_EINVAL (bad cf / empty player).
 */
int hunt_player_save(hunt_batch *b, const hunt_rules *r, const char *player, size_t len,
                     const hunt_session *s, const hunt_progress *p);

#endif
