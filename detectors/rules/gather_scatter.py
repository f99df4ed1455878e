"""Gather-scatter hub: fan-in followed by fan-out through the same account."""

from __future__ import annotations

from detectors.account_state import H_EVIDENCE, H_FLOWS, H_REASON, H_RULE, H_TIME, AccountState, Hit
from detectors.config_types import Hours, RuleConfig
from detectors.eventtime import describe_duration, hours
from detectors.hashing import short_id
from detectors.rules.base import NORMAL


class GatherScatterConfig(RuleConfig):
    window_hours: Hours


class GatherScatter:
    """Built from other hits, not from payments: a fan-out hit with a fan-in hit at most the window
    before it. Hit id derives from the fan-out hit's, so re-deriving it is idempotent."""

    rule_id = "gather_scatter"

    def __init__(self, config: GatherScatterConfig, runtime) -> None:
        self.window = hours(config.window_hours)
        self.max_evidence = runtime.max_evidence

    def derive(self, state: AccountState, hit: Hit) -> list[tuple[str, Hit]]:
        """Gather-scatter hits that ``hit`` (a fan-in or fan-out hit just stored) makes true."""
        rule = hit[H_RULE]
        if rule == "fan_out":
            fan_outs = [(k, hit) for k, v in state.hits.items() if v is hit]
        elif rule == "fan_in":
            start, stop = hit[H_TIME], hit[H_TIME] + self.window
            fan_outs = [(k, v) for k, v in state.hits.items() if v[H_RULE] == "fan_out" and start <= v[H_TIME] <= stop]
        else:
            return []
        derived = []
        for fan_out_id, fan_out in fan_outs:
            time = fan_out[H_TIME]
            fan_ins = [v for v in state.hits.values() if v[H_RULE] == "fan_in" and time - self.window <= v[H_TIME] <= time]
            if not fan_ins:
                continue
            fan_in = min(fan_ins)
            reason = (
                f"collected then dispersed within {describe_duration(time - fan_in[H_TIME])}:"
                f" {fan_in[H_REASON]}; then {fan_out[H_REASON]}"
            )
            evidence = tuple(dict.fromkeys(fan_in[H_EVIDENCE] + fan_out[H_EVIDENCE]))[: self.max_evidence]
            derived.append((short_id(self.rule_id, fan_out_id), (time, self.rule_id, NORMAL, reason, evidence, fan_out[H_FLOWS])))
        return derived
