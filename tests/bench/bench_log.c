/* SPDX-License-Identifier: MIT */
/*
 * bench_log.c — benchmarks of the log storage engine, one JSON object per
 * line per figure (run by `scripts/bench log`):
 *   - this machine's raw fdatasync rate (4 KiB write + fdatasync), the
 *     reference every durable figure is compared against in the same run;
 *   - what a round that touched 8 files costs the device (--only sync):
 *     their fdatasyncs one after another or all at once, on plain or on
 *     preallocated zeroed files, as rounds/s beside a one-file round;
 *   - fsync append throughput over 1 and 8 partitions (--only partitions);
 *   - append throughput for 100-byte records at batch sizes 1, 16, 256 in
 *     each durability mode, with async appends pipelined from one thread;
 *   - read throughput (record iterator, and lg_read byte ranges);
 *   - recovery time after kill -9 with ~1 GiB of data.
 * Each figure is the median of --runs runs (default 5).  Nothing here
 * asserts a time: it measures and prints.
 */
#include "cn_buf.h"
#include "cn_err.h"
#include "cn_benchutil.h"
#include "cn_testutil.h"
#include "cn_time.h"
#include "lg.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define RECORD_BYTES 100

typedef struct bench_cfg {
    int runs;
    const char *only; /* NULL: everything; else "sync", "partitions", "append", "read", "recover",
                         "fsync" */
    uint64_t recover_bytes;
    double append_seconds;
} bench_cfg;

static double secs_since(uint64_t t0)
{
    return (double)(cn_mono_ns() - t0) / 1e9;
}

/* ---- one durability barrier over several files --------------------------- */

/* What a round that touched nfiles partitions costs the device, four ways,
 * interleaved in one run so the figures share the machine's load: one
 * file (the floor: one flush), nfiles fdatasyncs one after another,
 * nfiles fdatasyncs at once from nfiles threads, and the same two on
 * files whose blocks were allocated and zeroed beforehand (then an append
 * changes no metadata, so fdatasync has no journal commit to wait for). */
#define SYNC_FILES_MAX 16
#define PREALLOC_BYTES (16u << 20)

typedef struct sync_job {
    int fd;
    pthread_barrier_t *go, *done;
    atomic_int *stop;
} sync_job;

static void *sync_worker(void *arg)
{
    sync_job *j = arg;
    for (;;) {
        pthread_barrier_wait(j->go);
        if (atomic_load(j->stop))
            return NULL;
        if (fdatasync(j->fd))
            abort();
        pthread_barrier_wait(j->done);
    }
}

static int sync_files_open(const char *dir, const char *tag, int n, int prealloc, int *fds)
{
    char buf[65536];
    memset(buf, 0, sizeof(buf));
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s-%d.bin", dir, tag, i);
        fds[i] = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
        if (fds[i] < 0)
            return -1;
        for (size_t k = 0; prealloc && k < PREALLOC_BYTES / sizeof(buf); k++) /* zeros, synced */
            if (pwrite(fds[i], buf, sizeof(buf), (off_t)(k * sizeof(buf))) < 0)
                return -1;
        if (fsync(fds[i]))
            return -1;
    }
    return 0;
}

/* Rounds per second for one way; each round appends 4 KiB to each file. */
static double sync_round_rate(int *fds, int n, int threaded, uint64_t *pos, uint64_t wrap,
                              double secs, pthread_barrier_t *go, pthread_barrier_t *done)
{
    char buf[4096];
    memset(buf, 'x', sizeof(buf));
    long rounds = 0;
    uint64_t t0 = cn_mono_ns();
    while (secs_since(t0) < secs) {
        if (wrap && *pos + sizeof(buf) > wrap)
            *pos = 0; /* stay inside the zeroed blocks */
        for (int i = 0; i < n; i++)
            if (pwrite(fds[i], buf, sizeof(buf), (off_t)*pos) != (ssize_t)sizeof(buf))
                return 0;
        *pos += sizeof(buf);
        if (threaded) {
            pthread_barrier_wait(go);
            pthread_barrier_wait(done);
        } else {
            for (int i = 0; i < n; i++)
                if (fdatasync(fds[i]))
                    return 0;
        }
        rounds++;
    }
    return rounds / secs_since(t0);
}

static void bench_sync_modes(const bench_cfg *c, int nfiles)
{
    if (nfiles < 1 || nfiles > SYNC_FILES_MAX)
        nfiles = 8;
    char *dir = cn_test_tmpdir("bench-syncmodes");
    int plain[SYNC_FILES_MAX], pre[SYNC_FILES_MAX];
    if (sync_files_open(dir, "plain", nfiles, 0, plain) ||
        sync_files_open(dir, "pre", nfiles, 1, pre)) {
        fprintf(stderr, "bench_log: cannot create the sync files in %s\n", dir);
        exit(1);
    }
    /* One thread pool per file set: workers wait on a barrier per round. */
    pthread_barrier_t go[2], done[2];
    atomic_int stop;
    atomic_init(&stop, 0);
    sync_job jobs[2][SYNC_FILES_MAX];
    pthread_t th[2][SYNC_FILES_MAX];
    for (int s = 0; s < 2; s++) {
        pthread_barrier_init(&go[s], NULL, (unsigned)nfiles + 1);
        pthread_barrier_init(&done[s], NULL, (unsigned)nfiles + 1);
        for (int i = 0; i < nfiles; i++) {
            jobs[s][i] = (sync_job){s ? pre[i] : plain[i], &go[s], &done[s], &stop};
            pthread_create(&th[s][i], NULL, sync_worker, &jobs[s][i]);
        }
    }
    enum { ONE, SEQ, PAR, PRE_SEQ, PRE_PAR, NWAYS };
    static const char *names[NWAYS] = {"one_file", "sequential", "concurrent",
                                       "prealloc_sequential", "prealloc_concurrent"};
    double r[NWAYS][64];
    uint64_t pos_plain = 0, pos_pre = 0;
    double secs = c->append_seconds / 2 > 0.2 ? c->append_seconds / 2 : 0.2;
    for (int run = 0; run < c->runs; run++) {
        r[ONE][run] = sync_round_rate(plain, 1, 0, &pos_plain, 0, secs, NULL, NULL);
        r[SEQ][run] = sync_round_rate(plain, nfiles, 0, &pos_plain, 0, secs, NULL, NULL);
        r[PAR][run] = sync_round_rate(plain, nfiles, 1, &pos_plain, 0, secs, &go[0], &done[0]);
        r[PRE_SEQ][run] =
            sync_round_rate(pre, nfiles, 0, &pos_pre, PREALLOC_BYTES, secs, NULL, NULL);
        r[PRE_PAR][run] =
            sync_round_rate(pre, nfiles, 1, &pos_pre, PREALLOC_BYTES, secs, &go[1], &done[1]);
    }
    atomic_store(&stop, 1);
    for (int s = 0; s < 2; s++) {
        pthread_barrier_wait(&go[s]);
        for (int i = 0; i < nfiles; i++)
            pthread_join(th[s][i], NULL);
        pthread_barrier_destroy(&go[s]);
        pthread_barrier_destroy(&done[s]);
    }
    double one = cn_bench_median(r[ONE], c->runs);
    for (int w = 0; w < NWAYS; w++) {
        double m = cn_bench_median(r[w], c->runs);
        printf("{\"bench\":\"log.sync_round\",\"files\":%d,\"way\":\"%s\",\"rounds_per_s\":%.0f,"
               "\"vs_one_file\":%.2f,\"runs\":%d}\n",
               w == ONE ? 1 : nfiles, names[w], m, one > 0 ? m / one : 0, c->runs);
    }
    fflush(stdout);
    for (int i = 0; i < nfiles; i++) {
        close(plain[i]);
        close(pre[i]);
    }
    cn_test_rmrf(dir);
    free(dir);
}

/* ---- append ------------------------------------------------------------ */

typedef struct inflight {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long outstanding;
    long failed;
} inflight;

static void on_append(void *ud, const lg_append_result *res)
{
    inflight *f = ud;
    pthread_mutex_lock(&f->mu);
    f->outstanding--;
    if (res->err)
        f->failed++;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void make_batch(cn_buf *out, int records)
{
    lg_batch_builder *b;
    lg_batch_builder_new(&b, LG_COMP_NONE);
    char val[RECORD_BYTES];
    memset(val, 'v', sizeof(val));
    for (int i = 0; i < records; i++) {
        char key[16];
        int kl = snprintf(key, sizeof(key), "player-%d", i % 1000);
        lg_batch_builder_add(b, cn_now_ms(), key, (size_t)kl, val, sizeof(val), NULL, 0);
    }
    lg_batch_builder_finish(b, out);
    lg_batch_builder_free(b);
}

static lg_log *open_log_parts(const char *dir, enum lg_durability d, int parts)
{
    lg_opts o;
    lg_opts_init(&o);
    o.dir = dir;
    o.durability = d;
    o.interval_ms = 100;
    lg_log *log = NULL;
    int rc = lg_open(&log, &o);
    if (rc) {
        fprintf(stderr, "bench_log: lg_open %s: %s\n", dir, cn_strerror(rc));
        exit(1);
    }
    lg_topic_config tc = {parts, -1, -1, 0};
    lg_topic_create(log, "bench", &tc);
    return log;
}

static lg_log *open_log(const char *dir, enum lg_durability d)
{
    return open_log_parts(dir, d, 1);
}

/* Append batches of `batch` records for ~seconds; returns records/s. */
static double append_once_parts(const bench_cfg *c, int batch, enum lg_durability d, int parts)
{
    char *dir = cn_test_tmpdir("bench-append");
    lg_log *log = open_log_parts(dir, d, parts);
    cn_buf b = CN_BUF_INIT;
    make_batch(&b, batch);
    inflight f = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    /* Bound the pipeline by bytes so batch size 1 and 256 queue alike;
     * 16 MiB keeps the writer busy without a run being mostly first-touch
     * page faults of a huge queue. */
    long max_inflight = (long)(16 * 1024 * 1024 / b.len);
    if (max_inflight < 16)
        max_inflight = 16;
    long sent = 0;
    uint64_t t0 = cn_mono_ns();
    while ((sent & 63) || secs_since(t0) < c->append_seconds) {
        pthread_mutex_lock(&f.mu);
        while (f.outstanding >= max_inflight)
            pthread_cond_wait(&f.cv, &f.mu);
        f.outstanding++;
        pthread_mutex_unlock(&f.mu);
        if (lg_append_async(log, "bench", (int32_t)(sent % parts), b.data, b.len, on_append, &f)) {
            fprintf(stderr, "bench_log: append refused\n");
            exit(1);
        }
        sent++;
    }
    pthread_mutex_lock(&f.mu);
    while (f.outstanding > 0)
        pthread_cond_wait(&f.cv, &f.mu);
    pthread_mutex_unlock(&f.mu);
    double el = secs_since(t0);
    if (f.failed)
        fprintf(stderr, "bench_log: %ld appends failed\n", f.failed);
    lg_close(log);
    cn_buf_free(&b);
    cn_test_rmrf(dir);
    free(dir);
    return (double)sent * batch / el;
}

static double append_once(const bench_cfg *c, int batch, enum lg_durability d)
{
    return append_once_parts(c, batch, d, 1);
}

/* fsync appends (batch 16) spread round robin over 1 and 8 partitions,
 * interleaved in one run: with one durability barrier per round, eight
 * partitions cost a round about what one does. */
static void bench_partitions(const bench_cfg *c)
{
    static const int parts[] = {1, 8};
    double r[2][64];
    for (int i = 0; i < c->runs; i++)
        for (int k = 0; k < 2; k++)
            r[k][i] = append_once_parts(c, 16, LG_DUR_FSYNC, parts[k]);
    double one = cn_bench_median(r[0], c->runs);
    for (int k = 0; k < 2; k++) {
        double m = cn_bench_median(r[k], c->runs);
        printf("{\"bench\":\"log.append_partitions\",\"record_bytes\":%d,\"batch\":16,"
               "\"durability\":\"fsync\",\"partitions\":%d,\"records_per_s\":%.0f,"
               "\"vs_one_partition\":%.2f,\"runs\":%d}\n",
               RECORD_BYTES, parts[k], m, one > 0 ? m / one : 0, c->runs);
    }
    fflush(stdout);
}

static const char *dur_name(enum lg_durability d)
{
    return d == LG_DUR_FSYNC ? "fsync" : d == LG_DUR_INTERVAL ? "interval=100ms" : "none";
}

static void bench_append(const bench_cfg *c, double fsync_rate)
{
    static const int batches[] = {1, 16, 256};
    static const enum lg_durability durs[] = {LG_DUR_FSYNC, LG_DUR_INTERVAL, LG_DUR_NONE};
    for (size_t di = 0; di < 3; di++) {
        for (size_t bi = 0; bi < 3; bi++) {
            double r[64];
            for (int i = 0; i < c->runs; i++)
                r[i] = append_once(c, batches[bi], durs[di]);
            double m = cn_bench_median(r, c->runs);
            printf(
                "{\"bench\":\"log.append\",\"record_bytes\":%d,\"batch\":%d,\"durability\":\"%s\","
                "\"records_per_s\":%.0f,\"runs\":%d,\"raw_fdatasync_per_s\":%.0f,"
                "\"records_per_raw_fdatasync\":%.1f}\n",
                RECORD_BYTES, batches[bi], dur_name(durs[di]), m, c->runs, fsync_rate,
                fsync_rate > 0 ? m / fsync_rate : 0);
            fflush(stdout);
        }
    }
}

/* ---- read -------------------------------------------------------------- */

static void fill(lg_log *log, long records, int batch)
{
    cn_buf b = CN_BUF_INIT;
    make_batch(&b, batch);
    inflight f = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    for (long n = 0; n < records; n += batch) {
        pthread_mutex_lock(&f.mu);
        while (f.outstanding >= 4096)
            pthread_cond_wait(&f.cv, &f.mu);
        f.outstanding++;
        pthread_mutex_unlock(&f.mu);
        lg_append_async(log, "bench", 0, b.data, b.len, on_append, &f);
    }
    pthread_mutex_lock(&f.mu);
    while (f.outstanding > 0)
        pthread_cond_wait(&f.cv, &f.mu);
    pthread_mutex_unlock(&f.mu);
    cn_buf_free(&b);
}

static void bench_read(const bench_cfg *c)
{
    char *dir = cn_test_tmpdir("bench-read");
    lg_log *log = open_log(dir, LG_DUR_NONE);
    const long records = 2000000 / 256 * 256; /* whole batches of 256 */
    fill(log, records, 256);
    double it_r[64], rd_r[64];
    for (int i = 0; i < c->runs; i++) {
        lg_iter *it;
        lg_iter_open(&it, log, "bench", 0, 0);
        lg_record rec;
        long n = 0;
        size_t bytes = 0;
        uint64_t t0 = cn_mono_ns();
        while (lg_iter_next(it, &rec) == 0) {
            n++;
            bytes += rec.value_len;
        }
        it_r[i] = n / secs_since(t0);
        lg_iter_close(it);
        if (n != records || bytes == 0)
            fprintf(stderr, "bench_log: iterator saw %ld of %ld records\n", n, records);

        int64_t off = 0;
        uint64_t total = 0;
        char *buf = malloc(1 << 20);
        t0 = cn_mono_ns();
        for (;;) {
            lg_read_result rr;
            if (lg_read(log, "bench", 0, off, 1 << 20, &rr) || rr.len == 0) {
                if (rr.len == 0)
                    lg_read_release(log, &rr);
                break;
            }
            /* Count the bytes as a Fetch would move them: read them once. */
            ssize_t got = pread(rr.fd, buf, rr.len > (1 << 20) ? (1 << 20) : rr.len, rr.file_pos);
            total += got > 0 ? (uint64_t)got : 0;
            off = rr.next_offset;
            lg_read_release(log, &rr);
        }
        rd_r[i] = (double)total / secs_since(t0) / 1e6;
        free(buf);
    }
    printf(
        "{\"bench\":\"log.read.iter\",\"record_bytes\":%d,\"records\":%ld,\"records_per_s\":%.0f,"
        "\"runs\":%d}\n",
        RECORD_BYTES, records, cn_bench_median(it_r, c->runs), c->runs);
    printf(
        "{\"bench\":\"log.read.range\",\"record_bytes\":%d,\"max_bytes\":1048576,\"mb_per_s\":%.0f,"
        "\"runs\":%d}\n",
        RECORD_BYTES, cn_bench_median(rd_r, c->runs), c->runs);
    fflush(stdout);
    lg_close(log);
    cn_test_rmrf(dir);
    free(dir);
}

/* ---- recovery after kill -9 -------------------------------------------- */

static double recover_once(const bench_cfg *c, uint64_t *bytes_out)
{
    char *dir = cn_test_tmpdir("bench-recover");
    int pfd[2];
    if (pipe(pfd))
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        lg_log *log = open_log(dir, LG_DUR_NONE);
        cn_buf b = CN_BUF_INIT;
        make_batch(&b, 256);
        uint64_t written = 0;
        int signalled = 0;
        /* Keep appending after reaching the target so the kill lands mid-write. */
        for (;;) {
            lg_append(log, "bench", 0, b.data, b.len, NULL);
            written += b.len;
            if (!signalled && written >= c->recover_bytes) {
                if (write(pfd[1], &written, sizeof(written)) != sizeof(written))
                    _exit(1);
                signalled = 1;
            }
        }
    }
    close(pfd[1]);
    uint64_t written = 0;
    if (read(pfd[0], &written, sizeof(written)) != sizeof(written))
        exit(1);
    usleep(20000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(pfd[0]);
    /* Drop nothing from the page cache: kill -9 leaves it intact, as in production. */
    uint64_t t0 = cn_mono_ns();
    lg_opts o;
    lg_opts_init(&o);
    o.dir = dir;
    lg_log *log = NULL;
    int rc = lg_open(&log, &o);
    double el = secs_since(t0);
    if (rc)
        fprintf(stderr, "bench_log: recovery open failed: %s\n", cn_strerror(rc));
    lg_partition_info pi;
    lg_partition_info_get(log, "bench", 0, &pi);
    *bytes_out = pi.bytes;
    lg_close(log);
    cn_test_rmrf(dir);
    free(dir);
    return el;
}

static void bench_recover(const bench_cfg *c)
{
    double r[64];
    uint64_t bytes = 0;
    int runs = c->runs < 3 ? c->runs : 3; /* each run writes ~1 GiB */
    for (int i = 0; i < runs; i++)
        r[i] = recover_once(c, &bytes);
    printf("{\"bench\":\"log.recover_after_kill9\",\"data_bytes\":%llu,\"open_ms\":%.1f,\"runs\":%"
           "d}\n",
           (unsigned long long)bytes, cn_bench_median(r, runs) * 1e3, runs);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    bench_cfg c = {5, NULL, 1ull << 30, 1.0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            c.runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            c.only = argv[++i];
        else if (!strcmp(argv[i], "--recover-bytes") && i + 1 < argc)
            c.recover_bytes = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            c.append_seconds = atof(argv[++i]);
        else {
            fprintf(
                stderr,
                "usage: bench_log [--runs N] [--only fsync|sync|partitions|append|read|recover] "
                "[--recover-bytes N] [--seconds S]\n");
            return 2;
        }
    }
    if (c.runs < 1 || c.runs > 64)
        c.runs = 5;
    char *dir = cn_test_tmpdir("bench-fsync");
    double fr[64];
    for (int i = 0; i < c.runs; i++)
        fr[i] = cn_bench_fdatasync_rate(dir, 1.0);
    double fsync_rate = cn_bench_median(fr, c.runs);
    cn_test_rmrf(dir);
    free(dir);
    printf("{\"bench\":\"machine.fdatasync\",\"write_bytes\":4096,\"fdatasync_per_s\":%.0f,"
           "\"runs\":%d}\n",
           fsync_rate, c.runs);
    fflush(stdout);
    if (!c.only || !strcmp(c.only, "sync"))
        bench_sync_modes(&c, 8);
    if (!c.only || !strcmp(c.only, "partitions"))
        bench_partitions(&c);
    if (!c.only || !strcmp(c.only, "append"))
        bench_append(&c, fsync_rate);
    if (!c.only || !strcmp(c.only, "read"))
        bench_read(&c);
    if (!c.only || !strcmp(c.only, "recover"))
        bench_recover(&c);
    return 0;
}
