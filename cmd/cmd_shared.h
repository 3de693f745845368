/* SPDX-License-Identifier: MIT */
/*
 * cmd_shared.h — small helpers more than one `cairn` command needs: the
 * --durability flag, the topics a node creates at start, --port-file, the
 * gateway flags and gateway start that `cairn gateway` and `cairn up` share.
 * Any thread; no state.
 */
#ifndef CAIRN_CMD_SHARED_H
#define CAIRN_CMD_SHARED_H

#include "cn_cli.h"
#include "gw_server.h"
#include "kf_server.h"
#include "lg.h"

#include <stddef.h>
#include <stdint.h>

/** "fsync" | "interval=DURATION" | "none" into o->durability (and
 *  o->interval_ms).  @return 0 or CN_EINVAL. */
int cmd_parse_durability(const char *s, lg_opts *o);

/** Create each of the n topics that does not exist yet with `partitions`
 *  partitions (existing ones keep theirs).  @return 0 or the first
 *  lg_topic_create error (names[*bad] is the topic it failed on). */
int cmd_ensure_topics(lg_log *log, const char *const *names, size_t n, int32_t partitions,
                      size_t *bad);

/** 1 if s is "HOST:PORT" with a non-empty host and a port 0..65535. */
int cmd_is_hostport(const char *s);

/**
 * --advertise for a Kafka listener given by flag listen_flag, into
 * ko->advertise_host (host_buf, cap bytes) and ko->advertise_port.  A
 * listener on a wildcard address (0.0.0.0, ::, *) cannot be advertised:
 * clients would be told to connect to it, so --advertise is then required,
 * and an --advertise naming a wildcard is refused.  Prints one line.
 * @return 0 or CN_EXIT_USAGE.
 */
int cmd_advertise_flags(cn_cli *cli, const char *listen_flag, char *host_buf, size_t cap,
                        kf_server_opts *ko);

/**
 * --sasl-users FILE (kf_sasl.h) into *out (NULL when the flag is absent):
 * prints one line naming the file and what is wrong (missing, readable by
 * others, a bad line).  @return 0 or CN_EXIT_FAIL.  kf_sasl_users_free
 * *out after the Kafka server is gone.
 */
int cmd_sasl_users(cn_cli *cli, struct kf_sasl_users **out);

/**
 * --kafka-tls-cert FILE and --kafka-tls-key FILE (both or neither) into
 * *out (NULL without them): prints one line on failure.
 * @return 0; CN_EXIT_USAGE (one without the other); CN_EXIT_FAIL (the
 * files do not load or match).  kf_tls_ctx_free *out after the server.
 */
int cmd_kafka_tls(cn_cli *cli, struct ssl_ctx_st **out);
/** --cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca (all three
 *  or none) into a mutual-TLS context for replication, or *out NULL.
 *  @return 0; CN_EXIT_USAGE after a usage error; CN_EXIT_FAIL after saying
 *  which file could not be used. */
int cmd_cluster_tls(cn_cli *cli, struct ssl_ctx_st **out);
/** SIGHUP: load --kafka-tls-cert/--kafka-tls-key (cert, key: their values,
 *  NULL without Kafka TLS) again for new Kafka connections, and log the
 *  outcome as module mod (a failure keeps the old certificate). */
void cmd_kafka_tls_reload(kf_server *kf, const char *cert, const char *key, const char *mod);

/** Write "PORT\n" to path atomically (a temporary file, then rename), so a
 *  test polling for it never reads half a number.  @return 0 or -1. */
int cmd_write_port_file(const char *path, int port);

/** Open files a process keeps beside its player connections.  A gateway:
 *  listeners, its Kafka client or the log's active segments.  `cairn up`
 *  also: every partition's segments and index, the Kafka listener's
 *  clients, RocksDB's files. */
#define CMD_FD_RESERVE_GATEWAY 64
#define CMD_FD_RESERVE_UP 1024

/** Check that this process's open-file limit (already raised to the hard
 *  limit by main) holds `conns` connections plus `reserve`.  On failure
 *  prints one line naming both numbers and the fix.
 *  @return 0, or CN_EXIT_USAGE. */
int cmd_fd_budget(const cn_cli *cli, uint64_t conns, uint64_t reserve);

/**
 * The gateway flags `cairn gateway` and `cairn up` share, into so (after
 * gw_server_opts_init): the listener from flag listen_flag ("listen",
 * "http"), --node, --idle-close, --handshake-timeout, --max-conns (which
 * the open-file limit must hold plus fd_reserve: cmd_fd_budget),
 * --tls-cert/--tls-key (checked here), --trusted-proxies/--proxy-protocol
 * and --auth-key (the key file is read here).  so->node and so->listen borrow
 * the cli's strings.  Prints one line on stderr on failure.
 * @return 0; CN_EXIT_USAGE (a bad flag); CN_EXIT_FAIL (the key file).
 */
int cmd_gateway_flags(cn_cli *cli, const char *listen_flag, uint64_t fd_reserve,
                      gw_server_opts *so);

/**
 * --tls-cert and --tls-key (both or neither) and --max-tls-handshakes into
 * so, after checking that
 * they load (gw_tls_check), so a `--workers` supervisor refuses bad
 * files before it starts any worker.  Called by cmd_gateway_flags.
 * @return 0; CN_EXIT_USAGE (one without the other); CN_EXIT_FAIL (they do
 *         not load: one line on stderr says why).
 */
int cmd_gateway_tls_flags(cn_cli *cli, gw_server_opts *so);

/**
 * --trusted-proxies CIDR,... and --proxy-protocol (which needs the list)
 * into so.  Called by cmd_gateway_flags.
 * @return 0; CN_EXIT_USAGE (a bad entry, named on stderr).
 */
int cmd_gateway_proxy_flags(cn_cli *cli, gw_server_opts *so);

/**
 * gw_server_new with the one-line error `cairn gateway` and `cairn up`
 * print when the listener cannot start (naming listen_flag).
 * @return as gw_server_new.
 */
int cmd_gateway_start(gw_server **out, struct event_base *base, gw_sink *sink,
                      const gw_server_opts *so, const cn_cli *cli, const char *listen_flag);

#endif
