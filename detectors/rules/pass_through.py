"""Rapid pass-through: money leaves soon after it arrives ("fast in, fast out")."""

from __future__ import annotations

from detectors.account_state import AMOUNT, COUNTERPARTY, EVENT_ID, OUTGOING, TIME, AccountState
from detectors.config_types import Fraction, Hours, Minutes, Money, RuleConfig, WeightFactor
from detectors.eventtime import describe_duration, hours, minutes
from detectors.money import Money as Converter
from detectors.rules.base import HIGH, NORMAL, Finding, Rule


class PassThroughConfig(RuleConfig):
    window_hours: Hours
    min_inflow: Money
    min_outflow_ratio: Fraction
    high_outflow_ratio: Fraction
    high_within_minutes: Minutes
    high_weight_factor: WeightFactor


class PassThrough(Rule):
    """Fires on an outflow when an inflow (>= the minimum) received within the window before it has
    been followed by outflows worth at least the ratio of it; strong form within the hour.

    Judged per inflow rather than on window totals, so that more events can only add a witness;
    the reason still reports the witnesses' totals ("92 % of 48,300 CNY received ... left").
    """

    rule_id = "pass_through"
    config_model = PassThroughConfig
    on_outflow = True

    def __init__(self, config: PassThroughConfig, runtime) -> None:
        super().__init__(runtime)
        self.window = self.ledger_needed = hours(config.window_hours)
        self.min_inflow = Converter.threshold(config.min_inflow)
        self.ratio = config.min_outflow_ratio
        self.high_ratio = config.high_outflow_ratio
        self.high_within = minutes(config.high_within_minutes)
        self.high_weight_factor = config.high_weight_factor

    def evaluate(self, state: AccountState, anchor: tuple, end: int) -> Finding | None:
        now = anchor[TIME]
        ledger = state.ledger
        start = state.window(now - self.window, end)
        out_after = 0
        received = 0
        left = 0
        earliest = -1
        senders = set()
        high = False
        for i in range(end - 1, start - 1, -1):
            entry = ledger[i]
            amount = entry[AMOUNT]
            if entry[OUTGOING]:
                out_after += amount
            elif amount >= self.min_inflow and out_after >= self.ratio * amount:
                received += amount
                left = out_after
                earliest = i
                senders.add(entry[COUNTERPARTY])
                if now - entry[TIME] <= self.high_within and out_after >= self.high_ratio * amount:
                    high = True
        if earliest < 0:
            return None
        first = ledger[earliest]
        currency = state.currency
        reason = (
            f"{min(100, round(100 * left / received))} % of {self.money.describe(received, currency)} received"
            f" from {len(senders)} sender{'s' if len(senders) > 1 else ''} left within"
            f" {describe_duration(now - first[TIME])}"
        )
        ids = [ledger[i][EVENT_ID] for i in range(earliest, end)]
        return (HIGH if high else NORMAL, reason, self.evidence(ids))
