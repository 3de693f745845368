#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
log/cluster_clients — four real Kafka clients, each producing and consuming
across a SIGKILL of the partition leader of a 3-node `cairn logd` cluster
(loopback, one partition of ble-raw, every node in the bootstrap list):
  - kcat (librdkafka, idempotent, acks=all) producing from a paced stdin,
    a second kcat consuming throughout;
  - kafka-python 2.0.2 (acks=all, one request in flight, no idempotence:
    the library has none) producing record by record, a KafkaConsumer
    assigned to the partition throughout;
  - confluent-kafka (librdkafka, idempotent, acks=all) and a Consumer
    throughout;
  - kafkajs 2.2.4 (idempotent, acks=-1) and a consumer-group member
    throughout (tests/integration/lib/kafkajs_failover.js).
For each: the leader is SIGKILLed once a third of the records are
acknowledged; the producer must finish with no error reported to the
application (retries are the client's business), and the consumer must
have read every acknowledged record, first reads in produce order, and
nothing that was not produced (a consumer that re-reads after its group
coordinator died — offsets are not replicated yet — is counted, not
failed).  Metadata lists the live brokers only: not the killed node, and
it again once it restarted from its directory and rejoined.  At the end
the partition as stored holds every client's acknowledged records in
order; a record stored twice (a retry of a batch whose acknowledgement
the kill swallowed, appended again by the new leader) is counted and
printed per client, and fails the test for the idempotent clients only
with CAIRN_STRICT_DEDUP=1 (cluster-wide producer ids and retry
de-duplication across failover are not built yet).
CAIRN_CLIENTS=kcat,kafkajs runs a subset.
"""
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import clusterutil  # noqa: E402
from clusterutil import WAIT  # noqa: E402
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

N = 300
KILL_AT = N // 3
TOPIC = "ble-raw"
HERE = os.path.dirname(os.path.abspath(__file__))


class Killer:
    """SIGKILLs the current leader once, from whichever thread asks first."""

    def __init__(self, cl, leader):
        self.cl, self.leader = cl, leader
        self.lock = threading.Lock()
        self.done = False

    def __call__(self):
        with self.lock:
            if not self.done:
                self.done = True
                self.cl.kill(self.leader)


def values(prefix):
    return [("%s%05d" % (prefix, i)).encode() for i in range(N)]


def wait_until(cond, what, wait=WAIT):
    deadline = time.time() + wait
    while not cond():
        assert time.time() < deadline, "timed out waiting for " + what
        time.sleep(0.1)


# ---- kcat ----------------------------------------------------------------

def run_kcat(cl, kill, prefix):
    boot = cl.bootstrap()
    cons = subprocess.Popen(["kcat", "-C", "-b", boot, "-t", TOPIC, "-p", "0", "-o", "beginning",
                             "-u", "-f", "%s\n", "-X", "topic.metadata.refresh.interval.ms=1000"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    got, lock = [], threading.Lock()

    def reader():
        for line in cons.stdout:
            v = line.rstrip(b"\n")
            if v.startswith(prefix.encode()):
                with lock:
                    got.append(v)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    prod = subprocess.Popen(["kcat", "-P", "-b", boot, "-t", TOPIC, "-p", "0",
                             "-X", "acks=all", "-X", "enable.idempotence=true",
                             "-X", "message.timeout.ms=%d" % (WAIT * 1000),
                             "-X", "retry.backoff.ms=100", "-X", "linger.ms=0",
                             "-X", "topic.metadata.refresh.interval.ms=1000"],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    sent = values(prefix)
    for i, v in enumerate(sent):
        prod.stdin.write(v + b"\n")
        prod.stdin.flush()
        time.sleep(0.01)
        if i == KILL_AT:
            time.sleep(0.5)  # let some of them be acknowledged first
            kill()
    prod.stdin.close()
    err = prod.stderr.read().decode(errors="replace")
    rc = prod.wait(timeout=WAIT + 30)
    assert rc == 0, "kcat producer exited %d: %s" % (rc, err[-2000:])
    # kcat exits 0 only once every record was delivered (it reports
    # delivery failures and exits non-zero otherwise).
    try:
        wait_until(lambda: len(set(got)) >= len(sent), "kcat consumer")
    finally:
        cons.terminate()
        cons.wait(timeout=30)
        t.join(10)
    return sent, got


# ---- kafka-python --------------------------------------------------------

def run_kafka_python(cl, kill, prefix):
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.structs import TopicPartition as KTP
    boot = [cl.nodes[i].bootstrap for i in cl.ids]
    got, stop = [], threading.Event()

    def consume():
        c = KafkaConsumer(bootstrap_servers=boot, enable_auto_commit=False, group_id=None,
                          metadata_max_age_ms=1000, request_timeout_ms=30000,
                          retry_backoff_ms=100, reconnect_backoff_max_ms=1000)
        c.assign([KTP(TOPIC, 0)])
        c.seek_to_beginning()
        while not stop.is_set():
            for recs in c.poll(timeout_ms=200).values():
                for r in recs:
                    if r.value.startswith(prefix.encode()):
                        got.append(r.value)
        c.close()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    p = KafkaProducer(bootstrap_servers=boot, acks="all", retries=50, retry_backoff_ms=200,
                      max_in_flight_requests_per_connection=1, linger_ms=0,
                      request_timeout_ms=30000, metadata_max_age_ms=1000,
                      reconnect_backoff_max_ms=1000)
    sent = values(prefix)
    acked = []
    for i, v in enumerate(sent):
        p.send(TOPIC, value=v, partition=0).get(timeout=WAIT)
        acked.append(v)
        if i == KILL_AT:
            kill()
    p.close(timeout=30)
    try:
        wait_until(lambda: len(set(got)) >= len(acked), "kafka-python consumer")
    finally:
        stop.set()
        t.join(30)
    return acked, got


# ---- confluent-kafka -----------------------------------------------------

def run_confluent(cl, kill, prefix):
    boot = cl.bootstrap()
    got, stop = [], threading.Event()
    errors = []

    def consume():
        c = Consumer({"bootstrap.servers": boot, "group.id": "unused", "enable.auto.commit": False,
                      "topic.metadata.refresh.interval.ms": 1000})
        c.assign([TopicPartition(TOPIC, 0, 0)])
        while not stop.is_set():
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    errors.append(str(m.error()))
                continue
            if m.value().startswith(prefix.encode()):
                got.append(m.value())
        c.close()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    acked, failed = [], []

    def dr(err, msg):
        if err:
            failed.append((err, msg.value()))
        else:
            acked.append(msg.value())
            if len(acked) == KILL_AT:
                kill()

    p = Producer({"bootstrap.servers": boot, "acks": "all", "enable.idempotence": True,
                  "message.timeout.ms": WAIT * 1000, "retry.backoff.ms": 100, "linger.ms": 0,
                  "topic.metadata.refresh.interval.ms": 1000})
    sent = values(prefix)
    for v in sent:
        p.produce(TOPIC, value=v, partition=0, callback=dr)
        p.poll(0.005)
    assert p.flush(WAIT + 10) == 0, "confluent-kafka: undelivered records"
    assert not failed, "confluent-kafka: failed deliveries: %s" % failed[:3]
    try:
        wait_until(lambda: len(set(got)) >= len(acked), "confluent-kafka consumer")
    finally:
        stop.set()
        t.join(30)
    # Transport errors while the leader was dead are the client's retries;
    # anything else reaching the application is an error.
    bad = [e for e in errors if "Connection refused" not in e and "Disconnected" not in e
           and "brokers are down" not in e and "Connect to" not in e]
    assert not bad, "confluent-kafka consumer errors: %s" % bad[:3]
    return acked, got


# ---- kafkajs -------------------------------------------------------------

def run_kafkajs(cl, kill, prefix):
    script = os.path.join(HERE, "..", "lib", "kafkajs_failover.js")
    errpath = os.path.join(cl.nodes[cl.ids[0]].tmp, "kafkajs.log")
    with open(errpath, "wb") as errf:
        proc = subprocess.Popen(["node", script, cl.bootstrap(), prefix, str(N)],
                                stdout=subprocess.PIPE, stderr=errf)
        acked, got, other = [], [], []
        for line in proc.stdout:
            word, _, rest = line.decode(errors="replace").rstrip("\n").partition(" ")
            if word == "acked":
                acked.append(rest.encode())
                if len(acked) == KILL_AT:
                    kill()
            elif word == "read":
                got.append(rest.encode())
            elif word != "done":
                other.append(line.decode(errors="replace"))
        rc = proc.wait(timeout=WAIT + 60)
    with open(errpath, "rb") as f:
        err = f.read().decode(errors="replace")
    assert rc == 0 and not other, "kafkajs exited %d: %s %s" % (rc, other[:5], err[-2000:])
    assert len(acked) == N, "kafkajs: %d of %d acknowledged" % (len(acked), N)
    if len(set(got)) < len(acked):
        print("kafkajs log (%s):\n%s" % (errpath, err[-6000:]), file=sys.stderr)
    return acked, got


CLIENTS = [
    ("kcat", run_kcat, True),
    ("kafka-python", run_kafka_python, False),
    ("confluent-kafka", run_confluent, True),
    ("kafkajs", run_kafkajs, True),
]


def brokers(node):
    try:
        md = AdminClient({"bootstrap.servers": node.bootstrap}).list_topics(timeout=5)
    except Exception:
        return None
    return set(md.brokers)


def read_partition(cl):
    """Every record of TOPIC/0 as stored, in log order (from the leader)."""
    clusterutil.settle(cl.nodes)
    c = Consumer({"bootstrap.servers": cl.bootstrap(), "group.id": "unused",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    c.assign([TopicPartition(TOPIC, 0, 0)])
    got, deadline = [], time.time() + WAIT
    while time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                break
            continue
        got.append(m.value())
    c.close()
    return got


def main():
    only = os.environ.get("CAIRN_CLIENTS")
    strict = os.environ.get("CAIRN_STRICT_DEDUP") == "1"
    cl = clusterutil.Cluster(n=3, partitions=1).start_all()
    report, ran = [], []
    try:
        for name, fn, idempotent in CLIENTS:
            if only and name not in only.split(","):
                continue
            leader = clusterutil.settle(cl.nodes)
            kill = Killer(cl, leader)
            t0 = time.time()
            try:
                acked, got = fn(cl, kill, name + "-")
                assert kill.done, "%s: the leader was never killed" % name
                again = clusterutil.check_read_once_in_order(name, acked, got)
            except Exception:
                print(cl.logs(), file=sys.stderr)
                raise
            # Metadata lists live brokers only (as Kafka does): not the dead
            # node, and it again once it is back.
            survivor = cl.nodes[[i for i in cl.ids if i != leader][0]]
            wait_until(lambda: brokers(survivor) == set(cl.ids) - {leader}, "%s: Metadata "
                       "without the killed node (%s)" % (name, brokers(survivor)))
            ran.append((name, acked, idempotent))
            report.append("%s: %d acknowledged, all read in produce order (%d delivered to the "
                          "consumer twice), %.1f s" % (name, len(acked), again, time.time() - t0))
            print(report[-1], flush=True)
            cl.start(leader)
            clusterutil.wait_agreed_leader(cl.nodes)
            wait_until(lambda: brokers(survivor) == set(cl.ids), "%s: Metadata with the "
                       "restarted node (%s)" % (name, brokers(survivor)))
        # What the log holds: each client's records once each, in order;
        # a record stored twice is a retry the new leader did not recognise.
        stored = read_partition(cl)
        for name, acked, idempotent in ran:
            mine = [v for v in stored if v.startswith(name.encode() + b"-")]
            dups = clusterutil.check_read_once_in_order(name + " (stored)", acked, mine)
            report.append("%s: %d stored twice" % (name, dups))
            print(report[-1], flush=True)
            if strict and idempotent:
                assert dups == 0, "%s: idempotent retries stored twice: %d" % (name, dups)
        cl.shutdown()
        print("ok: " + "; ".join(report))
    finally:
        cl.destroy()


if __name__ == "__main__":
    main()
