/* SPDX-License-Identifier: MIT */
/*
 * lg_int.h — internal structures of the log storage engine, shared by the
 * lg_*.c files that implement lg.h.  Nothing here is public: other modules
 * include lg.h only.  Names are lg__ (double underscore).
 *
 * Locking (outermost first; LMDB transactions are always innermost):
 *   log->wmu    held by the writer thread for a whole round, and by
 *               maintenance (retention, truncate, topic delete) so that they
 *               never interleave with a round;
 *   log->tmu    rwlock over the topic table (read: lookups; write: create,
 *               delete);
 *   log->qmu    the pending append queues of every partition + writer wakeup;
 *   part->mu    a partition's segment table and its in-memory flags;
 *   log->lmu    the lg_end_listen list while it is changed or called (inside
 *               wmu when both are held; lg_read_limit_set takes it alone).
 * See docs/architecture.md, "The log".
 */
#ifndef LG_INT_H
#define LG_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "cn_buf.h"
#include "lg.h"

#define LG__INDEX_INTERVAL 4096 /* bytes of batches between sparse index entries */
#define LG__PRODUCER_BATCHES 5  /* recent batches remembered per producer id (Kafka's 5) */
#define LG__INDEX_VERSION 1
/* Producer ids are allocated below this bound (ids in segments at or above
 * it, written by older builds, are ignored when ids are restored). */
#define LG__PRODUCER_ID_LIMIT (INT64_C(1) << 62)

/* ---- segments (lg_segment.c) -------------------------------------------- */

/** One segment file.  Refcounted: the partition's table holds one ref, each
 *  lg_read result / iterator holds one; the fd closes at the last unref, so a
 *  reader keeps a file that retention unlinked meanwhile. */
typedef struct lg_seg {
    atomic_int refs;
    int fd;
    int64_t base;       /* base offset = file name */
    uint64_t size;      /* bytes written (writer thread), whole batches only */
    int64_t created_ms; /* clock when its first batch was appended (age roll) */
    int64_t first_ts;   /* max timestamp of its first batch, -1 if empty */
    int64_t max_ts;     /* largest batch max timestamp, -1 if empty */
    int64_t next_off;   /* offset after its last batch */
    char *path;
    const lg_vfs *vfs;
} lg_seg;

char *lg__seg_path(const char *pdir, int64_t base);
/** Open (create if create) the segment file for base in directory pdir. */
int lg__seg_open(lg_seg **out, const lg_vfs *vfs, const char *pdir, int64_t base, int create);
void lg__seg_ref(lg_seg *s);
void lg__seg_unref(lg_seg *s); /* NULL-safe */
/** Sorted base offsets of the segment files in pdir (*out cn_malloc'd). */
int lg__seg_list(const char *pdir, int64_t **out, size_t *n);
/** pread exactly n bytes.  0, CN_ETRUNC at EOF, or an errno-mapped error. */
int lg__seg_pread(lg_seg *s, void *buf, size_t n, uint64_t pos);
/** fsync a directory through the VFS (new or removed file names). */
int lg__dir_sync(const lg_vfs *vfs, const char *dir);
/** mkdir -p. */
int lg__mkdirs(const char *path);

/* ---- producer state (lg_producer.c) -------------------------------------- */

typedef struct lg_pbatch {
    int32_t first_seq, last_seq;
    int64_t base_offset;
} lg_pbatch;

typedef struct lg_pstate {
    int64_t pid; /* -1: empty slot */
    int16_t epoch;
    uint8_t n;       /* batches remembered (<= 5), newest last */
    uint8_t dirty;   /* changed since the last index commit */
    int64_t last_ts; /* max timestamp of its newest batch: expiry, as Kafka's lastTimestamp */
    lg_pbatch b[LG__PRODUCER_BATCHES];
} lg_pstate;

typedef struct lg_ptable {
    lg_pstate *slots;
    size_t cap, count; /* cap is a power of two */
} lg_ptable;

enum { LG__PCHK_NEW = 0, LG__PCHK_DUP = 1 };

/** Check a batch against producer state without changing it.
 *  @return LG__PCHK_NEW, LG__PCHK_DUP (*dup_base set), LG_ESEQ, LG_EFENCED. */
int lg__prod_check(const lg_ptable *t, int64_t pid, int16_t epoch, int32_t first_seq,
                   int32_t last_seq, int64_t *dup_base);
/** Record an accepted batch.  0 or CN_ENOMEM. */
int lg__prod_record(lg_ptable *t, int64_t pid, int16_t epoch, int32_t first_seq, int32_t last_seq,
                    int64_t base_offset, int64_t ts);
/** Forget pid entirely (expiry).  No-op if unknown. */
void lg__prod_remove(lg_ptable *t, int64_t pid);
lg_pstate *lg__prod_find(lg_ptable *t, int64_t pid);
/** Insert or overwrite a whole state (loading from the index, undo). */
int lg__prod_put(lg_ptable *t, const lg_pstate *st);
/** Drop remembered batches with base >= offset (truncate); a producer left
 *  with none is removed and gone(ud, pid) called (may be NULL).  The rest
 *  are marked dirty.  @return 0 or the first non-zero gone() result (the
 *  table is fully truncated either way). */
int lg__prod_truncate(lg_ptable *t, int64_t offset, int (*gone)(void *ud, int64_t pid), void *ud);
void lg__prod_free(lg_ptable *t);
size_t lg__prod_encode(const lg_pstate *st, unsigned char *out); /* out >= 96 bytes */
/* (decode accepts records without last_ts, from older builds: last_ts -1) */
int lg__prod_decode(const unsigned char *p, size_t n, int64_t pid, lg_pstate *st);

/* ---- transactions (lg_txn.c) ------------------------------------------------ */

/** An open transaction of one producer in one partition. */
typedef struct lg_txopen {
    int64_t pid;
    int64_t first; /* offset of its first transactional batch since its last marker */
} lg_txopen;

struct lg_part;
/** Marker type of a stored batch: LG_CTL_ABORT / LG_CTL_COMMIT, or -1 when
 *  it is not a transaction marker. */
int lg__txn_ctl_type(const unsigned char *b, size_t n, const lg_batch_hdr *h);
/** Producer check of a marker (no sequence): LG__PCHK_NEW or LG_EFENCED. */
int lg__txn_ctl_check(const lg_ptable *t, const lg_batch_hdr *h);
/** Record a marker in producer state (a newer epoch resets sequences). */
int lg__txn_ctl_record(lg_ptable *t, const lg_batch_hdr *h);
/** Apply one stored batch (h->base_offset = its offset) to the open and
 *  aborted tables, in memory and in txn.  Writer side only. */
int lg__txn_apply(lg_log *log, MDB_txn *txn, struct lg_part *p, const unsigned char *b, size_t n,
                  const lg_batch_hdr *h);
struct lg_queue;
/** lg__txn_apply for every batch the round stored in p (its queue q). */
int lg__txn_round(lg_log *log, MDB_txn *txn, struct lg_part *p, const struct lg_queue *q);
int lg__txn_load(lg_log *log, MDB_txn *txn, struct lg_part *p);
int lg__txn_reset(lg_log *log, MDB_txn *txn, struct lg_part *p);
int lg__txn_truncate(lg_log *log, MDB_txn *txn, struct lg_part *p, int64_t offset);
void lg__txn_free(struct lg_part *p);
/** Smallest first offset of an open transaction (INT64_MAX if none). */
int lg__txn_first_open(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, int64_t *first);

/* ---- partitions and topics ------------------------------------------------ */

/** One queued append: bytes live in the queue's buffer at off. */
typedef struct lg_pend {
    size_t off, len;
    lg_append_cb cb;
    void *ud;
    lg_batch_hdr h;
    lg_append_result res; /* filled by the writer */
    uint32_t grp;         /* on the first entry of an all-or-none group: its size (> 1); else 0 */
    int64_t want_base;    /* lg_replica_append: the offset it must land at; -1: a plain append */
    int32_t want_epoch;   /* lg_replica_append: the epoch to stamp (want_base >= 0 only) */
} lg_pend;

typedef struct lg_queue {
    cn_buf bytes;
    lg_pend *v;
    size_t n, cap;
    unsigned small_rounds; /* consecutive rounds that used < 1/4 of bytes.cap */
} lg_queue;

struct lg_topic;

typedef struct lg_part {
    struct lg_topic *tp;
    int32_t idx;
    char *dir;
    pthread_mutex_t mu; /* segs, failed */
    lg_seg **segs;      /* sorted by base; the last is the active one */
    size_t nsegs, segcap;
    atomic_int failed; /* set under mu; read lock-free on the append/read paths */
    char err_detail[256];

    /* Writer-thread state (also touched under wmu by maintenance). */
    int64_t log_start, log_end; /* log_end = next offset to assign */
    int32_t epoch;
    int64_t first_ts, last_ts;
    uint64_t bytes;
    int64_t run_max_ts;          /* running max timestamp (time index) */
    uint32_t since_idx;          /* bytes since the last sparse index entry */
    int64_t unsynced_since;      /* interval mode: first unsynced write, -1 clean */
    int trunc_redone;            /* recovery redid a truncate: clear its intent once synced */
    _Atomic int64_t durable_end; /* lg_durable_end: the log below it is synced (writer, wmu) */
    _Atomic int64_t pub_end;     /* lg_end_peek: the log end of the last index commit */
    _Atomic int64_t read_limit;  /* lg_read_limit_set: consumers read below it; -1 none */
    lg_ptable prod;
    lg_txopen *txo; /* open transactions (lg_txn.c): writer side */
    size_t ntxo, txocap;

    /* Pending appends, under log->qmu. */
    lg_queue q;
    int queued;     /* on the log's dirty list */
    lg_queue wq[2]; /* the writer's sides: one round is written while the
                       one before it syncs (writer only; see lg_writer.c) */
} lg_part;

typedef struct lg_topic {
    char *name;
    uint32_t id;
    lg_topic_config cfg; /* as created (0 = log default, resolved on use) */
    int64_t created_ms;
    char *dir;
    lg_part *parts;
    int deleted;
} lg_topic;

/* ---- the log ------------------------------------------------------------- */

typedef struct lg_index {
    MDB_env *env; /* DATA/index: derivable from the segments, MDB_NOSYNC */
    MDB_dbi meta, topics, parts, epochs, oidx, tidx, producers, groups, segs;
    MDB_dbi txopen, txabort; /* transactions (lg_txn.c); has_tx: they exist */
    int has_tx;
    /* DATA/state: what cannot be derived (consumer-group offsets, the
     * producer-id counter).  Every commit is synced; never deleted.  NULL
     * in a read-only opener when the directory does not exist. */
    MDB_env *senv;
    MDB_dbi smeta, sgroups, stxns; /* stxns: the coordinator's records; has_stxns */
    int has_stxns;
} lg_index;

struct lg_log {
    lg_opts o;
    char *dir;
    const lg_vfs *vfs;
    int lock_fd;
    lg_index ix;

    pthread_rwlock_t tmu;
    lg_topic **topics; /* sorted by name */
    size_t ntopics, topcap;

    pthread_mutex_t wmu;
    pthread_mutex_t qmu;
    pthread_cond_t qcond;     /* writer: work arrived / stop */
    pthread_cond_t spacecond; /* appenders: queue room */
    lg_part **dirty;          /* partitions with pending appends */
    size_t ndirty, dirtycap;
    uint64_t queued_bytes;
    int stop;
    int writer_started;
    pthread_t writer;

    atomic_int panic;         /* sticky CN_EPANIC (I5) */
    atomic_int wmu_want;      /* threads waiting in lg__wmu_lock: the writer yields wmu */
    _Atomic int64_t next_pid; /* producer ids below this were handed out */
    void *wctx;               /* writer-thread scratch (lg_writer.c) */
    /* lg_end_listen subscribers: changed under wmu and lmu, called under
     * lmu (by the writer, wmu held; by lg_read_limit_set) (lg_listen.c) */
    pthread_mutex_t lmu;
    struct {
        lg_end_fn fn;
        void *ud;
    } end_listeners[LG_END_LISTENERS_MAX];
    size_t nend_listeners;
    int64_t last_checkpoint_ms;
};

int64_t lg__now(const lg_log *log);

/* lg_log.c */
lg_topic *lg__topic_find(lg_log *log, const char *name); /* tmu held */
int lg__topic_lookup_part(lg_log *log, const char *topic, int32_t partition, lg_part **out);
void lg__topic_free(lg_topic *t);
int lg__topic_meta_write(lg_log *log, const lg_topic *t);
/** Write dir/name durably and atomically through the VFS: a temp file,
 *  fdatasync, rename, directory fsync.  0 or an error (temp removed). */
int lg__file_write_atomic(const lg_vfs *v, const char *dir, const char *name, const void *body,
                          size_t n);
int lg__topic_meta_read(const char *path, lg_topic *t);
int lg__topic_alloc(lg_topic **out, lg_log *log, const char *name, uint32_t id,
                    const lg_topic_config *cfg, int64_t created_ms);
int lg__topic_insert(lg_log *log, lg_topic *t);
/** Resolve zeros in a topic config to the log defaults. */
void lg__topic_cfg_resolve(const lg_log *log, lg_topic_config *cfg);
void lg__part_mark_failed(lg_part *p, const char *file, uint64_t pos, const char *what);
/** Find a segment by base in the partition's table (ref taken).  In
 *  read-only mode a missing one is opened from disk.  NULL if gone. */
lg_seg *lg__part_seg_get(lg_log *log, lg_part *p, int64_t base);
int lg__part_seg_add(lg_part *p, lg_seg *s); /* takes the caller's ref */
lg_seg *lg__part_active(lg_part *p);         /* borrowed; writer side */

/* lg_index.c — key/value codecs and helpers. */
typedef struct lg_partrec {
    int64_t log_start, log_end, active_base;
    uint64_t indexed_pos;
    int32_t epoch;
    int64_t first_ts, last_ts;
    uint64_t bytes;
    int64_t run_max_ts;
    uint32_t since_idx;
} lg_partrec;

typedef struct lg_segrec {
    uint64_t bytes;
    int64_t created_ms, first_ts, max_ts, next_off;
} lg_segrec;

typedef struct lg_oidxval {
    int64_t seg_base;
    uint32_t pos, len;
    int32_t lod;
    int64_t max_ts;
} lg_oidxval;

int lg__ix_open(lg_log *log, int *fresh);
void lg__ix_close(lg_log *log);
/** Open DATA/state (after lg__ix_open: a new one takes over group offsets
 *  and the producer-id counter an older index held). */
int lg__state_open(lg_log *log);
void lg__state_close(lg_log *log);
int lg__ix_err(int mdb_rc); /* map an LMDB error */
int lg__ix_sync(lg_log *log);
uint64_t lg__ts_bias(int64_t ts);
int64_t lg__ts_unbias(uint64_t v);
int lg__ix_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t *v);
int lg__ix_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t v);
int lg__ix_part_get(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, lg_partrec *r);
int lg__ix_part_put(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, const lg_partrec *r);
int lg__ix_seg_get(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, int64_t base,
                   lg_segrec *r);
int lg__ix_seg_put(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, int64_t base,
                   const lg_segrec *r);
int lg__ix_oidx_put(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, int64_t base,
                    const lg_oidxval *v);
/** Floor lookup: the entry with the greatest base <= offset. CN_ENOENT if none. */
int lg__ix_oidx_floor(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, int64_t offset,
                      int64_t *base, lg_oidxval *v);
int lg__ix_tidx_put(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, int64_t run_max,
                    int64_t base);
int lg__ix_epoch_put(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, int32_t epoch,
                     int64_t start);
/** Delete the epoch entries of (tid, part) whose start is >= offset;
 *  *left = the largest epoch kept (0 if none).  (lg_epoch.c) */
int lg__ix_epochs_cut(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, int64_t offset,
                      int32_t *left);
int lg__ix_prod_put(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, const lg_pstate *st);
/** Delete a producer's state (absent: 0). */
int lg__ix_prod_del(lg_log *log, MDB_txn *txn, uint32_t tid, int32_t part, int64_t pid);
/** Delete every key of db with the given 8-byte (tid, part) prefix whose
 *  suffix makes keep(ud, key, keylen) return 0; keep == NULL deletes all. */
int lg__ix_del_prefix(MDB_txn *txn, MDB_dbi dbi, uint32_t tid, int32_t part,
                      int (*keep)(void *ud, const unsigned char *k, size_t kn), void *ud);
/** Delete every key of db with the 4-byte topic-id prefix. */
int lg__ix_del_topic(MDB_txn *txn, MDB_dbi dbi, uint32_t tid);
void lg__ix_key_tp(unsigned char *k, uint32_t tid, int32_t part);

/* lg_retention.c: maintenance (retention, producer expiry); wmu held. */
int lg__maintenance_locked(lg_log *log);

/* lg_writer.c */
/** Is the caller the writer thread (an append callback)?  Calls that wait
 *  for the writer's round return CN_EBUSY there instead of deadlocking. */
int lg__on_writer(const lg_log *log);
int lg__writer_start(lg_log *log);
void lg__writer_stop(lg_log *log);
/** Take wmu from outside the writer thread.  The writer keeps wmu while
 *  rounds follow each other back to back; this tells it to let go after
 *  the round in flight. */
void lg__wmu_lock(lg_log *log);
/** Fail and remove the pending appends of a partition (qmu held). */
void lg__queue_fail(lg_queue *q, const unsigned char *unused, int err);
void lg__queue_free(lg_queue *q);

/* lg_sync.c: the writer's sync pool (one durability barrier per round). */
typedef struct lg__sync lg__sync;
int lg__sync_create(lg__sync **out, lg_log *log);
/** Start the fdatasyncs of segs[0..n) (and the index checkpoint when
 *  ckpt) at once from the pool's threads; waits for the previous job
 *  first and returns its result (0 or CN_EPANIC).  segs stay referenced
 *  by the caller until lg__sync_wait. */
int lg__sync_start(lg__sync *s, lg_seg *const *segs, size_t n, int ckpt);
/** Wait for the job started last: 0, or CN_EPANIC (logged; the log's
 *  panic is set). */
int lg__sync_wait(lg__sync *s);
/** Has the job started last finished?  (Its end broadcasts log->qcond.) */
int lg__sync_done(lg__sync *s);
void lg__sync_destroy(lg__sync *s); /* waits for the job in flight; NULL-safe */
/* lg_retention.c: the truncate intent (a redo record, see lg_retention.c). */
typedef struct lg_trunc_intent {
    int64_t offset;   /* the new log end */
    int32_t epoch;    /* the leader epoch that starts at offset; -1: none (a replica
                         truncate, which does not start an epoch) */
    int64_t cut_base; /* segment cut inside (-1: none) ... */
    uint64_t cut_pos; /* ... at this byte (a batch boundary) */
} lg_trunc_intent;
#define LG__TRUNC_INTENT "truncate.intent"
/** Read p's intent: 0, CN_ENOENT if none, CN_ECORRUPT if unreadable. */
int lg__trunc_intent_read(const lg_part *p, lg_trunc_intent *ti);
/** Apply the intent's file changes (idempotent): segments at or past its
 *  offset removed, the cut segment cut; synced. */
int lg__trunc_redo_files(lg_log *log, const lg_part *p, const lg_trunc_intent *ti);
/** Remove the intent durably (after the index records the truncate). */
int lg__trunc_intent_clear(lg_log *log, const lg_part *p);

/* lg_listen.c: tell lg_end_listen subscribers the acknowledged end moved.
 *  Writer thread, wmu held, after a round's append callbacks; or
 *  lg_read_limit_set's caller (no lg lock held).  Takes lmu. */
void lg__end_publish(lg_log *log);

/* lg_recover.c */
/** Bring partition p to a consistent state at open (writer mode). */
int lg__recover_part(lg_log *log, lg_part *p, int rebuild);

/* lg_group.c: after recovery, producer ids restart above any id seen. */
int lg__producer_ids_fixup(lg_log *log);

/* lg_read.c */
/** Where offset lives: the segment (ref taken), the batch position and the
 *  readable end of that segment (committed bytes). */
typedef struct lg_loc {
    lg_seg *seg;
    uint64_t pos, end;
    int64_t log_start, log_end;
    int at_end;    /* offset == log end: nothing to read */
    int64_t limit; /* consumer reads: no batch at or past this offset; -1 none */
    int64_t hw;    /* the high watermark (log_end unless read_committed lowered it) */
} lg_loc;
int lg__locate(lg_log *log, const char *topic, int32_t partition, int64_t offset, lg_loc *loc);
/** As lg__locate; consumer != 0 applies the partition's read limit (the
 *  log end reported is then min(log end, limit), and end stops before a
 *  batch at or past it). */
int lg__locate_as(lg_log *log, const char *topic, int32_t partition, int64_t offset, int consumer,
                  lg_loc *loc);
/** consumer value for lg__locate_as: also stop at the last stable offset
 *  (the first batch of an open transaction); loc->hw keeps the HW. */
#define LG__READ_COMMITTED 2
/** Mark a partition failed by name (a reader found damage). */
void lg__fail_by_name(lg_log *log, const char *topic, int32_t partition, const char *file,
                      uint64_t pos, const char *what);
/** Walk batch headers in seg from pos (a batch start) to the batch containing
 *  offset.  0 with out_pos and h set; CN_ENOENT if not before end; CN_ECORRUPT. */
int lg__walk_to(lg_seg *s, uint64_t pos, uint64_t end, int64_t offset, uint64_t *out_pos,
                lg_batch_hdr *h);

#endif
