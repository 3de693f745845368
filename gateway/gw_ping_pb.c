/* SPDX-License-Identifier: MIT */
/*
 * gw_ping_pb.c — decodes a binary frame of player protocol v1: protobuf
 * cairn.v1.PingBatch (proto/cairn.proto), via protobuf-c.
 *
 * proto3 cannot tell an absent field from its default, so: an empty id or
 * beacon is "missing"; ts 0 is "missing"; rssi 0 is a reading of 0 dBm.
 * BlePing.player and .hunt are set by the gateway from the token and are
 * ignored when a client sends them.  Bytes that are not a PingBatch are
 * one bad_protobuf error; more than max_batch pings is too_many_pings.
 * All allocation goes through cn_alloc (protobuf-c gets our allocator), so
 * tests can fail it.  protobuf-c returns NULL both for bad bytes and for a
 * failed allocation, so under memory pressure a good frame is answered
 * with bad_protobuf: the client is told, nothing is accepted half-way,
 * and the connection stays usable.
 * Threads: any; the batch is the caller's.
 */
#include "gw_ping_int.h"

#include "cairn.pb-c.h"
#include "cn_alloc.h"
#include "cn_err.h"

#include <stdio.h>
#include <string.h>

static void *pb_alloc(void *ud, size_t n)
{
    (void)ud;
    return cn_malloc(n);
}

static void pb_free(void *ud, void *p)
{
    (void)ud;
    cn_free(p);
}

static void one_ping(gw_ping_batch *b, const Cairn__V1__BlePing *m, const gw_ping_limits *lim,
                     int64_t now_ms, int32_t index)
{
    gw__ping_in in;
    memset(&in, 0, sizeof(in));
    if (!m) {
        gw__ping_error_at(b, index, GW_PE_NOT_PING, "empty ping message");
        return;
    }
    if (m->id && m->id[0]) {
        in.id = m->id, in.id_len = strlen(m->id), in.id_f = GW_F_OK;
    }
    if (m->beacon && m->beacon[0]) {
        in.beacon = m->beacon, in.beacon_len = strlen(m->beacon), in.beacon_f = GW_F_OK;
    }
    in.rssi = m->rssi;
    in.rssi_f = GW_F_OK;
    if (m->ts != 0) {
        in.ts = m->ts;
        in.ts_f = GW_F_OK;
    }
    gw__ping_add(b, &in, lim, now_ms, index);
}

int gw_ping_parse_pb(const uint8_t *data, size_t len, const gw_ping_limits *lim, int64_t now_ms,
                     gw_ping_batch *b)
{
    int rc = gw__ping_begin(b, lim);
    if (rc)
        return rc;
    ProtobufCAllocator a = {pb_alloc, pb_free, NULL};
    Cairn__V1__PingBatch *pb = cairn__v1__ping_batch__unpack(&a, len, data);
    if (!pb) {
        gw__ping_frame_error(b, GW_PE_BAD_PROTOBUF, "binary frame is not a cairn.v1.PingBatch");
        return 0;
    }
    if (pb->n_pings == 0) {
        gw__ping_frame_error(b, GW_PE_EMPTY_BATCH, "the PingBatch holds no pings");
    } else if (pb->n_pings > lim->max_batch) {
        char d[96];
        snprintf(d, sizeof(d), "%zu pings in one frame; at most %zu", pb->n_pings, lim->max_batch);
        gw__ping_frame_error(b, GW_PE_TOO_MANY, d);
    } else {
        for (size_t i = 0; i < pb->n_pings; i++)
            one_ping(b, pb->pings[i], lim, now_ms, (int32_t)i);
    }
    cairn__v1__ping_batch__free_unpacked(pb, &a);
    return 0;
}
