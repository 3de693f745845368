/* SPDX-License-Identifier: MIT */
/*
 * gw_proxy.h — the gateway's hand-over of plain HTTP connections to
 * another HTTP service on a loopback port: in `cairn up`, the hunt
 * worker's API and dashboard.  The gateway parses
 * every request head itself (it must: /ws is its hot path) and hands the
 * connections for other paths over (gw_server_set_http_other); the proxy
 * pipes each one, bytes already read first, to the evhttp server that
 * hunt_http and dash_http run on the worker's own loop (a private
 * loopback port).  Why a byte pipe and not a second router: libevent
 * offers no public way to give an accepted socket to an evhttp, and the
 * handlers (including the dashboard's Server-Sent Events stream) stay the
 * very code `cairn hunt --http` serves.
 *
 * Threads: the gateway's loop.  Ownership: the proxy owns its pipes (two
 * sockets each) and frees them in gw_proxy_free; borrows base.
 */
#ifndef GW_PROXY_H
#define GW_PROXY_H

#include "cn_prom.h"

#include <stddef.h>
#include <stdint.h>

struct event_base;
typedef struct gw_proxy gw_proxy;

/** Pipes to 127.0.0.1:port, at most max_pipes at once (beyond: 503).
 *  @return 0 or CN_ENOMEM. */
int gw_proxy_new(gw_proxy **out, struct event_base *base, int port, uint32_t max_pipes);
/** A gw_http_other_fn: takes fd and tls (an established OpenSSL `SSL *`
 *  or NULL; always: both are closed on any failure) and copies bytes,
 *  which the service gets before anything read later. */
void gw_proxy_take(void *proxy, int fd, void *tls, const unsigned char *bytes, size_t len);
/** Pipes open now and in all, as /metrics families cairn_up_http_pipes
 *  and cairn_up_http_pipes_total.  @return the writer's error. */
int gw_proxy_metrics(const gw_proxy *p, cn_prom *w);
/** Closes every pipe.  NULL ok. */
void gw_proxy_free(gw_proxy *p);

#endif
