"""Control change then outflow: the holder hands over control, then money leaves."""

from __future__ import annotations

from typing import Literal

from detectors.account_state import AMOUNT, EVENT_ID, OUTGOING, TIME, AccountState
from detectors.config_types import Hours, Money, RuleConfig, WeightFactor
from detectors.eventtime import describe_duration, hours
from detectors.money import Money as Converter
from detectors.rules.base import HIGH, NORMAL, Finding, Rule

ControlKind = Literal["phone_changed", "device_bound", "password_reset", "new_device_login", "email_changed"]

_DESCRIPTIONS = {
    "phone_changed": "phone number re-bound",
    "device_bound": "new device bound",
    "password_reset": "password reset",
    "new_device_login": "first login from a new device",
    "email_changed": "email changed",
}


class ControlChangeOutflowConfig(RuleConfig):
    window_hours: Hours
    min_outflow: Money
    #: Which account changes count as a hand-over of control.
    changes: list[ControlKind]
    #: Weight factor when the new phone number is not real-name registered to the holder.
    high_weight_factor: WeightFactor


class ControlChangeOutflow(Rule):
    """Fires on an outflow when outflows since a control change within the window reach the floor."""

    rule_id = "control_change_outflow"
    on_outflow = True

    def __init__(self, config: ControlChangeOutflowConfig, runtime) -> None:
        super().__init__(runtime)
        self.window = self.ledger_needed = hours(config.window_hours)
        self.floor = Converter.threshold(config.min_outflow)
        self.high_weight_factor = config.high_weight_factor

    def evaluate(self, state: AccountState, anchor: tuple, end: int) -> Finding | None:
        controls = state.controls
        if not controls:
            return None
        now = anchor[TIME]
        recent = [c for c in controls if now - self.window <= c[0] <= now]
        if not recent:
            return None
        first = recent[0]
        ledger = state.ledger
        outflow = 0
        ids = [c[1] for c in recent]
        for i in range(state.window(first[0], end), end):
            entry = ledger[i]
            if entry[OUTGOING]:
                outflow += entry[AMOUNT]
                ids.append(entry[EVENT_ID])
        if outflow < self.floor:
            return None
        high = any(c[3] for c in recent)
        what = ", ".join(dict.fromkeys(_DESCRIPTIONS[c[2]] for c in recent))
        if high:
            what += " (new number not registered to the holder)"
        reason = (
            f"{what} {describe_duration(now - first[0])} before"
            f" {self.money.describe(outflow, state.currency)} left the account"
        )
        return (HIGH if high else NORMAL, reason, self.evidence(ids))
