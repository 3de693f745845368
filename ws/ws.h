/* SPDX-License-Identifier: MIT */
/*
 * ws.h — cairn's WebSocket codec (RFC 6455), the one public header of ws/.
 *
 * Bytes in, events out: nothing here touches a socket, an event loop or a
 * clock, so the gateway (server role), the load generator (client role),
 * tests and fuzzers drive the same code byte by byte.  Two parts:
 *
 *  - framing: a decoder whose whole state is a caller-placed ws_decoder of
 *    WS_DECODER_SIZE bytes (checked by a static assert); it unmasks payload
 *    in place and hands back borrowed chunks as events, so an idle
 *    connection costs those bytes and nothing else (message buffers, if the
 *    caller wants whole messages, are the caller's to own and size); and an
 *    encoder for server frames (unmasked), masked client frames and close
 *    frames with code and reason;
 *  - the HTTP/1.1 request head before the upgrade: a strict, resumable
 *    parser for the upgrade (RFC 6455 section 4.2.1) and plain GETs, the
 *    Sec-WebSocket-Accept key, query parameters, and the responses a
 *    server sends before or instead of an upgrade.  No allocation; parsed
 *    requests borrow slices of the caller's buffer.
 *
 * Rules enforced and the close code each violation maps to: docs/protocol.md,
 * "WebSocket framing" and "HTTP and the handshake".  Pure functions and
 * caller-owned state: any thread, one thread per decoder at a time.
 */
#ifndef WS_H
#define WS_H

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
    uint64_t remaining;               /* payload bytes left in the current frame */
    uint64_t msg_len;                 /* data bytes of the current message so far */
    uint64_t max_msg;                 /* limit on one message's payload (→ 1009) */
    unsigned char hdr[WS_MAX_HEADER]; /* header bytes gathered so far */
    uint8_t hdr_have;                 /* bytes in hdr */
    uint8_t st;                       /* decoder state (ws_frame.c) */
    uint8_t role;                     /* enum ws_role */
    uint8_t op;                       /* opcode of the frame being read */
    uint8_t msg_op;                   /* TEXT/BINARY while a data message is open, else 0 */
    uint8_t fin;                      /* FIN bit of the frame being read */
    uint8_t masked;                   /* frame carries a mask key */
    uint8_t mask_pos;                 /* payload offset mod 4 for unmasking */
    uint8_t mask[4];                  /* mask key of the frame being read */
    uint8_t utf8;                     /* cn_utf8 state of the open text message */
    uint8_t ctl_utf8;                 /* cn_utf8 state of the close reason being read */
    uint8_t ctl_len;                  /* payload length of the control frame being read */
    uint8_t code_have;                /* close code bytes seen (0..2) */
    uint8_t code_b[2];                /* close code bytes */
    uint16_t close_code;              /* after an error: the code to close with */
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
    uint8_t opcode;      /* WS_EV_DATA: WS_OP_TEXT or WS_OP_BINARY (also for continuations) */
    uint8_t frame_end;   /* last chunk of this frame's payload */
    uint8_t msg_end;     /* last chunk of the message (data) or of the control frame */
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
int ws_encode_close(cn_buf *out, uint16_t code, const char *reason, size_t rlen,
                    const uint8_t *mask);

/* ==== HTTP/1.1 request heads and responses (ws_http*.c, ws_handshake.c) ==== */

/* Defaults: a phone's upgrade request is ~300-600 bytes; 8 KiB and 32
 * header lines leave room for proxies and cookies and bound what a slow or
 * hostile client can make us hold before the head is complete. */
#define WS_HTTP_MAX_HEAD 8192
#define WS_HTTP_MAX_HEADERS 32
#define WS_HTTP_MAX_TARGET 2048

typedef struct ws_http_limits {
    size_t max_head;    /* bytes of request line + headers + blank line */
    size_t max_headers; /* header lines */
    size_t max_target;  /* bytes of the request target */
} ws_http_limits;

#define WS_HTTP_LIMITS_DEFAULT                                                                     \
    {                                                                                              \
        WS_HTTP_MAX_HEAD, WS_HTTP_MAX_HEADERS, WS_HTTP_MAX_TARGET                                  \
    }

/** A parsed request head.  Slices borrow the caller's buffer. */
typedef struct ws_http_req {
    cn_slice method; /* "GET" */
    cn_slice target; /* "/ws?token=..." */
    cn_slice path;   /* "/ws" */
    cn_slice query;  /* "token=..." (without '?'); len 0 if none */
    int minor;       /* HTTP/1.<minor>: 0 or 1 */
    cn_slice host;
    cn_slice ws_key;     /* Sec-WebSocket-Key value */
    cn_slice ws_version; /* Sec-WebSocket-Version value */
    cn_slice origin;
    uint8_t upgrade_websocket;  /* an Upgrade header lists "websocket" */
    uint8_t connection_upgrade; /* a Connection header lists "upgrade" */
    uint8_t connection_close;   /* a Connection header lists "close" */
    uint8_t has_ws_key;
    size_t nheaders;
    size_t head_len; /* bytes of the head including the blank line */
    int status;      /* on error: the HTTP status to answer (400, 431, 505) */
    const char *why; /* on error: a short reason, for logs and the body */
} ws_http_req;

/**
 * Parse a request head from the bytes received so far.
 *
 * Call again with the same buffer (grown) each time more bytes arrive;
 * scan carries the position already searched so each byte is looked at a
 * bounded number of times however the head is split (slowloris-safe in CPU;
 * the time limit is the caller's).  Start with *scan = 0.  Bytes no request
 * head may contain (controls, bare LF) are refused as soon as they arrive.
 *
 * @return 0: complete and valid, req filled, req->head_len bytes used
 *         (anything after belongs to the next layer);
 *         CN_WANT_MORE: incomplete so far, read more;
 *         WS_EHANDSHAKE: malformed, req->status and req->why set; answer
 *         with ws_http_write_error(req->status) and close;
 *         CN_ETOOBIG: over a limit, req->status 431 (or 414 for the target).
 */
int ws_http_parse(const char *buf, size_t len, size_t *scan, const ws_http_limits *lim,
                  ws_http_req *req);

/**
 * Check that a parsed request is a valid WebSocket upgrade (§4.2.1).
 * @return 0, or WS_EHANDSHAKE with *status: 405 (not GET), 400 (not
 *         HTTP/1.1, missing or malformed Sec-WebSocket-Key), 426 (no
 *         Upgrade: websocket / Connection: upgrade, or Sec-WebSocket-Version
 *         is not 13: answer with ws_http_write_error(426), which lists 13)
 */
int ws_http_upgrade_check(const ws_http_req *req, int *status, const char **why);

#define WS_ACCEPT_LEN 28

/**
 * Sec-WebSocket-Accept for a key: base64(SHA-1(key + RFC 6455 GUID)),
 * NUL-terminated.  @return 0, or CN_EINVAL for a key over 64 bytes (a
 * valid key, checked by ws_http_upgrade_check, is 24).
 */
int ws_http_accept_key(const char *key, size_t keylen, char out[WS_ACCEPT_LEN + 1]);

/**
 * Find name in a query string and percent-decode its value into out
 * (NUL-terminated; '+' decodes to a space, as in HTML forms).
 * @return 0 found; CN_ENOENT absent; CN_EINVAL the name appears twice
 *         (ambiguous, refused), a bad %-escape or a decoded NUL;
 *         CN_ETOOBIG the decoded value needs more than cap-1 bytes
 */
int ws_http_query_get(cn_slice query, const char *name, char *out, size_t cap, size_t *outlen);

/** 1 if the token list (comma separated, OWS) contains token, case-insensitively. */
int ws_http_token_list_has(const char *list, size_t len, const char *token);

/* ---- responses (ws_http_resp.c) ---- */

/** Reason phrase for a status we send ("Bad Request"); "Unknown" otherwise. */
const char *ws_http_reason(int status);

/** 101 Switching Protocols with the accept key.  0 or CN_ENOMEM. */
int ws_http_write_101(cn_buf *out, const char *accept);

/**
 * An error response with a one-line text body (detail, or the reason
 * phrase if NULL) and Connection: close.  Adds what each status needs:
 * 401 WWW-Authenticate, 405 Allow: GET, 426 Upgrade + Sec-WebSocket-Version: 13,
 * 429/503 Retry-After: 1.  CR and LF in detail are replaced by spaces.
 * @return 0; CN_EINVAL for a status not in 400-599; CN_ENOMEM
 */
int ws_http_write_error(cn_buf *out, int status, const char *detail);

/** A complete response with a body (e.g. 200 for /healthz, /metrics).  0 or CN_ENOMEM. */
int ws_http_write_response(cn_buf *out, int status, const char *content_type, const void *body,
                           size_t len, int keep_alive);

#endif
