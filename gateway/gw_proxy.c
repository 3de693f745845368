/* SPDX-License-Identifier: MIT */
/*
 * gw_proxy.c — byte pipes from connections the gateway handed over to the
 * worker's evhttp on a private loopback port (why: gw_proxy.h).
 *
 * Guarantees: the bytes the gateway had already read reach the service
 * first and in order; when the service closes (end of an answer that is
 * not kept alive, or of an event stream) what it sent is flushed to the
 * client before the client socket is closed; a client that closes ends the
 * pipe at once; each direction buffers at most GW_PIPE_MAX_BUF before its
 * reading side is paused (a browser that stops reading an event stream
 * cannot grow our memory); at most max_pipes pipes exist (two fds each).
 * A connection from a TLS listener comes with its established session:
 * its side of the pipe is an OpenSSL bufferevent, so the dashboard and
 * the API are served over https:// on the same port as wss://.
 * Threads: the gateway's loop only.  Ownership: every pipe is on the
 * proxy's list and owns its two bufferevents (and so both sockets, and
 * the client's TLS session).
 */
#include "gw_proxy.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_log.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Per direction: a dashboard asset or a leaderboard of 1,000 rows is far
 * below this; only a reader that stopped reading reaches it. */
#define GW_PIPE_MAX_BUF (256u * 1024)

typedef struct gw_pipe {
    struct gw_proxy *px;
    struct bufferevent *cl; /* the browser / HTTP client (handed over by the gateway) */
    struct bufferevent *sv; /* our connection to the worker's evhttp */
    int closing;            /* service closed: flush cl, then free */
    struct gw_pipe *prev, *next;
} gw_pipe;

struct gw_proxy {
    struct event_base *base;
    struct sockaddr_in to;
    uint32_t max_pipes, open;
    uint64_t total;
    gw_pipe *head;
};

static void pipe_free(gw_pipe *pp)
{
    gw_proxy *px = pp->px;
    if (pp->prev)
        pp->prev->next = pp->next;
    else
        px->head = pp->next;
    if (pp->next)
        pp->next->prev = pp->prev;
    if (pp->cl)
        bufferevent_free(pp->cl);
    if (pp->sv)
        bufferevent_free(pp->sv);
    px->open--;
    cn_free(pp);
}

static struct bufferevent *pipe_other(gw_pipe *pp, struct bufferevent *bev)
{
    return bev == pp->cl ? pp->sv : pp->cl;
}

/* Move what src read to the other side; pause src while the other side's
 * output is over the bound (its write callback resumes it). */
static void pipe_read(struct bufferevent *src, void *ud)
{
    gw_pipe *pp = ud;
    struct bufferevent *dst = pipe_other(pp, src);
    struct evbuffer *out = bufferevent_get_output(dst);
    evbuffer_add_buffer(out, bufferevent_get_input(src));
    if (evbuffer_get_length(out) >= GW_PIPE_MAX_BUF)
        bufferevent_disable(src, EV_READ);
}

/* Runs when dst's output drained below its low watermark (0 or half the
 * bound, see pipe_new). */
static void pipe_written(struct bufferevent *dst, void *ud)
{
    gw_pipe *pp = ud;
    if (pp->closing) {
        if (dst == pp->cl && evbuffer_get_length(bufferevent_get_output(pp->cl)) == 0)
            pipe_free(pp);
        return;
    }
    bufferevent_enable(pipe_other(pp, dst), EV_READ);
}

static void pipe_event(struct bufferevent *bev, short what, void *ud)
{
    gw_pipe *pp = ud;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
        return; /* BEV_EVENT_CONNECTED */
    if (bev == pp->cl || pp->closing) {
        pipe_free(pp); /* the client is gone: nothing left to deliver */
        return;
    }
    /* The service ended (answer done, or it failed): deliver what it
     * said, then close the client. */
    pipe_read(pp->sv, pp);
    bufferevent_free(pp->sv);
    pp->sv = NULL;
    pp->closing = 1;
    bufferevent_disable(pp->cl, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(pp->cl)) == 0)
        pipe_free(pp);
    else
        bufferevent_setwatermark(pp->cl, EV_WRITE, 0, 0);
}

static void refuse(int fd)
{
    static const char r503[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
        "Content-Length: 24\r\nConnection: close\r\n\r\ntoo many HTTP requests\r\n";
    ssize_t w = write(fd, r503, sizeof(r503) - 1);
    (void)w;
    close(fd);
}

/* The client side: a plain socket, or one whose TLS session the gateway
 * established (bufferevent_openssl in the open state takes it over; with
 * CLOSE_ON_FREE it frees the SSL and closes fd when freed). */
static struct bufferevent *pipe_client(gw_proxy *px, int fd, SSL *ssl)
{
    if (!ssl)
        return bufferevent_socket_new(px->base, fd, BEV_OPT_CLOSE_ON_FREE);
    struct bufferevent *b = bufferevent_openssl_socket_new(px->base, fd, ssl, BUFFEREVENT_SSL_OPEN,
                                                           BEV_OPT_CLOSE_ON_FREE);
    if (b) /* a browser that just closes the socket ends its pipe like a plain one */
        bufferevent_openssl_set_allow_dirty_shutdown(b, 1);
    return b;
}

static void take_drop(int fd, SSL *ssl)
{
    SSL_free(ssl);
    close(fd);
}

void gw_proxy_take(void *ud, int fd, void *tls, const unsigned char *bytes, size_t len)
{
    gw_proxy *px = ud;
    SSL *ssl = tls;
    if (px->open >= px->max_pipes) {
        if (ssl) /* a TLS peer cannot read a plain 503 */
            take_drop(fd, ssl);
        else
            refuse(fd);
        return;
    }
    gw_pipe *pp = cn_calloc(1, sizeof(*pp));
    if (!pp) {
        take_drop(fd, ssl);
        return;
    }
    pp->px = px;
    pp->next = px->head;
    if (px->head)
        px->head->prev = pp;
    px->head = pp;
    px->open++;
    px->total++;
    evutil_make_socket_nonblocking(fd);
    pp->cl = pipe_client(px, fd, ssl);
    if (!pp->cl) {
        take_drop(fd, ssl);
        pipe_free(pp);
        return;
    }
    pp->sv = bufferevent_socket_new(px->base, -1, BEV_OPT_CLOSE_ON_FREE);
    /* Queued now, written once connected: the request head comes first. */
    if (!pp->sv || evbuffer_add(bufferevent_get_output(pp->sv), bytes, len) ||
        bufferevent_socket_connect(pp->sv, (struct sockaddr *)&px->to, sizeof(px->to))) {
        cn_log_warn("up", "cannot reach the HTTP service on 127.0.0.1:%d", ntohs(px->to.sin_port));
        pipe_free(pp);
        return;
    }
    bufferevent_setcb(pp->cl, pipe_read, pipe_written, pipe_event, pp);
    bufferevent_setcb(pp->sv, pipe_read, pipe_written, pipe_event, pp);
    bufferevent_setwatermark(pp->cl, EV_WRITE, GW_PIPE_MAX_BUF / 2, 0);
    bufferevent_setwatermark(pp->sv, EV_WRITE, GW_PIPE_MAX_BUF / 2, 0);
    bufferevent_enable(pp->cl, EV_READ | EV_WRITE);
    bufferevent_enable(pp->sv, EV_READ | EV_WRITE);
}

int gw_proxy_new(gw_proxy **out, struct event_base *base, int port, uint32_t max_pipes)
{
    gw_proxy *px = cn_calloc(1, sizeof(*px));
    if (!px)
        return CN_ENOMEM;
    px->base = base;
    px->max_pipes = max_pipes;
    px->to.sin_family = AF_INET;
    px->to.sin_port = htons((uint16_t)port);
    px->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *out = px;
    return 0;
}

int gw_proxy_metrics(const gw_proxy *p, cn_prom *w)
{
    cn_prom_gauge(w, "cairn_up_http_pipes", "HTTP connections served through to the worker.",
                  p->open);
    cn_prom_family(w, "cairn_up_http_pipes_total", CN_PROM_COUNTER,
                   "HTTP connections passed through to the worker.");
    return cn_prom_u64(w, "cairn_up_http_pipes_total", NULL, p->total);
}

void gw_proxy_free(gw_proxy *p)
{
    if (!p)
        return;
    while (p->head)
        pipe_free(p->head);
    cn_free(p);
}
