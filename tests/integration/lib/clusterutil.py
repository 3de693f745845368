# SPDX-License-Identifier: MIT
"""
clusterutil — helpers for the tests that run a 3-node `cairn logd` cluster
on loopback (log/): start the nodes on fixed free ports with persistent data
directories, SIGKILL / SIGSTOP / SIGCONT / restart one node by id, and read
each node's view of a partition's leadership through Metadata
(confluent-kafka's admin client).  Not a test itself.
"""

if not __debug__:  # the checks here are assert statements: python -O would strip them
    raise SystemExit("cairn's integration tests check with assert: run them without python -O")
import os
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kfutil  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

WAIT = 90  # seconds; generous for a loaded machine


class Cluster:
    """Nodes 1..n.  repl_listen[i] is where node i binds its replication
    listener when it differs from its --cluster entry (a test proxy sits at
    the entry instead)."""

    def __init__(self, n=3, partitions=1, extra_args=(), repl_ports=None, repl_listen=None,
                 kafka_ports=None):
        """Ports not given are picked here; give them all when the test
        picks others too (ports picked by separate calls may coincide)."""
        self.ids = list(range(1, n + 1))
        ports = kfutil.free_ports(2 * n)
        self.kports = dict(zip(self.ids, kafka_ports or ports[:n]))
        self.rports = dict(zip(self.ids, repl_ports or ports[n:]))
        self.repl_listen = repl_listen or {}
        self.partitions = partitions
        self.extra_args = list(extra_args)
        self.repl = ",".join("%d@127.0.0.1:%d" % (i, self.rports[i]) for i in self.ids)
        self.kafka = ",".join("%d@127.0.0.1:%d" % (i, self.kports[i]) for i in self.ids)
        self.nodes = {}
        self.datas = {}
        self.lives = {}  # id -> every Logd started for it, for the logs of earlier lives
        self.stopped = set()

    def args(self, i):
        a = ["--node-id", str(i), "--cluster", self.repl, "--cluster-kafka", self.kafka,
             "--partitions", str(self.partitions)] + self.extra_args
        if i in self.repl_listen:
            a += ["--cluster-listen", self.repl_listen[i]]
        return a

    def start(self, i):
        n = kfutil.Logd(data=self.datas.get(i), listen="127.0.0.1:%d" % self.kports[i],
                        args=self.args(i))
        self.lives.setdefault(i, []).append(n)
        self.nodes[i] = n.start(timeout=60)
        self.datas[i] = n.data
        self.stopped.discard(i)
        return n

    def start_all(self):
        for i in self.ids:
            self.start(i)
        return self

    def alive(self):
        return {i: n for i, n in self.nodes.items() if n.alive()}

    def kill(self, i):
        if i in self.stopped:
            self.cont(i)
        self.nodes[i].kill()

    def stop(self, i):
        self.nodes[i].proc.send_signal(signal.SIGSTOP)
        self.stopped.add(i)

    def cont(self, i):
        self.nodes[i].proc.send_signal(signal.SIGCONT)
        self.stopped.discard(i)

    def bootstrap(self, ids=None):
        return ",".join(self.nodes[i].bootstrap for i in (ids or self.ids))

    def logs(self, tail=3000):
        return "\n".join("--- node %d, life %d ---\n%s" % (i, k + 1, n.log()[-tail:])
                         for i, lives in sorted(self.lives.items())
                         for k, n in enumerate(lives))

    def shutdown(self):
        """SIGTERM every live node (each must exit 0)."""
        for i in list(self.stopped):
            self.cont(i)
        for n in self.nodes.values():
            if n.alive():
                n.stop()

    def destroy(self):
        for i in list(self.stopped):
            try:
                self.cont(i)
            except Exception:
                pass
        for n in self.nodes.values():
            if n.alive():
                n.kill()


def leader_view(node, topic="ble-raw", partition=0):
    """(leader, epoch, replicas, isr) of topic/partition as node answers, or None."""
    try:
        md = AdminClient({"bootstrap.servers": node.bootstrap}).list_topics(topic, timeout=5)
    except Exception:
        return None
    t = md.topics.get(topic)
    if t is None or t.error is not None or partition not in t.partitions:
        return None
    p = t.partitions[partition]
    if p.error is not None or p.leader < 0:
        return None
    return p.leader, getattr(p, "leader_epoch", None), sorted(p.replicas), sorted(p.isrs)


def wait_agreed_leader(nodes, not_leader=None, topic="ble-raw", partition=0, wait=WAIT):
    """Wait until every node in nodes ({id: Logd}) names the same leader
    (other than not_leader).  Returns their views."""
    deadline = time.time() + wait
    views = None
    while time.time() < deadline:
        views = [leader_view(n, topic, partition) for n in nodes.values()]
        if all(views) and len({v[0] for v in views}) == 1 and views[0][0] != not_leader:
            return views
        time.sleep(0.2)
    raise AssertionError("no agreed leader of %s/%d: %s\n%s" % (
        topic, partition, views,
        "\n".join(n.log()[-3000:] for n in nodes.values())))


def fetch_error(node, topic="ble-raw", partition=0):
    """The error code of a raw Fetch v4 of topic/partition at offset 0."""
    name = topic.encode()
    body = struct.pack(">iiiib", -1, 0, 1, 1 << 20, 0) + struct.pack(">i", 1)
    body += struct.pack(">h", len(name)) + name + struct.pack(">iiqi", 1, partition, 0, 1 << 20)
    s = kfutil.connect(node.port)
    try:
        s.sendall(kfutil.frame(1, 4, 7, body))
        r = kfutil.recv_frame(s)
    finally:
        s.close()
    pos = 4 + 4 + 4  # correlation id, throttle_time_ms, topic count
    (nlen,) = struct.unpack_from(">h", r, pos)
    pos += 2 + nlen + 4 + 4  # name, partition count, partition index
    return struct.unpack_from(">h", r, pos)[0]


def settle(nodes, topic="ble-raw", partition=0, wait=WAIT):
    """Wait until every node names the same leader and that leader serves
    Fetch (its own-term marker is committed) while the others answer
    NOT_LEADER_OR_FOLLOWER.  Returns the leader's id."""
    deadline = time.time() + wait
    while True:
        views = wait_agreed_leader(nodes, topic=topic, partition=partition, wait=wait)
        leader = views[0][0]
        try:
            errs = {i: fetch_error(n, topic, partition) for i, n in nodes.items()}
        except (OSError, EOFError) as e:
            errs = {"error": str(e)}
        if leader in nodes and all(e == (0 if i == leader else 6) for i, e in errs.items()):
            return leader
        assert time.time() < deadline, "no settled leader: %s %s" % (views, errs)
        time.sleep(0.2)


def check_read_once_in_order(label, acked, got, retried=()):
    """acked: values acknowledged to the producer, in produce order; got:
    the values of the same producer read back, in log order.  Every
    acknowledged value must be read, the first reads in produce order, and
    nothing read that was not produced.  A value read twice is a retry
    stored twice: returned as a count (the caller decides whether that is
    allowed), never hidden.  retried: values the producer sent but got no
    acknowledgement for (they may or may not be in the log)."""
    seen, first = {}, []
    for v in got:
        seen[v] = seen.get(v, 0) + 1
        if seen[v] == 1:
            first.append(v)
    missing = [v for v in acked if v not in seen]
    assert not missing, "%s: %d acknowledged records never read, first %r" % (
        label, len(missing), missing[:3])
    allowed = set(acked) | set(retried)
    extra = [v for v in first if v not in allowed]
    assert not extra, "%s: read records never produced: %r" % (label, extra[:3])
    order = [v for v in first if v in set(acked)]
    assert order == list(acked), "%s: acknowledged records read out of order near %r" % (
        label, next((a for a, b in zip(order, acked) if a != b), None))
    return sum(c - 1 for c in seen.values())
