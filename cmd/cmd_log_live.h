/* SPDX-License-Identifier: MIT */
/*
 * cmd_log_live.h — `cairn log --brokers HOST:PORT`: the live-node view of
 * `cairn log` over the Kafka protocol (topics, describe, groups with their
 * members and state, which only a running node knows).
 */
#ifndef CAIRN_CMD_LOG_LIVE_H
#define CAIRN_CMD_LOG_LIVE_H

/** Run subcommand sub (arg: its argument or NULL) against brokers.
 *  @return the exit status (0, 1 runtime failure, 2 usage). */
int cmd_log_live(const char *prog, const char *sub, const char *arg, const char *brokers);

#endif
