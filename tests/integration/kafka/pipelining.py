#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
kafka/pipelining — several requests in flight on one connection against a
real `cairn logd`, replies in request order (Kafka's guarantee):
  - a raw socket sends, in one write, Produce requests for two partitions
    mixed with fast requests (ApiVersions, Metadata) and a slow one (a
    Fetch long poll that waits its full max wait): every reply comes back
    in request order, and the Produces' records are stored in request
    order (base offsets rise with the request order; a consumer reads the
    values in the order they were sent);
  - 200 Produces to one partition in one write: answered in order, stored
    in order;
  - librdkafka (confluent-kafka) with enable.idempotence and
    max.in.flight.requests.per.connection 5, tiny batches so that it keeps
    several Produces in flight: 5,000 records to one partition come back
    in order, without gaps or duplicates;
  - SIGTERM exits 0.
"""
import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kfutil  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from kafka.record.default_records import DefaultRecordBatchBuilder  # noqa: E402

TOPIC = b"pipe-raw"


def kstr(s):
    return struct.pack(">h", len(s)) + s


def batch(value):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=0,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 20)
    b.append(0, timestamp=int(time.time() * 1000), key=None, value=value, headers=[])
    return bytes(b.build())


def produce_frame(corr, part, value):
    records = batch(value)
    body = struct.pack(">h", -1) + struct.pack(">hi", -1, 10000)
    body += struct.pack(">i", 1) + kstr(TOPIC) + struct.pack(">i", 1)
    body += struct.pack(">i", part) + struct.pack(">i", len(records)) + records
    return kfutil.frame(0, 3, corr, body)


def produce_result(r):
    # corr, [topics: name, [partitions: index, error, base_offset, log_append_time]], throttle
    off = 4 + 4
    (nl,) = struct.unpack(">h", r[off:off + 2])
    off += 2 + nl + 4
    idx, err, base, _ = struct.unpack(">ihqq", r[off:off + 22])
    return idx, err, base


def slow_fetch_frame(corr, part, offset, wait_ms):
    """Fetch v4 asking for more bytes than exist: waits wait_ms."""
    body = struct.pack(">iiiib", -1, wait_ms, 1 << 30, 1 << 20, 0)
    body += struct.pack(">i", 1) + kstr(TOPIC) + struct.pack(">i", 1)
    body += struct.pack(">iqi", part, offset, 1 << 20)
    return kfutil.frame(1, 4, corr, body)


def metadata_frame(corr):
    return kfutil.frame(3, 1, corr, struct.pack(">i", 1) + kstr(TOPIC))


def read_values(bootstrap, topic, part, n, timeout=60):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "pipe-check-%s-%d" % (topic, part),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, part, 0)])
    out = []
    deadline = time.time() + timeout
    while len(out) < n and time.time() < deadline:
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        out.append(m.value())
    c.close()
    return out


def main():
    node = kfutil.Logd(args=["--partitions", "2", "--auto-create"]).start()
    port = node.port
    try:
        # The topic exists before the burst (the first Produce creates it).
        s = kfutil.connect(port, timeout=60)
        s.sendall(produce_frame(1, 0, b"first"))
        first = produce_result(kfutil.recv_frame(s))
        assert first[1] == 0, first

        # A mixed burst in one write.  Produces fill the pipe; the fast and
        # slow requests wait their turn; all replies in request order.
        burst = [
            ("P", 10, 0, b"a0"), ("P", 11, 1, b"b0"), ("A", 12), ("P", 13, 0, b"a1"),
            ("F", 14, 1, 500), ("P", 15, 0, b"a2"), ("P", 16, 1, b"b1"), ("M", 17),
            ("P", 18, 0, b"a3"), ("P", 19, 0, b"a4"), ("A", 20), ("P", 21, 1, b"b2"),
        ]
        data = b""
        for r in burst:
            if r[0] == "P":
                data += produce_frame(r[1], r[2], r[3])
            elif r[0] == "A":
                data += kfutil.frame(18, 1, r[1])
            elif r[0] == "M":
                data += metadata_frame(r[1])
            else:
                data += slow_fetch_frame(r[1], r[2], 1 << 40, r[3])
        s.sendall(data)
        bases = {0: [], 1: []}
        for r in burst:
            reply = kfutil.recv_frame(s)
            (corr,) = struct.unpack(">i", reply[:4])
            assert corr == r[1], "reply %d came where %d was due" % (corr, r[1])
            if r[0] == "P":
                idx, err, base = produce_result(reply)
                assert idx == r[2] and err == 0, (r, idx, err)
                bases[r[2]].append(base)
        for part, b in bases.items():
            assert b == sorted(b) and len(set(b)) == len(b), (part, b)
        vals0 = read_values(node.bootstrap, TOPIC.decode(), 0, 6)
        assert vals0 == [b"first", b"a0", b"a1", b"a2", b"a3", b"a4"], vals0
        vals1 = read_values(node.bootstrap, TOPIC.decode(), 1, 3)
        assert vals1 == [b"b0", b"b1", b"b2"], vals1

        # 200 Produces to one partition in one write.
        n = 200
        s.sendall(b"".join(produce_frame(1000 + i, 1, b"p%d" % i) for i in range(n)))
        last = -1
        for i in range(n):
            reply = kfutil.recv_frame(s)
            assert struct.unpack(">i", reply[:4])[0] == 1000 + i
            idx, err, base = produce_result(reply)
            assert err == 0 and base > last, (i, err, base, last)
            last = base
        vals = read_values(node.bootstrap, TOPIC.decode(), 1, 3 + n)
        assert vals[3:] == [b"p%d" % i for i in range(n)], "stored out of order"
        s.close()

        # librdkafka: idempotent, up to 5 Produces in flight, one partition.
        topic = "pipe-rdk"
        p = Producer({"bootstrap.servers": node.bootstrap, "enable.idempotence": True,
                      "acks": "all", "max.in.flight.requests.per.connection": 5,
                      "linger.ms": 0, "batch.num.messages": 10})
        errors = []
        total = 5000

        def on_delivery(err, msg):
            if err is not None:
                errors.append(err)

        for i in range(total):
            while True:
                try:
                    p.produce(topic, value=b"%06d" % i, partition=0, on_delivery=on_delivery)
                    break
                except BufferError:
                    p.poll(0.05)
            p.poll(0)
        assert p.flush(120) == 0, "records left unsent"
        assert not errors, errors[:5]
        vals = read_values(node.bootstrap, topic, 0, total, timeout=120)
        assert vals == [b"%06d" % i for i in range(total)], \
            "librdkafka records out of order, missing or doubled (%d read)" % len(vals)
        assert node.alive()
        node.stop()
        print("kafka/pipelining: ok")
    except BaseException:
        sys.stderr.write(node.log()[-4000:])
        if node.alive():
            node.kill()
        raise


if __name__ == "__main__":
    main()
