"""``mulewatch evaluate``: precision, recall, F1, workload and time to detect of alerts against labels."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stream.backtest.evaluation.alert_view import read_alerts
from stream.backtest.evaluation.metrics import evaluate, read_labels, table


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--alerts", type=Path, required=True, help="alerts JSONL (one Alert a line, e.g. from replay --out)")
    parser.add_argument("--labels", type=Path, required=True, help="labels CSV: account_id,label,typology,misuse_start")
    parser.add_argument("--report", type=Path, help="write a self-contained HTML report with plots here")
    parser.add_argument("--days", type=float, help="length of the labelled period in days, for the workload (default: span of the alerts)")
    parser.add_argument("--top-fp", type=int, default=20, help="false positives listed in the report (default 20)")


def run(args: argparse.Namespace) -> int:
    try:
        labels = read_labels(args.labels)
        alerts, versions, rejected = read_alerts(args.alerts)
    except (OSError, ValueError) as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 1
    for line in rejected[:10]:
        print(f"evaluate: {args.alerts}: skipped {line}", file=sys.stderr)
    if len(rejected) > 10:
        print(f"evaluate: ... and {len(rejected) - 10} more invalid alert lines", file=sys.stderr)
    result = evaluate(labels, alerts, days=args.days, alert_versions=versions, top_false_positives=args.top_fp)
    print(table(result))
    if args.report is not None:
        from stream.backtest.evaluation.report import render

        args.report.write_text(render(result), encoding="utf-8")
        print(f"report: {args.report}", file=sys.stderr)
    return 0
