/* SPDX-License-Identifier: MIT */
/*
 * cn_hash.h — the one hash for in-memory hash tables: 64-bit FNV-1a.
 * Small, fast on the short keys cairn's tables hold (player ids, 16-byte
 * addresses) and deterministic, so a table's layout is reproducible in
 * tests.  Not keyed: it does not resist chosen-key flooding, so a table
 * keyed by outside input must bound its size.
 * Never for anything stored or sent: its values may change.
 */
#ifndef CN_HASH_H
#define CN_HASH_H

#include <stddef.h>
#include <stdint.h>

/** 64-bit FNV-1a of p[0..n).  Pure; any thread. */
static inline uint64_t cn_hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull; /* the FNV-1a 64 offset basis */
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

#endif
