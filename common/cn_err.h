/* SPDX-License-Identifier: MIT */
/*
 * cn_err.h — the one return-code convention for all of cairn.
 *
 * 0 is success.  Negative values are errors from the single table below,
 * banded by module so a code tells you where it came from:
 *   -1..-9     control flow (not failures: "try again", "need more bytes")
 *   -10..-99   generic (errno-like) failures
 *   -2xx log storage (lg_), -4xx protobuf/envelope, -5xx Kafka adapter (kf_),
 *   -6xx WebSocket/HTTP codec (ws_), -1xx gateway (gw_) and auth tokens
 *   (auth_: -101..-104, from when tokens were the gateway's), -3xx hunt workers.
 * errno values are mapped with cn_err_from_errno(), never returned raw.
 * To add a code, add one line to CN_ERR_LIST in its band: name, value, text.
 */
#ifndef CN_ERR_H
#define CN_ERR_H

#define CN_ERR_LIST(X)                                                                             \
    X(CN_OK, 0, "success")                                                                         \
    /* control flow */                                                                             \
    X(CN_AGAIN, -1, "try again")                                                                   \
    X(CN_WANT_MORE, -2, "need more input bytes")                                                   \
    X(CN_DONE, -3, "no more items")                                                                \
    X(CN_DECLINED, -4, "declined")                                                                 \
    /* generic */                                                                                  \
    X(CN_ENOMEM, -10, "out of memory")                                                             \
    X(CN_EINVAL, -11, "invalid argument")                                                          \
    X(CN_EIO, -12, "I/O error")                                                                    \
    X(CN_ENOSPC, -13, "no space left on device")                                                   \
    X(CN_ENOENT, -14, "not found")                                                                 \
    X(CN_EEXIST, -15, "already exists")                                                            \
    X(CN_ERANGE, -16, "value out of range")                                                        \
    X(CN_ETIMEDOUT, -17, "timed out")                                                              \
    X(CN_ECORRUPT, -18, "data is corrupt")                                                         \
    X(CN_EPANIC, -19, "storage failed earlier; reopen to recover")                                 \
    X(CN_ETRUNC, -20, "input is truncated")                                                        \
    X(CN_ETOOBIG, -21, "input is too large")                                                       \
    X(CN_EUNSUPPORTED, -22, "not supported")                                                       \
    X(CN_ECLOSED, -23, "already closed")                                                           \
    X(CN_EBUSY, -24, "resource busy or locked")                                                    \
    X(CN_EPERM, -25, "permission denied")                                                          \
    X(CN_ESYS, -26, "system call failed")                                                          \
    X(CN_EOVERLOAD, -27, "overloaded; retry later")                                                \
    X(CN_EAUTH, -28, "authentication failed")                                                      \
    /* gateway -1xx; auth tokens -101..-104 */                                                     \
    X(GW_ELIMIT, -100, "connection limit reached")                                                 \
    X(AUTH_ETOKEN, -101, "malformed auth token")                                                   \
    X(AUTH_ETOKENSIG, -102, "auth token signature is not valid")                                   \
    X(AUTH_ETOKENEXP, -103, "auth token expired")                                                  \
    X(AUTH_EKEYFILE, -104, "malformed auth key file")                                              \
    /* log storage -2xx */                                                                         \
    X(LG_ECRC, -200, "record batch CRC32C mismatch")                                               \
    X(LG_EMAGIC, -201, "record batch magic is not 2")                                              \
    X(LG_EBADBATCH, -202, "malformed record batch")                                                \
    X(LG_ENOTOPIC, -203, "unknown topic")                                                          \
    X(LG_ENOPART, -204, "unknown partition")                                                       \
    X(LG_EOFFSET, -205, "offset out of range")                                                     \
    X(LG_ESEQ, -206, "producer sequence out of order")                                             \
    X(LG_EDUPSEQ, -207, "duplicate producer sequence")                                             \
    X(LG_EFENCED, -208, "producer epoch fenced")                                                   \
    X(LG_EINDEX, -209, "LMDB index error")                                                         \
    X(LG_ECOMPRESS, -210, "cannot decompress record batch")                                        \
    X(LG_EUNKNOWNPID, -211, "unknown producer id")                                                 \
    X(LG_EGROUP, -212, "consumer group error")                                                     \
    /* hunt -3xx */                                                                                \
    X(HUNT_ERULES, -300, "invalid hunt definition")                                                \
    X(HUNT_ESTORE, -301, "RocksDB state store error")                                              \
    /* protobuf / envelope -4xx */                                                                 \
    X(CN_EPROTO, -400, "protocol violation")                                                       \
    X(CN_EDECODE, -401, "cannot decode message")                                                   \
    /* Kafka adapter -5xx */                                                                       \
    X(KF_EFRAME, -500, "malformed Kafka frame")                                                    \
    X(KF_EVERSION, -501, "unsupported Kafka API version")                                          \
    X(KF_ETRAILING, -502, "bytes after the end of a Kafka message")                                \
    /* WebSocket / HTTP codec -6xx */                                                              \
    X(WS_EHANDSHAKE, -600, "malformed HTTP/WebSocket handshake")                                   \
    X(WS_EFRAME, -601, "malformed WebSocket frame")                                                \
    X(WS_EUTF8, -602, "invalid UTF-8 in text message")                                             \
    X(WS_ETOOBIG, -603, "WebSocket message exceeds the size limit")

enum cn_err {
#define CN__ERR_ENUM(name, val, text) name = (val),
    CN_ERR_LIST(CN__ERR_ENUM)
#undef CN__ERR_ENUM
};

/** Human-readable text for a cn_err code; never NULL. */
const char *cn_strerror(int err);
/** Symbolic name ("LG_ECRC") for a cn_err code; never NULL. */
const char *cn_errname(int err);
/** Map an errno value (positive) to a cn_err code. */
int cn_err_from_errno(int e);

#endif
