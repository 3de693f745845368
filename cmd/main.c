/* SPDX-License-Identifier: MIT */
/*
 * main.c — entry point of the one `cairn` binary: dispatches to a
 * subcommand, prints the command list for --help, and applies the
 * process-wide settings (log level from CAIRN_LOG; the soft open-file
 * limit raised to the hard one, since every player holds a socket).  Exit
 * status: 0 ok, 1 runtime failure, 2 usage error, for every subcommand
 * (cn_cli.h).
 */
#include "commands.h"

#include "cn_cli.h"
#include "cairn_version.h"
#include "cn_log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct cairn_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

/* Only commands that exist are listed: a command appears here when it works. */
static int cairn_cmd_help(int argc, char **argv);
static int cairn_cmd_version(int argc, char **argv);
static const struct cairn_cmd cairn_cmds[] = {
    {"help", cairn_cmd_help, "show this list"},
    {"version", cairn_cmd_version, "print the version and the source commit it was built from"},
    {"log", cmd_log,
     "inspect a data directory: topics, describe, dump, tail, verify, groups, stats"},
    {"token", cmd_token, "issue and check player tokens"},
    {"logd", cmd_logd, "run a log node: storage + Kafka wire-protocol listener"},
    {"gateway", cmd_gateway,
     "run the WebSocket tier: pings in, CloudEvents to the log, durable acks out"},
    {"hunt", cmd_hunt,
     "run a hunt worker: pings to game state in RocksDB, hunt-events exactly once, leaderboard "
     "API"},
    {"up", cmd_up,
     "run a venue in one process: log + Kafka listener + gateway + hunt worker + dashboard"},
    {"sim", cmd_sim, "simulate players walking a venue and sending pings; check every ack"},
    {"config", cmd_config, "check a configuration file (every command reads one with --config)"},
};

static void cairn_usage(FILE *out);

static void cairn_usage(FILE *out)
{
    fprintf(out, "usage: cairn COMMAND [flags]\n\n"
                 "cairn — a self-hosted event backbone for real-time venue treasure hunts.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof(cairn_cmds) / sizeof(cairn_cmds[0]); i++)
        fprintf(out, "  %-10s %s\n", cairn_cmds[i].name, cairn_cmds[i].summary);
    fprintf(
        out,
        "\nRun 'cairn COMMAND --help' for a command's flags and defaults.\n"
        "Environment: CAIRN_LOG=debug|info|warn|error|off sets the log level (default info).\n");
}

static int cairn_cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cairn_usage(stdout);
    return CN_EXIT_OK;
}

static int cairn_cmd_version(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: cairn version\n\nPrint the version and the source commit cairn was built "
               "from.\n\nflags:\n  -h, --help                   show this help and exit\n");
        return CN_EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "cairn version: takes no arguments; see 'cairn version --help'\n");
        return CN_EXIT_USAGE;
    }
    printf("cairn %s (commit %s)\n", CAIRN_VERSION, CAIRN_COMMIT);
    return CN_EXIT_OK;
}

/* Raise the soft open-file limit to the hard one (systemd and login shells
 * default the soft limit to 1024, far below a venue's phones); commands that
 * hold connections check what they got against --max-conns. */
static void cairn_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    /* A peer closing a socket must be an error return, not a death. */
    signal(SIGPIPE, SIG_IGN);
    cairn_raise_nofile();
    const char *lvl = getenv("CAIRN_LOG");
    enum cn_log_level l;
    if (lvl && *lvl) {
        if (cn_log_parse_level(lvl, &l)) {
            fprintf(stderr, "cairn: CAIRN_LOG='%s' is not one of debug, info, warn, error, off\n",
                    lvl);
            return CN_EXIT_USAGE;
        }
        cn_log_set_level(l);
    }
    if (argc < 2) {
        cairn_usage(stderr);
        return CN_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        cairn_usage(stdout);
        return CN_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cairn_cmd_version(1, argv + 1);
    for (size_t i = 0; i < sizeof(cairn_cmds) / sizeof(cairn_cmds[0]); i++)
        if (strcmp(argv[1], cairn_cmds[i].name) == 0)
            return cairn_cmds[i].run(argc - 1, argv + 1);
    fprintf(stderr, "cairn: unknown command '%s'; run 'cairn --help' for the list\n", argv[1]);
    return CN_EXIT_USAGE;
}
