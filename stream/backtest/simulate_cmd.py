"""``mulewatch simulate``: a labelled, deterministic event history of a simulated bank.

Writes one JSON event a line in event-time order (``--out``, ``.gz`` for gzip) and the labels CSV,
or publishes the events to the Kafka input topics at ``--rate`` events/s (``--to-kafka``).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from datetime import timedelta
from pathlib import Path

from stream.progress import Progress
from stream.backtest.simulation import DEFAULT_START, SimConfig, Simulation
from stream.backtest.simulation.clock import parse_start
from stream.backtest.simulation.laundering import PATTERNS
from stream.backtest.simulation.writer import publish, write_jsonl, write_labels


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 0.5:
        raise argparse.ArgumentTypeError("must be between 0 and 0.5")
    return value


def _patterns(text: str) -> tuple[str, ...]:
    """Comma-separated laundering typologies, kept in their canonical order (the order typed changes nothing)."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = sorted(names - set(PATTERNS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown pattern {', '.join(unknown) or '(none given)'}; choose from {','.join(PATTERNS)}")
    return tuple(name for name in PATTERNS if name in names)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--accounts", type=_positive, default=10_000, help="own accounts of the simulated bank (default 10000)")
    parser.add_argument("--days", type=_positive, default=30, help="length of the simulated period in days (default 30)")
    parser.add_argument("--seed", type=int, default=7, help="random seed; the same seed gives the same bytes (default 7)")
    parser.add_argument("--start", default=DEFAULT_START, help=f"start of the period, ISO-8601 (default {DEFAULT_START})")
    parser.add_argument("--out", type=Path, help="events JSONL file to write (.gz: gzip)")
    parser.add_argument("--labels", type=Path, help="labels CSV to write: account_id,label,typology,misuse_start")
    parser.add_argument("--mule-share", type=_share, default=0.015, help="share of accounts that are misused (default 0.015)")
    parser.add_argument("--laundering-share", type=_share, default=0.02,
                        help="share of accounts taking part in laundering patterns (default 0.02; 0: none)")
    parser.add_argument("--patterns", type=_patterns, default=PATTERNS,
                        help=f"laundering typologies to plant, comma-separated (default all: {','.join(PATTERNS)})")
    parser.add_argument("--hard-share", type=_share, default=0.07, help="share of mules with weak, partial signals (default 0.07)")
    parser.add_argument("--warmup-days", type=int, default=0,
                        help="no misuse starts before this day, so detectors see ordinary history first (default 0: misuse from day 7)")
    parser.add_argument("--payments-only", action="store_true",
                        help="payments alone, as many banks' feeds are: no account events, no device, IP or session country")
    parser.add_argument("--country", default="DE", help="the bank's country, ISO 3166 alpha-2 (default DE)")
    parser.add_argument("--currency", default="EUR", help="the bank's currency, ISO 4217 (default EUR)")
    parser.add_argument("--dispositions", type=Path,
                        help="with --out: also write the decisions an analyst following the labels would make on the"
                             " shipped detectors' alerts (JSONL of Disposition; runs the detectors over the events)")
    parser.add_argument("--decision-delay-hours", type=float, default=24.0,
                        help="with --dispositions: hours from an alert to the analyst's decision (default 24)")
    parser.add_argument("--to-kafka", action="store_true", help="publish to the input topics instead of writing --out")
    parser.add_argument("--rate", type=float, default=None, help="with --to-kafka: events per second (default: as fast as possible)")
    parser.add_argument("--broker", default=None, help="with --to-kafka: kafka://host:port (default MULEWATCH_BROKER or settings)")


def run(args: argparse.Namespace) -> int:
    if not args.to_kafka and args.out is None:
        print("simulate: give --out FILE or --to-kafka", file=sys.stderr)
        return 2
    if args.to_kafka and args.out is not None:
        print("simulate: --out and --to-kafka are exclusive", file=sys.stderr)
        return 2
    if args.dispositions is not None and args.out is None:
        print("simulate: --dispositions needs --out (the decisions are made on the written events)", file=sys.stderr)
        return 2
    try:
        start_t = parse_start(args.start)
    except ValueError as exc:
        print(f"simulate: --start {args.start!r} is not an ISO-8601 time: {exc}", file=sys.stderr)
        return 2
    cfg = SimConfig(accounts=args.accounts, days=args.days, seed=args.seed, start_t=start_t,
                    mule_share=args.mule_share, laundering_share=args.laundering_share, patterns=args.patterns,
                    hard_share=args.hard_share, warmup_days=args.warmup_days,
                    payments_only=args.payments_only, country=args.country.upper(), currency=args.currency.upper())
    started = time.perf_counter()
    sim = Simulation(cfg)
    if args.labels is not None:
        rows = write_labels(args.labels, sim.labels())
        mules = sum(a.label for a in sim.population.accounts)
        laundering = sum(len(p.members) for p in sim.population.patterns)
        print(f"labels: {rows} accounts, {mules} misused ({laundering} of them in {len(sim.population.patterns)} laundering "
              f"patterns) -> {args.labels}", file=sys.stderr)
    with Progress("simulate") as progress:
        if args.to_kafka:
            events = _to_kafka(args, sim, progress)
            if events is None:
                return 1
            size = None
        else:
            events, size = write_jsonl(args.out, sim.batches(), progress.update)
    elapsed = time.perf_counter() - started
    where = "kafka" if args.to_kafka else str(args.out)
    detail = f", {size / 1e6:.1f} MB" if size is not None else ""
    print(f"simulate: {events} events{detail} in {elapsed:.1f}s ({events / max(elapsed, 1e-9):,.0f} events/s) -> {where}",
          file=sys.stderr)
    if args.dispositions is not None:
        mules = {account for account, label, _, _ in sim.labels() if label}
        _write_dispositions(args.out, args.dispositions, mules, timedelta(hours=args.decision_delay_hours))
    return 0


def _write_dispositions(events_path: Path, out: Path, mules: set[str], delay: timedelta) -> None:
    """Run the shipped detectors over the written events (partitioned as replay does by default)
    with an analyst following the labels, and write the analyst's decisions."""
    from detectors import Engine, load_config
    from stream.backtest.analyst import analyst_dispositions
    from stream.partitioning import account_partitioner
    from stream.replay import Item, Summary, read_files
    from stream.settings import load_settings

    engine = Engine(load_config(), partition_of=account_partitioner(load_settings().partitions))
    events = (item.event for item in read_files([events_path], 10**6, Summary()) if isinstance(item, Item))
    with Progress("analyst") as progress:
        decided = analyst_dispositions(events, mules, engine, delay, progress.update)
    with open(out, "wb") as handle:
        for disposition in decided:
            handle.write(disposition.model_dump_json().encode() + b"\n")
    confirmed = sum(d.decision.value == "confirmed_mule" for d in decided)
    print(f"simulate: {len(decided)} analyst decisions ({confirmed} confirmed_mule, {len(decided) - confirmed} legitimate)"
          f" -> {out}", file=sys.stderr)


def _to_kafka(args: argparse.Namespace, sim: Simulation, progress: Progress) -> int | None:
    from stream.settings import kafka_python_security, load_settings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

    settings = load_settings(broker=args.broker)
    try:
        producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=20,
                                 max_request_size=settings.max_message_bytes, **kafka_python_security(settings))
    except KafkaError as exc:
        print(f"simulate: cannot reach Kafka at {settings.broker}: {exc}", file=sys.stderr)
        return None
    try:
        return publish(producer, settings.topics.payments, settings.topics.account_events, sim.batches(), args.rate,
                       progress.update)
    except KafkaError as exc:
        print(f"simulate: publishing failed: {exc}", file=sys.stderr)
        return None
    finally:
        producer.close()
