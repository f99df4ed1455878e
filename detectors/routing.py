"""Turn one input event into the messages for the bank's own accounts it concerns.

Only the bank's own accounts (a party without ``bank_id``) get state. A payment between two own
accounts yields the debtor's outgoing view and the creditor's incoming view; a payment from an
account to itself yields one view, marked as an own transfer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from detectors.eventtime import to_ms
from detectors.hashing import short_id
from detectors.messages import AccountChangeView, AccountMessage, DispositionView, PaymentView
from schemas import Disposition, InputEvent, Method, Party, Payment

if TYPE_CHECKING:
    from detectors.config import DetectorConfig


#: A method's value by member: a dict lookup, where ``Method.value`` is a slow enum descriptor.
_METHODS = {method: method.value for method in Method}


def counterparty_key(account_id: str, bank_id: str | None) -> str:
    """Key of an account seen from another: '|' cannot occur in identifiers, so keys never collide."""
    return account_id if bank_id is None else f"{bank_id}|{account_id}"


def route_event(event: InputEvent, config: DetectorConfig) -> list[AccountMessage]:
    """One message per own account concerned; payments with an uncounted status yield none."""
    if type(event) is Payment:
        return _route_payment(event, config)
    fields = event.__dict__  # plain dict access: getattr with a default is slow on pydantic models
    bank = fields.get("beneficiary_bank_id")
    beneficiary = fields.get("beneficiary_account_id")
    return [
        AccountChangeView(
            event.account_id,
            event.event_id,
            to_ms(event.event_time),
            event.type,
            event.customer_id,
            fields.get("kyc_country") or fields.get("country"),
            fields.get("device_id"),
            fields.get("phone_id"),
            fields.get("success"),
            fields.get("registered_to_holder"),
            None if beneficiary is None else counterparty_key(beneficiary, bank),
        )
    ]


def route_disposition(disposition: Disposition) -> DispositionView:
    """The message that applies an analyst's decision to its account. Its id is a digest of the whole
    decision, so the same decision sent twice is one, and a changed mind is another."""
    decided = to_ms(disposition.decided_at)
    digest = short_id(disposition.alert_id, disposition.version, disposition.decision.value,
                      disposition.reason_code.value, decided)
    return DispositionView(disposition.account_id, f"disposition:{digest}", decided, disposition.alert_id,
                           disposition.version, disposition.decision.value, disposition.reason_code.value)


def _route_payment(event: Payment, config: DetectorConfig) -> list[AccountMessage]:
    runtime = config.runtime
    if event.status not in runtime.counted_statuses:
        return []
    debtor: Party = event.debtor
    creditor: Party = event.creditor
    debtor_own = debtor.bank_id is None
    creditor_own = creditor.bank_id is None
    if not (debtor_own or creditor_own):
        return []
    time = to_ms(event.event_time)
    amount, valued = runtime.money.to_minor(event.amount, event.currency)
    self_transfer = debtor_own and creditor_own and debtor.account_id == creditor.account_id
    own = self_transfer or (debtor.customer_id is not None and debtor.customer_id == creditor.customer_id)
    views: list[AccountMessage] = []
    if debtor_own:
        views.append(
            PaymentView(
                debtor.account_id, event.event_id, time, True, amount, event.currency, valued,
                counterparty_key(creditor.account_id, creditor.bank_id), creditor.customer_id, own,
                debtor.customer_id, event.device_id, event.session_country, _METHODS[event.method],
            )
        )
    if creditor_own and not self_transfer:
        views.append(
            PaymentView(
                creditor.account_id, event.event_id, time, False, amount, event.currency, valued,
                counterparty_key(debtor.account_id, debtor.bank_id), debtor.customer_id, own,
                creditor.customer_id, None, None, _METHODS[event.method],
            )
        )
    return views
