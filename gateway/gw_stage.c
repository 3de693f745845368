/* SPDX-License-Identifier: MIT */
/*
 * gw_stage.c — from accepted pings to durable acks.  Pings of every
 * connection read in one loop iteration are staged into one ticket per
 * partition (records keyed by player id, value = the CloudEvent); an
 * event queued behind the iteration's reads flushes the tickets, one
 * sink append each, and the sink's completion (on the loop thread) sends
 * each client frame its ack — or, if the append failed, closes the
 * frame's connection with 1013 and sends nothing.
 *
 * Invariant: the ONLY place an ack frame is written is ticket_ack(), which
 * runs only for a ticket whose append completed with err == 0, i.e. every
 * record of it is durable.  Tickets name connections by (slot, gen), so a
 * completion for a connection that has gone (and whose slot may be reused)
 * sends nothing.
 * Loop thread only.  Tickets and their buffers are loop-owned staging
 * memory, reused through a free list; their total is bounded by
 * --max-inflight pings.
 */
#include "gw_server_int.h"

#include "cn_alloc.h"
#include "cn_ce.h"
#include "cn_err.h"
#include "cn_time.h"

#include <stdio.h>
#include <string.h>

/* A ticket is flushed early past this much record data: appends stay far
 * below the log's 8 MiB batch limit and latency stays low. */
#define GW_TICKET_FLUSH_BYTES (512u * 1024)
/* Free list tickets keep buffers up to this size; bigger ones are freed. */
#define GW_TICKET_KEEP_BYTES (1u << 20)

uint32_t gw__partition_of(const char *player, int32_t partitions)
{
    /* FNV-1a: stable across processes, restarts and versions (documented
     * in docs/protocol.md), so a player's pings stay in one partition. */
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)player; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % (uint32_t)partitions;
}

static void ticket_free(gw_ticket *t)
{
    cn_buf_free(&t->data);
    cn_buf_free(&t->ids);
    cn_free(t->recs);
    cn_free(t->refs);
    cn_free(t);
}

static void ticket_release(gw_server *s, gw_ticket *t)
{
    if (t->data.cap > GW_TICKET_KEEP_BYTES) {
        ticket_free(t);
        return;
    }
    t->data.len = t->ids.len = 0;
    t->nrec = t->nref = t->npings = 0;
    t->next = s->free_tickets;
    s->free_tickets = t;
}

void gw__tickets_free(gw_server *s)
{
    while (s->free_tickets) {
        gw_ticket *t = s->free_tickets;
        s->free_tickets = t->next;
        ticket_free(t);
    }
    for (int32_t p = 0; s->open && p < s->nparts; p++)
        if (s->open[p]) {
            ticket_free(s->open[p]);
            s->open[p] = NULL;
        }
}

static gw_ticket *ticket_get(gw_server *s, int32_t p)
{
    if (s->open[p])
        return s->open[p];
    gw_ticket *t = s->free_tickets;
    if (t)
        s->free_tickets = t->next;
    else if (!(t = cn_calloc(1, sizeof(*t))))
        return NULL;
    t->next = NULL;
    t->srv = s;
    t->partition = p;
    s->open[p] = t;
    /* event_active appends the flush to the tail of the loop's active
     * queue, behind every read that epoll reported in this iteration: one
     * append per partition carries all of them.  (Not a lower priority:
     * libevent serves only the first non-empty priority queue per pass,
     * so under steady load a low-priority flush would starve.) */
    event_active(s->flush_ev, EV_TIMEOUT, 0);
    return t;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *p = cn_realloc(*arr, n * elem);
    if (!p)
        return CN_ENOMEM;
    *arr = p;
    *cap = n;
    return 0;
}

static int stage_ping(gw_server *s, gw_conn *c, gw_ticket *t, const gw_ping *pg, int64_t now)
{
    if (grow((void **)&t->recs, &t->caprec, t->nrec + 1, sizeof(*t->recs)))
        return CN_ENOMEM;
    gw_recoff *r = &t->recs[t->nrec];
    size_t plen = strlen(c->player);
    r->koff = (uint32_t)t->data.len;
    r->klen = (uint32_t)plen;
    if (cn_buf_append(&t->data, c->player, plen))
        return CN_ENOMEM;
    Cairn__V1__BlePing bp = CAIRN__V1__BLE_PING__INIT;
    bp.id = (char *)pg->id;
    bp.beacon = (char *)pg->beacon;
    bp.rssi = pg->rssi;
    bp.ts = pg->ts;
    bp.player = c->player;
    bp.hunt = c->hunt;
    /* Unique without coordination: node names differ per process, boot id
     * per start, the sequence per event. */
    char ceid[CN_ID_MAX + 48];
    snprintf(ceid, sizeof(ceid), "%s-%llx-%llu", s->node, (unsigned long long)s->boot_id,
             (unsigned long long)++s->ce_seq);
    r->voff = (uint32_t)t->data.len;
    if (cn_ce_encode_ping(&t->data, s->node, ceid, now, &bp))
        return CN_ENOMEM;
    r->vlen = (uint32_t)(t->data.len - r->voff);
    t->nrec++;
    return 0;
}

static void stage_flush_partition(gw_server *s, int32_t p);

int gw__stage_frame(gw_server *s, gw_conn *c, const gw_ping *pings, size_t n, int binary)
{
    int32_t p = (int32_t)gw__partition_of(c->player, s->nparts);
    gw_ticket *t = ticket_get(s, p);
    if (!t)
        return CN_ENOMEM;
    size_t data_len = t->data.len, ids_len = t->ids.len, nrec = t->nrec;
    int64_t now = cn_now_ms();
    int rc = grow((void **)&t->refs, &t->capref, t->nref + 1, sizeof(*t->refs));
    gw_ackref ref = {(uint32_t)(c - s->conns), c->gen, (uint32_t)t->ids.len, (uint16_t)n,
                     (uint8_t)binary};
    for (size_t i = 0; !rc && i < n; i++) {
        rc = cn_buf_append(&t->ids, pings[i].id, strlen(pings[i].id) + 1);
        if (!rc)
            rc = stage_ping(s, c, t, &pings[i], now);
    }
    if (rc) { /* roll back this frame: the ticket holds only whole frames */
        t->data.len = data_len;
        t->ids.len = ids_len;
        t->nrec = nrec;
        return rc;
    }
    t->refs[t->nref++] = ref;
    t->npings += n;
    s->inflight_pings += n;
    c->inflight++;
    if (t->data.len >= GW_TICKET_FLUSH_BYTES)
        stage_flush_partition(s, p);
    return 0;
}

/* Connections of a failed ticket: no ack (nothing is known durable); 1013
 * tells the client to come back and resend. */
static void ticket_fail(gw_server *s, gw_ticket *t)
{
    s->m.append_failed++;
    for (size_t i = 0; i < t->nref; i++) {
        gw_conn *c = &s->conns[t->refs[i].slot];
        if (c->gen != t->refs[i].gen || c->state == GW_ST_FREE)
            continue;
        c->inflight--;
        gw__conn_close_ws(s, c, WS_CLOSE_TRY_LATER, "log unavailable; retry",
                          GW_DISC_APPEND_FAILED);
    }
}

static void ticket_ack(gw_server *s, gw_ticket *t)
{
    for (size_t i = 0; i < t->nref; i++) {
        const gw_ackref *r = &t->refs[i];
        gw_conn *c = &s->conns[r->slot];
        if (c->gen != r->gen || c->state == GW_ST_FREE)
            continue;
        c->inflight--;
        if (c->state != GW_ST_OPEN)
            continue; /* closing: no frame may follow our close frame */
        const char *p = (const char *)t->ids.data + r->ids_off;
        for (size_t k = 0; k < r->nids; k++) {
            s->idv[k] = p;
            p += strlen(p) + 1;
        }
        cn_buf_reset(&s->tmp);
        int rc = r->binary ? gw_ping_ack_pb(&s->tmp, s->idv, r->nids, NULL, 0)
                           : gw_ping_ack_json(&s->tmp, s->idv, r->nids);
        cn_buf_reset(&s->frame);
        if (rc || ws_encode_frame(&s->frame, r->binary ? WS_OP_BINARY : WS_OP_TEXT, 1, s->tmp.data,
                                  s->tmp.len, NULL)) {
            gw__conn_close_ws(s, c, WS_CLOSE_TRY_LATER, "overloaded", GW_DISC_OVERLOAD);
            continue;
        }
        uint32_t gen = c->gen;
        if (gw__conn_queue(s, c, s->frame.data, s->frame.len, 0) || c->gen != gen)
            continue;
        s->m.pings_acked += r->nids;
        s->m.ack_frames++;
        if (s->draining && !c->inflight)
            gw__conn_close_ws(s, c, WS_CLOSE_GOING_AWAY, "draining", GW_DISC_DRAIN);
    }
}

void gw__sink_done(void *ud, void *ticket, int err)
{
    gw_server *s = ud;
    gw_ticket *t = ticket;
    s->tickets_out--;
    gw__metrics_latency(&s->m, (double)(cn_mono_ns() - t->t0_ns) / 1e9);
    if (err)
        ticket_fail(s, t);
    else
        ticket_ack(s, t);
    s->inflight_pings -= t->npings;
    ticket_release(s, t);
    gw__server_resume_parked(s);
    if (s->draining)
        gw__server_maybe_drained(s);
}

static void stage_flush_partition(gw_server *s, int32_t p)
{
    gw_ticket *t = s->open[p];
    s->open[p] = NULL;
    if (!t)
        return;
    if (!t->nrec) {
        ticket_release(s, t);
        return;
    }
    if (grow((void **)&s->recs, &s->caprecs, t->nrec, sizeof(*s->recs))) {
        ticket_fail(s, t);
        s->inflight_pings -= t->npings;
        ticket_release(s, t);
        return;
    }
    for (size_t i = 0; i < t->nrec; i++) {
        s->recs[i].key = t->data.data + t->recs[i].koff;
        s->recs[i].klen = t->recs[i].klen;
        s->recs[i].val = t->data.data + t->recs[i].voff;
        s->recs[i].vlen = t->recs[i].vlen;
    }
    t->t0_ns = cn_mono_ns();
    s->tickets_out++;
    int rc = s->sink->ops->append(s->sink, p, s->recs, t->nrec, cn_now_ms(), t);
    if (rc)
        gw__sink_done(s, t, rc); /* the sink will not call back: fail it here */
}

void gw__stage_flush(evutil_socket_t fd, short what, void *arg)
{
    gw_server *s = arg;
    (void)fd;
    (void)what;
    for (int32_t p = 0; p < s->nparts; p++)
        if (s->open[p])
            stage_flush_partition(s, p);
}
