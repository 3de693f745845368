/* SPDX-License-Identifier: MIT */
/*
 * kf_tls.c — TLS on the Kafka listener (--kafka-tls-cert/--kafka-tls-key):
 * the server context (a PEM chain and its key, TLS 1.2 and 1.3) and the
 * accepting bufferevent each connection then uses (libevent's OpenSSL
 * bufferevent: the handshake runs inside it, non-blocking, and the request
 * path above is unchanged).  kf_server_tls_reload swaps in a context
 * loaded again from the files (SIGHUP) for new connections.  Fetch replies that splice segment
 * files are read into memory for encryption instead of sent with sendfile.  Loop thread, except
 * kf_tls_ctx_new/free (at start and exit).
 */
#include "kf_server_int.h"

#include "cn_err.h"

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>

int kf_tls_ctx_new(struct ssl_ctx_st **out, const char *cert, const char *key, char *err,
                   size_t errlen)
{
    *out = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    const char *what = "cannot create a TLS context";
    if (ctx && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1) {
        what = "cannot load the certificate chain";
        if (SSL_CTX_use_certificate_chain_file(ctx, cert) == 1) {
            what = "cannot load the private key";
            if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1) {
                what = "the private key does not match the certificate";
                if (SSL_CTX_check_private_key(ctx) == 1) {
                    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
                    *out = ctx;
                    return 0;
                }
            }
        }
    }
    char reason[200];
    ERR_error_string_n(ERR_get_error(), reason, sizeof(reason));
    snprintf(err, errlen, "%s (%s)", what, reason);
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return CN_EINVAL;
}

void kf_tls_ctx_free(struct ssl_ctx_st *ctx)
{
    SSL_CTX_free(ctx);
}

int kf_server_tls_reload(kf_server *s, const char *cert, const char *key, char *err, size_t errlen)
{
    if (!s->o.tls_ctx) {
        snprintf(err, errlen, "the Kafka listener has no TLS");
        return CN_EINVAL;
    }
    struct ssl_ctx_st *ctx = NULL;
    int rc = kf_tls_ctx_new(&ctx, cert, key, err, errlen);
    if (rc)
        return rc;
    /* Open connections hold a reference to the context they started with. */
    SSL_CTX_free(s->tls_own);
    s->tls_own = ctx;
    s->o.tls_ctx = ctx;
    return 0;
}

struct bufferevent *kf__tls_bev(struct event_base *base, int fd, struct ssl_ctx_st *ctx)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl)
        return NULL;
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        SSL_free(ssl);
        return NULL;
    }
    /* Kafka clients often close without a close_notify: not an error. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}
