"""Routing events to own accounts, and message bytes."""

from __future__ import annotations

import pytest
from detector_events import at, change, login, opened, pay, pay_in, pay_out
from hypothesis import given
from hypothesis import strategies as st

from detectors import (
    AccountChangeView,
    CrossHit,
    IdentifierMessage,
    PaymentView,
    decode_message,
    encode_message,
    route_event,
)


def test_payment_between_own_accounts_gives_both_views(config):
    views = route_event(pay("e1", at(), "A", "B", "100.50"), config)
    assert [(v.key, v.outgoing) for v in views] == [("A", True), ("B", False)]
    assert all(v.amount == 10050 and v.time == views[0].time for v in views)
    assert views[0].counterparty == "B" and views[1].counterparty == "A"


def test_other_bank_side_gets_no_state(config):
    assert [v.key for v in route_event(pay_in("e1", at(), "A", "X", 5), config)] == ["A"]
    assert route_event(pay_out("e2", at(), "A", "Y", 5), config)[0].counterparty == "BANKX|Y"
    assert route_event(pay("e3", at(), "X", "Y", 5, debtor_bank="B1", creditor_bank="B2"), config) == []


def test_uncounted_status_and_unknown_currency(config):
    assert route_event(pay("e1", at(), "A", "B", 5, status="failed"), config) == []
    (view, _) = route_event(pay("e2", at(), "A", "B", 5, currency="XAF"), config)
    assert (view.amount, view.valued) == (500, False)  # its own minor units, never zero
    (view, _) = route_event(pay("e3", at(), "A", "B", 10, currency="USD"), config)
    assert (view.amount, view.valued) == (7200, True)


def test_own_transfers_are_marked(config):
    (view,) = route_event(pay("e1", at(), "A", "A", 5), config)
    assert view.own_transfer
    views = route_event(pay("e2", at(), "A", "B", 5, debtor_customer="C1", creditor_customer="C1"), config)
    assert all(v.own_transfer for v in views)
    views = route_event(pay("e3", at(), "A", "B", 5, debtor_customer="C1", creditor_customer="C2"), config)
    assert not any(v.own_transfer for v in views)


def test_account_change_fields(config):
    (view,) = route_event(login("l1", at(), "A", device="D1", country="US"), config)
    assert (view.change, view.device_id, view.country, view.success) == ("login", "D1", "US", True)
    (view,) = route_event(opened("o1", at(), "A", "C1", kyc="HK", phone="P1"), config)
    assert (view.customer_id, view.country, view.phone_id) == ("C1", "HK", "P1")
    (view,) = route_event(
        change("beneficiary_added", "b1", at(), "A", beneficiary_account_id="Z", beneficiary_bank_id="BK"), config
    )
    assert view.beneficiary == "BK|Z"
    (view,) = route_event(change("phone_changed", "p1", at(), "A", phone_id="P2", registered_to_holder=False), config)
    assert view.registered is False


text = st.text(alphabet="abcXYZ019-:|", min_size=1, max_size=12)
opt = st.none() | text
messages = st.one_of(
    st.builds(PaymentView, text, text, st.integers(0, 2**52), st.booleans(), st.integers(0, 10**17), text, text,
              opt, st.booleans(), opt, opt, opt),
    st.builds(AccountChangeView, text, text, st.integers(0, 2**52), text, opt, opt, opt, opt,
              st.none() | st.booleans(), st.none() | st.booleans(), opt),
    st.builds(CrossHit, text, text, st.integers(0, 2**52), text, text, st.sampled_from([1, 2]), st.text(max_size=50),
              st.lists(text, max_size=5).map(tuple)),
    st.builds(IdentifierMessage, text, st.sampled_from(["device", "phone"]), text, text, text, st.integers(0, 2**52)),
)


@given(messages)
def test_messages_round_trip_exactly(message):
    decoded = decode_message(encode_message(message))
    assert decoded == message and type(decoded) is type(message)


@pytest.mark.parametrize("data", [b"", b"{}", b'["Q", 1]', b'["P", "a"]', b"\xff"])
def test_foreign_bytes_are_rejected(data):
    with pytest.raises(ValueError):
        decode_message(data)
