/* SPDX-License-Identifier: MIT */
/*
 * rp_tls.c — mutual TLS between cluster nodes (--cluster-tls-cert,
 * --cluster-tls-key, --cluster-tls-ca): one OpenSSL context per node, used
 * for both the connections it dials and those it accepts.  Each side
 * presents its certificate chain and must verify the other's against the
 * cluster's CA, so a node without a certificate that CA signed cannot
 * complete a connection, let alone a HELLO.  TLS 1.2 or later, no
 * renegotiation.  The context is made at start and freed at exit on the
 * main thread; rp_net creates an SSL per connection from it on the loop
 * thread.
 */
#include "rp.h"

#include "cn_err.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>

/* The first error OpenSSL queued, or a fallback, into err. */
static void rp_tls_err(char *err, size_t errlen, const char *what, const char *file)
{
    unsigned long e = ERR_get_error();
    char ssl[256] = "";
    if (e)
        ERR_error_string_n(e, ssl, sizeof(ssl));
    snprintf(err, errlen, "%s%s%s%s%s", what, file ? " " : "", file ? file : "", e ? ": " : "",
             ssl);
    ERR_clear_error();
}

int rp_tls_ctx_new(struct ssl_ctx_st **out, const char *cert, const char *key, const char *ca,
                   char *err, size_t errlen)
{
    *out = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        rp_tls_err(err, errlen, "cannot create a TLS context", NULL);
    } else if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        rp_tls_err(err, errlen, "cannot load the certificate chain", cert);
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        rp_tls_err(err, errlen, "cannot load the private key", key);
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        rp_tls_err(err, errlen, "the private key does not match the certificate", key);
    } else if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
        rp_tls_err(err, errlen, "cannot load the CA certificate", ca);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
        *out = ctx;
        return 0;
    }
    SSL_CTX_free(ctx);
    return CN_EINVAL;
}

void rp_tls_ctx_free(struct ssl_ctx_st *ctx)
{
    SSL_CTX_free(ctx);
}
