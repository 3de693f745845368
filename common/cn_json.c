/* SPDX-License-Identifier: MIT */
/*
 * cn_json.c — JSON string literals from arbitrary bytes (cn_json.h).
 * Guarantee: the output is always valid JSON (RFC 8259) and valid UTF-8,
 * whatever the input; valid UTF-8 text without control bytes, '"' or '\\'
 * comes out byte for byte.  Runs of bytes that need no escaping are
 * appended in one call, so escaping stays memcpy-bound on ordinary text.
 * Pure; any thread; no globals.
 */
#include "cn_json.h"

#include "cn_utf8.h"

#include <string.h>

static int cn__json_escape(cn_buf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = {'\\', 0, 0, 0, 0, 0};
    switch (c) {
    case '"':
    case '\\':
        e[1] = (char)c;
        return cn_buf_append(b, e, 2);
    case '\n':
        e[1] = 'n';
        return cn_buf_append(b, e, 2);
    case '\r':
        e[1] = 'r';
        return cn_buf_append(b, e, 2);
    case '\t':
        e[1] = 't';
        return cn_buf_append(b, e, 2);
    default:
        e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15];
        return cn_buf_append(b, e, 6);
    }
}

static int cn__json_plain(unsigned char c)
{
    return c >= 0x20 && c != '"' && c != '\\' && c != 0x7f;
}

int cn_json_str(cn_buf *b, const void *str, size_t n)
{
    const unsigned char *s = str;
    int rc = cn_buf_append(b, "\"", 1);
    size_t i = 0;
    while (i < n && !rc) {
        /* the longest run that needs no escaping */
        size_t j = i, l = 0;
        while (j < n && cn__json_plain(s[j]) &&
               (s[j] < 0x80 || (l = cn_utf8_seq(s + j, n - j)) > 0))
            j += s[j] < 0x80 ? 1 : l;
        if (j > i)
            rc = cn_buf_append(b, s + i, j - i);
        if (rc || j >= n)
            break;
        if (s[j] < 0x80)
            rc = cn__json_escape(b, s[j]);
        else
            rc = cn_buf_append(b, "\\ufffd", 6); /* one byte that starts no UTF-8 sequence */
        i = j + 1;
    }
    return rc ? rc : cn_buf_append(b, "\"", 1);
}

int cn_json_cstr(cn_buf *b, const char *s)
{
    if (!s)
        s = "";
    return cn_json_str(b, s, strlen(s));
}
