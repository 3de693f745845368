/* SPDX-License-Identifier: MIT */
/*
 * test_dash.c — unit tests for the dashboard's server side: the embedded
 * assets (every page file served with its content type, "/" is
 * index.html, nothing else is), the /api/stats JSON (unknown numbers are
 * null, hostile ids are escaped, the result parses), and dash_http mounted
 * on a real evhttp over loopback with a scripted snapshot source:
 * /api/stats, the /api/events stream (messages a second apart, pings/s
 * derived from two samples), the stream cap (503 beyond it), streams
 * forgotten when their client goes, and the mounting server's own routes
 * left alone; and the sampler without an evhttp, for servers with their
 * own router.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cn_err.h"
#include "dash_http.h"

static void test_assets(void **st)
{
    (void)st;
    const unsigned char *b;
    size_t n;
    const char *ct;
    assert_int_equal(dash_serve_asset("/", &b, &n, &ct), 0);
    assert_string_equal(ct, "text/html; charset=utf-8");
    assert_true(n > 100 && memmem(b, n, "<!DOCTYPE html>", 15));
    assert_true(b[n] == 0); /* NUL after the bytes */
    const unsigned char *b2;
    size_t n2;
    assert_int_equal(dash_serve_asset("/index.html", &b2, &n2, &ct), 0);
    assert_true(b2 == b && n2 == n);
    assert_int_equal(dash_serve_asset("/app.js", &b, &n, &ct), 0);
    assert_string_equal(ct, "text/javascript; charset=utf-8");
    assert_true(memmem(b, n, "EventSource", 11) != NULL);
    assert_int_equal(dash_serve_asset("/style.css", &b, &n, &ct), 0);
    assert_string_equal(ct, "text/css; charset=utf-8");
    /* No external resources: the page may not load anything off-server. */
    assert_int_equal(dash_serve_asset("/index.html", &b, &n, &ct), 0);
    assert_null(memmem(b, n, "http://", 7));
    assert_null(memmem(b, n, "https://", 8));
    const char *bad[] = {
        "", "/nope", "/index.htm", "/../CMakeLists.txt", "/dash_http.c", "//index.html", "/APP.JS"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(dash_serve_asset(bad[i], &b, &n, &ct), CN_ENOENT);
}

static void test_stats_json(void **st)
{
    (void)st;
    static dash_snapshot s;
    memset(&s, 0, sizeof(s));
    s.pings_total = 1234;
    s.finds_total = -1;
    s.players = 7;
    s.active_players = -1;
    s.lag = 0;
    s.nparts = 2;
    s.parts[0] = (dash_part){0, 10};
    s.parts[1] = (dash_part){1, 20};
    s.nfinds = 2;
    snprintf(s.finds[0].player, sizeof(s.finds[0].player), "%s", "p\"<script>\\");
    snprintf(s.finds[0].beacon, sizeof(s.finds[0].beacon), "%s", "b-01");
    s.finds[0].at_ms = 99;
    s.finds[0].score = 10;
    s.finds[0].found = 1;
    snprintf(s.finds[1].player, sizeof(s.finds[1].player), "%s", "p-2");
    cn_buf b = CN_BUF_INIT;
    assert_int_equal(dash_stats_json(&b, &s, -1, 5000), 0);
    json_error_t e;
    json_t *j = json_loadb((const char *)b.data, b.len, 0, &e);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "ts")), 5000);
    assert_int_equal(json_integer_value(json_object_get(j, "pings_total")), 1234);
    assert_true(json_is_null(json_object_get(j, "pings_per_s")));
    assert_true(json_is_null(json_object_get(j, "finds_total")));
    assert_true(json_is_null(json_object_get(j, "active_players")));
    assert_int_equal(json_integer_value(json_object_get(j, "players")), 7);
    assert_int_equal(json_integer_value(json_object_get(j, "lag")), 0);
    json_t *parts = json_object_get(j, "partitions");
    assert_int_equal(json_array_size(parts), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(parts, 1), "end_offset")),
                     20);
    json_t *f = json_object_get(j, "recent_finds");
    assert_int_equal(json_array_size(f), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(f, 0), "player")),
                        "p\"<script>\\");
    assert_string_equal(json_string_value(json_object_get(json_array_get(f, 0), "beacon")), "b-01");
    assert_true(json_is_null(json_object_get(json_array_get(f, 1), "beacon")));
    json_decref(j);
    cn_buf_reset(&b);
    assert_int_equal(dash_stats_json(&b, &s, 42.5, 1), 0);
    assert_non_null(memmem(b.data, b.len, "\"pings_per_s\":42.5", 18));
    cn_buf_free(&b);
}

/* ---- dash_http on a real evhttp --------------------------------------------- */

typedef struct fixture {
    struct event_base *base;
    struct evhttp *http;
    dash_http *d;
    int port;
    uint64_t pings; /* the scripted source: +100 per sample */
    int samples;
} fixture;

static int fake_snapshot(void *ud, dash_snapshot *s)
{
    fixture *f = ud;
    f->samples++;
    f->pings += 100;
    s->pings_total = f->pings;
    s->finds_total = f->samples;
    s->players = 3;
    s->active_players = 2;
    s->lag = 0;
    return 0;
}

static void other_route(struct evhttp_request *req, void *ud)
{
    (void)ud;
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "mine");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void fx_setup(fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->base = event_base_new();
    f->http = evhttp_new(f->base);
    assert_non_null(f->http);
    evhttp_set_gencb(f->http, other_route, NULL);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(f->http, "127.0.0.1", 0);
    assert_non_null(bs);
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl);
    f->port = ntohs(sa.sin_port);
    assert_int_equal(dash_http_mount(&f->d, f->base, f->http, fake_snapshot, f), 0);
}

static void fx_teardown(fixture *f)
{
    dash_http_free(f->d);
    evhttp_free(f->http);
    event_base_free(f->base);
}

static int fx_connect(fixture *f, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    char req[256];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    return fd;
}

/* Run the loop (which serves) while reading what fd receives, for ms. */
static size_t fx_pump(fixture *f, int fd, char *buf, size_t cap, int ms)
{
    size_t have = 0;
    for (int t = 0; t < ms; t += 10) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 10) > 0 && have + 1 < cap) {
            ssize_t r = read(fd, buf + have, cap - 1 - have);
            if (r > 0)
                have += (size_t)r;
            else if (r == 0)
                break;
        }
    }
    buf[have] = 0;
    return have;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_http_mounted(void **st)
{
    (void)st;
    static fixture f;
    fx_setup(&f);
    static char buf[1 << 16];

    int fd = fx_connect(&f, "/");
    fx_pump(&f, fd, buf, sizeof(buf), 300);
    close(fd);
    assert_non_null(strstr(buf, "200 OK"));
    assert_non_null(strstr(buf, "text/html"));
    assert_non_null(strstr(buf, "<!DOCTYPE html>"));

    fd = fx_connect(&f, "/somewhere/else");
    fx_pump(&f, fd, buf, sizeof(buf), 300);
    close(fd);
    assert_non_null(strstr(buf, "\r\n\r\nmine")); /* the mounting server's own route */

    fd = fx_connect(&f, "/api/stats");
    fx_pump(&f, fd, buf, sizeof(buf), 300);
    close(fd);
    assert_non_null(strstr(buf, "application/json"));
    assert_non_null(strstr(buf, "\"pings_total\":100,\"pings_per_s\":null"));

    /* A stream: a message per second, pings/s from two samples 1 s apart
     * (the source adds 100 per sample; bounds allow for a slow machine). */
    fd = fx_connect(&f, "/api/events");
    fx_pump(&f, fd, buf, sizeof(buf), 2600);
    assert_non_null(strstr(buf, "text/event-stream"));
    assert_non_null(strstr(buf, "retry: 1000"));
    assert_true(count(buf, "data: {") >= 2);
    /* The last message's rate: its two samples were ticks a second apart. */
    const char *pps = NULL;
    for (const char *p = strstr(buf, "\"pings_per_s\":"); p; p = strstr(p + 1, "\"pings_per_s\":"))
        pps = p;
    assert_non_null(pps);
    double v = atof(pps + 14);
    assert_true(v > 50 && v < 200);
    assert_int_equal(dash_http_streams(f.d), 1);
    close(fd);
    fx_pump(&f, -1, buf, sizeof(buf), 1200); /* a write to the closed socket ends it */
    assert_int_equal(dash_http_streams(f.d), 0);
    fx_teardown(&f);
}

static void test_stream_cap(void **st)
{
    (void)st;
    static fixture f;
    fx_setup(&f);
    static char buf[1 << 14];
    int fds[DASH_MAX_STREAMS];
    for (int i = 0; i < DASH_MAX_STREAMS; i++) {
        fds[i] = fx_connect(&f, "/api/events");
        fx_pump(&f, fds[i], buf, sizeof(buf), 20);
    }
    for (int t = 0; t < 100 && dash_http_streams(f.d) < DASH_MAX_STREAMS; t++)
        fx_pump(&f, -1, buf, sizeof(buf), 20);
    assert_int_equal(dash_http_streams(f.d), DASH_MAX_STREAMS);
    int extra = fx_connect(&f, "/api/events");
    fx_pump(&f, extra, buf, sizeof(buf), 300);
    assert_non_null(strstr(buf, "503"));
    close(extra);
    for (int i = 0; i < DASH_MAX_STREAMS; i++)
        close(fds[i]);
    fx_teardown(&f); /* ends live streams without touching freed requests (ASan) */
}

static int failing_snapshot(void *ud, dash_snapshot *s)
{
    (void)s;
    ((fixture *)ud)->samples++;
    return CN_AGAIN;
}

/* No evhttp: the sampler alone, as a server with its own router uses it.
 * The first call samples; later calls before a tick serve that sample
 * unchanged; a source that cannot sample yet is reported, not hidden. */
static void test_stats_without_evhttp(void **st)
{
    (void)st;
    static fixture f;
    memset(&f, 0, sizeof(f));
    f.base = event_base_new();
    assert_int_equal(dash_http_mount(&f.d, f.base, NULL, fake_snapshot, &f), 0);
    cn_slice j1, j2;
    assert_int_equal(dash_http_stats(f.d, &j1), 0);
    assert_int_equal(f.samples, 1);
    assert_non_null(memmem(j1.ptr, j1.len, "\"pings_total\":100", 17));
    json_error_t err;
    json_t *v = json_loadb((const char *)j1.ptr, j1.len, 0, &err);
    assert_non_null(v);
    json_decref(v);
    assert_int_equal(dash_http_stats(f.d, &j2), 0);
    assert_int_equal(f.samples, 1); /* no resampling between ticks */
    assert_true(j2.ptr == j1.ptr && j2.len == j1.len);
    dash_http_free(f.d);

    f.samples = 0;
    assert_int_equal(dash_http_mount(&f.d, f.base, NULL, failing_snapshot, &f), 0);
    assert_int_equal(dash_http_stats(f.d, &j1), CN_AGAIN);
    assert_int_equal(dash_http_stats(f.d, &j1), CN_AGAIN); /* retried, still failing */
    assert_int_equal(f.samples, 2);
    dash_http_free(f.d);
    event_base_free(f.base);
}

/* Nobody watching, nothing computed: with no stream open the sampler does
 * not sample (the snapshot walks every player); a /api/stats request takes
 * one on demand; an open stream brings the ticks back. */
static void test_sampler_idle_without_viewers(void **st)
{
    (void)st;
    static fixture f;
    fx_setup(&f);
    static char buf[1 << 14];
    fx_pump(&f, -1, buf, sizeof(buf), 2300); /* two ticks, nobody watching */
    assert_int_equal(f.samples, 0);
    assert_int_equal(dash_http_samples(f.d), 0);
    int fd = fx_connect(&f, "/api/stats");
    fx_pump(&f, fd, buf, sizeof(buf), 300);
    close(fd);
    assert_non_null(strstr(buf, "\"pings_total\":100"));
    assert_int_equal(f.samples, 1);
    fd = fx_connect(&f, "/api/events");
    fx_pump(&f, fd, buf, sizeof(buf), 2300);
    assert_true(f.samples >= 2);
    assert_int_equal(dash_http_samples(f.d), (uint64_t)f.samples);
    close(fd);
    fx_pump(&f, -1, buf, sizeof(buf), 1200); /* the stream ends */
    assert_int_equal(dash_http_streams(f.d), 0);
    int after = f.samples;
    fx_pump(&f, -1, buf, sizeof(buf), 2300);
    assert_int_equal(f.samples, after);
    fx_teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assets),       cmocka_unit_test(test_stats_json),
        cmocka_unit_test(test_http_mounted), cmocka_unit_test(test_sampler_idle_without_viewers),
        cmocka_unit_test(test_stream_cap),   cmocka_unit_test(test_stats_without_evhttp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
