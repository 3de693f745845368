#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
gen_batches.py — interop test vectors for cairn's RecordBatch reader.

Builds Kafka RecordBatch v2 byte strings with a real client library,
kafka-python's pure-python DefaultRecordBatchBuilder (Debian python3-kafka),
in every codec it supports (gzip, snappy, lz4, zstd need python3-snappy,
python3-lz4, python3-zstandard), writes each to tests/vectors/<name>.bin and
writes batches.json: the header fields of every file and, once, the records
they all hold (offset, timestamp, key, value, headers; bytes as hex, null
as null), which tests/unit/test_lg_batch_iter.c checks record by record.
Every file is read back with kafka-python's DefaultRecordBatch first.

Besides the stock encoders, two variants real producers emit are forced by
swapping kafka-python's codec function: raw (unframed) snappy, as librdkafka
writes, and zstd frames without a content size, as streaming producers
write.  Everything is deterministic (fixed timestamps, seeded data), so
re-running the script reproduces the committed files byte for byte, except
the gzip member header's MTIME (python's gzip writes the current time) and
wherever a codec library's output changes between versions.

Run: /usr/bin/python3 tests/vectors/gen_batches.py [OUTDIR]
"""
import json
import os
import random
import sys

import kafka.codec as kcodec
import kafka.record.default_records as dr
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

BASE_TS = 1764320000123  # 2025-11-28T08:53:20.123Z


def records():
    """The records every codec vector holds: edge cases first, then bulk."""
    rnd = random.Random(20261128)
    recs = []
    ct = ("content-type", b"application/cloudevents+protobuf")
    recs.append((BASE_TS, b"p-0001", b'{"id":"c-1","beacon":"b-07","rssi":-61}', [ct]))
    recs.append((BASE_TS + 5, None, b"null key", []))                  # null key
    recs.append((BASE_TS + 7, b"p-0002", None, []))                    # null value (tombstone)
    recs.append((BASE_TS + 9, b"", b"", []))                           # empty, not null
    recs.append((BASE_TS - 1000, b"p-early", b"earlier than base", []))  # negative ts delta
    recs.append((BASE_TS + 11, b"p-h", b"headers",
                 [("h-null", None), ("h-empty", b""), ("h-bin", bytes(range(256))),
                  ("\u00e9t\u00e9", "\u2713".encode())]))             # null/empty/binary/utf-8
    recs.append((BASE_TS + 13, "joueur-\u00e9".encode(), bytes([0xff, 0xfe, 0x00, 0x80]), []))
    # A 96 KiB value: several 32 KiB xerial snappy blocks, two 64 KiB lz4 blocks.
    big = b"".join(b"treasure %06d at beacon b-%02d; " % (i, i % 40) for i in range(3300))
    recs.append((BASE_TS + 20, b"p-big", big[:96 * 1024], [ct]))
    for i in range(40):
        key = b"p-%04d" % rnd.randrange(1000)
        val = b'{"id":"c-%d","beacon":"b-%02d","rssi":%d,"ts":%d}' % (
            i, rnd.randrange(40), -rnd.randrange(30, 95), BASE_TS + 100 + i)
        recs.append((BASE_TS + 100 + i * 3, key, val, [ct]))
    return recs


def build(codec, recs, pid=-1, epoch=-1, seq=-1, txn=False):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=txn,
                                  producer_id=pid, producer_epoch=epoch, base_sequence=seq,
                                  batch_size=1 << 30)
    for off, (ts, k, v, h) in enumerate(recs):
        assert b.append(off, timestamp=ts, key=k, value=v, headers=h) is not None
    return bytes(b.build())


def expect(name, data, codec, recs, pid=-1, epoch=-1, seq=-1, txn=False):
    """Read the batch back with kafka-python itself, then describe its header."""
    batch = DefaultRecordBatch(data)
    assert batch.compression_type == codec, (name, batch.compression_type)
    assert batch.validate_crc()
    got = list(batch)
    assert len(got) == len(recs)
    for off, (r, (ts, k, v, h)) in enumerate(zip(got, recs)):
        assert (r.offset, r.timestamp, r.key, r.value) == (off, ts, k, v), name
        assert [(hk, hv) for hk, hv in r.headers] == list(h), name
    return {"file": name + ".bin", "codec": codec, "producer_id": pid, "producer_epoch": epoch,
            "base_sequence": seq, "transactional": txn, "base_timestamp": recs[0][0],
            "max_timestamp": max(t for t, *_ in recs), "record_count": len(recs)}


def describe(recs):
    """The records as JSON: offset = position (kafka-python's producer
    numbers them 0..n-1), bytes as hex, null as null."""
    return [{"offset": off, "timestamp": ts,
             "key": None if k is None else k.hex(),
             "value": None if v is None else v.hex(),
             "headers": [[hk.encode().hex(), None if hv is None else hv.hex()] for hk, hv in h]}
            for off, (ts, k, v, h) in enumerate(recs)]


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    recs = records()
    B = DefaultRecordBatch
    plan = [("none", B.CODEC_NONE, {}), ("gzip", B.CODEC_GZIP, {}),
            ("snappy", B.CODEC_SNAPPY, {}), ("lz4", B.CODEC_LZ4, {}),
            ("zstd", B.CODEC_ZSTD, {}),
            ("txn", B.CODEC_NONE, dict(pid=4242, epoch=3, seq=100, txn=True))]
    vectors = []
    for name, codec, kw in plan:
        data = build(codec, recs, **kw)
        vectors.append(expect(name, data, codec, recs, **kw))
        with open(os.path.join(outdir, name + ".bin"), "wb") as f:
            f.write(data)

    # Variants real producers emit that kafka-python does not by default.
    import snappy
    import zstandard
    variants = [
        ("snappy-raw", B.CODEC_SNAPPY, "snappy_encode", lambda d: snappy.compress(d)),
        ("zstd-nosize", B.CODEC_ZSTD, "zstd_encode",
         lambda d: zstandard.ZstdCompressor(write_content_size=False).compress(d)),
    ]
    for name, codec, fn, enc in variants:
        saved = getattr(dr, fn)
        setattr(dr, fn, enc)
        try:
            data = build(codec, recs)
        finally:
            setattr(dr, fn, saved)
        if name == "snappy-raw":
            assert not data[61:].startswith(b"\x82SNAPPY\x00")
        if name == "zstd-nosize":
            assert zstandard.frame_content_size(data[61:]) == -1
        vectors.append(expect(name, data, codec, recs))
        with open(os.path.join(outdir, name + ".bin"), "wb") as f:
            f.write(data)
    assert kcodec.has_snappy() and kcodec.has_lz4() and kcodec.has_zstd()
    with open(os.path.join(outdir, "batches.json"), "w") as f:
        f.write('{"generator": %s,\n "vectors": [\n  %s\n ],\n "records": [\n  %s\n ]}\n' % (
            json.dumps("kafka-python " + __import__("kafka").__version__),
            ",\n  ".join(json.dumps(v) for v in vectors),
            ",\n  ".join(json.dumps(r) for r in describe(recs))))


if __name__ == "__main__":
    main()
