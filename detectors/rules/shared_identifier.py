"""Shared device and shared phone: one identifier on the accounts of several customers.

These rules run in the device/phone partitions (see ``identifiers.py``), not on an account: only
there are all accounts using an identifier visible together.
"""

from __future__ import annotations

from detectors.config_types import Count, Days, RuleConfig, WeightFactor
from detectors.eventtime import days, describe_duration


class SharedIdentifierConfig(RuleConfig):
    min_customers: Count
    window_days: Days
    #: Caps on the uses a verdict looks at: overall, and per account (so one busy account cannot
    #: push the others out of view). The state holds at most twice ``max_entries`` uses.
    max_entries: Count
    max_entries_per_account: Count
    #: From this many customers the hit is the rule's strong form, weighted by the factor.
    high_customers: Count
    high_weight_factor: WeightFactor


class SharedIdentifier:
    """Verdict as of one use: distinct customers among the uses within the window up to it."""

    kind = ""
    rule_id = ""

    def __init__(self, config: SharedIdentifierConfig, runtime) -> None:
        self.min_customers = config.min_customers
        self.high_customers = config.high_customers
        self.high_weight_factor = config.high_weight_factor
        self.window = days(config.window_days)
        self.max_entries = config.max_entries
        self.max_per_account = config.max_entries_per_account
        #: The caps choose each use's view; the state keeps up to twice as many uses (see identifiers.py).
        self.hard_max_entries = 2 * config.max_entries
        self.max_evidence = runtime.max_evidence

    def reason(self, key: str, customers: int, accounts: int) -> str:
        return (
            f"{self.kind} {key} used on accounts of {customers} customers ({accounts} accounts)"
            f" within {describe_duration(self.window)}"
        )


class SharedDevice(SharedIdentifier):
    kind = "device"
    rule_id = "shared_device"


class SharedPhone(SharedIdentifier):
    kind = "phone"
    rule_id = "shared_phone"
