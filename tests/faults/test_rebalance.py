"""Rebalance: a second worker joins mid-stream and later leaves (SIGTERM); nothing is lost.

Account and identifier state lives in RocksDB tables backed by changelog topics. When partitions move
to the new worker, it must rebuild their state from the changelog (it starts with an empty data
dir); when it leaves, the first worker must take them back with the state the second one wrote. The
alert set can only equal the offline one if the state followed the partitions both ways.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.faults.harness import alert_versions, assert_exact_repeats, assert_same_alerts, covers, read_topic, wait_ready

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _assigned(log: str) -> list[str]:
    """Lines of Faust's assignment tables that give the worker account-state changelog partitions."""
    return [line for line in log.splitlines()
            if "account-state-changelog" in line and re.search(r"\{[\d,\- ]+\}", line)]


def _restored_highwaters(log: str) -> list[int]:
    """Highwaters of the account-state changelog partitions Faust reports before recovering them."""
    return [int(m.group(1)) for m in re.finditer(r"account-state-changelog\s*\|\s*\d+\s*\|\s*(-?\d+)\s*\|", log)]


def test_worker_joins_and_leaves_mid_stream(deployment, bank):
    lines, expected = bank
    thirds = [0, len(lines) // 3, 2 * len(lines) // 3, len(lines)]

    first = deployment.start_worker(0)
    wait_ready(first.web_port)
    deployment.produce_events(lines[thirds[0]:thirds[1]])
    time.sleep(3)

    second = deployment.start_worker(1)  # own, empty data dir: its state can only come from the changelog
    deployment.produce_events(lines[thirds[1]:thirds[2]])
    wait_ready(second.web_port)
    time.sleep(6)
    joined_log = second.log()

    left_at = time.monotonic()
    exit_code = second.stop(timeout=30)  # SIGTERM: a graceful leave (30 s: Kubernetes' default grace period)
    leave_s = time.monotonic() - left_at
    deployment.produce_events(lines[thirds[2]:])

    records = read_topic(deployment.bootstrap, deployment.topic("alerts"), until=covers(expected),
                         settle_s=5, idle_s=30, max_s=150)
    published = alert_versions(records)
    print(f"\nrebalance: {len(records)} alert records, {len(published)} distinct versions (offline {len(expected)})")
    print("second worker's changelog assignments:\n" + "\n".join(_assigned(joined_log)[:6]))
    assert first.process.poll() is None, first.log()[-3000:]
    assert _assigned(joined_log), "the second worker never got a share of the account-state changelog"
    assert max(_restored_highwaters(joined_log), default=-1) >= 0, "the second worker restored no account state"
    assert_exact_repeats(records)
    assert_same_alerts(published, expected)
    assert exit_code == 0, (f"SIGTERM did not stop the second worker within 30 s (exit {exit_code} after "
                            f"{leave_s:.0f}s):\n" + second.log()[-2000:])
