/* SPDX-License-Identifier: MIT */
/*
 * hunt_io_kafka.h — the worker's io over the Kafka protocol (`cairn hunt
 * --brokers`), to a cairn log node or a Kafka cluster, with librdkafka:
 * a consumer with no consumer group (partitions assigned explicitly at the
 * offsets stored in RocksDB) and an idempotent producer for hunt-events.
 * Threads: the worker's (librdkafka runs its own).  Ownership: owns both
 * clients.
 */
#ifndef HUNT_IO_KAFKA_H
#define HUNT_IO_KAFKA_H

#include "hunt_worker.h"

#include <stddef.h>
#include <stdint.h>

/** Connect (metadata within 15 s).  @return 0, CN_ETIMEDOUT, CN_EINVAL,
 *  CN_ENOMEM; err says what failed. */
int hunt_io_kafka_new(hunt_io **out, const char *brokers, const char *node, char *err,
                      size_t errlen);
void hunt_io_kafka_free(hunt_io *io); /* NULL ok */
/**
 * How long append() waits for delivery reports (flush_ms) and how long
 * librdkafka's producer keeps trying a record (message.timeout.ms, read back
 * from the producer's own configuration).  flush_ms is longer, so when
 * append() returns every record it handed over has its final report: none
 * is still in flight, to be delivered after the worker gave up on it.
 */
void hunt_io_kafka_limits(hunt_io *io, int64_t *flush_ms, int64_t *msg_timeout_ms);

#endif
