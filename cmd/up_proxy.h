/* SPDX-License-Identifier: MIT */
/*
 * up_proxy.h — `cairn up`'s bridge from the gateway's port to the hunt
 * worker's HTTP service (leaderboard API + dashboard).  The gateway parses
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
 * sockets each) and frees them in up_proxy_free; borrows base.
 */
#ifndef UP_PROXY_H
#define UP_PROXY_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
typedef struct up_proxy up_proxy;

/** Pipes to 127.0.0.1:port, at most max_pipes at once (beyond: 503).
 *  @return 0 or CN_ENOMEM. */
int up_proxy_new(up_proxy **out, struct event_base *base, int port, uint32_t max_pipes);
/** A gw_http_other_fn: takes fd (always: closes it on any failure) and
 *  copies bytes, which the service gets before anything read later. */
void up_proxy_take(void *proxy, int fd, const unsigned char *bytes, size_t len);
/** Pipes open now, and in all (for /metrics). */
uint32_t up_proxy_open(const up_proxy *p);
uint64_t up_proxy_total(const up_proxy *p);
/** Closes every pipe.  NULL ok. */
void up_proxy_free(up_proxy *p);

#endif
