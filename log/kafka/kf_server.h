/* SPDX-License-Identifier: MIT */
/*
 * kf_server.h — cairn's Kafka wire-protocol listener: a libevent TCP
 * server in front of an lg_log, serving the APIs and versions in the
 * generated table (kf_msgs.h) to kcat, librdkafka, kafka-python, kafkajs.
 * See docs/kafka.md.
 *
 * Threads: every kf_server_* call except kf_server_notify_append runs on
 * the thread running the event_base.  The base must have been created
 * after evthread_use_pthreads(): append completions arrive on the log's
 * writer thread and are bounced to the loop with event_active.
 * Ownership: the server borrows base and log (both must outlive it) and
 * owns its listener, connections and in-flight requests.
 */
#ifndef KF_SERVER_H
#define KF_SERVER_H

#include <stdint.h>

#include "lg.h"
#include "rp.h"

struct event_base;
typedef struct kf_server kf_server;

typedef struct kf_server_opts {
    const char *listen;         /* "HOST:PORT"; port 0 picks a free one */
    const char *advertise_host; /* host given to clients in Metadata; NULL: listen host */
    int advertise_port;         /* 0: the bound port */
    uint64_t max_request_bytes; /* larger frames close the connection */
    int auto_create;            /* Metadata/Produce create unknown topics */
    int32_t default_partitions; /* for auto-created / CreateTopics -1 */
    int32_t node_id;            /* this broker's id (0) */
    int64_t idle_timeout_ms;    /* close connections silent this long */
    /* Group coordinator limits (Kafka's group.min/max.session.timeout.ms). */
    int32_t group_min_session_ms, group_max_session_ms;
    int64_t group_initial_rebalance_ms; /* group.initial.rebalance.delay.ms */
    /* Clustered (docs/replication.md): partition leadership comes from
     * repl, and brokers lists every node's Kafka address under its node id
     * (node_id must be one of them).  Both NULL: standalone, the node is
     * every partition's leader and only replica. */
    rp_repl *repl;
    const rp_cluster *brokers;
    /* SASL (kf_sasl.h): with users, every connection must authenticate
     * (PLAIN, SCRAM-SHA-256/512) before anything but ApiVersions.  NULL:
     * no authentication.  Borrowed: outlives the server. */
    const struct kf_sasl_users *sasl_users;
    /* TLS on the listener (kf_tls_ctx_new): every connection is TLS.  NULL:
     * plain TCP.  Borrowed: outlives the server. */
    struct ssl_ctx_st *tls_ctx;
} kf_server_opts;

/**
 * A server TLS context for the Kafka listener from a PEM certificate chain
 * and its private key (TLS 1.2 and 1.3).  On failure *out is NULL and err
 * (errlen bytes) says why (OpenSSL's reason, or the files not matching).
 * @return 0 or CN_EINVAL.
 */
int kf_tls_ctx_new(struct ssl_ctx_st **out, const char *cert, const char *key, char *err,
                   size_t errlen);
void kf_tls_ctx_free(struct ssl_ctx_st *ctx);
/**
 * Load cert and key again (a renewed certificate) for the connections
 * accepted from now on; connections already open keep their session.  The
 * server owns the new context; the one given in kf_server_opts stays the
 * caller's.  Loop thread (a SIGHUP handler on the server's base).
 * @return 0; CN_EINVAL (the server has no TLS, or the files are unusable:
 *         the reason in err, and the old certificate stays).
 */
int kf_server_tls_reload(kf_server *s, const char *cert, const char *key, char *err, size_t errlen);

/** Defaults: 127.0.0.1:9092, 100 MiB requests, 4 partitions, node 0,
 *  10 min idle, sessions 6 s..30 min, initial rebalance delay 0. */
void kf_server_opts_init(kf_server_opts *o);

/**
 * Bind and start listening.  @return 0; CN_EINVAL (bad address);
 * CN_ESYS (bind/listen failed: errno says why); CN_ENOMEM.
 * On failure *out is NULL.
 */
int kf_server_new(kf_server **out, struct event_base *base, lg_log *log, const kf_server_opts *o);
/** The bound TCP port. */
int kf_server_port(const kf_server *s);
/**
 * Stop accepting; let every connection finish the request it is serving
 * and flush its response, then close it.  done(ud) runs on the loop once
 * no connection is left (possibly before this returns).
 */
void kf_server_drain(kf_server *s, void (*done)(void *ud), void *ud);
/** Any thread: parked long-poll Fetches should look again.  Appends to
 *  the log need no call: the server subscribes to the log's acknowledged
 *  end (lg_end_listen) and wakes itself, whoever appended. */
void kf_server_notify_append(kf_server *s);
/** Close everything now.  NULL-safe.  Call on the loop thread with the
 *  log still open (in-flight appends are waited for).  Keep the log open
 *  until the event base is freed too: libevent finalizes connections
 *  lazily, and unsent Fetch replies hold segment references. */
void kf_server_free(kf_server *s);

#endif
