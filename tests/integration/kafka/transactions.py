#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
kafka/transactions — Kafka transactions against `cairn logd` with
librdkafka's transactional producer and read_committed consumer
(confluent-kafka):
  1. a committed transaction is visible to read_committed, an aborted one
     never is (and is visible to read_uncommitted), with the transaction
     markers taking offsets in between;
  2. offsets sent with send_offsets_to_transaction are committed with the
     transaction (and not when it aborts);
  3. a second producer with the same transactional.id fences the first:
     the first's open transaction is aborted and its next call fails fenced;
  4. a producer SIGKILLed inside a transaction leaves it open: read_committed
     consumers stop at it (the last stable offset) until its timeout aborts
     it; then they go past it without its records;
  5. all of it survives SIGKILL of logd: a transaction open at the kill is
     aborted by its timeout after the restart, a committed one stays
     visible, and the next producer instance commits normally;
  6. `cairn log dump` of the running node's data directory shows the
     markers (COMMIT/ABORT with their producer) and each transactional
     record's outcome (committed, aborted).
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kfutil  # noqa: E402
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402

TOPIC = "ble-raw"
PARTS = 2


def producer(bs, tid, timeout_ms=60000):
    p = Producer({"bootstrap.servers": bs, "transactional.id": tid,
                  "transaction.timeout.ms": timeout_ms, "linger.ms": 5})
    p.init_transactions(30)
    return p


def read(bs, isolation, parts=range(PARTS), want=None, timeout=30):
    """[(partition, offset, value)] of every record visible at this isolation
    level, read until the end of each partition (or `want` records)."""
    c = Consumer({"bootstrap.servers": bs, "group.id": "reader-%s-%f" % (isolation, time.time()),
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "isolation.level": isolation, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(TOPIC, p, 0) for p in parts])
    out, eof = [], set()
    deadline = time.time() + timeout
    while time.time() < deadline:
        for m in c.consume(500, timeout=0.3):
            if m.error():
                eof.add(m.partition())
                continue
            eof.discard(m.partition())
            out.append((m.partition(), m.offset(), m.value()))
        if (want is None and len(eof) == len(list(parts))) or (want is not None and len(out) >= want):
            break
    c.close()
    return sorted(out)


def values(recs):
    return sorted(v for _, _, v in recs)


def committed(bs, group, parts=range(PARTS)):
    c = Consumer({"bootstrap.servers": bs, "group.id": group, "enable.auto.commit": False})
    r = {tp.partition: tp.offset for tp in c.committed([TopicPartition(TOPIC, p) for p in parts], timeout=10)}
    c.close()
    return r


def commit_and_abort(bs):
    p = producer(bs, "tx-basic")
    p.begin_transaction()
    for i in range(10):
        p.produce(TOPIC, value=b"c1-%d" % i, partition=i % PARTS)
    p.commit_transaction(30)
    p.begin_transaction()
    for i in range(10):
        p.produce(TOPIC, value=b"a1-%d" % i, partition=i % PARTS)
    p.flush(30)
    p.abort_transaction(30)
    p.begin_transaction()
    for i in range(6):
        p.produce(TOPIC, value=b"c2-%d" % i, partition=i % PARTS)
    p.commit_transaction(30)
    rc = read(bs, "read_committed")
    ru = read(bs, "read_uncommitted")
    want_c = sorted([b"c1-%d" % i for i in range(10)] + [b"c2-%d" % i for i in range(6)])
    assert values(rc) == want_c, values(rc)
    assert values(ru) == sorted(want_c + [b"a1-%d" % i for i in range(10)]), values(ru)
    # Markers take an offset: partition 0 holds 5 + marker, 5 + marker, 3 + marker.
    offs = [o for part, o, _ in ru if part == 0]
    assert offs == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 12, 13, 14], offs
    print("commit/abort: read_committed %d, read_uncommitted %d records" % (len(rc), len(ru)))
    return p


def dump_shows_markers(data):
    out = subprocess.run([kfutil.BIN, "log", "dump", TOPIC + ":0", "--data", data],
                         capture_output=True, check=True).stdout.decode()
    rows = [json.loads(line) for line in out.splitlines()]
    ctl = [(r["offset"], r["control"]) for r in rows if "control" in r]
    assert ctl[:3] == [(5, "COMMIT"), (11, "ABORT"), (15, "COMMIT")], ctl
    for r in rows:
        v = r.get("value", "")
        if v.startswith("a1-"):
            assert r["transaction"] == "aborted", r
        elif v.startswith("c1-") or v.startswith("c2-"):
            assert r["transaction"] == "committed", r
    assert all("producer_id" in r for r in rows if "control" in r)
    text = subprocess.run([kfutil.BIN, "log", "dump", TOPIC + ":0", "--data", data, "--format", "text"],
                          capture_output=True, check=True).stdout.decode()
    assert "control=ABORT" in text and "txn=aborted" in text, text
    print("log dump: markers at %r, aborted records marked" % ctl[:3])


def offsets_in_txn(bs, p):
    group = "txn-group"
    meta_c = Consumer({"bootstrap.servers": bs, "group.id": group})
    cgm = meta_c.consumer_group_metadata()
    p.begin_transaction()
    p.produce(TOPIC, value=b"off-1", partition=0)
    p.send_offsets_to_transaction([TopicPartition(TOPIC, 0, 5), TopicPartition(TOPIC, 1, 4)], cgm, 30)
    p.abort_transaction(30)
    c = committed(bs, group)
    assert all(o < 0 for o in c.values()), "offsets of an aborted transaction were committed: %r" % c
    p.begin_transaction()
    p.produce(TOPIC, value=b"off-2", partition=0)
    p.send_offsets_to_transaction([TopicPartition(TOPIC, 0, 7), TopicPartition(TOPIC, 1, 3)], cgm, 30)
    p.commit_transaction(30)
    meta_c.close()
    c = committed(bs, group)
    assert c == {0: 7, 1: 3}, c
    print("send_offsets_to_transaction: committed with the transaction %r" % c)


def fencing(bs):
    a = producer(bs, "tx-fence")
    a.begin_transaction()
    a.produce(TOPIC, value=b"zombie", partition=1)
    a.flush(30)
    b = producer(bs, "tx-fence")  # aborts a's open transaction, bumps the epoch
    b.begin_transaction()
    b.produce(TOPIC, value=b"successor", partition=1)
    b.commit_transaction(30)
    try:
        a.produce(TOPIC, value=b"zombie-2", partition=1)
        a.commit_transaction(30)
        raise AssertionError("the fenced producer committed")
    except KafkaException as e:
        err = e.args[0]
        assert err.fatal() or "fenced" in str(err).lower(), err
        print("fenced producer: %s" % err)
    rc = values(read(bs, "read_committed", parts=[1]))
    assert b"successor" in rc and b"zombie" not in rc and b"zombie-2" not in rc, rc
    ru = values(read(bs, "read_uncommitted", parts=[1]))
    assert b"zombie" in ru and b"zombie-2" not in ru, ru


CHILD = r"""
import sys, time
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "transactional.id": sys.argv[2],
              "transaction.timeout.ms": int(sys.argv[3])})
p.init_transactions(30)
p.begin_transaction()
for i in range(5):
    p.produce("ble-raw", value=b"%s-%d" % (sys.argv[2].encode(), i), partition=0)
p.flush(30)
print("open", flush=True)
time.sleep(600)
"""


def open_txn_in_child(bs, tid, timeout_ms):
    ch = subprocess.Popen(["/usr/bin/python3", "-c", CHILD, bs, tid, str(timeout_ms)],
                          stdout=subprocess.PIPE)
    line = ch.stdout.readline()
    assert line.strip() == b"open", line
    ch.kill()
    ch.wait()


def hw(bs, part):
    c = Consumer({"bootstrap.servers": bs, "group.id": "hw", "isolation.level": "read_uncommitted"})
    lo, hi = c.get_watermark_offsets(TopicPartition(TOPIC, part), timeout=10)
    c.close()
    return hi


def killed_producer_timeout(bs):
    before = hw(bs, 0)
    open_txn_in_child(bs, "tx-killed", 3000)
    # The transaction is open: a later committed one is held back behind it.
    p = producer(bs, "tx-after")
    p.begin_transaction()
    p.produce(TOPIC, value=b"after-killed", partition=0)
    p.commit_transaction(30)
    rc = values(read(bs, "read_committed", parts=[0], timeout=2))
    assert b"after-killed" not in rc, "read past an open transaction"
    # Within a few ticks past its 3 s timeout it is aborted; then the
    # consumer reads past it, without its records.
    rc = values(read(bs, "read_committed", parts=[0], want=None, timeout=30))
    deadline = time.time() + 60
    while b"after-killed" not in rc and time.time() < deadline:
        time.sleep(0.5)
        rc = values(read(bs, "read_committed", parts=[0], timeout=10))
    assert b"after-killed" in rc, "the killed producer's transaction was never aborted"
    assert not any(v.startswith(b"tx-killed") for v in rc), rc
    assert hw(bs, 0) > before + 5
    print("SIGKILLed producer: its transaction aborted by timeout")


def logd_kill(node):
    bs = node.bootstrap
    p = producer(bs, "tx-restart", timeout_ms=4000)
    p.begin_transaction()
    p.produce(TOPIC, value=b"durable-commit", partition=1)
    p.commit_transaction(30)
    open_txn_in_child(bs, "tx-open-at-kill", 4000)
    node.kill()
    node = kfutil.Logd(data=node.data, args=["--partitions", str(PARTS)]).start()
    bs = node.bootstrap
    deadline = time.time() + 60
    rc = []
    while time.time() < deadline:
        rc = values(read(bs, "read_committed", parts=[0, 1], timeout=10))
        lso_passed = b"after-killed" in rc
        p0 = [v for v in rc if v.startswith(b"tx-open-at-kill")]
        assert not p0, p0
        if lso_passed and b"durable-commit" in rc and all_ended(bs):
            break
        time.sleep(0.5)
    assert b"durable-commit" in rc
    assert all_ended(bs), "the transaction open at the kill was not aborted after the restart"
    q = producer(bs, "tx-restart")
    q.begin_transaction()
    q.produce(TOPIC, value=b"after-restart", partition=0)
    q.commit_transaction(30)
    rc = values(read(bs, "read_committed"))
    assert b"after-restart" in rc and not any(v.startswith(b"tx-open-at-kill") for v in rc), (
        rc, values(read(bs, "read_uncommitted")), node.log()[-3000:])
    print("logd SIGKILL: committed data kept, open transaction aborted by timeout after restart")
    return node


def all_ended(bs):
    """Every record of partition 0 is at or below its last stable offset."""
    c = Consumer({"bootstrap.servers": bs, "group.id": "lso", "isolation.level": "read_committed"})
    lo, lso = c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)
    c.close()
    return lso == hw(bs, 0)


def main():
    node = kfutil.Logd(args=["--partitions", str(PARTS)]).start()
    try:
        bs = node.bootstrap
        p = commit_and_abort(bs)
        dump_shows_markers(node.data)
        offsets_in_txn(bs, p)
        fencing(bs)
        killed_producer_timeout(bs)
        node = logd_kill(node)
        node.stop()
    except BaseException:
        sys.stderr.write(node.log()[-4000:])
        if node.alive():
            node.kill()
        raise
    print("ok")


if __name__ == "__main__":
    main()
