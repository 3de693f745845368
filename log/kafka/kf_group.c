/* SPDX-License-Identifier: MIT */
/*
 * kf_group.c — the consumer-group coordinator state machine (classic
 * protocol), see kf_group.h.
 *
 * States follow Kafka's GroupCoordinator: Empty → PreparingRebalance (a
 * member joined, left, changed its protocols or timed out) →
 * CompletingRebalance (every member rejoined, or the rebalance timeout
 * dropped those that did not; generation +1, the leader receives all
 * members' metadata) → Stable (the leader's SyncGroup delivered the
 * assignments).  Invariants:
 *  - a member is in exactly one group; its join/sync waiter is answered
 *    exactly once (or dropped by kf_group_cancel_waiter / _free);
 *  - generation only grows; a reply carries the generation it belongs to;
 *  - callbacks never re-enter the coordinator (the server only encodes a
 *    reply in them), so state is consistent whenever one runs;
 *  - static membership (group.instance.id, Kafka's KIP-345): one member
 *    per instance id.  A JoinGroup with a known instance id and no member
 *    id replaces the old member: it gets a new member id, the old id is
 *    fenced (FENCED_INSTANCE_ID on every call that names the instance
 *    with another member id) and, if the group is Stable and the
 *    protocols are unchanged, it keeps its assignment with no rebalance;
 *  - a group left with no member forgets its protocol type and is freed
 *    at the next tick (its committed offsets live in the log, not here).
 * Threads: one owner.  Ownership: the coordinator owns copies of every
 * string and byte string it keeps.  FUTURE: groups and members are linked
 * lists (O(n) lookups); venues run a handful of groups of a few members.
 */
#include "kf_group.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "kf_errors.h"

#include <stdio.h>
#include <string.h>

typedef struct kf_member {
    char *id, *instance_id, *client_id, *host;
    int32_t session_ms, rebalance_ms;
    kf_group_protocol *protos; /* owned names and metadata */
    size_t nprotos;
    unsigned char *assign;
    size_t assign_len;
    void *join_waiter, *sync_waiter;
    int64_t last_seen;
    struct kf_member *next;
} kf_member;

typedef struct kf_pending_id {
    char *id;
    int64_t expires;
    struct kf_pending_id *next;
} kf_pending_id;

typedef struct kf_group {
    char *id;
    enum kf_group_state state;
    int32_t generation;
    char *protocol_type, *protocol, *leader;
    kf_member *members;
    size_t nmembers;
    kf_pending_id *pending; /* member ids handed out with MEMBER_ID_REQUIRED */
    int64_t rebalance_deadline, initial_until, sync_deadline;
    struct kf_group *next;
} kf_group;

struct kf_group_coord {
    kf_group *groups;
    kf_group_cbs cbs;
    kf_group_limits lim;
    uint64_t next_member;
};

const char *kf_group_state_name(enum kf_group_state st)
{
    switch (st) {
    case KF_GROUP_EMPTY:
        return "Empty";
    case KF_GROUP_PREPARING_REBALANCE:
        return "PreparingRebalance";
    case KF_GROUP_COMPLETING_REBALANCE:
        return "CompletingRebalance";
    case KF_GROUP_STABLE:
        return "Stable";
    }
    return "Dead";
}

/* ======================================================================
 * memory
 * ====================================================================== */

static void kf_protos_free(kf_group_protocol *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cn_free((void *)p[i].name);
        cn_free((void *)p[i].meta);
    }
    cn_free(p);
}

static void kf_member_free(kf_member *m)
{
    cn_free(m->id);
    cn_free(m->instance_id);
    cn_free(m->client_id);
    cn_free(m->host);
    kf_protos_free(m->protos, m->nprotos);
    cn_free(m->assign);
    cn_free(m);
}

static void kf_group_free_one(kf_group *g)
{
    while (g->members) {
        kf_member *m = g->members;
        g->members = m->next;
        kf_member_free(m);
    }
    while (g->pending) {
        kf_pending_id *p = g->pending;
        g->pending = p->next;
        cn_free(p->id);
        cn_free(p);
    }
    cn_free(g->id);
    cn_free(g->protocol_type);
    cn_free(g->protocol);
    cn_free(g->leader);
    cn_free(g);
}

int kf_group_coord_new(kf_group_coord **out)
{
    kf_group_coord *g = cn_calloc(1, sizeof(*g));
    if (!g)
        return CN_ENOMEM;
    g->lim.min_session_ms = 6000;
    g->lim.max_session_ms = 1800000;
    *out = g;
    return 0;
}

void kf_group_coord_free(kf_group_coord *g)
{
    if (!g)
        return;
    while (g->groups) {
        kf_group *x = g->groups;
        g->groups = x->next;
        kf_group_free_one(x);
    }
    cn_free(g);
}

void kf_group_set_callbacks(kf_group_coord *g, const kf_group_cbs *cbs, const kf_group_limits *lim)
{
    g->cbs = *cbs;
    if (lim)
        g->lim = *lim;
}

static char *kf_dup(const char *s)
{
    return s ? cn_strdup(s) : NULL;
}

static int kf_set_str(char **dst, const char *s)
{
    char *d = kf_dup(s);
    if (s && !d)
        return CN_ENOMEM;
    cn_free(*dst);
    *dst = d;
    return 0;
}

/* ======================================================================
 * lookup
 * ====================================================================== */

static kf_group *kf_group_find(kf_group_coord *c, const char *id)
{
    for (kf_group *g = c->groups; g; g = g->next)
        if (strcmp(g->id, id) == 0)
            return g;
    return NULL;
}

static kf_member *kf_member_find(kf_group *g, const char *id)
{
    for (kf_member *m = g->members; m; m = m->next)
        if (strcmp(m->id, id) == 0)
            return m;
    return NULL;
}

static kf_member *kf_member_find_instance(kf_group *g, const char *instance_id)
{
    if (!instance_id || !*instance_id)
        return NULL;
    for (kf_member *m = g->members; m; m = m->next)
        if (m->instance_id && strcmp(m->instance_id, instance_id) == 0)
            return m;
    return NULL;
}

/* A call naming a static instance with a member id that is not the
 * instance's current one comes from a replaced (fenced) member. */
static int kf_fenced(kf_group *g, const char *instance_id, const char *member_id)
{
    kf_member *s = kf_member_find_instance(g, instance_id);
    return s && (!member_id || strcmp(s->id, member_id) != 0);
}

static int kf_member_supports(const kf_member *m, const char *proto)
{
    for (size_t i = 0; i < m->nprotos; i++)
        if (strcmp(m->protos[i].name, proto) == 0)
            return 1;
    return 0;
}

static const kf_group_protocol *kf_member_proto(const kf_member *m, const char *proto)
{
    for (size_t i = 0; i < m->nprotos; i++)
        if (strcmp(m->protos[i].name, proto) == 0)
            return &m->protos[i];
    return NULL;
}

/* Is there a protocol in req that every other member supports? */
static int kf_join_compatible(const kf_group *g, const kf_join_req *r, const char *self)
{
    if (g->nmembers == 0 || (g->nmembers == 1 && self && kf_member_find((kf_group *)g, self)))
        return 1;
    if (g->protocol_type && strcmp(g->protocol_type, r->protocol_type) != 0)
        return 0;
    for (size_t i = 0; i < r->nprotocols; i++) {
        int all = 1;
        for (const kf_member *m = g->members; m && all; m = m->next)
            if ((!self || strcmp(m->id, self) != 0) && !kf_member_supports(m, r->protocols[i].name))
                all = 0;
        if (all)
            return 1;
    }
    return 0;
}

/* ======================================================================
 * replies
 * ====================================================================== */

static void kf_join_fail(kf_group_coord *c, void *waiter, int16_t err, const char *member_id)
{
    kf_join_result res;
    memset(&res, 0, sizeof(res));
    res.error = err;
    res.generation = -1;
    res.member_id = member_id ? member_id : "";
    res.leader = "";
    c->cbs.join_done(c->cbs.ud, waiter, &res);
}

static void kf_sync_answer(kf_group_coord *c, kf_member *m, int16_t err)
{
    void *w = m->sync_waiter;
    m->sync_waiter = NULL;
    if (w)
        c->cbs.sync_done(c->cbs.ud, w, err, err ? NULL : m->assign, err ? 0 : m->assign_len);
}

/* ======================================================================
 * rebalance
 * ====================================================================== */

static int32_t kf_max_rebalance(const kf_group *g)
{
    int32_t t = 0;
    for (const kf_member *m = g->members; m; m = m->next)
        if (m->rebalance_ms > t)
            t = m->rebalance_ms;
    return t;
}

static void kf_prepare_rebalance(kf_group_coord *c, kf_group *g, int64_t now)
{
    if (g->state == KF_GROUP_COMPLETING_REBALANCE)
        for (kf_member *m = g->members; m; m = m->next)
            kf_sync_answer(c, m, KF_ERR_REBALANCE_IN_PROGRESS);
    int was_empty = g->state == KF_GROUP_EMPTY;
    g->state = KF_GROUP_PREPARING_REBALANCE;
    g->rebalance_deadline = now + kf_max_rebalance(g);
    /* group.initial.rebalance.delay.ms: a brand-new group waits a little
     * for the rest of its members so it does not rebalance per arrival. */
    g->initial_until = was_empty ? now + c->lim.initial_rebalance_ms : 0;
    if (g->initial_until > g->rebalance_deadline)
        g->initial_until = g->rebalance_deadline;
}

/* The last member is gone: the group keeps no protocol (the next member
 * may use another protocol type) and is freed by the next tick. */
static void kf_group_emptied(kf_group *g)
{
    g->state = KF_GROUP_EMPTY;
    kf_set_str(&g->leader, NULL);
    kf_set_str(&g->protocol, NULL);
    kf_set_str(&g->protocol_type, NULL);
}

static void kf_remove_member(kf_group_coord *c, kf_group *g, kf_member *m, int16_t err)
{
    kf_member **pp = &g->members;
    while (*pp != m)
        pp = &(*pp)->next;
    *pp = m->next;
    g->nmembers--;
    if (m->join_waiter)
        kf_join_fail(c, m->join_waiter, err, m->id);
    m->join_waiter = NULL;
    kf_sync_answer(c, m, err);
    kf_member_free(m);
}

static void kf_complete_join(kf_group_coord *c, kf_group *g, int64_t now)
{
    /* Members that did not rejoin in time are out. */
    for (kf_member *m = g->members, *next; m; m = next) {
        next = m->next;
        if (!m->join_waiter)
            kf_remove_member(c, g, m, KF_ERR_UNKNOWN_MEMBER_ID);
    }
    g->generation++;
    if (g->nmembers == 0) {
        kf_group_emptied(g);
        return;
    }
    if (!g->leader || !kf_member_find(g, g->leader))
        kf_set_str(&g->leader, g->members->id);
    /* The protocol: the leader's most preferred one that all support. */
    kf_member *leader = kf_member_find(g, g->leader);
    const char *chosen = NULL;
    for (size_t i = 0; leader && i < leader->nprotos && !chosen; i++) {
        int all = 1;
        for (kf_member *m = g->members; m && all; m = m->next)
            all = kf_member_supports(m, leader->protos[i].name);
        if (all)
            chosen = leader->protos[i].name;
    }
    if (!chosen || kf_set_str(&g->protocol, chosen) || !g->leader) {
        /* Cannot happen after the join-time compatibility check, but a
         * failed strdup must not leave a half-made generation. */
        for (kf_member *m = g->members; m; m = m->next)
            if (m->join_waiter) {
                void *w = m->join_waiter;
                m->join_waiter = NULL;
                kf_join_fail(c, w, KF_ERR_INCONSISTENT_GROUP_PROTOCOL, m->id);
            }
        g->state = KF_GROUP_PREPARING_REBALANCE;
        return;
    }
    g->state = KF_GROUP_COMPLETING_REBALANCE;
    g->sync_deadline = now + kf_max_rebalance(g);
    kf_join_member *list = cn_calloc(g->nmembers, sizeof(*list));
    size_t n = 0;
    for (kf_member *m = g->members; m; m = m->next) {
        cn_free(m->assign);
        m->assign = NULL;
        m->assign_len = 0;
        const kf_group_protocol *p = kf_member_proto(m, g->protocol);
        if (list) {
            list[n].member_id = m->id;
            list[n].group_instance_id = m->instance_id;
            list[n].meta = p ? p->meta : NULL;
            list[n].meta_len = p ? p->meta_len : 0;
            n++;
        }
    }
    for (kf_member *m = g->members; m; m = m->next) {
        void *w = m->join_waiter;
        m->join_waiter = NULL;
        m->last_seen = now;
        kf_join_result res;
        memset(&res, 0, sizeof(res));
        res.generation = g->generation;
        res.protocol_type = g->protocol_type;
        res.protocol_name = g->protocol;
        res.leader = g->leader;
        res.member_id = m->id;
        if (strcmp(m->id, g->leader) == 0) {
            if (!list) {
                /* Without the member list the leader cannot assign:
                 * make everyone rejoin rather than run a broken generation. */
                res.error = KF_ERR_REBALANCE_IN_PROGRESS;
            }
            res.members = list;
            res.nmembers = n;
        }
        c->cbs.join_done(c->cbs.ud, w, &res);
    }
    cn_free(list);
}

static void kf_maybe_complete(kf_group_coord *c, kf_group *g, int64_t now)
{
    if (g->state != KF_GROUP_PREPARING_REBALANCE)
        return;
    if (g->initial_until && now < g->initial_until)
        return;
    for (kf_member *m = g->members; m; m = m->next)
        if (!m->join_waiter)
            return;
    kf_complete_join(c, g, now);
}

/* ======================================================================
 * join
 * ====================================================================== */

static int kf_member_set_protos(kf_member *m, const kf_join_req *r)
{
    kf_group_protocol *p = cn_calloc(r->nprotocols ? r->nprotocols : 1, sizeof(*p));
    if (!p)
        return CN_ENOMEM;
    for (size_t i = 0; i < r->nprotocols; i++) {
        p[i].name = cn_strdup(r->protocols[i].name);
        p[i].meta_len = r->protocols[i].meta_len;
        p[i].meta = cn_malloc(p[i].meta_len ? p[i].meta_len : 1);
        if (!p[i].name || !p[i].meta) {
            kf_protos_free(p, i + 1);
            return CN_ENOMEM;
        }
        if (p[i].meta_len)
            memcpy((void *)p[i].meta, r->protocols[i].meta, p[i].meta_len);
    }
    kf_protos_free(m->protos, m->nprotos);
    m->protos = p;
    m->nprotos = r->nprotocols;
    return 0;
}

static int kf_protos_equal(const kf_member *m, const kf_join_req *r)
{
    if (m->nprotos != r->nprotocols)
        return 0;
    for (size_t i = 0; i < m->nprotos; i++)
        if (strcmp(m->protos[i].name, r->protocols[i].name) != 0 ||
            m->protos[i].meta_len != r->protocols[i].meta_len ||
            (m->protos[i].meta_len &&
             memcmp(m->protos[i].meta, r->protocols[i].meta, m->protos[i].meta_len) != 0))
            return 0;
    return 1;
}

static kf_member *kf_member_add(kf_group *g, const char *id)
{
    kf_member *m = cn_calloc(1, sizeof(*m));
    if (!m || !(m->id = cn_strdup(id))) {
        cn_free(m);
        return NULL;
    }
    kf_member **pp = &g->members; /* keep join order: the first is leader */
    while (*pp)
        pp = &(*pp)->next;
    *pp = m;
    g->nmembers++;
    return m;
}

static int kf_take_pending(kf_group *g, const char *id)
{
    for (kf_pending_id **pp = &g->pending; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            kf_pending_id *p = *pp;
            *pp = p->next;
            cn_free(p->id);
            cn_free(p);
            return 1;
        }
    }
    return 0;
}

/* Answer a join with the group's current generation (no rebalance). */
static void kf_join_current(kf_group_coord *c, kf_group *g, void *waiter, const char *member_id,
                            const char *leader)
{
    kf_join_result res;
    memset(&res, 0, sizeof(res));
    res.generation = g->generation;
    res.protocol_type = g->protocol_type;
    res.protocol_name = g->protocol;
    res.leader = leader;
    res.member_id = member_id;
    c->cbs.join_done(c->cbs.ud, waiter, &res);
}

/* Copy what a join carries about its member (protocols unless same). */
static int kf_member_update(kf_member *m, const kf_join_req *r, int same)
{
    if ((!same && kf_member_set_protos(m, r)) || kf_set_str(&m->client_id, r->client_id) ||
        kf_set_str(&m->host, r->client_host) || kf_set_str(&m->instance_id, r->group_instance_id))
        return CN_ENOMEM;
    m->session_ms = r->session_timeout_ms;
    m->rebalance_ms = r->rebalance_timeout_ms > 0 ? r->rebalance_timeout_ms : r->session_timeout_ms;
    return 0;
}

/* A known static instance joins without a member id (it restarted): it
 * takes over the old member under a new id; the old id's waiting calls
 * are answered FENCED_INSTANCE_ID.  In a Stable group with unchanged
 * protocols nothing else moves: the reply names the old leader id, so a
 * replaced leader does not run a (never broadcast) assignment, and its
 * SyncGroup returns the assignment it had.  Otherwise it rebalances. */
static int kf_static_replace(kf_group_coord *c, kf_group *g, kf_member *m, const kf_join_req *r,
                             int64_t now)
{
    char idbuf[512];
    snprintf(idbuf, sizeof(idbuf), "%.200s-%llu", r->group_instance_id,
             (unsigned long long)++c->next_member);
    char *nid = cn_strdup(idbuf);
    if (!nid)
        return CN_ENOMEM;
    int same = kf_protos_equal(m, r);
    if (kf_member_update(m, r, same)) {
        cn_free(nid);
        return CN_ENOMEM;
    }
    if (m->join_waiter) {
        void *w = m->join_waiter;
        m->join_waiter = NULL;
        kf_join_fail(c, w, KF_ERR_FENCED_INSTANCE_ID, m->id);
    }
    kf_sync_answer(c, m, KF_ERR_FENCED_INSTANCE_ID);
    char *old = m->id;
    m->id = nid;
    m->last_seen = now;
    int was_leader = g->leader && strcmp(g->leader, old) == 0;
    if (was_leader && kf_set_str(&g->leader, nid)) {
        m->id = old; /* keep the group consistent: the old id stays */
        cn_free(nid);
        return CN_ENOMEM;
    }
    if (g->state == KF_GROUP_STABLE && same) {
        kf_join_current(c, g, r->waiter, m->id, was_leader ? old : g->leader);
        cn_free(old);
        return 0;
    }
    cn_free(old);
    m->join_waiter = r->waiter;
    if (g->state != KF_GROUP_PREPARING_REBALANCE)
        kf_prepare_rebalance(c, g, now);
    kf_maybe_complete(c, g, now);
    return 0;
}

int kf_group_join(kf_group_coord *c, const kf_join_req *r, int64_t now)
{
    if (!r->group_id || !*r->group_id) {
        kf_join_fail(c, r->waiter, KF_ERR_INVALID_GROUP_ID, r->member_id);
        return 0;
    }
    if (r->session_timeout_ms < c->lim.min_session_ms ||
        r->session_timeout_ms > c->lim.max_session_ms) {
        kf_join_fail(c, r->waiter, KF_ERR_INVALID_SESSION_TIMEOUT, r->member_id);
        return 0;
    }
    if (!r->protocol_type || !*r->protocol_type || r->nprotocols == 0) {
        kf_join_fail(c, r->waiter, KF_ERR_INCONSISTENT_GROUP_PROTOCOL, r->member_id);
        return 0;
    }
    kf_group *g = kf_group_find(c, r->group_id);
    if (!g) {
        g = cn_calloc(1, sizeof(*g));
        if (!g || !(g->id = cn_strdup(r->group_id))) {
            cn_free(g);
            return CN_ENOMEM;
        }
        g->next = c->groups;
        c->groups = g;
    }
    const char *mid = r->member_id ? r->member_id : "";
    kf_member *sm = kf_member_find_instance(g, r->group_instance_id);
    if (sm && *mid && strcmp(sm->id, mid) != 0) {
        kf_join_fail(c, r->waiter, KF_ERR_FENCED_INSTANCE_ID, mid);
        return 0;
    }
    if (!kf_join_compatible(g, r, *mid ? mid : sm ? sm->id : NULL)) {
        kf_join_fail(c, r->waiter, KF_ERR_INCONSISTENT_GROUP_PROTOCOL, mid);
        return 0;
    }
    if (sm && !*mid)
        return kf_static_replace(c, g, sm, r, now);
    char idbuf[512];
    kf_member *m = NULL;
    int existed = 0;
    if (!*mid) {
        const char *prefix = r->group_instance_id && *r->group_instance_id ? r->group_instance_id
                             : r->client_id && *r->client_id               ? r->client_id
                                                                           : "member";
        snprintf(idbuf, sizeof(idbuf), "%.200s-%llu", prefix, (unsigned long long)++c->next_member);
        /* Static members skip KIP-394's two-step join (as in Kafka):
         * their instance id already identifies them. */
        if (r->require_known_member && !(r->group_instance_id && *r->group_instance_id)) {
            kf_pending_id *p = cn_calloc(1, sizeof(*p));
            if (!p || !(p->id = cn_strdup(idbuf))) {
                cn_free(p);
                return CN_ENOMEM;
            }
            p->expires = now + r->session_timeout_ms;
            p->next = g->pending;
            g->pending = p;
            kf_join_fail(c, r->waiter, KF_ERR_MEMBER_ID_REQUIRED, idbuf);
            return 0;
        }
        mid = idbuf;
    } else {
        m = kf_member_find(g, mid);
        if (!m && !kf_take_pending(g, mid)) {
            kf_join_fail(c, r->waiter, KF_ERR_UNKNOWN_MEMBER_ID, mid);
            return 0;
        }
        existed = m != NULL;
    }
    int same = existed && kf_protos_equal(m, r);
    if (!m && !(m = kf_member_add(g, mid)))
        return CN_ENOMEM;
    if (kf_member_update(m, r, same) ||
        (!g->protocol_type && kf_set_str(&g->protocol_type, r->protocol_type))) {
        if (!existed)
            kf_remove_member(c, g, m, 0);
        return CN_ENOMEM;
    }
    m->last_seen = now;
    if (m->join_waiter && m->join_waiter != r->waiter)
        kf_join_fail(c, m->join_waiter, KF_ERR_REBALANCE_IN_PROGRESS, m->id);
    m->join_waiter = r->waiter;
    /* A known follower rejoining a stable group with unchanged metadata
     * just gets the current generation back: no rebalance for everyone. */
    if (g->state == KF_GROUP_STABLE && same && g->leader && strcmp(g->leader, m->id) != 0) {
        m->join_waiter = NULL;
        kf_join_current(c, g, r->waiter, m->id, g->leader);
        return 0;
    }
    if (g->state != KF_GROUP_PREPARING_REBALANCE)
        kf_prepare_rebalance(c, g, now);
    kf_maybe_complete(c, g, now);
    return 0;
}

/* ======================================================================
 * sync, heartbeat, leave, commit check
 * ====================================================================== */

int kf_group_sync(kf_group_coord *c, const char *group_id, const char *member_id,
                  const char *instance_id, int32_t generation, const kf_sync_assignment *as,
                  size_t nas, void *waiter, int64_t now)
{
    kf_group *g = kf_group_find(c, group_id);
    if (g && kf_fenced(g, instance_id, member_id)) {
        c->cbs.sync_done(c->cbs.ud, waiter, KF_ERR_FENCED_INSTANCE_ID, NULL, 0);
        return 0;
    }
    kf_member *m = g ? kf_member_find(g, member_id) : NULL;
    if (!m) {
        c->cbs.sync_done(c->cbs.ud, waiter, KF_ERR_UNKNOWN_MEMBER_ID, NULL, 0);
        return 0;
    }
    if (generation != g->generation) {
        c->cbs.sync_done(c->cbs.ud, waiter, KF_ERR_ILLEGAL_GENERATION, NULL, 0);
        return 0;
    }
    m->last_seen = now;
    if (g->state == KF_GROUP_PREPARING_REBALANCE) {
        c->cbs.sync_done(c->cbs.ud, waiter, KF_ERR_REBALANCE_IN_PROGRESS, NULL, 0);
        return 0;
    }
    if (g->state == KF_GROUP_STABLE) {
        c->cbs.sync_done(c->cbs.ud, waiter, 0, m->assign, m->assign_len);
        return 0;
    }
    /* CompletingRebalance */
    if (m->sync_waiter && m->sync_waiter != waiter)
        kf_sync_answer(c, m, KF_ERR_REBALANCE_IN_PROGRESS);
    m->sync_waiter = waiter;
    if (strcmp(m->id, g->leader) != 0)
        return 0;
    for (size_t i = 0; i < nas; i++) {
        kf_member *t = kf_member_find(g, as[i].member_id);
        if (!t)
            continue; /* an assignment for a member that has since gone */
        unsigned char *d = cn_malloc(as[i].len ? as[i].len : 1);
        if (!d) {
            m->sync_waiter = NULL;
            return CN_ENOMEM;
        }
        if (as[i].len)
            memcpy(d, as[i].data, as[i].len);
        cn_free(t->assign);
        t->assign = d;
        t->assign_len = as[i].len;
    }
    g->state = KF_GROUP_STABLE;
    for (kf_member *x = g->members; x; x = x->next)
        kf_sync_answer(c, x, 0);
    return 0;
}

int16_t kf_group_heartbeat(kf_group_coord *c, const char *group_id, const char *member_id,
                           const char *instance_id, int32_t generation, int64_t now)
{
    kf_group *g = kf_group_find(c, group_id);
    if (g && kf_fenced(g, instance_id, member_id))
        return KF_ERR_FENCED_INSTANCE_ID;
    kf_member *m = g ? kf_member_find(g, member_id) : NULL;
    if (!m)
        return KF_ERR_UNKNOWN_MEMBER_ID;
    if (generation != g->generation)
        return KF_ERR_ILLEGAL_GENERATION;
    m->last_seen = now;
    if (g->state == KF_GROUP_PREPARING_REBALANCE)
        return KF_ERR_REBALANCE_IN_PROGRESS;
    return 0;
}

int16_t kf_group_leave(kf_group_coord *c, const char *group_id, const char *member_id,
                       const char *instance_id, int64_t now)
{
    kf_group *g = kf_group_find(c, group_id);
    /* A static member may leave by its instance id alone (no member id). */
    int by_instance = instance_id && *instance_id && (!member_id || !*member_id);
    if (g && !by_instance && kf_fenced(g, instance_id, member_id))
        return KF_ERR_FENCED_INSTANCE_ID;
    kf_member *m = !g            ? NULL
                   : by_instance ? kf_member_find_instance(g, instance_id)
                                 : kf_member_find(g, member_id);
    if (!m)
        return KF_ERR_UNKNOWN_MEMBER_ID;
    kf_remove_member(c, g, m, KF_ERR_UNKNOWN_MEMBER_ID);
    if (g->nmembers == 0 && g->state != KF_GROUP_PREPARING_REBALANCE) {
        g->generation++;
        kf_group_emptied(g);
        return 0;
    }
    if (g->state == KF_GROUP_STABLE || g->state == KF_GROUP_COMPLETING_REBALANCE)
        kf_prepare_rebalance(c, g, now);
    kf_maybe_complete(c, g, now);
    return 0;
}

int16_t kf_group_commit_check(kf_group_coord *c, const char *group_id, const char *member_id,
                              const char *instance_id, int32_t generation, int64_t now)
{
    kf_group *g = kf_group_find(c, group_id);
    if (g && kf_fenced(g, instance_id, member_id))
        return KF_ERR_FENCED_INSTANCE_ID;
    if (generation < 0 && (!g || g->nmembers == 0))
        return 0; /* a client managing its own partitions */
    if (!g)
        return KF_ERR_ILLEGAL_GENERATION;
    if (g->state == KF_GROUP_COMPLETING_REBALANCE)
        return KF_ERR_REBALANCE_IN_PROGRESS;
    kf_member *m = member_id ? kf_member_find(g, member_id) : NULL;
    if (!m)
        return KF_ERR_UNKNOWN_MEMBER_ID;
    if (generation != g->generation)
        return KF_ERR_ILLEGAL_GENERATION;
    m->last_seen = now;
    return 0;
}

/* ======================================================================
 * time
 * ====================================================================== */

static void kf_group_tick_one(kf_group_coord *c, kf_group *g, int64_t now);

void kf_group_tick(kf_group_coord *c, int64_t now)
{
    for (kf_group **gp = &c->groups; *gp;) {
        kf_group *g = *gp;
        kf_group_tick_one(c, g, now);
        if (g->state == KF_GROUP_EMPTY && !g->members && !g->pending) {
            *gp = g->next; /* nothing left in memory worth keeping */
            kf_group_free_one(g);
        } else {
            gp = &g->next;
        }
    }
}

static void kf_group_tick_one(kf_group_coord *c, kf_group *g, int64_t now)
{
    int removed = 0;
    for (kf_member *m = g->members, *next; m; m = next) {
        next = m->next;
        /* A member waiting in JoinGroup is bounded by the rebalance
         * timeout instead of its session. */
        if (!m->join_waiter && now - m->last_seen > m->session_ms) {
            kf_remove_member(c, g, m, KF_ERR_UNKNOWN_MEMBER_ID);
            removed = 1;
        }
    }
    for (kf_pending_id **pp = &g->pending; *pp;) {
        if ((*pp)->expires < now) {
            kf_pending_id *p = *pp;
            *pp = p->next;
            cn_free(p->id);
            cn_free(p);
        } else {
            pp = &(*pp)->next;
        }
    }
    if (removed) {
        if (g->nmembers == 0 && g->state != KF_GROUP_PREPARING_REBALANCE) {
            g->generation++;
            kf_group_emptied(g);
        } else if (g->state == KF_GROUP_STABLE || g->state == KF_GROUP_COMPLETING_REBALANCE) {
            kf_prepare_rebalance(c, g, now);
        }
    }
    if (g->state == KF_GROUP_PREPARING_REBALANCE && now >= g->rebalance_deadline)
        kf_complete_join(c, g, now);
    else
        kf_maybe_complete(c, g, now);
    if (g->state == KF_GROUP_COMPLETING_REBALANCE && now >= g->sync_deadline)
        kf_prepare_rebalance(c, g, now); /* the leader never synced */
}

void kf_group_cancel_waiter(kf_group_coord *c, void *waiter)
{
    for (kf_group *g = c->groups; g; g = g->next)
        for (kf_member *m = g->members; m; m = m->next) {
            if (m->join_waiter == waiter)
                m->join_waiter = NULL;
            if (m->sync_waiter == waiter)
                m->sync_waiter = NULL;
        }
}

/* ======================================================================
 * inspection
 * ====================================================================== */

static int kf_group_info_fill(kf_group *g, kf_group_info *gi, kf_group_member_info **mem)
{
    memset(gi, 0, sizeof(*gi));
    gi->group_id = g->id;
    gi->state = g->state;
    gi->protocol_type = g->protocol_type ? g->protocol_type : "";
    gi->protocol_name = g->protocol ? g->protocol : "";
    gi->generation = g->generation;
    *mem = cn_calloc(g->nmembers ? g->nmembers : 1, sizeof(**mem));
    if (!*mem)
        return CN_ENOMEM;
    size_t n = 0;
    for (kf_member *m = g->members; m; m = m->next, n++) {
        kf_group_member_info *x = &(*mem)[n];
        const kf_group_protocol *p = g->protocol ? kf_member_proto(m, g->protocol) : NULL;
        x->member_id = m->id;
        x->group_instance_id = m->instance_id;
        x->client_id = m->client_id ? m->client_id : "";
        x->client_host = m->host ? m->host : "";
        x->meta = p ? p->meta : NULL;
        x->meta_len = p ? p->meta_len : 0;
        x->assignment = m->assign;
        x->assignment_len = m->assign_len;
    }
    gi->members = *mem;
    gi->nmembers = n;
    return 0;
}

void kf_group_each(kf_group_coord *c, int (*fn)(void *ud, const kf_group_info *gi), void *ud)
{
    for (kf_group *g = c->groups; g; g = g->next) {
        kf_group_info gi;
        kf_group_member_info *mem;
        if (kf_group_info_fill(g, &gi, &mem))
            return;
        int stop = fn(ud, &gi);
        cn_free(mem);
        if (stop)
            return;
    }
}

int kf_group_describe(kf_group_coord *c, const char *group_id,
                      void (*fn)(void *ud, const kf_group_info *gi), void *ud)
{
    kf_group *g = kf_group_find(c, group_id);
    if (!g)
        return CN_ENOENT;
    kf_group_info gi;
    kf_group_member_info *mem;
    int rc = kf_group_info_fill(g, &gi, &mem);
    if (rc)
        return rc;
    fn(ud, &gi);
    cn_free(mem);
    return 0;
}
