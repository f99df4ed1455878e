"""Account-level backtest metrics of alerts against labels. Pure arithmetic, no plotting.

Definitions (also printed in the report):

* An account is *detected* (alerted) when any alert names it, whatever the alert's typology. Alerted
  accounts missing from the labels count as false positives (and are counted apart).
* *All alerts* (the defaults): precision = alerted mules / alerted accounts; recall = alerted mules /
  labelled mules; F1 = 2PR / (P + R), 0 when both are 0.
* *Ranking*: alerted accounts ordered by their strongest alert: highest score, then higher severity,
  then earliest window end, then account id, so equal alerts always come out in the same order.
* *Budget* p %: the top floor(p % x labelled accounts) of the ranking, or every alerted account when
  fewer are alerted; precision, recall and F1 of those accounts alone.
* *Precision-recall curve*: precision and recall after each account of the ranking. *Average
  precision* = sum over the ranked mules of the precision at their rank, divided by all labelled
  mules; mules never alerted add 0, so it is at most the recall of all alerts.
* *Recall by label typology* (the label's own words): of the mules with that label typology, the
  share alerted, and the median time to detect. *Precision by alert typology*: of the accounts with
  an alert of that typology, the share that are mules of any typology. *Cross-tab*: detected mules
  counted by label typology and each alert typology they have (a mule with two alert typologies
  counts in both columns). *Agreement*, only where a label typology is also an alert typology name:
  of its detected mules, the share with an alert of that same typology.
* *Rule contribution*: for each rule, the alerted mule accounts and alerted other accounts with the
  rule in any of their alerts, and the rule's share of the summed rule weights of all alerts on
  mule accounts, and on other accounts.
* Workload = distinct alerts (an alert id counted once, whatever its versions) per 10,000 labelled
  accounts per day; ``days`` comes from ``--days`` or, failing that, the span of the alerts.
* Time to detect = first alert time (the alert's window end: the event time at which it was raised)
  minus ``misuse_start``, for detected mules; an alert before misuse_start counts as 0 and is
  counted apart. Percentiles interpolate linearly between ranks (numpy's default).
"""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from schemas import Alert
from stream.backtest.evaluation.alert_view import ALERT_TYPOLOGIES, AlertView, view

#: Alert budgets in percent of the labelled accounts, when none are given.
DEFAULT_BUDGETS: tuple[Decimal, ...] = (Decimal("0.5"), Decimal("1"), Decimal("2"))
#: Label typology of a mule whose label names none.
UNSPECIFIED = "(unspecified)"


@dataclass(frozen=True)
class Label:
    account_id: str
    label: int
    typology: str
    misuse_start: datetime | None


@dataclass(frozen=True)
class Selection:
    """Precision, recall and F1 of working some alerted accounts: all of them, or the top of the ranking.

    A bank whose analysts can work only so many cases judges a detector at that budget, not by
    every alert it raises.
    """

    name: str
    percent: Decimal | None  # the budget in % of labelled accounts; None for all alerts
    budget: int | None  # accounts the budget allows
    taken: int  # accounts worked: the budget, or all alerted accounts when fewer
    mules_found: int
    precision: float | None
    recall: float | None
    f1: float | None


@dataclass(frozen=True)
class CurvePoint:
    """One step of the precision-recall curve: the ranking worked down to ``rank`` (1-based)."""

    rank: int
    account_id: str
    score: int
    mule: bool
    mules_found: int
    precision: float
    recall: float | None


@dataclass(frozen=True)
class LabelTypologyRow:
    """Recall of the mules carrying one label typology."""

    name: str
    mules: int
    detected: int
    recall: float
    ttd_median_h: float | None
    agreement: float | None  # None when no alert typology has this name, or none detected


@dataclass(frozen=True)
class AlertTypologyRow:
    """Precision of the alerts of one typology, counted by account."""

    name: str
    alerted: int
    mules: int
    precision: float


@dataclass(frozen=True)
class RuleRow:
    """One rule's part in the alerts on mules (true positives) and on other accounts (false positives)."""

    rule_id: str
    mule_accounts: int
    other_accounts: int
    precision: float  # mule_accounts / (mule_accounts + other_accounts)
    mule_weight_share: float | None
    other_weight_share: float | None


@dataclass(frozen=True)
class FalsePositive:
    account_id: str
    labelled: bool
    alerts: int
    typologies: list[str]
    score: int
    severity: str
    first_alert: str
    reasons: list[str]  # of the account's strongest alert


@dataclass(frozen=True)
class Evaluation:
    accounts: int
    mules: int
    days: float
    days_source: str
    alerts: int
    alert_versions: int
    alerted_accounts: int
    unlabelled_alerted: int
    all_alerts: Selection
    budgets: list[Selection]
    average_precision: float | None
    pr_curve: list[CurvePoint]
    recall_by_label: list[LabelTypologyRow]
    agreement: float | None  # over detected mules whose label typology is an alert typology name
    precision_by_alert: list[AlertTypologyRow]
    crosstab: dict[str, dict[str, int]]  # label typology -> alert typology -> detected mules
    rules: list[RuleRow]
    alerts_per_10k_per_day: float
    alerted_accounts_per_10k_per_day: float
    ttd_hours: list[float]
    ttd_median_h: float | None
    ttd_p90_h: float | None
    alerted_before_start: int
    volume_by_day: list[tuple[str, int, int]]  # (date, alerts on mules, alerts on others)
    false_positives: list[FalsePositive]


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


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


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


def _strength(alert: AlertView) -> tuple[int, int, datetime]:
    """Sort key that puts the stronger alert first: higher score, then higher severity, then earlier."""
    return (-alert.score, -alert.severity_rank, alert.time)


def strongest_alerts(by_account: dict[str, list[AlertView]]) -> dict[str, AlertView]:
    """Each account's strongest alert; the alert id settles exact ties so the choice never depends on file order."""
    return {account: min(alerts, key=lambda al: (*_strength(al), al.alert_id)) for account, alerts in by_account.items()}


def rank_accounts(strongest: dict[str, AlertView]) -> list[tuple[str, AlertView]]:
    """Alerted accounts in the order analysts work them: strongest alert first, then by account id."""
    return sorted(strongest.items(), key=lambda item: (*_strength(item[1]), item[0]))


def precision_recall_curve(ranking: list[tuple[str, AlertView]], mules: set[str]) -> list[CurvePoint]:
    """Precision and recall after each ranked account: every budget a bank could choose, not only the ones asked."""
    points = []
    found = 0
    for rank, (account, alert) in enumerate(ranking, start=1):
        mule = account in mules
        found += 1 if mule else 0
        points.append(CurvePoint(rank, account, alert.score, mule, found, found / rank, _ratio(found, len(mules))))
    return points


def average_precision(curve: list[CurvePoint], mules: int) -> float | None:
    """Mean over all labelled mules of the precision at the rank where each is found (0 if never)."""
    if not mules:
        return None
    return math.fsum(point.precision for point in curve if point.mule) / mules


def budget_size(percent: Decimal, accounts: int) -> int:
    """Accounts a budget of ``percent`` % of ``accounts`` allows, rounded down: a part case is not worked.

    Decimal keeps e.g. 2.3 % of 3,000 at exactly 69, where binary floats give 68.99... and so 68.
    """
    return math.floor(percent * accounts / 100)


def budget_label(percent: Decimal) -> str:
    return f"top {percent.normalize():f} %"


def _selection(name: str, percent: Decimal | None, budget: int | None, curve: list[CurvePoint], mules: int) -> Selection:
    taken = len(curve) if budget is None else min(budget, len(curve))
    found = curve[taken - 1].mules_found if taken else 0
    precision, recall = _ratio(found, taken), _ratio(found, mules)
    return Selection(name, percent, budget, taken, found, precision, recall, f1(precision, recall))


def _label_typology(label: Label) -> str:
    return label.typology or UNSPECIFIED


def cross_tab(mule_labels: list[Label], by_account: dict[str, list[AlertView]], columns: list[str]) -> dict[str, dict[str, int]]:
    """Detected mules by label typology (rows) and each alert typology they have (columns, all present)."""
    table = {name: dict.fromkeys(columns, 0) for name in sorted({_label_typology(lab) for lab in mule_labels})}
    for label in mule_labels:
        for typology in {t for alert in by_account.get(label.account_id, ()) for t in alert.typologies}:
            table[_label_typology(label)][typology] += 1
    return table


def recall_by_label(mule_labels: list[Label], detected: set[str], ttd: dict[str, float],
                    crosstab: dict[str, dict[str, int]]) -> list[LabelTypologyRow]:
    """Recall in the labels' own words: a dataset's typologies need not be the alerts' (agreement comes from the cross-tab)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for label in mule_labels:
        groups[_label_typology(label)].append(label.account_id)
    rows = []
    for name, accounts in sorted(groups.items()):
        found = [a for a in accounts if a in detected]
        agreeing = crosstab[name].get(name, 0)
        rows.append(LabelTypologyRow(
            name, mules=len(accounts), detected=len(found), recall=len(found) / len(accounts),
            ttd_median_h=percentile([ttd[a] for a in found if a in ttd], 50),
            agreement=_ratio(agreeing, len(found)) if name in ALERT_TYPOLOGIES else None,
        ))
    return rows


def overall_agreement(rows: list[LabelTypologyRow], crosstab: dict[str, dict[str, int]]) -> float | None:
    """Agreement over the detected mules whose label typology an alert could name; None when no label uses alert words."""
    comparable = [row for row in rows if row.name in ALERT_TYPOLOGIES]
    return _ratio(sum(crosstab[row.name].get(row.name, 0) for row in comparable), sum(row.detected for row in comparable))


def precision_by_alert(by_account: dict[str, list[AlertView]], mules: set[str]) -> list[AlertTypologyRow]:
    """Precision in the alerts' words: how far an analyst can trust an alert of each typology, whatever the label says."""
    alerted: dict[str, set[str]] = defaultdict(set)
    for account, alerts in by_account.items():
        for typology in {t for alert in alerts for t in alert.typologies}:
            alerted[typology].add(account)
    return [AlertTypologyRow(name, len(accounts), len(accounts & mules), len(accounts & mules) / len(accounts))
            for name, accounts in sorted(alerted.items())]


def rule_contributions(by_account: dict[str, list[AlertView]], mules: set[str]) -> list[RuleRow]:
    """Which rules the true and the false positives rest on; most frequent rule first."""
    accounts: dict[bool, Counter[str]] = {True: Counter(), False: Counter()}
    weights: dict[bool, Counter[str]] = {True: Counter(), False: Counter()}
    for account, alerts in by_account.items():
        side = account in mules
        accounts[side].update({hit.rule_id for alert in alerts for hit in alert.rules})
        for alert in alerts:
            for hit in alert.rules:
                weights[side][hit.rule_id] += hit.weight
    totals = {side: sum(counter.values()) for side, counter in weights.items()}
    rows = [
        RuleRow(rule, accounts[True][rule], accounts[False][rule],
                accounts[True][rule] / (accounts[True][rule] + accounts[False][rule]),
                _ratio(weights[True][rule], totals[True]), _ratio(weights[False][rule], totals[False]))
        for rule in set(accounts[True]) | set(accounts[False])
    ]
    return sorted(rows, key=lambda row: (-(row.mule_accounts + row.other_accounts), row.rule_id))


def time_to_detect(mule_labels: list[Label], by_account: dict[str, list[AlertView]]) -> tuple[dict[str, float], int]:
    """Hours from misuse start to first alert per detected mule with a start; and how many were alerted before it."""
    hours: dict[str, float] = {}
    early = 0
    for label in mule_labels:
        alerts = by_account.get(label.account_id)
        if not alerts or label.misuse_start is None:
            continue
        elapsed = (min(alert.time for alert in alerts) - label.misuse_start) / timedelta(hours=1)
        if elapsed < 0:
            early += 1
        hours[label.account_id] = max(0.0, elapsed)
    return hours, early


def labelled_period(days: float | None, alerts: list[AlertView]) -> tuple[float, str]:
    """Days the labels cover, for the workload: ``--days``, or else the alerts' span rounded up (at least 1)."""
    if days is not None:
        return float(days), "--days"
    span = 1.0
    if alerts:
        first, last = min(al.time for al in alerts), max(al.time for al in alerts)
        span = max(1.0, math.ceil((last - first) / timedelta(days=1)))
    return span, "span of the alerts (pass --days for the labelled period)"


def volume_by_day(alerts: list[AlertView], mules: set[str]) -> list[tuple[str, int, int]]:
    """(date, alerts on mules, alerts on others) per day of the alerts' event time: the queue analysts face each day."""
    volume: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for alert in alerts:
        volume[alert.time.date().isoformat()][0 if alert.account_id in mules else 1] += 1
    return [(day, on_mules, on_others) for day, (on_mules, on_others) in sorted(volume.items())]


def false_positives(by_account: dict[str, list[AlertView]], strongest: dict[str, AlertView], mules: set[str],
                    labels: dict[str, Label], top: int) -> list[FalsePositive]:
    """The alerted non-mules an analyst would open first, each with the reasons of its strongest alert."""
    found = []
    for account in by_account.keys() - mules:
        alert = strongest[account]
        found.append(FalsePositive(
            account_id=account, labelled=account in labels, alerts=len(by_account[account]),
            typologies=list(alert.typologies), score=alert.score, severity=alert.severity,
            first_alert=min(al.time for al in by_account[account]).isoformat(),
            reasons=[f"{hit.rule_id} (w{hit.weight}): {hit.reason}" for hit in alert.rules],
        ))
    found.sort(key=lambda fp: (-fp.score, -fp.alerts, fp.account_id))
    return found[:top]


def evaluate(labels: dict[str, Label], alerts: Iterable[Alert], days: float | None = None, alert_versions: int | None = None,
             top_false_positives: int = 20, budgets: Sequence[Decimal] = DEFAULT_BUDGETS) -> Evaluation:
    """Every figure of the backtest; ``alerts`` hold one version per alert id (see ``read_alerts``)."""
    views = [view(alert) for alert in alerts]
    mule_labels = [lab for lab in labels.values() if lab.label == 1]
    mules = {lab.account_id for lab in mule_labels}
    by_account: dict[str, list[AlertView]] = defaultdict(list)
    for alert in views:
        by_account[alert.account_id].append(alert)

    strongest = strongest_alerts(by_account)
    curve = precision_recall_curve(rank_accounts(strongest), mules)
    by_alert = precision_by_alert(by_account, mules)
    crosstab = cross_tab(mule_labels, by_account, [row.name for row in by_alert])
    ttd, early = time_to_detect(mule_labels, by_account)
    by_label = recall_by_label(mule_labels, set(by_account), ttd, crosstab)
    span, source = labelled_period(days, views)
    per = 10_000 / max(1, len(labels)) / span

    return Evaluation(
        accounts=len(labels), mules=len(mules), days=span, days_source=source, alerts=len(views),
        alert_versions=alert_versions if alert_versions is not None else len(views),
        alerted_accounts=len(by_account), unlabelled_alerted=len(by_account.keys() - labels.keys()),
        all_alerts=_selection("all alerts", None, None, curve, len(mules)),
        budgets=[_selection(budget_label(p), p, budget_size(p, len(labels)), curve, len(mules)) for p in budgets],
        average_precision=average_precision(curve, len(mules)), pr_curve=curve,
        recall_by_label=by_label, agreement=overall_agreement(by_label, crosstab),
        precision_by_alert=by_alert, crosstab=crosstab, rules=rule_contributions(by_account, mules),
        alerts_per_10k_per_day=len(views) * per, alerted_accounts_per_10k_per_day=len(by_account) * per,
        ttd_hours=sorted(ttd.values()), ttd_median_h=percentile(list(ttd.values()), 50),
        ttd_p90_h=percentile(list(ttd.values()), 90), alerted_before_start=early,
        volume_by_day=volume_by_day(views, mules),
        false_positives=false_positives(by_account, strongest, mules, labels, top_false_positives),
    )
