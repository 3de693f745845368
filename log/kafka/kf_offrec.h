/* SPDX-License-Identifier: MIT */
/*
 * kf_offrec.h — the records of the replicated consumer-group offsets
 * partitions (`__consumer_offsets`, clustered nodes only): the key and
 * value of one committed offset, and which partition a group belongs to.
 * Pure codec: no I/O, no globals.  Format and rules: docs/replication.md,
 * "Consumer-group offsets, replicated".
 */
#ifndef KF_OFFREC_H
#define KF_OFFREC_H

#include <stddef.h>
#include <stdint.h>

#define KF_OFFSETS_TOPIC "__consumer_offsets"
#define KF_OFFSETS_PARTITIONS 3
#define KF_OFFREC_VERSION 1
#define KF_OFFREC_GROUP_MAX 255
#define KF_OFFREC_TOPIC_MAX 249
#define KF_OFFREC_METADATA_MAX 4096
/* Largest key and value the encoder writes. */
#define KF_OFFREC_KEY_MAX (2 + 2 + KF_OFFREC_GROUP_MAX + 2 + KF_OFFREC_TOPIC_MAX + 4)
#define KF_OFFREC_VALUE_MAX (2 + 8 + 2 + KF_OFFREC_METADATA_MAX)

/** One committed offset.  Decoded strings point into the record (not
 *  NUL-terminated: use the lengths). */
typedef struct kf_offrec {
    const char *group;
    size_t group_len;
    const char *topic;
    size_t topic_len;
    int32_t partition;
    int64_t offset;
    const char *metadata; /* may be NULL when metadata_len is 0 */
    size_t metadata_len;
} kf_offrec;

/** The offsets partition of group (CRC-32C of its id mod KF_OFFSETS_PARTITIONS). */
int32_t kf_offrec_partition(const char *group, size_t len);

/**
 * Encode r's key into key[KF_OFFREC_KEY_MAX] and value into
 * value[KF_OFFREC_VALUE_MAX].
 * @return 0; CN_EINVAL (an empty or too long group or topic, partition < 0,
 *         offset < -1, metadata over KF_OFFREC_METADATA_MAX).
 */
int kf_offrec_encode(const kf_offrec *r, unsigned char *key, size_t *klen, unsigned char *value,
                     size_t *vlen);

/**
 * Decode a record's key and value.  Strict: version 1, every length within
 * its bound and the fields filling key and value exactly, no NUL in group
 * or topic, partition >= 0, offset >= -1.
 * @return 0; CN_EDECODE (malformed, truncated, oversized, a null key or
 *         value, another version).
 */
int kf_offrec_decode(const unsigned char *key, size_t klen, const unsigned char *value, size_t vlen,
                     kf_offrec *out);

#endif
