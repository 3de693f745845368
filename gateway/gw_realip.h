/* SPDX-License-Identifier: MIT */
/*
 * gw_realip.h — who a connection really comes from when the gateway sits
 * behind a load balancer or TLS proxy: the PROXY protocol header (v1 text,
 * v2 binary, as HAProxy, nginx and cloud load balancers send it), the
 * X-Forwarded-For request header, and the list of trusted proxies (CIDR
 * blocks) whose word on either is taken.  Pure functions over bytes: no
 * sockets, no allocation, so each is unit-tested and fuzzed byte by byte.
 * See docs/operations.md "Behind a proxy".
 *
 * Addresses are 16 bytes: an IPv6 address, or an IPv4 address as
 * IPv4-mapped IPv6 (::ffff:a.b.c.d).  Any thread.
 */
#ifndef GW_REALIP_H
#define GW_REALIP_H

#include <stddef.h>
#include <stdint.h>

/* The largest PROXY header accepted: a v1 line is at most 107 bytes; a v2
 * header is 16 bytes plus addresses (at most 216 for AF_UNIX) plus TLVs,
 * and 536 bytes is what the specification recommends receivers read. */
#define GW_PP_MAX 536

typedef struct gw_pp_hdr {
    size_t len;             /* bytes of the header (what follows is the client's stream) */
    int has_addr;           /* 0: LOCAL / UNKNOWN / UNSPEC / AF_UNIX: keep the real peer */
    unsigned char addr[16]; /* the client's address when has_addr */
    uint16_t port;          /* the client's port when has_addr */
    int version;            /* 1 or 2 */
} gw_pp_hdr;

/**
 * Parse a PROXY protocol header from the first n bytes of a connection.
 * @return 0: complete, *out filled (out->len bytes used);
 *         CN_WANT_MORE: a valid prefix so far, read more (at most
 *         GW_PP_MAX bytes in all);
 *         CN_EPROTO: not a PROXY header, or a malformed one;
 *         CN_ETOOBIG: a v2 header longer than GW_PP_MAX, or a v1 line
 *         without its CRLF within 107 bytes.
 */
int gw_pp_parse(const unsigned char *p, size_t n, gw_pp_hdr *out);

/** Most entries in a trusted-proxies list. */
#define GW_CIDR_MAX 64

typedef struct gw_cidr {
    unsigned char addr[16]; /* masked to bits */
    uint8_t bits;           /* 0..128 (an IPv4 block: 96 + its prefix) */
} gw_cidr;

/**
 * Parse "CIDR,CIDR,..." (IPv4 or IPv6, a bare address meaning /32 or
 * /128; host bits must be zero) into out[cap].
 * @return 0 with *n entries; CN_EINVAL (a bad entry: *bad points to it,
 *         when bad is not NULL); CN_ETOOBIG (more than cap entries).
 */
int gw_cidrs_parse(const char *list, gw_cidr *out, size_t cap, size_t *n, const char **bad);

/** 1 if addr lies in one of the n blocks. */
int gw_cidrs_match(const gw_cidr *c, size_t n, const unsigned char addr[16]);

/**
 * The client address X-Forwarded-For names in a request head (the
 * validated head of ws_http_parse, head_len bytes), as a reverse proxy
 * chain writes it: every X-Forwarded-For line, in order, is one list; the
 * client is the rightmost entry that is not itself a trusted proxy (the
 * entries to its left were written by the client or by proxies we do not
 * trust, so they are not believed); if all are trusted, the leftmost.
 * @return 0 with out (and text, NUL-terminated, if cap > 0: the entry as
 *         written); CN_ENOENT: no X-Forwarded-For; CN_EINVAL: an entry
 *         that is not an IP address was reached (the header is ignored).
 */
int gw_xff_client(const char *head, size_t head_len, const gw_cidr *trusted, size_t ntrusted,
                  unsigned char out[16], char *text, size_t cap);

/** Text of a 16-byte address ("192.0.2.7" for IPv4-mapped); cap >= 46. */
void gw_addr_text(const unsigned char addr[16], char *out, size_t cap);

#endif
