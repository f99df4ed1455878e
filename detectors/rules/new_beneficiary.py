"""New beneficiary paid at once: a payee added and paid large amounts immediately."""

from __future__ import annotations

from detectors.account_state import AMOUNT, COUNTERPARTY, EVENT_ID, OUTGOING, TIME, AccountState
from detectors.config_types import Hours, Money, RuleConfig
from detectors.eventtime import describe_duration, hours
from detectors.money import Money as Converter
from detectors.rules.base import NORMAL, Finding, Rule


class NewBeneficiaryPaidConfig(RuleConfig):
    window_hours: Hours
    min_amount: Money


class NewBeneficiaryPaid(Rule):
    """Fires on an outflow to a beneficiary added within the window before it once the payments to
    that beneficiary since it was added reach the floor."""

    rule_id = "new_beneficiary_paid"
    on_outflow = True
    max_level = NORMAL

    def __init__(self, config: NewBeneficiaryPaidConfig, runtime) -> None:
        super().__init__(runtime)
        self.window = self.ledger_needed = hours(config.window_hours)
        self.floor = Converter.threshold(config.min_amount)

    def evaluate(self, state: AccountState, anchor: tuple, end: int) -> Finding | None:
        added = state.beneficiaries
        if not added:
            return None
        now = anchor[TIME]
        payee = anchor[COUNTERPARTY]
        matches = [b for b in added if b[2] == payee and now - self.window <= b[0] <= now]
        if not matches:
            return None
        since = matches[0]
        ledger = state.ledger
        paid = 0
        ids = [since[1]]
        for i in range(state.window(since[0], end), end):
            entry = ledger[i]
            if entry[OUTGOING] and entry[COUNTERPARTY] == payee:
                paid += entry[AMOUNT]
                ids.append(entry[EVENT_ID])
        if paid < self.floor:
            return None
        reason = (
            f"beneficiary added {describe_duration(now - since[0])} before being paid"
            f" {self.money.describe(paid, state.currency)}"
        )
        return (NORMAL, reason, self.evidence(ids))
