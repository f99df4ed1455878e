"""Outputs of the simulator: a JSONL file (plain or gzip), the labels CSV, or the Kafka input topics."""

from __future__ import annotations

import csv
import gzip
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from stream.backtest.simulation.emit import Record

LABELS_HEADER = ("account_id", "label", "typology", "misuse_start")


def write_labels(path: Path, rows: Iterable[tuple[str, int, str, str]]) -> int:
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(LABELS_HEADER)
        for row in rows:
            writer.writerow(row)
            n += 1
    return n


def open_output(path: Path):
    """A binary file; ``.gz`` is gzip with a zero mtime and no name, so same input gives same bytes."""
    if path.suffix == ".gz":
        raw = open(path, "wb")
        return gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6), raw
    return open(path, "wb", buffering=1 << 20), None


def write_jsonl(path: Path, batches: Iterable[list[Record]], on_batch: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Write every record, one JSON object a line; returns (events, bytes of JSON written)."""
    events = size = 0
    handle, raw = open_output(path)
    try:
        for batch in batches:
            if not batch:
                continue
            data = ("\n".join([r.line for r in batch]) + "\n").encode()
            handle.write(data)
            events += len(batch)
            size += len(data)
            if on_batch is not None:
                on_batch(len(batch))
    finally:
        handle.close()
        if raw is not None:
            raw.close()
    return events, size


def publish(producer, payments_topic: str, account_topic: str, batches: Iterable[list[Record]], rate: float | None,
            on_batch: Callable[[int], None] | None = None, chunk: int = 500) -> int:
    """Send records keyed by account id, at most ``rate`` events/s (None: as fast as the broker takes)."""
    sent = 0
    started = time.perf_counter()
    for batch in batches:
        for i in range(0, len(batch), chunk):
            part = batch[i:i + chunk]
            for record in part:
                producer.send(payments_topic if record.is_payment else account_topic,
                              key=record.key.encode(), value=record.line.encode())
            sent += len(part)
            if on_batch is not None:
                on_batch(len(part))
            if rate:
                ahead = sent / rate - (time.perf_counter() - started)
                if ahead > 0:
                    time.sleep(ahead)
    producer.flush()
    return sent
