/* SPDX-License-Identifier: MIT */
/*
 * ws_close.c — WebSocket close codes: which a peer may send (RFC 6455
 * §7.4.1/§7.4.2 and the IANA registry) and which code cairn closes with
 * for each of its errors.  Pure functions; any thread.
 *
 * Why these ranges: 1004 is reserved, 1005/1006/1015 are "MUST NOT be
 * set as a status code in a Close control frame"; 1012-1014 were later
 * registered with IANA (restart, try again later, bad gateway) and we send
 * 1013 ourselves on overload, so we accept them; 1016-2999 are reserved
 * for future RFCs and 3000-4999 are for libraries and applications.
 * Anything else is a protocol error (1002).
 */
#include "ws.h"

#include "cn_err.h"

int ws_close_code_valid(uint16_t code)
{
    if (code >= 1000 && code <= 1003)
        return 1;
    if (code >= 1007 && code <= 1014)
        return 1;
    return code >= 3000 && code <= 4999;
}

uint16_t ws_close_code_for(int err)
{
    switch (err) {
    case CN_OK:
    case CN_ECLOSED:
        return WS_CLOSE_NORMAL;
    case WS_EFRAME:
    case WS_EHANDSHAKE:
    case CN_EPROTO:
        return WS_CLOSE_PROTOCOL;
    case CN_EUNSUPPORTED:
        return WS_CLOSE_UNSUPPORTED;
    case WS_EUTF8:
        return WS_CLOSE_BAD_DATA;
    case GW_ELIMIT:
    case CN_EAUTH:
        return WS_CLOSE_POLICY;
    case WS_ETOOBIG:
    case CN_ETOOBIG:
        return WS_CLOSE_TOO_BIG;
    case CN_EOVERLOAD:
    case CN_ENOMEM:
        return WS_CLOSE_TRY_LATER;
    default:
        return WS_CLOSE_INTERNAL;
    }
}
