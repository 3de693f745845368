/* SPDX-License-Identifier: MIT */
/*
 * sim.h — `cairn sim`: a venue simulator and load generator speaking the
 * real player WebSocket protocol (docs/protocol.md) to a gateway.
 *
 * N simulated players (sim_venue.h) walk the hunt's venue and send JSON
 * pings, each over its own WebSocket connection from one libevent loop,
 * reconnecting after the gateway's idle close; every ack is checked
 * against what was sent.  A run ends after `duration_ms` of pings plus up
 * to `ack_timeout_ms` waiting for the last acks.
 *
 * Threads: sim_run runs its own event loop on the calling thread and
 * returns when the run is over.  Ownership: the caller owns opts and
 * everything it points to; sim_run owns all connections and buffers and
 * frees them before returning.
 */
#ifndef SIM_H
#define SIM_H

#include "sim_hist.h"
#include "sim_venue.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct sim_opts {
    const char *url; /* ws://HOST:PORT/PATH[?QUERY] */
    uint32_t players;
    int64_t duration_ms; /* pings are generated for this long */
    uint64_t seed;
    double rate;                   /* pings per second per player */
    const sim_beacon_pos *beacons; /* the venue */
    const char *const *beacon_ids; /* ids sent in pings, same order */
    uint32_t nbeacons;
    const char *hunt_id;           /* put in tokens */
    const unsigned char *token_sk; /* 64-byte Ed25519 secret key, or NULL: ?player=ID */
    const char *player_prefix;     /* player i is <prefix><i, 5 digits> */
    const char *id_prefix;         /* ping ids: <id_prefix><player>.<seq> */
    int64_t start_ms;              /* wall time of t=0 (ping ts = start_ms + offset); 0: now */
    int64_t ack_timeout_ms;        /* after the last ping, wait this long for acks */
    uint32_t sources;              /* 127.0.0.x source addresses (loopback targets only); 0: auto */
    uint32_t max_connecting;       /* handshakes in progress at once */
    FILE *pings_out;               /* if set: one JSON line per generated ping */
    FILE *progress;                /* if set: a progress line per second */
} sim_opts;

/** Defaults: 1 ping/s, prefix "p-", no id prefix, ack timeout 10 s,
 *  sources auto, 512 handshakes at once. */
void sim_opts_init(sim_opts *o);

/** Counters of a run (also the --report JSON). */
typedef struct sim_result {
    int64_t start_ms;    /* wall time of t=0 */
    double elapsed_s;    /* wall time of the whole run */
    uint64_t pings_sent; /* distinct pings generated and sent at least once */
    uint64_t pings_acked;
    uint64_t resends;          /* pings sent again after a connection was lost unacked */
    uint64_t unacked;          /* pings without an ack at the end: a failure */
    uint64_t acked_twice;      /* an ack for a ping already acked: a failure */
    uint64_t unknown_acks;     /* an ack for an id never sent on that connection: a failure */
    uint64_t ping_errors;      /* error frames for our pings: a failure */
    uint64_t connects;         /* WebSocket handshakes completed */
    uint64_t connect_failures; /* TCP or handshake failures (retried) */
    uint64_t idle_closes;      /* the gateway closed with 1000 "idle" */
    uint64_t other_closes;     /* any other close or loss of a connection */
    uint64_t frames_sent;
    uint32_t max_open;     /* most connections open at once */
    uint32_t sources;      /* source addresses used */
    char first_error[256]; /* the first failure, for humans */
    sim_hist lat;          /* ack latency, µs */
} sim_result;

/**
 * Run a simulation to its end.
 * @return 0 when the run completed (look at res for failures: unacked,
 *         acked_twice, unknown_acks, ping_errors); CN_EINVAL for a URL it
 *         cannot use; CN_ENOMEM; CN_ESYS when the event loop or a
 *         resolver fails.  res is filled in every case.
 */
int sim_run(const sim_opts *o, sim_result *res);

/** 1 if the run is a success: everything sent was acked exactly once. */
int sim_result_ok(const sim_result *r);

/** Write the result as one JSON object (with the options that shaped it). */
int sim_result_json(FILE *f, const sim_opts *o, const sim_result *r);

/** Write the human summary (several lines). */
void sim_result_print(FILE *f, const sim_opts *o, const sim_result *r);

#endif
