/* SPDX-License-Identifier: MIT */
/*
 * gw_tls.c — wss:// on the gateway's own listener, with OpenSSL driven
 * directly on the connection's socket (no bufferevent): the server's
 * SSL_CTX (certificate chain + key from PEM files, TLS 1.2 and 1.3, no
 * renegotiation, no server-side session cache: TLS 1.3 tickets are
 * stateless), its reload on SIGHUP, and per connection the non-blocking
 * handshake, reads, writes and close_notify that gw_conn.c calls in place
 * of read(2)/write(2).
 *
 * Why OpenSSL directly and not libevent's OpenSSL bufferevents: a gateway
 * connection is one `struct event` on a raw descriptor with its own small
 * output buffer (gw_conn.c); a bufferevent would add two evbuffers, a
 * second set of events and callbacks per connection and a second I/O path
 * to maintain.  Both ways were measured (docs/architecture.md, "Memory per
 * connection"): the SSL object dominates either way.
 *
 * Guarantees: a plain listener (no --tls-cert) allocates nothing here and
 * its connections never reach this file; a TLS connection gets its SSL
 * object only when its first bytes arrive (a TCP connection that never
 * speaks costs no TLS memory), in a side table indexed by slot, so gw_conn
 * keeps its size; at most max_tls_handshakes connections hold an SSL in
 * the middle of a handshake (the next is closed at its first bytes, counted
 * as shed); SSL_MODE_RELEASE_BUFFERS returns OpenSSL's 16 KiB+ record
 * buffers whenever a connection is idle; every call is non-blocking (the
 * handshake runs one step per readiness event, bounded by the connection's
 * handshake deadline); a reload swaps the SSL_CTX for new connections only
 * (each SSL holds a reference to the context it started with, so open
 * connections keep working), and a reload that fails keeps the old one.
 * Loop thread only.  The server owns the context and the SSL objects.
 */
#include "gw_server_int.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_log.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The first OpenSSL error on the queue as text (then the queue is clear). */
static void tls_errstr(char *err, size_t cap, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char buf[256] = "no detail";
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(err, cap, "%s: %s", what, buf);
    ERR_clear_error();
}

static int tls_ctx_new(const char *cert, const char *key, SSL_CTX **out, char *err, size_t cap)
{
    *out = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        tls_errstr(err, cap, "cannot create a TLS context");
        return CN_ENOMEM;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
    /* RELEASE_BUFFERS: an idle connection holds no record buffers.
     * PARTIAL_WRITE + MOVING_WRITE_BUFFER: gw_conn.c retries a write from
     * its output buffer, which may have been compacted or grown since. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Phones reconnect after every idle close: a stateless ticket lets
     * them resume without a full handshake, and the server keeps nothing
     * per session (one ticket is enough: a phone holds one connection). */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 1);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        char what[600];
        snprintf(what, sizeof(what), "cannot load the certificate chain %s", cert);
        tls_errstr(err, cap, what);
        SSL_CTX_free(ctx);
        return CN_EINVAL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        char what[600];
        snprintf(what, sizeof(what), "cannot use the private key %s with %s", key, cert);
        tls_errstr(err, cap, what);
        SSL_CTX_free(ctx);
        return CN_EINVAL;
    }
    *out = ctx;
    return 0;
}

int gw_tls_check(const char *cert, const char *key, char *err, size_t cap)
{
    SSL_CTX *ctx;
    int rc = tls_ctx_new(cert, key, &ctx, err, cap);
    SSL_CTX_free(ctx);
    return rc;
}

int gw__tls_init(gw_server *s, char *err, size_t cap)
{
    int rc = tls_ctx_new(s->o.tls_cert, s->o.tls_key, &s->tls_ctx, err, cap);
    if (rc)
        return rc;
    s->ssl = cn_calloc(s->nconns, sizeof(*s->ssl));
    return s->ssl ? 0 : CN_ENOMEM;
}

void gw__tls_fini(gw_server *s)
{
    cn_free(s->ssl);
    s->ssl = NULL;
    SSL_CTX_free(s->tls_ctx);
    s->tls_ctx = NULL;
}

int gw_server_tls_reload(gw_server *s, char *err, size_t cap)
{
    if (!s->tls_ctx) {
        snprintf(err, cap, "no --tls-cert: nothing to reload");
        return CN_EINVAL;
    }
    SSL_CTX *ctx;
    int rc = tls_ctx_new(s->o.tls_cert, s->o.tls_key, &ctx, err, cap);
    if (rc) {
        s->m.tls_reloads_failed++;
        return rc;
    }
    SSL_CTX_free(s->tls_ctx); /* open connections hold their own reference */
    s->tls_ctx = ctx;
    s->m.tls_reloads_ok++;
    return 0;
}

static SSL **tls_slot(gw_server *s, gw_conn *c)
{
    return &s->ssl[c - s->conns];
}

void gw__tls_free(gw_server *s, gw_conn *c)
{
    SSL **p = tls_slot(s, c);
    if (*p && c->state == GW_ST_TLS)
        s->tls_hs--; /* ended in the middle of its handshake */
    SSL_free(*p);
    *p = NULL;
}

/* A client that spoke plain HTTP to the TLS port gets one plain answer
 * saying so (as nginx does), instead of a TLS alert it cannot read. */
static void tls_plain_http_answer(int fd)
{
    static const char r400[] =
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 52\r\n"
        "Connection: close\r\n\r\nthis port speaks TLS: use https:// and wss:// here\r\n";
    ssize_t w = write(fd, r400, sizeof(r400) - 1);
    (void)w;
}

int gw__tls_handshake(gw_server *s, gw_conn *c)
{
    SSL **p = tls_slot(s, c);
    if (!*p) {
        if (s->o.max_tls_handshakes && s->tls_hs >= s->o.max_tls_handshakes) {
            s->m.tls_shed++;
            return CN_EOVERLOAD;
        }
        SSL *ssl = SSL_new(s->tls_ctx);
        if (!ssl || SSL_set_fd(ssl, c->fd) != 1) {
            SSL_free(ssl);
            ERR_clear_error();
            return CN_ENOMEM;
        }
        SSL_set_accept_state(ssl);
        *p = ssl;
        s->tls_hs++;
    }
    int r = SSL_do_handshake(*p);
    if (r == 1) {
        s->m.tls_handshakes_ok++;
        s->tls_hs--;
        return 0;
    }
    int e = SSL_get_error(*p, r);
    if (e == SSL_ERROR_WANT_READ)
        return CN_WANT_MORE;
    if (e == SSL_ERROR_WANT_WRITE) {
        c->flags |= GW_CF_TLS_WANT_W;
        return CN_WANT_MORE;
    }
    unsigned long why = ERR_peek_error();
    if (ERR_GET_LIB(why) == ERR_LIB_SSL && (ERR_GET_REASON(why) == SSL_R_HTTP_REQUEST ||
                                            ERR_GET_REASON(why) == SSL_R_HTTPS_PROXY_REQUEST)) {
        s->m.tls_plain_http++;
        tls_plain_http_answer(c->fd);
    } else {
        s->m.tls_handshakes_failed++;
        if (cn_log_enabled(CN_LOG_DEBUG)) {
            char msg[300];
            tls_errstr(msg, sizeof(msg), "handshake failed");
            cn_log_debug("gw", "tls %s", msg);
        }
    }
    ERR_clear_error();
    return CN_EPROTO;
}

/* SSL_read/SSL_write results as read(2)/write(2) would give them: >0
 * bytes, 0 end of stream (reads), -1 with errno (EAGAIN: wait). */
static ssize_t tls_result(gw_conn *c, SSL *ssl, int r, int writing)
{
    if (r > 0)
        return r;
    int e = SSL_get_error(ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        /* A read that must send first (a TLS 1.3 KeyUpdate answer, a
         * ticket still queued) waits for writability, not readability. */
        if (!writing)
            c->flags |= GW_CF_TLS_WANT_W;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN: /* close_notify */
        return 0;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (!writing && errno == 0)
            return 0; /* EOF without close_notify: the same to us */
        if (errno == 0)
            errno = EPIPE;
        return -1;
    default:
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
}

ssize_t gw__tls_read(gw_server *s, gw_conn *c, void *p, size_t n)
{
    SSL *ssl = *tls_slot(s, c);
    errno = 0;
    int r = SSL_read(ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
    return tls_result(c, ssl, r, 0);
}

ssize_t gw__tls_write(gw_server *s, gw_conn *c, const void *p, size_t n)
{
    SSL *ssl = *tls_slot(s, c);
    errno = 0;
    int r = SSL_write(ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
    return tls_result(c, ssl, r, 1);
}

void gw__tls_close_notify(gw_server *s, gw_conn *c)
{
    SSL *ssl = *tls_slot(s, c);
    if (!ssl || !SSL_is_init_finished(ssl))
        return;
    /* Best effort and non-blocking: the output buffer is empty when this
     * runs, so the 24-byte alert fits the socket buffer. */
    if (SSL_shutdown(ssl) < 0)
        ERR_clear_error();
}
