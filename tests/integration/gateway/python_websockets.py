# SPDX-License-Identifier: MIT
"""
gateway/python_websockets — the player protocol v1 through a real client
(python3-websockets) against a real `cairn gateway --log DIR`:
  - a JSON ping, a JSON array and a protobuf PingBatch are acknowledged,
    and only with the ids that were accepted; the acked pings are in the
    log (`cairn log dump`: value.data.id), keyed by player, as CloudEvents;
  - malformed pings get error frames with stable codes and the connection
    stays usable;
  - idle close: code 1000 reason "idle" within --idle-close of the last ping
    (generous bounds, never an absolute time), also while the client sends
    WebSocket pings, and not while it keeps sending player pings;
  - auth: a valid token is accepted; a bad, expired or missing token gets
    HTTP 401 and no upgrade; ?player= is refused when a key is configured;
    a token used three times is verified once (/metrics counts signature
    checks and cache hits), and a tampered or expired token is refused
    again when its refusal comes from the cache;
  - /healthz and /metrics answer on the same port with the counters moving;
  - SIGTERM drains: an open client gets 1001 and the gateway exits 0.
"""
import asyncio
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import gwutil  # noqa: E402
from gwutil import BIN, Gateway, now_ms  # noqa: E402

import websockets  # noqa: E402

IDLE = 1.5
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


async def acks_and_errors(gw):
    async with websockets.connect(gw.url("player=alice")) as ws:
        await ws.send(json.dumps({"id": "a-1", "beacon": "b-07", "rssi": -61, "ts": now_ms()}))
        check(json.loads(await ws.recv()) == {"ack": ["a-1"]}, "single JSON ping acked")
        arr = [{"id": "a-%d" % i, "beacon": "b-01", "rssi": -70, "ts": now_ms()} for i in range(2, 12)]
        await ws.send(json.dumps(arr))
        check(json.loads(await ws.recv()) == {"ack": ["a-%d" % i for i in range(2, 12)]}, "JSON array acked in order")
        # one good, two bad in one frame: errors first (immediately), then the ack of the good one
        await ws.send(json.dumps([{"id": "a-20", "beacon": "b-01", "rssi": -70, "ts": now_ms()},
                                  {"id": "a-21", "beacon": "b-01", "rssi": 500, "ts": now_ms()},
                                  {"beacon": "b-01", "rssi": -70, "ts": now_ms()}]))
        got = [json.loads(await ws.recv()) for _ in range(2)]
        check("errors" in got[0], "mixed frame: ONE error frame, before the ack: %r" % got)
        errs = got[0].get("errors", [])
        acks = [m for m in got if "ack" in m]
        check(acks == [{"ack": ["a-20"]}], "mixed frame: only the good ping acked: %r" % got)
        check(sorted(e["error"] for e in errs) == ["bad_rssi", "missing_id"], "mixed frame errors: %r" % errs)
        check(any(e.get("id") == "a-21" for e in errs), "error names the ping id when known")
        for bad, code in (("{not json", "bad_json"), ('{"hello":1}', None), ("[]", "empty_batch")):
            await ws.send(bad)
            m = json.loads(await ws.recv())
            check("error" in m and (code is None or m["error"] == code), "error frame for %r: %r" % (bad, m))
        # still usable after errors
        await ws.send(json.dumps({"id": "a-30", "beacon": "b-07", "rssi": -61, "ts": now_ms()}))
        check(json.loads(await ws.recv()) == {"ack": ["a-30"]}, "connection usable after error frames")
    async with websockets.connect(gw.url("player=bob")) as ws:
        await ws.send(gwutil.pb_ping_batch([("p-1", "b-02", -55, now_ms()), ("p-2", "b-03", -80, now_ms())]))
        m = await ws.recv()
        check(isinstance(m, bytes) and gwutil.pb_ack(m) == (["p-1", "p-2"], []), "protobuf batch acked: %r" % m)
        await ws.send(gwutil.pb_ping_batch([("p-3", "b-02", 999, now_ms())]))
        m = await ws.recv()
        ids, errs = gwutil.pb_ack(m)
        check(ids == [] and errs and errs[0][0] == "p-3" and errs[0][1] == "bad_rssi", "protobuf error: %r" % (errs,))
        await ws.send(b"\xff\xfe garbage \x00")
        ids, errs = gwutil.pb_ack(await ws.recv())
        check(errs and errs[0][1] == "bad_protobuf", "garbage binary → bad_protobuf, connection stays: %r" % (errs,))
        await ws.send(gwutil.pb_ping_batch([("p-4", "b-02", -50, now_ms())]))
        check(gwutil.pb_ack(await ws.recv())[0] == ["p-4"], "protobuf connection usable after garbage")


async def idle_close(gw):
    ws = await websockets.connect(gw.url("player=carol"))
    await ws.send(json.dumps({"id": "c-1", "beacon": "b-07", "rssi": -61, "ts": now_ms()}))
    await ws.recv()
    t0 = time.monotonic()
    try:
        await asyncio.wait_for(ws.recv(), timeout=IDLE + 10)
        check(False, "idle: got a message instead of a close")
    except websockets.ConnectionClosed as e:
        dt = time.monotonic() - t0
        check(e.rcvd is not None and e.rcvd.code == 1000 and e.rcvd.reason == "idle",
              "idle close code/reason: %r" % (e.rcvd,))
        # within the configured time of the last ping, with jitter: not much
        # before it, and not more than a generous margin after it
        check(IDLE * 0.8 <= dt <= IDLE + 3.0, "idle close after %.2f s (configured %.1f s)" % (dt, IDLE))
    # WebSocket-level pings are not player pings: they do not keep a
    # connection open (idle counts from the last data ping)
    ws = await websockets.connect(gw.url("player=carol"))
    await ws.send(json.dumps({"id": "c-2", "beacon": "b-07", "rssi": -61, "ts": now_ms()}))
    await ws.recv()
    t0 = time.monotonic()
    code = None
    while time.monotonic() - t0 < IDLE + 10:
        try:
            await asyncio.wait_for(ws.ping(b"keep?"), timeout=1)
            await asyncio.sleep(0.3)
        except websockets.ConnectionClosed as e:
            code = (e.rcvd.code, e.rcvd.reason) if e.rcvd else None
            break
        except asyncio.TimeoutError:
            continue
    dt = time.monotonic() - t0
    check(code == (1000, "idle") and IDLE * 0.8 <= dt <= IDLE + 3.0,
          "WebSocket pings do not defer the idle close: %r after %.2f s" % (code, dt))
    # pings keep it open: 3 pings spaced 0.6*IDLE apart outlive IDLE
    async with websockets.connect(gw.url("player=carol")) as ws:
        t0 = time.monotonic()
        for i in range(3):
            await ws.send(json.dumps({"id": "k-%d" % i, "beacon": "b", "rssi": -61, "ts": now_ms()}))
            await ws.recv()
            await asyncio.sleep(IDLE * 0.6)
        check(time.monotonic() - t0 > IDLE and not ws.closed, "pings keep the connection open past --idle-close")


async def auth(gw, key):
    def issue(player, ttl="1h"):
        return subprocess.run([BIN, "token", "issue", "--key", key, "--player", player, "--ttl", ttl],
                              check=True, capture_output=True).stdout.decode().strip()
    tok = issue("dave")
    # The same token three times (a player reconnecting): accepted each
    # time, its signature checked once (the verified-token cache).
    for i in range(3):
        async with websockets.connect(gw.url("token=" + tok)) as ws:
            await ws.send(json.dumps({"id": "d-%d" % i, "beacon": "b-07", "rssi": -61, "ts": now_ms()}))
            check(json.loads(await ws.recv()) == {"ack": ["d-%d" % i]},
                  "token accepted and ping acked (connection %d)" % i)
    check(gw.metric("cairn_gateway_token_verifications_total") == 1,
          "a reconnecting token is verified once")
    check(gw.metric("cairn_gateway_token_cache_hits_total") == 2, "and answered from the cache twice")
    bad = tok[:-4] + ("AAAA" if not tok.endswith("AAAA") else "BBBB")
    expired = issue("dave", "1ms")
    time.sleep(0.05)
    # Tampered and expired tokens twice each: refused both times, also when
    # the second answer comes from the cache (one verification each).
    for q, what in (("token=" + bad, "tampered token"), ("token=" + expired, "expired token"),
                    ("token=" + bad, "tampered token again"), ("token=" + expired, "expired token again"),
                    ("player=dave", "?player= with an auth key"), ("", "no token"),
                    ("token=%%%%", "malformed query")):
        try:
            async with websockets.connect(gw.url(q)):
                check(False, what + ": upgraded")
        except websockets.InvalidStatusCode as e:
            check(e.status_code in (401, 400) if what == "malformed query" else e.status_code == 401,
                  "%s: HTTP %d" % (what, e.status_code))
    check(gw.metric("cairn_gateway_token_verifications_total") == 3,
          "tampered and expired tokens are verified once each")
    check(gw.metric("cairn_gateway_token_cache_hits_total") == 4,
          "and refused from the cache the second time")


async def drain(gw):
    ws = await websockets.connect(gw.url("player=erin"))
    await ws.send(json.dumps({"id": "e-1", "beacon": "b-07", "rssi": -61, "ts": now_ms()}))
    check(json.loads(await ws.recv()) == {"ack": ["e-1"]}, "ack before drain")
    gw.proc.send_signal(15)
    try:
        await asyncio.wait_for(ws.recv(), timeout=15)
        check(False, "drain: got a message instead of a close")
    except websockets.ConnectionClosed as e:
        check(e.rcvd is not None and e.rcvd.code == 1001, "drain closes with 1001: %r" % (e.rcvd,))
    rc = gw.proc.wait(timeout=30)
    check(rc == 0, "gateway exits 0 after SIGTERM (got %d)" % rc)


def main():
    gw = Gateway(["--idle-close", "%dms" % int(IDLE * 1000), "--node", "t0402"]).start()
    try:
        asyncio.run(acks_and_errors(gw))
        asyncio.run(idle_close(gw))
        st, body = gw.http_get("/healthz")
        check(st == 200 and body.strip() == "ok", "/healthz: %d %r" % (st, body))
        check(gw.metric("cairn_gateway_acks_total") >= 17, "metrics count acks")
        check(gw.metric('cairn_gateway_ping_errors_total{code="bad_rssi"}') >= 2, "metrics count errors by code")
        check(gw.metric('cairn_gateway_disconnects_total{reason="idle"}') >= 1, "metrics count idle closes")
        check(gw.metric("cairn_gateway_append_seconds_count") >= 1, "append latency histogram")
        st, _ = gw.http_get("/nope")
        check(st == 404, "unknown path → 404")
        asyncio.run(drain(gw))
    finally:
        if gw.proc.poll() is None:
            gw.kill()
    ids = gwutil.log_dump_ping_ids(gw.data)
    want = ["a-1"] + ["a-%d" % i for i in range(2, 12)] + ["a-20", "a-30", "p-1", "p-2", "p-4", "c-1", "c-2",
                                                           "k-0", "k-1", "k-2", "e-1"]
    check(sorted(ids) == sorted(want), "log holds exactly the acked pings: %r" % sorted(ids))
    out = subprocess.run([BIN, "log", "dump", "ble-raw", "--data", gw.data, "--format", "json"],
                         capture_output=True, check=True).stdout.decode().splitlines()
    r = json.loads(out[0])
    v = r["value"]
    check(v["type"] == "cairn.ble.ping" and v["source"] == "/gateway/t0402" and v["subject"] == r["key"]
          and {"key": "content-type", "value": "application/cloudevents+protobuf"} in r["headers"],
          "record is a ping CloudEvent keyed by player: %r" % r)
    ceids = [json.loads(line)["value"]["id"] for line in out]
    check(len(set(ceids)) == len(ceids), "CloudEvent ids are unique")
    # one player → one partition
    parts = {}
    for line in out:
        rr = json.loads(line)
        parts.setdefault(rr["key"], set()).add(rr["partition"])
    check(all(len(p) == 1 for p in parts.values()), "each player's pings in one partition: %r" % parts)

    # auth: a gateway with a key
    kd = gw.tmp + "/keys"
    os.makedirs(kd)
    subprocess.run([BIN, "token", "keygen", "--out", kd + "/k"], check=True, capture_output=True)
    gw2 = Gateway(["--auth-key", kd + "/k.pub"], data=gw.tmp + "/data2").start()
    try:
        asyncio.run(auth(gw2, kd + "/k"))
    finally:
        gw2.stop()
    if fails:
        print("%d failures" % len(fails))
        sys.exit(1)
    print("ok")


main()
