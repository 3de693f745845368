/* SPDX-License-Identifier: MIT */
/*
 * ws_frame.c — the RFC 6455 frame decoder: bytes in, events out.
 *
 * Guarantees:
 *  - works across any chunking of the input, down to one byte per call:
 *    the only state is the ws_decoder struct (header bytes gathered so
 *    far, payload bytes left, the mask phase, the UTF-8 DFA state);
 *  - never buffers payload: chunks are unmasked in place in the caller's
 *    input and returned as borrowed (pointer, length) events, so the
 *    caller decides whether and where to assemble a message;
 *  - fails fast: every header rule is checked as soon as the byte that
 *    breaks it arrives (a 1 GiB length is refused at the header, never
 *    read), text is UTF-8 checked chunk by chunk, and an invalid chunk is
 *    never handed out;
 *  - errors are sticky and carry the RFC close code (1002/1007/1009).
 * Enforced: client frames masked (server role), server frames unmasked
 * (client role); RSV1-3 zero (no extension is ever negotiated); opcodes
 * 0,1,2,8,9,10 only; control frames FIN and <= 125 bytes; continuation
 * only inside a fragmented message and no new data message inside one;
 * minimal length encoding and a clear 64-bit MSB (§5.2); close payload
 * not 1 byte, a valid code (§7.4) and a UTF-8 reason; the message size
 * limit summed over fragments.
 *
 * Threads: a decoder belongs to one connection and is used by the thread
 * running that connection's event loop; no locks, no globals.
 * Ownership: the caller owns the ws_decoder and all input bytes.
 * Docs: docs/protocol.md "WebSocket framing".
 */
#include "ws.h"

#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_utf8.h"

#include <string.h>

_Static_assert(sizeof(ws_decoder) <= 64,
               "ws_decoder must stay small: it lives in every idle connection");

enum { ST_HDR = 0, ST_PAYLOAD, ST_CLOSED, ST_FAILED };

/* ------------------------------------------------------------------ */
/* masking                                                             */
/* ------------------------------------------------------------------ */

void ws_mask_bytes(unsigned char *p, size_t n, const uint8_t mask[4], size_t off)
{
    size_t i = 0;
    /* Byte steps until the key phase is 0, then 8 bytes per step. */
    while (i < n && ((off + i) & 3))
        p[i] ^= mask[(off + i) & 3], i++;
    if (n - i >= 8) {
        uint64_t k;
        unsigned char kb[8] = {mask[0], mask[1], mask[2], mask[3],
                               mask[0], mask[1], mask[2], mask[3]};
        memcpy(&k, kb, 8);
        for (; n - i >= 8; i += 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            w ^= k;
            memcpy(p + i, &w, 8);
        }
    }
    for (; i < n; i++)
        p[i] ^= mask[(off + i) & 3];
}

/* ------------------------------------------------------------------ */
/* internal                                                            */
/* ------------------------------------------------------------------ */

static int dec_fail(ws_decoder *d, uint16_t code)
{
    d->st = ST_FAILED;
    d->close_code = code;
    return code == WS_CLOSE_BAD_DATA ? WS_EUTF8 : code == WS_CLOSE_TOO_BIG ? WS_ETOOBIG : WS_EFRAME;
}

static int is_control(uint8_t op)
{
    return (op & 0x8) != 0;
}

/* Check the first two header bytes; returns 0 or an error. */
static int hdr_check_start(ws_decoder *d)
{
    uint8_t b0 = d->hdr[0], b1 = d->hdr[1];
    uint8_t op = b0 & 0x0f;
    d->fin = (b0 & 0x80) != 0;
    d->masked = (b1 & 0x80) != 0;
    d->op = op;
    if (b0 & 0x70)
        return dec_fail(d, WS_CLOSE_PROTOCOL); /* RSV bits without an extension */
    if (op != WS_OP_CONT && op != WS_OP_TEXT && op != WS_OP_BINARY && op != WS_OP_CLOSE &&
        op != WS_OP_PING && op != WS_OP_PONG)
        return dec_fail(d, WS_CLOSE_PROTOCOL);
    if (is_control(op) && (!d->fin || (b1 & 0x7f) > WS_MAX_CONTROL))
        return dec_fail(d, WS_CLOSE_PROTOCOL);
    if (op == WS_OP_CONT && d->msg_op == 0)
        return dec_fail(d, WS_CLOSE_PROTOCOL); /* nothing to continue */
    if ((op == WS_OP_TEXT || op == WS_OP_BINARY) && d->msg_op != 0)
        return dec_fail(d, WS_CLOSE_PROTOCOL); /* new message inside a fragmented one */
    if (d->masked != (d->role == WS_ROLE_SERVER))
        return dec_fail(d, WS_CLOSE_PROTOCOL); /* §5.1: clients mask, servers don't */
    return 0;
}

static uint8_t hdr_need(const ws_decoder *d)
{
    uint8_t len7 = d->hdr[1] & 0x7f;
    uint8_t n = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
    return (uint8_t)(n + (d->masked ? 4 : 0));
}

/* The header is complete: decode the length, apply limits, arm the payload. */
static int hdr_finish(ws_decoder *d)
{
    uint8_t len7 = d->hdr[1] & 0x7f;
    const unsigned char *p = d->hdr + 2;
    uint64_t len = len7;
    if (len7 == 126) {
        len = cn_rd_be16(p);
        p += 2;
        if (len < 126)
            return dec_fail(d, WS_CLOSE_PROTOCOL); /* non-minimal length */
    } else if (len7 == 127) {
        len = cn_rd_be64(p);
        p += 8;
        if (len >> 63)
            return dec_fail(d, WS_CLOSE_PROTOCOL); /* §5.2: MSB must be 0 */
        if (len <= 0xffff)
            return dec_fail(d, WS_CLOSE_PROTOCOL);
    }
    if (d->masked)
        memcpy(d->mask, p, 4);
    if (is_control(d->op)) {
        d->ctl_len = (uint8_t)len;
        if (d->op == WS_OP_CLOSE && len == 1)
            return dec_fail(d, WS_CLOSE_PROTOCOL); /* half a close code */
        d->code_have = 0;
        d->ctl_utf8 = CN_UTF8_ACCEPT;
    } else {
        if (d->op != WS_OP_CONT) {
            d->msg_op = d->op;
            d->msg_len = 0;
            d->utf8 = CN_UTF8_ACCEPT;
        }
        /* Refuse at the header, before reading a byte of an oversized message. */
        if (len > d->max_msg - d->msg_len)
            return dec_fail(d, WS_CLOSE_TOO_BIG);
        d->msg_len += len;
    }
    d->remaining = len;
    d->mask_pos = 0;
    d->hdr_have = 0;
    d->st = ST_PAYLOAD;
    return 0;
}

/* Gather header bytes; returns bytes taken, or an error (negative). */
static long hdr_take(ws_decoder *d, const unsigned char *in, size_t n)
{
    size_t i = 0;
    while (i < n) {
        d->hdr[d->hdr_have++] = in[i++];
        if (d->hdr_have == 2) {
            int rc = hdr_check_start(d);
            if (rc)
                return rc;
        }
        if (d->hdr_have >= 2 && d->hdr_have == hdr_need(d)) {
            int rc = hdr_finish(d);
            return rc ? rc : (long)i;
        }
    }
    return (long)i;
}

static void ev_set(const ws_decoder *d, ws_event *ev, unsigned char *p, size_t len, int frame_end)
{
    ev->data = p;
    ev->len = len;
    ev->frame_end = (uint8_t)frame_end;
    ev->msg_end = 0;
    ev->close_code = 0;
    ev->opcode = d->op == WS_OP_CONT ? d->msg_op : d->op;
    switch (d->op) {
    case WS_OP_PING:
        ev->type = WS_EV_PING;
        break;
    case WS_OP_PONG:
        ev->type = WS_EV_PONG;
        break;
    case WS_OP_CLOSE:
        ev->type = WS_EV_CLOSE;
        break;
    default:
        ev->type = WS_EV_DATA;
        break;
    }
}

/* A chunk of a text/binary frame; k bytes already unmasked. */
static int data_chunk(ws_decoder *d, unsigned char *p, size_t k, ws_event *ev)
{
    int frame_end = d->remaining == 0;
    if (d->msg_op == WS_OP_TEXT) {
        d->utf8 = cn_utf8_feed(d->utf8, p, k);
        if (d->utf8 == CN_UTF8_REJECT)
            return dec_fail(d, WS_CLOSE_BAD_DATA);
        if (frame_end && d->fin && d->utf8 != CN_UTF8_ACCEPT)
            return dec_fail(d, WS_CLOSE_BAD_DATA); /* message ends inside a code point */
    }
    ev_set(d, ev, p, k, frame_end);
    if (frame_end && d->fin) {
        ev->msg_end = 1;
        d->msg_op = 0;
        d->msg_len = 0;
    }
    return 0;
}

/* A chunk of a close frame: peel the 2 code bytes, validate the reason. */
static int close_chunk(ws_decoder *d, unsigned char *p, size_t k, ws_event *ev)
{
    while (d->code_have < 2 && k > 0) {
        d->code_b[d->code_have++] = *p++;
        k--;
    }
    d->ctl_utf8 = cn_utf8_feed(d->ctl_utf8, p, k);
    if (d->ctl_utf8 == CN_UTF8_REJECT)
        return dec_fail(d, WS_CLOSE_BAD_DATA);
    if (d->remaining > 0) {
        if (k > 0)
            ev_set(d, ev, p, k, 0);
        return 0;
    }
    uint16_t code = WS_CLOSE_NO_STATUS;
    if (d->code_have == 2) {
        code = cn_rd_be16(d->code_b);
        if (!ws_close_code_valid(code))
            return dec_fail(d, WS_CLOSE_PROTOCOL);
    }
    if (d->ctl_utf8 != CN_UTF8_ACCEPT)
        return dec_fail(d, WS_CLOSE_BAD_DATA);
    ev_set(d, ev, p, k, 1);
    ev->msg_end = 1;
    ev->close_code = code;
    d->st = ST_CLOSED;
    return 0;
}

/* Consume up to n payload bytes of the current frame. */
static int payload_take(ws_decoder *d, unsigned char *in, size_t n, size_t *took, ws_event *ev)
{
    size_t k = d->remaining < n ? (size_t)d->remaining : n;
    *took = k;
    if (k == 0 && d->remaining > 0)
        return 0; /* need more input */
    if (d->masked) {
        ws_mask_bytes(in, k, d->mask, d->mask_pos);
        d->mask_pos = (uint8_t)((d->mask_pos + k) & 3);
    }
    d->remaining -= k;
    int rc;
    if (d->op == WS_OP_CLOSE) {
        rc = close_chunk(d, in, k, ev);
    } else if (is_control(d->op)) {
        ev_set(d, ev, in, k, d->remaining == 0);
        ev->msg_end = ev->frame_end;
        rc = 0;
    } else {
        rc = data_chunk(d, in, k, ev);
    }
    if (rc == 0 && d->remaining == 0 && d->st == ST_PAYLOAD)
        d->st = ST_HDR;
    return rc;
}

/* ------------------------------------------------------------------ */
/* API                                                                 */
/* ------------------------------------------------------------------ */

void ws_decoder_init(ws_decoder *d, enum ws_role role, uint64_t max_msg)
{
    memset(d, 0, sizeof(*d));
    d->role = (uint8_t)role;
    d->max_msg = max_msg;
    d->st = ST_HDR;
}

int ws_decoder_feed(ws_decoder *d, unsigned char *in, size_t n, size_t *used, ws_event *ev)
{
    size_t i = 0;
    memset(ev, 0, sizeof(*ev));
    *used = 0;
    if (d->st == ST_FAILED)
        return dec_fail(d, d->close_code);
    if (d->st == ST_CLOSED)
        return CN_ECLOSED;
    if (d->st == ST_HDR) {
        long r = hdr_take(d, in, n);
        if (r < 0)
            return (int)r;
        i = (size_t)r;
        if (d->st == ST_HDR) {
            *used = i;
            return 0; /* header still incomplete */
        }
    }
    size_t took = 0;
    int rc = payload_take(d, in + i, n - i, &took, ev);
    *used = i + took;
    return rc;
}

uint16_t ws_decoder_close_code(const ws_decoder *d)
{
    return d->st == ST_FAILED ? d->close_code : WS_CLOSE_NORMAL;
}

int ws_decoder_idle(const ws_decoder *d)
{
    return d->st == ST_HDR && d->hdr_have == 0 && d->msg_op == 0;
}
