"""Severity (from the money moved through the account) and the alert an analyst reads."""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING

from pydantic import model_validator

from detectors.account_state import H_EVIDENCE, H_REASON, H_RULE, H_TIME, SENDER, BENEFICIARY, AccountState, Hit
from detectors.config_types import Money, StrictModel
from detectors.eventtime import to_datetime
from detectors.hashing import alert_id
from schemas import Alert, KeyFigures, RecommendedAction, RuleHit, Severity, Typology

if TYPE_CHECKING:
    from detectors.runtime import Runtime

MAX_EVIDENCE_PER_RULE = 50  # the contract's cap


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

    def build_alert(
        self,
        state: AccountState,
        typology: Typology,
        bucket: int,
        score: int,
        severity: Severity,
        contributions: list[tuple[int, Hit]],
        window_start: int,
        now: int,
        flows: tuple[int, int],
    ) -> Alert:
        money = self.runtime.money
        currency = state.currency or money.reference
        senders = beneficiaries = 0
        for first, last, flags, _ in state.counterparties.values():
            if last >= window_start and first <= now:
                senders += bool(flags & SENDER)
                beneficiaries += bool(flags & BENEFICIARY)
        rules = [
            RuleHit(
                rule_id=hit[H_RULE],
                reason=hit[H_REASON][:500],
                weight=weight,
                event_time=to_datetime(hit[H_TIME]),
                evidence_event_ids=list(hit[H_EVIDENCE][:MAX_EVIDENCE_PER_RULE]),
            )
            for weight, hit in sorted(contributions, key=lambda c: (c[1][H_TIME], c[1][H_RULE]))
        ]
        return Alert(
            alert_id=alert_id(state.account_id, typology.value, bucket),
            version=severity.rank,
            account_id=state.account_id,
            typology=typology,
            score=min(100, score),
            severity=severity,
            rules=rules,
            figures=KeyFigures(
                currency=currency,
                inflow=money.decimal(flows[0], currency),
                outflow=money.decimal(flows[1], currency),
                distinct_senders=senders,
                distinct_beneficiaries=beneficiaries,
            ),
            window_start=to_datetime(min(hit[H_TIME] for _, hit in contributions)),
            window_end=to_datetime(now),
            config_version=self.config_version,
            recommended_action=self.actions[severity],
        )
