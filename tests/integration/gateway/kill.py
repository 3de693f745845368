# SPDX-License-Identifier: MIT
"""
gateway/kill — no ack before durable, proven with SIGKILL.
  1. --log mode: clients (python3-websockets) stream pings through a real
     `cairn gateway --log DIR`; the gateway is SIGKILLed at a random moment,
     several times (restarted on the same directory in between); every
     ping id that was acknowledged must be in the log afterwards
     (`cairn log dump ble-raw --format json`, value.data.id).
  2. --brokers mode: the gateway appends through librdkafka to a real
     `cairn logd`; logd is SIGKILLed mid-stream and restarted on the same
     port and data; clients keep streaming (reconnecting on 1013); then
     the gateway drains (SIGTERM, exit 0) and every acked id is in logd's
     data directory.
Kill moments are seeded (printed; CAIRN_SEED=N replays them).
Acks seen by clients are the only claim checked: unacked pings may or may
not be in the log, and that is allowed.
"""
import asyncio
import json
import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import gwutil  # noqa: E402
import kfutil  # noqa: E402
from gwutil import Gateway, now_ms  # noqa: E402

import websockets  # noqa: E402

fails = []

# Kill moments come from a seed, printed so a failure can be replayed:
# CAIRN_SEED=N reruns the same kill moments.
SEED = int(os.environ.get("CAIRN_SEED", str(int(time.time() * 1000) % 2**31)))
print("gateway/kill: seed %d (replay: CAIRN_SEED=%d)" % (SEED, SEED))
random.seed(SEED)


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


async def client(url_fn, name, acked, stop, per_frame=1):
    """Stream pings; record every acked id; reconnect on any close."""
    seq = 0
    while not stop.is_set():
        try:
            async with websockets.connect(url_fn(name), open_timeout=5, close_timeout=1) as ws:
                while not stop.is_set():
                    batch = []
                    for _ in range(per_frame):
                        seq += 1
                        batch.append({"id": "%s-%d" % (name, seq), "beacon": "b-1", "rssi": -60, "ts": now_ms()})
                    await ws.send(json.dumps(batch if per_frame > 1 else batch[0]))
                    msg = json.loads(await asyncio.wait_for(ws.recv(), timeout=40))
                    if "ack" in msg:
                        acked.update(msg["ack"])
        except (OSError, websockets.WebSocketException, asyncio.TimeoutError, EOFError):
            await asyncio.sleep(0.1)


async def stream_then(url_fn, nclients, action, per_frame=1):
    acked = set()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(client(url_fn, "c%d" % i, acked, stop, per_frame)) for i in range(nclients)]
    await action(acked)
    stop.set()
    await asyncio.wait(tasks, timeout=30)
    return acked


def log_mode():
    gw = Gateway(["--node", "kill"])
    all_acked = set()
    rounds = 3
    for r in range(rounds):
        gw.start()
        port = gw.port

        async def kill_at_random(acked):
            await asyncio.sleep(random.uniform(1.0, 2.5))
            gw.kill()  # SIGKILL mid-stream
            await asyncio.sleep(0.2)

        acked = asyncio.run(stream_then(lambda n: "ws://127.0.0.1:%d/ws?player=%s" % (port, n), 8,
                                        kill_at_random, per_frame=3))
        check(len(acked) > 0, "round %d: some pings were acked before the kill" % r)
        all_acked |= acked
    ids = set(gwutil.log_dump_ping_ids(gw.data))
    missing = all_acked - ids
    print("log mode: %d kills, %d pings acked, %d in the log, %d acked but missing"
          % (rounds, len(all_acked), len(ids), len(missing)))
    check(not missing, "acked pings missing from the log after SIGKILL: %r" % sorted(missing)[:10])


def brokers_mode():
    logd = kfutil.Logd().start()
    gw = Gateway(["--node", "kb", "--produce-timeout", "20s"], tmp=logd.tmp)
    gw.start(backend=["--brokers", logd.bootstrap])
    port = gw.port
    kport = logd.port

    async def kill_logd(acked):
        await asyncio.sleep(1.5)
        before = len(acked)
        logd.kill()
        await asyncio.sleep(1.0)
        # restart on the same port and data, once the port can be bound
        for _ in range(50):
            try:
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("127.0.0.1", kport))
                break
            except OSError:
                await asyncio.sleep(0.1)
        restart(logd, kport)
        await asyncio.sleep(3.0)
        check(len(acked) > before, "acks continue after logd restarts (%d → %d)" % (before, len(acked)))

    acked = asyncio.run(stream_then(lambda n: "ws://127.0.0.1:%d/ws?player=%s" % (port, n), 6, kill_logd))
    gw.stop()
    logd.stop()
    ids = set(gwutil.log_dump_ping_ids(logd.data))
    missing = acked - ids
    print("brokers mode: %d pings acked, %d in the log, %d acked but missing" % (len(acked), len(ids), len(missing)))
    check(len(acked) > 0, "brokers mode acked pings")
    check(not missing, "acked pings missing after logd SIGKILL+restart: %r" % sorted(missing)[:10])


def restart(logd, port):
    import subprocess
    pf = os.path.join(logd.tmp, "port")
    if os.path.exists(pf):
        os.unlink(pf)
    logd.logf = open(logd.log_path, "ab")
    logd.proc = subprocess.Popen([kfutil.BIN, "logd", "--data", logd.data, "--kafka-listen",
                                  "127.0.0.1:%d" % port, "--port-file", pf],
                                 stdout=logd.logf, stderr=subprocess.STDOUT)
    deadline = time.time() + 15
    while time.time() < deadline and not os.path.exists(pf):
        if logd.proc.poll() is not None:
            raise RuntimeError("logd restart failed: " + logd.log())
        time.sleep(0.05)
    logd.port = port


log_mode()
brokers_mode()
if fails:
    print("%d failures" % len(fails))
    sys.exit(1)
print("ok")
