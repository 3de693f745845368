/* SPDX-License-Identifier: MIT */
/*
 * hunt_cache.h — a bounded, write-through cache of players' encoded
 * session and progress, so that a worker does not read RocksDB for a player
 * it committed recently (two point reads per player per batch were half of
 * the worker's CPU).  The worker puts a player's states only after the
 * RocksDB commit that wrote them succeeded, so a cached value always equals
 * the stored one; nothing is loaded at start (restart stays instant).
 * Least recently used players are evicted beyond max_players.
 * Threads: the worker's only.  Ownership: the cache copies ids and bytes;
 * pointers it returns are valid until the next put.
 */
#ifndef HUNT_CACHE_H
#define HUNT_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct hunt_cache hunt_cache;

/** @return 0 or CN_ENOMEM (max_players >= 1). */
int hunt_cache_new(hunt_cache **out, size_t max_players);
void hunt_cache_free(hunt_cache *c); /* NULL ok */

/** Look a player up (and mark it recently used).
 *  @return 0 with the encoded states and their commit time, or CN_ENOENT. */
int hunt_cache_get(hunt_cache *c, const char *id, size_t len, const unsigned char **sess,
                   size_t *slen, const unsigned char **prog, size_t *plen, int64_t *written_ms);

/** Insert or replace (evicting the least recently used player when full).
 *  len must be 1..64.  @return 0 or CN_ENOMEM (the player is then absent). */
int hunt_cache_put(hunt_cache *c, const char *id, size_t len, const void *sess, size_t slen,
                   const void *prog, size_t plen, int64_t written_ms);

size_t hunt_cache_size(const hunt_cache *c);

#endif
