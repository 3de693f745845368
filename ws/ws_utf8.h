/* SPDX-License-Identifier: MIT */
/*
 * ws_utf8.h — incremental UTF-8 validation for WebSocket text messages and
 * close reasons (RFC 6455 §8.1, RFC 3629).  A text message may be split
 * across frames and reads at any byte, so validation is a resumable DFA
 * whose whole state is one byte the caller keeps between chunks.
 */
#ifndef WS_UTF8_H
#define WS_UTF8_H

#include <stddef.h>
#include <stdint.h>

/** State between chunks.  Start from WS_UTF8_ACCEPT. */
#define WS_UTF8_ACCEPT 0u
/** Sticky: once rejected, every later chunk stays rejected. */
#define WS_UTF8_REJECT 12u

/**
 * Run the validator over n more bytes.
 * @param state  the state returned by the previous call (WS_UTF8_ACCEPT first)
 * @return the new state: WS_UTF8_ACCEPT at a code point boundary,
 *         WS_UTF8_REJECT once the input can no longer be valid UTF-8
 *         (overlong form, surrogate, > U+10FFFF, stray continuation byte,
 *         0xC0/0xC1/0xF5..0xFF), or another value when a code point is
 *         still open (valid so far; must not end the message there).
 */
uint8_t ws_utf8_feed(uint8_t state, const unsigned char *p, size_t n);

/** 1 if p[0..n) is complete, valid UTF-8, else 0. */
int ws_utf8_valid(const unsigned char *p, size_t n);

#endif
