/* SPDX-License-Identifier: MIT */
/*
 * cn_prom.c — Prometheus text exposition format 0.0.4 (cn_prom.h): names
 * checked against the grammar, HELP text and label values escaped, numbers
 * in forms Prometheus parses (integers exact, doubles shortest-exact).
 * Guarantees: a call either appends whole lines or, on its first failure,
 * may leave a partial line and fails the writer (the caller drops the
 * buffer; nothing is served half-written).  Any thread; owns nothing.
 */
#include "cn_prom.h"

#include "cn_err.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cn_prom_init(cn_prom *w, cn_buf *out)
{
    w->out = out;
    w->err = 0;
}

static int prom_fail(cn_prom *w, int rc)
{
    if (!w->err)
        w->err = rc;
    return w->err;
}

static void prom_put(cn_prom *w, const char *s, size_t n)
{
    if (!w->err && cn_buf_append(w->out, s, n))
        prom_fail(w, CN_ENOMEM);
}

static void prom_puts(cn_prom *w, const char *s)
{
    prom_put(w, s, strlen(s));
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metrics; no ':' for labels. */
static int prom_name_ok(const char *s, int colon)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || (colon && c == ':');
        if (!ok)
            return 0;
    }
    return 1;
}

/* Escapes backslash and newline, and double quote when quote is set. */
static void prom_escaped(cn_prom *w, const char *s, int quote)
{
    const char *run = s;
    for (; *s; s++) {
        const char *esc = *s == '\\'           ? "\\\\"
                          : *s == '\n'         ? "\\n"
                          : quote && *s == '"' ? "\\\""
                                               : NULL;
        if (!esc)
            continue;
        prom_put(w, run, (size_t)(s - run));
        prom_puts(w, esc);
        run = s + 1;
    }
    prom_put(w, run, (size_t)(s - run));
}

int cn_prom_family(cn_prom *w, const char *name, cn_prom_type type, const char *help)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    if (w->err)
        return w->err;
    if (!prom_name_ok(name, 1) || (unsigned)type > CN_PROM_HISTOGRAM)
        return prom_fail(w, CN_EINVAL);
    if (help) {
        prom_puts(w, "# HELP ");
        prom_puts(w, name);
        prom_puts(w, " ");
        prom_escaped(w, help, 0);
        prom_puts(w, "\n");
    }
    prom_puts(w, "# TYPE ");
    prom_puts(w, name);
    prom_puts(w, " ");
    prom_puts(w, types[type]);
    prom_puts(w, "\n");
    return w->err;
}

/* "name{k="v",...} " — everything of a sample line but its value. */
static int prom_head(cn_prom *w, const char *name, const char *const *labels)
{
    if (w->err)
        return w->err;
    if (!prom_name_ok(name, 1))
        return prom_fail(w, CN_EINVAL);
    for (size_t i = 0; labels && labels[i]; i += 2)
        if (!prom_name_ok(labels[i], 0) || strncmp(labels[i], "__", 2) == 0 || !labels[i + 1])
            return prom_fail(w, CN_EINVAL);
    prom_puts(w, name);
    for (size_t i = 0; labels && labels[i]; i += 2) {
        prom_puts(w, i ? "," : "{");
        prom_puts(w, labels[i]);
        prom_puts(w, "=\"");
        prom_escaped(w, labels[i + 1], 1);
        prom_puts(w, "\"");
    }
    prom_puts(w, labels && labels[0] ? "} " : " ");
    return w->err;
}

static int prom_value(cn_prom *w, const char *v)
{
    prom_puts(w, v);
    prom_puts(w, "\n");
    return w->err;
}

int cn_prom_u64(cn_prom *w, const char *name, const char *const *labels, uint64_t v)
{
    char s[24];
    snprintf(s, sizeof(s), "%" PRIu64, v);
    return prom_head(w, name, labels) ? w->err : prom_value(w, s);
}

int cn_prom_i64(cn_prom *w, const char *name, const char *const *labels, int64_t v)
{
    char s[24];
    snprintf(s, sizeof(s), "%" PRId64, v);
    return prom_head(w, name, labels) ? w->err : prom_value(w, s);
}

/* Shortest of %.15g and %.17g that reads back as v (17 digits always do). */
static void prom_double(char *s, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(s, cap, "NaN");
    } else if (isinf(v)) {
        snprintf(s, cap, v > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(s, cap, "%.15g", v);
        if (strtod(s, NULL) != v)
            snprintf(s, cap, "%.17g", v);
    }
}

int cn_prom_f64(cn_prom *w, const char *name, const char *const *labels, double v)
{
    char s[40];
    prom_double(s, sizeof(s), v);
    return prom_head(w, name, labels) ? w->err : prom_value(w, s);
}

int cn_prom_counter(cn_prom *w, const char *name, const char *help, uint64_t v)
{
    cn_prom_family(w, name, CN_PROM_COUNTER, help);
    return cn_prom_u64(w, name, NULL, v);
}

int cn_prom_gauge(cn_prom *w, const char *name, const char *help, int64_t v)
{
    cn_prom_family(w, name, CN_PROM_GAUGE, help);
    return cn_prom_i64(w, name, NULL, v);
}

/* name + suffix into buf; CN_EINVAL when it does not fit. */
static int prom_suffixed(cn_prom *w, char *buf, size_t cap, const char *name, const char *suffix)
{
    if ((size_t)snprintf(buf, cap, "%s%s", name, suffix) >= cap)
        return prom_fail(w, CN_EINVAL);
    return w->err;
}

int cn_prom_histogram(cn_prom *w, const char *name, const char *help, const double *le,
                      const uint64_t *cumulative, size_t n, uint64_t count, double sum)
{
    char bucket[256], sumn[256], countn[256], les[40];
    if (cn_prom_family(w, name, CN_PROM_HISTOGRAM, help) ||
        prom_suffixed(w, bucket, sizeof(bucket), name, "_bucket") ||
        prom_suffixed(w, sumn, sizeof(sumn), name, "_sum") ||
        prom_suffixed(w, countn, sizeof(countn), name, "_count"))
        return w->err;
    for (size_t i = 0; i < n; i++) {
        prom_double(les, sizeof(les), le[i]);
        const char *labels[] = {"le", les, NULL};
        cn_prom_u64(w, bucket, labels, cumulative[i]);
    }
    const char *inf[] = {"le", "+Inf", NULL};
    cn_prom_u64(w, bucket, inf, count);
    cn_prom_f64(w, sumn, NULL, sum);
    return cn_prom_u64(w, countn, NULL, count);
}
