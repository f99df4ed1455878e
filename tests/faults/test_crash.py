"""No alert lost on crash: SIGKILL the worker at three points of one stream, restart it each time.

The worker keeps its data dir across restarts (as a pod with a persistent volume would). What it
publishes, over all its lives, must hold exactly the (alert_id, version) set the offline engine
raises on the same events; a repeat is allowed only as a byte-identical copy.
"""

from __future__ import annotations

import time

import pytest

from tests.faults.harness import alert_versions, assert_exact_repeats, assert_same_alerts, covers, read_topic, wait_ready

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

KILL_AT = (0.25, 0.50, 0.75)
PROCESS_S = 4  # seconds of processing before each kill


def test_sigkill_at_three_points_loses_no_alert(deployment, bank):
    lines, expected = bank
    cuts = [0, *(int(len(lines) * f) for f in KILL_AT), len(lines)]
    alerts_topic = deployment.topic("alerts")
    timeline = []
    started = time.monotonic()

    worker = deployment.start_worker(0)
    for part, (lo, hi) in enumerate(zip(cuts, cuts[1:])):
        ready_s = wait_ready(worker.web_port)
        deployment.produce_events(lines[lo:hi])
        if hi == len(lines):
            break
        time.sleep(PROCESS_S)
        assert worker.process.poll() is None, worker.log()[-3000:]
        worker.kill()  # SIGKILL: no flush, no commit, no changelog write-out
        published_so_far = len(alert_versions(read_topic(deployment.bootstrap, alerts_topic, idle_s=1, max_s=10)))
        timeline.append(f"life {part}: ready after {ready_s:.1f}s, events {lo}..{hi}, "
                        f"{published_so_far} alert versions published when killed")
        worker = deployment.start_worker(0)  # same data dir: data-0

    records = read_topic(deployment.bootstrap, alerts_topic, until=covers(expected), settle_s=5, idle_s=25, max_s=150)
    elapsed = time.monotonic() - started
    published = alert_versions(records)
    print("\n" + "\n".join(timeline))
    print(f"crash test: {len(records)} alert records, {len(published)} distinct versions "
          f"(offline {len(expected)}) in {elapsed:.0f}s")
    assert worker.process.poll() is None, worker.log()[-3000:]
    repeats = assert_exact_repeats(records)
    print(f"crash test: {repeats} exact repeats after the kills")
    assert_same_alerts(published, expected)
