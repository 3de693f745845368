/* SPDX-License-Identifier: MIT */
/*
 * test_rp_failover.c — three replicas of one partition in one process,
 * each with its own lg_log directory and its own rp_repl (driver and
 * transport) over real loopback TCP, on one event loop: a leader is
 * elected; acks=all proposals are acknowledged only once the HW passes
 * them; the leader's node is closed (its rp_repl freed, its log closed)
 * with proposals still pending, which fail with CN_EPERM; a new leader is
 * elected among the two survivors and holds every acknowledged batch at
 * its offset with its bytes; it acknowledges new proposals; the old node
 * restarts from its directory and catches up.  After every step no node
 * serves a record at or above its HW (lg_read, lg_iter and the partition
 * info agree), and followers refuse proposals.  A second test freezes the
 * followers' loops: the leader answers acks=1 at its own fsync, and fails
 * the uncommitted acks=all proposal when check-quorum deposes it.  A
 * third drives an idempotent producer: a retry of a batch is acknowledged
 * with the original's offset and not stored again, at the leader that
 * stored it and at the next leader after a failover; sequence gaps, older
 * producer epochs and ids no voter allocated are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cn_buf.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "lg.h"
#include "lg_testutil.h"
#include "rp.h"

#define NN 3
#define WAIT_MS 60000 /* generous: the machine may be loaded */
#define TOPIC "pings"

typedef struct node {
    char *dir;
    lg_log *log;
    rp_repl *r;
} node;

typedef struct acked {
    int64_t base;
    uint32_t seed;
} acked;

typedef struct fx {
    struct event_base *base;
    struct event_base *nb[NN]; /* a node's own loop (NULL: base) */
    int frozen[NN];            /* its loop is not run, as if SIGSTOPped */
    uint32_t election_ticks;   /* 0: the driver's default */
    rp_cluster cluster;
    node n[NN];
    acked ack[256];
    int nack;
    int failed_eperm, answered;
} fx;

typedef struct prop {
    fx *f;
    uint32_t seed;
} prop;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t l = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static void node_open(fx *f, int i, int create)
{
    node *n = &f->n[i];
    lg_opts o;
    lg_opts_init(&o);
    o.dir = n->dir;
    assert_int_equal(lg_open(&n->log, &o), 0);
    if (create) {
        lg_topic_config tc = {.partitions = 1};
        assert_int_equal(lg_topic_create(n->log, TOPIC, &tc), 0);
    }
    rp_repl_opts ro = {
        .cluster = &f->cluster, .self = i + 1, .tick_ms = 20, .election_ticks = f->election_ticks};
    assert_int_equal(rp_repl_new(&n->r, f->nb[i] ? f->nb[i] : f->base, n->log, &ro), 0);
    assert_int_equal(rp_repl_add(n->r, TOPIC, 0), 0);
}

static void node_close(fx *f, int i)
{
    rp_repl_free(f->n[i].r);
    lg_close(f->n[i].log);
    f->n[i].r = NULL;
    f->n[i].log = NULL;
}

/* One pass of every loop that runs. */
static void pump(fx *f)
{
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    for (int i = 0; i < NN; i++)
        if (f->nb[i] && !f->frozen[i])
            event_base_loop(f->nb[i], EVLOOP_NONBLOCK);
}

/* No node hands a consumer anything at or above its HW. */
static void check_nothing_above_hw(fx *f)
{
    for (int i = 0; i < NN; i++) {
        if (!f->n[i].log)
            continue;
        rp_part_state st;
        assert_int_equal(rp_repl_state(f->n[i].r, TOPIC, 0, &st), 0);
        lg_partition_info info;
        assert_int_equal(lg_partition_info_get(f->n[i].log, TOPIC, 0, &info), 0);
        assert_true(info.high_watermark <= st.hw);
        lg_read_result res;
        int rc = lg_read(f->n[i].log, TOPIC, 0, info.high_watermark, 1 << 20, &res);
        if (rc == 0) {
            assert_int_equal(res.len, 0);
            lg_read_release(f->n[i].log, &res);
        }
        lg_iter *it = NULL;
        assert_int_equal(lg_iter_open(&it, f->n[i].log, TOPIC, 0, 0), 0);
        lg_record rec;
        while ((rc = lg_iter_next(it, &rec)) == 0)
            assert_true(rec.offset < info.high_watermark);
        assert_int_equal(rc, CN_DONE);
        lg_iter_close(it);
    }
}

static int leader_of(fx *f, int skip)
{
    int leader = -1, count = 0;
    for (int i = 0; i < NN; i++) {
        rp_part_state st;
        if (i == skip || !f->n[i].r || rp_repl_state(f->n[i].r, TOPIC, 0, &st) != 0)
            continue;
        if (st.serving) {
            leader = i;
            count++;
        }
    }
    return count == 1 ? leader : -1;
}

static int wait_leader(fx *f, int skip)
{
    int64_t end = now_ms() + WAIT_MS;
    int l;
    while ((l = leader_of(f, skip)) < 0) {
        assert_true(now_ms() < end);
        pump(f);
        usleep(1000);
    }
    return l;
}

static void on_ack(void *ud, int err, int64_t base)
{
    prop *p = ud;
    fx *f = p->f;
    f->answered++;
    if (err == 0) {
        assert_true(f->nack < 256);
        f->ack[f->nack++] = (acked){base, p->seed};
    } else {
        assert_int_equal(err, CN_EPERM);
        f->failed_eperm++;
    }
    free(p);
}

static int propose_acks(fx *f, int i, uint32_t seed, int acks_all)
{
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, seed, 3, 40, 1000 + seed, -1, -1, -1);
    prop *p = malloc(sizeof(*p));
    *p = (prop){f, seed};
    int rc = rp_repl_propose(f->n[i].r, TOPIC, 0, b.data, b.len, acks_all, on_ack, p);
    if (rc != 0)
        free(p);
    cn_buf_free(&b);
    return rc;
}

static int propose(fx *f, int i, uint32_t seed)
{
    return propose_acks(f, i, seed, 1);
}

static void wait_answers(fx *f, int want)
{
    int64_t end = now_ms() + WAIT_MS;
    while (f->answered < want) {
        assert_true(now_ms() < end);
        pump(f);
        usleep(500);
    }
}

/* Every acknowledged batch is in node i's log at its offset with its
 * bytes (values derived from its seed), below node i's HW. */
static void check_acked_present(fx *f, int i)
{
    for (int k = 0; k < f->nack; k++) {
        cn_buf want = CN_BUF_INIT;
        lgt_batch(&want, f->ack[k].seed, 3, 40, 1000 + f->ack[k].seed, -1, -1, -1);
        lg_iter *it = NULL;
        assert_int_equal(lg_iter_open(&it, f->n[i].log, TOPIC, 0, f->ack[k].base), 0);
        lg_record rec;
        assert_int_equal(lg_iter_next(it, &rec), 0);
        assert_int_equal(rec.offset, f->ack[k].base);
        lg_batch_iter *bi = NULL;
        assert_int_equal(lg_batch_iter_open(&bi, want.data, want.len, 1 << 20), 0);
        lg_record w;
        assert_int_equal(lg_batch_iter_next(bi, &w), 0);
        assert_int_equal(rec.value_len, w.value_len);
        assert_memory_equal(rec.value, w.value, w.value_len);
        lg_batch_iter_close(bi);
        lg_iter_close(it);
        cn_buf_free(&want);
    }
}

static void test_three_replicas_fail_over_without_losing_acks(void **state)
{
    evthread_use_pthreads();
    fx *f = calloc(1, sizeof(*f));
    f->base = event_base_new();
    char spec[256];
    snprintf(spec, sizeof(spec), "1@127.0.0.1:%d,2@127.0.0.1:%d,3@127.0.0.1:%d", free_port(),
             free_port(), free_port());
    assert_int_equal(rp_cluster_parse(spec, &f->cluster), 0);
    for (int i = 0; i < NN; i++) {
        f->n[i].dir = cn_test_tmpdir("rp_failover");
        node_open(f, i, 1);
    }
    check_nothing_above_hw(f);
    int l = wait_leader(f, -1);
    for (int i = 0; i < NN; i++)
        if (i != l)
            assert_int_equal(propose(f, i, 1), CN_EPERM); /* followers refuse */

    /* 20 acks=all batches, all acknowledged, each below the HW. */
    for (uint32_t s = 1; s <= 20; s++)
        assert_int_equal(propose(f, l, s), 0);
    wait_answers(f, 20);
    assert_int_equal(f->nack, 20);
    rp_part_state st;
    assert_int_equal(rp_repl_state(f->n[l].r, TOPIC, 0, &st), 0);
    for (int k = 0; k < f->nack; k++)
        assert_true(f->ack[k].base + 3 <= st.hw);
    check_nothing_above_hw(f);

    /* More proposals, then the leader's node closes with some pending. */
    for (uint32_t s = 21; s <= 30; s++)
        assert_int_equal(propose(f, l, s), 0);
    /* Once the leader's writer has them on disk (the loop does not run,
     * so no follower has fetched them), they are in its log above the HW:
     * no consumer read may return them. */
    int64_t end = now_ms() + WAIT_MS, dur = 0;
    lg_partition_info li;
    do {
        assert_true(now_ms() < end);
        usleep(1000);
        assert_int_equal(lg_durable_end(f->n[l].log, TOPIC, 0, &dur), 0);
        assert_int_equal(lg_partition_info_get(f->n[l].log, TOPIC, 0, &li), 0);
    } while (dur < li.log_end_offset || li.log_end_offset < st.hw + 30);
    assert_int_equal(rp_repl_state(f->n[l].r, TOPIC, 0, &st), 0);
    assert_true(st.hw + 30 <= li.log_end_offset);
    check_nothing_above_hw(f);
    int before = f->answered;
    node_close(f, l);
    assert_int_equal(f->answered, before + 10); /* failed at once, never acknowledged */
    assert_int_equal(f->failed_eperm, 10);
    assert_int_equal(f->nack, 20);
    int old = l;
    l = wait_leader(f, old);
    assert_true(l != old);
    /* The new leader's HW passes everything acknowledged. */
    end = now_ms() + WAIT_MS;
    for (;;) {
        assert_int_equal(rp_repl_state(f->n[l].r, TOPIC, 0, &st), 0);
        int64_t need = 0;
        for (int k = 0; k < f->nack; k++)
            if (f->ack[k].base + 3 > need)
                need = f->ack[k].base + 3;
        if (st.hw >= need)
            break;
        assert_true(now_ms() < end);
        pump(f);
        usleep(1000);
    }
    check_acked_present(f, l);
    check_nothing_above_hw(f);

    /* The new leader acknowledges; the old node restarts and catches up. */
    int had = f->answered;
    for (uint32_t s = 31; s <= 40; s++)
        assert_int_equal(propose(f, l, s), 0);
    wait_answers(f, had + 10);
    node_open(f, old, 0);
    end = now_ms() + WAIT_MS;
    for (;;) {
        rp_part_state a, b;
        assert_int_equal(rp_repl_state(f->n[l].r, TOPIC, 0, &a), 0);
        assert_int_equal(rp_repl_state(f->n[old].r, TOPIC, 0, &b), 0);
        /* The core's log end counts appends still queued for the writer:
         * wait for the log itself to hold them. */
        lg_partition_info bi;
        assert_int_equal(lg_partition_info_get(f->n[old].log, TOPIC, 0, &bi), 0);
        if (b.hw == a.hw && b.log_end == a.log_end && bi.log_end_offset == a.log_end &&
            b.leader == l + 1)
            break;
        assert_true(now_ms() < end);
        pump(f);
        usleep(1000);
    }
    check_acked_present(f, old);
    check_nothing_above_hw(f);
    for (int i = 0; i < NN; i++) {
        node_close(f, i);
        cn_test_rmrf(f->n[i].dir);
        free(f->n[i].dir);
    }
    event_base_free(f->base);
    free(f);
}

/* The followers' loops stop (as SIGSTOP would stop their processes): the
 * leader answers an acks=1 proposal once it is fdatasync'd there, cannot
 * commit the acks=all one, and when check-quorum makes it step down it
 * fails that one with CN_EPERM instead of leaving it pending. */
static void test_cut_off_leader_answers_acks1_and_fails_acks_all(void **state)
{
    evthread_use_pthreads();
    fx *f = calloc(1, sizeof(*f));
    f->base = event_base_new();
    /* 3 s of silence before check-quorum: the acks=1 fsync fits well inside */
    f->election_ticks = 150;
    char spec[256];
    snprintf(spec, sizeof(spec), "1@127.0.0.1:%d,2@127.0.0.1:%d,3@127.0.0.1:%d", free_port(),
             free_port(), free_port());
    assert_int_equal(rp_cluster_parse(spec, &f->cluster), 0);
    for (int i = 0; i < NN; i++) {
        f->nb[i] = event_base_new();
        f->n[i].dir = cn_test_tmpdir("rp_cutoff");
        node_open(f, i, 1);
    }
    int l = wait_leader(f, -1);
    for (int i = 0; i < NN; i++)
        f->frozen[i] = i != l;
    assert_int_equal(propose_acks(f, l, 1, 0), 0);
    assert_int_equal(propose_acks(f, l, 2, 1), 0);
    wait_answers(f, 1);
    assert_int_equal(f->nack, 1);
    assert_int_equal(f->ack[0].seed, 1); /* the acks=1 one, durable on the leader */
    rp_part_state st;
    assert_int_equal(rp_repl_state(f->n[l].r, TOPIC, 0, &st), 0);
    assert_true(st.hw <= f->ack[0].base); /* answered although not committed */
    wait_answers(f, 2);
    assert_int_equal(f->failed_eperm, 1); /* the acks=all one: failed, never acknowledged */
    assert_int_equal(f->nack, 1);
    assert_int_equal(rp_repl_state(f->n[l].r, TOPIC, 0, &st), 0);
    assert_false(st.serving);
    assert_int_equal(propose(f, l, 3), CN_EPERM);
    for (int i = 0; i < NN; i++) {
        node_close(f, i);
        event_base_free(f->nb[i]);
        cn_test_rmrf(f->n[i].dir);
        free(f->n[i].dir);
    }
    event_base_free(f->base);
    free(f);
}

/* An idempotent producer's batches: the answers, by proposal. */
typedef struct idem {
    fx *f;
    int err;
    int64_t base;
    int done;
} idem;

static void on_idem(void *ud, int err, int64_t base)
{
    idem *q = ud;
    q->err = err;
    q->base = base;
    q->done = 1;
    q->f->answered++;
}

/* Propose one 2-record batch of (pid, epoch) at seq at node i; returns the
 * call's result (the answer lands in *q). */
static int propose_idem(fx *f, int i, int64_t pid, int16_t epoch, int32_t seq, idem *q)
{
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, (uint32_t)seq + 7, 2, 40, 5000 + seq, pid, epoch, seq);
    memset(q, 0, sizeof(*q));
    q->f = f;
    int rc = rp_repl_propose(f->n[i].r, TOPIC, 0, b.data, b.len, 1, on_idem, q);
    cn_buf_free(&b);
    return rc;
}

static void wait_idem(fx *f, idem *q)
{
    int64_t end = now_ms() + WAIT_MS;
    while (!q->done) {
        assert_true(now_ms() < end);
        pump(f);
        usleep(500);
    }
}

/* Batches of pid in node i's log below its HW, by base offset. */
static int batches_of(fx *f, int i, int64_t pid, int64_t *bases, int max)
{
    lg_iter *it = NULL;
    assert_int_equal(lg_iter_open(&it, f->n[i].log, TOPIC, 0, 0), 0);
    lg_record rec;
    int n = 0, rc;
    int64_t last = -1;
    while ((rc = lg_iter_next(it, &rec)) == 0) {
        const lg_batch_hdr *h = lg_iter_batch(it);
        if (h->producer_id == pid && h->base_offset != last) {
            assert_true(n < max);
            bases[n++] = h->base_offset;
            last = h->base_offset;
        }
    }
    assert_int_equal(rc, CN_DONE);
    lg_iter_close(it);
    return n;
}

static void test_idempotent_retry_stored_once_across_failover(void **state)
{
    evthread_use_pthreads();
    fx *f = calloc(1, sizeof(*f));
    f->base = event_base_new();
    char spec[256];
    snprintf(spec, sizeof(spec), "1@127.0.0.1:%d,2@127.0.0.1:%d,3@127.0.0.1:%d", free_port(),
             free_port(), free_port());
    assert_int_equal(rp_cluster_parse(spec, &f->cluster), 0);
    for (int i = 0; i < NN; i++) {
        f->n[i].dir = cn_test_tmpdir("rp_idem");
        node_open(f, i, 1);
    }
    int l = wait_leader(f, -1);
    /* An id node 2 allocated (node id in the bits from 2^31 up). */
    const int64_t pid = ((int64_t)2 << 31) + 1000;
    idem a, a2, b, c, x;
    assert_int_equal(propose_idem(f, l, pid, 1, 0, &a), 0);
    /* Retried before the original is acknowledged: answered with it. */
    assert_int_equal(propose_idem(f, l, pid, 1, 0, &a2), 0);
    assert_false(a2.done); /* never from inside the call */
    wait_idem(f, &a);
    wait_idem(f, &a2);
    assert_int_equal(a.err, 0);
    assert_int_equal(a2.err, 0);
    assert_int_equal(a2.base, a.base);
    /* Retried after: the same. */
    assert_int_equal(propose_idem(f, l, pid, 1, 0, &a2), 0);
    wait_idem(f, &a2);
    assert_int_equal(a2.err, 0);
    assert_int_equal(a2.base, a.base);
    assert_int_equal(propose_idem(f, l, pid, 1, 2, &b), 0);
    wait_idem(f, &b);
    assert_int_equal(b.err, 0);
    assert_true(b.base > a.base);
    /* Refused before anything is stored: a gap, an older epoch, an id
     * from a node that is not a voter. */
    assert_int_equal(propose_idem(f, l, pid, 1, 9, &x), LG_ESEQ);
    assert_int_equal(propose_idem(f, l, pid, 0, 4, &x), LG_EFENCED);
    assert_int_equal(propose_idem(f, l, ((int64_t)9 << 31) + 1000, 0, 0, &x), LG_EUNKNOWNPID);
    int64_t bases[16];
    assert_int_equal(batches_of(f, l, pid, bases, 16), 2);

    /* The leader goes; the next one knows the producer from the batches it
     * replicated: retries of both are answered with their offsets, and
     * the producer goes on where it was. */
    int old = l;
    node_close(f, old);
    l = wait_leader(f, old);
    assert_int_equal(propose_idem(f, l, pid, 1, 2, &x), 0);
    wait_idem(f, &x);
    assert_int_equal(x.err, 0);
    assert_int_equal(x.base, b.base);
    assert_int_equal(propose_idem(f, l, pid, 1, 0, &x), 0);
    wait_idem(f, &x);
    assert_int_equal(x.base, a.base);
    assert_int_equal(propose_idem(f, l, pid, 1, 9, &x), LG_ESEQ);
    assert_int_equal(propose_idem(f, l, pid, 1, 4, &c), 0);
    wait_idem(f, &c);
    assert_int_equal(c.err, 0);
    assert_true(c.base > b.base);
    assert_int_equal(batches_of(f, l, pid, bases, 16), 3);
    assert_int_equal(bases[0], a.base);
    assert_int_equal(bases[1], b.base);
    assert_int_equal(bases[2], c.base);
    for (int i = 0; i < NN; i++) {
        if (f->n[i].r)
            node_close(f, i);
        cn_test_rmrf(f->n[i].dir);
        free(f->n[i].dir);
    }
    event_base_free(f->base);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_replicas_fail_over_without_losing_acks),
        cmocka_unit_test(test_cut_off_leader_answers_acks1_and_fails_acks_all),
        cmocka_unit_test(test_idempotent_retry_stored_once_across_failover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
