#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
kafka/librdkafka_group — confluent-kafka (librdkafka 2.0.2, Debian
python3-confluent-kafka) against a real `cairn logd`:
  - an idempotent producer (enable.idempotence=true, so InitProducerId and
    sequence numbers) writes 24,000 records, half lz4- and half
    zstd-compressed, while consumers run;
  - a consumer group of 3 members where members join and leave
    mid-stream: A starts, B and C join while records flow, B leaves
    (LeaveGroup) half way, C is closed later; A and a late D finish;
  - the members' assignments (what librdkafka's rebalance callbacks hand
    each of them) never overlap at any sample, and once A, B and C are
    all in, the three split the 6 partitions disjointly, 2 each, covering
    every partition;
  - every produced record is consumed at least once (none lost), every
    delivery report was a success, and the group's committed offsets end
    at each partition's high watermark (committed after processing, so a
    member taking over a partition resumes where the last one committed);
  - DescribeGroups/ListGroups through the admin client see the group.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kfutil  # noqa: E402
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

TOPIC = "ble-raw"
PARTS = 6
N = 24000
GROUP = "hunt-workers"


def produce(bs, errors, done):
    for comp, lo, hi in (("lz4", 0, N // 2), ("zstd", N // 2, N)):
        p = Producer({"bootstrap.servers": bs, "enable.idempotence": True,
                      "compression.type": comp, "linger.ms": 5})

        def dr(err, msg):
            if err is not None:
                errors.append(str(err))

        for i in range(lo, hi):
            while True:
                try:
                    p.produce(TOPIC, key=b"player-%d" % (i % 97), value=b"rec-%08d" % i, on_delivery=dr)
                    break
                except BufferError:
                    p.poll(0.05)
            if i % 500 == 0:
                p.poll(0)
                time.sleep(0.05)  # spread the stream over a few seconds
        left = p.flush(30)
        if left:
            errors.append("%d records not flushed" % left)
    done.set()


class Member(threading.Thread):
    def __init__(self, name, bs, seen, lock):
        super().__init__(daemon=True)
        self.name_ = name
        self.bs = bs
        self.seen = seen
        self.lock = lock
        self.stop = threading.Event()
        self.count = 0
        self.errors = []
        self.assigned = set()  # partitions this member owns now (lock held)

    def on_assign(self, consumer, parts):
        with self.lock:
            self.assigned = {p.partition for p in parts}

    def on_revoke(self, consumer, parts):
        with self.lock:
            self.assigned = set()

    def run(self):
        c = Consumer({"bootstrap.servers": self.bs, "group.id": GROUP,
                      "auto.offset.reset": "earliest", "enable.auto.commit": False,
                      "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                      "client.id": self.name_})
        c.subscribe([TOPIC], on_assign=self.on_assign, on_revoke=self.on_revoke)
        while not self.stop.is_set():
            msgs = c.consume(num_messages=500, timeout=0.5)
            if not msgs:
                continue
            good = []
            for m in msgs:
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        self.errors.append(str(m.error()))
                    continue
                good.append(m.value())
            with self.lock:
                for v in good:
                    self.seen[v] = self.seen.get(v, 0) + 1
            self.count += len(good)
            try:
                c.commit(asynchronous=False)
            except Exception as e:  # a commit racing a rebalance: retried by the next one
                if "REBALANCE" not in str(e) and "ILLEGAL_GENERATION" not in str(e) and \
                        "UNKNOWN_MEMBER" not in str(e) and "No offset stored" not in str(e):
                    self.errors.append("commit: %s" % e)
        c.close()  # LeaveGroup
        with self.lock:
            self.assigned = set()


def check_disjoint(members, lock, overlaps):
    """Sample every member's assignment; record any partition two hold."""
    with lock:
        owned = {k: set(m.assigned) for k, m in members.items()}
    ks = sorted(owned)
    for i, a in enumerate(ks):
        for b in ks[i + 1:]:
            if owned[a] & owned[b]:
                overlaps.append((a, b, sorted(owned[a] & owned[b])))
    return owned


class Sampler(threading.Thread):
    """Samples the assignments every 20 ms for the whole run."""

    def __init__(self, members, lock):
        super().__init__(daemon=True)
        self.members, self.lock = members, lock
        self.overlaps, self.samples = [], 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            check_disjoint(self.members, self.lock, self.overlaps)
            self.samples += 1
            time.sleep(0.02)


def main():
    n = kfutil.Logd(args=["--partitions", str(PARTS)]).start()
    try:
        bs = n.bootstrap
        seen, lock = {}, threading.Lock()
        perrs, pdone = [], threading.Event()
        members = {k: Member(k, bs, seen, lock) for k in "ABCD"}
        sampler = Sampler(members, lock)
        sampler.start()
        members["A"].start()
        prod = threading.Thread(target=produce, args=(bs, perrs, pdone), daemon=True)
        prod.start()
        time.sleep(1.5)
        members["B"].start()
        time.sleep(1.0)
        members["C"].start()
        # A, B and C must settle on a disjoint 2/2/2 split of all 6.
        split, deadline = None, time.time() + 20
        while time.time() < deadline:
            owned = check_disjoint({k: members[k] for k in "ABC"}, lock, sampler.overlaps)
            if all(len(owned[k]) == 2 for k in "ABC") and \
                    set().union(*owned.values()) == set(range(PARTS)):
                split = owned
                break
            time.sleep(0.05)
        assert split, "A, B, C never split the partitions 2/2/2: %r" % owned
        time.sleep(1.0)
        members["B"].stop.set()          # leaves mid-stream
        members["B"].join(30)
        time.sleep(1.0)
        members["D"].start()
        pdone.wait(60)
        assert not perrs, perrs[:5]
        time.sleep(1.0)
        members["C"].stop.set()          # leaves after the stream
        members["C"].join(30)
        deadline = time.time() + 45
        while time.time() < deadline:
            with lock:
                if len(seen) >= N:
                    break
            time.sleep(0.2)
        for m in members.values():
            m.stop.set()
        for m in members.values():
            if m.is_alive():
                m.join(30)
        sampler.stop.set()
        sampler.join(5)
        assert sampler.samples > 100, sampler.samples
        assert not sampler.overlaps, "members held a partition at once: %r" % sampler.overlaps[:5]
        with lock:
            missing = [i for i in range(N) if b"rec-%08d" % i not in seen]
            dups = sum(v - 1 for v in seen.values())
        for k, m in members.items():
            assert not m.errors, (k, m.errors[:5])
        assert not missing, "%d records never consumed, e.g. %r" % (len(missing), missing[:5])
        assert members["B"].count > 0 or members["C"].count > 0, "joiners got no partitions"
        # Offsets: committed = high watermark for every partition.
        probe = Consumer({"bootstrap.servers": bs, "group.id": GROUP, "enable.auto.commit": False})
        committed = probe.committed([TopicPartition(TOPIC, p) for p in range(PARTS)], timeout=10)
        total = 0
        for tp in committed:
            lo, hi = probe.get_watermark_offsets(TopicPartition(TOPIC, tp.partition), timeout=10)
            assert tp.offset == hi, (tp.partition, tp.offset, hi)
            total += hi
        assert total == N, total
        probe.close()
        a = AdminClient({"bootstrap.servers": bs})
        groups = a.list_groups(timeout=10)
        assert any(g.id == GROUP for g in groups), [g.id for g in groups]
        print("kafka/librdkafka_group: ok (%d records, %d redelivered after rebalances; "
              "per member %s; A/B/C split %s)" % (N, dups, {k: m.count for k, m in members.items()},
                                              {k: sorted(v) for k, v in split.items()}))
    except Exception:
        sys.stderr.write(n.log()[-4000:])
        raise
    finally:
        n.stop()


if __name__ == "__main__":
    main()
