"""Typologies: rule hits add up to a score; an alert when the score passes the threshold.

The walk is evaluated at hit times, in (event time, hit id) order. At a time t, a typology's score
sums, for each of its rules, the weight of that rule's strongest hit in (t - window, t]; the alert
needs the threshold and one hit from each ``requires`` group. Adding hits or payments can only raise
scores and amounts, so the alerts found are the same whatever order the hits arrived in.

Episodes: the alert id is a function of (account, typology, cooldown bucket of t), buckets being
``cooldown_days`` long and aligned on the epoch. Within a bucket repeats are suppressed and a higher
severity is a new version (version = severity rank, low=1 .. critical=4). A bucket, unlike "first
crossing time", cannot move when an earlier hit arrives late, which keeps ids path-independent.
Versions are path-independent too: each is remembered with the event time of the point that reached
it, and a version is published whenever the walk finds a point that reaches it before any point
reached a higher one. A late cross-key hit that shows an earlier point at a lower version thus
publishes that version as well, as the in-order (offline) walk did.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from detectors.account_state import H_FACTOR, H_FLOWS, H_LEVEL, H_RULE, AccountState
from detectors.config_types import Days, StrictModel
from detectors.eventtime import days
from detectors.rules import HIGH, RULE_IDS
from schemas import Alert, Typology

if TYPE_CHECKING:
    from detectors.runtime import Runtime

RuleId = Literal[RULE_IDS]  # type: ignore[valid-type]
Weight = Annotated[int, Field(ge=0, le=100)]


class TypologyConfig(StrictModel):
    window_days: Days
    threshold: Annotated[int, Field(ge=1, le=100)]
    cooldown_days: Days
    weights: Annotated[dict[RuleId, Weight], Field(min_length=1)]
    #: Each group needs at least one of its rules among the hits: "combinations, not single signals".
    requires: list[Annotated[list[RuleId], Field(min_length=1)]]

    @model_validator(mode="after")
    def _requires_weighted_rules(self) -> TypologyConfig:
        unweighted = sorted({r for group in self.requires for r in group if not self.weights.get(r)})
        if unweighted:
            raise ValueError(f"requires names rules without a weight: {', '.join(unweighted)}")
        return self


class TypologiesConfig(StrictModel):
    account_sold: TypologyConfig
    account_rented: TypologyConfig
    account_lent: TypologyConfig
    collection_account: TypologyConfig
    pass_through_mule: TypologyConfig
    account_farm: TypologyConfig
    dormant_or_new_account_abuse: TypologyConfig
    laundering_pattern: TypologyConfig


class _Typology:
    __slots__ = ("typology", "weights", "window", "threshold", "cooldown", "requires")

    def __init__(self, typology: Typology, config: TypologyConfig) -> None:
        self.typology = typology
        self.weights = {rule: w for rule, w in config.weights.items() if w}
        self.window = days(config.window_days)
        self.threshold = config.threshold
        self.cooldown = days(config.cooldown_days)
        self.requires = [frozenset(group) for group in config.requires]


class Typologies:
    """Scores an account's hits and emits new alerts and escalations."""

    def __init__(self, config: TypologiesConfig, runtime: Runtime) -> None:
        self.runtime = runtime
        self.typologies = [_Typology(t, getattr(config, t.value)) for t in Typology]
        self.max_window = max(t.window for t in self.typologies)
        self.cooldowns = {t.typology.value: t.cooldown for t in self.typologies}

    def walk(self, state: AccountState, since: int) -> list[Alert]:
        """New alerts (or higher versions) at hit times from ``since`` to ``since`` + the longest
        window: the only times whose scores or amounts the latest change can have raised."""
        latest = state.latest_hit_time()
        if latest is None or latest < since:
            return []  # no hit from ``since`` on, nothing to walk (most events of an account with old hits)
        ordered = sorted((hit[0], hit_id, hit) for hit_id, hit in state.hits.items())
        times = [h[0] for h in ordered]
        first = bisect_left(times, since)
        stop = since + self.max_window
        # Per typology, once per walk: the hits of its rules in time order, with the weight each
        # carries in it (a walk after a hit from another partition visits every point of a month);
        # none where the hits in the walk's windows cannot meet its requirements at any point.
        present = {hit[H_RULE] for _, _, hit in ordered[bisect_right(times, since - self.max_window) : bisect_right(times, stop)]}
        weighed = [(typ, *found) for typ in self.typologies
                   if not any(group.isdisjoint(present) for group in typ.requires)
                   and (found := self._weighed(typ, ordered[bisect_right(times, since - typ.window) : bisect_right(times, stop)]))]
        if not weighed:
            return []
        alerts = []
        previous = None
        for index in range(first, len(ordered)):
            now = times[index]
            if now > stop:
                break
            if now == previous:
                continue
            previous = now
            for typ, its_times, its_hits in weighed:
                best: dict[str, tuple[int, tuple]] = {}
                for weight, hit in its_hits[bisect_right(its_times, now - typ.window) : bisect_right(its_times, now)]:
                    rule = hit[H_RULE]
                    held = best.get(rule)
                    if held is None or weight >= held[0]:
                        best[rule] = (weight, hit)
                score = sum(w for w, _ in best.values())
                if score < typ.threshold or any(group.isdisjoint(best) for group in typ.requires):
                    continue
                alert = self._emit(state, typ, now, score, list(best.values()))
                if alert is not None:
                    alerts.append(alert)
        return alerts

    def _weighed(self, typ: _Typology, ordered: list[tuple]) -> tuple[list[int], list[tuple[int, tuple]]] | None:
        """The hits of ``ordered`` (those in some window of the walk's points) that ``typ`` weighs, in
        order: their times, and (weight, hit) pairs with the weight the hit carries in it (its rule's,
        raised for a strong form, times its factor). None when no point can have a hit of each
        ``requires`` group: there are none among them all."""
        factors = self.runtime.high_factors
        times, weighed, rules = [], [], set()
        for time, _, hit in ordered:
            rule = hit[H_RULE]
            weight = typ.weights.get(rule)
            if weight is None:
                continue
            if hit[H_LEVEL] == HIGH:
                weight = min(100, round(weight * factors.get(rule, 1.0)))
            if hit[H_FACTOR] != 1.0:
                weight = round(weight * hit[H_FACTOR])
            times.append(time)
            weighed.append((weight, hit))
            rules.add(rule)
        if any(group.isdisjoint(rules) for group in typ.requires):
            return None
        return times, weighed

    def _emit(self, state: AccountState, typ: _Typology, now: int, score: int, contributions) -> Alert | None:
        runtime = self.runtime
        flows = _moved(contributions, runtime.flow_windows.index(typ.window))
        if runtime.money.valued(state.currency):
            severity = runtime.scoring.severity(max(flows))
        else:
            severity = runtime.scoring.without_rate  # amounts in a currency without a rate say nothing of size
        bucket = now // typ.cooldown
        key = (typ.typology.value, bucket)
        times = state.emitted.get(key)
        if times is None:
            times = state.emitted[key] = [-1, -1, -1, -1]
        rank = severity.rank
        if times[rank - 1] >= 0 or any(0 <= times[higher] <= now for higher in range(rank, 4)):
            return None  # this version was published, or a higher one was reached at this point or earlier
        times[rank - 1] = now
        if len(state.emitted) > runtime.max_emitted:
            del state.emitted[min(state.emitted, key=lambda k: (k[1] * self.cooldowns[k[0]], k))]
        return runtime.scoring.build_alert(
            state, typ.typology, bucket, score, severity, contributions, now - typ.window, now, flows
        )


def _moved(contributions, window_index: int) -> tuple[int, int]:
    """Inflow and outflow of the typology's window, from the contributing hits: the largest any of
    them carries (each as of its own time). Every typology needs a money rule, whose hits carry them."""
    best = (0, 0)
    for _, hit in contributions:
        flows = hit[H_FLOWS]
        if flows:
            pair = (flows[2 * window_index], flows[2 * window_index + 1])
            if max(pair) > max(best):
                best = pair
    return best
