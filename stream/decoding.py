"""Turn raw Kafka message bytes into a validated event, or a rejection that says why.

The classification is what the dead-letter topic and its metric use as ``reason``; the text names the
offending field so that an engineer can fix the producer without opening the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import orjson
from pydantic import ValidationError

from detectors.eventtime import to_datetime, to_ms
from detectors.messages import DispositionView
from schemas import (
    DISPOSITION_ADAPTER,
    EVENT_TYPES,
    Decision,
    Disposition,
    InputEvent,
    ReasonCode,
    describe_validation_error,
    parse_event,
)


class RejectReason(StrEnum):
    EMPTY = "empty"
    OVERSIZE = "oversize"
    UNDECODABLE = "undecodable"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_TYPE = "unknown_type"
    SCHEMA_VIOLATION = "schema_violation"
    LATE = "late"
    FUTURE_EVENT_TIME = "future_event_time"
    PROCESSING_ERROR = "processing_error"
    #: A disposition naming an alert the account's state does not hold.
    UNKNOWN_ALERT = "unknown_alert"


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: RejectReason
    detail: str


_KNOWN_TYPES = frozenset(EVENT_TYPES)


def event_time_ms(event: InputEvent) -> int:
    """An event's time in ms since the epoch, as the detectors see it."""
    return to_ms(event.event_time)


def future_rejection(event_ms: int, produced_ms: int, max_future_ms: int) -> Rejection | None:
    """A rejection when the event claims a time further ahead of its production than producers'
    clocks can drift: such a time is forged or broken, and applied it would make the account's (and
    the input partition's) clock jump ahead of every real event to come."""
    ahead = event_ms - produced_ms
    if ahead <= max_future_ms:
        return None
    return Rejection(
        RejectReason.FUTURE_EVENT_TIME,
        f"event_time is {ahead / 1000:,.0f} s ahead of when the event was produced; at most"
        f" {max_future_ms / 1000:,.0f} s is allowed (engine.max_future_seconds)",
    )


def decode_event(raw: bytes | None, max_bytes: int) -> InputEvent | Rejection:
    """Validate one message value; never raises for bad input."""
    refused = _size_rejection(raw, max_bytes)
    if refused is not None:
        return refused
    try:
        return parse_event(raw)
    except ValidationError as exc:
        return _classify(raw, exc, typed=True)


def decode_disposition(raw: bytes | None, max_bytes: int) -> Disposition | Rejection:
    """Validate one message of the dispositions topic (or line of a dispositions file); never raises."""
    refused = _size_rejection(raw, max_bytes)
    if refused is not None:
        return refused
    try:
        return DISPOSITION_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        return _classify(raw, exc, typed=False)


def _size_rejection(raw: bytes | None, max_bytes: int) -> Rejection | None:
    """An empty or oversize message, refused before any parsing."""
    if not raw:
        return Rejection(RejectReason.EMPTY, "message has no value")
    if len(raw) > max_bytes:
        return Rejection(RejectReason.OVERSIZE, f"message is {len(raw)} bytes, limit is {max_bytes}")
    return None


def _classify(raw: bytes, exc: ValidationError, typed: bool) -> Rejection:
    """Tell undecodable bytes, broken JSON and (for ``typed`` documents: events) unknown types apart
    from schema violations."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return Rejection(RejectReason.UNDECODABLE, f"value is not UTF-8: {err.reason} at byte {err.start}")
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as err:
        return Rejection(RejectReason.INVALID_JSON, f"value is not JSON: {err}")
    if not isinstance(document, dict):
        return Rejection(RejectReason.NOT_AN_OBJECT, f"value is a JSON {type(document).__name__}, not an object")
    event_type = document.get("type")
    if typed and (not isinstance(event_type, str) or event_type not in _KNOWN_TYPES):
        shown = repr(event_type)[:60]
        return Rejection(RejectReason.UNKNOWN_TYPE, f"type {shown} is not one of {', '.join(EVENT_TYPES)}")
    return Rejection(RejectReason.SCHEMA_VIOLATION, describe_validation_error(exc))


def disposition_bytes(view: DispositionView) -> bytes:
    """The decision a view carries, as a ``Disposition`` JSON document again: what the dead-letter
    topic gets for a decision refused after it left the dispositions topic (its own bytes are gone
    by then, every field of it is here)."""
    return Disposition(
        alert_id=view.alert_id, account_id=view.key, version=view.version, decision=Decision(view.decision),
        reason_code=ReasonCode(view.reason_code), decided_at=to_datetime(view.time),
    ).model_dump_json().encode()
