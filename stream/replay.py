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

from schemas import InputEvent, Payment
from stream.decoding import Rejection, decode_event

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(slots=True)
class Item:
    event: InputEvent
    where: str
    raw: bytes | None = None


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


def read_files(paths: Iterable[Path], max_bytes: int, keep_raw: bool, summary: Summary) -> Iterator[Item | Reject]:
    """Events of each file in the order given, line by line."""
    for path in paths:
        name = str(path)
        with open_maybe_gzip(path) as handle:
            for n, line in enumerate(handle, start=1):
                summary.lines += 1
                raw = line.rstrip(b"\r\n")
                if not raw.strip():
                    continue
                yield _decode(raw, f"{name}:{n}", max_bytes, keep_raw)


def _decode(raw: bytes, where: str, max_bytes: int, keep_raw: bool) -> Item | Reject:
    result = decode_event(raw, max_bytes)
    if isinstance(result, Rejection):
        return Reject(where, result.reason.value, result.detail, raw)
    return Item(result, where, raw if keep_raw else None)


def kafka_consumer(settings, client_id: str):
    from stream.settings import kafka_python_security

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from kafka import KafkaConsumer

    return KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, client_id=client_id, enable_auto_commit=False,
                         group_id=None, consumer_timeout_ms=1000, **kafka_python_security(settings))


def read_kafka(settings, topics: list[str], start: datetime, end: datetime, max_bytes: int,
               summary: Summary) -> Iterator[Item | Reject]:
    """Messages of ``topics`` whose Kafka timestamp is in [start, end), merged by event time.

    Offsets come from ``offsets_for_times`` (Kafka's message timestamps, i.e. when the events were
    produced); the messages of the range are read into memory and sorted by event time (ties keep
    topic, partition and offset order), so the range must fit in memory.
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
                    decoded = _decode(message.value or b"", f"{tp.topic}/{tp.partition}@{message.offset}", max_bytes, False)
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


def partition_key(event: InputEvent) -> str:
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
    """Sends the events themselves (their original bytes) to the live input topics."""

    def __init__(self, producer, payments_topic: str, account_topic: str) -> None:
        self.producer, self.payments, self.accounts = producer, payments_topic, account_topic

    def event(self, item: Item) -> None:
        topic = self.payments if isinstance(item.event, Payment) else self.accounts
        value = item.raw if item.raw is not None else item.event.model_dump_json().encode()
        self.producer.send(topic, key=partition_key(item.event).encode(), value=value)

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
) -> Summary:
    """Run every event through ``process`` (None: parse only), send alerts to the sinks."""
    pending_events = pending_alerts = 0
    for item in source:
        if isinstance(item, Reject):
            summary.rejects += 1
            summary.reject_reasons[item.reason] = summary.reject_reasons.get(item.reason, 0) + 1
            rejects.write(item)
            if on_reject is not None:
                on_reject(item)
            continue
        summary.events += 1
        pending_events += 1
        if republisher is not None:
            republisher.event(item)
        if process is not None:
            alerts = process(item.event)
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
