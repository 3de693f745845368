/* SPDX-License-Identifier: MIT */
/*
 * sim_proto.h — the two things the simulator parses from a gateway, as pure
 * functions (no sockets, no allocation) so they are unit-testable and
 * fuzzed (tests/fuzz/fuzz_sim_proto.c): the HTTP answer to the upgrade
 * request, and ack frames {"ack":["id",...]}.
 */
#ifndef SIM_PROTO_H
#define SIM_PROTO_H

#include <stddef.h>

/* A response head longer than this is not a gateway's 101. */
#define SIM_MAX_HEAD 8192

/**
 * Check the answer to an upgrade request.
 * @param accept   the expected Sec-WebSocket-Accept (28 characters)
 * @param[out] status     the HTTP status when the status line was read, else 0
 * @param[out] head_len   on success: bytes of the head (frames follow)
 * @return 0: 101 with the right accept key; CN_WANT_MORE: the head is not
 *         complete yet; WS_EHANDSHAKE: any other status, a missing or wrong
 *         accept key, a malformed status line, or a head over SIM_MAX_HEAD
 */
int sim_parse_head(const char *buf, size_t len, const char *accept, int *status, size_t *head_len);

/**
 * Read an ack frame of the one shape the gateway sends:
 * {"ack":["id1","id2",...]} with ids free of backslashes and quotes.
 * Calls id(ud, ptr, len) for each id in order (ptr into m).
 * @return 0; CN_DECLINED when m has another shape (parse it with a JSON
 *         library then); no id is reported before the whole frame is
 *         known to have the shape.
 */
int sim_parse_acks(const char *m, size_t n, void (*id)(void *ud, const char *p, size_t len),
                   void *ud);

#endif
