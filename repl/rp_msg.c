/* SPDX-License-Identifier: MIT */
/*
 * rp_msg.c — the replication wire codec: one length-prefixed frame per
 * message (docs/replication.md, "Messages and wire form").
 *
 * Guarantees: decoding is strict and bounded — it reads only inside the
 * buffer it is given, accepts a frame only if every field is in range and
 * its length is exactly the body's, and checks that a FetchResponse's
 * records split into whole RecordBatch v2 batches, contiguous from the
 * fetch offset, with non-decreasing epochs no newer than the term (it reads
 * batch headers only; CRCs are the storage layer's to check).  The encoder
 * refuses what the decoder would refuse, so what we send always decodes.
 * Pure: no allocation except the caller's output buffer, no state; any
 * thread.  Decoded records point into the caller's bytes.
 */
#include <string.h>

#include "cn_bytes.h"
#include "cn_err.h"
#include "rp.h"

/* Body sizes per type (after the fixed header). */
#define RP_BODY_VOTE_REQ 12
#define RP_BODY_VOTE_RESP 1
#define RP_BODY_FETCH_REQ 28
#define RP_BODY_FETCH_RESP 54

/* ---- batch headers --------------------------------------------------- */

int64_t rp_batch_peek(const unsigned char *p, size_t n, rp_entry *e)
{
    if (n < RP_BATCH_HDR_BYTES)
        return CN_EDECODE;
    int64_t base = (int64_t)cn_rd_be64(p);
    int32_t blen = (int32_t)cn_rd_be32(p + 8);
    int32_t epoch = (int32_t)cn_rd_be32(p + 12);
    int32_t delta = (int32_t)cn_rd_be32(p + 23);
    if (p[16] != 2 || base < 0 || epoch < 0 || delta < 0 || blen < RP_BATCH_HDR_BYTES - 12)
        return CN_EDECODE;
    if ((uint64_t)blen + 12 > n || base > INT64_MAX - delta)
        return CN_EDECODE;
    e->base = base;
    e->last = base + delta;
    e->epoch = epoch;
    return (int64_t)blen + 12;
}

/* Records of a FetchResponse: whole batches from fetch_offset, contiguous,
 * epochs non-decreasing and <= term, all below the leader's log end. */
static int rp_records_check(const rp_msg *m)
{
    const unsigned char *p = m->records;
    size_t left = m->records_len;
    int64_t next = m->fetch_offset;
    int32_t epoch = -1;
    while (left > 0) {
        rp_entry e;
        int64_t sz = rp_batch_peek(p, left, &e);
        if (sz < 0 || e.base != next || e.epoch < epoch || e.epoch > m->term ||
            e.last >= m->log_end)
            return CN_EDECODE;
        next = e.last + 1;
        epoch = e.epoch;
        p += sz;
        left -= (size_t)sz;
    }
    return 0;
}

/* ---- field checks shared by encoder and decoder ----------------------- */

static int rp_fetch_resp_check(const rp_msg *m)
{
    int div = m->diverging_end != -1 || m->diverging_epoch != -1;
    if (m->error != RP_ERR_NONE && m->error != RP_ERR_NOT_LEADER &&
        m->error != RP_ERR_FENCED_EPOCH && m->error != RP_ERR_UNKNOWN_EPOCH)
        return CN_EDECODE;
    if (m->leader < -1 || m->fetch_offset < 0 || m->high_watermark < 0 || m->log_end < 0 ||
        m->high_watermark > m->log_end || m->last_fetched_epoch < -1 ||
        m->last_fetched_epoch > m->term)
        return CN_EDECODE;
    if (div && (m->diverging_end < 0 || m->diverging_epoch < -1 || m->diverging_end > m->log_end ||
                m->diverging_epoch > m->term || m->error != RP_ERR_NONE))
        return CN_EDECODE;
    if ((div || m->error != RP_ERR_NONE) && m->records_len != 0)
        return CN_EDECODE;
    if (!div && m->error == RP_ERR_NONE && m->fetch_offset > m->log_end)
        return CN_EDECODE;
    if (m->records_len > 0 && (!m->records || rp_records_check(m) != 0))
        return CN_EDECODE;
    return 0;
}

static int rp_fields_check(const rp_msg *m)
{
    if (m->from < 0 || m->to < 0 || m->term < 0)
        return CN_EDECODE;
    switch (m->type) {
    case RP_PREVOTE_REQ:
    case RP_VOTE_REQ:
        return m->last_epoch < -1 || m->log_end < 0 || m->last_epoch > m->term ? CN_EDECODE : 0;
    case RP_PREVOTE_RESP:
    case RP_VOTE_RESP:
        return m->granted > 1 ? CN_EDECODE : 0;
    case RP_BEGIN_EPOCH:
        return 0;
    case RP_FETCH_REQ:
        if (m->fetch_offset < 0 || m->last_fetched_epoch < -1 || m->synced_offset < 0 ||
            m->synced_offset > m->fetch_offset || m->max_bytes <= 0 ||
            m->last_fetched_epoch > m->term)
            return CN_EDECODE;
        return 0;
    case RP_FETCH_RESP:
        return rp_fetch_resp_check(m);
    default:
        return CN_EDECODE;
    }
}

static size_t rp_body_len(const rp_msg *m)
{
    switch (m->type) {
    case RP_PREVOTE_REQ:
    case RP_VOTE_REQ:
        return RP_BODY_VOTE_REQ;
    case RP_PREVOTE_RESP:
    case RP_VOTE_RESP:
        return RP_BODY_VOTE_RESP;
    case RP_FETCH_REQ:
        return RP_BODY_FETCH_REQ;
    case RP_FETCH_RESP:
        return RP_BODY_FETCH_RESP + (size_t)m->records_len;
    default:
        return 0;
    }
}

/* ---- encode ------------------------------------------------------------ */

static unsigned char *rp_put32(unsigned char *p, uint32_t v)
{
    cn_wr_be32(p, v);
    return p + 4;
}

static unsigned char *rp_put64(unsigned char *p, int64_t v)
{
    cn_wr_be64(p, (uint64_t)v);
    return p + 8;
}

static void rp_encode_body(const rp_msg *m, unsigned char *p)
{
    switch (m->type) {
    case RP_PREVOTE_REQ:
    case RP_VOTE_REQ:
        p = rp_put32(p, (uint32_t)m->last_epoch);
        rp_put64(p, m->log_end);
        break;
    case RP_PREVOTE_RESP:
    case RP_VOTE_RESP:
        *p = m->granted;
        break;
    case RP_FETCH_REQ:
        p = rp_put32(p, m->seq);
        p = rp_put64(p, m->fetch_offset);
        p = rp_put32(p, (uint32_t)m->last_fetched_epoch);
        p = rp_put64(p, m->synced_offset);
        rp_put32(p, (uint32_t)m->max_bytes);
        break;
    case RP_FETCH_RESP:
        p = rp_put32(p, m->seq);
        cn_wr_be16(p, (uint16_t)m->error);
        p = rp_put32(p + 2, (uint32_t)m->leader);
        p = rp_put64(p, m->fetch_offset);
        p = rp_put32(p, (uint32_t)m->last_fetched_epoch);
        p = rp_put64(p, m->high_watermark);
        p = rp_put64(p, m->log_end);
        p = rp_put32(p, (uint32_t)m->diverging_epoch);
        p = rp_put64(p, m->diverging_end);
        p = rp_put32(p, m->records_len);
        if (m->records_len)
            memcpy(p, m->records, m->records_len);
        break;
    default:
        break;
    }
}

int rp_msg_encode(const rp_msg *m, cn_buf *out)
{
    if (rp_fields_check(m) != 0)
        return CN_EINVAL;
    size_t body = rp_body_len(m);
    size_t flen = RP_HDR_BYTES - 4 + body;
    if (flen > RP_MAX_FRAME)
        return CN_ETOOBIG;
    if (cn_buf_reserve(out, flen + 4) != 0)
        return CN_ENOMEM;
    unsigned char *p = out->data + out->len;
    p = rp_put32(p, (uint32_t)flen);
    p[0] = RP_WIRE_VERSION;
    p[1] = m->type;
    p[2] = p[3] = 0;
    p = rp_put32(p + 4, m->topic_id);
    p = rp_put32(p, m->partition);
    p = rp_put32(p, (uint32_t)m->from);
    p = rp_put32(p, (uint32_t)m->to);
    p = rp_put32(p, (uint32_t)m->term);
    rp_encode_body(m, p);
    out->len += flen + 4;
    return 0;
}

/* ---- decode ------------------------------------------------------------ */

static void rp_decode_body(const unsigned char *p, rp_msg *m)
{
    switch (m->type) {
    case RP_PREVOTE_REQ:
    case RP_VOTE_REQ:
        m->last_epoch = (int32_t)cn_rd_be32(p);
        m->log_end = (int64_t)cn_rd_be64(p + 4);
        break;
    case RP_PREVOTE_RESP:
    case RP_VOTE_RESP:
        m->granted = p[0];
        break;
    case RP_FETCH_REQ:
        m->seq = cn_rd_be32(p);
        m->fetch_offset = (int64_t)cn_rd_be64(p + 4);
        m->last_fetched_epoch = (int32_t)cn_rd_be32(p + 12);
        m->synced_offset = (int64_t)cn_rd_be64(p + 16);
        m->max_bytes = (int32_t)cn_rd_be32(p + 24);
        break;
    case RP_FETCH_RESP:
        m->seq = cn_rd_be32(p);
        m->error = (int16_t)cn_rd_be16(p + 4);
        m->leader = (int32_t)cn_rd_be32(p + 6);
        m->fetch_offset = (int64_t)cn_rd_be64(p + 10);
        m->last_fetched_epoch = (int32_t)cn_rd_be32(p + 18);
        m->high_watermark = (int64_t)cn_rd_be64(p + 22);
        m->log_end = (int64_t)cn_rd_be64(p + 30);
        m->diverging_epoch = (int32_t)cn_rd_be32(p + 38);
        m->diverging_end = (int64_t)cn_rd_be64(p + 42);
        m->records_len = cn_rd_be32(p + 50);
        m->records = m->records_len ? p + RP_BODY_FETCH_RESP : NULL;
        break;
    default:
        break;
    }
}

int rp_msg_decode(const unsigned char *p, size_t n, rp_msg *m, size_t *used)
{
    memset(m, 0, sizeof(*m));
    if (n < 4)
        return CN_WANT_MORE;
    uint32_t flen = cn_rd_be32(p);
    if (flen > RP_MAX_FRAME)
        return CN_ETOOBIG;
    if (flen < RP_HDR_BYTES - 4)
        return CN_EDECODE;
    if (n - 4 < flen)
        return CN_WANT_MORE;
    const unsigned char *h = p + 4;
    if (h[0] != RP_WIRE_VERSION || h[2] != 0 || h[3] != 0)
        return CN_EDECODE;
    m->type = h[1];
    m->topic_id = cn_rd_be32(h + 4);
    m->partition = cn_rd_be32(h + 8);
    m->from = (int32_t)cn_rd_be32(h + 12);
    m->to = (int32_t)cn_rd_be32(h + 16);
    m->term = (int32_t)cn_rd_be32(h + 20);
    if (m->type < RP_PREVOTE_REQ || m->type > RP_FETCH_RESP)
        return CN_EDECODE;
    size_t body = flen - (RP_HDR_BYTES - 4);
    size_t fixed = m->type == RP_FETCH_RESP ? RP_BODY_FETCH_RESP : rp_body_len(m);
    if (body < fixed)
        return CN_EDECODE;
    rp_decode_body(h + 24, m);
    m->diverging_epoch = m->type == RP_FETCH_RESP ? m->diverging_epoch : -1;
    m->diverging_end = m->type == RP_FETCH_RESP ? m->diverging_end : -1;
    if (body != rp_body_len(m) || rp_fields_check(m) != 0) {
        memset(m, 0, sizeof(*m));
        return CN_EDECODE;
    }
    *used = flen + 4;
    return 0;
}
