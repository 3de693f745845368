/* SPDX-License-Identifier: MIT */
/*
 * cn_json.h — the one JSON string escaper.  Whatever bytes come in (ids,
 * hunt names, record keys, decoded protobuf strings, which protobuf-c does
 * not check for UTF-8), what goes out is a valid JSON string literal:
 * '"' and '\\' are escaped, \n \r \t as such, every other control byte
 * (and DEL) as \u00XX, and each byte that does not start a well-formed
 * UTF-8 sequence as \ufffd (U+FFFD, the replacement character).  Callers
 * that must not lose bytes check cn_utf8_valid first and use base64.
 * Appends to a caller-owned cn_buf; pure; any thread.
 */
#ifndef CN_JSON_H
#define CN_JSON_H

#include "cn_buf.h"

#include <stddef.h>

/** Append s[0..n) as a JSON string literal, quotes included.  0 or CN_ENOMEM. */
int cn_json_str(cn_buf *b, const void *s, size_t n);

/** cn_json_str of a NUL-terminated string; NULL renders as "". */
int cn_json_cstr(cn_buf *b, const char *s);

#endif
