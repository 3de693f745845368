/* SPDX-License-Identifier: MIT */
/*
 * kf_client.c — blocking request/reply over one TCP connection with the
 * generated codec (see kf_client.h).
 *
 * Guarantees: replies are bounded (a size prefix over KF_CLIENT_MAX_REPLY
 * or below the header is refused) and must carry the correlation id sent;
 * socket timeouts bound every wait.  Threads: one owner.  The client owns
 * its socket; replies live in the caller's arena.
 */
#include "kf_client.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_err.h"
#include "kf_frame.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Inspection replies (metadata, groups, offsets) are small; this bounds
 * what a confused or hostile peer can make a tool allocate. */
#define KF_CLIENT_MAX_REPLY (64u << 20)

struct kf_client {
    int fd;
    int32_t corr;
};

int kf_client_connect(kf_client **out, const char *hostport, int timeout_ms)
{
    *out = NULL;
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || !colon[1] || (size_t)(colon - hostport) >= 256)
        return CN_EINVAL;
    char host[256];
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = 0;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
        return CN_EINVAL;
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        errno = err;
        return CN_ESYS;
    }
    kf_client *c = cn_calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return CN_ENOMEM;
    }
    c->fd = fd;
    *out = c;
    return 0;
}

static int kf_client_io(int fd, void *buf, size_t n, int writing)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = writing ? send(fd, (char *)buf + done, n - done, MSG_NOSIGNAL)
                            : recv(fd, (char *)buf + done, n - done, 0);
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return CN_ETIMEDOUT;
        return CN_EIO;
    }
    return 0;
}

int kf_client_call(kf_client *c, int16_t api_key, int16_t version, const void *req, kf_arena *a,
                   void **resp)
{
    cn_buf out = CN_BUF_INIT;
    int32_t corr = ++c->corr;
    int rc = kf_request_encode(&out, api_key, version, corr, "cairn-log", req);
    if (rc == 0)
        rc = kf_client_io(c->fd, out.data, out.len, 1);
    cn_buf_free(&out);
    if (rc)
        return rc;
    unsigned char szb[4];
    rc = kf_client_io(c->fd, szb, 4, 0);
    if (rc)
        return rc;
    uint32_t n = cn_rd_be32(szb);
    if (n < 4 || n > KF_CLIENT_MAX_REPLY)
        return KF_EFRAME;
    unsigned char *p = kf_arena_alloc(a, n);
    if (!p)
        return kf_arena_error(a);
    rc = kf_client_io(c->fd, p, n, 0);
    if (rc)
        return rc;
    if ((int32_t)cn_rd_be32(p) != corr)
        return KF_EFRAME;
    size_t off = 4;
    if (kf_resp_hdr_version(api_key, version) >= 1) {
        kf_rd r;
        kf_rd_init(&r, p + 4, n - 4, a);
        uint32_t nt = kf_rd_uvarint32(&r);
        for (uint32_t i = 0; i < nt && !r.err; i++) {
            kf_rd sub;
            (void)kf_rd_uvarint32(&r);
            if (kf_rd_sub(&r, kf_rd_uvarint32(&r), &sub))
                break;
        }
        if (r.err)
            return KF_EFRAME;
        off += r.off;
    }
    return kf_decode_response(api_key, version, p + off, n - off, a, resp);
}

void kf_client_close(kf_client *c)
{
    if (!c)
        return;
    close(c->fd);
    cn_free(c);
}
