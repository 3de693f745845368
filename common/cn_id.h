/* SPDX-License-Identifier: MIT */
/*
 * cn_id.h — the one rule for identifiers that come from outside: player
 * ids (tokens, ?player=), hunt ids, beacon ids, client ping ids and node
 * names; and the narrower alphabet of names an operator writes in a hunt
 * file.  Every module checks ids through these functions.
 */
#ifndef CN_ID_H
#define CN_ID_H

#include <stddef.h>

/* Longest id accepted, in bytes. */
#define CN_ID_MAX 64

/**
 * 1 if s[0..n) is a valid id: 1..CN_ID_MAX bytes of A-Z a-z 0-9 and
 * "._:@-".  Why so narrow: ids end up in log keys, JSON, metrics labels,
 * file-free but shell-visible CLI output; a small safe alphabet needs no
 * escaping anywhere and leaves no room for confusable or control bytes.
 */
int cn_id_valid(const char *s, size_t n);

/** 1 if c is in the id alphabet (A-Z a-z 0-9 "._:@-"). */
int cn_id_byte(unsigned char c);

/**
 * 1 if c is in the alphabet of hunt and beacon ids in a hunt file: the id
 * alphabet without ':' and '@' (A-Z a-z 0-9 "._-").  Hunt files have
 * always been held to it (docs/hunts.md); since it is a subset, every name
 * a hunt file declares is also a valid id, so it can match the beacon and
 * hunt ids that arrive in pings and tokens.
 */
int cn_id_name_byte(unsigned char c);

#endif
