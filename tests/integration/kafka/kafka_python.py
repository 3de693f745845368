#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
kafka/kafka_python — kafka-python 2.0.2 (Debian python3-kafka) against a
real `cairn logd`.  kafka-python does not negotiate per API: it infers a
broker version from ApiVersions and then uses fixed versions, so this
checks the inference lands on 2.3 (RecordBatch v2, Produce v7, Fetch v4)
and that each of those versions works end to end:
  - producer: keyed records with headers, gzip batch, delivery offsets;
  - consumer with manual assignment, seek, offsets_for_times (ListOffsets
    v1 by timestamp), beginning/end offsets;
  - a consumer group of two members (JoinGroup v2, SyncGroup v1,
    Heartbeat v1, OffsetCommit v2, OffsetFetch v1, LeaveGroup v1), each
    committing after every record: across the members every record is
    consumed exactly once (no duplicate, none missing) at the partition,
    offset, key and value it was produced with; offsets committed;
  - admin: create_topics, list_topics, describe_configs, list/describe
    consumer groups, delete_topics.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kfutil  # noqa: E402
from kafka import KafkaConsumer, KafkaProducer, TopicPartition, errors  # noqa: E402
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic  # noqa: E402


def main():
    n = kfutil.Logd(args=["--partitions", "4"]).start()
    try:
        bs = n.bootstrap
        p = KafkaProducer(bootstrap_servers=bs, compression_type="gzip", linger_ms=20)
        assert p.config["api_version"] == (2, 3, 0), p.config["api_version"]
        t0 = int(time.time() * 1000)
        futs = []
        for i in range(200):
            futs.append(p.send("hunt-events", key=b"p%d" % (i % 8), value=b"event-%d" % i,
                               headers=[("content-type", b"application/cloudevents+protobuf")],
                               partition=i % 4, timestamp_ms=t0 + i))
        p.flush(30)
        metas = [f.get(timeout=10) for f in futs]
        per_part = {}
        for i, m in enumerate(metas):
            assert m.partition == i % 4
            per_part.setdefault(m.partition, []).append(m.offset)
        for part, offs in per_part.items():
            assert offs == list(range(50)), (part, offs[:5])
        p.close()

        # Manual assignment, seek, timestamps.
        c = KafkaConsumer(bootstrap_servers=bs, consumer_timeout_ms=3000, enable_auto_commit=False)
        tp = TopicPartition("hunt-events", 1)
        c.assign([tp])
        assert c.beginning_offsets([tp])[tp] == 0
        assert c.end_offsets([tp])[tp] == 50
        c.seek(tp, 10)
        got = [m for _, m in zip(range(40), c)]
        assert [m.offset for m in got] == list(range(10, 50)), [m.offset for m in got][:5]
        m = got[0]
        assert m.key == b"p%d" % ((10 * 4 + 1) % 8) and m.value == b"event-%d" % (10 * 4 + 1), m
        assert m.headers == [("content-type", b"application/cloudevents+protobuf")], m.headers
        assert m.timestamp == t0 + 10 * 4 + 1, (m.timestamp, t0)
        # Record i sits at partition i%4, offset i//4, timestamp t0+i.
        ot = c.offsets_for_times({tp: t0 + 4 * 20 + 1})[tp]
        assert ot.offset == 20 and ot.timestamp == t0 + 81, ot
        ot = c.offsets_for_times({tp: t0 + 4 * 20 + 2})[tp]
        assert ot.offset == 21 and ot.timestamp == t0 + 85, ot
        assert c.offsets_for_times({tp: t0 + 100000})[tp] is None
        c.close()

        # A group of two: every record exactly once (no rebalance after both joined).
        seen, lock, errs = {}, threading.Lock(), []

        def member(name, ready):
            try:
                cc = KafkaConsumer("hunt-events", bootstrap_servers=bs, group_id="kp-group",
                                   client_id=name, auto_offset_reset="earliest",
                                   enable_auto_commit=False, consumer_timeout_ms=6000,
                                   session_timeout_ms=10000, heartbeat_interval_ms=500)
                ready.set()
                for msg in cc:
                    rec = (msg.partition, msg.offset, msg.key, msg.value)
                    with lock:
                        seen[rec] = seen.get(rec, 0) + 1
                    cc.commit()
                cc.close()
            except Exception as e:
                errs.append("%s: %r" % (name, e))
                ready.set()

        threads = []
        for name in ("kp-a", "kp-b"):
            ready = threading.Event()
            t = threading.Thread(target=member, args=(name, ready), daemon=True)
            t.start()
            ready.wait(20)
            threads.append(t)
        for t in threads:
            t.join(60)
        assert not errs, errs
        # A record is committed before the next is taken, so a partition
        # that moves resumes exactly after it: nothing may come twice.
        want = {(i % 4, i // 4, b"p%d" % (i % 8), b"event-%d" % i) for i in range(200)}
        dups = sorted(r for r, k in seen.items() if k != 1)
        assert not dups, "consumed more than once: %r" % dups[:5]
        assert set(seen) == want, (sorted(want - set(seen))[:5], sorted(set(seen) - want)[:5])
        probe = KafkaConsumer(bootstrap_servers=bs, group_id="kp-group", enable_auto_commit=False)
        for part in range(4):
            assert probe.committed(TopicPartition("hunt-events", part)) == 50, part
        probe.close()

        a = KafkaAdminClient(bootstrap_servers=bs)
        r = a.create_topics([NewTopic("kp-topic", 3, 1, topic_configs={"retention.ms": "3600000"})])
        assert all(e[1] == 0 for e in r.topic_errors), r
        for topic, rf, want in (("kp-topic", 1, errors.TopicAlreadyExistsError),
                                ("kp-bad", 3, errors.InvalidReplicationFactorError)):
            try:
                a.create_topics([NewTopic(topic, 3, rf)])
                raise AssertionError("create_topics %s rf %d succeeded" % (topic, rf))
            except want:
                pass
        assert "kp-topic" in a.list_topics()
        cfg = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp-topic")])
        entries = {e[0]: e[1] for e in cfg[0].resources[0][4]}
        assert entries.get("retention.ms") == "3600000", entries
        groups = dict(a.list_consumer_groups())
        assert groups.get("kp-group") == "consumer", groups
        d = a.describe_consumer_groups(["kp-group"])[0]
        assert d.state in ("Empty", "Stable", "PreparingRebalance"), d
        r = a.delete_topics(["kp-topic"])
        assert r.topic_error_codes[0][1] == 0, r
        assert "kp-topic" not in a.list_topics()
        a.close()
        print("kafka/kafka_python: ok")
    except Exception:
        sys.stderr.write(n.log()[-4000:])
        raise
    finally:
        n.stop()


if __name__ == "__main__":
    main()
