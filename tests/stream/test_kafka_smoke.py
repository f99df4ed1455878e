"""The real broker started by the test set-up carries messages end to end (kafka-python)."""

from __future__ import annotations

import pytest
from kafka import KafkaConsumer, KafkaProducer

pytestmark = pytest.mark.kafka


def test_produce_and_consume_through_the_real_broker(kafka_bootstrap, new_topic):
    topic = new_topic("smoke", partitions=3)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    sent = {f"account-{i}".encode(): f'{{"n": {i}}}'.encode() for i in range(30)}
    for key, value in sent.items():
        producer.send(topic, key=key, value=value, headers=[("content-type", b"application/json")])
    producer.flush()
    producer.close()

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
    )
    received = {}
    partitions_seen = set()
    for message in consumer:
        received[message.key] = message.value
        partitions_seen.add(message.partition)
        assert dict(message.headers)["content-type"] == b"application/json"
        if len(received) == len(sent):
            break
    consumer.close()
    assert received == sent
    assert len(partitions_seen) > 1, "keys should spread over the topic's partitions"


def test_broker_reports_its_version_to_the_client(kafka_bootstrap):
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    version = producer.config["api_version"]
    producer.close()
    assert version is not None and version >= (3, 0)
