# SPDX-License-Identifier: MIT
"""
huntutil — helpers for the hunt worker integration tests (05NN-*):
CloudEvent ping records encoded by hand (protobuf, no generated code, so
the tests do not share the worker's codec), a producer that writes them to
ble-raw of a real `cairn logd` with kafka-python, a `cairn hunt` process
wrapper (start on a free port, stop by PID with SIGTERM expecting exit 0,
or SIGKILL), HTTP getters, `cairn log dump` readers, and an independent
reference model of the game rules of docs/hunts.md (written from the
document, not from hunt_game.c).  Not a test itself (no NNNN- prefix).
"""
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
    os.path.dirname(__file__), "..", "..", "build", "cairn")


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
