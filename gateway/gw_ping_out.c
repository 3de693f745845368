/* SPDX-License-Identifier: MIT */
/*
 * gw_ping_out.c — the payloads the gateway sends back to players (protocol
 * v1): {"ack":[ids]} and {"error":code,"detail":...,"id":...} text
 * payloads (several errors of one message: {"errors":[those objects]}), and the protobuf
 * cairn.v1.Ack for binary clients.
 *
 * Guarantees: output is valid JSON (ids and details are escaped with
 * cn_json_str) and valid UTF-8 (ids are cn_id_valid, details ASCII);
 * on failure nothing is appended.  Payloads only: the caller wraps them in
 * WebSocket frames (ws_encode_frame).  Threads: any; out is the caller's.
 */
#include "gw_ping.h"

#include "cairn.pb-c.h"
#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_json.h"

#include <string.h>

int gw_ping_ack_json(cn_buf *out, const char *const *ids, size_t n)
{
    size_t before = out->len;
    int rc = cn_buf_append(out, "{\"ack\":[", 8);
    for (size_t i = 0; i < n && !rc; i++) {
        if (i)
            rc = cn_buf_append(out, ",", 1);
        if (!rc)
            rc = cn_json_str(out, ids[i], strlen(ids[i]));
    }
    if (!rc)
        rc = cn_buf_append(out, "]}", 2);
    if (rc)
        out->len = before;
    return rc;
}

int gw_ping_error_json(cn_buf *out, const gw_ping_error *e)
{
    size_t before = out->len;
    int rc = cn_buf_append(out, "{\"error\":", 9);
    if (!rc)
        rc = cn_json_str(out, e->code, strlen(e->code));
    if (!rc)
        rc = cn_buf_append(out, ",\"detail\":", 10);
    if (!rc)
        rc = cn_json_str(out, e->detail, strnlen(e->detail, sizeof(e->detail)));
    if (!rc && e->id[0]) {
        rc = cn_buf_append(out, ",\"id\":", 6);
        if (!rc)
            rc = cn_json_str(out, e->id, strnlen(e->id, sizeof(e->id)));
    }
    if (!rc)
        rc = cn_buf_append(out, "}", 1);
    if (rc)
        out->len = before;
    return rc;
}

int gw_ping_errors_json(cn_buf *out, const gw_ping_error *errs, size_t n)
{
    size_t before = out->len;
    int rc = cn_buf_append(out, "{\"errors\":[", 11);
    for (size_t i = 0; i < n && !rc; i++) {
        if (i)
            rc = cn_buf_append(out, ",", 1);
        if (!rc)
            rc = gw_ping_error_json(out, &errs[i]);
    }
    if (!rc)
        rc = cn_buf_append(out, "]}", 2);
    if (rc)
        out->len = before;
    return rc;
}

int gw_ping_ack_pb(cn_buf *out, const char *const *ids, size_t n, const gw_ping_error *errs,
                   size_t nerr)
{
    Cairn__V1__Ack ack = CAIRN__V1__ACK__INIT;
    Cairn__V1__PingError *pe = nerr ? cn_calloc(nerr, sizeof(*pe)) : NULL;
    Cairn__V1__PingError **pp = nerr ? cn_calloc(nerr, sizeof(*pp)) : NULL;
    int rc = CN_ENOMEM;
    if (nerr && (!pe || !pp))
        goto done;
    /* protobuf-c wants char * even for data it only reads. */
    ack.n_ids = n;
    ack.ids = (char **)(uintptr_t)ids;
    for (size_t i = 0; i < nerr; i++) {
        Cairn__V1__PingError init = CAIRN__V1__PING_ERROR__INIT;
        pe[i] = init;
        pe[i].id = (char *)(uintptr_t)errs[i].id;
        pe[i].code = (char *)(uintptr_t)errs[i].code;
        pe[i].detail = (char *)(uintptr_t)errs[i].detail;
        pp[i] = &pe[i];
    }
    ack.n_errors = nerr;
    ack.errors = pp;
    size_t sz = cairn__v1__ack__get_packed_size(&ack);
    if (cn_buf_reserve(out, sz ? sz : 1))
        goto done;
    out->len += cairn__v1__ack__pack(&ack, out->data + out->len);
    rc = 0;
done:
    cn_free(pe);
    cn_free(pp);
    return rc;
}
