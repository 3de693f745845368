/* SPDX-License-Identifier: MIT */
/*
 * fuzz_hunt_rules.c — libFuzzer target for the hunt file parser
 * (hunt_rules_parse).  Any bytes must give either a handle whose
 * invariants hold (bounded counts, every beacon found by its id, window
 * ordered) or an error with a one-line, NUL-terminated message; never a
 * crash, leak or out-of-bounds access.  Corpus: corpus/fuzz_hunt_rules/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cn_err.h"
#include "hunt_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hunt_rules *r = NULL;
    char err[HUNT_ERR_MAX];
    int rc = hunt_rules_parse((const char *)data, size, &r, err, sizeof(err));
    if (rc != 0) {
        if (r || strlen(err) >= sizeof(err) || strchr(err, '\n'))
            abort();
        return 0;
    }
    const hunt_def *d = hunt_rules_def(r);
    if (d->nbeacons < 1 || d->nbeacons > HUNT_MAX_BEACONS)
        abort();
    if (d->has_starts_at && d->has_ends_at && d->starts_at_ms >= d->ends_at_ms)
        abort();
    if ((int64_t)d->window_s > d->session_ttl_s)
        abort();
    for (uint32_t i = 0; i < d->nbeacons; i++) {
        const hunt_beacon *b = &d->beacons[i];
        if (hunt_rules_beacon_index(r, b->id, strlen(b->id)) != (int)i)
            abort();
        if (b->points < 0 || b->points > HUNT_POINTS_MAX)
            abort();
    }
    hunt_rules_free(r);
    return 0;
}
