"""Remote or impossible access shortly before a large outflow."""

from __future__ import annotations

from detectors.account_state import AMOUNT, EVENT_ID, OUTGOING, TIME, AccountState
from detectors.config_types import Hours, Money, RuleConfig
from detectors.eventtime import MS_PER_HOUR, describe_duration, hours
from detectors.geo import min_distance_km
from detectors.money import Money as Converter
from detectors.rules.base import NORMAL, Finding, Rule


class RemoteAccessConfig(RuleConfig):
    window_hours: Hours
    min_outflow: Money
    max_speed_kmh: float


class RemoteAccess(Rule):
    """Fires on an outflow when, within the window before it, the account was accessed (login or
    payment session) from a country other than its KYC country, or two accesses imply
    travel faster than an airliner, and outflows since that access reach the floor.

    Every pair of accesses in the window is checked, not only consecutive ones, so that a
    reordered access can only add suspicious accesses. Silent without countries."""

    rule_id = "remote_access"
    on_outflow = True
    max_level = NORMAL

    def __init__(self, config: RemoteAccessConfig, runtime) -> None:
        super().__init__(runtime)
        self.window = self.ledger_needed = hours(config.window_hours)
        self.floor = Converter.threshold(config.min_outflow)
        self.max_speed = config.max_speed_kmh

    def evaluate(self, state: AccountState, anchor: tuple, end: int) -> Finding | None:
        accesses = state.accesses
        if not accesses:
            return None
        home = state.kyc_country
        if home is not None:
            for access in accesses:
                if access[2] != home:
                    break
            else:
                return None  # every access kept is from home (most accounts): nothing remote, no travel
        now = anchor[TIME]
        recent = [a for a in accesses if now - self.window <= a[0] <= now]
        if not recent:
            return None
        countries = {a[2] for a in recent}
        if len(countries) == 1 and home in (None, *countries):
            return None  # one country, the home one (or home unknown): nothing remote, no travel
        flagged = []
        if home is not None:
            flagged = [a for a in recent if a[2] != home]
        travel = None
        for i, before in enumerate(recent):
            for after in recent[i + 1 :]:
                if after[2] == before[2]:
                    continue
                distance = min_distance_km(before[2], after[2])
                if not distance:
                    continue
                elapsed_h = max(after[0] - before[0], 1) / MS_PER_HOUR
                if distance / elapsed_h > self.max_speed:
                    flagged += (before, after)
                    if travel is None:
                        travel = (before, after, distance, elapsed_h)
        if not flagged:
            return None
        since = min(flagged)
        ledger = state.ledger
        outflow = 0
        ids = [a[1] for a in flagged]
        for i in range(state.window(since[0], end), end):
            entry = ledger[i]
            if entry[OUTGOING]:
                outflow += entry[AMOUNT]
                ids.append(entry[EVENT_ID])
        if outflow < self.floor:
            return None
        parts = []
        countries = sorted({a[2] for a in flagged if home is not None and a[2] != home})
        if countries:
            parts.append(f"access from {', '.join(countries)} (KYC country {home})")
        if travel is not None:
            before, after, distance, elapsed_h = travel
            parts.append(
                f"{before[2]} to {after[2]} ({distance:,.0f} km) in {describe_duration(after[0] - before[0])}"
                f" implies {distance / elapsed_h:,.0f} km/h"
            )
        reason = (
            f"{'; '.join(parts)}; {self.money.describe(outflow, state.currency)} left within"
            f" {describe_duration(now - since[0])}"
        )
        return (NORMAL, reason, self.evidence(ids))
