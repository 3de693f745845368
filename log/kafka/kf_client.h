/* SPDX-License-Identifier: MIT */
/*
 * kf_client.h — a small blocking Kafka client over cairn's own codec, for
 * tools that talk to a running node (`cairn log --brokers`): one TCP
 * connection, one request at a time, every reply decoded into a caller
 * arena.  Not for data-path use (clients there are librdkafka & co).
 * Threads: one owner per client.  See docs/kafka.md.
 */
#ifndef KF_CLIENT_H
#define KF_CLIENT_H

#include <stdint.h>

#include "kf_msgs.h"
#include "kf_wire.h"

typedef struct kf_client kf_client;

/**
 * Connect to "HOST:PORT" (IPv4 literal or a resolvable name).
 * @return 0; CN_EINVAL (bad address); CN_ESYS (connect failed: errno);
 *         CN_ENOMEM.  On failure *out is NULL.
 */
int kf_client_connect(kf_client **out, const char *hostport, int timeout_ms);
/**
 * Send one request and decode its reply into a (the reply's strings and
 * bytes live in a, so they stay valid until a is reset or freed).
 * @return 0; KF_EVERSION (not in the generated ranges); CN_ETIMEDOUT;
 *         CN_EIO (connection lost); KF_EFRAME (a reply that does not
 *         decode or carries the wrong correlation id); CN_ENOMEM.
 */
int kf_client_call(kf_client *c, int16_t api_key, int16_t version, const void *req, kf_arena *a,
                   void **resp);
void kf_client_close(kf_client *c); /* NULL-safe */

#endif
