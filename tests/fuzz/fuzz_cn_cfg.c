/* SPDX-License-Identifier: MIT */
/*
 * fuzz_cn_cfg.c — libFuzzer target for the configuration-file parser
 * (common/cn_cfg.c), which reads whatever file an operator names with
 * --config.  Checks: every section, key and value handed out lies inside
 * the input buffer and is NUL-terminated there; keys and sections are
 * non-empty bare names; an integer is digits with at most a leading sign; a
 * boolean is true or false; line numbers never go backwards and never
 * exceed the input's line count; a refusal names a line within the input
 * and says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cn_cfg.h"
#include "cn_err.h"

typedef struct fz {
    const char *buf;
    size_t len;
    int lines, last;
} fz;

static void fz_inside(const fz *f, const char *s)
{
    if (s < f->buf || s >= f->buf + f->len + 1 || !memchr(s, 0, (size_t)(f->buf + f->len + 1 - s)))
        abort();
}

static void fz_bare(const char *s, int dots)
{
    if (!*s)
        abort();
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || (dots && *s == '.')))
            abort();
}

static int fz_entry(const cn_cfg_entry *e, void *arg)
{
    fz *f = arg;
    fz_inside(f, e->section);
    fz_inside(f, e->key);
    fz_inside(f, e->value);
    fz_bare(e->section, 1);
    fz_bare(e->key, 0);
    if (e->line < f->last || e->line < 1 || e->line > f->lines)
        abort();
    f->last = e->line;
    if (e->kind == CN_CFG_BOOL && strcmp(e->value, "true") && strcmp(e->value, "false"))
        abort();
    if (e->kind == CN_CFG_INT) {
        const char *v = e->value + (e->value[0] == '-' || e->value[0] == '+');
        if (!*v)
            abort();
        for (; *v; v++)
            if (*v < '0' || *v > '9')
                abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    fz f = {buf, size, 1, 0};
    for (size_t i = 0; i < size; i++)
        f.lines += data[i] == '\n';
    int line = 0;
    char err[256];
    int rc = cn_cfg_parse(buf, size, fz_entry, &f, &line, err, sizeof(err));
    if (rc && (rc != CN_EINVAL || line < 1 || line > f.lines || !err[0]))
        abort();
    free(buf);
    return 0;
}
