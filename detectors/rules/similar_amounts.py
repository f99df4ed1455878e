"""Similar amounts / structuring: many near-identical transfers, or amounts just under a threshold."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from detectors.account_state import AMOUNT, EVENT_ID, OUTGOING, SALE, TIME, AccountState
from detectors.config_types import Count, Fraction, Hours, Money, RuleConfig
from detectors.eventtime import describe_duration, hours
from detectors.money import Money as Converter
from detectors.rules.base import NORMAL, Finding, Rule


class SimilarAmountsConfig(RuleConfig):
    window_hours: Hours
    min_count: Count
    tolerance: Fraction
    min_amount: Money
    #: Reporting thresholds (reference currency); amounts just under one are counted separately.
    reporting_thresholds: Annotated[list[Money], Field(max_length=10)]
    just_under_margin: Fraction
    min_just_under: Count


class SimilarAmounts(Rule):
    """Fires on a payment when, within the window before it, at least ``min_count`` payments in the
    same direction are within ``tolerance`` of its amount, or ``min_just_under`` payments fall in
    the band just under a reporting threshold that its amount is in."""

    rule_id = "similar_amounts"
    on_inflow = True
    on_outflow = True
    max_level = NORMAL

    def __init__(self, config: SimilarAmountsConfig, runtime) -> None:
        super().__init__(runtime)
        self.window = self.ledger_needed = hours(config.window_hours)
        self.min_count = config.min_count
        self.tolerance = config.tolerance
        self.min_amount = Converter.threshold(config.min_amount)
        self.bands = [
            (Converter.threshold(t * (1 - config.just_under_margin)), Converter.threshold(t), t)
            for t in config.reporting_thresholds
        ]
        self.min_just_under = config.min_just_under

    def evaluate(self, state: AccountState, anchor: tuple, end: int) -> Finding | None:
        amount = anchor[AMOUNT]
        if amount < self.min_amount or anchor[SALE]:
            return None
        now = anchor[TIME]
        start = state.window(now - self.window, end)
        needed = min(self.min_count, self.min_just_under) if self.bands else self.min_count
        if end - start < needed:
            return None
        outgoing = anchor[OUTGOING]
        ledger = state.ledger
        same_side = [e for e in ledger[start:end] if e[OUTGOING] is outgoing and not e[SALE]]
        low, high = amount * (1 - self.tolerance), amount * (1 + self.tolerance)
        close = [e for e in same_side if low <= e[AMOUNT] <= high]
        direction = "sent" if outgoing else "received"
        if len(close) >= self.min_count:
            span = now - close[0][TIME]
            reason = (
                f"{len(close)} payments {direction} within {describe_duration(span)} all within"
                f" {round(self.tolerance * 100)} % of {self.money.describe(amount, state.currency)}"
            )
            return (NORMAL, reason, self.evidence(e[EVENT_ID] for e in close))
        for band_low, band_high, threshold in self.bands:
            if band_low <= amount < band_high:
                under = [e for e in same_side if band_low <= e[AMOUNT] < band_high]
                if len(under) >= self.min_just_under:
                    reason = (
                        f"{len(under)} payments {direction} within {describe_duration(now - under[0][TIME])}"
                        f" just under the {self.money.describe(band_high, None)} reporting threshold"
                    )
                    return (NORMAL, reason, self.evidence(e[EVENT_ID] for e in under))
        return None
