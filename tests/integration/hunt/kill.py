#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
hunt/kill — exactly-once under kill -9.  A seeded workload of
pings (resends, late pings, weak signals, pings before the doors open) is
written to ble-raw through a real `cairn logd` (kafka-python); then
`cairn hunt --log` is SIGKILLed at 30+ random points while it processes
(small batches, so kills land between and inside append and commit) and
restarted each time.  An independent Python model of docs/hunts.md computes
the exact final state and every hunt-events record; the worker's
/api/leaderboard, /api/players/ID and `cairn log dump hunt-events` must
equal it: nothing lost, nothing doubled.  A final restart with
`--rebuild` into a fresh state directory must give the same state.
"""
import json
import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import huntutil as hu  # noqa: E402

SEED = int(os.environ.get("SEED", "5001"))
KILLS = 30


def main():
    rng = random.Random(SEED)
    tmp = tempfile.mkdtemp(prefix="cairn-hunt-kill-")
    data, state = os.path.join(tmp, "data"), os.path.join(tmp, "state")
    hunt = hu.test_hunt()
    hunt_file = os.path.join(tmp, "hunt.json")
    json.dump(hunt, open(hunt_file, "w"))
    recs, table = hu.workload(rng, hunt, players=100, pings_per_player=200, partitions=4)
    logd = hu.Logd(data, partitions=4).start()
    hu.produce(logd.bootstrap, recs)
    logd.stop()
    model = hu.run_model(hunt, data, table)
    assert sum(len(v) for v in model.events.values()) > 500, "the workload must derive many events"

    kills, during, t_start = 0, 0, time.time()
    backend = ["--log", data]
    while during < KILLS:
        assert time.time() - t_start < 45, "only %d kills during processing in 45 s" % during
        h = hu.Hunt(backend, state, hunt_file, tmp, extra=["--batch", "4"])
        if rng.random() < 0.2:
            # Kill during start-up: recovery, tail scan, first batches.
            h.start(wait_port=False)
            time.sleep(rng.uniform(0.0, 0.15))
            busy = True
        else:
            h.start()
            time.sleep(rng.uniform(0.0, 0.08))
            busy = h.lag() > 0
        h.kill()
        kills += 1
        during += busy
        if not busy:
            break
    print("killed %d times (%d while records were left)" % (kills, during))
    assert during >= KILLS, "processing finished after %d kills; make the workload bigger" % during

    h = hu.Hunt(backend, state, hunt_file, tmp).start()
    deadline = time.time() + 60
    while h.lag() > 0 and time.time() < deadline:
        time.sleep(0.05)
    assert h.lag() == 0
    hu.check_state(h, model)
    h.stop()
    got = hu.actual_events(data)
    for p in set(got) | set(model.events):
        g, w = got.get(p, []), model.events.get(p, [])
        assert len(g) == len(w), "partition %d: %d hunt-events, expected %d" % (p, len(g), len(w))
        for i, (a, b) in enumerate(zip(g, w)):
            assert a == b, "partition %d record %d:\n got %s\nwant %s" % (p, i, a, b)
    nev = sum(len(v) for v in got.values())

    # --rebuild: the state derives from the log alone, and emits nothing.
    state2 = os.path.join(tmp, "state-rebuilt")
    r = hu.Hunt(backend + ["--rebuild"], state2, hunt_file, tmp).start(wait_port=False)
    assert r.proc.wait(timeout=60) == 0, r.log()
    r.logf.close()
    h2 = hu.Hunt(backend, state2, hunt_file, tmp).start()
    hu.check_state(h2, model)
    h2.stop()
    assert sum(len(v) for v in hu.actual_events(data).values()) == nev, "a rebuild must not emit events"
    print("ok: %d pings, %d players, %d hunt-events, %d kills; rebuild equal" %
          (len(recs), len(model.players), nev, kills))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
