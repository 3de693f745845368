/* SPDX-License-Identifier: MIT */
/*
 * test_cn_ce.c — the CloudEvent envelope (proto/cn_ce.h):
 *   - the wire bytes use the spec's field numbers (checked against bytes
 *     assembled by hand from the CloudEvents protobuf format's
 *     cloudevents.proto);
 *   - every attribute kind and data kind round-trips; ping and hunt events
 *     carry the documented type, source, subject, time, content type and
 *     data (the client's ping id survives);
 *   - events that break the CloudEvents rules are refused on encode
 *     (CN_EINVAL) and, crafted directly with protobuf-c, on decode
 *     (CN_EPROTO); garbage and truncations never crash;
 *   - allocation failure at every step: CN_ENOMEM, no leak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_ce.h"
#include "cn_err.h"
#include "cn_testutil.h"

typedef Io__Cloudevents__V1__CloudEvent pb_ce;
typedef Io__Cloudevents__V1__CloudEvent__AttributesEntry pb_entry;
typedef Io__Cloudevents__V1__CloudEvent__CloudEventAttributeValue pb_value;

/* ---- wire format ----------------------------------------------------------- */

static void test_field_numbers(void **st)
{
    (void)st;
    cn_ce ev = {0};
    ev.id = "e1";
    ev.source = "/s";
    ev.type = "t";
    ev.subject = "p";
    ev.data_kind = CN_CE_DATA_BINARY;
    ev.data = (const unsigned char *)"\x01\x02";
    ev.data_len = 2;
    cn_buf b = CN_BUF_INIT;
    assert_int_equal(cn_ce_encode(&ev, &b), 0);
    /* id=1, source=2, spec_version=3, type=4 (length-delimited: tag n<<3|2);
     * attributes=5 is a map entry {key=1, value=2 {ce_string=3}};
     * binary_data=6. */
    static const unsigned char want[] = {0x0a, 2,   'e',  '1', 0x12, 2,    '/', 's',  0x1a,
                                         3,    '1', '.',  '0', 0x22, 1,    't', 0x2a, 14,
                                         0x0a, 7,   's',  'u', 'b',  'j',  'e', 'c',  't',
                                         0x12, 3,   0x1a, 1,   'p',  0x32, 2,   0x01, 0x02};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));

    /* text_data=7, proto_data=8 (Any: type_url=1, value=2), time is
     * ce_timestamp=7 (Timestamp: seconds=1, nanos=2) */
    cn_buf_reset(&b);
    memset(&ev, 0, sizeof(ev));
    ev.id = "e";
    ev.source = "s";
    ev.type = "t";
    ev.has_time = 1;
    ev.time = cn_ce_time_from_ms(1500);
    ev.data_kind = CN_CE_DATA_TEXT;
    ev.data = (const unsigned char *)"hi";
    ev.data_len = 2;
    assert_int_equal(cn_ce_encode(&ev, &b), 0);
    static const unsigned char want2[] = {0x0a, 1,    'e',  0x12, 1,    's', 0x1a, 3,  '1',  '.',
                                          '0',  0x22, 1,    't',  0x2a, 18,  0x0a, 4,  't',  'i',
                                          'm',  'e',  0x12, 10,   0x3a, 8,   0x08, 1,  0x10, 0x80,
                                          0xca, 0xb5, 0xee, 0x01, 0x3a, 2,   'h',  'i'};
    assert_int_equal(b.len, sizeof(want2));
    assert_memory_equal(b.data, want2, sizeof(want2));

    cn_buf_reset(&b);
    ev.has_time = 0;
    ev.data_kind = CN_CE_DATA_PROTO;
    ev.type_url = "x/y";
    ev.data = (const unsigned char *)"\x08\x01";
    ev.data_len = 2;
    assert_int_equal(cn_ce_encode(&ev, &b), 0);
    static const unsigned char want3[] = {0x0a, 1,   'e',  0x12, 1,   's',  0x1a, 3,    '1',
                                          '.',  '0', 0x22, 1,    't', 0x42, 9,    0x0a, 3,
                                          'x',  '/', 'y',  0x12, 2,   0x08, 0x01};
    assert_int_equal(b.len, sizeof(want3));
    assert_memory_equal(b.data, want3, sizeof(want3));
    cn_buf_free(&b);
}

/* ---- round trips ------------------------------------------------------------ */

static void test_roundtrip_all_attrs(void **st)
{
    (void)st;
    cn_ce_attr ext[7] = {
        {.name = "zflag", .kind = CN_CE_BOOL, .b = 1},
        {.name = "count", .kind = CN_CE_INT, .i = -42},
        {.name = "venue",
         .kind = CN_CE_STRING,
         .s = "mus\xc3\xa9"
              "e"},
        {.name = "blob",
         .kind = CN_CE_BYTES,
         .bytes = (const unsigned char *)"\0\1\2",
         .bytes_len = 3},
        {.name = "home", .kind = CN_CE_URI, .s = "https://example.org/x"},
        {.name = "rel", .kind = CN_CE_URI_REF, .s = "../y"},
        {.name = "seen1", .kind = CN_CE_TIMESTAMP, .t = {-1, 999999999}},
    };
    int kinds[] = {CN_CE_DATA_NONE, CN_CE_DATA_BINARY, CN_CE_DATA_TEXT, CN_CE_DATA_PROTO};
    for (size_t k = 0; k < 4; k++) {
        cn_ce ev = {0};
        ev.id = "id-1";
        ev.source = "/gateway/n1";
        ev.type = "cairn.test";
        ev.has_time = 1;
        ev.time = cn_ce_time_from_ms(1764320000123LL);
        ev.subject = "p-1";
        ev.datacontenttype = "application/protobuf";
        ev.dataschema = "https://example.org/schema";
        ev.ext = ext;
        ev.n_ext = 7;
        ev.data_kind = (enum cn_ce_data_kind)kinds[k];
        ev.type_url = "type.googleapis.com/cairn.v1.BlePing";
        ev.data = (const unsigned char *)"payload";
        ev.data_len = 7;
        cn_buf b = CN_BUF_INIT;
        assert_int_equal(cn_ce_encode(&ev, &b), 0);
        cn_ce_msg *m;
        cn_ce got;
        assert_int_equal(cn_ce_decode(b.data, b.len, &m, &got), 0);
        assert_string_equal(got.id, "id-1");
        assert_string_equal(got.source, "/gateway/n1");
        assert_string_equal(got.specversion, "1.0");
        assert_string_equal(got.type, "cairn.test");
        assert_true(got.has_time);
        assert_true(cn_ce_time_to_ms(got.time) == 1764320000123LL);
        assert_int_equal(got.time.nsec, 123000000);
        assert_string_equal(got.subject, "p-1");
        assert_string_equal(got.datacontenttype, "application/protobuf");
        assert_string_equal(got.dataschema, "https://example.org/schema");
        assert_int_equal(got.n_ext, 7);
        /* sorted by name: blob count home rel seen1 venue zflag */
        const char *order[] = {"blob", "count", "home", "rel", "seen1", "venue", "zflag"};
        for (int i = 0; i < 7; i++)
            assert_string_equal(got.ext[i].name, order[i]);
        assert_int_equal(got.ext[0].kind, CN_CE_BYTES);
        assert_int_equal(got.ext[0].bytes_len, 3);
        assert_memory_equal(got.ext[0].bytes, "\0\1\2", 3);
        assert_int_equal(got.ext[1].i, -42);
        assert_int_equal(got.ext[2].kind, CN_CE_URI);
        assert_string_equal(got.ext[3].s, "../y");
        assert_int_equal(got.ext[3].kind, CN_CE_URI_REF);
        assert_true(got.ext[4].t.sec == -1 && got.ext[4].t.nsec == 999999999);
        assert_string_equal(got.ext[5].s, "mus\xc3\xa9"
                                          "e");
        assert_int_equal(got.ext[6].kind, CN_CE_BOOL);
        assert_int_equal(got.ext[6].b, 1);
        assert_int_equal(got.data_kind, kinds[k]);
        if (kinds[k] != CN_CE_DATA_NONE) {
            assert_int_equal(got.data_len, 7);
            assert_memory_equal(got.data, "payload", 7);
        }
        if (kinds[k] == CN_CE_DATA_PROTO)
            assert_string_equal(got.type_url, "type.googleapis.com/cairn.v1.BlePing");
        cn_ce_msg_free(m);
        cn_buf_free(&b);
    }
}

static void test_time_conversion(void **st)
{
    (void)st;
    int64_t ms[] = {0, 1, 999, 1000, -1, -999, -1000, -1001, 1764320000123LL};
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
        cn_ce_time t = cn_ce_time_from_ms(ms[i]);
        assert_true(t.nsec >= 0 && t.nsec <= 999999999);
        assert_true(cn_ce_time_to_ms(t) == ms[i]);
    }
    cn_ce_time t = cn_ce_time_from_ms(-1);
    assert_true(t.sec == -1 && t.nsec == 999000000);
}

static void test_ping_event(void **st)
{
    (void)st;
    Cairn__V1__BlePing ping = CAIRN__V1__BLE_PING__INIT;
    ping.id = "c-1";
    ping.beacon = "b-07";
    ping.rssi = -61;
    ping.ts = 1764320000123LL;
    ping.player = "p-0042";
    cn_buf b = CN_BUF_INIT;
    assert_int_equal(cn_ce_encode_ping(&b, "node-a", "ce-123", 1764320000200LL, &ping), 0);
    cn_ce_msg *m;
    cn_ce ev;
    assert_int_equal(cn_ce_decode(b.data, b.len, &m, &ev), 0);
    assert_string_equal(ev.type, "cairn.ble.ping");
    assert_string_equal(ev.source, "/gateway/node-a");
    assert_string_equal(ev.id, "ce-123");
    assert_string_equal(ev.subject, "p-0042");
    assert_string_equal(ev.datacontenttype, "application/protobuf");
    assert_true(ev.has_time && cn_ce_time_to_ms(ev.time) == 1764320000200LL);
    assert_int_equal(ev.data_kind, CN_CE_DATA_PROTO);
    assert_string_equal(ev.type_url, "type.googleapis.com/cairn.v1.BlePing");
    assert_ptr_equal(cn_ce_known_type(ev.type_url), &cairn__v1__ble_ping__descriptor);
    ProtobufCMessage *pm;
    assert_int_equal(cn_ce_data_unpack(&ev, &cairn__v1__hunt_event__descriptor, &pm), CN_ENOENT);
    assert_int_equal(cn_ce_data_unpack(&ev, &cairn__v1__ble_ping__descriptor, &pm), 0);
    Cairn__V1__BlePing *p = (Cairn__V1__BlePing *)pm;
    assert_string_equal(p->id, "c-1");
    assert_string_equal(p->beacon, "b-07");
    assert_int_equal(p->rssi, -61);
    assert_true(p->ts == 1764320000123LL);
    cn_ce_data_free(pm);
    /* the same data unpacked inside the decoded message's arena */
    const ProtobufCMessage *cm;
    assert_int_equal(cn_ce_msg_data(m, &ev, &cairn__v1__hunt_event__descriptor, &cm), CN_ENOENT);
    assert_null(cm);
    assert_int_equal(cn_ce_msg_data(m, &ev, &cairn__v1__ble_ping__descriptor, &cm), 0);
    assert_string_equal(((const Cairn__V1__BlePing *)cm)->id, "c-1");
    assert_int_equal(((const Cairn__V1__BlePing *)cm)->rssi, -61);
    cn_ce_msg_free(m);

    /* invalid pings */
    assert_int_equal(cn_ce_encode_ping(&b, "", "ce", 1, &ping), CN_EINVAL);
    assert_int_equal(cn_ce_encode_ping(&b, "n", "", 1, &ping), CN_EINVAL);
    assert_int_equal(cn_ce_encode_ping(&b, "n", "ce", INT64_MAX, &ping), CN_EINVAL);
    ping.player = "";
    assert_int_equal(cn_ce_encode_ping(&b, "n", "ce", 1, &ping), CN_EINVAL);
    ping.player = "p";
    ping.beacon = NULL;
    assert_int_equal(cn_ce_encode_ping(&b, "n", "ce", 1, &ping), CN_EINVAL);

    /* long node names go through the heap path */
    ping.beacon = "b";
    char node[300];
    memset(node, 'n', sizeof(node) - 1);
    node[sizeof(node) - 1] = 0;
    size_t before = b.len;
    assert_int_equal(cn_ce_encode_ping(&b, node, "ce", 1, &ping), 0);
    assert_int_equal(cn_ce_decode(b.data + before, b.len - before, &m, &ev), 0);
    assert_int_equal(strlen(ev.source), strlen("/gateway/") + 299);
    cn_ce_msg_free(m);
    cn_buf_free(&b);
}

static void test_hunt_event(void **st)
{
    (void)st;
    Cairn__V1__HuntEvent he = CAIRN__V1__HUNT_EVENT__INIT;
    he.hunt = "museum-night";
    he.player = "p-7";
    he.kind = "beacon_found";
    he.beacon = "b-01";
    he.score = 10;
    he.found = 1;
    he.ts = 1764320000000LL;
    he.cause_ping_id = "c-9";
    he.input_partition = 3;
    he.input_offset = 12345;
    cn_buf b = CN_BUF_INIT;
    assert_int_equal(cn_ce_encode_hunt(&b, "w0", "h-1", 1764320000001LL, &he), 0);
    cn_ce_msg *m;
    cn_ce ev;
    assert_int_equal(cn_ce_decode(b.data, b.len, &m, &ev), 0);
    assert_string_equal(ev.type, "cairn.hunt.beacon_found");
    assert_string_equal(ev.source, "/hunt/w0");
    assert_string_equal(ev.subject, "p-7");
    assert_string_equal(ev.type_url, "type.googleapis.com/cairn.v1.HuntEvent");
    ProtobufCMessage *pm;
    assert_int_equal(cn_ce_data_unpack(&ev, &cairn__v1__hunt_event__descriptor, &pm), 0);
    Cairn__V1__HuntEvent *h = (Cairn__V1__HuntEvent *)pm;
    assert_string_equal(h->cause_ping_id, "c-9");
    assert_true(h->input_offset == 12345);
    assert_int_equal(h->found, 1);
    cn_ce_data_free(pm);
    cn_ce_msg_free(m);
    const char *bad_kinds[] = {"", "Beacon", "a.b", "a b",
                               "a-very-long-kind-name-that-goes-on-and-on-beyond-sixty-four-chars"};
    for (size_t i = 0; i < sizeof(bad_kinds) / sizeof(bad_kinds[0]); i++) {
        he.kind = (char *)bad_kinds[i];
        assert_int_equal(cn_ce_encode_hunt(&b, "w0", "h-1", 1, &he), CN_EINVAL);
    }
    cn_buf_free(&b);
}

/* ---- refusals ----------------------------------------------------------------- */

static void test_encode_refusals(void **st)
{
    (void)st;
    cn_buf b = CN_BUF_INIT;
    cn_ce good = {.id = "i", .source = "s", .type = "t"};
    assert_int_equal(cn_ce_encode(&good, &b), 0);
    size_t good_len = b.len;
    cn_ce ev;
    ev = good, ev.id = NULL;
    assert_int_equal(cn_ce_encode(&ev, &b), CN_EINVAL);
    ev = good, ev.source = "";
    assert_int_equal(cn_ce_encode(&ev, &b), CN_EINVAL);
    ev = good, ev.type = "";
    assert_int_equal(cn_ce_encode(&ev, &b), CN_EINVAL);
    ev = good, ev.specversion = "0.3";
    assert_int_equal(cn_ce_encode(&ev, &b), CN_EINVAL);
    ev = good, ev.subject = "";
    assert_int_equal(cn_ce_encode(&ev, &b), CN_EINVAL);
    ev = good, ev.has_time = 1, ev.time.sec = 253402300800LL; /* year 10000 */
    assert_int_equal(cn_ce_encode(&ev, &b), CN_EINVAL);
    ev = good, ev.has_time = 1, ev.time.nsec = 1000000000;
    assert_int_equal(cn_ce_encode(&ev, &b), CN_EINVAL);
    ev = good, ev.data_kind = CN_CE_DATA_TEXT, ev.data = (const unsigned char *)"a\0b",
    ev.data_len = 3;
    assert_int_equal(cn_ce_encode(&ev, &b), CN_EINVAL);
    ev = good, ev.data_kind = CN_CE_DATA_PROTO, ev.type_url = "noslash";
    assert_int_equal(cn_ce_encode(&ev, &b), CN_EINVAL);
    ev = good, ev.data_kind = CN_CE_DATA_PROTO, ev.type_url = "trailing/";
    assert_int_equal(cn_ce_encode(&ev, &b), CN_EINVAL);
    const char *bad_names[] = {"",   "Upper", "with-dash", "abcdefghijklmnopqrstu",
                               "id", "time",  "data"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        cn_ce_attr a = {.name = bad_names[i], .kind = CN_CE_INT, .i = 1};
        ev = good, ev.ext = &a, ev.n_ext = 1;
        assert_int_equal(cn_ce_encode(&ev, &b), CN_EINVAL);
    }
    cn_ce_attr dup[2] = {{.name = "x", .kind = CN_CE_INT}, {.name = "x", .kind = CN_CE_BOOL}};
    ev = good, ev.ext = dup, ev.n_ext = 2;
    assert_int_equal(cn_ce_encode(&ev, &b), CN_EINVAL);
    cn_ce_attr nostr = {.name = "x", .kind = CN_CE_STRING, .s = NULL};
    ev = good, ev.ext = &nostr, ev.n_ext = 1;
    assert_int_equal(cn_ce_encode(&ev, &b), CN_EINVAL);
    cn_ce_attr badkind = {.name = "x", .kind = (enum cn_ce_attr_kind)9};
    ev = good, ev.ext = &badkind, ev.n_ext = 1;
    assert_int_equal(cn_ce_encode(&ev, &b), CN_EINVAL);
    assert_int_equal(b.len, good_len); /* refusals append nothing */
    cn_buf_free(&b);
}

/* Pack a hand-made protobuf CloudEvent (bypassing cn_ce_encode's checks). */
static void pack_raw(const pb_ce *msg, cn_buf *b)
{
    cn_buf_reset(b);
    size_t n = io__cloudevents__v1__cloud_event__get_packed_size(msg);
    assert_int_equal(cn_buf_reserve(b, n), 0);
    b->len = io__cloudevents__v1__cloud_event__pack(msg, b->data);
}

static int decode_rc(const cn_buf *b)
{
    cn_ce_msg *m = (cn_ce_msg *)b; /* must be reset to NULL */
    cn_ce ev;
    int rc = cn_ce_decode(b->data, b->len, &m, &ev);
    if (rc)
        assert_null(m);
    cn_ce_msg_free(m);
    return rc;
}

static void test_decode_refusals(void **st)
{
    (void)st;
    cn_buf b = CN_BUF_INIT;
    pb_ce msg;
    io__cloudevents__v1__cloud_event__init(&msg);
    msg.id = "i";
    msg.source = "s";
    msg.spec_version = "1.0";
    msg.type = "t";
    pack_raw(&msg, &b);
    assert_int_equal(decode_rc(&b), 0);

    msg.spec_version = "0.3";
    pack_raw(&msg, &b);
    assert_int_equal(decode_rc(&b), CN_EPROTO);
    msg.spec_version = "1.0";
    msg.id = "";
    pack_raw(&msg, &b);
    assert_int_equal(decode_rc(&b), CN_EPROTO);
    msg.id = "i";
    msg.type = "";
    pack_raw(&msg, &b);
    assert_int_equal(decode_rc(&b), CN_EPROTO);
    msg.type = "t";

    /* attributes: wrong types for known names, bad names, no value,
     * reserved names, duplicates, bad timestamps, empty subject */
    Google__Protobuf__Timestamp ts;
    google__protobuf__timestamp__init(&ts);
    struct {
        const char *name;
        int kind; /* attr case; 0 = no value at all */
        const char *s;
        int64_t sec;
        int32_t nsec;
    } cases[] = {
        {"time", 3, "2026-11-28T00:00:00Z", 0, 0},
        {"subject", 2, NULL, 0, 0},
        {"subject", 3, "", 0, 0},
        {"datacontenttype", 5, "x:y", 0, 0},
        {"dataschema", 3, "x", 0, 0},
        {"Upper", 3, "v", 0, 0},
        {"a-b", 3, "v", 0, 0},
        {"abcdefghijklmnopqrstu", 3, "v", 0, 0},
        {"", 3, "v", 0, 0},
        {"ext", 0, NULL, 0, 0},
        {"ext", -1, NULL, 0, 0},
        {"id", 3, "x", 0, 0},
        {"specversion", 3, "1.0", 0, 0},
        {"time", 7, NULL, 0, -1},
        {"time", 7, NULL, 0, 1000000000},
        {"time", 7, NULL, -62135596801LL, 0},
        {"seen", 7, NULL, 253402300800LL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pb_entry e;
        pb_value v;
        io__cloudevents__v1__cloud_event__attributes_entry__init(&e);
        io__cloudevents__v1__cloud_event__cloud_event_attribute_value__init(&v);
        e.key = (char *)cases[i].name;
        e.value = cases[i].kind == -1 ? NULL : &v;
        v.attr_case =
            (Io__Cloudevents__V1__CloudEvent__CloudEventAttributeValue__AttrCase)(cases[i].kind < 0
                                                                                      ? 0
                                                                                      : cases[i]
                                                                                            .kind);
        if (cases[i].kind == 3)
            v.ce_string = (char *)cases[i].s;
        if (cases[i].kind == 5)
            v.ce_uri = (char *)cases[i].s;
        if (cases[i].kind == 2)
            v.ce_integer = 5;
        if (cases[i].kind == 7) {
            ts.seconds = cases[i].sec;
            ts.nanos = cases[i].nsec;
            v.ce_timestamp = &ts;
        }
        pb_entry *ep = &e;
        msg.n_attributes = 1;
        msg.attributes = &ep;
        pack_raw(&msg, &b);
        if (decode_rc(&b) != CN_EPROTO)
            fail_msg("case %zu (%s) not refused", i, cases[i].name);
    }
    /* the same name twice: known and extension */
    for (int known = 0; known < 2; known++) {
        pb_entry e[2];
        pb_value v[2];
        pb_entry *ep[2] = {&e[0], &e[1]};
        for (int j = 0; j < 2; j++) {
            io__cloudevents__v1__cloud_event__attributes_entry__init(&e[j]);
            io__cloudevents__v1__cloud_event__cloud_event_attribute_value__init(&v[j]);
            e[j].key = known ? "subject" : "ext";
            e[j].value = &v[j];
            v[j].attr_case =
                IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_STRING;
            v[j].ce_string = "v";
        }
        msg.n_attributes = 2;
        msg.attributes = ep;
        pack_raw(&msg, &b);
        assert_int_equal(decode_rc(&b), CN_EPROTO);
    }
    msg.n_attributes = 0;
    msg.attributes = NULL;

    /* an Any without a type URL */
    Google__Protobuf__Any any;
    google__protobuf__any__init(&any);
    any.type_url = "no-slash";
    msg.data_case = IO__CLOUDEVENTS__V1__CLOUD_EVENT__DATA_PROTO_DATA;
    msg.proto_data = &any;
    pack_raw(&msg, &b);
    assert_int_equal(decode_rc(&b), CN_EPROTO);

    /* not protobuf at all; an empty message misses the required fields */
    cn_buf_reset(&b);
    cn_buf_append(&b, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11);
    assert_int_equal(decode_rc(&b), CN_EDECODE);
    cn_buf_reset(&b);
    cn_buf_append(&b,
                  "\x0a\x05"
                  "ab",
                  4); /* length past the end */
    assert_int_equal(decode_rc(&b), CN_EDECODE);
    cn_buf_reset(&b);
    assert_int_equal(decode_rc(&b), CN_EPROTO);
    cn_buf_free(&b);
}

/* Truncate a full event at every byte and flip every bit: only 0,
 * CN_EDECODE or CN_EPROTO, never a crash (the sanitizer build checks). */
static void test_truncation_and_mutation(void **st)
{
    (void)st;
    Cairn__V1__BlePing ping = CAIRN__V1__BLE_PING__INIT;
    ping.id = "c-1";
    ping.beacon = "b-07";
    ping.rssi = -61;
    ping.player = "p-1";
    cn_buf full = CN_BUF_INIT, b = CN_BUF_INIT;
    assert_int_equal(cn_ce_encode_ping(&full, "n", "ce-1", 1764320000000LL, &ping), 0);
    for (size_t cut = 0; cut < full.len; cut++) {
        cn_buf_reset(&b);
        cn_buf_append(&b, full.data, cut);
        int rc = decode_rc(&b);
        assert_true(rc == 0 || rc == CN_EDECODE || rc == CN_EPROTO);
    }
    int refused = 0;
    for (size_t i = 0; i < full.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            cn_buf_reset(&b);
            cn_buf_append(&b, full.data, full.len);
            b.data[i] ^= (unsigned char)(1u << bit);
            int rc = decode_rc(&b);
            assert_true(rc == 0 || rc == CN_EDECODE || rc == CN_EPROTO);
            refused += rc != 0;
        }
    }
    assert_true(refused > 0);
    cn_buf_free(&b);
    cn_buf_free(&full);
}

/* Many extension attributes decode (sorted) and a duplicate among them is
 * found without quadratic work. */
static void test_many_attributes(void **st)
{
    (void)st;
    enum { N = 20000 };
    cn_ce_attr *ext = calloc(N, sizeof(*ext));
    char(*names)[16] = calloc(N, 16);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], 16, "a%d", N - i);
        ext[i].name = names[i];
        ext[i].kind = CN_CE_INT;
        ext[i].i = i;
    }
    cn_ce ev = {.id = "i", .source = "s", .type = "t", .ext = ext, .n_ext = 1000};
    cn_buf b = CN_BUF_INIT;
    assert_int_equal(cn_ce_encode(&ev, &b), 0);
    cn_ce_msg *m;
    cn_ce got;
    assert_int_equal(cn_ce_decode(b.data, b.len, &m, &got), 0);
    assert_int_equal(got.n_ext, 1000);
    for (size_t i = 1; i < got.n_ext; i++)
        assert_true(strcmp(got.ext[i - 1].name, got.ext[i].name) < 0);
    cn_ce_msg_free(m);

    /* 20000 entries with one duplicate, crafted directly */
    pb_entry *es = calloc(N, sizeof(*es));
    pb_value *vs = calloc(N, sizeof(*vs));
    pb_entry **ep = calloc(N, sizeof(*ep));
    for (int i = 0; i < N; i++) {
        io__cloudevents__v1__cloud_event__attributes_entry__init(&es[i]);
        io__cloudevents__v1__cloud_event__cloud_event_attribute_value__init(&vs[i]);
        es[i].key = i == N - 1 ? names[0] : names[i];
        es[i].value = &vs[i];
        vs[i].attr_case =
            IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_INTEGER;
        ep[i] = &es[i];
    }
    pb_ce msg;
    io__cloudevents__v1__cloud_event__init(&msg);
    msg.id = "i";
    msg.source = "s";
    msg.spec_version = "1.0";
    msg.type = "t";
    msg.n_attributes = N;
    msg.attributes = ep;
    pack_raw(&msg, &b);
    assert_int_equal(decode_rc(&b), CN_EPROTO);
    es[N - 1].key = "unique";
    pack_raw(&msg, &b);
    assert_int_equal(decode_rc(&b), 0);
    free(es);
    free(vs);
    free(ep);
    free(ext);
    free(names);
    cn_buf_free(&b);
}

static void test_type_lookup(void **st)
{
    (void)st;
    assert_string_equal(cn_ce_type_name("type.googleapis.com/cairn.v1.BlePing"),
                        "cairn.v1.BlePing");
    assert_null(cn_ce_type_name("nothing"));
    assert_null(cn_ce_type_name("a/"));
    assert_null(cn_ce_type_name(NULL));
    assert_ptr_equal(cn_ce_known_type("example.com/x/cairn.v1.HuntEvent"),
                     &cairn__v1__hunt_event__descriptor);
    assert_null(cn_ce_known_type("type.googleapis.com/cairn.v1.Nope"));
    assert_null(cn_ce_known_type("cairn.v1.BlePing")); /* a type URL needs a '/' */
    /* proto data that is not the type it claims */
    cn_ce ev = {.id = "i",
                .source = "s",
                .type = "t",
                .data_kind = CN_CE_DATA_PROTO,
                .type_url = "x/cairn.v1.BlePing",
                .data = (const unsigned char *)"\x0a\x09",
                .data_len = 2};
    ProtobufCMessage *pm = (ProtobufCMessage *)&ev;
    assert_int_equal(cn_ce_data_unpack(&ev, &cairn__v1__ble_ping__descriptor, &pm), CN_EDECODE);
    assert_null(pm);
    ev.data_kind = CN_CE_DATA_BINARY;
    assert_int_equal(cn_ce_data_unpack(&ev, &cairn__v1__ble_ping__descriptor, &pm), CN_ENOENT);
    cn_ce_data_free(NULL);
    cn_ce_msg_free(NULL);
}

static void test_oom(void **st)
{
    (void)st;
    Cairn__V1__BlePing ping = CAIRN__V1__BLE_PING__INIT;
    ping.id = "c-1";
    ping.beacon = "b-07";
    ping.player = "p-1";
    cn_ce_attr ext[2] = {{.name = "x", .kind = CN_CE_STRING, .s = "y"},
                         {.name = "t", .kind = CN_CE_TIMESTAMP, .t = {5, 0}}};
    int enc_ok = 0, dec_ok = 0;
    for (long n = 1; n < 100 && !(enc_ok && dec_ok); n++) {
        cn_test_alloc_fail_at(n, 1);
        cn_buf b = CN_BUF_INIT, b2 = CN_BUF_INIT;
        int rc = cn_ce_encode_ping(&b, "node", "ce-1", 1, &ping);
        cn_ce ev = {.id = "i",
                    .source = "s",
                    .type = "t",
                    .ext = ext,
                    .n_ext = 2,
                    .has_time = 1,
                    .data_kind = CN_CE_DATA_TEXT,
                    .data = (const unsigned char *)"txt",
                    .data_len = 3};
        if (!rc)
            rc = cn_ce_encode(&ev, &b2);
        if (rc) {
            assert_int_equal(rc, CN_ENOMEM);
        } else {
            enc_ok = 1;
            cn_ce_msg *m;
            cn_ce got;
            rc = cn_ce_decode(b.data, b.len, &m, &got);
            ProtobufCMessage *pm = NULL;
            const ProtobufCMessage *cm = NULL;
            if (rc)
                assert_null(m);
            else
                rc = cn_ce_data_unpack(&got, &cairn__v1__ble_ping__descriptor, &pm);
            if (!rc) {
                rc = cn_ce_msg_data(m, &got, &cairn__v1__ble_ping__descriptor, &cm);
                if (!rc)
                    assert_string_equal(((const Cairn__V1__BlePing *)cm)->player, "p-1");
            }
            if (rc)
                assert_int_equal(rc, CN_ENOMEM);
            else
                dec_ok = 1;
            cn_ce_data_free(pm);
            cn_ce_msg_free(m);
        }
        cn_buf_free(&b);
        cn_buf_free(&b2);
        long live = cn_test_alloc_live();
        cn_test_alloc_reset();
        assert_int_equal(live, 0);
    }
    assert_true(enc_ok && dec_ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_numbers),
        cmocka_unit_test(test_roundtrip_all_attrs),
        cmocka_unit_test(test_time_conversion),
        cmocka_unit_test(test_ping_event),
        cmocka_unit_test(test_hunt_event),
        cmocka_unit_test(test_encode_refusals),
        cmocka_unit_test(test_decode_refusals),
        cmocka_unit_test(test_truncation_and_mutation),
        cmocka_unit_test(test_many_attributes),
        cmocka_unit_test(test_type_lookup),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
