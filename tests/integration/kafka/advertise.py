#!/usr/bin/env python3
"""kafka/advertise.py — the address Kafka clients are sent to, for `cairn logd` and `cairn up`.

A listener on a wildcard address (0.0.0.0, ::) cannot be advertised (clients would be told
to connect to 0.0.0.0): without --advertise both commands refuse to start (exit 2, one line
naming the flag) and create nothing; an --advertise that is itself a wildcard or not
HOST:PORT is refused too. With --kafka 0.0.0.0:P --advertise 127.0.0.1:P the node starts,
and a real client (confluent-kafka's metadata request) is given 127.0.0.1:P as the broker,
and can produce and read back through it.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

BIN = os.environ["CAIRN_BIN"]
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


with tempfile.TemporaryDirectory(prefix="cairn-advertise-") as tmp:
    refusals = [
        (["logd", "--data", f"{tmp}/l1", "--kafka-listen", "0.0.0.0:0"], "--kafka-listen 0.0.0.0:0"),
        (["logd", "--data", f"{tmp}/l1", "--kafka-listen", "[::]:0"], "--kafka-listen [::]:0"),
        (["logd", "--data", f"{tmp}/l1", "--kafka-listen", "0.0.0.0:0", "--advertise", "0.0.0.0:9092"],
         "--advertise 0.0.0.0:9092 is a wildcard"),
        (["logd", "--data", f"{tmp}/l1", "--advertise", "venue"], "--advertise wants HOST:PORT"),
        (["up", "--data", f"{tmp}/u1", "--http", "127.0.0.1:0", "--kafka", "0.0.0.0:0"], "--kafka-listen 0.0.0.0:0"),
    ]
    for args, says in refusals:
        r = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60)
        check(r.returncode == 2 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1,
              f"{' '.join(args)}: exit {r.returncode}, stderr {r.stderr!r}")
    check(not os.path.exists(f"{tmp}/l1") and not os.path.exists(f"{tmp}/u1"),
          "a refused start created its data directory")

    for cmd in ("logd", "up"):
        port = free_port()
        pf = f"{tmp}/{cmd}.port"
        args = ([BIN, "logd", "--data", f"{tmp}/{cmd}", "--kafka-listen", f"0.0.0.0:{port}",
                 "--port-file", pf] if cmd == "logd" else
                [BIN, "up", "--data", f"{tmp}/{cmd}", "--http", "127.0.0.1:0", "--port-file", pf,
                 "--kafka", f"0.0.0.0:{port}"])
        p = subprocess.Popen(args + ["--advertise", f"127.0.0.1:{port}"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for _ in range(300):
                if os.path.exists(pf) or p.poll() is not None:
                    break
                time.sleep(0.1)
            check(os.path.exists(pf), f"{cmd} with a wildcard listener and --advertise started")
            md = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"}).list_topics(timeout=20)
            brokers = [(b.host, b.port) for b in md.brokers.values()]
            check(brokers == [("127.0.0.1", port)], f"{cmd}: Metadata advertises {brokers}")
            pr = Producer({"bootstrap.servers": f"127.0.0.1:{port}", "acks": "all"})
            pr.produce("ble-raw", b"advertised", partition=0)
            check(pr.flush(30) == 0, f"{cmd}: produce through the advertised address")
            c = Consumer({"bootstrap.servers": f"127.0.0.1:{port}", "group.id": "adv",
                          "enable.auto.commit": False})
            c.assign([TopicPartition("ble-raw", 0, 0)])
            m = None
            for _ in range(40):
                m = c.poll(0.5)
                if m is not None and not m.error() and m.value() == b"advertised":
                    break
            check(m is not None and not m.error() and m.value() == b"advertised",
                  f"{cmd}: read back through the advertised address")
            c.close()
        finally:
            p.terminate()
            out, err = p.communicate(timeout=120)
        check(p.returncode == 0, f"{cmd} exit {p.returncode} after SIGTERM: {err[-500:]}")
        if cmd == "up":
            check(f"127.0.0.1:{port} (advertised; listening on 0.0.0.0:{port})" in out,
                  f"up's banner names the advertised address: {out}")

if fails:
    print(f"{len(fails)} failures")
    sys.exit(1)
print("ok")
