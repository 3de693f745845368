# SPDX-License-Identifier: MIT
"""
sim/gateway — `cairn sim` against a real `cairn gateway --log DIR`.
  1. a seeded run (120 players, 10 s, --idle-close 1s so phones that rest
     are idle-closed and reconnect): exit 0, the report says every ping
     was acked once, players reconnected, and every ping in --pings-out
     (= every acked id) is in `cairn log dump ble-raw --format json`, with
     the same player, beacon, rssi and ts;
  2. determinism: the same seed and --start-ms give the same pings (run
     tag aside), another seed other pings;
  3. several source addresses: --sources 3 under --max-conns-per-ip 12 with
     30 players connects without a refusal (one address would get 429s);
  4. tokens: --token-key signs tokens the gateway's --auth-key accepts (with
     --max-connecting 2, so players wait in the connect queue); a wrong key
     gets 401 and exit 1;
  5. failure is reported: the gateway is SIGKILLed mid-run, so pings go
     unacked: exit 1 and unacked > 0 in the report;
  6. usage errors exit 2.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from gwutil import BIN, Gateway  # noqa: E402

fails = []
scratch = []  # removed at the end when every check passed


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


def sim(gw, *args, timeout=120):
    tmp = tempfile.mkdtemp(prefix="cairn-sim-")
    scratch.extend([tmp, gw.tmp])
    rep, pings = os.path.join(tmp, "report.json"), os.path.join(tmp, "pings.jsonl")
    cmd = [BIN, "sim", "--url", gw.url("x=1").split("?")[0], "--report", rep, "--pings-out", pings] + list(args)
    p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    report = json.load(open(rep)) if os.path.exists(rep) and os.path.getsize(rep) else None
    lines = [json.loads(l) for l in open(pings)] if os.path.exists(pings) else []
    return p.returncode, report, lines, p.stdout.decode(), p.stderr.decode()


def log_pings(data):
    out = subprocess.run([BIN, "log", "dump", "ble-raw", "--data", data, "--format", "json"],
                         check=True, capture_output=True, timeout=120).stdout.decode()
    got = {}
    for line in out.splitlines():
        rec = json.loads(line)
        d = rec["value"]["data"]
        got.setdefault(d["id"], []).append((rec["key"], d["beacon"], d["rssi"], d["ts"]))
    return got


def part1():
    gw = Gateway(["--idle-close", "1s"]).start()
    try:
        rc, rep, lines, out, err = sim(gw, "--players", "120", "--duration", "10s", "--seed", "5")
    finally:
        gw.stop()
    check(rc == 0, "seeded run exits 0 (got %d): %s %s" % (rc, out, err[-500:]))
    check(rep and rep["ok"] and rep["pings"] == rep["acked"] and rep["unacked"] == 0, "report: all acked %r" % rep)
    check(rep and rep["pings"] == len(lines) > 1000, "--pings-out has every ping (%d)" % len(lines))
    check(rep and rep["idle_closes"] > 0 and rep["connects"] > 120, "players were idle-closed and reconnected")
    check(rep and rep["ack_latency_ms"]["p50"] > 0 and rep["ack_latency_ms"]["p99"] >= rep["ack_latency_ms"]["p50"],
          "latency quantiles reported")
    check("pings/s" in err and "p99" in err, "progress line on stderr")
    check(out.startswith("ok: 120 players"), "human summary on stdout: %r" % out[:80])
    ids = [l["id"] for l in lines]
    check(len(set(ids)) == len(ids), "ping ids are unique")
    got = log_pings(gw.data)
    missing = [l for l in lines if l["id"] not in got]
    check(not missing, "%d acked pings missing from the log, e.g. %r" % (len(missing), missing[:3]))
    bad = [l for l in lines if l["id"] in got and (l["player"], l["beacon"], l["rssi"], l["ts"]) not in got[l["id"]]]
    check(not bad, "log holds what was sent: %r" % bad[:3])
    players = {l["player"] for l in lines}
    check(len(players) == 120, "all 120 players sent pings")
    strong = sum(1 for l in lines if l["rssi"] >= -70)
    check(0 < strong < len(lines), "some but not all readings are near a beacon (%d/%d)" % (strong, len(lines)))


def part2():
    gw = Gateway().start()
    runs = []
    start = str(int(time.time() * 1000) - 60000)  # one t=0 for all three runs: ts must match exactly
    try:
        for seed, tag in ((17, "a-"), (17, "b-"), (18, "c-")):
            rc, rep, lines, out, err = sim(gw, "--players", "25", "--duration", "3s", "--seed", str(seed),
                                           "--start-ms", start, "--id-prefix", tag)
            check(rc == 0, "determinism run %s exits 0: %s" % (tag, err[-300:]))
            runs.append(sorted(json.dumps(dict(l, id=l["id"][len(tag):]), sort_keys=True) for l in lines))
    finally:
        gw.stop()
    check(runs[0] == runs[1] and len(runs[0]) > 50, "same seed, same pings")
    check(runs[0] != runs[2], "another seed, other pings")


def part3():
    gw = Gateway(["--max-conns-per-ip", "12"]).start()
    try:
        # A bare number is seconds, as sleep(1) reads it: "2" is a 2 s run.
        rc, rep, lines, out, err = sim(gw, "--players", "30", "--duration", "2", "--sources", "3")
        check(rc == 0 and rep["sources"] == 3 and rep["connect_failures"] == 0,
              "3 source addresses stay under 12 per address: %r" % rep)
        check(rep["duration_s"] == 2 and rep["pings"] > 0, "--duration 2 is two seconds: %r" % rep)
        rc, rep, lines, out, err = sim(gw, "--players", "30", "--duration", "2s", "--sources", "1",
                                       "--ack-timeout", "2s")
        check(rc == 1 and rep["connect_failures"] > 0 and "429" in rep["first_error"],
              "one source address is refused with 429 beyond 12: %r" % rep)
    finally:
        gw.stop()


def part3b():
    # Nothing listens: no ping is ever sent, and a run that showed nothing is not ok.
    p = subprocess.run([BIN, "sim", "--url", "ws://127.0.0.1:1/ws", "--players", "2", "--duration", "1",
                        "--ack-timeout", "1s"], capture_output=True, timeout=60)
    check(p.returncode == 1 and p.stdout.decode().startswith("FAILED"),
          "a run that sent no ping fails (exit %d): %r" % (p.returncode, p.stdout[:200]))


def part4():
    tmp = tempfile.mkdtemp(prefix="cairn-sim-key-")
    key, other = os.path.join(tmp, "hunt.key"), os.path.join(tmp, "other.key")
    for k in (key, other):
        subprocess.run([BIN, "token", "keygen", "--out", k], check=True, capture_output=True)
    gw = Gateway(["--auth-key", key + ".pub"]).start()
    try:
        rc, rep, lines, out, err = sim(gw, "--players", "10", "--duration", "2s", "--token-key", key,
                                       "--max-connecting", "2")
        check(rc == 0 and rep["ok"] and rep["connects"] >= 10,
              "signed tokens accepted (2 handshakes at a time, the rest queued): %r" % rep)
        rc, rep, lines, out, err = sim(gw, "--players", "3", "--duration", "1s", "--token-key", other,
                                       "--ack-timeout", "1s")
        check(rc == 1 and "401" in rep["first_error"] and rep["unacked"] > 0, "wrong key: 401, exit 1: %r" % rep)
    finally:
        gw.stop()


def part5():
    gw = Gateway().start()
    tmp = tempfile.mkdtemp(prefix="cairn-sim-")
    rep_path = os.path.join(tmp, "r.json")
    p = subprocess.Popen([BIN, "sim", "--url", "ws://127.0.0.1:%d/ws" % gw.port, "--players", "30",
                          "--duration", "6s", "--ack-timeout", "2s", "--report", rep_path],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2.5)
    gw.kill()
    out, err = p.communicate(timeout=60)
    rep = json.load(open(rep_path))
    check(p.returncode == 1, "killed gateway: exit 1 (got %d)" % p.returncode)
    check(not rep["ok"] and rep["unacked"] > 0 and rep["acked"] > 0, "killed gateway: unacked counted %r" % rep)
    check(out.decode().startswith("FAILED"), "summary says FAILED")


def part6():
    for args in (["--rate", "0"], ["--players", "0"], ["--url", "http://127.0.0.1:1/ws"], ["--bogus"],
                 ["--duration", "soon"], ["--player-prefix", "a b"]):
        p = subprocess.run([BIN, "sim"] + args, capture_output=True, timeout=30)
        check(p.returncode == 2 and p.stderr.count(b"\n") >= 1, "usage error %r exits 2 (%d)" % (args, p.returncode))
    p = subprocess.run([BIN, "sim", "--help"], capture_output=True, timeout=30)
    check(p.returncode == 0 and b"--players" in p.stdout and b"60s" in p.stdout, "--help lists flags and defaults")
    p = subprocess.run([BIN, "sim", "--hunt", "/nonexistent.json"], capture_output=True, timeout=30)
    check(p.returncode == 1 and b"nonexistent" in p.stderr, "missing hunt file: exit 1 naming it")


for part in (part1, part2, part3, part3b, part4, part5, part6):
    t = time.time()
    part()
    print("%s done in %.1fs" % (part.__name__, time.time() - t))
if fails:
    print("%d failures" % len(fails))
    sys.exit(1)
for d in set(scratch):
    shutil.rmtree(d, ignore_errors=True)
print("ok")
