/* SPDX-License-Identifier: MIT */
/*
 * cn_prom.h — the one writer of Prometheus text exposition format 0.0.4
 * (what GET /metrics serves everywhere in cairn: the gateway, the hunt
 * worker's HTTP API, `cairn up`).  It writes "# HELP" / "# TYPE" lines,
 * samples with labels, and histograms, escaping per the format:
 *   HELP text:    backslash -> \\, newline -> \n
 *   label values: backslash -> \\, double quote -> \", newline -> \n
 * Metric and label names are checked against the format's grammar
 * ([a-zA-Z_:][a-zA-Z0-9_:]* and [a-zA-Z_][a-zA-Z0-9_]*, label names not
 * starting with "__"); a bad name writes nothing and fails the writer, so
 * a hostile value can never add a line, a label or a metric of its own.
 * Label values are written as given: pass UTF-8.
 *
 * The writer's error is sticky: after the first failure every call does
 * nothing and returns it, so a renderer can make all its calls and check
 * once.  Any thread; the writer borrows the buffer and owns nothing.
 */
#ifndef CN_PROM_H
#define CN_PROM_H

#include "cn_buf.h"

#include <stddef.h>
#include <stdint.h>

typedef enum cn_prom_type {
    CN_PROM_COUNTER,
    CN_PROM_GAUGE,
    CN_PROM_HISTOGRAM,
} cn_prom_type;

/** A writer appending to out.  Transparent: two fields, no resources. */
typedef struct cn_prom {
    cn_buf *out; /* borrowed */
    int err;     /* 0, or the first error: CN_ENOMEM or CN_EINVAL */
} cn_prom;

void cn_prom_init(cn_prom *w, cn_buf *out);

/** "# HELP name help" (when help is non-NULL) and "# TYPE name type".
 *  @return the writer's error: 0, CN_EINVAL (bad name), CN_ENOMEM. */
int cn_prom_family(cn_prom *w, const char *name, cn_prom_type type, const char *help);

/** One sample line "name{k1="v1",...} value".  labels is NULL (none) or
 *  key, value, key, value, ..., NULL.  @return the writer's error. */
int cn_prom_u64(cn_prom *w, const char *name, const char *const *labels, uint64_t v);
int cn_prom_i64(cn_prom *w, const char *name, const char *const *labels, int64_t v);
/** Doubles in the shortest form that reads back exactly; NaN, +Inf, -Inf
 *  as the format spells them. */
int cn_prom_f64(cn_prom *w, const char *name, const char *const *labels, double v);

/** A family of one unlabelled sample: the common case. */
int cn_prom_counter(cn_prom *w, const char *name, const char *help, uint64_t v);
int cn_prom_gauge(cn_prom *w, const char *name, const char *help, int64_t v);

/** A whole histogram family without labels: name_bucket{le="..."} for each
 *  of the n upper bounds le[] with its cumulative count, le="+Inf" with
 *  count, then name_sum and name_count.  @return the writer's error. */
int cn_prom_histogram(cn_prom *w, const char *name, const char *help, const double *le,
                      const uint64_t *cumulative, size_t n, uint64_t count, double sum);

#endif
