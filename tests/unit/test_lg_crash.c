/* SPDX-License-Identifier: MIT */
/*
 * test_lg_crash.c — crash safety with real SIGKILLs.  Each round forks a
 * child that opens the log (running recovery) and appends batches with
 * fsync durability, pipelined, on two partitions; every acknowledged
 * append is reported through a pipe as (k, partition, offset) from the
 * completion callback.  The parent SIGKILLs the child at a random moment
 * (sometimes while it is still recovering), then reopens the log and
 * checks that every batch acknowledged in that round is present byte for
 * byte at its offset (rebuilt from k and stamped), that lg_verify finds
 * nothing, and that the iterator serves every record up to the end.
 * Between some rounds it damages the tail of an active segment (random
 * garbage, half of a valid next batch, a whole batch with a bad CRC) and
 * checks the reopened log cut exactly that away: nothing past a torn write
 * is served.  A final pass re-checks every batch acknowledged in any round.
 * Seeded and bounded: >= 50 kill points in about 20 s.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "cn_time.h"
#include "lg.h"
#include "lg_testutil.h"

#define ROUNDS 60
#define SEED 0x5eedc0deu

typedef struct ack {
    uint32_t k;
    int32_t part;
    int64_t off;
} ack;

static uint64_t rng_state;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* The batch for k: deterministic bytes, so the parent can rebuild it. */
static void batch_for(cn_buf *b, uint32_t k)
{
    cn_buf_reset(b);
    lgt_batch(b, k, 1 + (int)(k % 4), 40 + k % 50, 1000 + (int64_t)k, -1, -1, -1);
}

/* ---- the child ------------------------------------------------------------ */

static int c_wfd;
static atomic_int c_inflight;

static void child_cb(void *ud, const lg_append_result *r)
{
    uint32_t k = (uint32_t)(uintptr_t)ud;
    if (r->err == 0) {
        ack a = {k, (int32_t)(k & 1), r->base_offset};
        /* <= PIPE_BUF: atomic; the parent reads whole records */
        if (write(c_wfd, &a, sizeof(a)) != (ssize_t)sizeof(a))
            _exit(5);
    }
    atomic_fetch_sub(&c_inflight, 1);
}

static void child_main(const char *dir, int wfd, uint32_t kbase)
{
    c_wfd = wfd;
    lg_opts o;
    lg_opts_init(&o);
    o.dir = dir;
    o.segment_bytes = 64 * 1024; /* rolls happen too */
    lg_log *log;
    if (lg_open(&log, &o) != 0)
        _exit(3);
    ack ready = {0, -1, -1};
    if (write(wfd, &ready, sizeof(ready)) != (ssize_t)sizeof(ready))
        _exit(5);
    cn_buf b = CN_BUF_INIT;
    for (uint32_t i = 0;; i++) {
        while (atomic_load(&c_inflight) >= 48)
            usleep(50);
        uint32_t k = kbase + i;
        batch_for(&b, k);
        atomic_fetch_add(&c_inflight, 1);
        if (lg_append_async(log, "t", (int32_t)(k & 1), b.data, b.len, child_cb,
                            (void *)(uintptr_t)k) != 0)
            _exit(4);
    }
}

/* ---- the parent ------------------------------------------------------------ */

typedef struct fx {
    char *dir;
    ack *acks;
    size_t nacks, cap;
    cn_buf exp, got;
} fx;

static void open_log(fx *f, lg_log **log)
{
    lg_opts o;
    lg_opts_init(&o);
    o.dir = f->dir;
    o.segment_bytes = 64 * 1024;
    assert_int_equal(lg_open(log, &o), 0);
}

static void check_ack(fx *f, lg_log *log, const ack *a)
{
    batch_for(&f->exp, a->k);
    lg_batch_stamp(f->exp.data, a->off, 0);
    lg_read_result r;
    int rc = lg_read(log, "t", a->part, a->off, 1, &r);
    if (rc != 0)
        fail_msg("acknowledged k=%u at %d/%" PRId64 " unreadable: %s", a->k, a->part, a->off,
                 cn_errname(rc));
    assert_true(r.first_offset == a->off);
    assert_int_equal(r.len, f->exp.len);
    cn_buf_reset(&f->got);
    cn_buf_reserve(&f->got, r.len);
    assert_int_equal(pread(r.fd, f->got.data, r.len, r.file_pos), (ssize_t)r.len);
    assert_memory_equal(f->got.data, f->exp.data, r.len);
    lg_read_release(log, &r);
}

/* Everything the files hold is accounted for (no unserved tail left) and
 * the iterator serves every record, each batch CRC-checked. */
static void check_whole(fx *f, lg_log *log)
{
    assert_int_equal(lg_verify(log, NULL, NULL), 0);
    for (int p = 0; p < 2; p++) {
        lg_partition_info info;
        assert_int_equal(lg_partition_info_get(log, "t", p, &info), 0);
        assert_false(info.failed);
        char d[4096];
        snprintf(d, sizeof(d), "%s/topics/t/%d", f->dir, p);
        DIR *dd = opendir(d);
        long long files = 0;
        struct dirent *e;
        while (dd && (e = readdir(dd)) != NULL)
            if (strstr(e->d_name, ".log")) {
                char path[4400];
                snprintf(path, sizeof(path), "%s/%s", d, e->d_name);
                files += lgt_file_size(path);
            }
        if (dd)
            closedir(dd);
        assert_true(files == (long long)info.bytes);
        lg_iter *it;
        assert_int_equal(lg_iter_open(&it, log, "t", p, 0), 0);
        lg_record rec;
        int64_t n = 0;
        int rc;
        while ((rc = lg_iter_next(it, &rec)) == 0)
            assert_true(rec.offset == n++);
        assert_int_equal(rc, CN_DONE);
        assert_true(n == info.log_end_offset);
        lg_iter_close(it);
    }
}

/* Damage the active segment's tail of a partition; returns the file and
 * the size it must be cut back to. */
static long long damage_tail(fx *f, int p, int how, char *path, size_t cap)
{
    lg_log *log;
    open_log(f, &log);
    lg_partition_info info;
    assert_int_equal(lg_partition_info_get(log, "t", p, &info), 0);
    lg_close(log);
    /* the active segment: the largest base */
    char d[4096];
    snprintf(d, sizeof(d), "%s/topics/t/%d", f->dir, p);
    DIR *dd = opendir(d);
    assert_non_null(dd);
    char best[256] = "";
    struct dirent *e;
    while ((e = readdir(dd)) != NULL)
        if (strstr(e->d_name, ".log") && strcmp(e->d_name, best) > 0)
            memcpy(best, e->d_name, strlen(e->d_name) + 1);
    closedir(dd);
    assert_true(best[0] != 0);
    snprintf(path, cap, "%s/%s", d, best);
    long long size = lgt_file_size(path);
    cn_buf b = CN_BUF_INIT;
    batch_for(&b, 0xdead0000u + (uint32_t)how);
    lg_batch_stamp(b.data, info.log_end_offset, 0);
    size_t n;
    if (how == 0) { /* random garbage */
        n = 1 + rnd() % 3000;
        cn_buf_reset(&b);
        cn_buf_reserve(&b, n);
        for (size_t i = 0; i < n; i++)
            b.data[i] = (unsigned char)rnd();
        b.len = n;
    } else if (how == 1) { /* the first part of the next batch: torn */
        n = 1 + rnd() % (b.len - 1);
    } else { /* whole next batch, one payload bit flipped */
        n = b.len;
        b.data[b.len - 1 - rnd() % 20] ^= (unsigned char)(1u << (rnd() % 8));
    }
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b.data, n), (ssize_t)n);
    close(fd);
    cn_buf_free(&b);
    return size;
}

static void read_acks(fx *f, int rfd, int *ready)
{
    ack a;
    ssize_t r;
    size_t have = 0;
    unsigned char buf[sizeof(ack)];
    while ((r = read(rfd, buf + have, sizeof(buf) - have)) > 0) {
        have += (size_t)r;
        if (have < sizeof(buf))
            continue;
        have = 0;
        memcpy(&a, buf, sizeof(a));
        if (a.part < 0) {
            *ready = 1;
            continue;
        }
        if (f->nacks == f->cap) {
            f->cap = f->cap ? f->cap * 2 : 4096;
            f->acks = realloc(f->acks, f->cap * sizeof(*f->acks));
        }
        f->acks[f->nacks++] = a;
    }
}

static void test_kill9_random_points(void **st)
{
    (void)st;
    fx f = {0};
    f.dir = cn_test_tmpdir("lgcrash");
    rng_state = SEED;
    print_message("crash test seed 0x%x, %d rounds\n", SEED, ROUNDS);
    lg_log *log;
    open_log(&f, &log);
    lg_topic_config c = {2, 0, 0, 0};
    assert_int_equal(lg_topic_create(log, "t", &c), 0);
    lg_close(log);
    uint64_t t0 = cn_mono_ns();
    int killed_running = 0, torn = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pfd[0]);
            child_main(f.dir, pfd[1], (uint32_t)round * 1000000u);
            _exit(0);
        }
        close(pfd[1]);
        size_t first_ack = f.nacks;
        int ready = 0;
        if (round % 10 == 7) {
            usleep(rnd() % 3000); /* kill during open/recovery */
        } else {
            /* wait for "ready" (the child reports it through the pipe) */
            ack a;
            ssize_t r = read(pfd[0], &a, sizeof(a));
            assert_int_equal(r, (ssize_t)sizeof(a));
            assert_true(a.part < 0);
            ready = 1;
            usleep(2000 + rnd() % 80000);
        }
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        killed_running += ready;
        read_acks(&f, pfd[0], &ready);
        close(pfd[0]);

        char path[4400];
        long long cut = -1;
        if (round % 3 == 1) {
            cut = damage_tail(&f, (int)(rnd() % 2), (int)(rnd() % 3), path, sizeof(path));
            torn++;
        }
        open_log(&f, &log);
        if (cut >= 0)
            assert_true(lgt_file_size(path) == cut);
        for (size_t i = first_ack; i < f.nacks; i++)
            check_ack(&f, log, &f.acks[i]);
        check_whole(&f, log);
        lg_close(log);
    }
    open_log(&f, &log);
    for (size_t i = 0; i < f.nacks; i++)
        check_ack(&f, log, &f.acks[i]);
    lg_close(log);
    print_message("%d kills (%d while appending), %d damaged tails, %zu acknowledged batches "
                  "verified, %.1f s\n",
                  ROUNDS, killed_running, torn, f.nacks, (double)(cn_mono_ns() - t0) / 1e9);
    assert_true(killed_running >= 50);
    assert_true(f.nacks > 1000);
    free(f.acks);
    cn_buf_free(&f.exp);
    cn_buf_free(&f.got);
    cn_test_rmrf(f.dir);
    free(f.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_random_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
