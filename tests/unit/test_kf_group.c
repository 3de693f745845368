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
    kf_join_result join;  /* strings copied below */
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
    assert_int_equal(kf_group_sync(g, "g", a.member_id, 1, as1, 1, &a, 10), 0);
    assert_int_equal(a.syncs, 1);
    assert_string_equal(a.assignment, "all");
    assert_int_equal(kf_group_heartbeat(g, "g", a.member_id, 1, 20), 0);

    /* B joins: it waits; A's heartbeat says rebalance. */
    assert_int_equal(join(g, &b, "", 100), 0);
    assert_int_equal(b.joins, 0);
    assert_int_equal(kf_group_heartbeat(g, "g", a.member_id, 1, 150), KF_ERR_REBALANCE_IN_PROGRESS);
    /* Commit during PreparingRebalance is allowed for the old generation. */
    assert_int_equal(kf_group_commit_check(g, "g", a.member_id, 1, 150), 0);
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
    assert_int_equal(kf_group_sync(g, "g", b.member_id, 2, NULL, 0, &b2, 210), 0);
    assert_int_equal(b2.syncs, 0);
    /* Commit while completing: REBALANCE_IN_PROGRESS. */
    assert_int_equal(kf_group_commit_check(g, "g", b.member_id, 2, 215), KF_ERR_REBALANCE_IN_PROGRESS);
    kf_sync_assignment as2[2] = {{a.member_id, (const unsigned char *)"p0", 2},
                                 {b.member_id, (const unsigned char *)"p1", 2}};
    fake_conn a3 = {0};
    assert_int_equal(kf_group_sync(g, "g", a.member_id, 2, as2, 2, &a3, 220), 0);
    assert_int_equal(a3.syncs, 1);
    assert_string_equal(a3.assignment, "p0");
    assert_int_equal(b2.syncs, 1);
    assert_string_equal(b2.assignment, "p1");
    /* Stale generation and unknown member. */
    assert_int_equal(kf_group_heartbeat(g, "g", a.member_id, 1, 230), KF_ERR_ILLEGAL_GENERATION);
    assert_int_equal(kf_group_heartbeat(g, "g", "nobody", 2, 230), KF_ERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(kf_group_commit_check(g, "g", b.member_id, 2, 230), 0);
    assert_int_equal(kf_group_commit_check(g, "g", b.member_id, 1, 230), KF_ERR_ILLEGAL_GENERATION);
    assert_int_equal(kf_group_commit_check(g, "g", "", -1, 230), KF_ERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(kf_group_commit_check(g, "other", "", -1, 230), 0);

    /* B leaves: A must rejoin for generation 3 and then owns everything. */
    assert_int_equal(kf_group_leave(g, "g", b.member_id, 300), 0);
    assert_int_equal(kf_group_heartbeat(g, "g", a.member_id, 2, 310), KF_ERR_REBALANCE_IN_PROGRESS);
    fake_conn a4 = {0};
    join(g, &a4, a.member_id, 320);
    assert_int_equal(a4.join.generation, 3);
    assert_int_equal(a4.nmembers, 1);
    assert_int_equal(kf_group_leave(g, "g", b.member_id, 330), KF_ERR_UNKNOWN_MEMBER_ID);
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
    kf_group_sync(g, "g", a.member_id, 1, as, 1, &s, 0);
    join(g, &b, "", 1000);
    /* A never rejoins: B waits until the rebalance timeout (10 s), then
     * generation 2 has B alone, as leader. */
    kf_group_tick(g, 5000);
    assert_int_equal(b.joins, 0);
    kf_group_tick(g, 11001);
    assert_int_equal(b.joins, 1);
    assert_int_equal(b.join.generation, 2);
    assert_string_equal(b.leader, b.member_id);
    assert_int_equal(kf_group_heartbeat(g, "g", a.member_id, 1, 11002), KF_ERR_UNKNOWN_MEMBER_ID);
    /* B syncs, then goes silent past its 5 s session: the group empties. */
    kf_sync_assignment asb[1] = {{b.member_id, (const unsigned char *)"y", 1}};
    kf_group_sync(g, "g", b.member_id, 2, asb, 1, &b2, 11100);
    assert_string_equal(b2.assignment, "y");
    kf_group_tick(g, 14000);
    assert_int_equal(kf_group_heartbeat(g, "g", b.member_id, 2, 14000), 0);
    kf_group_tick(g, 18999); /* 4999 ms after the heartbeat: still in */
    assert_int_equal(kf_group_heartbeat(g, "g", b.member_id, 2, 18999), 0);
    kf_group_tick(g, 24000); /* 5001 ms of silence: out */
    assert_int_equal(kf_group_heartbeat(g, "g", b.member_id, 2, 24001), KF_ERR_UNKNOWN_MEMBER_ID);

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
    kf_group_sync(g, "g", a.member_id, 7, NULL, 0, &s, 30);
    assert_int_equal(s.sync_err, KF_ERR_ILLEGAL_GENERATION);
    kf_group_sync(g, "g", "zz", 1, NULL, 0, &s, 30);
    assert_int_equal(s.sync_err, KF_ERR_UNKNOWN_MEMBER_ID);
    kf_sync_assignment as[1] = {{a.member_id, (const unsigned char *)"z", 1}};
    kf_group_sync(g, "g", a.member_id, 1, as, 1, &s, 40);
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
    kf_group_sync(g, "g", a.member_id, 1, as, 1, &s, 0);
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
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
