"""Fan-in (many new senders) and fan-out (many new beneficiaries) in a short window."""

from __future__ import annotations

from detectors.account_state import AMOUNT, COUNTERPARTY, EVENT_ID, OUTGOING, SALE, TIME, AccountState
from detectors.config_types import Count, Hours, Money, RuleConfig
from detectors.eventtime import describe_duration, hours
from detectors.money import Money as Converter
from detectors.rules.base import NORMAL, Finding, Rule


class FanInConfig(RuleConfig):
    window_hours: Hours
    min_senders: Count
    #: "Majority new" expressed as a count (a majority of ``min_senders``): a count can only grow
    #: with more events, a share can fall, and findings must not depend on arrival order.
    min_new_senders: Count
    min_amount: Money


class FanOutConfig(RuleConfig):
    window_hours: Hours
    min_beneficiaries: Count
    #: Payroll pays the same staff every month: known beneficiaries do not make a dispersal.
    min_new_beneficiaries: Count
    min_amount: Money


class _Fan(Rule):
    """Counts distinct counterparties on one side within the window; new = first seen in it."""

    max_level = NORMAL
    outgoing = False
    noun = ""
    verb = ""

    def __init__(self, window_hours: float, minimum: int, minimum_new: int, min_amount: float, runtime) -> None:
        super().__init__(runtime)
        self.window = self.ledger_needed = hours(window_hours)
        self.minimum = minimum
        self.minimum_new = minimum_new
        self.min_amount = Converter.threshold(min_amount)

    def evaluate(self, state: AccountState, anchor: tuple, end: int) -> Finding | None:
        if anchor[SALE]:
            return None
        now = anchor[TIME]
        start = state.window(now - self.window, end)
        if end - start < self.minimum:
            return None
        ledger = state.ledger
        outgoing, min_amount = self.outgoing, self.min_amount
        # Comprehensions, not a loop of appends: a busy account's window is the whole capped ledger.
        moved = [e for e in ledger[start:end] if e[OUTGOING] is outgoing and e[AMOUNT] >= min_amount and not e[SALE]]
        if len(moved) < self.minimum:
            return None
        parties = {e[COUNTERPARTY] for e in moved}
        if len(parties) < self.minimum:
            return None
        window_start = now - self.window
        known = state.counterparties
        # New: not known, or first seen within the window. Counted from the (few) known parties.
        new = len(parties) - sum(1 for key in parties & known.keys() if known[key][0] < window_start)
        if new < self.minimum_new:
            return None
        total = sum([e[AMOUNT] for e in moved])
        ids = [e[EVENT_ID] for e in moved]
        span = now - ledger[state.window(window_start, end)][TIME]
        reason = (
            f"{len(parties)} {self.noun} ({new} new) {self.verb} {self.money.describe(total, state.currency)}"
            f" within {describe_duration(span)}"
        )
        return (NORMAL, reason, self.evidence(ids))


class FanIn(_Fan):
    """Collection: many different senders, mostly first-time counterparties, in a short window."""

    rule_id = "fan_in"
    on_inflow = True
    noun, verb = "senders", "paid in"

    def __init__(self, config: FanInConfig, runtime) -> None:
        super().__init__(config.window_hours, config.min_senders, config.min_new_senders, config.min_amount, runtime)


class FanOut(_Fan):
    """Dispersal: many different beneficiaries, mostly new, in a short window."""

    rule_id = "fan_out"
    on_outflow = True
    outgoing = True
    noun, verb = "beneficiaries", "were paid"

    def __init__(self, config: FanOutConfig, runtime) -> None:
        super().__init__(
            config.window_hours, config.min_beneficiaries, config.min_new_beneficiaries, config.min_amount, runtime
        )
