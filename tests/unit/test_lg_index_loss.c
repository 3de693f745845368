/* SPDX-License-Identifier: MIT */
/*
 * test_lg_index_loss.c — what cannot be rebuilt from the segments survives
 * whatever happens to the index: committed consumer-group offsets and the
 * producer-id counter are kept when the index directory is lost, when it
 * is of another version, and when its file is garbage (all three rebuild
 * the index from the segments).  An index that cannot be opened for a
 * reason that is not damage (here: out of file descriptors) makes lg_open
 * fail and deletes nothing.  Offsets an older layout kept in the index are
 * taken over by the first open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cn_err.h"
#include "cn_testutil.h"
#include "lg.h"
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
    f->dir = cn_test_tmpdir("lgixloss");
    lg_opts_init(&f->o);
    f->o.dir = f->dir;
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    lg_topic_config c = {2, 0, 0, 0};
    assert_int_equal(lg_topic_create(f->log, "t", &c), 0);
    cn_buf b = CN_BUF_INIT;
    lgt_batch(&b, 1, 5, 20, 100, -1, -1, -1);
    assert_int_equal(lg_append(f->log, "t", 0, b.data, b.len, NULL), 0);
    cn_buf_free(&b);
    assert_int_equal(lg_group_offset_commit(f->log, "g1", "t", 0, 5, "md-a"), 0);
    assert_int_equal(lg_group_offset_commit(f->log, "g2", "t", 1, 0, NULL), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(lg_producer_id_alloc(f->log, &f->pid), 0);
    lg_close(f->log);
    f->log = NULL;
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

/* Open and check every group offset, the data and the producer ids. */
static void check_survived(fx *f)
{
    assert_int_equal(lg_open(&f->log, &f->o), 0);
    int64_t off = -1;
    char md[64];
    assert_int_equal(lg_group_offset_fetch(f->log, "g1", "t", 0, &off, md, sizeof(md)), 0);
    assert_int_equal(off, 5);
    assert_string_equal(md, "md-a");
    assert_int_equal(lg_group_offset_fetch(f->log, "g2", "t", 1, &off, NULL, 0), 0);
    assert_int_equal(off, 0);
    lg_partition_info pi;
    assert_int_equal(lg_partition_info_get(f->log, "t", 0, &pi), 0);
    assert_int_equal(pi.log_end_offset, 5);
    int64_t np;
    assert_int_equal(lg_producer_id_alloc(f->log, &np), 0);
    assert_true(np > f->pid);
    lg_close(f->log);
    f->log = NULL;
}

static void test_group_offsets_survive_lost_index(void **st)
{
    fx *f = *st;
    char idx[4096];
    snprintf(idx, sizeof(idx), "%s/index", f->dir);
    cn_test_rmrf(idx);
    check_survived(f);
}

static void test_group_offsets_survive_index_version_mismatch(void **st)
{
    fx *f = *st;
    char idx[4096];
    snprintf(idx, sizeof(idx), "%s/index", f->dir);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    assert_int_equal(mdb_env_set_mapsize(env, 1ull << 30), 0);
    assert_int_equal(mdb_env_open(env, idx, MDB_NOTLS, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    unsigned char v[8] = {0, 0, 0, 0, 0, 0, 0, 99};
    MDB_val k = {7, "version"}, d = {8, v};
    assert_int_equal(mdb_put(txn, meta, &k, &d, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    check_survived(f);
}

static void test_group_offsets_survive_garbage_index_file(void **st)
{
    fx *f = *st;
    char path[4200];
    snprintf(path, sizeof(path), "%s/index/data.mdb", f->dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (int i = 0; i < 16384; i++)
        fputc((i * 7919) & 0xff, fp);
    fclose(fp);
    check_survived(f);
}

static void test_index_open_out_of_fds_is_an_error_not_a_rebuild(void **st)
{
    fx *f = *st;
    char path[4200];
    snprintf(path, sizeof(path), "%s/index/data.mdb", f->dir);
    long long before = lgt_file_size(path);
    assert_true(before > 0);
    fflush(NULL);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* Room for the LOCK file and nothing more. */
        int lowest = dup(0);
        close(lowest);
        struct rlimit rl = {(rlim_t)lowest + 1, (rlim_t)lowest + 1};
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            _exit(2);
        lg_log *log = NULL;
        int rc = lg_open(&log, &f->o);
        _exit(rc == 0 ? 0 : (rc == CN_EPERM ? 4 : 3));
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3); /* lg_open failed */
    assert_int_equal(lgt_file_size(path), before);
    check_survived(f);
}

/* Builds before DATA/state kept group offsets and the producer-id counter
 * in the index: a first open takes them over. */
static void test_group_offsets_of_an_older_layout_are_taken_over(void **st)
{
    fx *f = *st;
    char path[4200];
    snprintf(path, sizeof(path), "%s/state", f->dir);
    cn_test_rmrf(path);
    snprintf(path, sizeof(path), "%s/index", f->dir);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi groups, meta;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    assert_int_equal(mdb_env_set_mapsize(env, 1ull << 30), 0);
    assert_int_equal(mdb_env_open(env, path, MDB_NOTLS, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "groups", 0, &groups), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    struct {
        const char *key;
        size_t kn;
        const char *val;
        size_t vn;
    } rows[] = {{"g1\0t\0\0\0\0\0", 9, "\0\0\0\0\0\0\0\5md-a", 12},
                {"g2\0t\0\0\0\0\1", 9, "\0\0\0\0\0\0\0\0", 8}};
    for (int i = 0; i < 2; i++) {
        MDB_val k = {rows[i].kn, (void *)rows[i].key}, d = {rows[i].vn, (void *)rows[i].val};
        assert_int_equal(mdb_put(txn, groups, &k, &d, 0), 0);
    }
    unsigned char nb[8] = {0, 0, 0, 0, 0, 0, 0x10, 0};
    MDB_val k = {16, "next_producer_id"}, d = {8, nb};
    assert_int_equal(mdb_put(txn, meta, &k, &d, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    f->pid = 0x1000 - 1;
    check_survived(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_offsets_survive_lost_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_offsets_survive_index_version_mismatch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_group_offsets_survive_garbage_index_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_index_open_out_of_fds_is_an_error_not_a_rebuild, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_group_offsets_of_an_older_layout_are_taken_over, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
