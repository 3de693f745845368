/* SPDX-License-Identifier: MIT */
/*
 * cmd_config.c — `cairn config check FILE`: validate a configuration file
 * before hunt night.  The file's syntax is checked here (cn_cfg); every
 * [section] must name a command ([up], [logd], [gateway], [hunt], [sim],
 * [log], [token.keygen|issue|check]); then each section is handed to its
 * command's own flag parser with --config FILE --config-check, so the keys
 * are checked against exactly the flags that command has.  Prints one line
 * per section ("FILE: [up] ok for cairn up") or per error, with the line
 * number; exit 0 when all is well, 2 otherwise.  Main thread only.
 */
#include "commands.h"

#include "cn_alloc.h"
#include "cn_cfg.h"
#include "cn_cli.h"
#include "cn_err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct cfg_cmd {
    const char *section;
    int (*run)(int argc, char **argv);
    const char *name, *sub; /* argv[0] and, for token, argv[1] */
} cfg_cmd;

static const cfg_cmd cfg_cmds[] = {
    {"up", cmd_up, "up", NULL},
    {"logd", cmd_logd, "logd", NULL},
    {"gateway", cmd_gateway, "gateway", NULL},
    {"hunt", cmd_hunt, "hunt", NULL},
    {"sim", cmd_sim, "sim", NULL},
    {"log", cmd_log, "log", NULL},
    {"token.keygen", cmd_token, "token", "keygen"},
    {"token.issue", cmd_token, "token", "issue"},
    {"token.check", cmd_token, "token", "check"},
};
#define CFG_NCMDS (sizeof(cfg_cmds) / sizeof(cfg_cmds[0]))

typedef struct cfg_scan {
    const char *path;
    int seen[CFG_NCMDS];
    int bad;
} cfg_scan;

static int cfg_scan_entry(const cn_cfg_entry *e, void *arg)
{
    cfg_scan *s = arg;
    for (size_t i = 0; i < CFG_NCMDS; i++) {
        if (!strcmp(cfg_cmds[i].section, e->section)) {
            s->seen[i] = 1;
            return 0;
        }
    }
    fprintf(stderr,
            "cairn config check: %s:%d: key '%s' is in an unknown section [%s]: sections are "
            "commands (up, logd, gateway, hunt, sim, log, token.keygen, token.issue, "
            "token.check)\n",
            s->path, e->line, e->key, e->section);
    s->bad = 1;
    return CN_EINVAL;
}

static int cfg_usage(FILE *out)
{
    fprintf(out, "usage: cairn config check FILE\n\n"
                 "Check a configuration file: its syntax (a TOML subset: [command] sections, "
                 "flag = \"value\", integers, true/false), that every section names a command and "
                 "every key is a flag of that command.  Exit 0 if it is valid, 2 if not, naming "
                 "the line.\n");
    return out == stdout ? CN_EXIT_OK : CN_EXIT_USAGE;
}

/* Syntax and section names; fills s->seen. */
static int cfg_scan_file(const char *path, cfg_scan *s)
{
    char *text;
    size_t len;
    int rc = cn_cfg_read_file(path, &text, &len);
    if (rc) {
        fprintf(stderr, "cairn config check: cannot read %s: %s\n", path,
                rc == CN_ESYS      ? strerror(errno)
                : rc == CN_ETOOBIG ? "larger than 1 MiB"
                : rc == CN_ENOENT  ? "no such file"
                                   : cn_strerror(rc));
        return CN_EXIT_USAGE;
    }
    int line = 0;
    char err[256];
    rc = cn_cfg_parse(text, len, cfg_scan_entry, s, &line, err, sizeof(err));
    cn_free(text);
    if (rc && !s->bad)
        fprintf(stderr, "cairn config check: %s:%d: %s\n", path, line, err);
    return rc ? CN_EXIT_USAGE : 0;
}

int cmd_config(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
        return cfg_usage(stdout);
    if (argc != 3 || strcmp(argv[1], "check"))
        return cfg_usage(stderr);
    const char *path = argv[2];
    cfg_scan s = {.path = path};
    int status = cfg_scan_file(path, &s);
    if (status)
        return status;
    int any = 0;
    for (size_t i = 0; i < CFG_NCMDS; i++) {
        if (!s.seen[i])
            continue;
        any = 1;
        char *args[6];
        int n = 0;
        args[n++] = (char *)cfg_cmds[i].name;
        if (cfg_cmds[i].sub)
            args[n++] = (char *)cfg_cmds[i].sub;
        args[n++] = "--config";
        args[n++] = (char *)path;
        args[n++] = "--config-check";
        args[n] = NULL;
        if (cfg_cmds[i].run(n, args) != CN_EXIT_OK)
            status = CN_EXIT_USAGE;
    }
    if (!any) {
        fprintf(stderr, "cairn config check: %s has no [section]: nothing would be read\n", path);
        return CN_EXIT_USAGE;
    }
    return status;
}
