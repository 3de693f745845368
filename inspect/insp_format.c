/* SPDX-License-Identifier: MIT */
/*
 * insp_format.c — renders one log record as `cairn log dump` prints it
 * (json, text or raw; the layouts are specified in insp.h).  Values
 * marked as structured-mode CloudEvents (header content-type:
 * application/cloudevents+protobuf) are decoded with proto/cn_ce and their
 * cairn.v1 data shown as JSON, so a ping's client id is visible; anything
 * that fails to decode is shown as its bytes with the reason, never
 * dropped.  Guarantees: json output is always one valid JSON object per
 * line whatever the record holds (see insp_json.c); on error nothing is
 * appended.  Pure; any thread; the caller owns out.
 */
#include "insp.h"

#include "cn_bytes.h"
#include "cn_ce.h"
#include "cn_err.h"
#include "cn_time.h"
#include "insp_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int insp_format_parse(const char *s, enum insp_format *out)
{
    static const char *const names[] = {"json", "text", "raw"};
    for (int i = 0; i < 3; i++)
        if (s && strcmp(s, names[i]) == 0) {
            *out = (enum insp_format)i;
            return 0;
        }
    return CN_EINVAL;
}

/* ---- shared pieces -------------------------------------------------------------- */

/* Is this media type (parameters after ';' ignored) ours? */
static int insp__is_ce_type(const unsigned char *v, size_t n)
{
    size_t ctl = strlen(CN_CE_CONTENT_TYPE);
    if (!v || n < ctl || strncasecmp((const char *)v, CN_CE_CONTENT_TYPE, ctl) != 0)
        return 0;
    for (size_t i = ctl; i < n; i++) {
        if (v[i] == ';')
            return 1;
        if (v[i] != ' ' && v[i] != '\t')
            return 0;
    }
    return 1;
}

/* Does rec carry the structured-mode CloudEvent content type? */
static int insp__is_cloudevent(const lg_record *rec)
{
    for (size_t i = 0; i < rec->header_count; i++) {
        lg_header h;
        if (lg_record_header(rec, i, &h))
            return 0;
        if (h.key_len == 12 && strncasecmp((const char *)h.key, "content-type", 12) == 0)
            return insp__is_ce_type(h.value, h.value_len);
    }
    return 0;
}

/* The record timestamp as RFC 3339 text; null (json) or the bare number
 * (text) when negative — Kafka's -1 means "none" and Kafka refuses other
 * negative timestamps — or past year 9999. */
static int insp__ts_text(cn_buf *b, int64_t ms, int quoted)
{
    size_t start = b->len;
    int rc = quoted ? cn_buf_append(b, "\"", 1) : 0;
    rc = rc ? rc
            : (ms < 0 ? CN_ERANGE : insp__rfc3339(b, ms / 1000, (int32_t)(ms % 1000) * 1000000));
    if (rc == CN_ERANGE) {
        b->len = start;
        return quoted ? cn_buf_append(b, "null", 4) : cn_buf_printf(b, "%" PRId64, ms);
    }
    return rc ? rc : (quoted ? cn_buf_append(b, "\"", 1) : 0);
}

/* ---- the CloudEvent as JSON ----------------------------------------------------- */

static int insp__json_ext(cn_buf *b, const cn_ce_attr *a)
{
    int rc = cn_buf_printf(b, ",\"%s\":", a->name); /* names are [a-z0-9]{1,20} */
    if (rc)
        return rc;
    switch (a->kind) {
    case CN_CE_BOOL:
        return a->b ? cn_buf_append(b, "true", 4) : cn_buf_append(b, "false", 5);
    case CN_CE_INT:
        return cn_buf_printf(b, "%" PRId32, a->i);
    case CN_CE_BYTES:
        rc = cn_buf_append(b, "\"", 1);
        rc = rc ? rc : insp__base64(b, a->bytes, a->bytes ? a->bytes_len : 0);
        return rc ? rc : cn_buf_append(b, "\"", 1);
    case CN_CE_TIMESTAMP:
        rc = cn_buf_append(b, "\"", 1);
        rc = rc ? rc : insp__rfc3339(b, a->t.sec, a->t.nsec);
        return rc ? rc : cn_buf_append(b, "\"", 1);
    default: /* string, URI, URI-reference */
        return cn_json_cstr(b, a->s);
    }
}

static int insp__json_data_b64(cn_buf *b, const cn_ce *ev)
{
    int rc = cn_buf_append(b, ",\"data_base64\":\"", 16);
    rc = rc ? rc : insp__base64(b, ev->data, ev->data ? ev->data_len : 0);
    return rc ? rc : cn_buf_append(b, "\"", 1);
}

/* Proto data: decoded when the type is one of ours, else base64. */
static int insp__json_proto_data(cn_buf *b, cn_ce_msg *msg, const cn_ce *ev)
{
    int rc = cn_buf_append(b, ",\"data_type_url\":", 17);
    rc = rc ? rc : cn_json_cstr(b, ev->type_url);
    if (rc)
        return rc;
    const ProtobufCMessageDescriptor *d = cn_ce_known_type(ev->type_url);
    const ProtobufCMessage *m = NULL;
    int urc = d ? cn_ce_msg_data(msg, ev, d, &m) : CN_ENOENT;
    if (urc == CN_ENOMEM)
        return urc;
    if (urc) {
        rc = insp__json_data_b64(b, ev);
        if (!rc && urc == CN_EDECODE)
            rc = cn_buf_printf(b, ",\"data_error\":\"%s\"", cn_strerror(urc));
        return rc;
    }
    rc = cn_buf_append(b, ",\"data\":", 8);
    return rc ? rc : insp__json_pb(b, m);
}

static int insp__json_ce_data(cn_buf *b, cn_ce_msg *msg, const cn_ce *ev)
{
    switch (ev->data_kind) {
    case CN_CE_DATA_PROTO:
        return insp__json_proto_data(b, msg, ev);
    case CN_CE_DATA_BINARY:
        return insp__json_data_b64(b, ev);
    case CN_CE_DATA_TEXT: {
        int rc = cn_buf_append(b, ",\"data\":", 8);
        return rc ? rc : cn_json_str(b, ev->data, ev->data_len);
    }
    default:
        return 0;
    }
}

/* A named optional string attribute, if present. */
static int insp__json_opt(cn_buf *b, const char *name, const char *v)
{
    if (!v)
        return 0;
    int rc = cn_buf_printf(b, ",\"%s\":", name);
    return rc ? rc : cn_json_cstr(b, v);
}

static int insp__json_ce(cn_buf *b, cn_ce_msg *msg, const cn_ce *ev)
{
    int rc = cn_buf_append(b, "{\"specversion\":", 15);
    rc = rc ? rc : cn_json_cstr(b, ev->specversion);
    rc = rc ? rc : insp__json_opt(b, "id", ev->id);
    rc = rc ? rc : insp__json_opt(b, "source", ev->source);
    rc = rc ? rc : insp__json_opt(b, "type", ev->type);
    if (!rc && ev->has_time) {
        rc = cn_buf_append(b, ",\"time\":\"", 9);
        rc = rc ? rc : insp__rfc3339(b, ev->time.sec, ev->time.nsec);
        rc = rc ? rc : cn_buf_append(b, "\"", 1);
    }
    rc = rc ? rc : insp__json_opt(b, "subject", ev->subject);
    rc = rc ? rc : insp__json_opt(b, "datacontenttype", ev->datacontenttype);
    rc = rc ? rc : insp__json_opt(b, "dataschema", ev->dataschema);
    for (size_t i = 0; i < ev->n_ext && !rc; i++)
        rc = insp__json_ext(b, &ev->ext[i]);
    rc = rc ? rc : insp__json_ce_data(b, msg, ev);
    return rc ? rc : cn_buf_append(b, "}", 1);
}

/* ---- json ----------------------------------------------------------------------- */

static int insp__json_headers(cn_buf *b, const lg_record *rec)
{
    int rc = cn_buf_append(b, ",\"headers\":[", 12);
    for (size_t i = 0; i < rec->header_count && !rc; i++) {
        lg_header h;
        rc = lg_record_header(rec, i, &h);
        rc = rc ? rc : cn_buf_append(b, i ? ",{\"key\":" : "{\"key\":", i ? 8 : 7);
        rc = rc ? rc : cn_json_str(b, h.key, h.key_len);
        rc = rc ? rc : insp__json_bytes_member(b, 1, "value", h.value, h.value_len);
        rc = rc ? rc : cn_buf_append(b, "}", 1);
    }
    return rc ? rc : cn_buf_append(b, "]", 1);
}

static int insp__json_value(cn_buf *b, const lg_record *rec)
{
    if (rec->value && insp__is_cloudevent(rec)) {
        cn_ce_msg *m;
        cn_ce ev;
        int drc = cn_ce_decode(rec->value, rec->value_len, &m, &ev);
        if (drc == CN_ENOMEM)
            return drc;
        if (!drc) {
            int rc = cn_buf_append(b, ",\"value\":", 9);
            rc = rc ? rc : insp__json_ce(b, m, &ev);
            cn_ce_msg_free(m);
            return rc;
        }
        int rc = cn_buf_printf(b, ",\"value_error\":\"%s\"", cn_strerror(drc));
        if (rc)
            return rc;
    }
    return insp__json_bytes_member(b, 1, "value", rec->value, rec->value_len);
}

/* The type of a control record (its key: version i16, type i16). */
static const char *insp__ctl_name(const lg_record *rec, char *tmp, size_t cap)
{
    if (!rec->key || rec->key_len < 4)
        return "UNKNOWN";
    int t = (int16_t)cn_rd_be16(rec->key + 2);
    if (t == 0)
        return "ABORT";
    if (t == 1)
        return "COMMIT";
    snprintf(tmp, cap, "TYPE_%d", t);
    return tmp;
}

static int insp__json_record(cn_buf *b, const char *topic, int32_t partition, const lg_record *rec,
                             const insp_txn *tx)
{
    int rc = cn_buf_append(b, "{", 1);
    if (!rc && topic) {
        rc = cn_buf_append(b, "\"topic\":", 8);
        rc = rc ? rc : cn_json_cstr(b, topic);
        rc = rc ? rc : cn_buf_append(b, ",", 1);
    }
    rc = rc ? rc
            : cn_buf_printf(b, "\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"timestamp\":",
                            partition, rec->offset);
    rc = rc ? rc : insp__ts_text(b, rec->timestamp, 1);
    rc = rc ? rc : cn_buf_printf(b, ",\"timestamp_ms\":%" PRId64, rec->timestamp);
    if (!rc && tx && tx->control) {
        char tmp[32];
        rc = cn_buf_printf(
            b, ",\"control\":\"%s\",\"producer_id\":%" PRId64 ",\"producer_epoch\":%d}\n",
            insp__ctl_name(rec, tmp, sizeof(tmp)), tx->producer_id, (int)tx->producer_epoch);
        return rc;
    }
    if (!rc && tx && tx->status)
        rc = cn_buf_printf(b, ",\"transaction\":\"%s\",\"producer_id\":%" PRId64, tx->status,
                           tx->producer_id);
    rc = rc ? rc : insp__json_bytes_member(b, 1, "key", rec->key, rec->key_len);
    rc = rc ? rc : insp__json_headers(b, rec);
    rc = rc ? rc : insp__json_value(b, rec);
    return rc ? rc : cn_buf_append(b, "}\n", 2);
}

/* ---- text ----------------------------------------------------------------------- */

static int insp__text_b64(cn_buf *b, const char *name, const unsigned char *p, size_t n)
{
    int rc = cn_buf_printf(b, " %s_b64=", name);
    return rc ? rc : insp__base64(b, p, p ? n : 0);
}

/* name="text" / name_b64=... / name=null, with a leading space. */
static int insp__text_bytes(cn_buf *b, const char *name, const unsigned char *p, size_t n)
{
    if (!p)
        return cn_buf_printf(b, " %s=null", name);
    if (cn_utf8_valid(p, n)) {
        int rc = cn_buf_printf(b, " %s=", name);
        return rc ? rc : cn_json_str(b, p, n);
    }
    return insp__text_b64(b, name, p, n);
}

/* A CloudEvent type is shown bare when it is a plain dotted token (the
 * usual case: cairn.ble.ping), quoted and escaped otherwise. */
static int insp__text_token(cn_buf *b, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return cn_json_cstr(b, s);
    }
    return n ? cn_buf_append(b, s, n) : cn_json_cstr(b, s);
}

static int insp__text_ce(cn_buf *b, cn_ce_msg *msg, const cn_ce *ev)
{
    int rc = cn_buf_append(b, " ", 1);
    rc = rc ? rc : insp__text_token(b, ev->type);
    rc = rc ? rc : cn_buf_append(b, " id=", 4);
    rc = rc ? rc : cn_json_cstr(b, ev->id);
    rc = rc ? rc : cn_buf_append(b, " source=", 8);
    rc = rc ? rc : cn_json_cstr(b, ev->source);
    if (!rc && ev->subject) {
        rc = cn_buf_append(b, " subject=", 9);
        rc = rc ? rc : cn_json_cstr(b, ev->subject);
    }
    if (rc)
        return rc;
    switch (ev->data_kind) {
    case CN_CE_DATA_PROTO: {
        const ProtobufCMessageDescriptor *d = cn_ce_known_type(ev->type_url);
        const ProtobufCMessage *m = NULL;
        int urc = d ? cn_ce_msg_data(msg, ev, d, &m) : CN_ENOENT;
        if (urc == CN_ENOMEM)
            return urc;
        if (!urc) {
            rc = cn_buf_append(b, " data=", 6);
            return rc ? rc : insp__json_pb(b, m);
        }
        rc = cn_buf_append(b, " data_type_url=", 15);
        rc = rc ? rc : cn_json_cstr(b, ev->type_url);
        return rc ? rc : insp__text_b64(b, "data", ev->data, ev->data_len);
    }
    case CN_CE_DATA_BINARY:
        return insp__text_b64(b, "data", ev->data, ev->data_len);
    case CN_CE_DATA_TEXT:
        rc = cn_buf_append(b, " data=", 6);
        return rc ? rc : cn_json_str(b, ev->data, ev->data_len);
    default:
        return 0;
    }
}

static int insp__text_record(cn_buf *b, const char *topic, int32_t partition, const lg_record *rec,
                             const insp_txn *tx)
{
    int rc = topic ? cn_buf_printf(b, "%s/", topic) : 0;
    rc = rc ? rc : cn_buf_printf(b, "%" PRId32 "@%" PRId64 " ", partition, rec->offset);
    rc = rc ? rc : insp__ts_text(b, rec->timestamp, 0);
    if (!rc && tx && tx->control) {
        char tmp[32];
        return cn_buf_printf(b, " control=%s producer=%" PRId64 "/%d\n",
                             insp__ctl_name(rec, tmp, sizeof(tmp)), tx->producer_id,
                             (int)tx->producer_epoch);
    }
    if (!rc && tx && tx->status)
        rc = cn_buf_printf(b, " txn=%s producer=%" PRId64, tx->status, tx->producer_id);
    rc = rc ? rc : insp__text_bytes(b, "key", rec->key, rec->key_len);
    if (rc)
        return rc;
    if (rec->value && insp__is_cloudevent(rec)) {
        cn_ce_msg *m;
        cn_ce ev;
        int drc = cn_ce_decode(rec->value, rec->value_len, &m, &ev);
        if (drc == CN_ENOMEM)
            return drc;
        if (!drc) {
            rc = insp__text_ce(b, m, &ev);
            cn_ce_msg_free(m);
            return rc ? rc : cn_buf_append(b, "\n", 1);
        }
        rc = cn_buf_printf(b, " value_error=\"%s\"", cn_strerror(drc));
    }
    if (!rc && rec->header_count)
        rc = cn_buf_printf(b, " headers=%zu", rec->header_count);
    rc = rc ? rc : insp__text_bytes(b, "value", rec->value, rec->value_len);
    return rc ? rc : cn_buf_append(b, "\n", 1);
}

/* ---- entry point ---------------------------------------------------------------- */

int insp_format_record(cn_buf *out, enum insp_format fmt, const char *topic, int32_t partition,
                       const lg_record *rec)
{
    return insp_format_record_txn(out, fmt, topic, partition, rec, NULL);
}

int insp_format_record_txn(cn_buf *out, enum insp_format fmt, const char *topic, int32_t partition,
                           const lg_record *rec, const insp_txn *tx)
{
    size_t start = out->len;
    int rc;
    switch (fmt) {
    case INSP_FMT_JSON:
        rc = insp__json_record(out, topic, partition, rec, tx);
        break;
    case INSP_FMT_TEXT:
        rc = insp__text_record(out, topic, partition, rec, tx);
        break;
    case INSP_FMT_RAW:
        rc =
            rec->value && !(tx && tx->control) ? cn_buf_append(out, rec->value, rec->value_len) : 0;
        break;
    default:
        rc = CN_EINVAL;
    }
    if (rc)
        out->len = start;
    return rc;
}
