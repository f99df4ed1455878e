"""Typologies: rule hits add up to a score; an alert when the score passes the threshold.

The walk is evaluated at hit times, in (event time, hit id) order. At a time t, a typology's score
sums, for each of its rules, the weight of that rule's strongest hit in (t - window, t]; it scores
with the threshold and one hit from each ``requires`` group. Adding hits or payments can only raise
scores and amounts, so the alerts found are the same whatever order the hits arrived in.

One alert per account and episode (alert contract 2.0.0). Episodes are ``episode_days`` long and
aligned on the epoch; the alert id is a function of (account, episode), and an episode's bucket,
unlike "first crossing time", cannot move when an earlier hit arrives late. The episode remembers,
for each typology, its record highs (the points that raised its severity rank); the alert at a
point carries every typology the episode had shown by then, each at its best so far, and its
version is the sum of their severity ranks: a new version when a typology joins or its severity
rises, and nothing else. (Scores would say more, but the score of a verdict traced across
partitions depends on the order its messages arrive in: versions on scores would differ between
the worker and replay.) As before, each version is remembered with the event time of the point that
reached it, and a version is published whenever the walk finds a point that reaches it before any
point reached a higher one. A late cross-key hit can make the worker publish an intermediate
version replay does not (the typologies known so far); it never misses one of replay's, and the
latest version is the same.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from detectors.account_state import (
    E_SCORE,
    H_FACTOR,
    H_FLOWS,
    H_LEVEL,
    H_RULE,
    P_TIME,
    P_VERSION,
    AccountState,
    add_record,
    entry_value,
    shown_at,
)
from detectors.config_types import Days, StrictModel
from detectors.dispositions import holds_back, latest_decision
from detectors.eventtime import days
from detectors.rules import HIGH, RULE_IDS
from schemas import Alert, Typology

if TYPE_CHECKING:
    from detectors.runtime import Runtime

#: Versions an episode remembers (the oldest, lowest go first): far more than an episode reaches.
MAX_VERSIONS_KEPT = 32

RuleId = Literal[RULE_IDS]  # type: ignore[valid-type]
Weight = Annotated[int, Field(ge=0, le=100)]


class TypologyConfig(StrictModel):
    window_days: Days
    threshold: Annotated[int, Field(ge=1, le=100)]
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
    #: One alert per account per episode of this many days (aligned on the epoch): a case an
    #: analyst works once, updated while it grows.
    episode_days: Days
    account_sold: TypologyConfig
    account_rented: TypologyConfig
    account_lent: TypologyConfig
    collection_account: TypologyConfig
    pass_through_mule: TypologyConfig
    account_farm: TypologyConfig
    dormant_or_new_account_abuse: TypologyConfig
    laundering_pattern: TypologyConfig


class _Typology:
    __slots__ = ("typology", "weights", "window", "threshold", "requires", "flow_index")

    def __init__(self, typology: Typology, config: TypologyConfig) -> None:
        self.typology = typology
        self.weights = {rule: w for rule, w in config.weights.items() if w}
        self.window = days(config.window_days)
        self.threshold = config.threshold
        self.requires = [frozenset(group) for group in config.requires]


class Typologies:
    """Scores an account's hits and emits new alerts and escalations."""

    def __init__(self, config: TypologiesConfig, runtime: Runtime) -> None:
        self.runtime = runtime
        self.typologies = [_Typology(t, getattr(config, t.value)) for t in Typology]
        self.max_window = max(t.window for t in self.typologies)
        self.episode = days(config.episode_days)
        #: The distinct typology windows (ms), shortest first: the order hits carry their flows (see H_FLOWS).
        self.flow_windows = sorted({t.window for t in self.typologies})
        for typ in self.typologies:
            typ.flow_index = self.flow_windows.index(typ.window)
        self.windows = {t.typology.value: t.window for t in self.typologies}

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
            scored = []
            for typ, its_times, its_hits in weighed:
                best: dict[str, tuple[int, str, tuple]] = {}
                for weight, hit_id, hit in its_hits[bisect_right(its_times, now - typ.window) : bisect_right(its_times, now)]:
                    rule = hit[H_RULE]
                    held = best.get(rule)
                    if held is None or weight >= held[0]:
                        best[rule] = (weight, hit_id, hit)
                score = sum(c[0] for c in best.values())
                if score < typ.threshold or any(group.isdisjoint(best) for group in typ.requires):
                    continue
                scored.append((typ, score, list(best.values())))
            if scored:
                alert = self._emit(state, now, scored)
                if alert is not None:
                    alerts.append(alert)
        return alerts

    def _weighed(self, typ: _Typology, ordered: list[tuple]) -> tuple[list[int], list[tuple[int, str, tuple]]] | None:
        """The hits of ``ordered`` (those in some window of the walk's points) that ``typ`` weighs, in
        order: their times, and (weight, hit id, hit) with the weight the hit carries in it (its
        rule's, raised for a strong form, times its factor). None when no point can have a hit of each
        ``requires`` group: there are none among them all."""
        factors = self.runtime.high_factors
        times, weighed, rules = [], [], set()
        for time, hit_id, hit in ordered:
            rule = hit[H_RULE]
            weight = typ.weights.get(rule)
            if weight is None:
                continue
            if hit[H_LEVEL] == HIGH:
                weight = min(100, round(weight * factors.get(rule, 1.0)))
            if hit[H_FACTOR] != 1.0:
                weight = round(weight * hit[H_FACTOR])
            times.append(time)
            weighed.append((weight, hit_id, hit))
            rules.add(rule)
        if any(group.isdisjoint(rules) for group in typ.requires):
            return None
        return times, weighed

    def _emit(self, state: AccountState, now: int, scored: list[tuple[_Typology, int, list]]) -> Alert | None:
        """The episode's alert at ``now``: the typologies it had shown by then, raised by those scoring
        there. None when that version was published, or a higher one was reached at this point or
        earlier (a point that adds nothing has the version of the one before)."""
        runtime = self.runtime
        bucket = now // self.episode
        episode = state.episodes.get(bucket)
        if episode is None:
            episode = state.episodes[bucket] = ([], {})
            if len(state.episodes) > runtime.max_episodes:
                del state.episodes[min(state.episodes)]
        published, best = episode
        shown = shown_at(best, now)
        for typ, score, contributions in scored:
            flows = _moved(contributions, typ.flow_index)
            if runtime.money.valued(state.currency):
                rank = runtime.scoring.severity(max(flows)).rank
            else:
                rank = runtime.scoring.without_rate.rank  # amounts in a currency without a rate say nothing of size
            entry = [min(100, score), rank, now, flows[0], flows[1], sorted([hit_id, w] for w, hit_id, _ in contributions)]
            name = typ.typology.value
            held = shown.get(name)
            if held is not None and entry_value(entry) <= entry_value(held):
                continue
            shown[name] = entry
            add_record(best.setdefault(name, []), entry, MAX_VERSIONS_KEPT)
        version = sum(map(entry_value, shown.values()))
        if any(v >= version and (v == version or t <= now) for v, t, _ in published):
            return None  # this version was published, or a higher one was reached at this point or earlier
        score = max(entry[E_SCORE] for entry in shown.values())
        decision = latest_decision(state, now)
        if decision is not None and holds_back(decision, now, score, runtime):
            return None  # an analyst found the account legitimate, and nothing much has changed since
        published.append([version, now, score])
        published.sort(key=_published_order)
        if len(published) > MAX_VERSIONS_KEPT:
            del published[0]
        return runtime.scoring.build_alert(state, bucket * self.episode, version, shown, score, now, decision)


def _published_order(published: list[int]) -> tuple[int, int]:
    return published[P_TIME], published[P_VERSION]


def _moved(contributions, window_index: int) -> tuple[int, int]:
    """Inflow and outflow of the typology's window, from the contributing hits: the largest any of
    them carries (each as of its own time). Every typology needs a money rule, whose hits carry them."""
    best = (0, 0)
    for _, _, hit in contributions:
        flows = hit[H_FLOWS]
        if flows:
            pair = (flows[2 * window_index], flows[2 * window_index + 1])
            if max(pair) > max(best):
                best = pair
    return best
