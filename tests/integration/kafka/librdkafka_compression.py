# SPDX-License-Identifier: MIT
"""
kafka/librdkafka_compression — librdkafka (confluent-kafka) really compresses with every codec when
producing to cairn logd, and the batches are stored as produced.

librdkafka 2.0.2 turns compression codecs on or off from the broker's
advertised ApiVersions ranges: a broker whose Produce/Fetch ranges start
above 0 gets gzip/snappy/lz4 batches sent uncompressed (it logs "Broker
does not support compression type").  This test produces highly
compressible records with each codec, reads the segment file's batch
headers (attributes bits 0-2 are the codec; the log stores batches
verbatim) and consumes the records back through librdkafka.
"""
import glob
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kfutil  # noqa: E402

from confluent_kafka import Consumer, Producer  # noqa: E402

CODECS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def batch_codecs(seg_dir):
    """Codec of every batch in a partition's segment files."""
    seen = []
    for path in sorted(glob.glob(os.path.join(seg_dir, "*.log"))):
        with open(path, "rb") as f:
            data = f.read()
        pos = 0
        while pos + 61 <= len(data):
            (blen,) = struct.unpack_from(">i", data, pos + 8)
            (attrs,) = struct.unpack_from(">h", data, pos + 21)
            seen.append(attrs & 7)
            pos += 12 + blen
    return seen


def main():
    logd = kfutil.Logd(args=["--partitions", "1", "--auto-create"]).start()
    try:
        for name, code in CODECS.items():
            topic = "comp-" + name
            p = Producer({"bootstrap.servers": logd.bootstrap, "compression.type": name,
                          "linger.ms": 50, "enable.idempotence": True})
            errors = []
            for i in range(500):
                p.produce(topic, key=b"k", value=(b"treasure %06d " % i) * 20,
                          on_delivery=lambda e, m: errors.append(e) if e else None)
            assert p.flush(30) == 0, "undelivered records for " + name
            assert not errors, "%s: delivery errors %r" % (name, errors[:3])
            codecs = batch_codecs(os.path.join(logd.data, "topics", topic, "0"))
            assert codecs, "no batches stored for " + name
            assert all(c == code for c in codecs), \
                "%s: stored batch codecs %r, want all %d" % (name, codecs, code)
            c = Consumer({"bootstrap.servers": logd.bootstrap, "group.id": "g-" + name,
                          "auto.offset.reset": "earliest", "enable.auto.commit": False})
            c.subscribe([topic])
            got = []
            while len(got) < 500:
                m = c.poll(10)
                assert m is not None, "%s: consumer stalled at %d records" % (name, len(got))
                assert not m.error(), m.error()
                got.append(m.value())
            c.close()
            assert got == [(b"treasure %06d " % i) * 20 for i in range(500)], name
            print("%s: %d batches stored compressed, 500 records read back" % (name, len(codecs)))
    finally:
        logd.stop()


if __name__ == "__main__":
    main()
