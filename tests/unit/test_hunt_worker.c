/* SPDX-License-Identifier: MIT */
/*
 * test_hunt_worker.c — the worker loop over an in-process log, with the
 * crash points of docs/architecture.md forced deterministically by an io
 * that wraps hunt_io_log and fails on purpose:
 *   - before the append: nothing reaches hunt-events or RocksDB; a new
 *     worker derives the same events once;
 *   - after the append, before the commit: the events are in hunt-events,
 *     RocksDB has the previous batch; a new worker finds them by its tail
 *     scan and does not append them again (and the log's idempotence check
 *     would have refused a wrong sequence);
 * plus hostile records: bad protobuf, a CloudEvent that is not a ping, an
 * unknown beacon, an absurd RSSI, an invalid player id — each audited as
 * rejected with its reason at its offset, counted, and skipped, while the
 * good pings around them are processed and the offset moves past all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_buf.h"
#include "cn_ce.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "hunt_io_kafka.h"
#include "hunt_io_log.h"
#include "hunt_rules.h"
#include "hunt_store.h"
#include "hunt_worker.h"
#include "lg.h"

#define T0 INT64_C(1764352800000)
#define MIN INT64_C(60000)

/* The stores' clock (RocksDB's compaction threads read it too). */
static _Atomic int64_t fake_now = T0;
static int64_t fake_clock(void *ud)
{
    (void)ud;
    return atomic_load(&fake_now);
}

static const char *hunt_json =
    "{\"id\":\"t\",\"name\":\"T\",\"found\":{\"rssi_min\":-70,\"hits\":1,\"window_s\":10},"
    "\"beacons\":[{\"id\":\"b0\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":5},"
    "{\"id\":\"b1\",\"name\":\"n\",\"x\":1,\"y\":0,\"points\":7}]}";

typedef struct env {
    char *dir;
    hunt_rules *rules;
    hunt_store *st;
    lg_log *log;
    hunt_io *inner;
    hunt_io wrap;
    int fail_before_append, fail_after_append; /* one-shot crash points */
    int rewind_to; /* >= 0: the next read first seeks the input back here (one shot) */
    int drop_one;  /* >= 0: the next append loses this record, then fails (one shot) */
    hunt_worker *w;
} env;

/* ---- the failing io ---------------------------------------------------------- */

static int w_partitions(hunt_io *io, const char *t)
{
    env *e = io->ud;
    return e->inner->partitions(e->inner, t);
}
static int w_seek(hunt_io *io, int32_t p, int64_t o)
{
    env *e = io->ud;
    return e->inner->seek(e->inner, p, o);
}
static int w_next(hunt_io *io, int32_t p, lg_record *r)
{
    env *e = io->ud;
    if (e->rewind_to >= 0) {
        /* What a consumer does when its topic was recreated or truncated
         * and auto.offset.reset sent it back to the start. */
        assert_int_equal(e->inner->seek(e->inner, p, e->rewind_to), 0);
        e->rewind_to = -1;
    }
    return e->inner->next(e->inner, p, r);
}
static int w_scan(hunt_io *io, int32_t p, int64_t f, int (*fn)(void *, const lg_record *), void *ud)
{
    env *e = io->ud;
    return e->inner->scan_out(e->inner, p, f, fn, ud);
}
static int w_append(hunt_io *io, int32_t p, const hunt_out_rec *r, size_t n, int64_t pid,
                    int16_t epoch, int32_t seq, int64_t *next)
{
    env *e = io->ud;
    if (e->fail_before_append) {
        e->fail_before_append = 0;
        return CN_EIO;
    }
    if (e->drop_one >= 0 && (size_t)e->drop_one < n) {
        /* A gap: every record but one delivered (as an at-least-once
         * producer may leave it), then the worker dies before its commit. */
        hunt_out_rec kept[16];
        size_t m = 0;
        for (size_t i = 0; i < n && m < 16; i++)
            if (i != (size_t)e->drop_one)
                kept[m++] = r[i];
        e->drop_one = -1;
        assert_int_equal(e->inner->append(e->inner, p, kept, m, -1, -1, -1, next), 0);
        return CN_EIO;
    }
    int rc = e->inner->append(e->inner, p, r, n, pid, epoch, seq, next);
    if (!rc && e->fail_after_append) {
        e->fail_after_append = 0;
        return CN_EIO; /* durable in the log, but the worker dies before its commit */
    }
    return rc;
}
static int w_pid(hunt_io *io, int64_t *pid)
{
    env *e = io->ud;
    return e->inner->alloc_pid(e->inner, pid);
}
static int64_t w_end(hunt_io *io, int32_t p)
{
    env *e = io->ud;
    return e->inner->end_offset(e->inner, p);
}

/* ---- setup ------------------------------------------------------------------- */

static void env_open_worker_named(env *e, const char *node);
static void env_open_worker(env *e)
{
    env_open_worker_named(e, "t");
}

static void env_open_worker_named(env *e, const char *node)
{
    char err[512] = "";
    hunt_worker_opts wo;
    memset(&wo, 0, sizeof(wo));
    wo.node = node;
    wo.batch = 4;
    assert_int_equal(hunt_worker_new(&e->w, e->rules, e->st, &e->wrap, &wo, err, sizeof(err)), 0);
}

static void env_open_rules(env *e, const char *json)
{
    char err[512] = "", sdir[4096], ldir[4096];
    memset(e, 0, sizeof(*e));
    e->dir = cn_test_tmpdir("hunt-worker");
    snprintf(sdir, sizeof(sdir), "%s/state", e->dir);
    snprintf(ldir, sizeof(ldir), "%s/log", e->dir);
    assert_int_equal(hunt_rules_parse(json, strlen(json), &e->rules, err, sizeof(err)), 0);
    hunt_store_opts so = {0};
    so.clock = fake_clock;
    atomic_store(&fake_now, T0);
    assert_int_equal(hunt_store_open(sdir, &so, &e->st, err, sizeof(err)), 0);
    lg_opts o;
    lg_opts_init(&o);
    o.dir = ldir;
    assert_int_equal(lg_open(&e->log, &o), 0);
    lg_topic_config c = {1, -1, -1, 0};
    assert_int_equal(lg_topic_create(e->log, HUNT_TOPIC_IN, &c), 0);
    assert_int_equal(lg_topic_create(e->log, HUNT_TOPIC_OUT, &c), 0);
    assert_int_equal(hunt_io_log_new(&e->inner, e->log), 0);
    e->wrap = (hunt_io){w_partitions, w_seek, w_next, w_scan, w_append, w_pid, w_end, e};
    e->rewind_to = -1;
    e->drop_one = -1;
    env_open_worker(e);
}

static void env_open(env *e)
{
    env_open_rules(e, hunt_json);
}

static void env_close(env *e)
{
    hunt_worker_free(e->w);
    hunt_io_log_free(e->inner);
    lg_close(e->log);
    hunt_store_close(e->st);
    hunt_rules_free(e->rules);
    cn_test_rmrf(e->dir);
    free(e->dir);
}

static void append_value_at(env *e, const char *key, const void *v, size_t n, int64_t ts);

static void append_value(env *e, const char *key, const void *v, size_t n)
{
    append_value_at(e, key, v, n, T0);
}

/* ts: the record timestamp, the log's receive time of the ping. */
static void append_value_at(env *e, const char *key, const void *v, size_t n, int64_t ts)
{
    lg_batch_builder *bb;
    cn_buf b = CN_BUF_INIT;
    assert_int_equal(lg_batch_builder_new(&bb, LG_COMP_NONE), 0);
    assert_int_equal(lg_batch_builder_add(bb, ts, key, strlen(key), v, n, NULL, 0), 0);
    assert_int_equal(lg_batch_builder_finish(bb, &b), 0);
    assert_int_equal(lg_append(e->log, HUNT_TOPIC_IN, 0, b.data, b.len, NULL), 0);
    lg_batch_builder_free(bb);
    cn_buf_free(&b);
}

static void append_ping_hunt(env *e, const char *hunt, const char *player, const char *beacon,
                             int rssi, int64_t ts)
{
    static int n;
    char id[32], cid[32];
    cn_buf ce = CN_BUF_INIT;
    snprintf(id, sizeof(id), "e%d", n);
    snprintf(cid, sizeof(cid), "c%d", n++);
    Cairn__V1__BlePing p = CAIRN__V1__BLE_PING__INIT;
    p.id = cid;
    p.beacon = (char *)beacon;
    p.rssi = rssi;
    p.ts = ts;
    p.player = (char *)player;
    p.hunt = (char *)hunt;
    assert_int_equal(cn_ce_encode_ping(&ce, "g", id, ts, &p), 0);
    append_value_at(e, player, ce.data, ce.len, ts); /* received when sent */
    cn_buf_free(&ce);
}

static int64_t out_count(env *e)
{
    lg_partition_info pi;
    assert_int_equal(lg_partition_info_get(e->log, HUNT_TOPIC_OUT, 0, &pi), 0);
    return pi.log_end_offset;
}

static int drain(env *e)
{
    int n, total = 0;
    while ((n = hunt_worker_poll(e->w)) > 0)
        total += n;
    return n < 0 ? n : total;
}

static void append_ping(env *e, const char *player, const char *beacon, int rssi, int64_t ts)
{
    append_ping_hunt(e, "", player, beacon, rssi, ts);
}

/* Every hunt-events record's CloudEvent id, in order, joined by spaces. */
static int collect_id(void *ud, const lg_record *rec)
{
    cn_buf *b = ud;
    cn_ce_msg *m;
    cn_ce ev;
    assert_int_equal(cn_ce_decode(rec->value, rec->value_len, &m, &ev), 0);
    cn_buf_printf(b, "%s ", ev.id);
    cn_ce_msg_free(m);
    return 0;
}

static void out_ids(env *e, cn_buf *b)
{
    cn_buf_reset(b);
    assert_int_equal(e->inner->scan_out(e->inner, 0, 0, collect_id, b), 0);
    cn_buf_append(b, "", 1);
}

/* ---- tests -------------------------------------------------------------------- */

/* p1 joins and finds b0 (joined, found, score: 3 events) at offset 0,
 * then finds b1 at offset 1 (found, score, completed: 3 events). */
static const char *want_ids = "t/0/0/0 t/0/0/1 t/0/0/2 t/0/1/0 t/0/1/1 t/0/1/2 ";

static void test_crash_before_append(void **state)
{
    (void)state;
    env e;
    cn_buf ids = CN_BUF_INIT;
    env_open(&e);
    append_ping(&e, "p1", "b0", -50, T0);
    append_ping(&e, "p1", "b1", -50, T0 + 1000);
    e.fail_before_append = 1;
    assert_int_equal(hunt_worker_poll(e.w), CN_EIO);
    assert_int_equal(out_count(&e), 0);
    int64_t next;
    assert_int_equal(hunt_store_get_offset(e.st, HUNT_TOPIC_IN, 0, &next), CN_ENOENT);
    hunt_worker_free(e.w); /* the "crash": the worker's memory is gone */
    env_open_worker(&e);
    assert_int_equal(drain(&e), 2);
    out_ids(&e, &ids);
    assert_string_equal((char *)ids.data, want_ids);
    cn_buf_free(&ids);
    env_close(&e);
}

static void test_crash_after_append(void **state)
{
    (void)state;
    env e;
    cn_buf ids = CN_BUF_INIT;
    env_open(&e);
    append_ping(&e, "p1", "b0", -50, T0);
    append_ping(&e, "p1", "b1", -50, T0 + 1000);
    e.fail_after_append = 1;
    assert_int_equal(hunt_worker_poll(e.w), CN_EIO);
    assert_int_equal(out_count(&e), 6); /* the events are durable ... */
    int64_t next;
    assert_int_equal(hunt_store_get_offset(e.st, HUNT_TOPIC_IN, 0, &next),
                     CN_ENOENT); /* ... the state is not */
    hunt_worker_free(e.w);
    env_open_worker(&e);
    assert_int_equal(drain(&e), 2);
    assert_int_equal(hunt_worker_get_stats(e.w)->suppressed, 6);
    assert_int_equal(hunt_worker_get_stats(e.w)->emitted, 0);
    out_ids(&e, &ids);
    assert_string_equal((char *)ids.data, want_ids);
    /* Later events continue the producer's sequence: the log accepts them. */
    append_ping(&e, "p2", "b0", -50, T0 + 2000);
    assert_int_equal(drain(&e), 1);
    assert_int_equal(out_count(&e), 9);
    assert_int_equal(hunt_store_get_offset(e.st, HUNT_TOPIC_IN, 0, &next), 0);
    assert_int_equal(next, 3);
    /* And a restart now scans nothing new and emits nothing. */
    hunt_worker_free(e.w);
    env_open_worker(&e);
    assert_int_equal(drain(&e), 0);
    assert_int_equal(out_count(&e), 9);
    cn_buf_free(&ids);
    env_close(&e);
}

typedef struct audit_seen {
    char text[16][256];
    int n;
} audit_seen;

static int collect_audit(void *ud, const void *k, size_t kl, const void *v, size_t vl, int64_t w)
{
    audit_seen *a = ud;
    (void)k;
    (void)kl;
    (void)w;
    if (a->n < 16)
        snprintf(a->text[a->n++], 256, "%.*s", (int)vl, (const char *)v);
    return 0;
}

static int audit_has(const audit_seen *a, const char *needle1, const char *needle2)
{
    for (int i = 0; i < a->n; i++)
        if (strstr(a->text[i], needle1) && strstr(a->text[i], needle2))
            return 1;
    return 0;
}

static void test_hostile_records(void **state)
{
    (void)state;
    env e;
    env_open(&e);
    static const unsigned char junk[] = {0xff, 0xff, 0xff, 0x01, 0x02};
    append_value(&e, "x", junk, sizeof(junk)); /* 0: not protobuf */
    append_value(&e, "x", "", 0);              /* 1: empty value */
    cn_ce notping = {.id = "i", .source = "/s", .type = "other.type"};
    cn_buf nb = CN_BUF_INIT;
    assert_int_equal(cn_ce_encode(&notping, &nb), 0);
    append_value(&e, "x", nb.data, nb.len);                   /* 2: not a ping */
    append_ping(&e, "p1", "nope", -50, T0);                   /* 3: unknown beacon */
    append_ping(&e, "p1", "b0", 300, T0);                     /* 4: absurd RSSI */
    append_ping(&e, "bad player", "b0", -50, T0);             /* 5: invalid id */
    append_ping(&e, "p1", "b0", -50, INT64_C(5000000000000)); /* 6: year 2128 */
    append_ping(&e, "p1", "b0", -50, T0);                     /* 7: good: 3 events */
    assert_int_equal(drain(&e), 8);
    const hunt_worker_stats *s = hunt_worker_get_stats(e.w);
    assert_int_equal(s->rejected[HUNT_REJ_BAD_RECORD - HUNT_REJ_BAD_PLAYER], 3);
    assert_int_equal(s->rejected[HUNT_REJ_UNKNOWN_BEACON - HUNT_REJ_BAD_PLAYER], 1);
    assert_int_equal(s->rejected[HUNT_REJ_BAD_RSSI - HUNT_REJ_BAD_PLAYER], 1);
    assert_int_equal(s->rejected[HUNT_REJ_BAD_PLAYER - HUNT_REJ_BAD_PLAYER], 1);
    assert_int_equal(s->rejected[HUNT_REJ_BAD_TIME - HUNT_REJ_BAD_PLAYER], 1);
    assert_int_equal(s->accepted, 1);
    assert_int_equal(out_count(&e), 3);
    audit_seen a;
    memset(&a, 0, sizeof(a));
    assert_int_equal(hunt_store_scan(e.st, HUNT_CF_AUDIT, 0, collect_audit, &a), 0);
    assert_int_equal(a.n, 7 + 3);
    assert_true(audit_has(&a, "\"rejected\":\"bad_record\"", "\"offset\":0,"));
    assert_true(audit_has(&a, "\"rejected\":\"bad_record\"", "\"offset\":1,"));
    assert_true(audit_has(&a, "\"rejected\":\"bad_record\"", "\"offset\":2,"));
    assert_true(audit_has(&a, "\"rejected\":\"unknown_beacon\"", "\"offset\":3,"));
    assert_true(audit_has(&a, "\"rejected\":\"bad_rssi\"", "\"offset\":4,"));
    assert_true(audit_has(&a, "\"rejected\":\"bad_player\"", "\"player\":\"bad player\""));
    assert_true(audit_has(&a, "\"rejected\":\"bad_time\"", "\"offset\":6,"));
    assert_true(audit_has(&a, "\"event\":\"beacon_found\"", "\"offset\":7,"));
    int64_t next;
    assert_int_equal(hunt_store_get_offset(e.st, HUNT_TOPIC_IN, 0, &next), 0);
    assert_int_equal(next, 8);
    cn_buf_free(&nb);
    env_close(&e);
}

/* A token names the hunt it plays (the gateway copies the claim into
 * BlePing.hunt); a worker applies only pings for its own hunt or with no
 * claim (development mode, other producers).  The refused ping changes
 * nothing, is counted and audited, and the good pings around it count. */
static void test_ping_for_another_hunt_not_applied(void **state)
{
    (void)state;
    env e;
    env_open(&e);
    append_ping_hunt(&e, "other", "p1", "b0", -50, T0); /* 0: token for hunt "other" */
    append_ping_hunt(&e, "t", "p2", "b0", -50, T0);     /* 1: this hunt: 3 events */
    append_ping_hunt(&e, "", "p3", "b0", -50, T0);      /* 2: no claim: 3 events */
    append_ping_hunt(&e, "T", "p1", "b1", -50, T0);     /* 3: ids are case-sensitive */
    assert_int_equal(drain(&e), 4);
    const hunt_worker_stats *s = hunt_worker_get_stats(e.w);
    assert_int_equal(s->rejected[HUNT_REJ_WRONG_HUNT - HUNT_REJ_BAD_PLAYER], 2);
    assert_int_equal(s->accepted, 2);
    assert_int_equal(out_count(&e), 6);
    cn_buf v = CN_BUF_INIT;
    assert_int_equal(hunt_store_get(e.st, HUNT_CF_PROGRESS, "p1", 2, &v, NULL), CN_ENOENT);
    audit_seen a;
    memset(&a, 0, sizeof(a));
    assert_int_equal(hunt_store_scan(e.st, HUNT_CF_AUDIT, 0, collect_audit, &a), 0);
    assert_true(audit_has(&a, "\"rejected\":\"wrong_hunt\"", "\"offset\":0,"));
    assert_true(audit_has(&a, "\"rejected\":\"wrong_hunt\"", "\"offset\":3,"));
    cn_buf m = CN_BUF_INIT;
    assert_int_equal(hunt_worker_metrics(e.w, &m), 0);
    cn_buf_append(&m, "", 1);
    assert_non_null(strstr((char *)m.data, "cairn_hunt_rejected_total{reason=\"wrong_hunt\"} 2\n"));
    cn_buf_free(&m);
    cn_buf_free(&v);
    env_close(&e);
}

/* Input offsets never go backwards: a consumer sent back to an earlier
 * offset (topic recreated or truncated, auto.offset.reset=earliest) would
 * replay history onto state that already holds it.  The worker refuses,
 * commits nothing, and says why in one line. */
static void test_input_offset_going_back_is_refused(void **state)
{
    (void)state;
    env e;
    env_open(&e);
    append_ping(&e, "p1", "b0", -50, T0);
    append_ping(&e, "p2", "b0", -50, T0);
    assert_int_equal(drain(&e), 2);
    append_ping(&e, "p3", "b0", -50, T0);
    e.rewind_to = 0;
    assert_int_equal(hunt_worker_poll(e.w), CN_ERANGE);
    const char *why = hunt_worker_error(e.w);
    assert_non_null(strstr(why, "went back from 2 to 0"));
    assert_null(strchr(why, '\n'));
    int64_t next;
    assert_int_equal(hunt_store_get_offset(e.st, HUNT_TOPIC_IN, 0, &next), 0);
    assert_int_equal(next, 2);
    assert_int_equal(out_count(&e), 6);
    assert_int_equal(hunt_worker_get_stats(e.w)->accepted, 2);
    env_close(&e);
}

/* Two hits within 60 s find a beacon; sessions last the default 30 min. */
static const char *hunt2_json =
    "{\"id\":\"t\",\"name\":\"T\",\"found\":{\"rssi_min\":-70,\"hits\":2,\"window_s\":60},"
    "\"beacons\":[{\"id\":\"b0\",\"name\":\"n\",\"x\":0,\"y\":0,\"points\":5},"
    "{\"id\":\"b1\",\"name\":\"n\",\"x\":1,\"y\":0,\"points\":7}]}";

static void state_of(hunt_store *st, enum hunt_cf cf, const char *player, cn_buf *v)
{
    assert_int_equal(hunt_store_get(st, cf, player, strlen(player), v, NULL), 0);
}

/* Session expiry is decided on ping time, so how long a worker lags (or
 * how late it restarts after a crash) changes nothing: a worker that
 * meets the second hit 31 minutes of wall clock after the first still
 * finds the beacon (the hits are 10 s apart), and --rebuild of the same
 * log, later still, derives byte for byte the same sessions and progress. */
static void test_replay_after_lag_equals_live_run(void **state)
{
    (void)state;
    env e;
    char err[512] = "", sdir[4096];
    cn_buf a = CN_BUF_INIT, b = CN_BUF_INIT;
    env_open_rules(&e, hunt2_json);
    append_ping(&e, "p1", "b0", -50, T0);
    assert_int_equal(drain(&e), 1);
    assert_int_equal(out_count(&e), 1);     /* joined */
    atomic_store(&fake_now, T0 + 31 * MIN); /* the worker lags (or restarts) 31 min */
    append_ping(&e, "p1", "b0", -50, T0 + 10000);
    hunt_worker_free(e.w);
    env_open_worker(&e);
    assert_int_equal(drain(&e), 1);
    assert_int_equal(out_count(&e), 3); /* beacon_found, score_changed */
    assert_int_equal(hunt_worker_get_stats(e.w)->sessions_expired, 0);
    /* A ping 30 min of ping time after the last one meets a new session. */
    append_ping(&e, "p1", "b1", -50, T0 + 10000 + 30 * MIN);
    append_ping(&e, "p1", "b1", -50, T0 + 20000 + 30 * MIN);
    assert_int_equal(drain(&e), 2);
    assert_int_equal(hunt_worker_get_stats(e.w)->sessions_expired, 1);
    assert_int_equal(out_count(&e), 6); /* found b1, score, completed */

    /* --rebuild a day later into a new state directory. */
    atomic_store(&fake_now, T0 + 1440 * MIN);
    snprintf(sdir, sizeof(sdir), "%s/rebuilt", e.dir);
    hunt_store_opts so = {0};
    so.clock = fake_clock;
    hunt_store *st2;
    hunt_worker *w2;
    assert_int_equal(hunt_store_open(sdir, &so, &st2, err, sizeof(err)), 0);
    hunt_worker_opts wo;
    memset(&wo, 0, sizeof(wo));
    wo.node = "t";
    wo.rebuild = 1;
    assert_int_equal(hunt_worker_new(&w2, e.rules, st2, &e.wrap, &wo, err, sizeof(err)), 0);
    while (hunt_worker_poll(w2) > 0)
        ;
    assert_true(hunt_worker_caught_up(w2));
    state_of(e.st, HUNT_CF_PROGRESS, "p1", &a);
    state_of(st2, HUNT_CF_PROGRESS, "p1", &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    state_of(e.st, HUNT_CF_SESSIONS, "p1", &a);
    state_of(st2, HUNT_CF_SESSIONS, "p1", &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_int_equal(hunt_worker_get_stats(w2)->events[HUNT_EV_BEACON_FOUND], 2);
    hunt_worker_free(w2);
    hunt_store_close(st2);
    cn_buf_free(&a);
    cn_buf_free(&b);
    env_close(&e);
}

/* Sessions leave the disk only when no ping the worker can still accept
 * could find them live: the horizon follows the committed receive times
 * minus the oldest ping age accepted (24 h) and the session TTL, never the
 * wall clock. */
static void test_session_gc_bounded_by_committed_input(void **state)
{
    (void)state;
    env e;
    env_open_rules(&e, hunt2_json);
    assert_int_equal(hunt_store_session_horizon(e.st), INT64_MIN);
    append_ping(&e, "p1", "b0", -50, T0);
    assert_int_equal(drain(&e), 1);
    atomic_store(&fake_now, T0 + 3000 * MIN); /* two days of wall clock: nothing moves */
    assert_int_equal(hunt_store_compact_expired(e.st), 0);
    cn_buf v = CN_BUF_INIT;
    state_of(e.st, HUNT_CF_SESSIONS, "p1", &v);
    assert_int_equal(hunt_store_session_horizon(e.st), T0 - 1440 * MIN - 30 * MIN);
    /* Input received 24.5 h later moves the horizon past p1's session. */
    int64_t later = T0 + 1470 * MIN;
    cn_buf ce = CN_BUF_INIT;
    Cairn__V1__BlePing p = CAIRN__V1__BLE_PING__INIT;
    p.id = (char *)"late";
    p.beacon = (char *)"b1";
    p.rssi = -50;
    p.ts = later;
    p.player = (char *)"p2";
    assert_int_equal(cn_ce_encode_ping(&ce, "g", "late", later, &p), 0);
    append_value_at(&e, "p2", ce.data, ce.len, later);
    assert_int_equal(drain(&e), 1);
    assert_int_equal(hunt_store_session_horizon(e.st), T0);
    assert_int_equal(hunt_store_compact_expired(e.st), 0);
    assert_int_equal(hunt_store_get(e.st, HUNT_CF_SESSIONS, "p1", 2, &v, NULL), CN_ENOENT);
    state_of(e.st, HUNT_CF_SESSIONS, "p2", &v);
    state_of(e.st, HUNT_CF_PROGRESS, "p1", &v); /* progress never goes */
    cn_buf_free(&ce);
    cn_buf_free(&v);
    env_close(&e);
}

/* Power loss with --flush interval or none: the log recovers less than
 * the worker had consumed and emitted (RocksDB is synced per batch).  The
 * worker starts anyway, resumes at the recovered ends, plays the pings the
 * log stores next at the lost offsets, and keeps what the state holds. */
static void test_restart_after_log_lost_its_tail(void **state)
{
    (void)state;
    env e;
    char ldir[4096], err[512] = "";
    env_open(&e);
    append_ping(&e, "p1", "b0", -50, T0);
    append_ping(&e, "p1", "b1", -50, T0 + 1000);
    append_ping(&e, "p3", "b0", -50, T0 + 2000);
    assert_int_equal(drain(&e), 3);
    assert_int_equal(out_count(&e), 9);
    /* The power loss: only the first record of each topic survived. */
    hunt_worker_free(e.w);
    hunt_io_log_free(e.inner);
    lg_close(e.log);
    snprintf(ldir, sizeof(ldir), "%s/log", e.dir);
    cn_test_rmrf(ldir);
    lg_opts o;
    lg_opts_init(&o);
    o.dir = ldir;
    assert_int_equal(lg_open(&e.log, &o), 0);
    lg_topic_config c = {1, -1, -1, 0};
    assert_int_equal(lg_topic_create(e.log, HUNT_TOPIC_IN, &c), 0);
    assert_int_equal(lg_topic_create(e.log, HUNT_TOPIC_OUT, &c), 0);
    assert_int_equal(hunt_io_log_new(&e.inner, e.log), 0);
    append_ping(&e, "p1", "b0", -50, T0);
    hunt_worker_opts wo;
    memset(&wo, 0, sizeof(wo));
    wo.node = "t";
    wo.batch = 4;
    assert_int_equal(hunt_worker_new(&e.w, e.rules, e.st, &e.wrap, &wo, err, sizeof(err)), 0);
    /* A new ping lands at offset 1, which the state had consumed before. */
    append_ping(&e, "p2", "b0", -50, T0 + 3000);
    assert_int_equal(drain(&e), 1);
    assert_int_equal(out_count(&e), 3); /* p2: joined, found, score */
    int64_t next;
    assert_int_equal(hunt_store_get_offset(e.st, HUNT_TOPIC_IN, 0, &next), 0);
    assert_int_equal(next, 2);
    cn_buf v = CN_BUF_INIT;
    state_of(e.st, HUNT_CF_PROGRESS, "p2", &v);
    state_of(e.st, HUNT_CF_PROGRESS, "p3", &v); /* what the state held stays */
    /* And the next restart is an ordinary one. */
    hunt_worker_free(e.w);
    env_open_worker(&e);
    assert_int_equal(drain(&e), 0);
    assert_int_equal(out_count(&e), 3);
    cn_buf_free(&v);
    env_close(&e);
}

/* Every start bumps the producer epoch of the partition's producer id: an
 * older instance still running with the same state (a copy, a hung worker
 * that came back) is fenced by the log instead of having its batch taken
 * for a duplicate of the new instance's and its events silently lost. */
static void test_old_instance_fenced_after_restart(void **state)
{
    (void)state;
    env e;
    char err[512] = "", cmd[8300], sdir2[4096];
    hunt_io *io2;
    hunt_store *st2;
    hunt_worker *nw;
    env_open(&e);
    append_ping(&e, "p1", "b0", -50, T0);
    assert_int_equal(drain(&e), 1);
    /* A second instance on a copy of the state (an operator's copy, or a
     * worker that hung and came back): same producer id, reading and
     * appending through its own io. */
    snprintf(sdir2, sizeof(sdir2), "%s/state2", e.dir);
    snprintf(cmd, sizeof(cmd), "cp -a '%s/state' '%s'", e.dir, sdir2);
    assert_int_equal(system(cmd), 0);
    hunt_store_opts so = {0};
    so.clock = fake_clock;
    assert_int_equal(hunt_store_open(sdir2, &so, &st2, err, sizeof(err)), 0);
    assert_int_equal(hunt_io_log_new(&io2, e.log), 0);
    hunt_worker_opts wo;
    memset(&wo, 0, sizeof(wo));
    wo.node = "t";
    wo.batch = 4;
    assert_int_equal(hunt_worker_new(&nw, e.rules, st2, io2, &wo, err, sizeof(err)), 0);
    append_ping(&e, "p2", "b0", -50, T0 + 1000);
    assert_int_equal(hunt_worker_poll(nw), 1); /* the new instance: 3 events */
    assert_int_equal(out_count(&e), 6);
    /* The old one derives the same 3 events under its old epoch: refused. */
    assert_int_equal(hunt_worker_poll(e.w), LG_EFENCED);
    assert_int_equal(out_count(&e), 6);
    /* The new one goes on, and goes on after its own restart (a new epoch
     * again, its sequence from 0). */
    append_ping(&e, "p3", "b0", -50, T0 + 2000);
    assert_int_equal(hunt_worker_poll(nw), 1);
    assert_int_equal(out_count(&e), 9);
    hunt_worker *again;
    assert_int_equal(hunt_worker_new(&again, e.rules, st2, io2, &wo, err, sizeof(err)), 0);
    append_ping(&e, "p4", "b0", -50, T0 + 3000);
    assert_int_equal(hunt_worker_poll(again), 1);
    assert_int_equal(out_count(&e), 12);
    hunt_worker_free(again);
    hunt_worker_free(nw);
    hunt_io_log_free(io2);
    hunt_store_close(st2);
    env_close(&e);
}

/* The output tail scan remembers each derived event it finds, not the
 * highest: when one record of a batch was lost while later ones were
 * delivered (at-least-once output, then a crash), the restart emits the
 * lost one and nothing twice. */
static void test_dedupe_by_ids_seen_fills_a_gap(void **state)
{
    (void)state;
    env e;
    cn_buf ids = CN_BUF_INIT;
    env_open(&e);
    e.wrap.alloc_pid = NULL; /* no producer ids, like the --brokers io */
    append_ping(&e, "p1", "b0", -50, T0);
    append_ping(&e, "p1", "b1", -50, T0 + 1000);
    e.drop_one = 1;
    assert_int_equal(hunt_worker_poll(e.w), CN_EIO);
    assert_int_equal(out_count(&e), 5);
    hunt_worker_free(e.w);
    env_open_worker(&e);
    assert_int_equal(drain(&e), 2);
    assert_int_equal(hunt_worker_get_stats(e.w)->suppressed, 5);
    assert_int_equal(hunt_worker_get_stats(e.w)->emitted, 1);
    out_ids(&e, &ids);
    assert_string_equal((char *)ids.data, "t/0/0/0 t/0/0/2 t/0/1/0 t/0/1/1 t/0/1/2 t/0/0/1 ");
    cn_buf_free(&ids);
    env_close(&e);
}

/* The dedupe key is the event id (hunt, input partition, offset, index),
 * not the --node name: a partition moved to a worker of another name after
 * a crash finds its events and emits none again. */
static void test_dedupe_ignores_node_name(void **state)
{
    (void)state;
    env e;
    cn_buf ids = CN_BUF_INIT;
    env_open(&e);
    append_ping(&e, "p1", "b0", -50, T0);
    append_ping(&e, "p1", "b1", -50, T0 + 1000);
    e.fail_after_append = 1;
    assert_int_equal(hunt_worker_poll(e.w), CN_EIO);
    assert_int_equal(out_count(&e), 6);
    hunt_worker_free(e.w);
    env_open_worker_named(&e, "another-node");
    assert_int_equal(drain(&e), 2);
    assert_int_equal(hunt_worker_get_stats(e.w)->suppressed, 6);
    assert_int_equal(hunt_worker_get_stats(e.w)->emitted, 0);
    out_ids(&e, &ids);
    assert_string_equal((char *)ids.data, want_ids);
    cn_buf_free(&ids);
    env_close(&e);
}

/* --brokers: append() waits for delivery reports longer than librdkafka
 * keeps retrying a record (message.timeout.ms as the producer has it), so
 * a record it gave up on can never be delivered behind the worker's back
 * and appear beside the re-derived one after the restart. */
static void test_kafka_flush_outlasts_message_timeout(void **state)
{
    (void)state;
    hunt_io *io;
    char err[512] = "";
    int64_t flush_ms, msg_timeout_ms;
    /* No broker needed: the clients connect lazily. */
    assert_int_equal(hunt_io_kafka_new(&io, "127.0.0.1:1", "t", err, sizeof(err)), 0);
    hunt_io_kafka_limits(io, &flush_ms, &msg_timeout_ms);
    assert_true(msg_timeout_ms > 0);
    assert_true(flush_ms > msg_timeout_ms);
    hunt_io_kafka_free(io);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_before_append),
        cmocka_unit_test(test_crash_after_append),
        cmocka_unit_test(test_hostile_records),
        cmocka_unit_test(test_ping_for_another_hunt_not_applied),
        cmocka_unit_test(test_input_offset_going_back_is_refused),
        cmocka_unit_test(test_replay_after_lag_equals_live_run),
        cmocka_unit_test(test_session_gc_bounded_by_committed_input),
        cmocka_unit_test(test_restart_after_log_lost_its_tail),
        cmocka_unit_test(test_old_instance_fenced_after_restart),
        cmocka_unit_test(test_dedupe_by_ids_seen_fills_a_gap),
        cmocka_unit_test(test_dedupe_ignores_node_name),
        cmocka_unit_test(test_kafka_flush_outlasts_message_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
