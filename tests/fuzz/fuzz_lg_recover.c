/* SPDX-License-Identifier: MIT */
/*
 * fuzz_lg_recover.c — libFuzzer target for the recovery scanner.  A log
 * with five known batches is written and closed; the input becomes the
 * tail of its active segment; the log is reopened (recovery runs) and the
 * invariants are checked:
 *   - open succeeds and the partition is not failed (damage at the tail
 *     is cut, never fatal);
 *   - the five known batches are still there, byte for byte;
 *   - everything the files hold is served (no unserved bytes remain past
 *     the end) and lg_verify finds no problem;
 *   - the iterator reads every record to the end, or stops with a clean
 *     record-level error for a CRC-valid batch with malformed records;
 *   - a second open (now with an index) changes nothing.
 * Input: byte 0 selects a mode — 0: the bytes as they are; 1: the first 8
 * bytes are replaced by the correct next base offset (so CRC-valid batches
 * in the input are accepted and then followed); 2: like 1, and the index is
 * deleted first (the full rebuild path).  The rest is the tail.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cn_bytes.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "lg.h"
#include "lg_testutil.h"

#define KNOWN 5

static cn_buf g_known; /* the five batches as stored (stamped) */
static int64_t g_end;  /* their end offset */

static void die(const char *what, int rc)
{
    fprintf(stderr, "fuzz_lg_recover: invariant broken: %s (%s)\n", what, cn_errname(rc));
    abort();
}

static void opts(lg_opts *o, const char *dir)
{
    lg_opts_init(o);
    o->dir = dir;
    o->durability = LG_DUR_NONE; /* speed; recovery does not depend on it */
    o->lmdb_map_bytes = 64u << 20;
}

static void check(lg_log *log, const char *seg)
{
    lg_partition_info info;
    int rc = lg_partition_info_get(log, "f", 0, &info);
    if (rc || info.failed)
        die("partition failed after a tail-only change", rc);
    if (info.log_end_offset < g_end)
        die("known batches lost", 0);
    long long fsize = lgt_file_size(seg);
    if (fsize != (long long)info.bytes)
        die("bytes past the served end remain in the file", 0);
    /* the known prefix, byte for byte */
    lg_read_result r;
    rc = lg_read(log, "f", 0, 0, g_known.len, &r);
    if (rc || r.len < g_known.len)
        die("known prefix unreadable", rc);
    unsigned char *buf = malloc(g_known.len);
    if (pread(r.fd, buf, g_known.len, r.file_pos) != (ssize_t)g_known.len ||
        memcmp(buf, g_known.data, g_known.len) != 0)
        die("known prefix changed", 0);
    free(buf);
    lg_read_release(log, &r);
    rc = lg_verify(log, NULL, NULL);
    if (rc != 0)
        die("lg_verify found problems", rc);
    lg_iter *it;
    if ((rc = lg_iter_open(&it, log, "f", 0, 0)) != 0)
        die("iterator open", rc);
    lg_record rec;
    int64_t n = 0;
    while ((rc = lg_iter_next(it, &rec)) == 0)
        n++;
    if (rc != CN_DONE && rc != LG_EBADBATCH && rc != LG_ECOMPRESS)
        die("iterator error", rc);
    if (rc == CN_DONE && n != info.log_end_offset)
        die("iterator count", 0);
    if (n < g_end && rc == CN_DONE)
        die("iterator lost known records", 0);
    lg_iter_close(it);
}

/* ---- a template log, built once and copied per input ---------------- */

static char *g_template;
static char g_cp_to[4096];
static size_t g_cp_from_len;

static int cp_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)ftw;
    char dst[8192];
    snprintf(dst, sizeof(dst), "%s%s", g_cp_to, path + g_cp_from_len);
    if (flag == FTW_D)
        return mkdir(dst, 0755) != 0 && errno != EEXIST;
    if (flag != FTW_F || strstr(path, "lock.mdb"))
        return 0;
    int in = open(path, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0)
        return 1;
    static unsigned char buf[1 << 16];
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n)
            return 1;
    close(in);
    close(out);
    (void)sb;
    return 0;
}

static void build_template(void)
{
    /* tmpfs when there is one: recovery is what we fuzz, not fsync speed */
    if (access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 0);
    for (int i = 0; i < KNOWN; i++) {
        size_t at = g_known.len;
        lgt_batch(&g_known, (uint32_t)i, 1 + i, 30, 1000 + i, -1, -1, -1);
        lg_batch_stamp(g_known.data + at, g_end, 0);
        g_end += 1 + i;
    }
    g_template = cn_test_tmpdir("fuzzrec-tpl");
    if (!g_template)
        abort();
    lg_opts o;
    opts(&o, g_template);
    lg_log *log;
    int rc = lg_open(&log, &o);
    if (rc)
        die("initial open", rc);
    lg_topic_config c = {1, 0, 0, 0};
    if ((rc = lg_topic_create(log, "f", &c)) != 0)
        die("topic", rc);
    for (size_t off = 0; off < g_known.len;) {
        size_t total;
        lg_batch_size(g_known.data + off, g_known.len - off, g_known.len, &total);
        if ((rc = lg_append(log, "f", 0, g_known.data + off, total, NULL)) != 0)
            die("append", rc);
        off += total;
    }
    lg_close(log);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    if (!g_template)
        build_template();
    char *dir = cn_test_tmpdir("fuzzrec");
    if (!dir)
        abort();
    snprintf(g_cp_to, sizeof(g_cp_to), "%s", dir);
    g_cp_from_len = strlen(g_template);
    if (nftw(g_template, cp_one, 16, FTW_PHYS) != 0)
        die("copy template", 0);
    lg_opts o;
    opts(&o, dir);
    lg_log *log;
    int rc;

    int mode = size ? data[0] % 3 : 0;
    const uint8_t *tail = size ? data + 1 : data;
    size_t tn = size ? size - 1 : 0;
    unsigned char *t = malloc(tn ? tn : 1);
    memcpy(t, tail, tn);
    if (mode >= 1 && tn >= 8)
        cn_wr_be64(t, (uint64_t)g_end);
    char seg[4096];
    snprintf(seg, sizeof(seg), "%s", lgt_seg_path(dir, "f", 0, 0));
    int fd = open(seg, O_WRONLY | O_APPEND);
    if (fd < 0 || write(fd, t, tn) != (ssize_t)tn)
        die("write tail", 0);
    close(fd);
    free(t);
    if (mode == 2) {
        char idx[4200];
        snprintf(idx, sizeof(idx), "%s/index", dir);
        cn_test_rmrf(idx);
    }
    if ((rc = lg_open(&log, &o)) != 0)
        die("recovery open", rc);
    check(log, seg);
    lg_partition_info a;
    lg_partition_info_get(log, "f", 0, &a);
    lg_close(log);
    if ((rc = lg_open(&log, &o)) != 0)
        die("second open", rc);
    lg_partition_info b;
    lg_partition_info_get(log, "f", 0, &b);
    if (a.log_end_offset != b.log_end_offset || a.bytes != b.bytes)
        die("second open changed the log", 0);
    check(log, seg);
    lg_close(log);
    cn_test_rmrf(dir);
    free(dir);
    return 0;
}
