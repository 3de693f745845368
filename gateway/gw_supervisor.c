/* SPDX-License-Identifier: MIT */
/*
 * gw_supervisor.c — the worker processes of `cairn gateway --workers N`
 * (gw_supervisor.h): fork and exec each, restart one that dies while
 * serving, SIGTERM them all on drain and report when the last is gone,
 * tell the caller when every worker has written its port file.
 * A worker that dies soon after its start (a bad flag, a port it cannot
 * bind, a crash on its first connection) is restarted after a delay that
 * doubles from GW_SV_BACKOFF_MIN_MS to GW_SV_BACKOFF_MAX_MS, so it cannot
 * fork in a tight loop; one that ran GW_SV_STABLE_MS is restarted at once.
 * Guarantees: a worker never outlives the supervisor (PR_SET_PDEATHSIG,
 * and a worker whose parent died before that took effect exits at once);
 * no worker is restarted once draining; every child is reaped; ready
 * runs once, after every worker has written its port file.
 * Threads: the supervisor's loop thread (SIGCHLD arrives as a libevent
 * signal event).  Ownership: see gw_supervisor.h.
 */
#include "gw_supervisor.h"

#include "gw_server_int.h"

#include "cn_alloc.h"
#include "cn_err.h"
#include "cn_log.h"
#include "cn_time.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define GW_SV_BACKOFF_MIN_MS 100
#define GW_SV_BACKOFF_MAX_MS 10000
#define GW_SV_STABLE_MS 10000

typedef struct gw_sv_slot {
    struct gw_supervisor *s;
    int i;
    struct event *restart; /* one-shot: the delayed restart */
    uint64_t started_ns;
    int64_t backoff_ms; /* delay before the next restart; 0: none yet */
} gw_sv_slot;

struct gw_supervisor {
    struct event_base *base;
    gw_supervisor_opts o;
    pid_t pids[GW_SUPERVISOR_MAX_WORKERS];
    int alive;
    int draining;
    int failed; /* a worker failed its drain */
    pid_t self;
    struct event *sigchld, *pf_timer;
    void (*done)(void *ud);
    void *done_ud;
    gw_sv_slot slots[GW_SUPERVISOR_MAX_WORKERS];
};

static pid_t sv_spawn(gw_supervisor *s, int i)
{
    char node_arg[128], pf_arg[4200];
    s->slots[i].started_ns = cn_mono_ns();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* child: if the supervisor dies (even by SIGKILL), drain and exit
     * rather than serve on as an orphan nobody will stop */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != s->self)
        _exit(1); /* the supervisor died before prctl took effect */
    /* fill in its own node name and port file (the child's copy of argv) */
    char **av = s->o.argv;
    for (int k = 0; av[k]; k++) {
        if (strcmp(av[k], "--node") == 0 && av[k + 1]) {
            snprintf(node_arg, sizeof(node_arg), "%s-w%d", av[k + 1], i);
            av[k + 1] = node_arg;
        }
        if (strcmp(av[k], "--port-file") == 0 && av[k + 1]) {
            snprintf(pf_arg, sizeof(pf_arg), "%s.w%d", av[k + 1], i);
            av[k + 1] = pf_arg;
        }
    }
    execv("/proc/self/exe", av);
    fprintf(stderr, "cairn gateway: cannot start worker: %s\n", strerror(errno));
    _exit(1);
}

static void sv_check_done(gw_supervisor *s)
{
    if (s->draining && !s->alive && s->done) {
        void (*done)(void *) = s->done;
        s->done = NULL;
        done(s->done_ud);
    }
}

static void sv_start(gw_supervisor *s, int i)
{
    s->pids[i] = sv_spawn(s, i);
    if (s->pids[i] > 0)
        s->alive++;
    else
        s->pids[i] = 0;
}

static void sv_restart_cb(evutil_socket_t fd, short what, void *ud)
{
    gw_sv_slot *sl = ud;
    (void)fd;
    (void)what;
    if (!sl->s->draining)
        sv_start(sl->s, sl->i);
}

static void sv_reaped(gw_supervisor *s, int i, pid_t pid, int st)
{
    s->pids[i] = 0;
    s->alive--;
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok && s->draining)
        s->failed = 1;
    if (s->draining)
        return;
    /* A worker died: its clients reconnect to the others; start a new one
     * so the port keeps its capacity — at once if it had been serving a
     * while, after a growing delay if it keeps dying young. */
    gw_sv_slot *sl = &s->slots[i];
    uint64_t lived_ms = (cn_mono_ns() - sl->started_ns) / 1000000u;
    if (lived_ms >= GW_SV_STABLE_MS)
        sl->backoff_ms = 0;
    else if (sl->backoff_ms == 0)
        sl->backoff_ms = GW_SV_BACKOFF_MIN_MS;
    else if ((sl->backoff_ms *= 2) > GW_SV_BACKOFF_MAX_MS)
        sl->backoff_ms = GW_SV_BACKOFF_MAX_MS;
    if (sl->backoff_ms == 0 || !sl->restart) {
        cn_log_error("gw", "worker %d (pid %d) ended (status %d) after %llu ms; starting another",
                     i, (int)pid, st, (unsigned long long)lived_ms);
        sv_start(s, i);
        return;
    }
    cn_log_error("gw",
                 "worker %d (pid %d) ended (status %d) after %llu ms; starting another in %lld ms",
                 i, (int)pid, st, (unsigned long long)lived_ms, (long long)sl->backoff_ms);
    struct timeval tv = {sl->backoff_ms / 1000, (sl->backoff_ms % 1000) * 1000};
    event_add(sl->restart, &tv);
}

static void sv_sigchld(evutil_socket_t sig, short what, void *ud)
{
    gw_supervisor *s = ud;
    (void)sig;
    (void)what;
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
        for (int i = 0; i < s->o.workers; i++)
            if (s->pids[i] == pid)
                sv_reaped(s, i, pid, st);
    sv_check_done(s);
}

/* Once every worker has written its port file, the gateway is ready. */
static void sv_pf_check(evutil_socket_t fd, short what, void *ud)
{
    gw_supervisor *s = ud;
    (void)fd;
    (void)what;
    char p[4200];
    for (int i = 0; i < s->o.workers; i++) {
        struct stat st;
        snprintf(p, sizeof(p), "%s.w%d", s->o.port_file, i);
        if (stat(p, &st))
            return;
    }
    event_del(s->pf_timer);
    if (s->o.ready)
        s->o.ready(s->o.ready_ud);
}

int gw_supervisor_reserve(const char *listen, char *out, size_t cap, int *port, int *holdfd)
{
    const char *colon = strrchr(listen, ':');
    int rc = gw__bind(listen, 1, 0, 0, holdfd, port);
    if (rc)
        return rc;
    snprintf(out, cap, "%.*s:%d", (int)(colon - listen), listen, *port);
    return 0;
}

int gw_supervisor_start(gw_supervisor **out, struct event_base *base, const gw_supervisor_opts *o)
{
    *out = NULL;
    if (o->workers < 1 || o->workers > GW_SUPERVISOR_MAX_WORKERS || !o->argv)
        return CN_EINVAL;
    gw_supervisor *s = cn_calloc(1, sizeof(*s));
    if (!s)
        return CN_ENOMEM;
    *out = s;
    s->base = base;
    s->o = *o;
    s->self = getpid();
    s->sigchld = evsignal_new(base, SIGCHLD, sv_sigchld, s);
    s->pf_timer = event_new(base, -1, EV_PERSIST, sv_pf_check, s);
    if (!s->sigchld || !s->pf_timer || evsignal_add(s->sigchld, NULL))
        return CN_ENOMEM;
    for (int i = 0; i < o->workers; i++) {
        s->slots[i].s = s;
        s->slots[i].i = i;
        s->slots[i].restart = evtimer_new(base, sv_restart_cb, &s->slots[i]);
        if (!s->slots[i].restart)
            return CN_ENOMEM;
    }
    for (int i = 0; i < o->workers; i++) {
        s->pids[i] = sv_spawn(s, i);
        if (s->pids[i] < 0) {
            s->pids[i] = 0;
            return CN_ESYS;
        }
        s->alive++;
    }
    if (o->port_file) {
        struct timeval tv = {0, 50000};
        event_add(s->pf_timer, &tv);
    }
    return 0;
}

void gw_supervisor_signal(gw_supervisor *s, int sig)
{
    for (int i = 0; i < s->o.workers; i++)
        if (s->pids[i] > 0)
            kill(s->pids[i], sig);
}

int gw_supervisor_alive(const gw_supervisor *s)
{
    return s->alive;
}

void gw_supervisor_drain(gw_supervisor *s, void (*done)(void *ud), void *ud)
{
    s->draining = 1;
    s->done = done;
    s->done_ud = ud;
    for (int i = 0; i < s->o.workers; i++)
        if (s->slots[i].restart)
            event_del(s->slots[i].restart); /* no delayed restart once draining */
    for (int i = 0; i < s->o.workers; i++)
        if (s->pids[i] > 0)
            kill(s->pids[i], SIGTERM);
    sv_check_done(s);
}

int gw_supervisor_free(gw_supervisor *s)
{
    if (!s)
        return 0;
    int failed = s->failed || !s->draining;
    for (int i = 0; i < s->o.workers; i++)
        if (s->pids[i] > 0) {
            kill(s->pids[i], SIGKILL);
            waitpid(s->pids[i], NULL, 0);
            failed = 1;
        }
    if (s->sigchld)
        event_free(s->sigchld);
    if (s->pf_timer)
        event_free(s->pf_timer);
    for (int i = 0; i < GW_SUPERVISOR_MAX_WORKERS; i++)
        if (s->slots[i].restart)
            event_free(s->slots[i].restart);
    cn_free(s);
    return failed ? CN_EIO : 0;
}
