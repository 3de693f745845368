/* SPDX-License-Identifier: MIT */
/*
 * kf_offrec.c — codec of the replicated consumer-group offset records
 * (kf_offrec.h).  A committed offset is stored as one record of an
 * internal partition; every node decodes the committed ones into its LMDB
 * `groups` table, so decoding is strict and never trusts a length: the
 * bytes come from another node's log.
 * Threads: any (pure).
 */
#include "kf_offrec.h"

#include "cn_bytes.h"
#include "cn_crc32c.h"
#include "cn_err.h"

#include <string.h>

int32_t kf_offrec_partition(const char *group, size_t len)
{
    return (int32_t)(cn_crc32c(0, group, len) % KF_OFFSETS_PARTITIONS);
}

static int kf_offrec_valid(const kf_offrec *r)
{
    return r->group && r->topic && r->group_len >= 1 && r->group_len <= KF_OFFREC_GROUP_MAX &&
           r->topic_len >= 1 && r->topic_len <= KF_OFFREC_TOPIC_MAX && r->partition >= 0 &&
           r->offset >= -1 && r->metadata_len <= KF_OFFREC_METADATA_MAX &&
           (r->metadata || r->metadata_len == 0) && !memchr(r->group, 0, r->group_len) &&
           !memchr(r->topic, 0, r->topic_len);
}

int kf_offrec_encode(const kf_offrec *r, unsigned char *key, size_t *klen, unsigned char *value,
                     size_t *vlen)
{
    if (!r || !key || !klen || !value || !vlen || !kf_offrec_valid(r))
        return CN_EINVAL;
    unsigned char *p = key;
    cn_wr_be16(p, KF_OFFREC_VERSION);
    cn_wr_be16(p + 2, (uint16_t)r->group_len);
    memcpy(p + 4, r->group, r->group_len);
    p += 4 + r->group_len;
    cn_wr_be16(p, (uint16_t)r->topic_len);
    memcpy(p + 2, r->topic, r->topic_len);
    p += 2 + r->topic_len;
    cn_wr_be32(p, (uint32_t)r->partition);
    *klen = (size_t)(p + 4 - key);
    cn_wr_be16(value, KF_OFFREC_VERSION);
    cn_wr_be64(value + 2, (uint64_t)r->offset);
    cn_wr_be16(value + 10, (uint16_t)r->metadata_len);
    if (r->metadata_len)
        memcpy(value + 12, r->metadata, r->metadata_len);
    *vlen = 12 + r->metadata_len;
    return 0;
}

/* A u16-length-prefixed string at *p (n bytes left) of 1..max bytes. */
static int kf_offrec_str(const unsigned char **p, size_t *n, size_t max, const char **s,
                         size_t *len)
{
    if (*n < 2)
        return CN_EDECODE;
    size_t l = cn_rd_be16(*p);
    if (l < 1 || l > max || l > *n - 2 || memchr(*p + 2, 0, l))
        return CN_EDECODE;
    *s = (const char *)(*p + 2);
    *len = l;
    *p += 2 + l;
    *n -= 2 + l;
    return 0;
}

static int kf_offrec_key(const unsigned char *p, size_t n, kf_offrec *out)
{
    if (n < 2 || cn_rd_be16(p) != KF_OFFREC_VERSION)
        return CN_EDECODE;
    p += 2;
    n -= 2;
    if (kf_offrec_str(&p, &n, KF_OFFREC_GROUP_MAX, &out->group, &out->group_len) ||
        kf_offrec_str(&p, &n, KF_OFFREC_TOPIC_MAX, &out->topic, &out->topic_len) || n != 4)
        return CN_EDECODE;
    out->partition = (int32_t)cn_rd_be32(p);
    return out->partition < 0 ? CN_EDECODE : 0;
}

static int kf_offrec_value(const unsigned char *p, size_t n, kf_offrec *out)
{
    if (n < 12 || cn_rd_be16(p) != KF_OFFREC_VERSION)
        return CN_EDECODE;
    out->offset = (int64_t)cn_rd_be64(p + 2);
    size_t ml = cn_rd_be16(p + 10);
    if (out->offset < -1 || ml > KF_OFFREC_METADATA_MAX || ml != n - 12)
        return CN_EDECODE;
    out->metadata = ml ? (const char *)(p + 12) : NULL;
    out->metadata_len = ml;
    return 0;
}

int kf_offrec_decode(const unsigned char *key, size_t klen, const unsigned char *value, size_t vlen,
                     kf_offrec *out)
{
    if (!key || !value || !out)
        return CN_EDECODE;
    memset(out, 0, sizeof(*out));
    if (kf_offrec_key(key, klen, out) || kf_offrec_value(value, vlen, out)) {
        memset(out, 0, sizeof(*out));
        return CN_EDECODE;
    }
    return 0;
}
