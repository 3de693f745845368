/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kf_response.c — libFuzzer target over the generated response
 * decoders, which cairn's tests use to read the server's replies (and any
 * future client of cairn's codec would run on bytes from the network).  Input: api key (2 bytes,
 * big-endian), version (1 byte), then the response body.  Properties: no crash/UB/leak; the arena
 * stays within its cap; a decoded response re-encodes, and decode∘encode of that is stable (same
 * bytes again). Seeds: tests/fuzz/corpus/fuzz_kf_response/ (responses encoded by kafka-python, from
 * tests/unit/gen_kf_vectors.py, and by cairn's server).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cn_buf.h"
#include "cn_bytes.h"
#include "cn_err.h"
#include "kf_frame.h"
#include "kf_msgs.h"
#include "kf_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    int16_t key = (int16_t)cn_rd_be16(data);
    int16_t ver = (int16_t)data[2];
    size_t n = size - 3;
    unsigned char *p = malloc(n ? n : 1); /* exact size: overruns are ASan errors */
    memcpy(p, data + 3, n);
    size_t cap = kf_arena_cap_for(n) * 2;
    kf_arena *a = NULL;
    if (kf_arena_new(&a, cap) == 0) {
        void *msg = NULL;
        int rc = kf_decode_response(key, ver, p, n, a, &msg);
        if (rc == 0) {
            cn_buf b1 = CN_BUF_INIT, b2 = CN_BUF_INIT;
            kf_wr w;
            kf_wr_init(&w, &b1);
            if (kf_encode_response(&w, key, ver, msg) == 0) {
                void *again = NULL;
                int rc2 = kf_decode_response(
                    key, ver, b1.data ? b1.data : (const unsigned char *)"", b1.len, a, &again);
                if (rc2 == 0) {
                    kf_wr_init(&w, &b2);
                    if (kf_encode_response(&w, key, ver, again) != 0)
                        abort();
                    if (b1.len != b2.len || (b1.len && memcmp(b1.data, b2.data, b1.len) != 0))
                        abort();
                } else if (rc2 != CN_ENOMEM &&
                           !(rc2 == KF_EFRAME && kf_arena_error(a) == KF_EFRAME)) {
                    abort();
                }
            }
            cn_buf_free(&b1);
            cn_buf_free(&b2);
        } else if (rc != KF_EFRAME && rc != KF_ETRAILING && rc != KF_EVERSION && rc != CN_ENOMEM) {
            abort();
        }
        if (kf_arena_used(a) > cap)
            abort();
        kf_arena_free(a);
    }
    free(p);
    return 0;
}
