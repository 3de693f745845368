#!/usr/bin/env python3
"""kafka/sasl.py — SASL on the Kafka listener (`cairn logd --sasl-users FILE`), with real clients.

- confluent-kafka (librdkafka: SaslHandshake v1 + SaslAuthenticate) produces and consumes
  with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512; a wrong password and an unknown user fail
  with librdkafka's authentication error and nothing is stored;
- kafka-python 2.0.2 (SaslHandshake v0 + raw tokens) produces and consumes with PLAIN and
  SCRAM-SHA-256/512, and a wrong password fails;
- kcat lists metadata with SCRAM-SHA-512 and fails with a wrong password;
- a client without SASL gets nothing but ApiVersions: its Metadata closes the connection;
- a users file that others may read, a missing one and a malformed line are refused at
  start (exit 1, one line naming the file); `cairn up --sasl-users` authenticates too.
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

BIN = os.environ["CAIRN_BIN"]
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what, flush=True)


def start(args, pf):
    p = subprocess.Popen([BIN, *args, "--port-file", pf], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    for _ in range(300):
        if os.path.exists(pf) and open(pf).read().strip():
            return p, int(open(pf).read())
        if p.poll() is not None:
            break
        time.sleep(0.1)
    p.kill()
    raise SystemExit(f"did not start: {p.stderr.read()}")


def rdk(port, mech, user, pw):
    return {"bootstrap.servers": f"127.0.0.1:{port}", "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": mech, "sasl.username": user, "sasl.password": pw}


def rdk_roundtrip(port, mech, user, pw, value):
    pr = Producer({**rdk(port, mech, user, pw), "acks": "all", "message.timeout.ms": 15000})
    pr.produce("ble-raw", value, partition=0)
    left = pr.flush(30)
    c = Consumer({**rdk(port, mech, user, pw), "group.id": "sasl-" + mech,
                  "enable.auto.commit": False})
    c.assign([TopicPartition("ble-raw", 0, 0)])
    seen = False
    for _ in range(40):
        m = c.poll(0.5)
        if m is not None and not m.error() and m.value() == value:
            seen = True
            break
    c.close()
    return left == 0 and seen


def rdk_fails(port, mech, user, pw):
    try:
        AdminClient(rdk(port, mech, user, pw)).list_topics(timeout=5)
        return False
    except KafkaException as e:
        return "uthentication" in str(e) or "_TRANSPORT" in str(e) or "timed out" in str(e).lower()


def kafka_python(port, mech, user, pw, value):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition as KTP
    kw = dict(bootstrap_servers=f"127.0.0.1:{port}", security_protocol="SASL_PLAINTEXT",
              sasl_mechanism=mech, sasl_plain_username=user, sasl_plain_password=pw,
              api_version_auto_timeout_ms=10000)
    pr = KafkaProducer(acks="all", **kw)
    pr.send("ble-raw", value, partition=1).get(timeout=30)
    pr.close()
    c = KafkaConsumer(consumer_timeout_ms=10000, **kw)
    c.assign([KTP("ble-raw", 1)])
    c.seek(KTP("ble-raw", 1), 0)
    got = [m.value for m in c]
    c.close()
    return value in got


with tempfile.TemporaryDirectory(prefix="cairn-sasl-") as tmp:
    users = os.path.join(tmp, "users")
    with open(users, "w") as f:
        f.write("# Kafka users of this venue\nalice:wonder:land\nbob:hunter2\n")
    os.chmod(users, 0o600)

    # refusals at start
    os.chmod(users, 0o644)
    r = subprocess.run([BIN, "logd", "--data", f"{tmp}/x", "--kafka-listen", "127.0.0.1:0",
                        "--sasl-users", users], capture_output=True, text=True, timeout=60)
    check(r.returncode == 1 and "chmod 600" in r.stderr, f"world-readable users file: {r.returncode} {r.stderr}")
    os.chmod(users, 0o600)
    bad = os.path.join(tmp, "bad")
    with open(bad, "w") as f:
        f.write("ok:pw\nnocolon\n")
    os.chmod(bad, 0o600)
    r = subprocess.run([BIN, "logd", "--data", f"{tmp}/x", "--kafka-listen", "127.0.0.1:0",
                        "--sasl-users", bad], capture_output=True, text=True, timeout=60)
    check(r.returncode == 1 and "line 2" in r.stderr, f"malformed users file: {r.stderr}")
    r = subprocess.run([BIN, "logd", "--data", f"{tmp}/x", "--kafka-listen", "127.0.0.1:0",
                        "--sasl-users", f"{tmp}/missing"], capture_output=True, text=True, timeout=60)
    check(r.returncode == 1 and "no such file" in r.stderr, f"missing users file: {r.stderr}")

    p, port = start(["logd", "--data", f"{tmp}/d", "--kafka-listen", "127.0.0.1:0",
                     "--sasl-users", users], f"{tmp}/port")
    try:
        for mech in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            check(rdk_roundtrip(port, mech, "alice", "wonder:land", b"rdk-" + mech.encode()),
                  f"librdkafka {mech}: produce and consume")
            check(rdk_fails(port, mech, "alice", "wrong"), f"librdkafka {mech}: wrong password refused")
        check(rdk_fails(port, "SCRAM-SHA-512", "mallory", "wonder:land"), "librdkafka: unknown user refused")
        for mech in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            ok = False
            try:
                ok = kafka_python(port, mech, "bob", "hunter2", b"kp-" + mech.encode())
            except Exception as e:  # noqa: BLE001 - report the client's own error
                print("kafka-python", mech, "raised", repr(e))
            check(ok, f"kafka-python {mech}: produce and consume")
            refused = False
            try:
                kafka_python(port, mech, "bob", "nope", b"never")
            except Exception:  # noqa: BLE001
                refused = True
            check(refused, f"kafka-python {mech}: wrong password refused")
        k = subprocess.run(["kcat", "-b", f"127.0.0.1:{port}", "-X", "security.protocol=SASL_PLAINTEXT",
                            "-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=bob",
                            "-X", "sasl.password=hunter2", "-L", "-m", "10"],
                           capture_output=True, text=True, timeout=60)
        check(k.returncode == 0 and "ble-raw" in k.stdout, f"kcat SCRAM-SHA-512 metadata: {k.stderr}")
        k = subprocess.run(["kcat", "-b", f"127.0.0.1:{port}", "-X", "security.protocol=SASL_PLAINTEXT",
                            "-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=bob",
                            "-X", "sasl.password=bad", "-L", "-m", "5"],
                           capture_output=True, text=True, timeout=60)
        check(k.returncode != 0, "kcat with a wrong password fails")
        # No SASL: Metadata v1 without authenticating closes the connection.
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        body = struct.pack(">hhih", 3, 1, 7, 4) + b"test" + struct.pack(">i", -1)
        s.sendall(struct.pack(">i", len(body)) + body)
        try:
            got = s.recv(4)
        except OSError:
            got = b""
        check(got == b"", f"Metadata before authenticating got {got!r} instead of a close")
        s.close()
    finally:
        p.terminate()
        err = p.communicate(timeout=120)[1]
    check(p.returncode == 0, f"logd exit {p.returncode}: {err[-400:]}")
    check("failed to authenticate as 'mallory'" in err, "the log names a failed authentication")
    r = subprocess.run([BIN, "log", "dump", "ble-raw", "--data", f"{tmp}/d", "--format", "raw"],
                       capture_output=True, text=True, timeout=60)
    check("never" not in r.stdout, "a refused client's record was stored")

    ks = socket.socket()
    ks.bind(("127.0.0.1", 0))
    kport = ks.getsockname()[1]
    ks.close()
    p, port = start(["up", "--data", f"{tmp}/u", "--http", "127.0.0.1:0", "--kafka",
                     f"127.0.0.1:{kport}", "--sasl-users", users], f"{tmp}/up.port")
    try:
        check(rdk_roundtrip(kport, "SCRAM-SHA-256", "alice", "wonder:land", b"up-scram"),
              "cairn up --sasl-users: SCRAM-SHA-256 produce and consume")
        check(rdk_fails(kport, "SCRAM-SHA-256", "alice", "wrong"), "cairn up: wrong password refused")
    finally:
        p.terminate()
        p.communicate(timeout=120)

if fails:
    print(f"{len(fails)} failures")
    sys.exit(1)
print("ok")
