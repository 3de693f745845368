/* SPDX-License-Identifier: MIT */
/*
 * cn_cfg.h — the configuration file every `cairn` command reads with
 * --config FILE: a strict subset of TOML whose keys are the commands' own
 * flag names, one [section] per command:
 *
 *   # a venue's settings
 *   [up]
 *   data = "/srv/cairn"          # a string: "..." (with \" \\ \t \n) or '...'
 *   partitions = 8               # an integer
 *   max-conns = 18000
 *   idle-close = "5s"            # durations and sizes are strings
 *   [logd]
 *   auto-create = true           # a switch: true sets it, false leaves it unset
 *   [token.issue]                # `cairn token issue`
 *
 * Anything else — a key outside a section, a repeated key or section, an
 * array, a table, a float, a date, an unterminated string, a NUL byte — is an
 * error naming the line.  Pure: no I/O except cn_cfg_read_file.
 */
#ifndef CN_CFG_H
#define CN_CFG_H

#include <stddef.h>

enum cn_cfg_kind { CN_CFG_STRING, CN_CFG_INT, CN_CFG_BOOL };

typedef struct cn_cfg_entry {
    const char *section; /* "up", "token.issue" */
    const char *key;
    const char *value; /* the string; "123"; "true" / "false" */
    enum cn_cfg_kind kind;
    int line; /* 1-based */
} cn_cfg_entry;

/** Called once per key; a non-zero return stops the parse and is returned. */
typedef int (*cn_cfg_fn)(const cn_cfg_entry *e, void *arg);

/** Largest file cn_cfg_read_file accepts. */
#define CN_CFG_MAX_BYTES (1u << 20)

/**
 * Parse text (len bytes, modified in place: the entries point into it) and
 * call fn for each key, in file order.
 * @return 0; CN_EINVAL with *err_line and err (a sentence) set for a syntax
 *         error; or fn's non-zero return.
 */
int cn_cfg_parse(char *text, size_t len, cn_cfg_fn fn, void *arg, int *err_line, char *err,
                 size_t errlen);

/**
 * Read a whole file (at most CN_CFG_MAX_BYTES) into a NUL-terminated
 * cn_malloc'd buffer.  @return 0; CN_ENOENT; CN_E2BIG; CN_ESYS (errno set).
 */
int cn_cfg_read_file(const char *path, char **out, size_t *len);

#endif
