/* SPDX-License-Identifier: MIT */
/*
 * dash_http.c — the dashboard mounted on a libevent evhttp: static assets,
 * GET /api/stats (one snapshot) and GET /api/events (Server-Sent Events:
 * one `data: {...}` message per second, the same object as /api/stats).
 *
 * Why SSE and not a WebSocket: the data only flows server → browser,
 * EventSource reconnects by itself, and evhttp can stream a chunked reply
 * without a second protocol stack.  Why one sampler for all streams: the
 * snapshot (leaderboard scan, offsets) is computed once a second whatever
 * the number of viewers, and pings/s needs two samples a known time apart.
 * Nobody watching, nothing computed: the tick samples only while a stream
 * is open, and /api/stats samples on demand when its sample is a second
 * old (polling clients share one sample per second).
 *
 * For servers with their own router, dash_serve_asset and dash_http_stats
 * give the bytes of every path but /api/events; the router frames them.
 *
 * Guarantees: at most DASH_MAX_STREAMS streams (more get 503 and the page
 * falls back to polling /api/stats); a stream whose connection closes is
 * forgotten in its close callback, before its request is freed, so no
 * chunk is ever written to a dead request.  Loop thread only; owns the
 * sampler timer and the stream list; borrows base and evhttp.
 */
#include "dash_http.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_time.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <string.h>

/* evhttp_set_cb paths served here. */
static const char *const dash_paths[] = {"/",          "/index.html", "/app.js",
                                         "/style.css", "/api/stats",  "/api/events"};
#define DASH_NPATHS (sizeof(dash_paths) / sizeof(dash_paths[0]))

typedef struct dash_stream {
    struct evhttp_request *req;
    struct evhttp_connection *conn;
} dash_stream;

struct dash_http {
    struct event_base *base;
    struct evhttp *http;
    dash_snapshot_fn fn;
    void *ud;
    struct event *tick;
    uint8_t mounted[DASH_NPATHS];
    dash_snapshot snap; /* the last sample (large: kept here, not on the stack) */
    int have_snap;
    uint64_t prev_pings; /* pings_total of the previous sample */
    uint64_t prev_ns;
    double pps; /* pings/s between the last two samples; -1 before two, or
                   when they lie more than DASH_RATE_SPAN_NS apart */
    uint64_t nsamples;
    cn_buf json; /* the last sample as JSON */
    dash_stream streams[DASH_MAX_STREAMS];
    uint32_t nstreams;
};

/* ---- sampling ------------------------------------------------------------- */

/* A sample is fresh for a second; a rate over a longer gap (nobody was
 * watching) would be an average, not "now": reported as unknown. */
#define DASH_FRESH_NS 1000000000ull
#define DASH_RATE_SPAN_NS 5000000000ull

static int dash__sample(dash_http *d)
{
    memset(&d->snap, 0, sizeof(d->snap));
    int rc = d->fn(d->ud, &d->snap);
    if (rc)
        return rc;
    d->nsamples++;
    uint64_t now = cn_mono_ns();
    d->pps = -1;
    if (d->have_snap && now > d->prev_ns && now - d->prev_ns <= DASH_RATE_SPAN_NS &&
        d->snap.pings_total >= d->prev_pings)
        d->pps = (double)(d->snap.pings_total - d->prev_pings) * 1e9 / (double)(now - d->prev_ns);
    d->prev_pings = d->snap.pings_total;
    d->prev_ns = now;
    d->have_snap = 1;
    cn_buf_reset(&d->json);
    return dash_stats_json(&d->json, &d->snap, d->pps, cn_now_ms());
}

static void dash__push(dash_http *d)
{
    for (uint32_t i = 0; i < d->nstreams; i++) {
        struct evbuffer *eb = evbuffer_new();
        if (!eb)
            return;
        evbuffer_add(eb, "data: ", 6);
        evbuffer_add(eb, d->json.data, d->json.len);
        evbuffer_add(eb, "\n\n", 2);
        evhttp_send_reply_chunk(d->streams[i].req, eb);
        evbuffer_free(eb);
    }
}

static void dash__tick(evutil_socket_t fd, short what, void *ud)
{
    dash_http *d = ud;
    (void)fd;
    (void)what;
    if (d->nstreams && dash__sample(d) == 0)
        dash__push(d);
}

/* ---- handlers ---------------------------------------------------------------- */

static void dash__reply(struct evhttp_request *req, int code, const char *reason, const char *ctype,
                        const void *body, size_t len)
{
    struct evbuffer *eb = evbuffer_new();
    if (!eb) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evbuffer_add(eb, body, len);
    evhttp_send_reply(req, code, reason, eb);
    evbuffer_free(eb);
}

static void dash__asset(struct evhttp_request *req, void *ud)
{
    (void)ud;
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    const unsigned char *body;
    size_t len;
    const char *ctype;
    if (!path || dash_serve_asset(path, &body, &len, &ctype)) {
        evhttp_send_error(req, 404, "Not Found");
        return;
    }
    dash__reply(req, 200, "OK", ctype, body, len);
}

static void dash__stats(struct evhttp_request *req, void *ud)
{
    cn_slice json;
    if (dash_http_stats(ud, &json)) {
        const char *e = "{\"error\":\"no statistics available yet; retry\"}\n";
        dash__reply(req, 503, "Service Unavailable", "application/json", e, strlen(e));
        return;
    }
    dash__reply(req, 200, "OK", "application/json", json.ptr, json.len);
}

static void dash__stream_closed(struct evhttp_connection *conn, void *ud)
{
    dash_http *d = ud;
    for (uint32_t i = 0; i < d->nstreams; i++) {
        if (d->streams[i].conn != conn)
            continue;
        struct evhttp_request *req = d->streams[i].req;
        d->streams[i] = d->streams[--d->nstreams];
        /* A stream whose peer went away is detached from its connection
         * by evhttp (the reply was never finished) and left to us: ending
         * it frees it.  One still attached is freed with the connection. */
        if (!evhttp_request_get_connection(req))
            evhttp_send_reply_end(req);
        return;
    }
}

static void dash__events(struct evhttp_request *req, void *ud)
{
    dash_http *d = ud;
    if (d->nstreams == DASH_MAX_STREAMS) {
        const char *e = "{\"error\":\"too many event streams; poll /api/stats\"}\n";
        dash__reply(req, 503, "Service Unavailable", "application/json", e, strlen(e));
        return;
    }
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/event-stream");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_send_reply_start(req, 200, "OK");
    /* The mounting server's request timeout would cut a quiet stream;
     * this one writes every second, and dead peers are found by writes. */
    evhttp_connection_set_timeout(conn, 3600);
    evhttp_connection_set_closecb(conn, dash__stream_closed, d);
    d->streams[d->nstreams].req = req;
    d->streams[d->nstreams].conn = conn;
    d->nstreams++;
    /* The first message at once (retry hint for EventSource), not a second later. */
    struct evbuffer *eb = evbuffer_new();
    if (!eb)
        return;
    evbuffer_add_printf(eb, "retry: 1000\n\n");
    if (d->have_snap) {
        evbuffer_add(eb, "data: ", 6);
        evbuffer_add(eb, d->json.data, d->json.len);
        evbuffer_add(eb, "\n\n", 2);
    }
    evhttp_send_reply_chunk(req, eb);
    evbuffer_free(eb);
}

/* ---- mount ---------------------------------------------------------------------- */

int dash_http_mount(dash_http **out, struct event_base *base, struct evhttp *http,
                    dash_snapshot_fn fn, void *ud)
{
    dash_http *d = cn_calloc(1, sizeof(*d));
    if (!d)
        return CN_ENOMEM;
    d->base = base;
    d->http = http;
    d->fn = fn;
    d->ud = ud;
    d->pps = -1;
    d->tick = event_new(base, -1, EV_PERSIST, dash__tick, d);
    if (!d->tick) {
        dash_http_free(d);
        return CN_ENOMEM;
    }
    for (size_t i = 0; http && i < DASH_NPATHS; i++) {
        void (*cb)(struct evhttp_request *, void *) = dash__asset;
        if (strcmp(dash_paths[i], "/api/stats") == 0)
            cb = dash__stats;
        else if (strcmp(dash_paths[i], "/api/events") == 0)
            cb = dash__events;
        int rc = evhttp_set_cb(http, dash_paths[i], cb, d);
        if (rc) {
            dash_http_free(d);
            return rc == -1 ? CN_EEXIST : CN_ENOMEM;
        }
        d->mounted[i] = 1;
    }
    struct timeval sec = {1, 0};
    event_add(d->tick, &sec);
    *out = d;
    return 0;
}

int dash_http_stats(dash_http *d, cn_slice *json)
{
    /* A sample less than a second old is served as is, so polling
     * clients do not multiply the work; an older one (or none) is taken
     * now. */
    if (!d->have_snap || cn_mono_ns() - d->prev_ns >= DASH_FRESH_NS) {
        int rc = dash__sample(d);
        if (rc)
            return rc;
    }
    json->ptr = d->json.data;
    json->len = d->json.len;
    return 0;
}

uint32_t dash_http_streams(const dash_http *d)
{
    return d->nstreams;
}

uint64_t dash_http_samples(const dash_http *d)
{
    return d->nsamples;
}

void dash_http_free(dash_http *d)
{
    if (!d)
        return;
    while (d->nstreams) {
        dash_stream s = d->streams[--d->nstreams];
        evhttp_connection_set_closecb(s.conn, NULL, NULL);
        evhttp_send_reply_end(s.req);
    }
    for (size_t i = 0; i < DASH_NPATHS; i++)
        if (d->mounted[i])
            evhttp_del_cb(d->http, dash_paths[i]);
    if (d->tick)
        event_free(d->tick);
    cn_buf_free(&d->json);
    cn_free(d);
}
