/* SPDX-License-Identifier: MIT */
/*
 * bench_batch.c — benchmarks of the record layer, one JSON object per line
 * per figure (run by `scripts/bench batch`):
 *   - machine.memcpy: copying the same bytes, the reference the codec
 *     figures are compared against in the same run (ratio_to_memcpy);
 *   - batch.build: lg_batch_builder for 1000 ping CloudEvents per batch,
 *     per codec (records/s, batch bytes per record);
 *   - batch.iter: lg_batch_iter over the same batches (decompress + decode
 *     every record and header), per codec;
 *   - ce.encode / ce.decode: the ping CloudEvent (decode includes
 *     unpacking its BlePing data, as hunt workers do);
 *   - format.json / format.text: rendering records as `cairn log dump`.
 * Each figure is the median of --runs runs (default 5), each run at least
 * --seconds (default 0.5) of work.  Nothing asserts a time.
 */
#include "cn_buf.h"
#include "cn_ce.h"
#include "cn_err.h"
#include "cn_time.h"
#include "lg_batch.h"
#include "insp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECS_PER_BATCH 1000
#define MAX_RUNS 64

typedef struct bench_cfg {
    int runs;
    double seconds;
} bench_cfg;

static const char *codec_name[] = {"none", "gzip", "snappy", "lz4", "zstd"};

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_dbl);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double secs_since(uint64_t t0)
{
    return (double)(cn_mono_ns() - t0) / 1e9;
}

/* A run: call fn(ud) until --seconds have passed; returns items per second
 * where fn returns the items it handled (negative: failure, exit). */
static double rate(const bench_cfg *c, long (*fn)(void *), void *ud)
{
    double r[MAX_RUNS];
    for (int i = 0; i < c->runs; i++) {
        uint64_t t0 = cn_mono_ns();
        long items = 0;
        do {
            long n = fn(ud);
            if (n < 0) {
                fprintf(stderr, "bench_batch: a benchmark step failed\n");
                exit(1);
            }
            items += n;
        } while (secs_since(t0) < c->seconds);
        r[i] = items / secs_since(t0);
    }
    return median(r, c->runs);
}

/* ---- fixtures ------------------------------------------------------------- */

typedef struct fixture {
    cn_buf pings[RECS_PER_BATCH]; /* encoded CloudEvents */
    char keys[RECS_PER_BATCH][16];
    cn_buf batch[5]; /* one built batch per codec */
    int comp;        /* the codec under test */
    cn_buf scratch;
    unsigned char *copy_dst;
} fixture;

static const lg_header ce_hdr = {(const unsigned char *)"content-type", 12,
                                 (const unsigned char *)CN_CE_CONTENT_TYPE, 32};

/* The strings of ping i, made once so encode figures time only encoding. */
typedef struct ping_strs {
    char id[16], player[16], beacon[16], ce_id[16];
} ping_strs;

static ping_strs strs[RECS_PER_BATCH];

static void make_strs(void)
{
    for (int i = 0; i < RECS_PER_BATCH; i++) {
        snprintf(strs[i].id, sizeof(strs[i].id), "c-%d", i);
        snprintf(strs[i].player, sizeof(strs[i].player), "p-%04d", i % 997);
        snprintf(strs[i].beacon, sizeof(strs[i].beacon), "b-%02d", i % 40);
        snprintf(strs[i].ce_id, sizeof(strs[i].ce_id), "gw1-%d", i);
    }
}

static int make_ping(cn_buf *out, int i)
{
    Cairn__V1__BlePing p = CAIRN__V1__BLE_PING__INIT;
    p.id = strs[i].id;
    p.beacon = strs[i].beacon;
    p.player = strs[i].player;
    p.rssi = -40 - i % 50;
    p.ts = 1764320000000LL + i;
    return cn_ce_encode_ping(out, "gw1", strs[i].ce_id, 1764320000000LL + i, &p);
}

static long build_one(void *ud)
{
    fixture *f = ud;
    lg_batch_builder *b;
    if (lg_batch_builder_new(&b, (enum lg_compression)f->comp))
        return -1;
    for (int i = 0; i < RECS_PER_BATCH; i++)
        if (lg_batch_builder_add(b, 1764320000000LL + i, f->keys[i], strlen(f->keys[i]),
                                 f->pings[i].data, f->pings[i].len, &ce_hdr, 1))
            return -1;
    cn_buf_reset(&f->scratch);
    int rc = lg_batch_builder_finish(b, &f->scratch);
    lg_batch_builder_free(b);
    return rc ? -1 : RECS_PER_BATCH;
}

static long iter_one(void *ud)
{
    fixture *f = ud;
    const cn_buf *bt = &f->batch[f->comp];
    lg_batch_iter *it;
    if (lg_batch_iter_open(&it, bt->data, bt->len, 64u << 20))
        return -1;
    long n = 0;
    lg_record r;
    lg_header h;
    while (lg_batch_iter_next(it, &r) == 0) {
        if (r.header_count && lg_record_header(&r, 0, &h))
            return -1;
        n++;
    }
    lg_batch_iter_close(it);
    return n == RECS_PER_BATCH ? n : -1;
}

static long memcpy_one(void *ud)
{
    fixture *f = ud;
    const cn_buf *bt = &f->batch[LG_COMP_NONE];
    memcpy(f->copy_dst, bt->data, bt->len);
    __asm__ volatile("" : : "r"(f->copy_dst) : "memory"); /* keep the copy */
    return RECS_PER_BATCH;
}

static long ce_encode_one(void *ud)
{
    fixture *f = ud;
    cn_buf_reset(&f->scratch);
    for (int i = 0; i < 100; i++)
        if (make_ping(&f->scratch, i))
            return -1;
    return 100;
}

/* Decode the envelope and unpack the BlePing, as a hunt worker does. */
static long ce_decode_one(void *ud)
{
    fixture *f = ud;
    for (int i = 0; i < 100; i++) {
        cn_ce_msg *m;
        cn_ce ev;
        const ProtobufCMessage *p;
        if (cn_ce_decode(f->pings[i].data, f->pings[i].len, &m, &ev) ||
            cn_ce_msg_data(m, &ev, &cairn__v1__ble_ping__descriptor, &p))
            return -1;
        cn_ce_msg_free(m);
    }
    return 100;
}

static long format_one(void *ud, enum insp_format fmt)
{
    fixture *f = ud;
    lg_batch_iter *it;
    if (lg_batch_iter_open(&it, f->batch[0].data, f->batch[0].len, 0))
        return -1;
    lg_record r;
    long n = 0;
    cn_buf_reset(&f->scratch);
    while (lg_batch_iter_next(it, &r) == 0 && n < 200) {
        if (insp_format_record(&f->scratch, fmt, "ble-raw", 0, &r))
            return -1;
        n++;
    }
    lg_batch_iter_close(it);
    return n;
}

static long format_json_one(void *ud)
{
    return format_one(ud, INSP_FMT_JSON);
}

static long format_text_one(void *ud)
{
    return format_one(ud, INSP_FMT_TEXT);
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
            fprintf(stderr, "usage: bench_batch [--runs N] [--seconds S]\n");
            return 2;
        }
    }
    if (c.runs < 1 || c.runs > MAX_RUNS)
        c.runs = 5;
    fixture *f = calloc(1, sizeof(*f));
    make_strs();
    for (int i = 0; i < RECS_PER_BATCH; i++) {
        if (make_ping(&f->pings[i], i)) {
            fprintf(stderr, "bench_batch: cannot encode a ping\n");
            return 1;
        }
        snprintf(f->keys[i], sizeof(f->keys[i]), "p-%04d", i % 997);
    }
    for (f->comp = 0; f->comp <= LG_COMP_ZSTD; f->comp++) {
        if (build_one(f) < 0)
            return 1;
        cn_buf_append(&f->batch[f->comp], f->scratch.data, f->scratch.len);
    }
    f->copy_dst = malloc(f->batch[0].len);

    double ref = rate(&c, memcpy_one, f);
    printf("{\"bench\":\"machine.memcpy\",\"bytes\":%zu,\"records_per_s\":%.0f,\"mb_per_s\":%.0f,"
           "\"runs\":%d}\n",
           f->batch[0].len, ref, ref * (double)f->batch[0].len / RECS_PER_BATCH / 1e6, c.runs);
    fflush(stdout);
    for (f->comp = 0; f->comp <= LG_COMP_ZSTD; f->comp++) {
        double b = rate(&c, build_one, f);
        double it = rate(&c, iter_one, f);
        double bpr = (double)f->batch[f->comp].len / RECS_PER_BATCH;
        printf("{\"bench\":\"batch.build\",\"codec\":\"%s\",\"records_per_batch\":%d,"
               "\"bytes_per_record\":%.1f,\"records_per_s\":%.0f,\"runs\":%d}\n",
               codec_name[f->comp], RECS_PER_BATCH, bpr, b, c.runs);
        printf("{\"bench\":\"batch.iter\",\"codec\":\"%s\",\"records_per_batch\":%d,"
               "\"records_per_s\":%.0f,\"ratio_to_memcpy\":%.4f,\"runs\":%d}\n",
               codec_name[f->comp], RECS_PER_BATCH, it, it / ref, c.runs);
        fflush(stdout);
    }
    double enc = rate(&c, ce_encode_one, f), dec = rate(&c, ce_decode_one, f);
    printf(
        "{\"bench\":\"ce.encode\",\"event\":\"cairn.ble.ping\",\"bytes\":%zu,\"events_per_s\":%.0f,"
        "\"runs\":%d}\n",
        f->pings[0].len, enc, c.runs);
    printf("{\"bench\":\"ce.decode\",\"event\":\"cairn.ble.ping\",\"with_data\":true,"
           "\"events_per_s\":%.0f,\"runs\":%d}\n",
           dec, c.runs);
    double fj = rate(&c, format_json_one, f), ft = rate(&c, format_text_one, f);
    printf("{\"bench\":\"format.json\",\"records_per_s\":%.0f,\"runs\":%d}\n", fj, c.runs);
    printf("{\"bench\":\"format.text\",\"records_per_s\":%.0f,\"runs\":%d}\n", ft, c.runs);
    for (int i = 0; i < RECS_PER_BATCH; i++)
        cn_buf_free(&f->pings[i]);
    for (int i = 0; i < 5; i++)
        cn_buf_free(&f->batch[i]);
    cn_buf_free(&f->scratch);
    free(f->copy_dst);
    free(f);
    return 0;
}
