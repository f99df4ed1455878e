"""The default detector config finds every injected typology on a small simulated bank.

This is the backtest an analyst runs before a deployment, in miniature: simulate, replay through
the same engine the worker runs, evaluate against the labels.
"""

from __future__ import annotations

import pytest

from stream.cli import main
from stream.backtest.evaluation.alert_view import read_alerts
from stream.backtest.evaluation.metrics import evaluate, read_labels
from schemas import Typology


@pytest.fixture(scope="module")
def backtest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("backtest")
    events, labels, alerts = folder / "events.jsonl", folder / "labels.csv", folder / "alerts.jsonl"
    # Covers the rent/lend/sell typologies only: today's detectors do not trace the laundering patterns
    # (fan-in, cycle, stack ...) the simulator now plants by default, so they are left out until the
    # detector redesign lands and this test can take the default bank.
    assert main(["simulate", "--accounts", "2500", "--days", "30", "--seed", "5", "--out", str(events),
                 "--labels", str(labels), "--laundering-share", "0"]) == 0
    assert main(["replay", str(events), "--out", str(alerts)]) == 0
    found, _, _ = read_alerts(alerts)
    return evaluate(read_labels(labels), found, days=30)


#: The simulator's rent/lend/sell labels use the alerts' own words; laundering_pattern alerts answer
#: its laundering labels (fan_in, cycle, ...), which have words of their own.
MISUSE_TYPOLOGIES = [t for t in Typology if t is not Typology.LAUNDERING_PATTERN]


def test_every_typology_is_injected_and_detected(backtest):
    rows = {row.name: row for row in backtest.recall_by_label}  # the simulator labels in the alerts' words
    for typology in MISUSE_TYPOLOGIES:
        row = rows[typology.value]
        assert row.mules > 0, f"{typology.value} was not injected"
        assert row.detected / row.mules >= 0.75, f"{typology.value}: {row.detected} of {row.mules} detected"


def test_overall_recall_and_precision_hold_on_the_small_bank(backtest):
    assert backtest.all_alerts.recall >= 0.9
    assert backtest.all_alerts.precision >= 0.8
