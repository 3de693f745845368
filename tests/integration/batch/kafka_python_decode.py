#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
batch/kafka_python_decode — RecordBatches made by cairn's builder (every codec:
none, gzip, snappy, lz4, zstd) decode with a real Kafka client's reader,
kafka-python's DefaultRecordBatch (python3-kafka, with python3-snappy,
python3-lz4 and python3-zstandard for the codecs).

The C side is tests/unit/test_lg_batch_interop.c run as
`test_lg_batch_interop --write DIR`: it writes DIR/<codec>.bin and
DIR/manifest.json (every record it put in, bytes as hex).  This test checks
each batch's CRC, header fields and codec, then every record's offset,
timestamp, key, value and headers against the manifest.
Needs CAIRN_BUILD (set by ctest) or a build dir as the first argument.
"""

if not __debug__:  # the checks here are assert statements: python -O would strip them
    raise SystemExit("cairn's integration tests check with assert: run them without python -O")
import json
import os
import subprocess
import sys
import tempfile

from kafka.record.default_records import DefaultRecordBatch

CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


def unhex(v):
    return None if v is None else bytes.fromhex(v)


def check_file(path, want):
    with open(path, "rb") as f:
        data = f.read()
    batch = DefaultRecordBatch(data)
    name = os.path.basename(path)
    assert batch.magic == 2, name
    assert batch.validate_crc(), name + ": CRC-32C does not verify"
    assert batch.compression_type == want["codec"], (name, batch.compression_type)
    # kafka-python 2.0.2 has no properties for the producer fields; its
    # parsed header tuple is (baseOffset, length, leaderEpoch, magic, crc,
    # attributes, lastOffsetDelta, firstTimestamp, maxTimestamp,
    # producerId, producerEpoch, baseSequence, recordCount).
    hd = batch._header_data
    assert hd[1] == len(data) - 12, name + ": batchLength"
    assert hd[9] == want["producer_id"], name
    assert hd[10] == want["producer_epoch"], name
    assert hd[11] == want["base_sequence"], name
    assert hd[12] == len(want["records"]), name
    assert batch.last_offset_delta == len(want["records"]) - 1, name
    recs = want["records"]
    assert batch.first_timestamp == recs[0]["timestamp"], name
    assert batch.max_timestamp == max(r["timestamp"] for r in recs), name
    got = list(batch)
    assert len(got) == len(recs), (name, len(got))
    for g, w in zip(got, recs):
        where = "%s offset %d" % (name, w["offset"])
        assert g.offset == w["offset"], where
        assert g.timestamp == w["timestamp"], where
        assert g.key == unhex(w["key"]), where
        assert g.value == unhex(w["value"]), where
        hs = [(k.encode(), v) for k, v in g.headers]
        assert hs == [(unhex(k), unhex(v)) for k, v in w["headers"]], where
    return len(got)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CAIRN_BUILD")
    if not build:
        sys.exit("batch/kafka_python_decode: set CAIRN_BUILD or pass the build directory")
    helper = os.path.join(build, "tests", "test_lg_batch_interop")
    if not os.access(helper, os.X_OK):
        sys.exit("batch/kafka_python_decode: %s is not built; build target test_lg_batch_interop" % helper)
    with tempfile.TemporaryDirectory(prefix="cairn-batch-decode-") as tmp:
        subprocess.run([helper, "--write", tmp], check=True, timeout=60)
        with open(os.path.join(tmp, "manifest.json")) as f:
            manifest = json.load(f)
        assert sorted(m["codec"] for m in manifest) == sorted(CODECS), manifest
        total = 0
        for want in manifest:
            total += check_file(os.path.join(tmp, want["file"]), want)
            print("ok %-10s %d records" % (want["file"], len(want["records"])))
    print("batch/kafka_python_decode: %d records in %d batches decoded by kafka-python" % (total, len(manifest)))


if __name__ == "__main__":
    main()
