# SPDX-License-Identifier: MIT
"""
sim/hunt — end to end without `cairn up`: a seeded `cairn sim` plays
the bundled sample hunt through `cairn gateway --brokers` into a
`cairn logd`, a `cairn hunt --brokers` worker derives the game, and the
worker's leaderboard and every player's state equal what an independent
model of docs/hunts.md (huntutil.Model, shares no code with the worker)
computes from `cairn log dump ble-raw` and the hunt file.  Also: every ping
in the log is one the simulator reported in --pings-out (same player,
beacon, rssi, ts), every ping it sent is in the log, and the game is not
trivial (players found beacons, scores differ).
"""
import json
import os
import shutil
import sys
import tempfile
import time
import subprocess

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import huntutil  # noqa: E402
from gwutil import BIN, Gateway  # noqa: E402
from huntutil import Hunt, Logd, check_state, run_model  # noqa: E402

SRC = os.environ.get("CAIRN_SRC") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")


def main():
    tmp = tempfile.mkdtemp(prefix="cairn-simhunt-")
    hunt_file = os.path.join(SRC, "hunt", "sample-hunt.json")
    hunt_def = json.load(open(hunt_file))
    logd = Logd(os.path.join(tmp, "data")).start()
    gw = hunt = None
    try:
        gw = Gateway(["--idle-close", "2s"], tmp=tempfile.mkdtemp(prefix="cairn-simhunt-gw-")).start(
            backend=["--brokers", logd.bootstrap])
        hunt = Hunt(["--brokers", logd.bootstrap], os.path.join(tmp, "state"), hunt_file, tmp).start()
        pings_out = os.path.join(tmp, "pings.jsonl")
        p = subprocess.run([BIN, "sim", "--url", "ws://127.0.0.1:%d/ws" % gw.port, "--players", "80",
                            "--duration", "25s", "--seed", "2026", "--pings-out", pings_out],
                           capture_output=True, timeout=120)
        assert p.returncode == 0, "cairn sim failed: %s %s" % (p.stdout.decode(), p.stderr.decode()[-500:])
        sent = {}
        for line in open(pings_out):
            o = json.loads(line)
            sent[o["id"]] = (o["player"], o["beacon"], o["rssi"], o["ts"])
        gw.stop()
        gw = None
        recs = huntutil.dump(logd.data, "ble-raw")
        assert len(recs) >= len(sent), "log has %d records, sim sent %d" % (len(recs), len(sent))
        # the worker has consumed everything
        deadline = time.time() + 60
        while hunt.committed() < len(recs) and time.time() < deadline:
            time.sleep(0.2)
        assert hunt.committed() == len(recs), "worker committed %d of %d" % (hunt.committed(), len(recs))
        table, seen = {}, set()
        for r in recs:
            v = r["value"]
            d = v["data"]
            assert d["id"] in sent, "a ping in the log the simulator did not send: %r" % d
            assert sent[d["id"]] == (d["player"], d["beacon"], d["rssi"], d["ts"]), (d, sent[d["id"]])
            table[v["id"]] = (d["id"], d["player"], d["beacon"], d["rssi"], d["ts"])
            seen.add(d["id"])
        assert seen == set(sent), "%d sent pings are not in the log" % len(set(sent) - seen)
        model = run_model(hunt_def, logd.data, table)
        check_state(hunt, model)
        board = model.leaderboard()
        found = sum(r["found"] for r in board)
        assert len(board) == 80 and found > 20, "a real game: 80 players, %d finds" % found
        assert len({r["score"] for r in board}) > 3, "scores differ"
        print("ok: %d pings, %d finds, leader %s with %d" % (len(recs), found, board[0]["player"],
                                                            board[0]["score"]))
    finally:
        if gw:
            gw.stop()
        if hunt:
            hunt.stop()
        logd.stop()
    shutil.rmtree(tmp, ignore_errors=True)  # only reached when every check passed


main()
