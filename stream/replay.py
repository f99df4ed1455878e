"""Replay of historical events through the detector engine: sources, ordering guard, sinks, rejects.

Sources yield decoded events in input order with where they came from (``file:line`` or
``topic/partition@offset``), or rejections naming the line and the reason. The ordering guard lets an
event through only if it is not earlier than the latest event time seen by more than the engine's
allowed lateness; otherwise replay stops with a message naming the line (``--sort`` sorts in memory
instead). Nothing here knows about the terminal; ``stream.replay_cmd`` is the command.
"""

from __future__ import annotations

import gzip
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from detectors.eventtime import to_ms
from schemas import Disposition, InputEvent, Payment
from stream.decoding import RejectReason, Rejection, decode_disposition, decode_event, future_rejection

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(slots=True)
class Item:
    event: InputEvent | Disposition
    where: str
    raw: bytes  # the line or message value as read


@dataclass(slots=True)
class Reject:
    where: str
    reason: str
    detail: str
    raw: bytes


class OutOfOrder(RuntimeError):
    """Input is not in event-time order beyond the allowed lateness; the message names the line."""


@dataclass
class Summary:
    lines: int = 0
    events: int = 0
    rejects: int = 0
    alerts: int = 0
    dispositions: int = 0
    sorted_in_memory: bool = False
    reject_reasons: dict[str, int] = field(default_factory=dict)


# --- sources -------------------------------------------------------------------------------------


def open_maybe_gzip(path: Path):
    """A binary reader; gzip is recognised by its magic bytes, whatever the file is called."""
    with open(path, "rb") as probe:
        head = probe.read(2)
    if head == GZIP_MAGIC:
        return gzip.open(path, "rb")
    return open(path, "rb", buffering=1 << 20)


def read_files(paths: Iterable[Path], max_bytes: int, summary: Summary) -> Iterator[Item | Reject]:
    """Events of each file in the order given, line by line, each with its original bytes."""
    for path in paths:
        for where, raw in _lines(path, summary):
            yield _decode(raw, where, max_bytes)


def _lines(path: Path, summary: Summary) -> Iterator[tuple[str, bytes]]:
    """The non-blank lines of a JSONL file (plain or gzip) without their line ends, each with
    ``file:line`` (every line read is counted in the summary)."""
    with open_maybe_gzip(path) as handle:
        for n, line in enumerate(handle, start=1):
            summary.lines += 1
            raw = line.rstrip(b"\r\n")
            if raw.strip():
                yield f"{path}:{n}", raw


def _decode(raw: bytes, where: str, max_bytes: int, decode=decode_event) -> Item | Reject:
    result = decode(raw, max_bytes)
    if isinstance(result, Rejection):
        return Reject(where, result.reason.value, result.detail, raw)
    return Item(result, where, raw)


def kafka_consumer(settings, client_id: str):
    from stream.settings import kafka_python_security

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from kafka import KafkaConsumer

    return KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, client_id=client_id, enable_auto_commit=False,
                         group_id=None, consumer_timeout_ms=1000, **kafka_python_security(settings))


def read_kafka(settings, topics: list[str], start: datetime, end: datetime, max_bytes: int,
               summary: Summary, max_future_ms: int) -> Iterator[Item | Reject]:
    """Messages of ``topics`` whose Kafka timestamp is in [start, end), merged by event time.

    Offsets come from ``offsets_for_times`` (Kafka's message timestamps, i.e. when the events were
    produced); the messages of the range are read into memory and sorted by event time (ties keep
    topic, partition and offset order), so the range must fit in memory. An event stamped more than
    ``max_future_ms`` ahead of its record's timestamp is rejected, as the worker does.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from kafka import TopicPartition

    consumer = kafka_consumer(settings, "mulewatch-replay")
    try:
        partitions = []
        for topic in topics:
            ids = consumer.partitions_for_topic(topic)
            if not ids:
                raise RuntimeError(f"topic {topic!r} does not exist on {settings.broker}")
            partitions += [TopicPartition(topic, p) for p in sorted(ids)]
        start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        first = consumer.offsets_for_times({tp: start_ms for tp in partitions})
        last = consumer.offsets_for_times({tp: end_ms for tp in partitions})
        log_end = consumer.end_offsets(partitions)
        ranges = {}
        for tp in partitions:
            lo = first[tp].offset if first[tp] is not None else log_end[tp]
            hi = last[tp].offset if last[tp] is not None else log_end[tp]
            if hi > lo:
                ranges[tp] = (lo, hi)
        consumer.assign(list(ranges))
        for tp, (lo, _) in ranges.items():
            consumer.seek(tp, lo)
        items: list[tuple[int, Item]] = []
        remaining = dict(ranges)
        order = 0
        while remaining:
            batch = consumer.poll(timeout_ms=1000, max_records=5000)
            if not batch:
                positions = {tp: consumer.position(tp) for tp in remaining}
                if all(positions[tp] >= hi for tp, (_, hi) in remaining.items()):
                    break
                continue
            for tp, messages in batch.items():
                if tp not in remaining:
                    continue
                hi = remaining[tp][1]
                for message in messages:
                    if message.offset >= hi:
                        remaining.pop(tp, None)
                        consumer.pause(tp)
                        break
                    summary.lines += 1
                    where = f"{tp.topic}/{tp.partition}@{message.offset}"
                    decoded = _decode(message.value or b"", where, max_bytes)
                    if isinstance(decoded, Item) and message.timestamp is not None and message.timestamp >= 0:
                        forged = future_rejection(to_ms(decoded.event.event_time), message.timestamp, max_future_ms)
                        if forged is not None:
                            decoded = Reject(where, forged.reason.value, forged.detail, message.value)
                    if isinstance(decoded, Reject):
                        yield decoded
                    else:
                        items.append((order, decoded))
                        order += 1
                if tp in remaining and consumer.position(tp) >= hi:
                    remaining.pop(tp, None)
                    consumer.pause(tp)
        items.sort(key=lambda pair: (pair[1].event.event_time, pair[0]))
        for _, item in items:
            yield item
    finally:
        consumer.close()


def read_dispositions(path: Path, max_bytes: int, summary: Summary) -> tuple[list[Item], list[Reject]]:
    """An analysts' decisions file (JSONL, plain or gzip), sorted by ``decided_at`` (ties keep file
    order), and its bad lines."""
    items: list[Item] = []
    bad: list[Reject] = []
    for where, raw in _lines(path, summary):
        read = _decode(raw, where, max_bytes, decode_disposition)
        if isinstance(read, Reject):
            bad.append(read)
        else:
            items.append(read)
    items.sort(key=lambda item: item.event.decided_at)
    return items, bad


def with_dispositions(ordered: Iterable[Item | Reject], dispositions: list[Item]) -> Iterator[Item | Reject]:
    """The events with the decisions among them by time: a decision after every event of its very
    millisecond and before the first later one, as the worker's event-time order puts it."""
    pending = iter(dispositions)
    upcoming = next(pending, None)
    for item in ordered:
        if isinstance(item, Item):
            while upcoming is not None and upcoming.event.decided_at < item.event.event_time:
                yield upcoming
                upcoming = next(pending, None)
        yield item
    while upcoming is not None:
        yield upcoming
        upcoming = next(pending, None)


# --- forged times ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Held:
    item: Item
    time: int
    confirmations: int = 0


class FutureGuard:
    """Refuses events stamped far ahead of the file's own running event time (``future_event_time``).

    A file has no record time to bound an event's time against, as the worker does with the Kafka
    record timestamp, so the file's running event time stands in for it: the latest time of the
    events let through. An event more than ``max_future_ms`` ahead of it is held, not trusted:

    * if a later line goes back to before it (by more than the lateness), the stream did not follow
      it there, and it is rejected: one forged line cannot make every real line after it look late;
    * once ``confirmations`` later lines carry on from it (each at or after it, less the lateness,
      and no further beyond the line before than the file's longest quiet spell), the stream has
      moved on (a quiet night in the history, say) and it is let through, in order;
    * at the end of the input, held lines are let through only if they are no further ahead than the
      longest quiet spell the file has shown between consecutive events; with no line after them to
      confirm the jump, a longer one is taken for a forged time. Sorting gathers forged lines there.

    A line that goes back behind the let-through stream is the one out of order: it confirms or
    contradicts nothing and is passed on for the order check. Lines that are not ahead pass at once,
    so a held line never delays the real stream. It takes ``confirmations`` consecutive forged lines
    to get one through, and then the real lines after them are out of order and the replay refuses
    the input loudly instead of running blind.
    """

    #: Held lines beyond this many are all far ahead of the stream and of each other: the oldest is
    #: let through, so that holding stays cheap whatever the input.
    MAX_HELD = 1_000

    def __init__(self, max_future_ms: int, lateness_ms: int, confirmations: int = 3) -> None:
        self.max_future = max_future_ms
        self.lateness = lateness_ms
        self.confirmations = confirmations
        self.clock: int | None = None
        self.longest_gap = 0
        self.released = 0
        self.previous: int | None = None  # time of the line before (not counting lines behind the clock)
        self.held: list[_Held] = []

    def filter(self, source: Iterable[Item | Reject]) -> Iterator[Item | Reject]:
        for item in source:
            if isinstance(item, Reject):
                yield item
                continue
            time_ms = to_ms(item.event.event_time)
            if self.clock is not None and time_ms < self.clock - self.lateness:
                yield item  # behind the confirmed stream: it is the one out of order (the order check says so)
                continue
            yield from self._follow(time_ms)
            self.previous = time_ms
            if self.clock is None or time_ms > self.clock + self.max_future:
                self.held.append(_Held(item, time_ms))
                if len(self.held) > self.MAX_HELD:
                    self.held[0].confirmations = self.confirmations
                yield from self._settle()
            else:
                yield self._release(item, time_ms)
        yield from self._finish()

    def _follow(self, time_ms: int) -> Iterator[Item | Reject]:
        """Let a new line confirm or contradict the held ones (those a contradiction rejects go).

        A line carries a held one on when it is at or after it (less the lateness) and, once the file
        has shown its pace, no further beyond the line before it than the file's longest quiet spell:
        a run of forged lines far apart, which sorting gathers at the end, cannot vouch for each other.
        """
        steady = self.previous is None or not self.known_pace or time_ms - self.previous <= max(self.max_future, self.longest_gap)
        kept = []
        for held in self.held:
            if time_ms < held.time - self.lateness:
                yield self._reject(held)
                continue
            if steady:
                held.confirmations += 1
            kept.append(held)
        self.held = kept
        yield from self._settle()

    @property
    def known_pace(self) -> bool:
        """Enough lines let through for their longest gap to say how quiet the file can be."""
        return self.released > self.confirmations

    def _settle(self) -> Iterator[Item]:
        """Release held lines from the front while they are confirmed or no longer ahead."""
        while self.held:
            first = self.held[0]
            ahead = self.clock is None or first.time > self.clock + self.max_future
            if ahead and first.confirmations < self.confirmations:
                return
            self.held.pop(0)
            yield self._release(first.item, first.time)

    def _finish(self) -> Iterator[Item | Reject]:
        """At the end nothing follows the held lines to confirm them: let them through if they are no
        further ahead than the file's longest quiet spell, or if the file let too few lines through
        to have shown its pace at all (a short test file: a forged time there blinds nothing)."""
        for held in self.held:
            if not self.known_pace or held.time - self.clock <= max(self.max_future, self.longest_gap):
                yield self._release(held.item, held.time)
            else:
                yield self._reject(held)
        self.held = []

    def _release(self, item: Item, time_ms: int) -> Item:
        self.released += 1
        if self.clock is None or time_ms > self.clock:
            if self.clock is not None:
                self.longest_gap = max(self.longest_gap, time_ms - self.clock)
            self.clock = time_ms
        return item

    def _reject(self, held: _Held) -> Reject:
        ahead = "" if self.clock is None else f"{(held.time - self.clock) / 1000:,.0f} s ahead of the events around it, "
        return Reject(
            held.item.where, RejectReason.FUTURE_EVENT_TIME.value,
            f"event_time is {ahead}and the lines after it do not follow it there (engine.max_future_seconds)",
            held.item.raw,
        )


# --- ordering ------------------------------------------------------------------------------------


def in_event_time_order(source: Iterable[Item | Reject], lateness: timedelta, sort: bool, summary: Summary) -> Iterator[Item | Reject]:
    """Pass events on in an order the engine accepts, or raise OutOfOrder naming the line.

    With ``sort`` the events are held in memory and sorted stably by event time (rejects pass at once).
    """
    if sort:
        summary.sorted_in_memory = True
        held: list[Item] = []
        for item in source:
            if isinstance(item, Reject):
                yield item
            else:
                held.append(item)
        held.sort(key=lambda item: item.event.event_time)
        yield from held
        return
    latest: datetime | None = None
    latest_where = ""
    for item in source:
        if isinstance(item, Item):
            t = item.event.event_time
            if latest is None or t > latest:
                latest, latest_where = t, item.where
            elif latest - t > lateness:
                raise OutOfOrder(
                    f"{item.where}: event {item.event.event_id} at {t.isoformat()} is earlier than "
                    f"{latest.isoformat()} (seen at {latest_where}) by {latest - t}, more than the allowed lateness "
                    f"of {lateness}; sort the input by event_time or run replay with --sort"
                )
        yield item


# --- sinks ---------------------------------------------------------------------------------------


class RejectsFile:
    """One JSON object per bad line: where, reason, detail and the raw line (as text, first 2,000 chars)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = None
        self.count = 0

    def write(self, reject: Reject) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "wb")
        record = {"where": reject.where, "reason": reject.reason, "detail": reject.detail,
                  "raw": reject.raw[:2000].decode("utf-8", errors="replace")}
        self._handle.write(orjson.dumps(record) + b"\n")
        self.count += 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class AlertFile:
    """Alerts as JSONL, written to a temporary name and renamed only when the replay completes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(path.name + ".partial")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.tmp, "wb", buffering=1 << 20)

    def alerts(self, alerts) -> None:
        for alert in alerts:
            self._handle.write(alert.model_dump_json().encode() + b"\n")

    def commit(self) -> None:
        self._handle.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self._handle.close()
        self.tmp.unlink(missing_ok=True)


def partition_key(event: InputEvent | Disposition) -> str:
    """The key the worker expects: a payment's own debtor, else its creditor; else the account."""
    if isinstance(event, Payment):
        return event.debtor.account_id if event.debtor.bank_id is None else event.creditor.account_id
    return event.account_id


class KafkaAlerts:
    def __init__(self, producer, topic: str) -> None:
        self.producer, self.topic = producer, topic

    def alerts(self, alerts) -> None:
        for alert in alerts:
            self.producer.send(self.topic, key=alert.account_id.encode(), value=alert.model_dump_json().encode())

    def commit(self) -> None:
        self.producer.flush()

    def abort(self) -> None:
        self.producer.flush()


class Republisher:
    """Sends the events themselves (their original bytes) to the live input topics, and analysts'
    decisions to the dispositions topic."""

    def __init__(self, producer, payments_topic: str, account_topic: str, dispositions_topic: str) -> None:
        self.producer, self.payments, self.accounts = producer, payments_topic, account_topic
        self.dispositions = dispositions_topic

    def event(self, item: Item) -> None:
        event = item.event
        topic = self.payments if isinstance(event, Payment) else self.dispositions if isinstance(event, Disposition) else self.accounts
        self.producer.send(topic, key=partition_key(event).encode(), value=item.raw)

    def commit(self) -> None:
        self.producer.flush()

    def abort(self) -> None:
        self.producer.flush()


# --- the loop ------------------------------------------------------------------------------------


def replay(
    source: Iterable[Item | Reject],
    process: Callable[[InputEvent], list] | None,
    alert_sinks: list,
    rejects: RejectsFile,
    summary: Summary,
    on_progress: Callable[[int, int], None] | None = None,
    on_reject: Callable[[Reject], None] | None = None,
    republisher: Republisher | None = None,
    every: int = 2000,
    engine_stats=None,
) -> Summary:
    """Run every event (and analyst's decision) through ``process`` (None: parse only), send alerts
    to the sinks; a decision the engine refused (``engine_stats``) goes to the rejects as a bad line."""
    pending_events = pending_alerts = 0
    for item in source:
        if isinstance(item, Reject):
            summary.rejects += 1
            summary.reject_reasons[item.reason] = summary.reject_reasons.get(item.reason, 0) + 1
            rejects.write(item)
            if on_reject is not None:
                on_reject(item)
            continue
        if type(item.event) is Disposition:
            summary.dispositions += 1
        else:
            summary.events += 1
        pending_events += 1
        if republisher is not None:
            republisher.event(item)
        if process is not None:
            decision = engine_stats is not None and type(item.event) is Disposition
            refused = len(engine_stats.rejected_dispositions) if decision else 0
            alerts = process(item.event)
            if decision and len(engine_stats.rejected_dispositions) > refused:
                why = engine_stats.rejected_dispositions[-1][2]
                rejected = Reject(item.where, RejectReason.UNKNOWN_ALERT.value, why, item.raw)
                summary.rejects += 1
                summary.reject_reasons[rejected.reason] = summary.reject_reasons.get(rejected.reason, 0) + 1
                rejects.write(rejected)
                if on_reject is not None:
                    on_reject(rejected)
            if alerts:
                summary.alerts += len(alerts)
                pending_alerts += len(alerts)
                for sink in alert_sinks:
                    sink.alerts(alerts)
        if pending_events >= every and on_progress is not None:
            on_progress(pending_events, pending_alerts)
            pending_events = pending_alerts = 0
    if on_progress is not None and (pending_events or pending_alerts):
        on_progress(pending_events, pending_alerts)
    return summary
