"""Hostile input: 10,000 generated bad messages mixed into the valid stream of the simulated bank.

Every bad message must land in the dead-letter topic, byte for byte, with a reason header; every
valid event must be processed (the alert set equals the offline engine's); the worker must not crash
and its memory must stay flat. Re-sent event ids with different content are valid events: the first
one wins (the detectors dedupe by event id), so they are neither dead letters nor new alerts.
"""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest

from stream.decoding import Rejection, decode_event
from tests.faults.harness import (
    RssSampler,
    alert_versions,
    assert_same_alerts,
    covers,
    offline_alerts,
    read_topic,
    wait_ready,
)
from tests.faults.hostile import bad_corpus, duplicates
from tests.stream.worker_harness import route_line

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

REASONS = {b"empty", b"oversize", b"undecodable", b"invalid_json", b"not_an_object", b"unknown_type",
           b"schema_violation"}
MAX_GROWTH_MB = 50
CHUNKS = 4


def test_hostile_corpus_is_dead_lettered_and_valid_events_still_processed(deployment, bank):
    lines, expected = bank
    corpus = bad_corpus(lines)
    assert len(corpus) >= 10_000
    resends = duplicates(lines)

    # Offline first: no "bad" message may pass the edge validation, and none may make it raise.
    offline_reason: dict[bytes, bytes] = {}
    for category, value in corpus:
        result = decode_event(value, 1_000_000)
        assert isinstance(result, Rejection), f"{category} message passes validation: {value[:200]!r}"
        offline_reason[value] = result.reason.value.encode()

    # Documented behaviour for re-sent ids: first wins, so the offline answer does not change.
    valid_stream = []
    for i, line in enumerate(lines):
        valid_stream.append(line)
        if i in resends:
            valid_stream.append(resends[i])
    assert offline_alerts(valid_stream) == expected, "a re-sent event id must not change the alerts"

    rng = random.Random(5)
    messages = [route_line(line) for line in valid_stream]
    for category, value in corpus:
        kind = rng.choice(["payments", "account_events"])
        key = rng.choice([None, rng.randbytes(8), b"A00000001", "A\u200b1".encode()])
        messages.insert(rng.randrange(len(messages) + 1), (kind, key, value))

    worker = deployment.start_worker(0)
    wait_ready(worker.web_port)
    sampler = RssSampler(worker.process.pid).start()
    started = time.monotonic()
    try:
        step = len(messages) // CHUNKS + 1
        warm_up_done = None
        for n in range(CHUNKS):
            deployment.produce_raw(messages[n * step:(n + 1) * step])
            if n == 0:
                time.sleep(5)
                warm_up_done = time.monotonic()
        alerts = read_topic(deployment.bootstrap, deployment.topic("alerts"), until=covers(expected),
                            settle_s=5, idle_s=30, max_s=180)
        letters = read_topic(deployment.bootstrap, deployment.topic("dlq"),
                             until=lambda records: len(records) >= len(corpus), settle_s=3, idle_s=20, max_s=120)
    finally:
        sampler.stop()
    elapsed = time.monotonic() - started

    warm = sampler.rss_mb(since=warm_up_done)
    baseline = warm[0] if warm else float("nan")
    growth = max(warm) - baseline if warm else float("nan")
    published = alert_versions(alerts)
    bad_values = Counter(value for _, value in corpus)
    lettered = Counter(r.value for r in letters)
    print(f"\nhostile: {len(corpus)} bad + {len(valid_stream)} valid ({len(resends)} re-sent ids) in {elapsed:.0f}s; "
          f"{len(letters)} dead letters, {len(published)} alert versions (offline {len(expected)}); "
          f"RSS after warm-up {baseline:.0f} MB -> max {max(warm, default=0):.0f} MB (growth {growth:.1f} MB)")

    assert worker.process.poll() is None, "worker crashed:\n" + worker.log()[-3000:]
    assert "Traceback" not in worker.log(), "worker logged a traceback:\n" + worker.log()[-3000:]
    missing = bad_values - lettered
    assert not missing, (f"{sum(missing.values())} bad messages not dead-lettered, e.g. "
                         f"{[v[:100] for v in list(missing)[:5]]}")
    inputs = set(valid_stream)
    lettered_inputs = [r.value[:100] for r in letters if r.value in inputs]
    assert not lettered_inputs, f"valid events (or re-sent ids) were dead-lettered: {lettered_inputs[:5]}"
    # The worker also dead-letters internal messages it finds too old (e.g. a cross-account hit about
    # back-dated history) with reason "late"; they are neither input nor lost alerts (the offline engine
    # drops them too), but they must say so.
    internal = [r for r in letters if r.value not in bad_values and r.value not in inputs]
    assert all(dict(r.headers).get("mulewatch-reason") == b"late" for r in internal), [r.value[:100] for r in internal]
    print(f"hostile: {len(internal)} internal messages dead-lettered as late, e.g. {[r.value[:80] for r in internal[:2]]}")
    for record in letters:
        reason = dict(record.headers).get("mulewatch-reason")
        assert reason in REASONS | {b"late"}, f"dead letter without a known reason header: {record.headers}"
        if record.value in offline_reason:
            assert reason == offline_reason[record.value]
    assert growth < MAX_GROWTH_MB, f"worker RSS grew {growth:.0f} MB after warm-up"
    assert_same_alerts(published, expected)
