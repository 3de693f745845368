/* SPDX-License-Identifier: MIT */
/*
 * test_lg_compress.c — the RecordBatch payload codecs (log/lg_codec.h):
 *   - every codec round-trips empty, tiny, block-boundary and large,
 *     compressible and incompressible inputs;
 *   - our snappy output is xerial-framed, our lz4 output an LZ4 frame with
 *     independent blocks, our zstd output a frame with its content size;
 *   - decompression honours the cap exactly (size fits, size - 1 fails) and
 *     the output buffer never grows beyond cap + 1 bytes, for bombs with and
 *     without a declared size;
 *   - forms real producers write decode: raw snappy, concatenated gzip
 *     members, lz4 frames with a content size and with linked blocks,
 *     several lz4 frames, zstd frames without a content size, several zstd
 *     frames, a skippable zstd frame;
 *   - truncated, corrupt and trailing-garbage streams fail (or, where the
 *     format cannot tell, yield a prefix of the data and nothing else);
 *   - allocation failure at every step gives CN_ENOMEM and leaks nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "lg_codec.h"

#define MiB (1024u * 1024u)

static const int codecs[] = {LG_COMP_GZIP, LG_COMP_SNAPPY, LG_COMP_LZ4, LG_COMP_ZSTD};
#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

/* Deterministic input: text-like (compressible) or xorshift noise. */
static unsigned char *make_input(size_t n, int noisy)
{
    unsigned char *p = malloc(n ? n : 1);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        if (noisy) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            p[i] = (unsigned char)x;
        } else {
            p[i] = (unsigned char)("beacon b-07 rssi -61 player p-0042 "[i % 35]);
        }
    }
    return p;
}

static void roundtrip(int comp, const unsigned char *in, size_t n)
{
    cn_buf z = CN_BUF_INIT, out = CN_BUF_INIT;
    assert_int_equal(lg__compress((enum lg_compression)comp, in, n, &z), 0);
    assert_int_equal(lg__decompress((enum lg_compression)comp, z.data, z.len, n, &out), 0);
    assert_int_equal(out.len, n);
    if (n)
        assert_memory_equal(out.data, in, n);
    if (n) {
        /* one byte less room than needed: refused, nothing appended */
        cn_buf small = CN_BUF_INIT;
        assert_int_equal(lg__decompress((enum lg_compression)comp, z.data, z.len, n - 1, &small),
                         LG_ECOMPRESS);
        assert_int_equal(small.len, 0);
        assert_true(small.cap <= n);
        cn_buf_free(&small);
    }
    /* appending after existing bytes keeps them */
    cn_buf pre = CN_BUF_INIT;
    assert_int_equal(cn_buf_append(&pre, "HDR", 3), 0);
    assert_int_equal(lg__decompress((enum lg_compression)comp, z.data, z.len, n, &pre), 0);
    assert_int_equal(pre.len, n + 3);
    assert_memory_equal(pre.data, "HDR", 3);
    cn_buf_free(&pre);
    cn_buf_free(&z);
    cn_buf_free(&out);
}

static void test_roundtrip_sizes(void **st)
{
    (void)st;
    size_t sizes[] = {0, 1, 7, 100, 32767, 32768, 32769, 65536, 65537, 300000};
    for (size_t c = 0; c < NCODECS; c++)
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
            for (int noisy = 0; noisy < 2; noisy++) {
                unsigned char *in = make_input(sizes[s], noisy);
                roundtrip(codecs[c], in, sizes[s]);
                free(in);
            }
}

static void test_output_formats(void **st)
{
    (void)st;
    unsigned char *in = make_input(100000, 0);
    cn_buf z = CN_BUF_INIT;
    /* snappy: xerial header, then BE-length blocks of <= 32 KiB input */
    assert_int_equal(lg__compress(LG_COMP_SNAPPY, in, 100000, &z), 0);
    assert_memory_equal(z.data, "\x82SNAPPY\0\0\0\0\1\0\0\0\1", 16);
    size_t pos = 16, total = 0, blocks = 0;
    while (pos < z.len) {
        uint32_t bl = cn_rd_be32(z.data + pos);
        size_t ul;
        assert_int_equal(snappy_uncompressed_length((const char *)z.data + pos + 4, bl, &ul),
                         SNAPPY_OK);
        assert_true(ul <= 32768);
        total += ul;
        pos += 4 + bl;
        blocks++;
    }
    assert_int_equal(pos, z.len);
    assert_int_equal(total, 100000);
    assert_int_equal(blocks, 4);
    /* lz4: a frame whose descriptor says independent blocks, 64 KiB max */
    cn_buf_reset(&z);
    assert_int_equal(lg__compress(LG_COMP_LZ4, in, 100000, &z), 0);
    assert_int_equal(cn_rd_be32(z.data), 0x04224D18); /* magic 0x184D2204, LE */
    assert_true(z.data[4] & 0x20);                    /* FLG.B.Indep */
    assert_int_equal((z.data[5] >> 4) & 7, 4);        /* BD: 64 KiB */
    /* zstd: one frame that states its content size */
    cn_buf_reset(&z);
    assert_int_equal(lg__compress(LG_COMP_ZSTD, in, 100000, &z), 0);
    assert_int_equal(ZSTD_getFrameContentSize(z.data, z.len), 100000);
    /* gzip: an RFC 1952 member */
    cn_buf_reset(&z);
    assert_int_equal(lg__compress(LG_COMP_GZIP, in, 100000, &z), 0);
    assert_int_equal(z.data[0], 0x1f);
    assert_int_equal(z.data[1], 0x8b);
    /* no codec: invalid both ways */
    assert_int_equal(lg__compress(LG_COMP_NONE, in, 10, &z), CN_EINVAL);
    assert_int_equal(lg__decompress(LG_COMP_NONE, in, 10, 100, &z), CN_EINVAL);
    assert_int_equal(lg__decompress((enum lg_compression)7, in, 10, 100, &z), CN_EINVAL);
    cn_buf_free(&z);
    free(in);
}

/* Streams shaped like those of other producers. */
static void test_foreign_forms(void **st)
{
    (void)st;
    size_t n = 200000;
    unsigned char *in = make_input(n, 0);
    cn_buf z = CN_BUF_INIT, out = CN_BUF_INIT;

    /* raw snappy (librdkafka's form) */
    size_t zl = snappy_max_compressed_length(n);
    assert_int_equal(cn_buf_reserve(&z, zl), 0);
    assert_int_equal(snappy_compress((const char *)in, n, (char *)z.data, &zl), SNAPPY_OK);
    assert_int_equal(lg__decompress(LG_COMP_SNAPPY, z.data, zl, n, &out), 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, in, n);

    /* two gzip members back to back */
    cn_buf_reset(&z);
    cn_buf_reset(&out);
    assert_int_equal(lg__compress(LG_COMP_GZIP, in, 1000, &z), 0);
    assert_int_equal(lg__compress(LG_COMP_GZIP, in + 1000, n - 1000, &z), 0);
    assert_int_equal(lg__decompress(LG_COMP_GZIP, z.data, z.len, n, &out), 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, in, n);

    /* lz4 frame with content size, block checksums and linked blocks */
    cn_buf_reset(&z);
    cn_buf_reset(&out);
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.contentSize = n;
    prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    prefs.frameInfo.blockMode = LZ4F_blockLinked;
    zl = LZ4F_compressFrameBound(n, &prefs);
    assert_int_equal(cn_buf_reserve(&z, zl), 0);
    zl = LZ4F_compressFrame(z.data, zl, in, n, &prefs);
    assert_false(LZ4F_isError(zl));
    assert_int_equal(lg__decompress(LG_COMP_LZ4, z.data, zl, n, &out), 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, in, n);
    /* the declared size alone refuses it under a smaller cap */
    cn_buf fresh = CN_BUF_INIT;
    assert_int_equal(lg__decompress(LG_COMP_LZ4, z.data, zl, n - 1, &fresh), LG_ECOMPRESS);
    assert_true(fresh.cap == 0); /* refused before allocating output */
    cn_buf_reset(&out);
    /* a corrupted content checksum is caught */
    z.data[zl - 1] ^= 1;
    assert_int_equal(lg__decompress(LG_COMP_LZ4, z.data, zl, n, &out), LG_ECOMPRESS);
    assert_int_equal(out.len, 0);

    /* two lz4 frames back to back */
    cn_buf_reset(&z);
    cn_buf_reset(&out);
    assert_int_equal(lg__compress(LG_COMP_LZ4, in, 5000, &z), 0);
    assert_int_equal(lg__compress(LG_COMP_LZ4, in + 5000, n - 5000, &z), 0);
    assert_int_equal(lg__decompress(LG_COMP_LZ4, z.data, z.len, n, &out), 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, in, n);

    /* a zstd skippable frame (magic 0x184D2A50, LE size, payload) before a
     * real one */
    cn_buf_reset(&z);
    cn_buf_reset(&out);
    assert_int_equal(cn_buf_append(&z, "\x50\x2a\x4d\x18\x03\x00\x00\x00xyz", 11), 0);
    assert_int_equal(lg__compress(LG_COMP_ZSTD, in, n, &z), 0);
    assert_int_equal(lg__decompress(LG_COMP_ZSTD, z.data, z.len, n, &out), 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, in, n);

    /* zstd without content size, as streaming producers write it, then
     * followed by a second frame */
    cn_buf_reset(&z);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    assert_int_equal(cn_buf_reserve(&z, 2 * ZSTD_compressBound(n)), 0);
    ZSTD_outBuffer ob = {z.data, z.cap, 0};
    ZSTD_inBuffer ib = {in, n / 2, 0};
    assert_false(ZSTD_isError(ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_continue)));
    assert_int_equal(ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end), 0);
    assert_int_equal(ZSTD_getFrameContentSize(z.data, ob.pos), ZSTD_CONTENTSIZE_UNKNOWN);
    size_t first = ob.pos;
    ob.pos += ZSTD_compressCCtx(cc, z.data + first, z.cap - first, in + n / 2, n - n / 2, 1);
    ZSTD_freeCCtx(cc);
    cn_buf_reset(&out);
    assert_int_equal(lg__decompress(LG_COMP_ZSTD, z.data, ob.pos, n, &out), 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, in, n);
    /* first frame only, with a cap just below its size: the stream has no
     * declared size, so this exercises the growth cap */
    assert_int_equal(lg__decompress(LG_COMP_ZSTD, z.data, first, n / 2 - 1, &fresh), LG_ECOMPRESS);
    assert_true(fresh.cap <= n / 2);
    assert_int_equal(lg__decompress(LG_COMP_ZSTD, z.data, first, n / 2, &fresh), 0);
    assert_int_equal(fresh.len, n / 2);
    cn_buf_free(&fresh);

    cn_buf_free(&z);
    cn_buf_free(&out);
    free(in);
}

/* 128 MiB of zeros squeezed by each codec: decoding under a 1 MiB cap
 * fails and the output buffer stays at most cap + 1 bytes. */
static void test_bombs(void **st)
{
    (void)st;
    size_t big = 128 * MiB, cap = MiB;
    unsigned char *zeros = calloc(1, big);
    assert_non_null(zeros);
    for (size_t c = 0; c < NCODECS; c++) {
        cn_buf z = CN_BUF_INIT, out = CN_BUF_INIT;
        size_t n = codecs[c] == LG_COMP_SNAPPY ? 64 * MiB : big; /* snappy: ~21:1 at best */
        assert_int_equal(lg__compress((enum lg_compression)codecs[c], zeros, n, &z), 0);
        assert_true(z.len < n / 16);
        assert_int_equal(lg__decompress((enum lg_compression)codecs[c], z.data, z.len, cap, &out),
                         LG_ECOMPRESS);
        assert_int_equal(out.len, 0);
        assert_true(out.cap <= cap + 1);
        cn_buf_free(&z);
        cn_buf_free(&out);
    }
    free(zeros);
}

/* Every strict prefix of a single-frame stream is refused; xerial snappy
 * and gzip can only end early at a block or member boundary, which gives
 * a prefix of the data (the record layer then finds records missing). */
static void test_truncation(void **st)
{
    (void)st;
    size_t n = 70000; /* several xerial and lz4 blocks */
    unsigned char *in = make_input(n, 1);
    for (size_t c = 0; c < NCODECS; c++) {
        cn_buf z = CN_BUF_INIT;
        assert_int_equal(lg__compress((enum lg_compression)codecs[c], in, n, &z), 0);
        /* every cut in the first and last 100 bytes (headers, trailers,
         * checksums), ~400 more spread across the middle */
        size_t step = z.len / 400 + 1;
        for (size_t cut = 0; cut < z.len; cut += cut < 100 || cut + 100 >= z.len ? 1 : step) {
            cn_buf out = CN_BUF_INIT;
            int rc = lg__decompress((enum lg_compression)codecs[c], z.data, cut, n, &out);
            if (rc == 0) {
                assert_int_equal(codecs[c], LG_COMP_SNAPPY);
                assert_true(out.len < n);
                if (out.len)
                    assert_memory_equal(out.data, in, out.len);
            } else {
                assert_int_equal(rc, LG_ECOMPRESS);
                assert_int_equal(out.len, 0);
            }
            cn_buf_free(&out);
        }
        /* trailing garbage after a complete stream */
        assert_int_equal(cn_buf_append(&z, "\x01\x02\x03\x04\x05", 5), 0);
        cn_buf out = CN_BUF_INIT;
        assert_int_equal(lg__decompress((enum lg_compression)codecs[c], z.data, z.len, n, &out),
                         LG_ECOMPRESS);
        cn_buf_free(&out);
        cn_buf_free(&z);
    }
    free(in);
}

/* Flip bits across each stream: whatever the outcome, it stays within the
 * cap and within the input (ASan/UBSan builds check the latter). */
static void test_corruption(void **st)
{
    (void)st;
    size_t n = 5000;
    unsigned char *in = make_input(n, 0);
    for (size_t c = 0; c < NCODECS; c++) {
        cn_buf z = CN_BUF_INIT;
        assert_int_equal(lg__compress((enum lg_compression)codecs[c], in, n, &z), 0);
        int refused = 0;
        for (size_t i = 0; i < z.len; i++) {
            z.data[i] ^= (unsigned char)(1u << (i % 8));
            cn_buf out = CN_BUF_INIT;
            int rc = lg__decompress((enum lg_compression)codecs[c], z.data, z.len, 2 * n, &out);
            assert_true(rc == 0 || rc == LG_ECOMPRESS);
            assert_true(out.len <= 2 * n);
            refused += rc != 0;
            cn_buf_free(&out);
            z.data[i] ^= (unsigned char)(1u << (i % 8));
        }
        /* gzip carries a CRC-32 and the length, lz4 frames a header
         * checksum, snappy and zstd (no checksum here) at least notice
         * some broken structure. */
        if (codecs[c] == LG_COMP_GZIP)
            assert_true(refused >= (int)z.len - 8); /* MTIME, XFL, OS are not checked */
        assert_true(refused > 0);
        cn_buf_free(&z);
    }
    free(in);
}

/* Hand-made xerial streams: the block framing is checked. */
static void test_xerial_framing(void **st)
{
    (void)st;
    unsigned char s[64];
    memcpy(s, "\x82SNAPPY\0\0\0\0\1\0\0\0\1", 16);
    cn_buf out = CN_BUF_INIT;
    /* header only: an empty stream */
    assert_int_equal(lg__decompress(LG_COMP_SNAPPY, s, 16, 10, &out), 0);
    assert_int_equal(out.len, 0);
    /* one block "abc" (raw snappy: len 3, literal tag (3-1)<<2) */
    memcpy(s + 16,
           "\0\0\0\5\x03\x08"
           "abc",
           9);
    assert_int_equal(lg__decompress(LG_COMP_SNAPPY, s, 25, 10, &out), 0);
    assert_int_equal(out.len, 3);
    assert_memory_equal(out.data, "abc", 3);
    cn_buf_reset(&out);
    /* block length zero, negative, past the end, or cut inside the length */
    const char *bad_len[] = {"\0\0\0\0", "\xff\xff\xff\xfb", "\0\0\0\6", "\x7f\xff\xff\xff"};
    for (int i = 0; i < 4; i++) {
        memcpy(s + 16, bad_len[i], 4);
        assert_int_equal(lg__decompress(LG_COMP_SNAPPY, s, 25, 10, &out), LG_ECOMPRESS);
    }
    memcpy(s + 16, "\0\0\0\5", 4);
    assert_int_equal(lg__decompress(LG_COMP_SNAPPY, s, 18, 10, &out), LG_ECOMPRESS);
    /* a block that lies about its size: claims 100 bytes in 5 */
    memcpy(s + 20,
           "\x64\x08"
           "abc",
           5);
    assert_int_equal(lg__decompress(LG_COMP_SNAPPY, s, 25, 1000, &out), LG_ECOMPRESS);
    /* a block claiming 1 GiB: refused by the cap before allocating */
    cn_buf fresh = CN_BUF_INIT;
    memcpy(s + 16,
           "\0\0\0\x09\x80\x80\x80\x80\x04\x08"
           "abc",
           13);
    assert_int_equal(lg__decompress(LG_COMP_SNAPPY, s, 29, MiB, &fresh), LG_ECOMPRESS);
    assert_int_equal(fresh.cap, 0);
    /* 15 bytes of header: not xerial, and not valid raw snappy either */
    assert_int_equal(lg__decompress(LG_COMP_SNAPPY, s, 15, 1000, &out), LG_ECOMPRESS);
    assert_int_equal(out.len, 0);
    cn_buf_free(&out);
}

static void test_oom(void **st)
{
    (void)st;
    size_t n = 150000;
    unsigned char *in = make_input(n, 0);
    for (size_t c = 0; c < NCODECS; c++) {
        int enc_ok = 0, dec_ok = 0;
        unsigned char *zd = NULL; /* libc copy of the compressed bytes */
        size_t zn = 0;
        for (long k = 1; k < 100 && !enc_ok; k++) {
            cn_test_alloc_fail_at(k, 1);
            cn_buf t = CN_BUF_INIT;
            int rc = lg__compress((enum lg_compression)codecs[c], in, n, &t);
            if (rc == 0) {
                enc_ok = 1;
                zd = malloc(t.len);
                memcpy(zd, t.data, t.len);
                zn = t.len;
            } else {
                assert_int_equal(rc, CN_ENOMEM);
                assert_int_equal(t.len, 0);
            }
            cn_buf_free(&t);
            long live = cn_test_alloc_live();
            cn_test_alloc_reset();
            assert_int_equal(live, 0);
        }
        for (long k = 1; k < 100 && !dec_ok; k++) {
            cn_test_alloc_fail_at(k, 1);
            cn_buf out = CN_BUF_INIT;
            int rc = lg__decompress((enum lg_compression)codecs[c], zd, zn, n, &out);
            if (rc == 0) {
                dec_ok = 1;
                assert_int_equal(out.len, n);
                assert_memory_equal(out.data, in, n);
            } else {
                assert_int_equal(rc, CN_ENOMEM);
                assert_int_equal(out.len, 0);
            }
            cn_buf_free(&out);
            long live = cn_test_alloc_live();
            cn_test_alloc_reset();
            assert_int_equal(live, 0);
        }
        assert_true(enc_ok && dec_ok);
        free(zd);
    }
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_sizes), cmocka_unit_test(test_output_formats),
        cmocka_unit_test(test_foreign_forms),   cmocka_unit_test(test_bombs),
        cmocka_unit_test(test_truncation),      cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_xerial_framing),  cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
