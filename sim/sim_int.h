/* SPDX-License-Identifier: MIT */
/*
 * sim_int.h — the simulator's internal state, shared by sim_run.c (players,
 * timers, the end of a run), sim_conn.c (a player's WebSocket connection)
 * and sim_report.c.  Not a public header: only sim/ includes it.
 *
 * Ownership: the sim owns the player array; each player owns its walker,
 * its connection (bufferevent) and the queue of its pings not yet acked.
 * Everything runs on the one loop thread of sim_run.
 */
#ifndef SIM_INT_H
#define SIM_INT_H

#include "cn_buf.h"
#include "cn_id.h"
#include "sim.h"
#include "ws.h"

#include <event2/util.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

struct event;
struct event_base;
struct bufferevent;

/* A ping generated but not acked yet: kept so it can be sent again on the
 * next connection if this one is lost before the ack. */
typedef struct sim_out {
    uint64_t seq;
    uint64_t sent_ns; /* monotonic time it was sent on the current connection; 0: not sent on it */
    int64_t ts;
    int32_t rssi;
    uint32_t beacon;
    uint8_t sent_before; /* sent on an earlier connection (a resend when sent again) */
} sim_out;

enum sim_cstate {
    SIM_C_NONE = 0,   /* no connection */
    SIM_C_CONNECTING, /* TCP connect in progress */
    SIM_C_HANDSHAKE,  /* upgrade request sent, waiting for 101 */
    SIM_C_OPEN,       /* WebSocket open: pings flow */
    SIM_C_CLOSING,    /* close frame sent at the end of the run */
};

typedef struct sim sim;

typedef struct sim_player {
    sim *s;
    uint32_t idx;
    sim_walker w;
    uint32_t *order; /* the walker's beacon order (slice of sim.orders) */
    char id[CN_ID_MAX + 1];
    char *token;         /* issued at the first connect when a key is given */
    struct event *tick;  /* the next ping is due */
    struct event *retry; /* reconnect after a failure (backoff) */
    struct bufferevent *bev;
    uint8_t cstate;    /* enum sim_cstate */
    uint8_t queued;    /* waiting in the connect queue */
    uint8_t retrying;  /* retry timer armed */
    uint8_t done;      /* generated its last ping */
    uint32_t failures; /* consecutive connect failures: backoff */
    ws_decoder dec;
    cn_buf in;  /* response head while handshaking; a message split across reads */
    cn_buf ctl; /* a control frame's payload split across reads */
    char accept[WS_ACCEPT_LEN + 1];
    sim_out *out; /* FIFO of pings not acked, oldest first */
    uint32_t nout, capout;
    uint64_t next_seq;
} sim_player;

struct sim {
    const sim_opts *o;
    sim_result *r;
    sim_venue venue;
    struct event_base *base;
    sim_player *pl;
    uint32_t *orders;
    struct sockaddr_storage dst;
    socklen_t dstlen;
    int loopback; /* target is 127.0.0.0/8: several source addresses possible */
    char host_hdr[300];
    char path[2048]; /* path and query of the URL, without the player part */
    uint32_t *cq;    /* connect queue (player indexes), ring of N */
    uint32_t cq_head, cq_len;
    uint32_t connecting; /* connects + handshakes in progress */
    uint32_t open;
    uint32_t closing;
    uint32_t players_done;
    uint64_t outstanding; /* pings generated and not acked (sum of nout) */
    int ending;           /* all pings generated: waiting for acks */
    int finished;
    uint64_t t0_ns;
    struct event *progress_ev, *deadline_ev, *end_ev;
    struct event *drain_ev; /* starts queued players when handshake slots free up */
    sim_hist win;           /* latency since the last progress line */
    uint64_t last_sent, last_acked, last_ns;
    cn_buf frame, tmp;
    sim_rng mask_rng; /* masks and handshake keys: not part of the seeded output */
    unsigned char scratch[65536];
};

/* sim_conn.c */
void sim__conn_want(sim *s, sim_player *p);  /* connect now or queue */
void sim__conn_flush(sim *s, sim_player *p); /* send pings not sent on this connection */
void sim__conn_close(sim *s, sim_player *p); /* end of run: close 1000 or free */
void sim__conn_free(sim *s, sim_player *p);  /* drop the socket, no frames */
void sim__retry_cb(evutil_socket_t fd, short what, void *ud); /* a player's backoff ended */
void sim__drain_cb(evutil_socket_t fd, short what, void *ud); /* the connect queue */
void sim__fail(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* sim_run.c */
void sim__check_end(sim *s);
void sim__closed_one(sim *s); /* a CLOSING connection went away */

#endif
