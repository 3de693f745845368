/* SPDX-License-Identifier: MIT */
/*
 * hunt_worker.h — the hunt worker: consumes ble-raw partitions, applies the
 * game (hunt_game.h) to each ping, commits the new states, audit entries,
 * input offsets and output bookkeeping in one synced RocksDB WriteBatch
 * per input batch, and emits hunt-events exactly once.  The mechanism and
 * every crash point are in docs/architecture.md, "The hunt workers".
 *
 * The worker is independent of where records come from: a hunt_io (the
 * log in-process, hunt_io_log.c; or Kafka via librdkafka, hunt_io_kafka.c)
 * reads input partitions, scans and appends the output partition.
 *
 * Threads: one thread calls everything on a hunt_worker (the command's
 * libevent loop: batches and HTTP requests interleave, so no locks).
 * Ownership: the worker borrows the rules, the store and the io (the
 * caller creates and frees them, after hunt_worker_free).
 */
#ifndef HUNT_WORKER_H
#define HUNT_WORKER_H

#include "cn_buf.h"
#include "hunt_game.h"
#include "hunt_rules.h"
#include "hunt_store.h"
#include "lg_batch.h"

#include <stddef.h>
#include <stdint.h>

#define HUNT_TOPIC_IN "ble-raw"
#define HUNT_TOPIC_OUT "hunt-events"
#define HUNT_MAX_PARTITIONS 1024
#define HUNT_BATCH_DEFAULT 4096
#define HUNT_BATCH_MAX 65536
#define HUNT_CACHE_DEFAULT 100000 /* players in the write-through cache (~200 B each) */
/* Worker-level rejection (not a game reason): the record is not a
 * cairn.ble.ping CloudEvent at all.  Beside HUNT_REJ_* in audit. */
#define HUNT_REJ_BAD_RECORD 32
/* The player's stored progress does not decode for this hunt. */
#define HUNT_REJ_BAD_STATE 33
/* The ping carries a hunt claim (BlePing.hunt, copied by the gateway from
 * the player's token) naming another hunt: a token plays one hunt. */
#define HUNT_REJ_WRONG_HUNT 34

/** One derived record for the output partition.  Borrowed by the io for
 *  the duration of append(). */
typedef struct hunt_out_rec {
    const unsigned char *key;
    size_t key_len;
    const unsigned char *value;
    size_t value_len;
    int64_t timestamp;
} hunt_out_rec;

/** Where records come from and go to.  Every call runs on the worker's thread. */
typedef struct hunt_io hunt_io;
struct hunt_io {
    /** Partition count of a topic (> 0) or a negative error. */
    int (*partitions)(hunt_io *io, const char *topic);
    /** Position input partition p at offset (clamped up to the log start). */
    int (*seek)(hunt_io *io, int32_t p, int64_t offset);
    /** Next input record of p: 0 (*rec valid until the next call on p),
     *  CN_DONE when nothing more is available now, or an error. */
    int (*next)(hunt_io *io, int32_t p, lg_record *rec);
    /** Call fn for every record of output partition p from offset `from` to
     *  its current end (fn returning non-zero stops); LG_EOFFSET when
     *  `from` lies past the end (the log lost its tail). */
    int (*scan_out)(hunt_io *io, int32_t p, int64_t from, int (*fn)(void *ud, const lg_record *rec),
                    void *ud);
    /** Append n records to output partition p, durably, as producer
     *  (pid, epoch, base_seq) when the io supports it; *next_offset gets
     *  the offset after the last one.  LG_EFENCED: a newer instance of
     *  this worker has taken the producer id over. */
    int (*append)(hunt_io *io, int32_t p, const hunt_out_rec *recs, size_t n, int64_t pid,
                  int16_t epoch, int32_t base_seq, int64_t *next_offset);
    /** A producer id for output partition p (--log: lg_producer_id_alloc;
     *  an io without its own ids returns -1). */
    int (*alloc_pid)(hunt_io *io, int64_t *pid);
    /** Log end offset of input partition p (for lag), or negative. */
    int64_t (*end_offset)(hunt_io *io, int32_t p);
    void *ud;
};

typedef struct hunt_worker_opts {
    const char *node;     /* CloudEvent source /hunt/<node>; default "hunt" */
    uint32_t batch;       /* max input records per batch; 0: HUNT_BATCH_DEFAULT */
    const int32_t *parts; /* input partitions; NULL: all */
    size_t nparts;
    int rebuild;          /* derive state only: emit nothing, record outputs as done */
    size_t cache_players; /* write-through player cache; 0: HUNT_CACHE_DEFAULT */
} hunt_worker_opts;

typedef struct hunt_worker hunt_worker;

/* Counters, for /metrics and tests. */
typedef struct hunt_worker_stats {
    uint64_t records; /* input records consumed */
    uint64_t accepted;
    uint64_t ignored[4];                                              /* by hunt_reason 1..3 */
    uint64_t rejected[HUNT_REJ_WRONG_HUNT - HUNT_REJ_BAD_PLAYER + 1]; /* by reason - 16 */
    uint64_t events[5];  /* derived, by hunt_event_type 1..4 */
    uint64_t emitted;    /* records appended to hunt-events */
    uint64_t suppressed; /* derived events already in hunt-events (after a crash) */
    uint64_t batches;
    uint64_t sessions_expired; /* a joined player's ping met a session over on ping time */
    uint64_t compactions;      /* timed compactions finished (on the store's thread) */
} hunt_worker_stats;

/**
 * Create a worker: binds the store to the hunt, checks the topics, reads
 * each partition's stored offsets and scans its output tail (see
 * docs/architecture.md).  Nothing else is loaded.
 * @param[out] err  one line on failure
 * @return 0; CN_EEXIST (state of another hunt); LG_ENOTOPIC; CN_EINVAL
 *         (a partition that does not exist, too few output partitions);
 *         CN_ENOMEM; a store or io error.
 */
int hunt_worker_new(hunt_worker **out, const hunt_rules *r, hunt_store *st, hunt_io *io,
                    const hunt_worker_opts *o, char *err, size_t errlen);
void hunt_worker_free(hunt_worker *w); /* NULL ok */

/**
 * Run at most one batch per assigned partition.
 * @return the number of input records processed (0: nothing available), or
 *         a negative error (the worker must stop: a store, log or
 *         sequence failure; nothing of the failed batch was committed).
 *         CN_ERANGE: an input partition handed out an offset below the
 *         next one to consume (the topic was recreated or truncated):
 *         replaying it would apply history twice, so the worker refuses.
 */
int hunt_worker_poll(hunt_worker *w);
/** One line saying why the last hunt_worker_poll() failed ("" if none);
 *  valid until the next poll. */
const char *hunt_worker_error(const hunt_worker *w);

/** 1 when every assigned partition has been consumed to its current end
 *  (the io's end offset, which must be known). */
int hunt_worker_caught_up(const hunt_worker *w);

const hunt_worker_stats *hunt_worker_get_stats(const hunt_worker *w);
/** Input lag of the assigned partitions: sum of (end - next). */
int64_t hunt_worker_lag(hunt_worker *w);
/** Append Prometheus text for the worker (counters, lag, RocksDB). */
int hunt_worker_metrics(hunt_worker *w, cn_buf *out);

const hunt_rules *hunt_worker_rules(const hunt_worker *w);
hunt_store *hunt_worker_store(const hunt_worker *w);
struct hunt_board *hunt_worker_board(hunt_worker *w); /* loaded lazily; NULL on error */

#endif
