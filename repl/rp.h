/* SPDX-License-Identifier: MIT */
/*
 * rp.h — the public API of cairn's replication core: the wire codec of the
 * replication protocol and the consensus state machine of one partition
 * replica (Raft over the partition log, with KRaft-style pull replication).
 * See docs/replication.md.
 *
 * Both parts are pure: no sockets, no threads, no clock, no files, no
 * globals.  The codec turns bytes into an rp_msg and back.  An rp_node takes
 * inputs (a received message, a logical tick, a storage completion, a client
 * proposal) and queues outputs (messages to send, storage requests, high
 * watermark and role changes) that the caller drains with rp_node_next().
 * The caller owns transport, storage and time; one rp_node is driven by one
 * thread at a time.
 * Errors: 0 or a negative cn_err code (cn_err.h).
 */
#ifndef RP_H
#define RP_H

#include <stddef.h>
#include <stdint.h>

#include "cn_buf.h"

/* ---- wire messages -------------------------------------------------- */

#define RP_WIRE_VERSION 1
#define RP_HDR_BYTES 28          /* length prefix + fixed header */
#define RP_MAX_FRAME (16u << 20) /* largest frame accepted (length field) */
#define RP_BATCH_HDR_BYTES 61    /* RecordBatch v2 header */

/* Kafka error codes carried by FetchResponse. */
#define RP_ERR_NONE 0
#define RP_ERR_NOT_LEADER 6     /* NOT_LEADER_OR_FOLLOWER */
#define RP_ERR_FENCED_EPOCH 74  /* FENCED_LEADER_EPOCH */
#define RP_ERR_UNKNOWN_EPOCH 75 /* UNKNOWN_LEADER_EPOCH */

enum rp_msg_type {
    RP_PREVOTE_REQ = 1,
    RP_PREVOTE_RESP = 2,
    RP_VOTE_REQ = 3,
    RP_VOTE_RESP = 4,
    RP_BEGIN_EPOCH = 5,
    RP_FETCH_REQ = 6,
    RP_FETCH_RESP = 7,
};

/** One decoded (or to-be-encoded) message.  Fields not used by a type
 *  are ignored by the encoder and zeroed by the decoder (the diverging_*
 *  fields: -1). */
typedef struct rp_msg {
    uint8_t type;
    uint32_t topic_id, partition;
    int32_t from, to, term;
    /* votes and pre-votes */
    int32_t last_epoch;
    int64_t log_end;
    uint8_t granted;
    /* fetch */
    uint32_t seq;
    int64_t fetch_offset;
    int32_t last_fetched_epoch;
    int64_t synced_offset;
    int32_t max_bytes;
    int16_t error;
    int32_t leader;
    int64_t high_watermark;
    int32_t diverging_epoch;      /* -1: no divergence */
    int64_t diverging_end;        /* -1: no divergence */
    const unsigned char *records; /* whole v2 batches; borrowed */
    uint32_t records_len;
} rp_msg;

/**
 * Append one frame for m to out.
 * @return 0; CN_EINVAL if m would not decode (bad type, field out of range,
 *         records that are not whole contiguous batches); CN_ETOOBIG;
 *         CN_ENOMEM.  On error out is unchanged.
 */
int rp_msg_encode(const rp_msg *m, cn_buf *out);

/**
 * Decode the frame at the start of p[0..n).  Strict: see
 * docs/replication.md ("Messages and wire form").
 * @param[out] m     the message; m->records points into p.
 * @param[out] used  bytes of the frame (on 0 only).
 * @return 0; CN_WANT_MORE (p holds only part of a frame); CN_ETOOBIG
 *         (length over RP_MAX_FRAME: close the connection); CN_EDECODE
 *         (malformed: close the connection).
 */
int rp_msg_decode(const unsigned char *p, size_t n, rp_msg *m, size_t *used);

/** Identity of one batch: offsets [base, last] written in epoch. */
typedef struct rp_entry {
    int64_t base, last;
    int32_t epoch;
} rp_entry;

/**
 * Read the header of the batch at the start of p[0..n) (a record run that
 * rp_msg_decode accepted, or storage bytes).
 * @return its total size (> 0) with *e filled; CN_EDECODE if malformed or
 *         truncated.
 */
int64_t rp_batch_peek(const unsigned char *p, size_t n, rp_entry *e);

/* ---- the replica state machine --------------------------------------- */

#define RP_MAX_VOTERS 7

typedef struct rp_node rp_node;

typedef struct rp_config {
    uint32_t topic_id, partition;  /* the group, stamped into messages */
    int32_t self;                  /* this node's id (>= 0) */
    int32_t voters[RP_MAX_VOTERS]; /* all voters, self included */
    int nvoters;
    uint32_t election_ticks;  /* min election timeout; drawn from [e, 2e) */
    uint32_t heartbeat_ticks; /* leader: BeginEpoch re-send; follower: fetch retry is 2x */
    int32_t max_fetch_bytes;  /* asked for in each FetchRequest */
    uint64_t seed;            /* seeds this node's election-timeout draws */
} rp_config;

/** An epoch and the offset of its first batch. */
typedef struct rp_epoch_start {
    int32_t epoch;
    int64_t start;
} rp_epoch_start;

/** What storage recovered at open: the term/vote file and the log, all
 *  of it durable (recovery drops an unsynced tail it cannot vouch for). */
typedef struct rp_recovered {
    int32_t term;      /* 0 if none yet */
    int32_t voted_for; /* -1 if none */
    int64_t log_end;
    const rp_epoch_start *epochs; /* epoch history, increasing; borrowed */
    size_t nepochs;
} rp_recovered;

enum rp_role { RP_FOLLOWER = 0, RP_PRECANDIDATE, RP_CANDIDATE, RP_LEADER };

/** The kinds of output, in the order the node queued them; storage
 *  requests must be carried out in that order. */
enum rp_out_kind {
    RP_OUT_SEND = 1, /* send msg to msg.to; for a FetchResponse with read_max > 0, first
                        fill msg.records with whole batches of the log from msg.fetch_offset,
                        at most read_max bytes (at least one batch), ending at or before
                        read_end */
    RP_OUT_APPEND,   /* append batches [entry.base, entry.last] (entry.epoch: the epoch of
                        the last one) from data/len, verbatim; data NULL: the leader-change
                        control batch of one record and epoch entry.epoch, which the caller
                        builds; a proposal's bytes: the caller stamps base and epoch */
    RP_OUT_TRUNCATE, /* remove every batch at or after offset; durable and crash-atomic
                        before the next input call (the core already counts it done) */
    RP_OUT_PERSIST,  /* write (term, vote) atomically and durably; report with
                        rp_node_persisted() */
    RP_OUT_HW,       /* high watermark advanced to hw */
    RP_OUT_ROLE,     /* role/term/leader changed; leaving RP_LEADER fails pending acks */
};

/** One output; pointers are borrowed until the next call into the node. */
typedef struct rp_out {
    enum rp_out_kind kind;
    rp_msg msg;
    int32_t read_max;
    int64_t read_end;
    rp_entry entry;
    const unsigned char *data;
    size_t len;
    int64_t offset;
    int32_t term, vote;
    int64_t hw;
    enum rp_role role;
    int32_t leader;
} rp_out;

/**
 * Create a replica in follower role from what storage recovered.  Its term
 * is max(recovered term, last epoch in the log).
 * @return 0; CN_EINVAL (bad config or history); CN_ENOMEM.
 */
int rp_node_create(rp_node **out, const rp_config *cfg, const rp_recovered *rec);
void rp_node_destroy(rp_node *n); /* NULL-safe */

/*
 * Inputs.  After each input call the caller drains every output with
 * rp_node_next() before the next input call.  Each returns 0, or CN_ENOMEM
 * when the node could not queue an output: that failure is sticky (every
 * later call returns it and does nothing), and the caller recreates the
 * node from storage, which holds everything the node may not forget.
 */

/** One unit of logical time. */
int rp_node_tick(rp_node *n);

/**
 * A decoded message addressed to this node and group.
 * m->records must stay valid until the outputs of this call are drained
 * (an RP_OUT_APPEND points into them).
 * @return 0 (also for stale or ignored messages); CN_EINVAL (wrong group,
 *         addressee or sender); CN_EPROTO (a FetchResponse that contradicts
 *         this replica's log: ignored, the follower fetches again).
 */
int rp_node_receive(rp_node *n, const rp_msg *m);

/**
 * A client batch of record_count records at the leader.  The core assigns
 * its offsets and epoch (*assigned) and queues RP_OUT_APPEND with data/len;
 * the caller stamps base offset and epoch into the bytes.  It is
 * acknowledged once the HW passes assigned->last while the node is still
 * leader of assigned->epoch.
 * @return 0; CN_EPERM if not leader; CN_EINVAL (record_count < 1).
 */
int rp_node_propose(rp_node *n, int32_t record_count, const void *data, size_t len,
                    rp_entry *assigned);

/** Storage: everything in the log below offset (as it is now) is fdatasync'd. */
int rp_node_durable(rp_node *n, int64_t offset);
/** Storage: (term, vote) of an RP_OUT_PERSIST is durable (reported in the
 *  order the requests were queued). */
int rp_node_persisted(rp_node *n, int32_t term, int32_t vote);

/** Next queued output.  @return 0 with *out filled, or CN_DONE. */
int rp_node_next(rp_node *n, rp_out *out);

enum rp_role rp_node_role(const rp_node *n);
int32_t rp_node_term(const rp_node *n);
int32_t rp_node_leader(const rp_node *n); /* -1 if unknown */
int64_t rp_node_hw(const rp_node *n);
/** The HW consumers may read below, or -1 if this node must not serve
 *  reads (not leader, or its own-term marker not committed yet). */
int64_t rp_node_read_hw(const rp_node *n);
int64_t rp_node_log_end(const rp_node *n);
int64_t rp_node_durable_end(const rp_node *n);
/** Epoch of the last batch (-1 if the log is empty). */
int32_t rp_node_last_epoch(const rp_node *n);
/**
 * OffsetForLeaderEpoch: the largest epoch <= epoch in the history and its
 * end offset (start of the next epoch, or the log end); (-1, 0) if none.
 */
void rp_node_epoch_end(const rp_node *n, int32_t epoch, int32_t *found, int64_t *end);
/**
 * At the leader: 1 if voter is in sync — itself, or a follower heard from
 * within election_ticks whose fdatasync'd offset has reached the HW (what
 * Metadata reports as the ISR); 0 otherwise and on any other role.
 */
int rp_node_in_sync(const rp_node *n, int32_t voter);
/**
 * At the leader: how far voter's log is known to be fdatasync'd and to
 * match the leader's (its own durable end for itself); -1 on any other
 * role or for a voter not in the group.  Leader log end minus this is the
 * voter's replication lag.
 */
int64_t rp_node_synced(const rp_node *n, int32_t voter);

/* ---- the transport between nodes (rp_net.c) ---------------------------- */

/*
 * One TCP connection per node pair on the replication listener (the lower
 * id dials), a HELLO handshake (cluster id, node ids, wire version), then
 * rp_msg frames.  See docs/replication.md, "Transport between nodes".
 * Threads: every rp_net call runs on the thread of the event_base it was
 * created with; callbacks run there too.
 */

#define RP_HELLO_BYTES 28          /* length prefix + 24 */
#define RP_HELLO_MAGIC 0x43524e52u /* "CRNR" */
#define RP_NET_OUT_MAX (32u << 20) /* bytes queued per connection before drops */
#define RP_HOST_MAX 256

struct event_base;

/** One voter and its replication address. */
typedef struct rp_peer {
    int32_t id;
    char host[RP_HOST_MAX];
    uint16_t port;
} rp_peer;

/** The cluster's membership, sorted by id, and its id. */
typedef struct rp_cluster {
    rp_peer peers[RP_MAX_VOTERS];
    int npeers;
    uint64_t id; /* FNV-1a 64 of the canonical membership string */
} rp_cluster;

/**
 * Parse "ID@HOST:PORT,..." (ids >= 0 and unique, ports 1..65535, HOST a
 * name, IPv4 or [IPv6], 1..RP_MAX_VOTERS entries, in any order) into *out,
 * sorted by id, with its cluster id.
 * @return 0; CN_EINVAL (malformed; *out unspecified).
 */
int rp_cluster_parse(const char *spec, rp_cluster *out);
/** The entry of id in c, or NULL. */
const rp_peer *rp_cluster_peer(const rp_cluster *c, int32_t id);

/** The handshake message. */
typedef struct rp_hello {
    uint16_t version;
    uint64_t cluster_id;
    int32_t from, to;
} rp_hello;

/** Write the HELLO frame (RP_HELLO_BYTES) for h at out. */
void rp_hello_encode(const rp_hello *h, unsigned char out[RP_HELLO_BYTES]);
/**
 * Decode a HELLO frame from p[0..n).
 * @return 0; CN_WANT_MORE (fewer than RP_HELLO_BYTES); CN_EDECODE with
 *         *why set (wrong length, magic or flags).
 */
int rp_hello_decode(const unsigned char *p, size_t n, rp_hello *h, const char **why);
/**
 * Check a decoded HELLO received by node self of cluster c.  dialed: the
 * id this side dialed (checked against from), or -1 on the accepting side
 * (from must then be a voter below self).
 * @return 0; CN_EPROTO with *why set.
 */
int rp_hello_check(const rp_hello *h, const rp_cluster *c, int32_t self, int32_t dialed,
                   const char **why);

typedef struct rp_net rp_net;

/** Called for every frame received from a peer (m->from is that peer,
 *  m->to this node).  m and its records are valid only during the call.
 *  It may call rp_net_send, never rp_net_free. */
typedef void (*rp_deliver_fn)(void *ud, const rp_msg *m);

struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

typedef struct rp_net_opts {
    const rp_cluster *cluster; /* copied */
    int32_t self;              /* must be in cluster */
    rp_deliver_fn deliver;
    void *ud;
    uint32_t out_max;          /* 0: RP_NET_OUT_MAX */
    uint32_t hello_timeout_ms; /* 0: 5000 */
    uint32_t backoff_min_ms;   /* 0: 50 */
    uint32_t backoff_max_ms;   /* 0: 2000 */
    rp_peer listen;            /* port 0: listen on self's entry in cluster; else bind here
                                  (self's entry is where peers dial: a proxy or NAT in front) */
    struct ssl_ctx_st *tls;    /* NULL: plain TCP; else mutual TLS with this context
                                  (rp_tls_ctx_new), kept alive by the caller */
} rp_net_opts;

/**
 * The mutual-TLS context of a cluster node: its PEM certificate chain and
 * key, and the CA that must have signed every peer's certificate.
 * @return 0; CN_EINVAL with a one-line reason (naming the file) in err.
 */
int rp_tls_ctx_new(struct ssl_ctx_st **out, const char *cert, const char *key, const char *ca,
                   char *err, size_t errlen);
void rp_tls_ctx_free(struct ssl_ctx_st *ctx);

/** Counters since rp_net_new. */
typedef struct rp_net_stats {
    uint64_t frames_in, frames_out;
    uint64_t dropped_full;    /* output over out_max */
    uint64_t dropped_nopeer;  /* no connection to the peer */
    uint64_t handshakes;      /* completed */
    uint64_t closed_protocol; /* refused HELLO, bad frame, timeout */
    uint64_t closed_peer;     /* EOF or socket error */
    uint64_t replaced;        /* a connection replaced by a newer one */
    char last_close[128];     /* the reason of the last close ("" if none) */
} rp_net_stats;

/**
 * Listen on self's address in the cluster and dial every peer with a
 * higher id (retrying with backoff).  Host names are resolved once, here.
 * @return 0; CN_EINVAL (bad options, self not in cluster, unresolvable
 *         address); CN_ESYS (bind/listen failed: errno says why);
 *         CN_ENOMEM.  On failure *out is NULL.
 */
int rp_net_new(rp_net **out, struct event_base *base, const rp_net_opts *o);
/**
 * Queue m for m->to (m->from must be self).  Never blocks and never
 * retransmits: the message is dropped when there is no connection or the
 * connection's output is over out_max.
 * @return 0 (queued); CN_ECLOSED (no connection: dropped); CN_EOVERLOAD
 *         (output full: dropped); CN_EINVAL (bad message or addressee);
 *         CN_ENOMEM.
 */
int rp_net_send(rp_net *n, const rp_msg *m);
/** 1 if the handshake with peer is complete, else 0. */
int rp_net_connected(const rp_net *n, int32_t peer);
void rp_net_stats_get(const rp_net *n, rp_net_stats *out);
/** Close every connection and the listener now.  NULL-safe. */
void rp_net_free(rp_net *n);

/* ---- the replicas of one node (rp_part.c) ------------------------------- */

/*
 * rp_repl drives every partition replica of one node: an rp_node per
 * (topic, partition), fed from a tick timer, from rp_net and from the
 * log's durability, its outputs carried out against the log's replication
 * storage contract (lg.h).  See docs/replication.md, "The driver of one
 * replica".  Threads: every rp_repl call on the event_base's thread (the
 * base must come after evthread_use_pthreads(): the log's writer thread
 * wakes it).  The log must outlive the rp_repl.
 */

typedef struct lg_log lg_log;
typedef struct rp_repl rp_repl;

typedef struct rp_repl_opts {
    const rp_cluster *cluster; /* copied */
    int32_t self;
    uint32_t tick_ms;         /* 0: 50 */
    uint32_t election_ticks;  /* 0: 10 */
    uint32_t heartbeat_ticks; /* 0: 2 */
    int32_t max_fetch_bytes;  /* 0: 1 MiB */
    rp_peer listen;           /* as rp_net_opts.listen */
    struct ssl_ctx_st *tls;   /* as rp_net_opts.tls */
} rp_repl_opts;

/** What this node knows of one partition's replica. */
typedef struct rp_part_state {
    int running; /* 0 while stopped after a storage failure */
    int serving; /* leader whose own-term marker is committed: may take proposals and serve
                    consumers */
    enum rp_role role;
    int32_t leader; /* -1 unknown */
    int32_t term;   /* = the leader epoch */
    int64_t hw;     /* committed below this (consumers' read limit) */
    int64_t log_end;
    int32_t isr[RP_MAX_VOTERS]; /* leader: voters in sync (rp_node_in_sync); else the leader */
    int nisr;
    int64_t synced[RP_MAX_VOTERS]; /* leader: rp_node_synced of each voter, in the cluster's
                                      (id-sorted) order; else -1 */
    uint64_t elections;            /* times this replica became leader since the process started */
    uint64_t leader_changes;       /* times the leader it knows changed (to another or none) */
} rp_part_state;

/** Completion of a proposal: err 0 with the batch's base offset; CN_EPERM
 *  when this node stopped leading before it was acknowledged (Kafka's
 *  NOT_LEADER_OR_FOLLOWER); a storage error. */
typedef void (*rp_ack_fn)(void *ud, int err, int64_t base_offset);

/**
 * Start the transport (rp_net on self's replication address) and the
 * shared timer.  @return 0; CN_EINVAL; CN_ESYS; CN_ENOMEM.
 */
int rp_repl_new(rp_repl **out, struct event_base *base, lg_log *log, const rp_repl_opts *o);
/**
 * Start replicating an existing local partition (all voters of the cluster
 * are its replicas).  It starts as a follower with the term/vote and log
 * storage holds, and its consumer read limit at 0 until it learns the HW.
 * @return 0; CN_EEXIST; CN_EINVAL (another topic has the same topic id);
 *         an lg_ error reading its state.
 */
int rp_repl_add(rp_repl *r, const char *topic, int32_t partition);
/** @return 0 with *out; CN_ENOENT if the partition is not replicated. */
int rp_repl_state(const rp_repl *r, const char *topic, int32_t partition, rp_part_state *out);
/**
 * Append one RecordBatch v2 at the leader.  cb runs once, on the loop
 * thread, never from inside this call: with acks_all when the batch is
 * below the HW (fdatasync'd on a majority), else once it is fdatasync'd
 * here; with CN_EPERM if leadership is lost first.  An idempotent
 * producer's batch (producerId >= 0) is checked first against the
 * partition's producer state as the leader keeps it (lg_producers: loaded
 * when it starts to lead, with every batch it proposed since): a retry of
 * one of the producer's last 5 batches is not stored again, and cb gets
 * the original's offset once the original is acknowledged as above.
 * @return 0 (cb will run); CN_EPERM (not the serving leader); CN_ENOENT;
 *         CN_EINVAL (not one whole batch); LG_ESEQ (sequence gap);
 *         LG_EFENCED (older producer epoch); LG_EUNKNOWNPID (the id's node
 *         part, pid >> 31, is not a voter); an error of lg_replica_append
 *         or lg_producers_load.
 */
int rp_repl_propose(rp_repl *r, const char *topic, int32_t partition, const void *batch, size_t len,
                    int acks_all, rp_ack_fn cb, void *ud);
/** fn(ud) runs on the loop whenever some partition's HW advances (so
 *  parked long-poll Fetches can look again); NULL to stop. */
void rp_repl_on_hw(rp_repl *r, void (*fn)(void *ud), void *ud);
/** The transport, for its counters. */
rp_net *rp_repl_net(rp_repl *r);
/** Stop every replica (pending proposals fail with CN_EPERM), wait for
 *  the log's callbacks of their appends, close the transport.  NULL-safe. */
void rp_repl_free(rp_repl *r);

#endif
