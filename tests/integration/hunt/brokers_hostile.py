#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
hunt/brokers_hostile — `cairn hunt --brokers` against a live `cairn
logd` while a producer writes a hostile seeded workload to ble-raw: bad
protobuf, empty values, truncated CloudEvents, CloudEvents that are not
pings, unknown beacons, absurd RSSI and times, invalid player ids, plus
the usual resends and late pings, with a sequence-order hunt.  The worker
is SIGKILLed several times while the producer runs.  Bad records must be
counted by reason (/metrics) and skipped without stalling their partition;
the final state and hunt-events equal the independent model exactly.
"""
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import huntutil as hu  # noqa: E402

SEED = int(os.environ.get("SEED", "5002"))


def main():
    rng = random.Random(SEED)
    tmp = tempfile.mkdtemp(prefix="cairn-hunt-brokers-")
    data, state = os.path.join(tmp, "data"), os.path.join(tmp, "state")
    hunt = hu.test_hunt(order="sequence")
    hunt_file = os.path.join(tmp, "hunt.json")
    json.dump(hunt, open(hunt_file, "w"))
    recs, table = hu.workload(rng, hunt, players=60, pings_per_player=150, partitions=4, hostile=True)
    logd = hu.Logd(data, partitions=4).start()
    backend = ["--brokers", logd.bootstrap]
    h = hu.Hunt(backend, state, hunt_file, tmp, extra=["--batch", "64"]).start()
    # Produce in chunks from a thread while the worker is killed and restarted.
    chunks = [recs[i:i + 1000] for i in range(0, len(recs), 1000)]
    done = threading.Event()

    def producer():
        for c in chunks:
            hu.produce(logd.bootstrap, c)
        done.set()

    t = threading.Thread(target=producer)
    t.start()
    kills = 0
    while not done.is_set() or kills < 5:
        time.sleep(rng.uniform(0.2, 0.8))
        h.kill()
        kills += 1
        h = hu.Hunt(backend, state, hunt_file, tmp, extra=["--batch", "64"]).start()
        if kills > 40:
            break
    t.join()
    deadline = time.time() + 60
    while h.committed() < len(recs) and time.time() < deadline:
        time.sleep(0.1)
    assert h.committed() == len(recs), "committed %d of %d records" % (h.committed(), len(recs))
    model = hu.run_model(hunt, data, table)
    hu.check_state(h, model)
    # Counters cover one process's life; the exact totals per reason are
    # checked below on a worker that reads every record once.
    h.stop()
    got, want = hu.actual_events(data), model.events
    for p in set(got) | set(want):
        assert got.get(p, []) == want.get(p, []), "partition %d: %d hunt-events, expected %d" % (
            p, len(got.get(p, [])), len(want.get(p, [])))
    # --rebuild over the Kafka protocol: reads to the high watermark, emits nothing.
    rk = hu.Hunt(backend + ["--rebuild"], os.path.join(tmp, "rebuilt-k"), hunt_file, tmp).start(wait_port=False)
    assert rk.proc.wait(timeout=60) == 0, rk.log()
    rk.logf.close()
    hk = hu.Hunt(backend, os.path.join(tmp, "rebuilt-k"), hunt_file, tmp).start()
    hu.check_state(hk, model)
    hk.stop()
    logd.stop()

    # --rebuild from the same log (in-process now that logd is stopped).
    r = hu.Hunt(["--log", data, "--rebuild"], os.path.join(tmp, "rebuilt"), hunt_file, tmp).start(wait_port=False)
    assert r.proc.wait(timeout=60) == 0, r.log()
    r.logf.close()
    h2 = hu.Hunt(["--log", data], os.path.join(tmp, "rebuilt"), hunt_file, tmp).start()
    hu.check_state(h2, model)
    h2.stop()
    reasons = ("bad_record", "bad_player", "unknown_beacon", "bad_rssi", "bad_time")
    for reason in reasons:
        assert model.counts.get(reason, 0) > 0, "the workload must contain %s records" % reason
    # A worker with a fresh state over the whole log sees every record once.
    h3 = hu.Hunt(["--log", data], os.path.join(tmp, "fresh"), hunt_file, tmp).start()
    deadline = time.time() + 60
    while h3.committed() < len(recs) and time.time() < deadline:
        time.sleep(0.05)
    for reason in reasons:
        n = h3.metric('cairn_hunt_rejected_total{reason="%s"}' % reason)
        assert n == model.counts[reason], "%s: counted %s, expected %d" % (reason, n, model.counts[reason])
    for reason in ("out_of_order", "duplicate", "outside_hunt"):
        n = h3.metric('cairn_hunt_ignored_total{reason="%s"}' % reason)
        assert n == model.counts.get(reason, 0), "%s: counted %s, expected %d" % (reason, n, model.counts.get(reason, 0))
    assert h3.metric("cairn_hunt_accepted_total") == model.counts["accepted"]
    h3.stop()
    # A fresh state over an existing hunt-events emits nothing again.
    assert sum(len(v) for v in hu.actual_events(data).values()) == sum(len(v) for v in want.values())
    print("ok: %d records (%s), %d kills" % (len(recs), ", ".join("%s %d" % (k, model.counts.get(k, 0))
                                                                    for k in reasons), kills))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
