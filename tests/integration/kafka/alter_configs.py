#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
kafka/alter_configs — a topic's retention and segment size changed over
Kafka by real admin clients against a real `cairn logd`:
  - kafka-python 2.0.2's KafkaAdminClient.alter_configs (AlterConfigs v1):
    retention.ms, retention.bytes, segment.bytes stored and reported by
    describe_configs; an invalid value gets INVALID_CONFIG (40), an
    unknown config INVALID_CONFIG, an unknown topic
    UNKNOWN_TOPIC_OR_PARTITION (3); validate_only (a hand-made
    AlterConfigs v0 with kafka-python's own protocol types) changes nothing;
  - IncrementalAlterConfigs v0, encoded with kafka-python's protocol types
    (kafka-python 2.0.2 has no client call for it): SET keeps the other
    configs, DELETE reverts one to the log default, APPEND is refused;
  - confluent-kafka (librdkafka 2.0.2) AdminClient.alter_configs, with and
    without validate_only, and its describe_configs;
  - the changes survive a restart of the node.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kfutil  # noqa: E402
from confluent_kafka import KafkaException  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402
from confluent_kafka.admin import ConfigResource as CkResource  # noqa: E402
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic  # noqa: E402
from kafka.protocol.admin import AlterConfigsRequest  # noqa: E402
from kafka.protocol.api import Request, Response  # noqa: E402
from kafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Schema, String  # noqa: E402


class IncrementalAlterConfigsResponse_v0(Response):
    API_KEY = 44
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("resources", Array(("error_code", Int16), ("error_message", String("utf-8")),
                            ("resource_type", Int8), ("resource_name", String("utf-8")))))


class IncrementalAlterConfigsRequest_v0(Request):
    API_KEY = 44
    API_VERSION = 0
    RESPONSE_TYPE = IncrementalAlterConfigsResponse_v0
    SCHEMA = Schema(
        ("resources", Array(("resource_type", Int8), ("resource_name", String("utf-8")),
                            ("configs", Array(("config_name", String("utf-8")),
                                              ("config_operation", Int8),
                                              ("config_value", String("utf-8")))))),
        ("validate_only", Boolean))


def send(admin, req):
    """Send a request through kafka-python's own client and wait for it."""
    node = admin._client.least_loaded_node()
    fut = admin._send_request_to_node(node, req)
    admin._wait_for_futures([fut])
    return fut.value


def described(admin, topic):
    cfg = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    return {e[0]: e[1] for e in cfg[0].resources[0][4]}


def alter_codes(admin, topic, configs):
    r = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs=configs)])
    return [res[0] for res in r.resources]


def incremental(admin, topic, ops, validate_only=False):
    r = send(admin, IncrementalAlterConfigsRequest_v0(
        resources=[(2, topic, ops)], validate_only=validate_only))
    return [res[0] for res in r.resources]


def check_kafka_python(bs):
    a = KafkaAdminClient(bootstrap_servers=bs)
    r = a.create_topics([NewTopic("ac", 2, 1)])
    assert all(e[1] == 0 for e in r.topic_errors), r
    want = {"retention.ms": "120000", "retention.bytes": "1048576", "segment.bytes": "4194304"}
    assert alter_codes(a, "ac", want) == [0]
    got = described(a, "ac")
    for k, v in want.items():
        assert got.get(k) == v, (k, got)
    assert alter_codes(a, "ac", {"retention.ms": "soon"}) == [40]
    assert alter_codes(a, "ac", {"retention.ms": "-7"}) == [40]
    assert alter_codes(a, "ac", {"segment.bytes": "2147483648"}) == [40]
    assert alter_codes(a, "ac", {"min.insync.replicas": "2"}) == [40]
    assert alter_codes(a, "no-such-topic", {"retention.ms": "1000"}) == [3]
    # validate_only: the same checks, nothing stored.
    r = send(a, AlterConfigsRequest[0](
        resources=[(2, "ac", [("retention.ms", "5000")])], validate_only=True))
    assert [res[0] for res in r.resources] == [0], r
    got = described(a, "ac")
    assert got.get("retention.ms") == "120000", got
    assert got.get("segment.bytes") == "4194304", got  # a refused change left it

    # IncrementalAlterConfigs v0: SET one, the others kept; DELETE; APPEND.
    assert incremental(a, "ac", [("retention.ms", 0, "300000")]) == [0]
    got = described(a, "ac")
    assert got.get("retention.ms") == "300000" and got.get("retention.bytes") == "1048576", got
    assert incremental(a, "ac", [("retention.bytes", 1, None)]) == [0]
    got = described(a, "ac")
    assert got.get("retention.bytes") == "-1", got  # the log default: no limit
    assert got.get("segment.bytes") == "4194304", got
    assert incremental(a, "ac", [("retention.ms", 2, "1")]) == [40]
    assert incremental(a, "ac", [("retention.ms", 0, "1")], validate_only=True) == [0]
    assert described(a, "ac").get("retention.ms") == "300000"
    a.close()


def check_confluent(bs):
    a = AdminClient({"bootstrap.servers": bs})
    res = CkResource("topic", "ac", set_config={"retention.ms": "900000",
                                               "retention.bytes": "2097152",
                                               "segment.bytes": "4194304"})
    for f in a.alter_configs([res], validate_only=True).values():
        f.result(timeout=30)
    got = {k: v.value for k, v in a.describe_configs(
        [CkResource("topic", "ac")])[CkResource("topic", "ac")].result(timeout=30).items()}
    assert got["retention.ms"] == "300000", got  # validate_only stored nothing
    for f in a.alter_configs([res]).values():
        f.result(timeout=30)
    got = {k: v.value for k, v in a.describe_configs(
        [CkResource("topic", "ac")])[CkResource("topic", "ac")].result(timeout=30).items()}
    assert got["retention.ms"] == "900000" and got["retention.bytes"] == "2097152", got
    bad = CkResource("topic", "ac", set_config={"retention.ms": "later"})
    for f in a.alter_configs([bad]).values():
        try:
            f.result(timeout=30)
            raise AssertionError("an invalid retention.ms was accepted")
        except KafkaException as e:
            assert e.args[0].name() == "INVALID_CONFIG", e


def main():
    n = kfutil.Logd().start()
    try:
        check_kafka_python(n.bootstrap)
        check_confluent(n.bootstrap)
        n.stop()
        n = kfutil.Logd(data=n.data).start()
        a = KafkaAdminClient(bootstrap_servers=n.bootstrap)
        got = described(a, "ac")
        assert got.get("retention.ms") == "900000", got
        assert got.get("retention.bytes") == "2097152", got
        assert got.get("segment.bytes") == "4194304", got
        a.close()
        n.stop()
        print("kafka/alter_configs: ok")
    except Exception:
        sys.stderr.write(n.log()[-4000:])
        raise


if __name__ == "__main__":
    main()
