/* SPDX-License-Identifier: MIT */
/*
 * cn_log.h — structured log lines (logfmt) with levels, to stderr.
 *   ts=2026-11-28T18:00:00.123Z level=warn mod=lg msg="..."
 * The level threshold is process-wide (set once by main() from the
 * CAIRN_LOG environment variable); writes are single write(2) calls so lines
 * from several threads never interleave.
 */
#ifndef CN_LOG_H
#define CN_LOG_H

enum cn_log_level { CN_LOG_DEBUG = 0, CN_LOG_INFO, CN_LOG_WARN, CN_LOG_ERROR, CN_LOG_OFF };

void cn_log_set_level(enum cn_log_level lvl);
/** Parse "debug|info|warn|error|off".  0 or CN_EINVAL. */
int cn_log_parse_level(const char *s, enum cn_log_level *out);
int cn_log_enabled(enum cn_log_level lvl);
/** Log one line: mod is the module prefix ("lg"), fmt the message. */
void cn_log(enum cn_log_level lvl, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define cn_log_debug(mod, ...) cn_log(CN_LOG_DEBUG, mod, __VA_ARGS__)
#define cn_log_info(mod, ...) cn_log(CN_LOG_INFO, mod, __VA_ARGS__)
#define cn_log_warn(mod, ...) cn_log(CN_LOG_WARN, mod, __VA_ARGS__)
#define cn_log_error(mod, ...) cn_log(CN_LOG_ERROR, mod, __VA_ARGS__)

#endif
