#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
log/cluster_idempotent_failover — an idempotent librdkafka producer
(confluent-kafka, enable.idempotence, acks=all) against three `cairn logd`
nodes whose leader dies while batches it stored and replicated are still
unacknowledged:
  - InitProducerId at each node hands out ids that carry that node's id
    (id >> 31 == node id), so no two nodes hand out the same one;
  - every node advertises a TCP proxy this test runs in front of its Kafka
    port; once a quarter of the records are acknowledged the test mutes
    the leader's proxy towards the client (requests still arrive, no
    response leaves), waits until the leader's HW has gone past what the
    client saw acknowledged and stopped moving (the producer has its most
    requests in flight), and SIGKILLs it.  The batches stored meanwhile
    are committed on a majority, so the new leader holds them; librdkafka
    retries them there with the same producer id and sequences;
  - every record is acknowledged, the retries are answered as duplicates
    (the new leader's log says so), and a consumer reads every record
    exactly once, in produce order.  Without the new leader's duplicate
    check the muted batches would be stored twice.
"""
import os
import socket
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import cluster_failover as cf  # noqa: E402
import kfutil  # noqa: E402
from confluent_kafka import Producer, TopicPartition  # noqa: E402

TOPIC = cf.TOPIC
WAIT = cf.WAIT
N = 3000


class Proxy:
    """Forward 127.0.0.1:port to 127.0.0.1:target, both ways, per
    connection; muted: what the server sends is read and dropped."""

    def __init__(self, port, target):
        self.target = target
        self.muted = False
        self.conns = []
        self.lock = threading.Lock()
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", port))
        self.ls.listen(64)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(("127.0.0.1", self.target), timeout=5)
                s.settimeout(None)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, s]
            threading.Thread(target=self.pump, args=(c, s, False), daemon=True).start()
            threading.Thread(target=self.pump, args=(s, c, True), daemon=True).start()

    def pump(self, src, dst, from_server):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                if not (from_server and self.muted):
                    dst.sendall(b)
        except OSError:
            pass
        for x in (src, dst):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        try:
            self.ls.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept
        except OSError:
            pass
        self.ls.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass


def init_producer_id(node):
    """(error, producer id, epoch) of a raw InitProducerId v0 at node."""
    s = kfutil.connect(node.port)
    try:
        s.sendall(kfutil.frame(22, 0, 9, struct.pack(">hi", -1, 60000)))
        r = kfutil.recv_frame(s)
    finally:
        s.close()
    _, _, err, pid, epoch = struct.unpack(">iihqh", r)
    return err, pid, epoch


def log_end(node):
    """TOPIC/0's latest offset (the HW) from a raw ListOffsets v1 at node's
    own Kafka port (not through its proxy), or -1."""
    name = TOPIC.encode()
    body = struct.pack(">ii", -1, 1) + struct.pack(">h", len(name)) + name
    body += struct.pack(">iiq", 1, 0, -1)
    try:
        s = kfutil.connect(node.port)
        try:
            s.sendall(kfutil.frame(2, 1, 11, body))
            r = kfutil.recv_frame(s)
        finally:
            s.close()
    except OSError:
        return -1
    pos = 4 + 4  # correlation id, topic count
    (nlen,) = struct.unpack_from(">h", r, pos)
    pos += 2 + nlen + 4  # name, partition count
    _, err, _, off = struct.unpack_from(">ihqq", r, pos)
    return off if err == 0 else -1


def main():
    ports = kfutil.free_ports(9)
    kports, rports, pports = ports[:3], ports[3:6], ports[6:]
    ids = [1, 2, 3]
    proxies = {i: Proxy(pports[i - 1], kports[i - 1]) for i in ids}
    repl = ",".join("%d@127.0.0.1:%d" % (i, rports[i - 1]) for i in ids)
    kafka = ",".join("%d@127.0.0.1:%d" % (i, pports[i - 1]) for i in ids)
    nodes = {}
    try:
        for i in ids:
            nodes[i] = kfutil.Logd(listen="127.0.0.1:%d" % kports[i - 1],
                                   args=["--node-id", str(i), "--cluster", repl, "--cluster-kafka",
                                         kafka, "--partitions", "1"]).start()
        # Producer ids carry the allocating node's id.
        seen = set()
        for i, n in nodes.items():
            for _ in range(2):
                err, pid, epoch = init_producer_id(n)
                assert err == 0 and epoch == 0, (err, pid, epoch)
                assert pid >> 31 == i, "node %d handed out %d (node part %d)" % (i, pid, pid >> 31)
                assert pid not in seen
                seen.add(pid)

        leader = cf.settle(nodes)
        acked, failed = [], []
        lock = threading.Lock()

        def dr(err, msg):
            with lock:
                (failed if err else acked).append((err, msg.value(), msg.offset()))

        boot = ",".join("127.0.0.1:%d" % pports[i - 1] for i in ids)
        p = Producer({"bootstrap.servers": boot, "enable.idempotence": True, "acks": "all",
                      "message.timeout.ms": WAIT * 1000, "retry.backoff.ms": 100,
                      "linger.ms": 5, "batch.num.messages": 50,
                      "topic.metadata.refresh.interval.ms": 1000})
        state = {"muted_at": None, "hw_at_kill": None}

        def killer():
            while True:
                with lock:
                    n = len(acked)
                if n >= N // 4:
                    break
                time.sleep(0.002)
            proxies[leader].muted = True
            with lock:
                state["muted_at"] = max(o for _, _, o in acked) + 1
            # The leader keeps storing and committing what arrives until
            # the producer has its most requests in flight, unanswered; wait
            # until its HW is past what the client saw acknowledged and
            # stays put.
            deadline, hw, since = time.time() + WAIT, -1, time.time()
            while time.time() < deadline:
                now = log_end(nodes[leader])
                if now != hw:
                    hw, since = now, time.time()
                elif hw > state["muted_at"] and time.time() - since > 1.5:
                    break
                time.sleep(0.1)
            state["hw_at_kill"] = hw
            nodes[leader].kill()
            proxies[leader].muted = False  # new connections find a dead port

        t = threading.Thread(target=killer)
        t.start()
        values = [b"r-%05d" % i for i in range(N)]
        for i, v in enumerate(values):
            p.produce(TOPIC, value=v, partition=0, callback=dr)
            p.poll(0)
            if i % 10 == 9:
                time.sleep(0.01)
        assert p.flush(WAIT + 30) == 0, "undelivered records"
        t.join()
        assert not failed, "failed deliveries: %s" % failed[:3]
        assert sorted(v for _, v, _ in acked) == values, "acknowledged %d of %d" % (len(acked), N)
        assert state["hw_at_kill"] > state["muted_at"], state

        survivors = {i: n for i, n in nodes.items() if i != leader}
        views = cf.wait_agreed_leader(survivors, not_leader=leader)
        new_leader = views[0][0]
        boot = ",".join(n.bootstrap for n in survivors.values())
        got = cf.consume_all(boot, N)
        dups = len(got) - len(set(got))
        assert dups == 0, "%d records read twice" % dups
        assert got == values, "read %d records, first difference at %s" % (
            len(got), next((i for i, (a, b) in enumerate(zip(got, values)) if a != b),
                           min(len(got), N)))
        dup_lines = nodes[new_leader].log().count("not stored again")
        assert dup_lines > 0, "no retry was answered as a duplicate:\n" + nodes[new_leader].log()
        for n in survivors.values():
            n.stop()
        print("ok: leader %d muted at offset %d, killed at HW %d; %d took over and answered %d "
              "retried batches as duplicates; all %d records acknowledged and read once each, "
              "in order" % (leader, state["muted_at"], state["hw_at_kill"], new_leader,
                            dup_lines, N))
    finally:
        for n in nodes.values():
            if n.alive():
                n.kill()
        for x in proxies.values():
            x.close()


if __name__ == "__main__":
    main()
