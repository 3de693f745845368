/* SPDX-License-Identifier: MIT */
/*
 * test_ws_peer.c — our WebSocket codec against a real peer: python3-
 * websockets (tests/support/ws_peer.py) generates random client streams
 * (text with code points up to U+10FFFF, binary up to 64 KiB, fragments,
 * pings between fragments, a close with code and UTF-8 reason) that our
 * decoder must read back exactly, in random chunkings; it parses what our
 * encoder writes (every length encoding, fragments, control frames, close);
 * and it computes Sec-WebSocket-Accept for random keys, which must equal ours.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_buf.h"
#include "cn_testutil.h"
#include "ws.h"

static char *tmp;
static char peer[1024];

static int setup(void **st)
{
    (void)st;
    const char *src = getenv("CAIRN_SRC");
    snprintf(peer, sizeof(peer), "%s/tests/support/ws_peer.py", src ? src : ".");
    tmp = cn_test_tmpdir("wspeer");
    if (sodium_init() < 0 || !tmp)
        return -1;
    if (system("/usr/bin/python3 -c 'import websockets' 2>/dev/null") != 0) {
        fprintf(stderr, "test_ws_peer: python3-websockets is missing; run scripts/setup\n");
        return -1;
    }
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    cn_test_rmrf(tmp);
    free(tmp);
    return 0;
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    b[*n] = 0;
    fclose(f);
    return b;
}

static void sha_hex(const unsigned char *p, size_t n, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, p, n);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", h[i]);
}

/* Decode a client stream in random chunks; the transcript in ws_peer.py's format. */
static void decode_stream(unsigned char *s, size_t n, unsigned seed, cn_buf *log)
{
    ws_decoder d;
    ws_decoder_init(&d, WS_ROLE_SERVER, 1 << 20);
    cn_buf msg = CN_BUF_INIT, ctl = CN_BUF_INIT;
    char hex[65];
    srand(seed);
    size_t pos = 0;
    while (pos < n) {
        size_t chunk = 1 + (size_t)rand() % (rand() % 4 == 0 ? 7 : 3000);
        size_t end = pos + chunk < n ? pos + chunk : n;
        while (pos < end) {
            size_t used;
            ws_event ev;
            assert_int_equal(ws_decoder_feed(&d, s + pos, end - pos, &used, &ev), 0);
            pos += used;
            if (ev.type == WS_EV_NONE)
                break;
            cn_buf *acc = ev.type == WS_EV_DATA ? &msg : &ctl;
            assert_int_equal(cn_buf_append(acc, ev.data, ev.len), 0);
            if (!ev.msg_end)
                continue;
            sha_hex(acc->data, acc->len, hex);
            if (ev.type == WS_EV_DATA)
                cn_buf_printf(log, "%s %zu %s\n", ev.opcode == WS_OP_TEXT ? "text" : "binary",
                              acc->len, hex);
            else if (ev.type == WS_EV_PING)
                cn_buf_printf(log, "ping %zu %s\n", acc->len, hex);
            else if (ev.type == WS_EV_CLOSE)
                cn_buf_printf(log, "close %u %zu %s\n", ev.close_code, acc->len, hex);
            cn_buf_reset(acc);
        }
    }
    cn_buf_free(&msg);
    cn_buf_free(&ctl);
}

static void test_decode_peer_streams(void **st)
{
    (void)st;
    char cmd[4096], fb[1024], fe[1024];
    snprintf(fb, sizeof(fb), "%s/frames.bin", tmp);
    snprintf(fe, sizeof(fe), "%s/expect.txt", tmp);
    for (int seed = 1; seed <= 6; seed++) {
        snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s gen %d 40 %s %s", peer, seed, fb, fe);
        assert_int_equal(system(cmd), 0);
        size_t n, en;
        unsigned char *s = slurp(fb, &n);
        char *want = (char *)slurp(fe, &en);
        cn_buf log = CN_BUF_INIT;
        decode_stream(s, n, (unsigned)seed, &log);
        assert_int_equal(cn_buf_append(&log, "", 1), 0);
        assert_string_equal((char *)log.data, want);
        cn_buf_free(&log);
        free(s);
        free(want);
    }
}

static void test_peer_parses_our_frames(void **st)
{
    (void)st;
    cn_buf out = CN_BUF_INIT, want = CN_BUF_INIT;
    char hex[65];
    const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
    unsigned char *p = malloc(70000);
    randombytes_buf(p, 70000);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        assert_int_equal(ws_encode_frame(&out, WS_OP_BINARY, 1, p, sizes[i], NULL), 0);
        sha_hex(p, sizes[i], hex);
        cn_buf_printf(&want, "binary 1 %zu %s\n", sizes[i], hex);
    }
    const char *txt = "{\"ack\":[\"c-1\",\"c-2\"]} caf\xc3\xa9 \xf0\x9f\x98\x80";
    size_t tl = strlen(txt);
    assert_int_equal(ws_encode_frame(&out, WS_OP_TEXT, 0, txt, 10, NULL), 0);
    sha_hex((const unsigned char *)txt, 10, hex);
    cn_buf_printf(&want, "text 0 10 %s\n", hex);
    assert_int_equal(ws_encode_frame(&out, WS_OP_PONG, 1, "hb", 2, NULL), 0);
    sha_hex((const unsigned char *)"hb", 2, hex);
    cn_buf_printf(&want, "pong 1 2 %s\n", hex);
    assert_int_equal(ws_encode_frame(&out, WS_OP_CONT, 1, txt + 10, tl - 10, NULL), 0);
    sha_hex((const unsigned char *)txt + 10, tl - 10, hex);
    cn_buf_printf(&want, "cont 1 %zu %s\n", tl - 10, hex);
    assert_int_equal(ws_encode_frame(&out, WS_OP_PING, 1, p, 125, NULL), 0);
    sha_hex(p, 125, hex);
    cn_buf_printf(&want, "ping 1 125 %s\n", hex);
    assert_int_equal(ws_encode_close(&out, 1013, "try later \xe2\x82\xac", 13, NULL), 0);
    cn_buf_printf(&want, "close 1013 try later \xe2\x82\xac\n");
    char path[1024], cmd[4096];
    snprintf(path, sizeof(path), "%s/server.bin", tmp);
    FILE *f = fopen(path, "wb");
    assert_int_equal(fwrite(out.data, 1, out.len, f), out.len);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s parse %s", peer, path);
    FILE *pp = popen(cmd, "r");
    assert_non_null(pp);
    cn_buf got = CN_BUF_INIT;
    char line[512];
    while (fgets(line, sizeof(line), pp))
        cn_buf_append(&got, line, strlen(line));
    assert_int_equal(pclose(pp), 0);
    cn_buf_append(&got, "", 1);
    cn_buf_append(&want, "", 1);
    assert_string_equal((char *)got.data, (char *)want.data);
    free(p);
    cn_buf_free(&out);
    cn_buf_free(&want);
    cn_buf_free(&got);
}

static void test_accept_keys_match_peer(void **st)
{
    (void)st;
    char path[1024], cmd[4096];
    char keys[50][32];
    snprintf(path, sizeof(path), "%s/keys.txt", tmp);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 50; i++) {
        unsigned char k[16];
        randombytes_buf(k, sizeof(k));
        sodium_bin2base64(keys[i], sizeof(keys[i]), k, sizeof(k), sodium_base64_VARIANT_ORIGINAL);
        fprintf(f, "%s\n", keys[i]);
    }
    fclose(f);
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s accept %s", peer, path);
    FILE *pp = popen(cmd, "r");
    assert_non_null(pp);
    char line[128];
    int i = 0;
    while (fgets(line, sizeof(line), pp)) {
        line[strcspn(line, "\n")] = 0;
        char acc[WS_ACCEPT_LEN + 1];
        assert_true(i < 50);
        assert_int_equal(ws_http_accept_key(keys[i], strlen(keys[i]), acc), 0);
        assert_string_equal(acc, line);
        i++;
    }
    assert_int_equal(pclose(pp), 0);
    assert_int_equal(i, 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_peer_streams),
        cmocka_unit_test(test_peer_parses_our_frames),
        cmocka_unit_test(test_accept_keys_match_peer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
