/* SPDX-License-Identifier: MIT */
/*
 * cn_ce_events.c — cairn's two CloudEvent kinds, built on the envelope
 * codec (cn_ce.c):
 *   cairn.ble.ping     source /gateway/<node>, subject = the player,
 *                      data = cairn.v1.BlePing (with the client's own id);
 *   cairn.hunt.<kind>  source /hunt/<node>, subject = the player,
 *                      data = cairn.v1.HuntEvent.
 * Both carry time (ce_timestamp) and datacontenttype application/protobuf;
 * the data is an Any whose type URL is type.googleapis.com/<full name>.
 * Pure; any thread.  Small events are assembled in stack buffers so the
 * gateway's hot path allocates only when out has to grow.
 */
#include "cn_ce.h"

#include "cn_alloc.h"
#include "cn_err.h"

#include <string.h>

/* Sources, types and type URLs beyond this are built on the heap. */
#define CN__SMALL 128
/* Packed BlePing/HuntEvent data up to this size stays on the stack. */
#define CN__SMALL_DATA 512

/* a then b into buf if it fits, else into a cn_malloc'd string (*heap).
 * memcpy, not snprintf: this is on the gateway's per-ping path, where
 * printf's format parsing cost an eighth of the encode time. */
static const char *cn__join(char *buf, size_t cap, char **heap, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *dst = buf;
    if (la + lb + 1 > cap) {
        dst = *heap = cn_malloc(la + lb + 1);
        if (!dst)
            return NULL;
    }
    memcpy(dst, a, la);
    memcpy(dst + la, b, lb + 1);
    return dst;
}

static int cn__ok(const char *s)
{
    return s && *s;
}

/* Every string field non-NULL: protobuf-c's INIT sets "" and pack would
 * dereference a NULL. */
static int cn__ping_ok(const Cairn__V1__BlePing *p)
{
    return p->id && p->beacon && p->player && p->hunt && *p->player;
}

static int cn__hunt_ok(const Cairn__V1__HuntEvent *e)
{
    if (!e->hunt || !e->player || !e->kind || !e->beacon || !e->cause_ping_id || !*e->player)
        return 0;
    size_t n = strlen(e->kind);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = e->kind[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

/* Pack msg as the proto data of ev, then encode ev onto out. */
static int cn__encode_with(cn_ce *ev, const ProtobufCMessage *msg, cn_buf *out)
{
    unsigned char small[CN__SMALL_DATA];
    unsigned char *data = small;
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n > sizeof(small)) {
        data = cn_malloc(n);
        if (!data)
            return CN_ENOMEM;
    }
    protobuf_c_message_pack(msg, data);
    char ubuf[CN__SMALL], *uheap = NULL;
    ev->type_url =
        cn__join(ubuf, sizeof(ubuf), &uheap, CN_CE_TYPE_URL_PREFIX, msg->descriptor->name);
    int rc = CN_ENOMEM;
    if (ev->type_url) {
        ev->data_kind = CN_CE_DATA_PROTO;
        ev->data = data;
        ev->data_len = n;
        rc = cn_ce_encode(ev, out);
    }
    cn_free(uheap);
    if (data != small)
        cn_free(data);
    return rc;
}

int cn_ce_encode_ping(cn_buf *out, const char *node, const char *ce_id, int64_t time_ms,
                      const Cairn__V1__BlePing *ping)
{
    if (!cn__ok(node) || !cn__ok(ce_id) || !ping || !cn__ping_ok(ping))
        return CN_EINVAL;
    char sbuf[CN__SMALL], *sheap = NULL;
    cn_ce ev = {0};
    ev.source = cn__join(sbuf, sizeof(sbuf), &sheap, "/gateway/", node);
    if (!ev.source)
        return CN_ENOMEM;
    ev.id = ce_id;
    ev.type = CN_CE_TYPE_PING;
    ev.has_time = 1;
    ev.time = cn_ce_time_from_ms(time_ms);
    ev.subject = ping->player;
    ev.datacontenttype = CN_CE_DATA_PROTOBUF;
    int rc = cn__encode_with(&ev, &ping->base, out);
    cn_free(sheap);
    return rc;
}

int cn_ce_encode_hunt(cn_buf *out, const char *node, const char *ce_id, int64_t time_ms,
                      const Cairn__V1__HuntEvent *hev)
{
    if (!cn__ok(node) || !cn__ok(ce_id) || !hev || !cn__hunt_ok(hev))
        return CN_EINVAL;
    char sbuf[CN__SMALL], *sheap = NULL, tbuf[CN__SMALL], *theap = NULL;
    cn_ce ev = {0};
    ev.source = cn__join(sbuf, sizeof(sbuf), &sheap, "/hunt/", node);
    ev.type = cn__join(tbuf, sizeof(tbuf), &theap, CN_CE_TYPE_HUNT_PREFIX, hev->kind);
    int rc = CN_ENOMEM;
    if (ev.source && ev.type) {
        ev.id = ce_id;
        ev.has_time = 1;
        ev.time = cn_ce_time_from_ms(time_ms);
        ev.subject = hev->player;
        ev.datacontenttype = CN_CE_DATA_PROTOBUF;
        rc = cn__encode_with(&ev, &hev->base, out);
    }
    cn_free(sheap);
    cn_free(theap);
    return rc;
}
