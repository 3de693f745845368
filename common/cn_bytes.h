/* SPDX-License-Identifier: MIT */
/*
 * cn_bytes.h — big-endian fixed-width integers and Kafka-style varints
 * (zigzag signed varint / unsigned varint), shared by the RecordBatch
 * codec and the Kafka wire codec.  Header-only, pure, bounds-checked:
 * every reader takes the remaining length and never reads past it.
 */
#ifndef CN_BYTES_H
#define CN_BYTES_H

#include <stddef.h>
#include <stdint.h>

static inline uint16_t cn_rd_be16(const unsigned char *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t cn_rd_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t cn_rd_be64(const unsigned char *p)
{
    return ((uint64_t)cn_rd_be32(p) << 32) | cn_rd_be32(p + 4);
}
static inline void cn_wr_be16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}
static inline void cn_wr_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}
static inline void cn_wr_be64(unsigned char *p, uint64_t v)
{
    cn_wr_be32(p, (uint32_t)(v >> 32));
    cn_wr_be32(p + 4, (uint32_t)v);
}

/**
 * Read an unsigned LEB128 varint of at most 10 bytes (5 if max32).
 * @return bytes consumed (>0), 0 if truncated, -1 if over-long.
 */
static inline int cn_rd_uvarint(const unsigned char *p, size_t n, uint64_t *out, int max32)
{
    uint64_t v = 0;
    int maxb = max32 ? 5 : 10;
    for (int i = 0; i < maxb; i++) {
        if ((size_t)i >= n)
            return 0;
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            if (max32 && v > 0xffffffffu)
                return -1;
            *out = v;
            return i + 1;
        }
    }
    return -1;
}

/** Zigzag-decoded signed varint; same return convention as cn_rd_uvarint. */
static inline int cn_rd_varint(const unsigned char *p, size_t n, int64_t *out, int max32)
{
    uint64_t u;
    int r = cn_rd_uvarint(p, n, &u, max32);
    if (r > 0)
        *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return r;
}

/** Write an unsigned varint into p (room for 10 bytes); returns its length. */
static inline int cn_wr_uvarint(unsigned char *p, uint64_t v)
{
    int i = 0;
    while (v >= 0x80) {
        p[i++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[i++] = (unsigned char)v;
    return i;
}

static inline int cn_wr_varint(unsigned char *p, int64_t v)
{
    return cn_wr_uvarint(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static inline int cn_uvarint_len(uint64_t v)
{
    int n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

#endif
