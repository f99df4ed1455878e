"""Replay against the real broker: simulate --to-kafka, replay --from-kafka, --to-kafka and --republish.

Replay from Kafka must give the same alerts as replay from the file the same simulation writes.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest
from kafka import KafkaConsumer

from schemas import parse_event
from stream.cli import main
from stream.replay import partition_key
from tests.stream.test_replay import fake_detectors  # noqa: F401 - fixture

pytestmark = pytest.mark.kafka

SIM = ["--accounts", "150", "--days", "4", "--seed", "21", "--mule-share", "0.05"]


@pytest.fixture
def topics(monkeypatch, kafka_bootstrap, new_topic):
    names = {"payments": new_topic("pay", partitions=3), "account_events": new_topic("acc", partitions=3),
             "alerts": new_topic("alerts", partitions=1)}
    monkeypatch.setenv("MULEWATCH_BROKER", f"kafka://{kafka_bootstrap}")
    for field, name in names.items():
        monkeypatch.setenv(f"MULEWATCH_TOPICS__{field.upper()}", name)
    return names


def _consume(bootstrap: str, topic: str, expected: int) -> list:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=5000)
    messages = []
    for message in consumer:
        messages.append(message)
        if len(messages) >= expected:
            break
    consumer.close()
    return messages


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def test_replay_from_kafka_gives_the_same_alerts_as_from_the_file(tmp_path, topics, kafka_bootstrap, fake_detectors):
    events = tmp_path / "events.jsonl"
    assert main(["simulate", *SIM, "--out", str(events)]) == 0
    from_file = tmp_path / "from-file.jsonl"
    assert main(["replay", str(events), "--out", str(from_file)]) == 0

    start = datetime.now(timezone.utc) - timedelta(seconds=5)
    assert main(["simulate", *SIM, "--to-kafka", "--rate", "20000"]) == 0
    end = datetime.now(timezone.utc) + timedelta(seconds=5)
    from_kafka = tmp_path / "from-kafka.jsonl"
    assert main(["replay", "--from-kafka", "--start", _iso(start), "--end", _iso(end), "--out", str(from_kafka)]) == 0

    def alerts(path):
        return sorted(orjson.loads(line)["alert_id"] for line in path.read_bytes().splitlines())

    assert alerts(from_kafka) == alerts(from_file) and alerts(from_file)

    # keys follow the worker's convention on both topics
    n_events = len(events.read_bytes().splitlines())
    messages = _consume(kafka_bootstrap, topics["payments"], n_events) + _consume(kafka_bootstrap, topics["account_events"], n_events)
    assert len(messages) == n_events
    for message in messages[:2000]:
        assert message.key.decode() == partition_key(parse_event(message.value))

    # a window before anything was produced holds nothing
    empty = tmp_path / "empty.jsonl"
    early = start - timedelta(hours=2)
    assert main(["replay", "--from-kafka", "--start", _iso(early), "--end", _iso(early + timedelta(hours=1)),
                 "--out", str(empty)]) == 0
    assert empty.read_bytes() == b""


def test_alerts_to_the_alert_topic_and_events_republished(tmp_path, topics, kafka_bootstrap, fake_detectors):
    events = tmp_path / "events.jsonl.gz"
    assert main(["simulate", *SIM, "--out", str(events)]) == 0
    out = tmp_path / "alerts.jsonl"
    assert main(["replay", str(events), "--out", str(out), "--to-kafka"]) == 0
    expected = out.read_bytes().splitlines()
    published = _consume(kafka_bootstrap, topics["alerts"], len(expected))
    assert sorted(m.value for m in published) == sorted(expected)
    assert all(m.key.decode() == orjson.loads(m.value)["account_id"] for m in published)

    plain = tmp_path / "plain.jsonl"
    assert main(["simulate", *SIM, "--out", str(plain)]) == 0
    assert main(["replay", str(plain), "--republish", "--rejects", str(tmp_path / "r.jsonl")]) == 0
    lines = plain.read_bytes().splitlines()
    payments = [l for l in lines if b'"type":"payment"' in l]
    got_payments = _consume(kafka_bootstrap, topics["payments"], len(payments))
    got_accounts = _consume(kafka_bootstrap, topics["account_events"], len(lines) - len(payments))
    assert sorted(m.value for m in got_payments) == sorted(payments)
    assert len(got_accounts) == len(lines) - len(payments)
    assert all(m.key.decode() == partition_key(parse_event(m.value)) for m in got_payments[:1000] + got_accounts[:1000])
