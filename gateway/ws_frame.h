/* SPDX-License-Identifier: MIT */
/*
 * ws_frame.h — RFC 6455 WebSocket framing as a pure state machine.
 *
 * Decoder: bytes in, events out, no sockets and no buffers.  The caller
 * feeds whatever bytes it read (one at a time works); the decoder unmasks
 * payload in place and hands back borrowed chunks of it.  Its whole state
 * is a ws_decoder of WS_DECODER_SIZE bytes (checked by a static assert), so
 * an idle connection costs that and nothing else: message buffers, if the
 * caller wants whole messages, are the caller's to own and size.
 *
 * Encoder: server frames (unmasked) and, for test clients and the load
 * generator, masked client frames; close frames with code and reason.
 *
 * See docs/protocol.md, "WebSocket framing", for the rules enforced and
 * the close code each violation maps to.
 */
#ifndef WS_FRAME_H
#define WS_FRAME_H

#include "cn_buf.h"

#include <stddef.h>
#include <stdint.h>

/* Opcodes (RFC 6455 §5.2). */
enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* Close codes (RFC 6455 §7.4.1, IANA registry). */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_NO_STATUS = 1005, /* never sent: "the close frame had no code" */
    WS_CLOSE_ABNORMAL = 1006,  /* never sent: "no close frame at all" */
    WS_CLOSE_BAD_DATA = 1007,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_EXTENSION = 1010,
    WS_CLOSE_INTERNAL = 1011,
    WS_CLOSE_RESTART = 1012,
    WS_CLOSE_TRY_LATER = 1013,
    WS_CLOSE_BAD_GATEWAY = 1014,
};

/** Which end the decoder runs at: servers require masked frames, clients refuse them. */
enum ws_role { WS_ROLE_SERVER = 0, WS_ROLE_CLIENT = 1 };

/* Largest frame header: 2 + 8 (64-bit length) + 4 (mask key). */
#define WS_MAX_HEADER 14
/* Control frame payloads are at most 125 bytes (RFC 6455 §5.5). */
#define WS_MAX_CONTROL 125

/**
 * Decoder state: one per connection, owned and placed by the caller (embed
 * it in the connection struct; no allocation).  Fields are private.
 * Size: WS_DECODER_SIZE bytes (64 on LP64: one cache line; static-asserted).
 */
typedef struct ws_decoder {
    uint64_t remaining; /* payload bytes left in the current frame */
    uint64_t msg_len;   /* data bytes of the current message so far */
    uint64_t max_msg;   /* limit on one message's payload (→ 1009) */
    unsigned char hdr[WS_MAX_HEADER]; /* header bytes gathered so far */
    uint8_t hdr_have;  /* bytes in hdr */
    uint8_t st;        /* decoder state (ws_frame.c) */
    uint8_t role;      /* enum ws_role */
    uint8_t op;        /* opcode of the frame being read */
    uint8_t msg_op;    /* TEXT/BINARY while a data message is open, else 0 */
    uint8_t fin;       /* FIN bit of the frame being read */
    uint8_t masked;    /* frame carries a mask key */
    uint8_t mask_pos;  /* payload offset mod 4 for unmasking */
    uint8_t mask[4];   /* mask key of the frame being read */
    uint8_t utf8;      /* ws_utf8 state of the open text message */
    uint8_t ctl_utf8;  /* ws_utf8 state of the close reason being read */
    uint8_t ctl_len;   /* payload length of the control frame being read */
    uint8_t code_have; /* close code bytes seen (0..2) */
    uint8_t code_b[2]; /* close code bytes */
    uint16_t close_code; /* after an error: the code to close with */
} ws_decoder;

#define WS_DECODER_SIZE sizeof(ws_decoder)

/** Kinds of decoder events. */
enum ws_event_type {
    WS_EV_NONE = 0, /* all input consumed, nothing to report: read more */
    WS_EV_DATA,     /* a chunk of a text or binary message */
    WS_EV_PING,     /* a chunk of a ping payload */
    WS_EV_PONG,     /* a chunk of a pong payload */
    WS_EV_CLOSE,    /* a chunk of a close reason; close_code set on the last */
};

typedef struct ws_event {
    enum ws_event_type type;
    uint8_t opcode;    /* WS_EV_DATA: WS_OP_TEXT or WS_OP_BINARY (also for continuations) */
    uint8_t frame_end; /* last chunk of this frame's payload */
    uint8_t msg_end;   /* last chunk of the message (data) or of the control frame */
    uint16_t close_code; /* WS_EV_CLOSE with msg_end: the peer's code, 1005 if none */
    unsigned char *data; /* unmasked payload, borrowed from the caller's input */
    size_t len;          /* may be 0 (an empty frame still yields one event) */
} ws_event;

/**
 * Initialise a decoder.
 * @param[out] d        caller-owned state
 * @param[in]  role     WS_ROLE_SERVER (clients must mask) or WS_ROLE_CLIENT
 * @param[in]  max_msg  largest message payload accepted, summed over its
 *                      fragments; larger fails with WS_ETOOBIG / 1009
 */
void ws_decoder_init(ws_decoder *d, enum ws_role role, uint64_t max_msg);

/**
 * Consume input up to the next event.
 *
 * @param[in,out] d    decoder
 * @param[in,out] in   input bytes; payload is unmasked in place, so event
 *                     data points into this buffer and is valid while it is
 * @param[in]     n    input length
 * @param[out]    used bytes of input consumed (the caller passes the rest
 *                     on the next call)
 * @param[out]    ev   the event; WS_EV_NONE when all input was consumed
 *                     without completing anything worth reporting
 * @return 0 on success (look at ev); on a protocol violation WS_EFRAME
 *         (close 1002), WS_EUTF8 (1007) or WS_ETOOBIG (1009), with the code
 *         in ws_decoder_close_code(); CN_ECLOSED if fed after a close frame
 *         was fully read.  Errors are sticky: the caller must send a close
 *         frame with that code and stop reading.
 */
int ws_decoder_feed(ws_decoder *d, unsigned char *in, size_t n, size_t *used, ws_event *ev);

/** After an error from ws_decoder_feed: the close code to send. */
uint16_t ws_decoder_close_code(const ws_decoder *d);

/** 1 while no frame is partly read and no fragmented message is open. */
int ws_decoder_idle(const ws_decoder *d);

/* ---- close codes ---- */

/** 1 if a peer may send code in a close frame (RFC 6455 §7.4): 1000-1003,
 *  1007-1014 and 3000-4999; not 1004-1006, 1015 or unassigned ranges. */
int ws_close_code_valid(uint16_t code);

/** The close code for a cairn error: WS_EFRAME 1002, CN_EUNSUPPORTED 1003,
 *  WS_EUTF8 1007, WS_ETOOBIG 1009, CN_EOVERLOAD/CN_ENOMEM 1013,
 *  CN_ECLOSED/CN_OK 1000, GW_ELIMIT 1008, anything else 1011. */
uint16_t ws_close_code_for(int err);

/* ---- encoder ---- */

/**
 * Write a frame header into out.
 * @param mask NULL for an unmasked (server) frame, else the 4-byte key
 * @return header length (2..14)
 */
size_t ws_frame_header(unsigned char out[WS_MAX_HEADER], int fin, enum ws_opcode op, uint64_t len,
                       const uint8_t *mask);

/** XOR-mask n bytes in place, starting at payload offset off (mod 4). */
void ws_mask_bytes(unsigned char *p, size_t n, const uint8_t mask[4], size_t off);

/**
 * Append one whole frame (header + payload) to out.
 * @param mask  NULL for server frames; else the client's mask key
 * @return 0; CN_EINVAL for a control frame over 125 bytes, a fragmented
 *         control frame or a bad opcode; CN_ENOMEM (out unchanged)
 */
int ws_encode_frame(cn_buf *out, enum ws_opcode op, int fin, const void *payload, size_t len,
                    const uint8_t *mask);

/**
 * Append a close frame with code and reason (reason may be NULL/empty).
 * @return 0; CN_EINVAL if code may not be sent (ws_close_code_valid), the
 *         reason is over 123 bytes or not UTF-8; CN_ENOMEM
 */
int ws_encode_close(cn_buf *out, uint16_t code, const char *reason, size_t rlen, const uint8_t *mask);

#endif
