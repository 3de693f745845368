# SPDX-License-Identifier: MIT
"""
gateway/workers — `cairn gateway --workers 2 --log DIR`: two worker
processes share the port (SO_REUSEPORT) and append through the parent,
which owns the log and serves it on a private loopback Kafka port.
  - 60 clients all get acks, and the log shows pings from both workers
    (CloudEvent source /gateway/<node>-w0 and -w1);
  - a worker killed with SIGKILL is replaced and the port keeps serving;
    one that keeps dying young is restarted after a doubling delay (100, 200, 400 ms ...);
  - SIGTERM to the parent: an open client gets 1001, everything exits 0,
    and every acked ping is in the log;
  - `--workers 2 --brokers` to a real `cairn logd`: each worker has its own
    producer; acks, both workers' pings in logd's data, exit 0.
"""
import asyncio
import collections
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kfutil  # noqa: E402
from gwutil import BIN, Gateway, now_ms  # noqa: E402

import websockets  # noqa: E402

fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


async def one(url, pid):
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"id": pid, "beacon": "b-1", "rssi": -60, "ts": now_ms()}))
        return json.loads(await asyncio.wait_for(ws.recv(), 20))


async def many(gw, prefix, n):
    res = await asyncio.gather(*[one(gw.url("player=%s%d" % (prefix, i)), "%s-%d" % (prefix, i))
                                 for i in range(n)], return_exceptions=True)
    return {r["ack"][0] for r in res if isinstance(r, dict) and "ack" in r}


def worker_pids(parent):
    out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True).stdout.decode().split()
    return [int(p) for p in out]


async def drain(gw):
    ws = await websockets.connect(gw.url("player=last"))
    await ws.send(json.dumps({"id": "last-1", "beacon": "b-1", "rssi": -60, "ts": now_ms()}))
    acked = json.loads(await ws.recv())["ack"]
    gw.proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(ws.recv(), 20)
        check(False, "drain: message instead of close")
    except websockets.ConnectionClosed as e:
        check(e.rcvd is not None and e.rcvd.code == 1001, "drain close 1001: %r" % (e.rcvd,))
    return set(acked)


def main():
    gw = Gateway(["--workers", "2", "--node", "mw"]).start()
    acked = set()
    try:
        acked |= asyncio.run(many(gw, "a", 60))
        check(len(acked) == 60, "all 60 clients acked (%d)" % len(acked))
        pids = worker_pids(gw.proc.pid)
        check(len(pids) == 2, "two worker processes: %r" % pids)
        os.kill(pids[0], signal.SIGKILL)
        deadline = time.time() + 10
        while time.time() < deadline and (len(worker_pids(gw.proc.pid)) < 2 or pids[0] in worker_pids(gw.proc.pid)):
            time.sleep(0.1)
        time.sleep(1.0)
        new = worker_pids(gw.proc.pid)
        check(len(new) == 2 and pids[0] not in new, "killed worker replaced: %r → %r" % (pids, new))
        # A worker that keeps dying young is restarted after a doubling delay
        # (100, 200, 400 ms ...), not in a tight loop; the others keep serving.
        for _ in range(3):
            young = [p for p in worker_pids(gw.proc.pid) if p not in pids]
            if not young:
                break
            os.kill(young[0], signal.SIGKILL)
            pids = pids + young[:1]
            deadline = time.time() + 20
            while time.time() < deadline and (len(worker_pids(gw.proc.pid)) < 2 or young[0] in worker_pids(gw.proc.pid)):
                time.sleep(0.05)
        time.sleep(2.0)  # let the last replacement finish starting before the drain below
        log = gw.log()
        delays = [int(x) for x in re.findall(r"starting another in (\d+) ms", log)]
        # The first kill may find a worker that had served 10 s already (a slow
        # machine, a sanitizer build): restarted at once, no delay logged.
        # The three young ones after it must double.
        check(len(delays) >= 3 and delays[0] in (100, 200)
              and all(b == 2 * a for a, b in zip(delays, delays[1:])),
              "restart delays double: %r" % delays)
        new = worker_pids(gw.proc.pid)
        got = asyncio.run(many(gw, "b", 40))
        check(len(got) == 40, "all 40 clients acked after a worker was replaced (%d)" % len(got))
        acked |= got
        acked |= asyncio.run(drain(gw))
        rc = gw.proc.wait(timeout=40)
        check(rc == 0, "supervisor exits 0 after SIGTERM (got %d)" % rc)
        check(worker_pids(gw.proc.pid) == [], "no worker left behind")
    finally:
        if gw.proc.poll() is None:
            gw.kill()
    out = subprocess.run([BIN, "log", "dump", "ble-raw", "--data", gw.data, "--format", "json"],
                         capture_output=True, check=True).stdout.decode().splitlines()
    recs = [json.loads(line) for line in out]
    ids = {r["value"]["data"]["id"] for r in recs}
    srcs = collections.Counter(r["value"]["source"] for r in recs)
    print("sources:", dict(srcs))
    check(acked <= ids, "every acked ping is in the log; missing %r" % sorted(acked - ids)[:5])
    check("/gateway/mw-w0" in srcs and "/gateway/mw-w1" in srcs, "both workers served: %r" % srcs)
    brokers()
    if fails:
        print("%d failures" % len(fails))
        sys.exit(1)
    print("ok")


def brokers():
    logd = kfutil.Logd().start()
    gw = Gateway(["--workers", "2", "--node", "bw"], tmp=logd.tmp)
    try:
        gw.start(backend=["--brokers", logd.bootstrap])
        acked = asyncio.run(many(gw, "k", 40))
        check(len(acked) == 40, "--brokers workers: all 40 clients acked (%d)" % len(acked))
        gw.stop()
    finally:
        if gw.proc and gw.proc.poll() is None:
            gw.kill()
    logd.stop()
    out = subprocess.run([BIN, "log", "dump", "ble-raw", "--data", logd.data, "--format", "json"],
                         capture_output=True, check=True).stdout.decode().splitlines()
    recs = [json.loads(line) for line in out]
    ids = {r["value"]["data"]["id"] for r in recs}
    srcs = collections.Counter(r["value"]["source"] for r in recs)
    check(acked <= ids, "--brokers workers: every acked ping is in logd's log")
    check("/gateway/bw-w0" in srcs and "/gateway/bw-w1" in srcs, "--brokers: both workers produced: %r" % srcs)


main()
