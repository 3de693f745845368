/* SPDX-License-Identifier: MIT */
/*
 * fuzz_rp_msg.c — libFuzzer target for the replication wire codec and the
 * replica state machine behind it (repl/rp.h).  The input is a stream of
 * frames.  Every frame the decoder accepts must re-encode to exactly its
 * bytes (the wire form is canonical) and its records must walk as whole
 * batches; a refused frame must be refused with a codec error.  Byte 0
 * also picks a replica (follower or leader of term 3, log end 10) that
 * receives each accepted frame addressed to it, with a tick between
 * frames: it must never fail, every message it sends must encode, and its
 * HW never passes its log end or moves back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cn_buf.h"
#include "cn_err.h"
#include "rp.h"

static void fz_check_frame(const unsigned char *p, size_t used, const rp_msg *m)
{
    cn_buf b = CN_BUF_INIT;
    if (rp_msg_encode(m, &b) != 0 || b.len != used || memcmp(b.data, p, used) != 0)
        abort();
    cn_buf_free(&b);
    const unsigned char *r = m->records;
    size_t left = m->records_len;
    while (left > 0) {
        rp_entry e;
        int64_t sz = rp_batch_peek(r, left, &e);
        if (sz <= 0 || (size_t)sz > left)
            abort();
        r += sz;
        left -= (size_t)sz;
    }
}

static rp_node *fz_node(int leader)
{
    rp_config c = {.topic_id = 1,
                   .partition = 0,
                   .self = 1,
                   .voters = {0, 1, 2},
                   .nvoters = 3,
                   .election_ticks = 4,
                   .heartbeat_ticks = 1,
                   .max_fetch_bytes = 4096,
                   .seed = 7};
    rp_epoch_start ep[2] = {{1, 0}, {3, 6}};
    rp_recovered r = {3, leader ? 1 : -1, 10, ep, 2};
    rp_node *n = NULL;
    if (rp_node_create(&n, &c, &r) != 0)
        abort();
    return n;
}

static void fz_drain(rp_node *n, int64_t *hw)
{
    rp_out o;
    while (rp_node_next(n, &o) == 0) {
        if (o.kind == RP_OUT_SEND) {
            cn_buf b = CN_BUF_INIT;
            if (rp_msg_encode(&o.msg, &b) != 0)
                abort();
            cn_buf_free(&b);
        } else if (o.kind == RP_OUT_PERSIST) {
            rp_node_persisted(n, o.term, o.vote);
        } else if (o.kind == RP_OUT_APPEND) {
            rp_node_durable(n, o.entry.last + 1);
        }
    }
    if (rp_node_hw(n) > rp_node_log_end(n) || rp_node_hw(n) < *hw)
        abort();
    *hw = rp_node_hw(n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    rp_node *n = fz_node(data[0] & 1);
    int64_t hw = 0;
    /* make the leader variant a leader: vote for it (after its pre-vote) */
    for (int t = 0; t < 12 && (data[0] & 1) && rp_node_role(n) != RP_LEADER; t++) {
        rp_node_tick(n);
        fz_drain(n, &hw);
        rp_msg g = {.type = rp_node_role(n) == RP_CANDIDATE ? RP_VOTE_RESP : RP_PREVOTE_RESP,
                    .topic_id = 1,
                    .from = 0,
                    .to = 1,
                    .granted = 1,
                    .term = rp_node_term(n) + (rp_node_role(n) == RP_PRECANDIDATE)};
        rp_node_receive(n, &g);
        fz_drain(n, &hw);
    }
    const unsigned char *p = data + 1;
    size_t left = size - 1;
    while (left > 0) {
        rp_msg m;
        size_t used = 0;
        int rc = rp_msg_decode(p, left, &m, &used);
        if (rc == CN_WANT_MORE)
            break;
        if (rc != 0) {
            if (rc != CN_EDECODE && rc != CN_ETOOBIG)
                abort();
            break;
        }
        if (used < RP_HDR_BYTES || used > left)
            abort();
        fz_check_frame(p, used, &m);
        rc = rp_node_receive(n, &m);
        if (rc != 0 && rc != CN_EINVAL && rc != CN_EPROTO)
            abort();
        fz_drain(n, &hw);
        rp_node_tick(n);
        fz_drain(n, &hw);
        p += used;
        left -= used;
    }
    rp_node_destroy(n);
    return 0;
}
