"""Analysts' decisions through the real broker: the worker applies them exactly as replay does from a
file, refuses bad ones to the dead-letter topic, and a crash right after a decision loses nothing.

The bank is the shared small simulated one, with the decisions an analyst following its labels makes
four days after each new case (``mulewatch simulate --dispositions``). Its decisions change what is
published (held-back repeats, alerts from a confirmed mule's money), so a decision lost or applied
at another point would show as a missing or extra alert version. Events and decisions go to their
topics in time order, paced as a live bank's do.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from detectors import Engine, load_config
from schemas import parse_event
from stream.partitioning import account_partitioner
from stream.replay import Item, read_dispositions, read_files, Summary, with_dispositions
from tests.faults.harness import alert_versions, assert_exact_repeats, assert_same_alerts, covers, read_topic, wait_ready
from tests.stream.worker_harness import MULEWATCH, route_line

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PARTITIONS = 4  # Deployment's default
#: An analyst decides four days after a case is out. Fed at full speed, a verdict from other
#: partitions can reach an account days of event time late (the case is not out yet when the
#: decision is); the feed is paced (20 days in 80 s: 6 h a second) so that it is hours, as in a live
#: bank it is seconds, and the worker may fall 16 s behind before a decision overtakes its case.
DELAY_HOURS = "96"
FEED_S = 80


@pytest.fixture(scope="module")
def decided_bank(tmp_path_factory):
    """(event lines, decision lines, alert versions replay raises with the decisions)."""
    folder = tmp_path_factory.mktemp("decided-bank")
    events, decisions = folder / "events.jsonl", folder / "decisions.jsonl"
    subprocess.run([MULEWATCH, "simulate", "--accounts", "300", "--days", "20", "--seed", "11", "--out", str(events),
                    "--labels", str(folder / "labels.csv"), "--dispositions", str(decisions),
                    "--decision-delay-hours", DELAY_HOURS], check=True, capture_output=True,
                   env={**os.environ, "MULEWATCH_PARTITIONS": str(PARTITIONS)})
    # Decisions after the bank's last event would reach the worker at once (nothing paces them): a
    # decision on a case raised by another decision's hits could then overtake it. Those go.
    lines = events.read_bytes().splitlines()
    end = when(event_time(lines[-1]))
    chosen = [d for d in decisions.read_bytes().splitlines() if when(decided_at(d)) <= end]
    decisions.write_bytes(b"".join(d + b"\n" for d in chosen))
    with_decisions = offline(events, decisions)
    without = offline(events, None)
    assert with_decisions != without, "guard: the decisions change what is published"
    return lines, chosen, with_decisions


def offline(events: Path, decisions: Path | None) -> set[tuple[str, int]]:
    """What ``mulewatch replay [--dispositions]`` raises, with the deployment's partitions."""
    engine = Engine(load_config(), partition_of=account_partitioner(PARTITIONS))
    summary = Summary()
    items = (i for i in read_files([events], 10**6, summary) if isinstance(i, Item))
    merged = with_dispositions(items, read_dispositions(decisions, 10**6, summary)[0]) if decisions else items
    return {(a.alert_id, a.version) for item in merged for a in engine.process(item.event)}


def decision_message(line: bytes) -> tuple[str, bytes, bytes]:
    return "dispositions", orjson.loads(line)["account_id"].encode(), line


def decided_at(line: bytes) -> str:
    return orjson.loads(line)["decided_at"]


def event_time(line: bytes) -> str:
    return orjson.loads(line)["event_time"]


def decisions_applied(web_port: int) -> float:
    """The worker's count of decisions applied, from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=5) as page:
        text = page.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("mulewatch_dispositions_total{"))


def merged(lines: list[bytes], decisions: list[bytes]) -> list[tuple[str, bytes, bytes]]:
    """Events and decisions as one feed in time order, each decision after the events of its time:
    what a live bank's topics hold when history is replayed into them at once."""
    feed, pending = [], list(decisions)
    for line in lines:
        while pending and when(decided_at(pending[0])) < when(event_time(line)):
            feed.append(decision_message(pending.pop(0)))
        feed.append(route_line(line))
    return feed + [decision_message(d) for d in pending]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def feed(deployment, messages: list, seconds: float, between=None) -> None:
    """Send ``messages`` in order over about ``seconds``, as a live bank's topics fill: a slice every
    0.4 s, well within the 2 s after which the worker stops waiting for a quiet input partition
    (longer pauses would let a partition's next burst arrive behind the others'). ``between`` is
    called after each slice (it may restart the worker; the feed waits for it)."""
    slices = int(seconds / 0.4)
    step = -(-len(messages) // slices)
    producer = KafkaProducer(bootstrap_servers=deployment.bootstrap, acks="all", linger_ms=5)
    try:
        for start in range(0, len(messages), step):
            for kind, key, value in messages[start:start + step]:
                producer.send(deployment.topic(kind), key=key, value=value)
            producer.flush()
            if between is not None:
                between()
            time.sleep(0.4)
    finally:
        producer.close()


def test_worker_applies_decisions_as_replay_does_through_a_crash_and_dead_letters_bad_ones(deployment, decided_bank):
    """Fed as a live bank's topics fill; SIGKILLed as soon as it has applied half of the decisions
    (before it writes what came next) and restarted on the same data dir; then a decision on an
    unknown alert and a broken one. Exactly replay's alerts, and the two refused with their reason."""
    lines, decisions, expected = decided_bank
    workers = [deployment.start_worker(0)]
    wait_ready(workers[0].web_port)

    def crash_once() -> None:
        worker = workers[-1]
        if len(workers) > 1 or decisions_applied(worker.web_port) < len(decisions) // 2:
            return
        worker.kill()
        workers.append(deployment.start_worker(0))
        wait_ready(workers[-1].web_port)

    first = orjson.loads(decisions[0])
    unknown = orjson.dumps({**first, "alert_id": "0" * 32})
    invalid = orjson.dumps({**first, "decision": "probably_fine"})
    feed(deployment, [*merged(lines, decisions), decision_message(unknown), decision_message(invalid)], FEED_S,
         between=crash_once)
    assert len(workers) == 2, "guard: the worker was killed mid-way"
    records = read_topic(deployment.bootstrap, deployment.topic("alerts"), until=covers(expected), settle_s=5,
                         idle_s=25, max_s=240)
    worker = workers[-1]
    assert worker.process.poll() is None, worker.log()[-3000:]
    # Only the two bad decisions are refused. (After the restart the worker re-reads what it had not
    # committed; an event of that backlog may come too late for its account and be dead-lettered as
    # late, as in every crash: the alerts below are judged all the same.)
    def refused(records: list) -> list:
        return [r for r in records if dict(r.headers)["mulewatch-reason"] != b"late"]

    letters = refused(read_topic(deployment.bootstrap, deployment.topic("dlq"), until=lambda r: len(refused(r)) >= 2,
                                 settle_s=3, max_s=60))
    reasons = {dict(r.headers)["mulewatch-reason"]: r.value for r in letters}
    assert len(letters) == 2 and set(reasons) == {b"unknown_alert", b"schema_violation"}, \
        f"a decision overtook its case (the worker fell behind): {[(dict(r.headers), r.value) for r in letters]}"
    assert reasons[b"schema_violation"] == invalid
    refused = orjson.loads(reasons[b"unknown_alert"])  # the decision itself, every field, to fix and re-send
    assert refused["alert_id"] == "0" * 32 and refused["account_id"] == first["account_id"]
    assert_exact_repeats(records)
    assert_same_alerts(alert_versions(records), expected)
