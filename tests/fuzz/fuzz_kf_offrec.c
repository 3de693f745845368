/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kf_offrec.c — libFuzzer target for the replicated consumer-group
 * offset records (log/kafka/kf_offrec.c), which every clustered node
 * decodes from its copy of __consumer_offsets.  The input is a key length
 * (u16, big-endian), then the key, then the value.  A record the decoder
 * accepts must satisfy every bound it promises and re-encode to exactly
 * its key and value bytes; one it refuses must say CN_EDECODE.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cn_err.h"
#include "kf_offrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n < 2)
        return 0;
    size_t kl = ((size_t)d[0] << 8) | d[1];
    if (kl > n - 2)
        return 0;
    const uint8_t *k = d + 2, *v = d + 2 + kl;
    size_t vl = n - 2 - kl;
    kf_offrec r;
    int rc = kf_offrec_decode(k, kl, v, vl, &r);
    if (rc != 0) {
        if (rc != CN_EDECODE)
            abort();
        return 0;
    }
    if (r.group_len < 1 || r.group_len > KF_OFFREC_GROUP_MAX || r.topic_len < 1 ||
        r.topic_len > KF_OFFREC_TOPIC_MAX || r.partition < 0 || r.offset < -1 ||
        r.metadata_len > KF_OFFREC_METADATA_MAX || memchr(r.group, 0, r.group_len) ||
        memchr(r.topic, 0, r.topic_len))
        abort();
    unsigned char k2[KF_OFFREC_KEY_MAX], v2[KF_OFFREC_VALUE_MAX];
    size_t kl2, vl2;
    if (kf_offrec_encode(&r, k2, &kl2, v2, &vl2) != 0 || kl2 != kl || vl2 != vl ||
        memcmp(k2, k, kl) != 0 || memcmp(v2, v, vl) != 0)
        abort();
    return 0;
}
