"""The event contract: valid events round-trip, bad ones are rejected with the field named."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas import EVENT_ADAPTER, EVENT_TYPES, Channel, Method, Party, Payment, describe_validation_error, parse_event

ids = st.from_regex(r"[A-Za-z0-9._:-]{1,40}", fullmatch=True)
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e12"), places=2)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=8))])
)


def payment_dict(**overrides):
    event = {
        "type": "payment",
        "event_id": "p-1",
        "event_time": "2026-03-01T10:00:00+08:00",
        "debtor": {"account_id": "A-1", "customer_id": "C-1"},
        "creditor": {"account_id": "B-9", "bank_id": "OTHERBANK", "country": "CN"},
        "amount": "4830.50",
        "currency": "CNY",
        "channel": "mobile",
        "method": "transfer",
        "device_id": "dev-42",
        "ip": "203.0.113.7",
        "session_country": "CN",
    }
    event.update(overrides)
    return event


def error_for(raw: dict | str) -> str:
    text = raw if isinstance(raw, str) else json.dumps(raw)
    with pytest.raises(ValidationError) as info:
        parse_event(text)
    return describe_validation_error(info.value)


@given(event_id=ids, account=ids, amount=amounts, when=times)
def test_payment_round_trips_through_json(event_id, account, amount, when):
    event = Payment(
        type="payment",
        event_id=event_id,
        event_time=when,
        debtor=Party(account_id=account),
        creditor=Party(account_id="X"),
        amount=amount,
        currency="EUR",
        channel=Channel.ONLINE,
        method=Method.TRANSFER,
    )
    again = parse_event(event.model_dump_json())
    assert again == event
    assert again.amount == amount


def test_amount_is_exact_decimal():
    assert parse_event(json.dumps(payment_dict(amount="0.10"))).amount == Decimal("0.10")
    assert parse_event(json.dumps(payment_dict()).replace('"4830.50"', "4830.50")).amount == Decimal("4830.50")


@pytest.mark.parametrize("amount", ["0", "-5", "NaN", "Infinity", "abc", "1e16", "0.00001"])
def test_bad_amounts_are_rejected_naming_the_field(amount):
    assert "payment.amount" in error_for(payment_dict(amount=amount))


def test_json_nan_literal_amount_is_rejected():
    raw = json.dumps(payment_dict()).replace('"4830.50"', "NaN")
    assert "amount" in error_for(raw)


def test_unknown_field_is_rejected():
    assert "payment.surprise: Extra inputs are not permitted" in error_for(payment_dict(surprise=1))


def test_naive_timestamp_is_rejected():
    assert "payment.event_time" in error_for(payment_dict(event_time="2026-03-01T10:00:00"))


@pytest.mark.parametrize("when", ["1900-01-01T00:00:00Z", "9999-12-31T00:00:00Z"])
def test_implausible_timestamps_are_rejected(when):
    assert "payment.event_time" in error_for(payment_dict(event_time=when))


def test_wrong_types_are_rejected_not_coerced():
    login = {"type": "login", "event_id": "l", "event_time": "2026-03-01T10:00:00Z", "account_id": "A", "success": "yes"}
    assert "login.success" in error_for(login)
    opened = {
        "type": "account_opened", "event_id": "o", "event_time": "2026-03-01T10:00:00Z",
        "account_id": "A", "customer_id": "C", "kyc_country": "CN", "birth_year": "1990",
    }
    assert "account_opened.birth_year" in error_for(opened)


def test_unknown_event_type_is_rejected():
    assert "does not match any of the expected tags" in error_for({"type": "teleport", "event_id": "x"})


@pytest.mark.parametrize("bad_id", ["", "A 1", "acc\u200bount", "аccount", "x" * 129])
def test_identifiers_with_unicode_tricks_or_spaces_are_rejected(bad_id):
    assert "payment.debtor.account_id" in error_for(payment_dict(debtor={"account_id": bad_id}))


def test_lowercase_currency_is_rejected():
    assert "payment.currency" in error_for(payment_dict(currency="cny"))


def test_every_event_type_parses():
    base = {"event_id": "e", "event_time": "2026-03-01T10:00:00Z", "account_id": "A"}
    extra = {
        "payment": payment_dict(),
        "account_opened": {"customer_id": "C", "kyc_country": "CN"},
        "phone_changed": {"phone_id": "ph-hash-1", "registered_to_holder": False},
        "device_bound": {"device_id": "d"},
        "login": {"success": True, "country": "VN", "ip": "2001:db8::1"},
        "beneficiary_added": {"beneficiary_account_id": "B"},
        "limit_changed": {"new_limit": "50000", "currency": "CNY"},
    }
    for event_type in EVENT_TYPES:
        raw = extra["payment"] if event_type == "payment" else {**base, "type": event_type, **extra.get(event_type, {})}
        event = EVENT_ADAPTER.validate_json(json.dumps(raw))
        assert event.type == event_type
        assert parse_event(event.model_dump_json()) == event


def test_error_text_lists_several_fields_and_counts_the_rest():
    bad = payment_dict(amount="-1", currency="x", channel="fax", method="gold", status="lost", extra1=1, extra2=2)
    text = error_for(bad)
    assert text.count(";") == 5
    assert text.endswith("and 2 more")
