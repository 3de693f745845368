# SPDX-License-Identifier: MIT
"""
huntutil — helpers for the hunt worker integration tests (hunt/):
CloudEvent ping records encoded by hand (protobuf, no generated code, so
the tests do not share the worker's codec), a producer that writes them to
ble-raw of a real `cairn logd` with kafka-python, a `cairn hunt` process
wrapper (start on a free port, stop by PID with SIGTERM expecting exit 0,
or SIGKILL), HTTP getters, `cairn log dump` readers, and an independent
reference model of the game rules of docs/hunts.md (written from the
document, not from hunt_game.c).  Not a test itself (tests/integration/lib/ holds
shared helpers; tests/CMakeLists.txt registers only the module folders).
"""

if not __debug__:  # the checks here are assert statements: python -O would strip them
    raise SystemExit("cairn's integration tests check with assert: run them without python -O")
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.request
import urllib.error

BIN = os.environ.get("CAIRN_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "build", "cairn")


# ---- protobuf by hand ---------------------------------------------------------

def _varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def _ld(field, data):
    if isinstance(data, str):
        data = data.encode()
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _vi(field, n):
    return _varint(field << 3) + _varint(n)


def pb_bleping(cid, beacon, rssi, ts, player):
    zz = ((rssi << 1) ^ (rssi >> 31)) & 0xFFFFFFFF
    return (_ld(1, cid) + _ld(2, beacon) + _vi(3, zz) + _vi(4, ts) + _ld(5, player))


def _attr(name, value_msg):
    return _ld(5, _ld(1, name) + _ld(2, value_msg))


def ce_ping(ce_id, cid, player, beacon, rssi, ts, node="test"):
    """A cairn.ble.ping CloudEvent as the gateway writes it."""
    sec, ms = divmod(ts, 1000) if ts >= 0 else (0, 0)
    t = _vi(1, sec) + _vi(2, ms * 1000000)
    anyv = _ld(1, "type.googleapis.com/cairn.v1.BlePing") + _ld(2, pb_bleping(cid, beacon, rssi, ts, player))
    return (_ld(1, ce_id) + _ld(2, "/gateway/" + node) + _ld(3, "1.0") + _ld(4, "cairn.ble.ping")
            + _attr("time", _ld(7, t)) + _attr("subject", _ld(3, player))
            + _attr("datacontenttype", _ld(3, "application/protobuf")) + _ld(8, anyv))


def partition_of(player, n):
    """FNV-1a, as the gateway places players (docs/protocol.md)."""
    h = 2166136261
    for c in player.encode():
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h % n


# ---- processes ------------------------------------------------------------------

class Logd:
    def __init__(self, data, partitions=4):
        self.data = data
        self.tmp = tempfile.mkdtemp(prefix="cairn-hl-")
        self.partitions = partitions
        self.proc = None

    def start(self, timeout=20):
        pf = os.path.join(self.tmp, "port")
        if os.path.exists(pf):
            os.unlink(pf)
        self.logf = open(os.path.join(self.tmp, "logd.log"), "ab")
        self.proc = subprocess.Popen(
            [BIN, "logd", "--data", self.data, "--kafka-listen", "127.0.0.1:0", "--port-file", pf,
             "--partitions", str(self.partitions)], stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("logd exited %d" % self.proc.returncode)
            if os.path.exists(pf):
                self.port = int(open(pf).read())
                return self
            time.sleep(0.05)
        raise RuntimeError("logd did not start")

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        self.logf.close()
        assert rc == 0, "logd exited %d after SIGTERM" % rc


def produce(bootstrap, records):
    """records: (partition, key bytes, value bytes, timestamp ms), written in
    order (one in flight, acks=all) so offsets follow the list per partition."""
    from kafka import KafkaProducer
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", max_in_flight_requests_per_connection=1,
                      linger_ms=5, batch_size=256 * 1024, api_version=(2, 5, 0))
    for part, key, value, ts in records:
        p.send("ble-raw", key=key, value=value, partition=part, timestamp_ms=ts,
               headers=[("content-type", b"application/cloudevents+protobuf")])
    p.flush(timeout=60)
    p.close()


class Hunt:
    def __init__(self, backend, state, hunt_file, tmp, extra=()):
        self.backend = list(backend)
        self.state = state
        self.hunt_file = hunt_file
        self.tmp = tmp
        self.extra = list(extra)
        self.proc = None
        self.port = None
        self.log_path = os.path.join(tmp, "hunt.log")

    def start(self, timeout=30, wait_port=True):
        pf = os.path.join(self.tmp, "hunt-port")
        if os.path.exists(pf):
            os.unlink(pf)
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BIN, "hunt"] + self.backend + ["--state", self.state, "--hunt", self.hunt_file,
                                            "--http", "127.0.0.1:0", "--port-file", pf] + self.extra,
            stdout=self.logf, stderr=subprocess.STDOUT, env=dict(os.environ, CAIRN_LOG="info"))
        if not wait_port:
            return self
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("hunt exited %d:\n%s" % (self.proc.returncode, self.log()))
            if os.path.exists(pf):
                self.port = int(open(pf).read())
                return self
            time.sleep(0.01)
        raise RuntimeError("hunt did not start:\n" + self.log())

    def log(self):
        try:
            return open(self.log_path, "rb").read().decode(errors="replace")
        except OSError:
            return ""

    def get(self, path):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def json(self, path):
        code, body = self.get(path)
        assert code == 200, (path, code, body)
        return json.loads(body)

    def metric(self, name):
        body = self.get("/metrics")[1].decode()
        for line in body.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return None

    def lag(self):
        body = self.get("/metrics")[1].decode()
        return sum(float(l.split()[-1]) for l in body.splitlines() if l.startswith("cairn_hunt_lag_records{"))

    def committed(self):
        """Input records committed (sum of the stored next offsets)."""
        body = self.get("/metrics")[1].decode()
        return sum(int(l.split()[-1]) for l in body.splitlines() if l.startswith("cairn_hunt_next_offset{"))

    def stop(self, timeout=60):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        self.logf.close()
        assert rc == 0, "hunt exited %d after SIGTERM:\n%s" % (rc, self.log())

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.logf.close()


def dump(data, topic):
    """Every record of a topic, via `cairn log dump --format json` (read-only)."""
    out = subprocess.run([BIN, "log", "dump", topic, "--data", data, "--format", "json"],
                         check=True, capture_output=True, timeout=120).stdout.decode()
    return [json.loads(l) for l in out.splitlines() if l.strip()]


# ---- the reference model (docs/hunts.md, "The rules") --------------------------

TS_MIN = 946684800000   # 2000-01-01
TS_MAX = 4102444800000  # 2100-01-01
_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")


class Model:
    """Applies pings in log order and records the expected state and events.
    Written from docs/hunts.md; shares no code with the worker."""

    def __init__(self, hunt):
        self.h = hunt
        self.ids = [b["id"] for b in hunt["beacons"]]
        self.index = {b: i for i, b in enumerate(self.ids)}
        self.points = [b["points"] for b in hunt["beacons"]]
        f = hunt["found"]
        self.rssi_min, self.hits, self.window = f["rssi_min"], f["hits"], f["window_s"] * 1000
        self.start = _rfc3339_ms(hunt["starts_at"]) if "starts_at" in hunt else None
        self.end = _rfc3339_ms(hunt["ends_at"]) if "ends_at" in hunt else None
        self.players = {}   # id -> dict(progress + session)
        self.events = {}    # partition -> [event dict]
        self.counts = {}    # reason -> n

    def _count(self, reason):
        self.counts[reason] = self.counts.get(reason, 0) + 1

    def bad_record(self, partition, offset):
        self._count("bad_record")

    def ping(self, partition, offset, recv_ms, cid, player, beacon, rssi, ts):
        if not isinstance(player, str) or not _ID.match(player):
            return self._count("bad_player")
        if beacon not in self.index:
            return self._count("unknown_beacon")
        b = self.index[beacon]
        if rssi < -127 or rssi > 20:
            return self._count("bad_rssi")
        if ts < TS_MIN or ts >= TS_MAX or (recv_ms > 0 and not (ts - 300000 <= recv_ms <= ts + 86400000)):
            return self._count("bad_time")
        if (self.start is not None and ts < self.start) or (self.end is not None and ts >= self.end):
            return self._count("outside_hunt")
        p = self.players.get(player)
        if p is not None:
            if ts < p["last_seen"]:
                return self._count("out_of_order")
            if ts == p["last_seen"] and b == p["at"]:
                return self._count("duplicate")
        self._count("accepted")
        evs = []
        if p is None:
            p = self.players[player] = dict(player=player, score=0, found=[], joined=ts, last_seen=ts,
                                            last_found=0, at=None, pending=[], completed=False)
            evs.append(("player_joined", "", p["score"], 0))
        p["last_seen"], p["at"] = ts, b
        p["pending"] = [(hb, ht) for hb, ht in p["pending"] if ht >= ts - self.window]
        nxt = next((i for i in range(len(self.ids)) if i not in p["found"]), None)
        hit = (rssi >= self.rssi_min and b not in p["found"] and not p["completed"]
               and (self.h.get("order", "any") != "sequence" or b == nxt))
        if hit:
            n = 1 + sum(1 for hb, _ in p["pending"] if hb == b)
            if n >= self.hits:
                p["found"].append(b)
                p["score"] += self.points[b]
                p["last_found"] = ts
                p["pending"] = [(hb, ht) for hb, ht in p["pending"] if hb != b]
                evs.append(("beacon_found", self.ids[b], p["score"], len(p["found"])))
                if self.points[b]:
                    evs.append(("score_changed", "", p["score"], len(p["found"])))
                if len(p["found"]) == len(self.ids):
                    p["completed"] = True
                    evs.append(("hunt_completed", "", p["score"], len(p["found"])))
            else:
                p["pending"].append((b, ts))
        out = self.events.setdefault(partition, [])
        for k, (kind, bid, score, found) in enumerate(evs):
            out.append({"id": "%s/%d/%d/%d" % (self.h["id"], partition, offset, k),
                        "type": "cairn.hunt." + kind, "subject": player,
                        "data": {"hunt": self.h["id"], "player": player, "kind": kind, "beacon": bid,
                                 "score": score, "found": found, "ts": ts, "cause_ping_id": cid,
                                 "input_partition": partition, "input_offset": offset}})

    def leaderboard(self):
        rows = sorted(self.players.values(), key=lambda p: (-p["score"], p["last_found"], p["player"].encode()))
        return [{"player": p["player"], "score": p["score"], "found": len(p["found"]),
                 "last_seen": p["last_seen"], "last_found": p["last_found"]} for p in rows]

    def player(self, pid):
        p = self.players[pid]
        return {"player": pid, "score": p["score"], "found": len(p["found"]), "completed": p["completed"],
                "joined": p["joined"], "last_seen": p["last_seen"], "last_found": p["last_found"],
                "beacons": [self.ids[i] for i in sorted(p["found"])]}


def _rfc3339_ms(s):
    import datetime
    return int(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)


def run_model(hunt, data, pings_by_ce_id):
    """Feed the model ble-raw in log order (positions from `cairn log dump`,
    contents from the test's own ping table keyed by CloudEvent id)."""
    m = Model(hunt)
    recs = dump(data, "ble-raw")
    recs.sort(key=lambda r: (r["partition"], r["offset"]))
    for r in recs:
        v = r.get("value")
        ce_id = v.get("id") if isinstance(v, dict) and "value_error" not in r else None
        if ce_id not in pings_by_ce_id:
            m.bad_record(r["partition"], r["offset"])
            continue
        cid, player, beacon, rssi, ts = pings_by_ce_id[ce_id]
        m.ping(r["partition"], r["offset"], r["timestamp_ms"], cid, player, beacon, rssi, ts)
    return m


def actual_events(data):
    """hunt-events per partition, in offset order, as the model writes them."""
    out = {}
    for r in sorted(dump(data, "hunt-events"), key=lambda r: (r["partition"], r["offset"])):
        v = r["value"]
        out.setdefault(r["partition"], []).append(
            {"id": v["id"], "type": v["type"], "subject": v["subject"], "data": v["data"]})
    return out


def check_state(h, model):
    """The worker's HTTP view equals the model: leaderboard and every player."""
    want = model.leaderboard()
    got = h.json("/api/leaderboard?limit=1000")
    for row in got:
        row.pop("rank", None)
    assert got == want[:1000], "leaderboard differs:\n got %s\nwant %s" % (got[:5], want[:5])
    for pid in model.players:
        g = h.json("/api/players/" + urllib.request.quote(pid, safe=""))
        g.pop("session", None)
        assert g == model.player(pid), "player %s differs:\n got %s\nwant %s" % (pid, g, model.player(pid))


# ---- a seeded workload ------------------------------------------------------------

T0 = 1764352800000  # 2025-11-28T18:00:00Z: ping times are fixed; records carry their own receive time


def test_hunt(order="any"):
    return {"id": "kill-night", "name": "Kill test night", "order": order,
            "starts_at": "2025-11-28T18:00:00Z", "ends_at": "2025-11-28T22:00:00Z",
            "found": {"rssi_min": -70, "hits": 2, "window_s": 10},
            "session_ttl_s": 604800, "audit_ttl_s": 7776000,
            "beacons": [{"id": "b-%02d" % i, "name": "Beacon %d" % i, "x": float(i), "y": 2.0 * i,
                         "points": [5, 10, 0, 15, 20, 10][i % 6], "clue": "clue %d" % i} for i in range(6)]}


def workload(rng, hunt, players, pings_per_player, partitions, hostile=False):
    """Pings of `players` walkers (seeded): mostly near beacons in time order,
    with resends (duplicates), late pings, weak signals, pings before the
    doors open; with hostile=True also unknown beacons, absurd RSSI and
    times, bad player ids and records that are not pings at all.
    Returns (records for produce(), {ce_id: (cid, player, beacon, rssi, ts)})."""
    beacons = [b["id"] for b in hunt["beacons"]]
    streams = []
    for n in range(players):
        player = "p%04d" % n
        ts = T0 - rng.randint(0, 60000) if rng.random() < 0.1 else T0 + rng.randint(0, 600000)
        seq = []
        at = rng.choice(beacons)
        for i in range(pings_per_player):
            r = rng.random()
            if r < 0.2:
                at = rng.choice(beacons)
            ts += rng.randint(500, 6000)
            rssi = rng.randint(-85, -45)
            pts, b, pl = ts, at, player
            k = rng.random()
            if k < 0.03 and seq:
                pts, b = seq[-1][3], seq[-1][1]        # a resend of the last ping
            elif k < 0.05:
                pts = ts - rng.randint(1000, 20000)    # a late ping
            recv = pts + rng.randint(0, 2000)
            if hostile:
                h = rng.random()
                if h < 0.02:
                    b = "nope-%d" % rng.randint(0, 9)
                elif h < 0.04:
                    rssi = rng.choice([-128, 21, 127, -1000])
                elif h < 0.06:
                    pts = rng.choice([0, -5, 5000000000000, 946684799999])
                elif h < 0.07:
                    recv = pts + rng.choice([86400001, -300001])
                elif h < 0.08:
                    pl = rng.choice(["bad player", "x" * 65, "semi;colon", "ünï"])
            seq.append((pl, b, rssi, pts, recv))
        streams.append(seq)
    recs, table, n = [], {}, 0
    # Interleave the players' streams as a venue would (each stream in order).
    idx = [0] * players
    live = list(range(players))
    while live:
        j = rng.randrange(len(live))
        s = live[j]
        pl, b, rssi, ts, recv = streams[s][idx[s]]
        idx[s] += 1
        if idx[s] == len(streams[s]):
            live[j] = live[-1]
            live.pop()
        ce_id = "ce-%d" % n
        cid = "c-%d" % n
        n += 1
        table[ce_id] = (cid, pl, b, rssi, ts)
        part = partition_of("p%04d" % s, partitions)
        recs.append((part, pl.encode(), ce_ping(ce_id, cid, pl, b, rssi, ts), recv))
        if hostile and rng.random() < 0.01:
            junk = rng.choice([b"\x00\x01garbage", b"", ce_ping("x", "y", "p", "b-00", -50, ts)[:-3],
                               _ld(1, "id") + _ld(2, "/s") + _ld(3, "1.0") + _ld(4, "not.a.ping")])
            recs.append((part, b"junk", junk, recv))
    return recs, table
