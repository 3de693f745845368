/* SPDX-License-Identifier: MIT */
/*
 * gw_ping_json.c — decodes a text frame of player protocol v1: one JSON
 * ping object, or a JSON array of them, with jansson.
 *
 * Guarantees: the whole frame must be one JSON value (trailing bytes,
 * duplicate keys and \u0000 in strings are refused as bad_json — two
 * "rssi" keys in one object would otherwise mean whatever the parser
 * picked); an array longer than max_batch is refused before it is
 * decoded (its top-level elements are counted by a scan that allocates
 * nothing, so such a frame is too_many_pings even if it is malformed past
 * the element that went over); only integers count as integers (-61.0 is
 * bad_rssi).
 * Details never quote the client's bytes (a byte position at most), so an
 * error frame is always valid UTF-8.  Allocation: jansson's own (it has
 * only a process-wide allocator hook, which a library file must not
 * flip).  jansson 2.14 does not reliably tell an allocation failure from
 * bad input: most failures come back as syntax errors, so under memory
 * pressure a good frame may be answered with bad_json (as protobuf-c does
 * for binary frames): nothing is accepted half-way and the connection
 * stays usable.  When jansson's error says out-of-memory, or carries no
 * text at all (it failed before reading a byte), we return CN_ENOMEM.
 * Common frames are first offered to the fast path (gw_ping_fast.c), which
 * either handles them exactly as this code would or declines.
 * Threads: any; the batch is the caller's.
 */
#include "gw_ping_int.h"

#include "cn_err.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void take_string(json_t *v, const char **p, size_t *len, uint8_t *f)
{
    if (!v) {
        *f = GW_F_MISSING;
    } else if (json_is_string(v)) {
        *p = json_string_value(v);
        *len = json_string_length(v);
        *f = GW_F_OK;
    } else {
        *f = GW_F_WRONG_TYPE;
    }
}

static void take_int(json_t *v, int64_t *out, uint8_t *f)
{
    if (!v) {
        *f = GW_F_MISSING;
    } else if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        *f = GW_F_OK;
    } else {
        *f = GW_F_WRONG_TYPE;
    }
}

static void one_ping(gw_ping_batch *b, json_t *o, const gw_ping_limits *lim, int64_t now_ms,
                     int32_t index)
{
    gw__ping_in in;
    memset(&in, 0, sizeof(in));
    if (!json_is_object(o)) {
        char d[64];
        snprintf(d, sizeof(d), "element %d is not a ping object", (int)index);
        gw__ping_error_at(b, index, GW_PE_NOT_PING, d);
        return;
    }
    take_string(json_object_get(o, "id"), &in.id, &in.id_len, &in.id_f);
    take_string(json_object_get(o, "beacon"), &in.beacon, &in.beacon_len, &in.beacon_f);
    take_int(json_object_get(o, "rssi"), &in.rssi, &in.rssi_f);
    take_int(json_object_get(o, "ts"), &in.ts, &in.ts_f);
    gw__ping_add(b, &in, lim, now_ms, index);
}

int gw_ping_parse_json(const char *text, size_t len, const gw_ping_limits *lim, int64_t now_ms,
                       gw_ping_batch *b)
{
    int rc = gw__ping_begin(b, lim);
    if (rc)
        return rc;
    if (gw__ping_parse_json_fast(text, len, lim, now_ms, b))
        return 0;
    return gw__ping_parse_json_slow(text, len, lim, now_ms, b);
}

/* Count the top-level elements of a JSON array without decoding it:
 * brackets and braces nest, strings (with their escapes) are skipped, and
 * each comma at depth 1 separates two elements.  Stops as soon as more
 * than max elements have begun.  @return 1 if text is an array with more
 * than max elements (so far as its structure goes), else 0 (not an array,
 * small enough, or broken before that point: jansson says which). */
static int array_too_long(const char *text, size_t len, size_t max)
{
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
        i++;
    if (i == len || text[i] != '[')
        return 0;
    size_t depth = 0, commas = 0;
    for (; i < len; i++) {
        char ch = text[i];
        if (ch == '"') {
            for (i++; i < len && text[i] != '"'; i++)
                if (text[i] == '\\')
                    i++; /* the escaped byte cannot end the string */
            continue;
        }
        if (ch == '[' || ch == '{') {
            depth++;
        } else if (ch == ']' || ch == '}') {
            if (--depth == 0)
                return 0;
        } else if (ch == ',' && depth == 1 && ++commas >= max) {
            return 1;
        }
    }
    return 0;
}

int gw__ping_parse_json_slow(const char *text, size_t len, const gw_ping_limits *lim,
                             int64_t now_ms, gw_ping_batch *b)
{
    int rc = gw__ping_begin(b, lim);
    if (rc)
        return rc;
    /* Count before decoding: a 64 KiB [{},{},...] would otherwise cost a
     * DOM of ~20,000 objects before it is refused. */
    if (array_too_long(text, len, lim->max_batch)) {
        char d[96];
        snprintf(d, sizeof(d), "more than %zu pings in one frame", lim->max_batch);
        gw__ping_frame_error(b, GW_PE_TOO_MANY, d);
        return 0;
    }
    json_error_t jerr;
    /* Any value at the top: a scalar is one valid JSON value that is not a
     * ping (not_ping), not malformed JSON. */
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_out_of_memory || jerr.text[0] == '\0')
            return CN_ENOMEM;
        char d[96];
        snprintf(d, sizeof(d), "text frame is not one valid JSON value (error at byte %d)",
                 jerr.position);
        gw__ping_frame_error(b, GW_PE_BAD_JSON, d);
        return 0;
    }
    if (json_is_array(root)) {
        size_t n = json_array_size(root);
        if (n == 0) {
            gw__ping_frame_error(b, GW_PE_EMPTY_BATCH, "the array holds no pings");
        } else if (n > lim->max_batch) {
            char d[96];
            snprintf(d, sizeof(d), "%zu pings in one frame; at most %zu", n, lim->max_batch);
            gw__ping_frame_error(b, GW_PE_TOO_MANY, d);
        } else {
            for (size_t i = 0; i < n; i++)
                one_ping(b, json_array_get(root, i), lim, now_ms, (int32_t)i);
        }
    } else if (json_is_object(root)) {
        one_ping(b, root, lim, now_ms, 0);
    } else {
        gw__ping_frame_error(b, GW_PE_NOT_PING, "send a ping object or an array of them");
    }
    json_decref(root);
    return 0;
}
