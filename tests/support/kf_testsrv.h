/* SPDX-License-Identifier: MIT */
/*
 * kf_testsrv.h — an in-process Kafka server for tests: a real lg_log and
 * kf_server on an event-loop thread, one loopback TCP client connection, and
 * an rpc helper that speaks cairn's own codec as the client.  Shared by the
 * unit tests of the Kafka adapter (test_kf_server, test_kf_epoch,
 * test_kf_txn).  Every helper aborts the test process on failure (this
 * library is also linked into fuzz targets, so it does not use cmocka).
 */
#ifndef KF_TESTSRV_H
#define KF_TESTSRV_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "kf_msgs.h"
#include "kf_server.h"
#include "lg.h"

struct event_base;

typedef struct kft_srv {
    char *dir; /* the log's directory (the caller's) */
    lg_log *log;
    struct event_base *base;
    kf_server *srv;
    pthread_t loop;
    int fd;       /* the client connection */
    int32_t corr; /* the last correlation id kft_rpc used */
    kf_arena *a;  /* the caller's: replies are decoded into it */
} kft_srv;

/** Open the log at s->dir (with lo's options when lo is not NULL, its dir
 *  replaced by s->dir; the defaults otherwise), start a kf_server on a new
 *  event base and loop thread (ko, or the defaults listening on
 *  127.0.0.1:0 when ko is NULL), and connect s->fd to it with a receive
 *  timeout of recv_timeout_s seconds. */
void kft_start(kft_srv *s, const lg_opts *lo, const kf_server_opts *ko, int recv_timeout_s);
/** Close the client, stop the loop thread, free the server and base,
 *  close the log.  s->dir and s->a are left to the caller. */
void kft_stop(kft_srv *s);

/** A new loopback connection to port with a receive timeout. */
int kft_connect(int port, int recv_timeout_s);
/** Receive exactly n bytes from fd (abort on EOF, error or timeout). */
void kft_recv_exact(int fd, void *buf, size_t n);
/** Send one request on s->fd (next correlation id) and decode its reply
 *  into s->a; aborts unless the reply has the right correlation id, no
 *  header tags and decodes. */
void *kft_rpc(kft_srv *s, int16_t key, int16_t ver, const void *body);

#endif
