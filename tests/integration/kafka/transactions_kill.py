#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
kafka/transactions_kill — transactions stay atomic across SIGKILLs of
`cairn logd`: a librdkafka transactional producer runs transactions that
each write 3 records to each of 3 partitions and commit or abort (a seeded
choice), while logd is SIGKILLed at random moments (a printed seed;
CAIRN_SEED=N replays it) and restarted on the same data directory; the
producer starts over (init_transactions) whenever a call fails. Then a
read_committed consumer must see, for every transaction, all 9 records or
none: all of every transaction whose commit_transaction returned, none of
any whose abort_transaction returned or that was never ended; and the last
stable offset of every partition must reach its high watermark (no
transaction left open: the restarted coordinator finished or timed out
every one).
"""
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kfutil  # noqa: E402
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402

TOPIC = "ble-raw"
PARTS = 3
KILLS = 4
TXN_TIMEOUT_MS = 5000


def new_producer(bs):
    p = Producer({"bootstrap.servers": bs, "transactional.id": "tx-kill",
                  "transaction.timeout.ms": TXN_TIMEOUT_MS, "linger.ms": 2,
                  "message.timeout.ms": TXN_TIMEOUT_MS, "socket.timeout.ms": 3000})
    p.init_transactions(30)
    return p


def run_until(bs, rng, deadline, state):
    """Transactions until the deadline or a failure; outcome per txn in state."""
    p = new_producer(bs)
    while time.time() < deadline:
        n = state["next"]
        state["next"] += 1
        state["outcome"][n] = "unknown"
        p.begin_transaction()
        for part in range(PARTS):
            for k in range(3):
                p.produce(TOPIC, value=b"%d:%d:%d" % (n, part, k), partition=part)
        commit = rng.random() < 0.6
        if commit:
            p.commit_transaction(10)
            state["outcome"][n] = "committed"
        else:
            p.abort_transaction(10)
            state["outcome"][n] = "aborted"


def read_committed(bs):
    c = Consumer({"bootstrap.servers": bs, "group.id": "check-%f" % time.time(),
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "isolation.level": "read_committed"})
    c.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTS)])
    got, eof = {}, set()
    deadline = time.time() + 60
    while len(eof) < PARTS and time.time() < deadline:
        for m in c.consume(1000, timeout=0.5):
            if m.error():
                eof.add(m.partition())
                continue
            n = int(m.value().split(b":")[0])
            got.setdefault(n, []).append(m.value())
    c.close()
    assert len(eof) == PARTS, "read_committed did not reach the end of every partition"
    return got


def lso_reached_hw(bs):
    ok = True
    c = Consumer({"bootstrap.servers": bs, "group.id": "w", "isolation.level": "read_committed"})
    u = Consumer({"bootstrap.servers": bs, "group.id": "w2", "isolation.level": "read_uncommitted"})
    for p in range(PARTS):
        lso = c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)[1]
        hw = u.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)[1]
        ok = ok and lso == hw
    c.close()
    u.close()
    return ok


def main():
    seed = int(os.environ.get("CAIRN_SEED", random.randrange(1 << 30)))
    print("seed %d (CAIRN_SEED=%d replays it)" % (seed, seed))
    rng = random.Random(seed)
    node = kfutil.Logd(args=["--partitions", str(PARTS)]).start()
    state = {"next": 0, "outcome": {}}
    try:
        for kill in range(KILLS + 1):
            run_for = rng.uniform(1.0, 3.0)
            deadline = time.time() + run_for
            if kill < KILLS:
                # Kill logd at a random moment while the producer runs.
                t = threading.Thread(target=lambda: (time.sleep(run_for), node.kill()))
                t.start()
                try:
                    run_until(node.bootstrap, rng, deadline + 30, state)
                except KafkaException as e:
                    print("kill %d: producer stopped: %s" % (kill, e.args[0].str()[:80]))
                t.join()
                node = kfutil.Logd(data=node.data, args=["--partitions", str(PARTS)]).start()
            else:
                run_until(node.bootstrap, rng, deadline, state)
        # Every transaction open at a kill is aborted within its timeout.
        end = time.time() + 60
        while not lso_reached_hw(node.bootstrap) and time.time() < end:
            time.sleep(0.5)
        assert lso_reached_hw(node.bootstrap), "a transaction stayed open"
        got = read_committed(node.bootstrap)
        counts = {"committed": 0, "aborted": 0, "unknown": 0}
        for n, outcome in state["outcome"].items():
            recs = got.get(n, [])
            assert len(recs) in (0, PARTS * 3), "transaction %d partly visible: %r" % (n, recs)
            assert len(set(recs)) == len(recs), "transaction %d duplicated: %r" % (n, recs)
            if outcome == "committed":
                assert recs, "committed transaction %d not visible" % n
            elif outcome == "aborted":
                assert not recs, "aborted transaction %d visible" % n
            counts[outcome] += 1
        assert counts["committed"] > 0 and counts["aborted"] > 0, counts
        unknown_seen = sum(1 for n, o in state["outcome"].items() if o == "unknown" and got.get(n))
        print("%d transactions over %d kills: %r; %d in doubt became visible, atomically" %
              (len(state["outcome"]), KILLS, counts, unknown_seen))
        node.stop()
    except BaseException:
        sys.stderr.write("seed %d\n" % seed)
        sys.stderr.write(node.log()[-4000:])
        if node.alive():
            node.kill()
        raise
    print("ok")


if __name__ == "__main__":
    main()
