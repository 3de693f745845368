/* SPDX-License-Identifier: MIT */
/*
 * hunt_board.c — the in-memory leaderboard (contract in hunt_board.h):
 * an open-addressing hash table of rows keyed by player id, plus a
 * bounded-heap top-N selection.
 *
 * Why no sorted structure: updates happen for every player touched by a
 * batch (many per millisecond) and queries are rare (a dashboard polling),
 * so O(1) updates and an O(players · log N) query are the cheap side of the
 * trade.  FUTURE: an order-statistics tree if venues reach millions of
 * players and poll often.
 * Threads: the worker's thread only.  Ownership: the board owns its rows
 * and their id copies.
 */
#include "hunt_board.h"

#include "cn_alloc.h"
#include "cn_buf.h"
#include "cn_err.h"
#include "cn_hash.h"
#include "hunt_player.h"

#include <string.h>

struct hunt_board {
    hunt_board_row *rows;
    size_t nrows, caprows;
    uint32_t *slots; /* row index + 1; 0 = empty; load factor <= 1/2 */
    size_t nslots;
};

static int board_rehash(hunt_board *b, size_t nslots)
{
    uint32_t *ns = cn_calloc(nslots, sizeof(*ns));
    if (!ns)
        return CN_ENOMEM;
    for (size_t i = 0; i < b->nrows; i++) {
        const char *p = b->rows[i].player;
        size_t j = cn_hash(p, strlen(p)) & (nslots - 1);
        while (ns[j])
            j = (j + 1) & (nslots - 1);
        ns[j] = (uint32_t)i + 1;
    }
    cn_free(b->slots);
    b->slots = ns;
    b->nslots = nslots;
    return 0;
}

static hunt_board_row *board_find_or_add(hunt_board *b, const char *player, size_t len)
{
    if ((b->nrows + 1) * 2 > b->nslots && board_rehash(b, b->nslots ? b->nslots * 2 : 1024))
        return NULL;
    size_t j = cn_hash(player, len) & (b->nslots - 1);
    for (; b->slots[j]; j = (j + 1) & (b->nslots - 1)) {
        hunt_board_row *r = &b->rows[b->slots[j] - 1];
        if (strncmp(r->player, player, len) == 0 && r->player[len] == 0)
            return r;
    }
    if (b->nrows == b->caprows) {
        size_t nc = b->caprows ? b->caprows * 2 : 1024;
        hunt_board_row *nr = cn_realloc(b->rows, nc * sizeof(*nr));
        if (!nr)
            return NULL;
        b->rows = nr;
        b->caprows = nc;
    }
    char *id = cn_strndup(player, len);
    if (!id)
        return NULL;
    hunt_board_row *r = &b->rows[b->nrows];
    memset(r, 0, sizeof(*r));
    r->player = id;
    b->slots[j] = (uint32_t)++b->nrows;
    return r;
}

int hunt_board_update(hunt_board *b, const char *player, size_t len, const hunt_progress *p)
{
    hunt_board_row *r = board_find_or_add(b, player, len);
    if (!r)
        return CN_ENOMEM;
    r->score = p->score;
    r->found = p->nfound;
    r->last_seen_ms = p->last_seen_ms;
    r->last_found_ms = p->last_found_ms;
    return 0;
}

typedef struct board_load {
    hunt_board *b;
    const hunt_rules *r;
    int err;
} board_load;

static int board_load_one(void *ud, const void *key, size_t klen, const void *val, size_t vlen,
                          int64_t written_ms)
{
    board_load *l = ud;
    hunt_progress p;
    (void)written_ms;
    /* A record that does not decode is left out: the worker refuses that
     * player's pings too (audited as bad_state). */
    if (hunt_progress_decode(val, vlen, hunt_rules_def(l->r)->nbeacons, &p))
        return 0;
    if (!(p.flags & HUNT_PROGRESS_JOINED))
        return 0;
    l->err = hunt_board_update(l->b, key, klen, &p);
    return l->err != 0;
}

int hunt_board_load(hunt_board **out, hunt_store *st, const hunt_rules *r)
{
    hunt_board *b = cn_calloc(1, sizeof(*b));
    if (!b)
        return CN_ENOMEM;
    board_load l = {b, r, 0};
    int rc = hunt_store_scan(st, HUNT_CF_PROGRESS, 0, board_load_one, &l);
    if (!rc)
        rc = l.err;
    if (rc) {
        hunt_board_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

void hunt_board_free(hunt_board *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nrows; i++)
        cn_free((char *)b->rows[i].player);
    cn_free(b->rows);
    cn_free(b->slots);
    cn_free(b);
}

size_t hunt_board_size(const hunt_board *b)
{
    return b->nrows;
}

/* 1 if a ranks before c (see the order in hunt_board.h). */
static int board_better(const hunt_board_row *a, const hunt_board_row *c)
{
    if (a->score != c->score)
        return a->score > c->score;
    if (a->last_found_ms != c->last_found_ms)
        return a->last_found_ms < c->last_found_ms;
    return strcmp(a->player, c->player) < 0;
}

/* Min-heap on "better": the root is the worst row kept so far. */
static void board_sift_down(hunt_board_row *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && board_better(&h[m], &h[l]))
            m = l;
        if (r < n && board_better(&h[m], &h[r]))
            m = r;
        if (m == i)
            return;
        hunt_board_row t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void board_sift_up(hunt_board_row *h, size_t i)
{
    while (i) {
        size_t p = (i - 1) / 2;
        if (!board_better(&h[p], &h[i]))
            return;
        hunt_board_row t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

size_t hunt_board_top(hunt_board *b, size_t limit, hunt_board_row *rows)
{
    size_t n = 0;
    if (!limit)
        return 0;
    for (size_t i = 0; i < b->nrows; i++) {
        if (n < limit) {
            rows[n] = b->rows[i];
            board_sift_up(rows, n++);
        } else if (board_better(&b->rows[i], &rows[0])) {
            rows[0] = b->rows[i];
            board_sift_down(rows, n, 0);
        }
    }
    /* Heap-sort in place: repeatedly move the worst to the end. */
    for (size_t k = n; k > 1; k--) {
        hunt_board_row t = rows[0];
        rows[0] = rows[k - 1];
        rows[k - 1] = t;
        board_sift_down(rows, k - 1, 0);
    }
    return n;
}
