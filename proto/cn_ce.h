/* SPDX-License-Identifier: MIT */
/*
 * cn_ce.h — the CloudEvent envelope every cairn record carries:
 * protobuf io.cloudevents.v1.CloudEvent (field numbers of the spec's
 * cloudevents.proto), stored as a Kafka record value in structured mode
 * with header content-type: application/cloudevents+protobuf.
 *
 * cn_ce is a plain view of one event: required attributes (id, source,
 * specversion, type), the optional ones cairn uses (time as a
 * ce_timestamp, subject, datacontenttype, dataschema), any other
 * extension attributes, and the data: protobuf (an Any: type URL + bytes),
 * binary or text.  Encoding takes a view and appends protobuf bytes;
 * decoding validates bytes and gives a view borrowing from a cn_ce_msg
 * that owns the memory.  Helpers build cairn's two event kinds:
 *   cairn.ble.ping     source /gateway/<node>, subject = player,
 *                      data = cairn.v1.BlePing (carrying the client's id);
 *   cairn.hunt.<kind>  source /hunt/<node>, subject = player,
 *                      data = cairn.v1.HuntEvent.
 * Pure codec, no I/O, no globals, any thread; all allocation goes through
 * cn_alloc (protobuf-c is given our allocator).  Errors: CN_EINVAL (an
 * event that may not be encoded), CN_EDECODE (bytes that are not a
 * CloudEvent protobuf), CN_EPROTO (a well-formed protobuf that breaks the
 * CloudEvents rules), CN_ENOMEM.
 */
#ifndef CN_CE_H
#define CN_CE_H

#include <stddef.h>
#include <stdint.h>

#include "cairn.pb-c.h"
#include "cloudevents.pb-c.h"
#include "cn_buf.h"

#define CN_CE_SPECVERSION "1.0"
#define CN_CE_CONTENT_TYPE "application/cloudevents+protobuf" /* Kafka header value */
#define CN_CE_TYPE_URL_PREFIX "type.googleapis.com/"
#define CN_CE_TYPE_PING "cairn.ble.ping"
#define CN_CE_TYPE_HUNT_PREFIX "cairn.hunt."
#define CN_CE_DATA_PROTOBUF "application/protobuf" /* datacontenttype of proto data */

/* Attribute names are 1-20 lower-case ASCII letters or digits (spec). */
#define CN_CE_ATTR_NAME_MAX 20

/** A point in time as google.protobuf.Timestamp holds it. */
typedef struct cn_ce_time {
    int64_t sec;  /* since the Unix epoch; years 0001..9999 */
    int32_t nsec; /* 0..999999999 */
} cn_ce_time;

enum cn_ce_attr_kind {
    CN_CE_BOOL = 1,
    CN_CE_INT = 2,
    CN_CE_STRING = 3,
    CN_CE_BYTES = 4,
    CN_CE_URI = 5,
    CN_CE_URI_REF = 6,
    CN_CE_TIMESTAMP = 7,
};

/** One extension attribute (a name outside the ones cn_ce names). */
typedef struct cn_ce_attr {
    const char *name;
    enum cn_ce_attr_kind kind;
    int b;                      /* CN_CE_BOOL */
    int32_t i;                  /* CN_CE_INT */
    const char *s;              /* CN_CE_STRING, CN_CE_URI, CN_CE_URI_REF */
    const unsigned char *bytes; /* CN_CE_BYTES */
    size_t bytes_len;
    cn_ce_time t; /* CN_CE_TIMESTAMP */
} cn_ce_attr;

enum cn_ce_data_kind { CN_CE_DATA_NONE = 0, CN_CE_DATA_BINARY, CN_CE_DATA_TEXT, CN_CE_DATA_PROTO };

/** A CloudEvent.  NULL optional strings are absent attributes. */
typedef struct cn_ce {
    const char *id;          /* required, non-empty */
    const char *source;      /* required, non-empty URI-reference */
    const char *specversion; /* NULL encodes "1.0"; decode requires "1.0" */
    const char *type;        /* required, non-empty */
    int has_time;
    cn_ce_time time;             /* attribute "time" (ce_timestamp) */
    const char *subject;         /* "subject" (ce_string) */
    const char *datacontenttype; /* "datacontenttype" (ce_string) */
    const char *dataschema;      /* "dataschema" (ce_uri) */
    const cn_ce_attr *ext;       /* other attributes */
    size_t n_ext;
    enum cn_ce_data_kind data_kind;
    const char *type_url;      /* CN_CE_DATA_PROTO: the Any's type URL */
    const unsigned char *data; /* data bytes (text: UTF-8, not NUL-terminated) */
    size_t data_len;
} cn_ce;

/** Milliseconds since the epoch as a timestamp (floor division). */
cn_ce_time cn_ce_time_from_ms(int64_t ms);
/** The timestamp in milliseconds (nanoseconds truncated toward -inf). */
int64_t cn_ce_time_to_ms(cn_ce_time t);

/**
 * Append ev as protobuf CloudEvent bytes to out.
 * @return 0; CN_EINVAL (missing required attribute, specversion other than
 *         "1.0", bad extension name or duplicate, time out of range, text
 *         data with a NUL, proto data without a type URL); CN_ENOMEM.
 *         On error out is unchanged.
 */
int cn_ce_encode(const cn_ce *ev, cn_buf *out);

/** A decoded CloudEvent: owns what the view points into. */
typedef struct cn_ce_msg cn_ce_msg;

/**
 * Decode n bytes as one CloudEvent.  On success *out owns the memory and
 * *ev is a view into it, valid until cn_ce_msg_free(*out).
 * @return 0; CN_EDECODE (not a CloudEvent protobuf); CN_EPROTO (required
 *         attribute missing or empty, specversion not "1.0", a known
 *         attribute of the wrong type, an attribute name that is not
 *         1-20 lower-case letters/digits, an empty attribute value,
 *         an out-of-range timestamp, an Any without a type URL);
 *         CN_ENOMEM.  *out is NULL on error.
 */
int cn_ce_decode(const unsigned char *p, size_t n, cn_ce_msg **out, cn_ce *ev);
void cn_ce_msg_free(cn_ce_msg *m); /* NULL-safe */

/** The message name in a type URL (after its last '/'), or NULL if none. */
const char *cn_ce_type_name(const char *type_url);

/** Descriptor of the cairn.v1 message a type URL names, or NULL if unknown. */
const ProtobufCMessageDescriptor *cn_ce_known_type(const char *type_url);

/**
 * Unpack ev's proto data as message type d (the type URL must name it).
 * Free the result with cn_ce_data_free.
 * @return 0; CN_ENOENT (no proto data, or another type); CN_EDECODE;
 *         CN_ENOMEM.
 */
int cn_ce_data_unpack(const cn_ce *ev, const ProtobufCMessageDescriptor *d, ProtobufCMessage **out);
void cn_ce_data_free(ProtobufCMessage *m); /* NULL-safe */

/**
 * Like cn_ce_data_unpack for an event decoded into m, but the message is
 * allocated inside m (no separate free; valid until cn_ce_msg_free(m)):
 * the cheap path for consumers that unpack every event's data.
 * @return 0; CN_ENOENT; CN_EDECODE; CN_ENOMEM.
 */
int cn_ce_msg_data(cn_ce_msg *m, const cn_ce *ev, const ProtobufCMessageDescriptor *d,
                   const ProtobufCMessage **out);

/**
 * The ping event: type cairn.ble.ping, source /gateway/<node>, id ce_id,
 * time time_ms, subject = ping->player (required), datacontenttype
 * application/protobuf, data = ping as cairn.v1.BlePing.
 * @return 0; CN_EINVAL (empty node, id or player); CN_ENOMEM.
 */
int cn_ce_encode_ping(cn_buf *out, const char *node, const char *ce_id, int64_t time_ms,
                      const Cairn__V1__BlePing *ping);

/**
 * The hunt event: type cairn.hunt.<ev->kind> (kind: lower-case letters,
 * digits, '_'), source /hunt/<node>, subject = ev->player, data =
 * cairn.v1.HuntEvent.
 * @return 0; CN_EINVAL; CN_ENOMEM.
 */
int cn_ce_encode_hunt(cn_buf *out, const char *node, const char *ce_id, int64_t time_ms,
                      const Cairn__V1__HuntEvent *ev);

#endif
