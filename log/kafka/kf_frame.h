/* SPDX-License-Identifier: MIT */
/*
 * kf_frame.h — Kafka request framing and headers: the int32 size prefix,
 * request header v0-v2 (api key, version, correlation id, client id,
 * tagged fields), response header v0/v1, and whole-request decoding into
 * the generated structs (kf_msgs.h).
 *
 * Pure code: bytes in, structs out; no I/O, no globals; any thread.
 * See docs/kafka.md.
 */
#ifndef KF_FRAME_H
#define KF_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "kf_msgs.h"
#include "kf_wire.h"

/** Smallest legal request after the size prefix: api key, version,
 *  correlation id (v0 header). */
#define KF_REQ_MIN 8

typedef struct kf_req_hdr {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    kf_str client_id; /* null for header v0 or a null id */
    int hdr_version;  /* 1 or 2 (0 is only ControlledShutdown v0, not served) */
} kf_req_hdr;

/**
 * Size of the frame at p (from its int32 prefix), prefix included.
 * @return 0 with *total; CN_WANT_MORE if fewer than 4 bytes; KF_EFRAME if
 *         the size is below KF_REQ_MIN or above max_bytes (the caller
 *         closes the connection: the stream cannot be resynchronised).
 */
int kf_frame_size(const unsigned char *p, size_t n, size_t max_bytes, size_t *total);

/** The request header version for api_key/version (2 if the request
 *  version is flexible, else 1; unknown keys are read as 1). */
int kf_req_hdr_version(int16_t api_key, int16_t api_version);
/** The response header version (1 if flexible, 0 otherwise; ApiVersions
 *  responses always use 0 so any client can read them). */
int kf_resp_hdr_version(int16_t api_key, int16_t api_version);

/** The arena cap for a request of n bytes: decoded structs are bigger
 *  than their wire form, by a bounded factor. */
size_t kf_arena_cap_for(size_t n);

typedef struct kf_request {
    kf_req_hdr hdr;
    const kf_api_info *api; /* NULL if the key is not implemented */
    void *body;             /* kf_<Name>Request in the arena, or NULL */
    int trailing;           /* 1 if bytes followed the complete body (ignored) */
} kf_request;

/**
 * Decode one request (the bytes after the size prefix).  The header is
 * parsed first; then, if the API and version are implemented, the body.
 * @return 0 (req->body set); KF_EVERSION with req->hdr valid when the
 *         key or version is not served (so the caller can answer an
 *         ApiVersions or log what was asked); KF_EFRAME if the header or
 *         body is malformed or truncated, or the arena cap is hit;
 *         bytes after a completely decoded body are ignored (req->trailing
 *         set): Apache Kafka's broker reads a request and never checks for
 *         leftovers, and librdkafka 2.0.2 relies on that (its ListGroups v4
 *         and OffsetFetch v7 carry extra zero bytes);
 *         CN_ENOMEM.  Strings live in a; bytes borrow p.
 */
int kf_request_decode(const unsigned char *p, size_t n, kf_arena *a, kf_request *req);

/** Start a response frame in w: a 4-byte size placeholder and the header
 *  for api_key/api_version.  Returns the frame's start offset in w->b. */
size_t kf_resp_begin(kf_wr *w, int16_t api_key, int16_t api_version, int32_t correlation_id);
/** Patch the size prefix at start: buffer bytes after it plus spliced
 *  bytes (records supplied outside the buffer).  0 or CN_ETOOBIG. */
int kf_resp_finish(kf_wr *w, size_t start, uint64_t spliced_bytes);

/** Encode a request frame (size prefix, header, body) — for clients and
 *  tests.  client_id may be NULL. */
int kf_request_encode(cn_buf *out, int16_t api_key, int16_t api_version, int32_t correlation_id,
                      const char *client_id, const void *body);

#endif
