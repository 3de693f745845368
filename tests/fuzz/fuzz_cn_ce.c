/* SPDX-License-Identifier: MIT */
/*
 * fuzz_cn_ce.c — libFuzzer target for the CloudEvent envelope decoder:
 * arbitrary bytes go through cn_ce_decode.  When they decode, the view
 * must re-encode (decode accepts nothing that encode refuses), the
 * re-encoded bytes must decode to the same event, and known proto data is
 * unpacked.  Properties: no crash or sanitizer report, the round trip
 * holds, only documented error codes.  Seed corpus: ping and hunt events
 * and events using every attribute and data kind.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cn_ce.h"
#include "cn_err.h"

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_same(const cn_ce *a, const cn_ce *b)
{
    if (!same_str(a->id, b->id) || !same_str(a->source, b->source) || !same_str(a->type, b->type) ||
        !same_str(a->subject, b->subject) || !same_str(a->datacontenttype, b->datacontenttype) ||
        !same_str(a->dataschema, b->dataschema) || a->has_time != b->has_time ||
        a->n_ext != b->n_ext || a->data_kind != b->data_kind || a->data_len != b->data_len)
        abort();
    if (a->has_time && (a->time.sec != b->time.sec || a->time.nsec != b->time.nsec))
        abort();
    if (a->data_len && memcmp(a->data, b->data, a->data_len) != 0)
        abort();
    for (size_t i = 0; i < a->n_ext; i++)
        if (strcmp(a->ext[i].name, b->ext[i].name) != 0 || a->ext[i].kind != b->ext[i].kind)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cn_ce_msg *m;
    cn_ce ev;
    int rc = cn_ce_decode(data, size, &m, &ev);
    if (rc) {
        if (rc != CN_EDECODE && rc != CN_EPROTO && rc != CN_ENOMEM)
            abort();
        return 0;
    }
    cn_buf again = CN_BUF_INIT;
    if (cn_ce_encode(&ev, &again) != 0)
        abort(); /* decoded, so it must be encodable */
    cn_ce_msg *m2;
    cn_ce ev2;
    if (cn_ce_decode(again.data, again.len, &m2, &ev2) != 0)
        abort();
    check_same(&ev, &ev2);
    const ProtobufCMessageDescriptor *d =
        ev.data_kind == CN_CE_DATA_PROTO ? cn_ce_known_type(ev.type_url) : NULL;
    if (d) {
        ProtobufCMessage *pm;
        if (cn_ce_data_unpack(&ev, d, &pm) == 0)
            cn_ce_data_free(pm);
    }
    cn_ce_msg_free(m2);
    cn_ce_msg_free(m);
    cn_buf_free(&again);
    return 0;
}
