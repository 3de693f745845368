/* SPDX-License-Identifier: MIT */
/*
 * gw_msg.c — an open WebSocket connection's input: feed the bytes of a
 * read to the connection's ws_decoder, answer pings with pongs and close
 * frames with close frames, and turn each complete data message into
 * pings (gw_ping_parse_json / _pb) that are staged for append; malformed
 * pings get one error frame per message at once (queued: it leaves with
 * the connection's other output at the end of the wake), valid ones are
 * acked only later, by gw_stage.c, once durable.
 *
 * Guarantees: a message that ends inside the read is parsed in place
 * (payload unmasked in the scratch buffer); only a message split across
 * reads is gathered into c->in, which is freed when the message ends.
 * Decoder errors close with their RFC 6455 code and stop reading.
 * Loop thread only.
 */
#include "gw_server_int.h"

#include "cn_err.h"
#include "cn_time.h"

#include <string.h>

static enum gw_disc disc_for_code(uint16_t code)
{
    switch (code) {
    case WS_CLOSE_BAD_DATA:
        return GW_DISC_BAD_UTF8;
    case WS_CLOSE_TOO_BIG:
        return GW_DISC_TOO_BIG;
    case WS_CLOSE_UNSUPPORTED:
        return GW_DISC_UNSUPPORTED;
    case WS_CLOSE_TRY_LATER:
        return GW_DISC_OVERLOAD;
    default:
        return GW_DISC_PROTOCOL;
    }
}

/* Queue one server frame (written with the connection's other output at
 * the end of the wake).  @return 0 or -1 if the connection is gone. */
static int msg_send_frame(gw_server *s, gw_conn *c, enum ws_opcode op, const void *p, size_t n,
                          int is_err)
{
    cn_buf_reset(&s->frame);
    if (ws_encode_frame(&s->frame, op, 1, p, n, NULL)) {
        gw__conn_abort(s, c, GW_DISC_OVERLOAD);
        return -1;
    }
    uint32_t gen = c->gen;
    return gw__conn_queue(s, c, s->frame.data, s->frame.len, is_err) || c->gen != gen ? -1 : 0;
}

/* The pings of a message that were refused: ONE error frame for all of
 * them (a protobuf Ack with no ids, or the JSON error object, or
 * {"errors":[...]} for several), counted in flight until written, so a
 * message of 64 refused pings costs what one ack costs. */
static int msg_send_errors(gw_server *s, gw_conn *c, int binary)
{
    const gw_ping_batch *b = &s->batch;
    for (size_t i = 0; i < b->nerr; i++)
        gw__metrics_ping_error(&s->m, b->errs[i].code);
    cn_buf_reset(&s->tmp);
    int rc = binary        ? gw_ping_ack_pb(&s->tmp, NULL, 0, b->errs, b->nerr)
             : b->nerr > 1 ? gw_ping_errors_json(&s->tmp, b->errs, b->nerr)
                           : gw_ping_error_json(&s->tmp, &b->errs[0]);
    if (rc) {
        gw__conn_close_ws(s, c, WS_CLOSE_TRY_LATER, "overloaded", GW_DISC_OVERLOAD);
        return -1;
    }
    s->m.error_frames++;
    return msg_send_frame(s, c, binary ? WS_OP_BINARY : WS_OP_TEXT, s->tmp.data, s->tmp.len, 1);
}

static void msg_complete(gw_server *s, gw_conn *c, uint8_t opcode, const unsigned char *p, size_t n)
{
    int binary = opcode == WS_OP_BINARY;
    s->m.frames_in++;
    int64_t now = cn_now_ms();
    int rc = binary ? gw_ping_parse_pb(p, n, &s->plim, now, &s->batch)
                    : gw_ping_parse_json((const char *)p, n, &s->plim, now, &s->batch);
    if (rc) {
        gw__conn_close_ws(s, c, ws_close_code_for(rc), "internal error", GW_DISC_OVERLOAD);
        return;
    }
    if (s->batch.nerr && msg_send_errors(s, c, binary))
        return;
    if (!s->batch.n)
        return;
    if (gw__stage_frame(s, c, s->batch.pings, s->batch.n, binary)) {
        gw__conn_close_ws(s, c, WS_CLOSE_TRY_LATER, "overloaded", GW_DISC_OVERLOAD);
        return;
    }
    s->m.pings_in += s->batch.n;
    /* The idle clock counts from the last ping, not the last frame or
     * ack (docs/protocol.md: idle close). */
    c->deadline_ms = gw__now_ms() + s->o.idle_close_ms;
}

/* Gather a chunk of a control frame; @return 1 when p/n hold the whole payload. */
static int msg_ctl_chunk(gw_server *s, gw_conn *c, const ws_event *ev, const unsigned char **p,
                         size_t *n)
{
    if (ev->msg_end && !c->ctl.len) {
        *p = ev->data;
        *n = ev->len;
        return 1;
    }
    if (gw__buf_append(s, &c->ctl, ev->data, ev->len))
        return -1;
    if (!ev->msg_end)
        return 0;
    *p = c->ctl.data;
    *n = c->ctl.len;
    return 1;
}

/* @return 0 to go on, -1 when the connection stopped reading (closing or gone). */
static int msg_event(gw_server *s, gw_conn *c, const ws_event *ev)
{
    const unsigned char *p;
    size_t n;
    int r;
    switch (ev->type) {
    case WS_EV_DATA:
        if (ev->msg_end && !(c->flags & GW_CF_MSG_OPEN)) {
            msg_complete(s, c, ev->opcode, ev->data, ev->len); /* the common case: in place */
        } else {
            if (gw__buf_append(s, &c->in, ev->data, ev->len)) {
                gw__conn_close_ws(s, c, WS_CLOSE_TRY_LATER, "overloaded", GW_DISC_OVERLOAD);
                return -1;
            }
            c->flags |= GW_CF_MSG_OPEN;
            if (!ev->msg_end)
                return 0;
            c->flags &= (uint8_t)~GW_CF_MSG_OPEN;
            /* Process from the connection's buffer, then free it. */
            cn_buf msg = c->in;
            c->in = (cn_buf)CN_BUF_INIT;
            msg_complete(s, c, ev->opcode, msg.data, msg.len);
            s->m.buffer_bytes -= msg.cap;
            cn_buf_free(&msg);
        }
        return c->state == GW_ST_OPEN ? 0 : -1;
    case WS_EV_PING:
        r = msg_ctl_chunk(s, c, ev, &p, &n);
        if (r < 0) {
            gw__conn_close_ws(s, c, WS_CLOSE_TRY_LATER, "overloaded", GW_DISC_OVERLOAD);
            return -1;
        }
        if (r == 1) {
            /* Copy: the frame staging buffer is reused by the send. */
            unsigned char pong[WS_MAX_CONTROL];
            memcpy(pong, p, n);
            gw__buf_free(s, &c->ctl);
            if (msg_send_frame(s, c, WS_OP_PONG, pong, n, 0))
                return -1;
        }
        return 0;
    case WS_EV_CLOSE:
        if (ev->msg_end) {
            /* Echo the peer's code (RFC 6455 §5.5.1); none → 1000. */
            uint16_t code = ev->close_code == WS_CLOSE_NO_STATUS ? WS_CLOSE_NORMAL : ev->close_code;
            gw__conn_close_ws(s, c, code, NULL, GW_DISC_PEER_CLOSE);
            return -1;
        }
        return 0;
    default: /* pongs: nothing to do */
        return 0;
    }
}

void gw__ws_input(gw_server *s, gw_conn *c, unsigned char *p, size_t n)
{
    size_t off = 0;
    uint32_t gen = c->gen;
    while (off < n) {
        ws_event ev;
        size_t used = 0;
        int rc = ws_decoder_feed(&c->dec, p + off, n - off, &used, &ev);
        off += used;
        if (rc) {
            uint16_t code = ws_decoder_close_code(&c->dec);
            gw__conn_close_ws(s, c, code, cn_strerror(rc), disc_for_code(code));
            return;
        }
        if (ev.type == WS_EV_NONE)
            break;
        if (msg_event(s, c, &ev) || c->gen != gen)
            return;
        if (used == 0 && ev.type == WS_EV_NONE)
            break;
    }
}
