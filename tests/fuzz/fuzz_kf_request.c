/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kf_request.c — libFuzzer target over the Kafka request path as the
 * server runs it: the input is a byte stream of size-prefixed frames; each
 * frame goes through kf_frame_size (--max-request-bytes 1 MiB), the request
 * header (v0-v2) and, for every implemented API and advertised version,
 * the generated body decoder, all inside an arena capped by the frame size.
 *
 * Properties checked beyond "no crash, no UB, no leak":
 *  - a decoded request re-encodes, and decoding that again and encoding
 *    once more gives the same bytes (encode∘decode is canonical), which
 *    catches any decoder/encoder asymmetry the spec-walk could hide;
 *  - the arena never exceeds its cap.
 * Seeds: tests/fuzz/corpus/fuzz_kf_request/ (requests captured from kcat,
 * librdkafka, kafka-python plus the kafka-python vectors of the unit test;
 * txn-*: librdkafka's and kafkajs' transactional producers).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cn_buf.h"
#include "cn_err.h"
#include "kf_frame.h"
#include "kf_msgs.h"
#include "kf_wire.h"

#define FUZZ_MAX_REQUEST (1u << 20)

static void fuzz_check_canonical(const kf_request *req, kf_arena *a)
{
    cn_buf b1 = CN_BUF_INIT, b2 = CN_BUF_INIT;
    kf_wr w;
    kf_wr_init(&w, &b1);
    int16_t key = req->hdr.api_key, ver = req->hdr.api_version;
    if (kf_encode_request(&w, key, ver, req->body) == 0) {
        void *again = NULL;
        int rc = kf_decode_request(key, ver, b1.data ? b1.data : (const unsigned char *)"", b1.len,
                                   a, &again);
        if (rc == 0) {
            kf_wr_init(&w, &b2);
            if (kf_encode_request(&w, key, ver, again) != 0)
                abort();
            if (b1.len != b2.len || (b1.len && memcmp(b1.data, b2.data, b1.len) != 0))
                abort();
        } else if (rc != CN_ENOMEM && rc != KF_EFRAME) {
            abort();
        }
        /* KF_EFRAME on re-decode is allowed only for the arena cap
         * (the re-encoded request can be bigger than a sloppy original
         * if it had e.g. booleans > 1 — never for a parse error). */
        if (rc == KF_EFRAME && kf_arena_error(a) != KF_EFRAME)
            abort();
    }
    cn_buf_free(&b1);
    cn_buf_free(&b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        size_t total;
        int rc = kf_frame_size(data + off, size - off, FUZZ_MAX_REQUEST, &total);
        if (rc)
            break; /* WANT_MORE at the end, or a frame the server would close on */
        if (total > size - off)
            break;
        size_t n = total - 4;
        /* An exact-size copy so any read past the frame is an ASan error. */
        unsigned char *p = malloc(n);
        memcpy(p, data + off + 4, n);
        size_t cap = kf_arena_cap_for(n) * 2; /* room for the re-decode */
        kf_arena *a = NULL;
        if (kf_arena_new(&a, cap) == 0) {
            kf_request req;
            rc = kf_request_decode(p, n, a, &req);
            if (rc == 0)
                fuzz_check_canonical(&req, a);
            else if (rc != KF_EFRAME && rc != KF_EVERSION && rc != CN_ENOMEM)
                abort();
            if (kf_arena_used(a) > cap)
                abort();
            kf_arena_free(a);
        }
        free(p);
        off += total;
    }
    return 0;
}
