/* SPDX-License-Identifier: MIT */
/*
 * cmd_logd_http.h — `cairn logd --http HOST:PORT`: GET /metrics (Prometheus
 * text: the log's health and, clustered, each partition replica's
 * replication state and the transport's counters) and GET /healthz (200
 * "ok", 503 once the log has failed).  See docs/operations.md.
 */
#ifndef CAIRN_CMD_LOGD_HTTP_H
#define CAIRN_CMD_LOGD_HTTP_H

#include "lg.h"
#include "rp.h"

#include <event2/event.h>

typedef struct logd_http logd_http;

/**
 * Listen on addr ("HOST:PORT", port 0 picks one) on base's loop.  Borrows
 * log, repl (NULL when standalone) and cl (NULL when standalone) for its
 * life.  @return 0; CN_EINVAL (bad addr); CN_ENOMEM; CN_ESYS (bind).
 */
int logd_http_new(logd_http **out, struct event_base *base, const char *addr, lg_log *log,
                  rp_repl *repl, const rp_cluster *cl, int32_t self);
int logd_http_port(const logd_http *h);
/** NULL-safe. */
void logd_http_free(logd_http *h);

#endif
