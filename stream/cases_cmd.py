"""``mulewatch cases``: one line per account with its current alert, from a file or the alert topic.

From a file (``--alerts``): the table once, ages counted from the newest alert in it (a replay of
history has no "now"). From the topic: follows it; on a terminal the table refreshes in place every
``--every`` seconds (ages from the wall clock), and when piped each changed case is printed as a line
instead, so a log or another program gets every change and no screen codes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import orjson

from stream.cases import CaseBook, case_line, render
from stream.progress import interactive

CLEAR = "\x1b[H\x1b[2J"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--alerts", type=Path, help="alerts JSONL (e.g. from replay --out); default: follow the alert topic")
    parser.add_argument("--top", type=int, default=None, help="show at most this many cases (default: the terminal's height)")
    parser.add_argument("--every", type=float, default=2.0, help="with the topic on a terminal: seconds between refreshes (default 2)")
    parser.add_argument("--until-idle", type=float, default=0.0,
                        help="with the topic: stop after this many seconds without a new alert (default 0: run until Ctrl-C)")
    parser.add_argument("--broker", default=None, help="kafka://host:port (default MULEWATCH_BROKER or settings)")


def run(args: argparse.Namespace) -> int:
    book = CaseBook()
    if args.alerts is not None:
        return _from_file(args, book)
    try:
        return _follow(args, book)
    except KeyboardInterrupt:
        return 0


def _from_file(args: argparse.Namespace, book: CaseBook) -> int:
    try:
        with open(args.alerts, "rb") as handle:
            for n, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        book.add(orjson.loads(line))
                    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                        print(f"cases: {args.alerts}:{n}: not an alert, skipped", file=sys.stderr)
    except OSError as exc:
        print(f"cases: {exc}", file=sys.stderr)
        return 1
    now = book.latest() or datetime.now(timezone.utc)
    print("\n".join(render(book, now, args.top)))
    return 0


def _follow(args: argparse.Namespace, book: CaseBook) -> int:
    from stream.settings import kafka_python_security, load_settings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

    settings = load_settings(broker=args.broker)
    try:
        consumer = KafkaConsumer(settings.topics.alerts, bootstrap_servers=settings.bootstrap_servers, group_id=None,
                                 enable_auto_commit=False, auto_offset_reset="earliest", consumer_timeout_ms=500,
                                 **kafka_python_security(settings))
    except KafkaError as exc:
        print(f"cases: cannot reach Kafka at {settings.broker}: {exc}", file=sys.stderr)
        return 1
    screen = interactive()
    last_alert = last_draw = time.monotonic()
    try:
        while True:
            for message in consumer:
                try:
                    alert = orjson.loads(message.value)
                    changed = book.add(alert)
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue
                last_alert = time.monotonic()
                if changed and not screen:
                    print(case_line(book.cases[alert["account_id"]], datetime.now(timezone.utc)), flush=True)
                if screen and time.monotonic() - last_draw >= args.every:
                    break
            if screen and time.monotonic() - last_draw >= args.every:
                height = args.top or max(5, shutil.get_terminal_size().lines - 3)
                sys.stdout.write(CLEAR + "\n".join(render(book, datetime.now(timezone.utc), height)) + "\n")
                sys.stdout.flush()
                last_draw = time.monotonic()
            if args.until_idle and time.monotonic() - last_alert > args.until_idle:
                return 0
    finally:
        consumer.close()
