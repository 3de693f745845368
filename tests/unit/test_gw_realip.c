/* SPDX-License-Identifier: MIT */
/*
 * test_gw_realip.c — the real-client-address parsers (gw_realip.h):
 * PROXY protocol v1 (TCP4, TCP6, UNKNOWN; every malformed shape the
 * specification rules out: double spaces, leading zeros, wrong family,
 * missing fields, bare LF, no CRLF within 107 bytes, non-ASCII), v2
 * (IPv4, IPv6, LOCAL, UNSPEC, AF_UNIX, TLVs after the addresses; bad
 * version, bad command, UDP, a length shorter than its addresses, a
 * header over 536 bytes), every truncation of every valid header being
 * WANT_MORE and never a verdict, what follows a header left alone; CIDR
 * lists (v4 and v6, bare addresses, host bits set, bad prefixes, too
 * many); X-Forwarded-For (rightmost untrusted entry, trusted chains,
 * several header lines, case, spaces, garbage entries, absent header).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cn_err.h"
#include "gw_realip.h"

static const unsigned char sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static void text_of(const gw_pp_hdr *h, char *out)
{
    gw_addr_text(h->addr, out, 64);
}

/* Every strict prefix of a valid header must ask for more. */
static void all_prefixes_want_more(const unsigned char *p, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        gw_pp_hdr h;
        int rc = gw_pp_parse(p, k, &h);
        if (rc != CN_WANT_MORE)
            fail_msg("prefix %zu of %zu: %d", k, n, rc);
    }
}

static void test_v1_valid(void **st)
{
    (void)st;
    const char *in = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\nGET / HTTP/1.1\r\n";
    gw_pp_hdr h;
    char t[64];
    assert_int_equal(gw_pp_parse((const unsigned char *)in, strlen(in), &h), 0);
    assert_int_equal(h.len, strlen("PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n"));
    assert_int_equal(h.version, 1);
    assert_true(h.has_addr);
    text_of(&h, t);
    assert_string_equal(t, "192.0.2.7");
    assert_int_equal(h.port, 56324);
    all_prefixes_want_more((const unsigned char *)in, h.len);

    in = "PROXY TCP6 2001:db8::7 2001:db8::1 65535 0\r\n";
    assert_int_equal(gw_pp_parse((const unsigned char *)in, strlen(in), &h), 0);
    text_of(&h, t);
    assert_string_equal(t, "2001:db8::7");
    assert_int_equal(h.port, 65535);

    in = "PROXY UNKNOWN\r\n";
    assert_int_equal(gw_pp_parse((const unsigned char *)in, strlen(in), &h), 0);
    assert_false(h.has_addr);
    in = "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n";
    assert_int_equal(gw_pp_parse((const unsigned char *)in, strlen(in), &h), 0);
    assert_false(h.has_addr);

    /* the longest legal line: 107 bytes with CRLF */
    char longest[128];
    snprintf(longest, sizeof(longest), "PROXY TCP6 %s %s 65535 65535\r\n",
             "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    assert_int_equal(strlen(longest), 104);
    assert_int_equal(gw_pp_parse((const unsigned char *)longest, strlen(longest), &h), 0);
}

static void test_v1_malformed(void **st)
{
    (void)st;
    const char *bad[] = {
        "PROXY TCP4 192.0.2.7  198.51.100.1 1 2\r\n",    /* double space */
        "PROXY TCP4 192.0.2.7 198.51.100.1 01 2\r\n",    /* leading zero */
        "PROXY TCP4 192.0.2.7 198.51.100.1 65536 2\r\n", /* port range */
        "PROXY TCP4 2001:db8::7 198.51.100.1 1 2\r\n",   /* v6 in TCP4 */
        "PROXY TCP6 192.0.2.7 2001:db8::1 1 2\r\n",      /* v4 in TCP6 */
        "PROXY TCP4 192.0.2.7 198.51.100.1 1\r\n",       /* a field missing */
        "PROXY TCP4 192.0.2.7 198.51.100.1 1 2 3\r\n",   /* one too many */
        "PROXY TCP4 192.0.2.7 198.51.100.1 1 2 \r\n",    /* trailing space */
        "PROXY TCP5 192.0.2.7 198.51.100.1 1 2\r\n",     /* family */
        "PROXY tcp4 192.0.2.7 198.51.100.1 1 2\r\n",     /* case */
        "PROXY TCP4 192.0.2.7 198.51.100.1 1 2\n",       /* bare LF */
        "PROXY TCP4 192.0.2.7 198.51.100.1 1 2\rX",      /* CR without LF */
        "PROXY TCP4 192.0.2.256 198.51.100.1 1 2\r\n",   /* not an address */
        "PROXY TCP4 192.0.2.7 198.51.100.1 -1 2\r\n",    /* sign */
        "PROXY \r\n",                                    /* nothing */
        "PROXY\r\n",                                     /* no space */
        "PROXX TCP4",                                    /* wrong word, early */
        "GET / HTTP/1.1\r\n",                            /* not a header */
        "PROXY TCP4 192.0.2.7\x01 198.51.100.1 1 2\r\n", /* control byte */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        gw_pp_hdr h;
        int rc = gw_pp_parse((const unsigned char *)bad[i], strlen(bad[i]), &h);
        if (rc != CN_EPROTO)
            fail_msg("accepted or waited on %s: %d", bad[i], rc);
    }
    unsigned char hi[] = "PROXY TCP4 \xc3\xa9";
    gw_pp_hdr h;
    assert_int_equal(gw_pp_parse(hi, sizeof(hi) - 1, &h), CN_EPROTO);
    /* no CRLF within 107 bytes: too big, never a wait */
    char big[300];
    memset(big, 'a', sizeof(big));
    memcpy(big, "PROXY UNKNOWN ", 14);
    assert_int_equal(gw_pp_parse((unsigned char *)big, 107, &h), CN_ETOOBIG);
    assert_int_equal(gw_pp_parse((unsigned char *)big, sizeof(big), &h), CN_ETOOBIG);
    assert_int_equal(gw_pp_parse((unsigned char *)big, 106, &h), CN_WANT_MORE);
}

/* A v2 header: cmd 0 LOCAL / 1 PROXY, fam byte, address block, tlv bytes. */
static size_t v2(unsigned char *out, int ver, int cmd, int famproto, const unsigned char *addr,
                 size_t alen, size_t tlvs)
{
    memcpy(out, sig, 12);
    out[12] = (unsigned char)(ver << 4 | cmd);
    out[13] = (unsigned char)famproto;
    size_t body = alen + tlvs;
    out[14] = (unsigned char)(body >> 8);
    out[15] = (unsigned char)body;
    if (alen)
        memcpy(out + 16, addr, alen);
    memset(out + 16 + alen, 0x04, tlvs); /* content of no interest: skipped */
    return 16 + body;
}

static void test_v2_valid(void **st)
{
    (void)st;
    unsigned char b[700], a4[12] = {192, 0, 2, 7, 198, 51, 100, 1, 0xDC, 0x04, 0x01, 0xBB};
    unsigned char a6[36] = {0x20, 0x01, 0x0d,     0xb8, [15] = 7, 0x20, 0x01,
                            0x0d, 0xb8, [31] = 1, 0x30, 0x39,     0x01, 0xbb};
    gw_pp_hdr h;
    char t[64];
    size_t n = v2(b, 2, 1, 0x11, a4, 12, 0);
    memcpy(b + n, "\x16\x03\x01", 3); /* a ClientHello follows: not ours */
    assert_int_equal(gw_pp_parse(b, n + 3, &h), 0);
    assert_int_equal(h.len, n);
    assert_int_equal(h.version, 2);
    assert_true(h.has_addr);
    text_of(&h, t);
    assert_string_equal(t, "192.0.2.7");
    assert_int_equal(h.port, 0xDC04);
    all_prefixes_want_more(b, n);

    n = v2(b, 2, 1, 0x21, a6, 36, 0);
    assert_int_equal(gw_pp_parse(b, n, &h), 0);
    text_of(&h, t);
    assert_string_equal(t, "2001:db8::7");
    assert_int_equal(h.port, 12345);
    all_prefixes_want_more(b, n);

    /* TLVs after the addresses are skipped */
    n = v2(b, 2, 1, 0x11, a4, 12, 40);
    assert_int_equal(gw_pp_parse(b, n, &h), 0);
    assert_int_equal(h.len, 16 + 52);
    assert_true(h.has_addr);

    /* LOCAL: the proxy's own connection (health check), addresses ignored */
    n = v2(b, 2, 0, 0x11, a4, 12, 0);
    assert_int_equal(gw_pp_parse(b, n, &h), 0);
    assert_false(h.has_addr);
    n = v2(b, 2, 0, 0x00, NULL, 0, 0);
    assert_int_equal(gw_pp_parse(b, n, &h), 0);
    assert_int_equal(h.len, 16);
    assert_false(h.has_addr);
    all_prefixes_want_more(b, n);
    /* PROXY with UNSPEC or AF_UNIX: keep the real peer */
    n = v2(b, 2, 1, 0x00, NULL, 0, 0);
    assert_int_equal(gw_pp_parse(b, n, &h), 0);
    assert_false(h.has_addr);
    unsigned char unix_addr[216] = {0};
    n = v2(b, 2, 1, 0x31, unix_addr, 216, 0);
    assert_int_equal(gw_pp_parse(b, n, &h), 0);
    assert_false(h.has_addr);
    /* the largest accepted: 536 bytes */
    n = v2(b, 2, 1, 0x11, a4, 12, GW_PP_MAX - 16 - 12);
    assert_int_equal(n, GW_PP_MAX);
    assert_int_equal(gw_pp_parse(b, n, &h), 0);
}

static void test_v2_malformed(void **st)
{
    (void)st;
    unsigned char b[70000], a4[12] = {192, 0, 2, 7, 198, 51, 100, 1, 0, 1, 0, 2};
    gw_pp_hdr h;
    size_t n = v2(b, 1, 1, 0x11, a4, 12, 0);
    assert_int_equal(gw_pp_parse(b, n, &h), CN_EPROTO);  /* version 1 in binary */
    assert_int_equal(gw_pp_parse(b, 13, &h), CN_EPROTO); /* refused as soon as seen */
    n = v2(b, 2, 2, 0x11, a4, 12, 0);
    assert_int_equal(gw_pp_parse(b, n, &h), CN_EPROTO); /* command 2 */
    n = v2(b, 2, 1, 0x12, a4, 12, 0);
    assert_int_equal(gw_pp_parse(b, n, &h), CN_EPROTO); /* UDP */
    n = v2(b, 2, 1, 0x41, a4, 12, 0);
    assert_int_equal(gw_pp_parse(b, n, &h), CN_EPROTO); /* family 4 */
    n = v2(b, 2, 1, 0x13, a4, 12, 0);
    assert_int_equal(gw_pp_parse(b, n, &h), CN_EPROTO); /* transport 3 */
    n = v2(b, 2, 1, 0x21, a4, 12, 0);
    assert_int_equal(gw_pp_parse(b, n, &h), CN_EPROTO); /* IPv6 with 12 address bytes */
    n = v2(b, 2, 1, 0x11, a4, 8, 0);
    assert_int_equal(gw_pp_parse(b, n, &h), CN_EPROTO); /* IPv4 with 8 */
    /* oversized: one byte over, and the 64 KiB a length field can say */
    n = v2(b, 2, 1, 0x11, a4, 12, GW_PP_MAX - 16 - 12 + 1);
    assert_int_equal(gw_pp_parse(b, n, &h), CN_ETOOBIG);
    assert_int_equal(gw_pp_parse(b, 16, &h), CN_ETOOBIG); /* known from the length alone */
    n = v2(b, 2, 1, 0x11, a4, 12, 65535 - 12);
    assert_int_equal(gw_pp_parse(b, 16, &h), CN_ETOOBIG);
    /* a signature that goes wrong is refused at the byte it goes wrong */
    memcpy(b, sig, 12);
    b[7] = 'X';
    assert_int_equal(gw_pp_parse(b, 8, &h), CN_EPROTO);
    assert_int_equal(gw_pp_parse(b, 7, &h), CN_WANT_MORE);
    /* a TLS ClientHello or anything else where the header belongs */
    const unsigned char hello[] = {0x16, 0x03, 0x01, 0x00, 0x20};
    assert_int_equal(gw_pp_parse(hello, sizeof(hello), &h), CN_EPROTO);
    assert_int_equal(gw_pp_parse(hello, 0, &h), CN_WANT_MORE);
}

static void test_cidrs(void **st)
{
    (void)st;
    gw_cidr c[GW_CIDR_MAX];
    size_t n;
    const char *bad = NULL;
    assert_int_equal(
        gw_cidrs_parse("10.0.0.0/8,127.0.0.1,2001:db8::/32,::1", c, GW_CIDR_MAX, &n, &bad), 0);
    assert_int_equal(n, 4);
    unsigned char a[16] = {[10] = 0xff, [11] = 0xff, 10, 200, 3, 4};
    assert_true(gw_cidrs_match(c, n, a));
    a[12] = 11;
    assert_false(gw_cidrs_match(c, n, a));
    a[12] = 127, a[13] = 0, a[14] = 0, a[15] = 1;
    assert_true(gw_cidrs_match(c, n, a));
    a[15] = 2;
    assert_false(gw_cidrs_match(c, n, a));
    unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, [15] = 9};
    assert_true(gw_cidrs_match(c, n, v6));
    v6[3] = 0xb9;
    assert_false(gw_cidrs_match(c, n, v6));
    unsigned char lo6[16] = {[15] = 1};
    assert_true(gw_cidrs_match(c, n, lo6));
    /* an IPv4 block never matches an IPv6 address with the same low bytes */
    unsigned char v6low[16] = {[12] = 10, 1, 2, 3};
    assert_false(gw_cidrs_match(c, 1, v6low));
    assert_int_equal(gw_cidrs_parse("0.0.0.0/0", c, GW_CIDR_MAX, &n, NULL), 0);
    assert_true(gw_cidrs_match(c, n, a));
    assert_false(gw_cidrs_match(c, n, lo6)); /* all of IPv4, not IPv6 */

    const char *bads[] = {
        "",        "10.0.0.1/8",  "10.0.0.0/33", "10.0.0.0/",   "10.0.0.0/08",  "1.2.3",
        "::1/129", "10.0.0.0/8,", ",10.0.0.0/8", "10.0.0.0/8 ", "host.example", "10.0.0.0/-1"};
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
        if (gw_cidrs_parse(bads[i], c, GW_CIDR_MAX, &n, &bad) != CN_EINVAL)
            fail_msg("accepted '%s'", bads[i]);
    assert_int_equal(gw_cidrs_parse("10.0.0.0/8,1.2.3.4/33", c, GW_CIDR_MAX, &n, &bad), CN_EINVAL);
    assert_string_equal(bad, "1.2.3.4/33");
    assert_int_equal(gw_cidrs_parse("1.1.1.1,2.2.2.2,3.3.3.3", c, 2, &n, NULL), CN_ETOOBIG);
}

static int xff(const char *head, const char *trusted, char *text)
{
    gw_cidr c[GW_CIDR_MAX] = {{{0}, 0}};
    size_t n = 0;
    if (trusted)
        assert_int_equal(gw_cidrs_parse(trusted, c, GW_CIDR_MAX, &n, NULL), 0);
    unsigned char a[16];
    return gw_xff_client(head, strlen(head), c, n, a, text, 64);
}

static void test_xff(void **st)
{
    (void)st;
    char t[64];
    assert_int_equal(
        xff("GET /ws HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 192.0.2.7\r\n\r\n", NULL, t), 0);
    assert_string_equal(t, "192.0.2.7");
    /* the client claims an address; our proxy appended the one it saw */
    assert_int_equal(
        xff("GET / HTTP/1.1\r\nX-Forwarded-For: 6.6.6.6, 192.0.2.7\r\n\r\n", "10.0.0.0/8", t), 0);
    assert_string_equal(t, "192.0.2.7");
    /* two trusted proxies in a chain: the entry before them */
    assert_int_equal(xff("GET / HTTP/1.1\r\nx-forwarded-for: 6.6.6.6,192.0.2.7 ,10.1.1.1\r\n"
                         "X-FORWARDED-FOR:\t10.2.2.2\r\n\r\n",
                         "10.0.0.0/8", t),
                     0);
    assert_string_equal(t, "192.0.2.7");
    /* everything trusted: the leftmost */
    assert_int_equal(
        xff("GET / HTTP/1.1\r\nX-Forwarded-For: 10.9.9.9, 10.1.1.1\r\n\r\n", "10.0.0.0/8", t), 0);
    assert_string_equal(t, "10.9.9.9");
    assert_int_equal(xff("GET / HTTP/1.1\r\nX-Forwarded-For: 2001:db8::7\r\n\r\n", NULL, t), 0);
    assert_string_equal(t, "2001:db8::7");
    /* absent; a look-alike name; garbage */
    assert_int_equal(xff("GET / HTTP/1.1\r\nHost: x\r\n\r\n", NULL, t), CN_ENOENT);
    assert_int_equal(xff("GET / HTTP/1.1\r\nX-Forwarded-Fort: 1.2.3.4\r\n\r\n", NULL, t),
                     CN_ENOENT);
    assert_int_equal(xff("GET / HTTP/1.1\r\nX-Forwarded-For: unknown\r\n\r\n", NULL, t), CN_EINVAL);
    assert_int_equal(xff("GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4:80\r\n\r\n", NULL, t),
                     CN_EINVAL);
    assert_int_equal(xff("GET / HTTP/1.1\r\nX-Forwarded-For: \r\n\r\n", NULL, t), CN_EINVAL);
    assert_int_equal(xff("GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4,\r\n\r\n", NULL, t),
                     CN_EINVAL);
    /* garbage to the left of the client is never reached */
    assert_int_equal(xff("GET / HTTP/1.1\r\nX-Forwarded-For: junk, 192.0.2.9\r\n\r\n", NULL, t), 0);
    assert_string_equal(t, "192.0.2.9");
    /* more entries than we look at */
    char big[2048] = "GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1";
    for (int i = 0; i < 70; i++)
        strcat(big, ",1.1.1.1");
    strcat(big, "\r\n\r\n");
    assert_int_equal(xff(big, NULL, t), CN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_valid), cmocka_unit_test(test_v1_malformed),
        cmocka_unit_test(test_v2_valid), cmocka_unit_test(test_v2_malformed),
        cmocka_unit_test(test_cidrs),    cmocka_unit_test(test_xff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
