/* SPDX-License-Identifier: MIT */
/*
 * bench_ws.c — benchmarks of the gateway's pure codecs, one JSON object
 * per line per figure (run by `scripts/bench ws`):
 *   - machine.memcpy: copying 64 KiB, the reference the byte-rate figures
 *     are compared against in the same run (ratio_to_memcpy);
 *   - ws.decode.ping_frames: decoding 1000 masked one-ping frames from one
 *     buffer (frames/s and bytes/s), the per-ping hot path;
 *   - ws.decode.64k: decoding masked 64 KiB binary frames (bytes/s: the
 *     unmasking cost);
 *   - ws.utf8.ascii / ws.utf8.mixed: the UTF-8 DFA on JSON-like ASCII and
 *     on text with 2-4 byte code points (bytes/s);
 *   - ws.encode.ack: server text frames of an ack payload (frames/s);
 *   - http.handshake: parse an upgrade head, check it, compute the accept
 *     key and write the 101 (handshakes/s; the target is 20,000/s
 *     for the whole server);
 *   - token.verify: Ed25519 token verification (tokens/s: each
 *     authenticated handshake pays it once); token.verify.cached: the
 *     same token again through auth_token_cache (a player reconnecting);
 *   - ping.json.one / ping.json.batch64 / ping.pb.batch64: ping payload
 *     parsing and validation (pings/s); ping.json.one.jansson and
 *     ping.json.batch64.jansson: the same frames through jansson alone,
 *     the reference for the fast path (gw_ping_fast.c) in the same run.
 * Each figure is the median of --runs runs (default 5), each run at least
 * --seconds (default 0.5) of work.  Nothing asserts a time.
 */
#include "cairn.pb-c.h"
#include "cn_buf.h"
#include "cn_time.h"
#include "gw_ping.h"
#include "gw_ping_int.h"
#include "auth.h"
#include "ws.h"
#include "cn_utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNS 64
#define PING_FRAMES 1000

typedef struct bench_cfg {
    int runs;
    double seconds;
} bench_cfg;

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct stat3 {
    double med, min, max;
} stat3;

/* --runs runs of fn(ud), each repeated for --seconds; items per second. */
static stat3 rate(const bench_cfg *c, long (*fn)(void *), void *ud)
{
    double r[MAX_RUNS];
    for (int i = 0; i < c->runs; i++) {
        uint64_t t0 = cn_mono_ns();
        long items = 0;
        double el;
        do {
            long n = fn(ud);
            if (n < 0) {
                fprintf(stderr, "bench_ws: a benchmark step failed\n");
                exit(1);
            }
            items += n;
            el = (double)(cn_mono_ns() - t0) / 1e9;
        } while (el < c->seconds);
        r[i] = (double)items / el;
    }
    qsort(r, (size_t)c->runs, sizeof(double), cmp_dbl);
    stat3 st = {c->runs % 2 ? r[c->runs / 2] : (r[c->runs / 2 - 1] + r[c->runs / 2]) / 2, r[0],
                r[c->runs - 1]};
    return st;
}

/* ---- fixtures ------------------------------------------------------------- */

typedef struct fixture {
    unsigned char *src, *dst; /* memcpy reference, 64 KiB */
    cn_buf frames;            /* PING_FRAMES masked binary frames */
    cn_buf big;               /* one masked 64 KiB binary frame */
    unsigned char *ascii, *mixed;
    size_t text_len;
    cn_buf out;
    char head[512];
    size_t head_len;
    unsigned char pk[AUTH_TOKEN_PK_LEN];
    char token[AUTH_TOKEN_MAX_LEN];
    char json_one[128];
    char *json64;
    cn_buf pb64;
    gw_ping_batch batch;
    gw_ping_limits lim;
    auth_token_cache *cache;
} fixture;

static const char ping_json[] =
    "{\"id\":\"c-1\",\"beacon\":\"b-07\",\"rssi\":-61,\"ts\":1764320000123}";
#define NOW 1764320000123LL

static long run_memcpy(void *ud)
{
    fixture *f = ud;
    memcpy(f->dst, f->src, 65536);
    __asm__ volatile("" ::"r"(f->dst) : "memory"); /* keep the copy */
    return 65536;
}

/* Decoding flips the payload between masked and clear each pass (in-place
 * XOR); binary frames make that harmless. */
static long decode_all(cn_buf *b, size_t *events)
{
    ws_decoder d;
    ws_decoder_init(&d, WS_ROLE_SERVER, 1 << 20);
    size_t pos = 0, ev_n = 0;
    while (pos < b->len) {
        size_t used;
        ws_event ev;
        if (ws_decoder_feed(&d, b->data + pos, b->len - pos, &used, &ev))
            return -1;
        pos += used;
        ev_n += ev.type != WS_EV_NONE;
    }
    *events = ev_n;
    return (long)b->len;
}

static long run_decode_pings(void *ud)
{
    size_t ev;
    return decode_all(&((fixture *)ud)->frames, &ev) < 0 || ev != PING_FRAMES ? -1 : PING_FRAMES;
}

static long run_decode_big(void *ud)
{
    size_t ev;
    return decode_all(&((fixture *)ud)->big, &ev);
}

static long run_utf8_ascii(void *ud)
{
    fixture *f = ud;
    return cn_utf8_valid(f->ascii, f->text_len) ? (long)f->text_len : -1;
}

static long run_utf8_mixed(void *ud)
{
    fixture *f = ud;
    return cn_utf8_valid(f->mixed, f->text_len) ? (long)f->text_len : -1;
}

static long run_encode_ack(void *ud)
{
    fixture *f = ud;
    static const char ack[] = "{\"ack\":[\"c-1\"]}";
    cn_buf_reset(&f->out);
    for (int i = 0; i < 100; i++)
        if (ws_encode_frame(&f->out, WS_OP_TEXT, 1, ack, sizeof(ack) - 1, NULL))
            return -1;
    return 100;
}

static long run_handshake(void *ud)
{
    fixture *f = ud;
    size_t scan = 0;
    ws_http_req req;
    int status;
    char acc[WS_ACCEPT_LEN + 1], tok[AUTH_TOKEN_MAX_LEN];
    if (ws_http_parse(f->head, f->head_len, &scan, NULL, &req) ||
        ws_http_upgrade_check(&req, &status, NULL) ||
        ws_http_query_get(req.query, "token", tok, sizeof(tok), NULL) ||
        ws_http_accept_key((const char *)req.ws_key.ptr, req.ws_key.len, acc))
        return -1;
    cn_buf_reset(&f->out);
    return ws_http_write_101(&f->out, acc) ? -1 : 1;
}

static long run_token(void *ud)
{
    fixture *f = ud;
    auth_token_claims c;
    return auth_token_verify(f->pk, f->token, strlen(f->token), NOW, &c) ? -1 : 1;
}

static long run_token_cached(void *ud)
{
    fixture *f = ud;
    auth_token_claims c;
    return auth_token_cache_verify(f->cache, f->token, strlen(f->token), NOW, &c) ? -1 : 1;
}

static long run_json_one(void *ud)
{
    fixture *f = ud;
    if (gw_ping_parse_json(f->json_one, strlen(f->json_one), &f->lim, NOW, &f->batch) ||
        f->batch.n != 1)
        return -1;
    return 1;
}

static long run_json_one_slow(void *ud)
{
    fixture *f = ud;
    if (gw__ping_parse_json_slow(f->json_one, strlen(f->json_one), &f->lim, NOW, &f->batch) ||
        f->batch.n != 1)
        return -1;
    return 1;
}

static long run_json64_slow(void *ud)
{
    fixture *f = ud;
    if (gw__ping_parse_json_slow(f->json64, strlen(f->json64), &f->lim, NOW, &f->batch) ||
        f->batch.n != 64)
        return -1;
    return 64;
}

static long run_json64(void *ud)
{
    fixture *f = ud;
    if (gw_ping_parse_json(f->json64, strlen(f->json64), &f->lim, NOW, &f->batch) ||
        f->batch.n != 64)
        return -1;
    return 64;
}

static long run_pb64(void *ud)
{
    fixture *f = ud;
    if (gw_ping_parse_pb(f->pb64.data, f->pb64.len, &f->lim, NOW, &f->batch) || f->batch.n != 64)
        return -1;
    return 64;
}

static int make_pb64(cn_buf *out)
{
    Cairn__V1__BlePing p[64], *pp[64];
    char ids[64][16];
    for (int i = 0; i < 64; i++) {
        Cairn__V1__BlePing init = CAIRN__V1__BLE_PING__INIT;
        p[i] = init;
        snprintf(ids[i], sizeof(ids[i]), "c-%d", i);
        p[i].id = ids[i];
        p[i].beacon = (char *)"b-07";
        p[i].rssi = -61;
        p[i].ts = NOW;
        pp[i] = &p[i];
    }
    Cairn__V1__PingBatch b = CAIRN__V1__PING_BATCH__INIT;
    b.n_pings = 64;
    b.pings = pp;
    size_t sz = cairn__v1__ping_batch__get_packed_size(&b);
    if (cn_buf_reserve(out, sz))
        return -1;
    out->len = cairn__v1__ping_batch__pack(&b, out->data);
    return 0;
}

static int fixture_init(fixture *f)
{
    memset(f, 0, sizeof(*f));
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    f->src = malloc(65536);
    f->dst = malloc(65536);
    if (!f->src || !f->dst)
        return -1;
    memset(f->src, 'x', 65536);
    for (int i = 0; i < PING_FRAMES; i++)
        if (ws_encode_frame(&f->frames, WS_OP_BINARY, 1, ping_json, sizeof(ping_json) - 1, key))
            return -1;
    if (ws_encode_frame(&f->big, WS_OP_BINARY, 1, f->src, 65536, key))
        return -1;
    f->text_len = 65536;
    f->ascii = malloc(f->text_len);
    f->mixed = malloc(f->text_len);
    for (size_t i = 0; i < f->text_len; i++)
        f->ascii[i] = (unsigned char)ping_json[i % (sizeof(ping_json) - 1)];
    static const char mix[] = "caf\xc3\xa9 \xe2\x82\xac 12 \xf0\x9f\x98\x80 ok ";
    size_t ml = sizeof(mix) - 1, k = 0;
    while (k + ml <= f->text_len)
        memcpy(f->mixed + k, mix, ml), k += ml;
    memset(f->mixed + k, ' ', f->text_len - k);
    unsigned char sk[AUTH_TOKEN_SK_LEN];
    auth_token_claims c;
    memset(&c, 0, sizeof(c));
    strcpy(c.player, "p-0042");
    strcpy(c.hunt, "museum-night");
    c.issued_ms = NOW;
    c.expires_ms = NOW + 43200000;
    if (auth_token_keygen(f->pk, sk) || auth_token_issue(sk, &c, f->token, sizeof(f->token)))
        return -1;
    f->head_len = (size_t)snprintf(
        f->head, sizeof(f->head),
        "GET /ws?token=%s HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n",
        f->token);
    snprintf(f->json_one, sizeof(f->json_one), "%s", ping_json);
    f->json64 = malloc(64 * 80 + 3);
    size_t o = 0;
    f->json64[o++] = '[';
    for (int i = 0; i < 64; i++)
        o += (size_t)sprintf(f->json64 + o,
                             "%s{\"id\":\"c-%d\",\"beacon\":\"b-07\",\"rssi\":-61,\"ts\":%lld}",
                             i ? "," : "", i, NOW);
    f->json64[o++] = ']';
    f->json64[o] = 0;
    gw_ping_limits lim = GW_PING_LIMITS_DEFAULT;
    f->lim = lim;
    if (make_pb64(&f->pb64) || gw_ping_batch_init(&f->batch, lim.max_batch) ||
        auth_token_cache_new(&f->cache, f->pk, 1024))
        return -1;
    return 0;
}

/* ---- report ---------------------------------------------------------------- */

/* One line: the median, min and max of a rate, with unit, and for byte
 * rates the ratio of the median to memcpy's median in the same run. */
static void report(const char *name, const char *unit, stat3 st, double scale, double ref)
{
    printf("{\"bench\":\"%s\",\"%s\":%.0f,\"min\":%.0f,\"max\":%.0f", name, unit, st.med * scale,
           st.min * scale, st.max * scale);
    if (ref > 0)
        printf(",\"ratio_to_memcpy\":%.3f", st.med / ref);
    printf("}\n");
}

int main(int argc, char **argv)
{
    bench_cfg c = {5, 0.5};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            c.runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            c.seconds = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_ws [--runs N] [--seconds S]\n");
            return 2;
        }
    }
    if (c.runs < 1 || c.runs > MAX_RUNS || c.seconds <= 0) {
        fprintf(stderr, "bench_ws: --runs must be 1-%d and --seconds > 0\n", MAX_RUNS);
        return 2;
    }
    fixture *f = malloc(sizeof(*f));
    if (!f || fixture_init(f)) {
        fprintf(stderr, "bench_ws: cannot build the fixtures\n");
        return 1;
    }
    stat3 mc = rate(&c, run_memcpy, f);
    report("machine.memcpy", "mb_per_s", mc, 1e-6, 0);
    double ref = mc.med;
    size_t fb = f->frames.len / PING_FRAMES;
    stat3 fr = rate(&c, run_decode_pings, f);
    report("ws.decode.ping_frames", "frames_per_s", fr, 1, 0);
    fr.med *= (double)fb, fr.min *= (double)fb, fr.max *= (double)fb;
    report("ws.decode.ping_frames.bytes", "mb_per_s", fr, 1e-6, ref);
    report("ws.decode.64k", "mb_per_s", rate(&c, run_decode_big, f), 1e-6, ref);
    report("ws.utf8.ascii", "mb_per_s", rate(&c, run_utf8_ascii, f), 1e-6, ref);
    report("ws.utf8.mixed", "mb_per_s", rate(&c, run_utf8_mixed, f), 1e-6, ref);
    report("ws.encode.ack", "frames_per_s", rate(&c, run_encode_ack, f), 1, 0);
    report("http.handshake", "handshakes_per_s", rate(&c, run_handshake, f), 1, 0);
    report("token.verify", "tokens_per_s", rate(&c, run_token, f), 1, 0);
    report("token.verify.cached", "tokens_per_s", rate(&c, run_token_cached, f), 1, 0);
    report("ping.json.one", "pings_per_s", rate(&c, run_json_one, f), 1, 0);
    report("ping.json.one.jansson", "pings_per_s", rate(&c, run_json_one_slow, f), 1, 0);
    report("ping.json.batch64", "pings_per_s", rate(&c, run_json64, f), 1, 0);
    report("ping.json.batch64.jansson", "pings_per_s", rate(&c, run_json64_slow, f), 1, 0);
    report("ping.pb.batch64", "pings_per_s", rate(&c, run_pb64, f), 1, 0);
    return 0;
}
