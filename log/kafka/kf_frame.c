/* SPDX-License-Identifier: MIT */
/*
 * kf_frame.c — Kafka request framing, request/response headers and
 * whole-request decoding (see kf_frame.h).
 *
 * Guarantees: nothing is read past the frame; a request whose header is
 * readable but whose API/version is not served is reported as KF_EVERSION
 * with the header filled in, so the server can answer or log precisely.
 * Pure code, any thread.
 */
#include "kf_frame.h"

#include "cn_bytes.h"
#include "cn_err.h"

#include <string.h>

int kf_frame_size(const unsigned char *p, size_t n, size_t max_bytes, size_t *total)
{
    if (n < 4)
        return CN_WANT_MORE;
    int32_t sz = (int32_t)cn_rd_be32(p);
    if (sz < KF_REQ_MIN || (uint64_t)sz > max_bytes)
        return KF_EFRAME;
    *total = (size_t)sz + 4;
    return 0;
}

int kf_req_hdr_version(int16_t api_key, int16_t api_version)
{
    const kf_api_info *api = kf_api_find(api_key);
    if (api && api->flex_request_min >= 0 && api_version >= api->flex_request_min)
        return 2;
    return 1;
}

int kf_resp_hdr_version(int16_t api_key, int16_t api_version)
{
    if (api_key == KF_API_APIVERSIONS)
        return 0; /* KIP-511: the client may not know our version yet */
    const kf_api_info *api = kf_api_find(api_key);
    if (api && api->flex_response_min >= 0 && api_version >= api->flex_response_min)
        return 1;
    return 0;
}

size_t kf_arena_cap_for(size_t n)
{
    /* The widest decoded/wire ratio in the generated structs is an array
     * of small elements (e.g. an int32 partition list: 4 wire bytes into a
     * 4-byte slot, or a 1-byte compact string into a 16-byte kf_str plus
     * its NUL copy); 32x with 64 KiB slack covers every struct with
     * margin while still bounding a hostile frame. */
    return n * 32 + 65536;
}

/* Header v1/v2 after the fixed part: client id (always classic int16
 * string, even in v2: old brokers must read any ApiVersions header), then
 * in v2 a tagged-field section, skipped (none are defined). */
static void kf_req_hdr_tail(kf_rd *r, kf_req_hdr *h)
{
    kf_rd_str(r, &h->client_id, 0, 1);
    if (h->hdr_version < 2)
        return;
    uint32_t nt = kf_rd_uvarint32(r);
    for (uint32_t i = 0; i < nt && !r->err; i++) {
        kf_rd sub;
        (void)kf_rd_uvarint32(r);
        if (kf_rd_sub(r, kf_rd_uvarint32(r), &sub))
            break;
    }
}

int kf_request_decode(const unsigned char *p, size_t n, kf_arena *a, kf_request *req)
{
    memset(req, 0, sizeof(*req));
    req->hdr.client_id.len = -1;
    kf_rd r;
    kf_rd_init(&r, p, n, a);
    req->hdr.api_key = kf_rd_i16(&r);
    req->hdr.api_version = kf_rd_i16(&r);
    req->hdr.correlation_id = kf_rd_i32(&r);
    if (r.err)
        return KF_EFRAME;
    req->api = kf_api_find(req->hdr.api_key);
    int served = req->api && req->hdr.api_version >= req->api->min_version &&
                 req->hdr.api_version <= req->api->max_version;
    req->hdr.hdr_version = kf_req_hdr_version(req->hdr.api_key, req->hdr.api_version);
    if (!served) {
        /* Read what a v1 header holds (a v2 header starts the same way) so
         * the log line can name the client; the rest is not ours to parse. */
        req->hdr.hdr_version = 1;
        kf_rd_str(&r, &req->hdr.client_id, 0, 1);
        if (r.err)
            req->hdr.client_id.len = -1;
        return KF_EVERSION;
    }
    kf_req_hdr_tail(&r, &req->hdr);
    if (r.err)
        return r.err;
    int rc = kf_decode_request(req->hdr.api_key, req->hdr.api_version, p + r.off, n - r.off, a,
                               &req->body);
    if (rc == KF_EVERSION) /* cannot happen: checked above; keep it an error */
        rc = KF_EFRAME;
    if (rc == KF_ETRAILING) {
        /* The body is complete; what follows it is not ours to judge (see
         * kf_frame.h).  Real clients send it, and Kafka answers them. */
        req->trailing = 1;
        rc = 0;
    }
    return rc;
}

size_t kf_resp_begin(kf_wr *w, int16_t api_key, int16_t api_version, int32_t correlation_id)
{
    size_t start = w->b->len;
    kf_wr_i32(w, 0);
    kf_wr_i32(w, correlation_id);
    if (kf_resp_hdr_version(api_key, api_version) >= 1)
        kf_wr_uvarint(w, 0); /* no header tags */
    return start;
}

int kf_resp_finish(kf_wr *w, size_t start, uint64_t spliced_bytes)
{
    if (w->err)
        return w->err;
    uint64_t sz = (uint64_t)(w->b->len - start - 4) + spliced_bytes;
    if (sz > INT32_MAX)
        return CN_ETOOBIG;
    cn_wr_be32(w->b->data + start, (uint32_t)sz);
    return 0;
}

int kf_request_encode(cn_buf *out, int16_t api_key, int16_t api_version, int32_t correlation_id,
                      const char *client_id, const void *body)
{
    kf_wr w;
    kf_wr_init(&w, out);
    size_t start = out->len;
    kf_wr_i32(&w, 0);
    kf_wr_i16(&w, api_key);
    kf_wr_i16(&w, api_version);
    kf_wr_i32(&w, correlation_id);
    kf_str cid = kf_str_c(client_id);
    kf_wr_str(&w, &cid, 0, 1);
    if (kf_req_hdr_version(api_key, api_version) >= 2)
        kf_wr_uvarint(&w, 0);
    int rc = kf_encode_request(&w, api_key, api_version, body);
    if (rc)
        return rc;
    return kf_resp_finish(&w, start, 0);
}
