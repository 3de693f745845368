#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
up/e2e — `cairn up` end to end with its embedded defaults (the bundled
sample hunt, topics created at start), on free ports in a scratch
directory:
  1. the start block says where everything is; /healthz, / (the embedded
     dashboard), /api/beacons (the bundled hunt), /api/stats and the
     dashboard's event stream answer on the gateway's port;
  2. a seeded `cairn sim` (50 players, 12 s) gets every ping acknowledged,
     and every ping it generated is in ble-raw (`cairn log dump`);
  3. /api/leaderboard equals the leaderboard computed here from the pings
     as stored (with the log's record times) and the hunt file, exactly:
     player, score, found, last_seen, last_found, in order;
  4. /metrics carries the gateway's, the worker's and the log's series;
  5. SIGTERM drains and exits 0.
"""
import json
import os
import shutil
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import uputil as uu  # noqa: E402

SEED = int(os.environ.get("SEED", "603"))


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)


def main():
    tmp = tempfile.mkdtemp(prefix="cairn-up-e2e-")
    data = os.path.join(tmp, "data")
    hunt = json.load(open(os.path.join(uu.SRC, "hunt", "sample-hunt.json")))
    up = uu.Up(tmp, data).start()
    try:
        out = up.stdout()
        for want in ("http://127.0.0.1:%d/" % up.port, "ws://127.0.0.1:%d/ws" % up.port, "museum-night",
                     "bundled sample hunt", data):
            check(want in out, "start block lacks %r:\n%s" % (want, out))
        st, _, body = up.get("/healthz")
        check(st == 200 and body.startswith(b"ok"), "/healthz: %d %r" % (st, body))
        st, ctype, body = up.get("/")
        check(st == 200 and "text/html" in ctype and b"<html" in body.lower(), "/ is not the dashboard")
        check([b["id"] for b in up.json("/api/beacons")] == [b["id"] for b in hunt["beacons"]],
              "/api/beacons is not the bundled hunt")

        rc, rep, gen, log = uu.sim(up, tmp, "sim", "--players", "50", "--duration", "12s", "--seed", str(SEED),
                                   "--id-prefix", "e2e-")
        check(rc == 0 and rep.get("ok") and rep["unacked"] == 0, "sim failed (%d): %s" % (rc, log))
        check(rep["acked"] == len(gen) > 400, "acked %s of %d generated" % (rep.get("acked"), len(gen)))

        recs = uu.dump_pings(data)
        stored = {d["id"] for _, _, _, _, d in recs}
        missing = [g["id"] for g in gen if g["id"] not in stored]
        check(not missing, "%d acknowledged pings not in ble-raw, e.g. %s" % (len(missing), missing[:3]))
        check(len(recs) == len(stored), "ble-raw holds %d records for %d ping ids" % (len(recs), len(stored)))
        up.wait_caught_up(len(recs))

        want = uu.expected_leaderboard(hunt, recs)
        got = uu.actual_leaderboard(up)
        diff = uu.compare(want, got)
        check(diff is None, "leaderboard differs from the model: " + str(diff))
        check(len(want) == 50 and sum(r["found"] for r in want) > 0,
              "a leaderboard that proves little: %d players, %d finds" % (len(want), sum(r["found"] for r in want)))
        top = up.json("/api/leaderboard?limit=3")
        check([r["player"] for r in top] == [r["player"] for r in want[:3]], "?limit=3 is not the top 3")
        p = want[0]["player"]
        pj = up.json("/api/players/" + p)
        check(pj["score"] == want[0]["score"] and pj["found"] == want[0]["found"], "/api/players/%s: %s" % (p, pj))

        stats = up.json("/api/stats")
        check(stats["pings_total"] == len(recs) and stats["players"] == 50, "/api/stats: %s" % stats)
        with urllib.request.urlopen(up.url("/api/events"), timeout=10) as r:
            check("text/event-stream" in r.headers.get("Content-Type", ""), "/api/events is not an event stream")
            line = r.readline()
            while line and not line.startswith(b"data:"):
                line = r.readline()
            check(json.loads(line[5:])["pings_total"] == len(recs), "event stream: %r" % line[:200])

        m = up.metrics()
        check(m.get("cairn_gateway_acks_total", -1) >= len(gen), "cairn_gateway_acks_total < %d pings" % len(gen))
        check(sum(v for k, v in m.items() if k.startswith("cairn_log_end_offset{topic=\"ble-raw\"")) == len(recs),
              "cairn_log_end_offset of ble-raw != %d records" % len(recs))
        check(m.get("cairn_hunt_records_total") == len(recs), "cairn_hunt_records_total != %d" % len(recs))
        print("ok: %d pings, %d players, %d finds, leaderboard equals the model" %
              (len(recs), len(want), sum(r["found"] for r in want)))
    finally:
        rc = up.stop()
    check(rc == 0, "cairn up exited %d on SIGTERM: %s" % (rc, up.stderr()[-2000:]))
    check("drained" in up.stderr(), "no drain in the log")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
