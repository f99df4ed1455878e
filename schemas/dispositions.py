"""Dispositions: an analyst's decision on an alert, written back by case management.

Case management writes one to the dispositions topic (keyed by account id) when a case is decided.
The worker applies it to the account's state: a legitimate account's alerts are held back for a
while, a confirmed mule's counterparties learn of it, and every decision counts towards the live
precision of the rules and typologies the alert showed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from schemas.common import Contract, EventTime, Identifier

DISPOSITION_SCHEMA_VERSION = "1.0.0"


class Decision(StrEnum):
    CONFIRMED_MULE = "confirmed_mule"
    LEGITIMATE = "legitimate"
    INCONCLUSIVE = "inconclusive"


class ReasonCode(StrEnum):
    """Why the analyst decided so: a short fixed list, so decisions can be counted and compared."""

    #: confirmed_mule
    HOLDER_ADMITTED = "holder_admitted"
    VICTIM_REPORT = "victim_report"
    LAW_ENFORCEMENT_REQUEST = "law_enforcement_request"
    MONEY_TRAIL_CONFIRMED = "money_trail_confirmed"
    #: legitimate
    PAYROLL_OR_BUSINESS = "payroll_or_business"
    OWN_OR_FAMILY_ACCOUNTS = "own_or_family_accounts"
    CUSTOMER_EXPLAINED = "customer_explained"
    #: inconclusive
    CUSTOMER_UNREACHABLE = "customer_unreachable"
    INSUFFICIENT_EVIDENCE = "insufficient_evidence"
    #: any decision
    OTHER = "other"


class Disposition(Contract):
    """An analyst's decision on one version of an alert.

    ``decided_at`` is the event time the worker applies it at (and replay, from a file, in the same
    order as events): alerts at points after it see the decision, points before it do not.
    """

    schema_version: Literal["1.0.0"] = DISPOSITION_SCHEMA_VERSION
    alert_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    account_id: Identifier
    version: Annotated[int, Field(ge=1)]
    decision: Decision
    reason_code: ReasonCode
    decided_at: EventTime


DISPOSITION_ADAPTER: TypeAdapter[Disposition] = TypeAdapter(Disposition)
