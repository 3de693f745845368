#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
log/cluster_chaos — three `cairn logd` processes on loopback replicating two
partitions of ble-raw through a fault-injecting proxy on their replication
links (tests/lib/linkproxy.py, created and removed by this test), with a
librdkafka idempotent acks=all producer and a consumer running throughout,
while the test injects faults one after another, each healed before the
next:
  - SIGKILL a node (the leader of a partition or any node), restart it from
    its directory after a while;
  - SIGSTOP a node, SIGCONT it after a while (longer than an election);
  - cut a node off from both peers (the links go silent, or are reset and
    refused), heal;
  - cut one link between two nodes, heal.
After each fault is healed, both partitions must acknowledge new records
again (the cluster recovers by itself).  At the end: no delivery failed,
the consumer read every acknowledged record, in produce order per
partition, and nothing that was not produced; then the nodes stop (SIGTERM,
exit 0) and every node's own copy of each partition (`cairn log dump`)
holds exactly what the consumer read.  A record stored twice (an
idempotent retry after a failover: producer ids are per node, not
cluster-wide yet) is counted and printed, not hidden; CAIRN_STRICT_DEDUP=1
makes it fail.
The fault schedule comes from CAIRN_SEED (printed at the start and on
failure; timing on a loaded machine is not replayed exactly).
CAIRN_CHAOS_FAULTS sets the number of faults (default 6; the slow variant
log/cluster_chaos.slow runs 50); CAIRN_CHAOS_KINDS (comma-separated, from
kill, stop, isolate, cut; repeat one to weight it) narrows the kinds drawn.
"""
import os
import random
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import clusterutil  # noqa: E402
import kfutil  # noqa: E402
import linkproxy  # noqa: E402
from clusterutil import WAIT  # noqa: E402
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402

TOPIC = "ble-raw"
PARTS = 2
TRANSPORT = ("Connection refused", "Disconnected", "brokers are down", "Connect to",
             "timed out", "Timed out", "Broker transport failure")


class Workload:
    """An idempotent acks=all producer and a consumer, both running until
    stop(); acked/read per partition, in order."""

    def __init__(self, bootstrap):
        self.bootstrap = bootstrap
        self.acked = {p: [] for p in range(PARTS)}
        self.sent = {p: [] for p in range(PARTS)}
        self.read = {p: [] for p in range(PARTS)}
        self.failed, self.errors, self.fatal = [], [], []
        self.ack_offset = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.consumer_stop = threading.Event()
        self.pt = threading.Thread(target=self._produce, daemon=True)
        self.ct = threading.Thread(target=self._consume, daemon=True)

    def start(self):
        self.pt.start()
        self.ct.start()
        return self

    def _dr(self, err, msg):
        with self.lock:
            if err:
                self.failed.append((str(err), msg.value()))
            else:
                self.acked[msg.partition()].append(msg.value())
                self.ack_offset[msg.value()] = msg.offset()

    def _error(self, err):
        if err.fatal():
            self.fatal.append(str(err))

    def _produce(self):
        p = Producer({"bootstrap.servers": self.bootstrap, "acks": "all",
                      "enable.idempotence": True, "message.timeout.ms": 300000,
                      "retry.backoff.ms": 100, "linger.ms": 5,
                      "topic.metadata.refresh.interval.ms": 1000, "error_cb": self._error})
        seq = 0
        while not self.stopping.is_set() and not self.fatal:
            part = seq % PARTS
            v = b"%d-%08d" % (part, seq)
            try:
                p.produce(TOPIC, value=v, partition=part, callback=self._dr)
                self.sent[part].append(v)
                seq += 1
            except BufferError:
                pass
            p.poll(0.004)
        self.left = p.flush(WAIT * 3)
        self.pdone = True

    def _consume(self):
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "unused",
                      "enable.auto.commit": False, "topic.metadata.refresh.interval.ms": 1000})
        c.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTS)])
        while not self.consumer_stop.is_set():
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                e = m.error()
                if e.code() != KafkaError._PARTITION_EOF and not any(t in str(e) for t in TRANSPORT):
                    self.errors.append(str(e))
                continue
            with self.lock:
                self.read[m.partition()].append(m.value())
        c.close()

    def acked_count(self):
        with self.lock:
            return [len(self.acked[p]) for p in range(PARTS)]

    def wait_progress(self, what):
        """Both partitions acknowledge something new within WAIT."""
        before = self.acked_count()
        deadline = time.time() + WAIT
        while True:
            now = self.acked_count()
            if all(n > b for n, b in zip(now, before)):
                return
            assert not self.fatal, "producer fatal error: %s" % self.fatal
            assert time.time() < deadline, "no acknowledgement on every partition within " \
                "%d s after %s (acked %s -> %s)" % (WAIT, what, before, now)
            time.sleep(0.1)

    def finish(self):
        self.stopping.set()
        self.pt.join(WAIT * 3 + 30)
        assert not self.pt.is_alive(), "producer did not finish"
        deadline = time.time() + WAIT
        while True:
            with self.lock:
                done = all(len(set(self.read[p])) >= len(set(self.acked[p])) for p in range(PARTS))
            if done or time.time() > deadline:
                break
            time.sleep(0.2)
        time.sleep(2)  # anything beyond the acknowledged records would show up here
        self.consumer_stop.set()
        self.ct.join(60)


def leader_of(cl, part):
    for n in cl.alive().values():
        v = clusterutil.leader_view(n, TOPIC, part)
        if v:
            return v[0]
    return None


def inject(cl, proxy, rng, k):
    """One fault, held for a while, then healed.  Returns its description."""
    kinds = os.environ.get("CAIRN_CHAOS_KINDS", "kill,kill,stop,isolate,cut").split(",")
    kind = rng.choice(kinds)
    target = None
    if rng.random() < 0.6:
        target = leader_of(cl, rng.randrange(PARTS))
    if target is None:
        target = rng.choice(cl.ids)
    hold = rng.uniform(0.5, 3.5)
    if kind == "kill":
        cl.kill(target)
        time.sleep(hold)
        cl.start(target)
        what = "SIGKILL node %d, restart after %.1f s" % (target, hold)
    elif kind == "stop":
        hold += 1.0  # past an election timeout
        cl.stop(target)
        time.sleep(hold)
        cl.cont(target)
        what = "SIGSTOP node %d for %.1f s" % (target, hold)
    elif kind == "isolate":
        mode = rng.choice(["pause", "reset"])
        proxy.isolate(target, cl.ids, mode)
        time.sleep(hold)
        proxy.heal()
        what = "cut node %d off (%s) for %.1f s" % (target, mode, hold)
    else:
        other = rng.choice([i for i in cl.ids if i != target])
        mode = rng.choice(["pause", "reset"])
        proxy.cut(target, other, mode)
        time.sleep(hold)
        proxy.heal()
        what = "cut link %d-%d (%s) for %.1f s" % (target, other, mode, hold)
    print("fault %d: %s" % (k, what), flush=True)
    return what


def node_copy(cl, i, part):
    out = subprocess.run([kfutil.BIN, "log", "dump", "%s:%d" % (TOPIC, part), "--data",
                          cl.datas[i], "--format", "text"], capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return [m.encode() for m in re.findall(r' value="([^"]*)"', out.stdout.decode())]


def main():
    seed = int(os.environ.get("CAIRN_SEED") or random.randrange(1, 1 << 31))
    faults = int(os.environ.get("CAIRN_CHAOS_FAULTS") or 6)
    strict = os.environ.get("CAIRN_STRICT_DEDUP") == "1"
    print("seed %d, %d faults" % (seed, faults), flush=True)
    rng = random.Random(seed)
    ports = kfutil.free_ports(9)
    entries = dict(zip([1, 2, 3], ports[:3]))
    private = dict(zip([1, 2, 3], ports[3:6]))
    cl = clusterutil.Cluster(n=3, partitions=PARTS, repl_ports=[entries[i] for i in (1, 2, 3)],
                             kafka_ports=ports[6:],
                             repl_listen={i: "127.0.0.1:%d" % private[i] for i in (1, 2, 3)})
    proxy = linkproxy.LinkProxy(entries, private)
    wl = None
    try:
        cl.start_all()
        for p in range(PARTS):
            clusterutil.settle(cl.nodes, TOPIC, p)
        wl = Workload(cl.bootstrap()).start()
        wl.wait_progress("start")
        for k in range(1, faults + 1):
            what = inject(cl, proxy, rng, k)
            wl.wait_progress(what)
            time.sleep(rng.uniform(0.2, 1.0))
        wl.finish()
        assert not wl.fatal, "producer fatal error: %s" % wl.fatal
        assert wl.left == 0, "%d records undelivered" % wl.left
        assert not wl.failed, "failed deliveries: %s" % wl.failed[:3]
        assert not wl.errors, "consumer errors: %s" % wl.errors[:3]
        dups = 0
        for p in range(PARTS):
            lost = [v for v in wl.acked[p] if v not in set(wl.read[p])]
            if lost:
                print("partition %d: acknowledged but never read (value, acknowledged offset): %s"
                      % (p, [(v, wl.ack_offset.get(v)) for v in lost[:20]]), file=sys.stderr)
            dups += clusterutil.check_read_once_in_order(
                "partition %d" % p, wl.acked[p], wl.read[p],
                retried=set(wl.sent[p]) - set(wl.acked[p]))
        # Every node's own copy: stop them all cleanly, read their directories.
        for p in range(PARTS):
            clusterutil.wait_agreed_leader(cl.nodes, topic=TOPIC, partition=p)
        time.sleep(2)  # followers fetch the last committed batches
        cl.shutdown()
        for i in cl.ids:
            for p in range(PARTS):
                copy = node_copy(cl, i, p)
                assert copy == wl.read[p], "node %d partition %d: %d records, the consumer " \
                    "read %d; first difference at %d" % (
                        i, p, len(copy), len(wl.read[p]),
                        next((k for k, (a, b) in enumerate(zip(copy, wl.read[p])) if a != b),
                             min(len(copy), len(wl.read[p]))))
        total = sum(len(wl.acked[p]) for p in range(PARTS))
        print("ok: seed %d, %d faults, %d records acknowledged, every one read in order and "
              "held by every node; %d stored twice by idempotent retries across failover "
              "(proxy: %s)" % (
                  seed, faults, total, dups, proxy.stats))
        if strict:
            assert dups == 0, "idempotent retries stored twice: %d" % dups
    except BaseException:
        print("FAILED with CAIRN_SEED=%d (CAIRN_CHAOS_FAULTS=%d)" % (seed, faults), file=sys.stderr)
        print(cl.logs(), file=sys.stderr)
        raise
    finally:
        if wl:
            wl.stopping.set()
            wl.consumer_stop.set()
        proxy.close()
        cl.destroy()


if __name__ == "__main__":
    main()
