/* SPDX-License-Identifier: MIT */
/*
 * gw_id.c — validation of outside identifiers (player, hunt, beacon and
 * client ping ids) against one small alphabet; see gw_id.h for why.
 * Pure; any thread.
 */
#include "gw_id.h"

static int gw_id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == ':' || c == '@' || c == '-';
}

int gw_id_valid(const char *s, size_t n)
{
    if (n == 0 || n > GW_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!gw_id_char((unsigned char)s[i]))
            return 0;
    return 1;
}
