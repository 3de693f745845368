/* SPDX-License-Identifier: MIT */
/*
 * sim_conn.c — one simulated phone's WebSocket connection, client side:
 * non-blocking TCP connect from one of several 127.0.0.x source addresses
 * (each has its own ~28,000 ephemeral ports), the RFC 6455 upgrade
 * (Sec-WebSocket-Accept checked), masked text frames with one JSON ping
 * each, the ws_frame client-role decoder for what the gateway sends, and
 * the ack bookkeeping: every ack must name a ping sent on this connection
 * and not acked before.
 *
 * Guarantees: a ping leaves the player's queue only when acked (or
 * refused with an error frame, counted as a failure); when a connection is
 * lost, its unacked pings are sent again on the next one (counted as
 * resends), as a phone app would.  Handshakes in progress are capped
 * (sim_opts.max_connecting) with a FIFO of waiting players, so a large run
 * does not overflow the gateway's accept backlog.
 * Loop thread only.  The player owns its bufferevent and buffers.
 */
#include "sim_int.h"
#include "sim_proto.h"

#include "cn_err.h"
#include "cn_time.h"
#include "auth.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reconnect backoff after a failure: 100 ms doubling to 2 s, so a gateway
 * that is down or full is not hammered, and a restarted one is found soon. */
#define SIM_BACKOFF_MIN_MS 100
#define SIM_BACKOFF_MAX_MS 2000

static void sim__read_cb(struct bufferevent *bev, void *ud);
static void sim__event_cb(struct bufferevent *bev, short what, void *ud);
static void sim__start(sim *s, sim_player *p);

void sim__fail(sim *s, const char *fmt, ...)
{
    if (s->r->first_error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->r->first_error, sizeof(s->r->first_error), fmt, ap);
    va_end(ap);
}

/* ---- connect queue ------------------------------------------------------ */

void sim__conn_want(sim *s, sim_player *p)
{
    if (p->cstate != SIM_C_NONE || p->queued || p->retrying || s->finished)
        return;
    if (s->connecting < s->o->max_connecting) {
        sim__start(s, p);
        return;
    }
    uint32_t n = s->o->players;
    s->cq[(s->cq_head + s->cq_len) % n] = p->idx;
    s->cq_len++;
    p->queued = 1;
}

/* Start waiting players while handshake slots are free.  Runs from its
 * own event, never inside sim__start's failure path: a burst of failures
 * (no fds, no ports) would otherwise recurse once per queued player. */
void sim__drain_cb(evutil_socket_t fd, short what, void *ud)
{
    sim *s = ud;
    (void)fd;
    (void)what;
    while (s->cq_len && s->connecting < s->o->max_connecting) {
        sim_player *p = &s->pl[s->cq[s->cq_head]];
        s->cq_head = (s->cq_head + 1) % s->o->players;
        s->cq_len--;
        p->queued = 0;
        if (p->cstate == SIM_C_NONE && !s->finished)
            sim__start(s, p);
    }
}

/* A handshake finished (either way): let the next waiting player in. */
static void sim__connect_slot_free(sim *s)
{
    s->connecting--;
    if (s->cq_len)
        event_active(s->drain_ev, 0, 0);
}

/* ---- losing a connection ------------------------------------------------ */

void sim__conn_free(sim *s, sim_player *p)
{
    if (p->cstate == SIM_C_CONNECTING || p->cstate == SIM_C_HANDSHAKE)
        sim__connect_slot_free(s);
    else if (p->cstate == SIM_C_OPEN)
        s->open--;
    if (p->bev)
        bufferevent_free(p->bev);
    p->bev = NULL;
    uint8_t was = p->cstate;
    p->cstate = SIM_C_NONE;
    cn_buf_reset(&p->in);
    cn_buf_reset(&p->ctl);
    for (uint32_t i = 0; i < p->nout; i++)
        if (p->out[i].sent_ns) {
            p->out[i].sent_ns = 0;
            p->out[i].sent_before = 1;
        }
    if (was == SIM_C_CLOSING)
        sim__closed_one(s);
}

void sim__retry_cb(evutil_socket_t fd, short what, void *ud)
{
    sim_player *p = ud;
    (void)fd;
    (void)what;
    p->retrying = 0;
    if (p->nout)
        sim__conn_want(p->s, p);
}

/* The connection is gone.  failed: it broke (backoff before trying again);
 * otherwise it closed cleanly and pings still queued reconnect at once. */
static void sim__lost(sim *s, sim_player *p, int failed)
{
    int closing = p->cstate == SIM_C_CLOSING;
    sim__conn_free(s, p);
    if (closing || s->finished)
        return;
    if (failed) {
        uint32_t f = p->failures < 5 ? p->failures : 5;
        int64_t ms = (int64_t)SIM_BACKOFF_MIN_MS << f;
        if (ms > SIM_BACKOFF_MAX_MS)
            ms = SIM_BACKOFF_MAX_MS;
        p->failures++;
        struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
        p->retrying = 1;
        event_add(p->retry, &tv);
        return;
    }
    if (p->nout)
        sim__conn_want(s, p);
}

/* ---- connecting and the handshake ---------------------------------------- */

static int sim__bind_source(sim *s, sim_player *p, evutil_socket_t fd)
{
    if (!s->loopback || s->r->sources <= 1)
        return 0;
    struct sockaddr_in src;
    memset(&src, 0, sizeof(src));
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7F000001u + p->idx % s->r->sources);
    return bind(fd, (struct sockaddr *)&src, sizeof(src));
}

static void sim__start(sim *s, sim_player *p)
{
    evutil_socket_t fd = socket(s->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || sim__bind_source(s, p, fd)) {
        sim__fail(s, "cannot open a socket: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        s->r->connect_failures++;
        s->connecting++; /* sim__lost releases the slot via CONNECTING */
        p->cstate = SIM_C_CONNECTING;
        sim__lost(s, p, 1);
        return;
    }
    p->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!p->bev) {
        close(fd);
        sim__fail(s, "out of memory for a connection");
        return;
    }
    s->connecting++;
    p->cstate = SIM_C_CONNECTING;
    bufferevent_setcb(p->bev, sim__read_cb, NULL, sim__event_cb, p);
    bufferevent_enable(p->bev, EV_READ | EV_WRITE); /* reading is off by default */
    if (bufferevent_socket_connect(p->bev, (struct sockaddr *)&s->dst, (int)s->dstlen)) {
        s->r->connect_failures++;
        sim__fail(s, "connect to %s failed: %s", s->host_hdr, strerror(errno));
        sim__lost(s, p, 1);
    }
}

static int sim__send_upgrade(sim *s, sim_player *p)
{
    unsigned char raw[16];
    for (int i = 0; i < 16; i += 8) {
        uint64_t v = sim_rng_u64(&s->mask_rng);
        memcpy(raw + i, &v, 8);
    }
    char key[32];
    sodium_bin2base64(key, sizeof(key), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
    if (ws_http_accept_key(key, strlen(key), p->accept))
        return -1;
    if (s->o->token_sk && !p->token) {
        auth_token_claims c;
        memset(&c, 0, sizeof(c));
        snprintf(c.player, sizeof(c.player), "%s", p->id);
        snprintf(c.hunt, sizeof(c.hunt), "%s", s->o->hunt_id ? s->o->hunt_id : "");
        c.issued_ms = cn_now_ms();
        c.expires_ms = c.issued_ms + 24LL * 3600 * 1000;
        char tok[AUTH_TOKEN_MAX_LEN];
        if (auth_token_issue(s->o->token_sk, &c, tok, sizeof(tok)) || !(p->token = strdup(tok)))
            return -1;
    }
    char sep = strchr(s->path, '?') ? '&' : '?';
    struct evbuffer *ob = bufferevent_get_output(p->bev);
    int n = evbuffer_add_printf(
        ob,
        "GET %s%c%s=%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
        s->path, sep, p->token ? "token" : "player", p->token ? p->token : p->id, s->host_hdr, key);
    return n < 0 ? -1 : 0;
}

/* Check the gateway's answer.  @return bytes of head used; 0 incomplete; -1 refused. */
static long sim__check_head(sim *s, sim_player *p)
{
    int status;
    size_t hl;
    int rc = sim_parse_head((const char *)p->in.data, p->in.len, p->accept, &status, &hl);
    if (rc == CN_WANT_MORE)
        return 0;
    if (rc == 0)
        return (long)hl;
    const char *h = (const char *)p->in.data;
    const char *end = memmem(h, p->in.len, "\r\n\r\n", 4);
    size_t bl = end ? p->in.len - (size_t)(end + 4 - h) : 0;
    if (status && status != 101)
        sim__fail(s, "handshake refused: HTTP %d %.*s", status, (int)(bl > 120 ? 120 : bl),
                  end ? end + 4 : "");
    else
        sim__fail(
            s,
            "handshake: not a WebSocket upgrade (malformed answer or wrong Sec-WebSocket-Accept)");
    return -1;
}

/* ---- sending ------------------------------------------------------------- */

void sim__conn_flush(sim *s, sim_player *p)
{
    if (p->cstate != SIM_C_OPEN)
        return;
    struct evbuffer *ob = bufferevent_get_output(p->bev);
    const sim_opts *o = s->o;
    for (uint32_t i = 0; i < p->nout; i++) {
        sim_out *q = &p->out[i];
        if (q->sent_ns)
            continue;
        cn_buf_reset(&s->tmp);
        cn_buf_reset(&s->frame);
        uint64_t mv = sim_rng_u64(&s->mask_rng);
        uint8_t mask[4];
        memcpy(mask, &mv, 4);
        if (cn_buf_printf(&s->tmp,
                          "{\"id\":\"%s%s.%llu\",\"beacon\":\"%s\",\"rssi\":%d,\"ts\":%lld}",
                          o->id_prefix, p->id, (unsigned long long)q->seq, o->beacon_ids[q->beacon],
                          (int)q->rssi, (long long)q->ts) ||
            ws_encode_frame(&s->frame, WS_OP_TEXT, 1, s->tmp.data, s->tmp.len, mask) ||
            evbuffer_add(ob, s->frame.data, s->frame.len)) {
            sim__fail(s, "out of memory sending a ping");
            return;
        }
        q->sent_ns = cn_mono_ns();
        if (q->sent_before)
            s->r->resends++;
        s->r->frames_sent++;
    }
}

static void sim__send_close(sim *s, sim_player *p, uint16_t code, const char *reason)
{
    uint64_t mv = sim_rng_u64(&s->mask_rng);
    uint8_t mask[4];
    memcpy(mask, &mv, 4);
    cn_buf_reset(&s->frame);
    if (!ws_encode_close(&s->frame, code, reason, strlen(reason), mask))
        bufferevent_write(p->bev, s->frame.data, s->frame.len);
}

void sim__conn_close(sim *s, sim_player *p)
{
    if (p->cstate != SIM_C_OPEN) {
        sim__conn_free(s, p);
        return;
    }
    sim__send_close(s, p, WS_CLOSE_NORMAL, "done");
    s->open--;
    p->cstate = SIM_C_CLOSING;
    s->closing++;
}

/* ---- acks ------------------------------------------------------------------ */

static void sim__ack_one(sim *s, sim_player *p, const char *id, size_t len)
{
    size_t pl = strlen(s->o->id_prefix), il = strlen(p->id);
    uint64_t seq = 0;
    int ok = len > pl + il + 1 && memcmp(id, s->o->id_prefix, pl) == 0 &&
             memcmp(id + pl, p->id, il) == 0 && id[pl + il] == '.' && len - pl - il - 1 <= 19;
    for (size_t i = pl + il + 1; ok && i < len; i++) {
        ok = id[i] >= '0' && id[i] <= '9';
        seq = seq * 10 + (uint64_t)(id[i] - '0');
    }
    if (ok) {
        for (uint32_t i = 0; i < p->nout; i++) {
            if (p->out[i].seq != seq || !p->out[i].sent_ns)
                continue;
            uint64_t us = (cn_mono_ns() - p->out[i].sent_ns) / 1000;
            sim_hist_add(&s->r->lat, us);
            sim_hist_add(&s->win, us);
            memmove(&p->out[i], &p->out[i + 1], (p->nout - i - 1) * sizeof(sim_out));
            p->nout--;
            s->outstanding--;
            s->r->pings_acked++;
            return;
        }
        if (seq < p->next_seq) {
            int waiting = 0; /* sent on an earlier connection, not this one */
            for (uint32_t i = 0; i < p->nout; i++)
                waiting |= p->out[i].seq == seq;
            if (!waiting) {
                s->r->acked_twice++;
                sim__fail(s, "ping %.*s acknowledged twice", (int)len, id);
                return;
            }
        }
    }
    s->r->unknown_acks++;
    sim__fail(s, "ack for an id not sent on this connection: %.*s", (int)(len > 80 ? 80 : len), id);
}

static void sim__on_error_frame(sim *s, sim_player *p, json_t *j)
{
    const char *code = json_string_value(json_object_get(j, "error"));
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *detail = json_string_value(json_object_get(j, "detail"));
    s->r->ping_errors++;
    sim__fail(s, "gateway refused a ping: %s %s (%s)", code ? code : "?", id ? id : "",
              detail ? detail : "");
    if (!id)
        return;
    /* The refused ping is not stored: it will never be acked; drop it
     * so it is counted once, as an error, not again as unacked. */
    size_t il = strlen(id);
    for (uint32_t i = 0; i < p->nout; i++) {
        char want[160];
        int n = snprintf(want, sizeof(want), "%s%s.%llu", s->o->id_prefix, p->id,
                         (unsigned long long)p->out[i].seq);
        if ((size_t)n == il && memcmp(want, id, il) == 0) {
            memmove(&p->out[i], &p->out[i + 1], (p->nout - i - 1) * sizeof(sim_out));
            p->nout--;
            s->outstanding--;
            return;
        }
    }
}

typedef struct sim_ackctx {
    sim *s;
    sim_player *p;
} sim_ackctx;

static void sim__ack_cb(void *ud, const char *id, size_t len)
{
    sim_ackctx *c = ud;
    sim__ack_one(c->s, c->p, id, len);
}

static void sim__on_text(sim *s, sim_player *p, const char *m, size_t n)
{
    sim_ackctx c = {s, p};
    if (sim_parse_acks(m, n, sim__ack_cb, &c) == 0)
        return;
    json_error_t e;
    json_t *j = json_loadb(m, n, 0, &e);
    json_t *ack = j ? json_object_get(j, "ack") : NULL;
    if (json_is_array(ack)) {
        size_t i;
        json_t *v;
        json_array_foreach(ack, i, v)
        {
            if (json_is_string(v))
                sim__ack_one(s, p, json_string_value(v), json_string_length(v));
            else
                s->r->unknown_acks++;
        }
    } else if (j && json_object_get(j, "error")) {
        sim__on_error_frame(s, p, j);
    } else if (j && json_is_array(json_object_get(j, "errors"))) {
        /* several refused pings of one message: one frame */
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(j, "errors"), i, v)
        {
            sim__on_error_frame(s, p, v);
        }
    } else {
        s->r->unknown_acks++;
        sim__fail(s, "unexpected message from the gateway: %.*s", (int)(n > 80 ? 80 : n), m);
    }
    json_decref(j);
}

/* ---- frames in ------------------------------------------------------------ */

/* A close from the gateway: answer it and let the socket go. */
static void sim__on_close(sim *s, sim_player *p, uint16_t code)
{
    const char *reason = p->ctl.len >= 2 ? (const char *)p->ctl.data + 2 : "";
    size_t rl = p->ctl.len >= 2 ? p->ctl.len - 2 : 0;
    if (p->cstate == SIM_C_CLOSING) {
        sim__conn_free(s, p);
        return;
    }
    if (code == WS_CLOSE_NORMAL && rl == 4 && memcmp(reason, "idle", 4) == 0) {
        s->r->idle_closes++;
    } else {
        s->r->other_closes++;
        if (code != WS_CLOSE_GOING_AWAY && code != WS_CLOSE_TRY_LATER)
            sim__fail(s, "gateway closed a connection with %u %.*s", code, (int)rl, reason);
    }
    sim__send_close(s, p, code == WS_CLOSE_NO_STATUS ? WS_CLOSE_NORMAL : code, "");
    bufferevent_flush(p->bev, EV_WRITE, BEV_FLUSH);
    /* 1013 (retry later) and 1001 (draining) ask for a pause before coming back. */
    sim__lost(s, p, code == WS_CLOSE_TRY_LATER || code == WS_CLOSE_GOING_AWAY);
}

/* Feed bytes to the decoder.  @return 0, or -1 when the connection was freed. */
static int sim__feed(sim *s, sim_player *p, unsigned char *buf, size_t n)
{
    size_t off = 0;
    while (off < n) {
        size_t used = 0;
        ws_event ev;
        int rc = ws_decoder_feed(&p->dec, buf + off, n - off, &used, &ev);
        off += used;
        if (rc) {
            s->r->other_closes++;
            sim__fail(s, "bad frame from the gateway: %s", cn_strerror(rc));
            sim__lost(s, p, 1);
            return -1;
        }
        if (ev.type == WS_EV_DATA) {
            if (ev.msg_end && !p->in.len) {
                if (ev.opcode == WS_OP_TEXT)
                    sim__on_text(s, p, (const char *)ev.data, ev.len);
            } else if (cn_buf_append(&p->in, ev.data, ev.len)) {
                sim__fail(s, "out of memory");
                sim__lost(s, p, 1);
                return -1;
            } else if (ev.msg_end) {
                if (ev.opcode == WS_OP_TEXT)
                    sim__on_text(s, p, (const char *)p->in.data, p->in.len);
                cn_buf_reset(&p->in);
            }
        } else if (ev.type == WS_EV_PING || ev.type == WS_EV_PONG || ev.type == WS_EV_CLOSE) {
            /* A close's reason is kept after 2 placeholder bytes (its code
             * arrives in ev.close_code with the last chunk). */
            if (ev.type == WS_EV_CLOSE && !p->ctl.len)
                cn_buf_append(&p->ctl, "\0\0", 2);
            cn_buf_append(&p->ctl, ev.data, ev.len);
            if (!ev.msg_end)
                continue;
            if (ev.type == WS_EV_CLOSE) {
                sim__on_close(s, p, ev.close_code);
                return -1;
            }
            if (ev.type == WS_EV_PING) {
                uint64_t mv = sim_rng_u64(&s->mask_rng);
                uint8_t mask[4];
                memcpy(mask, &mv, 4);
                cn_buf_reset(&s->frame);
                if (!ws_encode_frame(&s->frame, WS_OP_PONG, 1, p->ctl.data, p->ctl.len, mask))
                    bufferevent_write(p->bev, s->frame.data, s->frame.len);
            }
            cn_buf_reset(&p->ctl);
        }
    }
    return 0;
}

static void sim__read_cb(struct bufferevent *bev, void *ud)
{
    sim_player *p = ud;
    sim *s = p->s;
    size_t n;
    while (p->bev == bev && (n = bufferevent_read(bev, s->scratch, sizeof(s->scratch))) > 0) {
        unsigned char *b = s->scratch;
        if (p->cstate == SIM_C_HANDSHAKE) {
            if (cn_buf_append(&p->in, b, n)) {
                sim__lost(s, p, 1);
                return;
            }
            long hl = sim__check_head(s, p);
            if (hl < 0) {
                s->r->connect_failures++;
                sim__lost(s, p, 1);
                return;
            }
            if (hl == 0)
                continue;
            /* Open: bytes after the head are frames already.  They are
             * fed in place from the head buffer (no copy), taken out of
             * p->in first because the decoder may assemble a message
             * there. */
            cn_buf head = p->in;
            p->in = (cn_buf)CN_BUF_INIT;
            sim__connect_slot_free(s);
            p->cstate = SIM_C_OPEN;
            p->failures = 0;
            s->open++;
            s->r->connects++;
            if (s->open > s->r->max_open)
                s->r->max_open = s->open;
            ws_decoder_init(&p->dec, WS_ROLE_CLIENT, 1u << 20);
            sim__conn_flush(s, p);
            int gone = sim__feed(s, p, head.data + hl, head.len - (size_t)hl);
            cn_buf_free(&head);
            if (gone)
                return;
            continue;
        }
        if (sim__feed(s, p, b, n))
            return;
    }
    sim__check_end(s);
}

static void sim__event_cb(struct bufferevent *bev, short what, void *ud)
{
    sim_player *p = ud;
    sim *s = p->s;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        p->cstate = SIM_C_HANDSHAKE;
        if (sim__send_upgrade(s, p)) {
            sim__fail(s, "cannot build the upgrade request (token?)");
            s->r->connect_failures++;
            sim__lost(s, p, 1);
        }
        return;
    }
    if (p->cstate == SIM_C_CONNECTING || p->cstate == SIM_C_HANDSHAKE) {
        s->r->connect_failures++;
        sim__fail(s, "cannot connect to %s: %s", s->host_hdr,
                  (what & BEV_EVENT_ERROR) ? evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR())
                                           : "closed");
    } else if (p->cstate == SIM_C_OPEN) {
        /* Lost without a close frame (1006): a gateway killed or a reset. */
        s->r->other_closes++;
    }
    sim__lost(s, p, 1);
    sim__check_end(s);
}
