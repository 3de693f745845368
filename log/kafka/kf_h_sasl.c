/* SPDX-License-Identifier: MIT */
/*
 * kf_h_sasl.c — SASL on the Kafka listener (--sasl-users): SaslHandshake
 * (v0-1), SaslAuthenticate (v0-2), the raw-token exchange that follows a v0
 * handshake (what kafka-python 2.0.2 speaks: 4-byte length and the token,
 * no request header), and the gate: with users configured, a connection
 * may send only ApiVersions and the SASL requests until it has
 * authenticated; anything else closes it, as Kafka does.  A failed
 * authentication is answered (SASL_AUTHENTICATION_FAILED with the reason
 * on v1; nothing on v0) and the connection is closed.  The mechanisms are
 * in kf_sasl.c.  Threads: loop only.  The session is the connection's.
 */
#include "kf_server_int.h"

#include "cn_alloc.h"
#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_log.h"
#include "kf_errors.h"
#include "kf_sasl.h"

#include <event2/buffer.h>
#include <sodium.h>
#include <event2/bufferevent.h>
#include <string.h>

int kf__sasl_gate(kf_conn *c)
{
    if (!c->s->o.sasl_users || c->sasl_authed)
        return 0;
    int16_t k = c->req.hdr.api_key;
    if (k == KF_API_APIVERSIONS || k == KF_API_SASLHANDSHAKE || k == KF_API_SASLAUTHENTICATE)
        return 0;
    cn_log_info("kf", "client %s sent %s before authenticating; closing the connection", c->peer,
                c->req.api ? c->req.api->name : "a request");
    return CN_EAUTH;
}

void kf__sasl_conn_free(kf_conn *c)
{
    if (c->sasl) {
        sodium_memzero(c->sasl, sizeof(*c->sasl));
        cn_free(c->sasl);
        c->sasl = NULL;
    }
}

static void kf_sasl_done(kf_conn *c, int rc)
{
    if (rc == KF_SASL_OK) {
        c->sasl_authed = 1;
        cn_log_info("kf", "client %s authenticated as %s (%s)", c->peer, c->sasl->name,
                    kf_sasl_mech_name(c->sasl->mech));
    } else if (rc < 0) {
        cn_log_warn("kf", "client %s failed to authenticate as '%s' with %s: %s", c->peer,
                    c->sasl->name, kf_sasl_mech_name(c->sasl->mech), c->sasl->fail);
    }
}

int kf_h_sasl_handshake(kf_conn *c)
{
    const kf_SaslHandshakeRequest *q = c->req.body;
    kf_SaslHandshakeResponse r;
    memset(&r, 0, sizeof(r));
    kf_str *names = kf_arena_alloc(c->arena, KF_SASL_NMECH * sizeof(kf_str));
    if (!names)
        return CN_ENOMEM;
    int n = c->s->o.sasl_users ? KF_SASL_NMECH : 0;
    for (int i = 0; i < n; i++)
        names[i] = (kf_str){kf_sasl_mech_name(i), (int32_t)strlen(kf_sasl_mech_name(i))};
    r.Mechanisms.v = names;
    r.Mechanisms.n = n;
    int mech = q->Mechanism.len > 0 ? kf_sasl_mech(q->Mechanism.s, (size_t)q->Mechanism.len) : -1;
    if (c->sasl || c->sasl_authed)
        r.ErrorCode = KF_ERR_ILLEGAL_SASL_STATE;
    else if (!n || mech < 0)
        r.ErrorCode = KF_ERR_UNSUPPORTED_SASL_MECHANISM;
    if (r.ErrorCode) {
        cn_log_info("kf", "client %s: SASL handshake for '%.*s' refused (%s)", c->peer,
                    q->Mechanism.len > 0 ? (int)q->Mechanism.len : 0,
                    q->Mechanism.len > 0 ? q->Mechanism.s : "",
                    !n ? "this listener has no --sasl-users" : "unsupported mechanism or state");
        c->closing = 1;
        return kf__reply(c, &r, NULL, 0);
    }
    c->sasl = cn_malloc(sizeof(*c->sasl));
    if (!c->sasl)
        return CN_ENOMEM;
    kf_sasl_sess_init(c->sasl, c->s->o.sasl_users, mech);
    c->sasl_raw = c->req.hdr.api_version == 0;
    return kf__reply(c, &r, NULL, 0);
}

int kf_h_sasl_authenticate(kf_conn *c)
{
    const kf_SaslAuthenticateRequest *q = c->req.body;
    kf_SaslAuthenticateResponse r;
    memset(&r, 0, sizeof(r));
    r.ErrorMessage = (kf_str){NULL, -1};
    r.AuthBytes = (kf_bytes){(const unsigned char *)"", 0};
    if (!c->sasl || c->sasl_raw || c->sasl_authed) {
        r.ErrorCode = KF_ERR_ILLEGAL_SASL_STATE;
        r.ErrorMessage = (kf_str){"SaslAuthenticate without a v1 SaslHandshake", 43};
        c->closing = 1;
        return kf__reply(c, &r, NULL, 0);
    }
    unsigned char *out = kf_arena_alloc(c->arena, 512);
    if (!out)
        return CN_ENOMEM;
    size_t outlen = 0;
    int rc =
        kf_sasl_step(c->sasl, q->AuthBytes.len > 0 ? q->AuthBytes.ptr : (const unsigned char *)"",
                     q->AuthBytes.len > 0 ? (size_t)q->AuthBytes.len : 0, out, 512, &outlen);
    kf_sasl_done(c, rc);
    if (rc < 0) {
        r.ErrorCode = KF_ERR_SASL_AUTHENTICATION_FAILED;
        r.ErrorMessage = (kf_str){"Authentication failed: invalid user name or password", 52};
        c->closing = 1;
    } else {
        r.AuthBytes = (kf_bytes){out, (int32_t)outlen};
    }
    return kf__reply(c, &r, NULL, 0);
}

int kf__sasl_raw(kf_conn *c)
{
    unsigned char out[516];
    size_t outlen = 0;
    int rc = kf_sasl_step(c->sasl, c->frame.data, c->frame.len, out + 4, sizeof(out) - 4, &outlen);
    kf_sasl_done(c, rc);
    if (rc < 0)
        return CN_EAUTH; /* v0: the broker just closes */
    cn_wr_be32(out, (uint32_t)outlen);
    if (bufferevent_write(c->bev, out, outlen + 4))
        return CN_ENOMEM;
    if (rc == KF_SASL_OK)
        c->sasl_raw = 0; /* Kafka requests follow */
    return KF_DONE;
}
