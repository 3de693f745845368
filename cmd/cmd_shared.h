/* SPDX-License-Identifier: MIT */
/*
 * cmd_shared.h — small helpers more than one `cairn` command needs: the
 * --durability flag, the topics a node creates at start, --port-file.
 * Any thread; no state.
 */
#ifndef CAIRN_CMD_SHARED_H
#define CAIRN_CMD_SHARED_H

#include "lg.h"

#include <stddef.h>
#include <stdint.h>

/** "fsync" | "interval=DURATION" | "none" into o->durability (and
 *  o->interval_ms).  @return 0 or CN_EINVAL. */
int cmd_parse_durability(const char *s, lg_opts *o);

/** Create each of the n topics that does not exist yet with `partitions`
 *  partitions (existing ones keep theirs).  @return 0 or the first
 *  lg_topic_create error (names[*bad] is the topic it failed on). */
int cmd_ensure_topics(lg_log *log, const char *const *names, size_t n, int32_t partitions,
                      size_t *bad);

/** 1 if s is "HOST:PORT" with a non-empty host and a port 0..65535. */
int cmd_is_hostport(const char *s);

/** Write "PORT\n" to path atomically (a temporary file, then rename), so a
 *  test polling for it never reads half a number.  @return 0 or -1. */
int cmd_write_port_file(const char *path, int port);

#endif
