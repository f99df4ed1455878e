"""The worker's own metrics: bounded labels, and a warning once per currency without a rate."""

from __future__ import annotations

import logging

from stream.metrics import Metrics


def test_unvalued_payments_are_counted_by_iso_code_and_warned_once(caplog):
    metrics = Metrics()
    with caplog.at_level(logging.WARNING, logger="stream.metrics"):
        for currency in ("XOF", "XOF", "ZZZ", "QQQ", "XOF"):
            metrics.payment_unvalued(currency)
    value = metrics.registry.get_sample_value
    assert value("mulewatch_unvalued_payments_total", {"currency": "XOF"}) == 3
    # Codes outside ISO 4217 share one series: a producer cannot grow the label set without end.
    assert value("mulewatch_unvalued_payments_total", {"currency": "other"}) == 2
    assert value("mulewatch_unvalued_payments_total", {"currency": "ZZZ"}) is None
    warnings = [r.getMessage() for r in caplog.records if "no rate" in r.getMessage()]
    assert len(warnings) == 2 and "XOF" in warnings[0] and "other" in warnings[1]
