/* SPDX-License-Identifier: MIT */
/*
 * rp_node.c — the consensus state machine of one partition replica: Raft
 * over the partition log (term = Kafka leader epoch) with pre-vote,
 * check-quorum and leader stickiness, KRaft-style pull replication with
 * divergence detection by epoch, and a high watermark that counts only
 * fdatasync'd bytes on a majority and only entries of the leader's own term.
 * See docs/replication.md for the protocol and its invariants.
 *
 * Guarantees (given storage that honours the output contract in rp.h):
 * a vote is sent only once (term, vote) is durable, and a candidate asks
 * for votes only once its own vote is durable; a leader never truncates its
 * log; a follower appends only batches that extend its log contiguously and
 * cuts only at epoch boundaries, never below its HW; the HW never moves
 * back while the node lives.
 * Pure: no I/O, no clock, no globals; randomness comes from cfg->seed.  One
 * thread drives a node at a time.  The node owns its epoch history and its
 * output queue; outputs borrow from it (and from the last message given)
 * until the next call.
 */
#include <string.h>

#include "cn_alloc.h"
#include "cn_err.h"
#include "rp.h"

#define RP_QUEUE_INIT 64

/* Leader: the last fetch of one follower.  A fetch that would get nothing
 * new (no durable entry past its offset, no HW it has not been told) is
 * parked until there is something, or for heartbeat_ticks; a follower
 * re-sends its outstanding fetch (same seq, offset and epoch) to report a
 * new synced offset, and such a re-send is not answered again. */
typedef struct rp_fetch_slot {
    uint32_t seq;
    int64_t offset;
    int32_t epoch, max_bytes;
    int parked, answered;
    uint64_t since;  /* tick it arrived */
    int64_t hw_told; /* the HW in our last answer to it */
} rp_fetch_slot;

struct rp_node {
    rp_config cfg;
    int majority;
    int self_idx;
    int failed; /* sticky CN_ENOMEM */

    /* Raft state; term/voted_for are persisted through RP_OUT_PERSIST. */
    enum rp_role role;
    int32_t term, voted_for, leader;
    int32_t p_term, p_vote; /* last (term, vote) storage reported durable */
    int32_t grant_to;       /* vote to send once durable, -1 none */
    int vote_wait;          /* candidate: waiting for (term, self) to be durable */
    uint8_t granted[RP_MAX_VOTERS];

    /* the log as the core knows it */
    int64_t log_end, durable_end, hw;
    rp_epoch_start *epochs;
    size_t nepochs, epochs_cap;

    /* logical time */
    uint64_t now;
    uint32_t elapsed, timeout;
    uint64_t last_contact; /* tick we last heard the leader of our term */
    int have_contact;
    uint64_t rng;

    /* follower fetching */
    uint32_t fetch_seq;
    int fetch_inflight;
    uint32_t fetch_age;

    /* leader */
    int64_t synced[RP_MAX_VOTERS];
    uint64_t heard[RP_MAX_VOTERS];
    uint32_t hb_elapsed;
    int64_t term_start; /* offset of this leader's marker */
    rp_fetch_slot fs[RP_MAX_VOTERS];

    /* last role reported */
    enum rp_role r_role;
    int32_t r_term, r_leader;

    rp_out *q;
    size_t qhead, qn, qcap;
};

/* ---- small helpers ------------------------------------------------------ */

static uint64_t rp_rand(rp_node *n)
{
    /* xorshift64*: a deterministic per-node stream from cfg.seed. */
    n->rng ^= n->rng >> 12;
    n->rng ^= n->rng << 25;
    n->rng ^= n->rng >> 27;
    return n->rng * 2685821657736338717ULL;
}

static void rp_new_timeout(rp_node *n)
{
    n->elapsed = 0;
    n->timeout = n->cfg.election_ticks + (uint32_t)(rp_rand(n) % n->cfg.election_ticks);
}

static int rp_voter_idx(const rp_node *n, int32_t id)
{
    for (int i = 0; i < n->cfg.nvoters; i++)
        if (n->cfg.voters[i] == id)
            return i;
    return -1;
}

static int32_t rp_last_epoch(const rp_node *n)
{
    return n->nepochs ? n->epochs[n->nepochs - 1].epoch : -1;
}

/* Is a candidate's log (last epoch, end) at least as up to date as ours? */
static int rp_up_to_date(const rp_node *n, int32_t last_epoch, int64_t log_end)
{
    int32_t mine = rp_last_epoch(n);
    return last_epoch > mine || (last_epoch == mine && log_end >= n->log_end);
}

/* Heard from a live leader recently: ignore votes that would depose it. */
static int rp_in_lease(const rp_node *n)
{
    if (n->role == RP_LEADER)
        return 1;
    return n->role == RP_FOLLOWER && n->leader >= 0 && n->have_contact &&
           n->now - n->last_contact < n->cfg.election_ticks;
}

static int rp_epochs_reserve(rp_node *n, size_t more)
{
    if (n->nepochs + more <= n->epochs_cap)
        return 0;
    size_t cap = n->epochs_cap ? n->epochs_cap : 8;
    while (cap < n->nepochs + more)
        cap *= 2;
    rp_epoch_start *e = cn_realloc(n->epochs, cap * sizeof(*e));
    if (!e)
        return CN_ENOMEM;
    n->epochs = e;
    n->epochs_cap = cap;
    return 0;
}

/* Record that offset `base` starts an entry of `epoch` (room reserved). */
static void rp_epoch_note(rp_node *n, int32_t epoch, int64_t base)
{
    if (epoch > rp_last_epoch(n))
        n->epochs[n->nepochs++] = (rp_epoch_start){epoch, base};
}

/* ---- output queue ---------------------------------------------------------- */

static rp_out *rp_push(rp_node *n, enum rp_out_kind kind)
{
    if (n->failed)
        return NULL;
    if (n->qn == n->qcap) {
        rp_out *q = cn_realloc(n->q, n->qcap * 2 * sizeof(*q));
        if (!q) {
            n->failed = CN_ENOMEM;
            return NULL;
        }
        n->q = q;
        n->qcap *= 2;
    }
    rp_out *o = &n->q[n->qn++];
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    return o;
}

/* Start of every input call: forget drained outputs. */
static int rp_begin(rp_node *n)
{
    if (n->failed)
        return n->failed;
    if (n->qhead == n->qn)
        n->qhead = n->qn = 0;
    return 0;
}

static rp_msg *rp_send(rp_node *n, uint8_t type, int32_t to)
{
    rp_out *o = rp_push(n, RP_OUT_SEND);
    if (!o)
        return NULL;
    rp_msg *m = &o->msg;
    m->type = type;
    m->topic_id = n->cfg.topic_id;
    m->partition = n->cfg.partition;
    m->from = n->cfg.self;
    m->to = to;
    m->term = n->term;
    m->diverging_epoch = -1;
    m->diverging_end = -1;
    m->leader = -1;
    return m;
}

static void rp_persist(rp_node *n)
{
    rp_out *o = rp_push(n, RP_OUT_PERSIST);
    if (o) {
        o->term = n->term;
        o->vote = n->voted_for;
    }
}

static void rp_note_role(rp_node *n)
{
    if (n->role == n->r_role && n->term == n->r_term && n->leader == n->r_leader)
        return;
    n->r_role = n->role;
    n->r_term = n->term;
    n->r_leader = n->leader;
    rp_out *o = rp_push(n, RP_OUT_ROLE);
    if (o) {
        o->role = n->role;
        o->term = n->term;
        o->leader = n->leader;
    }
}

static void rp_release_parked(rp_node *n, int only_expired);

static void rp_set_hw(rp_node *n, int64_t hw)
{
    if (hw <= n->hw)
        return;
    n->hw = hw;
    rp_out *o = rp_push(n, RP_OUT_HW);
    if (o)
        o->hw = hw;
    if (n->role == RP_LEADER)
        rp_release_parked(n, 0); /* followers learn the HW now, not at their next fetch */
}

/* ---- role changes ------------------------------------------------------------ */

static void rp_become_follower(rp_node *n, int32_t term, int32_t leader)
{
    if (term > n->term) {
        n->term = term;
        n->voted_for = -1;
        n->grant_to = -1;
        rp_persist(n);
    }
    if (n->role != RP_FOLLOWER || leader >= 0)
        rp_new_timeout(n);
    n->role = RP_FOLLOWER;
    n->vote_wait = 0;
    n->leader = leader;
    n->fetch_inflight = 0;
    memset(n->fs, 0, sizeof(n->fs)); /* parked fetches die unanswered: they time out */
    if (leader >= 0) {
        n->last_contact = n->now;
        n->have_contact = 1;
    }
    rp_note_role(n);
}

static int rp_tally(const rp_node *n)
{
    int c = 0;
    for (int i = 0; i < n->cfg.nvoters; i++)
        c += n->granted[i];
    return c;
}

static void rp_send_begin_epoch(rp_node *n, int i)
{
    rp_send(n, RP_BEGIN_EPOCH, n->cfg.voters[i]);
}

static void rp_update_hw(rp_node *n);

static void rp_become_leader(rp_node *n)
{
    if (rp_epochs_reserve(n, 1) != 0) {
        n->failed = CN_ENOMEM;
        return;
    }
    n->role = RP_LEADER;
    n->leader = n->cfg.self;
    n->vote_wait = 0;
    n->hb_elapsed = 0;
    rp_note_role(n);
    /* The leader-change marker: the first entry of this term, so that the
     * HW can pass older entries only by committing one of its own. */
    n->term_start = n->log_end;
    rp_epoch_note(n, n->term, n->log_end);
    rp_out *o = rp_push(n, RP_OUT_APPEND);
    if (o)
        o->entry = (rp_entry){n->log_end, n->log_end, n->term};
    n->log_end++;
    memset(n->fs, 0, sizeof(n->fs));
    for (int i = 0; i < n->cfg.nvoters; i++) {
        n->synced[i] = 0;
        n->fs[i].hw_told = -1;
        n->heard[i] = n->now;
        if (i != n->self_idx)
            rp_send_begin_epoch(n, i);
    }
    rp_update_hw(n);
}

static void rp_send_votes(rp_node *n, uint8_t type, int32_t term)
{
    for (int i = 0; i < n->cfg.nvoters; i++) {
        if (i == n->self_idx)
            continue;
        rp_msg *m = rp_send(n, type, n->cfg.voters[i]);
        if (!m)
            return;
        m->term = term;
        m->last_epoch = rp_last_epoch(n);
        m->log_end = n->log_end;
    }
}

static void rp_start_candidate(rp_node *n)
{
    n->term++;
    n->voted_for = n->cfg.self;
    n->grant_to = -1;
    n->role = RP_CANDIDATE;
    n->leader = -1;
    n->vote_wait = 1;
    memset(n->granted, 0, sizeof(n->granted));
    rp_new_timeout(n);
    rp_persist(n);
    rp_note_role(n);
}

/* Our own vote is durable: ask for the others'. */
static void rp_candidate_go(rp_node *n)
{
    n->vote_wait = 0;
    n->hb_elapsed = 0;
    n->granted[n->self_idx] = 1;
    rp_send_votes(n, RP_VOTE_REQ, n->term);
    if (rp_tally(n) >= n->majority)
        rp_become_leader(n);
}

static void rp_start_prevote(rp_node *n)
{
    n->role = RP_PRECANDIDATE;
    n->leader = -1;
    n->vote_wait = 0;
    memset(n->granted, 0, sizeof(n->granted));
    n->granted[n->self_idx] = 1;
    rp_new_timeout(n);
    rp_note_role(n);
    rp_send_votes(n, RP_PREVOTE_REQ, n->term + 1);
    if (rp_tally(n) >= n->majority)
        rp_start_candidate(n);
}

/* ---- leader: high watermark and check-quorum -------------------------- */

static void rp_update_hw(rp_node *n)
{
    int64_t v[RP_MAX_VOTERS];
    int k = n->cfg.nvoters;
    for (int i = 0; i < k; i++)
        v[i] = i == n->self_idx ? n->durable_end : n->synced[i];
    /* insertion sort, descending: at most RP_MAX_VOTERS values */
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && v[j] > v[j - 1]; j--) {
            int64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    int64_t cand = v[n->majority - 1];
    /* Figure 8: only an entry of our own term is committed by counting. */
    if (cand > n->term_start)
        rp_set_hw(n, cand);
}

static void rp_leader_tick(rp_node *n)
{
    int heard = 0;
    for (int i = 0; i < n->cfg.nvoters; i++)
        heard += i == n->self_idx || n->now - n->heard[i] < n->cfg.election_ticks;
    if (heard < n->majority) {
        /* check-quorum: cut off from the majority, stop acting as leader */
        rp_become_follower(n, n->term, -1);
        return;
    }
    rp_release_parked(n, 1);
    if (++n->hb_elapsed < n->cfg.heartbeat_ticks)
        return;
    n->hb_elapsed = 0;
    for (int i = 0; i < n->cfg.nvoters; i++)
        if (i != n->self_idx && n->now - n->heard[i] >= n->cfg.heartbeat_ticks)
            rp_send_begin_epoch(n, i);
}

/* ---- follower: fetching ---------------------------------------------------- */

/* A new fetch, or (resend) the outstanding one again with our synced
 * offset as it is now: the leader may be holding it parked. */
static void rp_fetch_req(rp_node *n, int resend)
{
    rp_msg *m = rp_send(n, RP_FETCH_REQ, n->leader);
    if (!m)
        return;
    if (!resend) {
        n->fetch_seq++;
        n->fetch_inflight = 1;
        n->fetch_age = 0;
    }
    m->seq = n->fetch_seq;
    m->fetch_offset = n->log_end;
    m->last_fetched_epoch = rp_last_epoch(n);
    m->synced_offset = n->durable_end < n->log_end ? n->durable_end : n->log_end;
    m->max_bytes = n->cfg.max_fetch_bytes;
}

static void rp_send_fetch(rp_node *n)
{
    rp_fetch_req(n, 0);
}

/* Candidate: ask again, every heartbeat, the voters that have not granted
 * (a lost request or answer should not cost a whole election timeout). */
static void rp_candidate_tick(rp_node *n)
{
    if (n->vote_wait || ++n->hb_elapsed < n->cfg.heartbeat_ticks)
        return;
    n->hb_elapsed = 0;
    for (int i = 0; i < n->cfg.nvoters; i++) {
        if (n->granted[i])
            continue;
        rp_msg *m = rp_send(n, RP_VOTE_REQ, n->cfg.voters[i]);
        if (!m)
            return;
        m->last_epoch = rp_last_epoch(n);
        m->log_end = n->log_end;
    }
}

static void rp_follower_tick(rp_node *n)
{
    if (n->role == RP_FOLLOWER && n->leader >= 0) {
        if (!n->fetch_inflight || ++n->fetch_age >= 2 * n->cfg.heartbeat_ticks)
            rp_send_fetch(n);
    }
    if (n->role == RP_CANDIDATE)
        rp_candidate_tick(n);
    if (++n->elapsed >= n->timeout)
        rp_start_prevote(n);
}

int rp_node_tick(rp_node *n)
{
    int rc = rp_begin(n);
    if (rc)
        return rc;
    n->now++;
    if (n->role == RP_LEADER)
        rp_leader_tick(n);
    else
        rp_follower_tick(n);
    return n->failed;
}

/* ---- truncation ---------------------------------------------------------------- */

static void rp_truncate(rp_node *n, int64_t off)
{
    while (n->nepochs && n->epochs[n->nepochs - 1].start >= off)
        n->nepochs--;
    n->log_end = off;
    if (n->durable_end > off)
        n->durable_end = off;
    rp_out *o = rp_push(n, RP_OUT_TRUNCATE);
    if (o)
        o->offset = off;
}

void rp_node_epoch_end(const rp_node *n, int32_t epoch, int32_t *found, int64_t *end)
{
    size_t i = n->nepochs;
    while (i > 0 && n->epochs[i - 1].epoch > epoch)
        i--;
    if (i == 0) {
        *found = -1;
        *end = 0;
        return;
    }
    *found = n->epochs[i - 1].epoch;
    *end = i < n->nepochs ? n->epochs[i].start : n->log_end;
}

/* ---- message handlers ------------------------------------------------------------ */

static void rp_on_prevote_req(rp_node *n, const rp_msg *m)
{
    int ok = m->term > n->term && !rp_in_lease(n) && rp_up_to_date(n, m->last_epoch, m->log_end);
    rp_msg *r = rp_send(n, RP_PREVOTE_RESP, m->from);
    if (r) {
        r->term = m->term; /* the term asked about; ours is unchanged */
        r->granted = (uint8_t)ok;
    }
}

static void rp_on_prevote_resp(rp_node *n, const rp_msg *m, int idx)
{
    if (n->role != RP_PRECANDIDATE || m->term != n->term + 1 || !m->granted)
        return;
    n->granted[idx] = 1;
    if (rp_tally(n) >= n->majority)
        rp_start_candidate(n);
}

static void rp_send_vote_resp(rp_node *n, int32_t to, int granted)
{
    rp_msg *r = rp_send(n, RP_VOTE_RESP, to);
    if (r)
        r->granted = (uint8_t)granted;
}

static void rp_on_vote_req(rp_node *n, const rp_msg *m)
{
    if (m->term > n->term) {
        if (rp_in_lease(n))
            return; /* a live leader: do not let a disruptor depose it */
        rp_become_follower(n, m->term, -1);
    }
    if (m->term < n->term) {
        rp_send_vote_resp(n, m->from, 0);
        return;
    }
    int ok = n->role == RP_FOLLOWER && (n->voted_for == -1 || n->voted_for == m->from) &&
             rp_up_to_date(n, m->last_epoch, m->log_end);
    if (!ok) {
        rp_send_vote_resp(n, m->from, 0);
        return;
    }
    rp_new_timeout(n);
    if (n->voted_for == m->from && n->p_term == n->term && n->p_vote == m->from) {
        rp_send_vote_resp(n, m->from, 1);
        return;
    }
    if (n->voted_for != m->from) {
        n->voted_for = m->from;
        rp_persist(n);
    }
    n->grant_to = m->from; /* sent by rp_node_persisted once durable */
}

static void rp_on_vote_resp(rp_node *n, const rp_msg *m, int idx)
{
    if (m->term > n->term) {
        rp_become_follower(n, m->term, -1);
        return;
    }
    if (n->role != RP_CANDIDATE || n->vote_wait || m->term != n->term || !m->granted)
        return;
    n->granted[idx] = 1;
    if (rp_tally(n) >= n->majority)
        rp_become_leader(n);
}

static void rp_on_begin_epoch(rp_node *n, const rp_msg *m)
{
    if (m->term < n->term) {
        /* A leader of an older term: tell it ours so that it steps down.
         * Without this a node that reached a higher term as a candidate
         * could never rejoin while the old leader keeps its quorum, since
         * stickiness makes the others ignore its vote requests. */
        rp_send_vote_resp(n, m->from, 0);
        return;
    }
    if (m->term == n->term && n->role == RP_LEADER)
        return;
    if (m->term > n->term || n->role != RP_FOLLOWER || n->leader != m->from) {
        rp_become_follower(n, m->term, m->from);
    } else {
        n->last_contact = n->now;
        n->elapsed = 0;
    }
    if (!n->fetch_inflight)
        rp_send_fetch(n);
}

static void rp_fetch_error(rp_node *n, const rp_msg *m, int16_t err)
{
    rp_msg *r = rp_send(n, RP_FETCH_RESP, m->from);
    if (!r)
        return;
    r->seq = m->seq;
    r->error = err;
    r->leader = n->leader;
    r->fetch_offset = m->fetch_offset;
    r->last_fetched_epoch = m->last_fetched_epoch <= n->term ? m->last_fetched_epoch : -1;
    r->high_watermark = 0;
    r->log_end = 0;
}

/* Answer follower idx's last fetch (f): records from its offset up to our
 * log end (the driver reads them), or, when !ok, where its log diverges. */
static void rp_fetch_answer(rp_node *n, int idx, int ok, int32_t e, int64_t end)
{
    rp_fetch_slot *f = &n->fs[idx];
    f->parked = 0;
    f->answered = 1;
    f->hw_told = n->hw;
    rp_msg *r = rp_send(n, RP_FETCH_RESP, n->cfg.voters[idx]);
    if (!r)
        return;
    r->seq = f->seq;
    r->leader = n->cfg.self;
    r->fetch_offset = f->offset;
    r->last_fetched_epoch = f->epoch;
    r->high_watermark = n->hw;
    r->log_end = n->log_end;
    if (!ok) {
        r->diverging_epoch = e;
        r->diverging_end = end;
        return;
    }
    rp_out *o = &n->q[n->qn - 1];
    o->read_max = f->offset < n->log_end ? f->max_bytes : 0;
    o->read_end = n->log_end;
}

/* Answer parked fetches: all of them (new durable entries, a new HW), or
 * those parked for heartbeat_ticks (the follower's retry comes at twice
 * that). */
static void rp_release_parked(rp_node *n, int only_expired)
{
    if (n->role != RP_LEADER)
        return;
    for (int i = 0; i < n->cfg.nvoters; i++) {
        rp_fetch_slot *f = &n->fs[i];
        if (f->parked && (!only_expired || n->now - f->since >= n->cfg.heartbeat_ticks))
            rp_fetch_answer(n, i, 1, 0, 0);
    }
}

static void rp_on_fetch_req(rp_node *n, const rp_msg *m, int idx)
{
    if (m->term > n->term)
        rp_become_follower(n, m->term, -1);
    if (m->term < n->term) {
        rp_fetch_error(n, m, RP_ERR_FENCED_EPOCH);
        return;
    }
    if (n->role != RP_LEADER) {
        rp_fetch_error(n, m, RP_ERR_NOT_LEADER);
        return;
    }
    n->heard[idx] = n->now;
    int32_t e;
    int64_t end;
    rp_node_epoch_end(n, m->last_fetched_epoch, &e, &end);
    int ok = e == m->last_fetched_epoch && end >= m->fetch_offset;
    if (ok && m->synced_offset > n->synced[idx]) {
        n->synced[idx] = m->synced_offset;
        rp_update_hw(n); /* a new HW answers parked fetches, this one's too */
    }
    rp_fetch_slot *f = &n->fs[idx];
    if (f->seq == m->seq && f->offset == m->fetch_offset && f->epoch == m->last_fetched_epoch &&
        (f->parked || f->answered))
        return; /* a re-send to report the synced offset: answered once */
    *f = (rp_fetch_slot){m->seq, m->fetch_offset, m->last_fetched_epoch, m->max_bytes, 0, 0,
                         n->now, f->hw_told};
    if (ok && m->fetch_offset >= n->durable_end && f->hw_told >= n->hw) {
        f->parked = 1; /* nothing new for it yet */
        return;
    }
    rp_fetch_answer(n, idx, ok, e, end);
}

/* Divergence answer: cut to where our epoch history agrees with the
 * leader's (docs/replication.md, "Replication"). */
static int rp_on_diverging(rp_node *n, const rp_msg *m)
{
    int32_t fe;
    int64_t fend;
    rp_node_epoch_end(n, m->diverging_epoch, &fe, &fend);
    int64_t target = fend;
    if (fe == m->diverging_epoch && m->diverging_end < fend)
        target = m->diverging_end;
    if (target < n->hw)
        return CN_EPROTO; /* a correct leader never disagrees below our HW */
    if (target < n->log_end)
        rp_truncate(n, target);
    return 0;
}

/* Records answer: append them if they extend our log. */
static int rp_on_records(rp_node *n, const rp_msg *m)
{
    const unsigned char *p = m->records;
    size_t left = m->records_len, newep = 0;
    int64_t next = n->log_end;
    int32_t ep = rp_last_epoch(n);
    rp_entry e = {0, 0, 0};
    while (left > 0) {
        int64_t sz = rp_batch_peek(p, left, &e);
        if (sz < 0 || e.base != next || e.epoch < ep || e.epoch > n->term)
            return CN_EPROTO;
        newep += e.epoch > ep;
        next = e.last + 1;
        ep = e.epoch;
        p += sz;
        left -= (size_t)sz;
    }
    if (m->records_len > 0) {
        if (rp_epochs_reserve(n, newep) != 0)
            return CN_ENOMEM;
        for (p = m->records, left = m->records_len; left > 0;) {
            int64_t sz = rp_batch_peek(p, left, &e);
            rp_epoch_note(n, e.epoch, e.base);
            p += sz;
            left -= (size_t)sz;
        }
        rp_out *o = rp_push(n, RP_OUT_APPEND);
        if (o) {
            o->entry = (rp_entry){m->fetch_offset, e.last, e.epoch};
            o->data = m->records;
            o->len = m->records_len;
        }
        n->log_end = next;
    }
    int64_t hw = m->high_watermark < n->log_end ? m->high_watermark : n->log_end;
    rp_set_hw(n, hw);
    return 0;
}

static int rp_on_fetch_resp(rp_node *n, const rp_msg *m)
{
    if (m->term > n->term) {
        rp_become_follower(n, m->term, m->error == RP_ERR_NONE ? m->from : m->leader);
        return 0; /* fetch again in the new term */
    }
    if (m->term < n->term)
        return 0;
    if (n->role != RP_FOLLOWER || n->leader < 0) {
        if (m->error == RP_ERR_NONE && n->role != RP_LEADER)
            rp_become_follower(n, n->term, m->from);
        return 0;
    }
    /* Only the answer to our latest request, and only if our log is still
     * what that request described: the verdict (records or divergence) is a
     * function of (fetch offset, last fetched epoch) and the leader's log in
     * this term, so it stays valid exactly as long as those match.  The seq
     * alone is not enough: a restarted node starts a new sequence while
     * answers to its previous life may still be in flight. */
    if (!n->fetch_inflight || m->seq != n->fetch_seq || m->from != n->leader ||
        m->fetch_offset != n->log_end || m->last_fetched_epoch != rp_last_epoch(n))
        return 0;
    n->fetch_inflight = 0;
    if (m->error != RP_ERR_NONE) {
        /* our leader stepped down: wait for the next one */
        n->leader = m->leader >= 0 && m->leader != m->from ? m->leader : -1;
        rp_note_role(n);
        return 0;
    }
    n->last_contact = n->now;
    n->have_contact = 1;
    n->elapsed = 0;
    int rc = m->diverging_end >= 0 ? rp_on_diverging(n, m) : rp_on_records(n, m);
    if (rc == 0)
        rp_send_fetch(n); /* at once: the leader parks it until it has something */
    return rc;
}

int rp_node_receive(rp_node *n, const rp_msg *m)
{
    int rc = rp_begin(n);
    if (rc)
        return rc;
    int idx = rp_voter_idx(n, m->from);
    if (m->topic_id != n->cfg.topic_id || m->partition != n->cfg.partition ||
        m->to != n->cfg.self || idx < 0 || idx == n->self_idx)
        return CN_EINVAL;
    switch (m->type) {
    case RP_PREVOTE_REQ:
        rp_on_prevote_req(n, m);
        break;
    case RP_PREVOTE_RESP:
        rp_on_prevote_resp(n, m, idx);
        break;
    case RP_VOTE_REQ:
        rp_on_vote_req(n, m);
        break;
    case RP_VOTE_RESP:
        rp_on_vote_resp(n, m, idx);
        break;
    case RP_BEGIN_EPOCH:
        rp_on_begin_epoch(n, m);
        break;
    case RP_FETCH_REQ:
        rp_on_fetch_req(n, m, idx);
        break;
    case RP_FETCH_RESP:
        rc = rp_on_fetch_resp(n, m);
        break;
    default:
        return CN_EINVAL;
    }
    return n->failed ? n->failed : rc;
}

/* ---- client and storage inputs ------------------------------------------------ */

int rp_node_propose(rp_node *n, int32_t record_count, const void *data, size_t len,
                    rp_entry *assigned)
{
    int rc = rp_begin(n);
    if (rc)
        return rc;
    if (n->role != RP_LEADER)
        return CN_EPERM;
    if (record_count < 1)
        return CN_EINVAL;
    rp_out *o = rp_push(n, RP_OUT_APPEND);
    if (!o)
        return n->failed;
    *assigned = (rp_entry){n->log_end, n->log_end + record_count - 1, n->term};
    o->entry = *assigned;
    o->data = data;
    o->len = len;
    n->log_end += record_count;
    return 0;
}

int rp_node_durable(rp_node *n, int64_t offset)
{
    int rc = rp_begin(n);
    if (rc)
        return rc;
    int64_t d = offset < n->log_end ? offset : n->log_end;
    if (d <= n->durable_end)
        return 0;
    n->durable_end = d;
    if (n->role == RP_LEADER) {
        rp_update_hw(n);
        rp_release_parked(n, 0); /* durable entries for the followers that wait */
    } else if (n->role == RP_FOLLOWER && n->leader >= 0)
        rp_fetch_req(n, n->fetch_inflight); /* tell the leader now: it may complete the HW */
    return n->failed;
}

int rp_node_persisted(rp_node *n, int32_t term, int32_t vote)
{
    int rc = rp_begin(n);
    if (rc)
        return rc;
    n->p_term = term;
    n->p_vote = vote;
    if (term != n->term || vote != n->voted_for)
        return 0;
    if (n->grant_to >= 0 && n->grant_to == vote && n->role == RP_FOLLOWER) {
        rp_send_vote_resp(n, vote, 1);
        n->grant_to = -1;
    }
    if (n->role == RP_CANDIDATE && n->vote_wait && vote == n->cfg.self)
        rp_candidate_go(n);
    return n->failed;
}

int rp_node_next(rp_node *n, rp_out *out)
{
    if (n->qhead == n->qn)
        return CN_DONE;
    *out = n->q[n->qhead++];
    return 0;
}

/* ---- lifecycle and getters ------------------------------------------------------- */

static int rp_config_check(const rp_config *c)
{
    if (c->nvoters < 1 || c->nvoters > RP_MAX_VOTERS || c->self < 0 || c->election_ticks < 2 ||
        c->heartbeat_ticks < 1 || c->heartbeat_ticks >= c->election_ticks ||
        c->max_fetch_bytes <= 0)
        return CN_EINVAL;
    int self = 0;
    for (int i = 0; i < c->nvoters; i++) {
        if (c->voters[i] < 0)
            return CN_EINVAL;
        self += c->voters[i] == c->self;
        for (int j = 0; j < i; j++)
            if (c->voters[j] == c->voters[i])
                return CN_EINVAL;
    }
    return self == 1 ? 0 : CN_EINVAL;
}

static int rp_recovered_check(const rp_recovered *r)
{
    if (r->term < 0 || r->voted_for < -1 || r->log_end < 0 || (r->nepochs && !r->epochs))
        return CN_EINVAL;
    for (size_t i = 0; i < r->nepochs; i++) {
        if (r->epochs[i].epoch < 0 || r->epochs[i].start < 0 || r->epochs[i].start >= r->log_end)
            return CN_EINVAL;
        if (i && (r->epochs[i].epoch <= r->epochs[i - 1].epoch ||
                  r->epochs[i].start <= r->epochs[i - 1].start))
            return CN_EINVAL;
    }
    return 0;
}

int rp_node_create(rp_node **out, const rp_config *cfg, const rp_recovered *rec)
{
    *out = NULL;
    if (rp_config_check(cfg) != 0 || rp_recovered_check(rec) != 0)
        return CN_EINVAL;
    rp_node *n = cn_calloc(1, sizeof(*n));
    if (!n)
        return CN_ENOMEM;
    n->cfg = *cfg;
    n->q = cn_calloc(RP_QUEUE_INIT, sizeof(*n->q));
    n->qcap = RP_QUEUE_INIT;
    if (!n->q || rp_epochs_reserve(n, rec->nepochs + 1) != 0) {
        rp_node_destroy(n);
        return CN_ENOMEM;
    }
    n->majority = cfg->nvoters / 2 + 1;
    n->self_idx = rp_voter_idx(n, cfg->self);
    if (rec->nepochs)
        memcpy(n->epochs, rec->epochs, rec->nepochs * sizeof(*n->epochs));
    n->nepochs = rec->nepochs;
    n->log_end = n->durable_end = rec->log_end;
    n->term = n->p_term = rec->term;
    n->voted_for = n->p_vote = rec->voted_for;
    if (rp_last_epoch(n) > n->term) {
        /* The term file lags the log: no vote can have been given in the
         * log's epoch (votes wait for the file), so none is remembered. */
        n->term = rp_last_epoch(n);
        n->voted_for = -1;
    }
    n->grant_to = -1;
    n->leader = n->r_leader = -1;
    n->r_term = n->term;
    n->term_start = -1;
    n->rng = cfg->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)cfg->self + 1;
    n->fetch_seq = (uint32_t)rp_rand(n); /* differs from the previous life's */
    rp_new_timeout(n);
    *out = n;
    return 0;
}

void rp_node_destroy(rp_node *n)
{
    if (!n)
        return;
    cn_free(n->epochs);
    cn_free(n->q);
    cn_free(n);
}

enum rp_role rp_node_role(const rp_node *n)
{
    return n->role;
}
int32_t rp_node_term(const rp_node *n)
{
    return n->term;
}
int32_t rp_node_leader(const rp_node *n)
{
    return n->leader;
}
int64_t rp_node_hw(const rp_node *n)
{
    return n->hw;
}
int64_t rp_node_read_hw(const rp_node *n)
{
    return n->role == RP_LEADER && n->hw > n->term_start ? n->hw : -1;
}
int64_t rp_node_log_end(const rp_node *n)
{
    return n->log_end;
}
int64_t rp_node_durable_end(const rp_node *n)
{
    return n->durable_end;
}
int32_t rp_node_last_epoch(const rp_node *n)
{
    return rp_last_epoch(n);
}

int64_t rp_node_synced(const rp_node *n, int32_t voter)
{
    int i = rp_voter_idx(n, voter);
    if (n->role != RP_LEADER || i < 0)
        return -1;
    return i == n->self_idx ? n->durable_end : n->synced[i];
}

int rp_node_in_sync(const rp_node *n, int32_t voter)
{
    int i = rp_voter_idx(n, voter);
    if (n->role != RP_LEADER || i < 0)
        return 0;
    if (i == n->self_idx)
        return 1;
    return n->now - n->heard[i] < n->cfg.election_ticks && n->synced[i] >= n->hw;
}
