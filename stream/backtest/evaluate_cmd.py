"""``mulewatch evaluate``: precision and recall (overall, at alert budgets, per typology), rule contributions,
workload and time to detect of alerts against labels."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import textwrap
from decimal import Decimal, InvalidOperation
from pathlib import Path

from stream.backtest.evaluation.alert_view import read_alerts
from stream.backtest.evaluation.decisions import decision_effects, describe, read_dispositions
from stream.backtest.evaluation.metrics import DEFAULT_BUDGETS, Evaluation, evaluate, read_labels
from stream.backtest.evaluation.tables import Table, tables


def budgets(text: str) -> list[Decimal]:
    """``0.5,1,2`` -> the budgets in percent of the labelled accounts, ascending and without repeats."""
    values: set[Decimal] = set()
    for part in text.split(","):
        try:
            value = Decimal(part.strip())
        except InvalidOperation:
            raise argparse.ArgumentTypeError(f"{part.strip()!r} is not a number") from None
        if not value.is_finite() or not 0 < value <= 100:
            raise argparse.ArgumentTypeError(f"a budget is a percentage above 0 and at most 100, got {part.strip()}")
        values.add(value)
    return sorted(values)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--alerts", type=Path, required=True, help="alerts JSONL (one Alert a line, e.g. from replay --out)")
    parser.add_argument("--labels", type=Path, required=True, help="labels CSV: account_id,label,typology,misuse_start")
    parser.add_argument("--report", type=Path, help="write a self-contained HTML report with plots here")
    parser.add_argument("--json", type=Path, help="write every figure as JSON here, for scripts and CI comparisons")
    parser.add_argument("--days", type=float, help="length of the labelled period in days, for the workload (default: span of the alerts)")
    parser.add_argument("--budgets", type=budgets, default=list(DEFAULT_BUDGETS),
                        help="alert budgets in %% of the labelled accounts, comma-separated "
                             f"(default {','.join(f'{p:f}' for p in DEFAULT_BUDGETS)})")
    parser.add_argument("--top-fp", type=int, default=20, help="false positives listed in the report (default 20)")
    parser.add_argument("--dispositions", type=Path,
                        help="analysts' decisions (JSONL of Disposition): also report what they changed, or would have"
                             " (alert versions after a legitimate decision, accounts alerted with a confirmed mule's money)")


def _grid(table: Table) -> list[str]:
    """The table aligned in columns: names to the left, figures to the right."""
    rows = [table.head, *table.rows, *([table.total] if table.total else [])]
    widths = [max(len(row[i]) for row in rows) for i in range(len(table.head))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(w) if i < table.text_columns else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "-" * len(line(table.head))
    lines = [line(table.head), rule, *(line(row) for row in table.rows)]
    if table.total:
        lines += [rule, line(table.total)]
    return lines


def terminal(ev: Evaluation) -> str:
    """Every table, then the volume, workload and time-to-detect lines."""
    lines: list[str] = []
    for table in tables(ev, numbered_crosstab=True):
        lines += [table.title, *_grid(table), *([table.summary] if table.summary else []),
                  textwrap.fill(table.note, width=110), ""]
    ttd = "-" if ev.ttd_median_h is None else f"median {ev.ttd_median_h:.1f} h, p90 {ev.ttd_p90_h:.1f} h"
    lines += [
        f"accounts {ev.accounts} ({ev.mules} mules), days {ev.days:g} ({ev.days_source}), alerts {ev.alerts} "
        f"({ev.alert_versions} versions), alerted accounts {ev.alerted_accounts}"
        + (f", {ev.unlabelled_alerted} not in the labels (counted as false positives)" if ev.unlabelled_alerted else ""),
        f"workload: {ev.alerts_per_10k_per_day:.2f} alerts per 10,000 accounts per day "
        f"({ev.alerted_accounts_per_10k_per_day:.2f} alerted accounts)",
        f"time from misuse start to first alert: {ttd}"
        + (f" ({ev.alerted_before_start} alerted before misuse start, counted as 0)" if ev.alerted_before_start else ""),
    ]
    return "\n".join(lines)


def _json_value(value: object) -> float:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json(ev: Evaluation) -> str:
    """Every field of the evaluation, as the dataclasses name them (budget percentages as numbers)."""
    return json.dumps(dataclasses.asdict(ev), default=_json_value, indent=1)


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
    result = evaluate(labels, alerts, days=args.days, alert_versions=versions, top_false_positives=args.top_fp,
                      budgets=args.budgets)
    print(terminal(result))
    effects = None
    if args.dispositions is not None:
        try:
            decided, bad = read_dispositions(args.dispositions)
        except OSError as exc:
            print(f"evaluate: {exc}", file=sys.stderr)
            return 1
        for line in bad[:10]:
            print(f"evaluate: {args.dispositions}: skipped {line}", file=sys.stderr)
        effects = decision_effects(args.alerts, decided, labels)
        print(describe(effects))
    if args.json is not None:
        document = json.loads(to_json(result))
        if effects is not None:
            document["decisions"] = dataclasses.asdict(effects)
        args.json.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        print(f"json: {args.json}", file=sys.stderr)
    if args.report is not None:
        from stream.backtest.evaluation.report import render

        args.report.write_text(render(result), encoding="utf-8")
        print(f"report: {args.report}", file=sys.stderr)
    return 0
