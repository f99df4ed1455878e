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
    """Fires on an outflow when, from some inflow s within the window on, the outflows after s
    reach the ratio of the inflows (each >= the minimum) received from s on; strong form when s
    is within the hour and the higher ratio is met.

    Inflows younger than the lateness (which may still be joined by a reordered one) are judged
    one by one instead of in the sum, so a late event can only add a witness, never remove one.
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
        settled = now - self.lateness
        ledger = state.ledger
        start = state.window(now - self.window, end)
        out_after = 0  # outflows after the entry being looked at, up to the anchor
        settled_in = 0  # settled inflows from the entry being looked at on
        witness = None  # (index, received, left) of the earliest witness
        high = False
        for i in range(end - 1, start - 1, -1):
            entry = ledger[i]
            amount = entry[AMOUNT]
            if entry[OUTGOING]:
                out_after += amount
                continue
            if amount < self.min_inflow:
                continue
            received = amount
            if entry[TIME] < settled:
                settled_in += amount
                received = settled_in
            if out_after >= self.ratio * received:
                witness = (i, received, out_after)
                if now - entry[TIME] <= self.high_within and out_after >= self.high_ratio * received:
                    high = True
        if witness is None:
            return None
        first, received, left = witness
        ids = [ledger[i][EVENT_ID] for i in range(first, end)]
        senders = {ledger[i][COUNTERPARTY] for i in range(first, end) if not ledger[i][OUTGOING]}
        reason = (
            f"{min(100, round(100 * left / received))} % of {self.money.describe(received, state.currency)} received"
            f" from {len(senders)} sender{'s' if len(senders) > 1 else ''} left within"
            f" {describe_duration(now - ledger[first][TIME])}"
        )
        return (HIGH if high else NORMAL, reason, self.evidence(ids))
