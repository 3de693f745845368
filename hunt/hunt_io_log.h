/* SPDX-License-Identifier: MIT */
/*
 * hunt_io_log.h — the worker's io over a log opened in this process
 * (`cairn hunt --log DIR`): lg_iter per input partition, lg_append of one
 * idempotent RecordBatch per output batch.  The process must be the log's
 * only writer (docs/architecture.md, "The data directory and --log").
 * Threads: the worker's.  Ownership: borrows the log.
 */
#ifndef HUNT_IO_LOG_H
#define HUNT_IO_LOG_H

#include "hunt_worker.h"
#include "lg.h"

/** @return 0 or CN_ENOMEM; *out is freed with hunt_io_log_free. */
int hunt_io_log_new(hunt_io **out, lg_log *log);
void hunt_io_log_free(hunt_io *io); /* NULL ok */

#endif
