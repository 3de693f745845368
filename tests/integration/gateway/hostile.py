# SPDX-License-Identifier: MIT
"""
gateway/hostile — hostile input over real sockets against a real
`cairn gateway`: malformed, oversized and binary-garbage request heads
(HTTP errors, no upgrade), unmasked client frames (1002), reserved bits
(1002), bad opcodes (1002), invalid UTF-8 in text (1007), oversized
frames refused at the header (1009), fragmented messages and interleaved
pings (served), pipelined frames right after the head, half-open clients
and slowloris heads (dropped after --handshake-timeout), per-IP and global
connection limits (429/503), a client that never reads its acks, and a
peer close frame (echoed).  After all of it the gateway still serves and
its metrics count each kind of disconnect.
"""
import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import gwutil  # noqa: E402
from gwutil import Gateway, RawWS, now_ms, recv_all  # noqa: E402

fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


def raw_http(port, data, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = recv_all(s, timeout)
    s.close()
    return out


def status_of(resp):
    try:
        return int(resp.split(b" ")[1])
    except (IndexError, ValueError):
        return None


def ping_json(pid):
    return json.dumps({"id": pid, "beacon": "b-1", "rssi": -60, "ts": now_ms()}).encode()


def heads(gw):
    p = gw.port
    cases = [
        (b"GET /ws?player=x HTTP/1.1\nHost: a\n\n", 400, "bare LF"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64), 400, "TLS ClientHello"),
        (b"GET /ws?player=x HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP/2.0"),
        (b"GET /ws?player=x HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431, "oversized head"),
        (b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414, "oversized target"),
        (b"GET /ws?player=x HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(40)) + b"\r\n",
         431, "too many headers"),
        (b"GET /ws?player=x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         b"Sec-WebSocket-Version: 13\r\n\r\n", 400, "no Sec-WebSocket-Key"),
        (b"GET /ws?player=x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", 426, "version 8"),
        (b"POST /ws?player=x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 405, "POST upgrade"),
        (gwutil.handshake_bytes(p, "player=" + "x" * 80), 401, "player id too long"),
        (gwutil.handshake_bytes(p, "player=a%20b"), 401, "player id with a space"),
        (gwutil.handshake_bytes(p, "player=a&player=b"), 401, "player given twice"),
        (b"GET /ws?player=x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "two Host headers"),
        (b"GET /ws?player=x HTTP/1.1\r\nHost : a\r\n\r\n", 400, "space before colon"),
    ]
    for data, want, what in cases:
        got = raw_http(p, data)
        check(status_of(got) == want, "%s: want HTTP %d, got %r" % (what, want, got[:60]))
        check(b"101 Switching" not in got, "%s: no upgrade" % what)


def frames(gw):
    p = gw.port
    # unmasked client frame → 1002
    ws = RawWS(p)
    ws.send_frame(1, ping_json("u-1"), mask=False)
    check(ws.expect_close()[0] == 1002, "unmasked frame → 1002")
    ws.close()
    # reserved bits → 1002
    ws = RawWS(p)
    ws.send_frame(1, ping_json("r-1"), rsv=4)
    check(ws.expect_close()[0] == 1002, "RSV1 → 1002")
    ws.close()
    # bad opcode → 1002
    ws = RawWS(p)
    ws.send_frame(3, b"x")
    check(ws.expect_close()[0] == 1002, "opcode 3 → 1002")
    ws.close()
    # invalid UTF-8 in text → 1007
    ws = RawWS(p)
    ws.send_frame(1, b'{"id":"\xc3\x28"}')
    check(ws.expect_close()[0] == 1007, "bad UTF-8 → 1007")
    ws.close()
    # oversized frame: refused at the header, before any payload
    ws = RawWS(p)
    ws.send_frame(2, b"", length=10 * 1024 * 1024)
    check(ws.expect_close()[0] == 1009, "10 MiB frame header → 1009")
    ws.close()
    # control frame too long → 1002
    ws = RawWS(p)
    ws.send_frame(9, b"x" * 126)
    check(ws.expect_close()[0] == 1002, "ping with 126 bytes → 1002")
    ws.close()
    # fragmented text with an interleaved ping: pong, then the ack
    ws = RawWS(p)
    msg = b"[" + ping_json("f-1") + b"," + ping_json("f-2") + b"]"
    ws.send_frame(1, msg[:10], fin=False)
    ws.send_frame(9, b"hi")
    time.sleep(0.05)
    ws.send_frame(0, msg[10:20], fin=False)
    ws.send_frame(0, msg[20:], fin=True)
    op, pl = ws.recv_frame()
    check((op, pl) == (10, b"hi"), "ping answered with pong: %r" % ((op, pl),))
    op, pl = ws.recv_frame()
    check(op == 1 and json.loads(pl) == {"ack": ["f-1", "f-2"]}, "fragmented message acked: %r" % pl)
    # peer close with a code → echoed
    ws.send_frame(8, struct.pack("!H", 1000) + b"bye")
    check(ws.expect_close()[0] == 1000, "peer close echoed")
    ws.close()
    # frames pipelined in the same packet as the head
    s = socket.create_connection(("127.0.0.1", p), timeout=10)
    key = os.urandom(4)
    pay = ping_json("pl-1")
    fr = struct.pack("!BB", 0x81, 0x80 | len(pay)) + key + bytes(c ^ key[i % 4] for i, c in enumerate(pay))
    s.sendall(gwutil.handshake_bytes(p) + fr)
    data = b""
    deadline = time.time() + 10
    while b"pl-1" not in data and time.time() < deadline:
        d = s.recv(4096)
        if not d:
            break
        data += d
    check(b"101 Switching" in data and b'{"ack":["pl-1"]}' in data, "frame pipelined after the head: %r" % data)
    s.close()
    # invalid close code → 1002
    ws = RawWS(p)
    ws.send_frame(8, struct.pack("!H", 1005))
    check(ws.expect_close()[0] == 1002, "close code 1005 on the wire → 1002")
    ws.close()


def slow_and_half_open(gw, hs_timeout):
    p = gw.port
    t0 = time.monotonic()
    half = socket.create_connection(("127.0.0.1", p), timeout=hs_timeout + 10)
    slow = socket.create_connection(("127.0.0.1", p), timeout=hs_timeout + 10)
    head = gwutil.handshake_bytes(p)
    # slowloris: one byte every 200 ms never completes the head in time
    i = 0
    closed = False
    while time.monotonic() - t0 < hs_timeout + 5 and i < len(head) - 1:
        try:
            slow.sendall(head[i:i + 1])
        except OSError:
            closed = True
            break
        i += 1
        time.sleep(0.2)
        slow.setblocking(False)
        try:
            if slow.recv(1) == b"":
                closed = True
                break
        except BlockingIOError:
            pass
        except OSError:
            closed = True
            break
        finally:
            slow.setblocking(True)
    dt = time.monotonic() - t0
    check(closed and dt <= hs_timeout + 3, "slowloris dropped (after %.1f s, timeout %.1f s)" % (dt, hs_timeout))
    half.settimeout(hs_timeout + 5)
    try:
        d = half.recv(10)
    except ConnectionResetError:
        d = b""
    check(d == b"", "half-open client dropped without an answer")
    half.close()
    slow.close()


def limits(gw):
    """--max-conns-per-ip 3 on this gateway."""
    p = gw.port
    held = [RawWS(p) for _ in range(3)]
    check(all(w.status == 101 for w in held), "3 connections from one address")
    resp = raw_http(p, gwutil.handshake_bytes(p))
    check(status_of(resp) == 429, "4th connection from the same address → 429: %r" % resp[:40])
    s = socket.create_connection(("127.0.0.1", p), timeout=10, source_address=("127.0.0.2", 0))
    s.sendall(gwutil.handshake_bytes(p))
    check(b"101" in s.recv(200), "another address is not limited")
    s.close()
    for w in held:
        w.close()


def never_reads(gw):
    """A client that floods frames and never reads its acks stops being read
    (parked: 64 frames waiting) or is dropped when its unsent acks pass the
    bound; memory stays bounded and the gateway keeps serving."""
    ws = RawWS(gw.port)
    ws.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    arr = json.dumps([{"id": "n-%d" % i + "x" * 40, "beacon": "b", "rssi": -60, "ts": now_ms()}
                      for i in range(64)]).encode()
    t0 = time.time()
    sent = 0
    ws.s.settimeout(2)
    try:
        while time.time() - t0 < 20:
            ws.send_frame(1, arr.replace(b"n-", b"n%d-" % sent))
            sent += 1
    except (socket.timeout, OSError):
        pass
    parked = gw.metric("cairn_gateway_connections_parked")
    slow = gw.metric('cairn_gateway_disconnects_total{reason="slow_reader"}')
    print("flood: %d frames sent before the gateway stopped reading; parked=%d slow_reader=%d" % (sent, parked, slow))
    check(parked + slow >= 1, "a non-reading flooder is parked or dropped")
    check(gw.metric("cairn_gateway_conn_buffer_bytes") <= 300 * 1024, "its buffered output stays bounded")
    ws.close()
    # the gateway still serves
    w2 = RawWS(gw.port)
    w2.send_frame(1, ping_json("after-flood"))
    op, pl = w2.recv_frame()
    check(op == 1 and b"after-flood" in pl, "gateway serves after a flooding non-reader: %r" % pl)
    w2.close()


def main():
    hs = 1.5
    gw = Gateway(["--handshake-timeout", "%dms" % int(hs * 1000), "--max-conns-per-ip", "3",
                  "--max-msg-bytes", "16KiB"]).start()
    try:
        heads(gw)
        frames(gw)
        slow_and_half_open(gw, hs)
        limits(gw)
        never_reads(gw)
        for reason in ("protocol", "bad_utf8", "too_big", "handshake_timeout", "handshake_error", "peer_close"):
            check(gw.metric('cairn_gateway_disconnects_total{reason="%s"}' % reason) >= 1,
                  "disconnects counted: %s" % reason)
        check(gw.metric('cairn_gateway_refused_total{limit="max_conns_per_ip"}') >= 1, "per-IP refusals counted")
    finally:
        gw.stop()
    # global limit: a table of 2 slots
    gw2 = Gateway(["--max-conns", "2"], data=gw.tmp + "/d2").start()
    try:
        a, b = RawWS(gw2.port), RawWS(gw2.port)
        resp = raw_http(gw2.port, gwutil.handshake_bytes(gw2.port))
        check(status_of(resp) == 503, "table full → 503: %r" % resp[:40])
        a.close()
        b.close()
        time.sleep(0.3)
        c = RawWS(gw2.port)
        check(c.status == 101, "slots are reused after close")
        c.close()
    finally:
        gw2.stop()
    if fails:
        print("%d failures" % len(fails))
        sys.exit(1)
    print("ok")


main()
