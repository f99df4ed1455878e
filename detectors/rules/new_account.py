"""New account heavy use: a freshly opened account quickly receives large sums or many counterparties."""

from __future__ import annotations

from detectors.account_state import EVENT_ID, TIME, AccountState
from detectors.config_types import Count, Days, Money, RuleConfig
from detectors.eventtime import MS_PER_DAY, days, describe_duration
from detectors.money import Money as Converter
from detectors.rules.base import NORMAL, Finding, Rule


class NewAccountHeavyUseConfig(RuleConfig):
    max_age_days: Days
    min_inflow: Money
    min_counterparties: Count


class NewAccountHeavyUse(Rule):
    """Fires on a payment while the account is younger than ``max_age_days`` once its inflow since
    opening reaches the floor or it has dealt with ``min_counterparties`` distinct counterparties.
    Silent when the feed never said when the account was opened."""

    rule_id = "new_account_heavy_use"
    on_inflow = True
    on_outflow = True
    max_level = NORMAL

    def __init__(self, config: NewAccountHeavyUseConfig, runtime) -> None:
        super().__init__(runtime)
        self.max_age = days(config.max_age_days)
        self.floor = Converter.threshold(config.min_inflow)
        self.min_counterparties = config.min_counterparties
        self.days_needed = int(config.max_age_days) + 2
        self.ledger_needed = MS_PER_DAY

    def evaluate(self, state: AccountState, anchor: tuple, end: int) -> Finding | None:
        opened = state.opened_at
        now = anchor[TIME]
        if opened is None or not 0 <= now - opened < self.max_age:
            return None
        counterparties = sum(1 for seen in state.counterparties.values() if opened <= seen[0] <= now)
        inflow, _ = state.flows(opened, now, self.runtime)
        if counterparties < self.min_counterparties and inflow < self.floor:
            return None
        ledger = state.ledger
        ids = [state.opened_event] + [ledger[i][EVENT_ID] for i in range(state.window(now - MS_PER_DAY, end), end)]
        reason = (
            f"account opened {describe_duration(now - opened)} ago has received"
            f" {self.money.describe(inflow, state.currency)} and dealt with {counterparties} counterparties"
        )
        return (NORMAL, reason, self.evidence(i for i in ids if i is not None))
