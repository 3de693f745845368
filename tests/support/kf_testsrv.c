/* SPDX-License-Identifier: MIT */
/*
 * kf_testsrv.c — the in-process Kafka server fixture for tests (see
 * kf_testsrv.h).  The test's thread calls every function; the server runs
 * on the loop thread kft_start creates and kft_stop joins.  Test-only code.
 */
#include "kf_testsrv.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cn_buf.h"
#include "cn_bytes.h"
#include "cn_err.h"
#include "kf_frame.h"

#define KFT_CHECK(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: kf_testsrv: %s failed\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void *loop_main(void *ud)
{
    kft_srv *s = ud;
    event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

void kft_start(kft_srv *s, const lg_opts *lo, const kf_server_opts *ko, int recv_timeout_s)
{
    lg_opts o;
    if (lo)
        o = *lo;
    else
        lg_opts_init(&o);
    o.dir = s->dir;
    KFT_CHECK(lg_open(&s->log, &o) == 0);
    evthread_use_pthreads();
    s->base = event_base_new();
    KFT_CHECK(s->base != NULL);
    kf_server_opts dflt;
    if (!ko) {
        kf_server_opts_init(&dflt);
        dflt.listen = "127.0.0.1:0";
        ko = &dflt;
    }
    KFT_CHECK(kf_server_new(&s->srv, s->base, s->log, ko) == 0);
    KFT_CHECK(pthread_create(&s->loop, NULL, loop_main, s) == 0);
    s->fd = kft_connect(kf_server_port(s->srv), recv_timeout_s);
}

void kft_stop(kft_srv *s)
{
    close(s->fd);
    s->fd = -1;
    event_base_loopexit(s->base, NULL);
    pthread_join(s->loop, NULL);
    kf_server_free(s->srv);
    s->srv = NULL;
    event_base_free(s->base);
    s->base = NULL;
    lg_close(s->log);
    s->log = NULL;
}

int kft_connect(int port, int recv_timeout_s)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    KFT_CHECK(fd >= 0);
    struct sockaddr_in sin = {0};
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    KFT_CHECK(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
    struct timeval tv = {recv_timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

void kft_recv_exact(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, (char *)buf + got, n - got, 0);
        KFT_CHECK(r > 0);
        got += (size_t)r;
    }
}

void *kft_rpc(kft_srv *s, int16_t key, int16_t ver, const void *body)
{
    cn_buf out = CN_BUF_INIT;
    int32_t corr = ++s->corr;
    KFT_CHECK(kf_request_encode(&out, key, ver, corr, "unit", body) == 0);
    KFT_CHECK(send(s->fd, out.data, out.len, 0) == (ssize_t)out.len);
    cn_buf_free(&out);
    unsigned char szb[4];
    kft_recv_exact(s->fd, szb, 4);
    size_t n = cn_rd_be32(szb);
    KFT_CHECK(n >= 4);
    unsigned char *p = malloc(n);
    KFT_CHECK(p != NULL);
    kft_recv_exact(s->fd, p, n);
    KFT_CHECK((int32_t)cn_rd_be32(p) == corr);
    size_t off = 4;
    if (kf_resp_hdr_version(key, ver) >= 1) {
        KFT_CHECK(n >= 5 && p[4] == 0); /* no header tags */
        off = 5;
    }
    /* The body must outlive this call: keep a copy in the arena. */
    unsigned char *keep = kf_arena_alloc(s->a, n - off + 1);
    KFT_CHECK(keep != NULL);
    memcpy(keep, p + off, n - off);
    free(p);
    void *resp = NULL;
    int rc = kf_decode_response(key, ver, keep, n - off, s->a, &resp);
    if (rc)
        fprintf(stderr, "kf_testsrv: decode api %d v%d: %s\n", key, ver, cn_errname(rc));
    KFT_CHECK(rc == 0);
    return resp;
}
