"""State size per account after a simulated bank's history, beside the goal of 2 KB per account.

Not collected by pytest (no ``test_`` prefix). Run:
    .venv/bin/python tests/benchmarks/bench_state.py [--accounts 20000 --days 30 --seed 7 | --events FILE]

The simulator's history (generated in-process, streamed, never held) or a JSONL file goes through the
detector engine (parse + process). Its account and identifier states are then measured three ways:
(a) serialized, ``to_bytes()``: what the worker keeps per key in its tables and changelogs;
(b) on disk: every key written, with the worker's key, partitioner and RocksDB options (taken from the
worker's own Faust app, not copied), into fresh RocksDB partitions, flushed and compacted: live data
without the space amplification of a long-running store;
(c) in memory: bytes Python allocates (tracemalloc) to hold every state decoded from (a), i.e. what
replay's engine holds; the worker decodes a state per event and keeps RocksDB's fixed-size caches.
A baseline from the same run sits beside them: the input JSON per account.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aiokafka.partitioner import DefaultPartitioner  # noqa: E402
from faust.stores.rocksdb import RocksDBOptions  # noqa: E402

from detectors import AccountState, Engine, IdentifierState, load_config  # noqa: E402
from schemas import parse_event  # noqa: E402
from stream.app import create_app  # noqa: E402
from stream.metrics import Metrics  # noqa: E402
from stream.progress import Progress  # noqa: E402
from stream.replay import open_maybe_gzip  # noqa: E402
from stream.settings import load_settings  # noqa: E402
from stream.backtest.simulation import DEFAULT_START, SimConfig, Simulation  # noqa: E402
from stream.backtest.simulation.clock import parse_start  # noqa: E402
from stream.topics import topic_plan  # noqa: E402

GOAL = 2048  # bytes of state per account (issue 8)
TABLES = ("account-state", "identifier-state")  # the worker's table names


def simulated(accounts: int, days: int, seed: int) -> Iterator[bytes]:
    """The simulator's events in event-time order, one day in memory at a time."""
    sim = Simulation(SimConfig(accounts=accounts, days=days, seed=seed, start_t=parse_start(DEFAULT_START)))
    for batch in sim.batches():
        for record in batch:
            yield record.line.encode()


def from_file(path: Path) -> Iterator[bytes]:
    with open_maybe_gzip(path) as handle:
        for line in handle:
            if line.strip():
                yield line.rstrip(b"\r\n")


def run_engine(lines: Iterator[bytes]) -> tuple[int, int, dict[bytes, bytes], dict[bytes, bytes]]:
    """Events, input bytes, and the serialized states keyed as the worker's tables key them."""
    engine = Engine(load_config())
    input_bytes = 0
    with Progress("engine", enabled=sys.stderr.isatty()) as progress:
        for line in lines:
            progress.update(1, len(engine.process(parse_event(line))))
            input_bytes += len(line) + 1
    accounts = {key.encode(): state.to_bytes() for key, state in engine.accounts.items()}
    identifiers = {f"{kind}:{key}".encode(): state.to_bytes() for (kind, key), state in engine.identifiers.items()}
    return progress.events, input_bytes, accounts, identifiers


def percentile(ordered: list[int], q: float) -> int:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def tree_bytes(root: Path, suffix: str = "") -> int:
    return sum(f.stat().st_size for f in root.rglob(f"*{suffix}") if f.is_file())


def rocksdb_bytes(tables: dict[str, dict[bytes, bytes]], root: Path) -> tuple[dict[str, tuple[int, int]], str]:
    """Per table (SST bytes, directory bytes), and the partitions and compression RocksDB used.

    Options and partition count come from the worker's app; keys go to the partition Kafka's default
    partitioner gives them, as the worker's repartition topics do.
    """
    settings = load_settings(data_dir=root)
    app = create_app(settings, load_config(), Metrics(), {topic: settings.partitions for topic in topic_plan(settings).inputs})
    partitioner = DefaultPartitioner()
    sizes: dict[str, tuple[int, int]] = {}
    layout = []
    for name, rows in tables.items():
        table = app.tables[name]
        options = RocksDBOptions(**table.options)
        partitions = list(range(table.partitions))
        dbs = [options.open(root / name / str(p)) for p in partitions]
        for key, value in rows.items():
            dbs[partitioner(key, partitions, partitions)].put(key, value)
        for db in dbs:
            db.flush(True)
            db.compact_range(None, None)
            db.close()
        sizes[name] = tree_bytes(root / name, ".sst"), tree_bytes(root / name)
        layout.append(str(len(partitions)))
    codec = compression(next(root.rglob("OPTIONS-*")))
    return sizes, f"{codec}, {'+'.join(layout)} partitions"


def compression(options_file: Path) -> str:
    """The default column family's compression, as RocksDB wrote it in its OPTIONS file."""
    for line in options_file.read_text().splitlines():
        if line.strip().startswith("compression="):
            return line.split("=", 1)[1]
    return "?"


def decoded_bytes(states: dict[bytes, bytes], decode: Callable[[bytes], object]) -> int:
    """Bytes still allocated after decoding every state into a dict, as the engine holds them."""
    gc.collect()
    tracemalloc.start()
    try:
        held = {key: decode(value) for key, value in states.items()}  # alive while measured
        size = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=20_000, help="simulated accounts (default 20000)")
    parser.add_argument("--days", type=int, default=30, help="simulated days (default 30)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--events", type=Path, help="JSONL (or .gz) of events in event-time order instead of simulating")
    args = parser.parse_args()

    started = time.perf_counter()
    lines = from_file(args.events) if args.events else simulated(args.accounts, args.days, args.seed)
    events, input_bytes, accounts, identifiers = run_engine(lines)
    engine_s = time.perf_counter() - started
    source = str(args.events) if args.events else f"{args.accounts:,} accounts simulated, {args.days} days, seed {args.seed}"
    print(f"events: {events:,} ({source}) through the engine in {engine_s:.0f} s ({events / engine_s:,.0f} events/s)")

    n = len(accounts)
    if n == 0:
        sys.exit("no account state: the events named no account of the bank")
    sizes = sorted(map(len, accounts.values()))
    kinds: dict[str, list[int]] = {}
    for key, value in identifiers.items():
        kinds.setdefault(key.split(b":", 1)[0].decode(), []).append(len(value))
    print(f"states: {n:,} accounts, {len(identifiers):,} identifiers ("
          + ", ".join(f"{len(v):,} {k}: mean {statistics.mean(v):,.0f} B, max {max(v):,} B" for k, v in sorted(kinds.items()))
          + ")")

    phase = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_state-") as tmp:
        disk, layout = rocksdb_bytes(dict(zip(TABLES, (accounts, identifiers))), Path(tmp))
    rocksdb_s = time.perf_counter() - phase

    phase = time.perf_counter()
    memory_accounts = decoded_bytes(accounts, AccountState.from_bytes)
    memory_identifiers = decoded_bytes(identifiers, IdentifierState.from_bytes)
    memory_s = time.perf_counter() - phase

    rows: list[tuple[str, float]] = [
        ("input: JSON events per account (baseline)", input_bytes / n),
        ("serialized account state: mean", statistics.mean(sizes)),
        ("                          median", statistics.median(sizes)),
        ("                          p99", percentile(sizes, 0.99)),
        ("                          max", sizes[-1]),
        *((f"serialized {kind} states / accounts", sum(v) / n) for kind, v in sorted(kinds.items())),
        ("serialized, accounts + identifiers", (sum(sizes) + sum(sum(v) for v in kinds.values())) / n),
        (f"RocksDB SST files ({layout})", sum(sst for sst, _ in disk.values()) / n),
        ("RocksDB directories (SST, log, manifest, options)", sum(total for _, total in disk.values()) / n),
        ("  of which identifier-state", disk["identifier-state"][1] / n),
        ("in memory, decoded: accounts + identifiers", (memory_accounts + memory_identifiers) / n),
        ("  of which identifiers", memory_identifiers / n),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"\n{'bytes per account':<{width}}  {'figure':>9}  {'goal':>6}  {'ratio':>6}")
    for label, value in rows:
        print(f"{label:<{width}}  {value:>9,.0f}  {GOAL:>6,}  {value / GOAL:>5.2f}x")
    print(f"\ntook {time.perf_counter() - started:.0f} s: engine {engine_s:.0f} s, RocksDB {rocksdb_s:.0f} s, memory {memory_s:.0f} s")


if __name__ == "__main__":
    main()
