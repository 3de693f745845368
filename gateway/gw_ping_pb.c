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

/* A base-128 varint at *p (at most 10 bytes): 0 and advances, or -1. */
static int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t c = *(*p)++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return 0;
    }
    return -1;
}

/* Count the PingBatch's pings (field 1) by walking its top level only,
 * allocating nothing: 0 with *n, or -1 if the top level does not parse
 * (truncated, a varint over 10 bytes, a group or unknown wire type:
 * everything protobuf-c refuses too). */
static int pb_count_pings(const uint8_t *p, size_t len, size_t *n)
{
    const uint8_t *end = p + len;
    *n = 0;
    while (p < end) {
        uint64_t key, v;
        if (pb_varint(&p, end, &key))
            return -1;
        switch (key & 7) {
        case 0:
            if (pb_varint(&p, end, &v))
                return -1;
            break;
        case 1:
        case 5: {
            size_t w = (key & 7) == 1 ? 8 : 4;
            if ((size_t)(end - p) < w)
                return -1;
            p += w;
            break;
        }
        case 2:
            if (pb_varint(&p, end, &v) || v > (uint64_t)(end - p))
                return -1;
            p += v;
            if (key >> 3 == 1)
                (*n)++;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

int gw_ping_parse_pb(const uint8_t *data, size_t len, const gw_ping_limits *lim, int64_t now_ms,
                     gw_ping_batch *b)
{
    int rc = gw__ping_begin(b, lim);
    if (rc)
        return rc;
    /* Counted before decoding: 64 KiB of empty pings would otherwise cost
     * tens of thousands of allocations first, and a top level that does
     * not parse (the decoder refuses it too) is refused at no cost. */
    size_t count;
    if (pb_count_pings(data, len, &count)) {
        gw__ping_frame_error(b, GW_PE_BAD_PROTOBUF, "binary frame is not a cairn.v1.PingBatch");
        return 0;
    }
    if (count > lim->max_batch) {
        char d[96];
        snprintf(d, sizeof(d), "%zu pings in one frame; at most %zu", count, lim->max_batch);
        gw__ping_frame_error(b, GW_PE_TOO_MANY, d);
        return 0;
    }
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
