#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
gen_rdkafka.py — interop test vectors written by librdkafka (the C client
behind confluent-kafka, kcat and most non-Java clients), in every codec.

librdkafka needs a broker to produce to, so this starts a real `cairn logd`
(whose segment files hold each batch byte for byte as the producer sent
it, with only baseOffset and partitionLeaderEpoch stamped, both outside the
CRC), produces the same records gen_batches.py uses with confluent-kafka
(Debian python3-confluent-kafka) to one topic per codec (an idempotent
producer for zstd), stops logd, splits the segments into batches, checks
each with kafka-python's DefaultRecordBatch (an independent reader) and
writes tests/vectors/rdkafka-<codec>-<n>.bin plus rdkafka.json: for each
file its codec, producer fields and which slice of batches.json's
"records" it holds.  tests/unit/test_lg_batch_iter.c decodes them.

librdkafka 2.0.2 compresses with gzip, snappy or lz4 only when the broker
advertises Produce and Fetch from version 0 (its MSGVER1/LZ4 feature
probes); the committed files were made with a logd whose ApiVersions did
(the only change: the advertised minimum versions; the batches are
librdkafka's own bytes).  With a logd that advertises Produce >= 3 this
script stops with that explanation.

Run: /usr/bin/python3 tests/vectors/gen_rdkafka.py BUILD/cairn [OUTDIR]
"""
import glob
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Producer
from kafka.record.default_records import DefaultRecordBatch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_batches import records  # noqa: E402

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def start_logd(binary, data):
    pf = os.path.join(data, "..", "port")
    proc = subprocess.Popen([binary, "logd", "--data", data, "--kafka-listen", "127.0.0.1:0",
                             "--port-file", pf, "--partitions", "1", "--auto-create"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 15
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit("gen_rdkafka: logd exited %d" % proc.returncode)
        if os.path.exists(pf):
            with open(pf) as f:
                txt = f.read().strip()
            if txt:
                return proc, int(txt)
        time.sleep(0.05)
    proc.kill()
    sys.exit("gen_rdkafka: logd did not start")


def produce(port, codec, recs):
    conf = {"bootstrap.servers": "127.0.0.1:%d" % port, "compression.type": codec,
            "linger.ms": 200, "enable.idempotence": codec == "zstd",
            "message.max.bytes": 4 << 20}
    p = Producer(conf)
    errs = []
    for ts, k, v, h in recs:
        p.produce("vec-" + codec, key=k, value=v, headers=h, partition=0, timestamp=ts,
                  on_delivery=lambda err, msg: err and errs.append(err))
    if p.flush(30) != 0 or errs:
        sys.exit("gen_rdkafka: %s: delivery failed: %s" % (codec, errs[:3]))


def split_batches(seg):
    out, pos = [], 0
    while pos + 12 <= len(seg):
        n = struct.unpack(">i", seg[pos + 8:pos + 12])[0]
        out.append(seg[pos:pos + 12 + n])
        pos += 12 + n
    assert pos == len(seg), "torn segment"
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: gen_rdkafka.py BUILD/cairn [OUTDIR]")
    binary = sys.argv[1]
    outdir = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))
    recs = records()
    vectors = []
    with tempfile.TemporaryDirectory(prefix="cairn-rdk-") as tmp:
        data = os.path.join(tmp, "data")
        proc, port = start_logd(binary, data)
        try:
            for codec in CODECS:
                produce(port, codec, recs)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        for codec, cid in CODECS.items():
            segs = sorted(glob.glob(os.path.join(data, "topics", "vec-" + codec, "0", "*.log")))
            batches = [b for s in segs for b in split_batches(open(s, "rb").read())]
            first = 0
            # librdkafka sends a batch uncompressed when compressing does not
            # shrink it (a lone small record): at least one must use the codec.
            if not any(DefaultRecordBatch(b).compression_type == cid for b in batches):
                sys.exit("gen_rdkafka: librdkafka did not compress with %s: it enables gzip, "
                         "snappy and lz4 only when the broker's ApiVersions lists Produce and "
                         "Fetch from version 0 (\"Broker does not support compression type\" "
                         "in its debug=msg log)" % codec)
            for n, b in enumerate(batches):
                kb = DefaultRecordBatch(b)
                assert kb.validate_crc(), codec
                got = list(kb)
                hd = kb._header_data
                assert hd[0] == first, (codec, hd[0], first)  # logd stamped the offset
                assert kb.compression_type in (0, cid), (codec, kb.compression_type)
                for j, r in enumerate(got):
                    ts, k, v, h = recs[first + j]
                    assert (r.offset, r.timestamp, r.key, r.value) == (first + j, ts, k, v), codec
                    assert [(hk, hv) for hk, hv in r.headers] == list(h), codec
                name = "rdkafka-%s-%d.bin" % (codec, n)
                with open(os.path.join(outdir, name), "wb") as f:
                    f.write(b)
                vectors.append({"file": name, "codec": kb.compression_type, "producer_id": hd[9],
                                "producer_epoch": hd[10], "base_sequence": hd[11],
                                "first": first, "count": len(got)})
                first += len(got)
            assert first == len(recs), (codec, first)
    with open(os.path.join(outdir, "rdkafka.json"), "w") as f:
        f.write('{"generator": %s,\n "records": "batches.json",\n "vectors": [\n  %s\n ]}\n' % (
            json.dumps("librdkafka " + __import__("confluent_kafka").libversion()[0]),
            ",\n  ".join(json.dumps(v) for v in vectors)))


if __name__ == "__main__":
    main()
