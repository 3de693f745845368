/* SPDX-License-Identifier: MIT */
/*
 * kf_h_oldver.c — answers for the Produce and Fetch versions ApiVersions
 * advertises but cairn does not serve: Produce v0-2 and Fetch v0-3.
 *
 * Why they are advertised at all: librdkafka derives its compression
 * features from the advertised ranges and sends gzip, snappy and lz4
 * batches uncompressed to a broker whose Produce or Fetch floor is above
 * v0 (kf_h_meta.c).  Those versions carry message sets v0/v1, which the
 * log (RecordBatch v2 only) cannot store, so the generated codec does not
 * decode them.
 *
 * Guarantee: a client that was told a version is supported gets an answer
 * in that version's exact layout, every partition it named with
 * UNSUPPORTED_VERSION, and keeps its connection (Produce with acks=0 gets
 * no answer, as in Kafka).  A body that is malformed for its version is
 * refused like any malformed request: the connection closes.
 * The request is parsed and the reply written in one pass (the reply's
 * topics and partitions mirror the request's).
 * Threads: loop only.  Ownership: strings borrow the connection's frame.
 */
#include "kf_server_int.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "kf_errors.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <string.h>

/* Smallest wire sizes, for kf_rd_arrlen's hostile-count check. */
#define KF_OLD_TOPIC_MIN 6    /* name length + partition count */
#define KF_OLD_PRODUCE_PART 8 /* index + records length */
#define KF_OLD_FETCH_PART 16  /* partition + offset + max bytes */

int kf__old_version_served(int16_t api_key, int16_t api_version)
{
    const kf_api_info *a = kf_api_find(api_key);
    if (!a || api_version < 0 || api_version >= a->min_version)
        return 0;
    return api_key == KF_API_PRODUCE || api_key == KF_API_FETCH;
}

/* Produce v0-2 body → reply body; *acks set. */
static void kf_old_produce(kf_rd *r, kf_wr *w, int16_t v, int16_t *acks)
{
    *acks = kf_rd_i16(r);
    (void)kf_rd_i32(r); /* timeout */
    int32_t nt = kf_rd_arrlen(r, 0, 0, KF_OLD_TOPIC_MIN);
    kf_wr_arrlen(w, nt < 0 ? 0 : nt, 0, 0);
    for (int32_t t = 0; t < nt && !r->err; t++) {
        kf_str name;
        kf_rd_str(r, &name, 0, 0);
        kf_wr_str(w, &name, 0, 0);
        int32_t np = kf_rd_arrlen(r, 0, 0, KF_OLD_PRODUCE_PART);
        kf_wr_arrlen(w, np < 0 ? 0 : np, 0, 0);
        for (int32_t i = 0; i < np && !r->err; i++) {
            kf_bytes rec;
            kf_wr_i32(w, kf_rd_i32(r));
            kf_rd_bytes(r, &rec, 0, 1);
            kf_wr_i16(w, KF_ERR_UNSUPPORTED_VERSION);
            kf_wr_i64(w, -1); /* base offset */
            if (v >= 2)
                kf_wr_i64(w, -1); /* log append time */
        }
    }
    if (v >= 1)
        kf_wr_i32(w, 0); /* throttle */
}

/* Fetch v0-3 body → reply body. */
static void kf_old_fetch(kf_rd *r, kf_wr *w, int16_t v)
{
    (void)kf_rd_i32(r); /* replica id */
    (void)kf_rd_i32(r); /* max wait */
    (void)kf_rd_i32(r); /* min bytes */
    if (v >= 3)
        (void)kf_rd_i32(r); /* max bytes */
    if (v >= 1)
        kf_wr_i32(w, 0); /* throttle */
    int32_t nt = kf_rd_arrlen(r, 0, 0, KF_OLD_TOPIC_MIN);
    kf_wr_arrlen(w, nt < 0 ? 0 : nt, 0, 0);
    for (int32_t t = 0; t < nt && !r->err; t++) {
        kf_str name;
        kf_rd_str(r, &name, 0, 0);
        kf_wr_str(w, &name, 0, 0);
        int32_t np = kf_rd_arrlen(r, 0, 0, KF_OLD_FETCH_PART);
        kf_wr_arrlen(w, np < 0 ? 0 : np, 0, 0);
        for (int32_t i = 0; i < np && !r->err; i++) {
            kf_wr_i32(w, kf_rd_i32(r));
            (void)kf_rd_i64(r); /* fetch offset */
            (void)kf_rd_i32(r); /* partition max bytes */
            kf_wr_i16(w, KF_ERR_UNSUPPORTED_VERSION);
            kf_wr_i64(w, -1); /* high watermark */
            kf_wr_i32(w, 0);  /* no records */
        }
    }
}

int kf__answer_old_version(kf_conn *c)
{
    const kf_req_hdr *h = &c->req.hdr;
    kf_rd r;
    kf_rd_init(&r, c->frame.data, c->frame.len, c->arena);
    (void)kf_rd_i16(&r);
    (void)kf_rd_i16(&r);
    (void)kf_rd_i32(&r);
    kf_str client_id;
    kf_rd_str(&r, &client_id, 0, 1);
    cn_buf out = CN_BUF_INIT;
    kf_wr w;
    kf_wr_init(&w, &out);
    size_t start = kf_resp_begin(&w, h->api_key, h->api_version, h->correlation_id);
    int16_t acks = -1;
    if (h->api_key == KF_API_PRODUCE)
        kf_old_produce(&r, &w, h->api_version, &acks);
    else
        kf_old_fetch(&r, &w, h->api_version);
    int rc = kf_rd_finish(&r);
    if (rc == 0)
        rc = kf_resp_finish(&w, start, 0);
    if (rc == 0 && acks != 0 && c->bev &&
        evbuffer_add(bufferevent_get_output(c->bev), out.data, out.len))
        rc = CN_ENOMEM;
    cn_buf_free(&out);
    return rc;
}
