/* SPDX-License-Identifier: MIT */
/*
 * bench_tls_mem.c — heap bytes a server holds per idle TLS connection, the
 * two ways the gateway could carry TLS (run by `scripts/bench tls_mem`; one
 * JSON object per line; counts bytes, measures no time, so it may run on a
 * busy machine):
 *   - openssl_direct: what the gateway does (gateway/gw_tls.c): an SSL on
 *     the socket, with the context settings of gw_tls.c (RELEASE_BUFFERS,
 *     no session cache, one TLS 1.3 ticket), after the handshake, one
 *     request read and one answer written;
 *   - bufferevent_openssl: the same SSL wrapped in libevent's OpenSSL
 *     bufferevent (BUFFEREVENT_SSL_OPEN, reading enabled), which adds the
 *     bufferevent, its two evbuffers and its events;
 *   - a stalled handshake: a client that sent 10 bytes of its ClientHello
 *     and nothing more, what the server holds until the deadline.
 * Every OpenSSL and libevent allocation goes through counting hooks
 * (CRYPTO_set_mem_functions, event_set_mem_functions) that know whether
 * the server or the client side is running, so client-side bytes are not
 * counted.  --conns N connections (default 1,000) over socketpairs, a P-256
 * certificate made at start.  The gateway's own slot (gw_conn, 464 bytes)
 * and its 8-byte SSL pointer per slot come on top of openssl_direct.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- counting allocator: a 16-byte header holds the size and the side ---- */

static int side;          /* 1 while server-side code runs */
static long long live[2]; /* live bytes per side */
typedef struct {
    size_t n;
    int side;
    int pad;
} hdr;

static void *cnt_malloc(size_t n)
{
    hdr *h = malloc(sizeof(hdr) + n);
    if (!h)
        return NULL;
    h->n = n;
    h->side = side;
    live[side] += (long long)n;
    return h + 1;
}

static void cnt_free(void *p)
{
    if (!p)
        return;
    hdr *h = (hdr *)p - 1;
    live[h->side] -= (long long)h->n;
    free(h);
}

static void *cnt_realloc(void *p, size_t n)
{
    if (!p)
        return cnt_malloc(n);
    hdr *h = (hdr *)p - 1;
    size_t old = h->n;
    int s = h->side;
    hdr *nh = realloc(h, sizeof(hdr) + n);
    if (!nh)
        return NULL;
    live[s] += (long long)n - (long long)old;
    nh->n = n;
    return nh + 1;
}

static void *ossl_malloc(size_t n, const char *f, int l)
{
    (void)f;
    (void)l;
    return cnt_malloc(n);
}
static void *ossl_realloc(void *p, size_t n, const char *f, int l)
{
    (void)f;
    (void)l;
    return cnt_realloc(p, n);
}
static void ossl_free(void *p, const char *f, int l)
{
    (void)f;
    (void)l;
    cnt_free(p);
}

/* ---- a certificate for the server ---------------------------------------- */

static SSL_CTX *server_ctx(void)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, pk);
    X509_NAME *nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, nm);
    X509_sign(x, pk, EVP_sha256());
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    /* as gateway/gw_tls.c */
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 1);
    if (SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, pk) != 1) {
        fprintf(stderr, "bench_tls_mem: certificate setup failed\n");
        exit(1);
    }
    X509_free(x);
    EVP_PKEY_free(pk);
    return ctx;
}

/* ---- one connection: handshake, a request read, an answer written --------- */

typedef struct pair {
    int sfd, cfd;
    SSL *srv, *cli;
    struct bufferevent *bev;
} pair;

static int step(SSL *s, int r)
{
    int e = SSL_get_error(s, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

static int pair_open(pair *p, SSL_CTX *sctx, SSL_CTX *cctx)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv))
        return -1;
    p->sfd = sv[0];
    p->cfd = sv[1];
    side = 1;
    p->srv = SSL_new(sctx);
    SSL_set_fd(p->srv, p->sfd);
    SSL_set_accept_state(p->srv);
    side = 0;
    p->cli = SSL_new(cctx);
    SSL_set_fd(p->cli, p->cfd);
    SSL_set_connect_state(p->cli);
    int sdone = 0, cdone = 0;
    for (int i = 0; i < 100 && !(sdone && cdone); i++) {
        side = 0;
        int r = SSL_do_handshake(p->cli);
        if (r == 1)
            cdone = 1;
        else if (step(p->cli, r))
            return -1;
        side = 1;
        r = SSL_do_handshake(p->srv);
        if (r == 1)
            sdone = 1;
        else if (step(p->srv, r))
            return -1;
    }
    if (!sdone || !cdone)
        return -1;
    /* a request one way, an answer the other (as an upgrade does); the
     * client reads the server's ticket with the answer */
    static const char req[300] = "GET /ws HTTP/1.1\r\n";
    char buf[1024];
    side = 0;
    SSL_write(p->cli, req, sizeof(req));
    side = 1;
    if (SSL_read(p->srv, buf, sizeof(buf)) <= 0)
        return -1;
    SSL_write(p->srv, buf, 129);
    int r = SSL_read(p->srv, buf, sizeof(buf)); /* nothing more: WANT_READ, as an idle read */
    (void)r;
    ERR_clear_error();
    side = 0;
    if (SSL_read(p->cli, buf, sizeof(buf)) <= 0)
        return -1;
    return 0;
}

/* A client that sent the first bytes of its ClientHello and stalled: what
 * the server holds for it until the handshake deadline. */
static int stalled_open(pair *p, SSL_CTX *sctx, const unsigned char *hello, size_t n)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv))
        return -1;
    p->sfd = sv[0];
    p->cfd = sv[1];
    if (write(p->cfd, hello, n) != (ssize_t)n)
        return -1;
    side = 1;
    p->srv = SSL_new(sctx);
    SSL_set_fd(p->srv, p->sfd);
    SSL_set_accept_state(p->srv);
    int r = SSL_do_handshake(p->srv);
    int bad = step(p->srv, r);
    side = 0;
    return bad;
}

/* The first flight of a client, as bytes. */
static size_t client_hello(SSL_CTX *cctx, unsigned char *out, size_t cap)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv))
        return 0;
    SSL *c = SSL_new(cctx);
    SSL_set_fd(c, sv[1]);
    SSL_set_connect_state(c);
    SSL_do_handshake(c);
    ssize_t n = read(sv[0], out, cap);
    SSL_free(c);
    close(sv[0]);
    close(sv[1]);
    ERR_clear_error();
    return n > 0 ? (size_t)n : 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_tls_mem [--conns N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int n = 1000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--conns") == 0 && i + 1 < argc)
            n = atoi(argv[++i]);
        else
            usage();
    }
    if (n < 1 || n > 4000) /* four descriptors each */
        usage();
    if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free)) {
        fprintf(stderr, "bench_tls_mem: cannot install OpenSSL allocation hooks\n");
        return 1;
    }
    event_set_mem_functions(cnt_malloc, cnt_realloc, cnt_free);
    struct event_base *base = event_base_new();
    side = 1;
    SSL_CTX *sctx = server_ctx();
    side = 0;
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    pair *ps = calloc((size_t)n, sizeof(*ps));
    if (!ps || !base || !sctx || !cctx)
        return 1;
    long long before = live[1];
    for (int i = 0; i < n; i++)
        if (pair_open(&ps[i], sctx, cctx)) {
            fprintf(stderr, "bench_tls_mem: handshake %d failed\n", i);
            return 1;
        }
    long long direct = live[1] - before;
    side = 1;
    for (int i = 0; i < n; i++) {
        ps[i].bev =
            bufferevent_openssl_socket_new(base, ps[i].sfd, ps[i].srv, BUFFEREVENT_SSL_OPEN, 0);
        bufferevent_enable(ps[i].bev, EV_READ);
    }
    event_base_loop(base, EVLOOP_NONBLOCK);
    long long bev = live[1] - before;
    side = 0;
    printf("{\"bench\":\"tls_mem\",\"figure\":\"server_heap_bytes_per_idle_tls_connection\","
           "\"way\":\"openssl_direct\",\"value\":%.0f,\"connections\":%d,\"protocol\":\"%s\"}\n",
           (double)direct / n, n, SSL_get_version(ps[0].srv));
    printf("{\"bench\":\"tls_mem\",\"figure\":\"server_heap_bytes_per_idle_tls_connection\","
           "\"way\":\"bufferevent_openssl\",\"value\":%.0f,\"connections\":%d,"
           "\"note\":\"the same SSL plus the bufferevent\"}\n",
           (double)bev / n, n);
    /* stalled handshakes: 10 bytes of a ClientHello, then nothing */
    unsigned char hello[4096];
    size_t hl = client_hello(cctx, hello, sizeof(hello));
    pair *st = calloc((size_t)n, sizeof(*st));
    if (hl < 10 || !st)
        return 1;
    long long before_st = live[1];
    for (int i = 0; i < n; i++)
        if (stalled_open(&st[i], sctx, hello, 10)) {
            fprintf(stderr, "bench_tls_mem: stalled handshake %d did not wait\n", i);
            return 1;
        }
    printf("{\"bench\":\"tls_mem\",\"figure\":\"server_heap_bytes_per_stalled_tls_handshake\","
           "\"value\":%.0f,\"connections\":%d,"
           "\"note\":\"10 bytes of a ClientHello read, held until the handshake deadline\"}\n",
           (double)(live[1] - before_st) / n, n);
    for (int i = 0; i < n; i++) {
        side = 1;
        SSL_free(st[i].srv);
        side = 0;
        close(st[i].sfd);
        close(st[i].cfd);
    }
    free(st);
    for (int i = 0; i < n; i++) {
        side = 1;
        bufferevent_free(ps[i].bev); /* without CLOSE_ON_FREE: the SSL stays ours */
        SSL_free(ps[i].srv);
        side = 0;
        SSL_free(ps[i].cli);
        close(ps[i].sfd);
        close(ps[i].cfd);
    }
    free(ps);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    event_base_free(base);
    return 0;
}
