/* SPDX-License-Identifier: MIT */
/*
 * cn_log.h — structured log lines with levels, to stderr, as logfmt
 *   ts=2026-11-28T18:00:00.123Z level=warn pid=4242 node=n1 mod=lg msg="..."
 * or, with --log-format json, one JSON object per line
 *   {"ts":"2026-11-28T18:00:00.123Z","level":"warn","pid":4242,"node":"n1","mod":"lg","msg":"..."}
 * (node only once a command has named its node).  The level threshold, the
 * format and the node name are process-wide, set by main() and by a
 * command's flags before its threads start; writes are single write(2)
 * calls so lines from several threads and processes never interleave.
 */
#ifndef CN_LOG_H
#define CN_LOG_H

#include <stddef.h>

enum cn_log_level { CN_LOG_DEBUG = 0, CN_LOG_INFO, CN_LOG_WARN, CN_LOG_ERROR, CN_LOG_OFF };
enum cn_log_format { CN_LOG_LOGFMT = 0, CN_LOG_JSON };

void cn_log_set_level(enum cn_log_level lvl);
/** Parse "debug|info|warn|error|off".  0 or CN_EINVAL. */
int cn_log_parse_level(const char *s, enum cn_log_level *out);
int cn_log_enabled(enum cn_log_level lvl);
void cn_log_set_format(enum cn_log_format f);
/** Parse "logfmt|json".  0 or CN_EINVAL. */
int cn_log_parse_format(const char *s, enum cn_log_format *out);
/** Name this process's node in every later line (copied; at most 63 bytes
 *  of A-Za-z0-9._:@- are kept; NULL or "" removes it).  Call before threads
 *  start. */
void cn_log_set_node(const char *node);
/** Format one line into buf (at most n bytes, n >= 64), ending in '\n'.
 *  @return its length.  What cn_log writes; exposed for tests. */
size_t cn_log_format_line(char *buf, size_t n, enum cn_log_level lvl, const char *mod,
                          const char *msg);
/** Log one line: mod is the module prefix ("lg"), fmt the message. */
void cn_log(enum cn_log_level lvl, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define cn_log_debug(mod, ...) cn_log(CN_LOG_DEBUG, mod, __VA_ARGS__)
#define cn_log_info(mod, ...) cn_log(CN_LOG_INFO, mod, __VA_ARGS__)
#define cn_log_warn(mod, ...) cn_log(CN_LOG_WARN, mod, __VA_ARGS__)
#define cn_log_error(mod, ...) cn_log(CN_LOG_ERROR, mod, __VA_ARGS__)

#endif
