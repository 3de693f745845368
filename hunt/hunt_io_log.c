/* SPDX-License-Identifier: MIT */
/*
 * hunt_io_log.c — hunt_io over an in-process lg_log (contract in
 * hunt_io_log.h).  Input: one lg_iter per ble-raw partition, opened at the
 * worker's stored offset.  Output: each batch of derived events becomes one
 * RecordBatch v2 with the worker's producer id, epoch and base sequence,
 * header content-type: application/cloudevents+protobuf, appended with
 * lg_append (which returns once it is fdatasync'ed); the log's idempotence
 * check answers a re-sent batch as a duplicate and a wrong sequence with
 * LG_ESEQ.
 * Threads: the worker's (lg_append blocks it until the writer thread has
 * synced).  Ownership: borrows the log; owns the iterators, the builder
 * and the batch buffer.
 */
#include "hunt_io_log.h"

#include "cn_alloc.h"
#include "cn_ce.h"
#include "cn_err.h"

#include <string.h>

typedef struct io_log {
    hunt_io io;
    lg_log *log;
    lg_iter *it[HUNT_MAX_PARTITIONS];
    lg_batch_builder *bb;
    cn_buf batch;
} io_log;

static int iol_partitions(hunt_io *io, const char *topic)
{
    return lg_topic_partitions(((io_log *)io->ud)->log, topic);
}

static int iol_seek(hunt_io *io, int32_t p, int64_t offset)
{
    io_log *l = io->ud;
    if (p < 0 || p >= HUNT_MAX_PARTITIONS)
        return CN_EINVAL;
    lg_iter_close(l->it[p]);
    l->it[p] = NULL;
    return lg_iter_open(&l->it[p], l->log, HUNT_TOPIC_IN, p, offset);
}

static int iol_next(hunt_io *io, int32_t p, lg_record *rec)
{
    return lg_iter_next(((io_log *)io->ud)->it[p], rec);
}

static int iol_scan_out(hunt_io *io, int32_t p, int64_t from, int (*fn)(void *, const lg_record *),
                        void *ud)
{
    io_log *l = io->ud;
    lg_iter *it = NULL;
    lg_record rec;
    int rc = lg_iter_open(&it, l->log, HUNT_TOPIC_OUT, p, from);
    while (!rc && (rc = lg_iter_next(it, &rec)) == 0)
        if (fn(ud, &rec))
            break;
    lg_iter_close(it);
    return rc == CN_DONE ? 0 : rc;
}

static int iol_append(hunt_io *io, int32_t p, const hunt_out_rec *recs, size_t n, int64_t pid,
                      int16_t epoch, int32_t base_seq, int64_t *next_offset)
{
    io_log *l = io->ud;
    static const char ct_name[] = "content-type";
    lg_header h = {(const unsigned char *)ct_name, sizeof(ct_name) - 1,
                   (const unsigned char *)CN_CE_CONTENT_TYPE, strlen(CN_CE_CONTENT_TYPE)};
    lg_batch_builder_reset(l->bb);
    lg_batch_builder_producer(l->bb, pid, pid >= 0 ? epoch : -1, pid >= 0 ? base_seq : -1);
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++)
        rc = lg_batch_builder_add(l->bb, recs[i].timestamp, recs[i].key, recs[i].key_len,
                                  recs[i].value, recs[i].value_len, &h, 1);
    cn_buf_reset(&l->batch);
    rc = rc ? rc : lg_batch_builder_finish(l->bb, &l->batch);
    lg_append_result res;
    rc = rc ? rc : lg_append(l->log, HUNT_TOPIC_OUT, p, l->batch.data, l->batch.len, &res);
    rc = rc ? rc : res.err;
    if (!rc)
        *next_offset = res.base_offset + (int64_t)n;
    return rc;
}

static int iol_alloc_pid(hunt_io *io, int64_t *pid)
{
    return lg_producer_id_alloc(((io_log *)io->ud)->log, pid);
}

static int64_t iol_end_offset(hunt_io *io, int32_t p)
{
    lg_partition_info pi;
    int rc = lg_partition_info_get(((io_log *)io->ud)->log, HUNT_TOPIC_IN, p, &pi);
    return rc ? rc : pi.log_end_offset;
}

int hunt_io_log_new(hunt_io **out, lg_log *log)
{
    io_log *l = cn_calloc(1, sizeof(*l));
    if (!l)
        return CN_ENOMEM;
    if (lg_batch_builder_new(&l->bb, LG_COMP_NONE)) {
        cn_free(l);
        return CN_ENOMEM;
    }
    l->log = log;
    l->io = (hunt_io){iol_partitions, iol_seek,      iol_next,       iol_scan_out,
                      iol_append,     iol_alloc_pid, iol_end_offset, l};
    *out = &l->io;
    return 0;
}

void hunt_io_log_free(hunt_io *io)
{
    if (!io)
        return;
    io_log *l = io->ud;
    for (int i = 0; i < HUNT_MAX_PARTITIONS; i++)
        lg_iter_close(l->it[i]);
    lg_batch_builder_free(l->bb);
    cn_buf_free(&l->batch);
    cn_free(l);
}
