"""Slow fan-in and fan-out: many new senders or beneficiaries over days and weeks, for this account.

Laundering patterns move a transfer a day for two weeks; windows of hours see fragments of them. These
rules count the counterparties new to the account over 7 and 30 days and compare the count with what
the account's own history gives in as long (its rate of new counterparties over the months before):
a shop, a landlord or a club's treasurer meets new payers every week and stays at its own rate; an
account that met one new counterparty a month and now meets eight in a week does not. Counts need no
currency and scale with the account, not the bank.
"""

from __future__ import annotations

from bisect import bisect_left
from math import ceil
from typing import Annotated

from pydantic import Field, model_validator

from detectors.account_state import COUNTERPARTY, EVENT_ID, OUTGOING, SALE, TIME, AccountState
from detectors.config_types import Count, RuleConfig, WeightFactor
from detectors.eventtime import MS_PER_DAY
from detectors.rules.base import HIGH, NORMAL, Finding, Rule


class SlowFanConfig(RuleConfig):
    #: Windows looked at (days, ending with the anchor's day), each with its least count of new
    #: counterparties (``min_new``, same order).
    windows_days: Annotated[list[int], Field(min_length=1, max_length=4)]
    min_new: Annotated[list[Count], Field(min_length=1, max_length=4)]
    #: The count must also reach this many times what the account's own rate of new counterparties
    #: (per day with payments, over ``baseline_days`` before the window) gives for the days with
    #: payments in the window.
    baseline_multiple: Annotated[float, Field(ge=1, le=100)]
    baseline_days: Count
    #: Silent until the account's history before the window has this many days with payments:
    #: without a history every counterparty looks new (a new deployment's first weeks). Counting days
    #: with payments, not days since the first event, keeps a feed's thin back-dated history (an
    #: opening years ago, a payment last quarter) from passing for a baseline.
    warmup_days: Count
    #: Strong form from this many times the count needed.
    high_multiple: Annotated[float, Field(ge=1, le=100)]
    high_weight_factor: WeightFactor

    @model_validator(mode="after")
    def _one_minimum_per_window(self) -> SlowFanConfig:
        if len(self.min_new) != len(self.windows_days):
            raise ValueError("min_new needs one count per entry of windows_days")
        return self


class _SlowFan(Rule):
    """Fires on a payment in its direction when, in one of the windows ending that day, the count
    of counterparties new to the account in that role reaches the window's minimum and the multiple
    of the account's own rate."""

    outgoing = False
    noun = ""
    index = 0  # the day bucket's count of new counterparties in this role

    def __init__(self, config: SlowFanConfig, runtime) -> None:
        super().__init__(runtime)
        self.windows = list(zip(config.windows_days, config.min_new))
        self.shortest = min(config.windows_days)
        self.multiple = config.baseline_multiple
        self.baseline_days = config.baseline_days
        self.warmup = config.warmup_days
        self.high_multiple = config.high_multiple
        self.high_weight_factor = config.high_weight_factor
        self.days_needed = max(config.windows_days) + config.baseline_days + 1

    def evaluate(self, state: AccountState, anchor: tuple, end: int) -> Finding | None:
        if anchor[SALE] or anchor[OUTGOING] is not self.outgoing:
            return None
        seen = state.counterparties.get(anchor[COUNTERPARTY])
        if seen is None or seen[0] != anchor[TIME]:
            return None  # only a counterparty met for the first time can raise the count
        today = anchor[TIME] // MS_PER_DAY
        if bisect_left(state.active_days, today - self.shortest + 1) < self.warmup:
            return None  # the warm-up: not even the shortest window has its days with payments before it
        histories = self._histories(state, today)
        best = None
        for (window, minimum), (history, active_before) in zip(self.windows, histories):
            if active_before < self.warmup:
                continue
            count, active = state.day_totals(today - window + 1, today, self.index)
            count += state.new_counterparties(today, self.outgoing, anchor[TIME], end)
            if count < minimum:
                continue
            expected = history * (active + 1) / active_before
            needed = max(minimum, ceil(self.multiple * expected))
            if count >= needed and (best is None or count / needed > best[0] / best[1]):
                best = (count, needed, window, expected)
        if best is None:
            return None
        count, needed, window, expected = best
        ledger = state.ledger
        since = (today - window + 1) * MS_PER_DAY
        known = state.counterparties
        ids = [e[EVENT_ID] for e in ledger[state.window(since, end):end]
               if e[OUTGOING] is self.outgoing and known.get(e[COUNTERPARTY], (0,))[0] >= since]
        reason = (
            f"{count} new {self.noun} within {window} days against about {expected:.1f} the account's own"
            f" history gives for as many days with payments"
        )
        return (HIGH if count >= self.high_multiple * needed else NORMAL, reason, self.evidence(ids or [anchor[EVENT_ID]]))


    def _histories(self, state: AccountState, today: int) -> list[tuple[int, int]]:
        """Per window: new counterparties in the account's history before it, and its days with
        payments there. Cached for the day: days before a window are past the lateness."""
        key = (self.rule_id, today)
        cached = state.baseline_cache.get(key)
        if cached is None:
            index = self.index
            cached = []
            for window, _ in self.windows:
                first = today - window + 1
                cached.append(state.day_totals(first - self.baseline_days, first, index))
            state.cache_baseline(key, cached)
        return cached


class SlowFanIn(_SlowFan):
    rule_id = "slow_fan_in"
    on_inflow = True
    noun = "senders"
    index = 2


class SlowFanOut(_SlowFan):
    rule_id = "slow_fan_out"
    on_outflow = True
    outgoing = True
    noun = "beneficiaries"
    index = 3
