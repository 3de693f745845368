/* SPDX-License-Identifier: MIT */
/*
 * test_lg_iofault.c — I/O failure at every point (SQLite's I/O-error loop):
 * for N = 1, 2, 3, ... the Nth file operation through the VFS fails (EIO,
 * or ENOSPC for writes with half the bytes landing), once or forever after,
 * during a scenario of open (recovery of what earlier rounds left), topic
 * create, appends across segment rolls on two partitions, reads and close.
 * Calls may fail, nothing may crash or leak descriptors' worth of state,
 * and after each N the directory is reopened without faults: it must
 * verify cleanly, no partition may be failed, and every batch acknowledged
 * in any earlier run must still be there, byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "lg.h"
#include "lg_testutil.h"

typedef struct ack {
    uint32_t k;
    int part;
    int64_t off;
} ack;

typedef struct st {
    char *dir;
    ack *acks;
    size_t n, cap;
    uint32_t next_k;
} st_t;

static void batch_for(cn_buf *b, uint32_t k)
{
    cn_buf_reset(b);
    lgt_batch(b, k, 1 + (int)(k % 3), 200, 1000 + (int64_t)k, -1, -1, -1);
}

static void opts(lg_opts *o, const char *dir, const lg_vfs *vfs)
{
    lg_opts_init(o);
    o->dir = dir;
    o->vfs = vfs;
    o->segment_bytes = 2048;
    o->retention_ms = -1;
    o->lmdb_map_bytes = 64u << 20;
}

static void scenario(st_t *s, lgt_vfs *v)
{
    lg_opts o;
    opts(&o, s->dir, &v->vfs);
    lg_log *log;
    if (lg_open(&log, &o) != 0)
        return;
    lg_topic_config c = {2, 0, 0, 0};
    lg_topic_create(log, "io", &c);
    cn_buf b = CN_BUF_INIT;
    for (int i = 0; i < 6; i++) {
        uint32_t k = s->next_k++;
        batch_for(&b, k);
        lg_append_result r;
        if (lg_append(log, "io", (int)(k % 2), b.data, b.len, &r) == 0) {
            if (s->n == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 256;
                s->acks = realloc(s->acks, s->cap * sizeof(*s->acks));
            }
            s->acks[s->n++] = (ack){k, (int)(k % 2), r.base_offset};
        }
    }
    lg_read_result rr;
    if (lg_read(log, "io", 0, 0, 4096, &rr) == 0)
        lg_read_release(log, &rr);
    lg_iter *it;
    if (lg_iter_open(&it, log, "io", 1, 0) == 0) {
        lg_record rec;
        while (lg_iter_next(it, &rec) == 0)
            ;
        lg_iter_close(it);
    }
    cn_buf_free(&b);
    lg_close(log);
}

static void on_problem(void *ud, const char *file, uint64_t pos, const char *what)
{
    (void)ud;
    print_error("verify: %s at %llu: %s\n", file, (unsigned long long)pos, what);
}

static void check(st_t *s, long n)
{
    lg_opts o;
    opts(&o, s->dir, NULL);
    lg_log *log;
    int rc = lg_open(&log, &o);
    if (rc)
        fail_msg("fault %ld: clean reopen failed: %s", n, cn_errname(rc));
    assert_int_equal(lg_verify(log, on_problem, NULL), 0);
    cn_buf b = CN_BUF_INIT, got = CN_BUF_INIT;
    for (int p = 0; p < 2 && lg_topic_partitions(log, "io") == 2; p++) {
        lg_partition_info info;
        assert_int_equal(lg_partition_info_get(log, "io", p, &info), 0);
        if (info.failed)
            fail_msg("fault %ld: partition %d failed: %s", n, p, info.err_detail);
    }
    for (size_t i = 0; i < s->n; i++) {
        ack *a = &s->acks[i];
        batch_for(&b, a->k);
        lg_batch_stamp(b.data, a->off, 0);
        lg_read_result r;
        rc = lg_read(log, "io", a->part, a->off, 1, &r);
        if (rc || r.len != b.len)
            fail_msg("fault %ld: acknowledged k=%u at %d/%lld lost (%s)", n, a->k, a->part,
                     (long long)a->off, cn_errname(rc));
        cn_buf_reset(&got);
        cn_buf_reserve(&got, r.len);
        assert_int_equal(pread(r.fd, got.data, r.len, r.file_pos), (ssize_t)r.len);
        assert_memory_equal(got.data, b.data, b.len);
        lg_read_release(log, &r);
    }
    cn_buf_free(&b);
    cn_buf_free(&got);
    lg_close(log);
}

/* Copy a directory tree (the template) to another path. */
static char g_to[4096];
static size_t g_from_len;

static int cp_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    char dst[8192];
    snprintf(dst, sizeof(dst), "%s%s", g_to, path + g_from_len);
    if (flag == FTW_D)
        return mkdir(dst, 0755) != 0 && errno != EEXIST;
    if (flag != FTW_F || strstr(path, "lock.mdb"))
        return 0;
    int in = open(path, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char buf[65536];
    ssize_t r;
    while (in >= 0 && out >= 0 && (r = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)r) != r)
            return 1;
    close(in);
    close(out);
    return in < 0 || out < 0;
}

static void restore(const char *tpl, const char *dir)
{
    cn_test_rmrf(dir);
    snprintf(g_to, sizeof(g_to), "%s", dir);
    g_from_len = strlen(tpl);
    assert_int_equal(nftw(tpl, cp_one, 16, FTW_PHYS), 0);
}

static void run_loop(int forever)
{
    st_t s = {0};
    char *tpl = cn_test_tmpdir("lgio-tpl");
    s.dir = cn_test_tmpdir("lgio");
    lgt_vfs v;
    lgt_vfs_init(&v);
    /* The template: two clean runs (data in several segments).  Each
     * faulty run starts from a copy of it, so every run does the same I/O
     * and the loop ends; what a faulty run acknowledged is checked, then
     * forgotten with its copy. */
    st_t t = {0};
    t.dir = tpl;
    scenario(&t, &v);
    scenario(&t, &v);
    long clean_ops = atomic_load(&v.n_ops);
    long n;
    size_t checked = 0;
    for (n = 1; n < 100000; n++) {
        restore(tpl, s.dir);
        s.n = 0;
        for (size_t i = 0; i < t.n; i++) {
            if (s.n == s.cap) {
                s.cap = s.cap ? s.cap * 2 : 256;
                s.acks = realloc(s.acks, s.cap * sizeof(*s.acks));
            }
            s.acks[s.n++] = t.acks[i];
        }
        s.next_k = t.next_k;
        lgt_vfs_init(&v);
        atomic_store(&v.fail_op_at, n);
        atomic_store(&v.fail_op_forever, forever);
        scenario(&s, &v);
        long ops = atomic_load(&v.n_ops);
        check(&s, n);
        checked += s.n;
        if (ops < n)
            break;
    }
    free(t.acks);
    cn_test_rmrf(tpl);
    free(tpl);
    print_message(
        "%s: %ld fault points, %zu acknowledged-batch checks (template: %ld operations)\n",
        forever ? "fail forever" : "fail once", n - 1, checked, clean_ops);
    assert_true(n > 20);
    free(s.acks);
    cn_test_rmrf(s.dir);
    free(s.dir);
}

static void test_io_fail_once(void **st)
{
    (void)st;
    run_loop(0);
}

static void test_io_fail_forever(void **st)
{
    (void)st;
    run_loop(1);
}

int main(void)
{
    if (access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_io_fail_once),
        cmocka_unit_test(test_io_fail_forever),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
