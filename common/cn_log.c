/* SPDX-License-Identifier: MIT */
/*
 * cn_log.c — logfmt lines to stderr.  Each line is formatted into a stack
 * buffer and written with one write(2), so concurrent threads and
 * processes sharing stderr never interleave within a line.
 */
#include "cn_log.h"

#include "cn_err.h"
#include "cn_time.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static _Atomic int cn__log_level = CN_LOG_INFO;
static const char *const cn__lvl_names[] = {"debug", "info", "warn", "error", "off"};

void cn_log_set_level(enum cn_log_level lvl)
{
    atomic_store(&cn__log_level, (int)lvl);
}

int cn_log_parse_level(const char *s, enum cn_log_level *out)
{
    for (int i = 0; i <= CN_LOG_OFF; i++) {
        if (strcmp(s, cn__lvl_names[i]) == 0) {
            *out = (enum cn_log_level)i;
            return 0;
        }
    }
    return CN_EINVAL;
}

int cn_log_enabled(enum cn_log_level lvl)
{
    return (int)lvl >= atomic_load(&cn__log_level);
}

void cn_log(enum cn_log_level lvl, const char *mod, const char *fmt, ...)
{
    if (!cn_log_enabled(lvl) || lvl >= CN_LOG_OFF)
        return;
    char line[1024], ts[32];
    cn_fmt_rfc3339_ms(cn_now_ms(), ts);
    int n =
        snprintf(line, sizeof(line), "ts=%s level=%s mod=%s msg=\"", ts, cn__lvl_names[lvl], mod);
    va_list ap;
    va_start(ap, fmt);
    char msg[800];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Escape quotes so the line stays parseable logfmt. */
    for (const char *m = msg; *m && n < (int)sizeof(line) - 4; m++) {
        if (*m == '"' || *m == '\\')
            line[n++] = '\\';
        line[n++] = (*m == '\n') ? ' ' : *m;
    }
    line[n++] = '"';
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
