/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ws_frame.c — libFuzzer target for the WebSocket frame decoder.
 * Input: byte 0 picks the role (bit 0) and the chunk size (bits 1..7, 1-128)
 * the rest is fed as the peer's byte stream.  Checks the decoder's
 * contract on every input: consumption never exceeds what was given,
 * events point inside the input, control payloads stay <= 125 bytes,
 * messages stay under the limit, every completed text message and close
 * reason is valid UTF-8, a close code is valid, and feeding the same bytes
 * in one piece gives the same verdict and messages as feeding them in chunks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cn_crc32c.h"
#include "ws.h"
#include "cn_utf8.h"

#define FUZZ_MAX_MSG 4096

typedef struct fz_out {
    uint32_t digest; /* CRC of everything delivered, in order, with event kinds */
    int err;
    uint16_t code;
} fz_out;

static void fz_check_event(const ws_event *ev, const unsigned char *buf, size_t n, size_t *msg,
                           size_t *ctl, uint8_t *u8)
{
    if (ev->len && (ev->data < buf || ev->data + ev->len > buf + n))
        abort();
    if (ev->type == WS_EV_DATA) {
        *msg += ev->len;
        if (*msg > FUZZ_MAX_MSG)
            abort();
        if (ev->opcode == WS_OP_TEXT) {
            *u8 = cn_utf8_feed(*u8, ev->data, ev->len);
            if (*u8 == CN_UTF8_REJECT || (ev->msg_end && *u8 != CN_UTF8_ACCEPT))
                abort();
        } else if (ev->opcode != WS_OP_BINARY) {
            abort();
        }
        if (ev->msg_end)
            *msg = 0, *u8 = CN_UTF8_ACCEPT;
        return;
    }
    *ctl += ev->len;
    if (*ctl > WS_MAX_CONTROL)
        abort();
    if (ev->msg_end) {
        if (ev->type == WS_EV_CLOSE && ev->close_code != WS_CLOSE_NO_STATUS &&
            !ws_close_code_valid(ev->close_code))
            abort();
        *ctl = 0;
    }
}

static fz_out fz_run(int role, const unsigned char *data, size_t n, size_t chunk)
{
    fz_out o = {0, 0, 0};
    ws_decoder d;
    ws_decoder_init(&d, (enum ws_role)role, FUZZ_MAX_MSG);
    size_t msg = 0, ctl = 0;
    uint8_t u8 = CN_UTF8_ACCEPT;
    for (size_t off = 0; off < n && !o.err; off += chunk) {
        size_t len = n - off < chunk ? n - off : chunk;
        unsigned char *c = malloc(len);
        memcpy(c, data + off, len);
        size_t pos = 0;
        while (pos < len) {
            size_t used;
            ws_event ev;
            int rc = ws_decoder_feed(&d, c + pos, len - pos, &used, &ev);
            if (rc) {
                o.err = rc;
                o.code = ws_decoder_close_code(&d);
                break;
            }
            if (used > len - pos)
                abort();
            if (ev.type == WS_EV_NONE && pos + used != len)
                abort();
            if (ev.type != WS_EV_NONE) {
                fz_check_event(&ev, c + pos, len - pos, &msg, &ctl, &u8);
                /* CRC extends byte by byte, so the digest does not depend
                 * on how payload was split; tags only at message ends. */
                o.digest = cn_crc32c(o.digest, ev.data, ev.len);
                if (ev.msg_end) {
                    unsigned char tag[4] = {(unsigned char)ev.type, ev.opcode,
                                            (unsigned char)(ev.close_code >> 8),
                                            (unsigned char)ev.close_code};
                    o.digest = cn_crc32c(o.digest, tag, sizeof(tag));
                }
            }
            pos += used;
            if (ev.type == WS_EV_NONE)
                break;
        }
        free(c);
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int role = data[0] & 1;
    size_t chunk = (size_t)(data[0] >> 1) + 1;
    fz_out a = fz_run(role, data + 1, size - 1, chunk);
    fz_out b = fz_run(role, data + 1, size - 1, size);
    /* Same verdict however the stream is chunked; on success the same
     * messages.  (After an error, how much was delivered before it depends
     * on the chunking, so digests are compared only for clean streams.) */
    if (a.err != b.err || a.code != b.code)
        abort();
    if (!a.err && a.digest != b.digest)
        abort();
    return 0;
}
