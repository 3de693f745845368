/* SPDX-License-Identifier: MIT */
/*
 * cn_cli.h — declarative command-line flags for `cairn` subcommands.
 * A command declares a table of cn_flag (name, metavar, default, help);
 * cn_cli_parse fills in the values and positionals, prints --help with
 * every default, and reports usage errors as one line on stderr.
 * Exit codes, the same for every command: 0 ok, 1 runtime failure, 2 usage
 * error (docs/cli.md).
 *
 * Every command also takes, without declaring them:
 *   --config FILE      flag values from FILE's [section] for this command
 *                      (cn_cfg.h; "cairn token issue" reads [token.issue]);
 *                      a flag on the command line wins over the file;
 *   --log-format FMT   logfmt (default) or json, for the whole process;
 *   --config-check     (used by `cairn config check`) read --config, report
 *                      what is wrong or print "FILE: [section] ok", and stop.
 * Values read from a file live as long as the process (like argv), so a
 * command may keep cn_cli_str() results after cn_cli_free.
 */
#ifndef CN_CLI_H
#define CN_CLI_H

#include <stddef.h>
#include <stdint.h>

#define CN_EXIT_OK 0
#define CN_EXIT_FAIL 1
#define CN_EXIT_USAGE 2

typedef struct cn_flag {
    const char *name; /* long name without dashes: "data" for --data */
    const char *arg;  /* metavar ("DIR"); NULL for a boolean switch */
    const char *def;  /* default shown in --help and used if unset; may be NULL */
    const char *help;
    /* an older name still accepted (on the command line and in --config)
     * when a flag was renamed to match the other commands; NULL: none */
    const char *alias;
    /* filled by cn_cli_parse: */
    const char *val; /* the value (def if not given; "1" for a given switch) */
    int set;         /* given on the command line or in the --config file */
    int line;        /* the --config file's line it came from; 0: not from the file */
} cn_flag;

typedef struct cn_cli {
    const char *prog;    /* "cairn log dump" */
    const char *usage;   /* "TOPIC[:PART] [flags]" */
    const char *summary; /* one paragraph */
    cn_flag *flags;
    size_t nflags;
    int min_pos, max_pos; /* positional argument count bounds (max -1: any) */
    /* filled by cn_cli_parse: */
    char **pos;
    int npos;
    const char *config; /* --config FILE, or NULL */
} cn_cli;

/**
 * Parse argv (argv[0] is the subcommand name and is skipped).
 * @return 0 to run; CN_DONE when --help was printed (exit 0);
 *         CN_EINVAL after printing a usage error (exit 2).
 * On 0, cli->pos is an array the caller frees with cn_cli_free; on any
 * other return it is already freed (cn_cli_free is then a no-op).
 */
int cn_cli_parse(cn_cli *cli, int argc, char **argv);
void cn_cli_free(cn_cli *cli);
void cn_cli_help(const cn_cli *cli);
/** Print "PROG: message; see 'PROG --help'" and return CN_EXIT_USAGE. */
int cn_cli_usage_error(const cn_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

cn_flag *cn_cli_flag(cn_cli *cli, const char *name);
const char *cn_cli_str(cn_cli *cli, const char *name); /* NULL if no value */
int cn_cli_bool(cn_cli *cli, const char *name);
/** Typed getters: 0 or CN_EINVAL after printing a usage error. */
int cn_cli_i64(cn_cli *cli, const char *name, int64_t lo, int64_t hi, int64_t *out);
int cn_cli_duration_ms(cn_cli *cli, const char *name, int64_t *out);
int cn_cli_size(cn_cli *cli, const char *name, uint64_t *out);

#endif
