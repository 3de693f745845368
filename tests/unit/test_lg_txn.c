/* SPDX-License-Identifier: MIT */
/*
 * test_lg_txn.c — the log's side of transactions: transactional batches
 * open a transaction per (partition, producer), a COMMIT or ABORT marker
 * (lg_control_batch) closes it, the last stable offset is the first offset
 * of the oldest open transaction, read_committed reads stop there
 * (lg_read_committed) and report it, the aborted-transaction list follows
 * Kafka's rule (lg_aborted_txns); markers carry no sequence, bump the
 * producer's epoch (an older epoch's batches and markers are then
 * LG_EFENCED) and let a same-epoch producer continue its sequences; all of
 * it survives a reopen, a lost index (rebuilt from the segments) and
 * truncation; lg_open_txns lists the open ones and lg_iter_set_control
 * makes an iterator return the markers; the coordinator's records
 * (lg_txn_state_put/each) persist,
 * and hostile keys are refused; a read-only opener sees the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "lg.h"
#include "lg_batch.h"
#include "lg_testutil.h"

typedef struct fx {
    char *dir;
    lg_opts o;
    lg_log *log;
    int64_t pid;
} fx;

static int setup(void **st)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = cn_test_tmpdir("lgtxn");
    lg_opts_init(&f->o);
    f->o.dir = f->dir;
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    lg_topic_config c = {2, 0, 0, 0};
    assert_int_equal(lg_topic_create(f->log, "t", &c), 0);
    assert_int_equal(lg_producer_id_alloc(f->log, &f->pid), 0);
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

static void reopen(fx *f, int drop_index)
{
    lg_close(f->log);
    f->log = NULL;
    if (drop_index) {
        char idx[4096];
        snprintf(idx, sizeof(idx), "%s/index", f->dir);
        cn_test_rmrf(idx);
    }
    assert_int_equal(lg_open(&f->log, &f->o), 0);
}

/* A 3-record batch; transactional when txn.  Returns the append error and
 * *off its offset. */
static int data(fx *f, int part, int64_t pid, int16_t epoch, int32_t seq, int txn, int64_t *off)
{
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, (uint32_t)seq + 7, 3, 10, 1000, pid, epoch, seq);
    if (txn)
        lgt_batch_set_attributes(b.data, b.len, LG_ATTR_TRANSACTIONAL);
    lg_append_result r;
    int rc = lg_append(f->log, "t", part, b.data, b.len, &r);
    cn_buf_free(&b);
    if (off)
        *off = r.base_offset;
    return rc ? rc : r.err;
}

static int marker(fx *f, int part, int64_t pid, int16_t epoch, int commit, int64_t *off)
{
    cn_buf b = CN_BUF_INIT;
    assert_int_equal(lg_control_batch(&b, pid, epoch, commit, 0, 2000), 0);
    lg_batch_hdr h;
    assert_int_equal(lg_batch_validate(b.data, b.len, &h), 0);
    assert_int_equal(h.attributes, LG_ATTR_TRANSACTIONAL | LG_ATTR_CONTROL);
    assert_int_equal(h.base_sequence, -1);
    lg_append_result r;
    int rc = lg_append(f->log, "t", part, b.data, b.len, &r);
    cn_buf_free(&b);
    if (off)
        *off = r.base_offset;
    return rc ? rc : r.err;
}

static int64_t lso(fx *f, int part)
{
    int64_t v = -1;
    assert_int_equal(lg_last_stable_offset(f->log, "t", part, &v), 0);
    return v;
}

typedef struct ab_list {
    lg_aborted_txn v[16];
    int n;
} ab_list;

static int ab_add(void *ud, const lg_aborted_txn *t)
{
    ab_list *l = ud;
    assert_true(l->n < 16);
    l->v[l->n++] = *t;
    return 0;
}

static ab_list aborted(lg_log *log, int part, int64_t from, int64_t upto)
{
    ab_list l;
    memset(&l, 0, sizeof(l));
    assert_int_equal(lg_aborted_txns(log, "t", part, from, upto, ab_add, &l), 0);
    return l;
}

/* A transaction open at offset 3, a committed one before it, an aborted
 * one after: the state every later test checks. */
static void build(fx *f, int64_t pid2)
{
    int64_t off;
    assert_int_equal(data(f, 0, -1, -1, 0, 0, &off), 0); /* plain: 0-2 */
    assert_int_equal(lso(f, 0), 3);
    assert_int_equal(data(f, 0, f->pid, 0, 0, 1, &off), 0); /* txn A: 3-5 */
    assert_int_equal(off, 3);
    assert_int_equal(lso(f, 0), 3);
    assert_int_equal(data(f, 0, pid2, 0, 0, 1, &off), 0);   /* txn B: 6-8 */
    assert_int_equal(data(f, 0, f->pid, 0, 3, 1, &off), 0); /* A: 9-11 */
    assert_int_equal(lso(f, 0), 3);
    assert_int_equal(marker(f, 0, f->pid, 0, 1, &off), 0); /* A committed at 12 */
    assert_int_equal(off, 12);
    assert_int_equal(lso(f, 0), 6);                      /* B still open */
    assert_int_equal(marker(f, 0, pid2, 0, 0, &off), 0); /* B aborted at 13 */
    assert_int_equal(lso(f, 0), 14);
    assert_int_equal(data(f, 0, f->pid, 0, 6, 1, &off), 0); /* A again: 14-16, open */
    assert_int_equal(lso(f, 0), 14);
}

static int open_add(void *ud, int64_t pid, int64_t first)
{
    int64_t *v = ud;
    v[0]++;
    v[1] = pid;
    v[2] = first;
    return 0;
}

static void check_built(fx *f, int64_t pid2)
{
    int64_t open[3] = {0, 0, 0};
    assert_int_equal(lg_open_txns(f->log, "t", 0, open_add, open), 0);
    assert_int_equal(open[0], 1);
    assert_int_equal(open[1], f->pid);
    assert_int_equal(open[2], 14);
    /* An iterator skips the markers, unless asked for them. */
    for (int ctl = 0; ctl < 2; ctl++) {
        lg_iter *it;
        assert_int_equal(lg_iter_open(&it, f->log, "t", 0, 11), 0);
        lg_iter_set_control(it, ctl);
        lg_record r;
        assert_int_equal(lg_iter_next(it, &r), 0);
        assert_int_equal(r.offset, 11);
        assert_int_equal(lg_iter_next(it, &r), 0);
        assert_int_equal(r.offset, ctl ? 12 : 14);
        if (ctl) {
            assert_true(lg_iter_batch(it)->attributes & LG_ATTR_CONTROL);
            assert_int_equal(lg_iter_batch(it)->producer_id, f->pid);
        }
        lg_iter_close(it);
    }
    assert_int_equal(lso(f, 0), 14);
    assert_int_equal(lso(f, 1), 0); /* nothing there */
    ab_list l = aborted(f->log, 0, 0, 14);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0].producer_id, pid2);
    assert_int_equal(l.v[0].first_offset, 6);
    assert_int_equal(l.v[0].last_offset, 13);
    /* A fetch of [0, 6) needs no abort (B starts at 6); [13, 14) still does. */
    assert_int_equal(aborted(f->log, 0, 0, 6).n, 0);
    assert_int_equal(aborted(f->log, 0, 13, 14).n, 1);
    assert_int_equal(aborted(f->log, 0, 14, 100).n, 0);
    /* read_committed reads stop at the LSO; plain reads go on. */
    lg_read_result rr;
    int64_t hw = -1;
    assert_int_equal(lg_read_committed(f->log, "t", 0, 0, 1 << 20, &rr, &hw), 0);
    assert_int_equal(rr.log_end_offset, 14);
    assert_int_equal(hw, 17);
    assert_int_equal(rr.next_offset, 14);
    lg_read_release(f->log, &rr);
    assert_int_equal(lg_read_committed(f->log, "t", 0, 14, 1 << 20, &rr, &hw), 0);
    assert_int_equal(rr.len, 0); /* at the LSO: nothing yet */
    lg_read_release(f->log, &rr);
    assert_int_equal(lg_read(f->log, "t", 0, 14, 1 << 20, &rr), 0);
    assert_true(rr.len > 0);
    assert_int_equal(rr.next_offset, 17);
    lg_read_release(f->log, &rr);
}

static void test_lso_and_aborted_index(void **st)
{
    fx *f = *st;
    int64_t pid2;
    assert_int_equal(lg_producer_id_alloc(f->log, &pid2), 0);
    build(f, pid2);
    check_built(f, pid2);
    /* Closing A moves the LSO to the end. */
    int64_t off;
    assert_int_equal(marker(f, 0, f->pid, 0, 0, &off), 0);
    assert_int_equal(off, 17);
    assert_int_equal(lso(f, 0), 18);
    ab_list l = aborted(f->log, 0, 0, 18);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.v[1].first_offset, 14);
    assert_int_equal(l.v[1].last_offset, 17);
    /* A marker for a producer with nothing open changes nothing. */
    assert_int_equal(marker(f, 0, pid2, 0, 0, &off), 0);
    assert_int_equal(lso(f, 0), 19);
    assert_int_equal(aborted(f->log, 0, 0, 100).n, 2);
}

static void test_survives_reopen_and_index_loss(void **st)
{
    fx *f = *st;
    int64_t pid2;
    assert_int_equal(lg_producer_id_alloc(f->log, &pid2), 0);
    build(f, pid2);
    reopen(f, 0);
    check_built(f, pid2);
    reopen(f, 1); /* rebuilt from the segments */
    check_built(f, pid2);
    /* The open transaction is still open: its marker closes it. */
    int64_t off;
    assert_int_equal(marker(f, 0, f->pid, 0, 1, &off), 0);
    assert_int_equal(lso(f, 0), off + 1);
    reopen(f, 1);
    assert_int_equal(lso(f, 0), off + 1);
    assert_int_equal(aborted(f->log, 0, 0, 100).n, 1);
}

static void test_markers_and_producer_epochs(void **st)
{
    fx *f = *st;
    int64_t off;
    /* Sequences go on across a COMMIT marker of the same epoch. */
    assert_int_equal(data(f, 1, f->pid, 0, 0, 1, &off), 0);
    assert_int_equal(marker(f, 1, f->pid, 0, 1, &off), 0);
    assert_int_equal(data(f, 1, f->pid, 0, 3, 1, &off), 0);
    assert_int_equal(data(f, 1, f->pid, 0, 0, 1, &off), 0); /* a duplicate: acknowledged */
    /* An ABORT with a bumped epoch (fencing): the old epoch is refused,
     * data and markers alike; the new epoch starts at sequence 0. */
    assert_int_equal(marker(f, 1, f->pid, 1, 0, &off), 0);
    assert_int_equal(data(f, 1, f->pid, 0, 6, 1, &off), LG_EFENCED);
    assert_int_equal(marker(f, 1, f->pid, 0, 1, &off), LG_EFENCED);
    assert_int_equal(data(f, 1, f->pid, 1, 0, 1, &off), 0);
    assert_int_equal(marker(f, 1, f->pid, 1, 1, &off), 0);
    assert_int_equal(lso(f, 1), off + 1);
    /* The same after a reopen (recovery replays the markers). */
    reopen(f, 1);
    assert_int_equal(data(f, 1, f->pid, 0, 9, 1, &off), LG_EFENCED);
    assert_int_equal(data(f, 1, f->pid, 1, 3, 1, &off), 0);
    assert_int_equal(marker(f, 1, f->pid, 1, 1, &off), 0);
    assert_int_equal(lso(f, 1), off + 1);
}

static void test_control_batch_refuses_bad_producer(void **st)
{
    (void)st;
    cn_buf b = CN_BUF_INIT;
    assert_int_equal(lg_control_batch(&b, -1, 0, 1, 0, 0), CN_EINVAL);
    assert_int_equal(lg_control_batch(&b, 5, -1, 1, 0, 0), CN_EINVAL);
    assert_int_equal(lg_control_batch(NULL, 5, 0, 1, 0, 0), CN_EINVAL);
    assert_int_equal(b.len, 0);
    cn_buf_free(&b);
}

static void test_truncate_forgets_cut_transactions(void **st)
{
    fx *f = *st;
    int64_t pid2;
    assert_int_equal(lg_producer_id_alloc(f->log, &pid2), 0);
    build(f, pid2);
    /* Cut at 13 (B's ABORT): B's abort is forgotten, A's second part too. */
    assert_int_equal(lg_truncate(f->log, "t", 0, 13), 0);
    assert_int_equal(aborted(f->log, 0, 0, 100).n, 0);
    /* B stays open in the index only if its first batch survived the cut;
     * the tables never point past the end. */
    assert_true(lso(f, 0) <= 13);
    reopen(f, 0);
    assert_true(lso(f, 0) <= 13);
}

static int collect(void *ud, const char *key, const void *val, size_t n)
{
    cn_buf *b = ud;
    cn_buf_printf(b, "%s=%.*s;", key, (int)n, (const char *)val);
    return 0;
}

static void test_coordinator_records(void **st)
{
    fx *f = *st;
    assert_int_equal(lg_txn_state_put(f->log, "b", "two", 3), 0);
    assert_int_equal(lg_txn_state_put(f->log, "a", "one", 3), 0);
    assert_int_equal(lg_txn_state_put(f->log, "c", "x", 1), 0);
    assert_int_equal(lg_txn_state_put(f->log, "c", NULL, 0), 0); /* delete */
    assert_int_equal(lg_txn_state_put(f->log, "never", NULL, 0), 0);
    /* Hostile keys and arguments. */
    char big[LG_TXN_KEY_MAX + 2];
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_int_equal(lg_txn_state_put(f->log, big, "v", 1), CN_EINVAL);
    assert_int_equal(lg_txn_state_put(f->log, "", "v", 1), CN_EINVAL);
    assert_int_equal(lg_txn_state_put(f->log, NULL, "v", 1), CN_EINVAL);
    assert_int_equal(lg_txn_state_put(f->log, "k", NULL, 3), CN_EINVAL);
    reopen(f, 1); /* DATA/state is not the index: it survives its loss */
    cn_buf b = CN_BUF_INIT;
    assert_int_equal(lg_txn_state_each(f->log, collect, &b), 0);
    assert_int_equal(b.len, strlen("a=one;b=two;"));
    assert_memory_equal(b.data, "a=one;b=two;", b.len);
    cn_buf_free(&b);
}

static void test_read_only_opener_sees_transactions(void **st)
{
    fx *f = *st;
    int64_t pid2;
    assert_int_equal(lg_producer_id_alloc(f->log, &pid2), 0);
    build(f, pid2);
    assert_int_equal(lg_txn_state_put(f->log, "tx", "r", 1), 0);
    lg_opts ro = f->o;
    ro.read_only = 1;
    /* LMDB must not be opened twice in one process: close the writer. */
    lg_close(f->log);
    f->log = NULL;
    lg_log *r;
    assert_int_equal(lg_open(&r, &ro), 0);
    ab_list l = aborted(r, 0, 0, 14);
    assert_int_equal(l.n, 1);
    int64_t v;
    assert_int_equal(lg_last_stable_offset(r, "t", 0, &v), 0);
    assert_int_equal(v, 14);
    assert_int_equal(lg_txn_state_put(r, "tx", "r", 1), CN_EPERM);
    cn_buf b = CN_BUF_INIT;
    assert_int_equal(lg_txn_state_each(r, collect, &b), 0);
    assert_int_equal(b.len, strlen("tx=r;"));
    cn_buf_free(&b);
    lg_close(r);
    assert_int_equal(lg_open(&f->log, &f->o), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lso_and_aborted_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_survives_reopen_and_index_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_markers_and_producer_epochs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_batch_refuses_bad_producer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_forgets_cut_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coordinator_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_opener_sees_transactions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
