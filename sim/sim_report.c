/* SPDX-License-Identifier: MIT */
/*
 * sim_report.c — the end of a `cairn sim` run for people and programs: the
 * --report JSON object (options, counters, ack latency quantiles) and the
 * human summary.  Pure formatting of a finished sim_result; any thread.
 */
#include "sim.h"

#include "cn_buf.h"
#include "cn_json.h"

#include <stdio.h>
#include <string.h>

static double sim__ms(uint64_t us)
{
    return (double)us / 1000.0;
}

int sim_result_json(FILE *f, const sim_opts *o, const sim_result *r)
{
    cn_buf url = CN_BUF_INIT, err = CN_BUF_INIT;
    if (cn_json_str(&url, o->url, strlen(o->url)) ||
        cn_json_str(&err, r->first_error, strlen(r->first_error))) {
        cn_buf_free(&url);
        cn_buf_free(&err);
        return -1;
    }
    double rate = r->elapsed_s > 0 ? (double)r->pings_acked / r->elapsed_s : 0;
    int n = fprintf(
        f,
        "{\"ok\":%s,\"url\":%.*s,\"players\":%u,\"duration_s\":%.3f,\"seed\":%llu,\"rate\":%g,"
        "\"start_ms\":%lld,\"elapsed_s\":%.3f,\"sources\":%u,"
        "\"pings\":%llu,\"acked\":%llu,\"unacked\":%llu,\"acked_twice\":%llu,\"unknown_acks\":%llu,"
        "\"ping_errors\":%llu,\"resends\":%llu,\"frames_sent\":%llu,\"connects\":%llu,\"connect_"
        "failures\":%llu,"
        "\"idle_closes\":%llu,\"other_closes\":%llu,\"max_open\":%u,\"acked_per_s\":%.1f,"
        "\"ack_latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f},"
        "\"first_error\":%.*s}\n",
        sim_result_ok(r) ? "true" : "false", (int)url.len, (const char *)url.data, o->players,
        (double)o->duration_ms / 1000.0, (unsigned long long)o->seed, o->rate,
        (long long)r->start_ms, r->elapsed_s, r->sources, (unsigned long long)r->pings_sent,
        (unsigned long long)r->pings_acked, (unsigned long long)r->unacked,
        (unsigned long long)r->acked_twice, (unsigned long long)r->unknown_acks,
        (unsigned long long)r->ping_errors, (unsigned long long)r->resends,
        (unsigned long long)r->frames_sent, (unsigned long long)r->connects,
        (unsigned long long)r->connect_failures, (unsigned long long)r->idle_closes,
        (unsigned long long)r->other_closes, r->max_open, rate,
        sim__ms(sim_hist_quantile(&r->lat, 0.5)), sim__ms(sim_hist_quantile(&r->lat, 0.9)),
        sim__ms(sim_hist_quantile(&r->lat, 0.99)), sim__ms(sim_hist_quantile(&r->lat, 0.999)),
        sim__ms(r->lat.max_us), (int)err.len, (const char *)err.data);
    cn_buf_free(&url);
    cn_buf_free(&err);
    return n < 0 ? -1 : 0;
}

void sim_result_print(FILE *f, const sim_opts *o, const sim_result *r)
{
    fprintf(f, "%s: %u players, %.1f s of pings at %g/s each (seed %llu), %.1f s in all\n",
            sim_result_ok(r) ? "ok" : "FAILED", o->players, (double)o->duration_ms / 1000.0,
            o->rate, (unsigned long long)o->seed, r->elapsed_s);
    fprintf(f,
            "pings    %llu sent, %llu acked, %llu unacked, %llu refused, %llu acked twice, %llu "
            "unknown acks\n",
            (unsigned long long)r->pings_sent, (unsigned long long)r->pings_acked,
            (unsigned long long)r->unacked, (unsigned long long)r->ping_errors,
            (unsigned long long)r->acked_twice, (unsigned long long)r->unknown_acks);
    fprintf(f,
            "conns    %llu handshakes (%llu failed, retried), %llu idle closes, %llu other closes, "
            "%u open at most, "
            "%u source address%s, %llu resends\n",
            (unsigned long long)r->connects, (unsigned long long)r->connect_failures,
            (unsigned long long)r->idle_closes, (unsigned long long)r->other_closes, r->max_open,
            r->sources, r->sources == 1 ? "" : "es", (unsigned long long)r->resends);
    fprintf(f, "ack latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
            sim__ms(sim_hist_quantile(&r->lat, 0.5)), sim__ms(sim_hist_quantile(&r->lat, 0.9)),
            sim__ms(sim_hist_quantile(&r->lat, 0.99)), sim__ms(r->lat.max_us));
    if (r->first_error[0])
        fprintf(f, "first problem: %s\n", r->first_error);
}
