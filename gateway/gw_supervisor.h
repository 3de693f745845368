/* SPDX-License-Identifier: MIT */
/*
 * gw_supervisor.h — `cairn gateway --workers N`: N worker processes share
 * one port (SO_REUSEPORT), each a whole gateway with its own fd budget.
 * The supervisor starts them (this binary again, with the argv it is
 * given), starts another when one dies, and on drain sends each SIGTERM
 * and reports when the last has exited.  Workers die with it: each asks
 * for SIGTERM when its parent goes (PR_SET_PDEATHSIG), even after SIGKILL.
 * See docs/architecture.md "Workers and the data directory".
 *
 * Threads: every call on the thread running the event_base (the
 * supervisor's main loop).  Ownership: the supervisor borrows base and the
 * argv strings (both outlive it), owns its SIGCHLD and port-file events
 * and its children until gw_supervisor_free.
 */
#ifndef GW_SUPERVISOR_H
#define GW_SUPERVISOR_H

#include <stddef.h>

struct event_base;
typedef struct gw_supervisor gw_supervisor;

/** Most workers of one supervisor. */
#define GW_SUPERVISOR_MAX_WORKERS 64

typedef struct gw_supervisor_opts {
    int workers; /* 1..GW_SUPERVISOR_MAX_WORKERS */
    /* A worker's argv (argv[0] onwards, NULL-terminated), run as
     * /proc/self/exe.  Worker i gets "--node X" replaced by "--node X-wI"
     * and "--port-file P" by "--port-file P.wI". */
    char **argv;
    /* NULL, or the --port-file the workers were given: once each worker
     * has written its own (PATH.wI), ready(ready_ud) runs on the loop. */
    const char *port_file;
    void (*ready)(void *ud);
    void *ready_ud;
} gw_supervisor_opts;

/**
 * Reserve the port all workers bind: listen "HOST:PORT" (port 0 picks one)
 * is bound once with SO_REUSEPORT on a socket that never listens (so it
 * takes no connections), and kept by the caller for the supervisor's
 * life, so the port stays this gateway's even while every worker is being
 * restarted.  out gets "HOST:PORT" with the port resolved.
 * @return 0 with *holdfd (close it at the end); CN_EINVAL (not
 *         HOST:PORT); CN_ESYS (socket/bind failed: errno says why).
 */
int gw_supervisor_reserve(const char *listen, char *out, size_t cap, int *port, int *holdfd);

/**
 * Install SIGCHLD handling on base and start the workers.
 * @return 0; CN_ENOMEM; CN_ESYS (fork failed: errno says why; the
 *         workers already started are killed by gw_supervisor_free).
 *         *out is set even on CN_ESYS, so free it.
 */
int gw_supervisor_start(gw_supervisor **out, struct event_base *base, const gw_supervisor_opts *o);

/** Send sig (SIGHUP: reload the TLS certificate) to every worker alive. */
void gw_supervisor_signal(gw_supervisor *s, int sig);

/** Workers alive now. */
int gw_supervisor_alive(const gw_supervisor *s);

/**
 * Send every worker SIGTERM (each drains: stops accepting, acks what is
 * durable, closes with 1001, exits 0); workers are no longer restarted.
 * done(ud) runs on the loop once none is left (possibly before this
 * returns).  Call once.
 */
void gw_supervisor_drain(gw_supervisor *s, void (*done)(void *ud), void *ud);

/**
 * SIGKILL and reap the workers still alive, and free.  NULL ok.
 * @return 0 if every worker that exited during the drain exited 0 and none
 *         had to be killed; CN_EIO otherwise.
 */
int gw_supervisor_free(gw_supervisor *s);

#endif
