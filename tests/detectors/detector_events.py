"""Small builders of contract events for the detector tests (validated through the real schema)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson

from schemas import InputEvent, parse_event

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)
OTHER_BANK = "BANKX"


def at(days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _event(body: dict) -> InputEvent:
    return parse_event(orjson.dumps(body, default=str))


def _party(account: str, bank: str | None, customer: str | None) -> dict:
    party: dict = {"account_id": account}
    if bank is not None:
        party["bank_id"] = bank
    if customer is not None:
        party["customer_id"] = customer
    return party


def pay(
    event_id: str,
    when: datetime,
    debtor: str,
    creditor: str,
    amount: float | str,
    *,
    debtor_bank: str | None = None,
    creditor_bank: str | None = None,
    debtor_customer: str | None = None,
    creditor_customer: str | None = None,
    currency: str = "CNY",
    device: str | None = None,
    country: str | None = None,
    status: str = "completed",
    method: str = "transfer",
) -> InputEvent:
    body = {
        "type": "payment", "event_id": event_id, "event_time": when.isoformat(),
        "debtor": _party(debtor, debtor_bank, debtor_customer),
        "creditor": _party(creditor, creditor_bank, creditor_customer),
        "amount": str(amount), "currency": currency, "channel": "card" if method == "card" else "mobile", "method": method, "status": status,
    }
    if device is not None:
        body["device_id"] = device
    if country is not None:
        body["session_country"] = country
    return _event(body)


def pay_in(event_id: str, when: datetime, account: str, sender: str, amount: float | str, **kw) -> InputEvent:
    """Another bank's account pays one of ours."""
    return pay(event_id, when, sender, account, amount, debtor_bank=OTHER_BANK, **kw)


def pay_out(event_id: str, when: datetime, account: str, payee: str, amount: float | str, **kw) -> InputEvent:
    """One of ours pays another bank's account."""
    return pay(event_id, when, account, payee, amount, creditor_bank=OTHER_BANK, **kw)


def change(event_type: str, event_id: str, when: datetime, account: str, **fields) -> InputEvent:
    body = {"type": event_type, "event_id": event_id, "event_time": when.isoformat(), "account_id": account}
    body.update({k: v for k, v in fields.items() if v is not None})
    return _event(body)


def opened(event_id: str, when: datetime, account: str, customer: str, kyc: str = "CN", phone: str | None = None):
    return change("account_opened", event_id, when, account, customer_id=customer, kyc_country=kyc, phone_id=phone)


def login(event_id: str, when: datetime, account: str, device: str | None = None, country: str | None = None,
          success: bool = True):
    return change("login", event_id, when, account, device_id=device, country=country, success=success)
