"""Input events: payments and account changes, one discriminated union on ``type``.

One JSON object per event; a bank's whole history fits in one JSONL file of this union. Optional
fields are optional because real feeds often lack them: a rule whose inputs are missing stays silent.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Union

from pydantic import Field, IPvAnyAddress, TypeAdapter, ValidationError

from schemas.common import Amount, Contract, Country, Currency, EventTime, Identifier

EVENTS_SCHEMA_VERSION = "1.0.0"


class Channel(StrEnum):
    MOBILE = "mobile"
    ONLINE = "online"
    BRANCH = "branch"
    ATM = "atm"
    CARD = "card"
    API = "api"
    OTHER = "other"


class Method(StrEnum):
    TRANSFER = "transfer"
    CASH_IN = "cash_in"
    CASH_OUT = "cash_out"
    CARD = "card"
    WALLET = "wallet"
    OTHER = "other"


class PaymentStatus(StrEnum):
    COMPLETED = "completed"
    PENDING = "pending"
    FAILED = "failed"
    REVERSED = "reversed"


class Party(Contract):
    """One side of a payment. The bank id is absent for the bank's own accounts."""

    account_id: Identifier
    bank_id: Identifier | None = None
    customer_id: Identifier | None = None
    country: Country | None = None


class _Event(Contract):
    event_id: Identifier
    event_time: EventTime


class Payment(_Event):
    """Money moved from the debtor's account to the creditor's account."""

    type: Literal["payment"]
    debtor: Party
    creditor: Party
    amount: Amount
    currency: Currency
    channel: Channel
    method: Method
    device_id: Identifier | None = None
    ip: IPvAnyAddress | None = None
    session_country: Country | None = None
    status: PaymentStatus = PaymentStatus.COMPLETED


class _AccountEvent(_Event):
    account_id: Identifier
    customer_id: Identifier | None = None


class AccountOpened(_AccountEvent):
    type: Literal["account_opened"]
    customer_id: Identifier
    kyc_country: Country
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    phone_id: Identifier | None = None


class AccountClosed(_AccountEvent):
    type: Literal["account_closed"]


class PhoneChanged(_AccountEvent):
    """The phone number bound to the account changed; the number is an opaque id or hash."""

    type: Literal["phone_changed"]
    phone_id: Identifier
    registered_to_holder: bool | None = None


class EmailChanged(_AccountEvent):
    type: Literal["email_changed"]
    email_id: Identifier | None = None


class DeviceBound(_AccountEvent):
    type: Literal["device_bound"]
    device_id: Identifier


class Login(_AccountEvent):
    type: Literal["login"]
    success: bool
    device_id: Identifier | None = None
    ip: IPvAnyAddress | None = None
    country: Country | None = None


class PasswordReset(_AccountEvent):
    type: Literal["password_reset"]


class BeneficiaryAdded(_AccountEvent):
    type: Literal["beneficiary_added"]
    beneficiary_account_id: Identifier
    beneficiary_bank_id: Identifier | None = None


class LimitChanged(_AccountEvent):
    type: Literal["limit_changed"]
    new_limit: Amount | None = None
    currency: Currency | None = None


class KycUpdated(_AccountEvent):
    type: Literal["kyc_updated"]
    kyc_country: Country | None = None


AccountChange = Union[
    AccountOpened,
    AccountClosed,
    PhoneChanged,
    EmailChanged,
    DeviceBound,
    Login,
    PasswordReset,
    BeneficiaryAdded,
    LimitChanged,
    KycUpdated,
]

InputEvent = Annotated[Union[Payment, AccountChange], Field(discriminator="type")]

#: Validates one event from JSON bytes or a dict; raises pydantic.ValidationError naming the field.
EVENT_ADAPTER: TypeAdapter[InputEvent] = TypeAdapter(InputEvent)

EVENT_TYPES: tuple[str, ...] = (
    "payment",
    "account_opened",
    "account_closed",
    "phone_changed",
    "email_changed",
    "device_bound",
    "login",
    "password_reset",
    "beneficiary_added",
    "limit_changed",
    "kyc_updated",
)


def parse_event(raw: bytes | str) -> InputEvent:
    """Parse and validate one JSON-encoded event."""
    return EVENT_ADAPTER.validate_json(raw)


def event_account_ids(event: InputEvent) -> tuple[str, ...]:
    """The accounts an event concerns: both sides of a payment, else the one account."""
    if isinstance(event, Payment):
        return (event.debtor.account_id, event.creditor.account_id)
    return (event.account_id,)


def describe_validation_error(exc: ValidationError, limit: int = 5) -> str:
    """One line naming each wrong field and what is wrong with it, for dead letters and rejects."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "event"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)
