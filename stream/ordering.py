"""Event-time ordering across input partitions: watermarks and a bounded reorder buffer.

A payment concerns two accounts, so each account's views reach its partition from several input
partitions. While a backlog is consumed those partitions run at different speeds, and one account's
views could arrive days apart in event time. The ingest agent therefore announces, for every input
partition it owns, how far it has got (its watermark); each account partition holds incoming views
in a buffer and applies them in event-time order once every input partition has passed them. A
caught-up input partition (nothing left to read) holds nobody back. The buffer is bounded: when it
is full the oldest entries are released anyway and counted, trading order for memory.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import orjson

T = TypeVar("T")

#: Watermark of an input partition that has nothing left to read: it holds nothing back.
CAUGHT_UP = None
#: One message carries every watermark a worker announces in a tick: {source: time_ms or null}.
_MARKS_PREFIX = b"M"
#: The one-source form ([source, time_ms]) of workers before the combined message; still read, so
#: that workers of both versions can share a deployment during a rolling upgrade.
_SINGLE_MARK_PREFIX = b"W"


def encode_watermarks(marks: Mapping[str, int | None]) -> bytes:
    """A watermark message: each source (topic:partition) has forwarded every event up to its time."""
    return _MARKS_PREFIX + orjson.dumps(marks)


def decode_watermarks(value: bytes) -> dict[str, int | None] | None:
    """The {source: time} of a watermark message, or None when ``value`` is not one."""
    if value.startswith(_MARKS_PREFIX):
        return orjson.loads(value[1:])
    if value.startswith(_SINGLE_MARK_PREFIX):
        source, time_ms = orjson.loads(value[1:])
        return {source: time_ms}
    return None


def source_name(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


@dataclass
class SourceProgress:
    """Per input partition: the last event time forwarded, the last offset read, and when."""

    idle_after_s: float
    times: dict[str, int] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)
    seen_at: dict[str, float] = field(default_factory=dict)

    def advance(self, source: str, time_ms: int | None, offset: int, now: float) -> None:
        """One message read; ``time_ms`` is None for a rejected one (read, but no event time)."""
        if time_ms is not None:
            self.times[source] = max(time_ms, self.times.get(source, time_ms))
        self.offsets[source] = offset
        self.seen_at[source] = now

    def watermark(self, source: str, highwater: int | None, now: float) -> int | None:
        """CAUGHT_UP once the partition is read to its end and has been quiet a while, else the last time.

        Being read to the end is not enough: a producer replaying history may be about to append
        older events, so an input partition only stops holding others back after ``idle_after_s``.
        """
        read_to = self.offsets.get(source, -1)
        quiet = now - self.seen_at.setdefault(source, now) >= self.idle_after_s
        if highwater is not None and read_to + 1 >= highwater and quiet:
            return CAUGHT_UP
        return self.times.get(source, 0)


@dataclass
class Announcements:
    """Which watermarks to send: a changed one at once, an unchanged one every ``refresh_s``.

    Repeating unchanged watermarks tells an account partition's new owner (after a rebalance) how
    far every input partition has got; repeating them on every tick would make an idle worker write
    a message to every account partition on every tick (5 times a second by default), forever.
    """

    refresh_s: float
    _sent: dict[str, tuple[int | None, float]] = field(default_factory=dict)

    def due(self, source: str, time_ms: int | None, now: float) -> bool:
        """True if ``source``'s watermark should be sent now; records it as sent."""
        sent = self._sent.get(source)
        if sent is not None and sent[0] == time_ms and now - sent[1] < self.refresh_s:
            return False
        self._sent[source] = (time_ms, now)
        return True


@dataclass
class ReorderBuffer(Generic[T]):
    """Items released in event-time order once the slowest known input partition has passed them."""

    sources: frozenset[str]
    max_items: int
    forced: int = 0
    _marks: dict[str, int | None] = field(default_factory=dict)
    _heap: list[tuple[int, int, T]] = field(default_factory=list)
    _seq: itertools.count = field(default_factory=itertools.count)
    _limit: float = float("-inf")  # watermark() as of the last mark, read on every push

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, time_ms: int, item: T) -> list[T]:
        """Hold one item; returns what is ready now, oldest first: items forced out when the buffer
        is over its bound, or, when every input partition has already passed this item (a device or
        phone hit coming back), the items up to the watermark, so it need not wait for the next mark."""
        heapq.heappush(self._heap, (time_ms, next(self._seq), item))
        forced = []
        while len(self._heap) > self.max_items:
            forced.append(heapq.heappop(self._heap)[2])
        self.forced += len(forced)
        if time_ms <= self._limit:
            return forced + self.release()
        return forced

    def mark(self, marks: Mapping[str, int | None]) -> None:
        """Record how far input partitions have got (one watermark message's worth, recomputed once)."""
        self._marks.update(marks)
        self._limit = self.watermark()

    def watermark(self) -> float:
        """Event time every known input partition has passed; -inf until all have reported."""
        if any(source not in self._marks for source in self.sources):
            return float("-inf")
        times = [t for t in self._marks.values() if t is not CAUGHT_UP]
        return min(times) if times else float("inf")

    def release(self) -> list[T]:
        """Items at or before the watermark, oldest first."""
        limit = self._limit
        ready = []
        while self._heap and self._heap[0][0] <= limit:
            ready.append(heapq.heappop(self._heap)[2])
        return ready
