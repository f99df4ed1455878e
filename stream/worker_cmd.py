"""``mulewatch worker``: the long-running Faust worker a bank runs in its cluster."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags override the MULEWATCH_* variables named in brackets; secrets only come from the environment."""
    parser.add_argument("--broker", help="broker URL, e.g. kafka://127.0.0.1:9092 [MULEWATCH_BROKER]")
    parser.add_argument("--app-id", help="consumer group and internal topic prefix [MULEWATCH_APP_ID]")
    parser.add_argument("--data-dir", type=Path, help="RocksDB state directory, one per worker [MULEWATCH_DATA_DIR]")
    parser.add_argument("--web-port", type=int, help="port of /metrics and health endpoints [MULEWATCH_WEB_PORT]")
    parser.add_argument("--web-bind", help="address the web server binds [MULEWATCH_WEB_BIND]")
    parser.add_argument("--partitions", type=int, help="partitions of the topics it creates [MULEWATCH_PARTITIONS]")
    parser.add_argument("--config", type=Path, help="detector config file (TOML) [MULEWATCH_CONFIG]")
    parser.add_argument("--loglevel", default="info", choices=["debug", "info", "warning", "error"])


def settings_from_args(args: argparse.Namespace):
    from stream.settings import load_settings

    return load_settings(broker=args.broker, app_id=args.app_id, data_dir=args.data_dir, web_port=args.web_port,
                         web_bind=args.web_bind, partitions=args.partitions, config=args.config)


def run(args: argparse.Namespace) -> int:
    from detectors import load_config
    from stream.topics import BrokerUnavailable, ensure_topics

    try:
        settings = settings_from_args(args)
        config = load_config(settings.config)
        settings.security.resolved_password()  # an unreadable password file is a configuration error
    except (ValidationError, ValueError, OSError) as exc:
        print(f"mulewatch worker: invalid configuration: {_one_line(exc)}", file=sys.stderr)
        return 2
    try:
        input_partitions = ensure_topics(settings)
    except BrokerUnavailable as exc:
        print(f"mulewatch worker: {exc}", file=sys.stderr)
        return 3
    return _run_worker(settings, config, input_partitions, args.loglevel)


def _run_worker(settings, config, input_partitions: dict[str, int], loglevel: str) -> int:
    import faust

    from stream.app import create_app
    from stream.faust_sensor import setup_faust_sensor
    from stream.metrics import Metrics

    metrics = Metrics()
    app = create_app(settings, config, metrics, input_partitions)
    setup_faust_sensor(app, metrics.registry)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())
    return " ".join(str(exc).split())
