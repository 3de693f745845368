/* SPDX-License-Identifier: MIT */
/*
 * hunt_store.h — a hunt worker's RocksDB state: one database, four column
 * families with their own lifetimes.
 *
 *   sessions  live session per player (hunt_state.h); stamped with the
 *             player's latest ping time; never expires for readers (the
 *             game engine decides expiry on ping time); garbage collected
 *             once stamped at or before the session horizon
 *             (hunt_store_set_session_horizon)
 *   progress  found set and score per player; never expires
 *   audit     every derived event / rejected record; TTL (default 90 days)
 *   offsets   input (topic, partition) -> next offset to consume
 *
 * Every value is stored as 8 bytes of big-endian time stamp (ms: the write
 * time from the store's clock, or the caller's event time for sessions)
 * followed by the caller's payload.  Audit TTL is enforced twice: reads
 * treat an expired entry as absent at once, and a compaction filter drops
 * expired entries physically whenever RocksDB compacts them — which
 * hunt_store_compact_expired() forces for the cold ranges, so expired data
 * leaves the disk even when nothing new is written.  Sessions go through
 * the same filter as garbage only: a stamp at or before the horizon the
 * worker sets from its committed input.
 *
 * Exactly-once: a worker gathers the state changes, audit entries and new
 * input offsets of one input batch in a hunt_batch and commits it with
 * hunt_store_write(): one RocksDB WriteBatch, WAL fsynced, all or nothing.
 *
 * The clock is injectable (opts.clock) for tests.  It is called from the
 * caller's thread and from RocksDB's background compaction threads, so it
 * must be thread-safe.
 *
 * Threads: a hunt_store may be used from several threads (RocksDB is
 * thread-safe); a hunt_batch belongs to one thread.  Errors from RocksDB
 * are mapped to cn_err codes (HUNT_ESTORE when nothing closer fits) and
 * the RocksDB text is kept for hunt_store_errmsg().
 */
#ifndef HUNT_STORE_H
#define HUNT_STORE_H

#include "cn_buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hunt_store hunt_store;
typedef struct hunt_batch hunt_batch;

enum hunt_cf {
    HUNT_CF_SESSIONS = 0,
    HUNT_CF_PROGRESS = 1,
    HUNT_CF_AUDIT = 2,
    HUNT_CF_OFFSETS = 3,
    HUNT_CF_COUNT
};

/** Wall-clock milliseconds since the Unix epoch; must be thread-safe. */
typedef int64_t (*hunt_clock_fn)(void *ud);

#define HUNT_AUDIT_KEY_LEN 22u /* be64 time, be32 partition, be64 offset, be16 seq */
#define HUNT_STORE_ERR_MAX 256u

typedef struct hunt_store_opts {
    int64_t audit_ttl_ms; /* 0: 90 days */
    hunt_clock_fn clock;  /* NULL: cn_now_ms */
    void *clock_ud;
    int no_sync; /* 1: do not fsync the WAL per write (benchmarks only) */
    /* Called at the start of every compaction hunt_store_maybe_compact()
     * requests, on the store's compaction thread (a test seam; NULL: none). */
    void (*on_compact)(void *ud);
    void *on_compact_ud;
} hunt_store_opts;

/**
 * Open (creating if missing) the database in dir.
 * @param[in]  o    options; NULL for defaults
 * @param[out] out  the handle (close with hunt_store_close)
 * @param[out] err  if non-NULL, one line naming dir and RocksDB's reason
 * @return 0, CN_EBUSY (another process has it open), CN_ECORRUPT, CN_EIO,
 *         CN_EINVAL (e.g. a database with other column families),
 *         CN_ENOMEM, HUNT_ESTORE.
 */
int hunt_store_open(const char *dir, const hunt_store_opts *o, hunt_store **out, char *err,
                    size_t errlen);
/** Close: memtables are flushed first so the next open replays no WAL
 *  (every write was durable in the WAL already).  NULL ok. */
void hunt_store_close(hunt_store *s);
/**
 * Bind the store to one hunt: the first call records hunt_id (synced) in
 * the default column family; later calls, also after reopening, must pass
 * the same id.  A state directory holds one hunt's state: a worker started
 * on it with another hunt file would read sessions and progress that mean
 * something else.
 * @param[out] other  if non-NULL, the recorded id on CN_EEXIST
 * @return 0; CN_EEXIST if the store belongs to another hunt; CN_EINVAL
 *         for an empty id; a mapped RocksDB error.
 */
int hunt_store_bind(hunt_store *s, const char *hunt_id, char *other, size_t otherlen);

/** RocksDB's text for the latest failure on this handle ("" if none). */
const char *hunt_store_errmsg(const hunt_store *s);
/** The store's clock, now. */
int64_t hunt_store_now(const hunt_store *s);

/**
 * Read a value's payload into val (reset first).
 * @param[out] written_ms  if non-NULL, the write time
 * @return 0; CN_ENOENT if absent or expired; CN_ECORRUPT if the stored
 *         value is shorter than its time stamp; a mapped RocksDB error.
 */
int hunt_store_get(hunt_store *s, enum hunt_cf cf, const void *key, size_t klen, cn_buf *val,
                   int64_t *written_ms);

/** Next offset to consume for (topic, partition).  0, CN_ENOENT, CN_ECORRUPT. */
int hunt_store_get_offset(hunt_store *s, const char *topic, int32_t partition, int64_t *next);

/* ---- atomic writes -------------------------------------------------------- */

/** A new, empty batch bound to s.  @return 0 or CN_ENOMEM. */
int hunt_batch_new(hunt_store *s, hunt_batch **out);
void hunt_batch_free(hunt_batch *b); /* NULL ok */
/** Empty the batch for reuse. */
void hunt_batch_clear(hunt_batch *b);
/** Number of operations in the batch. */
int hunt_batch_count(const hunt_batch *b);

/** Put key -> payload, stamped with the store's clock now.  0 or CN_ENOMEM. */
int hunt_batch_put(hunt_batch *b, enum hunt_cf cf, const void *key, size_t klen, const void *val,
                   size_t vlen);
/** Put key -> payload stamped with the caller's time (sessions: the
 *  player's latest ping time, which the session horizon is compared to). */
int hunt_batch_put_stamped(hunt_batch *b, enum hunt_cf cf, const void *key, size_t klen,
                           const void *val, size_t vlen, int64_t stamp_ms);
/** Delete key.  0 or CN_ENOMEM. */
int hunt_batch_delete(hunt_batch *b, enum hunt_cf cf, const void *key, size_t klen);
/**
 * Add an audit entry under a key that starts with the write time, so old
 * entries form one contiguous cold range (see hunt_store_compact_expired).
 * (partition, offset, seq) name the input record and the entry within it.
 * @param[out] key_out  if non-NULL, the HUNT_AUDIT_KEY_LEN-byte key used
 */
int hunt_batch_put_audit(hunt_batch *b, int32_t partition, int64_t offset, uint16_t seq,
                         const void *val, size_t vlen, unsigned char *key_out);
/** Record the next input offset of (topic, partition). */
int hunt_batch_put_offset(hunt_batch *b, const char *topic, int32_t partition, int64_t next);

/**
 * Commit the batch atomically (WAL fsynced unless opts.no_sync).  The
 * batch is left as it was; clear it before reuse.
 * @return 0 or a mapped RocksDB error (CN_ENOSPC, CN_EIO, ...).
 */
int hunt_store_write(hunt_store *s, hunt_batch *b);

/* ---- TTL compaction and inspection -------------------------------------------- */

/**
 * Sessions stamped at or before horizon_ms are garbage: the caller
 * guarantees nothing it can still apply could find them live.  The
 * compaction filter drops them; readers still see them until then (and
 * must decide expiry themselves).  The horizon only moves forward; the
 * initial one keeps everything.  Thread-safe.
 */
void hunt_store_set_session_horizon(hunt_store *s, int64_t horizon_ms);
/** The current session horizon (INT64_MIN until one is set). */
int64_t hunt_store_session_horizon(const hunt_store *s);

/**
 * Compact the cold ranges of the TTL column families now, so the
 * compaction filter drops what has expired: all of `sessions` (keyed by
 * player, so no range is colder than another; dropped: stamps at or before
 * the session horizon) and the part of `audit` written before now - audit
 * TTL.  Blocks until done.
 * @return 0 or a mapped RocksDB error.
 */
int hunt_store_compact_expired(hunt_store *s);
/**
 * Request hunt_store_compact_expired() if every_ms have passed on the
 * store's clock since the last request (or since open).  The compaction
 * runs on the store's own thread (started at the first request, stopped
 * by hunt_store_close), never on the caller's: a full compaction of
 * `sessions` takes seconds with many players, and the caller is a
 * worker's event loop.  A request while one runs is merged into it.
 * Call from one thread.
 * @return 1 if requested, 0 if not due, or CN_ENOMEM / CN_ESYS (the thread
 *         could not start).
 */
int hunt_store_maybe_compact(hunt_store *s, int64_t every_ms);
/** Compactions hunt_store_maybe_compact() requested that have finished. */
uint64_t hunt_store_compactions(const hunt_store *s);

/** Visitor for hunt_store_scan: return non-zero to stop. */
typedef int (*hunt_scan_fn)(void *ud, const void *key, size_t klen, const void *val, size_t vlen,
                            int64_t written_ms);
/**
 * Visit every entry of cf in key order.  raw = 0 skips expired entries (what
 * readers see); raw = 1 shows what is physically stored, expired or not.
 * @return 0 (also when fn stopped early) or a mapped RocksDB error.
 */
int hunt_store_scan(hunt_store *s, enum hunt_cf cf, int raw, hunt_scan_fn fn, void *ud);
/** A RocksDB integer property of cf ("rocksdb.estimate-num-keys", ...).
 *  @return 0 or CN_ENOENT. */
int hunt_store_property(hunt_store *s, enum hunt_cf cf, const char *name, uint64_t *out);
/** Column family name ("sessions", ...). */
const char *hunt_store_cf_name(enum hunt_cf cf);

#endif
