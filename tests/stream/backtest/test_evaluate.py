"""Evaluation arithmetic on hand-made labels and alerts, and the CLI's table and offline HTML report."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from schemas import Alert, KeyFigures, RecommendedAction, RuleHit, Severity, Typology
from stream.cli import main
from stream.backtest.evaluation.alert_view import read_alerts
from stream.backtest.evaluation.metrics import Label, evaluate, f1, percentile, read_labels

T0 = datetime(2026, 1, 10, tzinfo=timezone.utc)


def alert(account: str, typology: str, hours: float, version: int = 1, score: int = 60, key: str | None = None) -> Alert:
    when = T0 + timedelta(hours=hours)
    return Alert(
        alert_id=hashlib.md5((key or f"{account}-{typology}-{hours}").encode()).hexdigest(),
        version=version,
        account_id=account,
        typology=Typology(typology),
        score=score,
        severity=Severity.HIGH,
        rules=[RuleHit(rule_id="rapid_pass_through", reason="95 % out within 1 h", weight=40, event_time=when,
                       evidence_event_ids=["e1"])],
        figures=KeyFigures(currency="EUR", inflow=Decimal("100"), outflow=Decimal("95"), distinct_senders=1,
                           distinct_beneficiaries=1),
        window_start=when - timedelta(hours=1),
        window_end=when,
        config_version="test",
        recommended_action=RecommendedAction.REVIEW,
    )


def labels() -> dict[str, Label]:
    rows = {
        "m1": ("account_sold", T0), "m2": ("account_sold", T0), "m3": ("account_rented", T0), "m4": ("account_lent", T0),
    }
    result = {a: Label(a, 1, typ, start) for a, (typ, start) in rows.items()}
    for n in range(1, 7):
        result[f"n{n}"] = Label(f"n{n}", 0, "", None)
    return result


def alerts() -> list[Alert]:
    return [
        alert("m1", "account_sold", 2, version=2, key="m1"),
        alert("m2", "account_rented", 10),
        alert("m3", "account_rented", 4),
        alert("n1", "account_sold", 30, score=80),
        alert("n2", "collection_account", 40, score=55),
    ]


def test_overall_and_per_typology_arithmetic():
    ev = evaluate(labels(), alerts(), days=2)
    o = ev.overall
    assert (o.mules, o.detected, o.alerted, o.alerted_mules) == (4, 3, 5, 3)
    assert o.precision == pytest.approx(0.6) and o.recall == pytest.approx(0.75)
    assert o.f1 == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    rows = {r.name: r for r in ev.typologies}
    sold, rented, lent, collection = (rows[n] for n in ("account_sold", "account_rented", "account_lent", "collection_account"))
    assert (sold.recall, sold.precision, sold.agreement) == (1.0, 0.5, 0.5)
    assert (rented.recall, rented.precision, rented.agreement) == (1.0, 1.0, 1.0)
    assert (lent.recall, lent.precision, lent.f1) == (0.0, None, None)
    assert (collection.recall, collection.precision) == (None, 0.0)
    assert ev.alerts == 5
    assert ev.alerts_per_10k_per_day == pytest.approx(5 * 10_000 / 10 / 2)
    assert ev.alerted_accounts_per_10k_per_day == pytest.approx(2500)
    assert ev.ttd_hours == [2, 4, 10]
    assert ev.ttd_median_h == 4 and ev.ttd_p90_h == pytest.approx(8.8)
    assert [fp["account_id"] for fp in ev.false_positives] == ["n1", "n2"]
    assert ev.false_positives[0]["reasons"] == ["rapid_pass_through (w40): 95 % out within 1 h"]


def test_an_alert_before_misuse_start_counts_as_zero_and_is_counted():
    ev = evaluate(labels(), [alert("m1", "account_sold", -5), alert("m3", "account_rented", 6)], days=1)
    assert ev.ttd_hours == [0.0, 6.0] and ev.alerted_before_start == 1


def test_unlabelled_alerted_accounts_are_false_positives():
    ev = evaluate(labels(), [alert("ghost", "account_sold", 1), alert("m1", "account_sold", 1)], days=1)
    assert ev.unlabelled_alerted == 1 and ev.overall.precision == 0.5


def test_days_default_to_the_alert_span_rounded_up():
    ev = evaluate(labels(), alerts())
    assert ev.days == 2 and "span" in ev.days_source  # 2 h .. 40 h


def test_no_alerts_at_all():
    ev = evaluate(labels(), [], days=30)
    assert ev.overall.recall == 0.0 and ev.overall.precision is None and ev.alerts_per_10k_per_day == 0
    assert ev.ttd_median_h is None


def test_percentile_and_f1():
    assert percentile(list(range(1, 11)), 90) == pytest.approx(9.1)
    assert percentile([5.0], 90) == 5.0 and percentile([], 50) is None
    assert f1(0.0, 0.0) == 0.0 and f1(1.0, 0.5) == pytest.approx(2 / 3)


def _write(tmp_path: Path) -> tuple[Path, Path]:
    lab = tmp_path / "labels.csv"
    rows = ["account_id,label,typology,misuse_start"]
    for a, l in labels().items():
        rows.append(f"{a},{l.label},{l.typology},{l.misuse_start.isoformat().replace('+00:00', 'Z') if l.misuse_start else ''}")
    lab.write_text("\n".join(rows) + "\n")
    out = tmp_path / "alerts.jsonl"
    lines = [a.model_dump_json() for a in alerts()]
    lines.insert(1, alert("m1", "account_sold", 2, version=1, key="m1").model_dump_json())  # older version
    lines.append("{not an alert")
    out.write_text("\n".join(lines) + "\n")
    return lab, out


def test_reading_files_keeps_the_highest_version_and_skips_bad_lines(tmp_path):
    lab, out = _write(tmp_path)
    assert read_labels(lab)["m1"].misuse_start == T0
    kept, versions, rejected = read_alerts(out)
    assert len(kept) == 5 and versions == 6 and len(rejected) == 1 and rejected[0].startswith("line 7")


def test_cli_prints_the_table_and_writes_an_offline_report(tmp_path, capsys):
    lab, out = _write(tmp_path)
    report = tmp_path / "report.html"
    assert main(["evaluate", "--alerts", str(out), "--labels", str(lab), "--days", "2", "--report", str(report)]) == 0
    text = capsys.readouterr().out
    assert "account_sold" in text and "2500.00 alerts per 10,000 accounts per day" in text
    assert "median 4.0 h, p90 8.8 h" in text
    page = report.read_text()
    assert page.count("data:image/png;base64,") == 3
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "rapid_pass_through" in page and "n1" in page


def test_cli_reports_a_missing_labels_file(tmp_path, capsys):
    _, out = _write(tmp_path)
    assert main(["evaluate", "--alerts", str(out), "--labels", str(tmp_path / "nope.csv")]) == 1
    assert "nope.csv" in capsys.readouterr().err
