"""Builds schema events as JSON bytes and files them into per-day buffers by event time.

An event is kept as ``(event_time, is_payment, key, line)``, the line as ``str``: orjson's bytes keep
a 4 KB buffer each, ten times the line, so a day of them would not stay small. The key is the account id the worker
partitions by (a payment: the debtor if it is an own account, else the creditor). Events dated in a
later day than the one being generated wait in that day's buffer, so a burst that crosses midnight
is still written in time order; an event dated before the current day is a generator bug.

In payments-only mode (what many banks' feeds hold) the emitter drops account events and the device,
IP and session country of payments as they are emitted, after every random draw: the same seed gives
the same accounts, labels and money, and the same event ids for the payments.
"""

from __future__ import annotations

from typing import NamedTuple

import orjson

from stream.backtest.simulation.clock import DAY, iso

_dumps = orjson.dumps


class Record(NamedTuple):
    t: int
    is_payment: bool
    key: str
    line: str  # the JSON object, ASCII


def party(account_id: str, bank_id: str | None = None, customer_id: str | None = None, country: str | None = None) -> dict:
    p = {"account_id": account_id}
    if bank_id is not None:
        p["bank_id"] = bank_id
    if customer_id is not None:
        p["customer_id"] = customer_id
    if country is not None:
        p["country"] = country
    return p


def money(amount: float) -> str:
    """A positive amount with two decimals, as a JSON string (exact for the Decimal contract)."""
    return f"{max(amount, 0.01):.2f}"


class Emitter:
    """Collects the events of the day being generated (and early ones of the following days)."""

    def __init__(self, start_t: int, currency: str, payments_only: bool = False) -> None:
        self.start_t = start_t
        self.currency = currency
        self.payments_only = payments_only
        self.buffers: dict[int, list[Record]] = {}
        self.day = 0
        self.day_start = start_t
        self._prefix = "e0-"
        self._seq = 0

    def begin_day(self, day: int) -> None:
        self.day = day
        self.day_start = self.start_t + day * DAY
        self._prefix = f"e{day}-"
        self._seq = 0

    def take_day(self, day: int) -> list[Record]:
        """The events dated in ``day``, in time order (stable: generation order breaks ties)."""
        records = self.buffers.pop(day, [])
        records.sort(key=_time_of)
        return records

    def next_id(self) -> str:
        self._seq += 1
        return f"{self._prefix}{self._seq}"

    def _put(self, t: int, is_payment: bool, key: str, event: dict) -> None:
        record = Record(t, is_payment, key, _dumps(event).decode())
        if t < self.day_start:
            raise AssertionError(f"event at {iso(t)} generated on day {self.day}: simulator bug")
        day = (t - self.start_t) // DAY
        buf = self.buffers.get(day)
        if buf is None:
            buf = self.buffers[day] = []
        buf.append(record)

    def payment(
        self,
        t: int,
        debtor: dict,
        creditor: dict,
        amount: float,
        channel: str,
        method: str,
        device_id: str | None = None,
        ip: str | None = None,
        session_country: str | None = None,
        status: str | None = None,
    ) -> None:
        event = {
            "event_id": self.next_id(),
            "event_time": iso(t),
            "type": "payment",
            "debtor": debtor,
            "creditor": creditor,
            "amount": money(amount),
            "currency": self.currency,
            "channel": channel,
            "method": method,
        }
        if not self.payments_only:
            if device_id is not None:
                event["device_id"] = device_id
            if ip is not None:
                event["ip"] = ip
            if session_country is not None:
                event["session_country"] = session_country
        if status is not None:
            event["status"] = status
        key = debtor["account_id"] if "bank_id" not in debtor else creditor["account_id"]
        self._put(t, True, key, event)

    def account_event(self, t: int, kind: str, account_id: str, customer_id: str | None, **fields) -> None:
        event_id = self.next_id()  # taken in both modes, so a payment's id does not depend on the mode
        if self.payments_only:
            return
        event = {"event_id": event_id, "event_time": iso(t), "type": kind, "account_id": account_id}
        if customer_id is not None:
            event["customer_id"] = customer_id
        for name, value in fields.items():
            if value is not None:
                event[name] = value
        self._put(t, False, account_id, event)


def _time_of(record: Record) -> int:
    return record.t
