#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
log/cluster_group_offsets — consumer-group offsets replicated through the
internal topic __consumer_offsets on three `cairn logd` processes, with a
real group consumer (confluent-kafka / librdkafka):
  - every node's FindCoordinator names the same coordinator for a group;
    a node that is not it answers OffsetCommit and OffsetFetch with
    NOT_COORDINATOR (16); Produce to __consumer_offsets is refused
    (INVALID_TOPIC_EXCEPTION, 17) and Metadata marks it internal; only the
    coordinator lists the group in ListGroups;
  - a group consumer reads 150 of 400 acknowledged records and commits
    the offset of the 101st (its committed() says so); the coordinator is
    SIGKILLed; the survivors name a new coordinator, and the same
    consumer's committed() asks it and gets that offset;
  - a fresh consumer of the group starts at that offset — the records
    after the last commit are read again, nothing before it — reads to the
    end once in order, commits the end, and committed() says so (on the
    new coordinator);
  - the killed node restarts; then its DATA/state (the LMDB with the groups
    table) is deleted and it restarts again: it re-derives the table from
    the replicated partition (`cairn log groups` on its directory shows
    the last commit), and so does every other node.
"""
import os
import shutil
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kfutil  # noqa: E402
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_failover as cf  # noqa: E402  (start_cluster, settle, produce)

TOPIC = "ble-raw"
GROUP = "hunt-readers"
WAIT = 90  # seconds; generous for a loaded machine
TOTAL, READ, COMMIT = 400, 150, 100


def kstr(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def raw_call(node, api, version, body):
    s = kfutil.connect(node.port)
    try:
        s.sendall(kfutil.frame(api, version, 7, body))
        return kfutil.recv_frame(s)[4:]  # after the correlation id
    finally:
        s.close()


def find_coordinator(node, group):
    """(error, node id) of FindCoordinator v0 at node; None if unreachable."""
    try:
        r = raw_call(node, 10, 0, kstr(group))
    except OSError:
        return None
    err, nid = struct.unpack_from(">hi", r, 0)
    return err, nid


def wait_coordinator(nodes, group, not_node=None):
    """The coordinator every node in nodes names for group."""
    deadline = time.time() + WAIT
    while True:
        views = {i: find_coordinator(n, group) for i, n in nodes.items()}
        ids = {v[1] for v in views.values() if v and v[0] == 0}
        if all(v and v[0] == 0 for v in views.values()) and len(ids) == 1:
            (nid,) = ids
            if nid != not_node and nid in nodes:
                return nid
        assert time.time() < deadline, "no agreed coordinator for %s: %s" % (group, views)
        time.sleep(0.2)


def offset_commit_error(node, group, offset):
    """The partition error of a simple (generation -1) OffsetCommit v2."""
    body = kstr(group) + struct.pack(">i", -1) + kstr("") + struct.pack(">q", -1)
    body += struct.pack(">i", 1) + kstr(TOPIC) + struct.pack(">i", 1)
    body += struct.pack(">iq", 0, offset) + kstr("")
    r = raw_call(node, 8, 2, body)
    pos = 4 + 2 + len(TOPIC) + 4 + 4  # topic count, name, partition count, index
    return struct.unpack_from(">h", r, pos)[0]


def offset_fetch_error(node, group):
    """The partition error of an OffsetFetch v1 for TOPIC/0."""
    body = kstr(group) + struct.pack(">i", 1) + kstr(TOPIC) + struct.pack(">ii", 1, 0)
    r = raw_call(node, 9, 1, body)
    pos = 4 + 2 + len(TOPIC) + 4 + 4 + 8  # ..., index, offset
    (mlen,) = struct.unpack_from(">h", r, pos)
    return struct.unpack_from(">h", r, pos + 2 + max(mlen, 0))[0]


def list_groups(node):
    """The group ids of a ListGroups v0 at node."""
    r = raw_call(node, 16, 0, b"")
    err, n = struct.unpack_from(">hi", r, 0)
    assert err == 0, err
    pos, out = 6, []
    for _ in range(n):
        for k in range(2):  # group id, protocol type
            (ln,) = struct.unpack_from(">h", r, pos)
            if k == 0:
                out.append(r[pos + 2:pos + 2 + ln].decode())
            pos += 2 + ln
    return out


def produce_offsets_topic_error(node):
    name = b"__consumer_offsets"
    rec = b"\0" * 70  # refused before it is looked at
    body = struct.pack(">hhi", -1, -1, 5000) + struct.pack(">i", 1)
    body += struct.pack(">h", len(name)) + name + struct.pack(">ii", 1, 0)
    body += struct.pack(">i", len(rec)) + rec
    r = raw_call(node, 0, 3, body)
    return struct.unpack_from(">h", r, 4 + 2 + len(name) + 4 + 4)[0]


def consumer(bootstrap):
    return Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP,
                     "enable.auto.commit": False, "auto.offset.reset": "earliest",
                     "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000,
                     "topic.metadata.refresh.interval.ms": 1000})


def read(c, n, deadline_s=WAIT):
    """n records as (offset, value), polling past coordinator moves."""
    got, deadline = [], time.time() + deadline_s
    while len(got) < n and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            assert m.error().code() == KafkaError._PARTITION_EOF or m.error().retriable(), \
                m.error()
            continue
        got.append((m.offset(), m.value()))
    return got


def committed(c, want=None):
    """The group's committed offset of TOPIC/0 as the client's own
    committed() reports it, asked again across a coordinator move until it
    answers (and, with want, until it says want)."""
    deadline, last = time.time() + WAIT, None
    while time.time() < deadline:
        try:
            (tp,) = c.committed([TopicPartition(TOPIC, 0)], timeout=10)
            last = tp.offset
            if tp.error is None and (want is None or last == want):
                return last
        except KafkaException as e:
            last = e
        time.sleep(0.5)
    raise AssertionError("committed() never said %s; last answer %s" % (want, last))


def groups_table(data):
    """The groups table of a stopped node's directory: {(group, topic:part): offset}."""
    out = subprocess.run([kfutil.BIN, "log", "groups", "--data", data], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = {}
    for line in out.stdout.splitlines():
        f = line.split("\t")
        if len(f) >= 3 and f[2].startswith("offset="):
            rows[(f[0], f[1])] = int(f[2][len("offset="):])
    return rows


def restart(nodes, i, kports, repl, kafka):
    n = kfutil.Logd(data=nodes[i].data, listen="127.0.0.1:%d" % kports[i - 1],
                    args=["--node-id", str(i), "--cluster", repl, "--cluster-kafka", kafka,
                          "--partitions", "1"])
    nodes[i] = n.start()
    return n


def check_refusals(nodes, coord):
    other = nodes[[i for i in nodes if i != coord][0]]
    assert offset_commit_error(other, GROUP, 1) == 16, "OffsetCommit at a non-coordinator"
    assert offset_fetch_error(other, GROUP) == 16, "OffsetFetch at a non-coordinator"
    assert produce_offsets_topic_error(nodes[coord]) == 17, "Produce to __consumer_offsets"
    md = AdminClient({"bootstrap.servers": other.bootstrap}).list_topics(timeout=10)
    t = md.topics.get("__consumer_offsets")
    assert t is not None and len(t.partitions) == 3, md.topics


def first_life(boot, values):
    """Read READ records and commit the offset of record COMMIT (the next
    to read: the first COMMIT records are done).  Returns the consumer,
    still open, and the committed offset."""
    c = consumer(boot)
    c.subscribe([TOPIC])
    got = read(c, READ)
    assert [v for _, v in got] == values[:READ], "first read: %s" % got[:5]
    off = got[COMMIT][0]
    c.commit(offsets=[TopicPartition(TOPIC, 0, off)], asynchronous=False)
    assert committed(c) == off
    return c, off


def main():
    ports = kfutil.free_ports(6)
    kports, rports = ports[:3], ports[3:]
    nodes, repl, kafka = cf.start_cluster([1, 2, 3], kports, rports)
    try:
        cf.settle(nodes)
        values = [b"r-%04d" % i for i in range(TOTAL)]
        assert sorted(cf.produce(",".join(n.bootstrap for n in nodes.values()), values)) == \
            sorted(values)
        coord = wait_coordinator(nodes, GROUP)
        check_refusals(nodes, coord)

        boot = ",".join(n.bootstrap for n in nodes.values())
        c1, off = first_life(boot, values)
        nodes[coord].kill()
        survivors = {i: n for i, n in nodes.items() if i != coord}
        new_coord = wait_coordinator(survivors, GROUP, not_node=coord)
        assert committed(c1, off) == off, "the new coordinator lost the commit"
        c1.close()

        c2 = consumer(",".join(n.bootstrap for n in survivors.values()))
        c2.subscribe([TOPIC])
        got = read(c2, TOTAL - COMMIT)
        assert got and got[0][0] == off, "resumed at offset %s, committed %d" % (
            got[0][0] if got else None, off)
        assert [v for _, v in got] == values[COMMIT:], "resumed read: %d records" % len(got)
        extra = read(c2, 1, deadline_s=2)
        assert not extra, "read past the end: %s" % extra
        end = got[-1][0] + 1
        c2.commit(offsets=[TopicPartition(TOPIC, 0, end)], asynchronous=False)
        assert committed(c2) == end
        c2.close()
        # Only the coordinator lists the group (every node has its offsets).
        listed = {i: GROUP in list_groups(n) for i, n in survivors.items()}
        assert listed == {i: i == new_coord for i in survivors}, listed

        # The killed node rejoins; then it loses its DATA/state and
        # re-derives the groups table from the replicated partition.
        restart(nodes, coord, kports, repl, kafka)
        nodes[coord].stop()
        shutil.rmtree(os.path.join(nodes[coord].data, "state"))
        deadline, table = time.time() + WAIT, {}
        while table.get((GROUP, TOPIC + ":0")) != end:
            assert time.time() < deadline, "node %d never re-derived: %s" % (coord, table)
            restart(nodes, coord, kports, repl, kafka)
            time.sleep(3)
            nodes[coord].stop()
            table = groups_table(nodes[coord].data)
        for i, n in nodes.items():
            if n.alive():
                n.stop()
            t = groups_table(n.data)
            assert t.get((GROUP, TOPIC + ":0")) == end, "node %d: %s" % (i, t)
        print("ok: coordinator %d killed, %d took over with committed offset %d; the group "
              "resumed there and read the %d records after it once; every node's table says "
              "%d, node %d re-derived it after losing DATA/state" % (coord, new_coord, off,
                                                                     len(got), end, coord))
    finally:
        for n in nodes.values():
            if n.alive():
                n.kill()


if __name__ == "__main__":
    main()
