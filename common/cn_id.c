/* SPDX-License-Identifier: MIT */
/*
 * cn_id.c — validation of outside identifiers (player, hunt, beacon and
 * client ping ids, node names) against one small alphabet, and of the
 * names in hunt files against its subset without ':' and '@'; see cn_id.h
 * for why.  Pure; any thread.
 */
#include "cn_id.h"

int cn_id_name_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

int cn_id_byte(unsigned char c)
{
    return cn_id_name_byte(c) || c == ':' || c == '@';
}

int cn_id_valid(const char *s, size_t n)
{
    if (!s || n == 0 || n > CN_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!cn_id_byte((unsigned char)s[i]))
            return 0;
    return 1;
}
