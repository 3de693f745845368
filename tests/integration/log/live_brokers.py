#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
log/live_brokers — `cairn log --brokers HOST:PORT` reads a running
`cairn logd` over the Kafka protocol:
  - topics lists the same topics and partition counts as `--data` does;
  - describe TOPIC shows each partition's start and end offsets;
  - groups shows a live librdkafka group (state Stable, its member with
    client id and host — which only the node knows) and the committed
    offsets with lag, matching what the consumer committed (through
    librdkafka's admin API); once the member left, the group is Empty
    with no members and its offsets stay;
  - subcommands that need segment files refuse --brokers (exit 2), and an
    address with no node exits 1 with one line.
"""
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kfutil  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402


def cairn(*args):
    r = subprocess.run([kfutil.BIN] + list(args), capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def main():
    node = kfutil.Logd(args=["--partitions", "2"]).start()
    try:
        bs = node.bootstrap
        p = Producer({"bootstrap.servers": bs})
        for i in range(30):
            p.produce("hunt-events", value=b"e%d" % i, partition=i % 2)
        assert p.flush(20) == 0
        c = Consumer({"bootstrap.servers": bs, "group.id": "live-view", "client.id": "viewer-1",
                      "auto.offset.reset": "earliest", "enable.auto.commit": False})
        c.subscribe(["hunt-events"])
        got = 0
        deadline = time.time() + 20
        while got < 20 and time.time() < deadline:
            got += len([m for m in c.consume(20 - got, 0.5) if not m.error()])
        assert got == 20, got
        c.commit(asynchronous=False)
        committed = {tp.partition: tp.offset
                     for tp in c.committed([TopicPartition("hunt-events", q) for q in range(2)], timeout=10)}

        rc, out, err = cairn("log", "topics", "--brokers", bs)
        assert rc == 0, err
        assert sorted(out.splitlines()) == ["ble-raw\t2", "hunt-events\t2"], out

        rc, out, err = cairn("log", "describe", "hunt-events", "--brokers", bs)
        assert rc == 0, err
        assert "partition 0\tstart=0\tend=15" in out and "partition 1\tstart=0\tend=15" in out, out

        rc, out, err = cairn("log", "groups", "--brokers", bs)
        assert rc == 0, err
        lines = out.splitlines()
        head = [x for x in lines if x.startswith("live-view\tstate=")]
        assert head and "state=Stable" in head[0] and "members=1" in head[0], out
        assert any("client=viewer-1" in x and "host=/127.0.0.1" in x for x in lines), out
        for q in range(2):
            want = "live-view\thunt-events:%d\toffset=%d\tlag=%d" % (q, committed[q], 15 - committed[q])
            assert want in lines, (want, out)
        c.close()
        # Once the member has left, the group is Empty, its offsets stay.
        deadline = time.time() + 20
        while True:
            rc, out, err = cairn("log", "groups", "--brokers", bs)
            assert rc == 0, err
            lines = out.splitlines()
            if any(x.startswith("live-view\tstate=Empty\t") for x in lines) or time.time() > deadline:
                break
            time.sleep(0.2)
        assert "live-view\tstate=Empty\tprotocol=-\tmembers=0" in lines, out
        assert "live-view\thunt-events:0\toffset=%d\tlag=%d" % (committed[0], 15 - committed[0]) in lines, out

        rc, out, err = cairn("log", "dump", "hunt-events", "--brokers", bs)
        assert rc == 2 and len(err.strip().splitlines()) == 1, (rc, err)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
        s.close()
        rc, out, err = cairn("log", "topics", "--brokers", "127.0.0.1:%d" % free)
        assert rc == 1 and len(err.strip().splitlines()) == 1 and "cannot reach" in err, (rc, err)
        print("log/live_brokers: ok")
    except Exception:
        sys.stderr.write(node.log()[-3000:])
        raise
    finally:
        node.stop()


if __name__ == "__main__":
    main()
