/* SPDX-License-Identifier: MIT */
/*
 * cn_ce.c — the CloudEvent envelope codec (cn_ce.h): a cn_ce view to
 * protobuf io.cloudevents.v1.CloudEvent bytes and back, with the
 * CloudEvents rules checked both ways (required attributes present and
 * non-empty, specversion "1.0", attribute names 1-20 lower-case letters or
 * digits and not the names of the required fields, known attributes of
 * their spec type, timestamps within 0001..9999, an Any with a type URL).
 * Decoding is strict: a record that fails is shown raw by `cairn log dump`
 * rather than half-interpreted.  Duplicate attribute names are refused
 * (a protobuf map may not hold them; letting the last one win would make
 * two readers disagree).  Extension attributes come back sorted by name.
 *
 * Pure; any thread; no globals.  protobuf-c allocates through cn_alloc via
 * a per-call allocator whose data records whether an allocation failed,
 * which is how CN_ENOMEM is told apart from malformed input (protobuf-c
 * returns NULL for both).  A cn_ce_msg is an arena (see below) holding the
 * unpacked message, the extension array and any data unpacked with
 * cn_ce_msg_data; views borrow from it.
 */
#include "cn_ce.h"

#include "cn_alloc.h"
#include "cn_err.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef Io__Cloudevents__V1__CloudEvent pb_ce;
typedef Io__Cloudevents__V1__CloudEvent__AttributesEntry pb_entry;
typedef Io__Cloudevents__V1__CloudEvent__CloudEventAttributeValue pb_value;

/* google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z. */
#define CN__TS_MIN (-62135596800LL)
#define CN__TS_MAX 253402300799LL

/* ---- allocation ------------------------------------------------------------ */

typedef struct cn__pb_mem {
    int failed; /* an allocation returned NULL during this call */
} cn__pb_mem;

static void *cn__pb_alloc(void *ud, size_t n)
{
    void *p = cn_malloc(n ? n : 1);
    if (!p && ud)
        ((cn__pb_mem *)ud)->failed = 1;
    return p;
}

static void cn__pb_free(void *ud, void *p)
{
    (void)ud;
    cn_free(p);
}

static ProtobufCAllocator cn__pb_allocator(cn__pb_mem *mem)
{
    ProtobufCAllocator a = {cn__pb_alloc, cn__pb_free, mem};
    return a;
}

/* ---- time ---------------------------------------------------------------------- */

cn_ce_time cn_ce_time_from_ms(int64_t ms)
{
    cn_ce_time t;
    t.sec = ms / 1000;
    int64_t rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        t.sec--;
    }
    t.nsec = (int32_t)(rem * 1000000);
    return t;
}

int64_t cn_ce_time_to_ms(cn_ce_time t)
{
    return t.sec * 1000 + t.nsec / 1000000;
}

static int cn__time_ok(cn_ce_time t)
{
    return t.sec >= CN__TS_MIN && t.sec <= CN__TS_MAX && t.nsec >= 0 && t.nsec <= 999999999;
}

/* ---- names ------------------------------------------------------------------ */

static int cn__name_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9')))
            return 0;
    return n >= 1 && n <= CN_CE_ATTR_NAME_MAX;
}

/* Names with their own CloudEvent fields, or that cn_ce names itself. */
static int cn__name_reserved(const char *s)
{
    static const char *const reserved[] = {"id",        "source", "specversion", "type",
                                           "data",      "time",   "subject",     "datacontenttype",
                                           "dataschema"};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strcmp(s, reserved[i]) == 0)
            return 1;
    return 0;
}

static int cn__nonempty(const char *s)
{
    return s && *s;
}

/* ---- encode ----------------------------------------------------------------- */

static int cn__check_encodable(const cn_ce *ev)
{
    if (!cn__nonempty(ev->id) || !cn__nonempty(ev->source) || !cn__nonempty(ev->type))
        return CN_EINVAL;
    if (ev->specversion && strcmp(ev->specversion, CN_CE_SPECVERSION) != 0)
        return CN_EINVAL;
    if ((ev->subject && !*ev->subject) || (ev->datacontenttype && !*ev->datacontenttype) ||
        (ev->dataschema && !*ev->dataschema))
        return CN_EINVAL;
    if (ev->has_time && !cn__time_ok(ev->time))
        return CN_EINVAL;
    for (size_t i = 0; i < ev->n_ext; i++) {
        const cn_ce_attr *a = &ev->ext[i];
        if (!a->name || !cn__name_ok(a->name) || cn__name_reserved(a->name))
            return CN_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(ev->ext[j].name, a->name) == 0)
                return CN_EINVAL; /* FUTURE: O(n^2); events carry a handful */
        if (a->kind < CN_CE_BOOL || a->kind > CN_CE_TIMESTAMP)
            return CN_EINVAL;
        if ((a->kind == CN_CE_STRING || a->kind == CN_CE_URI || a->kind == CN_CE_URI_REF) && !a->s)
            return CN_EINVAL;
        if (a->kind == CN_CE_TIMESTAMP && !cn__time_ok(a->t))
            return CN_EINVAL;
    }
    switch (ev->data_kind) {
    case CN_CE_DATA_NONE:
    case CN_CE_DATA_BINARY:
        return 0;
    case CN_CE_DATA_TEXT:
        return ev->data_len && memchr(ev->data, 0, ev->data_len) ? CN_EINVAL : 0;
    case CN_CE_DATA_PROTO:
        return cn_ce_type_name(ev->type_url ? ev->type_url : "") ? 0 : CN_EINVAL;
    }
    return CN_EINVAL;
}

/* Attributes up to this many are encoded from stack scratch. */
#define CN__ENC_STACK 8

/* Scratch for one encode: attribute entries, values, pointers, timestamps. */
typedef struct cn__enc {
    pb_entry *entries;
    pb_value *values;
    pb_entry **ptrs;
    Google__Protobuf__Timestamp *ts;
    size_t n, nts;
} cn__enc;

static pb_value *cn__add(cn__enc *e, const char *name)
{
    /* The generated *_init functions, not the INIT macros: those brace a
     * union in a way gcc's -Wmissing-braces rejects. */
    io__cloudevents__v1__cloud_event__attributes_entry__init(&e->entries[e->n]);
    io__cloudevents__v1__cloud_event__cloud_event_attribute_value__init(&e->values[e->n]);
    e->entries[e->n].key = (char *)name;
    e->entries[e->n].value = &e->values[e->n];
    e->ptrs[e->n] = &e->entries[e->n];
    return &e->values[e->n++];
}

static void cn__set_ts(cn__enc *e, pb_value *v, cn_ce_time t)
{
    Google__Protobuf__Timestamp *ts = &e->ts[e->nts++];
    google__protobuf__timestamp__init(ts);
    ts->seconds = t.sec;
    ts->nanos = t.nsec;
    v->attr_case = IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_TIMESTAMP;
    v->ce_timestamp = ts;
}

static void cn__set_ext(cn__enc *e, const cn_ce_attr *a)
{
    pb_value *v = cn__add(e, a->name);
    v->attr_case = (Io__Cloudevents__V1__CloudEvent__CloudEventAttributeValue__AttrCase)a->kind;
    switch (a->kind) {
    case CN_CE_BOOL:
        v->ce_boolean = a->b != 0;
        break;
    case CN_CE_INT:
        v->ce_integer = a->i;
        break;
    case CN_CE_STRING:
        v->ce_string = (char *)a->s;
        break;
    case CN_CE_BYTES:
        v->ce_bytes.data = (uint8_t *)a->bytes;
        v->ce_bytes.len = a->bytes ? a->bytes_len : 0;
        break;
    case CN_CE_URI:
        v->ce_uri = (char *)a->s;
        break;
    case CN_CE_URI_REF:
        v->ce_uri_ref = (char *)a->s;
        break;
    case CN_CE_TIMESTAMP:
        cn__set_ts(e, v, a->t);
        break;
    }
}

static void cn__fill_attrs(cn__enc *e, const cn_ce *ev)
{
    if (ev->has_time)
        cn__set_ts(e, cn__add(e, "time"), ev->time);
    if (ev->subject) {
        pb_value *v = cn__add(e, "subject");
        v->attr_case =
            IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_STRING;
        v->ce_string = (char *)ev->subject;
    }
    if (ev->datacontenttype) {
        pb_value *v = cn__add(e, "datacontenttype");
        v->attr_case =
            IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_STRING;
        v->ce_string = (char *)ev->datacontenttype;
    }
    if (ev->dataschema) {
        pb_value *v = cn__add(e, "dataschema");
        v->attr_case = IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_URI;
        v->ce_uri = (char *)ev->dataschema;
    }
    for (size_t i = 0; i < ev->n_ext; i++)
        cn__set_ext(e, &ev->ext[i]);
}

/* Pack msg onto the end of out. */
static int cn__pack(const pb_ce *msg, cn_buf *out)
{
    size_t need = io__cloudevents__v1__cloud_event__get_packed_size(msg);
    int rc = cn_buf_reserve(out, need);
    if (rc)
        return rc;
    size_t got = io__cloudevents__v1__cloud_event__pack(msg, out->data + out->len);
    if (got != need)
        return CN_EINVAL; /* cannot happen for a message we built; never append half */
    out->len += got;
    return 0;
}

int cn_ce_encode(const cn_ce *ev, cn_buf *out)
{
    int rc = cn__check_encodable(ev);
    if (rc)
        return rc;
    size_t n = (size_t)(ev->has_time != 0) + !!ev->subject + !!ev->datacontenttype +
               !!ev->dataschema + ev->n_ext;
    cn__enc e = {0};
    /* The usual event (time, subject, content type, a few extensions) is
     * assembled on the stack; only long attribute lists touch the heap. */
    pb_entry s_entries[CN__ENC_STACK];
    pb_value s_values[CN__ENC_STACK];
    Google__Protobuf__Timestamp s_ts[CN__ENC_STACK];
    pb_entry *s_ptrs[CN__ENC_STACK];
    unsigned char *block = NULL;
    if (n > CN__ENC_STACK) {
        size_t per = sizeof(pb_entry) + sizeof(pb_value) + sizeof(pb_entry *) +
                     sizeof(Google__Protobuf__Timestamp);
        block = cn_calloc(n, per);
        if (!block)
            return CN_ENOMEM;
        e.entries = (pb_entry *)block;
        e.values = (pb_value *)(e.entries + n);
        e.ts = (Google__Protobuf__Timestamp *)(e.values + n);
        e.ptrs = (pb_entry **)(e.ts + n);
    } else {
        e.entries = s_entries;
        e.values = s_values;
        e.ts = s_ts;
        e.ptrs = s_ptrs;
    }
    cn__fill_attrs(&e, ev);
    char *text = NULL;
    pb_ce msg;
    Google__Protobuf__Any any;
    io__cloudevents__v1__cloud_event__init(&msg);
    google__protobuf__any__init(&any);
    msg.id = (char *)ev->id;
    msg.source = (char *)ev->source;
    msg.spec_version = (char *)CN_CE_SPECVERSION;
    msg.type = (char *)ev->type;
    msg.n_attributes = e.n;
    msg.attributes = e.ptrs;
    switch (ev->data_kind) {
    case CN_CE_DATA_NONE:
        break;
    case CN_CE_DATA_BINARY:
        msg.data_case = IO__CLOUDEVENTS__V1__CLOUD_EVENT__DATA_BINARY_DATA;
        msg.binary_data.data = (uint8_t *)ev->data;
        msg.binary_data.len = ev->data ? ev->data_len : 0;
        break;
    case CN_CE_DATA_TEXT:
        /* protobuf-c strings are NUL-terminated: copy (checked: no NUL inside). */
        text = cn_strndup(ev->data ? (const char *)ev->data : "", ev->data ? ev->data_len : 0);
        if (!text) {
            cn_free(block);
            return CN_ENOMEM;
        }
        msg.data_case = IO__CLOUDEVENTS__V1__CLOUD_EVENT__DATA_TEXT_DATA;
        msg.text_data = text;
        break;
    case CN_CE_DATA_PROTO:
        any.type_url = (char *)ev->type_url;
        any.value.data = (uint8_t *)ev->data;
        any.value.len = ev->data ? ev->data_len : 0;
        msg.data_case = IO__CLOUDEVENTS__V1__CLOUD_EVENT__DATA_PROTO_DATA;
        msg.proto_data = &any;
        break;
    }
    rc = cn__pack(&msg, out);
    cn_free(text);
    cn_free(block);
    return rc;
}

/* ---- decode ----------------------------------------------------------------- */

/* A decoded event lives in an arena: protobuf-c makes ~20 small
 * allocations per CloudEvent (strings, map entries, values, timestamp,
 * Any), and a bump allocator inside the message turns them into none for a
 * typical ping (the inline 1 KiB) or a few 4 KiB chunks, all released at
 * once by cn_ce_msg_free.  protobuf-c's frees become no-ops. */
#define CN__ARENA_INLINE 1024
#define CN__CHUNK 4096
#define CN__ALIGN ((size_t) _Alignof(max_align_t))

typedef struct cn__chunk {
    struct cn__chunk *next;
    _Alignas(max_align_t) unsigned char data[];
} cn__chunk;

struct cn_ce_msg {
    int failed;         /* an arena allocation failed during unpack */
    unsigned char *cur; /* bump pointer and bytes left behind it */
    size_t left;
    cn__chunk *chunks; /* overflow chunks, newest first */
    pb_ce *pb;
    _Alignas(max_align_t) unsigned char inline_buf[CN__ARENA_INLINE];
};

static void *cn__arena_alloc(void *ud, size_t n)
{
    cn_ce_msg *m = ud;
    if (n > SIZE_MAX - CN__CHUNK)
        goto fail;
    n = (n + CN__ALIGN - 1) & ~(CN__ALIGN - 1);
    if (n <= m->left) {
        void *p = m->cur;
        m->cur += n;
        m->left -= n;
        return p;
    }
    /* Large pieces get a chunk of their own; small ones start a new chunk
     * (the rest of the old one is abandoned: at most a few hundred bytes). */
    size_t cap = n > CN__CHUNK / 2 ? n : CN__CHUNK;
    cn__chunk *c = cn_malloc(sizeof(cn__chunk) + cap);
    if (!c)
        goto fail;
    c->next = m->chunks;
    m->chunks = c;
    if (cap == CN__CHUNK) {
        m->cur = c->data + n;
        m->left = cap - n;
    }
    return c->data;
fail:
    m->failed = 1;
    return NULL;
}

static void cn__arena_free(void *ud, void *p)
{
    (void)ud;
    (void)p; /* released with the whole arena */
}

static int cn__attr_cmp(const void *a, const void *b)
{
    return strcmp(((const cn_ce_attr *)a)->name, ((const cn_ce_attr *)b)->name);
}

static int cn__ts_from_pb(const Google__Protobuf__Timestamp *ts, cn_ce_time *out)
{
    if (!ts)
        return CN_EPROTO;
    out->sec = ts->seconds;
    out->nsec = ts->nanos;
    return cn__time_ok(*out) ? 0 : CN_EPROTO;
}

/* A string attribute value that must be of type ce_string (or ce_uri). */
static int cn__str_attr(const pb_value *v, int uri, const char **out)
{
    const char *s;
    if (uri &&
        v->attr_case == IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_URI)
        s = v->ce_uri;
    else if (!uri &&
             v->attr_case ==
                 IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_STRING)
        s = v->ce_string;
    else
        return CN_EPROTO;
    if (!cn__nonempty(s))
        return CN_EPROTO;
    *out = s;
    return 0;
}

static int cn__ext_from_pb(const char *name, const pb_value *v, cn_ce_attr *a)
{
    memset(a, 0, sizeof(*a));
    a->name = name;
    a->kind = (enum cn_ce_attr_kind)v->attr_case;
    switch (v->attr_case) {
    case IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_BOOLEAN:
        a->b = v->ce_boolean != 0;
        return 0;
    case IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_INTEGER:
        a->i = v->ce_integer;
        return 0;
    case IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_STRING:
        a->s = v->ce_string;
        return 0;
    case IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_BYTES:
        a->bytes = v->ce_bytes.data;
        a->bytes_len = v->ce_bytes.len;
        return 0;
    case IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_URI:
        a->s = v->ce_uri;
        return 0;
    case IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_URI_REF:
        a->s = v->ce_uri_ref;
        return 0;
    case IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_TIMESTAMP:
        return cn__ts_from_pb(v->ce_timestamp, &a->t);
    default:
        return CN_EPROTO; /* an attribute without a value */
    }
}

/* One map entry: a named attribute into ev, anything else into ext. */
static int cn__take_attr(const pb_entry *en, cn_ce *ev, cn_ce_attr *ext, size_t *n_ext)
{
    const char *k = en->key;
    const pb_value *v = en->value;
    if (!k || !v || !cn__name_ok(k))
        return CN_EPROTO;
    if (strcmp(k, "time") == 0) {
        if (ev->has_time ||
            v->attr_case !=
                IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_TIMESTAMP)
            return CN_EPROTO;
        ev->has_time = 1;
        return cn__ts_from_pb(v->ce_timestamp, &ev->time);
    }
    if (strcmp(k, "subject") == 0)
        return ev->subject ? CN_EPROTO : cn__str_attr(v, 0, &ev->subject);
    if (strcmp(k, "datacontenttype") == 0)
        return ev->datacontenttype ? CN_EPROTO : cn__str_attr(v, 0, &ev->datacontenttype);
    if (strcmp(k, "dataschema") == 0)
        return ev->dataschema ? CN_EPROTO : cn__str_attr(v, 1, &ev->dataschema);
    if (cn__name_reserved(k))
        return CN_EPROTO; /* id, source, specversion, type, data: fields, not attributes */
    return cn__ext_from_pb(k, v, &ext[(*n_ext)++]);
}

static int cn__take_data(const pb_ce *pb, cn_ce *ev)
{
    switch (pb->data_case) {
    case IO__CLOUDEVENTS__V1__CLOUD_EVENT__DATA_BINARY_DATA:
        ev->data_kind = CN_CE_DATA_BINARY;
        ev->data = pb->binary_data.data;
        ev->data_len = pb->binary_data.len;
        return 0;
    case IO__CLOUDEVENTS__V1__CLOUD_EVENT__DATA_TEXT_DATA:
        ev->data_kind = CN_CE_DATA_TEXT;
        ev->data = (const unsigned char *)pb->text_data;
        ev->data_len = strlen(pb->text_data);
        return 0;
    case IO__CLOUDEVENTS__V1__CLOUD_EVENT__DATA_PROTO_DATA:
        if (!pb->proto_data || !cn_ce_type_name(pb->proto_data->type_url))
            return CN_EPROTO;
        ev->data_kind = CN_CE_DATA_PROTO;
        ev->type_url = pb->proto_data->type_url;
        ev->data = pb->proto_data->value.data;
        ev->data_len = pb->proto_data->value.len;
        return 0;
    default:
        ev->data_kind = CN_CE_DATA_NONE;
        return 0;
    }
}

static int cn__view(cn_ce_msg *m, cn_ce *ev)
{
    const pb_ce *pb = m->pb;
    memset(ev, 0, sizeof(*ev));
    if (!cn__nonempty(pb->id) || !cn__nonempty(pb->source) || !cn__nonempty(pb->type) ||
        !pb->spec_version || strcmp(pb->spec_version, CN_CE_SPECVERSION) != 0)
        return CN_EPROTO;
    ev->id = pb->id;
    ev->source = pb->source;
    ev->specversion = pb->spec_version;
    ev->type = pb->type;
    cn_ce_attr *ext = NULL;
    if (pb->n_attributes) {
        if (pb->n_attributes > SIZE_MAX / sizeof(cn_ce_attr))
            return CN_ENOMEM;
        ext = cn__arena_alloc(m, pb->n_attributes * sizeof(cn_ce_attr));
        if (!ext)
            return CN_ENOMEM;
    }
    size_t n_ext = 0;
    for (size_t i = 0; i < pb->n_attributes; i++) {
        int rc = cn__take_attr(pb->attributes[i], ev, ext, &n_ext);
        if (rc)
            return rc;
    }
    /* Sorted, duplicates are adjacent: refuse them in O(n log n). */
    if (n_ext > 1)
        qsort(ext, n_ext, sizeof(cn_ce_attr), cn__attr_cmp);
    for (size_t i = 1; i < n_ext; i++)
        if (strcmp(ext[i - 1].name, ext[i].name) == 0)
            return CN_EPROTO;
    ev->ext = ext;
    ev->n_ext = n_ext;
    return cn__take_data(pb, ev);
}

int cn_ce_decode(const unsigned char *p, size_t n, cn_ce_msg **out, cn_ce *ev)
{
    *out = NULL;
    cn_ce_msg *m = cn_malloc(sizeof(*m)); /* the inline arena needs no zeroing */
    if (!m)
        return CN_ENOMEM;
    m->failed = 0;
    m->cur = m->inline_buf;
    m->left = sizeof(m->inline_buf);
    m->chunks = NULL;
    ProtobufCAllocator a = {cn__arena_alloc, cn__arena_free, m};
    m->pb = io__cloudevents__v1__cloud_event__unpack(&a, n, p);
    if (!m->pb) {
        int oom = m->failed;
        cn_ce_msg_free(m);
        return oom ? CN_ENOMEM : CN_EDECODE;
    }
    int rc = cn__view(m, ev);
    if (rc) {
        cn_ce_msg_free(m);
        memset(ev, 0, sizeof(*ev));
        return rc;
    }
    *out = m;
    return 0;
}

void cn_ce_msg_free(cn_ce_msg *m)
{
    if (!m)
        return;
    for (cn__chunk *c = m->chunks, *next; c; c = next) {
        next = c->next;
        cn_free(c);
    }
    cn_free(m);
}

/* ---- data ------------------------------------------------------------------ */

const char *cn_ce_type_name(const char *type_url)
{
    const char *slash = type_url ? strrchr(type_url, '/') : NULL;
    return slash && slash[1] ? slash + 1 : NULL;
}

const ProtobufCMessageDescriptor *cn_ce_known_type(const char *type_url)
{
    static const ProtobufCMessageDescriptor *const known[] = {
        &cairn__v1__ble_ping__descriptor, &cairn__v1__hunt_event__descriptor,
        &cairn__v1__ping_batch__descriptor, &cairn__v1__ack__descriptor,
        &cairn__v1__ping_error__descriptor};
    const char *name = cn_ce_type_name(type_url);
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(known[i]->name, name) == 0)
            return known[i];
    return NULL;
}

int cn_ce_data_unpack(const cn_ce *ev, const ProtobufCMessageDescriptor *d, ProtobufCMessage **out)
{
    *out = NULL;
    const char *name = ev->data_kind == CN_CE_DATA_PROTO ? cn_ce_type_name(ev->type_url) : NULL;
    if (!name || strcmp(name, d->name) != 0)
        return CN_ENOENT;
    cn__pb_mem mem = {0};
    ProtobufCAllocator a = cn__pb_allocator(&mem);
    *out = protobuf_c_message_unpack(d, &a, ev->data_len,
                                     ev->data_len ? ev->data : (const uint8_t *)"");
    if (!*out)
        return mem.failed ? CN_ENOMEM : CN_EDECODE;
    return 0;
}

int cn_ce_msg_data(cn_ce_msg *m, const cn_ce *ev, const ProtobufCMessageDescriptor *d,
                   const ProtobufCMessage **out)
{
    *out = NULL;
    const char *name = ev->data_kind == CN_CE_DATA_PROTO ? cn_ce_type_name(ev->type_url) : NULL;
    if (!name || strcmp(name, d->name) != 0)
        return CN_ENOENT;
    m->failed = 0;
    ProtobufCAllocator a = {cn__arena_alloc, cn__arena_free, m};
    *out = protobuf_c_message_unpack(d, &a, ev->data_len,
                                     ev->data_len ? ev->data : (const uint8_t *)"");
    if (!*out)
        return m->failed ? CN_ENOMEM : CN_EDECODE;
    return 0;
}

void cn_ce_data_free(ProtobufCMessage *m)
{
    if (!m)
        return;
    ProtobufCAllocator a = cn__pb_allocator(NULL);
    protobuf_c_message_free_unpacked(m, &a);
}
