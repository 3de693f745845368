/* SPDX-License-Identifier: MIT */
/*
 * cn_time.h — clocks and human time parsing.  Wall time in milliseconds
 * since the Unix epoch (what Kafka timestamps use) and a monotonic clock
 * in nanoseconds for measuring.
 */
#ifndef CN_TIME_H
#define CN_TIME_H

#include <stdint.h>

int64_t cn_now_ms(void);
uint64_t cn_mono_ns(void);
/** "250ms", "5s", "30m", "12h", "90d", or a bare number of seconds (as sleep(1)
 *  and timeout(1) read it: "40" is 40 s).  0 or CN_EINVAL. */
int cn_parse_duration_ms(const char *s, int64_t *out_ms);
/** "128MiB", "1GiB", "64KiB", "1000" (bytes), also kB/MB/GB (powers of 1000). */
int cn_parse_size(const char *s, uint64_t *out);
/** RFC 3339 UTC "2026-11-28T18:00:00Z" (fraction and offset allowed) → ms. */
int cn_parse_rfc3339_ms(const char *s, int64_t *out_ms);
/** Format ms since epoch as RFC 3339 UTC with milliseconds into out[32]. */
void cn_fmt_rfc3339_ms(int64_t ms, char out[32]);

#endif
