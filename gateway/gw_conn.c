/* SPDX-License-Identifier: MIT */
/*
 * gw_conn.c — one gateway connection on the loop: its single libevent
 * event (read, write when output is pending, and the deadline as timeout),
 * reads into the loop's scratch buffer, writes with a bounded overflow
 * buffer, backpressure parking, and the close handshake.
 *
 * On a TLS listener the same paths run through gw_tls.c (the handshake
 * first, then SSL_read/SSL_write in place of read/write); on a plain one
 * the only difference is one test of s->ssl per read and write.
 *
 * Guarantees: an idle connection holds no heap memory (its cn_bufs are
 * freed as soon as what they hold completes or is written); the deadline
 * (handshake, idle, linger) is re-armed exactly after every activation, so
 * idle close happens within --idle-close of the last ping whatever the
 * peer sends meanwhile; after gw__conn_abort the slot's generation has
 * changed, so tickets naming the old connection find nothing.
 * Loop thread only.  The slot belongs to gw_server's table.
 */
#include "gw_server_int.h"

#include "cn_err.h"
#include "cn_time.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define GW_EV_ASSIGNED 0x80

int64_t gw__now_ms(void)
{
    return (int64_t)(cn_mono_ns() / 1000000u);
}

void gw__buf_track(gw_server *s, cn_buf *b, size_t before)
{
    s->m.buffer_bytes += b->cap - before;
}

int gw__buf_append(gw_server *s, cn_buf *b, const void *p, size_t n)
{
    if (s->o.max_buffer_bytes && b->cap - b->len < n) {
        /* The capacity cn_buf will grow to (doubling from 64): the budget
         * holds for what is really allocated. */
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n && cap <= SIZE_MAX / 2)
            cap *= 2;
        if (s->m.buffer_bytes + (cap - b->cap) > s->o.max_buffer_bytes) {
            s->m.buffer_budget_refused++;
            return CN_EOVERLOAD;
        }
    }
    size_t before = b->cap;
    if (cn_buf_append(b, p, n))
        return CN_ENOMEM;
    gw__buf_track(s, b, before);
    return 0;
}

void gw__buf_free(gw_server *s, cn_buf *b)
{
    s->m.buffer_bytes -= b->cap;
    cn_buf_free(b);
}

/* read(2)/write(2), or their TLS equivalents on a TLS listener. */
static ssize_t conn_recv(gw_server *s, gw_conn *c, void *p, size_t n)
{
    if (s->ssl)
        return gw__tls_read(s, c, p, n);
    return read(c->fd, p, n);
}

static ssize_t conn_write(gw_server *s, gw_conn *c, const void *p, size_t n)
{
    s->m.sock_writes++;
    if (s->ssl)
        return gw__tls_write(s, c, p, n);
    return write(c->fd, p, n);
}

/* Our last bytes are out: close_notify (TLS), then half-close. */
static void conn_shut_wr(gw_server *s, gw_conn *c)
{
    if (s->ssl)
        gw__tls_close_notify(s, c);
    shutdown(c->fd, SHUT_WR);
    c->flags |= GW_CF_SHUT;
}

void gw__conn_arm(gw_server *s, gw_conn *c)
{
    short want = 0;
    if (c->state == GW_ST_HEAD || c->state == GW_ST_CLOSING || c->state == GW_ST_TLS ||
        c->state == GW_ST_PROXY)
        want |= EV_READ;
    if (c->state == GW_ST_OPEN && !(c->flags & GW_CF_PARKED) && !s->draining)
        want |= EV_READ;
    if (c->out.len || (c->flags & GW_CF_TLS_WANT_W))
        want |= EV_WRITE;
    int64_t wait = c->deadline_ms - gw__now_ms();
    if (wait < 0)
        wait = 0;
    if ((want | GW_EV_ASSIGNED) != c->evflags) {
        if (c->evflags)
            event_del(&c->ev);
        event_assign(&c->ev, s->base, c->fd, (short)(want | EV_PERSIST), gw__conn_event, c);
        c->evflags = (uint8_t)(want | GW_EV_ASSIGNED);
    }
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)((wait % 1000) * 1000)};
    event_add(&c->ev, &tv);
}

void gw__conn_abort(gw_server *s, gw_conn *c, enum gw_disc why)
{
    if (c->state == GW_ST_FREE)
        return;
    s->m.disc[why]++;
    if (c->evflags)
        event_del(&c->ev);
    if (s->ssl)
        gw__tls_free(s, c); /* NULL after a hand-over too */
    if (c->fd >= 0)         /* -1: handed over to another owner (gw_server_set_http_other) */
        close(c->fd);
    gw__buf_free(s, &c->in);
    gw__buf_free(s, &c->ctl);
    gw__buf_free(s, &c->out);
    c->out_off = 0;
    c->errq = 0;
    if (!(c->flags & GW_CF_UNCOUNTED))
        gw__iptab_del(&s->ips, c->addr);
    if (gw__half_open(c->state))
        s->half_open--;
    if (c->flags & GW_CF_PARKED)
        s->nparked--;
    c->state = GW_ST_FREE;
    c->gen++;
    c->flags = 0;
    c->evflags = 0;
    c->inflight = 0;
    c->fd = -1;
    c->next = s->free_head;
    s->free_head = (uint32_t)(c - s->conns);
    s->nopen--;
    if (s->draining)
        gw__server_maybe_drained(s);
}

static int conn_must_wait(gw_server *s, gw_conn *c);

/* Every error frame of c is written: they no longer count in flight, so
 * a connection parked for them may be read again, and a draining one
 * with nothing else in flight closes.  @return 0, or -1 if c is gone. */
static int conn_errors_written(gw_server *s, gw_conn *c)
{
    c->inflight = (uint16_t)(c->inflight - c->errq);
    c->errq = 0;
    if (c->state != GW_ST_OPEN)
        return 0;
    if ((c->flags & GW_CF_PARKED) && !conn_must_wait(s, c))
        gw__conn_unpark(s, c);
    if (s->draining && !c->inflight) {
        uint32_t gen = c->gen;
        gw__conn_close_ws(s, c, WS_CLOSE_GOING_AWAY, "draining", GW_DISC_DRAIN);
        return c->gen != gen || c->state == GW_ST_FREE ? -1 : 0;
    }
    return 0;
}

/* Write pending output.  What the kernel took is skipped by c->out_off;
 * the buffer is compacted only once that is more than half of it, so a
 * slow reader draining a full buffer a socket's worth at a time costs
 * linear copying, not a memmove of the rest per write.
 * @return 0, or -1 if the connection is gone. */
static int conn_flush(gw_server *s, gw_conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t r = conn_write(s, c, c->out.data + c->out_off, c->out.len - c->out_off);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (c->out_off > c->out.len / 2) {
                    cn_buf_consume(&c->out, c->out_off);
                    c->out_off = 0;
                }
                return 0;
            }
            if (errno == EINTR)
                continue;
            gw__conn_abort(s, c,
                           c->state == GW_ST_CLOSING ? (enum gw_disc)c->disc : GW_DISC_IO_ERROR);
            return -1;
        }
        c->out_off += (uint32_t)r;
    }
    c->out_off = 0;
    c->out.len = 0;
    gw__buf_free(s, &c->out);
    if (c->errq && conn_errors_written(s, c))
        return -1;
    if (c->state == GW_ST_CLOSING && !(c->flags & GW_CF_SHUT) && !c->out.len)
        conn_shut_wr(s, c);
    return 0;
}

int gw__conn_queue(gw_server *s, gw_conn *c, const void *p, size_t n, int is_err)
{
    int waiting = c->out_off < c->out.len; /* the socket was full: EV_WRITE is armed */
    if (c->out.len - c->out_off + n > GW_OUT_MAX) {
        gw__conn_abort(s, c, GW_DISC_SLOW_READER);
        return -1;
    }
    if (gw__buf_append(s, &c->out, p, n)) {
        gw__conn_abort(s, c, GW_DISC_OVERLOAD);
        return -1;
    }
    if (is_err) {
        c->errq++;
        c->inflight++;
    }
    if (waiting || (c->flags & GW_CF_QUEUED))
        return 0;
    if (s->noutq == s->nconns) { /* only stale entries can fill it: write now */
        uint32_t gen = c->gen;
        if (conn_flush(s, c) || c->gen != gen)
            return -1;
        gw__conn_arm(s, c);
        return 0;
    }
    c->flags |= GW_CF_QUEUED;
    if (!s->noutq)
        event_active(s->out_ev, EV_TIMEOUT, 0);
    s->outq[s->noutq++] = (uint32_t)(c - s->conns);
    return 0;
}

void gw__conn_out_flush(evutil_socket_t fd, short what, void *arg)
{
    gw_server *s = arg;
    (void)fd;
    (void)what;
    /* An entry whose connection closed (flag cleared) or was replaced in
     * its slot and queued again (a second entry) is skipped. */
    for (uint32_t i = 0; i < s->noutq; i++) {
        gw_conn *c = &s->conns[s->outq[i]];
        if (!(c->flags & GW_CF_QUEUED))
            continue;
        c->flags &= (uint8_t)~GW_CF_QUEUED;
        uint32_t gen = c->gen;
        if (conn_flush(s, c) || c->gen != gen || c->state == GW_ST_FREE)
            continue;
        gw__conn_arm(s, c);
    }
    s->noutq = 0;
}

int gw__conn_send(gw_server *s, gw_conn *c, const void *p, size_t n)
{
    size_t done = 0;
    if (!c->out.len) {
        while (done < n) {
            ssize_t r = conn_write(s, c, (const char *)p + done, n - done);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                gw__conn_abort(s, c, GW_DISC_IO_ERROR);
                return -1;
            }
            done += (size_t)r;
        }
        if (done == n)
            return 0;
    }
    if (c->out.len - c->out_off + (n - done) > GW_OUT_MAX) {
        gw__conn_abort(s, c, GW_DISC_SLOW_READER);
        return -1;
    }
    if (gw__buf_append(s, &c->out, (const char *)p + done, n - done)) {
        gw__conn_abort(s, c, GW_DISC_OVERLOAD);
        return -1;
    }
    gw__conn_arm(s, c);
    return 0;
}

void gw__conn_finish(gw_server *s, gw_conn *c, const void *p, size_t n, enum gw_disc why)
{
    if (c->state != GW_ST_OPEN)
        c->errq = 0; /* it held head_scan */
    if (gw__half_open(c->state))
        s->half_open--;
    c->state = GW_ST_CLOSING;
    c->disc = (uint8_t)why;
    c->deadline_ms = gw__now_ms() + GW_LINGER_MS;
    gw__buf_free(s, &c->in);
    gw__buf_free(s, &c->ctl);
    uint32_t gen = c->gen;
    if (gw__conn_send(s, c, p, n) || c->gen != gen)
        return;
    if (!c->out.len) {
        /* Half-close and keep reading until the peer's EOF: closing with
         * unread input would send a RST that can destroy our last bytes
         * before the peer reads them. */
        conn_shut_wr(s, c);
    }
    gw__conn_arm(s, c);
}

void gw__conn_close_ws(gw_server *s, gw_conn *c, uint16_t code, const char *reason,
                       enum gw_disc why)
{
    if (c->state == GW_ST_CLOSING)
        return; /* our close frame is already out: let it reach the peer */
    if (c->state != GW_ST_OPEN) {
        gw__conn_abort(s, c, why);
        return;
    }
    cn_buf_reset(&s->frame);
    if (ws_encode_close(&s->frame, code, reason, reason ? strlen(reason) : 0, NULL)) {
        gw__conn_abort(s, c, why);
        return;
    }
    gw__conn_finish(s, c, s->frame.data, s->frame.len, why);
}

static void conn_park(gw_server *s, gw_conn *c)
{
    if (s->nparked_ents == s->nconns)
        gw__server_parked_compact(s); /* leaves room: c itself is not parked */
    c->flags |= GW_CF_PARKED;
    c->parked_ms = gw__now_ms();
    s->parked[s->nparked_ents].slot = (uint32_t)(c - s->conns);
    s->parked[s->nparked_ents].gen = c->gen;
    s->nparked_ents++;
    s->nparked++;
}

void gw__conn_unpark(gw_server *s, gw_conn *c)
{
    c->flags &= (uint8_t)~GW_CF_PARKED;
    s->nparked--;
    gw__conn_arm(s, c);
}

/* Backpressure: an open connection is not read while the process has too
 * many pings in flight or it has too many frames waiting for acks. */
static int conn_must_wait(gw_server *s, gw_conn *c)
{
    return c->state == GW_ST_OPEN &&
           (s->inflight_pings >= s->o.max_inflight || c->inflight >= GW_CONN_MAX_INFLIGHT);
}

/* A TLS handshake step; once it is done the request head may already be
 * waiting, so the first read is tried at once.  @return 1 to go on
 * reading, 0 if not (waiting, or the connection is gone). */
static int conn_tls_step(gw_server *s, gw_conn *c)
{
    int rc = gw__tls_handshake(s, c);
    if (rc == CN_WANT_MORE)
        return 0;
    if (rc) {
        /* CN_EOVERLOAD (too many handshakes in progress), CN_ENOMEM */
        gw__conn_abort(s, c, rc == CN_EPROTO ? GW_DISC_HANDSHAKE_ERROR : GW_DISC_OVERLOAD);
        return 0;
    }
    c->state = GW_ST_HEAD;
    return 1;
}

static void conn_read(gw_server *s, gw_conn *c)
{
    if (c->state == GW_ST_PROXY) {
        gw__conn_proxy_read(s, c);
        return;
    }
    if (c->state == GW_ST_TLS && !conn_tls_step(s, c))
        return;
    if (conn_must_wait(s, c)) {
        if (!(c->flags & GW_CF_PARKED))
            conn_park(s, c);
        return;
    }
    ssize_t r;
    do
        r = conn_recv(s, c, s->scratch, s->scratch_cap);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            gw__conn_abort(s, c,
                           c->state == GW_ST_CLOSING ? (enum gw_disc)c->disc : GW_DISC_IO_ERROR);
        return;
    }
    if (r == 0) {
        gw__conn_abort(s, c, c->state == GW_ST_CLOSING ? (enum gw_disc)c->disc : GW_DISC_EOF);
        return;
    }
    if (c->state == GW_ST_HEAD)
        gw__http_input(s, c, s->scratch, (size_t)r);
    else if (c->state == GW_ST_OPEN)
        gw__ws_input(s, c, s->scratch, (size_t)r);
    /* GW_ST_CLOSING: discard until EOF. */
}

static void conn_deadline(gw_server *s, gw_conn *c, int64_t now)
{
    switch (c->state) {
    case GW_ST_PROXY:
        s->m.pp_bad++;
        gw__conn_abort(s, c, GW_DISC_HANDSHAKE_TIMEOUT);
        break;
    case GW_ST_TLS:
        s->m.tls_handshake_timeouts++;
        gw__conn_abort(s, c, GW_DISC_HANDSHAKE_TIMEOUT);
        break;
    case GW_ST_HEAD:
    case GW_ST_AUTH: /* the verifier is backed up that far: its answer will find nothing */
        gw__conn_abort(s, c, GW_DISC_HANDSHAKE_TIMEOUT);
        break;
    case GW_ST_OPEN:
        if (c->inflight || (c->flags & GW_CF_PARKED)) {
            /* Pings are on their way to the log: their acks come first;
             * a stalled log is the stall-close timer's business. */
            c->deadline_ms = now + 100;
            break;
        }
        gw__conn_close_ws(s, c, WS_CLOSE_NORMAL, "idle", GW_DISC_IDLE);
        break;
    default: /* the peer did not finish closing */
        gw__conn_abort(s, c, (enum gw_disc)c->disc);
        break;
    }
}

/* The PROXY header is read with MSG_PEEK and only its own bytes are
 * taken from the socket: what follows (a TLS ClientHello, a request
 * head) stays for the next layer.  A header split across reads is kept
 * in c->in (at most GW_PP_MAX bytes) until it completes. */
void gw__conn_proxy_read(gw_server *s, gw_conn *c)
{
    unsigned char *buf = s->scratch;
    size_t have = c->in.len;
    if (have)
        memcpy(buf, c->in.data, have);
    ssize_t r;
    do
        r = recv(c->fd, buf + have, GW_PP_MAX - have, MSG_PEEK);
    while (r < 0 && errno == EINTR);
    if (r <= 0) {
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            gw__conn_abort(s, c, r == 0 ? GW_DISC_EOF : GW_DISC_IO_ERROR);
        return;
    }
    gw_pp_hdr h;
    int rc = gw_pp_parse(buf, have + (size_t)r, &h);
    if (rc != 0 && rc != CN_WANT_MORE) {
        s->m.pp_bad++;
        gw__conn_abort(s, c, GW_DISC_HANDSHAKE_ERROR);
        return;
    }
    /* What is ours: the rest of the header, or all of it so far. */
    size_t take = rc == 0 ? h.len - have : (size_t)r;
    if (recv(c->fd, buf + have, take, 0) != (ssize_t)take) { /* peeked: it is there */
        gw__conn_abort(s, c, GW_DISC_IO_ERROR);
        return;
    }
    if (rc == CN_WANT_MORE) {
        if (gw__buf_append(s, &c->in, buf + have, take))
            gw__conn_abort(s, c, GW_DISC_OVERLOAD);
        return;
    }
    gw__buf_free(s, &c->in);
    c->state = s->tls_ctx ? GW_ST_TLS : GW_ST_HEAD;
    if (!h.has_addr) {
        s->m.pp_local++; /* the proxy's own connection: counted at the head */
        return;
    }
    s->m.pp_ok++;
    if (s->ntrusted && gw_cidrs_match(s->trusted, s->ntrusted, h.addr)) {
        gw__addr_key16(h.addr, c->addr); /* a proxy behind the proxy: X-Forwarded-For next */
        return;
    }
    c->flags &= (uint8_t)~GW_CF_VIA_PROXY;
    if (gw__server_count_client(s, c, h.addr, "proxy protocol")) {
        gw__refuse_write(s, c->fd, 429);
        gw__conn_abort(s, c, GW_DISC_LIMIT);
    }
}

void gw__conn_event(evutil_socket_t fd, short what, void *arg)
{
    gw_conn *c = arg;
    gw_server *s = c->srv;
    uint32_t gen = c->gen;
    (void)fd;
    if ((what & EV_WRITE) && (c->flags & GW_CF_TLS_WANT_W)) {
        /* TLS wanted to write to go on reading (or handshaking): retry */
        c->flags &= (uint8_t)~GW_CF_TLS_WANT_W;
        what |= EV_READ;
    }
    if ((what & EV_WRITE) && conn_flush(s, c))
        return;
    if ((what & EV_READ) && c->gen == gen && c->state != GW_ST_FREE)
        conn_read(s, c);
    if (c->gen != gen || c->state == GW_ST_FREE)
        return;
    int64_t now = gw__now_ms();
    if (now >= c->deadline_ms)
        conn_deadline(s, c, now);
    if (c->gen == gen && c->state != GW_ST_FREE)
        gw__conn_arm(s, c);
}
