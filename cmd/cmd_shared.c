/* SPDX-License-Identifier: MIT */
/*
 * cmd_shared.c — helpers shared by the daemons' commands (cmd_shared.h):
 * parsing --durability, creating the topics a node serves, writing
 * --port-file, the gateway flags of `cairn gateway` and `cairn up`.  Guarantees: topic creation is
 * idempotent (an existing topic, or one created concurrently, is not an error); the port file
 * appears complete or not at all.  Any thread; owns nothing.
 */
#include "cmd_shared.h"
#include "rp.h"

#include "cn_err.h"
#include "cn_time.h"
#include "cn_id.h"
#include "cn_log.h"
#include "auth.h"
#include "gw_realip.h"
#include "kf_sasl.h"

#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

int cmd_parse_durability(const char *s, lg_opts *o)
{
    if (strcmp(s, "fsync") == 0)
        o->durability = LG_DUR_FSYNC;
    else if (strcmp(s, "none") == 0)
        o->durability = LG_DUR_NONE;
    else if (strncmp(s, "interval=", 9) == 0 && cn_parse_duration_ms(s + 9, &o->interval_ms) == 0)
        o->durability = LG_DUR_INTERVAL;
    else
        return CN_EINVAL;
    return 0;
}

int cmd_ensure_topics(lg_log *log, const char *const *names, size_t n, int32_t partitions,
                      size_t *bad)
{
    for (size_t i = 0; i < n; i++) {
        if (lg_topic_partitions(log, names[i]) > 0)
            continue;
        lg_topic_config cfg;
        memset(&cfg, 0, sizeof(cfg));
        cfg.partitions = partitions;
        int rc = lg_topic_create(log, names[i], &cfg);
        if (rc && rc != CN_EEXIST) {
            if (bad)
                *bad = i;
            return rc;
        }
    }
    return 0;
}

int cmd_is_hostport(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || !colon[1])
        return 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    return !*end && port >= 0 && port <= 65535;
}

/* 1 if "HOST:PORT"'s host is an address that means "every address". */
static int cmd_wildcard_host(const char *hostport)
{
    const char *colon = strrchr(hostport, ':');
    size_t n = colon ? (size_t)(colon - hostport) : strlen(hostport);
    static const char *const any[] = {"", "0.0.0.0", "::", "[::]", "*", "[::0]", "::0"};
    for (size_t i = 0; i < sizeof(any) / sizeof(any[0]); i++)
        if (strlen(any[i]) == n && !memcmp(any[i], hostport, n))
            return 1;
    return 0;
}

int cmd_advertise_flags(cn_cli *cli, const char *listen_flag, char *host_buf, size_t cap,
                        kf_server_opts *ko)
{
    const char *listen = cn_cli_str(cli, listen_flag);
    const char *adv = cn_cli_str(cli, "advertise");
    if (!adv) {
        if (listen && cmd_wildcard_host(listen))
            return cn_cli_usage_error(
                cli,
                "--%s %s listens on every address, which Kafka clients cannot be sent to; give "
                "--advertise HOST:PORT, the address clients should connect to",
                listen_flag, listen);
        return 0;
    }
    const char *colon = strrchr(adv, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == adv || (size_t)(colon - adv) >= cap || *end || end == colon + 1 ||
        port < 1 || port > 65535)
        return cn_cli_usage_error(cli, "--advertise wants HOST:PORT, got '%s'", adv);
    if (cmd_wildcard_host(adv))
        return cn_cli_usage_error(
            cli, "--advertise %s is a wildcard; name the address clients should connect to", adv);
    memcpy(host_buf, adv, (size_t)(colon - adv));
    host_buf[colon - adv] = 0;
    ko->advertise_host = host_buf;
    ko->advertise_port = (int)port;
    return 0;
}

int cmd_sasl_users(cn_cli *cli, kf_sasl_users **out)
{
    *out = NULL;
    const char *path = cn_cli_str(cli, "sasl-users");
    if (!path)
        return 0;
    int line = 0;
    int rc = kf_sasl_users_load(out, path, &line);
    if (!rc && kf_sasl_users_count(*out) == 0) {
        kf_sasl_users_free(*out);
        *out = NULL;
        fprintf(stderr, "%s: --sasl-users %s names no user (lines are name:password)\n", cli->prog,
                path);
        return CN_EXIT_FAIL;
    }
    if (!rc)
        return 0;
    if (rc == CN_EPERM)
        fprintf(stderr, "%s: --sasl-users %s may be read by other users; chmod 600 it\n", cli->prog,
                path);
    else if (rc == CN_EINVAL)
        fprintf(stderr,
                "%s: --sasl-users %s line %d: want name:password (a name once, no control "
                "characters, neither empty)\n",
                cli->prog, path, line);
    else
        fprintf(stderr, "%s: cannot read --sasl-users %s: %s\n", cli->prog, path,
                rc == CN_ESYS      ? strerror(errno)
                : rc == CN_ENOENT  ? "no such file"
                : rc == CN_ETOOBIG ? "larger than 1 MiB"
                                   : cn_strerror(rc));
    return CN_EXIT_FAIL;
}

int cmd_kafka_tls(cn_cli *cli, struct ssl_ctx_st **out)
{
    *out = NULL;
    const char *cert = cn_cli_str(cli, "kafka-tls-cert"), *key = cn_cli_str(cli, "kafka-tls-key");
    if (!cert && !key)
        return 0;
    if (!cert || !key)
        return cn_cli_usage_error(cli, "--kafka-tls-cert and --kafka-tls-key go together");
    char err[256];
    if (kf_tls_ctx_new(out, cert, key, err, sizeof(err))) {
        fprintf(stderr, "%s: Kafka TLS from %s and %s: %s\n", cli->prog, cert, key, err);
        return CN_EXIT_FAIL;
    }
    return 0;
}

int cmd_cluster_tls(cn_cli *cli, struct ssl_ctx_st **out)
{
    *out = NULL;
    const char *cert = cn_cli_str(cli, "cluster-tls-cert"),
               *key = cn_cli_str(cli, "cluster-tls-key"), *ca = cn_cli_str(cli, "cluster-tls-ca");
    if (!cert && !key && !ca)
        return 0;
    if (!cert || !key || !ca)
        return cn_cli_usage_error(
            cli, "--cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca go together");
    if (!cn_cli_str(cli, "cluster"))
        return cn_cli_usage_error(cli, "--cluster-tls-cert needs --cluster");
    char err[320];
    if (rp_tls_ctx_new(out, cert, key, ca, err, sizeof(err))) {
        fprintf(stderr, "%s: cluster TLS: %s\n", cli->prog, err);
        return CN_EXIT_FAIL;
    }
    return 0;
}

void cmd_kafka_tls_reload(kf_server *kf, const char *cert, const char *key, const char *mod)
{
    if (!cert || !key)
        return;
    char err[600];
    if (kf_server_tls_reload(kf, cert, key, err, sizeof(err)))
        cn_log_error(mod, "SIGHUP: Kafka TLS certificate not reloaded, the old one stays: %s", err);
    else
        cn_log_info(mod, "SIGHUP: Kafka TLS certificate reloaded for new connections");
}

int cmd_write_port_file(const char *path, int port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -1;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int bad = fprintf(f, "%d\n", port) < 0;
    if (fclose(f) || bad || rename(tmp, path))
        return -1;
    return 0;
}

int cmd_fd_budget(const cn_cli *cli, uint64_t conns, uint64_t reserve)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return 0;
    uint64_t need = conns + reserve;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return 0;
    fprintf(stderr,
            "%s: --max-conns %llu needs %llu open files but this process may open only %llu "
            "(hard limit %llu); raise it (ulimit -n, systemd LimitNOFILE=) or lower --max-conns\n",
            cli->prog, (unsigned long long)conns, (unsigned long long)need,
            (unsigned long long)rl.rlim_cur,
            rl.rlim_max == RLIM_INFINITY ? (unsigned long long)need
                                         : (unsigned long long)rl.rlim_max);
    return CN_EXIT_USAGE;
}

int cmd_gateway_tls_flags(cn_cli *cli, gw_server_opts *so)
{
    const char *cert = cn_cli_str(cli, "tls-cert"), *key = cn_cli_str(cli, "tls-key");
    int64_t hs;
    if (cn_cli_i64(cli, "max-tls-handshakes", 0, 10000000, &hs))
        return CN_EXIT_USAGE;
    so->max_tls_handshakes = (uint32_t)hs;
    if (!cert && !key)
        return 0;
    if (!cert || !key)
        return cn_cli_usage_error(cli, "--tls-cert and --tls-key go together (wss:// needs both)");
    char err[600];
    if (gw_tls_check(cert, key, err, sizeof(err))) {
        fprintf(stderr, "%s: %s (give PEM files: the certificate chain, leaf first, and its key)\n",
                cli->prog, err);
        return CN_EXIT_FAIL;
    }
    so->tls_cert = cert;
    so->tls_key = key;
    return 0;
}

int cmd_gateway_proxy_flags(cn_cli *cli, gw_server_opts *so)
{
    const char *list = cn_cli_str(cli, "trusted-proxies");
    int pp = cn_cli_bool(cli, "proxy-protocol");
    if (pp && !list)
        return cn_cli_usage_error(cli, "--proxy-protocol needs --trusted-proxies CIDR,... (the "
                                       "addresses whose PROXY header is believed)");
    if (!list)
        return 0;
    gw_cidr c[GW_CIDR_MAX];
    size_t n;
    const char *bad = NULL;
    int rc = gw_cidrs_parse(list, c, GW_CIDR_MAX, &n, &bad);
    if (rc == CN_ETOOBIG)
        return cn_cli_usage_error(cli, "--trusted-proxies: at most %d entries", GW_CIDR_MAX);
    if (rc) {
        const char *e = strchr(bad, ',');
        return cn_cli_usage_error(cli,
                                  "--trusted-proxies: '%.*s' is not an IP address or CIDR block "
                                  "(like 10.0.0.0/8 or 2001:db8::/32, host bits zero)",
                                  (int)(e ? (size_t)(e - bad) : strlen(bad)), bad);
    }
    so->trusted_proxies = list;
    so->proxy_protocol = pp;
    return 0;
}

int cmd_gateway_flags(cn_cli *cli, const char *listen_flag, uint64_t fd_reserve, gw_server_opts *so)
{
    int64_t maxc, idle, hs, halfo;
    uint64_t bufb;
    if (cn_cli_i64(cli, "max-conns", 1, 1000000, &maxc) ||
        cn_cli_duration_ms(cli, "idle-timeout", &idle) ||
        cn_cli_duration_ms(cli, "handshake-timeout", &hs) ||
        cn_cli_size(cli, "max-buffer-bytes", &bufb) ||
        cn_cli_i64(cli, "max-half-open", 0, 10000000, &halfo))
        return CN_EXIT_USAGE;
    so->max_buffer_bytes = bufb;
    so->max_half_open = (uint32_t)halfo;
    if (cmd_fd_budget(cli, (uint64_t)maxc, fd_reserve))
        return CN_EXIT_USAGE;
    if (idle < 100 || hs < 100)
        return cn_cli_usage_error(cli,
                                  "--idle-close and --handshake-timeout must be at least 100ms");
    const char *node = cn_cli_str(cli, "node");
    if (!cn_id_valid(node, strlen(node)) || strlen(node) > 40)
        return cn_cli_usage_error(cli, "--node must be 1-40 of A-Za-z0-9._:@-");
    const char *listen = cn_cli_str(cli, listen_flag);
    if (!cmd_is_hostport(listen))
        return cn_cli_usage_error(cli, "--%s wants HOST:PORT (port 0 picks one), got '%s'",
                                  listen_flag, listen);
    so->listen = listen;
    so->node = node;
    cn_log_set_node(node);
    so->idle_close_ms = idle;
    so->handshake_timeout_ms = hs;
    so->max_conns = (uint32_t)maxc;
    int rc = cmd_gateway_proxy_flags(cli, so);
    if (rc || (rc = cmd_gateway_tls_flags(cli, so)) != 0)
        return rc;
    const char *keyf = cn_cli_str(cli, "auth-key");
    if (!keyf)
        return 0;
    rc = auth_token_read_public(keyf, so->auth_pk);
    if (rc) {
        fprintf(stderr, "%s: cannot read public key %s: %s%s\n", cli->prog, keyf, cn_strerror(rc),
                rc == AUTH_EKEYFILE ? " (give the .pub file written by cairn token keygen)" : "");
        return CN_EXIT_FAIL;
    }
    so->has_auth_key = 1;
    return 0;
}

int cmd_gateway_start(gw_server **out, struct event_base *base, gw_sink *sink,
                      const gw_server_opts *so, const cn_cli *cli, const char *listen_flag)
{
    int rc = gw_server_new(out, base, sink, so);
    if (rc)
        fprintf(stderr, "%s: cannot listen on --%s %s: %s; pick a free HOST:PORT\n", cli->prog,
                listen_flag, so->listen, rc == CN_ESYS ? strerror(errno) : cn_strerror(rc));
    return rc;
}
