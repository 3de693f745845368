/* SPDX-License-Identifier: MIT */
/*
 * cn_cli.c — flag parsing and help text for cairn subcommands.  Accepts
 * --name value, --name=value, switches, -h/--help, and "--" to end flags.
 * Unknown flags and missing values are usage errors (exit 2).
 */
#include "cn_cli.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_time.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cn_cli_help(const cn_cli *cli)
{
    printf("usage: %s %s\n\n%s\n", cli->prog, cli->usage ? cli->usage : "[flags]",
           cli->summary ? cli->summary : "");
    if (!cli->nflags)
        return;
    printf("\nflags:\n");
    for (size_t i = 0; i < cli->nflags; i++) {
        const cn_flag *f = &cli->flags[i];
        char lhs[64];
        snprintf(lhs, sizeof(lhs), "--%s%s%s", f->name, f->arg ? " " : "", f->arg ? f->arg : "");
        printf("  %-28s %s", lhs, f->help ? f->help : "");
        if (f->def)
            printf(" (default: %s)", f->def);
        printf("\n");
    }
    printf("  %-28s %s\n", "-h, --help", "show this help and exit");
}

int cn_cli_usage_error(const cn_cli *cli, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s; see '%s --help'\n", cli->prog, msg, cli->prog);
    return CN_EXIT_USAGE;
}

cn_flag *cn_cli_flag(cn_cli *cli, const char *name)
{
    for (size_t i = 0; i < cli->nflags; i++)
        if (strcmp(cli->flags[i].name, name) == 0)
            return &cli->flags[i];
    return NULL;
}

static int cn__cli_take_flag(cn_cli *cli, int argc, char **argv, int *i)
{
    const char *a = argv[*i] + 2;
    const char *eq = strchr(a, '=');
    size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
    cn_flag *f = NULL;
    for (size_t k = 0; k < cli->nflags; k++)
        if (strlen(cli->flags[k].name) == nlen && memcmp(cli->flags[k].name, a, nlen) == 0)
            f = &cli->flags[k];
    if (!f) {
        cn_cli_usage_error(cli, "unknown flag --%.*s", (int)nlen, a);
        return CN_EINVAL;
    }
    if (!f->arg) {
        if (eq) {
            cn_cli_usage_error(cli, "--%s takes no value", f->name);
            return CN_EINVAL;
        }
        f->val = "1";
    } else if (eq) {
        f->val = eq + 1;
    } else if (*i + 1 < argc) {
        f->val = argv[++*i];
    } else {
        cn_cli_usage_error(cli, "--%s needs a value (%s)", f->name, f->arg);
        return CN_EINVAL;
    }
    f->set = 1;
    return 0;
}

static int cn__cli_parse(cn_cli *cli, int argc, char **argv);

int cn_cli_parse(cn_cli *cli, int argc, char **argv)
{
    int rc = cn__cli_parse(cli, argc, argv);
    /* On --help or a usage error the caller exits at once: release the
     * positionals here so no command has to remember to (and a later
     * cn_cli_free stays harmless). */
    if (rc)
        cn_cli_free(cli);
    return rc;
}

static int cn__cli_parse(cn_cli *cli, int argc, char **argv)
{
    for (size_t k = 0; k < cli->nflags; k++) {
        cli->flags[k].val = cli->flags[k].arg ? cli->flags[k].def : NULL;
        cli->flags[k].set = 0;
    }
    cli->pos = cn_calloc((size_t)argc + 1, sizeof(char *));
    cli->npos = 0;
    if (!cli->pos)
        return CN_ENOMEM;
    int flags_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!flags_done && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            cn_cli_help(cli);
            return CN_DONE;
        }
        if (!flags_done && strcmp(a, "--") == 0) {
            flags_done = 1;
        } else if (!flags_done && a[0] == '-' && a[1] == '-') {
            int rc = cn__cli_take_flag(cli, argc, argv, &i);
            if (rc)
                return rc;
        } else if (!flags_done && a[0] == '-' && a[1]) {
            cn_cli_usage_error(cli, "unknown flag %s (flags are spelled --name)", a);
            return CN_EINVAL;
        } else {
            cli->pos[cli->npos++] = argv[i];
        }
    }
    if (cli->npos < cli->min_pos || (cli->max_pos >= 0 && cli->npos > cli->max_pos)) {
        cn_cli_usage_error(cli,
                           cli->npos < cli->min_pos ? "missing argument" : "too many arguments");
        return CN_EINVAL;
    }
    return 0;
}

void cn_cli_free(cn_cli *cli)
{
    cn_free(cli->pos);
    cli->pos = NULL;
}

const char *cn_cli_str(cn_cli *cli, const char *name)
{
    cn_flag *f = cn_cli_flag(cli, name);
    return f ? f->val : NULL;
}

int cn_cli_bool(cn_cli *cli, const char *name)
{
    cn_flag *f = cn_cli_flag(cli, name);
    return f && f->set;
}

int cn_cli_i64(cn_cli *cli, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    const char *v = cn_cli_str(cli, name);
    if (!v)
        return CN_ENOENT;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        cn_cli_usage_error(cli, "--%s must be an integer in [%lld, %lld], got '%s'", name,
                           (long long)lo, (long long)hi, v);
        return CN_EINVAL;
    }
    *out = x;
    return 0;
}

int cn_cli_duration_ms(cn_cli *cli, const char *name, int64_t *out)
{
    const char *v = cn_cli_str(cli, name);
    if (!v)
        return CN_ENOENT;
    if (cn_parse_duration_ms(v, out)) {
        cn_cli_usage_error(
            cli, "--%s must be a duration like 250ms, 5s, 7d (a bare number is seconds); got '%s'",
            name, v);
        return CN_EINVAL;
    }
    return 0;
}

int cn_cli_size(cn_cli *cli, const char *name, uint64_t *out)
{
    const char *v = cn_cli_str(cli, name);
    if (!v)
        return CN_ENOENT;
    if (cn_parse_size(v, out)) {
        cn_cli_usage_error(cli, "--%s must be a size like 128MiB or 1GiB; got '%s'", name, v);
        return CN_EINVAL;
    }
    return 0;
}
