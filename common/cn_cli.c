/* SPDX-License-Identifier: MIT */
/*
 * cn_cli.c — flag parsing and help text for cairn subcommands.  Accepts
 * --name value, --name=value, switches, -h/--help, and "--" to end flags.
 * Unknown flags and missing values are usage errors (exit 2).  Then, with
 * --config FILE, fills every flag not given on the command line from the
 * file's section for this command (cn_cfg), and applies --log-format.
 * Called on the main thread before any other starts (--log-format sets the
 * process-wide log format).
 */
#include "cn_cli.h"

#include "cn_alloc.h"
#include "cn_cfg.h"
#include "cn_err.h"
#include "cn_log.h"
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
    printf("\nflags:\n");
    for (size_t i = 0; i < cli->nflags; i++) {
        const cn_flag *f = &cli->flags[i];
        char lhs[64];
        snprintf(lhs, sizeof(lhs), "--%s%s%s", f->name, f->arg ? " " : "", f->arg ? f->arg : "");
        printf("  %-28s %s", lhs, f->help ? f->help : "");
        if (f->def)
            printf(" (default: %s)", f->def);
        if (f->alias)
            printf(" (formerly --%s, still accepted)", f->alias);
        printf("\n");
    }
    printf("  %-28s %s\n", "--config FILE",
           "read flags from FILE's [section] for this command (TOML: flag = value); flags given "
           "here win");
    printf("  %-28s %s\n", "--log-format FMT", "log lines as logfmt or json (default: logfmt)");
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

/* The flags every command takes (cn_cli.h); parsed with the command's own. */
enum { CN__BUILTIN_CONFIG, CN__BUILTIN_LOG_FORMAT, CN__BUILTIN_CHECK, CN__NBUILTIN };

static int cn__cli_named(const char *s, const char *name, size_t nlen)
{
    return s && strlen(s) == nlen && memcmp(s, name, nlen) == 0;
}

static cn_flag *cn__cli_find(cn_cli *cli, cn_flag *builtin, const char *name, size_t nlen)
{
    for (size_t k = 0; k < cli->nflags; k++)
        if (cn__cli_named(cli->flags[k].name, name, nlen) ||
            cn__cli_named(cli->flags[k].alias, name, nlen))
            return &cli->flags[k];
    for (size_t k = 0; k < CN__NBUILTIN; k++)
        if (cn__cli_named(builtin[k].name, name, nlen))
            return &builtin[k];
    return NULL;
}

static int cn__cli_take_flag(cn_cli *cli, cn_flag *builtin, int argc, char **argv, int *i)
{
    const char *a = argv[*i] + 2;
    const char *eq = strchr(a, '=');
    size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
    cn_flag *f = cn__cli_find(cli, builtin, a, nlen);
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
static int cn__cli_config(cn_cli *cli, cn_flag *builtin, const char *path);
static const char *cn__cli_section(const cn_cli *cli, char *sec, size_t n);

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
    cn_flag builtin[CN__NBUILTIN] = {
        [CN__BUILTIN_CONFIG] = {"config", "FILE", NULL, NULL},
        [CN__BUILTIN_LOG_FORMAT] = {"log-format", "FMT", "logfmt", NULL},
        [CN__BUILTIN_CHECK] = {"config-check", NULL, NULL, NULL},
    };
    for (size_t k = 0; k < cli->nflags; k++) {
        cli->flags[k].val = cli->flags[k].arg ? cli->flags[k].def : NULL;
        cli->flags[k].set = 0;
        cli->flags[k].line = 0;
    }
    for (size_t k = 0; k < CN__NBUILTIN; k++)
        builtin[k].val = builtin[k].def;
    cli->config = NULL;
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
            int rc = cn__cli_take_flag(cli, builtin, argc, argv, &i);
            if (rc)
                return rc;
        } else if (!flags_done && a[0] == '-' && a[1]) {
            cn_cli_usage_error(cli, "unknown flag %s (flags are spelled --name)", a);
            return CN_EINVAL;
        } else {
            cli->pos[cli->npos++] = argv[i];
        }
    }
    int check = builtin[CN__BUILTIN_CHECK].set;
    if (check && !builtin[CN__BUILTIN_CONFIG].val) {
        cn_cli_usage_error(cli, "--config-check needs --config FILE");
        return CN_EINVAL;
    }
    if (builtin[CN__BUILTIN_CONFIG].val) {
        int rc = cn__cli_config(cli, builtin, builtin[CN__BUILTIN_CONFIG].val);
        if (rc)
            return rc;
    }
    const char *lf = builtin[CN__BUILTIN_LOG_FORMAT].val;
    enum cn_log_format fmt;
    if (cn_log_parse_format(lf, &fmt)) {
        cn_cli_usage_error(cli, "--log-format must be logfmt or json, got '%s'", lf);
        return CN_EINVAL;
    }
    cn_log_set_format(fmt);
    if (check) {
        char sec[64];
        printf("%s: [%s] ok for %s\n", cli->config, cn__cli_section(cli, sec, sizeof(sec)),
               cli->prog);
        return CN_DONE;
    }
    if (cli->npos < cli->min_pos || (cli->max_pos >= 0 && cli->npos > cli->max_pos)) {
        cn_cli_usage_error(cli,
                           cli->npos < cli->min_pos ? "missing argument" : "too many arguments");
        return CN_EINVAL;
    }
    return 0;
}

/* The section a command reads: its name after "cairn ", spaces as dots. */
static const char *cn__cli_section(const cn_cli *cli, char *sec, size_t n)
{
    const char *p = strncmp(cli->prog, "cairn ", 6) ? cli->prog : cli->prog + 6;
    snprintf(sec, n, "%s", p);
    for (char *q = sec; *q; q++)
        if (*q == ' ')
            *q = '.';
    return sec;
}

typedef struct cn__cli_cfg {
    cn_cli *cli;
    cn_flag *builtin;
    const char *section;
    int seen;
    char err[256];
} cn__cli_cfg;

static int cn__cli_cfg_entry(const cn_cfg_entry *e, void *arg)
{
    cn__cli_cfg *c = arg;
    if (strcmp(e->section, c->section))
        return 0;
    c->seen = 1;
    cn_flag *f = cn__cli_find(c->cli, c->builtin, e->key, strlen(e->key));
    if (!f || f == &c->builtin[CN__BUILTIN_CONFIG] || f == &c->builtin[CN__BUILTIN_CHECK]) {
        snprintf(c->err, sizeof(c->err), "unknown key '%s' in [%s]: not a flag of %s", e->key,
                 e->section, c->cli->prog);
        return CN_EINVAL;
    }
    if (!f->arg && e->kind != CN_CFG_BOOL) {
        snprintf(c->err, sizeof(c->err), "'%s' is a switch: true or false", e->key);
        return CN_EINVAL;
    }
    if (f->arg && e->kind == CN_CFG_BOOL) {
        snprintf(c->err, sizeof(c->err), "'%s' takes a value (%s), not %s", e->key, f->arg,
                 e->value);
        return CN_EINVAL;
    }
    if (f->set) /* the command line wins */
        return 0;
    if (!f->arg && !strcmp(e->value, "false"))
        return 0;
    f->val = f->arg ? e->value : "1";
    f->set = 1;
    f->line = e->line;
    return 0;
}

/* Config files stay loaded for the life of the process: flag values point
 * into them the way they point into argv.  Reachable, so not a leak. */
static struct cn__cli_kept {
    struct cn__cli_kept *next;
    char text[];
} * cn__cli_kept_files;

static int cn__cli_config(cn_cli *cli, cn_flag *builtin, const char *path)
{
    char *text;
    size_t len;
    int rc = cn_cfg_read_file(path, &text, &len);
    if (rc) {
        cn_cli_usage_error(cli, "cannot read --config %s: %s", path,
                           rc == CN_ESYS      ? strerror(errno)
                           : rc == CN_ETOOBIG ? "larger than 1 MiB"
                           : rc == CN_ENOENT  ? "no such file"
                                              : cn_strerror(rc));
        return CN_EINVAL;
    }
    struct cn__cli_kept *k = cn_malloc(sizeof(*k) + len + 1);
    if (!k) {
        cn_free(text);
        return CN_ENOMEM;
    }
    memcpy(k->text, text, len + 1);
    cn_free(text);
    k->next = cn__cli_kept_files;
    cn__cli_kept_files = k;
    char sec[64];
    cn__cli_cfg c = {cli, builtin, cn__cli_section(cli, sec, sizeof(sec)), 0, ""};
    int line = 0;
    char err[256];
    rc = cn_cfg_parse(k->text, len, cn__cli_cfg_entry, &c, &line, err, sizeof(err));
    if (rc) {
        cn_cli_usage_error(cli, "%s:%d: %s", path, line, c.err[0] ? c.err : err);
        return CN_EINVAL;
    }
    if (!c.seen) {
        cn_cli_usage_error(cli, "--config %s has no [%s] section for this command", path,
                           c.section);
        return CN_EINVAL;
    }
    cli->config = path;
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

/* " (from FILE:LINE)" for a value read from the --config file, else "". */
static const char *cn__cli_origin(const cn_cli *cli, const char *name, char *buf, size_t n)
{
    const cn_flag *f = cn_cli_flag((cn_cli *)cli, name);
    buf[0] = 0;
    if (f && f->line && cli->config)
        snprintf(buf, n, " (from %s:%d)", cli->config, f->line);
    return buf;
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
        char o[300];
        cn_cli_usage_error(cli, "--%s must be an integer in [%lld, %lld], got '%s'%s", name,
                           (long long)lo, (long long)hi, v,
                           cn__cli_origin(cli, name, o, sizeof(o)));
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
        char o[300];
        cn_cli_usage_error(
            cli,
            "--%s must be a duration like 250ms, 5s, 7d (a bare number is seconds); got '%s'%s",
            name, v, cn__cli_origin(cli, name, o, sizeof(o)));
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
        char o[300];
        cn_cli_usage_error(cli, "--%s must be a size like 128MiB or 1GiB; got '%s'%s", name, v,
                           cn__cli_origin(cli, name, o, sizeof(o)));
        return CN_EINVAL;
    }
    return 0;
}
