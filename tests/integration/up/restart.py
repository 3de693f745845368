#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
up/restart — SIGTERM `cairn up` in the middle of a simulation, start
it again on the same data directory, later SIGKILL it and start it again,
and let the simulation carry on throughout (its players reconnect and
resend what was not acknowledged).  With a hunt file of its own (--hunt: a window that is
open, hits 3 within 8 s at -68 dBm), this checks:
  1. the drain exits 0 while players are sending, and each restart serves
     the same port's clients again (the sim reconnects, exit 0: every ping
     acknowledged exactly once from its point of view);
  2. nothing acknowledged is lost: every ping the sim generated (all acked)
     is in ble-raw after the restart;
  3. nothing is counted twice: /api/leaderboard equals the leaderboard
     computed from the stored pings, and hunt-events holds exactly one
     beacon_found per player and beacon, as many as the model's finds.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import uputil as uu  # noqa: E402

SEED = int(os.environ.get("SEED", "604"))


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)


def hunt_file(tmp):
    hunt = json.load(open(os.path.join(uu.SRC, "hunt", "sample-hunt.json")))
    now = time.time()
    hunt.update({"id": "restart-test", "found": {"rssi_min": -68, "hits": 3, "window_s": 8},
                 "starts_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)),
                 "ends_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 86400))})
    path = os.path.join(tmp, "hunt.json")
    json.dump(hunt, open(path, "w"))
    return hunt, path


def main():
    tmp = tempfile.mkdtemp(prefix="cairn-up-restart-")
    data = os.path.join(tmp, "data")
    hunt, hpath = hunt_file(tmp)
    up = uu.Up(tmp, data, extra=["--hunt", hpath, "--idle-close", "2s"]).start()
    rep, pings = os.path.join(tmp, "sim.json"), os.path.join(tmp, "sim.pings")
    simp = subprocess.Popen([uu.BIN, "sim", "--url", up.ws(), "--players", "40", "--duration", "22s", "--seed",
                             str(SEED), "--hunt", hpath, "--ack-timeout", "30s", "--report", rep,
                             "--pings-out", pings], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(6)
    before = up.metrics().get("cairn_gateway_acks_total", 0)
    t0 = time.monotonic()
    rc = up.stop(signal.SIGTERM)
    drain_s = time.monotonic() - t0
    check(rc == 0, "first run exited %d on SIGTERM: %s" % (rc, up.stderr()[-2000:]))
    check(before > 0, "no pings acknowledged before the SIGTERM")
    # The same port again, so the running sim finds it.
    port = up.port
    up.http = "127.0.0.1:%d" % port
    up.start()
    check(up.port == port, "restart bound %d, not %d" % (up.port, port))
    # Then the hard way: SIGKILL mid-simulation (no drain), start again.
    time.sleep(5)
    up.proc.send_signal(signal.SIGKILL)
    up.proc.wait(timeout=30)
    up.out.close()
    up.err.close()
    up.start()
    check(up.port == port, "restart after SIGKILL bound %d, not %d" % (up.port, port))
    out, err = simp.communicate(timeout=90)
    report = json.load(open(rep))
    check(simp.returncode == 0 and report["unacked"] == 0 and report["acked_twice"] == 0,
          "sim across the restart failed (%d): %s" % (simp.returncode, (out + err).decode()[-3000:]))
    gen = [json.loads(l) for l in open(pings)]
    check(report["other_closes"] + report["connect_failures"] > 0,
          "the sim did not notice the restart: %s" % report)

    recs = uu.dump_pings(data)
    stored = {d["id"] for _, _, _, _, d in recs}
    missing = [g["id"] for g in gen if g["id"] not in stored]
    check(not missing, "%d acknowledged pings lost, e.g. %s" % (len(missing), missing[:3]))
    up.wait_caught_up(len(recs))
    want = uu.expected_leaderboard(hunt, recs)
    diff = uu.compare(want, uu.actual_leaderboard(up))
    check(diff is None, "leaderboard differs from the model after the restart: " + str(diff))
    finds = sum(r["found"] for r in want)
    check(finds > 0, "no beacon found: the check proves little")

    dump = subprocess.run([uu.BIN, "log", "dump", "hunt-events", "--data", data, "--format", "json"],
                          check=True, capture_output=True, timeout=60).stdout.decode().splitlines()
    found = [(v["data"]["player"], v["data"]["beacon"]) for v in (json.loads(l)["value"] for l in dump)
             if v["type"] == "cairn.hunt.beacon_found"]
    check(len(found) == len(set(found)) == finds,
          "hunt-events: %d beacon_found (%d distinct), model %d" % (len(found), len(set(found)), finds))
    rc = up.stop()
    check(rc == 0, "second run exited %d: %s" % (rc, up.stderr()[-2000:]))
    print("ok: drain %.2f s mid-simulation, then a SIGKILL, %d pings (%d resends), %d players, %d finds once each; "
          "leaderboard equals the model" % (drain_s, len(recs), report["resends"], len(want), finds))
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
