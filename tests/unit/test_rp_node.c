/* SPDX-License-Identifier: MIT */
/*
 * test_rp_node.c — the replica state machine (repl/rp_node.c) case by case,
 * with hand-made messages: configuration and recovered-state checks; the
 * term is never below the log's last epoch after a restart; a vote and a
 * candidacy wait for (term, vote) to be durable; pre-vote does not move the
 * term and a follower in contact with its leader refuses it; the leader's
 * HW counts fsync'd offsets only and passes older-term entries only with
 * one of its own (Raft's Figure 8); divergence is cut by epoch over several
 * rounds to the right batch boundaries; stale fetch answers are ignored;
 * check-quorum makes a cut-off leader step down within its election
 * timeout; allocation failures leave no leak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "rp.h"

#define MAXOUT 64

typedef struct outs {
    rp_out o[MAXOUT];
    int n;
} outs;

static void drain(rp_node *n, outs *q)
{
    q->n = 0;
    rp_out o;
    while (rp_node_next(n, &o) == 0) {
        assert_true(q->n < MAXOUT);
        q->o[q->n++] = o;
    }
}

static const rp_out *find(const outs *q, enum rp_out_kind k, int type)
{
    for (int i = 0; i < q->n; i++)
        if (q->o[i].kind == k && (k != RP_OUT_SEND || q->o[i].msg.type == type))
            return &q->o[i];
    return NULL;
}

static int count_sends(const outs *q, int type)
{
    int c = 0;
    for (int i = 0; i < q->n; i++)
        c += q->o[i].kind == RP_OUT_SEND && q->o[i].msg.type == type;
    return c;
}

static rp_config cfg3(int32_t self)
{
    rp_config c = {.topic_id = 1,
                   .partition = 0,
                   .self = self,
                   .voters = {0, 1, 2},
                   .nvoters = 3,
                   .election_ticks = 10,
                   .heartbeat_ticks = 2,
                   .max_fetch_bytes = 1000,
                   .seed = 42};
    return c;
}

static rp_node *make(int32_t self, int32_t term, int32_t vote, int64_t end,
                     const rp_epoch_start *ep, size_t nep)
{
    rp_config c = cfg3(self);
    rp_recovered r = {term, vote, end, ep, nep};
    rp_node *n;
    assert_int_equal(rp_node_create(&n, &c, &r), 0);
    return n;
}

static rp_msg msg(int type, int32_t from, int32_t to, int32_t term)
{
    rp_msg m;
    memset(&m, 0, sizeof(m));
    m.type = (uint8_t)type;
    m.topic_id = 1;
    m.from = from;
    m.to = to;
    m.term = term;
    m.diverging_epoch = -1;
    m.diverging_end = -1;
    m.leader = -1;
    return m;
}

/* Tick until the node is a pre-candidate; grant its pre-vote and its vote
 * (persisting as asked): it becomes leader. */
static void elect(rp_node *n, outs *q)
{
    for (int t = 0; t < 40 && rp_node_role(n) != RP_PRECANDIDATE; t++) {
        assert_int_equal(rp_node_tick(n), 0);
        drain(n, q);
    }
    assert_int_equal(rp_node_role(n), RP_PRECANDIDATE);
    const rp_out *pv = find(q, RP_OUT_SEND, RP_PREVOTE_REQ);
    assert_non_null(pv);
    rp_msg g = msg(RP_PREVOTE_RESP, pv->msg.to, pv->msg.from, pv->msg.term);
    g.granted = 1;
    assert_int_equal(rp_node_receive(n, &g), 0);
    drain(n, q);
    assert_int_equal(rp_node_role(n), RP_CANDIDATE);
    assert_int_equal(count_sends(q, RP_VOTE_REQ), 0); /* own vote not durable yet */
    const rp_out *p = find(q, RP_OUT_PERSIST, 0);
    assert_non_null(p);
    assert_int_equal(rp_node_persisted(n, p->term, p->vote), 0);
    drain(n, q);
    const rp_out *vr = find(q, RP_OUT_SEND, RP_VOTE_REQ);
    assert_non_null(vr);
    g = msg(RP_VOTE_RESP, vr->msg.to, vr->msg.from, vr->msg.term);
    g.granted = 1;
    assert_int_equal(rp_node_receive(n, &g), 0);
    drain(n, q);
    assert_int_equal(rp_node_role(n), RP_LEADER);
}

static void test_config_and_recovery_checks(void **st)
{
    (void)st;
    rp_node *n;
    rp_recovered r = {0, -1, 0, NULL, 0};
    rp_config c = cfg3(1);
    c.self = 5; /* not a voter */
    assert_int_equal(rp_node_create(&n, &c, &r), CN_EINVAL);
    assert_null(n);
    c = cfg3(1);
    c.voters[2] = 1; /* duplicate */
    assert_int_equal(rp_node_create(&n, &c, &r), CN_EINVAL);
    c = cfg3(1);
    c.heartbeat_ticks = 10; /* must be below the election timeout */
    assert_int_equal(rp_node_create(&n, &c, &r), CN_EINVAL);
    c = cfg3(1);
    c.nvoters = RP_MAX_VOTERS + 1;
    assert_int_equal(rp_node_create(&n, &c, &r), CN_EINVAL);
    c = cfg3(1);
    rp_epoch_start bad[2] = {{2, 0}, {1, 5}}; /* epochs must increase */
    r = (rp_recovered){3, -1, 10, bad, 2};
    assert_int_equal(rp_node_create(&n, &c, &r), CN_EINVAL);
    rp_epoch_start past[1] = {{2, 10}}; /* an epoch starting at the log end */
    r = (rp_recovered){3, -1, 10, past, 1};
    assert_int_equal(rp_node_create(&n, &c, &r), CN_EINVAL);

    /* the term file lags the log: term = last epoch, and no vote is known */
    rp_epoch_start ep[2] = {{1, 0}, {4, 6}};
    n = make(1, 2, 0, 10, ep, 2);
    assert_int_equal(rp_node_term(n), 4);
    assert_int_equal(rp_node_last_epoch(n), 4);
    assert_int_equal(rp_node_role(n), RP_FOLLOWER);
    assert_int_equal(rp_node_read_hw(n), -1);
    int32_t e;
    int64_t end;
    rp_node_epoch_end(n, 3, &e, &end);
    assert_true(e == 1 && end == 6);
    rp_node_epoch_end(n, 4, &e, &end);
    assert_true(e == 4 && end == 10);
    rp_node_epoch_end(n, 0, &e, &end);
    assert_true(e == -1 && end == 0);
    rp_node_destroy(n);
    rp_node_destroy(NULL);
}

static void test_vote_waits_for_durable_state(void **st)
{
    (void)st;
    outs q;
    rp_node *n = make(1, 2, -1, 0, NULL, 0);
    rp_msg v = msg(RP_VOTE_REQ, 2, 1, 3);
    v.last_epoch = -1;
    assert_int_equal(rp_node_receive(n, &v), 0);
    drain(n, &q);
    assert_int_equal(rp_node_term(n), 3);
    assert_int_equal(count_sends(&q, RP_VOTE_RESP), 0);
    const rp_out *p = NULL;
    for (int i = 0; i < q.n; i++)
        if (q.o[i].kind == RP_OUT_PERSIST)
            p = &q.o[i]; /* the last one carries the vote */
    assert_non_null(p);
    assert_true(p->term == 3 && p->vote == 2);
    /* durable (3, none) alone does not release the grant */
    assert_int_equal(rp_node_persisted(n, 3, -1), 0);
    drain(n, &q);
    assert_int_equal(count_sends(&q, RP_VOTE_RESP), 0);
    assert_int_equal(rp_node_persisted(n, 3, 2), 0);
    drain(n, &q);
    const rp_out *g = find(&q, RP_OUT_SEND, RP_VOTE_RESP);
    assert_non_null(g);
    assert_true(g->msg.granted == 1 && g->msg.term == 3 && g->msg.to == 2);
    /* another candidate in the same term is refused */
    v = msg(RP_VOTE_REQ, 0, 1, 3);
    v.last_epoch = -1;
    assert_int_equal(rp_node_receive(n, &v), 0);
    drain(n, &q);
    g = find(&q, RP_OUT_SEND, RP_VOTE_RESP);
    assert_non_null(g);
    assert_int_equal(g->msg.granted, 0);
    /* a candidate with a shorter log is refused */
    rp_node_destroy(n);
    rp_epoch_start ep[1] = {{2, 0}};
    n = make(1, 2, -1, 5, ep, 1);
    v = msg(RP_VOTE_REQ, 2, 1, 3);
    v.last_epoch = 2;
    v.log_end = 4;
    assert_int_equal(rp_node_receive(n, &v), 0);
    drain(n, &q);
    assert_int_equal(count_sends(&q, RP_VOTE_RESP), 1);
    assert_int_equal(find(&q, RP_OUT_SEND, RP_VOTE_RESP)->msg.granted, 0);
    rp_node_destroy(n);
}

static void test_prevote_keeps_term_and_respects_leader(void **st)
{
    (void)st;
    outs q;
    rp_node *n = make(1, 2, -1, 0, NULL, 0);
    rp_msg pv = msg(RP_PREVOTE_REQ, 2, 1, 3);
    pv.last_epoch = -1;
    assert_int_equal(rp_node_receive(n, &pv), 0);
    drain(n, &q);
    assert_int_equal(rp_node_term(n), 2); /* unchanged */
    assert_int_equal(find(&q, RP_OUT_SEND, RP_PREVOTE_RESP)->msg.granted, 1);
    assert_null(find(&q, RP_OUT_PERSIST, 0));
    /* hearing from a leader: pre-votes and votes for a higher term are ignored */
    rp_msg be = msg(RP_BEGIN_EPOCH, 0, 1, 2);
    assert_int_equal(rp_node_receive(n, &be), 0);
    drain(n, &q);
    assert_int_equal(rp_node_leader(n), 0);
    assert_non_null(find(&q, RP_OUT_SEND, RP_FETCH_REQ));
    assert_int_equal(rp_node_receive(n, &pv), 0);
    drain(n, &q);
    assert_int_equal(find(&q, RP_OUT_SEND, RP_PREVOTE_RESP)->msg.granted, 0);
    rp_msg v = msg(RP_VOTE_REQ, 2, 1, 3);
    v.last_epoch = -1;
    assert_int_equal(rp_node_receive(n, &v), 0);
    drain(n, &q);
    assert_int_equal(rp_node_term(n), 2);
    assert_int_equal(q.n, 0);
    rp_node_destroy(n);
}

static void test_figure8_own_term_rule(void **st)
{
    (void)st;
    outs q;
    /* entries of epochs 1 and 2 that were never committed */
    rp_epoch_start ep[2] = {{1, 0}, {2, 4}};
    rp_node *n = make(0, 2, -1, 8, ep, 2);
    elect(n, &q);
    int32_t term = rp_node_term(n);
    assert_int_equal(term, 3);
    const rp_out *a = find(&q, RP_OUT_APPEND, 0);
    assert_non_null(a); /* the marker */
    assert_true(a->entry.base == 8 && a->entry.last == 8 && a->entry.epoch == 3 && !a->data);
    assert_int_equal(count_sends(&q, RP_BEGIN_EPOCH), 2);
    /* a follower has the old entries, fsync'd; the leader's are durable too */
    assert_int_equal(rp_node_durable(n, 8), 0);
    drain(n, &q);
    rp_msg f = msg(RP_FETCH_REQ, 1, 0, term);
    f.seq = 1;
    f.fetch_offset = 8;
    f.last_fetched_epoch = 2;
    f.synced_offset = 8;
    f.max_bytes = 100;
    assert_int_equal(rp_node_receive(n, &f), 0);
    drain(n, &q);
    assert_int_equal(rp_node_hw(n), 0); /* majority has 8, but 7 is of epoch 2 */
    const rp_out *r = find(&q, RP_OUT_SEND, RP_FETCH_RESP);
    assert_non_null(r);
    assert_true(r->read_max == 100 && r->read_end == 9 && r->msg.fetch_offset == 8);
    assert_int_equal(r->msg.last_fetched_epoch, 2);
    /* the marker is fsync'd by the leader only: still not a majority */
    assert_int_equal(rp_node_durable(n, 9), 0);
    drain(n, &q);
    assert_int_equal(rp_node_hw(n), 0);
    assert_int_equal(rp_node_read_hw(n), -1);
    /* a follower reports the marker fsync'd: HW 9, reads may start */
    f.seq = 2;
    f.fetch_offset = 9;
    f.last_fetched_epoch = 3;
    f.synced_offset = 9;
    assert_int_equal(rp_node_receive(n, &f), 0);
    drain(n, &q);
    assert_int_equal(rp_node_hw(n), 9);
    assert_int_equal(rp_node_read_hw(n), 9);
    const rp_out *h = find(&q, RP_OUT_HW, 0);
    assert_true(h && h->hw == 9);
    /* a proposal: offsets assigned at the end, acknowledged by the HW later */
    rp_entry as;
    assert_int_equal(rp_node_propose(n, 3, "abc", 3, &as), 0);
    assert_true(as.base == 9 && as.last == 11 && as.epoch == 3);
    drain(n, &q);
    a = find(&q, RP_OUT_APPEND, 0);
    assert_true(a && a->data && a->len == 3 && a->entry.base == 9);
    assert_int_equal(rp_node_propose(n, 0, "", 0, &as), CN_EINVAL);
    /* received but unsynced bytes on the follower do not count */
    f.seq = 3;
    f.fetch_offset = 12;
    f.synced_offset = 9;
    assert_int_equal(rp_node_durable(n, 12), 0);
    assert_int_equal(rp_node_receive(n, &f), 0);
    drain(n, &q);
    assert_int_equal(rp_node_hw(n), 9);
    f.seq = 4;
    f.synced_offset = 12;
    assert_int_equal(rp_node_receive(n, &f), 0);
    drain(n, &q);
    assert_int_equal(rp_node_hw(n), 12);
    rp_node_destroy(n);
}

/* Long poll: a caught-up follower's fetch is parked, not answered empty;
 * the leader's next durable batch answers it; the follower's re-send of the
 * same request with a larger synced offset completes the HW without a
 * second answer, and the new HW answers the follower's next fetch at once;
 * an idle parked fetch is answered after heartbeat_ticks; a follower
 * re-sends its parked request when its own fdatasync completes. */
static void test_fetch_long_poll(void **st)
{
    (void)st;
    outs q;
    rp_node *n = make(0, 0, -1, 0, NULL, 0);
    elect(n, &q);
    int32_t term = rp_node_term(n);
    assert_int_equal(rp_node_durable(n, 1), 0); /* the marker, at 0 */
    drain(n, &q);
    rp_msg f = msg(RP_FETCH_REQ, 1, 0, term);
    f.seq = 1;
    f.fetch_offset = 1;
    f.last_fetched_epoch = term;
    f.synced_offset = 1;
    f.max_bytes = 100;
    assert_int_equal(rp_node_receive(n, &f), 0);
    drain(n, &q);
    assert_int_equal(rp_node_hw(n), 1);
    /* told HW 1 in this answer: nothing else to wait for */
    assert_int_equal(count_sends(&q, RP_FETCH_RESP), 1);
    f.seq = 2;
    assert_int_equal(rp_node_receive(n, &f), 0);
    drain(n, &q);
    assert_int_equal(count_sends(&q, RP_FETCH_RESP), 0); /* parked */
    rp_entry as;
    assert_int_equal(rp_node_propose(n, 2, "ab", 2, &as), 0);
    drain(n, &q);
    assert_int_equal(count_sends(&q, RP_FETCH_RESP), 0); /* not durable here yet */
    assert_int_equal(rp_node_durable(n, 3), 0);
    drain(n, &q);
    const rp_out *r = find(&q, RP_OUT_SEND, RP_FETCH_RESP);
    assert_non_null(r);
    assert_true(r->msg.seq == 2 && r->read_max == 100 && r->read_end == 3 && r->msg.to == 1);
    /* a re-send of seq 2 (answered already) is not answered again */
    rp_msg re = f; /* a copy of seq 2 (answered already) */
    assert_int_equal(rp_node_receive(n, &re), 0);
    drain(n, &q);
    assert_int_equal(count_sends(&q, RP_FETCH_RESP), 0);
    /* its next fetch (after the records) reports them synced: the HW
     * moves and this fetch is answered at once with it */
    f.seq = 3;
    f.fetch_offset = 3;
    f.synced_offset = 3;
    assert_int_equal(rp_node_receive(n, &f), 0);
    drain(n, &q);
    assert_int_equal(rp_node_hw(n), 3);
    r = find(&q, RP_OUT_SEND, RP_FETCH_RESP);
    assert_true(r && r->msg.seq == 3 && r->msg.high_watermark == 3);
    /* caught up and told: parked, then answered empty after heartbeat_ticks */
    f.seq = 4;
    assert_int_equal(rp_node_receive(n, &f), 0);
    drain(n, &q);
    assert_int_equal(count_sends(&q, RP_FETCH_RESP), 0);
    assert_int_equal(rp_node_tick(n), 0);
    drain(n, &q);
    assert_int_equal(count_sends(&q, RP_FETCH_RESP), 0);
    assert_int_equal(rp_node_tick(n), 0);
    drain(n, &q);
    r = find(&q, RP_OUT_SEND, RP_FETCH_RESP);
    assert_true(r && r->msg.seq == 4 && r->read_max == 0);
    /* a re-send with a larger synced offset while parked moves the HW, and
     * the new HW answers the parked request: once */
    assert_int_equal(rp_node_propose(n, 1, "c", 1, &as), 0);
    assert_int_equal(rp_node_durable(n, 4), 0);
    f.seq = 5;
    f.fetch_offset = 4;
    f.synced_offset = 3;
    assert_int_equal(rp_node_receive(n, &f), 0);
    drain(n, &q);
    assert_int_equal(count_sends(&q, RP_FETCH_RESP), 0); /* parked: nothing past 4 */
    f.synced_offset = 4;
    assert_int_equal(rp_node_receive(n, &f), 0);
    drain(n, &q);
    assert_int_equal(rp_node_hw(n), 4);
    assert_int_equal(count_sends(&q, RP_FETCH_RESP), 1);
    assert_int_equal(rp_node_receive(n, &f), 0);
    drain(n, &q);
    assert_int_equal(count_sends(&q, RP_FETCH_RESP), 0);
    rp_node_destroy(n);

    /* The follower's side: its fdatasync completing re-sends its
     * outstanding request, same seq, larger synced offset. */
    rp_node *fo = make(1, 0, -1, 0, NULL, 0);
    rp_msg be = msg(RP_BEGIN_EPOCH, 0, 1, 1);
    assert_int_equal(rp_node_receive(fo, &be), 0);
    assert_int_equal(rp_node_tick(fo), 0);
    drain(fo, &q);
    const rp_out *fr = find(&q, RP_OUT_SEND, RP_FETCH_REQ);
    assert_non_null(fr);
    rp_msg resp = msg(RP_FETCH_RESP, 0, 1, 1);
    resp.seq = fr->msg.seq;
    resp.fetch_offset = 0;
    resp.last_fetched_epoch = -1;
    resp.high_watermark = 0;
    resp.log_end = 1;
    static unsigned char batch[61];
    /* one v2 batch header: base 0, length 49, epoch 1, magic 2, delta 0 */
    memset(batch, 0, sizeof(batch));
    batch[11] = 49;
    batch[15] = 1;
    batch[16] = 2;
    resp.records = batch;
    resp.records_len = sizeof(batch);
    assert_int_equal(rp_node_receive(fo, &resp), 0);
    drain(fo, &q);
    fr = find(&q, RP_OUT_SEND, RP_FETCH_REQ);
    assert_non_null(fr); /* the next one at once, reporting nothing synced yet */
    uint32_t seq = fr->msg.seq;
    assert_true(fr->msg.fetch_offset == 1 && fr->msg.synced_offset == 0);
    assert_int_equal(rp_node_durable(fo, 1), 0);
    drain(fo, &q);
    fr = find(&q, RP_OUT_SEND, RP_FETCH_REQ);
    assert_non_null(fr);
    assert_true(fr->msg.seq == seq && fr->msg.fetch_offset == 1 && fr->msg.synced_offset == 1);
    rp_node_destroy(fo);
}

/* Follower with epochs 1@0, 2@5, 4@8 (end 12); the leader of term 5 has
 * 1@0, 3@6 (end 15).  Round 1: the leader lacks epoch 4, answers (3, 15);
 * the follower lacks 3 and cuts to the start of its first epoch after 3,
 * 8.  Round 2: asked about epoch 2 the leader answers (1, 6); the follower
 * has epoch 1 ending at 5 and cuts to min(6, 5) = 5.  Round 3: records. */
static void test_divergence_cut_by_epoch(void **st)
{
    (void)st;
    outs q;
    rp_epoch_start ep[3] = {{1, 0}, {2, 5}, {4, 8}};
    rp_node *n = make(1, 4, -1, 12, ep, 3);
    rp_msg be = msg(RP_BEGIN_EPOCH, 0, 1, 5);
    assert_int_equal(rp_node_receive(n, &be), 0);
    drain(n, &q);
    const rp_out *fr = find(&q, RP_OUT_SEND, RP_FETCH_REQ);
    assert_non_null(fr);
    assert_true(fr->msg.fetch_offset == 12 && fr->msg.last_fetched_epoch == 4);
    assert_int_equal(fr->msg.synced_offset, 12);
    rp_msg req = fr->msg;

    rp_msg d = msg(RP_FETCH_RESP, 0, 1, 5);
    d.seq = req.seq;
    d.leader = 0;
    d.fetch_offset = 12;
    d.last_fetched_epoch = 4;
    d.log_end = 15;
    d.diverging_epoch = 3;
    d.diverging_end = 15;
    /* a stale copy that does not echo our state is ignored */
    rp_msg stale = d;
    stale.last_fetched_epoch = 2;
    assert_int_equal(rp_node_receive(n, &stale), 0);
    drain(n, &q);
    assert_null(find(&q, RP_OUT_TRUNCATE, 0));
    assert_int_equal(rp_node_receive(n, &d), 0);
    drain(n, &q);
    const rp_out *t = find(&q, RP_OUT_TRUNCATE, 0);
    assert_true(t && t->offset == 8);
    fr = find(&q, RP_OUT_SEND, RP_FETCH_REQ);
    assert_true(fr && fr->msg.fetch_offset == 8 && fr->msg.last_fetched_epoch == 2);
    assert_int_equal(fr->msg.synced_offset, 8);
    /* the same answer again (duplicate) changes nothing */
    assert_int_equal(rp_node_receive(n, &d), 0);
    drain(n, &q);
    assert_int_equal(q.n, 0);

    d.seq = fr->msg.seq;
    d.fetch_offset = 8;
    d.last_fetched_epoch = 2;
    d.diverging_epoch = 1;
    d.diverging_end = 6;
    assert_int_equal(rp_node_receive(n, &d), 0);
    drain(n, &q);
    t = find(&q, RP_OUT_TRUNCATE, 0);
    assert_true(t && t->offset == 5);
    fr = find(&q, RP_OUT_SEND, RP_FETCH_REQ);
    assert_true(fr && fr->msg.fetch_offset == 5 && fr->msg.last_fetched_epoch == 1);
    assert_int_equal(rp_node_log_end(n), 5);

    /* records: a batch 5..5 of epoch 1 and 6..9 of epoch 3; HW 7 */
    unsigned char rec[2 * RP_BATCH_HDR_BYTES];
    memset(rec, 0, sizeof(rec));
    for (int i = 0; i < 2; i++) {
        unsigned char *b = rec + i * RP_BATCH_HDR_BYTES;
        b[7] = (unsigned char)(i ? 6 : 5);
        b[11] = RP_BATCH_HDR_BYTES - 12;
        b[15] = (unsigned char)(i ? 3 : 1);
        b[16] = 2;
        b[26] = (unsigned char)(i ? 3 : 0);
    }
    rp_msg r = msg(RP_FETCH_RESP, 0, 1, 5);
    r.seq = fr->msg.seq;
    r.leader = 0;
    r.fetch_offset = 5;
    r.last_fetched_epoch = 1;
    r.log_end = 15;
    r.high_watermark = 7;
    r.records = rec;
    r.records_len = sizeof(rec);
    assert_int_equal(rp_node_receive(n, &r), 0);
    drain(n, &q);
    const rp_out *a = find(&q, RP_OUT_APPEND, 0);
    assert_true(a && a->entry.base == 5 && a->entry.last == 9 && a->entry.epoch == 3);
    assert_true(a->data == rec && a->len == sizeof(rec));
    assert_int_equal(rp_node_log_end(n), 10);
    assert_int_equal(rp_node_last_epoch(n), 3);
    assert_int_equal(rp_node_hw(n), 7);
    int32_t e;
    int64_t end;
    rp_node_epoch_end(n, 2, &e, &end);
    assert_true(e == 1 && end == 6);
    /* a divergence below the HW contradicts the log: refused, nothing cut */
    fr = find(&q, RP_OUT_SEND, RP_FETCH_REQ);
    assert_non_null(fr);
    d.seq = fr->msg.seq;
    d.fetch_offset = 10;
    d.last_fetched_epoch = 3;
    d.diverging_epoch = 1;
    d.diverging_end = 3;
    assert_int_equal(rp_node_receive(n, &d), CN_EPROTO);
    drain(n, &q);
    assert_null(find(&q, RP_OUT_TRUNCATE, 0));
    assert_int_equal(rp_node_log_end(n), 10);
    rp_node_destroy(n);
}

static void test_check_quorum_steps_down(void **st)
{
    (void)st;
    outs q;
    rp_node *n = make(0, 0, -1, 0, NULL, 0);
    elect(n, &q);
    int ticks = 0;
    while (rp_node_role(n) == RP_LEADER && ticks < 100) {
        assert_int_equal(rp_node_tick(n), 0);
        drain(n, &q);
        ticks++;
    }
    assert_int_equal(rp_node_role(n), RP_FOLLOWER);
    assert_true(ticks <= 10); /* within election_ticks of the last contact */
    const rp_out *r = find(&q, RP_OUT_ROLE, 0);
    assert_true(r && r->role == RP_FOLLOWER && r->leader == -1);
    assert_int_equal(rp_node_propose(n, 1, "x", 1, &(rp_entry){0, 0, 0}), CN_EPERM);
    rp_node_destroy(n);

    /* with one follower fetching every few ticks it stays leader */
    n = make(0, 0, -1, 0, NULL, 0);
    elect(n, &q);
    for (int t = 0; t < 50; t++) {
        rp_node_tick(n);
        drain(n, &q);
        if (t % 3 == 0) {
            rp_msg f = msg(RP_FETCH_REQ, 2, 0, rp_node_term(n));
            f.fetch_offset = 0;
            f.last_fetched_epoch = -1;
            f.max_bytes = 10;
            assert_int_equal(rp_node_receive(n, &f), 0);
            drain(n, &q);
        }
    }
    assert_int_equal(rp_node_role(n), RP_LEADER);
    /* a fetch from an older term is fenced */
    rp_msg f = msg(RP_FETCH_REQ, 1, 0, rp_node_term(n) - 1);
    f.max_bytes = 10;
    f.last_fetched_epoch = -1;
    assert_int_equal(rp_node_receive(n, &f), 0);
    drain(n, &q);
    const rp_out *e = find(&q, RP_OUT_SEND, RP_FETCH_RESP);
    assert_true(e && e->msg.error == RP_ERR_FENCED_EPOCH && e->msg.leader == 0);
    /* messages for another group or from a stranger are refused */
    f.topic_id = 2;
    assert_int_equal(rp_node_receive(n, &f), CN_EINVAL);
    f.topic_id = 1;
    f.from = 9;
    assert_int_equal(rp_node_receive(n, &f), CN_EINVAL);
    rp_node_destroy(n);
}

static void test_alloc_failures(void **st)
{
    (void)st;
    rp_epoch_start ep[2] = {{1, 0}, {2, 4}};
    for (long k = 1; k < 20; k++) {
        for (int forever = 0; forever < 2; forever++) {
            cn_test_alloc_fail_at(k, forever);
            rp_config c = cfg3(0);
            rp_recovered r = {2, -1, 8, ep, 2};
            rp_node *n = NULL;
            int rc = rp_node_create(&n, &c, &r);
            if (rc == 0) {
                rp_node_tick(n);
                rp_node_destroy(n);
            } else {
                assert_int_equal(rc, CN_ENOMEM);
                assert_null(n);
            }
            assert_int_equal(cn_test_alloc_live(), 0);
            cn_test_alloc_reset();
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_and_recovery_checks),
        cmocka_unit_test(test_vote_waits_for_durable_state),
        cmocka_unit_test(test_prevote_keeps_term_and_respects_leader),
        cmocka_unit_test(test_figure8_own_term_rule),
        cmocka_unit_test(test_divergence_cut_by_epoch),
        cmocka_unit_test(test_fetch_long_poll),
        cmocka_unit_test(test_check_quorum_steps_down),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
