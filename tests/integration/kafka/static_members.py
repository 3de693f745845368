#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
kafka/static_members — static group membership (group.instance.id,
Kafka's KIP-345) against a real `cairn logd`, with confluent-kafka
(librdkafka 2.0.2) and hand-built frames:
  - two static members A and B split 4 partitions 2/2 and consume;
  - A is closed (a static member sends no LeaveGroup) and restarted with
    the same instance id within its session: it takes over its own member
    slot and partitions with no rebalance — B is never revoked, the group
    still has exactly two members (DescribeGroups v4: ids and instance
    ids), and A's new member id differs from the old one;
  - the old member id, named with A's instance id, is fenced: JoinGroup
    v5 and Heartbeat v3 answer FENCED_INSTANCE_ID (82);
  - every record is consumed exactly once across the restart (offsets
    committed after each batch).
"""
import os
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kfutil  # noqa: E402
from confluent_kafka import Consumer, KafkaError, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC = "static-in"
GROUP = "static-workers"
PARTS = 4


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def kstr(s):
    return struct.pack(">h", len(s)) + s


def rd_str(b, off):
    (n,) = struct.unpack(">h", b[off:off + 2])
    if n < 0:
        return None, off + 2
    return b[off + 2:off + 2 + n], off + 2 + n


def rd_bytes(b, off):
    (n,) = struct.unpack(">i", b[off:off + 4])
    return b[off + 4:off + 4 + max(n, 0)], off + 4 + max(n, 0)


def describe_members(port):
    """DescribeGroups v4: [(member_id, group_instance_id)] of GROUP."""
    s = kfutil.connect(port)
    s.sendall(kfutil.frame(15, 4, 7, struct.pack(">i", 1) + kstr(GROUP.encode()) + b"\0"))
    r = kfutil.recv_frame(s)
    s.close()
    off = 4 + 4  # correlation id, throttle
    (ng,) = struct.unpack(">i", r[off:off + 4])
    check(ng == 1, "one group described")
    off += 4
    (err,) = struct.unpack(">h", r[off:off + 2])
    check(err == 0, "DescribeGroups error %d" % err)
    off += 2
    for _ in range(4):  # group id, state, protocol type, protocol
        _, off = rd_str(r, off)
    (nm,) = struct.unpack(">i", r[off:off + 4])
    off += 4
    out = []
    for _ in range(nm):
        mid, off = rd_str(r, off)
        iid, off = rd_str(r, off)
        _, off = rd_str(r, off)  # client id
        _, off = rd_str(r, off)  # client host
        _, off = rd_bytes(r, off)
        _, off = rd_bytes(r, off)
        out.append((mid.decode(), iid.decode() if iid is not None else None))
    return sorted(out, key=lambda m: m[1] or "")


class Member(threading.Thread):
    def __init__(self, instance, bs, seen, lock):
        super().__init__(daemon=True)
        self.instance, self.bs, self.seen, self.lock = instance, bs, seen, lock
        self.stop = threading.Event()
        self.assigned = None   # partitions of the last assignment
        self.rebalances = 0    # assign + revoke callbacks
        self.errors = []

    def on_assign(self, c, parts):
        with self.lock:
            self.assigned = sorted(p.partition for p in parts)
            self.rebalances += 1

    def on_revoke(self, c, parts):
        with self.lock:
            self.rebalances += 1

    def run(self):
        try:
            self.consume()
        except Exception as e:  # reported by main, not lost with the thread
            self.errors.append(repr(e))

    def consume(self):
        c = Consumer({"bootstrap.servers": self.bs, "group.id": GROUP,
                      "group.instance.id": self.instance, "client.id": self.instance,
                      "auto.offset.reset": "earliest", "enable.auto.commit": False,
                      "session.timeout.ms": 30000, "heartbeat.interval.ms": 500})
        c.subscribe([TOPIC], on_assign=self.on_assign, on_revoke=self.on_revoke)
        while not self.stop.is_set():
            msgs = c.consume(num_messages=100, timeout=0.2)
            good = []
            for m in msgs:
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        self.errors.append(str(m.error()))
                    continue
                good.append(m.value())
            if good:
                with self.lock:
                    for v in good:
                        self.seen[v] = self.seen.get(v, 0) + 1
                c.commit(asynchronous=False)
        c.close()  # static: no LeaveGroup


def produce(bs, lo, hi):
    p = Producer({"bootstrap.servers": bs, "linger.ms": 5})
    for i in range(lo, hi):
        p.produce(TOPIC, value=b"rec-%05d" % i, partition=i % PARTS)
    check(p.flush(30) == 0, "records not flushed")


STATE = lambda: ""  # what a timeout reports, set once the members exist


def wait_for(cond, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what + STATE())


def main():
    n = kfutil.Logd(args=["--partitions", str(PARTS)]).start()
    try:
        bs = n.bootstrap
        seen, lock = {}, threading.Lock()
        admin = AdminClient({"bootstrap.servers": bs})
        admin.create_topics([NewTopic(TOPIC, PARTS, 1)])[TOPIC].result(10)
        produce(bs, 0, 400)
        a = Member("worker-a", bs, seen, lock)
        b = Member("worker-b", bs, seen, lock)
        a.start()
        b.start()
        global STATE
        STATE = lambda: " (A %r, B %r, errors %r %r, %d seen)" % (
            a.assigned, b.assigned, a.errors[:3], b.errors[:3], len(seen))

        def split():
            with lock:
                return a.assigned and b.assigned and len(a.assigned) == 2 and \
                    len(b.assigned) == 2 and set(a.assigned) | set(b.assigned) == set(range(PARTS))
        wait_for(split, "A and B to split the partitions 2/2")
        wait_for(lambda: len(seen) == 400, "the first 400 records")
        a_parts = a.assigned
        with lock:
            b_rebalances = b.rebalances
        members = describe_members(n.port)
        check([m[1] for m in members] == ["worker-a", "worker-b"], members)
        old_a, b_id = members[0][0], members[1][0]

        # A restarts with the same instance id.
        a.stop.set()
        a.join(30)
        a2 = Member("worker-a", bs, seen, lock)
        a2.start()
        wait_for(lambda: a2.assigned is not None, "the restarted A's assignment")
        check(a2.assigned == a_parts, "restarted A got %r, had %r" % (a2.assigned, a_parts))
        produce(bs, 400, 800)
        wait_for(lambda: len(seen) == 800, "the next 400 records")
        time.sleep(1.0)
        with lock:
            check(b.rebalances == b_rebalances,
                  "B went through a rebalance (%d -> %d callbacks)" % (b_rebalances, b.rebalances))
        members = describe_members(n.port)
        check([m[1] for m in members] == ["worker-a", "worker-b"], members)
        new_a = members[0][0]
        check(new_a != old_a and members[1][0] == b_id, (old_a, b_id, members))

        # The old incarnation of A is fenced.
        proto = kstr(b"consumer") + struct.pack(">i", 1) + kstr(b"range") + struct.pack(">i", 0)
        join = kstr(GROUP.encode()) + struct.pack(">ii", 30000, 30000) + kstr(old_a.encode())
        join += kstr(b"worker-a") + proto
        s = kfutil.connect(n.port)
        s.sendall(kfutil.frame(11, 5, 21, join))
        r = kfutil.recv_frame(s)
        corr, throttle, err = struct.unpack(">iih", r[:10])
        check((corr, err) == (21, 82), "stale JoinGroup: %r" % ((corr, err),))
        hb = kstr(GROUP.encode()) + struct.pack(">i", 1) + kstr(old_a.encode()) + kstr(b"worker-a")
        s.sendall(kfutil.frame(12, 3, 22, hb))
        r = kfutil.recv_frame(s)
        corr, throttle, err = struct.unpack(">iih", r[:10])
        check((corr, err) == (22, 82), "stale Heartbeat: %r" % ((corr, err),))
        s.close()

        for m in (a2, b):
            m.stop.set()
        for m in (a2, b):
            m.join(30)
        for m in (a, a2, b):
            check(not m.errors, (m.instance, m.errors[:5]))
        with lock:
            dups = sorted(v for v, k in seen.items() if k != 1)
            check(not dups, "consumed more than once: %r" % dups[:5])
            check(set(seen) == {b"rec-%05d" % i for i in range(800)}, "records missing")
        print("kafka/static_members: ok (A %s -> %s kept %r; B never revoked)"
              % (old_a, new_a, a_parts))
    except Exception:
        sys.stderr.write(n.log()[-4000:])
        raise
    finally:
        n.stop()


if __name__ == "__main__":
    main()
