/* SPDX-License-Identifier: MIT */
/*
 * insp_json.h — internal to inspect/: JSON text building blocks for record
 * rendering (insp_format.c): base64, RFC 3339 times, and any protobuf-c
 * message as a JSON object; strings and UTF-8 checks are common/'s
 * (cn_json.h, cn_utf8.h), included here for insp_format.c.
 * All append to a caller-owned cn_buf and return 0 or CN_ENOMEM.
 */
#ifndef INSP_JSON_H
#define INSP_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "cn_buf.h"
#include "cn_json.h"
#include "cn_utf8.h"

/** Standard base64 with padding (RFC 4648 section 4, libsodium's
 *  ORIGINAL variant), no quotes. */
int insp__base64(cn_buf *b, const unsigned char *s, size_t n);
/**
 * A member for a byte string: "name":null when p is NULL, "name":"text"
 * when valid UTF-8, else "name_b64":"base64".  Preceded by a comma when
 * comma is set.
 */
int insp__json_bytes_member(cn_buf *b, int comma, const char *name, const unsigned char *p,
                            size_t n);
/** RFC 3339 UTC text (no quotes) for sec/nsec: milliseconds when nsec is
 *  a whole number of them, else nanoseconds.  Returns 0, or CN_ERANGE
 *  (nothing written) outside years 0001..9999. */
int insp__rfc3339(cn_buf *b, int64_t sec, int32_t nsec);
/** A protobuf-c message as a JSON object: original field names, every
 *  singular field (set oneof members and present optionals only),
 *  repeated fields as arrays, 64-bit integers as numbers, bytes as base64,
 *  enums by name, nesting beyond 32 levels as null. */
int insp__json_pb(cn_buf *b, const ProtobufCMessage *m);

#endif
