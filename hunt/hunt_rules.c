/* SPDX-License-Identifier: MIT */
/*
 * hunt_rules.c — parse and validate a hunt definition file (docs/hunts.md)
 * with jansson into an immutable hunt_rules handle.
 *
 * Guarantees: a handle exists only if every field passed validation, so the
 * game engine never re-checks the rules; the first problem found is reported
 * as one line "PATH: what is wrong" with the JSON path of the field
 * (beacons[2].pts).  Object keys are checked before values, so a typo is
 * reported as the unknown field it is rather than as a missing one.
 * Field names quoted back from the file are truncated and stripped of
 * control characters so a hostile file cannot forge log lines.
 *
 * Threads: parse/load/free from any one thread; a finished handle is
 * read-only and may be shared.  Ownership: the handle owns every string and
 * the beacon array (cn_malloc); jansson's tree is freed before returning.
 */
#include "hunt_rules.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_id.h"
#include "cn_time.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Beacon ids sorted for binary search; idx points back into file order. */
struct hunt__key {
    const char *id;
    size_t len;
    uint32_t idx;
};

struct hunt_rules {
    hunt_def def;
    hunt_beacon *beacons;
    struct hunt__key *sorted;
    char *id, *name; /* owned copies behind def.id / def.name */
};

/* ---- error reporting ---------------------------------------------------- */

typedef struct hunt__ctx {
    char *err;
    size_t errlen;
} hunt__ctx;

static int hunt__fail(hunt__ctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int hunt__fail(hunt__ctx *c, const char *path, const char *fmt, ...)
{
    if (!c->err || !c->errlen)
        return HUNT_ERULES;
    int n = snprintf(c->err, c->errlen, "%s%s", path, *path ? ": " : "");
    if (n < 0 || (size_t)n >= c->errlen)
        return HUNT_ERULES;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return HUNT_ERULES;
}

/* Copy a file-supplied name for an error message: at most 40 bytes, control
 * characters and quotes replaced, so the message stays one honest line. */
static void hunt__clean(const char *s, char out[48])
{
    size_t i = 0;
    for (; s[i] && i < 40; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\') ? '?' : (char)ch;
    }
    if (s[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

static const char *hunt__type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static void hunt__path(char *out, size_t n, const char *prefix, const char *key)
{
    snprintf(out, n, "%s%s%s", prefix, *prefix ? "." : "", key);
}

/* ---- field checks --------------------------------------------------------- */

/* Reject any key of obj not in allowed[], then any required key missing. */
static int hunt__fields(hunt__ctx *c, const json_t *obj, const char *prefix,
                        const char *const *allowed, const int *required, size_t n)
{
    const char *key;
    json_t *v;
    char path[160], clean[48];
    json_object_foreach((json_t *)obj, key, v)
    {
        size_t i = 0;
        while (i < n && strcmp(key, allowed[i]) != 0)
            i++;
        if (i == n) {
            hunt__clean(key, clean);
            hunt__path(path, sizeof(path), prefix, clean);
            return hunt__fail(c, path, "unknown field");
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (required[i] && !json_object_get(obj, allowed[i])) {
            hunt__path(path, sizeof(path), prefix, allowed[i]);
            return hunt__fail(c, path, "missing (required)");
        }
    }
    return 0;
}

enum hunt__text { HUNT__ID, HUNT__TEXT };

/* A string field; *out borrows jansson's bytes (copy before freeing the tree).
 * Absent optional fields leave *out untouched. */
static int hunt__str(hunt__ctx *c, const json_t *obj, const char *prefix, const char *key,
                     enum hunt__text kind, size_t minlen, size_t maxlen, const char **out)
{
    json_t *v = json_object_get(obj, key);
    char path[160];
    hunt__path(path, sizeof(path), prefix, key);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return hunt__fail(c, path, "must be a string, got %s", hunt__type(v));
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len < minlen || len > maxlen)
        return hunt__fail(c, path, "length must be %zu..%zu bytes, got %zu", minlen, maxlen, len);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (kind == HUNT__ID && !cn_id_name_byte(ch))
            return hunt__fail(c, path, "may contain only letters, digits, '-', '_' and '.'");
        if (kind == HUNT__TEXT && (ch < 0x20 || ch == 0x7f))
            return hunt__fail(c, path, "must not contain control characters");
    }
    *out = s;
    return 0;
}

static int hunt__int(hunt__ctx *c, const json_t *obj, const char *prefix, const char *key,
                     int64_t lo, int64_t hi, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    char path[160];
    hunt__path(path, sizeof(path), prefix, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return hunt__fail(c, path, "must be an integer in %lld..%lld%s%s", (long long)lo,
                          (long long)hi, json_is_integer(v) ? "" : ", got ",
                          json_is_integer(v) ? "" : hunt__type(v));
    *out = json_integer_value(v);
    return 0;
}

static int hunt__num(hunt__ctx *c, const json_t *obj, const char *prefix, const char *key,
                     double bound, double *out)
{
    json_t *v = json_object_get(obj, key);
    char path[160];
    hunt__path(path, sizeof(path), prefix, key);
    if (!v)
        return 0;
    if (!json_is_number(v))
        return hunt__fail(c, path, "must be a number, got %s", hunt__type(v));
    double d = json_number_value(v);
    if (!isfinite(d) || fabs(d) > bound)
        return hunt__fail(c, path, "must be a number in -%g..%g", bound, bound);
    *out = d;
    return 0;
}

/* ---- RFC 3339 ------------------------------------------------------------- */

static int hunt__digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int hunt__days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return dim[m - 1] + (m == 2 && leap);
}

/* cn_parse_rfc3339_ms is lenient (sscanf widths, days up to 31 in any
 * month); a hunt file deserves the exact grammar of RFC 3339 §5.6, so the
 * shape and calendar are checked here first, then cn_time converts. */
static int hunt__rfc3339(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec;
    size_t len = strlen(s);
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return -1;
    if (hunt__digits(s, 4, &y) || hunt__digits(s + 5, 2, &mo) || hunt__digits(s + 8, 2, &d) ||
        hunt__digits(s + 11, 2, &h) || hunt__digits(s + 14, 2, &mi) ||
        hunt__digits(s + 17, 2, &sec))
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > hunt__days_in_month(y, mo) || h > 23 ||
        mi > 59 || sec > 60)
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        int nd = 0;
        for (p++; *p >= '0' && *p <= '9'; p++)
            nd++;
        if (nd < 1 || nd > 9)
            return -1;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (strlen(p) != 6 || p[3] != ':' || hunt__digits(p + 1, 2, &oh) ||
            hunt__digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    return cn_parse_rfc3339_ms(s, ms) == 0 ? 0 : -1;
}

static int hunt__time(hunt__ctx *c, const json_t *obj, const char *key, int *has, int64_t *ms)
{
    const char *s = NULL;
    int rc = hunt__str(c, obj, "", key, HUNT__TEXT, 1, 64, &s);
    if (rc || !s)
        return rc;
    if (hunt__rfc3339(s, ms) != 0)
        return hunt__fail(c, key, "must be an RFC 3339 time such as 2026-11-28T18:00:00Z");
    *has = 1;
    return 0;
}

/* ---- sections --------------------------------------------------------------- */

static int hunt__found(hunt__ctx *c, const json_t *root, hunt_def *d)
{
    static const char *const allowed[] = {"rssi_min", "hits", "window_s"};
    static const int required[] = {1, 1, 1};
    json_t *f = json_object_get(root, "found");
    if (!json_is_object(f))
        return hunt__fail(c, "found", "must be an object, got %s", hunt__type(f));
    int rc = hunt__fields(c, f, "found", allowed, required, 3);
    int64_t rssi = 0, hits = 0, win = 0;
    if (!rc)
        rc = hunt__int(c, f, "found", "rssi_min", HUNT_RSSI_MIN_LO, HUNT_RSSI_MIN_HI, &rssi);
    if (!rc)
        rc = hunt__int(c, f, "found", "hits", 1, HUNT_HITS_MAX, &hits);
    if (!rc)
        rc = hunt__int(c, f, "found", "window_s", 1, HUNT_WINDOW_MAX_S, &win);
    d->rssi_min = (int32_t)rssi;
    d->hits = (uint32_t)hits;
    d->window_s = (uint32_t)win;
    return rc;
}

static int hunt__beacon(hunt__ctx *c, const json_t *b, size_t i, hunt_beacon *out)
{
    static const char *const allowed[] = {"id", "name", "x", "y", "points", "clue"};
    static const int required[] = {1, 1, 1, 1, 1, 0};
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "beacons[%zu]", i);
    if (!json_is_object(b))
        return hunt__fail(c, prefix, "must be an object, got %s", hunt__type(b));
    int64_t pts = 0;
    const char *id = NULL, *name = NULL, *clue = "";
    int rc = hunt__fields(c, b, prefix, allowed, required, 6);
    if (!rc)
        rc = hunt__str(c, b, prefix, "id", HUNT__ID, 1, HUNT_ID_MAX, &id);
    if (!rc)
        rc = hunt__str(c, b, prefix, "name", HUNT__TEXT, 1, HUNT_NAME_MAX, &name);
    if (!rc)
        rc = hunt__num(c, b, prefix, "x", HUNT_COORD_MAX, &out->x);
    if (!rc)
        rc = hunt__num(c, b, prefix, "y", HUNT_COORD_MAX, &out->y);
    if (!rc)
        rc = hunt__int(c, b, prefix, "points", 0, HUNT_POINTS_MAX, &pts);
    if (!rc)
        rc = hunt__str(c, b, prefix, "clue", HUNT__TEXT, 0, HUNT_CLUE_MAX, &clue);
    if (rc)
        return rc;
    out->points = (int32_t)pts;
    out->id = cn_strdup(id);
    out->name = cn_strdup(name);
    out->clue = cn_strdup(clue);
    return out->id && out->name && out->clue ? 0 : CN_ENOMEM;
}

static int hunt__key_cmp(const void *a, const void *b)
{
    const struct hunt__key *x = a, *y = b;
    int r = strcmp(x->id, y->id);
    return r ? r : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Sort ids for lookup; two equal neighbours are a duplicate.  Of all
 * duplicates, the repeat that comes first in the file is reported, so the
 * message does not depend on how qsort orders things. */
static int hunt__index(hunt__ctx *c, hunt_rules *r)
{
    uint32_t n = r->def.nbeacons;
    r->sorted = cn_calloc(n, sizeof(*r->sorted));
    if (!r->sorted)
        return CN_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        r->sorted[i] = (struct hunt__key){r->beacons[i].id, strlen(r->beacons[i].id), i};
    qsort(r->sorted, n, sizeof(*r->sorted), hunt__key_cmp);
    uint32_t dup = UINT32_MAX, first = 0;
    for (uint32_t i = 1; i < n; i++) {
        if (strcmp(r->sorted[i].id, r->sorted[i - 1].id) == 0 && r->sorted[i].idx < dup) {
            dup = r->sorted[i].idx;
            first = r->sorted[i - 1].idx;
        }
    }
    if (dup == UINT32_MAX)
        return 0;
    char path[32];
    snprintf(path, sizeof(path), "beacons[%u].id", dup);
    return hunt__fail(c, path, "duplicate id \"%s\" (also beacons[%u].id)", r->beacons[dup].id,
                      first);
}

static int hunt__beacons(hunt__ctx *c, const json_t *root, hunt_rules *r)
{
    json_t *arr = json_object_get(root, "beacons");
    if (!json_is_array(arr))
        return hunt__fail(c, "beacons", "must be an array, got %s", hunt__type(arr));
    size_t n = json_array_size(arr);
    if (n < 1 || n > HUNT_MAX_BEACONS)
        return hunt__fail(c, "beacons", "must hold 1..%u beacons, got %zu", HUNT_MAX_BEACONS, n);
    r->beacons = cn_calloc(n, sizeof(*r->beacons));
    if (!r->beacons)
        return CN_ENOMEM;
    r->def.nbeacons = (uint32_t)n;
    r->def.beacons = r->beacons;
    for (size_t i = 0; i < n; i++) {
        int rc = hunt__beacon(c, json_array_get(arr, i), i, &r->beacons[i]);
        if (rc)
            return rc;
        r->def.total_points += r->beacons[i].points;
    }
    return hunt__index(c, r);
}

static int hunt__order(hunt__ctx *c, const json_t *root, hunt_def *d)
{
    const char *s = NULL;
    int rc = hunt__str(c, root, "", "order", HUNT__TEXT, 1, 16, &s);
    if (rc || !s)
        return rc;
    if (strcmp(s, "any") == 0)
        d->order = HUNT_ORDER_ANY;
    else if (strcmp(s, "sequence") == 0)
        d->order = HUNT_ORDER_SEQUENCE;
    else
        return hunt__fail(c, "order", "must be \"any\" or \"sequence\"");
    return 0;
}

static int hunt__top(hunt__ctx *c, const json_t *root, hunt_rules *r)
{
    static const char *const allowed[] = {"id",     "name",  "starts_at",     "ends_at",
                                          "order",  "found", "session_ttl_s", "audit_ttl_s",
                                          "beacons"};
    static const int required[] = {1, 1, 0, 0, 0, 1, 0, 0, 1};
    hunt_def *d = &r->def;
    const char *id = NULL, *name = NULL;
    d->session_ttl_s = HUNT_DEFAULT_SESSION_TTL_S;
    d->audit_ttl_s = HUNT_DEFAULT_AUDIT_TTL_S;
    if (!json_is_object(root))
        return hunt__fail(c, "", "a hunt file must hold one JSON object, got %s", hunt__type(root));
    int rc = hunt__fields(c, root, "", allowed, required, 9);
    if (!rc)
        rc = hunt__str(c, root, "", "id", HUNT__ID, 1, HUNT_ID_MAX, &id);
    if (!rc)
        rc = hunt__str(c, root, "", "name", HUNT__TEXT, 1, HUNT_NAME_MAX, &name);
    if (!rc)
        rc = hunt__time(c, root, "starts_at", &d->has_starts_at, &d->starts_at_ms);
    if (!rc)
        rc = hunt__time(c, root, "ends_at", &d->has_ends_at, &d->ends_at_ms);
    if (!rc && d->has_starts_at && d->has_ends_at && d->starts_at_ms >= d->ends_at_ms)
        rc = hunt__fail(c, "ends_at", "must be later than starts_at");
    if (!rc)
        rc = hunt__order(c, root, d);
    if (!rc)
        rc = hunt__found(c, root, d);
    if (!rc)
        rc = hunt__int(c, root, "", "session_ttl_s", HUNT_SESSION_TTL_MIN_S, HUNT_SESSION_TTL_MAX_S,
                       &d->session_ttl_s);
    if (!rc)
        rc = hunt__int(c, root, "", "audit_ttl_s", 60, HUNT_AUDIT_TTL_MAX_S, &d->audit_ttl_s);
    /* A session that expires inside the window would forget hits the found
     * rule still counts, so the window must fit in the session TTL. */
    if (!rc && (int64_t)d->window_s > d->session_ttl_s)
        rc = hunt__fail(c, "found.window_s", "must not exceed session_ttl_s (%lld)",
                        (long long)d->session_ttl_s);
    if (!rc)
        rc = hunt__beacons(c, root, r);
    if (rc)
        return rc;
    r->id = cn_strdup(id);
    r->name = cn_strdup(name);
    d->id = r->id;
    d->name = r->name;
    return r->id && r->name ? 0 : CN_ENOMEM;
}

/* ---- public ------------------------------------------------------------------ */

int hunt_rules_parse(const char *json, size_t len, hunt_rules **out, char *err, size_t errlen)
{
    hunt__ctx c = {err, errlen};
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (len > HUNT_FILE_MAX_BYTES) {
        hunt__fail(&c, "", "hunt file is %zu bytes; the limit is %u", len, HUNT_FILE_MAX_BYTES);
        return CN_ETOOBIG;
    }
    /* A UTF-8 byte order mark, as some editors write, is not JSON; skip it
     * rather than fail at "line 1 column 1". */
    if (len >= 3 && memcmp(json, "\xef\xbb\xbf", 3) == 0) {
        json += 3;
        len -= 3;
    }
    /* Raw NUL bytes are never valid JSON text, but jansson 2.14 swallows
     * one that directly follows a number ("-7\0" parses as -7), so a file
     * with one could parse as something other than what it says. */
    const char *nul = memchr(json, '\0', len);
    if (nul)
        return hunt__fail(&c, "", "invalid JSON at byte %zu: NUL byte", (size_t)(nul - json));
    json_error_t je;
    /* Duplicate keys are refused: with them a reader cannot tell which
     * value wins, and a reviewer reading the file could be misled. */
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        char clean[48];
        hunt__clean(je.text, clean);
        return hunt__fail(&c, "", "invalid JSON at line %d column %d: %s", je.line, je.column,
                          clean);
    }
    hunt_rules *r = cn_calloc(1, sizeof(*r));
    int rc = r ? hunt__top(&c, root, r) : CN_ENOMEM;
    json_decref(root);
    if (rc) {
        if (rc == CN_ENOMEM)
            hunt__fail(&c, "", "out of memory");
        hunt_rules_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int hunt_rules_load(const char *path, hunt_rules **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int rc = cn_err_from_errno(errno);
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return rc;
    }
    size_t cap = HUNT_FILE_MAX_BYTES + 1, n = 0;
    char *buf = cn_malloc(cap);
    int rc = buf ? 0 : CN_ENOMEM;
    if (buf) {
        n = fread(buf, 1, cap, f);
        if (ferror(f))
            rc = CN_EIO;
    }
    fclose(f);
    char msg[HUNT_ERR_MAX];
    if (!rc)
        rc = hunt_rules_parse(buf, n, out, msg, sizeof(msg));
    else
        snprintf(msg, sizeof(msg), "cannot read: %s", cn_strerror(rc));
    cn_free(buf);
    if (rc && err && errlen)
        snprintf(err, errlen, "%s: %s", path, msg);
    return rc;
}

void hunt_rules_free(hunt_rules *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; r->beacons && i < r->def.nbeacons; i++) {
        cn_free((void *)r->beacons[i].id);
        cn_free((void *)r->beacons[i].name);
        cn_free((void *)r->beacons[i].clue);
    }
    cn_free(r->beacons);
    cn_free(r->sorted);
    cn_free(r->id);
    cn_free(r->name);
    cn_free(r);
}

const hunt_def *hunt_rules_def(const hunt_rules *r)
{
    return &r->def;
}

int hunt_rules_beacon_index(const hunt_rules *r, const char *id, size_t len)
{
    size_t lo = 0, hi = r->def.nbeacons;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct hunt__key *k = &r->sorted[mid];
        size_t m = k->len < len ? k->len : len;
        int c = memcmp(k->id, id, m);
        if (c == 0)
            c = (k->len > len) - (k->len < len);
        if (c == 0)
            return (int)k->idx;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return CN_ENOENT;
}

int hunt_rules_in_window(const hunt_rules *r, int64_t ts_ms)
{
    const hunt_def *d = &r->def;
    return (!d->has_starts_at || ts_ms >= d->starts_at_ms) &&
           (!d->has_ends_at || ts_ms < d->ends_at_ms);
}
