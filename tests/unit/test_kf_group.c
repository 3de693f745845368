/* SPDX-License-Identifier: MIT */
/*
 * test_kf_group.c — unit tests for the consumer-group state machine
 * (log/kafka/kf_group.c), driven with explicit times and fake waiters:
 *  - first join makes a generation with one leader; a second member
 *    triggers a rebalance that completes only when the first rejoins;
 *  - the leader's SyncGroup delivers each member its own assignment;
 *    a follower's sync waits for the leader;
 *  - heartbeat errors: unknown member, stale generation, rebalance in
 *    progress; commit checks mirror Kafka's;
 *  - LeaveGroup and session expiry trigger rebalances; a member that does
 *    not rejoin before the rebalance timeout is dropped;
 *  - KIP-394 (JoinGroup v4+): MEMBER_ID_REQUIRED then a join with the id;
 *  - bad session timeouts, inconsistent protocols, unknown member ids;
 *  - static members (group.instance.id): a restarted one replaces its old
 *    member id with no rebalance and keeps its assignment; the old id is
 *    fenced on join, sync, heartbeat, commit and leave; changed protocols
 *    rebalance; leaving by instance id;
 *  - a group that empties forgets its protocol type, and empty groups are
 *    freed (memory back to where it was before they existed);
 *  - a cancelled waiter is never called back; allocation failure at every
 *    point leaves no leak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "kf_errors.h"
#include "kf_group.h"

/* What the callbacks saw, per fake connection (waiter). */
typedef struct fake_conn {
    int joins, syncs;
    kf_join_result join; /* strings copied below */
    char member_id[128], leader[128], protocol[64];
    size_t nmembers;
    int16_t sync_err;
    char assignment[64];
} fake_conn;

static void on_join(void *ud, void *waiter, const kf_join_result *res)
{
    (void)ud;
    fake_conn *c = waiter;
    c->joins++;
    c->join = *res;
    snprintf(c->member_id, sizeof(c->member_id), "%s", res->member_id ? res->member_id : "");
    snprintf(c->leader, sizeof(c->leader), "%s", res->leader ? res->leader : "");
    snprintf(c->protocol, sizeof(c->protocol), "%s", res->protocol_name ? res->protocol_name : "");
    c->nmembers = res->nmembers;
}

static void on_sync(void *ud, void *waiter, int16_t err, const unsigned char *as, size_t len)
{
    (void)ud;
    fake_conn *c = waiter;
    c->syncs++;
    c->sync_err = err;
    snprintf(c->assignment, sizeof(c->assignment), "%.*s", (int)len, as ? (const char *)as : "");
}

static kf_group_coord *mk(void)
{
    kf_group_coord *g;
    assert_int_equal(kf_group_coord_new(&g), 0);
    kf_group_cbs cbs = {on_join, on_sync, NULL};
    kf_group_limits lim = {1000, 60000, 0};
    kf_group_set_callbacks(g, &cbs, &lim);
    return g;
}

static const kf_group_protocol range_rr[2] = {{"range", (const unsigned char *)"m", 1},
                                              {"roundrobin", (const unsigned char *)"m", 1}};

static int join(kf_group_coord *g, fake_conn *c, const char *member, int64_t now)
{
    kf_join_req r;
    memset(&r, 0, sizeof(r));
    r.group_id = "g";
    r.member_id = member;
    r.client_id = "cli";
    r.client_host = "/127.0.0.1";
    r.protocol_type = "consumer";
    r.session_timeout_ms = 5000;
    r.rebalance_timeout_ms = 10000;
    r.protocols = range_rr;
    r.nprotocols = 2;
    r.waiter = c;
    return kf_group_join(g, &r, now);
}

static void test_two_members_rebalance_and_sync(void **st)
{
    (void)st;
    kf_group_coord *g = mk();
    fake_conn a = {0}, b = {0}, a2 = {0}, b2 = {0};
    /* A alone: generation 1 right away, A leads. */
    assert_int_equal(join(g, &a, "", 0), 0);
    assert_int_equal(a.joins, 1);
    assert_int_equal(a.join.error, 0);
    assert_int_equal(a.join.generation, 1);
    assert_string_equal(a.leader, a.member_id);
    assert_string_equal(a.protocol, "range");
    assert_int_equal(a.nmembers, 1);
    kf_sync_assignment as1[1] = {{a.member_id, (const unsigned char *)"all", 3}};
    assert_int_equal(kf_group_sync(g, "g", a.member_id, NULL, 1, as1, 1, &a, 10), 0);
    assert_int_equal(a.syncs, 1);
    assert_string_equal(a.assignment, "all");
    assert_int_equal(kf_group_heartbeat(g, "g", a.member_id, NULL, 1, 20), 0);

    /* B joins: it waits; A's heartbeat says rebalance. */
    assert_int_equal(join(g, &b, "", 100), 0);
    assert_int_equal(b.joins, 0);
    assert_int_equal(kf_group_heartbeat(g, "g", a.member_id, NULL, 1, 150),
                     KF_ERR_REBALANCE_IN_PROGRESS);
    /* Commit during PreparingRebalance is allowed for the old generation. */
    assert_int_equal(kf_group_commit_check(g, "g", a.member_id, NULL, 1, 150), 0);
    /* A rejoins: generation 2 completes for both; A still leads. */
    assert_int_equal(join(g, &a2, a.member_id, 200), 0);
    assert_int_equal(a2.joins, 1);
    assert_int_equal(b.joins, 1);
    assert_int_equal(a2.join.generation, 2);
    assert_int_equal(b.join.generation, 2);
    assert_string_equal(a2.leader, a.member_id);
    assert_string_equal(b.leader, a.member_id);
    assert_int_equal(a2.nmembers, 2); /* the leader sees everyone */
    assert_int_equal(b.nmembers, 0);
    /* B syncs first: waits for the leader. */
    assert_int_equal(kf_group_sync(g, "g", b.member_id, NULL, 2, NULL, 0, &b2, 210), 0);
    assert_int_equal(b2.syncs, 0);
    /* Commit while completing: REBALANCE_IN_PROGRESS. */
    assert_int_equal(kf_group_commit_check(g, "g", b.member_id, NULL, 2, 215),
                     KF_ERR_REBALANCE_IN_PROGRESS);
    kf_sync_assignment as2[2] = {{a.member_id, (const unsigned char *)"p0", 2},
                                 {b.member_id, (const unsigned char *)"p1", 2}};
    fake_conn a3 = {0};
    assert_int_equal(kf_group_sync(g, "g", a.member_id, NULL, 2, as2, 2, &a3, 220), 0);
    assert_int_equal(a3.syncs, 1);
    assert_string_equal(a3.assignment, "p0");
    assert_int_equal(b2.syncs, 1);
    assert_string_equal(b2.assignment, "p1");
    /* Stale generation and unknown member. */
    assert_int_equal(kf_group_heartbeat(g, "g", a.member_id, NULL, 1, 230),
                     KF_ERR_ILLEGAL_GENERATION);
    assert_int_equal(kf_group_heartbeat(g, "g", "nobody", NULL, 2, 230), KF_ERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(kf_group_commit_check(g, "g", b.member_id, NULL, 2, 230), 0);
    assert_int_equal(kf_group_commit_check(g, "g", b.member_id, NULL, 1, 230),
                     KF_ERR_ILLEGAL_GENERATION);
    assert_int_equal(kf_group_commit_check(g, "g", "", NULL, -1, 230), KF_ERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(kf_group_commit_check(g, "other", "", NULL, -1, 230), 0);

    /* B leaves: A must rejoin for generation 3 and then owns everything. */
    assert_int_equal(kf_group_leave(g, "g", b.member_id, NULL, 300), 0);
    assert_int_equal(kf_group_heartbeat(g, "g", a.member_id, NULL, 2, 310),
                     KF_ERR_REBALANCE_IN_PROGRESS);
    fake_conn a4 = {0};
    join(g, &a4, a.member_id, 320);
    assert_int_equal(a4.join.generation, 3);
    assert_int_equal(a4.nmembers, 1);
    assert_int_equal(kf_group_leave(g, "g", b.member_id, NULL, 330), KF_ERR_UNKNOWN_MEMBER_ID);
    kf_group_coord_free(g);
}

static void test_session_expiry_and_rebalance_timeout(void **st)
{
    (void)st;
    kf_group_coord *g = mk();
    fake_conn a = {0}, b = {0}, b2 = {0};
    join(g, &a, "", 0);
    kf_sync_assignment as[1] = {{a.member_id, (const unsigned char *)"x", 1}};
    fake_conn s = {0};
    kf_group_sync(g, "g", a.member_id, NULL, 1, as, 1, &s, 0);
    join(g, &b, "", 1000);
    /* A never rejoins: B waits until the rebalance timeout (10 s), then
     * generation 2 has B alone, as leader. */
    kf_group_tick(g, 5000);
    assert_int_equal(b.joins, 0);
    kf_group_tick(g, 11001);
    assert_int_equal(b.joins, 1);
    assert_int_equal(b.join.generation, 2);
    assert_string_equal(b.leader, b.member_id);
    assert_int_equal(kf_group_heartbeat(g, "g", a.member_id, NULL, 1, 11002),
                     KF_ERR_UNKNOWN_MEMBER_ID);
    /* B syncs, then goes silent past its 5 s session: the group empties. */
    kf_sync_assignment asb[1] = {{b.member_id, (const unsigned char *)"y", 1}};
    kf_group_sync(g, "g", b.member_id, NULL, 2, asb, 1, &b2, 11100);
    assert_string_equal(b2.assignment, "y");
    kf_group_tick(g, 14000);
    assert_int_equal(kf_group_heartbeat(g, "g", b.member_id, NULL, 2, 14000), 0);
    kf_group_tick(g, 18999); /* 4999 ms after the heartbeat: still in */
    assert_int_equal(kf_group_heartbeat(g, "g", b.member_id, NULL, 2, 18999), 0);
    kf_group_tick(g, 24000); /* 5001 ms of silence: out */
    assert_int_equal(kf_group_heartbeat(g, "g", b.member_id, NULL, 2, 24001),
                     KF_ERR_UNKNOWN_MEMBER_ID);

    kf_group_coord_free(g);
}

static int count_cb(void *ud, const kf_group_info *gi)
{
    int *n = ud;
    (*n)++;
    assert_string_equal(gi->group_id, "g");
    return 0;
}

static void describe_cb(void *ud, const kf_group_info *gi)
{
    const kf_group_info **out = ud;
    assert_int_equal(gi->state, KF_GROUP_STABLE);
    assert_int_equal(gi->nmembers, 1);
    assert_int_equal(gi->members[0].assignment_len, 1);
    assert_string_equal(gi->protocol_name, "range");
    *out = gi;
}

static void test_kip394_and_errors(void **st)
{
    (void)st;
    kf_group_coord *g = mk();
    fake_conn a = {0}, a2 = {0}, bad = {0};
    kf_join_req r;
    memset(&r, 0, sizeof(r));
    r.group_id = "g";
    r.member_id = "";
    r.client_id = "c";
    r.protocol_type = "consumer";
    r.session_timeout_ms = 5000;
    r.rebalance_timeout_ms = 5000;
    r.protocols = range_rr;
    r.nprotocols = 1;
    r.require_known_member = 1;
    r.waiter = &a;
    kf_group_join(g, &r, 0);
    assert_int_equal(a.join.error, KF_ERR_MEMBER_ID_REQUIRED);
    assert_true(strlen(a.member_id) > 0);
    r.member_id = a.member_id;
    r.waiter = &a2;
    kf_group_join(g, &r, 10);
    assert_int_equal(a2.join.error, 0);
    assert_int_equal(a2.join.generation, 1);
    assert_string_equal(a2.member_id, a.member_id);
    /* Unknown ids, bad timeouts, protocol mismatch. */
    r.member_id = "made-up";
    r.waiter = &bad;
    kf_group_join(g, &r, 20);
    assert_int_equal(bad.join.error, KF_ERR_UNKNOWN_MEMBER_ID);
    r.member_id = "";
    r.require_known_member = 0;
    r.session_timeout_ms = 10;
    kf_group_join(g, &r, 20);
    assert_int_equal(bad.join.error, KF_ERR_INVALID_SESSION_TIMEOUT);
    r.session_timeout_ms = 5000;
    kf_group_protocol other = {"sticky-only", (const unsigned char *)"", 0};
    r.protocols = &other;
    kf_group_join(g, &r, 20);
    assert_int_equal(bad.join.error, KF_ERR_INCONSISTENT_GROUP_PROTOCOL);
    r.group_id = "";
    kf_group_join(g, &r, 20);
    assert_int_equal(bad.join.error, KF_ERR_INVALID_GROUP_ID);
    /* Sync with the wrong generation / unknown member. */
    fake_conn s = {0};
    kf_group_sync(g, "g", a.member_id, NULL, 7, NULL, 0, &s, 30);
    assert_int_equal(s.sync_err, KF_ERR_ILLEGAL_GENERATION);
    kf_group_sync(g, "g", "zz", NULL, 1, NULL, 0, &s, 30);
    assert_int_equal(s.sync_err, KF_ERR_UNKNOWN_MEMBER_ID);
    kf_sync_assignment as[1] = {{a.member_id, (const unsigned char *)"z", 1}};
    kf_group_sync(g, "g", a.member_id, NULL, 1, as, 1, &s, 40);
    assert_int_equal(s.sync_err, 0);
    int n = 0;
    kf_group_each(g, count_cb, &n);
    assert_int_equal(n, 1);
    const kf_group_info *gi = NULL;
    assert_int_equal(kf_group_describe(g, "g", describe_cb, &gi), 0);
    assert_non_null(gi);
    assert_int_equal(kf_group_describe(g, "nope", describe_cb, &gi), CN_ENOENT);
    assert_string_equal(kf_group_state_name(KF_GROUP_PREPARING_REBALANCE), "PreparingRebalance");
    kf_group_coord_free(g);
}

static void test_cancelled_waiter_not_called(void **st)
{
    (void)st;
    kf_group_coord *g = mk();
    fake_conn a = {0}, b = {0}, a2 = {0};
    join(g, &a, "", 0);
    kf_sync_assignment as[1] = {{a.member_id, (const unsigned char *)"x", 1}};
    fake_conn s = {0};
    kf_group_sync(g, "g", a.member_id, NULL, 1, as, 1, &s, 0);
    join(g, &b, "", 10);
    kf_group_cancel_waiter(g, &b); /* B's connection died */
    join(g, &a2, a.member_id, 20);
    /* A rejoined, B's waiter is gone: the round waits for the timeout and
     * then completes with A alone; B is never called back. */
    assert_int_equal(a2.joins, 0);
    kf_group_tick(g, 10021);
    assert_int_equal(a2.joins, 1);
    assert_int_equal(a2.nmembers, 1);
    assert_int_equal(b.joins, 0);
    kf_group_coord_free(g);
}

/* ---- static membership (group.instance.id) ---------------------------- */

static int join_static(kf_group_coord *g, fake_conn *c, const char *member, const char *instance,
                       const kf_group_protocol *protos, size_t np, int v4, int64_t now)
{
    kf_join_req r;
    memset(&r, 0, sizeof(r));
    r.group_id = "g";
    r.member_id = member;
    r.group_instance_id = instance;
    r.client_id = "cli";
    r.client_host = "/127.0.0.1";
    r.protocol_type = "consumer";
    r.session_timeout_ms = 5000;
    r.rebalance_timeout_ms = 10000;
    r.protocols = protos;
    r.nprotocols = np;
    r.require_known_member = v4;
    r.waiter = c;
    return kf_group_join(g, &r, now);
}

static int members_cb(void *ud, const kf_group_info *gi)
{
    *(size_t *)ud = gi->nmembers;
    return 0;
}

/* Two static members, stable at generation 1 with assignments a/b. */
static void static_pair(kf_group_coord *g, fake_conn *a, fake_conn *b)
{
    fake_conn a2 = {0}, sa = {0}, sb = {0};
    assert_int_equal(join_static(g, a, "", "inst-a", range_rr, 2, 1, 0), 0);
    assert_int_equal(a->join.error, 0); /* no MEMBER_ID_REQUIRED for a static member */
    assert_int_equal(join_static(g, b, "", "inst-b", range_rr, 2, 1, 10), 0);
    assert_int_equal(join_static(g, &a2, a->member_id, "inst-a", range_rr, 2, 1, 20), 0);
    assert_int_equal(b->join.generation, 2);
    assert_string_equal(a2.leader, a->member_id);
    kf_sync_assignment as[2] = {{a->member_id, (const unsigned char *)"pa", 2},
                                {b->member_id, (const unsigned char *)"pb", 2}};
    kf_group_sync(g, "g", b->member_id, "inst-b", 2, NULL, 0, &sb, 30);
    kf_group_sync(g, "g", a->member_id, "inst-a", 2, as, 2, &sa, 30);
    assert_string_equal(sa.assignment, "pa");
    assert_string_equal(sb.assignment, "pb");
}

static void test_static_member_rejoin_keeps_assignment_without_rebalance(void **st)
{
    (void)st;
    kf_group_coord *g = mk();
    fake_conn a = {0}, b = {0};
    static_pair(g, &a, &b);
    /* The leader A restarts: a join with its instance id and no member id. */
    fake_conn ra = {0}, rs = {0};
    assert_int_equal(join_static(g, &ra, "", "inst-a", range_rr, 2, 1, 1000), 0);
    assert_int_equal(ra.joins, 1);
    assert_int_equal(ra.join.error, 0);
    assert_int_equal(ra.join.generation, 2); /* same generation: no rebalance */
    assert_string_not_equal(ra.member_id, a.member_id);
    /* The reply names the old leader id, so the new A does not assign. */
    assert_string_equal(ra.leader, a.member_id);
    assert_int_equal(ra.nmembers, 0);
    /* B carries on undisturbed; A gets its old assignment back. */
    assert_int_equal(kf_group_heartbeat(g, "g", b.member_id, "inst-b", 2, 1010), 0);
    kf_group_sync(g, "g", ra.member_id, "inst-a", 2, NULL, 0, &rs, 1020);
    assert_int_equal(rs.sync_err, 0);
    assert_string_equal(rs.assignment, "pa");
    assert_int_equal(kf_group_heartbeat(g, "g", ra.member_id, "inst-a", 2, 1030), 0);
    size_t n = 0;
    kf_group_each(g, members_cb, &n);
    assert_int_equal(n, 2); /* replaced, not added */
    /* B restarts with other protocols: that does rebalance. */
    fake_conn rb = {0};
    assert_int_equal(join_static(g, &rb, "", "inst-b", range_rr + 1, 1, 1, 1100), 0);
    assert_int_equal(rb.joins, 0);
    assert_int_equal(kf_group_heartbeat(g, "g", ra.member_id, "inst-a", 2, 1110),
                     KF_ERR_REBALANCE_IN_PROGRESS);
    kf_group_coord_free(g);
}

static void test_static_member_stale_id_fenced(void **st)
{
    (void)st;
    kf_group_coord *g = mk();
    fake_conn a = {0}, b = {0}, ra = {0};
    static_pair(g, &a, &b);
    assert_int_equal(join_static(g, &ra, "", "inst-a", range_rr, 2, 1, 1000), 0);
    /* The old incarnation of A, still running somewhere, is fenced on every call. */
    fake_conn old = {0}, os = {0};
    assert_int_equal(join_static(g, &old, a.member_id, "inst-a", range_rr, 2, 1, 1010), 0);
    assert_int_equal(old.join.error, KF_ERR_FENCED_INSTANCE_ID);
    assert_int_equal(kf_group_heartbeat(g, "g", a.member_id, "inst-a", 2, 1010),
                     KF_ERR_FENCED_INSTANCE_ID);
    kf_group_sync(g, "g", a.member_id, "inst-a", 2, NULL, 0, &os, 1010);
    assert_int_equal(os.sync_err, KF_ERR_FENCED_INSTANCE_ID);
    assert_int_equal(kf_group_commit_check(g, "g", a.member_id, "inst-a", 2, 1010),
                     KF_ERR_FENCED_INSTANCE_ID);
    assert_int_equal(kf_group_leave(g, "g", a.member_id, "inst-a", 1010),
                     KF_ERR_FENCED_INSTANCE_ID);
    assert_int_equal(kf_group_commit_check(g, "g", ra.member_id, "inst-a", 2, 1010), 0);
    /* A replacement while the old one waits in JoinGroup answers the old
     * waiter FENCED_INSTANCE_ID. */
    fake_conn bw = {0}, rb = {0};
    kf_group_protocol changed[1] = {{"range", (const unsigned char *)"n", 1}};
    join_static(g, &bw, b.member_id, "inst-b", changed, 1, 1, 1100); /* rebalance, waits */
    assert_int_equal(bw.joins, 0);
    join_static(g, &rb, "", "inst-b", changed, 1, 1, 1200);
    assert_int_equal(bw.joins, 1);
    assert_int_equal(bw.join.error, KF_ERR_FENCED_INSTANCE_ID);
    /* A static member leaves by instance id alone. */
    assert_int_equal(kf_group_leave(g, "g", "", "inst-b", 1300), 0);
    size_t n = 0;
    kf_group_each(g, members_cb, &n);
    assert_int_equal(n, 1);
    kf_group_coord_free(g);
}

/* ---- empty groups ------------------------------------------------------ */

static void test_empty_group_forgets_protocol_type(void **st)
{
    (void)st;
    kf_group_coord *g = mk();
    fake_conn a = {0}, c = {0};
    join(g, &a, "", 0);
    assert_int_equal(kf_group_leave(g, "g", a.member_id, NULL, 10), 0);
    /* The next member may speak another protocol type. */
    kf_join_req r;
    memset(&r, 0, sizeof(r));
    r.group_id = "g";
    r.member_id = "";
    r.protocol_type = "connect";
    r.session_timeout_ms = 5000;
    r.protocols = range_rr;
    r.nprotocols = 1;
    r.waiter = &c;
    assert_int_equal(kf_group_join(g, &r, 20), 0);
    assert_int_equal(c.join.error, 0);
    assert_string_equal(c.join.protocol_type, "connect");
    kf_group_coord_free(g);
}

static int count_any_cb(void *ud, const kf_group_info *gi)
{
    (void)gi;
    (*(int *)ud)++;
    return 0;
}

static void test_empty_groups_freed(void **st)
{
    (void)st;
    cn_test_alloc_fail_at(0, 0); /* count allocations, fail none */
    kf_group_coord *g = mk();
    long before = cn_test_alloc_live();
    /* 200 groups come and go: by leave, by session expiry, and a join
     * that failed on a brand-new group. */
    for (int i = 0; i < 200; i++) {
        char gid[32];
        snprintf(gid, sizeof(gid), "g-%d", i);
        fake_conn a = {0};
        kf_join_req r;
        memset(&r, 0, sizeof(r));
        r.group_id = gid;
        r.member_id = i % 3 == 2 ? "unknown-id" : "";
        r.protocol_type = "consumer";
        r.session_timeout_ms = 5000;
        r.protocols = range_rr;
        r.nprotocols = 1;
        r.waiter = &a;
        assert_int_equal(kf_group_join(g, &r, 0), 0);
        if (i % 3 == 0)
            assert_int_equal(kf_group_leave(g, gid, a.member_id, NULL, 1), 0);
    }
    int n = 0;
    kf_group_each(g, count_any_cb, &n);
    assert_int_equal(n, 200);
    kf_group_tick(g, 100); /* left and failed ones go now */
    n = 0;
    kf_group_each(g, count_any_cb, &n);
    assert_int_equal(n, 67); /* i % 3 == 1: members still in their session */
    kf_group_tick(g, 6000);  /* their sessions expire: emptied and freed */
    n = 0;
    kf_group_each(g, count_any_cb, &n);
    assert_int_equal(n, 0);
    assert_int_equal(cn_test_alloc_live(), before);
    kf_group_coord_free(g);
    assert_int_equal(cn_test_alloc_live(), 0);
    cn_test_alloc_reset();
}

static void test_oom(void **st)
{
    (void)st;
    for (long n = 1; n < 500; n++) {
        cn_test_alloc_fail_at(n, 1);
        kf_group_coord *g = NULL;
        if (kf_group_coord_new(&g) == 0) {
            kf_group_cbs cbs = {on_join, on_sync, NULL};
            kf_group_set_callbacks(g, &cbs, NULL);
            fake_conn a = {0}, b = {0}, a2 = {0};
            join(g, &a, "", 0);
            join(g, &b, "", 1);
            if (a.joins && a.join.error == 0)
                join(g, &a2, a.member_id, 2);
            kf_group_tick(g, 100000);
            kf_group_coord_free(g);
        }
        long live = cn_test_alloc_live();
        cn_test_alloc_reset();
        assert_int_equal(live, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_members_rebalance_and_sync),
        cmocka_unit_test(test_session_expiry_and_rebalance_timeout),
        cmocka_unit_test(test_kip394_and_errors),
        cmocka_unit_test(test_cancelled_waiter_not_called),
        cmocka_unit_test(test_static_member_rejoin_keeps_assignment_without_rebalance),
        cmocka_unit_test(test_static_member_stale_id_fenced),
        cmocka_unit_test(test_empty_group_forgets_protocol_type),
        cmocka_unit_test(test_empty_groups_freed),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
