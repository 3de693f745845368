# SPDX-License-Identifier: MIT
"""
uputil — helpers for the `cairn up` tests (up/): start and stop the one
process on free ports in a scratch directory, run `cairn sim` against it,
read ble-raw back with `cairn log dump`, and compute the expected
leaderboard from the stored pings and the hunt file.

The leaderboard model is written from docs/hunts.md ("The
rules") and shares no code with the worker: checks in order (bad player,
unknown beacon, bad rssi, bad time against the log's record time, outside
the hunt window [starts_at, ends_at), out of order, duplicate), then a hit
is rssi >= rssi_min (inclusive) at a beacon not found yet (with "sequence"
only the first one not found), and the beacon is found when the hits at it
in [T - window_s, T] (both ends inclusive) reach `hits`.
"""

if not __debug__:  # the checks here are assert statements: python -O would strip them
    raise SystemExit("cairn's integration tests check with assert: run them without python -O")
import datetime
import json
import os
import re
import signal
import subprocess
import time
import urllib.request

BIN = os.environ.get("CAIRN_BIN") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "build", "cairn")
SRC = os.environ.get("CAIRN_SRC") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")


class Up:
    """`cairn up` on free ports (port 0 + --port-file), stopped by its PID."""

    def __init__(self, tmp, data, extra=()):
        self.tmp, self.data, self.extra = tmp, data, list(extra)
        self.proc, self.port, self.runs = None, None, 0
        self.http = "127.0.0.1:0"  # a restart may ask for the port it had

    def start(self, timeout=30):
        self.runs += 1
        pf = os.path.join(self.tmp, "up.port")
        if os.path.exists(pf):
            os.unlink(pf)
        self.out = open(os.path.join(self.tmp, "up-%d.out" % self.runs), "w")
        self.err = open(os.path.join(self.tmp, "up-%d.err" % self.runs), "w")
        self.proc = subprocess.Popen(
            [BIN, "up", "--data", self.data, "--http", self.http, "--kafka", "127.0.0.1:0",
             "--port-file", pf] + self.extra, stdout=self.out, stderr=self.err)
        t0 = time.monotonic()
        while not os.path.exists(pf):
            if self.proc.poll() is not None:
                raise SystemExit("cairn up exited %d at start: %s" % (self.proc.returncode, self.stderr()))
            if time.monotonic() - t0 > timeout:
                raise SystemExit("cairn up did not write its port file within %d s" % timeout)
            time.sleep(0.05)
        self.port = int(open(pf).read())
        # The port file is written before the hunt thread starts and the
        # start block is printed: wait for the block too, so callers that
        # read stdout right away see it.
        while "cairn up: the venue is running" not in self.stdout():
            if self.proc.poll() is not None:
                raise SystemExit("cairn up exited %d at start: %s" % (self.proc.returncode, self.stderr()))
            if time.monotonic() - t0 > timeout:
                raise SystemExit("cairn up did not print its start block within %d s" % timeout)
            time.sleep(0.05)
        return self

    def stderr(self):
        if not self.err.closed:
            self.err.flush()
        return open(self.err.name).read()

    def stdout(self):
        if not self.out.closed:
            self.out.flush()
        return open(self.out.name).read()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def ws(self):
        return "ws://127.0.0.1:%d/ws" % self.port

    def get(self, path, timeout=10):
        with urllib.request.urlopen(self.url(path), timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()

    def json(self, path):
        return json.loads(self.get(path)[2])

    def metrics(self):
        out = {}
        for line in self.get("/metrics")[2].decode().splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def wait_caught_up(self, records, timeout=60):
        """Until the worker's committed offsets cover `records` ble-raw records."""
        t0 = time.monotonic()
        while True:
            m = self.metrics()
            done = sum(v for k, v in m.items() if k.startswith("cairn_hunt_next_offset{"))
            if done >= records:
                return
            if time.monotonic() - t0 > timeout:
                raise SystemExit("worker at %d of %d records after %d s" % (done, records, timeout))
            time.sleep(0.2)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.out.close()
        self.err.close()
        return rc


def sim(up, tmp, name, *args, timeout=120):
    """Run `cairn sim`; returns (exit status, report dict, [pings generated])."""
    rep, pings = os.path.join(tmp, name + ".json"), os.path.join(tmp, name + ".pings")
    p = subprocess.run([BIN, "sim", "--url", up.ws(), "--report", rep, "--pings-out", pings] + list(args),
                       capture_output=True, timeout=timeout)
    report = json.load(open(rep)) if os.path.exists(rep) else {}
    gen = [json.loads(l) for l in open(pings)] if os.path.exists(pings) else []
    return p.returncode, report, gen, p.stdout.decode() + p.stderr.decode()[-2000:]


def dump_pings(data):
    """ble-raw as stored: (partition, offset, record time, player, ping) in log order."""
    out = subprocess.run([BIN, "log", "dump", "ble-raw", "--data", data, "--format", "json"],
                         check=True, capture_output=True, timeout=120).stdout.decode()
    recs = []
    for line in out.splitlines():
        r = json.loads(line)
        v = r["value"]
        recs.append((r["partition"], r["offset"], r["timestamp_ms"], v["subject"], v["data"]))
    recs.sort(key=lambda t: (t[0], t[1]))
    return recs


def _ms(s):
    return int(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)


_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")


def expected_leaderboard(hunt, recs):
    """Players who had an accepted ping, best first: score descending, then
    earlier last find, then player id (docs/cli.md, /api/leaderboard)."""
    ids = [b["id"] for b in hunt["beacons"]]
    pts = {b["id"]: b["points"] for b in hunt["beacons"]}
    f = hunt["found"]
    win = f["window_s"] * 1000
    start = _ms(hunt["starts_at"]) if "starts_at" in hunt else None
    end = _ms(hunt["ends_at"]) if "ends_at" in hunt else None
    seq = hunt.get("order", "any") == "sequence"
    players = {}
    for _part, _off, recv, player, d in recs:
        beacon, rssi, ts = d.get("beacon"), d.get("rssi"), d.get("ts")
        if not _ID.match(player or "") or beacon not in pts or not -127 <= rssi <= 20:
            continue
        if not 946684800000 <= ts < 4102444800000 or not ts - 300000 <= recv <= ts + 86400000:
            continue
        if (start is not None and ts < start) or (end is not None and ts >= end):
            continue
        p = players.get(player)
        if p and (ts < p["last_seen"] or (ts == p["last_seen"] and beacon == p["at"])):
            continue  # out of order / duplicate: ignored
        if not p:
            p = players[player] = {"player": player, "found": [], "score": 0, "last_found": 0, "hits": []}
        p["last_seen"], p["at"] = ts, beacon
        p["hits"] = [(b, t) for b, t in p["hits"] if t >= ts - win]
        nxt = next((b for b in ids if b not in p["found"]), None)
        if rssi < f["rssi_min"] or beacon in p["found"] or nxt is None or (seq and beacon != nxt):
            continue
        p["hits"].append((beacon, ts))
        if sum(1 for b, _ in p["hits"] if b == beacon) >= f["hits"]:
            p["found"].append(beacon)
            p["score"] += pts[beacon]
            p["last_found"] = ts
            p["hits"] = [(b, t) for b, t in p["hits"] if b != beacon]
    rows = sorted(players.values(), key=lambda p: (-p["score"], p["last_found"], p["player"].encode()))
    return [{"player": p["player"], "score": p["score"], "found": len(p["found"]),
             "last_seen": p["last_seen"], "last_found": p["last_found"]} for p in rows]


def actual_leaderboard(up, limit=1000):
    return [{k: r[k] for k in ("player", "score", "found", "last_seen", "last_found")}
            for r in up.json("/api/leaderboard?limit=%d" % limit)]


def compare(expected, actual):
    if expected == actual:
        return None
    for i, (e, a) in enumerate(zip(expected, actual)):
        if e != a:
            return "row %d: expected %s, got %s" % (i, e, a)
    return "expected %d rows, got %d" % (len(expected), len(actual))
