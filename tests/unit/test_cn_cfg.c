/* SPDX-License-Identifier: MIT */
/*
 * test_cn_cfg.c — the configuration file (common/cn_cfg.c) and how flag
 * parsing uses it (--config, --config-check, --log-format in cn_cli.c):
 * every value form, comments, CRLF; each refusal with its line number
 * (key outside a section, repeated key or section, array, float, bare word,
 * unterminated string, unknown escape, control character, NUL byte, empty
 * value); the command line winning over the file; switches; unknown keys;
 * a missing section; unreadable, oversized and directory files; a value
 * error naming the file and line; and the log line formats (logfmt and
 * JSON, with pid and node, hostile messages escaped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "cn_cfg.h"
#include "cn_cli.h"
#include "cn_err.h"
#include "cn_log.h"
#include "cn_testutil.h"

typedef struct got {
    char lines[32][160];
    int n;
} got;

static int collect(const cn_cfg_entry *e, void *arg)
{
    got *g = arg;
    if (g->n < 32)
        snprintf(g->lines[g->n++], sizeof(g->lines[0]), "%d [%s] %s=%s (%d)", e->line, e->section,
                 e->key, e->value, (int)e->kind);
    return 0;
}

/* Parse a copy of src; return the error line (0 if it parsed). */
static int parse(const char *src, got *g, char *err)
{
    char *buf = strdup(src);
    int line = 0;
    memset(g, 0, sizeof(*g));
    int rc = cn_cfg_parse(buf, strlen(src), collect, g, &line, err, 256);
    free(buf);
    return rc ? (line ? line : -1) : 0;
}

static void test_values(void **st)
{
    (void)st;
    got g;
    char err[256];
    const char *src = "# header\n"
                      "\n"
                      "[up]\n"
                      "  data = \"/srv/cairn data\"   # trailing comment\n"
                      "partitions=8\n"
                      "max-conns = 18_000\r\n"
                      "neg = -5\n"
                      "lit = 'C:\\path\\x'\n"
                      "esc = \"a\\\"b\\\\c\\td\"\n"
                      "on = true\n"
                      "off = false\n"
                      "[token.issue]\n"
                      "ttl = \"12h\"\n"
                      "[ empty ]\n";
    assert_int_equal(parse(src, &g, err), 0);
    assert_int_equal(g.n, 9);
    assert_string_equal(g.lines[0], "4 [up] data=/srv/cairn data (0)");
    assert_string_equal(g.lines[1], "5 [up] partitions=8 (1)");
    assert_string_equal(g.lines[2], "6 [up] max-conns=18000 (1)");
    assert_string_equal(g.lines[3], "7 [up] neg=-5 (1)");
    assert_string_equal(g.lines[4], "8 [up] lit=C:\\path\\x (0)");
    assert_string_equal(g.lines[5], "9 [up] esc=a\"b\\c\td (0)");
    assert_string_equal(g.lines[6], "10 [up] on=true (2)");
    assert_string_equal(g.lines[7], "11 [up] off=false (2)");
    assert_string_equal(g.lines[8], "13 [token.issue] ttl=12h (0)");
    /* No final newline; an empty file. */
    assert_int_equal(parse("[a]\nk = 1", &g, err), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(parse("", &g, err), 0);
    assert_int_equal(g.n, 0);
}

static void test_refusals(void **st)
{
    (void)st;
    got g;
    char err[256];
    struct {
        const char *src;
        int line;
        const char *says;
    } bad[] = {
        {"k = 1\n", 1, "before any [section]"},
        {"[a]\nk = 1\nk = 2\n", 3, "appears twice"},
        {"[a]\n[b]\n[a]\n", 3, "appears twice"},
        {"[a]\nk = [1, 2]\n", 2, "arrays"},
        {"[a]\nk = {x = 1}\n", 2, "arrays and inline tables"},
        {"[[a]]\n", 1, "arrays of tables"},
        {"[a]\nk = 1.5\n", 2, "got '1.5'"},
        {"[a]\nk = 5s\n", 2, "quote durations"},
        {"[a]\nk = yes\n", 2, "true or false"},
        {"[a]\nk = \"open\n", 2, "unterminated"},
        {"[a]\nk = \"bad \\q\"\n", 2, "unknown escape"},
        {"[a]\nk = \"bell \a\"\n", 2, "control character"},
        {"[a]\nk =\n", 2, "no value"},
        {"[a]\nk = # nothing\n", 2, "no value"},
        {"[a]\nk 1\n", 2, "expected '='"},
        {"[a]\n=1\n", 2, "expected key"},
        {"[a b]\n", 1, "section name"},
        {"[]\n", 1, "needs a name"},
        {"[a]\nk = 1 2\n", 2, "unexpected"},
        {"[a]\nk = \"x\" y\n", 2, "unexpected"},
        {"[a] x\n", 1, "unexpected"},
        {"[a]\nk.x = 1\n", 2, "expected '='"},
        {"[a]\nk = 123456789012345678901\n", 2, "got"},
        {"[a]\nk = -\n", 2, "got '-'"},
        {"[a]\nk = _\n", 2, "got '_'"},
        {"[a]\nk = 1__0\n", 2, "got '1__0'"},
        {"[a]\nk = 10_\n", 2, "got '10_'"},
        {"[a]\nk = -_1\n", 2, "got '-_1'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int line = parse(bad[i].src, &g, err);
        if (line != bad[i].line || !strstr(err, bad[i].says))
            fail_msg("case %zu (%s): line %d, '%s'; want line %d saying '%s'", i, bad[i].src, line,
                     err, bad[i].line, bad[i].says);
    }
    /* A NUL byte: refused, naming its line. */
    char nul[] = "[a]\nk = 1\nx\0y = 2\n";
    int line = 0;
    assert_int_equal(cn_cfg_parse(nul, sizeof(nul) - 1, collect, &g, &line, err, sizeof(err)),
                     CN_EINVAL);
    assert_int_equal(line, 3);
    assert_non_null(strstr(err, "NUL"));
}

/* A scratch directory for the files below (cn_test_tmpdir honours TMPDIR). */
static char *cfg_dir;

static char *write_tmp(const char *text)
{
    static char path[4200];
    static int seq;
    snprintf(path, sizeof(path), "%s/cfg-%d.toml", cfg_dir, ++seq);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

typedef struct clitest {
    cn_flag flags[4];
    cn_cli cli;
} clitest;

static void cli_init(clitest *t)
{
    cn_flag f[4] = {
        {"data", "DIR", "./d", "data"},
        {"count", "N", "10", "count"},
        {"idle", "DURATION", "5s", "idle", "idle-close"},
        {"follow", NULL, NULL, "switch"},
    };
    memcpy(t->flags, f, sizeof(f));
    cn_cli c = {"cairn test run", "[flags]", "summary", t->flags, 4, 0, 0};
    t->cli = c;
}

static int run(clitest *t, int argc, char **argv)
{
    cli_init(t);
    int rc = cn_cli_parse(&t->cli, argc, argv);
    cn_cli_free(&t->cli);
    return rc;
}

static void test_cli_config(void **st)
{
    (void)st;
    clitest t;
    char *path = write_tmp("[other]\nnope = 1\n"
                           "[test.run]\ndata = \"/from/file\"\ncount = 3\nfollow = true\n");
    char p[4200];
    snprintf(p, sizeof(p), "%s", path);
    char *a1[] = {"run", "--config", p, "--count", "7"};
    assert_int_equal(run(&t, 5, a1), 0);
    /* the file fills what the command line did not give; values outlive cn_cli_free */
    assert_string_equal(cn_cli_str(&t.cli, "data"), "/from/file");
    assert_string_equal(cn_cli_str(&t.cli, "count"), "7");
    assert_string_equal(cn_cli_str(&t.cli, "idle"), "5s");
    assert_true(cn_cli_bool(&t.cli, "follow"));
    assert_int_equal(cn_cli_flag(&t.cli, "data")->line, 4);
    assert_int_equal(cn_cli_flag(&t.cli, "count")->line, 0);
    assert_string_equal(t.cli.config, p);
    char *a2[] = {"run", "--config", p, "--config-check"};
    assert_int_equal(run(&t, 4, a2), CN_DONE);
    unlink(p);

    struct {
        const char *text;
    } bad[] = {
        {"[test.run]\nfrobnicate = 1\n"},       /* unknown key */
        {"[test.run]\nfollow = 1\n"},           /* a switch takes true/false */
        {"[test.run]\ncount = true\n"},         /* a value flag takes a value */
        {"[test.run]\nconfig = \"x\"\n"},       /* --config cannot nest */
        {"[test.runs]\ncount = 1\n"},           /* no section for this command */
        {"[test.run]\ncount = 1\ncount = 2\n"}, /* syntax */
        {"[test.run]\nlog-format = \"xml\"\n"}, /* bad built-in value */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(p, sizeof(p), "%s", write_tmp(bad[i].text));
        char *a[] = {"run", "--config", p};
        if (run(&t, 3, a) != CN_EINVAL)
            fail_msg("config case %zu accepted: %s", i, bad[i].text);
        unlink(p);
    }
    /* switch = false leaves it unset; a value error names the file and line */
    snprintf(p, sizeof(p), "%s", write_tmp("[test.run]\nfollow = false\ncount = \"many\"\n"));
    char *a3[] = {"run", "--config", p};
    assert_int_equal(run(&t, 3, a3), 0);
    assert_false(cn_cli_bool(&t.cli, "follow"));
    int64_t n;
    assert_int_equal(cn_cli_i64(&t.cli, "count", 0, 100, &n), CN_EINVAL);
    unlink(p);

    char *missing[] = {"run", "--config", "/nonexistent/cairn.toml"};
    assert_int_equal(run(&t, 3, missing), CN_EINVAL);
    char *dir[] = {"run", "--config", cfg_dir};
    assert_int_equal(run(&t, 3, dir), CN_EINVAL);
    char *nocfg[] = {"run", "--config-check"};
    assert_int_equal(run(&t, 2, nocfg), CN_EINVAL);
    /* Larger than 1 MiB: refused before it is parsed. */
    char big[4200];
    snprintf(big, sizeof(big), "%s/big.toml", cfg_dir);
    int fd = open(big, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, CN_CFG_MAX_BYTES + 1), 0);
    close(fd);
    char *a4[] = {"run", "--config", big};
    assert_int_equal(run(&t, 3, a4), CN_EINVAL);
    unlink(big);
}

/* A renamed flag's old name still works, on the command line and in the
 * file, and sets the flag under its new name; --help names both. */
static void test_cli_renamed_flag(void **st)
{
    (void)st;
    clitest t;
    char *a1[] = {"run", "--idle-close", "2s"};
    assert_int_equal(run(&t, 3, a1), 0);
    assert_string_equal(cn_cli_str(&t.cli, "idle"), "2s");
    assert_true(cn_cli_flag(&t.cli, "idle")->set);
    char *a2[] = {"run", "--idle-close=3s", "--idle", "4s"};
    assert_int_equal(run(&t, 4, a2), 0);
    assert_string_equal(cn_cli_str(&t.cli, "idle"), "4s"); /* the last one given wins */
    char p[4200];
    snprintf(p, sizeof(p), "%s", write_tmp("[test.run]\nidle-close = \"7s\"\n"));
    char *a3[] = {"run", "--config", p};
    assert_int_equal(run(&t, 3, a3), 0);
    assert_string_equal(cn_cli_str(&t.cli, "idle"), "7s");
    assert_int_equal(cn_cli_flag(&t.cli, "idle")->line, 2);
    unlink(p);
    char *a4[] = {"run", "--idle-closed", "1s"}; /* not a prefix match */
    assert_int_equal(run(&t, 3, a4), CN_EINVAL);
}

static void test_log_lines(void **st)
{
    (void)st;
    char line[1200];
    char pid[32];
    snprintf(pid, sizeof(pid), "pid=%ld ", (long)getpid());
    cn_log_set_node(NULL);
    cn_log_set_format(CN_LOG_LOGFMT);
    size_t n = cn_log_format_line(line, sizeof(line), CN_LOG_WARN, "lg", "said \"hi\"\nthen");
    line[n] = 0;
    assert_non_null(strstr(line, " level=warn "));
    assert_non_null(strstr(line, pid));
    assert_null(strstr(line, "node="));
    assert_non_null(strstr(line, "mod=lg msg=\"said \\\"hi\\\" then\"\n"));

    cn_log_set_node("n1 \"evil\"");
    cn_log_set_format(CN_LOG_JSON);
    n = cn_log_format_line(line, sizeof(line), CN_LOG_INFO, "gw", "tab\there \"q\" back\\slash");
    line[n] = 0;
    assert_true(line[0] == '{' && line[n - 2] == '}' && line[n - 1] == '\n');
    assert_non_null(strstr(line, "\"level\":\"info\""));
    assert_non_null(strstr(line, "\"node\":\"n1__evil_\""));
    assert_non_null(strstr(line, "\"msg\":\"tab\\u0009here \\\"q\\\" back\\\\slash\"}"));
    /* An over-long message is cut, and the line still closes. */
    char longmsg[4000];
    memset(longmsg, 'x', sizeof(longmsg) - 1);
    longmsg[sizeof(longmsg) - 1] = 0;
    n = cn_log_format_line(line, 300, CN_LOG_INFO, "gw", longmsg);
    assert_true(n <= 300);
    assert_true(line[n - 3] == '"' && line[n - 2] == '}' && line[n - 1] == '\n');
    cn_log_set_format(CN_LOG_LOGFMT);
    cn_log_set_node(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),     cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_cli_config), cmocka_unit_test(test_cli_renamed_flag),
        cmocka_unit_test(test_log_lines),
    };
    cfg_dir = cn_test_tmpdir("cfg");
    if (!cfg_dir)
        return 1;
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cn_test_rmrf(cfg_dir);
    free(cfg_dir);
    return rc;
}
