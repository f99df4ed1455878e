"""Dormant reactivation: long silence, then flows out of proportion to the account's history."""

from __future__ import annotations

from bisect import bisect_left

from detectors.account_state import AMOUNT, DAYS_PER_PERIOD, EVENT_ID, OUTGOING, TIME, AccountState
from detectors.config_types import Count, Money, RuleConfig, WeightFactor
from detectors.eventtime import MS_PER_DAY
from detectors.money import Money as Converter
from detectors.rules.base import HIGH, NORMAL, Finding, Rule

HISTORY_PERIODS = 12  # the "prior monthly average" looks at most a year back


class DormantReactivationConfig(RuleConfig):
    idle_days: Count
    #: How many days after the first payment that ends the silence inflows still count as reactivation.
    reactivation_days: Count
    inflow_multiple: float
    #: Floor: with no history any inflow above it fires; with history the need is never below it.
    min_inflow: Money
    #: Strong form: the account never received money before it went quiet (no monthly average to
    #: compare with), so the reactivation inflow is out of all proportion. A holder coming back to an
    #: account that once had a salary stays normal.
    high_weight_factor: WeightFactor


class DormantReactivation(Rule):
    """Fires on an inflow in the days after a silence of at least ``idle_days`` when the inflow since
    the silence ended reaches ``inflow_multiple`` x the prior monthly average (and the floor)."""

    rule_id = "dormant_reactivation"
    on_inflow = True

    def __init__(self, config: DormantReactivationConfig, runtime) -> None:
        super().__init__(runtime)
        self.idle = config.idle_days
        self.reactivation = config.reactivation_days
        self.multiple = config.inflow_multiple
        self.floor = Converter.threshold(config.min_inflow)
        self.high_weight_factor = config.high_weight_factor
        self.days_needed = self.idle + self.reactivation + 2
        self.periods_needed = HISTORY_PERIODS + (self.idle + self.reactivation) // DAYS_PER_PERIOD + 2
        self.ledger_needed = MS_PER_DAY

    def evaluate(self, state: AccountState, anchor: tuple, end: int) -> Finding | None:
        now = anchor[TIME]
        today = now // MS_PER_DAY
        active = state.active_days
        first = bisect_left(active, today - self.reactivation)
        resumed = active[first]  # the anchor's own day is active, so this exists
        previous = active[first - 1] if first else None
        if previous is not None:
            if resumed - previous <= self.idle:
                return None
            history_end = previous
        else:
            if state.opened_at is None or state.opened_at > (resumed - self.idle) * MS_PER_DAY:
                return None  # too young or unknown age: not dormancy (new-account rule covers it)
            history_end = resumed - self.idle
        average = self._monthly_average(state, history_end // DAYS_PER_PERIOD)
        need = max(self.floor, self.multiple * average * 100)
        inflow = sum(state.days[d][0] for d in active[first:] if d < today) * 100
        ids = []
        ledger = state.ledger
        for i in range(state.window(today * MS_PER_DAY, end), end):
            if not ledger[i][OUTGOING]:
                inflow += ledger[i][AMOUNT]
                ids.append(ledger[i][EVENT_ID])
        if inflow < need:
            return None
        history = "no payments before" if average == 0 else f"{self.money.describe(round(average * 100), state.currency)}/month before"
        idle = resumed - previous if previous is not None else f"{self.idle}+"
        reason = (
            f"idle {idle} days ({history}), then {self.money.describe(inflow, state.currency)} received"
            f" since it resumed"
        )
        return (HIGH if average == 0 else NORMAL, reason, self.evidence(ids))

    @staticmethod
    def _monthly_average(state: AccountState, last_period: int) -> float:
        periods = [p for p in state.months if last_period - HISTORY_PERIODS < p <= last_period]
        if not periods:
            return 0.0
        span = last_period - min(periods) + 1
        return sum(state.months[p] for p in periods) / span
