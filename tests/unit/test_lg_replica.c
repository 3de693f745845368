/* SPDX-License-Identifier: MIT */
/*
 * test_lg_replica.c — the log's replication storage contract (lg.h,
 * "replication storage contract"): replica appends land exactly at the
 * given offset with the given (or their own) epochs, refuse a wrong offset
 * or an epoch going back, and rebuild idempotent producer state without
 * ever refusing a batch for it; malformed, truncated and hostile runs are
 * refused before anything is queued; the epoch history and Kafka's
 * OffsetForLeaderEpoch rule over it, across reopen and an index rebuild;
 * the replica truncate keeps the epoch, drops cut epochs and lowers the
 * durable end, while lg_truncate still bumps; the durable end follows the
 * writer's rounds and is seen by end listeners; the read limit holds every
 * consumer read (lg_read, lg_iter, lg_offset_for_time, partition info)
 * below it while replica reads reach the log end, and a change of it is
 * published to end listeners; consumer reads leave out leader-change
 * markers (non-transactional control batches) but not transaction
 * markers, also across a segment end; lg_health is 0 after a failed write
 * and CN_EPANIC after a failed fdatasync until reopened; the raft.state file
 * round-trips and refuses damaged contents.  A replica truncate that cuts
 * every batch a producer's state remembers forgets that producer (in the
 * index too), so a retry in the epoch before a cut epoch bump is taken.
 * A leader's copy of the producer state (lg_producers) loads what replica
 * appends recorded and decides as the log's own table does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cn_bytes.h"
#include "cn_crc32c.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "lg.h"
#include "lg_testutil.h"

typedef struct fx {
    char *dir;
    lg_log *log;
    lg_opts o;
} fx;

static void fx_open(fx *f)
{
    assert_int_equal(lg_open(&f->log, &f->o), 0);
}

static int setup(void **st)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = cn_test_tmpdir("lgreplica");
    lg_opts_init(&f->o);
    f->o.dir = f->dir;
    fx_open(f);
    lg_topic_config c = {2, 0, 0, 0};
    assert_int_equal(lg_topic_create(f->log, "t", &c), 0);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    fx *f = *st;
    lg_close(f->log);
    cn_test_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Waits for every callback of one lg_replica_append. */
typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int want, got;
    lg_append_result res[16];
} waiter;

static void waiter_cb(void *ud, const lg_append_result *r)
{
    waiter *w = ud;
    pthread_mutex_lock(&w->mu);
    if (w->got < 16)
        w->res[w->got] = *r;
    w->got++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Replica-append bytes; returns the call's error, or the first callback
 * error; *w holds every result. */
static int rappend(lg_log *log, int32_t part, int64_t base, int32_t epoch, const void *b,
                   size_t len, int nbatches, waiter *w)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->want = nbatches;
    int rc = lg_replica_append(log, "t", part, base, epoch, b, len, waiter_cb, w);
    if (rc)
        return rc;
    pthread_mutex_lock(&w->mu);
    while (w->got < w->want)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    assert_int_equal(w->got, nbatches);
    for (int i = 0; i < nbatches; i++)
        if (w->res[i].err)
            return w->res[i].err;
    return 0;
}

/* One batch of n records appended at base in epoch (stamped), asserted ok. */
static void rput(lg_log *log, int64_t base, int32_t epoch, int n)
{
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, (uint32_t)base, n, 20, 1000 + base, -1, -1, -1);
    waiter w;
    assert_int_equal(rappend(log, 0, base, epoch, b.data, b.len, 1, &w), 0);
    assert_int_equal(w.res[0].base_offset, base);
    cn_buf_free(&b);
}

/* The stored header of the batch holding offset (replica read). */
static void stored_hdr(lg_log *log, int64_t offset, int64_t *base, int32_t *epoch)
{
    lg_read_result r;
    assert_int_equal(lg_read_replica(log, "t", 0, offset, 1, &r), 0);
    assert_true(r.len >= 61);
    unsigned char h[61];
    assert_int_equal(pread(r.fd, h, sizeof(h), r.file_pos), (ssize_t)sizeof(h));
    *base = (int64_t)cn_rd_be64(h);
    *epoch = (int32_t)cn_rd_be32(h + 12);
    lg_read_release(log, &r);
}

typedef struct hist {
    int n;
    int32_t e[32];
    int64_t s[32];
} hist;

static int hist_cb(void *ud, int32_t epoch, int64_t start)
{
    hist *h = ud;
    if (h->n < 32) {
        h->e[h->n] = epoch;
        h->s[h->n] = start;
    }
    h->n++;
    return 0;
}

static hist history(lg_log *log)
{
    hist h = {0};
    assert_int_equal(lg_epochs_each(log, "t", 0, hist_cb, &h), 0);
    return h;
}

static void test_replica_append_stamps_offsets_and_epochs(void **st)
{
    fx *f = *st;
    rput(f->log, 0, 1, 3);
    rput(f->log, 3, 1, 2);
    rput(f->log, 5, 4, 1);
    int64_t b;
    int32_t e;
    stored_hdr(f->log, 4, &b, &e);
    assert_int_equal(b, 3);
    assert_int_equal(e, 1);
    stored_hdr(f->log, 5, &b, &e);
    assert_int_equal(b, 5);
    assert_int_equal(e, 4);
    lg_partition_info pi;
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &pi), 0);
    assert_int_equal(pi.log_end_offset, 6);
    assert_int_equal(pi.leader_epoch, 4);
    hist h = history(f->log);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.e[0], 1);
    assert_int_equal(h.s[0], 0);
    assert_int_equal(h.e[1], 4);
    assert_int_equal(h.s[1], 5);
    /* A plain append afterwards is stamped with the current epoch. */
    cn_buf buf = CN_BUF_INIT;
    lgt_batch(&buf, 9, 1, 10, 5, -1, -1, -1);
    lg_append_result r;
    assert_int_equal(lg_append(f->log, "t", 0, buf.data, buf.len, &r), 0);
    assert_int_equal(r.base_offset, 6);
    stored_hdr(f->log, 6, &b, &e);
    assert_int_equal(e, 4);
    cn_buf_free(&buf);
}

static void test_replica_append_wrong_offset_or_epoch_back_stores_nothing(void **st)
{
    fx *f = *st;
    rput(f->log, 0, 2, 2);
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 1, 2, 20, 1000, -1, -1, -1);
    waiter w;
    assert_int_equal(rappend(f->log, 0, 1, 2, b.data, b.len, 1, &w), LG_EOFFSET); /* inside */
    assert_int_equal(rappend(f->log, 0, 5, 2, b.data, b.len, 1, &w), LG_EOFFSET); /* gap */
    assert_int_equal(rappend(f->log, 0, 2, 1, b.data, b.len, 1, &w), LG_EFENCED); /* back */
    /* A run of two whose second is fine but first is misplaced: none stored. */
    cn_buf two = CN_BUF_INIT;
    lgt_batch(&two, 2, 1, 20, 1000, -1, -1, -1);
    lgt_batch(&two, 3, 1, 20, 1000, -1, -1, -1);
    assert_int_equal(rappend(f->log, 0, 3, 2, two.data, two.len, 2, &w), LG_EOFFSET);
    assert_int_equal(w.res[1].err, LG_EOFFSET);
    lg_partition_info pi;
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &pi), 0);
    assert_int_equal(pi.log_end_offset, 2);
    assert_int_equal(pi.leader_epoch, 2);
    /* And the right place works after the refusals. */
    assert_int_equal(rappend(f->log, 0, 2, 3, two.data, two.len, 2, &w), 0);
    assert_int_equal(w.res[0].base_offset, 2);
    assert_int_equal(w.res[1].base_offset, 3);
    hist h = history(f->log);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.e[1], 3);
    assert_int_equal(h.s[1], 2);
    cn_buf_free(&b);
    cn_buf_free(&two);
}

static void test_replica_append_verbatim_keeps_each_batch_epoch(void **st)
{
    fx *f = *st;
    /* Build what a leader stored: three batches at 0, 2, 3 in epochs 1, 1, 3. */
    cn_buf run = CN_BUF_INIT;
    int64_t bases[3] = {0, 2, 3};
    int32_t eps[3] = {1, 1, 3};
    int nrec[3] = {2, 1, 4};
    for (int i = 0; i < 3; i++) {
        size_t at = run.len;
        lgt_batch(&run, (uint32_t)i, nrec[i], 20, 1000, -1, -1, -1);
        cn_wr_be64(run.data + at, (uint64_t)bases[i]);
        cn_wr_be32(run.data + at + 12, (uint32_t)eps[i]);
    }
    waiter w;
    /* Verbatim, but said to start elsewhere: refused before queueing. */
    assert_int_equal(lg_replica_append(f->log, "t", 0, 1, -1, run.data, run.len, waiter_cb, &w),
                     CN_EINVAL);
    assert_int_equal(rappend(f->log, 0, 0, -1, run.data, run.len, 3, &w), 0);
    int64_t b;
    int32_t e;
    stored_hdr(f->log, 2, &b, &e);
    assert_int_equal(e, 1);
    stored_hdr(f->log, 6, &b, &e);
    assert_int_equal(b, 3);
    assert_int_equal(e, 3);
    hist h = history(f->log);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.e[0], 1);
    assert_int_equal(h.s[0], 0);
    assert_int_equal(h.e[1], 3);
    assert_int_equal(h.s[1], 3);
    /* Epochs going back inside a verbatim run: refused. */
    cn_buf bad = CN_BUF_INIT;
    for (int i = 0; i < 2; i++) {
        size_t at = bad.len;
        lgt_batch(&bad, (uint32_t)i, 1, 20, 1000, -1, -1, -1);
        cn_wr_be64(bad.data + at, (uint64_t)(7 + i));
        cn_wr_be32(bad.data + at + 12, (uint32_t)(i == 0 ? 5 : 4));
    }
    assert_int_equal(lg_replica_append(f->log, "t", 0, 7, -1, bad.data, bad.len, waiter_cb, &w),
                     CN_EINVAL);
    /* A negative epoch in a verbatim batch: refused. */
    cn_wr_be32(bad.data + 12, (uint32_t)-1);
    assert_int_equal(lg_replica_append(f->log, "t", 0, 7, -1, bad.data, bad.len, waiter_cb, &w),
                     CN_EINVAL);
    cn_buf_free(&bad);
    cn_buf_free(&run);
}

static void test_replica_append_hostile_input(void **st)
{
    fx *f = *st;
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 1, 3, 20, 1000, -1, -1, -1);
    lgt_batch(&b, 2, 3, 20, 1000, -1, -1, -1);
    waiter w;
    memset(&w, 0, sizeof(w));
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    lg_log *L = f->log;
    assert_int_equal(lg_replica_append(L, "t", 0, -1, 1, b.data, b.len, waiter_cb, &w), CN_EINVAL);
    assert_int_equal(lg_replica_append(L, "t", 0, 0, -2, b.data, b.len, waiter_cb, &w), CN_EINVAL);
    assert_int_equal(lg_replica_append(L, "t", 0, 0, 1, b.data, 0, waiter_cb, &w), CN_EINVAL);
    assert_int_equal(lg_replica_append(L, "t", 0, 0, 1, NULL, 5, waiter_cb, &w), CN_EINVAL);
    assert_int_equal(lg_replica_append(L, "t", 0, 0, 1, b.data, b.len, NULL, &w), CN_EINVAL);
    assert_int_equal(lg_replica_append(L, "nope", 0, 0, 1, b.data, b.len, waiter_cb, &w),
                     LG_ENOTOPIC);
    assert_int_equal(lg_replica_append(L, "t", 9, 0, 1, b.data, b.len, waiter_cb, &w), LG_ENOPART);
    /* Every truncation of the two-batch run that is not a batch boundary. */
    size_t one = b.len / 2;
    for (size_t n = 1; n < b.len; n++) {
        if (n == one)
            continue;
        int rc = lg_replica_append(L, "t", 0, 0, 1, b.data, n, waiter_cb, &w);
        if (rc >= 0)
            fprintf(stderr, "truncated to %zu of %zu: accepted\n", n, b.len);
        assert_true(rc < 0);
    }
    /* A flipped payload byte fails the CRC; a huge length field fails. */
    cn_buf c = CN_BUF_INIT;
    cn_buf_append(&c, b.data, b.len);
    c.data[one - 1] ^= 0x40;
    assert_int_equal(lg_replica_append(L, "t", 0, 0, 1, c.data, c.len, waiter_cb, &w), LG_ECRC);
    memcpy(c.data, b.data, b.len);
    cn_wr_be32(c.data + 8, 0x7ffffff0u);
    assert_int_equal(lg_replica_append(L, "t", 0, 0, 1, c.data, c.len, waiter_cb, &w), CN_EINVAL);
    /* recordCount 0 claiming offsets. */
    memcpy(c.data, b.data, b.len);
    cn_wr_be32(c.data + 57, 0);
    assert_true(lg_replica_append(L, "t", 0, 0, 1, c.data, c.len, waiter_cb, &w) < 0);
    /* Offsets that would overflow. */
    assert_int_equal(lg_replica_append(L, "t", 0, INT64_MAX - 1, 1, b.data, b.len, waiter_cb, &w),
                     CN_EINVAL);
    lg_partition_info pi;
    assert_int_equal(lg_partition_info_get(L, "t", 0, &pi), 0);
    assert_int_equal(pi.log_end_offset, 0);
    /* The whole run is fine. */
    assert_int_equal(rappend(L, 0, 0, 1, b.data, b.len, 2, &w), 0);
    assert_int_equal(w.res[1].base_offset, 3);
    cn_buf_free(&c);
    cn_buf_free(&b);
}

static void test_replica_append_rebuilds_producer_state_never_refuses(void **st)
{
    fx *f = *st;
    int64_t pid;
    assert_int_equal(lg_producer_id_alloc(f->log, &pid), 0);
    cn_buf b0 = CN_BUF_INIT, b1 = CN_BUF_INIT, gap = CN_BUF_INIT, old = CN_BUF_INIT;
    lgt_batch(&b0, 1, 2, 20, 1000, pid, 0, 0);
    lgt_batch(&b1, 2, 2, 20, 1000, pid, 0, 2);
    lgt_batch(&gap, 3, 1, 20, 1000, pid, 0, 50); /* a sequence gap: a leader would refuse */
    lgt_batch(&old, 4, 1, 20, 1000, pid + 1, 3, 0);
    waiter w;
    assert_int_equal(rappend(f->log, 0, 0, 1, b0.data, b0.len, 1, &w), 0);
    assert_int_equal(rappend(f->log, 0, 2, 1, b1.data, b1.len, 1, &w), 0);
    /* Replicated twice (the leader stored it twice): stored twice here. */
    assert_int_equal(rappend(f->log, 0, 4, 1, b1.data, b1.len, 1, &w), 0);
    assert_int_equal(w.res[0].duplicate, 0);
    assert_int_equal(rappend(f->log, 0, 6, 1, gap.data, gap.len, 1, &w), 0);
    /* A producer id this node never allocated is fine on a replica. */
    assert_int_equal(rappend(f->log, 0, 7, 1, old.data, old.len, 1, &w), 0);
    /* Leader-style appends now dedupe against the replicated state. */
    lg_append_result r;
    assert_int_equal(lg_append(f->log, "t", 0, gap.data, gap.len, &r), 0);
    assert_int_equal(r.duplicate, 1);
    assert_int_equal(r.base_offset, 6);
    cn_buf next = CN_BUF_INIT;
    lgt_batch(&next, 5, 1, 20, 1000, pid, 0, 51);
    assert_int_equal(lg_append(f->log, "t", 0, next.data, next.len, &r), 0);
    assert_int_equal(r.duplicate, 0);
    assert_int_equal(r.base_offset, 8);
    /* And the same after a reopen (state from the index or the scan). */
    lg_close(f->log);
    fx_open(f);
    assert_int_equal(lg_append(f->log, "t", 0, next.data, next.len, &r), 0);
    assert_int_equal(r.duplicate, 1);
    assert_int_equal(r.base_offset, 8);
    cn_buf_free(&b0);
    cn_buf_free(&b1);
    cn_buf_free(&gap);
    cn_buf_free(&old);
    cn_buf_free(&next);
}

static void check_end_offset(lg_log *log, int32_t req, int32_t want_e, int64_t want_end)
{
    int32_t e;
    int64_t end;
    assert_int_equal(lg_epoch_end_offset(log, "t", 0, req, &e, &end), 0);
    if (e != want_e || end != want_end)
        fprintf(stderr, "epoch %d: got (%d, %lld), want (%d, %lld)\n", req, e, (long long)end,
                want_e, (long long)want_end);
    assert_int_equal(e, want_e);
    assert_int_equal(end, want_end);
}

static void test_epoch_end_offset_follows_kafka_rule(void **st)
{
    fx *f = *st;
    check_end_offset(f->log, 0, -1, -1); /* empty history */
    rput(f->log, 0, 2, 2);
    rput(f->log, 2, 2, 1);
    rput(f->log, 3, 5, 2);
    rput(f->log, 5, 7, 1); /* history (2,0) (5,3) (7,5), log end 6 */
    check_end_offset(f->log, 7, 7, 6);
    check_end_offset(f->log, 6, 5, 5);
    check_end_offset(f->log, 5, 5, 5);
    check_end_offset(f->log, 4, 2, 3);
    check_end_offset(f->log, 2, 2, 3);
    check_end_offset(f->log, 1, 1, 0); /* below every epoch: (requested, first start) */
    check_end_offset(f->log, 8, -1, -1);
    check_end_offset(f->log, -1, -1, -1);
    check_end_offset(f->log, INT32_MIN, -1, -1);
    check_end_offset(f->log, INT32_MAX, -1, -1);
    int32_t e;
    int64_t end;
    assert_int_equal(lg_epoch_end_offset(f->log, "x", 0, 1, &e, &end), LG_ENOTOPIC);
    assert_int_equal(lg_epoch_end_offset(f->log, "t", -1, 1, &e, &end), LG_ENOPART);
    assert_int_equal(lg_epoch_end_offset(f->log, "t", 0, 1, NULL, &end), CN_EINVAL);
}

static void test_epoch_history_survives_reopen_and_index_rebuild(void **st)
{
    fx *f = *st;
    /* Epoch-0 batches first (plain appends), then replicated epochs. */
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 1, 2, 20, 1000, -1, -1, -1);
    assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), 0);
    rput(f->log, 2, 3, 1);
    rput(f->log, 3, 6, 2);
    hist h = history(f->log);
    assert_int_equal(h.n, 3);
    assert_int_equal(h.e[0], 0);
    assert_int_equal(h.s[0], 0);
    assert_int_equal(h.e[1], 3);
    assert_int_equal(h.s[1], 2);
    assert_int_equal(h.e[2], 6);
    assert_int_equal(h.s[2], 3);
    lg_close(f->log);
    fx_open(f);
    hist h2 = history(f->log);
    assert_memory_equal(&h, &h2, sizeof(h));
    lg_close(f->log);
    char idx[4096];
    snprintf(idx, sizeof(idx), "%s/index", f->dir);
    cn_test_rmrf(idx);
    fx_open(f);
    hist h3 = history(f->log);
    assert_memory_equal(&h, &h3, sizeof(h));
    lg_partition_info pi;
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &pi), 0);
    assert_int_equal(pi.leader_epoch, 6);
    assert_int_equal(pi.log_end_offset, 5);
    cn_buf_free(&b);
}

static void test_replica_truncate_keeps_epoch_and_cuts_history(void **st)
{
    fx *f = *st;
    rput(f->log, 0, 1, 2);
    rput(f->log, 2, 3, 2);
    rput(f->log, 4, 3, 2);
    rput(f->log, 6, 4, 2); /* (1,0) (3,2) (4,6), end 8 */
    int64_t d;
    assert_int_equal(lg_durable_end(f->log, "t", 0, &d), 0);
    assert_int_equal(d, 8);
    assert_int_equal(lg_replica_truncate(f->log, "t", 0, 5), CN_EINVAL); /* not a boundary */
    assert_int_equal(lg_replica_truncate(f->log, "t", 0, 9), LG_EOFFSET);
    assert_int_equal(lg_replica_truncate(f->log, "t", 0, 4), 0);
    assert_int_equal(lg_durable_end(f->log, "t", 0, &d), 0);
    assert_int_equal(d, 4);
    lg_partition_info pi;
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &pi), 0);
    assert_int_equal(pi.log_end_offset, 4);
    assert_int_equal(pi.leader_epoch, 3);
    hist h = history(f->log);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.e[1], 3);
    check_end_offset(f->log, 3, 3, 4);
    check_end_offset(f->log, 4, -1, -1);
    /* Epoch 3 again from the new leader, then epoch 5. */
    rput(f->log, 4, 3, 1);
    rput(f->log, 5, 5, 1);
    h = history(f->log);
    assert_int_equal(h.n, 3);
    assert_int_equal(h.e[2], 5);
    assert_int_equal(h.s[2], 5);
    /* Cut everything: epoch back to 0, history empty. */
    assert_int_equal(lg_replica_truncate(f->log, "t", 0, 0), 0);
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &pi), 0);
    assert_int_equal(pi.leader_epoch, 0);
    assert_int_equal(history(f->log).n, 0);
    rput(f->log, 0, 2, 1);
    lg_close(f->log);
    fx_open(f);
    h = history(f->log);
    assert_int_equal(h.n, 1);
    assert_int_equal(h.e[0], 2);
    assert_int_equal(h.s[0], 0);
    assert_int_equal(lg_durable_end(f->log, "t", 0, &d), 0);
    assert_int_equal(d, 1);
}

static void test_standalone_truncate_still_bumps_and_drops_cut_epochs(void **st)
{
    fx *f = *st;
    rput(f->log, 0, 1, 2);
    rput(f->log, 2, 4, 2);
    assert_int_equal(lg_truncate(f->log, "t", 0, 2), 0);
    lg_partition_info pi;
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &pi), 0);
    assert_int_equal(pi.leader_epoch, 5);
    /* Epoch 4's entry went with its batches; epoch 5 has none yet: not listed,
     * but it is the current epoch and ends at the log end. */
    hist h = history(f->log);
    assert_int_equal(h.n, 1);
    check_end_offset(f->log, 5, 5, 2);
    check_end_offset(f->log, 1, 1, 2);
    rput(f->log, 2, 5, 1);
    h = history(f->log);
    assert_int_equal(h.n, 2); /* (1,0) (5,2) */
    assert_int_equal(h.e[1], 5);
    assert_int_equal(h.s[1], 2);
}

typedef struct seen {
    lg_log *log;
    atomic_llong durable_at_publish;
} seen;

/* What a driver's listener does: note the round (lg_ calls are not
 * allowed here); its thread then reads the durable end. */
static void on_end(void *ud)
{
    seen *s = ud;
    atomic_fetch_add(&s->durable_at_publish, 1);
}

static void test_durable_end_follows_rounds(void **st)
{
    fx *f = *st;
    seen s = {f->log, 0};
    assert_int_equal(lg_end_listen(f->log, on_end, &s), 0);
    int64_t d;
    assert_int_equal(lg_durable_end(f->log, "t", 0, &d), 0);
    assert_int_equal(d, 0);
    for (int i = 0; i < 5; i++) {
        rput(f->log, i * 2, 1, 2);
        /* The callback ran after the round's sync: durable covers it. */
        assert_int_equal(lg_durable_end(f->log, "t", 0, &d), 0);
        assert_int_equal(d, i * 2 + 2);
    }
    assert_true(atomic_load(&s.durable_at_publish) >= 1);
    assert_int_equal(lg_durable_end(f->log, "t", 1, &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(lg_durable_end(f->log, "t", 7, &d), LG_ENOPART);
    assert_int_equal(lg_durable_end(f->log, "zz", 0, &d), LG_ENOTOPIC);
    assert_int_equal(lg_end_unlisten(f->log, on_end, &s), 0);
    lg_close(f->log);
    fx_open(f);
    assert_int_equal(lg_durable_end(f->log, "t", 0, &d), 0);
    assert_int_equal(d, 10);
}

/* Consumer-visible records via lg_iter from 0. */
static int64_t iter_count(lg_log *log)
{
    lg_iter *it;
    assert_int_equal(lg_iter_open(&it, log, "t", 0, 0), 0);
    lg_record rec;
    int64_t n = 0;
    int rc;
    while ((rc = lg_iter_next(it, &rec)) == 0)
        n++;
    assert_int_equal(rc, CN_DONE);
    lg_iter_close(it);
    return n;
}

static void test_read_limit_holds_consumers_below_it(void **st)
{
    fx *f = *st;
    for (int i = 0; i < 6; i++)
        rput(f->log, i * 2, 1, 2); /* end 12 */
    assert_int_equal(lg_read_limit_set(f->log, "t", 0, -2), CN_EINVAL);
    assert_int_equal(lg_read_limit_set(f->log, "t", 5, 1), LG_ENOPART);
    assert_int_equal(lg_read_limit_set(f->log, "t", 0, 6), 0);
    lg_read_result r;
    assert_int_equal(lg_read(f->log, "t", 0, 0, 1 << 20, &r), 0);
    assert_int_equal(r.next_offset, 6);
    assert_int_equal(r.log_end_offset, 6);
    lg_read_release(f->log, &r);
    /* Between the limit and the log end: nothing yet, no error. */
    assert_int_equal(lg_read(f->log, "t", 0, 8, 1 << 20, &r), 0);
    assert_int_equal(r.len, 0);
    lg_read_release(f->log, &r);
    assert_int_equal(lg_read(f->log, "t", 0, 13, 1 << 20, &r), LG_EOFFSET);
    /* Replica reads reach the end. */
    assert_int_equal(lg_read_replica(f->log, "t", 0, 0, 1 << 20, &r), 0);
    assert_int_equal(r.next_offset, 12);
    assert_int_equal(r.log_end_offset, 12);
    lg_read_release(f->log, &r);
    assert_int_equal(iter_count(f->log), 6);
    lg_partition_info pi;
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &pi), 0);
    assert_int_equal(pi.high_watermark, 6);
    assert_int_equal(pi.log_end_offset, 12);
    int64_t off;
    assert_int_equal(lg_offset_for_time(f->log, "t", 0, INT64_MAX, &off), 0);
    assert_int_equal(off, 6);
    /* A limit inside a batch: that batch waits. */
    assert_int_equal(lg_read_limit_set(f->log, "t", 0, 7), 0);
    assert_int_equal(iter_count(f->log), 6);
    assert_int_equal(lg_read(f->log, "t", 0, 6, 1 << 20, &r), 0);
    assert_int_equal(r.len, 0);
    lg_read_release(f->log, &r);
    /* An open iterator sees more once the limit moves. */
    lg_iter *it;
    assert_int_equal(lg_iter_open(&it, f->log, "t", 0, 0), 0);
    lg_record rec;
    int n = 0;
    while (lg_iter_next(it, &rec) == 0)
        n++;
    assert_int_equal(n, 6);
    assert_int_equal(lg_read_limit_set(f->log, "t", 0, 10), 0);
    while (lg_iter_next(it, &rec) == 0)
        n++;
    assert_int_equal(n, 10);
    lg_iter_close(it);
    /* Limit 0 hides everything; -1 lifts the limit. */
    assert_int_equal(lg_read_limit_set(f->log, "t", 0, 0), 0);
    assert_int_equal(iter_count(f->log), 0);
    assert_int_equal(lg_read_limit_set(f->log, "t", 0, -1), 0);
    assert_int_equal(iter_count(f->log), 12);
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &pi), 0);
    assert_int_equal(pi.high_watermark, 12);
}

/* One batch of n records at base in epoch, with attrs or'd into its
 * attributes (CRC recomputed), asserted ok. */
static void rput_attrs(lg_log *log, int64_t base, int32_t epoch, int n, uint16_t attrs)
{
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, (uint32_t)base, n, 20, 1000 + base, -1, -1, -1);
    unsigned char *h = b.data;
    cn_wr_be16(h + 21, (uint16_t)(cn_rd_be16(h + 21) | attrs));
    cn_wr_be32(h + 17, cn_crc32c(0, h + 21, b.len - 21));
    waiter w;
    assert_int_equal(rappend(log, 0, base, epoch, b.data, b.len, 1, &w), 0);
    cn_buf_free(&b);
}

/* [first, next) of a consumer read at offset, and its byte length. */
static size_t cread(lg_log *log, int64_t offset, int64_t *first, int64_t *next)
{
    lg_read_result r;
    assert_int_equal(lg_read(log, "t", 0, offset, 1 << 20, &r), 0);
    *first = r.first_offset;
    *next = r.next_offset;
    size_t len = r.len;
    lg_read_release(log, &r);
    return len;
}

static void test_consumer_reads_leave_out_leader_change_markers(void **st)
{
    fx *f = *st;
    rput(f->log, 0, 1, 2);                    /* 0-1 */
    rput_attrs(f->log, 2, 2, 1, 0x20);        /* 2: marker */
    rput(f->log, 3, 2, 2);                    /* 3-4 */
    rput_attrs(f->log, 5, 2, 1, 0x20 | 0x10); /* 5: transaction marker */
    rput(f->log, 6, 2, 1);                    /* 6 */
    rput_attrs(f->log, 7, 3, 1, 0x20);        /* 7: marker */
    rput_attrs(f->log, 8, 4, 1, 0x20);        /* 8: marker */
    int64_t first, next;
    /* A range ends before a marker... */
    assert_true(cread(f->log, 0, &first, &next) > 0);
    assert_int_equal(first, 0);
    assert_int_equal(next, 2);
    /* ...and starts after it; a transaction marker is served. */
    assert_true(cread(f->log, 2, &first, &next) > 0);
    assert_int_equal(first, 3);
    assert_int_equal(next, 7);
    /* Only markers up to the end: nothing yet, no error. */
    assert_int_equal(cread(f->log, 7, &first, &next), 0);
    assert_int_equal(next, 7);
    /* Replica reads carry every batch. */
    lg_read_result r;
    assert_int_equal(lg_read_replica(f->log, "t", 0, 0, 1 << 20, &r), 0);
    assert_int_equal(r.next_offset, 9);
    lg_read_release(f->log, &r);
    /* Below a read limit that falls after the marker: nothing yet. */
    rput(f->log, 9, 4, 1);
    assert_int_equal(lg_read_limit_set(f->log, "t", 0, 9), 0);
    assert_int_equal(cread(f->log, 7, &first, &next), 0);
    assert_int_equal(lg_read_limit_set(f->log, "t", 0, -1), 0);
    assert_true(cread(f->log, 7, &first, &next) > 0);
    assert_int_equal(first, 9);
    assert_int_equal(next, 10);
    /* lg_iter never yields control records either. */
    assert_int_equal(iter_count(f->log), 6);
}

static void test_marker_at_a_segment_end_is_read_past(void **st)
{
    fx *f = *st;
    lg_close(f->log);
    f->o.segment_bytes = 4096;
    fx_open(f);
    int64_t off = 0;
    lg_read_result r;
    /* Fill until the marker is the last batch of its segment: append a
     * marker, then a batch; stop once the batch after the marker starts a
     * new segment (a replica read at the marker then ends at it). */
    for (int i = 0; i < 200; i++) {
        rput_attrs(f->log, off, 1, 1, 0x20);
        rput(f->log, off + 1, 1, 4);
        assert_int_equal(lg_read_replica(f->log, "t", 0, off, 1 << 20, &r), 0);
        int64_t nx = r.next_offset;
        lg_read_release(f->log, &r);
        off += 5;
        if (nx == off - 4)
            break;
    }
    int64_t first, next;
    assert_true(cread(f->log, off - 5, &first, &next) > 0);
    assert_int_equal(first, off - 4);
    assert_int_equal(next, off);
}

static void test_read_limit_change_is_published(void **st)
{
    fx *f = *st;
    rput(f->log, 0, 1, 2);
    /* Subscribing waits for the round lock: that round's publication is over. */
    seen s = {f->log, 0};
    assert_int_equal(lg_end_listen(f->log, on_end, &s), 0);
    long long after_append = atomic_load(&s.durable_at_publish);
    assert_int_equal(after_append, 0);
    /* Consumers may read more: subscribers hear it before the call returns. */
    assert_int_equal(lg_read_limit_set(f->log, "t", 0, 1), 0);
    assert_int_equal(atomic_load(&s.durable_at_publish), after_append + 1);
    assert_int_equal(lg_read_limit_set(f->log, "t", 0, 1), 0); /* unchanged: no call */
    assert_int_equal(atomic_load(&s.durable_at_publish), after_append + 1);
    assert_int_equal(lg_read_limit_set(f->log, "t", 0, 2), 0);
    assert_int_equal(atomic_load(&s.durable_at_publish), after_append + 2);
    assert_int_equal(lg_read_limit_set(f->log, "t", 9, 2), LG_ENOPART); /* no call */
    assert_int_equal(atomic_load(&s.durable_at_publish), after_append + 2);
    assert_int_equal(lg_end_unlisten(f->log, on_end, &s), 0);
    assert_int_equal(lg_read_limit_set(f->log, "t", 0, -1), 0);
    assert_int_equal(atomic_load(&s.durable_at_publish), after_append + 2);
}

/* A replica run that starts an epoch and whose write fails (ENOSPC) leaves
 * no trace: log end, epoch, history, durable end and producer state as
 * before; the retry lands at the same offset.  An fdatasync failure is
 * sticky and does not advance the durable end. */
static void test_replica_append_write_and_sync_failures(void **st)
{
    fx *f = *st;
    lg_close(f->log);
    lgt_vfs v;
    lgt_vfs_init(&v);
    f->o.vfs = &v.vfs;
    fx_open(f);
    rput(f->log, 0, 1, 2);
    int64_t pid;
    assert_int_equal(lg_producer_id_alloc(f->log, &pid), 0);
    cn_buf run = CN_BUF_INIT;
    lgt_batch(&run, 1, 2, 20, 1000, pid, 0, 0);
    lgt_batch(&run, 2, 2, 20, 1000, pid, 0, 2);
    atomic_store(&v.pwrite_fail_count, 1);
    atomic_store(&v.pwrite_errno, 28 /* ENOSPC */);
    waiter w;
    assert_int_equal(rappend(f->log, 0, 2, 5, run.data, run.len, 2, &w), CN_ENOSPC);
    assert_int_equal(w.res[1].err, CN_ENOSPC);
    atomic_store(&v.pwrite_errno, 0);
    /* A failed write is not sticky: the log is healthy. */
    int failed = -1;
    assert_int_equal(lg_health(f->log, &failed), 0);
    assert_int_equal(failed, 0);
    assert_int_equal(lg_health(NULL, &failed), CN_EINVAL);
    lg_partition_info pi;
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &pi), 0);
    assert_int_equal(pi.log_end_offset, 2);
    assert_int_equal(pi.leader_epoch, 1);
    hist h = history(f->log);
    assert_int_equal(h.n, 1);
    int64_t d;
    assert_int_equal(lg_durable_end(f->log, "t", 0, &d), 0);
    assert_int_equal(d, 2);
    /* The retry lands where the failed run would have; afterwards a
     * leader-style append of its first batch is a duplicate at that offset. */
    assert_int_equal(rappend(f->log, 0, 2, 5, run.data, run.len, 2, &w), 0);
    assert_int_equal(w.res[0].base_offset, 2);
    assert_int_equal(w.res[1].base_offset, 4);
    h = history(f->log);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.e[1], 5);
    assert_int_equal(h.s[1], 2);
    lg_append_result r;
    cn_buf one = CN_BUF_INIT;
    lgt_batch(&one, 1, 2, 20, 1000, pid, 0, 0);
    assert_int_equal(lg_append(f->log, "t", 0, one.data, one.len, &r), 0);
    assert_int_equal(r.duplicate, 1);
    assert_int_equal(r.base_offset, 2);
    /* fdatasync fails: the append fails, the log is sticky-failed, the
     * durable end stays where the last sync left it. */
    atomic_store(&v.fsync_fail, 1);
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 9, 1, 20, 1000, -1, -1, -1);
    assert_int_equal(rappend(f->log, 0, 6, 6, b.data, b.len, 1, &w), CN_EPANIC);
    assert_int_equal(lg_durable_end(f->log, "t", 0, &d), 0);
    assert_int_equal(d, 6);
    assert_int_equal(lg_replica_append(f->log, "t", 0, 6, 6, b.data, b.len, waiter_cb, &w),
                     CN_EPANIC);
    /* ...and says so (what a node's /healthz and exit status follow). */
    assert_int_equal(lg_health(f->log, &failed), CN_EPANIC);
    assert_int_equal(lg_health(f->log, NULL), CN_EPANIC);
    atomic_store(&v.fsync_fail, 0);
    assert_int_equal(lg_health(f->log, NULL), CN_EPANIC); /* until reopened */
    lg_close(f->log);
    f->o.vfs = NULL;
    fx_open(f); /* teardown closes it */
    assert_int_equal(lg_health(f->log, &failed), 0);
    assert_int_equal(lg_durable_end(f->log, "t", 0, &d), 0);
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &pi), 0);
    assert_int_equal(d, pi.log_end_offset);
    cn_buf_free(&run);
    cn_buf_free(&one);
    cn_buf_free(&b);
}

static void write_file(const char *path, const void *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, n, fp), n);
    fclose(fp);
}

static void test_raft_state_round_trip_and_damage(void **st)
{
    fx *f = *st;
    int32_t t, v;
    assert_int_equal(lg_raft_state_load(f->log, "t", 0, &t, &v), 0);
    assert_int_equal(t, 0);
    assert_int_equal(v, -1);
    assert_int_equal(lg_raft_state_save(f->log, "t", 0, 7, 2), 0);
    assert_int_equal(lg_raft_state_save(f->log, "t", 1, 3, -1), 0);
    assert_int_equal(lg_raft_state_load(f->log, "t", 0, &t, &v), 0);
    assert_int_equal(t, 7);
    assert_int_equal(v, 2);
    assert_int_equal(lg_raft_state_load(f->log, "t", 1, &t, &v), 0);
    assert_int_equal(t, 3);
    assert_int_equal(v, -1);
    assert_int_equal(lg_raft_state_save(f->log, "t", 0, -1, 0), CN_EINVAL);
    assert_int_equal(lg_raft_state_save(f->log, "t", 0, 1, -2), CN_EINVAL);
    assert_int_equal(lg_raft_state_save(f->log, "t", 4, 1, 1), LG_ENOPART);
    assert_int_equal(lg_raft_state_save(f->log, "u", 0, 1, 1), LG_ENOTOPIC);
    lg_close(f->log);
    fx_open(f);
    assert_int_equal(lg_raft_state_load(f->log, "t", 0, &t, &v), 0);
    assert_int_equal(t, 7);
    assert_int_equal(v, 2);
    /* Damage: every truncation, one byte more, a flipped bit, a bad version. */
    char path[4096];
    snprintf(path, sizeof(path), "%s/topics/t/0/raft.state", f->dir);
    unsigned char good[16];
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(good, 1, 16, fp), 16);
    fclose(fp);
    for (size_t n = 0; n < 16; n++) {
        write_file(path, good, n);
        assert_int_equal(lg_raft_state_load(f->log, "t", 0, &t, &v), CN_ECORRUPT);
    }
    unsigned char big[17];
    memcpy(big, good, 16);
    big[16] = 0;
    write_file(path, big, 17);
    assert_int_equal(lg_raft_state_load(f->log, "t", 0, &t, &v), CN_ECORRUPT);
    for (int bit = 0; bit < 128; bit += 7) {
        unsigned char b[16];
        memcpy(b, good, 16);
        b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        write_file(path, b, 16);
        assert_int_equal(lg_raft_state_load(f->log, "t", 0, &t, &v), CN_ECORRUPT);
    }
    write_file(path, good, 16);
    assert_int_equal(lg_raft_state_load(f->log, "t", 0, &t, &v), 0);
    assert_int_equal(t, 7);
}

/* One replica-appended batch of pid at base (epoch 1 stamped). */
static void pput(lg_log *log, int64_t base, int64_t pid, int16_t pepoch, int32_t seq, int n)
{
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, (uint32_t)base + 100, n, 20, 1000 + base, pid, pepoch, seq);
    waiter w;
    assert_int_equal(rappend(log, 0, base, 1, b.data, b.len, 1, &w), 0);
    cn_buf_free(&b);
}

static int pcheck(const lg_producers *ps, int64_t pid, int16_t pepoch, int32_t seq, int n,
                  int64_t *dup_base, int64_t *dup_last)
{
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 1, n, 20, 1000, pid, pepoch, seq);
    lg_batch_hdr h;
    assert_int_equal(lg_batch_parse_hdr(b.data, b.len, &h), 0);
    int64_t x, y;
    int rc = lg_producers_check(ps, &h, dup_base ? dup_base : &x, dup_last ? dup_last : &y);
    cn_buf_free(&b);
    return rc;
}

static void test_replica_truncate_forgets_producers_it_cut_entirely(void **st)
{
    fx *f = *st;
    int64_t a, b;
    assert_int_equal(lg_producer_id_alloc(f->log, &a), 0);
    assert_int_equal(lg_producer_id_alloc(f->log, &b), 0);
    pput(f->log, 0, a, 0, 0, 2); /* a, producer epoch 0, seq 0-1 */
    pput(f->log, 2, b, 0, 0, 1); /* b, seq 0 */
    pput(f->log, 3, a, 1, 0, 1); /* a bumped its epoch (in a tail to be cut) */
    pput(f->log, 4, b, 0, 1, 1); /* b, seq 1 (to be cut) */
    lg_producers *ps;
    assert_int_equal(lg_producers_load(f->log, "t", 0, &ps), 0);
    assert_int_equal(pcheck(ps, a, 0, 2, 1, NULL, NULL), LG_EFENCED);
    lg_producers_free(ps);
    assert_int_equal(lg_replica_truncate(f->log, "t", 0, 3), 0);
    /* a: every batch it remembered (its epoch-1 one) is cut: forgotten, so
     * its epoch-0 retry is taken; b keeps seq 0 and takes the cut seq 1. */
    for (int round = 0; round < 2; round++) {
        assert_int_equal(lg_producers_load(f->log, "t", 0, &ps), 0);
        assert_int_equal(lg_producers_count(ps), 1);
        assert_int_equal(pcheck(ps, a, 0, 2, 1, NULL, NULL), LG_PRODUCER_NEW);
        assert_int_equal(pcheck(ps, b, 0, 1, 1, NULL, NULL), LG_PRODUCER_NEW);
        int64_t db, dl;
        assert_int_equal(pcheck(ps, b, 0, 0, 1, &db, &dl), LG_PRODUCER_DUP);
        assert_int_equal(db, 2);
        assert_int_equal(dl, 2);
        assert_int_equal(pcheck(ps, b, 0, 2, 1, NULL, NULL), LG_ESEQ);
        lg_producers_free(ps);
        lg_close(f->log); /* the same from the index after a reopen */
        fx_open(f);
    }
    lg_append_result r;
    cn_buf one = CN_BUF_INIT;
    lgt_batch(&one, 9, 1, 20, 1000, a, 0, 2);
    assert_int_equal(lg_append(f->log, "t", 0, one.data, one.len, &r), 0);
    assert_int_equal(r.duplicate, 0);
    assert_int_equal(r.base_offset, 3);
    cn_buf_free(&one);
}

static int64_t test_clock_ms;
static int64_t test_clock(void *ud)
{
    (void)ud;
    return test_clock_ms;
}

/* The leader's copy loads what replica appends recorded and then decides
 * as the log's own table: duplicates of the last 5 batches with their
 * offsets, gaps, fencing, records, expiry by the log's clock. */
static void test_leader_producer_copy_decides_as_the_log(void **st)
{
    fx *f = *st;
    lg_close(f->log);
    test_clock_ms = 1000000;
    f->o.clock_ms = test_clock;
    f->o.producer_expiry_ms = 60000;
    fx_open(f);
    const int64_t pid = ((int64_t)5 << 31) + 1234; /* another node's id: fine on a replica */
    for (int i = 0; i < 6; i++)
        pput(f->log, i * 2, pid, 3, i * 2, 2); /* 6 batches, seq 0..11, timestamps ~1000 */
    lg_producers *ps;
    assert_int_equal(lg_producers_load(f->log, "nope", 0, &ps), LG_ENOTOPIC);
    assert_int_equal(lg_producers_load(f->log, "t", 7, &ps), LG_ENOPART);
    assert_int_equal(lg_producers_load(f->log, "t", 1, &ps), 0); /* other partition: empty */
    assert_int_equal(lg_producers_count(ps), 0);
    assert_int_equal(pcheck(ps, pid, 3, 40, 1, NULL, NULL), LG_PRODUCER_NEW);
    lg_producers_free(ps);
    assert_int_equal(lg_producers_load(f->log, "t", 0, &ps), 0);
    assert_int_equal(lg_producers_count(ps), 1);
    int64_t db, dl;
    assert_int_equal(pcheck(ps, pid, 3, 0, 2, NULL, NULL), LG_ESEQ); /* beyond the 5 kept */
    assert_int_equal(pcheck(ps, pid, 3, 2, 2, &db, &dl), LG_PRODUCER_DUP);
    assert_int_equal(db, 2);
    assert_int_equal(dl, 3);
    assert_int_equal(pcheck(ps, pid, 3, 10, 2, &db, &dl), LG_PRODUCER_DUP);
    assert_int_equal(db, 10);
    assert_int_equal(pcheck(ps, pid, 3, 10, 1, NULL, NULL), LG_ESEQ); /* same start, other end */
    assert_int_equal(pcheck(ps, pid, 3, 13, 1, NULL, NULL), LG_ESEQ);
    assert_int_equal(pcheck(ps, pid, 2, 12, 1, NULL, NULL), LG_EFENCED);
    assert_int_equal(pcheck(ps, pid, 4, 0, 1, NULL, NULL), LG_PRODUCER_NEW);
    assert_int_equal(pcheck(ps, pid, 3, 12, 1, NULL, NULL), LG_PRODUCER_NEW);
    assert_int_equal(pcheck(ps, -1, -1, -1, 1, NULL, NULL), LG_PRODUCER_NEW);
    /* Recording a proposal makes its retry a duplicate. */
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 1, 3, 20, test_clock_ms, pid, 3, 12);
    lg_batch_hdr h;
    assert_int_equal(lg_batch_parse_hdr(b.data, b.len, &h), 0);
    assert_int_equal(lg_producers_record(ps, &h, 12), 0);
    assert_int_equal(pcheck(ps, pid, 3, 12, 3, &db, &dl), LG_PRODUCER_DUP);
    assert_int_equal(db, 12);
    assert_int_equal(dl, 14);
    assert_int_equal(lg_producers_record(ps, &h, -1), CN_EINVAL);
    assert_int_equal(lg_producers_check(NULL, &h, &db, &dl), CN_EINVAL);
    /* A transaction marker is checked for its epoch only, and moves it. */
    h.attributes |= LG_ATTR_CONTROL;
    h.base_sequence = 77;
    assert_int_equal(lg_producers_check(ps, &h, &db, &dl), LG_PRODUCER_NEW);
    h.producer_epoch = 2;
    assert_int_equal(lg_producers_check(ps, &h, &db, &dl), LG_EFENCED);
    /* Expiry by the log's clock: the old producer goes, a fresh one stays. */
    cn_buf c = CN_BUF_INIT;
    lgt_batch(&c, 2, 1, 20, test_clock_ms + 50000, pid + 1, 0, 0);
    assert_int_equal(lg_batch_parse_hdr(c.data, c.len, &h), 0);
    assert_int_equal(lg_producers_record(ps, &h, 15), 0);
    assert_int_equal(lg_producers_expire(f->log, ps), 0);
    test_clock_ms += 70000;
    assert_int_equal(lg_producers_expire(f->log, ps), 1);
    assert_int_equal(lg_producers_count(ps), 1);
    assert_int_equal(pcheck(ps, pid, 3, 12, 3, NULL, NULL), LG_PRODUCER_NEW);
    /* A marker recorded moves the producer's epoch, as in the writer. */
    cn_buf m = CN_BUF_INIT;
    assert_int_equal(lg_control_batch(&m, pid + 1, 1, 0, 0, test_clock_ms), 0);
    assert_int_equal(lg_batch_parse_hdr(m.data, m.len, &h), 0);
    assert_int_equal(lg_producers_record(ps, &h, 16), 0);
    assert_int_equal(pcheck(ps, pid + 1, 0, 1, 1, NULL, NULL), LG_EFENCED);
    assert_int_equal(pcheck(ps, pid + 1, 1, 0, 1, NULL, NULL), LG_PRODUCER_NEW);
    cn_buf_free(&m);
    lg_producers_free(ps);
    lg_producers_free(NULL);
    cn_buf_free(&b);
    cn_buf_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replica_append_stamps_offsets_and_epochs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_append_wrong_offset_or_epoch_back_stores_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replica_append_verbatim_keeps_each_batch_epoch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_replica_append_hostile_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replica_truncate_forgets_producers_it_cut_entirely,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_leader_producer_copy_decides_as_the_log, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_replica_append_rebuilds_producer_state_never_refuses,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_epoch_end_offset_follows_kafka_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_epoch_history_survives_reopen_and_index_rebuild, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_replica_truncate_keeps_epoch_and_cuts_history, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_standalone_truncate_still_bumps_and_drops_cut_epochs,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_durable_end_follows_rounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_limit_holds_consumers_below_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_limit_change_is_published, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consumer_reads_leave_out_leader_change_markers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_marker_at_a_segment_end_is_read_past, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replica_append_write_and_sync_failures, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_raft_state_round_trip_and_damage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
