"""A forged event time blinds nobody: far-future events are dead-lettered and change no alert.

An attacker who controls one event source (a phone whose clock they set, a channel that stamps its
events on the client) sends events dated 2099 for several accounts, in both input topics, before the
history and in its middle. Each must land in the dead-letter topic as ``future_event_time``, and the
worker must publish exactly the alert versions the offline engine raises on the history without them.
"""

from __future__ import annotations

from collections import Counter

import orjson
import pytest

from tests.faults.harness import alert_versions, assert_same_alerts, covers, read_topic, wait_ready
from tests.stream.worker_harness import route_line

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

FAR_FUTURE = ("2099-06-01T00:00:00Z", "2061-01-01T12:00:00+00:00", "2030-03-01T00:00:00Z")


def forged_events(lines: list[bytes], accounts: list[str], tag: str) -> list[tuple[str, bytes, bytes]]:
    """For each account: a login and a payment to it, dated far in the future."""
    payment = next(orjson.loads(line) for line in lines if b'"type":"payment"' in line)
    messages = []
    for n, account in enumerate(accounts):
        when = FAR_FUTURE[n % len(FAR_FUTURE)]
        login = {"event_id": f"forged-{tag}-l{n}", "event_time": when, "type": "login", "account_id": account,
                 "success": True, "device_id": f"FORGED{n}"}
        pay = {**payment, "event_id": f"forged-{tag}-p{n}", "event_time": when,
               "creditor": {"account_id": account}, "amount": "10.00"}
        messages += [route_line(orjson.dumps(login)), route_line(orjson.dumps(pay))]
    return messages


def test_far_future_events_are_dead_lettered_and_change_no_alert(deployment, bank):
    lines, expected = bank
    alerted = sorted({orjson.loads(line)["account_id"] for line in lines if b'"type":"account_opened"' in line})
    accounts = alerted[:: max(1, len(alerted) // 8)][:8]  # several accounts, spread over the bank
    before, middle = forged_events(lines, accounts, "a"), forged_events(lines, accounts, "b")
    half = len(lines) // 2
    stream = [*before, *(route_line(line) for line in lines[:half]), *middle, *(route_line(line) for line in lines[half:])]
    topics = Counter(kind for kind, _, _ in [*before, *middle])
    assert topics["payments"] and topics["account_events"], "forged events must go to both input topics"

    worker = deployment.start_worker(0)
    wait_ready(worker.web_port)
    deployment.produce_raw(stream)
    alerts = read_topic(deployment.bootstrap, deployment.topic("alerts"), until=covers(expected), settle_s=5,
                        idle_s=30, max_s=180)
    forged = {value for _, _, value in [*before, *middle]}
    letters = read_topic(deployment.bootstrap, deployment.topic("dlq"), until=lambda r: len(r) >= len(forged),
                         settle_s=3, idle_s=20, max_s=60)

    assert worker.process.poll() is None, worker.log()[-3000:]
    reasons = {record.value: dict(record.headers).get("mulewatch-reason") for record in letters}
    assert {value for value in forged if reasons.get(value) == b"future_event_time"} == forged
    assert not [value for value in reasons if value not in forged], "only the forged events are dead letters"
    assert_same_alerts(alert_versions(alerts), expected)
