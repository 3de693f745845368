/* SPDX-License-Identifier: MIT */
/*
 * cmd_log.c — `cairn log`: inspection of a data directory, also while a
 * node is writing to it (opened read-only: no lock, no recovery, reads only
 * what the writer has committed, never blocks it).
 *   topics | describe TOPIC | dump TOPIC[:PART] | tail TOPIC[:PART] |
 *   verify | groups | stats
 * Output goes to stdout; errors are one line on stderr; exit 0/1/2.
 */
#include "commands.h"
#include "cmd_log_live.h"

#include "cn_buf.h"
#include "cn_cli.h"
#include "cn_err.h"
#include "cn_time.h"
#include "insp.h"
#include "lg.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_DEFAULT_DATA "./cairn-data"

typedef struct log_ctx {
    cn_cli *cli;
    lg_log *log;
} log_ctx;

static volatile sig_atomic_t log_stop;

static void log_on_signal(int sig)
{
    (void)sig;
    log_stop = 1;
}

static int log_open_ro(cn_cli *cli, lg_log **out)
{
    const char *dir = cn_cli_str(cli, "data");
    if (access(dir, F_OK) != 0) {
        fprintf(stderr, "%s: data directory %s does not exist; pass --data DIR\n", cli->prog, dir);
        return CN_EXIT_FAIL;
    }
    lg_opts o;
    lg_opts_init(&o);
    o.dir = dir;
    o.read_only = 1;
    int rc = lg_open(out, &o);
    if (rc) {
        fprintf(stderr, "%s: cannot open %s: %s\n", cli->prog, dir, cn_strerror(rc));
        return CN_EXIT_FAIL;
    }
    return 0;
}

/* "topic" or "topic:3" → name (in buf) and partition (-1: all). */
static int log_parse_target(cn_cli *cli, const char *arg, char *name, size_t cap, int32_t *part)
{
    const char *colon = strrchr(arg, ':');
    size_t nlen = colon ? (size_t)(colon - arg) : strlen(arg);
    if (nlen == 0 || nlen >= cap)
        return cn_cli_usage_error(cli, "bad topic '%s'", arg);
    memcpy(name, arg, nlen);
    name[nlen] = '\0';
    *part = -1;
    if (colon) {
        char *end;
        errno = 0;
        long p = strtol(colon + 1, &end, 10);
        if (errno || end == colon + 1 || *end || p < 0 || p > INT32_MAX)
            return cn_cli_usage_error(cli, "bad partition in '%s' (want TOPIC:N)", arg);
        *part = (int32_t)p;
    }
    return 0;
}

/* ---- topics / describe / stats ---------------------------------------- */

static int log_topics_row(void *ud, const char *name, const lg_topic_config *cfg)
{
    (void)ud;
    printf("%s\t%d\n", name, cfg->partitions);
    return 0;
}

static void log_fmt_time(int64_t ms, char out[32])
{
    if (ms < 0)
        snprintf(out, 32, "-");
    else
        cn_fmt_rfc3339_ms(ms, out);
}

static void log_print_partition(lg_log *log, const char *topic, int32_t p)
{
    lg_partition_info pi;
    int rc = lg_partition_info_get(log, topic, p, &pi);
    if (rc) {
        printf("  %s:%d\terror: %s\n", topic, p, cn_strerror(rc));
        return;
    }
    char t0[32], t1[32];
    log_fmt_time(pi.first_timestamp, t0);
    log_fmt_time(pi.last_timestamp, t1);
    printf("  %s:%d\tstart=%" PRId64 " end=%" PRId64 " records=%" PRId64 " bytes=%" PRIu64
           " segments=%u epoch=%d oldest=%s newest=%s%s%s\n",
           topic, p, pi.log_start_offset, pi.log_end_offset,
           pi.log_end_offset - pi.log_start_offset, pi.bytes, pi.segments, pi.leader_epoch, t0, t1,
           pi.failed ? " FAILED: " : "", pi.failed ? pi.err_detail : "");
}

static int log_describe_row(void *ud, const char *name, const lg_topic_config *cfg)
{
    lg_log *log = ud;
    printf("%s\tpartitions=%d retention_ms=%" PRId64 " retention_bytes=%" PRId64
           " segment_bytes=%" PRIu64 "\n",
           name, cfg->partitions, cfg->retention_ms, cfg->retention_bytes, cfg->segment_bytes);
    for (int32_t p = 0; p < cfg->partitions; p++)
        log_print_partition(log, name, p);
    return 0;
}

typedef struct log_describe_one {
    const char *want;
    lg_log *log;
    int found;
} log_describe_one;

static int log_describe_match(void *ud, const char *name, const lg_topic_config *cfg)
{
    log_describe_one *d = ud;
    if (strcmp(name, d->want) != 0)
        return 0;
    d->found = 1;
    return log_describe_row(d->log, name, cfg);
}

/* ---- dump / tail ------------------------------------------------------- */

typedef struct log_dump_opts {
    int64_t from_offset; /* -1: earliest */
    int64_t from_time;   /* -1: unused */
    int64_t count;       /* -1: all */
    enum insp_format fmt;
    int tail;   /* start count records before the end */
    int follow; /* keep waiting for new records */
} log_dump_opts;

/* The transactions of one partition as the index has them, to show each
 * transactional record's outcome: aborted (producer id, first offset,
 * marker offset) in marker order, and open ones (last_offset -1). */
typedef struct log_txview {
    lg_aborted_txn *v;
    size_t n, cap;
    size_t skip; /* aborted entries whose marker lies below what was shown */
    int err;
} log_txview;

static int log_tx_push(log_txview *x, int64_t pid, int64_t first, int64_t last)
{
    if (x->n == x->cap) {
        size_t nc = x->cap ? x->cap * 2 : 16;
        lg_aborted_txn *nv = realloc(x->v, nc * sizeof(*nv));
        if (!nv)
            return x->err = CN_ENOMEM;
        x->v = nv;
        x->cap = nc;
    }
    x->v[x->n++] = (lg_aborted_txn){pid, first, last};
    return 0;
}

static int log_tx_aborted(void *ud, const lg_aborted_txn *t)
{
    return log_tx_push(ud, t->producer_id, t->first_offset, t->last_offset);
}

static int log_tx_open(void *ud, int64_t pid, int64_t first)
{
    return log_tx_push(ud, pid, first, -1);
}

static int log_txview_load(lg_log *log, const char *topic, int32_t p, int64_t from, log_txview *x)
{
    x->n = x->skip = 0;
    int rc = lg_aborted_txns(log, topic, p, from, INT64_MAX, log_tx_aborted, x);
    if (!rc)
        rc = lg_open_txns(log, topic, p, log_tx_open, x);
    return rc ? rc : x->err;
}

/* The outcome of a transactional batch of pid at offset.  Offsets only
 * grow along a dump, so aborts ending below it are skipped for good; the
 * rest is scanned (FUTURE: an interval index for logs with very many
 * aborted transactions). */
static const char *log_tx_status(log_txview *x, int64_t pid, int64_t offset)
{
    while (x->skip < x->n && x->v[x->skip].last_offset >= 0 && x->v[x->skip].last_offset < offset)
        x->skip++;
    for (size_t i = x->skip; i < x->n; i++) {
        const lg_aborted_txn *t = &x->v[i];
        if (t->producer_id != pid || t->first_offset > offset)
            continue;
        if (t->last_offset < 0)
            return "open";
        if (offset < t->last_offset)
            return "aborted";
    }
    return "committed";
}

/* Dump one partition; returns records printed or a negative error. */
static int64_t log_dump_part(lg_log *log, const char *topic, int32_t p, const log_dump_opts *d,
                             int64_t budget)
{
    int64_t start = d->from_offset >= 0 ? d->from_offset : 0;
    if (d->tail) {
        lg_partition_info pi;
        int rc = lg_partition_info_get(log, topic, p, &pi);
        if (rc)
            return rc;
        start = pi.log_end_offset - (budget >= 0 ? budget : 0);
        if (start < pi.log_start_offset)
            start = pi.log_start_offset;
        if (d->follow)
            budget = -1;
    }
    if (d->from_time >= 0) {
        int rc = lg_offset_for_time(log, topic, p, d->from_time, &start);
        if (rc)
            return rc;
    }
    lg_iter *it;
    int rc = lg_iter_open(&it, log, topic, p, start);
    if (rc)
        return rc;
    /* Markers are shown, and each transactional record's outcome. */
    lg_iter_set_control(it, 1);
    log_txview tx = {NULL, 0, 0, 0, 0};
    rc = log_txview_load(log, topic, p, start, &tx);
    cn_buf out = CN_BUF_INIT;
    int64_t n = 0;
    lg_record rec;
    while (!rc && !log_stop && (budget < 0 || n < budget)) {
        rc = lg_iter_next(it, &rec);
        if (rc == CN_DONE && d->follow) {
            fflush(stdout);
            usleep(100 * 1000);
            rc = log_txview_load(log, topic, p, start, &tx); /* transactions end meanwhile */
            continue;
        }
        if (rc)
            break;
        const lg_batch_hdr *h = lg_iter_batch(it);
        insp_txn ti = {0, h->producer_id, h->producer_epoch, NULL};
        if (h->attributes & LG_ATTR_CONTROL)
            ti.control = 1;
        else if (h->attributes & LG_ATTR_TRANSACTIONAL)
            ti.status = log_tx_status(&tx, h->producer_id, rec.offset);
        cn_buf_reset(&out);
        if (insp_format_record_txn(&out, d->fmt, topic, p, &rec,
                                   ti.control || ti.status ? &ti : NULL) == 0)
            fwrite(out.data, 1, out.len, stdout);
        n++;
    }
    cn_buf_free(&out);
    free(tx.v);
    lg_iter_close(it);
    if (rc && rc != CN_DONE) {
        fprintf(stderr, "cairn log: %s:%d: stopped at a bad record: %s\n", topic, p,
                cn_strerror(rc));
        return rc;
    }
    return n;
}

static int log_cmd_dump(cn_cli *cli, lg_log *log, int tail, int follow)
{
    char topic[256];
    int32_t part;
    int rc = log_parse_target(cli, cli->pos[1], topic, sizeof(topic), &part);
    if (rc)
        return rc;
    log_dump_opts d = {-1, -1, tail ? 10 : -1, INSP_FMT_JSON, tail, follow};
    if (cn_cli_flag(cli, "from-offset") && cn_cli_flag(cli, "from-offset")->set &&
        cn_cli_i64(cli, "from-offset", 0, INT64_MAX, &d.from_offset))
        return CN_EXIT_USAGE;
    if (cn_cli_flag(cli, "count") && cn_cli_flag(cli, "count")->set &&
        cn_cli_i64(cli, "count", 0, INT64_MAX, &d.count))
        return CN_EXIT_USAGE;
    const char *ft = cn_cli_str(cli, "from-time");
    if (ft && cn_parse_rfc3339_ms(ft, &d.from_time) &&
        cn_cli_i64(cli, "from-time", 0, INT64_MAX, &d.from_time))
        return CN_EXIT_USAGE;
    if (d.from_offset >= 0 && d.from_time >= 0)
        return cn_cli_usage_error(cli, "give --from-offset or --from-time, not both");
    if (tail && (d.from_offset >= 0 || d.from_time >= 0))
        return cn_cli_usage_error(
            cli, "tail starts at the end; use dump with --from-offset/--from-time");
    const char *fmt = cn_cli_str(cli, "format");
    if (fmt && insp_format_parse(fmt, &d.fmt))
        return cn_cli_usage_error(cli, "--format must be json, text or raw; got '%s'", fmt);
    int nparts = lg_topic_partitions(log, topic);
    if (nparts < 0) {
        fprintf(stderr, "%s: no topic '%s'; 'cairn log topics' lists them\n", cli->prog, topic);
        return CN_EXIT_FAIL;
    }
    if (part >= nparts) {
        fprintf(stderr, "%s: topic '%s' has %d partitions (0..%d)\n", cli->prog, topic, nparts,
                nparts - 1);
        return CN_EXIT_FAIL;
    }
    if (follow && part < 0 && nparts > 1)
        return cn_cli_usage_error(cli, "tail follows one partition: give TOPIC:N");
    /* dump: --count bounds the whole output; tail: the last --count of each partition. */
    int64_t left = d.count;
    for (int32_t p = part < 0 ? 0 : part; p < (part < 0 ? nparts : part + 1) && !log_stop; p++) {
        int64_t n = log_dump_part(log, topic, p, &d, left);
        if (n < 0)
            return CN_EXIT_FAIL;
        if (!tail && left >= 0 && (left -= n) <= 0)
            break;
    }
    fflush(stdout);
    return CN_EXIT_OK;
}

/* ---- verify / groups --------------------------------------------------- */

static void log_verify_problem(void *ud, const char *file, uint64_t pos, const char *what)
{
    (void)ud;
    printf("%s:%" PRIu64 ": %s\n", file, pos, what);
}

static int log_group_row(void *ud, const char *group, const char *topic, int32_t p, int64_t off)
{
    lg_log *log = ud;
    lg_partition_info pi;
    int64_t lag = -1;
    if (lg_partition_info_get(log, topic, p, &pi) == 0)
        lag = pi.log_end_offset - off;
    printf("%s\t%s:%d\toffset=%" PRId64 "\tlag=%" PRId64 "\n", group, topic, p, off, lag);
    return 0;
}

/* ---- dispatch ---------------------------------------------------------- */

static const char *const log_usage =
    "SUBCOMMAND [ARGS] [flags]\n\n"
    "subcommands:\n"
    "  topics                 list topics and partition counts\n"
    "  describe TOPIC         topic config and per-partition offsets, sizes, times\n"
    "  dump TOPIC[:PART]      print records (CloudEvents decoded) [--from-offset N | --from-time "
    "T]\n"
    "                         [--count N] [--format json|text|raw]\n"
    "  tail TOPIC[:PART]      like dump from the end; -f/--follow keeps printing new records\n"
    "  verify                 check every CRC and index entry; exit 1 naming file and byte "
    "position\n"
    "  groups                 consumer-group offsets and lag\n"
    "  stats                  records, bytes, segments, oldest and newest time per partition\n"
    "  cluster                with --brokers: live nodes, and per partition leader, replicas,\n"
    "                         in-sync replicas, down replicas, high watermark";

static int log_run(cn_cli *cli, lg_log *log)
{
    const char *sub = cli->pos[0];
    if (!strcmp(sub, "topics"))
        return lg_topics_each(log, log_topics_row, NULL) < 0 ? CN_EXIT_FAIL : CN_EXIT_OK;
    if (!strcmp(sub, "stats"))
        return lg_topics_each(log, log_describe_row, log) < 0 ? CN_EXIT_FAIL : CN_EXIT_OK;
    if (!strcmp(sub, "describe")) {
        log_describe_one d = {cli->pos[1], log, 0};
        lg_topics_each(log, log_describe_match, &d);
        if (!d.found) {
            fprintf(stderr, "%s: no topic '%s'\n", cli->prog, cli->pos[1]);
            return CN_EXIT_FAIL;
        }
        return CN_EXIT_OK;
    }
    if (!strcmp(sub, "dump"))
        return log_cmd_dump(cli, log, 0, 0);
    if (!strcmp(sub, "tail"))
        return log_cmd_dump(cli, log, 1, cn_cli_bool(cli, "follow"));
    if (!strcmp(sub, "verify")) {
        int n = lg_verify(log, log_verify_problem, NULL);
        if (n < 0) {
            fprintf(stderr, "%s: verify failed: %s\n", cli->prog, cn_strerror(n));
            return CN_EXIT_FAIL;
        }
        printf("%d problem%s found\n", n, n == 1 ? "" : "s");
        return n ? CN_EXIT_FAIL : CN_EXIT_OK;
    }
    if (!strcmp(sub, "groups"))
        return lg_group_offsets_each(log, log_group_row, log) < 0 ? CN_EXIT_FAIL : CN_EXIT_OK;
    return cn_cli_usage_error(cli, "unknown subcommand '%s'", sub);
}

static int log_argc_ok(cn_cli *cli)
{
    const char *sub = cli->pos[0];
    int want = (!strcmp(sub, "describe") || !strcmp(sub, "dump") || !strcmp(sub, "tail")) ? 2 : 1;
    if (cli->npos != want)
        return cn_cli_usage_error(cli, "'%s' takes %d argument%s", sub, want - 1,
                                  want == 2 ? "" : "s");
    return 0;
}

int cmd_log(int argc, char **argv)
{
    cn_flag flags[] = {
        {"data", "DIR", LOG_DEFAULT_DATA, "data directory to read"},
        {"from-offset", "N", NULL, "dump: first offset"},
        {"from-time", "T", NULL, "dump: first record at or after T (RFC 3339 or ms since epoch)"},
        {"count", "N", NULL, "dump/tail: at most N records (tail default: 10)"},
        {"format", "FMT", "json", "dump/tail: json, text or raw"},
        {"follow", NULL, NULL, "tail: keep printing new records until interrupted"},
        {"brokers", "HOST:PORT", NULL,
         "read a running node over the Kafka protocol instead (topics, describe, groups with "
         "members, cluster)"},
    };
    cn_cli cli = {"cairn log",
                  log_usage,
                  "Inspect a cairn data directory, also while a node is writing to it.",
                  flags,
                  sizeof(flags) / sizeof(flags[0]),
                  1,
                  2};
    /* -f is the one short flag users expect from tail. */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-f"))
            argv[i] = "--follow";
    int rc = cn_cli_parse(&cli, argc, argv);
    if (rc) {
        cn_cli_free(&cli);
        return rc == CN_DONE ? CN_EXIT_OK : CN_EXIT_USAGE;
    }
    int status = log_argc_ok(&cli);
    if (!status && !strcmp(cli.pos[0], "cluster") && !cn_cli_str(&cli, "brokers"))
        status = cn_cli_usage_error(&cli, "'cluster' asks a running node: add --brokers HOST:PORT");
    if (!status && cn_cli_str(&cli, "brokers")) {
        status = cmd_log_live(cli.prog, cli.pos[0], cli.npos > 1 ? cli.pos[1] : NULL,
                              cn_cli_str(&cli, "brokers"));
        cn_cli_free(&cli);
        return status;
    }
    lg_log *log = NULL;
    if (!status)
        status = log_open_ro(&cli, &log);
    if (!status) {
        signal(SIGINT, log_on_signal);
        signal(SIGTERM, log_on_signal);
        status = log_run(&cli, log);
    }
    lg_close(log);
    cn_cli_free(&cli);
    return status;
}
