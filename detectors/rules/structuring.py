"""Structuring: a transfer split into several near-equal ones with the same counterparty in a day."""

from __future__ import annotations

from detectors.account_state import AMOUNT, COUNTERPARTY, EVENT_ID, OUTGOING, SALE, TIME, AccountState
from detectors.config_types import Count, Fraction, Hours, RuleConfig, WeightFactor
from detectors.eventtime import describe_duration, hours
from detectors.rules.base import HIGH, NORMAL, Finding, Rule


class StructuringConfig(RuleConfig):
    window_hours: Hours
    #: This many transfers with one counterparty in the window, each within ``tolerance`` of the
    #: latest. People pay a friend twice in a day; three near-equal transfers to one counterparty in
    #: a day is a payment split up (smurfing), or money moved in tranches.
    min_count: Count
    tolerance: Fraction
    #: Strong form: every one within this of the latest (the same sum again and again).
    high_tolerance: Fraction
    high_weight_factor: WeightFactor


class Structuring(Rule):
    """Fires on a payment when, within the window up to it, ``min_count`` payments in the same
    direction with the same counterparty are within ``tolerance`` of its amount. Amounts are compared
    with each other, never with a fixed sum, so the rule reads the same in any currency and at any
    scale. A new counterparty is not required: laundering often runs along relationships the
    accounts already had (IBM's generator lays its patterns on existing edges)."""

    rule_id = "structuring"
    on_inflow = True
    on_outflow = True

    def __init__(self, config: StructuringConfig, runtime) -> None:
        super().__init__(runtime)
        self.window = self.ledger_needed = hours(config.window_hours)
        self.min_count = config.min_count
        self.tolerance = config.tolerance
        self.high_tolerance = config.high_tolerance
        self.high_weight_factor = config.high_weight_factor

    def evaluate(self, state: AccountState, anchor: tuple, end: int) -> Finding | None:
        if anchor[SALE] or anchor[AMOUNT] <= 0:
            return None
        now = anchor[TIME]
        start = state.window(now - self.window, end)
        if end - start < self.min_count:
            return None
        party = anchor[COUNTERPARTY]
        outgoing, amount = anchor[OUTGOING], anchor[AMOUNT]
        ledger = state.ledger
        same = [
            e for e in ledger[start:end]
            if e[COUNTERPARTY] == party and e[OUTGOING] is outgoing and not e[SALE]
            and abs(e[AMOUNT] - amount) <= self.tolerance * max(e[AMOUNT], amount)
        ]
        if len(same) < self.min_count:
            return None
        high = all(abs(e[AMOUNT] - amount) <= self.high_tolerance * max(e[AMOUNT], amount) for e in same)
        direction = "sent to" if outgoing else "received from"
        reason = (
            f"{len(same)} near-equal payments {direction} one counterparty within"
            f" {describe_duration(now - same[0][TIME])}, each about {self.money.describe(amount, state.currency)}"
        )
        return (HIGH if high else NORMAL, reason, self.evidence(e[EVENT_ID] for e in same))
