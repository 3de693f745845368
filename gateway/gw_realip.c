/* SPDX-License-Identifier: MIT */
/*
 * gw_realip.c — the PROXY protocol v1/v2 header parser, trusted-proxy
 * CIDR lists and the X-Forwarded-For walk (gw_realip.h).
 *
 * Guarantees: every parser reads only the n bytes it is given, refuses a
 * malformed or oversized input instead of guessing, and reports WANT_MORE
 * only for a prefix of something valid (so a caller reading a header
 * piecemeal never waits on bytes that cannot complete it); PROXY v1 is
 * parsed strictly as the specification writes it (single spaces, decimal
 * ports without leading zeros, addresses of the family it names).
 * Pure functions; any thread; no allocation.
 */
#include "gw_realip.h"

#include "cn_err.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static const unsigned char pp2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                          0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

#define PP1_MAX 107

/* ---- addresses ------------------------------------------------------------ */

/* "a.b.c.d" or an IPv6 address, exactly len bytes, into 16 bytes.
 * want: 4, 6, or 0 for either.  @return 0 or CN_EINVAL. */
static int addr_parse(const char *s, size_t len, int want, unsigned char out[16])
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf))
        return CN_EINVAL;
    memcpy(buf, s, len);
    buf[len] = 0;
    unsigned char a4[4];
    if (want != 6 && inet_pton(AF_INET, buf, a4) == 1) {
        memcpy(out, v4mapped, 12);
        memcpy(out + 12, a4, 4);
        return 0;
    }
    if (want != 4 && inet_pton(AF_INET6, buf, out) == 1)
        return 0;
    return CN_EINVAL;
}

void gw_addr_text(const unsigned char a[16], char *out, size_t cap)
{
    if (memcmp(a, v4mapped, 12) == 0)
        inet_ntop(AF_INET, a + 12, out, (socklen_t)cap);
    else
        inet_ntop(AF_INET6, a, out, (socklen_t)cap);
}

/* ---- PROXY v1 --------------------------------------------------------------- */

/* Decimal 0..65535 without leading zeros. */
static int port_parse(const char *s, size_t len, uint16_t *out)
{
    if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
        return CN_EINVAL;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return CN_EINVAL;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v > 65535)
        return CN_EINVAL;
    *out = (uint16_t)v;
    return 0;
}

/* The next space-separated field of [*pos, end): its start and length. */
static int field(const char *line, size_t end, size_t *pos, const char **f, size_t *flen)
{
    size_t i = *pos;
    while (i < end && line[i] != ' ')
        i++;
    *f = line + *pos;
    *flen = i - *pos;
    if (*flen == 0)
        return CN_EINVAL;
    *pos = i < end ? i + 1 : i; /* skip one space */
    return 0;
}

static int pp1_line(const char *line, size_t len, gw_pp_hdr *out)
{
    /* line: "PROXY " ... without the CRLF */
    size_t pos = 6;
    const char *f;
    size_t fl;
    if (field(line, len, &pos, &f, &fl))
        return CN_EPROTO;
    if (fl == 7 && memcmp(f, "UNKNOWN", 7) == 0)
        return 0; /* anything may follow; the real peer stands */
    int fam = fl == 4 && memcmp(f, "TCP4", 4) == 0   ? 4
              : fl == 4 && memcmp(f, "TCP6", 4) == 0 ? 6
                                                     : 0;
    if (!fam)
        return CN_EPROTO;
    const char *src, *dst, *sp, *dp;
    size_t sl, dl, spl, dpl;
    unsigned char da[16];
    uint16_t dport;
    if (field(line, len, &pos, &src, &sl) || field(line, len, &pos, &dst, &dl) ||
        field(line, len, &pos, &sp, &spl) || field(line, len, &pos, &dp, &dpl) || pos != len ||
        line[len - 1] == ' ')
        return CN_EPROTO;
    if (addr_parse(src, sl, fam, out->addr) || addr_parse(dst, dl, fam, da) ||
        port_parse(sp, spl, &out->port) || port_parse(dp, dpl, &dport))
        return CN_EPROTO;
    out->has_addr = 1;
    return 0;
}

static int pp1_parse(const unsigned char *p, size_t n, gw_pp_hdr *out)
{
    static const char pre[6] = "PROXY ";
    size_t k = n < 6 ? n : 6;
    if (memcmp(p, pre, k) != 0)
        return CN_EPROTO;
    for (size_t i = 0; i < n && i < PP1_MAX; i++) {
        unsigned char ch = p[i];
        if (ch == '\r') {
            if (i + 1 >= n)
                return CN_WANT_MORE;
            if (p[i + 1] != '\n' || i < 6)
                return CN_EPROTO;
            out->len = i + 2;
            return pp1_line((const char *)p, i, out);
        }
        if (ch < 0x20 || ch > 0x7e)
            return CN_EPROTO; /* the line is printable ASCII */
    }
    return n >= PP1_MAX ? CN_ETOOBIG : CN_WANT_MORE;
}

/* ---- PROXY v2 --------------------------------------------------------------- */

static int pp2_parse(const unsigned char *p, size_t n, gw_pp_hdr *out)
{
    size_t k = n < 12 ? n : 12;
    if (memcmp(p, pp2_sig, k) != 0)
        return CN_EPROTO;
    if (n >= 13 && (p[12] >> 4) != 2)
        return CN_EPROTO; /* version */
    if (n >= 13 && (p[12] & 0x0f) > 1)
        return CN_EPROTO; /* command: LOCAL or PROXY */
    if (n < 16)
        return CN_WANT_MORE;
    size_t body = (size_t)p[14] << 8 | p[15];
    if (16 + body > GW_PP_MAX)
        return CN_ETOOBIG;
    int cmd = p[12] & 0x0f, fam = p[13] >> 4, proto = p[13] & 0x0f;
    size_t need = fam == 1 ? 12 : fam == 2 ? 36 : fam == 3 ? 216 : 0;
    if (fam > 3 || proto > 2 || body < need)
        return CN_EPROTO;
    if (n < 16 + body)
        return CN_WANT_MORE;
    out->len = 16 + body;
    if (cmd == 0 || fam == 0 || fam == 3)
        return 0; /* LOCAL (the proxy's own health check), UNSPEC, AF_UNIX */
    if (proto != 1)
        return CN_EPROTO; /* we serve TCP: a UDP (or unspecified) stream is a lie */
    const unsigned char *a = p + 16;
    if (fam == 1) {
        memcpy(out->addr, v4mapped, 12);
        memcpy(out->addr + 12, a, 4);
        out->port = (uint16_t)(a[8] << 8 | a[9]);
    } else {
        memcpy(out->addr, a, 16);
        out->port = (uint16_t)(a[32] << 8 | a[33]);
    }
    out->has_addr = 1;
    return 0;
}

int gw_pp_parse(const unsigned char *p, size_t n, gw_pp_hdr *out)
{
    memset(out, 0, sizeof(*out));
    if (n == 0)
        return CN_WANT_MORE;
    if (p[0] == 'P') {
        out->version = 1;
        return pp1_parse(p, n, out);
    }
    if (p[0] == pp2_sig[0]) {
        out->version = 2;
        return pp2_parse(p, n, out);
    }
    return CN_EPROTO;
}

/* ---- trusted proxies ------------------------------------------------------------ */

static void cidr_mask(unsigned char a[16], unsigned bits)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * i : 0;
        a[i] &= (unsigned char)(0xff00u >> keep);
    }
}

static int cidr_one(const char *s, size_t len, gw_cidr *out)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    int is4 = memchr(s, ':', alen) == NULL;
    if (addr_parse(s, alen, is4 ? 4 : 6, out->addr))
        return CN_EINVAL;
    unsigned max = is4 ? 32 : 128, bits = max;
    if (slash) {
        uint16_t b;
        if (port_parse(slash + 1, len - alen - 1, &b) || b > max)
            return CN_EINVAL;
        bits = b;
    }
    out->bits = (uint8_t)(is4 ? 96 + bits : bits);
    unsigned char masked[16];
    memcpy(masked, out->addr, 16);
    cidr_mask(masked, out->bits);
    return memcmp(masked, out->addr, 16) == 0 ? 0 : CN_EINVAL; /* host bits set */
}

int gw_cidrs_parse(const char *list, gw_cidr *out, size_t cap, size_t *n, const char **bad)
{
    *n = 0;
    const char *s = list;
    for (;;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (*n == cap)
            return CN_ETOOBIG;
        if (cidr_one(s, len, &out[*n])) {
            if (bad)
                *bad = s;
            return CN_EINVAL;
        }
        (*n)++;
        if (!e)
            return 0;
        s = e + 1;
    }
}

int gw_cidrs_match(const gw_cidr *c, size_t n, const unsigned char addr[16])
{
    for (size_t i = 0; i < n; i++) {
        unsigned char a[16];
        memcpy(a, addr, 16);
        cidr_mask(a, c[i].bits);
        if (memcmp(a, c[i].addr, 16) == 0)
            return 1;
    }
    return 0;
}

/* ---- X-Forwarded-For ------------------------------------------------------------- */

#define XFF_MAX_ENTRIES 64

typedef struct xff_ent {
    const char *p;
    size_t len;
} xff_ent;

static int is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Split one header value into entries (trimmed), appended to es. */
static int xff_split(const char *v, size_t len, xff_ent *es, size_t *n)
{
    size_t i = 0;
    for (;;) {
        size_t j = i;
        while (j < len && v[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && is_ows(v[a]))
            a++;
        while (b > a && is_ows(v[b - 1]))
            b--;
        if (*n == XFF_MAX_ENTRIES)
            return CN_ETOOBIG;
        es[(*n)++] = (xff_ent){v + a, b - a};
        if (j >= len)
            return 0;
        i = j + 1;
    }
}

int gw_xff_client(const char *head, size_t head_len, const gw_cidr *trusted, size_t ntrusted,
                  unsigned char out[16], char *text, size_t cap)
{
    static const char name[] = "x-forwarded-for:";
    const size_t nl = sizeof(name) - 1;
    xff_ent es[XFF_MAX_ENTRIES];
    size_t n = 0;
    /* lines after the request line; the head ends with an empty line */
    const char *line = memchr(head, '\n', head_len);
    while (line && (size_t)(line + 1 - head) < head_len) {
        const char *ls = line + 1;
        const char *le = memchr(ls, '\n', head_len - (size_t)(ls - head));
        if (!le)
            break;
        size_t ll = (size_t)(le - ls);
        if (ll && ls[ll - 1] == '\r')
            ll--;
        if (ll > nl && strncasecmp(ls, name, nl) == 0 && xff_split(ls + nl, ll - nl, es, &n))
            return CN_EINVAL;
        line = le;
    }
    if (!n)
        return CN_ENOENT;
    size_t pick = n;
    for (size_t i = n; i-- > 0;) {
        unsigned char a[16];
        if (addr_parse(es[i].p, es[i].len, 0, a))
            return CN_EINVAL;
        memcpy(out, a, 16);
        pick = i;
        if (!gw_cidrs_match(trusted, ntrusted, a))
            break;
    }
    if (cap) {
        size_t l = es[pick].len < cap - 1 ? es[pick].len : cap - 1;
        memcpy(text, es[pick].p, l);
        text[l] = 0;
    }
    return 0;
}
