/* SPDX-License-Identifier: MIT */
/*
 * dash_json.c — the /api/stats object (also each /api/events message) from
 * a snapshot.  Unknown numbers (-1) are written as null so the page can
 * show "—" instead of a made-up zero; ids go through cn_json_str.
 * Pure; any thread.
 */
#include "dash_http.h"

#include "cn_err.h"
#include "cn_json.h"

#include <inttypes.h>
#include <string.h>

static int dash__num(cn_buf *b, const char *key, int64_t v)
{
    if (v < 0)
        return cn_buf_printf(b, ",\"%s\":null", key);
    return cn_buf_printf(b, ",\"%s\":%" PRId64, key, v);
}

int dash_stats_json(cn_buf *b, const dash_snapshot *s, double pps, int64_t now_ms)
{
    size_t mark = b->len;
    int rc =
        cn_buf_printf(b, "{\"ts\":%" PRId64 ",\"pings_total\":%" PRIu64, now_ms, s->pings_total);
    rc = rc ? rc
            : (pps < 0 ? cn_buf_printf(b, ",\"pings_per_s\":null")
                       : cn_buf_printf(b, ",\"pings_per_s\":%.1f", pps));
    rc = rc ? rc : dash__num(b, "finds_total", s->finds_total);
    rc = rc ? rc : dash__num(b, "players", s->players);
    rc = rc ? rc : dash__num(b, "active_players", s->active_players);
    rc = rc ? rc : dash__num(b, "lag", s->lag);
    rc = rc ? rc : cn_buf_printf(b, ",\"partitions\":[");
    for (uint32_t i = 0; !rc && i < s->nparts && i < DASH_MAX_PARTS; i++)
        rc = cn_buf_printf(b, "%s{\"partition\":%d,\"end_offset\":%" PRId64 "}", i ? "," : "",
                           (int)s->parts[i].partition, s->parts[i].end_offset);
    rc = rc ? rc : cn_buf_printf(b, "],\"recent_finds\":[");
    for (uint32_t i = 0; !rc && i < s->nfinds && i < DASH_MAX_FINDS; i++) {
        const dash_find *f = &s->finds[i];
        rc = cn_buf_printf(b, "%s{\"player\":", i ? "," : "");
        rc = rc ? rc : cn_json_str(b, f->player, strlen(f->player));
        rc = rc ? rc : cn_buf_printf(b, ",\"beacon\":");
        rc = rc ? rc
                : (f->beacon[0] ? cn_json_str(b, f->beacon, strlen(f->beacon))
                                : cn_buf_printf(b, "null"));
        rc = rc ? rc
                : cn_buf_printf(b, ",\"at\":%" PRId64 ",\"score\":%" PRId64 ",\"found\":%u}",
                                f->at_ms, f->score, f->found);
    }
    rc = rc ? rc : cn_buf_printf(b, "]}");
    if (rc)
        b->len = mark; /* nothing half-written */
    return rc ? CN_ENOMEM : 0;
}
