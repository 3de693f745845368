/* SPDX-License-Identifier: MIT */
/*
 * test_cmd_log.c — `cairn log` end to end: a writer (this process) fills
 * ble-raw with ping CloudEvents through the log API while the real
 * `cairn` binary ($CAIRN_BIN) reads the same directory read-only: topics,
 * describe, dump (json/text/raw, offsets, counts, time), tail, tail -f
 * seeing new records, stats, groups with lag, verify finding a flipped
 * byte by file and position, and exit codes 0/1/2 for good, failing and
 * malformed invocations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn.pb-c.h"
#include "cn_buf.h"
#include "cn_ce.h"
#include "cn_err.h"
#include "cn_testutil.h"
#include "lg.h"

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPINGS 40
#define T0 1764320000000LL

typedef struct fixture {
    char *dir;
    lg_log *log;
    const char *bin;
} fixture;

/* Run `cairn log ARGS --data DIR`, capture stdout; returns exit status. */
static int run(fixture *f, cn_buf *out, const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "%s log %s --data %s 2>/dev/null", f->bin, args, f->dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    cn_buf_reset(out);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        cn_buf_append(out, buf, n);
    cn_buf_append(out, "", 1);
    out->len--;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int count_lines(const cn_buf *b)
{
    int n = 0;
    for (size_t i = 0; i < b->len; i++)
        n += b->data[i] == '\n';
    return n;
}

static void append_pings(lg_log *log, int from, int to)
{
    for (int i = from; i < to; i++) {
        char id[32], player[32], ceid[32];
        snprintf(id, sizeof(id), "c-%d", i);
        snprintf(player, sizeof(player), "p-%d", i % 4);
        snprintf(ceid, sizeof(ceid), "ev-%d", i);
        Cairn__V1__BlePing ping = CAIRN__V1__BLE_PING__INIT;
        ping.id = id;
        ping.beacon = "b-07";
        ping.rssi = -61;
        ping.ts = T0 + i * 1000;
        ping.player = player;
        cn_buf ev = CN_BUF_INIT, batch = CN_BUF_INIT;
        assert_int_equal(cn_ce_encode_ping(&ev, "n1", ceid, T0 + i * 1000, &ping), 0);
        lg_batch_builder *b;
        assert_int_equal(lg_batch_builder_new(&b, LG_COMP_NONE), 0);
        lg_header h = {(const unsigned char *)"content-type", 12,
                       (const unsigned char *)"application/cloudevents+protobuf", 32};
        assert_int_equal(
            lg_batch_builder_add(b, T0 + i * 1000, player, strlen(player), ev.data, ev.len, &h, 1),
            0);
        assert_int_equal(lg_batch_builder_finish(b, &batch), 0);
        lg_append_result r;
        assert_int_equal(lg_append(log, "ble-raw", (i % 4) < 2 ? 0 : 1, batch.data, batch.len, &r),
                         0);
        assert_int_equal(r.err, 0);
        lg_batch_builder_free(b);
        cn_buf_free(&ev);
        cn_buf_free(&batch);
    }
}

static int setup(void **st)
{
    fixture *f = calloc(1, sizeof(*f));
    f->bin = getenv("CAIRN_BIN");
    if (!f->bin)
        f->bin = "./cairn";
    f->dir = cn_test_tmpdir("cmdlog");
    lg_opts o;
    lg_opts_init(&o);
    o.dir = f->dir;
    assert_int_equal(lg_open(&f->log, &o), 0);
    lg_topic_config tc = {2, -1, -1, 0};
    assert_int_equal(lg_topic_create(f->log, "ble-raw", &tc), 0);
    append_pings(f->log, 0, NPINGS);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    fixture *f = *st;
    lg_close(f->log);
    cn_test_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void test_topics_describe_stats(void **st)
{
    fixture *f = *st;
    cn_buf out = CN_BUF_INIT;
    assert_int_equal(run(f, &out, "topics"), 0);
    assert_non_null(strstr((char *)out.data, "ble-raw\t2\n"));
    assert_int_equal(run(f, &out, "describe ble-raw"), 0);
    assert_non_null(strstr((char *)out.data, "ble-raw:0\tstart=0 end=20 records=20"));
    assert_non_null(strstr((char *)out.data, "ble-raw:1\tstart=0 end=20 records=20"));
    assert_int_equal(run(f, &out, "stats"), 0);
    assert_non_null(strstr((char *)out.data, "oldest=2025-11-28T08:53:20.000Z"));
    assert_int_equal(run(f, &out, "describe no-such-topic"), 1);
    cn_buf_free(&out);
}

static void test_dump_json(void **st)
{
    fixture *f = *st;
    cn_buf out = CN_BUF_INIT;
    assert_int_equal(run(f, &out, "dump ble-raw:1 --from-offset 2 --count 3"), 0);
    assert_int_equal(count_lines(&out), 3);
    /* Partition 1 holds pings whose i % 4 is 2 or 3, in order: 2,3,6,7,10,... */
    const int want[] = {6, 7, 10};
    char *line = (char *)out.data;
    for (int k = 0; k < 3; k++) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        assert_non_null(j);
        assert_int_equal(json_integer_value(json_object_get(j, "offset")), 2 + k);
        json_t *val = json_object_get(j, "value");
        assert_string_equal(json_string_value(json_object_get(val, "type")), "cairn.ble.ping");
        json_t *data = json_object_get(val, "data");
        char id[16];
        snprintf(id, sizeof(id), "c-%d", want[k]);
        assert_string_equal(json_string_value(json_object_get(data, "id")), id);
        json_decref(j);
        line = nl + 1;
    }
    /* all partitions, count across them */
    assert_int_equal(run(f, &out, "dump ble-raw --count 25"), 0);
    assert_int_equal(count_lines(&out), 25);
    assert_int_equal(run(f, &out, "dump ble-raw"), 0);
    assert_int_equal(count_lines(&out), NPINGS);
    /* from a time: pings are 1 s apart; partition 0 holds i%4 in {0,1} */
    assert_int_equal(run(f, &out, "dump ble-raw:0 --from-time 2025-11-28T08:53:28Z --count 1"), 0);
    assert_non_null(strstr((char *)out.data, "\"c-8\""));
    cn_buf_free(&out);
}

static void test_dump_text_raw_tail(void **st)
{
    fixture *f = *st;
    cn_buf out = CN_BUF_INIT;
    assert_int_equal(run(f, &out, "dump ble-raw:0 --count 2 --format text"), 0);
    assert_int_equal(count_lines(&out), 2);
    assert_non_null(strstr((char *)out.data, "cairn.ble.ping"));
    assert_int_equal(run(f, &out, "dump ble-raw:0 --count 1 --format raw"), 0);
    cn_ce_msg *m = NULL;
    cn_ce ev;
    assert_int_equal(cn_ce_decode(out.data, out.len, &m, &ev), 0);
    assert_string_equal(ev.type, "cairn.ble.ping");
    cn_ce_msg_free(m);
    assert_int_equal(run(f, &out, "tail ble-raw:0 --count 2"), 0);
    assert_int_equal(count_lines(&out), 2);
    assert_non_null(strstr((char *)out.data, "\"offset\":19"));
    assert_non_null(strstr((char *)out.data, "\"offset\":18"));
    cn_buf_free(&out);
}

static void test_usage_errors(void **st)
{
    fixture *f = *st;
    cn_buf out = CN_BUF_INIT;
    assert_int_equal(run(f, &out, "dump"), 2);
    assert_int_equal(run(f, &out, "dump ble-raw --format xml"), 2);
    assert_int_equal(run(f, &out, "bogus"), 2);
    assert_int_equal(run(f, &out, "dump ble-raw --from-offset 1 --from-time 5"), 2);
    assert_int_equal(run(f, &out, "dump ble-raw:x"), 2);
    assert_int_equal(run(f, &out, "dump ble-raw:7"), 1);
    assert_int_equal(run(f, &out, "dump nope"), 1);
    assert_int_equal(run(f, &out, "--help"), 0);
    assert_non_null(strstr((char *)out.data, "--data DIR"));
    cn_buf_free(&out);
}

static void test_groups(void **st)
{
    fixture *f = *st;
    assert_int_equal(lg_group_offset_commit(f->log, "hunters", "ble-raw", 0, 15, ""), 0);
    cn_buf out = CN_BUF_INIT;
    assert_int_equal(run(f, &out, "groups"), 0);
    assert_non_null(strstr((char *)out.data, "hunters\tble-raw:0\toffset=15\tlag=5"));
    cn_buf_free(&out);
}

static void test_tail_follow(void **st)
{
    fixture *f = *st;
    char path[4096];
    snprintf(path, sizeof(path), "%s/../tailf-%d.out", f->dir, (int)getpid());
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        dup2(fd, 1);
        execl(f->bin, f->bin, "log", "tail", "-f", "ble-raw:0", "--count", "1", "--data", f->dir,
              (char *)NULL);
        _exit(127);
    }
    /* New records must show up while tail -f runs: poll the output file. */
    append_pings(f->log, NPINGS, NPINGS + 8);
    int seen = 0;
    for (int tries = 0; tries < 100 && !seen; tries++) {
        usleep(100 * 1000);
        FILE *fp = fopen(path, "r");
        char buf[65536] = {0};
        if (fp) {
            size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
            buf[n] = '\0';
            fclose(fp);
        }
        seen = strstr(buf, "\"c-45\"") != NULL;
    }
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    unlink(path);
    assert_true(seen);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_verify_finds_corruption(void **st)
{
    fixture *f = *st;
    cn_buf out = CN_BUF_INIT;
    assert_int_equal(run(f, &out, "verify"), 0);
    assert_non_null(strstr((char *)out.data, "0 problems found"));
    /* Flip a byte inside the records of partition 1's first batch. */
    lg_close(f->log);
    f->log = NULL;
    char seg[4096];
    snprintf(seg, sizeof(seg), "%s/topics/ble-raw/1/00000000000000000000.log", f->dir);
    int fd = open(seg, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, 70), 1);
    c ^= 0xff;
    assert_int_equal(pwrite(fd, &c, 1, 70), 1);
    close(fd);
    assert_int_equal(run(f, &out, "verify"), 1);
    assert_non_null(strstr((char *)out.data, "00000000000000000000.log:0:"));
    cn_buf_free(&out);
    /* reopen so teardown has a log to close */
    lg_opts o;
    lg_opts_init(&o);
    o.dir = f->dir;
    o.read_only = 1;
    assert_int_equal(lg_open(&f->log, &o), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_topics_describe_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump_text_raw_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tail_follow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_finds_corruption, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
