"""Repeated pass-through: money passed through the account again, days after an earlier episode."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from detectors.account_state import H_EVIDENCE, H_FLOWS, H_REASON, H_RULE, H_TIME, AccountState, Hit
from detectors.config_types import Days, Hours, RuleConfig
from detectors.eventtime import days, describe_duration, hours
from detectors.hashing import short_id
from detectors.rules.base import NORMAL


class RepeatedPassThroughConfig(RuleConfig):
    #: Two pass-through findings at most this far apart ...
    window_days: Days
    #: ... and at least this far apart (separate episodes, not two outflows of one).
    min_gap_hours: Annotated[Hours, Field(ge=1)]


class RepeatedPassThrough:
    """Built from pass-through hits, like gather-scatter: a pass-through hit with another one between
    ``window_days`` and ``min_gap_hours`` before it. A lent account passes a friend's or a boss's
    money through on several separate occasions; one top-up passed on to a landlord is a month apart
    from the next. The hit id derives from the later hit's, so re-deriving it is idempotent, and it is
    re-derived whenever a pass-through hit it may depend on is stored (whatever the order)."""

    rule_id = "repeated_pass_through"
    source = "pass_through"

    def __init__(self, config: RepeatedPassThroughConfig, runtime) -> None:
        self.window = days(config.window_days)
        self.gap = hours(config.min_gap_hours)
        self.max_evidence = runtime.max_evidence

    def derive(self, state: AccountState, hit: Hit) -> list[tuple[str, Hit]]:
        if hit[H_RULE] != self.source:
            return []
        passes = [(v, k) for k, v in state.hits.items() if v[H_RULE] == self.source]
        if len(passes) < 2:
            return []
        time = hit[H_TIME]
        later = [(v, k) for v, k in passes if v is hit or time + self.gap <= v[H_TIME] <= time + self.window]
        derived = []
        for current, current_id in later:
            now = current[H_TIME]
            earlier = [v for v, _ in passes if now - self.window <= v[H_TIME] <= now - self.gap]
            if not earlier:
                continue
            first = min(earlier)
            reason = (
                f"pass-through again {describe_duration(now - first[H_TIME])} after an earlier one:"
                f" {current[H_REASON]}; earlier {first[H_REASON]}"
            )
            evidence = tuple(dict.fromkeys(current[H_EVIDENCE] + first[H_EVIDENCE]))[: self.max_evidence]
            derived.append((short_id(self.rule_id, current_id), (now, self.rule_id, NORMAL, reason, evidence, current[H_FLOWS])))
        return derived
