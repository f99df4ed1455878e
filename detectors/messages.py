"""Messages between the worker's partitions, and their bytes (orjson arrays, one tag per kind).

Account partitions receive ``AccountMessage`` s: a payment seen from one own account, an account
change, a hit reached in another partition (a shared device or phone, money traced through
accounts, a confirmed mule's counterparty), a token saying that money it received had been
forwarded, or an analyst's decision on one of its alerts. Device and phone partitions
receive ``IdentifierMessage`` s: "this account of this customer used this identifier at this time".
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

import orjson


@dataclass(slots=True)
class AccountMessage:
    """Anything applied to one account's state; ``key`` is the account id."""

    TAG: ClassVar[str] = ""
    key: str
    event_id: str
    time: int  # event time, ms since the epoch


@dataclass(slots=True)
class PaymentView(AccountMessage):
    """A completed payment seen from one of the bank's own accounts."""

    TAG: ClassVar[str] = "P"
    outgoing: bool
    amount: int  # reference-currency minor units; the currency's own minor units if it has no rate
    currency: str
    valued: bool  # the currency has a configured rate (``amount`` is in reference units)
    counterparty: str  # the other account: its id, or "bank|account" for another bank's account
    counterparty_customer: str | None
    own_transfer: bool  # both sides name the same customer: money between the holder's own accounts
    customer_id: str | None  # this account's customer, when the feed names it
    device_id: str | None  # session device (outgoing side only)
    country: str | None  # session country (outgoing side only)
    method: str = "transfer"  # the payment method (schemas.Method value): card, transfer, cash_out, ...


@dataclass(slots=True)
class AccountChangeView(AccountMessage):
    """An account change (opened, phone changed, login, ...); unused fields are None."""

    TAG: ClassVar[str] = "C"
    change: str  # the event type, e.g. "login"
    customer_id: str | None
    country: str | None  # KYC country (account_opened, kyc_updated) or login country
    device_id: str | None
    phone_id: str | None
    success: bool | None  # login succeeded
    registered: bool | None  # new phone number is real-name registered to the holder
    beneficiary: str | None  # counterparty key of an added beneficiary


@dataclass(slots=True)
class CrossHit(AccountMessage):
    """A verdict about this account reached in another partition: a device or phone shared across
    customers, or money traced through this account and others (see ``network``)."""

    TAG: ClassVar[str] = "H"
    hit_id: str
    rule: str
    level: int  # 1 normal, 2 the rule's strong form
    reason: str
    evidence: tuple[str, ...]
    flows: tuple[int, ...] = ()  # what the hit carries as money moved (see account_state.H_FLOWS)
    factor: float = 1.0  # share of its rule's weight the hit carries (see account_state.H_FACTOR)


@dataclass(slots=True)
class FlowToken(AccountMessage):
    """Money this account received had been passed on to it: ``sender`` forwarded money it had itself
    received, in the payment ``event_id`` at ``time``, and the money is traced back to ``origin``
    along ``path`` (from the origin's first receiver to ``sender``).

    A token never changes once sent. When money reached ``sender`` by several paths, each gives a
    token of its own (``token_id`` tells them apart); so the tokens an account holds only ever grow,
    whatever order they arrive in, and so do the verdicts drawn from them.
    """

    TAG: ClassVar[str] = "F"
    token_id: str
    sender: str
    hops: int  # accounts that forwarded the money so far (len(path))
    amount: int  # the forwarded payment's comparable minor units
    origin: str
    path: tuple[str, ...]


@dataclass(slots=True)
class DispositionView(AccountMessage):
    """An analyst's decision on one of this account's alerts (``schemas.Disposition``); ``time`` is
    when it was decided, ``event_id`` a digest of the whole decision."""

    TAG: ClassVar[str] = "D"
    alert_id: str
    version: int
    decision: str  # schemas.Decision value
    reason_code: str  # schemas.ReasonCode value


@dataclass(slots=True)
class IdentifierMessage:
    """An account used a device or phone; ``key`` is the identifier value, ``kind`` device|phone."""

    TAG: ClassVar[str] = "I"
    key: str
    kind: str
    account_id: str
    customer_id: str
    event_id: str
    time: int


Message = AccountMessage | IdentifierMessage

_CLASSES = {cls.TAG: cls for cls in (PaymentView, AccountChangeView, CrossHit, FlowToken, DispositionView, IdentifierMessage)}
_FIELDS = {cls: tuple(f.name for f in fields(cls)) for cls in _CLASSES.values()}


def encode_message(message: Message) -> bytes:
    cls = type(message)
    return orjson.dumps([cls.TAG, *(getattr(message, name) for name in _FIELDS[cls])])


def decode_message(data: bytes) -> Message:
    """Inverse of ``encode_message``; raises ValueError on bytes that are not one of our messages."""
    try:
        tag, *values = orjson.loads(data)
        cls = _CLASSES[tag]
    except (orjson.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a detector message: {data[:80]!r}") from exc
    if len(values) != len(_FIELDS[cls]):
        raise ValueError(f"{cls.__name__} message has {len(values)} fields, expected {len(_FIELDS[cls])}")
    if cls is CrossHit:
        values[-3], values[-2] = tuple(values[-3]), tuple(values[-2])
    elif cls is FlowToken:
        values[-1] = tuple(values[-1])
    return cls(*values)
