#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
batch/consumers — batches made by cairn's builder, in every codec
(none, gzip, xerial snappy, lz4 frame, zstd), are produced verbatim to a
real `cairn logd` with a raw Produce v3 request, then consumed by
librdkafka (confluent-kafka) and kafka-python's KafkaConsumer: every
record's offset, timestamp, key, value and headers must match what the
builder was given.  This is what happens to the gateway's in-process
batches when a Kafka tool reads the log.  The batches and the manifest
come from `test_lg_batch_interop --write DIR` (see batch/kafka_python_decode).
Needs CAIRN_BUILD and CAIRN_BIN (set by ctest) or a build dir argument.
"""
import ctypes
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kfutil  # noqa: E402
from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from kafka import KafkaConsumer  # noqa: E402
from kafka import TopicPartition as KTopicPartition  # noqa: E402


def kstr(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def produce_raw(port, topic, batch, corr):
    """Produce v3: transactional_id null, acks -1, one topic, partition 0."""
    body = struct.pack(">hhi", -1, -1, 10000)
    body += struct.pack(">i", 1) + kstr(topic)
    body += struct.pack(">i", 1) + struct.pack(">ii", 0, len(batch)) + batch
    s = kfutil.connect(port)
    try:
        s.sendall(kfutil.frame(0, 3, corr, body))
        resp = kfutil.recv_frame(s)
    finally:
        s.close()
    # correlation id, [topic [partition error_code base_offset log_append_time]], throttle
    (got_corr,) = struct.unpack(">i", resp[:4])
    assert got_corr == corr
    pos = 4 + 4
    (tlen,) = struct.unpack(">h", resp[pos:pos + 2])
    pos += 2 + tlen + 4
    part, err, base = struct.unpack(">ihq", resp[pos:pos + 14])
    assert (part, err) == (0, 0), "%s: Produce error %d" % (topic, err)
    return base


def unhex(v):
    return None if v is None else bytes.fromhex(v)


def expect(want):
    return [(r["offset"], r["timestamp"], unhex(r["key"]), unhex(r["value"]),
             [(unhex(k), unhex(v)) for k, v in r["headers"]]) for r in want["records"]]


def rdk_headers(m):
    """m.headers(), compensating a confluent-kafka 1.7 bug: building the
    header list for a null header value takes a reference to None it does
    not own, so the interpreter aborts at exit ("none_dealloc").  Measure
    the references the call should have added (one per None in the list)
    and give back any that went missing; a fixed version loses none."""
    before = sys.getrefcount(None)
    hs = m.headers() or []
    missing = before + sum(1 for _, v in hs if v is None) - sys.getrefcount(None)
    for _ in range(max(0, missing)):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(None))
    return hs


def consume_librdkafka(bootstrap, topic, n):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "g-" + topic,
                  "enable.auto.commit": False, "enable.partition.eof": False})
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    for _ in range(200):
        if len(got) >= n:
            break
        for m in c.consume(num_messages=n, timeout=0.5):
            assert not m.error(), m.error()
            hs = [(k.encode(), v) for k, v in rdk_headers(m)]
            got.append((m.offset(), m.timestamp()[1], m.key(), m.value(), hs))
    c.close()
    return got


def consume_kafka_python(bootstrap, topic, n):
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                      consumer_timeout_ms=5000, fetch_max_bytes=8 << 20,
                      max_partition_fetch_bytes=8 << 20)
    tp = KTopicPartition(topic, 0)
    c.assign([tp])
    c.seek(tp, 0)
    got = []
    for m in c:
        hs = [(k.encode(), v) for k, v in m.headers]
        got.append((m.offset, m.timestamp, m.key, m.value, hs))
        if len(got) >= n:
            break
    c.close()
    return got


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CAIRN_BUILD")
    if not build:
        sys.exit("batch/consumers: set CAIRN_BUILD or pass the build directory")
    helper = os.path.join(build, "tests", "test_lg_batch_interop")
    if not os.environ.get("CAIRN_BIN"):
        kfutil.BIN = os.path.join(build, "cairn")
    with tempfile.TemporaryDirectory(prefix="cairn-batch-consumers-") as tmp:
        subprocess.run([helper, "--write", tmp], check=True, timeout=60)
        with open(os.path.join(tmp, "manifest.json")) as f:
            manifest = json.load(f)
        node = kfutil.Logd(args=["--partitions", "1", "--auto-create"]).start()
        try:
            for i, want in enumerate(manifest):
                topic = "interop-" + want["file"][:-4]
                with open(os.path.join(tmp, want["file"]), "rb") as f:
                    batch = f.read()
                assert produce_raw(node.port, topic, batch, 100 + i) == 0
                exp = expect(want)
                for name, fn in (("librdkafka", consume_librdkafka),
                                 ("kafka-python", consume_kafka_python)):
                    got = fn(node.bootstrap, topic, len(exp))
                    assert len(got) == len(exp), (name, topic, len(got), len(exp))
                    for g, w in zip(got, exp):
                        assert g == w, "%s %s offset %d:\n got %r\nwant %r" % (
                            name, topic, w[0], g[:4], w[:4])
                print("ok %-8s %d records read back by librdkafka and kafka-python"
                      % (want["file"][:-4], len(exp)))
        finally:
            node.stop()
    print("batch/consumers: ok")


if __name__ == "__main__":
    main()
