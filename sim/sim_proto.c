/* SPDX-License-Identifier: MIT */
/*
 * sim_proto.c — pure parsers for what a gateway sends the simulator (see
 * sim_proto.h).  Why a hand-written ack reader: at load-generator rates a
 * jansson document per ack frame costs as much as the rest of the loop;
 * anything not of the exact shape is declined and goes to jansson, so the
 * fast path only has to be right on what it accepts (fuzz_sim_proto checks
 * it against jansson).  Any thread; no state.
 */
#include "sim_proto.h"

#include "cn_err.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Find "\r\nName:" (case-insensitive) in a head; its trimmed value. */
static int sim__header(const char *head, size_t len, const char *name, const char **v, size_t *vlen)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + 2 + nl < len; i++) {
        if (head[i] != '\r' || head[i + 1] != '\n' || strncasecmp(head + i + 2, name, nl) ||
            head[i + 2 + nl] != ':')
            continue;
        size_t a = i + 3 + nl;
        while (a < len && (head[a] == ' ' || head[a] == '\t'))
            a++;
        size_t b = a;
        while (b < len && head[b] != '\r')
            b++;
        while (b > a && (head[b - 1] == ' ' || head[b - 1] == '\t'))
            b--;
        *v = head + a;
        *vlen = b - a;
        return 0;
    }
    return -1;
}

int sim_parse_head(const char *buf, size_t len, const char *accept, int *status, size_t *head_len)
{
    *status = 0;
    const char *end = memmem(buf, len > SIM_MAX_HEAD ? SIM_MAX_HEAD : len, "\r\n\r\n", 4);
    if (!end)
        return len >= SIM_MAX_HEAD ? WS_EHANDSHAKE : CN_WANT_MORE;
    size_t hl = (size_t)(end - buf) + 4;
    /* "HTTP/1.1 NNN": exactly three digits. */
    if (hl < 16 || memcmp(buf, "HTTP/1.1 ", 9) != 0 || buf[9] < '1' || buf[9] > '5' ||
        buf[10] < '0' || buf[10] > '9' || buf[11] < '0' || buf[11] > '9' ||
        (buf[12] != ' ' && buf[12] != '\r'))
        return WS_EHANDSHAKE;
    *status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (*status != 101)
        return WS_EHANDSHAKE;
    const char *v;
    size_t vl, al = strlen(accept);
    if (sim__header(buf, hl, "Sec-WebSocket-Accept", &v, &vl) || vl != al || memcmp(v, accept, al))
        return WS_EHANDSHAKE;
    *head_len = hl;
    return 0;
}

/* Walk the id list; with id == NULL only validate. */
static int sim__acks_walk(const char *m, size_t n, void (*id)(void *ud, const char *p, size_t len),
                          void *ud)
{
    static const char pre[] = "{\"ack\":[";
    size_t i = sizeof(pre) - 1;
    if (n < i + 2 || memcmp(m, pre, i) || m[n - 1] != '}' || m[n - 2] != ']')
        return CN_DECLINED;
    size_t end = n - 2;
    while (i < end) {
        if (m[i] != '"')
            return CN_DECLINED;
        size_t a = i + 1, b = a;
        while (b < end && m[b] != '"') {
            /* escapes and control bytes are jansson's business */
            if (m[b] == '\\' || (unsigned char)m[b] < 0x20)
                return CN_DECLINED;
            b++;
        }
        if (b >= end)
            return CN_DECLINED;
        if (id)
            id(ud, m + a, b - a);
        i = b + 1;
        if (i < end) {
            if (m[i] != ',' || i + 1 >= end)
                return CN_DECLINED;
            i++;
        }
    }
    return 0;
}

int sim_parse_acks(const char *m, size_t n, void (*id)(void *ud, const char *p, size_t len),
                   void *ud)
{
    int rc = sim__acks_walk(m, n, NULL, NULL);
    return rc ? rc : sim__acks_walk(m, n, id, ud);
}
