#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
kafka/hostile — raw Kafka frames against a real `cairn logd`
(--max-request-bytes 64KiB): each bad input closes only its own
connection (or gets the error a client expects) and the node keeps serving:
  - a client that connects and never sends stays connected and harmless;
  - HTTP garbage, a negative size, a size over --max-request-bytes: closed;
  - a truncated frame then EOF; a frame whose body is truncated
    (Metadata v1 promising 5 topics): closed;
  - an unknown API key, a Produce v2 whose topic count overruns the frame:
    closed;
  - Produce v0-2 and Fetch v0-3 (advertised, message sets v0/v1 not
    stored): answered with UNSUPPORTED_VERSION per partition in that
    version's layout, and the connection keeps working;
  - ApiVersions v99: answered with UNSUPPORTED_VERSION and our ranges
    (KIP-511), and the connection keeps working;
  - pipelined requests (300 in one write) are answered in order; a request
    dribbled one byte at a time is answered;
  - Produce with a bad CRC: CORRUPT_MESSAGE, nothing appended;
  - idempotent producer (InitProducerId): a duplicate batch is acknowledged
    with its original offset and not appended twice; a sequence gap gets
    OUT_OF_ORDER_SEQUENCE_NUMBER;
  - a Fetch long poll is woken by an append on another connection;
  - after all that kcat still produces and consumes, and SIGTERM exits 0;
  - with --idle-timeout, a silent client is closed.
"""
import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kfutil  # noqa: E402
from kafka.record.default_records import DefaultRecordBatchBuilder  # noqa: E402

TOPIC = b"ble-raw"


def kstr(s):
    return struct.pack(">h", len(s)) + s


def api_versions(port, version, corr, sock=None):
    s = sock or kfutil.connect(port)
    s.sendall(kfutil.frame(18, version, corr))
    return s, kfutil.recv_frame(s)


def parse_api_versions_v0(resp):
    corr, err, n = struct.unpack(">ihi", resp[:10])
    apis = {}
    for i in range(n):
        k, lo, hi = struct.unpack(">hhh", resp[10 + 6 * i:16 + 6 * i])
        apis[k] = (lo, hi)
    return corr, err, apis


def batch(pid=-1, epoch=-1, seq=-1, values=(b"v",)):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=0,
                                  producer_id=pid, producer_epoch=epoch, base_sequence=seq,
                                  batch_size=1 << 20)
    for i, v in enumerate(values):
        b.append(i, timestamp=int(time.time() * 1000), key=None, value=v, headers=[])
    return bytes(b.build())


def produce_v3(sock, corr, part, records):
    body = struct.pack(">h", -1) + struct.pack(">hi", -1, 10000)
    body += struct.pack(">i", 1) + kstr(TOPIC) + struct.pack(">i", 1)
    body += struct.pack(">i", part) + struct.pack(">i", len(records)) + records
    sock.sendall(kfutil.frame(0, 3, corr, body))
    r = kfutil.recv_frame(sock)
    (rcorr,) = struct.unpack(">i", r[:4])
    assert rcorr == corr
    # [topics: name, [partitions: index, error, base_offset, log_append_time]], throttle
    off = 4 + 4
    (nl,) = struct.unpack(">h", r[off:off + 2])
    off += 2 + nl + 4
    idx, err, base, _ = struct.unpack(">ihqq", r[off:off + 22])
    assert idx == part
    return err, base


def end_offset(port, part):
    """ListOffsets v1 latest."""
    s = kfutil.connect(port)
    body = struct.pack(">i", -1) + struct.pack(">i", 1) + kstr(TOPIC) + struct.pack(">i", 1)
    body += struct.pack(">iq", part, -1)
    s.sendall(kfutil.frame(2, 1, 9, body))
    r = kfutil.recv_frame(s)
    s.close()
    # corr, [topics: name, [part, err, ts, offset]]
    off = 4 + 4
    (nl,) = struct.unpack(">h", r[off:off + 2])
    off += 2 + nl + 4
    p, err, ts, offset = struct.unpack(">ihqq", r[off:off + 22])
    assert p == part and err == 0, (p, err)
    return offset


def init_producer_id(port):
    s = kfutil.connect(port)
    s.sendall(kfutil.frame(22, 1, 5, struct.pack(">hi", -1, 60000)))
    r = kfutil.recv_frame(s)
    s.close()
    corr, throttle, err, pid, epoch = struct.unpack(">iihqh", r)
    assert err == 0 and pid >= 0, (err, pid)
    return pid, epoch


def main():
    node = kfutil.Logd(args=["--partitions", "2", "--max-request-bytes", "64KiB"]).start()
    port = node.port
    try:
        idle = kfutil.connect(port)

        bad = {
            "http garbage": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            "negative size": struct.pack(">i", -5) + b"\0" * 16,
            "too small": struct.pack(">i", 3) + b"abc",
            "oversized": struct.pack(">i", 64 * 1024 + 1) + b"\0" * 100,
            "unknown api": kfutil.frame(999, 0, 1),
            "produce v2 overrun": kfutil.frame(0, 2, 1, b"\xff\xff\0\x01\0\0\0\x10\0\0\0\0"),
            "truncated body": kfutil.frame(3, 1, 1, struct.pack(">i", 5) + kstr(b"ab")),
            "string past end": kfutil.frame(3, 1, 1, struct.pack(">i", 1) + struct.pack(">h", 500)),
        }
        for name, data in bad.items():
            s = kfutil.connect(port)
            s.sendall(data)
            assert kfutil.closed_by_peer(s), name + ": connection left open"
            s.close()
            assert node.alive(), name + ": node died"

        # Truncated frame then EOF.
        s = kfutil.connect(port)
        s.sendall(struct.pack(">i", 100) + b"\0" * 50)
        s.close()

        # ApiVersions v99 → UNSUPPORTED_VERSION with our ranges, conn stays.
        s, r = api_versions(port, 99, 42)
        corr, err, apis = parse_api_versions_v0(r)
        assert corr == 42 and err == 35, (corr, err)
        # Produce/Fetch are advertised from 0 (librdkafka needs that to compress,
        # see docs/kafka.md); versions below what the log stores are answered
        # with UNSUPPORTED_VERSION, never by closing the connection.
        assert apis[18] == (0, 3) and apis[0] == (0, 7) and apis[1][0] == 0, apis
        s, r = api_versions(port, 0, 43, s)
        corr, err, apis2 = parse_api_versions_v0(r)
        assert corr == 43 and err == 0 and apis2 == apis
        for v in range(0, 3):
            mset = b"\0" * 26
            body = struct.pack(">hii", -1, 1000, 1) + kstr(TOPIC) + struct.pack(">iii", 1, 0, len(mset))
            s.sendall(kfutil.frame(0, v, 50 + v, body + mset))
            r = kfutil.recv_frame(s)
            corr, nt = struct.unpack(">ii", r[:8])
            off = 8 + 2 + len(TOPIC)
            npart, idx, err, base = struct.unpack(">iihq", r[off:off + 18])
            assert (corr, nt, npart, idx, err, base) == (50 + v, 1, 1, 0, 35, -1), (v, r)
            assert len(r) == off + 18 + (8 if v >= 2 else 0) + (4 if v >= 1 else 0), (v, r)
        for v in range(0, 4):
            body = struct.pack(">iii", -1, 10, 1) + (struct.pack(">i", 1 << 20) if v >= 3 else b"")
            body += struct.pack(">i", 1) + kstr(TOPIC) + struct.pack(">iiqi", 1, 0, 0, 1 << 20)
            s.sendall(kfutil.frame(1, v, 60 + v, body))
            r = kfutil.recv_frame(s)
            off = 4 + (4 if v >= 1 else 0)
            assert struct.unpack(">i", r[:4])[0] == 60 + v
            off += 4 + 2 + len(TOPIC)
            npart, idx, err, hw, rl = struct.unpack(">iihqi", r[off:off + 22])
            assert (npart, idx, err, hw, rl) == (1, 0, 35, -1, 0), (v, r)
        s, r = api_versions(port, 0, 44, s)
        assert parse_api_versions_v0(r)[:2] == (44, 0)

        # Pipelining: three requests in one write, answers in order.
        s.sendall(b"".join(kfutil.frame(18, 1, c) for c in (100, 101, 102)))
        for c in (100, 101, 102):
            assert struct.unpack(">i", kfutil.recv_frame(s)[:4])[0] == c
        # 300 pipelined requests (more than one loop turn's worth): all
        # answered, in order, while another client is served in between.
        s.sendall(b"".join(kfutil.frame(18, 1, 1000 + c) for c in range(300)))
        other, r = api_versions(port, 0, 77)
        assert struct.unpack(">i", r[:4])[0] == 77
        other.close()
        for c in range(300):
            assert struct.unpack(">i", kfutil.recv_frame(s)[:4])[0] == 1000 + c
        # One byte at a time.
        for b in kfutil.frame(18, 0, 200):
            s.send(bytes([b]))
            time.sleep(0.002)
        assert struct.unpack(">i", kfutil.recv_frame(s)[:4])[0] == 200
        s.close()

        # Bad CRC → CORRUPT_MESSAGE and nothing appended.
        before = end_offset(port, 0)
        good = bytearray(batch(values=(b"x",)))
        good[-1] ^= 0xFF
        s = kfutil.connect(port)
        err, _ = produce_v3(s, 7, 0, bytes(good))
        assert err == 2, err
        assert end_offset(port, 0) == before

        # Idempotent producer sequence checks.
        pid, epoch = init_producer_id(port)
        err, b0 = produce_v3(s, 8, 1, batch(pid, epoch, 0, (b"a", b"b")))
        assert err == 0 and b0 == 0, (err, b0)
        err, b1 = produce_v3(s, 9, 1, batch(pid, epoch, 0, (b"a", b"b")))  # retry of the same batch
        assert err == 0 and b1 == 0, (err, b1)
        assert end_offset(port, 1) == 2, "duplicate was appended"
        err, _ = produce_v3(s, 10, 1, batch(pid, epoch, 5, (b"c",)))  # gap: expected 2
        assert err == 45, err
        err, b2 = produce_v3(s, 11, 1, batch(pid, epoch, 2, (b"c",)))
        assert err == 0 and b2 == 2, (err, b2)
        s.close()

        # A long poll (MaxWaitMs 20 s) at the end of partition 1 is woken by
        # an append from another connection, and carries the new batch.
        lp = kfutil.connect(port, timeout=15)
        end = end_offset(port, 1)
        fetch = struct.pack(">iiiib", -1, 20000, 1, 1 << 20, 0) + struct.pack(">i", 1) + kstr(TOPIC)
        fetch += struct.pack(">i", 1) + struct.pack(">iqi", 1, end, 1 << 20)
        lp.sendall(kfutil.frame(1, 4, 50, fetch))
        time.sleep(0.3)
        w = kfutil.connect(port)
        t0 = time.time()
        err, woke_base = produce_v3(w, 51, 1, batch(values=(b"wake-up",)))
        assert err == 0 and woke_base == end, (err, woke_base, end)
        r = kfutil.recv_frame(lp)
        waited = time.time() - t0
        assert struct.unpack(">i", r[:4])[0] == 50
        assert b"wake-up" in r, "the long poll did not carry the new record"
        assert waited < 10, "long poll was not woken by the append (%.1f s)" % waited
        lp.close()
        w.close()

        # Everyone else is still served.
        r = subprocess.run(["kcat", "-b", node.bootstrap, "-P", "-t", "ble-raw", "-p", "0"],
                           input=b"after-1\nafter-2\n", capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        r = subprocess.run(["kcat", "-b", node.bootstrap, "-C", "-t", "ble-raw", "-p", "0", "-o",
                            "beginning", "-e", "-f", "%s\n"], capture_output=True, timeout=30)
        assert r.returncode == 0 and r.stdout.split() == [b"after-1", b"after-2"], r
        # The idle client was never closed.
        assert not kfutil.closed_by_peer(idle, timeout=0.2), "idle client was dropped"
        assert node.alive()
        log = node.log()
        assert "frame size" in log and "does not serve" in log and "malformed" in log, log[-2000:]
        # --idle-timeout: a silent client is closed by a node told to.
        short = kfutil.Logd(args=["--idle-timeout", "300ms"]).start()
        try:
            q = kfutil.connect(short.port)
            assert kfutil.closed_by_peer(q, timeout=5), "idle client not closed after --idle-timeout"
        finally:
            short.stop()
        print("kafka/hostile: ok")
    except Exception:
        sys.stderr.write(node.log()[-4000:])
        raise
    finally:
        node.stop()


if __name__ == "__main__":
    main()
