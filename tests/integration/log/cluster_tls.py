#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
log/cluster_tls — replication between nodes over mutual TLS
(--cluster-tls-cert, --cluster-tls-key, --cluster-tls-ca), with certificates
the test makes with the openssl command (a cluster CA, a certificate per
node, and an impostor CA with its own node certificate):
  - three `cairn logd` nodes with certificates of the cluster CA elect a
    leader of ble-raw/0 and keep every node in its ISR; a librdkafka acks=all
    producer's records are acknowledged, the leader is SIGKILLed, the
    survivors agree on a new leader and acknowledge more, and a consumer reads
    every acknowledged record once, in order;
  - the replication port speaks TLS and wants a client certificate: a plain
    HELLO gets no answer but a close, a TLS client without a certificate or
    with the impostor's is refused, and with a node's certificate of the
    cluster CA the session is accepted;
  - the killed node restarted with the impostor's certificate never rejoins:
    the leader keeps it out of the ISR and its log says the certificate was
    refused;
  - flags: the three go together (exit 2), need --cluster (exit 2), and a file
    that is not a certificate is refused at start with its name (exit 1).
"""
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import clusterutil  # noqa: E402
import kfutil  # noqa: E402
from clusterutil import WAIT  # noqa: E402
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402

TOPIC = "ble-raw"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=%s" % name, "-keyout", "%s.key" % name, "-out", "%s.pem" % name, cwd=d)


def make_cert(d, ca, name):
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % name,
            "-keyout", "%s.key" % name, "-out", "%s.csr" % name, cwd=d)
    openssl("x509", "-req", "-in", "%s.csr" % name, "-CA", "%s.pem" % ca, "-CAkey", "%s.key" % ca,
            "-CAcreateserial", "-days", "2", "-out", "%s.pem" % name, cwd=d)
    os.chmod(os.path.join(d, "%s.key" % name), 0o600)


class TlsCluster(clusterutil.Cluster):
    """Each node presents its own certificate; cert[i] may be swapped."""

    def __init__(self, certdir, **kw):
        super().__init__(**kw)
        self.certdir = certdir
        self.cert = {i: "node%d" % i for i in self.ids}

    def args(self, i):
        c = os.path.join(self.certdir, self.cert[i])
        ca = "impostor-ca" if self.cert[i].startswith("impostor") else "cluster-ca"
        return super().args(i) + ["--cluster-tls-cert", c + ".pem", "--cluster-tls-key",
                                  c + ".key", "--cluster-tls-ca",
                                  os.path.join(self.certdir, ca + ".pem")]


def produce(bootstrap, values):
    acked = []
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                  "message.timeout.ms": WAIT * 1000})
    for v in values:
        p.produce(TOPIC, value=v, partition=0,
                  callback=lambda e, m: acked.append(m.value()) if e is None else None)
    left = p.flush(WAIT)
    assert left == 0 and len(acked) == len(values), "%d of %d acknowledged" % (
        len(acked), len(values))
    return acked


def consume(bootstrap, n):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(TOPIC, 0, 0)])
    got, deadline = [], time.time() + WAIT
    while len(got) < n and time.time() < deadline:
        m = c.poll(0.5)
        if m is None or (m.error() and m.error().code() == KafkaError._PARTITION_EOF):
            continue
        assert not m.error(), m.error()
        got.append(m.value())
    c.close()
    return got


def tls_accepted(port, certdir, cert=None):
    """True if the replication port accepts a TLS session with this client
    certificate (None: none): the handshake completes and the server then
    waits for our HELLO instead of ending the session.  With TLS 1.3 a
    refused client certificate shows after the client's handshake, as an
    alert on the first read."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(certdir, "cluster-ca.pem"))
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(os.path.join(certdir, cert + ".pem"),
                            os.path.join(certdir, cert + ".key"))
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s = ctx.wrap_socket(raw)
        s.settimeout(2)
        try:
            return s.recv(1) != b""  # the server never speaks first
        except socket.timeout:
            return True
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return False
    finally:
        raw.close()


def raw_hello_closed(port):
    s = kfutil.connect(port)
    try:
        s.sendall(b"\x00\x00\x00\x10CAIRNHELLO000000")
        return kfutil.closed_by_peer(s, timeout=10)
    finally:
        s.close()


def flag_checks(certdir):
    c = os.path.join(certdir, "node1")
    base = [kfutil.BIN, "logd", "--data", tempfile.mkdtemp(prefix="cairn-ctls-"),
            "--kafka-listen", "127.0.0.1:0"]
    clus = ["--node-id", "1", "--cluster", "1@127.0.0.1:1", "--cluster-kafka", "1@127.0.0.1:2",
            "--replication-factor", "1"]
    r = subprocess.run(base + clus + ["--cluster-tls-cert", c + ".pem"], capture_output=True,
                       timeout=30)
    assert r.returncode == 2 and b"go together" in r.stderr, r
    r = subprocess.run(base + ["--cluster-tls-cert", c + ".pem", "--cluster-tls-key", c + ".key",
                               "--cluster-tls-ca", c + ".pem"], capture_output=True, timeout=30)
    assert r.returncode == 2 and b"needs --cluster" in r.stderr, r
    r = subprocess.run(base + clus + ["--cluster-tls-cert", c + ".key", "--cluster-tls-key",
                                      c + ".key", "--cluster-tls-ca", c + ".pem"],
                       capture_output=True, timeout=30)
    assert r.returncode == 1 and b"node1.key" in r.stderr, r


def main():
    certdir = tempfile.mkdtemp(prefix="cairn-certs-")
    make_ca(certdir, "cluster-ca")
    make_ca(certdir, "impostor-ca")
    for i in (1, 2, 3):
        make_cert(certdir, "cluster-ca", "node%d" % i)
    make_cert(certdir, "impostor-ca", "impostor")
    flag_checks(certdir)

    cl = TlsCluster(certdir, n=3, partitions=1)
    try:
        cl.start_all()
        clusterutil.settle(cl.nodes, TOPIC, 0)
        views = clusterutil.wait_agreed_leader(cl.nodes, topic=TOPIC, partition=0)
        leader = views[0][0]
        first = produce(cl.bootstrap(), [b"a-%04d" % k for k in range(200)])

        port = cl.rports[leader]
        assert raw_hello_closed(port), "a plaintext HELLO was not closed"
        assert not tls_accepted(port, certdir), "TLS without a client certificate was accepted"
        assert not tls_accepted(port, certdir, "impostor"), "the impostor CA's certificate was accepted"
        assert tls_accepted(port, certdir, "node2"), "a cluster certificate's handshake failed"

        cl.kill(leader)
        alive = {i: n for i, n in cl.nodes.items() if i != leader}
        clusterutil.wait_agreed_leader(alive, not_leader=leader, topic=TOPIC, partition=0)
        second = produce(cl.bootstrap([i for i in cl.ids if i != leader]),
                         [b"b-%04d" % k for k in range(200)])
        got = consume(cl.bootstrap([i for i in cl.ids if i != leader]), len(first) + len(second))
        assert got == first + second, "read %d of %d, in order: %s" % (
            len(got), len(first) + len(second), got == sorted(got))

        # The killed node comes back as an impostor: never in sync.
        cl.cert[leader] = "impostor"
        cl.start(leader)
        # Its dials and the peers' are refused (logged with the TLS reason);
        # give the retries time on a loaded machine, then judge the ISR.
        deadline = time.time() + WAIT
        while "TLS:" not in cl.logs(tail=1 << 20) and time.time() < deadline:
            time.sleep(0.5)
        logs = cl.logs(tail=1 << 20)
        assert "TLS:" in logs, "no refused handshake logged:\n" + logs[-3000:]
        time.sleep(3)
        who = clusterutil.leader_view(alive[min(alive)], TOPIC, 0)
        assert who and who[0] in alive, who
        new = clusterutil.leader_view(alive[who[0]], TOPIC, 0)  # only the leader knows its ISR
        assert new and leader not in new[3] and len(new[3]) == 2, \
            "the impostor is in the ISR: %s" % (new,)
        print("ok: replication over mutual TLS, %d records across a leader kill; plaintext, "
              "certificate-less and impostor peers refused" % len(got))
    except BaseException:
        print(cl.logs(), file=sys.stderr)
        raise
    finally:
        cl.destroy()
        subprocess.run(["rm", "-rf", certdir])


if __name__ == "__main__":
    main()
