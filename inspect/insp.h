/* SPDX-License-Identifier: MIT */
/*
 * insp.h — renders one log record for `cairn log dump --format
 * json|text|raw` (and `tail`).
 *
 * json: one object per line:
 *   {"topic":"ble-raw","partition":0,"offset":12,
 *    "timestamp":"2026-11-28T08:53:20.123Z","timestamp_ms":1764320000123,
 *    "key":"p-1","headers":[{"key":"content-type","value":"..."}],
 *    "value":...}
 *   "topic" only when one is given; "timestamp" is null when the value is
 *   negative (Kafka's -1 means "no timestamp") or past year 9999.
 *   Byte strings (key, header values, value) are JSON strings when they
 *   are valid UTF-8, else base64 under the name with "_b64" appended
 *   ("key_b64", "value_b64"); null stays null.
 *   A value whose content-type header is application/cloudevents+protobuf
 *   and which decodes is shown as the CloudEvent, laid out like the
 *   CloudEvents JSON format: "specversion", "id", "source", "type", then
 *   "time" (RFC 3339), "subject", "datacontenttype", "dataschema" and
 *   extension attributes (bytes as base64, timestamps as RFC 3339), then
 *   the data: protobuf data of a known cairn.v1 type as a JSON object
 *   under "data" (original field names, all fields, 64-bit integers as
 *   numbers) with its type URL in "data_type_url"; unknown protobuf data
 *   and binary data as "data_base64"; text data as "data".  A value that
 *   claims to be a CloudEvent but does not decode is shown as bytes, with
 *   "value_error" saying why.
 *   Every string is JSON-escaped; invalid UTF-8 inside strings that must
 *   be strings (header keys, CloudEvent strings) becomes U+FFFD, so the
 *   output is always valid JSON.
 * text: one compact human line:
 *   ble-raw/0@12 2026-11-28T08:53:20.123Z key="p-1" cairn.ble.ping
 *   id="..." source="/gateway/n1" subject="p-1" data={...}
 *   (non-CloudEvent values: value="..." or value_b64=...).
 * raw: the value bytes exactly, nothing added (nothing for a null value).
 *
 * Transactions (insp_format_record_txn): a transaction marker (a control
 * record) is shown as the marker, without key or value:
 *   json: {..."offset":14,"timestamp":...,"timestamp_ms":...,
 *          "control":"COMMIT","producer_id":1000,"producer_epoch":0}
 *   text: ble-raw/0@14 2026-... control=COMMIT producer=1000/0
 *   raw:  nothing;
 * and a record of a transactional batch gets its transaction's outcome
 * after the timestamp: json "transaction":"committed"|"aborted"|"open",
 * "producer_id":N; text txn=aborted producer=N.
 *
 * Pure; any thread; appends to a caller-owned cn_buf; allocation via
 * cn_alloc.  Errors: CN_ENOMEM, CN_EINVAL (unknown format).
 */
#ifndef INSP_H
#define INSP_H

#include <stdint.h>

#include "cn_buf.h"
#include "lg_batch.h"

enum insp_format { INSP_FMT_JSON = 0, INSP_FMT_TEXT = 1, INSP_FMT_RAW = 2 };

/** "json", "text" or "raw".  @return 0 or CN_EINVAL. */
int insp_format_parse(const char *s, enum insp_format *out);

/**
 * Append the rendering of rec (from topic/partition; topic may be NULL)
 * to out.  json and text end with '\n'.  On error out is unchanged.
 * @return 0; CN_ENOMEM; CN_EINVAL.
 */
int insp_format_record(cn_buf *out, enum insp_format fmt, const char *topic, int32_t partition,
                       const lg_record *rec);

/** What the batch of a record says about transactions. */
typedef struct insp_txn {
    int control;         /* a control record: shown as a transaction marker */
    int64_t producer_id; /* the batch's producer */
    int16_t producer_epoch;
    const char *status; /* a transactional data record: "committed", "aborted" or "open";
                           NULL for a record outside transactions */
} insp_txn;

/** insp_format_record with the record's transaction (tx NULL: none). */
int insp_format_record_txn(cn_buf *out, enum insp_format fmt, const char *topic, int32_t partition,
                           const lg_record *rec, const insp_txn *tx);

#endif
