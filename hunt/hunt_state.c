/* SPDX-License-Identifier: MIT */
/*
 * hunt_state.c — the byte encodings of hunt_session and hunt_progress, the
 * values a worker keeps in RocksDB (column families `sessions`, `progress`).
 *
 * Format v1, all integers unsigned LEB128 varints (cn_bytes.h):
 *   session:  0x01 last_ts current+1 next+1 nhits {beacon, last_ts - ts}*
 *   progress: 0x01 flags score joined last_seen last_found nbits bitset
 * Times are stored as a delta from last_ts inside a session because hits lie
 * within window_s of it, so most take two bytes instead of six.
 *
 * Guarantees: encode(decode(x)) round-trips every value decode accepts;
 * decoders are total over arbitrary bytes (fuzzed by fuzz_hunt_state) and
 * write *out only on success.  Pure, no allocation, any thread.
 */
#include "hunt_state.h"

#include "cn_bytes.h"
#include "cn_err.h"

#include <string.h>

void hunt_session_init(hunt_session *s)
{
    s->last_ts_ms = 0;
    s->current = HUNT_NONE;
    s->next = HUNT_NONE;
    s->nhits = 0;
}

void hunt_progress_init(hunt_progress *p)
{
    memset(p, 0, sizeof(*p));
}

int hunt_progress_has(const hunt_progress *p, uint32_t i)
{
    return i < HUNT_MAX_BEACONS && (p->found[i / 8] >> (i % 8)) & 1;
}

/* ---- a bounds-checked varint reader ------------------------------------ */

typedef struct hunt__rd {
    const unsigned char *p;
    size_t n, off;
    int bad;
} hunt__rd;

static uint64_t hunt__u(hunt__rd *r, int max32)
{
    uint64_t v = 0;
    if (r->bad)
        return 0;
    int k = cn_rd_uvarint(r->p + r->off, r->n - r->off, &v, max32);
    /* Only the shortest encoding is accepted, so every state has exactly
     * one byte form and a corrupted byte cannot hide in padding. */
    if (k <= 0 || k != cn_uvarint_len(v)) {
        r->bad = 1;
        return 0;
    }
    r->off += (size_t)k;
    return v;
}

static int hunt__ts_ok(uint64_t ts)
{
    return ts >= (uint64_t)HUNT_TS_MIN_MS && ts < (uint64_t)HUNT_TS_MAX_MS;
}

/* ---- session --------------------------------------------------------------- */

size_t hunt_session_encode(const hunt_session *s, unsigned char *out)
{
    size_t n = 0;
    out[n++] = HUNT_STATE_VERSION;
    n += (size_t)cn_wr_uvarint(out + n, (uint64_t)s->last_ts_ms);
    n += (size_t)cn_wr_uvarint(out + n, (uint64_t)(s->current + 1));
    n += (size_t)cn_wr_uvarint(out + n, (uint64_t)(s->next + 1));
    n += (size_t)cn_wr_uvarint(out + n, s->nhits);
    for (uint32_t i = 0; i < s->nhits; i++) {
        n += (size_t)cn_wr_uvarint(out + n, s->hits[i].beacon);
        n += (size_t)cn_wr_uvarint(out + n, (uint64_t)(s->last_ts_ms - s->hits[i].ts_ms));
    }
    return n;
}

/* Hits: beacons in range, times not after last_ts and never decreasing
 * (the engine appends in ping order). */
static int hunt__hits(hunt__rd *r, uint64_t last, uint32_t nbeacons, hunt_session *s)
{
    uint64_t prev_delta = UINT64_MAX;
    for (uint32_t i = 0; i < s->nhits; i++) {
        uint64_t b = hunt__u(r, 1), delta = hunt__u(r, 0);
        if (r->bad || b >= nbeacons || delta > last - (uint64_t)HUNT_TS_MIN_MS ||
            delta > prev_delta)
            return CN_ECORRUPT;
        prev_delta = delta;
        s->hits[i].beacon = (uint32_t)b;
        s->hits[i].ts_ms = (int64_t)(last - delta);
    }
    return 0;
}

int hunt_session_decode(const void *p, size_t n, uint32_t nbeacons, hunt_session *out)
{
    hunt__rd r = {p, n, 1, 0};
    if (n < 1)
        return CN_ECORRUPT;
    if (r.p[0] != HUNT_STATE_VERSION)
        return CN_EUNSUPPORTED;
    /* Decode into a scratch copy so *out is untouched on failure. */
    hunt_session s;
    uint64_t last = hunt__u(&r, 0), cur = hunt__u(&r, 1), next = hunt__u(&r, 1);
    uint64_t nhits = hunt__u(&r, 1);
    if (r.bad || cur > nbeacons || next > nbeacons || nhits > HUNT_SESSION_MAX_HITS)
        return CN_ECORRUPT;
    if (cur == 0 ? (last != 0 || next != 0 || nhits != 0) : !hunt__ts_ok(last))
        return CN_ECORRUPT;
    s.last_ts_ms = (int64_t)last;
    s.current = (int32_t)cur - 1;
    s.next = (int32_t)next - 1;
    s.nhits = (uint32_t)nhits;
    if (hunt__hits(&r, last, nbeacons, &s) || r.off != n)
        return CN_ECORRUPT;
    memcpy(out, &s, offsetof(hunt_session, hits) + s.nhits * sizeof(s.hits[0]));
    return 0;
}

/* ---- progress -------------------------------------------------------------- */

size_t hunt_progress_encode(const hunt_progress *pr, uint32_t nbeacons, unsigned char *out)
{
    size_t n = 0;
    out[n++] = HUNT_STATE_VERSION;
    n += (size_t)cn_wr_uvarint(out + n, pr->flags);
    n += (size_t)cn_wr_uvarint(out + n, (uint64_t)pr->score);
    n += (size_t)cn_wr_uvarint(out + n, (uint64_t)pr->joined_ms);
    n += (size_t)cn_wr_uvarint(out + n, (uint64_t)pr->last_seen_ms);
    n += (size_t)cn_wr_uvarint(out + n, (uint64_t)pr->last_found_ms);
    n += (size_t)cn_wr_uvarint(out + n, nbeacons);
    size_t nb = (nbeacons + 7) / 8;
    memcpy(out + n, pr->found, nb);
    return n + nb;
}

static uint32_t hunt__popcount(const uint8_t *b, size_t n)
{
    uint32_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += (uint32_t)__builtin_popcount(b[i]);
    return c;
}

/* Times: either not joined (all zero) or joined <= last_found <= last_seen,
 * with last_found set exactly when something was found. */
static int hunt__progress_ok(const hunt_progress *p, uint64_t score)
{
    if (p->flags & ~(uint32_t)(HUNT_PROGRESS_JOINED | HUNT_PROGRESS_COMPLETED))
        return 0;
    if (!(p->flags & HUNT_PROGRESS_JOINED))
        return p->flags == 0 && score == 0 && p->joined_ms == 0 && p->last_seen_ms == 0 &&
               p->last_found_ms == 0 && p->nfound == 0;
    if (score > (uint64_t)HUNT_MAX_BEACONS * HUNT_POINTS_MAX)
        return 0;
    if (!hunt__ts_ok((uint64_t)p->joined_ms) || !hunt__ts_ok((uint64_t)p->last_seen_ms) ||
        p->joined_ms > p->last_seen_ms)
        return 0;
    if (p->nfound == 0)
        return p->last_found_ms == 0 && score == 0 && !(p->flags & HUNT_PROGRESS_COMPLETED);
    return p->last_found_ms >= p->joined_ms && p->last_found_ms <= p->last_seen_ms;
}

int hunt_progress_decode(const void *p, size_t n, uint32_t nbeacons, hunt_progress *out)
{
    hunt__rd r = {p, n, 1, 0};
    if (n < 1)
        return CN_ECORRUPT;
    if (r.p[0] != HUNT_STATE_VERSION)
        return CN_EUNSUPPORTED;
    hunt_progress pr;
    hunt_progress_init(&pr);
    uint64_t flags = hunt__u(&r, 1), score = hunt__u(&r, 0);
    uint64_t joined = hunt__u(&r, 0), seen = hunt__u(&r, 0), found_at = hunt__u(&r, 0);
    uint64_t nbits = hunt__u(&r, 1);
    size_t nb = (size_t)(nbits + 7) / 8;
    /* A set stored for more beacons than this hunt has belongs to another
     * hunt definition; fewer is fine (the hunt grew: new beacons unfound). */
    if (r.bad || nbits > nbeacons || nbits > HUNT_MAX_BEACONS || n - r.off != nb)
        return CN_ECORRUPT;
    memcpy(pr.found, r.p + r.off, nb);
    /* No bit may be set past the stored count. */
    for (uint32_t i = (uint32_t)nbits; i < nb * 8; i++)
        if (hunt_progress_has(&pr, i))
            return CN_ECORRUPT;
    pr.flags = (uint32_t)flags;
    pr.nfound = hunt__popcount(pr.found, nb);
    pr.joined_ms = (int64_t)joined;
    pr.last_seen_ms = (int64_t)seen;
    pr.last_found_ms = (int64_t)found_at;
    if (score <= INT64_MAX)
        pr.score = (int64_t)score;
    if (!hunt__progress_ok(&pr, score))
        return CN_ECORRUPT;
    *out = pr;
    return 0;
}
