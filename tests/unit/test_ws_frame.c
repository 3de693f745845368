/* SPDX-License-Identifier: MIT */
/*
 * test_ws_frame.c — the RFC 6455 frame decoder and encoder, byte by byte:
 * the §5.7 example frames, every chunking of a mixed stream (down to one
 * byte per call) giving the same events, and each violation closing with
 * its code: unmasked client frames, RSV bits, reserved opcodes, fragmented
 * or oversized control frames, continuation rules, non-minimal lengths,
 * the 64-bit MSB, the message size limit (1009, refused at the header),
 * bad UTF-8 in text and close reasons (1007), every close code 0..65535.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_bytes.h"
#include "cn_crc32c.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "ws.h"

/* ------------------------------------------------------------------ */
/* transcript driver                                                   */
/* ------------------------------------------------------------------ */

/* Feeds a byte stream in chunks of a given size and writes what came out
 * as text: T(text) B(len,crc) P(ping) Q(pong) C(code,reason) E(code). */
typedef struct tr {
    char log[4096];
    size_t loglen;
    unsigned char *msg;
    size_t msglen;
    char ctl[256];
    size_t ctllen;
    int err;
    uint16_t code;
    int events;
} tr;

static void tr_add(tr *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->log + t->loglen, sizeof(t->log) - t->loglen, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->loglen += (size_t)n;
    if (t->loglen >= sizeof(t->log))
        t->loglen = sizeof(t->log) - 1;
}

static void tr_event(tr *t, const ws_event *ev)
{
    t->events++;
    if (ev->type == WS_EV_DATA) {
        memcpy(t->msg + t->msglen, ev->data, ev->len);
        t->msglen += ev->len;
        if (ev->msg_end) {
            if (ev->opcode == WS_OP_TEXT)
                tr_add(t, "T(%.*s)", (int)t->msglen, (char *)t->msg);
            else
                tr_add(t, "B(%zu,%08x)", t->msglen, cn_crc32c(0, t->msg, t->msglen));
            t->msglen = 0;
        }
        return;
    }
    assert_true(t->ctllen + ev->len <= WS_MAX_CONTROL);
    memcpy(t->ctl + t->ctllen, ev->data, ev->len);
    t->ctllen += ev->len;
    if (!ev->msg_end)
        return;
    if (ev->type == WS_EV_PING)
        tr_add(t, "P(%.*s)", (int)t->ctllen, t->ctl);
    else if (ev->type == WS_EV_PONG)
        tr_add(t, "Q(%.*s)", (int)t->ctllen, t->ctl);
    else
        tr_add(t, "C(%u,%.*s)", ev->close_code, (int)t->ctllen, t->ctl);
    t->ctllen = 0;
}

static tr *run(enum ws_role role, uint64_t max, const unsigned char *bytes, size_t n, size_t chunk)
{
    tr *t = calloc(1, sizeof(*t));
    t->msg = malloc(n + 1);
    ws_decoder d;
    ws_decoder_init(&d, role, max);
    unsigned char *copy = malloc(n + 1);
    memcpy(copy, bytes, n);
    for (size_t off = 0; off < n && !t->err;) {
        size_t len = n - off < chunk ? n - off : chunk;
        /* Each chunk is its own buffer, as a socket read would be. */
        unsigned char *c = malloc(len);
        memcpy(c, copy + off, len);
        size_t pos = 0;
        do {
            size_t used;
            ws_event ev;
            int rc = ws_decoder_feed(&d, c + pos, len - pos, &used, &ev);
            if (rc) {
                t->err = rc;
                t->code = ws_decoder_close_code(&d);
                tr_add(t, "E(%u)", t->code);
                break;
            }
            assert_true(used <= len - pos);
            pos += used;
            if (ev.type != WS_EV_NONE)
                tr_event(t, &ev);
            else
                assert_int_equal(pos, len); /* NONE only when the input is exhausted */
        } while (pos < len);
        free(c);
        off += len;
    }
    free(copy);
    free(t->msg);
    t->msg = NULL;
    return t;
}

static void expect_all_chunkings(enum ws_role role, uint64_t max, const unsigned char *b, size_t n,
                                 const char *want)
{
    size_t sizes[] = {1, 2, 3, 5, 7, 13, 64, 1000, n ? n : 1};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        tr *t = run(role, max, b, n, sizes[i]);
        if (strcmp(t->log, want) != 0)
            fail_msg("chunk %zu: got '%s' want '%s'", sizes[i], t->log, want);
        free(t);
    }
}

/* Build a client (masked) frame into out; returns its length. */
static size_t cframe(unsigned char *out, int fin, int op, const void *p, size_t len)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t h = ws_frame_header(out, fin, (enum ws_opcode)op, len, key);
    memcpy(out + h, p, len);
    ws_mask_bytes(out + h, len, key, 0);
    return h + len;
}

static uint16_t code_of(const unsigned char *b, size_t n, enum ws_role role, uint64_t max)
{
    tr *t = run(role, max, b, n, n ? n : 1);
    uint16_t c = t->err ? t->code : 0;
    free(t);
    return c;
}

/* ------------------------------------------------------------------ */
/* RFC 6455 §5.7 examples                                              */
/* ------------------------------------------------------------------ */

static void test_rfc_examples(void **st)
{
    (void)st;
    const unsigned char unmasked_hello[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    expect_all_chunkings(WS_ROLE_CLIENT, 1 << 20, unmasked_hello, sizeof(unmasked_hello),
                         "T(Hello)");
    const unsigned char masked_hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                          0x7f, 0x9f, 0x4d, 0x51, 0x58};
    expect_all_chunkings(WS_ROLE_SERVER, 1 << 20, masked_hello, sizeof(masked_hello), "T(Hello)");
    const unsigned char frag[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
    expect_all_chunkings(WS_ROLE_CLIENT, 1 << 20, frag, sizeof(frag), "T(Hello)");
    const unsigned char ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    expect_all_chunkings(WS_ROLE_CLIENT, 1 << 20, ping, sizeof(ping), "P(Hello)");
    const unsigned char pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    expect_all_chunkings(WS_ROLE_SERVER, 1 << 20, pong, sizeof(pong), "Q(Hello)");

    /* 256 bytes binary in one unmasked frame: 0x82 0x7E 0x0100. */
    unsigned char *b = malloc(4 + 65536 + 10);
    unsigned char payload[65536];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (unsigned char)(i * 7 + 3);
    b[0] = 0x82, b[1] = 0x7e, b[2] = 0x01, b[3] = 0x00;
    memcpy(b + 4, payload, 256);
    char want[64];
    snprintf(want, sizeof(want), "B(256,%08x)", cn_crc32c(0, payload, 256));
    expect_all_chunkings(WS_ROLE_CLIENT, 1 << 20, b, 260, want);
    /* 64 KiB binary: 0x82 0x7F 0x0000000000010000. */
    const unsigned char h64[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0};
    memcpy(b, h64, 10);
    memcpy(b + 10, payload, 65536);
    snprintf(want, sizeof(want), "B(65536,%08x)", cn_crc32c(0, payload, 65536));
    tr *t = run(WS_ROLE_CLIENT, 1 << 20, b, 65546, 4096);
    assert_string_equal(t->log, want);
    free(t);
    t = run(WS_ROLE_CLIENT, 1 << 20, b, 65546, 1);
    assert_string_equal(t->log, want);
    free(t);
    free(b);
}

/* The encoder produces exactly the §5.7 bytes. */
static void test_encoder_rfc_bytes(void **st)
{
    (void)st;
    cn_buf o = CN_BUF_INIT;
    assert_int_equal(ws_encode_frame(&o, WS_OP_TEXT, 1, "Hello", 5, NULL), 0);
    const unsigned char a[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    assert_int_equal(o.len, sizeof(a));
    assert_memory_equal(o.data, a, sizeof(a));
    cn_buf_reset(&o);
    const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    assert_int_equal(ws_encode_frame(&o, WS_OP_TEXT, 1, "Hello", 5, key), 0);
    const unsigned char m[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    assert_memory_equal(o.data, m, sizeof(m));
    cn_buf_reset(&o);
    assert_int_equal(ws_encode_frame(&o, WS_OP_TEXT, 0, "Hel", 3, NULL), 0);
    assert_int_equal(ws_encode_frame(&o, WS_OP_CONT, 1, "lo", 2, NULL), 0);
    const unsigned char f[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
    assert_memory_equal(o.data, f, sizeof(f));
    cn_buf_reset(&o);
    unsigned char big[65536] = {0};
    assert_int_equal(ws_encode_frame(&o, WS_OP_BINARY, 1, big, 256, NULL), 0);
    const unsigned char h16[] = {0x82, 0x7e, 0x01, 0x00};
    assert_memory_equal(o.data, h16, 4);
    assert_int_equal(o.len, 260);
    cn_buf_reset(&o);
    assert_int_equal(ws_encode_frame(&o, WS_OP_BINARY, 1, big, 65536, NULL), 0);
    const unsigned char h64[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0};
    assert_memory_equal(o.data, h64, 10);
    cn_buf_reset(&o);
    /* Length boundaries use the minimal encoding. */
    unsigned char h[WS_MAX_HEADER];
    assert_int_equal(ws_frame_header(h, 1, WS_OP_BINARY, 125, NULL), 2);
    assert_int_equal(ws_frame_header(h, 1, WS_OP_BINARY, 126, NULL), 4);
    assert_int_equal(ws_frame_header(h, 1, WS_OP_BINARY, 65535, NULL), 4);
    assert_int_equal(ws_frame_header(h, 1, WS_OP_BINARY, 65536, NULL), 10);
    assert_int_equal(ws_frame_header(h, 1, WS_OP_BINARY, 65536, key), 14);
    cn_buf_free(&o);
}

static void test_encoder_refuses(void **st)
{
    (void)st;
    cn_buf o = CN_BUF_INIT;
    unsigned char p[200] = {0};
    assert_int_equal(ws_encode_frame(&o, WS_OP_PING, 1, p, 126, NULL), CN_EINVAL);
    assert_int_equal(ws_encode_frame(&o, WS_OP_PING, 0, p, 5, NULL), CN_EINVAL);
    assert_int_equal(ws_encode_frame(&o, (enum ws_opcode)3, 1, p, 5, NULL), CN_EINVAL);
    assert_int_equal(ws_encode_frame(&o, WS_OP_PING, 1, p, 125, NULL), 0);
    cn_buf_reset(&o);
    assert_int_equal(ws_encode_close(&o, 1005, NULL, 0, NULL), CN_EINVAL);
    assert_int_equal(ws_encode_close(&o, 1006, NULL, 0, NULL), CN_EINVAL);
    assert_int_equal(ws_encode_close(&o, 999, NULL, 0, NULL), CN_EINVAL);
    char r[124];
    memset(r, 'x', sizeof(r));
    assert_int_equal(ws_encode_close(&o, 1000, r, 124, NULL), CN_EINVAL);
    assert_int_equal(ws_encode_close(&o, 1000, "\xc0\xaf", 2, NULL), CN_EINVAL);
    assert_int_equal(o.len, 0);
    assert_int_equal(ws_encode_close(&o, 1000, r, 123, NULL), 0);
    assert_int_equal(o.len, 127);
    cn_buf_reset(&o);
    assert_int_equal(ws_encode_close(&o, 1000, "idle", 4, NULL), 0);
    const unsigned char idle[] = {0x88, 0x06, 0x03, 0xe8, 'i', 'd', 'l', 'e'};
    assert_int_equal(o.len, sizeof(idle));
    assert_memory_equal(o.data, idle, sizeof(idle));
    cn_buf_free(&o);
    /* Out of memory: error and nothing appended. */
    cn_test_alloc_fail_at(1, 1);
    assert_int_equal(ws_encode_frame(&o, WS_OP_TEXT, 1, "x", 1, NULL), CN_ENOMEM);
    assert_int_equal(ws_encode_close(&o, 1000, "bye", 3, NULL), CN_ENOMEM);
    cn_test_alloc_reset();
    assert_int_equal(o.len, 0);
    cn_buf_free(&o);
}

/* ------------------------------------------------------------------ */
/* chunking                                                            */
/* ------------------------------------------------------------------ */

static void test_mixed_stream_every_chunking(void **st)
{
    (void)st;
    unsigned char s[2048];
    size_t n = 0;
    /* fragmented text with a ping and a pong between fragments, an empty
     * fragment, a code point split across fragments, a binary message, an
     * empty text message, then a close with a reason. */
    n += cframe(s + n, 0, WS_OP_TEXT, "caf", 3);
    n += cframe(s + n, 1, WS_OP_PING, "p1", 2);
    n += cframe(s + n, 0, WS_OP_CONT, "\xc3", 1);
    n += cframe(s + n, 1, WS_OP_PONG, "", 0);
    n += cframe(s + n, 0, WS_OP_CONT, "", 0);
    n += cframe(s + n, 1, WS_OP_CONT, "\xa9!", 2);
    unsigned char bin[300];
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (unsigned char)(255 - i);
    n += cframe(s + n, 1, WS_OP_BINARY, bin, sizeof(bin));
    n += cframe(s + n, 1, WS_OP_TEXT, "", 0);
    n += cframe(s + n, 1, WS_OP_PING, "", 0);
    unsigned char cl[16] = {0x03, 0xe8};
    memcpy(cl + 2, "bye \xe2\x82\xac", 7);
    n += cframe(s + n, 1, WS_OP_CLOSE, cl, 9);
    char want[256];
    snprintf(want, sizeof(want), "P(p1)Q()T(caf\xc3\xa9!)B(300,%08x)T()P()C(1000,bye \xe2\x82\xac)",
             cn_crc32c(0, bin, sizeof(bin)));
    for (size_t chunk = 1; chunk <= n; chunk++) {
        tr *t = run(WS_ROLE_SERVER, 4096, s, n, chunk);
        if (strcmp(t->log, want) != 0)
            fail_msg("chunk %zu: '%s'", chunk, t->log);
        free(t);
    }
}

/* Randomised round trip: encoder output, random chunk sizes, same messages. */
static void test_random_roundtrip(void **st)
{
    (void)st;
    srand(4242);
    for (int iter = 0; iter < 300; iter++) {
        cn_buf o = CN_BUF_INIT;
        char want[4096] = "";
        size_t wl = 0;
        uint8_t key[4] = {(uint8_t)rand(), (uint8_t)rand(), (uint8_t)rand(), (uint8_t)rand()};
        int nmsg = 1 + rand() % 5;
        for (int m = 0; m < nmsg; m++) {
            size_t len = (size_t)(rand() % 3 == 0 ? rand() % 70000 : rand() % 200);
            unsigned char *p = malloc(len + 1);
            for (size_t i = 0; i < len; i++)
                p[i] = (unsigned char)rand();
            int frags = 1 + rand() % 4;
            size_t off = 0;
            for (int f = 0; f < frags; f++) {
                size_t part = f == frags - 1 ? len - off : (size_t)rand() % (len - off + 1);
                assert_int_equal(ws_encode_frame(&o, f ? WS_OP_CONT : WS_OP_BINARY, f == frags - 1,
                                                 p + off, part, key),
                                 0);
                off += part;
                if (f == frags - 1)
                    wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "B(%zu,%08x)", len,
                                           cn_crc32c(0, p, len));
                if (rand() % 3 == 0) {
                    /* a ping between fragments (or after the message) */
                    assert_int_equal(ws_encode_frame(&o, WS_OP_PING, 1, "hb", 2, key), 0);
                    wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "P(hb)");
                }
            }
            free(p);
        }
        size_t chunk = 1 + (size_t)rand() % 5000;
        tr *t = run(WS_ROLE_SERVER, 70000, o.data, o.len, chunk);
        assert_string_equal(t->log, want);
        free(t);
        cn_buf_free(&o);
    }
}

/* ------------------------------------------------------------------ */
/* violations                                                          */
/* ------------------------------------------------------------------ */

static void test_masking_rules(void **st)
{
    (void)st;
    const unsigned char unmasked[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    assert_int_equal(code_of(unmasked, sizeof(unmasked), WS_ROLE_SERVER, 100), 1002);
    /* refused on the second byte, before any payload arrives */
    assert_int_equal(code_of(unmasked, 2, WS_ROLE_SERVER, 100), 1002);
    unsigned char masked[32];
    size_t n = cframe(masked, 1, WS_OP_TEXT, "Hello", 5);
    assert_int_equal(code_of(masked, n, WS_ROLE_CLIENT, 100), 1002);
    assert_int_equal(code_of(masked, n, WS_ROLE_SERVER, 100), 0);
}

static void test_rsv_and_opcodes(void **st)
{
    (void)st;
    unsigned char f[32];
    for (int bit = 4; bit <= 6; bit++) {
        size_t n = cframe(f, 1, WS_OP_TEXT, "x", 1);
        f[0] |= (unsigned char)(1 << bit);
        assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 100), 1002);
        assert_int_equal(code_of(f, 1 + 1, WS_ROLE_SERVER, 100), 1002);
    }
    for (int op = 0; op < 16; op++) {
        size_t n = cframe(f, 1, WS_OP_TEXT, "x", 1);
        f[0] = (unsigned char)(0x80 | op);
        uint16_t c = code_of(f, n, WS_ROLE_SERVER, 100);
        if (op == 1 || op == 2 || op == 9 || op == 10)
            assert_int_equal(c, 0);
        else if (op == 8)
            assert_int_equal(c, 1002); /* 1-byte close payload */
        else
            assert_int_equal(c, 1002); /* continuation of nothing, or reserved */
    }
}

static void test_control_frame_rules(void **st)
{
    (void)st;
    unsigned char f[512], p[200];
    memset(p, 'a', sizeof(p));
    size_t n = cframe(f, 0, WS_OP_PING, "x", 1); /* fragmented ping */
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 1000), 1002);
    n = cframe(f, 1, WS_OP_PING, p, 125);
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 1000), 0);
    n = cframe(f, 1, WS_OP_PING, p, 126);
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 1000), 1002);
    assert_int_equal(code_of(f, 2, WS_ROLE_SERVER, 1000), 1002);
    n = cframe(f, 1, WS_OP_PONG, p, 126);
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 1000), 1002);
    n = cframe(f, 1, WS_OP_CLOSE, p, 126);
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 1000), 1002);
    n = cframe(f, 1, WS_OP_CLOSE, "\x03", 1); /* half a code */
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 1000), 1002);
    /* Control frames do not count against the message size limit. */
    n = cframe(f, 1, WS_OP_PING, p, 100);
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 10), 0);
}

static void test_fragmentation_rules(void **st)
{
    (void)st;
    unsigned char f[256];
    size_t n = cframe(f, 1, WS_OP_CONT, "x", 1); /* continuation of nothing */
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 100), 1002);
    n = cframe(f, 0, WS_OP_TEXT, "a", 1);
    n += cframe(f + n, 1, WS_OP_TEXT, "b", 1); /* new message inside a fragmented one */
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 100), 1002);
    n = cframe(f, 0, WS_OP_BINARY, "a", 1);
    n += cframe(f + n, 1, WS_OP_BINARY, "b", 1);
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 100), 1002);
    n = cframe(f, 1, WS_OP_TEXT, "a", 1);
    n += cframe(f + n, 1, WS_OP_CONT, "b", 1); /* continuation after a finished message */
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 100), 1002);
    /* idle tracking: mid-message the decoder is not idle */
    ws_decoder d;
    ws_decoder_init(&d, WS_ROLE_SERVER, 100);
    assert_true(ws_decoder_idle(&d));
    n = cframe(f, 0, WS_OP_TEXT, "a", 1);
    size_t used;
    ws_event ev;
    assert_int_equal(ws_decoder_feed(&d, f, n, &used, &ev), 0);
    assert_int_equal(used, n);
    assert_int_equal(ev.type, WS_EV_DATA);
    assert_false(ev.msg_end);
    assert_false(ws_decoder_idle(&d));
    n = cframe(f, 1, WS_OP_CONT, "b", 1);
    assert_int_equal(ws_decoder_feed(&d, f, 3, &used, &ev), 0); /* partial header */
    assert_false(ws_decoder_idle(&d));
    assert_int_equal(ws_decoder_feed(&d, f + 3, n - 3, &used, &ev), 0);
    assert_true(ev.msg_end);
    assert_true(ws_decoder_idle(&d));
}

static void test_length_encoding(void **st)
{
    (void)st;
    /* 16-bit length carrying a value < 126: non-minimal. */
    unsigned char f[32] = {0x82, 0xfe, 0x00, 0x7d, 1, 2, 3, 4};
    assert_int_equal(code_of(f, 8, WS_ROLE_SERVER, 1 << 20), 1002);
    /* 64-bit length carrying a value < 65536. */
    unsigned char g[32] = {0x82, 0xff, 0, 0, 0, 0, 0, 0, 0x10, 0x00, 1, 2, 3, 4};
    assert_int_equal(code_of(g, 14, WS_ROLE_SERVER, 1 << 20), 1002);
    /* 64-bit length with the most significant bit set. */
    unsigned char h[32] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    assert_int_equal(code_of(h, 14, WS_ROLE_SERVER, UINT64_MAX), 1002);
}

static void test_max_message_size(void **st)
{
    (void)st;
    unsigned char f[4096], p[1024];
    memset(p, 'z', sizeof(p));
    size_t n = cframe(f, 1, WS_OP_BINARY, p, 1000);
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 1000), 0);
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 999), 1009);
    /* Refused at the header: 8 bytes of header, no payload needed. */
    assert_int_equal(code_of(f, 8, WS_ROLE_SERVER, 999), 1009);
    /* A 2^62-byte frame header costs nothing. */
    unsigned char huge[14] = {0x82, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    assert_int_equal(code_of(huge, 14, WS_ROLE_SERVER, 1 << 20), 1009);
    /* Fragments sum to the limit: ok; one byte more: 1009 on the fragment that crosses it. */
    n = cframe(f, 0, WS_OP_TEXT, p, 400);
    n += cframe(f + n, 0, WS_OP_CONT, p, 400);
    size_t before = n;
    n += cframe(f + n, 1, WS_OP_CONT, p, 200);
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 1000), 0);
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 999), 1009);
    tr *t = run(WS_ROLE_SERVER, 999, f, before + 8, 1);
    assert_int_equal(t->err, WS_ETOOBIG);
    free(t);
    /* The limit applies per message: two 600-byte messages under a 1000 limit are fine. */
    n = cframe(f, 1, WS_OP_BINARY, p, 600);
    n += cframe(f + n, 1, WS_OP_BINARY, p, 600);
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 1000), 0);
}

static void test_text_utf8(void **st)
{
    (void)st;
    unsigned char f[256];
    const char *bad[] = {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "ok\x80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = cframe(f, 1, WS_OP_TEXT, bad[i], strlen(bad[i]));
        tr *t = run(WS_ROLE_SERVER, 100, f, n, 1);
        assert_int_equal(t->err, WS_EUTF8);
        assert_int_equal(t->code, 1007);
        assert_string_equal(t->log, "E(1007)"); /* the message is never completed */
        free(t);
    }
    /* Message ends inside a code point. */
    size_t n = cframe(f, 1, WS_OP_TEXT, "\xe2\x82", 2);
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 100), 1007);
    /* Fail fast: a bad first fragment fails before the message ends. */
    n = cframe(f, 0, WS_OP_TEXT, "\xff", 1);
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 100), 1007);
    /* Binary is not checked. */
    n = cframe(f, 1, WS_OP_BINARY, "\xff\xfe", 2);
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 100), 0);
    /* A code point split across fragments, with a ping in between. */
    n = cframe(f, 0, WS_OP_TEXT, "\xf0\x9f", 2);
    n += cframe(f + n, 1, WS_OP_PING, "", 0);
    n += cframe(f + n, 1, WS_OP_CONT, "\x98\x80", 2);
    expect_all_chunkings(WS_ROLE_SERVER, 100, f, n, "P()T(\xf0\x9f\x98\x80)");
}

static void test_every_close_code(void **st)
{
    (void)st;
    unsigned char f[64];
    for (uint32_t code = 0; code <= 65535; code++) {
        unsigned char p[2];
        cn_wr_be16(p, (uint16_t)code);
        size_t n = cframe(f, 1, WS_OP_CLOSE, p, 2);
        int valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                    (code >= 3000 && code <= 4999);
        assert_int_equal(ws_close_code_valid((uint16_t)code), valid);
        tr *t = run(WS_ROLE_SERVER, 100, f, n, code % 5 + 1);
        if (valid) {
            char want[32];
            snprintf(want, sizeof(want), "C(%u,)", code);
            assert_string_equal(t->log, want);
        } else {
            assert_int_equal(t->code, 1002);
        }
        free(t);
    }
    /* Empty close: 1005 reported, not sent. */
    size_t n = cframe(f, 1, WS_OP_CLOSE, "", 0);
    expect_all_chunkings(WS_ROLE_SERVER, 100, f, n, "C(1005,)");
    /* Reason must be UTF-8 (1007), split or not. */
    n = cframe(f, 1, WS_OP_CLOSE, "\x03\xe8\xc0\xaf", 4);
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 100), 1007);
    n = cframe(f, 1, WS_OP_CLOSE, "\x03\xe8ok\xe2\x82", 6);
    assert_int_equal(code_of(f, n, WS_ROLE_SERVER, 100), 1007);
    n = cframe(f, 1, WS_OP_CLOSE, "\x0f\xa0\xe2\x82\xac", 5); /* 4000 + "€" */
    expect_all_chunkings(WS_ROLE_SERVER, 100, f, n, "C(4000,\xe2\x82\xac)");
}

static void test_after_close_and_sticky_errors(void **st)
{
    (void)st;
    unsigned char f[64];
    size_t n = cframe(f, 1, WS_OP_CLOSE, "\x03\xe8", 2);
    n += cframe(f + n, 1, WS_OP_TEXT, "late", 4);
    ws_decoder d;
    ws_decoder_init(&d, WS_ROLE_SERVER, 100);
    size_t used;
    ws_event ev;
    assert_int_equal(ws_decoder_feed(&d, f, n, &used, &ev), 0);
    assert_int_equal(ev.type, WS_EV_CLOSE);
    assert_int_equal(ev.close_code, 1000);
    assert_int_equal(used, 8);
    assert_int_equal(ws_decoder_feed(&d, f + used, n - used, &used, &ev), CN_ECLOSED);
    assert_int_equal(used, 0);
    assert_int_equal(ws_decoder_close_code(&d), 1000);
    /* Sticky: a failed decoder keeps failing with the same code. */
    ws_decoder_init(&d, WS_ROLE_SERVER, 100);
    unsigned char bad[2] = {0x81, 0x05};
    assert_int_equal(ws_decoder_feed(&d, bad, 2, &used, &ev), WS_EFRAME);
    n = cframe(f, 1, WS_OP_TEXT, "fine", 4);
    assert_int_equal(ws_decoder_feed(&d, f, n, &used, &ev), WS_EFRAME);
    assert_int_equal(ws_decoder_close_code(&d), 1002);
    /* Feeding nothing is harmless. */
    ws_decoder_init(&d, WS_ROLE_SERVER, 100);
    assert_int_equal(ws_decoder_feed(&d, f, 0, &used, &ev), 0);
    assert_int_equal(ev.type, WS_EV_NONE);
}

static void test_close_code_mapping_and_size(void **st)
{
    (void)st;
    assert_int_equal(ws_close_code_for(WS_EFRAME), 1002);
    assert_int_equal(ws_close_code_for(CN_EUNSUPPORTED), 1003);
    assert_int_equal(ws_close_code_for(WS_EUTF8), 1007);
    assert_int_equal(ws_close_code_for(WS_ETOOBIG), 1009);
    assert_int_equal(ws_close_code_for(CN_EOVERLOAD), 1013);
    assert_int_equal(ws_close_code_for(CN_OK), 1000);
    assert_int_equal(ws_close_code_for(GW_ELIMIT), 1008);
    assert_int_equal(ws_close_code_for(CN_EIO), 1011);
    /* The per-connection memory budget depends on this. */
    assert_true(WS_DECODER_SIZE <= 64);
}

static void test_mask_offsets(void **st)
{
    (void)st;
    const uint8_t key[4] = {0xde, 0xad, 0xbe, 0xef};
    unsigned char a[100], b[100];
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n < 40; n++) {
            for (size_t i = 0; i < n; i++)
                a[i] = b[i] = (unsigned char)(i * 31);
            ws_mask_bytes(a, n, key, off);
            for (size_t i = 0; i < n; i++)
                b[i] ^= key[(off + i) & 3];
            if (n)
                assert_memory_equal(a, b, n);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_examples),
        cmocka_unit_test(test_encoder_rfc_bytes),
        cmocka_unit_test(test_encoder_refuses),
        cmocka_unit_test(test_mixed_stream_every_chunking),
        cmocka_unit_test(test_random_roundtrip),
        cmocka_unit_test(test_masking_rules),
        cmocka_unit_test(test_rsv_and_opcodes),
        cmocka_unit_test(test_control_frame_rules),
        cmocka_unit_test(test_fragmentation_rules),
        cmocka_unit_test(test_length_encoding),
        cmocka_unit_test(test_max_message_size),
        cmocka_unit_test(test_text_utf8),
        cmocka_unit_test(test_every_close_code),
        cmocka_unit_test(test_after_close_and_sticky_errors),
        cmocka_unit_test(test_close_code_mapping_and_size),
        cmocka_unit_test(test_mask_offsets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
