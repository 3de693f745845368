/* SPDX-License-Identifier: MIT */
/*
 * cn_utf8.h — the one UTF-8 validator (RFC 3629): incremental, for
 * WebSocket text messages and close reasons (RFC 6455 §8.1), which may be
 * split across frames and reads at any byte, so validation is a resumable
 * DFA whose whole state is one byte the caller keeps between chunks; whole
 * strings; and one sequence at a time, for escapers that replace what is
 * not UTF-8 (cn_json.h).
 */
#ifndef CN_UTF8_H
#define CN_UTF8_H

#include <stddef.h>
#include <stdint.h>

/** State between chunks.  Start from CN_UTF8_ACCEPT. */
#define CN_UTF8_ACCEPT 0u
/** Sticky: once rejected, every later chunk stays rejected. */
#define CN_UTF8_REJECT 12u

/**
 * Run the validator over n more bytes.
 * @param state  the state returned by the previous call (CN_UTF8_ACCEPT first)
 * @return the new state: CN_UTF8_ACCEPT at a code point boundary,
 *         CN_UTF8_REJECT once the input can no longer be valid UTF-8
 *         (overlong form, surrogate, > U+10FFFF, stray continuation byte,
 *         0xC0/0xC1/0xF5..0xFF), or another value when a code point is
 *         still open (valid so far; must not end the message there).
 */
uint8_t cn_utf8_feed(uint8_t state, const unsigned char *p, size_t n);

/** 1 if p[0..n) is complete, valid UTF-8, else 0. */
int cn_utf8_valid(const void *p, size_t n);

/**
 * Length (1..4) of the well-formed UTF-8 sequence that starts at p, or 0
 * if none does there (a stray continuation byte, a byte that never
 * appears in UTF-8, an overlong form, a surrogate, > U+10FFFF, or input
 * that ends inside the sequence).  n == 0 gives 0.
 */
size_t cn_utf8_seq(const unsigned char *p, size_t n);

#endif
