/* SPDX-License-Identifier: MIT */
/*
 * cn_crc32c.h — CRC-32C (Castagnoli), as used by Kafka RecordBatch v2.
 * Uses the SSE4.2 crc32 instruction when the CPU has it, else a table.
 */
#ifndef CN_CRC32C_H
#define CN_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/** Extend crc (start with 0) over n bytes; returns the finished CRC. */
uint32_t cn_crc32c(uint32_t crc, const void *buf, size_t n);

#endif
