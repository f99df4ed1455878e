"""Volume spike: a day's volume far above the account's own baseline."""

from __future__ import annotations

import math

from detectors.account_state import AMOUNT, EVENT_ID, TIME, AccountState
from detectors.config_types import Count, Money, RuleConfig
from detectors.eventtime import MS_PER_DAY
from detectors.money import Money as Converter
from detectors.rules.base import NORMAL, Finding, Rule


class VolumeSpikeConfig(RuleConfig):
    baseline_days: Count
    sigmas: float
    max_multiple: float
    min_volume: Money
    #: Below this many active days in the baseline there is no baseline (dormant and new accounts
    #: have their own rules).
    min_active_days: Count
    #: The notes say "> 3 sigma, or > 1.5 x the 90-day max". A rent payment once a month is > 3
    #: sigma above a mostly-zero daily series, so by default both must hold.
    require_both: bool


class VolumeSpike(Rule):
    """Fires on a payment when the volume (in + out) of the 24 h up to it exceeds the baseline.

    The baseline is the daily volumes of the ``baseline_days`` days ending two days before, which no
    admissible late event can touch; it is computed once per account and day.
    """

    rule_id = "volume_spike"
    on_inflow = True
    on_outflow = True
    max_level = NORMAL

    def __init__(self, config: VolumeSpikeConfig, runtime) -> None:
        super().__init__(runtime)
        self.baseline_days = config.baseline_days
        self.sigmas = config.sigmas
        self.max_multiple = config.max_multiple
        self.floor = Converter.threshold(config.min_volume)
        self.min_active_days = config.min_active_days
        self.require_both = config.require_both
        self.days_needed = self.baseline_days + 2
        self.ledger_needed = MS_PER_DAY

    def evaluate(self, state: AccountState, anchor: tuple, end: int) -> Finding | None:
        now = anchor[TIME]
        ledger = state.ledger
        start = state.window(now - MS_PER_DAY + 1, end)
        volume = sum([entry[AMOUNT] for entry in ledger[start:end]])
        if volume < self.floor:
            return None
        mean, sd, peak, active = self._baseline(state, now // MS_PER_DAY)
        if active < self.min_active_days:
            return None
        whole = volume / 100
        above_sigma = whole > mean + self.sigmas * sd
        above_peak = whole > self.max_multiple * peak
        if not ((above_sigma and above_peak) if self.require_both else (above_sigma or above_peak)):
            return None
        reason = (
            f"{self.money.describe(volume, state.currency)} moved in 24 h against a daily mean of"
            f" {self.money.describe(round(mean * 100), state.currency)} and a {self.baseline_days}-day"
            f" maximum of {self.money.describe(peak * 100, state.currency)}"
        )
        return (NORMAL, reason, self.evidence(ledger[i][EVENT_ID] for i in range(start, end)))

    def _baseline(self, state: AccountState, today: int) -> tuple[float, float, int, int]:
        cached = state.baseline_cache.get((self.rule_id, today))
        if cached is not None:
            return cached
        first, last = today - self.baseline_days - 1, today - 2
        volumes = [v[0] + v[1] for d, v in state.days.items() if first <= d <= last]
        active = len(volumes)
        mean = sum(volumes) / self.baseline_days
        variance = sum(v * v for v in volumes) / self.baseline_days - mean * mean
        result = (mean, math.sqrt(max(variance, 0.0)), max(volumes, default=0), active)
        state.cache_baseline((self.rule_id, today), result)
        return result
