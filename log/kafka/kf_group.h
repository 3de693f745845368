/* SPDX-License-Identifier: MIT */
/*
 * kf_group.h — the consumer-group coordinator as a pure state machine:
 * Kafka's classic rebalance protocol (JoinGroup / SyncGroup / Heartbeat /
 * LeaveGroup) with generations, session and rebalance timeouts.
 *
 * No I/O and no clock: every call takes now_ms, and answers to requests
 * that must wait (a JoinGroup until the rebalance completes, a SyncGroup
 * until the leader sends assignments) are delivered through callbacks
 * with the caller's opaque waiter pointer — possibly from inside a later
 * call (another member's join, a tick).  Committed offsets are not kept
 * here (the server stores them in the log's LMDB); kf_group_commit_check
 * says whether a commit is allowed.
 * Static membership (group.instance.id) follows Kafka's KIP-345: a
 * restarted static member replaces its old self without a rebalance when
 * its protocols are unchanged; the replaced member id is fenced.
 * Threads: one owner (the server's loop).  See docs/kafka.md.
 */
#ifndef KF_GROUP_H
#define KF_GROUP_H

#include <stddef.h>
#include <stdint.h>

typedef struct kf_group_coord kf_group_coord;

enum kf_group_state {
    KF_GROUP_EMPTY = 0,
    KF_GROUP_PREPARING_REBALANCE,
    KF_GROUP_COMPLETING_REBALANCE,
    KF_GROUP_STABLE,
};
const char *kf_group_state_name(enum kf_group_state st); /* Kafka's names */

typedef struct kf_group_protocol {
    const char *name;
    const unsigned char *meta;
    size_t meta_len;
} kf_group_protocol;

typedef struct kf_join_req {
    const char *group_id;
    const char *member_id;         /* "" for a new member */
    const char *group_instance_id; /* NULL unless static membership */
    const char *client_id, *client_host;
    const char *protocol_type;
    int32_t session_timeout_ms, rebalance_timeout_ms;
    const kf_group_protocol *protocols;
    size_t nprotocols;
    int require_known_member; /* JoinGroup v4+: KIP-394 two-step join */
    void *waiter;
} kf_join_req;

typedef struct kf_join_member {
    const char *member_id;
    const char *group_instance_id;
    const unsigned char *meta;
    size_t meta_len;
} kf_join_member;

/** A JoinGroup answer; pointers are valid only during the callback. */
typedef struct kf_join_result {
    int16_t error;                             /* Kafka error code */
    int32_t generation;                        /* -1 on error */
    const char *protocol_type, *protocol_name; /* NULL on error */
    const char *leader, *member_id;
    const kf_join_member *members; /* the leader gets everyone; others none */
    size_t nmembers;
} kf_join_result;

typedef struct kf_group_cbs {
    void (*join_done)(void *ud, void *waiter, const kf_join_result *res);
    /** assignment borrowed for the callback; err a Kafka error code. */
    void (*sync_done)(void *ud, void *waiter, int16_t err, const unsigned char *assignment,
                      size_t len);
    void *ud;
} kf_group_cbs;

typedef struct kf_group_limits {
    int32_t min_session_ms, max_session_ms;
    int64_t initial_rebalance_ms; /* wait for more members when a group starts */
} kf_group_limits;

/** @return 0 or CN_ENOMEM. */
int kf_group_coord_new(kf_group_coord **out);
/** Waiters still pending are dropped without callbacks.  NULL-safe. */
void kf_group_coord_free(kf_group_coord *g);
void kf_group_set_callbacks(kf_group_coord *g, const kf_group_cbs *cbs, const kf_group_limits *lim);

/** Start or continue a join; the answer comes through join_done (maybe
 *  before this returns).  @return 0 or CN_ENOMEM (no callback then). */
int kf_group_join(kf_group_coord *g, const kf_join_req *req, int64_t now_ms);

typedef struct kf_sync_assignment {
    const char *member_id;
    const unsigned char *data;
    size_t len;
} kf_sync_assignment;

/** SyncGroup: the leader passes the assignments.  Answer via sync_done.
 *  @return 0 or CN_ENOMEM (no callback then). */
int kf_group_sync(kf_group_coord *g, const char *group_id, const char *member_id,
                  const char *instance_id, int32_t generation, const kf_sync_assignment *as,
                  size_t nas, void *waiter, int64_t now_ms);
/* instance_id below: the caller's group.instance.id, NULL for a dynamic
 * member; naming a static instance with another member id than its
 * current one gives FENCED_INSTANCE_ID. */
/** @return a Kafka error code (0 ok). */
int16_t kf_group_heartbeat(kf_group_coord *g, const char *group_id, const char *member_id,
                           const char *instance_id, int32_t generation, int64_t now_ms);
/** member_id "" with an instance_id: the static member leaves by instance.
 *  @return a Kafka error code (0 ok). */
int16_t kf_group_leave(kf_group_coord *g, const char *group_id, const char *member_id,
                       const char *instance_id, int64_t now_ms);
/** May a member commit offsets for generation (-1: a client outside the
 *  group protocol)?  @return a Kafka error code (0 ok). */
int16_t kf_group_commit_check(kf_group_coord *g, const char *group_id, const char *member_id,
                              const char *instance_id, int32_t generation, int64_t now_ms);
/** Expire sessions, finish rebalances whose timeout passed, free groups
 *  left with no member (and no pending KIP-394 member id). */
void kf_group_tick(kf_group_coord *g, int64_t now_ms);
/** A connection went away: forget waiter (the member stays until its
 *  session expires or it leaves, as in Kafka). */
void kf_group_cancel_waiter(kf_group_coord *g, void *waiter);

/* ---- inspection (ListGroups, DescribeGroups, `cairn log groups`) ---- */

typedef struct kf_group_member_info {
    const char *member_id, *group_instance_id, *client_id, *client_host;
    const unsigned char *meta, *assignment;
    size_t meta_len, assignment_len;
} kf_group_member_info;

typedef struct kf_group_info {
    const char *group_id;
    enum kf_group_state state;
    const char *protocol_type, *protocol_name; /* "" when none */
    int32_t generation;
    const kf_group_member_info *members;
    size_t nmembers;
} kf_group_info;

/** fn for each group (borrowed views valid during the call); non-zero stops. */
void kf_group_each(kf_group_coord *g, int (*fn)(void *ud, const kf_group_info *gi), void *ud);
/** Describe one group: 0 with fn called once, CN_ENOENT if unknown. */
int kf_group_describe(kf_group_coord *g, const char *group_id,
                      void (*fn)(void *ud, const kf_group_info *gi), void *ud);

#endif
