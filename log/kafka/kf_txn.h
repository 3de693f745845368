/* SPDX-License-Identifier: MIT */
/*
 * kf_txn.h — the transaction coordinator's internal interface, shared by
 * kf_txn.c (records, state machine, markers, timeouts) and kf_h_txn.c (the
 * request handlers).  Not a public header.  Loop thread only, except where
 * kf_txn.c says otherwise.
 */
#ifndef KF_TXN_H
#define KF_TXN_H

#include "kf_server_int.h"

enum kf_txn_state {
    KF_TXN_EMPTY = 0,
    KF_TXN_ONGOING = 1,
    KF_TXN_PREPARE_COMMIT = 2,
    KF_TXN_PREPARE_ABORT = 3,
    KF_TXN_COMPLETE_COMMIT = 4,
    KF_TXN_COMPLETE_ABORT = 5,
};

typedef struct kf_txn_tp {
    char *topic;
    int32_t part;
} kf_txn_tp;

/* An offset sent to the transaction (TxnOffsetCommit), committed with it. */
typedef struct kf_txn_off {
    char *group, *topic;
    int32_t part;
    int64_t offset;
    char *md; /* NULL: none */
} kf_txn_off;

typedef struct kf_txn {
    char *id; /* the transactional id */
    int64_t pid;
    int16_t epoch;
    int32_t timeout_ms;
    int state;        /* enum kf_txn_state */
    int64_t start_ms; /* wall clock when it became Ongoing; -1 otherwise */
    kf_txn_tp *tps;   /* partitions of the open transaction */
    size_t ntp, tpcap;
    char **groups; /* consumer groups added with AddOffsetsToTxn */
    size_t ngroups, groupcap;
    kf_txn_off *offs;
    size_t noff, offcap;
    /* Ending (loop unless noted). */
    struct kf_txn_coord *tc;
    int in_flight;       /* markers appended, not all in */
    int markers_due;     /* under tc->mu */
    int marker_err;      /* under tc->mu */
    int64_t retry_at_ms; /* Prepare*: when the tick writes the markers again */
    kf_conn *waiter;     /* answered when the end completes */
    int waiter_api;      /* KF_API_ENDTXN or KF_API_INITPRODUCERID */
    struct kf_txn *next_done;
} kf_txn;

const char *kf__txn_state_name(int state);
/** Decode a stored record (CN_ECORRUPT for a damaged one, CN_ENOMEM). */
int kf__txn_decode(const char *id, const void *val, size_t n, kf_txn **out);
/** Free what kf__txn_decode returned (tests; the coordinator frees its own). */
void kf__txn_free_for_test(kf_txn *t);
kf_txn *kf__txn_find(kf_txn_coord *tc, const char *id);
size_t kf__txn_count(const kf_txn_coord *tc);
kf_txn *kf__txn_at(kf_txn_coord *tc, size_t i);
int64_t kf__txn_max_timeout_ms(const kf_txn_coord *tc);
/** A new transactional id (state Empty, epoch 0), stored.  0 or an error. */
int kf__txn_create(kf_txn_coord *tc, const char *id, int64_t pid, int32_t timeout_ms, kf_txn **out);
/** Store t's record (synced).  0 or an error (logged). */
int kf__txn_save(kf_txn_coord *tc, kf_txn *t);
int kf__txn_add_partition(kf_txn *t, const char *topic, int32_t part);
int kf__txn_has_partition(const kf_txn *t, const char *topic, int32_t part);
int kf__txn_add_group(kf_txn *t, const char *group);
int kf__txn_has_group(const kf_txn *t, const char *group);
int kf__txn_add_offset(kf_txn *t, const char *group, const char *topic, int32_t part,
                       int64_t offset, const char *md);
/**
 * End t (Ongoing): bump the epoch first when bump, store Prepare*, write
 * the markers.  1: complete already (no partition); 0: in progress (a
 * waiter set with kf__txn_wait is answered when it completes, or when it
 * fails and is left to the tick's retry); < 0: the record could not be
 * stored (nothing changed).
 */
int kf__txn_end(kf_txn_coord *tc, kf_txn *t, int commit, int bump);
/** c waits for t's end (its reply is sent then: an EndTxn or InitProducerId). */
void kf__txn_wait(kf_txn *t, kf_conn *c, int api);

#endif
