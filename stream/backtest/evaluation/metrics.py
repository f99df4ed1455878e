"""Account-level backtest metrics of alerts against labels. Pure arithmetic, no plotting.

Definitions (also printed in the report):

* An account is *detected* when any alert names it, whatever the alert's typology.
* Overall precision = detected mules / detected accounts; recall = detected mules / mules.
  Alerted accounts missing from the labels count as false positives (and are counted apart).
* Per-typology recall = share of that typology's mules (by label) with any alert.
* Per-typology precision is attributed by the alert's typology: of the accounts with at least one
  alert of typology T, the share that are mules of any typology. "Typology agreement" is, of the
  detected mules of typology T, the share with an alert of typology T.
* F1 = 2PR / (P + R), 0 when both are 0.
* Workload = distinct alerts (an alert id counted once, whatever its versions) per 10,000 labelled
  accounts per day; ``days`` comes from ``--days`` or, failing that, the span of the alerts.
* Time to detect = first alert time (the alert's ``window_end``: the event time at which it was
  raised) minus ``misuse_start``, for detected mules; an alert before misuse_start counts as 0 and is
  counted apart. Percentiles interpolate linearly between ranks (numpy's default).
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from schemas import Alert
from stream.backtest.evaluation.alert_view import AlertView, view


@dataclass(frozen=True)
class Label:
    account_id: str
    label: int
    typology: str
    misuse_start: datetime | None


@dataclass
class Row:
    name: str
    mules: int = 0
    detected: int = 0
    alerted: int = 0
    alerted_mules: int = 0
    agreeing: int = 0

    @property
    def recall(self) -> float | None:
        return self.detected / self.mules if self.mules else None

    @property
    def precision(self) -> float | None:
        return self.alerted_mules / self.alerted if self.alerted else None

    @property
    def f1(self) -> float | None:
        return f1(self.precision, self.recall)

    @property
    def agreement(self) -> float | None:
        return self.agreeing / self.detected if self.detected else None


@dataclass
class Evaluation:
    accounts: int
    days: float
    days_source: str
    alerts: int
    alert_versions: int
    overall: Row
    typologies: list[Row]
    unlabelled_alerted: int
    alerts_per_10k_per_day: float
    alerted_accounts_per_10k_per_day: float
    ttd_hours: list[float]
    ttd_median_h: float | None
    ttd_p90_h: float | None
    alerted_before_start: int
    volume_by_day: list[tuple[str, int, int]]  # (date, alerts on mules, alerts on others)
    false_positives: list[dict] = field(default_factory=list)


def f1(precision: float | None, recall: float | None) -> float | None:
    if precision is None or recall is None:
        return None
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks, ``q`` in [0, 100]."""
    if not values:
        return None
    data = sorted(values)
    pos = (len(data) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def read_labels(path: Path) -> dict[str, Label]:
    labels: dict[str, Label] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"account_id", "label", "typology", "misuse_start"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: labels need the columns account_id,label,typology,misuse_start (missing {', '.join(sorted(missing))})")
        for n, row in enumerate(reader, start=2):
            try:
                label = int(row["label"])
                start = _time(row["misuse_start"]) if row["misuse_start"] else None
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: {exc}") from exc
            if label not in (0, 1):
                raise ValueError(f"{path}:{n}: label must be 0 or 1, got {label}")
            labels[row["account_id"]] = Label(row["account_id"], label, row["typology"] if label else "", start)
    return labels


def evaluate(labels: dict[str, Label], alerts: list[Alert], days: float | None = None, alert_versions: int | None = None,
             top_false_positives: int = 20) -> Evaluation:
    views = [view(alert) for alert in alerts]
    mules = {a for a, lab in labels.items() if lab.label == 1}
    by_account: dict[str, list[AlertView]] = defaultdict(list)
    for alert in views:
        by_account[alert.account_id].append(alert)
    detected = set(by_account)

    overall = Row("overall", mules=len(mules), detected=len(detected & mules), alerted=len(detected),
                  alerted_mules=len(detected & mules))
    overall.agreeing = sum(
        1 for a in detected & mules if any(labels[a].typology in al.typologies for al in by_account[a])
    )

    names = sorted({lab.typology for lab in labels.values() if lab.label} | {t for al in views for t in al.typologies})
    rows = []
    for name in names:
        of_type = {a for a in mules if labels[a].typology == name}
        alerted = {al.account_id for al in views if name in al.typologies}
        det = of_type & detected
        rows.append(Row(name, mules=len(of_type), detected=len(det), alerted=len(alerted),
                        alerted_mules=len(alerted & mules),
                        agreeing=sum(1 for a in det if any(name in al.typologies for al in by_account[a]))))

    if days is not None:
        span, source = float(days), "--days"
    else:
        if views:
            first = min(al.time for al in views)
            last = max(al.time for al in views)
            span = max(1.0, math.ceil((last - first) / timedelta(days=1)))
        else:
            span = 1.0
        source = "span of the alerts (pass --days for the labelled period)"
    n_accounts = max(1, len(labels))
    per = 10_000 / n_accounts / span

    ttd: list[float] = []
    early = 0
    for account in detected & mules:
        start = labels[account].misuse_start
        if start is None:
            continue
        first_alert = min(al.time for al in by_account[account])
        hours = (first_alert - start) / timedelta(hours=1)
        if hours < 0:
            early += 1
            hours = 0.0
        ttd.append(hours)

    volume: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for alert in views:
        volume[alert.time.date().isoformat()][0 if alert.account_id in mules else 1] += 1

    fps = []
    for account in detected - mules:
        account_alerts = by_account[account]
        top = max(account_alerts, key=lambda al: (al.score, al.severity_rank, al.alert_id))
        fps.append({
            "account_id": account,
            "labelled": account in labels,
            "alerts": len(account_alerts),
            "typology": ", ".join(top.typologies),
            "score": top.score,
            "severity": top.severity,
            "first_alert": min(al.time for al in account_alerts).isoformat(),
            "reasons": [f"{hit.rule_id} (w{hit.weight}): {hit.reason}" for hit in top.rules],
        })
    fps.sort(key=lambda fp: (-fp["score"], -fp["alerts"], fp["account_id"]))

    return Evaluation(
        accounts=len(labels), days=span, days_source=source, alerts=len(alerts),
        alert_versions=alert_versions if alert_versions is not None else len(alerts),
        overall=overall, typologies=rows,
        unlabelled_alerted=sum(1 for a in detected if a not in labels),
        alerts_per_10k_per_day=len(alerts) * per, alerted_accounts_per_10k_per_day=len(detected) * per,
        ttd_hours=sorted(ttd), ttd_median_h=percentile(ttd, 50), ttd_p90_h=percentile(ttd, 90),
        alerted_before_start=early,
        volume_by_day=[(day, v[0], v[1]) for day, v in sorted(volume.items())],
        false_positives=fps[:top_false_positives],
    )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(ev: Evaluation) -> str:
    """The terminal table."""
    head = f"{'typology':<30} {'mules':>6} {'detected':>8} {'recall':>7} {'alerted':>8} {'precision':>9} {'F1':>6} {'agree':>6}"
    lines = [head, "-" * len(head)]
    for row in [*ev.typologies, ev.overall]:
        if row is ev.overall:
            lines.append("-" * len(head))
        lines.append(f"{row.name:<30} {row.mules:>6} {row.detected:>8} {_fmt(row.recall):>7} {row.alerted:>8} "
                     f"{_fmt(row.precision):>9} {_fmt(row.f1):>6} {_fmt(row.agreement):>6}")
    ttd = "-" if ev.ttd_median_h is None else f"median {ev.ttd_median_h:.1f} h, p90 {ev.ttd_p90_h:.1f} h"
    lines += [
        "",
        f"accounts {ev.accounts}, days {ev.days:g} ({ev.days_source}), alerts {ev.alerts} "
        f"({ev.alert_versions} versions), alerted accounts {ev.overall.alerted}"
        + (f", {ev.unlabelled_alerted} not in the labels (counted as false positives)" if ev.unlabelled_alerted else ""),
        f"workload: {ev.alerts_per_10k_per_day:.2f} alerts per 10,000 accounts per day "
        f"({ev.alerted_accounts_per_10k_per_day:.2f} alerted accounts)",
        f"time from misuse start to first alert: {ttd}"
        + (f" ({ev.alerted_before_start} alerted before misuse start, counted as 0)" if ev.alerted_before_start else ""),
        "precision per typology is attributed by the alert's typology; 'agree' = detected mules of the typology "
        "with an alert of the same typology",
    ]
    return "\n".join(lines)
