"""Every kind of bad input is classified with a reason and a message naming what is wrong."""

from __future__ import annotations

import orjson
import pytest

from schemas import Login
from stream.dead_letters import dead_letter
from stream.decoding import RejectReason, Rejection, decode_event

GOOD = orjson.dumps(
    {"type": "login", "event_id": "l-1", "event_time": "2026-03-01T10:00:00Z", "account_id": "A", "success": True}
)


def test_valid_event_decodes():
    assert isinstance(decode_event(GOOD, 10_000), Login)


@pytest.mark.parametrize(
    ("raw", "reason", "says"),
    [
        (b"", RejectReason.EMPTY, "no value"),
        (None, RejectReason.EMPTY, "no value"),
        (b"\xff\xfe\x00", RejectReason.UNDECODABLE, "not UTF-8"),
        (b'{"type": "login",', RejectReason.INVALID_JSON, "not JSON"),
        (b"[" * 5000 + b"]" * 5000, RejectReason.INVALID_JSON, "not JSON"),
        (b'"just a string"', RejectReason.NOT_AN_OBJECT, "JSON str"),
        (b'{"type": "teleport"}', RejectReason.UNKNOWN_TYPE, "'teleport'"),
        (b'{"no_type": 1}', RejectReason.UNKNOWN_TYPE, "None"),
        (b'{"type": [1]}', RejectReason.UNKNOWN_TYPE, "[1]"),
        (b'{"type": {"x": 1}}', RejectReason.UNKNOWN_TYPE, "{'x': 1}"),
        (GOOD.replace(b"true", b'"yes"'), RejectReason.SCHEMA_VIOLATION, "login.success"),
        (GOOD.replace(b"Z", b""), RejectReason.SCHEMA_VIOLATION, "login.event_time"),
    ],
)
def test_bad_input_is_classified(raw, reason, says):
    result = decode_event(raw, 10_000)
    assert isinstance(result, Rejection)
    assert result.reason is reason
    assert says in result.detail


def test_oversize_is_refused_before_parsing():
    result = decode_event(GOOD + b" " * 100, len(GOOD) + 10)
    assert result == Rejection(RejectReason.OVERSIZE, f"message is {len(GOOD) + 100} bytes, limit is {len(GOOD) + 10}")


def test_dead_letter_keeps_original_bytes_and_names_source():
    raw = b"\xff not json"
    letter = dead_letter(
        key=b"acct", value=raw, reason=RejectReason.UNDECODABLE, detail="x" * 5000, topic="payments", partition=3, offset=42
    )
    headers = dict(letter.headers)
    assert letter.value == raw and letter.key == b"acct"
    assert headers["mulewatch-reason"] == b"undecodable"
    assert headers["mulewatch-source-topic"] == b"payments"
    assert headers["mulewatch-source-partition"] == b"3"
    assert headers["mulewatch-source-offset"] == b"42"
    assert len(headers["mulewatch-error"]) == 2000
