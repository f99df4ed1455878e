"""Dead letters: the original bytes plus where they came from and why they were refused.

The value is kept byte for byte so that a fixed producer's data can be replayed; the metadata rides
in headers, where a consumer can filter by reason without parsing the payload.
"""

from __future__ import annotations

from dataclasses import dataclass

from stream.decoding import RejectReason

#: Headers are truncated to keep one pathological error text from bloating the topic.
MAX_DETAIL_BYTES = 2000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def dead_letter(
    *,
    key: bytes | None,
    value: bytes | None,
    reason: RejectReason,
    detail: str,
    topic: str,
    partition: int,
    offset: int,
) -> DeadLetter:
    return DeadLetter(
        key=key,
        value=value or b"",
        headers=[
            ("mulewatch-reason", reason.value.encode()),
            ("mulewatch-error", detail.encode("utf-8", "replace")[:MAX_DETAIL_BYTES]),
            ("mulewatch-source-topic", topic.encode()),
            ("mulewatch-source-partition", str(partition).encode()),
            ("mulewatch-source-offset", str(offset).encode()),
        ],
    )
