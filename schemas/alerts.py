"""Alerts published to case management: what fired, why, on which events, and how serious."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from schemas.common import Contract, Currency, EventTime, Identifier
from schemas.dispositions import Decision, ReasonCode

ALERT_SCHEMA_VERSION = "2.0.0"


class Typology(StrEnum):
    ACCOUNT_SOLD = "account_sold"
    ACCOUNT_RENTED = "account_rented"
    ACCOUNT_LENT = "account_lent"
    COLLECTION_ACCOUNT = "collection_account"
    PASS_THROUGH_MULE = "pass_through_mule"
    ACCOUNT_FARM = "account_farm"
    DORMANT_OR_NEW_ACCOUNT_ABUSE = "dormant_or_new_account_abuse"
    #: Since 1.1.0: money moved the way laundering moves it (split transfers, chains and cycles of
    #: accounts, scatter-gather), read from payments alone.
    LAUNDERING_PATTERN = "laundering_pattern"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


class RecommendedAction(StrEnum):
    MONITOR = "monitor"
    REVIEW = "review"
    RESTRICT_OUTGOING = "restrict_outgoing"
    FREEZE_AND_REPORT = "freeze_and_report"


class RuleHit(Contract):
    """One rule that fired: the reason an analyst reads, its weight and the events behind it."""

    rule_id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    weight: Annotated[int, Field(ge=0, le=100)]
    event_time: EventTime
    evidence_event_ids: Annotated[list[Identifier], Field(max_length=50)]


class KeyFigures(Contract):
    """Money and counterparties in the strongest typology's window, in the account's main currency."""

    currency: Currency
    inflow: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
    outflow: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
    distinct_senders: Annotated[int, Field(ge=0)]
    distinct_beneficiaries: Annotated[int, Field(ge=0)]


class TypologyScore(Contract):
    """One typology that scored in the episode: its best score and the severity of the money moved in
    its window at that point, with the action that severity calls for."""

    typology: Typology
    score: Annotated[int, Field(ge=0, le=100)]
    severity: Severity
    recommended_action: RecommendedAction


class PreviousDecision(Contract):
    """The analyst's latest decision on this account before this version, and what it means for it:
    an account found legitimate comes back only when its score rose by the configured margin
    within the quiet days, or once they are over; ``note`` says which."""

    alert_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    version: Annotated[int, Field(ge=1)]
    decision: Decision
    reason_code: ReasonCode
    decided_at: EventTime
    #: The score of the version decided on.
    score_then: Annotated[int, Field(ge=0, le=100)]
    note: Annotated[str, Field(min_length=1, max_length=300)]


class Alert(Contract):
    """One account suspected of being rented, lent, sold or used to launder, for one episode.

    Since 2.0.0 there is one alert per account and episode, carrying every typology that scored in it
    (``typologies``, strongest first: higher severity, then higher score). ``alert_id`` is a
    deterministic function of account and episode (``episode_start``), so a redelivered event never
    makes a second alert. A new ``version`` is published when a typology's score or severity rises or
    a typology joins, and only then; the version is a number that grows with that content (not a
    count: 273 may follow 172), so consumers keep the highest version they have seen.
    """

    schema_version: Literal["2.0.0"] = ALERT_SCHEMA_VERSION
    alert_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    version: Annotated[int, Field(ge=1)]
    account_id: Identifier
    episode_start: EventTime
    #: The highest score among ``typologies``: the quantity to rank by for a fixed daily budget.
    score: Annotated[int, Field(ge=0, le=100)]
    #: The strongest typology's severity (the highest of them).
    severity: Severity
    typologies: Annotated[list[TypologyScore], Field(min_length=1, max_length=len(Typology))]
    rules: Annotated[list[RuleHit], Field(min_length=1)]
    figures: KeyFigures
    window_start: EventTime
    window_end: EventTime
    config_version: Annotated[str, Field(min_length=1, max_length=64)]
    #: The strongest typology's action.
    recommended_action: RecommendedAction
    #: Set when an analyst decided on one of the account's alerts before (dispositions topic).
    previous_decision: PreviousDecision | None = None


ALERT_ADAPTER: TypeAdapter[Alert] = TypeAdapter(Alert)
