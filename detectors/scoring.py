"""Severity (from the money moved through the account) and the alert an analyst reads."""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING

from pydantic import model_validator

from detectors.account_state import (
    BENEFICIARY,
    D_ALERT,
    D_DECISION,
    D_REASON,
    D_SCORE,
    D_TIME,
    D_VERSION,
    E_HITS,
    E_INFLOW,
    E_OUTFLOW,
    E_RANK,
    E_SCORE,
    E_TIME,
    H_EVIDENCE,
    H_REASON,
    H_RULE,
    H_TIME,
    SENDER,
    AccountState,
)
from detectors.config_types import Money, StrictModel
from detectors.dispositions import why_back
from detectors.eventtime import to_datetime
from detectors.hashing import episode_alert_id
from schemas import Alert, Decision, KeyFigures, ReasonCode, RecommendedAction, RuleHit, Severity, Typology, TypologyScore
from schemas.alerts import PreviousDecision

if TYPE_CHECKING:
    from detectors.runtime import Runtime

MAX_EVIDENCE_PER_RULE = 50  # the contract's cap
#: Severity by rank (low 1 .. critical 4).
SEVERITIES = {severity.rank: severity for severity in Severity}


class SeverityConfig(StrictModel):
    """Amounts (reference currency) moved through the account within the typology's window.

    ``critical_amount`` defaults to RMB 200,000: the 2019 judicial interpretation's figure for
    "serious" settlement through a rented or sold account. Below ``medium_amount`` it is low.
    """

    medium_amount: Money
    high_amount: Money
    critical_amount: Money
    #: Severity of an alert on an account whose currency has no rate in money.rates: its amounts
    #: cannot be set against the ladder above (the alert says so in its figures' currency).
    without_rate: Severity
    actions: dict[Severity, RecommendedAction]

    @model_validator(mode="after")
    def _ordered_and_complete(self) -> SeverityConfig:
        if not self.medium_amount <= self.high_amount <= self.critical_amount:
            raise ValueError("severity amounts must satisfy medium_amount <= high_amount <= critical_amount")
        missing = [s.value for s in Severity if s not in self.actions]
        if missing:
            raise ValueError(f"actions is missing {', '.join(missing)}")
        return self


class Scoring:
    """Severity ladder and alert construction (the only place a pydantic Alert is built)."""

    def __init__(self, config: SeverityConfig, config_version: str, runtime: Runtime) -> None:
        self.ladder = [
            (round(config.critical_amount * 100), Severity.CRITICAL),
            (round(config.high_amount * 100), Severity.HIGH),
            (round(config.medium_amount * 100), Severity.MEDIUM),
        ]
        #: The ladder's floors lowest first: how many of them an amount reaches, plus one, is its rank.
        self.rank_floors = [floor for floor, _ in reversed(self.ladder)]
        self.actions = dict(config.actions)
        self.without_rate = config.without_rate
        self.config_version = config_version
        self.runtime = runtime

    def flow_ranks(self, flows: tuple[int, ...]) -> tuple[int, ...]:
        """The severity rank each typology window's money would give, (in, out) pair by pair: as
        ``severity(...).rank``, by bisecting the ascending floors (asked for every finding)."""
        floors = self.rank_floors
        return tuple(1 + bisect_right(floors, max(flows[i], flows[i + 1])) for i in range(0, len(flows), 2))

    def severity(self, moved: int) -> Severity:
        """Severity for an amount moved (minor units): the larger of inflow and outflow."""
        for floor, severity in self.ladder:
            if moved >= floor:
                return severity
        return Severity.LOW

    def build_alert(self, state: AccountState, episode_start: int, version: int, shown: dict[str, list], score: int,
                    now: int, decision: list | None) -> Alert:
        """The episode's alert at ``now``: ``shown`` maps each typology the episode has shown by then
        to its best point (see ``account_state.E_SCORE``), ``score`` is the highest of theirs, and
        ``decision`` the account's latest analyst decision before ``now`` (see ``account_state.D_TIME``)."""
        money = self.runtime.money
        currency = state.currency or money.reference
        ranked = sorted(shown.items(), key=lambda item: (-item[1][E_RANK], -item[1][E_SCORE], item[0]))
        strongest_name, strongest = ranked[0]
        typologies = [
            TypologyScore(typology=Typology(name), score=entry[E_SCORE], severity=SEVERITIES[entry[E_RANK]],
                          recommended_action=self.actions[SEVERITIES[entry[E_RANK]]])
            for name, entry in ranked
        ]
        # Every hit behind the typologies shown, once, with the highest weight it carries in any of
        # them; a hit aged out of the state since its typology's best point is no longer listed.
        weights: dict[str, int] = {}
        for _, entry in ranked:
            for hit_id, weight in entry[E_HITS]:
                if hit_id in state.hits and weight >= weights.get(hit_id, -1):
                    weights[hit_id] = weight
        hits = sorted((state.hits[hit_id], weight) for hit_id, weight in weights.items())
        rules = [
            RuleHit(
                rule_id=hit[H_RULE],
                reason=hit[H_REASON][:500],
                weight=min(100, weight),
                event_time=to_datetime(hit[H_TIME]),
                evidence_event_ids=list(hit[H_EVIDENCE][:MAX_EVIDENCE_PER_RULE]),
            )
            for hit, weight in hits
        ]
        best_at = strongest[E_TIME]
        since = best_at - self.runtime.typologies.windows[strongest_name]
        senders = beneficiaries = 0
        for first, last, flags, _ in state.counterparties.values():
            if last >= since and first <= best_at:
                senders += bool(flags & SENDER)
                beneficiaries += bool(flags & BENEFICIARY)
        severity = SEVERITIES[strongest[E_RANK]]
        return Alert(
            alert_id=episode_alert_id(state.account_id, episode_start),
            version=version,
            account_id=state.account_id,
            episode_start=to_datetime(episode_start),
            score=score,
            severity=severity,
            typologies=typologies,
            rules=rules,
            figures=KeyFigures(
                currency=currency,
                inflow=money.decimal(strongest[E_INFLOW], currency),
                outflow=money.decimal(strongest[E_OUTFLOW], currency),
                distinct_senders=senders,
                distinct_beneficiaries=beneficiaries,
            ),
            window_start=to_datetime(hits[0][0][H_TIME]),
            window_end=to_datetime(now),
            config_version=self.config_version,
            recommended_action=self.actions[severity],
            previous_decision=None if decision is None else self._previous(decision, score, now),
        )

    def _previous(self, decision: list, score: int, now: int) -> PreviousDecision:
        return PreviousDecision(alert_id=decision[D_ALERT], version=decision[D_VERSION],
                                decision=Decision(decision[D_DECISION]), reason_code=ReasonCode(decision[D_REASON]),
                                decided_at=to_datetime(decision[D_TIME]), score_then=decision[D_SCORE],
                                note=why_back(decision, now, score, self.runtime))
