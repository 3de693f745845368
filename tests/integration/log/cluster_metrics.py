#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
log/cluster_metrics — `cairn logd --http HOST:PORT` (docs/operations.md):
  - standalone: /healthz "ok", /metrics has cairn_logd_healthy 1 and no
    replication families; an unknown path is 404, POST is 405;
  - a 3-node cluster: every node's /metrics names the same leader of
    ble-raw/0 as Metadata, with Metadata's epoch as its term; the leader
    alone has cairn_repl_leader 1, 3 in-sync replicas and no
    under-replicated partition; after acks=all produces its high watermark
    equals its log end and every follower's lag drops to 0; replication
    frames flowed and both peers are connected;
  - a follower SIGKILLed: the leader reports the partition under-replicated
    (2 in sync, cairn_repl_under_replicated_partitions >= 1) and that peer
    disconnected; restarted, all is in sync again;
  - the leader SIGKILLed: the new leader's cairn_repl_elections_total is
    at least 1 and the survivors counted a leader change;
  - `cairn log cluster --brokers` shows the same: the live nodes, ble-raw/0's
    leader, replicas, ISR and high watermark (equal to /metrics'), no
    under-replicated partition; with a follower dead, the node is gone from
    the list, named down, and the partitions under-replicated; without
    --brokers it is a usage error (exit 2).
"""
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import clusterutil  # noqa: E402
import kfutil  # noqa: E402
from clusterutil import WAIT  # noqa: E402
from confluent_kafka import Producer  # noqa: E402

P0 = 'topic="ble-raw",partition="0"'


def get(port, path, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metrics(port):
    code, body = get(port, "/metrics")
    assert code == 200, (code, body)
    out = {}
    for line in body.splitlines():
        if line.startswith("#") or not line:
            continue
        m = re.match(r"^([a-z_]+)(\{[^}]*\})? (\S+)$", line)
        assert m, "not Prometheus text: %r" % line
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def log_cluster(node):
    r = subprocess.run([kfutil.BIN, "log", "cluster", "--brokers", node.bootstrap],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r
    return r.stdout.decode()


def wait_for(cond, what):
    deadline = time.time() + WAIT
    last = None
    while time.time() < deadline:
        try:
            last = cond()
            if last is True:
                return
        except (OSError, AssertionError) as e:
            last = e
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s (last: %s)" % (what, last))


def standalone():
    hp = kfutil.free_ports(1)[0]
    n = kfutil.Logd(args=["--partitions", "1", "--http", "127.0.0.1:%d" % hp]).start()
    try:
        assert get(hp, "/healthz") == (200, "ok\n")
        m = metrics(hp)
        assert m["cairn_logd_healthy"] == 1 and m["cairn_logd_failed_partitions"] == 0, m
        assert not [k for k in m if k.startswith("cairn_repl_")], m
        assert get(hp, "/nope")[0] == 404
        assert get(hp, "/metrics", method="POST")[0] == 405
    finally:
        n.stop()


def main():
    standalone()
    ports = kfutil.free_ports(9)
    http = dict(zip([1, 2, 3], ports[6:]))
    cl = clusterutil.Cluster(n=3, partitions=1, kafka_ports=ports[:3], repl_ports=ports[3:6])
    orig_args = cl.args
    cl.args = lambda i: orig_args(i) + ["--http", "127.0.0.1:%d" % http[i]]
    cl.start_all()
    try:
        leader = clusterutil.settle(cl.nodes)
        view = clusterutil.leader_view(cl.nodes[leader])
        for i in cl.ids:
            assert get(http[i], "/healthz") == (200, "ok\n")
            m = metrics(http[i])
            assert m["cairn_logd_healthy"] == 1, m
            assert m["cairn_repl_leader_id{%s}" % P0] == leader, (i, m)
            if view[1] is not None:
                assert m["cairn_repl_term{%s}" % P0] == view[1], (i, view, m)
            assert m["cairn_repl_leader{%s}" % P0] == (1 if i == leader else 0), (i, m)
        p = Producer({"bootstrap.servers": cl.bootstrap(), "acks": "all"})
        for k in range(100):
            p.produce("ble-raw", value=b"m-%d" % k, partition=0)
        assert p.flush(WAIT) == 0
        followers = [i for i in cl.ids if i != leader]

        def in_sync():
            m = metrics(http[leader])
            hw, end = m["cairn_repl_high_watermark{%s}" % P0], m["cairn_repl_log_end_offset{%s}" % P0]
            lags = [m['cairn_repl_follower_lag{%s,replica="%d"}' % (P0, f)] for f in followers]
            ok = (hw == end and hw >= 100 and lags == [0, 0]
                  and m["cairn_repl_in_sync_replicas{%s}" % P0] == 3
                  and m["cairn_repl_under_replicated{%s}" % P0] == 0
                  and m["cairn_repl_under_replicated_partitions"] == 0
                  and m["cairn_repl_frames_in_total"] > 0 and m["cairn_repl_frames_out_total"] > 0
                  and all(m['cairn_repl_peer_connected{peer="%d"}' % f] == 1 for f in followers))
            return ok or (hw, end, lags)
        wait_for(in_sync, "the leader's metrics in sync")
        hw = int(metrics(http[leader])["cairn_repl_high_watermark{%s}" % P0])
        out = log_cluster(cl.nodes[leader])
        for i in cl.ids:
            assert "  node %d\t127.0.0.1:%d\n" % (i, cl.kports[i]) in out, out
        assert ("ble-raw/0\tleader=%d\treplicas=1,2,3\tisr=1,2,3\tdown=-\thw=%d\n" % (leader, hw)
                in out), out
        assert "\n0 of the " in out and out.endswith(" partitions node %d leads under-replicated\n"
                                                     % leader), out
        r = subprocess.run([kfutil.BIN, "log", "cluster"], capture_output=True, timeout=60)
        assert r.returncode == 2 and r.stderr.count(b"\n") == 1, r

        # A follower dies: under-replicated on the leader.
        f = followers[0]
        cl.kill(f)

        def under():
            m = metrics(http[leader])
            ok = (m["cairn_repl_under_replicated{%s}" % P0] == 1
                  and m["cairn_repl_in_sync_replicas{%s}" % P0] == 2
                  and m["cairn_repl_under_replicated_partitions"] >= 1
                  and m['cairn_repl_peer_connected{peer="%d"}' % f] == 0)
            return ok or m
        wait_for(under, "under-replicated after a follower died")
        out = log_cluster(cl.nodes[leader])
        assert "  node %d\t" % f not in out, out
        line = [x for x in out.splitlines() if x.startswith("ble-raw/0\t")][0]
        assert "\tdown=%d\t" % f in line and line.endswith("\tunder-replicated"), out
        assert "\n0 of the " not in out, out
        cl.start(f)
        wait_for(in_sync, "in sync again after the follower restarted")

        # The leader dies: an election elsewhere, counted.
        before = {i: metrics(http[i]) for i in followers}
        cl.kill(leader)
        survivors = {i: cl.nodes[i] for i in followers}
        new = clusterutil.settle(survivors)
        m = metrics(http[new])
        assert m["cairn_repl_elections_total{%s}" % P0] >= 1, m
        assert m["cairn_repl_leader{%s}" % P0] == 1, m
        for i in followers:
            k = "cairn_repl_leader_changes_total{%s}" % P0
            assert metrics(http[i])[k] > before[i][k], (i, before[i][k])
        cl.shutdown()
        print("ok: leader %d, follower %d killed and back, leader killed, %d elected" % (
            leader, f, new))
    except BaseException:
        print(cl.logs(), file=sys.stderr)
        raise
    finally:
        cl.destroy()


if __name__ == "__main__":
    main()
