/* SPDX-License-Identifier: MIT */
/*
 * ws_frame_enc.c — the RFC 6455 frame encoder: server frames (unmasked)
 * and masked client frames (for tests and the load generator).
 *
 * Guarantees: headers use the minimal length encoding (§5.2); control
 * frames are never fragmented nor longer than 125 bytes; close frames only
 * carry codes a peer may send and a UTF-8 reason of at most 123 bytes.  On
 * any error nothing is appended.  Pure; any thread; the caller owns out.
 */
#include "ws.h"

#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_utf8.h"

#include <string.h>

size_t ws_frame_header(unsigned char out[WS_MAX_HEADER], int fin, enum ws_opcode op, uint64_t len,
                       const uint8_t *mask)
{
    size_t n = 2;
    out[0] = (unsigned char)((fin ? 0x80 : 0) | (op & 0x0f));
    unsigned char m = mask ? 0x80 : 0;
    if (len < 126) {
        out[1] = (unsigned char)(m | len);
    } else if (len <= 0xffff) {
        out[1] = m | 126;
        cn_wr_be16(out + 2, (uint16_t)len);
        n = 4;
    } else {
        out[1] = m | 127;
        cn_wr_be64(out + 2, len);
        n = 10;
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

static int op_valid(int op)
{
    return op == WS_OP_CONT || op == WS_OP_TEXT || op == WS_OP_BINARY || op == WS_OP_CLOSE ||
           op == WS_OP_PING || op == WS_OP_PONG;
}

int ws_encode_frame(cn_buf *out, enum ws_opcode op, int fin, const void *payload, size_t len,
                    const uint8_t *mask)
{
    if (!op_valid(op))
        return CN_EINVAL;
    if ((op & 0x8) && (!fin || len > WS_MAX_CONTROL))
        return CN_EINVAL;
    unsigned char hdr[WS_MAX_HEADER];
    size_t hl = ws_frame_header(hdr, fin, op, len, mask);
    if (len > SIZE_MAX - hl || cn_buf_reserve(out, hl + len))
        return CN_ENOMEM;
    memcpy(out->data + out->len, hdr, hl);
    if (len)
        memcpy(out->data + out->len + hl, payload, len);
    if (mask)
        ws_mask_bytes(out->data + out->len + hl, len, mask, 0);
    out->len += hl + len;
    return 0;
}

int ws_encode_close(cn_buf *out, uint16_t code, const char *reason, size_t rlen,
                    const uint8_t *mask)
{
    unsigned char body[WS_MAX_CONTROL];
    if (!reason)
        rlen = 0;
    if (!ws_close_code_valid(code) || rlen > WS_MAX_CONTROL - 2)
        return CN_EINVAL;
    if (!cn_utf8_valid((const unsigned char *)reason, rlen))
        return CN_EINVAL;
    cn_wr_be16(body, code);
    if (rlen)
        memcpy(body + 2, reason, rlen);
    return ws_encode_frame(out, WS_OP_CLOSE, 1, body, rlen + 2, mask);
}
