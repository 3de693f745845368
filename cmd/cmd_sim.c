/* SPDX-License-Identifier: MIT */
/*
 * cmd_sim.c — `cairn sim`: flags, the hunt file (or the bundled sample),
 * the optional token key, the output files; then one sim_run and its
 * report.  Exit 0 when every ping was acknowledged exactly once, 1 when
 * any was not (or the run could not start), 2 for a usage error.
 * Main thread only; owns the hunt, the key and the files it opens.
 */
#include "commands.h"

#include "cn_alloc.h"
#include "cn_cli.h"
#include "cn_err.h"
#include "cn_id.h"
#include "auth.h"
#include "hunt_rules.h"
#include "sim.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cn_flag sim_flags[] = {
    {"url", "URL", "ws://127.0.0.1:8080/ws", "the gateway's WebSocket endpoint"},
    {"players", "N", "100", "simulated players, one WebSocket connection each"},
    {"duration", "DURATION", "60s",
     "how long players send pings (then up to --ack-timeout for the last acks)"},
    {"seed", "N", "1", "seed of the walks and RSSI noise: the same seed sends the same pings"},
    {"rate", "R", "1", "pings per second per player (0.01 .. 1000)"},
    {"hunt", "FILE", NULL,
     "hunt file whose beacons (x, y) the players walk between; default: the bundled sample hunt"},
    {"token-key", "FILE", NULL,
     "secret key (cairn token keygen) to sign each player's token; none: ?player=ID"},
    {"report", "FILE", NULL, "write the final report as JSON here"},
    {"pings-out", "FILE", NULL,
     "write every ping generated (id, player, beacon, rssi, ts) as JSON lines"},
    {"start-ms", "MS", "0",
     "wall time of t=0 in ms since the epoch (ping ts = start + offset); 0: now"},
    {"player-prefix", "STR", "p-", "player i is STR followed by i in 5 digits"},
    {"id-prefix", "STR", "",
     "prefix of ping ids (<STR><player>.<seq>), to tell runs apart in one log"},
    {"ack-timeout", "DURATION", "10s",
     "after the last ping, how long to wait for outstanding acks"},
    {"sources", "N", "0",
     "127.0.0.x source addresses for a loopback gateway; 0: one per 10,000 players"},
    {"max-connecting", "N", "512", "WebSocket handshakes in progress at once"},
};

static int simc_rate(cn_cli *cli, double *out)
{
    const char *s = cn_cli_str(cli, "rate");
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0.01 || v > 1000) {
        cn_cli_usage_error(cli,
                           "--rate must be a number of pings per second per player in 0.01..1000");
        return CN_EINVAL;
    }
    *out = v;
    return 0;
}

static int simc_load_hunt(const char *path, hunt_rules **out)
{
    char err[HUNT_ERR_MAX];
    int rc = hunt_rules_load_or_sample(path, out, err, sizeof(err));
    if (rc)
        fprintf(stderr, "cairn sim: %s\n", err[0] ? err : cn_strerror(rc));
    return rc;
}

static FILE *simc_open(const char *path, const char *what)
{
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "cairn sim: cannot write %s %s: %s\n", what, path, strerror(errno));
    return f;
}

static int simc_run(sim_opts *o, const char *report_path, const char *pings_path)
{
    FILE *rep = NULL;
    int status = CN_EXIT_FAIL;
    if (report_path && !(rep = simc_open(report_path, "--report")))
        return CN_EXIT_FAIL;
    if (pings_path && !(o->pings_out = simc_open(pings_path, "--pings-out")))
        goto out;
    o->progress = stderr;
    sim_result r;
    int rc = sim_run(o, &r);
    if (rc) {
        fprintf(stderr, "cairn sim: %s\n", r.first_error[0] ? r.first_error : cn_strerror(rc));
        if (rc == CN_EINVAL) /* a URL it cannot use, more players than fds */
            status = CN_EXIT_USAGE;
        goto out;
    }
    sim_result_print(stdout, o, &r);
    if (rep && (sim_result_json(rep, o, &r) || fflush(rep))) {
        fprintf(stderr, "cairn sim: cannot write the report %s\n", report_path);
        goto out;
    }
    if (o->pings_out && fflush(o->pings_out)) {
        fprintf(stderr, "cairn sim: cannot write %s\n", pings_path);
        goto out;
    }
    status = sim_result_ok(&r) ? CN_EXIT_OK : CN_EXIT_FAIL;
out:
    if (rep && fclose(rep))
        status = CN_EXIT_FAIL;
    if (o->pings_out && fclose(o->pings_out))
        status = CN_EXIT_FAIL;
    return status;
}

int cmd_sim(int argc, char **argv)
{
    cn_cli cli = {"cairn sim",
                  "[flags]",
                  "Simulate players walking a venue between the hunt's beacons and sending pings "
                  "over the real "
                  "WebSocket protocol; check that every ping is acknowledged exactly once.  A "
                  "progress line goes "
                  "to stderr every second, a summary to stdout at the end.  Exit 0 if every ping "
                  "was acked, 1 if "
                  "not.",
                  sim_flags,
                  sizeof(sim_flags) / sizeof(sim_flags[0]),
                  0,
                  0,
                  NULL,
                  0};
    int rc = cn_cli_parse(&cli, argc, argv);
    if (rc) {
        cn_cli_free(&cli); /* the parsed flags are allocated even on --help */
        return rc == CN_DONE ? CN_EXIT_OK : CN_EXIT_USAGE;
    }
    int status = CN_EXIT_USAGE;
    hunt_rules *hunt = NULL;
    sim_beacon_pos *pos = NULL;
    const char **ids = NULL;
    unsigned char sk[AUTH_TOKEN_SK_LEN];
    int64_t players, seed, start, sources, maxconn;
    sim_opts o;
    sim_opts_init(&o);
    if (cn_cli_i64(&cli, "players", 1, 1000000, &players) ||
        cn_cli_i64(&cli, "seed", 0, INT64_MAX, &seed) ||
        cn_cli_i64(&cli, "start-ms", 0, INT64_MAX, &start) ||
        cn_cli_i64(&cli, "sources", 0, 250, &sources) ||
        cn_cli_i64(&cli, "max-connecting", 1, 100000, &maxconn) ||
        cn_cli_duration_ms(&cli, "duration", &o.duration_ms) ||
        cn_cli_duration_ms(&cli, "ack-timeout", &o.ack_timeout_ms) || simc_rate(&cli, &o.rate))
        goto out;
    if (o.duration_ms < 1) {
        status = cn_cli_usage_error(&cli, "--duration must be at least 1ms");
        goto out;
    }
    o.player_prefix = cn_cli_str(&cli, "player-prefix");
    o.id_prefix = cn_cli_str(&cli, "id-prefix");
    size_t ppl = strlen(o.player_prefix), ipl = strlen(o.id_prefix);
    /* Player ids are the prefix and up to 7 digits; ping ids add the id
     * prefix, a dot and up to 20 digits of sequence: both must be ids. */
    if (ppl > 20 || (ppl && !cn_id_valid(o.player_prefix, ppl)) || ipl > 20 ||
        (ipl && !cn_id_valid(o.id_prefix, ipl))) {
        status = cn_cli_usage_error(
            &cli, "--player-prefix and --id-prefix must be 0-20 of A-Za-z0-9._:@-");
        goto out;
    }
    o.url = cn_cli_str(&cli, "url");
    o.players = (uint32_t)players;
    o.seed = (uint64_t)seed;
    o.start_ms = start;
    o.sources = (uint32_t)sources;
    o.max_connecting = (uint32_t)maxconn;
    status = CN_EXIT_FAIL;
    if (simc_load_hunt(cn_cli_str(&cli, "hunt"), &hunt))
        goto out;
    const hunt_def *d = hunt_rules_def(hunt);
    pos = cn_calloc(d->nbeacons, sizeof(*pos));
    ids = cn_calloc(d->nbeacons, sizeof(*ids));
    if (!pos || !ids)
        goto out;
    for (uint32_t i = 0; i < d->nbeacons; i++) {
        pos[i].x = d->beacons[i].x;
        pos[i].y = d->beacons[i].y;
        ids[i] = d->beacons[i].id;
    }
    o.beacons = pos;
    o.beacon_ids = ids;
    o.nbeacons = d->nbeacons;
    o.hunt_id = d->id;
    const char *keyf = cn_cli_str(&cli, "token-key");
    if (keyf) {
        rc = auth_token_read_secret(keyf, sk);
        if (rc) {
            fprintf(stderr, "cairn sim: cannot read secret key %s: %s%s\n", keyf, cn_strerror(rc),
                    rc == AUTH_EKEYFILE ? " (give the secret key file, not the .pub)" : "");
            goto out;
        }
        o.token_sk = sk;
    }
    status = simc_run(&o, cn_cli_str(&cli, "report"), cn_cli_str(&cli, "pings-out"));
out:
    hunt_rules_free(hunt);
    cn_free(pos);
    cn_free(ids);
    cn_cli_free(&cli);
    return status;
}
