"""Broker restart: the broker goes away for several seconds while the worker runs, then comes back.

The worker must ride it out on its own (same process, no restart) and lose nothing. The test owns
its broker (``private_broker``): stopping the shared one would break every other test.
"""

from __future__ import annotations

import time

import pytest

from tests.faults.harness import alert_versions, assert_exact_repeats, assert_same_alerts, covers, read_topic, wait_ready
from tests.stream.worker_harness import Deployment

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

DOWN_S = 8


def test_worker_rides_out_a_broker_restart(private_broker, bank, tmp_path, unique_name):
    lines, expected = bank
    deployment = Deployment(private_broker.bootstrap, tmp_path, unique_name("restart"))
    try:
        worker = deployment.start_worker(0)
        wait_ready(worker.web_port)
        half = len(lines) // 2
        deployment.produce_events(lines[:half])
        time.sleep(3)  # the broker goes down while the worker is busy with the first half

        down_at = time.monotonic()
        private_broker.stop()
        time.sleep(DOWN_S)
        assert worker.process.poll() is None, "worker died while the broker was down:\n" + worker.log()[-3000:]
        private_broker.start()
        outage = time.monotonic() - down_at

        deployment.produce_events(lines[half:])
        records = read_topic(private_broker.bootstrap, deployment.topic("alerts"), until=covers(expected),
                             settle_s=5, idle_s=30, max_s=150)
        published = alert_versions(records)
        print(f"\nbroker restart: broker unavailable for {outage:.0f}s; {len(records)} alert records, "
              f"{len(published)} distinct versions (offline {len(expected)})")
        assert worker.process.poll() is None, "worker did not survive the restart:\n" + worker.log()[-3000:]
        assert len(deployment.workers) == 1, "the worker must resume by itself"
        assert_exact_repeats(records)
        assert_same_alerts(published, expected)
    finally:
        for worker in deployment.workers:
            worker.stop(timeout=30)
