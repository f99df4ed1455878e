"""The dispositions an analyst who knows the labels would write: for backtesting what decisions change.

The analyst works every new case (the first version of each alert id) a fixed delay after it was
published (in event time: the time of the event that raised it), and decides by the label: ``confirmed_mule`` for a labelled mule, ``legitimate`` otherwise.
The decisions are fed back into the same engine at their time while it runs, so a later case sees the
earlier decisions (a legitimate account's repeat is held back and never reaches the analyst), exactly
as ``mulewatch replay --dispositions`` applies the file written from them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from datetime import timedelta

from detectors import Engine
from schemas import Decision, Disposition, InputEvent, ReasonCode

REASONS = {Decision.CONFIRMED_MULE: ReasonCode.MONEY_TRAIL_CONFIRMED, Decision.LEGITIMATE: ReasonCode.CUSTOMER_EXPLAINED}


def analyst_dispositions(events: Iterable[InputEvent], mules: set[str], engine: Engine, delay: timedelta,
                         on_progress: Callable[[int, int], None] | None = None) -> list[Disposition]:
    """Run ``events`` (in event-time order) through ``engine`` and decide each new case ``delay`` after
    its alert; returns the decisions in time order."""
    pending: list[tuple] = []  # (decided_at, order, disposition): a heap
    cases: set[str] = set()
    decided: list[Disposition] = []

    def consider(alerts: list, clock) -> None:
        """New cases reach the analyst when they are published: at the stream's time ``clock``
        (an alert found through money traced days later has an earlier window end)."""
        for alert in alerts:
            if alert.alert_id in cases:
                continue
            cases.add(alert.alert_id)
            decision = Decision.CONFIRMED_MULE if alert.account_id in mules else Decision.LEGITIMATE
            disposition = Disposition(alert_id=alert.alert_id, account_id=alert.account_id, version=alert.version,
                                      decision=decision, reason_code=REASONS[decision],
                                      decided_at=max(alert.window_end, clock) + delay)
            heapq.heappush(pending, (disposition.decided_at, len(cases), disposition))

    def decide_until(time) -> None:
        while pending and (time is None or pending[0][0] < time):
            disposition = heapq.heappop(pending)[2]
            decided.append(disposition)
            consider(engine.process(disposition), disposition.decided_at)  # its counterparties may alert now

    for count, event in enumerate(events, start=1):
        decide_until(event.event_time)
        consider(engine.process(event), event.event_time)
        if on_progress is not None and count % 5000 == 0:
            on_progress(5000, 0)
    decide_until(None)
    return decided
