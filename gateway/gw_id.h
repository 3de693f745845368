/* SPDX-License-Identifier: MIT */
/*
 * gw_id.h — the one rule for identifiers that come from outside: player
 * ids (tokens, ?player=), hunt ids, beacon ids and client ping ids.
 */
#ifndef GW_ID_H
#define GW_ID_H

#include <stddef.h>

/* Longest id accepted, in bytes. */
#define GW_ID_MAX 64

/**
 * 1 if s[0..n) is a valid id: 1..GW_ID_MAX bytes of A-Z a-z 0-9 and
 * "._:@-".  Why so narrow: ids end up in log keys, JSON, metrics labels,
 * file-free but shell-visible CLI output; a small safe alphabet needs no
 * escaping anywhere and leaves no room for confusable or control bytes.
 */
int gw_id_valid(const char *s, size_t n);

#endif
