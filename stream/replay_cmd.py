"""``mulewatch replay``: historical events through the detector engine, or back into the live topics.

Inputs: JSONL files (plain or gzip, in the order given) or the Kafka input topics between two times.
Outputs: alerts as JSONL (``--out``), alerts to the alert topic (``--to-kafka``), or the events
themselves re-published to the input topics (``--republish``). Bad lines go to a rejects file with
their line number and reason and the replay goes on; out-of-order input is refused (or ``--sort``ed).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

from stream.partitioning import account_partitioner
from stream.progress import Progress
from stream.replay import (
    AlertFile,
    FutureGuard,
    KafkaAlerts,
    OutOfOrder,
    Reject,
    RejectsFile,
    Republisher,
    Summary,
    in_event_time_order,
    read_dispositions,
    read_files,
    read_kafka,
    replay,
    with_dispositions,
)

_SHOWN_REJECTS = 20


def _time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from exc
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="*", type=Path, help="JSONL event files, plain or gzip, replayed in the order given")
    parser.add_argument("--from-kafka", action="store_true", help="read the input topics instead of files (needs --start and --end)")
    parser.add_argument("--start", type=_time, help="with --from-kafka: first Kafka message time (ISO-8601, inclusive)")
    parser.add_argument("--end", type=_time, help="with --from-kafka: last Kafka message time (ISO-8601, exclusive)")
    parser.add_argument("--out", type=Path, help="write alerts here as JSONL (one Alert a line)")
    parser.add_argument("--to-kafka", action="store_true", help="publish alerts to the alert topic")
    parser.add_argument("--republish", action="store_true",
                        help="send the events themselves to the live input topics, keyed by account (no detection)")
    parser.add_argument("--dispositions", type=Path,
                        help="analysts' decisions (JSONL of Disposition, any order), applied at their decided_at among the events")
    parser.add_argument("--config", type=Path, help="detector thresholds TOML (default: the engine's defaults)")
    parser.add_argument("--rejects", type=Path, help="bad lines with their reason (default: <out>.rejects.jsonl, else ./replay.rejects.jsonl)")
    parser.add_argument("--sort", action="store_true",
                        help="sort the events by event time in memory first (default: refuse unordered input)")
    parser.add_argument("--lateness", type=float, default=None,
                        help="seconds an event may be earlier than the latest one seen (default: the engine's, else 0)")
    parser.add_argument("--parse-only", action="store_true", help="decode and order-check only, no engine (a speed baseline)")
    parser.add_argument("--max-line-bytes", type=int, default=1_000_000, help="longer lines are rejected (default 1000000)")
    parser.add_argument("--partitions", type=int, default=None,
                        help="the worker's account partitions, whose accounts each keep a population of their own: give"
                             " the deployment's to raise its alerts exactly (default MULEWATCH_PARTITIONS, else 8)")
    parser.add_argument("--broker", default=None, help="kafka://host:port (default MULEWATCH_BROKER or settings)")


def _lateness(config, flag: float | None) -> timedelta:
    """How far input may go back in event time: the flag, else the engine's own lateness (the
    engine applies such events in order), else none (parse-only and republish have no engine)."""
    if flag is not None:
        return timedelta(seconds=flag)
    return timedelta(seconds=config.engine.lateness_seconds if config is not None else 0)


def _usage(message: str) -> int:
    print(f"replay: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    if args.from_kafka == bool(args.inputs):
        return _usage("give JSONL files or --from-kafka (one of the two)")
    if args.from_kafka and (args.start is None or args.end is None or args.start >= args.end):
        return _usage("--from-kafka needs --start before --end")
    if args.republish and (args.out or args.to_kafka):
        return _usage("--republish sends events, not alerts: drop --out/--to-kafka")
    if args.republish and args.from_kafka:
        return _usage("--republish reads files: replaying the input topics into themselves would duplicate them")
    if not (args.out or args.to_kafka or args.republish or args.parse_only):
        return _usage("say where to: --out FILE, --to-kafka, --republish or --parse-only")
    for path in [*args.inputs, *([args.dispositions] if args.dispositions else [])]:
        if not path.is_file():
            print(f"replay: {path}: no such file", file=sys.stderr)
            return 1

    from detectors import Engine, load_config

    try:
        config = load_config(args.config)
    except Exception as exc:  # noqa: BLE001 - any config error is fatal and reported on one line
        print(f"replay: cannot load detector config {args.config or '(default)'}: {exc}", file=sys.stderr)
        return 1
    engine = process = None
    if not (args.republish or args.parse_only):
        from stream.settings import load_settings

        try:
            partitions = load_settings(partitions=args.partitions).partitions  # the worker's, by default
        except Exception as exc:  # noqa: BLE001
            print(f"replay: bad settings: {exc}", file=sys.stderr)
            return 1
        engine = Engine(config, partition_of=account_partitioner(partitions))
        process = engine.process
    lateness = _lateness(config if engine is not None else None, args.lateness)
    max_future_ms = round(config.engine.max_future_seconds * 1000)

    settings = None
    producer = None
    if args.from_kafka or args.to_kafka or args.republish:
        from stream.settings import load_settings

        try:
            settings = load_settings(broker=args.broker)
        except Exception as exc:  # noqa: BLE001
            print(f"replay: bad settings: {exc}", file=sys.stderr)
            return 1
        from stream.topics import BrokerUnavailable, check_connection

        try:
            check_connection(settings)  # a refused certificate or password fails now, on one line
        except BrokerUnavailable as exc:
            print(f"replay: {exc}", file=sys.stderr)
            return 1
    if args.to_kafka or args.republish:
        producer = _producer(settings)
        if producer is None:
            return 1

    rejects_path = args.rejects or (args.out.with_name(args.out.name + ".rejects.jsonl") if args.out else Path("replay.rejects.jsonl"))
    rejects = RejectsFile(rejects_path)
    summary = Summary()
    sinks = []
    if args.out:
        sinks.append(AlertFile(args.out))
    if args.to_kafka:
        sinks.append(KafkaAlerts(producer, settings.topics.alerts))
    republisher = (Republisher(producer, settings.topics.payments, settings.topics.account_events, settings.topics.dispositions)
                   if args.republish else None)

    if args.from_kafka:
        source = read_kafka(settings, [settings.topics.payments, settings.topics.account_events], args.start, args.end,
                            args.max_line_bytes, summary, max_future_ms)
        ordered = in_event_time_order(source, lateness, args.sort, summary)
    else:
        # A file has no record time: forged far-future lines are judged against its own running time,
        # after sorting (they sort to the end) or before the order check (which one would otherwise fail).
        guard = FutureGuard(max_future_ms, round(lateness.total_seconds() * 1000))
        source = read_files(args.inputs, args.max_line_bytes, summary)
        if args.sort:
            ordered = guard.filter(in_event_time_order(source, lateness, True, summary))
        else:
            ordered = in_event_time_order(guard.filter(source), lateness, False, summary)

    if args.dispositions:
        decisions, bad = read_dispositions(args.dispositions, args.max_line_bytes, summary)
        ordered = with_dispositions(_rejects_first(bad, ordered), decisions)

    def show_reject(reject: Reject) -> None:
        if summary.rejects <= _SHOWN_REJECTS:
            print(f"replay: rejected {reject.where}: {reject.reason}: {reject.detail}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # kafka-python's import-time warnings
        from kafka.errors import KafkaError

    started = time.perf_counter()
    ok = False
    try:
        with Progress("replay") as progress:
            replay(ordered, process, sinks, rejects, summary, progress.update, show_reject, republisher,
                   engine_stats=engine.stats if engine is not None else None)
        ok = True
    except OutOfOrder as exc:
        print(f"replay: refused unordered input: {exc}", file=sys.stderr)
    except (OSError, RuntimeError) as exc:
        print(f"replay: {exc}", file=sys.stderr)
    except KafkaError as exc:
        print(f"replay: Kafka error: {exc}", file=sys.stderr)
    finally:
        for sink in sinks:
            (sink.commit if ok else sink.abort)()
        if republisher is not None:
            (republisher.commit if ok else republisher.abort)()
        if producer is not None:
            producer.close()
        rejects.close()

    elapsed = time.perf_counter() - started
    if summary.rejects > _SHOWN_REJECTS:
        print(f"replay: ... {summary.rejects - _SHOWN_REJECTS} more rejects", file=sys.stderr)
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(summary.reject_reasons.items()))
    print(
        f"replay: {summary.events} events, {summary.rejects} rejects{f' ({reasons})' if reasons else ''}, "
        f"{summary.alerts} alerts in {elapsed:.1f}s ({summary.events / max(elapsed, 1e-9):,.0f} events/s)"
        + (" [sorted in memory]" if summary.sorted_in_memory else ""),
        file=sys.stderr,
    )
    if engine is not None and engine.stats.unvalued:
        counts = ", ".join(f"{currency} {n:,}" for currency, n in sorted(engine.stats.unvalued.items()))
        print(f"replay: {sum(engine.stats.unvalued.values()):,} payments in currencies without a rate in the config "
              f"({counts}): compared within their own currency only, alerts on such accounts take "
              f"severity.without_rate", file=sys.stderr)
    if args.dispositions:
        applied = len(engine.stats.decided) if engine is not None else 0
        print(f"replay: {summary.dispositions} analysts' decisions read, {applied} applied"
              + (f", {len(engine.stats.rejected_dispositions)} refused (unknown_alert)" if engine is not None else ""),
              file=sys.stderr)
    if engine is not None and (engine.stats.late or engine.stats.duplicates):
        print(f"replay: the engine dropped {engine.stats.late} late and {engine.stats.duplicates} duplicate events",
              file=sys.stderr)
    if summary.rejects:
        print(f"replay: rejects written to {rejects_path}", file=sys.stderr)
    if not ok:
        if args.out:
            print(f"replay: no alert file written ({args.out} left untouched)", file=sys.stderr)
        if args.to_kafka or args.republish:
            print("replay: messages already sent to Kafka before the stop were not withdrawn", file=sys.stderr)
        return 1
    if args.out:
        print(f"replay: alerts -> {args.out}", file=sys.stderr)
    return 0


def _rejects_first(bad: list[Reject], source):
    """The dispositions file's bad lines, then the events."""
    yield from bad
    yield from source


def _producer(settings):
    from stream.settings import kafka_python_security

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from kafka import KafkaProducer
        from kafka.errors import KafkaError
    try:
        return KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=20,
                             max_request_size=settings.max_message_bytes, **kafka_python_security(settings))
    except KafkaError as exc:
        print(f"replay: cannot reach Kafka at {settings.broker}: {exc}", file=sys.stderr)
        return None
