#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
log/cluster_failover — three `cairn logd` processes replicating over
loopback (--node-id, --cluster, --cluster-kafka) and a real librdkafka
client (confluent-kafka):
  - every node's Metadata names the same leader of ble-raw/0, its epoch,
    all three nodes as replicas, and an ISR that contains the leader;
  - a non-leader answers raw Produce and Fetch requests for the partition
    with NOT_LEADER_OR_FOLLOWER (6), the leader does not;
  - the client, bootstrapped at a follower only, delivers by moving to the
    leader the Metadata names; acks=all produces are acknowledged; the
    leader is SIGKILLed between two produce phases; the survivors agree on
    a new leader, the client follows it, and its acks=all produces are
    acknowledged too;
  - a consumer (no group: assigned from the beginning) reads every
    acknowledged record exactly once, in produce order, and nothing else;
  - the killed node restarts from its directory and rejoins: every node's
    Metadata then names one leader again.
The kill falls between phases, so no record is in flight when it lands:
a record whose acknowledgement a kill swallows is retried by a producer
without idempotence and may then be stored twice (idempotent producers
across a kill with batches in flight: log/cluster_idempotent_failover).
"""
import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kfutil  # noqa: E402
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

TOPIC = "ble-raw"
WAIT = 90  # seconds; generous for a loaded machine


def start_cluster(ids, kports, rports, datas=None):
    repl = ",".join("%d@127.0.0.1:%d" % (i, rports[i - 1]) for i in ids)
    kafka = ",".join("%d@127.0.0.1:%d" % (i, kports[i - 1]) for i in ids)
    nodes = {}
    for i in ids:
        n = kfutil.Logd(data=datas[i] if datas else None, listen="127.0.0.1:%d" % kports[i - 1],
                        args=["--node-id", str(i), "--cluster", repl, "--cluster-kafka", kafka,
                              "--partitions", "1"])
        nodes[i] = n.start()
    return nodes, repl, kafka


def leader_view(node):
    """(leader, epoch, replicas, isr) of TOPIC/0 as node answers, or None."""
    try:
        md = AdminClient({"bootstrap.servers": node.bootstrap}).list_topics(TOPIC, timeout=5)
    except Exception:
        return None
    t = md.topics.get(TOPIC)
    if t is None or t.error is not None or 0 not in t.partitions:
        return None
    p = t.partitions[0]
    if p.error is not None or p.leader < 0:
        return None
    return p.leader, getattr(p, "leader_epoch", None), sorted(p.replicas), sorted(p.isrs)


def wait_agreed_leader(nodes, not_leader=None):
    deadline = time.time() + WAIT
    while time.time() < deadline:
        views = [leader_view(n) for n in nodes.values()]
        if all(views) and len({v[0] for v in views}) == 1 and views[0][0] != not_leader:
            return views
        time.sleep(0.2)
    raise AssertionError("no agreed leader: %s\n%s" % (
        views, "\n".join(n.log()[-3000:] for n in nodes.values())))


def raw_error(node, api, version, body):
    """The first partition's error code of a one-topic Produce or Fetch."""
    s = kfutil.connect(node.port)
    try:
        s.sendall(kfutil.frame(api, version, 7, body))
        r = kfutil.recv_frame(s)
    finally:
        s.close()
    pos = 4  # correlation id
    if api == 1:
        pos += 4  # Fetch v4: throttle_time_ms first
    pos += 4  # topic count
    (nlen,) = struct.unpack_from(">h", r, pos)
    pos += 2 + nlen + 4 + 4  # name, partition count, partition index
    return struct.unpack_from(">h", r, pos)[0]


def produce_error(node):
    name = TOPIC.encode()
    rec = b"\0" * 70  # never looked at by a non-leader
    body = struct.pack(">hhi", -1, -1, 5000) + struct.pack(">i", 1)
    body += struct.pack(">h", len(name)) + name + struct.pack(">ii", 1, 0)
    body += struct.pack(">i", len(rec)) + rec
    return raw_error(node, 0, 3, body)


def fetch_error(node):
    name = TOPIC.encode()
    body = struct.pack(">iiiib", -1, 0, 1, 1 << 20, 0) + struct.pack(">i", 1)
    body += struct.pack(">h", len(name)) + name + struct.pack(">iiqi", 1, 0, 0, 1 << 20)
    return raw_error(node, 1, 4, body)


def settle(nodes):
    """Wait until every node names the same leader, which serves Fetch,
    while the others answer Fetch and Produce with NOT_LEADER_OR_FOLLOWER
    (an elected leader serves once its own-term marker is committed; on a
    loaded machine leadership may also move once more meanwhile, so the
    whole picture is taken again until it holds).  Returns the leader."""
    deadline = time.time() + WAIT
    while True:
        views = wait_agreed_leader(nodes)
        leader, _, replicas, isr = views[0]
        assert replicas == [1, 2, 3], views
        assert leader in isr, views
        errs = {i: (fetch_error(n), produce_error(n) if i != leader else 0)
                for i, n in nodes.items()}
        if all(e == ((0, 0) if i == leader else (6, 6)) for i, e in errs.items()):
            return leader
        assert time.time() < deadline, "no settled leader: %s %s" % (views, errs)
        time.sleep(0.2)


def produce(bootstrap, values):
    acked, failed = [], []

    def dr(err, msg):
        (failed if err else acked).append((err, msg.value()))

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": False,
                  "message.timeout.ms": WAIT * 1000, "retry.backoff.ms": 100,
                  "topic.metadata.refresh.interval.ms": 1000})
    for v in values:
        p.produce(TOPIC, value=v, partition=0, callback=dr)
        p.poll(0)
    assert p.flush(WAIT + 10) == 0, "undelivered records"
    assert not failed, "failed deliveries: %s" % failed[:3]
    return [v for _, v in acked]


def consume_all(bootstrap, want):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(TOPIC, 0, 0)])
    got, deadline = [], time.time() + WAIT
    while len(got) < want and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
            continue
        got.append(m.value())
    # Anything beyond what was acknowledged would show up here.
    end = time.time() + 2
    while time.time() < end:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m.value())
    c.close()
    return got


def main():
    ports = kfutil.free_ports(6)
    kports, rports = ports[:3], ports[3:]
    nodes, repl, kafka = start_cluster([1, 2, 3], kports, rports)
    try:
        leader = settle(nodes)
        follower = [i for i in nodes if i != leader][0]

        # Phase 1: bootstrapped at a follower only; the client must move.
        first = [b"a-%04d" % i for i in range(150)]
        acked = produce(nodes[follower].bootstrap, first)
        assert sorted(acked) == sorted(first)

        old = leader
        nodes[old].kill()
        survivors = {i: n for i, n in nodes.items() if i != old}
        views = wait_agreed_leader(survivors, not_leader=old)
        new_leader = views[0][0]
        assert new_leader != old

        # Phase 2: the same bootstrap list minus the dead node.
        boot = ",".join(n.bootstrap for n in survivors.values())
        second = [b"b-%04d" % i for i in range(150)]
        acked += produce(boot, second)

        got = consume_all(boot, len(acked))
        assert len(got) == len(set(got)), "a record was read twice"
        assert got == first + second, "read %d records, first difference at %s" % (
            len(got), next((i for i, (a, b) in enumerate(zip(got, first + second)) if a != b),
                           min(len(got), len(first + second))))

        # The killed node restarts from its directory and follows.
        n = kfutil.Logd(data=nodes[old].data, listen="127.0.0.1:%d" % kports[old - 1],
                        args=["--node-id", str(old), "--cluster", repl, "--cluster-kafka", kafka,
                              "--partitions", "1"])
        nodes[old] = n.start()
        wait_agreed_leader(nodes)
        for n in nodes.values():
            n.stop()
        print("ok: leader %d killed, %d took over, %d acknowledged records read once each "
              "in order" % (old, new_leader, len(got)))
    finally:
        for n in nodes.values():
            if n.alive():
                n.kill()


if __name__ == "__main__":
    main()
