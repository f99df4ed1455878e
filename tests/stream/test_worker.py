"""The worker against the real broker: alerts out, bad input to the DLQ, same answers as offline.

Crashes, broker restarts, rebalances and hostile input are in ``tests/faults``.

Each test runs real ``mulewatch worker`` processes on its own topics and reads what they publish with
a plain kafka-python consumer, as a case-management system would.
"""

from __future__ import annotations

import subprocess
import time

import orjson
import pytest

from kafka import KafkaAdminClient

from schemas import ALERT_SCHEMA_VERSION
from tests.faults.harness import assert_same_alerts, covers, read_topic
from tests.stream.worker_harness import MULEWATCH, Deployment, alert_versions, route_line

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

BAD_MESSAGES = [
    b"\xff\xfe\x00garbage",
    b'{"type": "payment", "event_id": ',
    b'{"type": "teleport", "event_id": "x-1"}',
    b'{"type": "payment", "event_id": "bad-amount", "event_time": "2026-01-02T00:00:00Z", "debtor": {"account_id": "A"},'
    b' "creditor": {"account_id": "B"}, "amount": "-5", "currency": "CNY", "channel": "mobile", "method": "transfer"}',
    b"[1, 2, 3]",
    b"",
]


@pytest.fixture
def deployment(kafka_bootstrap, tmp_path, unique_name):
    deployment = Deployment(kafka_bootstrap, tmp_path, unique_name("mw"))
    yield deployment
    deployment.stop_all()


def wait_for_group(deployment: Deployment, seconds: float = 60) -> None:
    """Block until every worker's topics exist, so produced events are not lost to a missing topic."""
    deadline = time.monotonic() + seconds
    admin = KafkaAdminClient(bootstrap_servers=deployment.bootstrap)
    try:
        while time.monotonic() < deadline:
            topics = set(admin.list_topics())
            if {deployment.topic("payments"), deployment.topic("alerts"), deployment.topic("dlq")} <= topics:
                return
            time.sleep(0.5)
    finally:
        admin.close()
    raise AssertionError("worker did not create its topics:\n" + deployment.workers[0].log()[-3000:])


def test_worker_publishes_the_offline_alerts_and_dead_letters_bad_input(deployment, bank):
    lines, expected = bank
    worker = deployment.start_worker()
    wait_for_group(deployment)
    spots = {len(lines) * (k + 1) // (len(BAD_MESSAGES) + 1): bad for k, bad in enumerate(BAD_MESSAGES)}
    messages = []
    for i, line in enumerate(lines):
        messages.append(route_line(line))
        if i in spots:
            messages.append(("account_events", b"k", spots[i]))
    started = time.monotonic()
    deployment.produce_raw(messages)
    alerts = read_topic(deployment.bootstrap, deployment.topic("alerts"), until=covers(expected), settle_s=5,
                        idle_s=25, max_s=240)
    elapsed = time.monotonic() - started
    published = alert_versions(alerts)
    assert worker.process.poll() is None, worker.log()[-3000:]
    assert_same_alerts(published, expected)
    for record in alerts:
        headers = dict(record.headers)
        assert headers["schema-version"] == ALERT_SCHEMA_VERSION.encode()
        assert headers["content-type"] == b"application/json"
        assert record.key == orjson.loads(record.value)["account_id"].encode()
    letters = deployment.read("dlq", expect=len(BAD_MESSAGES), max_s=60)
    assert sorted(r.value for r in letters) == sorted(BAD_MESSAGES)
    reasons = {dict(r.headers)["mulewatch-reason"] for r in letters}
    assert reasons == {b"undecodable", b"invalid_json", b"unknown_type", b"schema_violation", b"not_an_object", b"empty"}
    print(f"\nworker e2e: {len(lines)} events in {elapsed:.1f}s incl. start-up -> {len(lines) / elapsed:.0f} events/s")


def test_two_workers_split_partitions_and_publish_the_same_alerts(deployment, bank):
    lines, expected = bank
    deployment.start_worker(0)
    deployment.start_worker(1)
    wait_for_group(deployment)
    time.sleep(5)
    deployment.produce_events(lines)
    published = alert_versions(read_topic(deployment.bootstrap, deployment.topic("alerts"), until=covers(expected),
                                          settle_s=5, idle_s=25, max_s=240))
    assert_same_alerts(published, expected)
    logs = [w.log() for w in deployment.workers]
    assert all(w.process.poll() is None for w in deployment.workers), logs


def test_worker_exits_with_one_line_error_when_broker_unreachable(tmp_path):
    result = subprocess.run(
        [MULEWATCH, "worker", "--broker", "kafka://127.0.0.1:1", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 3
    assert result.stderr.strip().count("\n") == 0
    assert "cannot reach Kafka at kafka://127.0.0.1:1" in result.stderr


def test_worker_exits_with_one_line_error_on_bad_config(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("no_such_section = 1\n")
    result = subprocess.run(
        [MULEWATCH, "worker", "--config", str(bad), "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr and "no_such_section" in result.stderr
