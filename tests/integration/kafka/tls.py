#!/usr/bin/env python3
"""kafka/tls.py — the Kafka listener over TLS (`--kafka-tls-cert/--kafka-tls-key`), with real clients.

With a CA this test makes (openssl CLI):
- librdkafka (confluent-kafka, security.protocol=SSL) produces 500 records and reads them all back
  over TLS (Fetch replies that splice segment files go through the TLS layer);
- kcat lists metadata over SSL; with TLS + `--sasl-users`, librdkafka SASL_SSL SCRAM-SHA-512 and
  kafka-python SASL_SSL PLAIN produce and consume;
- a client that trusts another CA fails its handshake (librdkafka: certificate verify failed);
- a plaintext client on the TLS port gets no Kafka answer;
- one flag without the other is a usage error (exit 2); a key that does not match the certificate
  or a missing file is refused at start (exit 1, one line); `cairn up` serves Kafka over TLS too;
- SIGHUP after the certificate files were replaced: new connections get the new certificate (its
  DER bytes), a producer connected before keeps producing on its session; a SIGHUP while the files
  are broken keeps the certificate in use and says so in the log; `cairn up`'s SIGHUP reloads its
  Kafka certificate too.
"""
import shutil
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import gwutil  # noqa: E402

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


def start(args, pf):
    """The process, its stderr going to pf + ".log"."""
    p = subprocess.Popen([BIN, *args, "--port-file", pf], stdout=subprocess.DEVNULL,
                         stderr=open(pf + ".log", "w"), text=True)
    for _ in range(300):
        if os.path.exists(pf) and open(pf).read().strip():
            return p
        if p.poll() is not None:
            break
        time.sleep(0.1)
    p.kill()
    raise SystemExit(f"did not start: {p.stderr.read()}")


def conf(port, ca, **extra):
    c = {"bootstrap.servers": f"127.0.0.1:{port}", "security.protocol": "SSL",
         "ssl.ca.location": ca}
    c.update(extra)
    return c


def served_cert(port, ca):
    """DER bytes of the certificate a new TLS connection to port gets."""
    import ssl
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as t:
            return t.getpeercert(binary_form=True)


def wait_log(path, text, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path, errors="replace") as f:
            if text in f.read():
                return True
        time.sleep(0.1)
    return False


def reload_checks(proc, port, ca, live, new, errlog, tag):
    """Replace the live certificate files with new, SIGHUP: new connections
    get it while an older producer keeps going; then a broken file and
    SIGHUP: the certificate stays."""
    pr = Producer({**conf(port, ca[0]), "acks": "all", "message.timeout.ms": 20000})
    pr.produce("ble-raw", b"before", partition=1)
    check(pr.flush(30) == 0, f"{tag}: produce before the reload")
    shutil.copyfile(new[0], live[0])
    shutil.copyfile(new[1], live[1])
    proc.send_signal(signal.SIGHUP)
    check(wait_log(errlog, "Kafka TLS certificate reloaded"), f"{tag}: SIGHUP reload not logged")
    check(served_cert(port, ca[0]) == gwutil.cert_der(new[0]),
          f"{tag}: a new connection after SIGHUP did not get the new certificate")
    pr.produce("ble-raw", b"after", partition=1)
    check(pr.flush(30) == 0, f"{tag}: the producer connected before the reload stopped working")
    with open(live[1], "w") as f:
        f.write("not a key\n")
    proc.send_signal(signal.SIGHUP)
    check(wait_log(errlog, "not reloaded, the old one stays"), f"{tag}: a failed reload not logged")
    check(served_cert(port, ca[0]) == gwutil.cert_der(new[0]),
          f"{tag}: a failed reload changed the certificate")


def roundtrip(cfg, n, tag):
    pr = Producer({**cfg, "acks": "all", "linger.ms": 5, "message.timeout.ms": 20000})
    for i in range(n):
        pr.produce("ble-raw", b"%s-%05d" % (tag, i), partition=2)
    left = pr.flush(30)
    c = Consumer({**cfg, "group.id": "tls-" + tag.decode(), "enable.auto.commit": False,
                  "fetch.max.bytes": 1 << 20})
    c.assign([TopicPartition("ble-raw", 2, 0)])
    got = []
    deadline = time.time() + 30
    while time.time() < deadline and len([v for v in got if v.startswith(tag)]) < n:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value())
    c.close()
    mine = [v for v in got if v.startswith(tag)]
    return left == 0 and mine == [b"%s-%05d" % (tag, i) for i in range(n)]


with tempfile.TemporaryDirectory(prefix="cairn-kafka-tls-") as tmp:
    ca = gwutil.make_ca(tmp, "ca")
    other = gwutil.make_ca(tmp, "other")
    crt, key = gwutil.make_cert(tmp, ca, "server")
    crt2, key2 = gwutil.make_cert(tmp, ca, "server2")

    for args, code, says in [
        (["--kafka-tls-cert", crt], 2, "go together"),
        (["--kafka-tls-cert", crt, "--kafka-tls-key", key2], 1, "private key"),
        (["--kafka-tls-cert", f"{tmp}/none.pem", "--kafka-tls-key", key], 1, "certificate chain"),
    ]:
        r = subprocess.run([BIN, "logd", "--data", f"{tmp}/x", "--kafka-listen", "127.0.0.1:0", *args],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == code and says in r.stderr and len(r.stderr.strip().splitlines()) == 1,
              f"logd {args}: exit {r.returncode}, {r.stderr!r}")

    port = free_port()
    live = (os.path.join(tmp, "live.pem"), os.path.join(tmp, "live.key"))
    shutil.copyfile(crt, live[0])
    shutil.copyfile(key, live[1])
    p = start(["logd", "--data", f"{tmp}/d", "--kafka-listen", f"127.0.0.1:{port}",
               "--kafka-tls-cert", live[0], "--kafka-tls-key", live[1]], f"{tmp}/p1")
    try:
        check(roundtrip(conf(port, ca[0]), 500, b"ssl"), "librdkafka over SSL: 500 records produced and read back")
        k = subprocess.run(["kcat", "-b", f"127.0.0.1:{port}", "-X", "security.protocol=SSL",
                            "-X", f"ssl.ca.location={ca[0]}", "-L", "-m", "10"],
                           capture_output=True, text=True, timeout=60)
        check(k.returncode == 0 and "ble-raw" in k.stdout, f"kcat over SSL: {k.stderr[-300:]}")
        try:
            AdminClient(conf(port, other[0])).list_topics(timeout=5)
            check(False, "a client trusting another CA connected")
        except KafkaException as e:
            check("certificate verify failed" in str(e) or "SSL" in str(e) or "_TRANSPORT" in str(e),
                  f"untrusted certificate error: {e}")
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        body = struct.pack(">hhih", 18, 0, 1, 4) + b"test"
        s.sendall(struct.pack(">i", len(body)) + body)
        try:
            got = s.recv(64)
        except OSError:
            got = b""
        # A Kafka reply starts with its 4-byte length (0x00 0x00 ... for any
        # ApiVersions answer); a TLS server answers plaintext with an alert or
        # a close.
        check(not got.startswith(b"\x00\x00"),
              f"a plaintext ApiVersions on the TLS port was answered: {got!r}")
        s.close()
        reload_checks(p, port, ca, live, (crt2, key2), f"{tmp}/p1.log", "logd")
    finally:
        p.terminate()
        p.communicate(timeout=120)
    err = open(f"{tmp}/p1.log").read()
    check(p.returncode == 0, f"logd exit {p.returncode}: {err[-400:]}")

    users = os.path.join(tmp, "users")
    with open(users, "w") as f:
        f.write("carol:s3cret\n")
    os.chmod(users, 0o600)
    port = free_port()
    shutil.copyfile(crt, live[0])
    shutil.copyfile(key, live[1])
    p = start(["up", "--data", f"{tmp}/u", "--http", "127.0.0.1:0", "--kafka", f"127.0.0.1:{port}",
               "--kafka-tls-cert", live[0], "--kafka-tls-key", live[1], "--sasl-users", users],
              f"{tmp}/p2")
    try:
        cfg = conf(port, ca[0], **{"security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512",
                                  "sasl.username": "carol", "sasl.password": "s3cret"})
        check(roundtrip(cfg, 50, b"up"), "cairn up: librdkafka SASL_SSL SCRAM-SHA-512")
        from kafka import KafkaConsumer, KafkaProducer, TopicPartition as KTP
        kw = dict(bootstrap_servers=f"127.0.0.1:{port}", security_protocol="SASL_SSL",
                  ssl_cafile=ca[0], sasl_mechanism="PLAIN", sasl_plain_username="carol",
                  sasl_plain_password="s3cret", api_version_auto_timeout_ms=10000)
        ok = False
        try:
            pr = KafkaProducer(acks="all", **kw)
            pr.send("ble-raw", b"kp-tls", partition=3).get(timeout=30)
            pr.close()
            c = KafkaConsumer(consumer_timeout_ms=10000, **kw)
            c.assign([KTP("ble-raw", 3)])
            c.seek(KTP("ble-raw", 3), 0)
            ok = b"kp-tls" in [m.value for m in c]
            c.close()
        except Exception as e:  # noqa: BLE001 - report the client's own error
            print("kafka-python raised", repr(e))
        check(ok, "cairn up: kafka-python SASL_SSL PLAIN produce and consume")
        shutil.copyfile(crt2, live[0])
        shutil.copyfile(key2, live[1])
        p.send_signal(signal.SIGHUP)
        check(wait_log(f"{tmp}/p2.log", "Kafka TLS certificate reloaded"), "up: SIGHUP reload not logged")
        check(served_cert(port, ca[0]) == gwutil.cert_der(crt2),
              "up: a new Kafka connection after SIGHUP did not get the new certificate")
    finally:
        p.terminate()
        p.communicate(timeout=120)
    check(p.returncode == 0, f"up exit {p.returncode}")

if fails:
    print(f"{len(fails)} failures")
    sys.exit(1)
print("ok")
