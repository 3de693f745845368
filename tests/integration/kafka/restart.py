#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
kafka/restart — what a Kafka client was told is durable survives a
`cairn logd` restart, SIGKILL included:
  1. commit group offsets, stop with SIGTERM (exit 0), restart on the same
     --data: records and committed offsets are all there;
  2. run an acks=all librdkafka producer flat out and SIGKILL logd at a
     random moment (three rounds, different seeds): after each restart,
     every record whose delivery report said success is at exactly the
     (partition, offset) it was acknowledged at, with its value; offsets
     stay dense (no holes), and the committed offsets from step 1 are
     unchanged.
"""
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kfutil  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

TOPIC = "ble-raw"
PARTS = 3


def read_all(bs):
    """{(partition, offset): value} of everything in the topic."""
    c = Consumer({"bootstrap.servers": bs, "group.id": "reader-%d" % random.randrange(1 << 30),
                  "enable.auto.commit": False, "enable.partition.eof": True})
    out = {}
    tps = []
    for p in range(PARTS):
        lo, hi = c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)
        if hi > lo:
            tps.append(TopicPartition(TOPIC, p, lo))
    c.assign(tps)
    eof = set()
    deadline = time.time() + 30
    while len(eof) < len(tps) and time.time() < deadline:
        for m in c.consume(1000, timeout=0.5):
            if m.error():
                eof.add(m.partition())
                continue
            out[(m.partition(), m.offset())] = m.value()
    c.close()
    assert len(eof) == len(tps), "did not reach the end of every partition"
    return out


def committed(bs, group):
    c = Consumer({"bootstrap.servers": bs, "group.id": group, "enable.auto.commit": False})
    r = {tp.partition: tp.offset for tp in c.committed([TopicPartition(TOPIC, p) for p in range(PARTS)], timeout=10)}
    c.close()
    return r


def main():
    node = kfutil.Logd(args=["--partitions", str(PARTS)]).start()
    data = node.data
    try:
        # 1. Clean restart keeps records and committed offsets.
        p = Producer({"bootstrap.servers": node.bootstrap, "acks": "all"})
        for i in range(300):
            p.produce(TOPIC, value=b"clean-%d" % i, partition=i % PARTS)
        assert p.flush(30) == 0
        c = Consumer({"bootstrap.servers": node.bootstrap, "group.id": "survivor", "enable.auto.commit": False})
        c.commit(offsets=[TopicPartition(TOPIC, q, 40 + q) for q in range(PARTS)], asynchronous=False)
        c.close()
        node.stop()
        node = kfutil.Logd(data=data, args=["--partitions", str(PARTS)]).start()
        recs = read_all(node.bootstrap)
        assert len(recs) == 300, len(recs)
        assert recs[(1, 7)] == b"clean-%d" % (7 * PARTS + 1)
        want_commit = {q: 40 + q for q in range(PARTS)}
        assert committed(node.bootstrap, "survivor") == want_commit

        # 2. SIGKILL under load.
        total_acked = 0
        for rnd, seed in enumerate((3, 17, 4242)):
            rng = random.Random(seed)
            acked = {}
            stop = threading.Event()

            def dr(err, msg):
                if err is None:
                    acked[(msg.partition(), msg.offset())] = msg.value()

            def run():
                pr = Producer({"bootstrap.servers": node.bootstrap, "acks": "all", "linger.ms": 2,
                               "message.timeout.ms": 5000, "retries": 0})
                i = 0
                while not stop.is_set():
                    try:
                        pr.produce(TOPIC, value=b"r%d-%d" % (rnd, i), partition=i % PARTS, on_delivery=dr)
                        i += 1
                    except BufferError:
                        pass
                    pr.poll(0)
                pr.flush(8)

            t = threading.Thread(target=run, daemon=True)
            t.start()
            # Kill only once traffic flows: a loaded (or sanitized) run can take
            # seconds to connect, and a kill before the first ack proves nothing.
            deadline = time.time() + 30
            while not acked and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(0.2 + rng.random() * 1.3)
            node.kill()
            stop.set()
            t.join(30)
            assert acked, "round %d: nothing was acknowledged before the kill" % rnd
            node = kfutil.Logd(data=data, args=["--partitions", str(PARTS)]).start()
            recs = read_all(node.bootstrap)
            for key, val in acked.items():
                assert recs.get(key) == val, "round %d: acked %r at %r, log has %r" % (rnd, val, key, recs.get(key))
            for q in range(PARTS):
                offs = sorted(o for (pp, o) in recs if pp == q)
                assert offs == list(range(len(offs))), "round %d: holes in partition %d" % (rnd, q)
            assert committed(node.bootstrap, "survivor") == want_commit
            total_acked += len(acked)
        print("kafka/restart: ok (%d acknowledged records checked across 3 SIGKILLs)" % total_acked)
    except Exception:
        sys.stderr.write(node.log()[-4000:])
        raise
    finally:
        if node.alive():
            node.stop()


if __name__ == "__main__":
    main()
