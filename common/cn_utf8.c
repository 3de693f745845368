/* SPDX-License-Identifier: MIT */
/*
 * cn_utf8.c — the one UTF-8 validator: a table-driven DFA that checks
 * UTF-8 a chunk at a time (WebSocket text messages and close reasons, read
 * at any byte), whole strings, and single sequences (for escapers that
 * replace what is not UTF-8).
 *
 * Guarantees: accepts exactly the well-formed UTF-8 of RFC 3629 table 3-7
 * (no overlongs, no UTF-16 surrogates D800..DFFF, nothing above U+10FFFF);
 * the result for a split input equals the result for the joined input at
 * every split point, because the only state is the DFA state byte.
 * Pure: no allocation, no globals beyond two read-only tables; any thread.
 *
 * How: each byte maps to one of 12 classes, and (state, class) to the next
 * state.  The classes are the byte ranges where the RFC's well-formedness
 * table changes meaning; the states are "how many continuation bytes are
 * still owed" plus four restricted-second-byte states (after E0, ED, F0, F4)
 * that exclude overlongs, surrogates and > U+10FFFF.  While at a boundary
 * the loop skips 8 ASCII bytes per step, the common case for JSON pings.
 */
#include "cn_utf8.h"

#include <string.h>

/* Byte classes:
 *  0 00..7F  1 80..8F  2 90..9F  3 A0..BF  4 C0,C1,F5..FF (never valid)
 *  5 C2..DF  6 E0      7 E1..EC,EE,EF     8 ED  9 F0  10 F1..F3  11 F4 */
/* clang-format off */
static const uint8_t cn_utf8_class[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 00 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 10 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 20 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 30 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 40 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 50 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 60 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 70 */
    1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 80 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 90 */
    3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  /* A0 */
    3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  /* B0 */
    4,  4,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  /* C0 */
    5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  /* D0 */
    6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  7,  /* E0 */
    9,  10, 10, 10, 11, 4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* F0 */
};
/* clang-format on */

/* States are stored premultiplied by the class count (12), so a step is
 * one add and one load: next = cn_utf8_next[state + class].
 * 0 accept, 12 reject, then: owe 1, owe 2, after E0 (A0..BF), after ED
 * (80..9F), owe 3, after F0 (90..BF), after F4 (80..8F). */
enum {
    S_OK = 0,
    S_BAD = 12,
    S_1 = 24,
    S_2 = 36,
    S_E0 = 48,
    S_ED = 60,
    S_3 = 72,
    S_F0 = 84,
    S_F4 = 96,
    S_END = 108
};

/* clang-format off */
static const uint8_t cn_utf8_next[S_END] = {
    /* class:  0     1      2      3      4      5      6      7      8      9      10     11 */
    /* OK  */ S_OK, S_BAD, S_BAD, S_BAD, S_BAD, S_1, S_E0, S_2, S_ED, S_F0, S_3, S_F4,
    /* BAD */ S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD,
    /* 1   */ S_BAD, S_OK, S_OK, S_OK, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD,
    /* 2   */ S_BAD, S_1, S_1, S_1, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD,
    /* E0  */ S_BAD, S_BAD, S_BAD, S_1, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD,
    /* ED  */ S_BAD, S_1, S_1, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD,
    /* 3   */ S_BAD, S_2, S_2, S_2, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD,
    /* F0  */ S_BAD, S_BAD, S_2, S_2, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD,
    /* F4  */ S_BAD, S_2, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD, S_BAD,
};
/* clang-format on */

_Static_assert(CN_UTF8_ACCEPT == S_OK && CN_UTF8_REJECT == S_BAD,
               "cn_utf8.h constants match the table");

uint8_t cn_utf8_feed(uint8_t state, const unsigned char *p, size_t n)
{
    size_t i = 0;
    if (state >= S_END || state % 12)
        return S_BAD; /* not a state we returned: treat as corrupt caller state */
    while (i < n) {
        if (state == S_OK) {
            /* ASCII fast path: 8 bytes per step, then byte steps, while no
             * high bit is set. */
            while (n - i >= 8) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                if (w & 0x8080808080808080ull)
                    break;
                i += 8;
            }
            while (i < n && p[i] < 0x80)
                i++;
            if (i == n)
                break;
        }
        state = cn_utf8_next[state + cn_utf8_class[p[i++]]];
        if (state == S_BAD)
            return S_BAD;
    }
    return state;
}

int cn_utf8_valid(const void *p, size_t n)
{
    return cn_utf8_feed(CN_UTF8_ACCEPT, p, n) == CN_UTF8_ACCEPT;
}

size_t cn_utf8_seq(const unsigned char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (p[0] < 0x80)
        return 1;
    uint8_t state = S_OK;
    for (size_t i = 0; i < n && i < 4; i++) {
        state = cn_utf8_next[state + cn_utf8_class[p[i]]];
        if (state == S_OK)
            return i + 1;
        if (state == S_BAD)
            return 0;
    }
    return 0; /* truncated: the input ends inside the sequence */
}
