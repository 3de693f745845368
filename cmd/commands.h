/* SPDX-License-Identifier: MIT */
/*
 * commands.h — the `cairn` subcommands.  Each takes argv with argv[0] its
 * own name and returns the process exit status (0 ok, 1 failure, 2 usage).
 */
#ifndef CAIRN_COMMANDS_H
#define CAIRN_COMMANDS_H

int cmd_log(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_logd(int argc, char **argv);
int cmd_gateway(int argc, char **argv);
int cmd_hunt(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_config(int argc, char **argv);

#endif
