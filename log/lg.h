/* SPDX-License-Identifier: MIT */
/*
 * lg.h — the public API of cairn's log: topics of N partitions, each an
 * append-only sequence of Kafka RecordBatch v2 bytes in segment files,
 * indexed in one LMDB environment per data directory.
 * See docs/architecture.md, section "The log".
 *
 * Threads: every function may be called from any thread.  Appends from
 * all threads are coalesced by one writer thread per lg_log (group
 * commit: one write per partition, one fdatasync per dirty segment, one
 * LMDB transaction per round).  Reads never block the writer.
 * Ownership: lg_log owns everything it opens; results hand out borrowed
 * views whose lifetime is stated per call.
 * Errors: 0 or a negative cn_err code (cn_err.h).  After an fsync or
 * index-commit failure the log is sticky-failed: appends return CN_EPANIC
 * until it is closed and reopened (which recovers).
 */
#ifndef LG_H
#define LG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lg_batch.h"

typedef struct lg_log lg_log;

/** Durability: when an append is acknowledged. */
enum lg_durability {
    LG_DUR_FSYNC = 0,    /* after fdatasync of the segment (default) */
    LG_DUR_INTERVAL = 1, /* after write; fdatasync every interval_ms */
    LG_DUR_NONE = 2,     /* after write; the OS flushes when it likes */
};

/** File I/O seam: every segment/index file operation goes through this
 *  table so tests can inject EIO, ENOSPC and short writes.  Each returns
 *  like its POSIX namesake (-1 with errno on failure). */
typedef struct lg_vfs {
    int (*open)(void *ud, const char *path, int flags, mode_t mode);
    int (*close)(void *ud, int fd);
    ssize_t (*pwrite)(void *ud, int fd, const void *buf, size_t n, off_t off);
    ssize_t (*pread)(void *ud, int fd, void *buf, size_t n, off_t off);
    int (*fdatasync)(void *ud, int fd);
    int (*ftruncate)(void *ud, int fd, off_t len);
    int (*unlink)(void *ud, const char *path);
    int (*rename)(void *ud, const char *from, const char *to);
    void *ud;
} lg_vfs;

/** The default POSIX implementation. */
const lg_vfs *lg_vfs_posix(void);

/** Largest segment.bytes accepted (log default and per topic): positions
 *  inside a segment are 32-bit, and a segment may exceed its roll size by
 *  one batch (max_batch_bytes <= 1 GiB), so 1 GiB keeps every position
 *  below 2^31.  Kafka's own limit is 2^31 - 1. */
#define LG_SEGMENT_BYTES_MAX (1ull << 30)

typedef struct lg_opts {
    const char *dir; /* data directory (created if missing unless read_only) */
    int read_only;   /* inspect a directory a node may be writing; no recovery */
    enum lg_durability durability;
    int64_t interval_ms;           /* for LG_DUR_INTERVAL */
    uint64_t segment_bytes;        /* roll size; default 128 MiB, at most LG_SEGMENT_BYTES_MAX */
    int64_t segment_ms;            /* roll age; default 7 days */
    int64_t retention_ms;          /* default topic retention by time; -1 none; default 7 d */
    int64_t retention_bytes;       /* default per-partition retention by size; -1 none */
    uint64_t max_batch_bytes;      /* largest batch accepted; default 8 MiB */
    uint64_t max_queued_bytes;     /* appends wait for room beyond this much queued for the
                                      writer (lg_append_batches_try refuses instead);
                                      default (and 0) 256 MiB */
    int64_t maintenance_ms;        /* the writer thread runs retention and producer expiry this
                                      often; default 5 min (Kafka's
                                      log.retention.check.interval.ms); <= 0 never */
    int64_t producer_expiry_ms;    /* idle producer state is forgotten after this long (by batch
                                      timestamps); default 1 day (Kafka's
                                      producer.id.expiration.ms); -1 never */
    uint64_t lmdb_map_bytes;       /* LMDB map size; default 1 TiB (address space, not disk) */
    int32_t producer_id_node;      /* -1 (default): standalone producer ids 1000, 1001, ...;
                                      >= 0: this log is cluster node N, whose ids are
                                      N * 2^31 + k, k in [1000, 2^31): unique across nodes
                                      (lg_producer_id_alloc) */
    const lg_vfs *vfs;             /* NULL: lg_vfs_posix() */
    int64_t (*clock_ms)(void *ud); /* NULL: wall clock; tests inject time */
    void *clock_ud;
} lg_opts;

/** Fill o with the defaults above. */
void lg_opts_init(lg_opts *o);

/**
 * Open (and unless read_only, recover) the log in o->dir.  Recovery scans
 * each partition only past its last indexed position, truncates a torn or
 * garbled tail, rebuilds missing index entries, and rebuilds the whole
 * LMDB index from segments if it is missing.  A partition with corruption
 * in the middle of a segment is marked failed (reported by lg_partition_info
 * and logged with file and byte position); the others keep serving.
 * @return 0; CN_EBUSY if another process holds the writer lock; CN_EIO...
 * On failure *out is NULL and nothing needs closing.
 */
int lg_open(lg_log **out, const lg_opts *o);
/** Drain pending appends (they complete), sync, close.  NULL-safe. */
void lg_close(lg_log *log);

/* ---- topics ---------------------------------------------------------- */

typedef struct lg_topic_config {
    int32_t partitions;
    int64_t retention_ms;    /* -1: keep forever; 0: use the log default */
    int64_t retention_bytes; /* per partition; -1: no limit; 0: default */
    uint64_t segment_bytes;  /* 0: log default */
} lg_topic_config;

/** @return 0; CN_EEXIST; CN_EINVAL (name not [A-Za-z0-9._-]{1,249}, partitions < 1,
 *  segment_bytes not 0 or within [LG_BATCH_HEADER_LEN, LG_SEGMENT_BYTES_MAX]). */
int lg_topic_create(lg_log *log, const char *name, const lg_topic_config *cfg);
/** Remove a topic and its files; appends still queued for it fail with
 *  LG_ENOTOPIC.  @return 0 or LG_ENOTOPIC (CN_EPERM when read_only). */
int lg_topic_delete(lg_log *log, const char *name);
/** Change a topic's retention_ms, retention_bytes and segment_bytes (same
 *  meanings and bounds as at creation; 0 = the log default).  partitions
 *  must be 0 or the current count.  Durable on return (topic.meta and the
 *  index); retention applies from the next maintenance run, a new segment
 *  size from the next roll.
 *  @return 0, LG_ENOTOPIC, CN_EINVAL, CN_EPERM (read_only), CN_EBUSY (from
 *  an append callback), or an I/O error (the old settings stay). */
int lg_topic_config_set(lg_log *log, const char *name, const lg_topic_config *cfg);
/** A topic's config: *set (may be NULL) as created or last changed, 0 meaning
 *  the log default; *eff (may be NULL) with the log defaults filled in.
 *  Any thread.  @return 0, LG_ENOTOPIC, CN_EINVAL. */
int lg_topic_config_get(lg_log *log, const char *name, lg_topic_config *set, lg_topic_config *eff);
/** Partition count of a topic (> 0), or LG_ENOTOPIC. */
int lg_topic_partitions(lg_log *log, const char *name);
/** Calls fn for each topic in name order (cfg with the log defaults filled
 *  in); fn returning non-zero stops.  fn runs under the topic-table lock:
 *  it must not create or delete topics. */
int lg_topics_each(lg_log *log, int (*fn)(void *ud, const char *name, const lg_topic_config *cfg),
                   void *ud);

/* ---- append ---------------------------------------------------------- */

typedef struct lg_append_result {
    int err;             /* 0, or why the batch was refused */
    int64_t base_offset; /* offset given to the first record (for a duplicate: the original) */
    int64_t log_append_time_ms;
    int64_t log_start_offset;
    int duplicate; /* idempotent retry of a batch already in the log */
} lg_append_result;

typedef void (*lg_append_cb)(void *ud, const lg_append_result *res);

/**
 * Queue one RecordBatch v2 for append.  The bytes are validated (length,
 * magic, CRC) and copied before this returns; a bad batch fails here with
 * its error and nothing is written.  Idempotent producers (producerId >= 0)
 * are checked: a duplicate of one of the last 5 batches completes with
 * duplicate=1 and its original offset; a sequence gap fails LG_ESEQ; an
 * old epoch LG_EFENCED.  cb runs on the writer thread once the batch is
 * durable per the durability mode (or failed), while the writer holds its
 * round lock: it must not block.  From a callback, lg_append_async queues
 * (never waiting for room), reads work, and the calls that would wait for
 * the writer's round (lg_append, lg_truncate, lg_retention_run,
 * lg_maintenance_run, lg_topic_delete, lg_topic_config_set) return
 * CN_EBUSY instead of deadlocking.  When max_queued_bytes are already
 * queued this call waits for room (backpressure), except on the writer
 * thread; lg_append_batches_try refuses instead of waiting.
 * @return 0 (cb will run exactly once) or an error (cb never runs):
 *         LG_ECRC / LG_EMAGIC / LG_EBADBATCH / CN_ETRUNC for a bad batch,
 *         CN_ETOOBIG (> max_batch_bytes), LG_ENOTOPIC, LG_ENOPART,
 *         CN_ECORRUPT (partition failed), CN_EPANIC (sticky failure),
 *         CN_EPERM (read_only), CN_ECLOSED (closing).
 * Callback errors: LG_ESEQ, LG_EFENCED, CN_ENOSPC / CN_EIO (that write
 * failed and was cut away; later appends are tried afresh), CN_EPANIC.
 */
int lg_append_async(lg_log *log, const char *topic, int32_t partition, const void *batch,
                    size_t len, lg_append_cb cb, void *ud);
/** One batch of a set for lg_append_batches. */
typedef struct lg_batchv {
    const void *batch;
    size_t len;
} lg_batchv;

/**
 * Queue n batches for one partition as one unit: all of them are stored
 * or none is (Kafka appends a partition's batches of one Produce request
 * all or nothing).  Each batch is checked as lg_append_async checks it;
 * any bad one fails the call and nothing is queued.  In the writer the
 * set goes into one segment (a roll, if due, happens before it), and if
 * any batch is refused (LG_ESEQ, LG_EFENCED, a write error) every batch of
 * the set completes with that error and nothing of it is in the log; a
 * duplicate of an idempotent producer counts as stored.  cb runs once per
 * batch, in order, with the same ud.
 * @return 0 (cb will run n times) or an error as lg_append_async (cb never
 *         runs).  n == 0 is CN_EINVAL.
 */
int lg_append_batches(lg_log *log, const char *topic, int32_t partition, const lg_batchv *v,
                      size_t n, lg_append_cb cb, void *ud);
/**
 * As lg_append_batches, but never waits for room: when the set does not
 * fit under max_queued_bytes (and something is queued; a set larger than
 * the limit goes alone into an empty queue) it returns CN_AGAIN and
 * nothing is queued.  Room appears when the writer takes its next round;
 * lg_end_listen subscribers hear of rounds in which an append succeeded.
 * For event loops, which must never block: park the request and call
 * again later.  @return as lg_append_batches, or CN_AGAIN.
 */
int lg_append_batches_try(lg_log *log, const char *topic, int32_t partition, const lg_batchv *v,
                          size_t n, lg_append_cb cb, void *ud);
/** Blocking form: waits for durability; fills *res (may be NULL). */
int lg_append(lg_log *log, const char *topic, int32_t partition, const void *batch, size_t len,
              lg_append_result *res);

/* ---- the acknowledged end, published --------------------------------- */

/**
 * A listener told that the log's acknowledged end moved: some partition
 * took records that are now durable per the durability mode (on disk with
 * fsync; as acks are given with interval and none), so lg_read returns
 * more than before.  In-process readers that wait for new data (the Kafka
 * listener's long-poll Fetches) subscribe here instead of every appender
 * telling them.
 * Runs on the writer thread, once per round in which at least one append
 * succeeded, after that round's append callbacks, while the writer holds
 * its round lock; and on the thread calling lg_read_limit_set when a
 * partition's read limit changes (consumers may read more: parked Fetches
 * look again).  Calls never overlap.  It may only do thread-safe work that
 * does not block (set a flag, activate a libevent event, signal a
 * condition); it must not call lg_ functions, and a caller of
 * lg_read_limit_set must not hold a lock the listener takes.  It carries
 * no detail: a listener looks again.
 */
typedef void (*lg_end_fn)(void *ud);

/**
 * *end = the log end a consumer read of this partition would report now:
 * the end of the writer's last index commit, or the read limit when that
 * is lower.  Cheap (from memory, no index transaction): a listener woken
 * by lg_end_listen uses it to look again only at partitions whose end
 * moved.  Any thread.  @return 0; LG_ENOTOPIC / LG_ENOPART; CN_EPERM in a
 * read-only opener (it does not see another process's commits in memory).
 */
int lg_end_peek(lg_log *log, const char *topic, int32_t partition, int64_t *end);

/** Most listeners at once (one Kafka listener per log today). */
#define LG_END_LISTENERS_MAX 8

/**
 * Subscribe fn(ud) to the acknowledged end.  Any thread but the writer's
 * (from an append callback it returns CN_EBUSY); waits for a round in
 * progress.  @return 0; CN_ENOSPC (LG_END_LISTENERS_MAX reached);
 * CN_EBUSY (called from an append callback).
 */
int lg_end_listen(lg_log *log, lg_end_fn fn, void *ud);
/**
 * Unsubscribe the pair fn, ud (absent: nothing happens).  When it returns,
 * fn(ud) is not running and never runs again, so ud may be freed.  Same
 * threads as lg_end_listen (CN_EBUSY from an append callback); NULL log ok.
 */
int lg_end_unlisten(lg_log *log, lg_end_fn fn, void *ud);

/* ---- read ------------------------------------------------------------ */

typedef struct lg_partition_info {
    int64_t log_start_offset;
    int64_t log_end_offset;  /* next offset to be assigned = high watermark on one node */
    int64_t first_timestamp; /* -1 if empty */
    int64_t last_timestamp;  /* -1 if empty */
    uint64_t bytes;
    uint32_t segments;
    uint32_t producers; /* idempotent producer ids with state kept */
    int32_t leader_epoch;
    int64_t high_watermark; /* what consumers may read below: min(log end, read limit) */
    int failed;             /* corruption found; err_detail says where */
    char err_detail[256];
} lg_partition_info;

int lg_partition_info_get(lg_log *log, const char *topic, int32_t partition,
                          lg_partition_info *out);

/**
 * Whether the log still works, for a node's /healthz and its exit status.
 * @return 0 while it accepts appends; CN_EPANIC once an fdatasync, an index
 *         commit or a checkpoint failed (sticky until the log is reopened:
 *         every append then fails); CN_EINVAL if log is NULL.
 * *failed_parts (if not NULL): partitions marked failed by corruption found
 * in their files (they refuse reads and appends; the others still work).
 * Any thread; one atomic load and a walk under the topic lock.
 */
int lg_health(lg_log *log, int *failed_parts);

/** A contiguous range of whole batches in one segment file, fit for
 *  sendfile.  fd is the log's own descriptor: valid until lg_read_release
 *  (-1 with ref NULL when len is 0).  The bytes are not CRC-checked here. */
typedef struct lg_read_result {
    int fd;
    off_t file_pos;
    size_t len;           /* 0 if offset == log end */
    int64_t first_offset; /* base offset of the first batch in the range */
    int64_t next_offset;  /* the offset to ask for next */
    int64_t log_start_offset;
    int64_t log_end_offset;
    void *ref; /* segment reference; keep until done with fd */
} lg_read_result;

/**
 * Whole batches starting with the one containing offset, up to max_bytes
 * (at least one batch even if larger, as Kafka does), within one segment.
 * Only durable (acknowledged) data is returned.
 * @return 0; LG_EOFFSET if offset < log start or > log end; LG_ENOTOPIC;
 *         LG_ENOPART; CN_ECORRUPT if the partition failed.
 * On 0 the caller must call lg_read_release(log, res).
 */
int lg_read(lg_log *log, const char *topic, int32_t partition, int64_t offset, size_t max_bytes,
            lg_read_result *res);
void lg_read_release(lg_log *log, lg_read_result *res);

/** First offset whose record timestamp >= ts_ms (log end if none). */
int lg_offset_for_time(lg_log *log, const char *topic, int32_t partition, int64_t ts_ms,
                       int64_t *offset);

/** Record iterator across batches and segments, for in-process consumers. */
typedef struct lg_iter lg_iter;
/** Start at offset (clamped up to the log start).  @return 0 or an error. */
int lg_iter_open(lg_iter **out, lg_log *log, const char *topic, int32_t partition, int64_t offset);
/** @return 0 with *rec valid until the next call; CN_DONE at the current end
 *  (call again later to see new records); LG_ECRC / CN_ECORRUPT on damage. */
int lg_iter_next(lg_iter *it, lg_record *rec);
/** The batch header of the record last returned. */
const lg_batch_hdr *lg_iter_batch(const lg_iter *it);
/** on != 0: also return the records of control batches (transaction
 *  markers; lg_iter_batch's attributes say LG_ATTR_CONTROL), which are
 *  skipped by default as a Kafka consumer skips them. */
void lg_iter_set_control(lg_iter *it, int on);
void lg_iter_close(lg_iter *it); /* NULL-safe */

/* ---- maintenance ----------------------------------------------------- */

/** Delete whole segments past retention (time: the segment's newest record
 *  is older than retention_ms; size: while the partition stays at or above
 *  retention_bytes without it); never the active segment; advance the log
 *  start.  @return the number of segments deleted (>= 0) or an error. */
int lg_retention_run(lg_log *log);
/** What the writer thread runs every maintenance_ms: retention as
 *  lg_retention_run, then producer expiry (state of producer ids whose
 *  newest batch's timestamp is older than producer_expiry_ms is dropped;
 *  a retry of one of their batches is then no longer recognised as a
 *  duplicate, as in Kafka).  @return segments deleted (>= 0) or an error. */
int lg_maintenance_run(lg_log *log);
/** Remove every batch with base offset >= offset (offset must be a batch
 *  boundary or the log end: else CN_EINVAL; LG_EOFFSET outside the log):
 *  for replication.  Bumps the leader epoch; producer state of the removed
 *  batches is forgotten.  Crash-atomic: after a crash the log reopens
 *  either as before the call or as after it (a redo record written first
 *  lets recovery finish a truncate that had begun).  On 0 the truncate is
 *  durable.  CN_EPANIC if a step failed after the redo record was written
 *  (reopen: recovery completes it). */
int lg_truncate(lg_log *log, const char *topic, int32_t partition, int64_t offset);
/** Check every CRC and index entry; fn is called for each problem found
 *  (file, byte position, text).  Reads everything committed; works in
 *  read_only mode.  @return number of problems (>= 0) or error. */
int lg_verify(lg_log *log, void (*fn)(void *ud, const char *file, uint64_t pos, const char *what),
              void *ud);

/* ---- replication storage contract (docs/replication.md) -------------- */
/*
 * What a replication driver (the per-partition glue between repl/'s
 * rp_node and this log) needs from storage.  Standalone use never calls
 * these, and they cost a standalone log nothing: the read limit is one
 * atomic load (-1) per read, the durable end one atomic store per round.
 * How the rp_node outputs map (docs/replication.md, "The core's
 * interface"): RP_OUT_APPEND -> lg_replica_append (epoch -1 for a
 * follower's verbatim batches, the assigned epoch for a proposal; the
 * leader-change control batch is built by the driver); RP_OUT_TRUNCATE ->
 * lg_replica_truncate; RP_OUT_PERSIST -> lg_raft_state_save; RP_OUT_HW ->
 * lg_read_limit_set; rp_node_durable <- lg_durable_end, read after each
 * lg_end_listen notification (or an append callback); rp_recovered <-
 * lg_raft_state_load, lg_partition_info_get (log end) and lg_epochs_each;
 * a FetchResponse's records <- lg_read_replica (whole batches; cap the
 * length at read_end).  Dedupe of idempotent retries at a leader is the
 * driver's (lg_replica_append never refuses for it).
 */

/**
 * Queue whole RecordBatch v2 batches (batch/len may hold several, back to
 * back) to be stored at exactly base_offset, the first at base_offset and
 * each next one at the previous one's last offset + 1.  epoch >= 0: a
 * proposal at the leader; baseOffset and partitionLeaderEpoch = epoch are
 * stamped into every batch.  epoch == -1: verbatim replication (an
 * RP_OUT_APPEND at a follower); each batch keeps its own epoch (>= 0,
 * non-decreasing along the run) and must already carry its expected
 * baseOffset (else CN_EINVAL, nothing queued).  The bytes are
 * checked as lg_append_async checks them (length, magic, CRC, recordCount
 * = lastOffsetDelta + 1) and copied before this returns; producer ids are
 * not checked against this node's allocator (another node allocated them).
 * The batches form one all-or-none unit (as lg_append_batches).
 * In the writer's round, before anything is written: base_offset must
 * equal the partition's log end at that moment and each batch's epoch must
 * be >= the partition's current epoch, else every batch completes with
 * LG_EOFFSET (wrong offset) or LG_EFENCED (epoch goes back) and nothing
 * is stored.  Idempotent producer state is recorded from the batches
 * exactly as the leader's appends record it (so a node that later leads
 * deduplicates retries of them), but a replicated batch is never refused
 * or skipped for sequence, epoch or duplicate reasons.  A new epoch gets
 * its entry in the epoch history (lg_epochs_each) at its first offset.
 * cb runs once per batch, in order, on the writer thread, after the round's
 * fdatasync (fsync mode): the same group commit, rules and errors as
 * lg_append_async (plus those above).  res->base_offset is the batch's
 * offset; res->duplicate is always 0.
 * @return 0 (cb will run once per batch) or an error as lg_append_async
 *         (cb never runs); CN_EINVAL for base_offset < 0, epoch < -1,
 *         len == 0, bytes that do not split into whole batches, or (epoch
 *         -1) a batch's baseOffset or epoch as above.
 */
int lg_replica_append(lg_log *log, const char *topic, int32_t partition, int64_t base_offset,
                      int32_t epoch, const void *batch, size_t len, lg_append_cb cb, void *ud);

/**
 * Remove every batch with base offset >= offset, as lg_truncate (batch
 * boundary or the log end, else CN_EINVAL; LG_EOFFSET outside [log start,
 * log end]; crash-atomic through the same truncate.intent redo record;
 * durable when it returns 0; CN_EPANIC as lg_truncate), but the leader
 * epoch is NOT bumped: epochs whose first offset is >= offset leave the
 * epoch history and the partition's epoch becomes the latest epoch left
 * in it (0 if none).  Producer state of the removed batches is forgotten.
 * The durable end (lg_durable_end) drops to offset if it was above.
 * Appends queued before this call that reach the writer after it fail
 * their base_offset check (lg_replica_append) or are stored after the cut
 * (lg_append_async); appends queued after it returns land after the cut.
 * Not from an append callback (CN_EBUSY).
 */
int lg_replica_truncate(lg_log *log, const char *topic, int32_t partition, int64_t offset);

/**
 * *end = the offset below which this partition's log is on disk (fsync
 * mode: fdatasync'd; interval mode: synced by the interval timer; none:
 * written, which is not durable).  Measured against the log as it is now:
 * never above the log end, lowered by a truncate, advanced after each
 * writer round's fdatasync (before the round's callbacks and its
 * lg_end_listen publication, so a listener that looks sees it).  At open
 * every recovered batch is synced, so it starts at the log end.
 * @return 0, LG_ENOTOPIC, LG_ENOPART, CN_EINVAL.
 */
int lg_durable_end(lg_log *log, const char *topic, int32_t partition, int64_t *end);

/**
 * The Raft term and vote of this partition's replica, in
 * DATA/topics/<topic>/<partition>/raft.state (16 bytes: version, term,
 * vote, CRC-32C), written crash-atomically (temp file, fdatasync, rename,
 * directory fsync, all through the VFS): after a crash the file holds the
 * old or the new pair.  Returns when durable.  Blocks on I/O: not from an
 * append callback (it works there, but stalls the writer).
 * @return 0; CN_EINVAL (term < 0, vote < -1); LG_ENOTOPIC; LG_ENOPART;
 *         CN_EPERM (read_only); an I/O error (the old pair stays).
 */
int lg_raft_state_save(lg_log *log, const char *topic, int32_t partition, int32_t term,
                       int32_t vote);
/** Load what lg_raft_state_save stored: a missing file is term 0, vote -1
 *  (none).  @return 0; CN_ECORRUPT (wrong size, version or CRC: never
 *  guessed); LG_ENOTOPIC; LG_ENOPART; an I/O error. */
int lg_raft_state_load(lg_log *log, const char *topic, int32_t partition, int32_t *term,
                       int32_t *vote);

/**
 * The epoch history: fn(ud, epoch, start_offset) for every leader epoch
 * present in the log, in increasing epoch (and start offset) order; an
 * epoch starts where its first batch is.  Batches written before any epoch
 * change carry epoch 0, which has no recorded entry: it is reported at the
 * log start when the first recorded epoch starts above it.  An epoch whose
 * start lies below the log start (retention) is reported at its recorded
 * start; one recorded at the log end (lg_truncate's new epoch before its
 * first batch) is not reported.  So epochs and starts both strictly
 * increase and every start is below the log end, as rp_node_create
 * requires.  fn returning non-zero stops (that value is returned).
 * @return 0, LG_ENOTOPIC, LG_ENOPART, an LMDB error.
 */
int lg_epochs_each(lg_log *log, const char *topic, int32_t partition,
                   int (*fn)(void *ud, int32_t epoch, int64_t start_offset), void *ud);

/**
 * Kafka's OffsetForLeaderEpoch rule (KIP-101/279) over the epoch history:
 * requested == the latest epoch: (it, log end); requested below the latest:
 * (the largest epoch <= requested, the start offset of the first epoch
 * above requested), or (requested, first epoch's start) when requested is
 * below every epoch; requested above the latest, or an empty history, or
 * requested < 0: (-1, -1).  The log end here is the real end (replicas
 * ask), not the read limit.  @return 0, LG_ENOTOPIC, LG_ENOPART.
 */
int lg_epoch_end_offset(lg_log *log, const char *topic, int32_t partition, int32_t epoch,
                        int32_t *out_epoch, int64_t *end_offset);

/**
 * Set the read limit (the high watermark) of a partition: consumer reads
 * (lg_read, lg_iter, lg_offset_for_time) never return a batch at or above
 * it, and report min(log end, limit) as their log end, so a consumer
 * asking between the limit and the log end gets nothing yet rather than
 * an error.  -1 (the default) = no limit.  Only this process's readers
 * see it (a read-only opener in another process is not limited).  The
 * limit should be a batch boundary (the core's HW always is); a batch
 * straddling it is not returned.  A change is published to lg_end_listen
 * subscribers from the calling thread before this returns.
 * @return 0, LG_ENOTOPIC, LG_ENOPART, CN_EINVAL (below -1).
 */
int lg_read_limit_set(lg_log *log, const char *topic, int32_t partition, int64_t limit);
/** As lg_read, ignoring the read limit (replica fetches read to the log
 *  end). */
int lg_read_replica(lg_log *log, const char *topic, int32_t partition, int64_t offset,
                    size_t max_bytes, lg_read_result *res);

/* ---- transactions (docs/architecture.md, "Transactions") -------------- */

/** Control record types of a transaction marker (its key: version, type). */
#define LG_CTL_ABORT 0
#define LG_CTL_COMMIT 1

/**
 * Build a transaction marker: a control batch (attributes transactional |
 * control, base sequence -1) of one record, key (version 0, ABORT or
 * COMMIT), value (version 0, coordinator_epoch), appended to out.  Append
 * it like any batch; the log then closes the producer's open transaction
 * in that partition (recording it as aborted for ABORT), moves the last
 * stable offset, and takes the marker's epoch as the producer's (an older
 * epoch's later batches and markers get LG_EFENCED).  A marker for a
 * producer with nothing open in the partition changes only its epoch.
 * @return 0, CN_EINVAL (pid or epoch < 0), CN_ENOMEM.
 */
int lg_control_batch(cn_buf *out, int64_t producer_id, int16_t producer_epoch, int commit,
                     int32_t coordinator_epoch, int64_t timestamp_ms);

/** The last stable offset: the first offset of the oldest open
 *  transaction of the partition, or its high watermark when none is open.
 *  @return 0, LG_ENOTOPIC, LG_ENOPART, CN_ECORRUPT. */
int lg_last_stable_offset(lg_log *log, const char *topic, int32_t partition, int64_t *lso);

/** One aborted transaction of a partition: its batches from first_offset
 *  (by producer_id) up to its ABORT marker at last_offset. */
typedef struct lg_aborted_txn {
    int64_t producer_id, first_offset, last_offset;
} lg_aborted_txn;

/**
 * Calls fn for each aborted transaction a read_committed consumer fetching
 * [from, upto) must know (Kafka's rule): marker at or after from, first
 * batch below upto, in marker order, ending with the first marker at or
 * past upto.  fn returning non-zero stops (that value is returned).
 * Works in read_only mode.  @return 0, LG_ENOTOPIC, LG_ENOPART, an LMDB error.
 */
int lg_aborted_txns(lg_log *log, const char *topic, int32_t partition, int64_t from, int64_t upto,
                    int (*fn)(void *ud, const lg_aborted_txn *t), void *ud);
/** fn(ud, producer_id, first_offset) for every transaction open in the
 *  partition (as committed to the index); fn returning non-zero stops.
 *  Works in read_only mode.  @return 0, LG_ENOTOPIC, LG_ENOPART, an LMDB
 *  error. */
int lg_open_txns(lg_log *log, const char *topic, int32_t partition,
                 int (*fn)(void *ud, int64_t producer_id, int64_t first_offset), void *ud);

/**
 * lg_read for a read_committed consumer: no batch at or past the last
 * stable offset, and res->log_end_offset is that offset, computed in the
 * same index snapshot as the log end (so every transaction with a batch
 * below it has its marker below the high watermark).  *hw (may be NULL)
 * gets the high watermark.  Same errors and obligations as lg_read.
 */
int lg_read_committed(lg_log *log, const char *topic, int32_t partition, int64_t offset,
                      size_t max_bytes, lg_read_result *res, int64_t *hw);

/** Longest key of lg_txn_state_put (a transactional id). */
#define LG_TXN_KEY_MAX 255
/** Store (val != NULL) or delete (val NULL, n 0) the transaction
 *  coordinator's record for key in DATA/state, synced before it returns.
 *  Blocks for the sync.  @return 0, CN_EINVAL, CN_EPERM (read_only), an
 *  LMDB error. */
int lg_txn_state_put(lg_log *log, const char *key, const void *val, size_t n);
/** fn(ud, key, val, n) for every stored record in key order (val borrowed
 *  for the call); fn returning non-zero stops.  @return 0 or an error. */
int lg_txn_state_each(lg_log *log, int (*fn)(void *ud, const char *key, const void *val, size_t n),
                      void *ud);

/*
 * Idempotent-producer state for a replication leader.  A leader's driver
 * gets each batch's offset from the consensus core before the log stores
 * it, so it must decide on duplicates, sequence gaps and fenced epochs
 * itself, before proposing (lg_replica_append records but never refuses).
 * It keeps this copy of the partition's producer state: loaded from the
 * index when it starts to lead (every batch below its own-term marker is
 * stored then, and the index holds their state, rebuilt from the segments
 * if it was lost), then updated with every batch it proposes, by the same
 * rules as the log's own table.  Threads: the owner's (load: any).
 */
typedef struct lg_producers lg_producers;
enum { LG_PRODUCER_NEW = 0, LG_PRODUCER_DUP = 1 };
/** Load the partition's producer state as the index holds it now.
 *  @return 0; LG_ENOTOPIC; LG_ENOPART; CN_ENOMEM; an LMDB error. */
int lg_producers_load(lg_log *log, const char *topic, int32_t partition, lg_producers **out);
/** Check one batch (its parsed header) without changing the state, as
 *  the writer checks a plain append (a transaction marker: its epoch only).
 *  @return LG_PRODUCER_NEW (also for pid < 0);
 *  LG_PRODUCER_DUP with the original's *dup_base and *dup_last offsets (one
 *  of the producer's last 5 batches, same epoch and sequence range);
 *  LG_ESEQ (a sequence gap); LG_EFENCED (an older producer epoch). */
int lg_producers_check(const lg_producers *ps, const lg_batch_hdr *h, int64_t *dup_base,
                       int64_t *dup_last);
/** Record a batch that will be stored at base_offset (after a NEW check).
 *  @return 0; CN_ENOMEM; CN_EINVAL. */
int lg_producers_record(lg_producers *ps, const lg_batch_hdr *h, int64_t base_offset);
/** Forget producers idle longer than the log's producer_expiry_ms (by
 *  batch timestamps against the log's clock), as the log's maintenance
 *  does.  @return how many were forgotten. */
size_t lg_producers_expire(lg_log *log, lg_producers *ps);
/** Producers with state kept. */
size_t lg_producers_count(const lg_producers *ps);
void lg_producers_free(lg_producers *ps); /* NULL-safe */

/* ---- producers and consumer groups (state kept in LMDB) --------------- */

/** Allocate a new producer id, durable before it is returned (the counter
 *  is in DATA/state; at open it also restarts above the largest id of its
 *  range found in the segments).  Standalone ids start at 1000; a cluster
 *  node's (lg_opts.producer_id_node = N) are N * 2^31 + k with k from 1000,
 *  so two nodes never hand out the same id and no node has to ask another.
 *  @return 0; CN_ENOSPC (the range is used up); CN_EPERM (read_only); an
 *  LMDB error. */
int lg_producer_id_alloc(lg_log *log, int64_t *pid);

/** Commit a consumer group's offset (synced before return). */
int lg_group_offset_commit(lg_log *log, const char *group, const char *topic, int32_t partition,
                           int64_t offset, const char *metadata);
/** One committed offset for lg_group_offsets_commit; err is set per entry. */
typedef struct lg_group_offset {
    const char *group, *topic;
    int32_t partition;
    int64_t offset;
    const char *metadata; /* NULL for none */
    int err;              /* out: 0, a validation error, or the commit's error */
} lg_group_offset;
/** Commit n offsets (of any groups) in ONE LMDB transaction followed by
 *  one sync: entries that fail validation get their err and are skipped;
 *  if the transaction or the sync fails, every other entry gets that
 *  error.  Blocks for the sync: call it off event loops.  Any thread.
 *  @return 0, or the transaction/sync error. */
int lg_group_offsets_commit(lg_log *log, lg_group_offset *v, size_t n);
/** Clustered: store n offsets decoded from the committed records of
 *  replicated offsets partition part, and applied (the partition offset
 *  the records end at), in ONE transaction and one sync, so the table and
 *  the applied offset move together.  Entries that fail validation get
 *  their err and are skipped.  Any thread (blocks for the sync).
 *  @return 0; CN_EINVAL; CN_EPERM (read_only); an LMDB error. */
int lg_group_offsets_apply(lg_log *log, lg_group_offset *v, size_t n, int32_t part,
                           int64_t applied);
/** Where the applier of offsets partition part stopped (0 if never). */
int lg_group_offsets_applied(lg_log *log, int32_t part, int64_t *applied);
/** @return 0 with *offset (and metadata copied into md[mdcap]); CN_ENOENT if none. */
int lg_group_offset_fetch(lg_log *log, const char *group, const char *topic, int32_t partition,
                          int64_t *offset, char *md, size_t mdcap);
/** Calls fn for every committed (group, topic, partition, offset). */
int lg_group_offsets_each(lg_log *log,
                          int (*fn)(void *ud, const char *group, const char *topic,
                                    int32_t partition, int64_t offset),
                          void *ud);

#endif
