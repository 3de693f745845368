/* SPDX-License-Identifier: MIT */
/*
 * kf_server_int.h — the Kafka server's internal structs, shared by
 * kf_server.c (connections, framing, dispatch, replies), kf_h_*.c (one
 * file per group of API handlers) and kf_group.c.  Not a public header.
 *
 * The request model is Kafka's own: one request per connection is served
 * at a time, in order (the broker "mutes" a connection while a request is
 * in flight), so a connection carries at most one kf_call.  A handler
 * either replies before returning (KF_DONE) or parks the call (KF_ASYNC)
 * and replies later from a completion on the loop thread.
 */
#ifndef KF_SERVER_INT_H
#define KF_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "cn_buf.h"
#include "kf_frame.h"
#include "kf_group.h"
#include "kf_offrec.h"
#include "kf_msgs.h"
#include "kf_server.h"
#include "kf_wire.h"
#include "lg.h"

struct bufferevent;
struct evconnlistener;
struct event;

/* Handler results (besides negative errors, which close the connection). */
#define KF_DONE 0
#define KF_ASYNC 1

typedef struct kf_conn kf_conn;
typedef struct kf_server kf_server;
typedef struct kf_txn_coord kf_txn_coord;
typedef struct kf_sasl_sess kf_sasl_sess;

/* One partition of an in-flight Produce: filled by append callbacks on the
 * writer thread (under kf_server.mu), read on the loop. */
typedef struct kf_prod_part {
    struct kf_produce *prod;
    int16_t error;
    int64_t base_offset, log_append_time, log_start_offset;
    int32_t batches_left; /* callbacks still due for this partition */
    int have_first;       /* first batch's result recorded */
    lg_batchv *v;         /* its batches, cut once (a parked retry reuses them) */
    size_t nv;
} kf_prod_part;

typedef struct kf_produce {
    kf_conn *conn;
    /* The request as decoded.  Its arena and frame are the connection's
     * until the next request is read while this one is still in flight;
     * then they move here (own), so several Produces can be in flight on
     * one connection (kf_server.c, pipelining). */
    kf_request req;
    kf_arena *arena;
    cn_buf frame;
    int own;
    int complete; /* every callback in: replies when it reaches the pipe's head */
    int parked;   /* waiting for room in the log's queue */
    struct kf_produce *next_pipe;
    kf_ProduceResponse resp; /* in its arena */
    kf_prod_part *parts;     /* flat, in response order */
    int32_t nparts;
    int32_t outstanding; /* callbacks due, +1 while submitting (and while parked) */
    int acks;
    int16_t global_err; /* refuses every partition (acks) */
    /* Where queueing stopped when the log's queue was full (kf_h_produce.c):
     * topic, partition within it, flat partition index; topic_ok for at_t. */
    int32_t at_t, at_i, at_k;
    int topic_ok;
    struct kf_produce *next_done;
    struct kf_produce *next_parked; /* the server's parked-Produce list */
} kf_produce;

/* An OffsetCommit waiting for the committer thread (kf_commit.c). */
typedef struct kf_commit {
    kf_conn *conn;
    kf_OffsetCommitResponse resp;           /* in the connection arena */
    lg_group_offset *v;                     /* the offsets to store */
    kf_OffsetCommitResponsePartition **out; /* where each entry's error goes */
    size_t n;
    struct kf_commit *next;
    /* Clustered (kf_offsets.c): the offsets partition it was proposed to,
     * and the partition offset the applier must reach before the answer. */
    int32_t opart;
    int64_t oend;
} kf_commit;

/* A parked long-poll Fetch. */
typedef struct kf_fetch {
    int64_t deadline_ms;
    int parked;
    int64_t *seen; /* each partition's end (lg_end_peek) when last evaluated; -2 unknown */
    int32_t nseen; /* in the request arena */
} kf_fetch;

struct kf_conn {
    kf_server *s;
    struct bufferevent *bev;
    char peer[64];
    kf_conn *prev, *next;           /* the server's connection list */
    kf_conn *park_prev, *park_next; /* parked-fetch list */
    cn_buf frame;                   /* the request being served (after the size prefix) */
    kf_arena *arena;                /* everything decoded for it */
    kf_arena *scratch;              /* Fetch replies, rebuilt per evaluation */
    struct event *resume;           /* finishes an async call from a clean stack */
    kf_request req;
    int busy;    /* a call is in flight (async) */
    int closing; /* close once the output is flushed */
    int eof;     /* the peer closed its side: serve what it sent, then close */
    int dead;    /* socket gone; free when not busy */
    /* Produces in flight, in request order (the pipe): replies leave from
     * its head only, so they go out in request order. */
    kf_produce *prod, *prod_tail;
    int nprod;
    kf_commit *commit; /* an OffsetCommit with the committer */
    kf_fetch fetch;
    struct event *timer; /* Fetch max-wait, group waits */
    uint64_t requests;
    kf_sasl_sess *sasl; /* after a SaslHandshake (kf_h_sasl.c) */
    int sasl_raw;       /* v0 handshake: the next frames are raw SASL tokens */
    int sasl_authed;
};

struct kf_server {
    struct event_base *base;
    lg_log *log;
    kf_server_opts o;
    struct ssl_ctx_st *tls_own; /* the context of the last kf_server_tls_reload (o.tls_ctx) */
    char host[256];             /* advertised */
    int port, adv_port;
    struct evconnlistener *lst;
    kf_conn *conns;
    size_t nconns;
    kf_conn *parked; /* connections with a parked Fetch */
    /* Completions from the log's writer thread. */
    pthread_mutex_t mu;
    kf_produce *done_head, *done_tail;
    struct event *wake;
    int wake_appended; /* set under mu by kf_server_notify_append */
    int end_listening; /* subscribed with lg_end_listen */
    int draining;
    void (*drain_done)(void *ud);
    void *drain_ud;
    kf_group_coord *groups;
    struct event *group_tick;
    kf_txn_coord *txns; /* the transaction coordinator (kf_txn.c); NULL clustered */
    struct event *drain_timer;
    /* The offset committer (kf_commit.c). */
    pthread_t committer;
    int committer_up, cinit, cstop;
    pthread_mutex_t cmu;
    pthread_cond_t ccond;
    kf_commit *cq_head, *cq_tail;       /* waiting for the committer */
    kf_commit *cdone_head, *cdone_tail; /* durable, waiting for the loop */
    struct event *commit_wake;
    /* Clustered: the replicated offsets partitions (kf_offsets.c).
     * off_target (the HW handed to the applier) and off_applied (where it
     * stopped) under cmu; the rest the loop's. */
    int64_t off_target[KF_OFFSETS_PARTITIONS], off_applied[KF_OFFSETS_PARTITIONS];
    int32_t off_load_term[KF_OFFSETS_PARTITIONS];
    int64_t off_load_end[KF_OFFSETS_PARTITIONS];
    kf_commit *off_wait; /* stored, waiting for the applier */
    /* Produce requests parked on a full log queue (kf_h_produce.c), in
     * arrival order; retried after each writer round and on park_timer. */
    kf_produce *pq_head, *pq_tail;
    struct event *park_timer;
    uint64_t produce_parks;          /* times a Produce was parked */
    _Atomic uint64_t fetch_parks;    /* long-poll Fetches parked */
    _Atomic uint64_t fetch_rechecks; /* parked Fetches evaluated again on a wake */
};

/** Work another thread will still report for c (an append or a commit):
 *  the connection struct must outlive it. */
static inline int kf__conn_pinned(const kf_conn *c)
{
    return c->prod != NULL || c->commit != NULL;
}

/* ---- kf_server.c: replies and call lifecycle ---- */

/** Encode resp as the reply to c's current request and queue it.
 *  reads/nreads: records fields spliced from segment files, in the order
 *  the encoder meets them (ownership of each lg_read_result passes to the
 *  output buffer, which releases it once sent).  0 or an error. */
int kf__reply(kf_conn *c, const void *resp, lg_read_result *reads, int nreads);
/** kf__reply for a request other than c's current one (a pipelined Produce). */
int kf__reply_as(kf_conn *c, const kf_request *req, const void *resp, lg_read_result *reads,
                 int nreads);
/** Finish c's async call (after kf__reply) and serve what is buffered. */
void kf__call_done(kf_conn *c);
/** The same from the next loop iteration: for replies produced while the
 *  handler (or another connection's handler) is still on the stack. */
int kf__call_done_later(kf_conn *c);
/** Drop the connection (logs why at debug level). */
void kf__conn_fail(kf_conn *c, const char *why);
/** Map a cn_err from lg_* to the Kafka error code a client expects. */
int16_t kf__kafka_error(int err);
/** The topic name as a C string (arena copy from the decoder). */
static inline const char *kf__name(const kf_str *s)
{
    return s->len >= 0 && s->s ? s->s : "";
}

/* ---- handlers (one table row each) ---- */
int kf_h_api_versions(kf_conn *c);
/** The ApiVersions key list we advertise, allocated in c's arena. */
int kf__api_keys(kf_conn *c, kf_ApiVersion **out, size_t *n);
int kf_h_metadata(kf_conn *c);
int kf_h_create_topics(kf_conn *c);
int kf_h_delete_topics(kf_conn *c);
int kf_h_describe_configs(kf_conn *c);
int kf_h_alter_configs(kf_conn *c);
int kf_h_incremental_alter_configs(kf_conn *c);
/** Apply one topic config (Kafka name) to cfg: value NULL reverts it to the
 *  log default.  0, or INVALID_CONFIG with *why saying why (kf_h_config.c;
 *  CreateTopics and both AlterConfigs APIs share it). */
int16_t kf__topic_config_apply(lg_topic_config *cfg, const kf_str *name, const char *value,
                               const char **why);
int kf_h_init_producer_id(kf_conn *c);
int kf_h_sasl_handshake(kf_conn *c);
int kf_h_sasl_authenticate(kf_conn *c);
/** With --sasl-users, CN_EAUTH for a request other than ApiVersions and
 *  SASL before the connection authenticated (the caller closes it). */
int kf__sasl_gate(kf_conn *c);
/** Serve c->frame as a raw SASL token (after a v0 handshake). */
int kf__sasl_raw(kf_conn *c);
void kf__sasl_conn_free(kf_conn *c);
/** A server-side TLS bufferevent on fd (kf_tls.c); NULL on failure. */
struct bufferevent *kf__tls_bev(struct event_base *base, int fd, struct ssl_ctx_st *ctx);
int kf_h_list_offsets(kf_conn *c);
int kf_h_produce(kf_conn *c);
int kf_h_fetch(kf_conn *c);
int kf_h_find_coordinator(kf_conn *c);
int kf_h_join_group(kf_conn *c);
int kf_h_sync_group(kf_conn *c);
int kf_h_heartbeat(kf_conn *c);
int kf_h_leave_group(kf_conn *c);
int kf_h_offset_commit(kf_conn *c);
int kf_h_offset_fetch(kf_conn *c);
int kf_h_list_groups(kf_conn *c);
int kf_h_describe_groups(kf_conn *c);
int kf_h_offset_for_leader_epoch(kf_conn *c);
int kf_h_add_partitions_to_txn(kf_conn *c);
int kf_h_add_offsets_to_txn(kf_conn *c);
int kf_h_end_txn(kf_conn *c);
int kf_h_txn_offset_commit(kf_conn *c);
int kf_h_describe_transactions(kf_conn *c);
int kf_h_list_transactions(kf_conn *c);
/** InitProducerId with a transactional id (kf_h_txn.c). */
int kf__init_transactional(kf_conn *c);

/* ---- transactions (kf_txn.c, kf_h_txn.c) ---- */
/** Start the coordinator: load the stored transactions, start the tick.
 *  0 or an error (s->txns may be set: kf__txn_stop frees it). */
int kf__txn_start(kf_server *s);
/** Wait for markers in flight, free the coordinator.  NULL-safe. */
void kf__txn_stop(kf_server *s);
/** Markers are in flight (drain waits for them). */
int kf__txn_busy(kf_server *s);
/** A connection waiting on a transaction's end is going away. */
void kf__txn_conn_gone(kf_conn *c);
/** The transactional checks of one partition of a Produce (batches v[n]):
 *  0, or the partition's Kafka error. */
int16_t kf__txn_produce_check(kf_server *s, const kf_str *txn_id, const char *topic, int32_t part,
                              const lg_batchv *v, size_t n);

/* ---- leader epochs (kf_h_epoch.c) ---- */
/** The currentLeaderEpoch fence: current -1 passes; below node_epoch
 *  FENCED_LEADER_EPOCH, above it UNKNOWN_LEADER_EPOCH. */
int16_t kf__epoch_fence(int32_t current, int32_t node_epoch);
/** The fence against a partition's epoch (its lookup error if it has none;
 *  no lookup when current is -1). */
int16_t kf__epoch_fence_part(kf_server *s, const char *topic, int32_t part, int32_t current);
/** The leader epoch of the batch holding offset (-1 if none or unknown). */
int32_t kf__epoch_at(kf_server *s, const char *topic, int32_t part, int64_t offset);

/** Is api_key/api_version advertised but below what the codec decodes
 *  (Produce v0-2, Fetch v0-3)?  Then kf__answer_old_version answers it
 *  with UNSUPPORTED_VERSION per partition: KF_DONE, or an error (a
 *  malformed body) that closes the connection. */
int kf__old_version_served(int16_t api_key, int16_t api_version);
int kf__answer_old_version(kf_conn *c);

/** Produce completions (called on the loop when the wake event fires). */
void kf__produce_complete(kf_produce *p);
/** Loop: retry every parked Produce (the log's queue may have room). */
void kf__produce_retry_parked(kf_server *s);
/** Create the park timer.  0 or CN_ENOMEM. */
int kf__produce_start(kf_server *s);
/** Re-examine parked Fetches (new data, or their deadline). */
void kf__fetch_recheck(kf_server *s, int only_expired);
/** A parked fetch's connection is going away. */
void kf__fetch_unpark(kf_conn *c);
/** Clustered: 0 if this node is the serving leader of (topic, partition)
 *  (always 0 standalone), else NOT_LEADER_OR_FOLLOWER, or
 *  UNKNOWN_TOPIC_OR_PARTITION when it is not replicated here. */
int16_t kf__leader_check(kf_server *s, const char *topic, int32_t partition);
/** Ensure a topic exists if auto-create is on: 0, or LG_ENOTOPIC. */
int kf__topic_autocreate(kf_server *s, const char *topic);
/** Start / stop the offset committer thread.  0 or CN_ENOMEM. */
int kf__commit_start(kf_server *s);
void kf__commit_stop(kf_server *s);
/** Encode and send k's OffsetCommit reply (errors already in k->out) and
 *  finish the call; the connection is no longer pinned by it. */
void kf__commit_answer(kf_commit *k);

/* ---- kf_offsets.c: replicated consumer-group offsets (clustered) ---- */

/** 0 if this node coordinates group now; NOT_COORDINATOR or
 *  COORDINATOR_LOAD_IN_PROGRESS. */
int16_t kf__offsets_coord(kf_server *s, const char *group);
/** The node leading group's offsets partition: 0 with *node, or CN_ENOENT. */
int kf__offsets_leader(kf_server *s, const char *group, int32_t *node);
/** Hand the applier each offsets partition's HW (loop; after HW moves). */
void kf__offsets_refresh(kf_server *s);
/** Propose k's offsets (one batch); k is answered later.  0, or the
 *  Kafka error for every entry (nothing proposed). */
int kf__offsets_propose(kf_commit *k, const char *group);
/** Answer every stored commit the applier has reached. */
void kf__offsets_answer_applied(kf_server *s);
/** Answer every commit still waiting for the applier NOT_COORDINATOR. */
void kf__offsets_fail_waiting(kf_server *s);
/** Where the applier stopped, from LMDB (before the thread starts). */
int kf__offsets_load(kf_server *s);
/** The applier thread's body (kf_commit.c starts it clustered). */
void *kf__offsets_applier_main(void *ud);
/** Hand k (its conn set) to the committer; the reply follows once the
 *  offsets are durable.  The connection stays pinned until then. */
void kf__commit_submit(kf_commit *k);
/** Group-coordinator glue: a member's connection closed. */
void kf__group_conn_gone(kf_conn *c);
/** Wire the coordinator's callbacks and start its tick.  0 or CN_ENOMEM. */
int kf__group_start(kf_server *s);

#endif
