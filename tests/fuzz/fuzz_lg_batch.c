/* SPDX-License-Identifier: MIT */
/*
 * fuzz_lg_batch.c — libFuzzer target for the RecordBatch reader: arbitrary
 * bytes go through lg_batch_validate and, whatever it says, through
 * lg_batch_iter (open, every record, every header) and insp_format (json and
 * text; each json line must parse).  A second pass repairs the input's
 * batchLength, magic and CRC-32C first, so the fuzzer reaches the record
 * decoder and the decompressors instead of stopping at the CRC.
 * Properties: no crash or sanitizer report; iteration ends (CN_DONE or an
 * error) within recordCount + 1 calls; decompression stays under the cap;
 * json output is valid JSON.  Seed corpus: kafka-python's batches from
 * tests/vectors plus builder output in every codec.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cn_bytes.h"
#include "cn_crc32c.h"
#include "cn_err.h"
#include "lg_batch.h"
#include "insp.h"

#define FUZZ_MAX_DECOMPRESSED (1u << 20)

static void render(const lg_record *r)
{
    cn_buf out = CN_BUF_INIT;
    if (insp_format_record(&out, INSP_FMT_JSON, "t", 0, r) == 0) {
        json_error_t err;
        json_t *j = json_loadb((const char *)out.data, out.len, JSON_ALLOW_NUL, &err);
        if (!j)
            abort(); /* insp_format_record promised valid JSON */
        json_decref(j);
    }
    cn_buf_reset(&out);
    (void)insp_format_record(&out, INSP_FMT_TEXT, NULL, 0, r);
    cn_buf_free(&out);
}

static void iterate(const unsigned char *p, size_t n)
{
    lg_batch_iter *it;
    if (lg_batch_iter_open(&it, p, n, FUZZ_MAX_DECOMPRESSED))
        return;
    lg_batch_hdr h;
    lg_batch_parse_hdr(p, n, &h);
    lg_record r;
    int64_t calls = 0;
    int rc;
    while ((rc = lg_batch_iter_next(it, &r)) == 0) {
        if (++calls > (int64_t)h.record_count)
            abort(); /* more records than the batch declares */
        for (size_t i = 0; i < r.header_count; i++) {
            lg_header hd;
            if (lg_record_header(&r, i, &hd))
                abort(); /* next() validated every header */
        }
        render(&r);
    }
    if (rc != CN_DONE && rc != LG_EBADBATCH)
        abort();
    lg_batch_iter_close(it);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* As the log uses it (validate, then iterate) and beyond: the iterator
     * must also survive bytes that failed validation. */
    (void)lg_batch_validate(data, size, NULL);
    iterate(data, size);
    if (size < LG_BATCH_HEADER_LEN || size > INT32_MAX)
        return 0;
    unsigned char *p = malloc(size);
    memcpy(p, data, size);
    cn_wr_be32(p + 8, (uint32_t)(size - LG_BATCH_LOG_OVERHEAD));
    p[16] = 2;
    cn_wr_be32(p + 17, cn_crc32c(0, p + 21, size - 21));
    if (lg_batch_validate(p, size, NULL) == 0)
        iterate(p, size);
    free(p);
    return 0;
}
