#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
kafka/drain — SIGTERM drains `cairn logd` promptly and cleanly even
with requests that could wait a long time:
  - a Fetch long poll (MaxWaitMs 20 s, nothing to read) is answered at once
    with an empty, well-formed reply before its connection closes;
  - a JoinGroup that is waiting for a rebalance (up to a 30 s rebalance
    timeout) has its connection closed;
  - an idle client and a connected librdkafka producer are disconnected;
  - the process exits 0, long before any of those waits would have ended,
    and a restart serves the data written before;
  - a client that asks for megabytes and never reads them does not hold
    the drain up: it is closed after the 10 s grace, and the exit is still
    clean (under ASan this also proves the unsent file-segment replies
    are released before the log closes).
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kfutil  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402


def kstr(s):
    return struct.pack(">h", len(s)) + s


def kbytes(b):
    return struct.pack(">i", len(b)) + b


def join_v1(group, member, session_ms, rebalance_ms):
    return (kstr(group) + struct.pack(">ii", session_ms, rebalance_ms) + kstr(member) +
            kstr(b"consumer") + struct.pack(">i", 1) + kstr(b"range") + kbytes(b"\0\0\0\0\0\0\0\0"))


def parse_join_v1(r):
    corr, err, gen = struct.unpack(">ihi", r[:10])
    off = 10
    names = []
    for _ in range(3):  # protocol, leader, member id
        (n,) = struct.unpack(">h", r[off:off + 2])
        names.append(r[off + 2:off + 2 + n])
        off += 2 + n
    return err, gen, names[2]


def main():
    node = kfutil.Logd(args=["--partitions", "2"]).start()
    data = node.data
    try:
        p = Producer({"bootstrap.servers": node.bootstrap})
        for i in range(10):
            p.produce("ble-raw", value=b"before-%d" % i, partition=0)
        assert p.flush(20) == 0
        c = Consumer({"bootstrap.servers": node.bootstrap, "group.id": "lib-group",
                      "auto.offset.reset": "earliest", "fetch.wait.max.ms": 5000})
        c.subscribe(["ble-raw"])
        got = 0
        deadline = time.time() + 20
        while got < 10 and time.time() < deadline:
            got += len([m for m in c.consume(10, 0.5) if not m.error()])
        assert got == 10, got
        # A consumer closing against a node that is gone waits for its
        # coordinator; close it now.  The producer stays connected.
        c.close()

        idle = kfutil.connect(node.port)
        # Member A joins a fresh group (generation 1) and goes silent; B's
        # join then waits for A (session 10 s, rebalance timeout 30 s).
        a = kfutil.connect(node.port)
        a.sendall(kfutil.frame(11, 1, 1, join_v1(b"raw-group", b"", 10000, 30000)))
        err, gen, a_id = parse_join_v1(kfutil.recv_frame(a))
        assert err == 0 and gen == 1, (err, gen)
        b = kfutil.connect(node.port)
        b.sendall(kfutil.frame(11, 1, 2, join_v1(b"raw-group", b"", 10000, 30000)))
        # A Fetch long poll on an empty partition.
        f = kfutil.connect(node.port)
        fetch = struct.pack(">iiiib", -1, 20000, 1, 1 << 20, 0) + struct.pack(">i", 1) + kstr(b"ble-raw")
        fetch += struct.pack(">i", 1) + struct.pack(">iqi", 1, 0, 1 << 20)
        f.sendall(kfutil.frame(1, 4, 3, fetch))
        time.sleep(0.5)
        assert not kfutil.closed_by_peer(b, timeout=0.1), "JoinGroup answered early"

        t0 = time.time()
        node.stop(timeout=30)  # asserts exit status 0
        took = time.time() - t0
        # The waits above were 10-30 s; the drain must not sit them out.
        assert took < 8, "drain took %.1f s" % took
        r = kfutil.recv_frame(f)
        corr, throttle, nt = struct.unpack(">iii", r[:12])
        assert corr == 3 and nt == 1, (corr, nt)
        assert kfutil.closed_by_peer(f), "fetch connection left open"
        assert kfutil.closed_by_peer(b), "join connection left open"
        assert kfutil.closed_by_peer(idle), "idle connection left open"
        assert p.flush(1) == 0
        del p

        node = kfutil.Logd(data=data, args=["--partitions", "2"]).start()
        c2 = Consumer({"bootstrap.servers": node.bootstrap, "group.id": "lib-group",
                       "auto.offset.reset": "earliest"})
        lo, hi = c2.get_watermark_offsets(TopicPartition("ble-raw", 0), timeout=10)
        assert (lo, hi) == (0, 10), (lo, hi)
        c2.close()

        # A reader that never reads: 16 MiB asked for, little taken.
        p = Producer({"bootstrap.servers": node.bootstrap, "linger.ms": 20})
        for i in range(160000):
            while True:
                try:
                    p.produce("ble-raw", value=b"z" * 100, partition=1)
                    break
                except BufferError:
                    p.poll(0.05)
        assert p.flush(60) == 0
        del p
        slow = kfutil.connect(node.port)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        fetch = struct.pack(">iiiib", -1, 100, 1, 64 << 20, 0) + struct.pack(">i", 1) + kstr(b"ble-raw")
        fetch += struct.pack(">i", 1) + struct.pack(">iqi", 1, 0, 16 << 20)
        slow.sendall(kfutil.frame(1, 4, 9, fetch))
        time.sleep(1.0)
        t0 = time.time()
        node.stop(timeout=60)
        took2 = time.time() - t0
        # It was held for the grace period, not for ever (stop() bounds it).
        assert "did not take its replies" in node.log(), node.log()[-2000:]
        print("kafka/drain: ok (drained in %.2f s; with a stuck reader in %.1f s)" % (took, took2))
    except Exception:
        sys.stderr.write(node.log()[-4000:])
        raise
    finally:
        if node.alive():
            node.stop()


if __name__ == "__main__":
    main()
