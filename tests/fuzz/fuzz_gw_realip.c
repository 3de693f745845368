/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gw_realip.c — libFuzzer target for the PROXY protocol v1/v2 parser,
 * the trusted-proxies CIDR list and the X-Forwarded-For walk
 * (gateway/gw_realip.h).  Checks: a complete header never claims more
 * bytes than it was given or than GW_PP_MAX, and parsing exactly its bytes
 * gives the same header; every shorter prefix of a complete header asks
 * for more (a piecemeal reader never gets a different verdict); a
 * WANT_MORE is never given for GW_PP_MAX bytes or more; a parsed CIDR
 * list's blocks match their own address; an X-Forwarded-For answer is an
 * entry that was in the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cn_err.h"
#include "gw_realip.h"

static void fz_pp(const uint8_t *data, size_t size)
{
    gw_pp_hdr h, h2;
    int rc = gw_pp_parse(data, size, &h);
    if (rc == CN_WANT_MORE && size >= GW_PP_MAX)
        abort();
    if (rc != 0)
        return;
    if (h.len == 0 || h.len > size || h.len > GW_PP_MAX)
        abort();
    if (gw_pp_parse(data, h.len, &h2) != 0 || memcmp(&h, &h2, sizeof(h)) != 0)
        abort();
    for (size_t k = 0; k < h.len; k++)
        if (gw_pp_parse(data, k, &h2) != CN_WANT_MORE)
            abort();
}

static void fz_cidr_xff(const uint8_t *data, size_t size)
{
    /* first line: a trusted-proxies list; the rest: a request head */
    const uint8_t *nl = memchr(data, '\n', size);
    size_t l1 = nl ? (size_t)(nl - data) : size;
    char *list = malloc(l1 + 1);
    if (!list)
        return;
    memcpy(list, data, l1);
    list[l1] = 0;
    gw_cidr c[GW_CIDR_MAX];
    size_t n = 0;
    if (strlen(list) != l1 || gw_cidrs_parse(list, c, GW_CIDR_MAX, &n, NULL) != 0)
        n = 0;
    for (size_t i = 0; i < n; i++)
        if (!gw_cidrs_match(&c[i], 1, c[i].addr))
            abort();
    free(list);
    if (!nl)
        return;
    const char *head = (const char *)nl + 1;
    size_t hl = size - l1 - 1;
    unsigned char a[16];
    char text[64];
    if (gw_xff_client(head, hl, c, n, a, text, sizeof(text)) == 0) {
        size_t tl = strlen(text);
        if (tl == 0 || tl > hl || !memmem(head, hl, text, tl))
            abort();
        char t2[64];
        gw_addr_text(a, t2, sizeof(t2));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_pp(data, size);
    fz_cidr_xff(data, size);
    return 0;
}
