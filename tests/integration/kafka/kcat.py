#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
kafka/kcat — kcat (librdkafka) against a real `cairn logd`:
  - `kcat -L` lists the two built-in topics with their partitions, broker 0
    at the advertised address;
  - produce keyed records with headers to chosen partitions, consume them
    back from the beginning: every key, value, header and offset matches;
  - consume from an offset in the middle and from the end (-o -2);
  - acks=0 (no reply) and acks=1 produce land every record in order;
  - producing to an unknown topic fails without --auto-create and works
    with it (a second node).
The node is stopped with SIGTERM and must exit 0.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kfutil  # noqa: E402


def kcat(*args, inp=None, timeout=30):
    r = subprocess.run(["kcat"] + list(args), input=inp, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def main():
    n = kfutil.Logd(args=["--partitions", "3"]).start()
    try:
        rc, out, err = kcat("-b", n.bootstrap, "-L")
        assert rc == 0, err
        assert 'topic "ble-raw" with 3 partitions' in out, out
        assert 'topic "hunt-events" with 3 partitions' in out, out
        assert "broker 0 at 127.0.0.1:%d" % n.port in out, out

        lines = "".join("player-%d:ping-%d\n" % (i % 4, i) for i in range(40))
        rc, _, err = kcat("-b", n.bootstrap, "-P", "-t", "ble-raw", "-p", "2", "-K:",
                          "-H", "content-type=application/cloudevents+protobuf", "-H", "n=1",
                          inp=lines.encode())
        assert rc == 0, err
        rc, out, err = kcat("-b", n.bootstrap, "-C", "-t", "ble-raw", "-p", "2", "-o", "beginning",
                            "-e", "-f", "%o|%k|%s|%h\n")
        assert rc == 0, err
        got = [l.split("|") for l in out.splitlines() if l]
        assert len(got) == 40, (len(got), out[-500:])
        for i, (off, key, val, hdr) in enumerate(got):
            assert int(off) == i, (i, off)
            assert key == "player-%d" % (i % 4), key
            assert val == "ping-%d" % i, val
            assert hdr == "content-type=application/cloudevents+protobuf,n=1", hdr

        # From the middle, and the last two.
        rc, out, err = kcat("-b", n.bootstrap, "-C", "-t", "ble-raw", "-p", "2", "-o", "25", "-e",
                            "-f", "%o\n")
        assert rc == 0 and out.split() == [str(i) for i in range(25, 40)], (out, err)
        rc, out, err = kcat("-b", n.bootstrap, "-C", "-t", "ble-raw", "-p", "2", "-o", "-2", "-e",
                            "-f", "%o\n")
        assert rc == 0 and out.split() == ["38", "39"], (out, err)

        # acks=0 (no reply at all) and acks=1: the records still land, in order.
        for acks, part in (("0", "1"), ("1", "0")):
            rc, _, err = kcat("-b", n.bootstrap, "-P", "-t", "hunt-events", "-p", part, "-X", "acks=" + acks,
                              inp=b"".join(b"a%s-%d\n" % (acks.encode(), i) for i in range(25)))
            assert rc == 0, err
            # With acks=0 kcat exits once the bytes are sent, before the node
            # has appended them: read until all 25 are there (bounded).
            want = ["%d:a%s-%d" % (i, acks, i) for i in range(25)]
            deadline = time.monotonic() + 10
            while True:
                rc, out, err = kcat("-b", n.bootstrap, "-C", "-t", "hunt-events", "-p", part, "-o", "beginning",
                                    "-e", "-f", "%o:%s\n")
                if rc != 0 or out.split() == want or acks != "0" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert rc == 0 and out.split() == want, (acks, out, err)

        # Other partitions stayed empty.
        rc, out, err = kcat("-b", n.bootstrap, "-C", "-t", "ble-raw", "-p", "0", "-o", "beginning",
                            "-e", "-f", "%o\n")
        assert rc == 0 and out.strip() == "", (out, err)

        # No auto-create by default: the produce fails, the topic does not appear.
        rc, out, err = kcat("-b", n.bootstrap, "-P", "-t", "nosuch", "-p", "0",
                            "-X", "message.timeout.ms=3000", inp=b"x\n", timeout=30)
        assert rc != 0, (rc, err)
        rc, out, err = kcat("-b", n.bootstrap, "-L")
        assert '"nosuch"' not in out, out
    finally:
        n.stop()

    a = kfutil.Logd(args=["--auto-create", "--partitions", "2"]).start()
    try:
        rc, _, err = kcat("-b", a.bootstrap, "-P", "-t", "made-on-demand", "-p", "1", inp=b"one\ntwo\n")
        assert rc == 0, err
        rc, out, err = kcat("-b", a.bootstrap, "-C", "-t", "made-on-demand", "-p", "1", "-o",
                            "beginning", "-e", "-f", "%s\n")
        assert rc == 0 and out.split() == ["one", "two"], (out, err)
        rc, out, err = kcat("-b", a.bootstrap, "-L", "-t", "made-on-demand")
        assert 'topic "made-on-demand" with 2 partitions' in out, out
    finally:
        a.stop()
    print("kafka/kcat: ok")


if __name__ == "__main__":
    main()
