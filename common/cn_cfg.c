/* SPDX-License-Identifier: MIT */
/*
 * cn_cfg.c — the strict TOML subset of cn_cfg.h: one pass over the text,
 * line by line, rewriting it in place so every section, key and string
 * value handed to the callback is a NUL-terminated slice of the caller's
 * buffer (escapes decoded where they stand; the decoded string is never
 * longer than its source).  Keys are bare (A-Za-z0-9_-, dots only in
 * section names); a repeated key within a section or a repeated section is
 * an error, as in TOML.  Any thread; no state beyond the call.
 */
#include "cn_cfg.h"

#include "cn_alloc.h"
#include "cn_err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Keys already seen in the current section, to refuse repeats. */
#define CN__CFG_MAX_KEYS 256

typedef struct cn__cfg_p {
    char *p, *end;
    int line;
    char *err;
    size_t errlen;
    const char *section;
    const char *sections[CN__CFG_MAX_KEYS];
    size_t nsections;
    const char *keys[CN__CFG_MAX_KEYS];
    size_t nkeys;
} cn__cfg_p;

static int cn__cfg_fail(cn__cfg_p *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int cn__cfg_fail(cn__cfg_p *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    return CN_EINVAL;
}

static int cn__cfg_bare(char ch, int dots)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || (dots && ch == '.');
}

static void cn__cfg_skip_ws(cn__cfg_p *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* After a value or header: only blanks, then a comment or the line end. */
static int cn__cfg_line_end(cn__cfg_p *c)
{
    cn__cfg_skip_ws(c);
    if (c->p < c->end && *c->p == '#')
        while (c->p < c->end && *c->p != '\n')
            c->p++;
    if (c->p < c->end && *c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n')
        c->p++;
    if (c->p < c->end && *c->p != '\n')
        return cn__cfg_fail(c, "unexpected '%c' after the value (one key = value per line)", *c->p);
    return 0;
}

/* A bare name at c->p, NUL-terminated in place once the caller has read
 * the character after it. */
static char *cn__cfg_name(cn__cfg_p *c, int dots, size_t *n)
{
    char *s = c->p;
    while (c->p < c->end && cn__cfg_bare(*c->p, dots))
        c->p++;
    *n = (size_t)(c->p - s);
    return s;
}

static int cn__cfg_section(cn__cfg_p *c)
{
    c->p++; /* '[' */
    cn__cfg_skip_ws(c);
    if (c->p < c->end && *c->p == '[')
        return cn__cfg_fail(c, "arrays of tables ([[...]]) are not supported");
    size_t n;
    char *name = cn__cfg_name(c, 1, &n);
    if (!n)
        return cn__cfg_fail(c, "a section needs a name: [up], [logd], [token.issue]");
    char *name_end = c->p;
    cn__cfg_skip_ws(c);
    if (c->p >= c->end || *c->p != ']')
        return cn__cfg_fail(c, "section name: only A-Za-z0-9._- and then ']'");
    c->p++;
    *name_end = 0;
    int rc = cn__cfg_line_end(c);
    if (rc)
        return rc;
    for (size_t i = 0; i < c->nsections; i++)
        if (!strcmp(c->sections[i], name))
            return cn__cfg_fail(c, "section [%s] appears twice", name);
    if (c->nsections == CN__CFG_MAX_KEYS)
        return cn__cfg_fail(c, "more than %d sections", CN__CFG_MAX_KEYS);
    c->sections[c->nsections++] = name;
    c->section = name;
    c->nkeys = 0;
    return 0;
}

/* A quoted string starting at c->p; decoded in place, *out NUL-terminated. */
static int cn__cfg_string(cn__cfg_p *c, char **out)
{
    char q = *c->p++;
    char *w = c->p, *s = c->p;
    for (;;) {
        if (c->p >= c->end || *c->p == '\n')
            return cn__cfg_fail(c, "unterminated string (strings end on their line)");
        char ch = *c->p++;
        if (ch == q)
            break;
        if ((unsigned char)ch < 0x20 && ch != '\t')
            return cn__cfg_fail(c, "control character 0x%02x in a string", (unsigned char)ch);
        if (ch == '\\' && q == '"') {
            if (c->p >= c->end)
                return cn__cfg_fail(c, "unterminated string");
            char e = *c->p++;
            switch (e) {
            case '"':
                ch = '"';
                break;
            case '\\':
                ch = '\\';
                break;
            case 'n':
                ch = '\n';
                break;
            case 't':
                ch = '\t';
                break;
            default:
                return cn__cfg_fail(c, "unknown escape \\%c (use \\\" \\\\ \\n \\t)", e);
            }
        }
        *w++ = ch;
    }
    int rc = cn__cfg_line_end(c);
    if (rc)
        return rc;
    /* The closing quote lies at or after w, so this never cuts what follows. */
    *w = 0;
    *out = s;
    return 0;
}

/* A bare value: an integer, true or false. */
static int cn__cfg_scalar(cn__cfg_p *c, char **out, enum cn_cfg_kind *kind)
{
    char *s = c->p;
    while (c->p < c->end && *c->p != ' ' && *c->p != '\t' && *c->p != '\n' && *c->p != '#' &&
           *c->p != '\r')
        c->p++;
    size_t n = (size_t)(c->p - s);
    if (n == 4 && !memcmp(s, "true", 4))
        *kind = CN_CFG_BOOL;
    else if (n == 5 && !memcmp(s, "false", 5))
        *kind = CN_CFG_BOOL;
    else {
        size_t i = (n && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
        if (i == n || n > 20)
            return cn__cfg_fail(c, "a value is a \"string\", an integer, true or false; got '%.*s'",
                                (int)(n > 40 ? 40 : n), s);
        /* digits, with single underscores only between digits (TOML's 1_000) */
        int ok = s[i] >= '0' && s[i] <= '9' && s[n - 1] >= '0' && s[n - 1] <= '9';
        for (; ok && i < n; i++)
            ok = (s[i] >= '0' && s[i] <= '9') || (s[i] == '_' && s[i + 1] != '_');
        if (!ok)
            return cn__cfg_fail(
                c,
                "a value is a \"string\", an integer, true or false; got '%.*s' (quote "
                "durations and sizes: \"5s\", \"1GiB\")",
                (int)(n > 40 ? 40 : n), s);
        *kind = CN_CFG_INT;
    }
    char *vend = c->p;
    int rc = cn__cfg_line_end(c);
    if (rc)
        return rc;
    *vend = 0;
    if (*kind == CN_CFG_INT) { /* TOML allows 1_000: drop the underscores */
        char *w = s;
        for (char *r = s; *r; r++)
            if (*r != '_')
                *w++ = *r;
        *w = 0;
    }
    *out = s;
    return 0;
}

static int cn__cfg_key(cn__cfg_p *c, cn_cfg_fn fn, void *arg)
{
    size_t n;
    char *key = cn__cfg_name(c, 0, &n);
    if (!n)
        return cn__cfg_fail(c, "expected key = value, [section] or a # comment");
    char *key_end = c->p;
    cn__cfg_skip_ws(c);
    if (c->p >= c->end || *c->p != '=')
        return cn__cfg_fail(c,
                            "expected '=' after the key '%.*s' (keys are flag names: A-Za-z0-9_-)",
                            (int)(n > 40 ? 40 : n), key);
    c->p++;
    *key_end = 0;
    if (!c->section)
        return cn__cfg_fail(c,
                            "key '%s' before any [section]: put it under the command it is for, "
                            "e.g. [up]",
                            key);
    cn__cfg_skip_ws(c);
    if (c->p >= c->end || *c->p == '\n' || *c->p == '#')
        return cn__cfg_fail(c, "key '%s' has no value", key);
    char *val = NULL;
    enum cn_cfg_kind kind = CN_CFG_STRING;
    int rc;
    if (*c->p == '"' || *c->p == '\'')
        rc = cn__cfg_string(c, &val);
    else if (*c->p == '[' || *c->p == '{')
        rc = cn__cfg_fail(c, "arrays and inline tables are not supported; give a string, e.g. "
                             "\"a,b,c\"");
    else
        rc = cn__cfg_scalar(c, &val, &kind);
    if (rc)
        return rc;
    for (size_t i = 0; i < c->nkeys; i++)
        if (!strcmp(c->keys[i], key))
            return cn__cfg_fail(c, "key '%s' appears twice in [%s]", key, c->section);
    if (c->nkeys == CN__CFG_MAX_KEYS)
        return cn__cfg_fail(c, "more than %d keys in [%s]", CN__CFG_MAX_KEYS, c->section);
    c->keys[c->nkeys++] = key;
    cn_cfg_entry e = {c->section, key, val, kind, c->line};
    return fn(&e, arg);
}

int cn_cfg_parse(char *text, size_t len, cn_cfg_fn fn, void *arg, int *err_line, char *err,
                 size_t errlen)
{
    cn__cfg_p c = {.p = text, .end = text + len, .line = 1, .err = err, .errlen = errlen};
    if (errlen)
        err[0] = 0;
    const char *nul = memchr(text, 0, len);
    if (nul) {
        *err_line = 1;
        for (const char *q = text; q < nul; q++)
            *err_line += *q == '\n';
        return cn__cfg_fail(&c, "NUL byte in the file (not a text file)");
    }
    while (c.p < c.end) {
        cn__cfg_skip_ws(&c);
        int rc = 0;
        if (c.p >= c.end)
            break;
        if (*c.p == '#' || *c.p == '\n' || *c.p == '\r')
            rc = cn__cfg_line_end(&c);
        else if (*c.p == '[')
            rc = cn__cfg_section(&c);
        else
            rc = cn__cfg_key(&c, fn, arg);
        if (rc) {
            *err_line = c.line;
            return rc;
        }
        if (c.p < c.end) { /* at the '\n' */
            c.p++;
            c.line++;
        }
    }
    return 0;
}

int cn_cfg_read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? CN_ENOENT : CN_ESYS;
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        int e = S_ISDIR(st.st_mode) ? EISDIR : errno;
        close(fd);
        errno = e ? e : EINVAL;
        return CN_ESYS;
    }
    if ((uint64_t)st.st_size > CN_CFG_MAX_BYTES) {
        close(fd);
        return CN_ETOOBIG;
    }
    char *buf = cn_malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return CN_ENOMEM;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = 0;
    *out = buf;
    *len = got;
    return 0;
}
