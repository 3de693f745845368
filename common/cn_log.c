/* SPDX-License-Identifier: MIT */
/*
 * cn_log.c — log lines to stderr, logfmt or JSON, with the pid and the
 * node name.  Each line is formatted into a stack buffer and written with
 * one write(2), so concurrent threads and processes sharing stderr never
 * interleave within a line.  The pid is read per line, so a --workers
 * child's lines carry its own.
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
static _Atomic int cn__log_format = CN_LOG_LOGFMT;
/* The node name: written by cn_log_set_node before threads start, read by
 * every line after. */
static char cn__log_node[64];
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

void cn_log_set_format(enum cn_log_format f)
{
    atomic_store(&cn__log_format, (int)f);
}

int cn_log_parse_format(const char *s, enum cn_log_format *out)
{
    if (!strcmp(s, "logfmt"))
        *out = CN_LOG_LOGFMT;
    else if (!strcmp(s, "json"))
        *out = CN_LOG_JSON;
    else
        return CN_EINVAL;
    return 0;
}

void cn_log_set_node(const char *node)
{
    size_t n = 0;
    for (; node && node[n] && n < sizeof(cn__log_node) - 1; n++) {
        char c = node[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
        cn__log_node[n] = ok ? c : '_';
    }
    cn__log_node[n] = 0;
}

/* Append msg quoted for the format: logfmt escapes " and \ and turns line
 * breaks into spaces; JSON escapes " \ and every control character. */
static size_t cn__log_quote(char *b, size_t n, size_t at, const char *msg, int json)
{
    for (const unsigned char *m = (const unsigned char *)msg; *m && at + 8 < n; m++) {
        if (*m == '"' || *m == '\\') {
            b[at++] = '\\';
            b[at++] = (char)*m;
        } else if (*m < 0x20 && json) {
            at += (size_t)snprintf(b + at, n - at, "\\u%04x", *m);
        } else {
            b[at++] = (*m < 0x20) ? ' ' : (char)*m;
        }
    }
    return at;
}

size_t cn_log_format_line(char *b, size_t n, enum cn_log_level lvl, const char *mod,
                          const char *msg)
{
    char ts[32];
    cn_fmt_rfc3339_ms(cn_now_ms(), ts);
    int json = atomic_load(&cn__log_format) == CN_LOG_JSON;
    long pid = (long)getpid();
    int k;
    if (json)
        k = snprintf(b, n,
                     "{\"ts\":\"%s\",\"level\":\"%s\",\"pid\":%ld%s%s%s,\"mod\":\"%s\",\"msg\":\"",
                     ts, cn__lvl_names[lvl], pid, cn__log_node[0] ? ",\"node\":\"" : "",
                     cn__log_node, cn__log_node[0] ? "\"" : "", mod);
    else
        k = snprintf(b, n, "ts=%s level=%s pid=%ld%s%s mod=%s msg=\"", ts, cn__lvl_names[lvl], pid,
                     cn__log_node[0] ? " node=" : "", cn__log_node, mod);
    size_t at = k < 0 ? 0 : (size_t)k >= n - 8 ? n - 8 : (size_t)k;
    at = cn__log_quote(b, n, at, msg, json);
    b[at++] = '"';
    if (json)
        b[at++] = '}';
    b[at++] = '\n';
    return at;
}

void cn_log(enum cn_log_level lvl, const char *mod, const char *fmt, ...)
{
    if (!cn_log_enabled(lvl) || lvl >= CN_LOG_OFF)
        return;
    char line[1200], msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t n = cn_log_format_line(line, sizeof(line), lvl, mod, msg);
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
