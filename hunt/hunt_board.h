/* SPDX-License-Identifier: MIT */
/*
 * hunt_board.h — the leaderboard: an in-memory table player → (score,
 * found, last seen, last find), built from the `progress` column family on
 * first use and kept current by the worker after every commit.  Built
 * lazily so that a restart costs nothing per stored player.
 * Order ("best first"): score descending, then the earlier last find, then
 * player id ascending (bytewise) — a total order, so pages are stable.
 * Threads: the worker's thread only.  Ownership: the board copies ids.
 */
#ifndef HUNT_BOARD_H
#define HUNT_BOARD_H

#include "hunt_rules.h"
#include "hunt_state.h"
#include "hunt_store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hunt_board hunt_board;

typedef struct hunt_board_row {
    const char *player; /* NUL-terminated, owned by the board */
    int64_t score;
    uint32_t found;
    int64_t last_seen_ms;
    int64_t last_found_ms;
} hunt_board_row;

/** Build from every progress record of st.  0, CN_ENOMEM or a store error. */
int hunt_board_load(hunt_board **out, hunt_store *st, const hunt_rules *r);
void hunt_board_free(hunt_board *b); /* NULL ok */
/** Insert or update a player from their progress.  0 or CN_ENOMEM. */
int hunt_board_update(hunt_board *b, const char *player, size_t len, const hunt_progress *p);
size_t hunt_board_size(const hunt_board *b);
/**
 * The best `limit` rows, best first, into rows[limit] (borrowed until the
 * next update).  Joined players only.  @return the number of rows.
 */
size_t hunt_board_top(hunt_board *b, size_t limit, hunt_board_row *rows);

#endif
