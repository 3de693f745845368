# SPDX-License-Identifier: MIT
"""
sim/hostile_gateway — `cairn sim` checks every ack: a fake gateway
(python3-websockets server, or raw sockets) that misbehaves in one way per
run must make the simulator exit 1 and count exactly that misbehaviour:
  double   every ping acked twice               → acked_twice > 0
  unknown  an extra ack for an id never sent    → unknown_acks > 0
  silent   no acks at all                       → unacked == pings
  refuse   an error frame for every third ping  → ping_errors > 0
  accept   a 101 with a wrong Sec-WebSocket-Accept → handshake failures, nothing acked
  burst    a right 101 split across reads, its end followed in the same write
           by 7,000 ack frames (~150 KB) for ids never sent → all read (none
           lost at the seam between the head and the frames)
and a well-behaved fake that acks in batches, as fragmented messages,
after a WebSocket ping, must pass (exit 0) — so the checks are not
failing everything.
"""
import asyncio
import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from gwutil import BIN  # noqa: E402

import websockets  # noqa: E402

fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def make_handler(mode):
    async def handler(ws, path):
        n = 0
        pending = []
        try:
            async for msg in ws:
                ping = json.loads(msg)
                n += 1
                if mode == "double":
                    await ws.send(json.dumps({"ack": [ping["id"]]}))
                    await ws.send(json.dumps({"ack": [ping["id"]]}))
                elif mode == "unknown":
                    await ws.send(json.dumps({"ack": [ping["id"], "no-such-ping.7"]}))
                elif mode == "silent":
                    pass
                elif mode == "refuse" and n % 3 == 0:
                    await ws.send(json.dumps({"error": "bad_rssi", "detail": "test", "id": ping["id"]}))
                elif mode == "good":
                    # acks held up to 50 ms and sent together, as one fragmented message,
                    # after a WebSocket ping the client must answer
                    pending.append(ping["id"])
                    if len(pending) == 1:
                        async def flush():
                            await asyncio.sleep(0.05)
                            ids = list(pending)
                            pending.clear()
                            await ws.ping(b"are you there")
                            body = json.dumps({"ack": ids})
                            await ws.send([body[:7], body[7:12], body[12:]])
                        asyncio.ensure_future(flush())
                else:
                    await ws.send(json.dumps({"ack": [ping["id"]]}))
        except websockets.ConnectionClosed:
            pass
    return handler


def serve(mode, port, ready, stop):
    async def main():
        async with websockets.serve(make_handler(mode), "127.0.0.1", port):
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)
    asyncio.run(main())


def raw_server(port, ready, stop, burst=False):
    """accept: a 101 with a wrong accept key.  burst: a right 101 followed in
    the same write by ~150 KB of ack frames for ids never sent."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(64)
    ls.settimeout(0.1)
    ready.set()
    while not stop.is_set():
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        c.settimeout(2)
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                d = c.recv(4096)
                if not d:
                    break
                head += d
            key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key:")]
            good = base64.b64encode(hashlib.sha1(key[0] + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            wrong = good[:-2] + (b"A=" if good[-2:] != b"A=" else b"B=")
            frame = b'{"ack":["nobody.1"]}'
            frames = (bytes([0x81, len(frame)]) + frame) * 7000 if burst else b""
            answer = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Accept: " + (good if burst else wrong) + b"\r\n\r\n" + frames)
            if burst:
                # a head split across reads, its second part sharing a read with 64 KiB of frames
                c.sendall(answer[:20])
                time.sleep(0.2)
                answer = answer[20:]
            c.sendall(answer)
            if burst:
                time.sleep(0.5)
        except (OSError, IndexError):
            pass
        c.close()
    ls.close()


def run(mode):
    port = free_port()
    ready, stop = threading.Event(), threading.Event()
    if mode in ("accept", "burst"):
        target = lambda p, r, s: raw_server(p, r, s, burst=(mode == "burst"))  # noqa: E731
    else:
        target = lambda p, r, s: serve(mode, p, r, s)  # noqa: E731
    t = threading.Thread(target=target, args=(port, ready, stop), daemon=True)
    t.start()
    ready.wait(10)
    rep_path = os.path.join(tempfile.mkdtemp(prefix="cairn-sim-hostile-"), "r.json")
    p = subprocess.run([BIN, "sim", "--url", "ws://127.0.0.1:%d/ws" % port, "--players", "5", "--duration", "3s",
                        "--rate", "4", "--ack-timeout", "1s", "--report", rep_path], capture_output=True, timeout=60)
    stop.set()
    t.join(10)
    return p.returncode, json.load(open(rep_path)), p.stdout.decode()


rc, r, out = run("double")
check(rc == 1 and r["acked_twice"] > 0 and r["unknown_acks"] == 0 and "twice" in r["first_error"],
      "double acks detected: %r" % r)
rc, r, out = run("unknown")
check(rc == 1 and r["unknown_acks"] > 0 and r["acked_twice"] == 0 and r["acked"] == r["pings"],
      "unknown acks detected: %r" % r)
rc, r, out = run("silent")
check(rc == 1 and r["acked"] == 0 and r["unacked"] == r["pings"] > 0 and "never acknowledged" in r["first_error"],
      "silent gateway: every ping unacked: %r" % r)
rc, r, out = run("refuse")
check(rc == 1 and r["ping_errors"] > 0 and r["acked"] + r["ping_errors"] == r["pings"] and r["unacked"] == 0,
      "refused pings counted once, as errors: %r" % r)
rc, r, out = run("accept")
check(rc == 1 and r["connects"] == 0 and r["connect_failures"] > 0 and "Accept" in r["first_error"],
      "wrong accept key refused: %r" % r)
rc, r, out = run("burst")
check(rc == 1 and r["unknown_acks"] >= 7000 and r["connects"] > 0,
      "150 KB of frames right behind the 101 are all read, as unknown acks: %r" % {k: r[k] for k in ("unknown_acks", "connects")})
rc, r, out = run("good")
check(rc == 0 and r["ok"] and r["acked"] == r["pings"] > 0, "a correct fake gateway passes: %r %s" % (r, out))

if fails:
    print("%d failures" % len(fails))
    sys.exit(1)
print("ok")
