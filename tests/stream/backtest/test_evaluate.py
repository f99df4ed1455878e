"""Evaluation arithmetic on hand-made labels and alerts, and the CLI's table, JSON and offline HTML report.

Each scenario is small enough that its figures are worked out by hand in the test.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import json
import random
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from schemas import Alert, KeyFigures, RecommendedAction, RuleHit, Severity, Typology, TypologyScore
from stream.backtest.evaluate_cmd import budgets
from stream.backtest.evaluation.alert_view import read_alerts
from stream.backtest.evaluation.metrics import Evaluation, Label, budget_size, evaluate, f1, percentile, read_labels
from stream.backtest.evaluation.report import render
from stream.cli import main

T0 = datetime(2026, 1, 10, tzinfo=timezone.utc)


def alert(account: str, typology: str, hours: float, version: int = 1, score: int = 60, key: str | None = None,
          severity: Severity = Severity.HIGH, rules: tuple[tuple[str, int], ...] = (("rapid_pass_through", 40),),
          also: tuple[tuple[str, int], ...] = ()) -> Alert:
    """An alert of ``typology`` with ``score``; ``also``: more typologies the same alert carries, with their scores."""
    when = T0 + timedelta(hours=hours)
    return Alert(
        alert_id=hashlib.md5((key or f"{account}-{typology}-{hours}").encode()).hexdigest(),
        version=version,
        account_id=account,
        episode_start=T0 - timedelta(days=3),
        typologies=[TypologyScore(typology=Typology(name), score=points, severity=severity,
                                  recommended_action=RecommendedAction.REVIEW)
                    for name, points in ((typology, score), *also)],
        score=max([score, *(points for _, points in also)]),
        severity=severity,
        rules=[RuleHit(rule_id=rule, reason="95 % out within 1 h", weight=weight, event_time=when, evidence_event_ids=["e1"])
               for rule, weight in rules],
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
    o = ev.all_alerts
    assert (ev.mules, o.taken, o.mules_found) == (4, 5, 3)
    assert o.precision == pytest.approx(0.6) and o.recall == pytest.approx(0.75)
    assert o.f1 == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    recall = {r.name: r for r in ev.recall_by_label}
    assert list(recall) == ["account_lent", "account_rented", "account_sold"]
    sold, rented, lent = recall["account_sold"], recall["account_rented"], recall["account_lent"]
    assert (sold.mules, sold.detected, sold.recall, sold.agreement) == (2, 2, 1.0, 0.5)  # m2 is alerted as rented
    assert (rented.recall, rented.agreement, rented.ttd_median_h) == (1.0, 1.0, 4.0)
    assert (lent.recall, lent.agreement, lent.ttd_median_h) == (0.0, None, None)
    assert ev.agreement == pytest.approx(2 / 3)
    precision = {r.name: (r.alerted, r.mules, r.precision) for r in ev.precision_by_alert}
    assert precision == {"account_sold": (2, 1, 0.5), "account_rented": (2, 2, 1.0), "collection_account": (1, 0, 0.0)}
    assert ev.alerts == 5
    assert ev.alerts_per_10k_per_day == pytest.approx(5 * 10_000 / 10 / 2)
    assert ev.alerted_accounts_per_10k_per_day == pytest.approx(2500)
    assert ev.ttd_hours == [2, 4, 10]
    assert ev.ttd_median_h == 4 and ev.ttd_p90_h == pytest.approx(8.8)
    assert [fp.account_id for fp in ev.false_positives] == ["n1", "n2"]
    assert ev.false_positives[0].reasons == ["rapid_pass_through (w40): 95 % out within 1 h"]


def _bank(accounts: int, mule_ids: list[str]) -> dict[str, Label]:
    """``accounts`` labelled accounts: the given mules (typology account_sold, misuse from T0), the rest n1, n2, ..."""
    result = {a: Label(a, 1, "account_sold", T0) for a in mule_ids}
    for n in range(1, accounts - len(mule_ids) + 1):
        result[f"n{n}"] = Label(f"n{n}", 0, "", None)
    return result


def ranked_bank() -> tuple[dict[str, Label], list[Alert]]:
    """200 accounts, 4 mules; the ranking by strongest alert is m1, n1, m2, m3, n2 and m4 is never alerted.

    m2's early weak alert and n1's late weak one must not move them: an account ranks by its strongest alert.
    """
    found = [
        alert("m1", "account_sold", 5, score=90),
        alert("n1", "account_sold", 6, score=80),
        alert("n1", "collection_account", 30, score=10),
        alert("m2", "account_sold", 1, score=30),
        alert("m2", "account_rented", 8, score=70),
        alert("m3", "account_sold", 9, score=70),
        alert("n2", "account_lent", 2, score=50),
    ]
    return _bank(200, ["m1", "m2", "m3", "m4"]), found


def test_accounts_rank_by_their_strongest_alert_and_budgets_take_the_top():
    ev = evaluate(*ranked_bank(), days=1, budgets=[Decimal("0.5"), Decimal("1"), Decimal("2"), Decimal("5")])
    assert [(p.account_id, p.score, p.mule) for p in ev.pr_curve] == [
        ("m1", 90, True), ("n1", 80, False), ("m2", 70, True), ("m3", 70, True), ("n2", 50, False)]
    assert [p.precision for p in ev.pr_curve] == pytest.approx([1, 1 / 2, 2 / 3, 3 / 4, 3 / 5])
    assert [p.recall for p in ev.pr_curve] == pytest.approx([1 / 4, 1 / 4, 2 / 4, 3 / 4, 3 / 4])
    got = [(s.name, s.budget, s.taken, s.mules_found, s.precision, s.recall, s.f1) for s in ev.budgets]
    assert got == [
        ("top 0.5 %", 1, 1, 1, 1.0, 0.25, pytest.approx(0.4)),
        ("top 1 %", 2, 2, 1, 0.5, 0.25, pytest.approx(1 / 3)),
        ("top 2 %", 4, 4, 3, 0.75, 0.75, pytest.approx(0.75)),
        ("top 5 %", 10, 5, 3, 0.6, 0.75, pytest.approx(2 / 3)),  # 10 allowed, only 5 alerted
    ]
    everything = ev.all_alerts
    assert (everything.taken, everything.mules_found, everything.precision, everything.recall) == (5, 3, 0.6, 0.75)
    # mules found at ranks 1, 3, 4; m4 is never found and adds 0
    assert ev.average_precision == pytest.approx((1 + 2 / 3 + 3 / 4) / 4)


def test_ties_break_by_severity_then_earliest_then_account_whatever_the_input_order():
    found = [
        alert("b", "account_sold", 5, score=70),
        alert("a", "account_sold", 1, score=70, severity=Severity.MEDIUM),  # earliest, but lower severity
        alert("d", "account_sold", 3, score=70),
        alert("c", "account_sold", 3, score=70),
        alert("e", "account_sold", 0, score=69, severity=Severity.CRITICAL),  # lower score beats nothing
    ]
    bank = _bank(10, ["a", "b", "c", "d", "e"])
    for seed in range(5):
        shuffled = random.Random(seed).sample(found, len(found))
        assert [p.account_id for p in evaluate(bank, shuffled, days=1).pr_curve] == ["c", "d", "b", "a", "e"]


def test_a_false_positive_shows_its_strongest_alert_whatever_the_input_order():
    found = [alert("n1", "account_sold", 1, score=70, rules=(("fan_in", 10),)),
             alert("n1", "account_lent", 1, score=70, rules=(("pass_through", 20),))]
    shown = {tuple(evaluate(_bank(5, []), order, days=1).false_positives[0].reasons) for order in (found, found[::-1])}
    assert len(shown) == 1


def test_an_alert_with_several_typologies_counts_in_each_and_ranks_by_its_strongest():
    """Contract 2.0.0: one alert per account names every typology that scored."""
    found = [alert("m1", "account_sold", 1, score=65, also=(("account_rented", 80),)),
             alert("n1", "account_sold", 1, score=75)]
    ev = evaluate(labels(), found, days=1)
    precision = {row.name: (row.alerted, row.mules) for row in ev.precision_by_alert}
    assert precision["account_sold"] == (2, 1) and precision["account_rented"] == (1, 1)
    assert ev.crosstab["account_sold"]["account_rented"] == 1 and ev.crosstab["account_sold"]["account_sold"] == 1
    assert [p.account_id for p in ev.pr_curve] == ["m1", "n1"]  # 80 beats 75
    assert ev.alerts == 2 and ev.alerted_accounts == 2


def test_budget_size_rounds_down_exactly():
    assert budget_size(Decimal("2.3"), 3_000) == 69  # 2.3 * 3_000 / 100 in floats is 68.99...
    assert budget_size(Decimal("0.5"), 3_001) == 15
    assert budget_size(Decimal("0.5"), 199) == 0


def test_budgets_flag_parses_sorts_and_refuses_nonsense():
    assert budgets("2, 0.5,1,2") == [Decimal("0.5"), Decimal("1"), Decimal("2")]
    for bad in ("0", "101", "x", "nan", "1,,2"):
        with pytest.raises(argparse.ArgumentTypeError):
            budgets(bad)


def test_rule_contributions_count_accounts_once_and_weights_per_alert():
    found = [
        alert("m1", "account_sold", 1, rules=(("pass_through", 40), ("fan_in", 20))),
        alert("m1", "account_rented", 1, rules=(("pass_through", 40),)),
        alert("m2", "account_sold", 1, rules=(("fan_in", 30),)),
        alert("n1", "account_sold", 1, rules=(("pass_through", 40), ("volume_spike", 60))),
        alert("n2", "account_sold", 1, rules=(("volume_spike", 10),)),
        alert("ghost", "account_sold", 1, rules=(("volume_spike", 50),)),  # not labelled: a false positive
    ]
    ev = evaluate(_bank(10, ["m1", "m2"]), found, days=1)
    got = [(r.rule_id, r.mule_accounts, r.other_accounts, r.precision, r.mule_weight_share, r.other_weight_share)
           for r in ev.rules]
    # weights on mules: 40 + 20 + 40 + 30 = 130; on others: 40 + 60 + 10 + 50 = 160
    assert got == [
        ("volume_spike", 0, 3, 0.0, 0 / 130, pytest.approx(120 / 160)),
        ("fan_in", 2, 0, 1.0, pytest.approx(50 / 130), 0 / 160),
        ("pass_through", 1, 1, 0.5, pytest.approx(80 / 130), pytest.approx(40 / 160)),
    ]


def own_words_bank() -> tuple[dict[str, Label], list[Alert]]:
    """Labels in an imported dataset's words (fan_in, cycle), one typology shared with the alerts (account_sold)."""
    rows = {"f1": "fan_in", "f2": "fan_in", "f3": "fan_in", "c1": "cycle", "s1": "account_sold", "s2": "account_sold", "u1": ""}
    bank = {a: Label(a, 1, typology, T0) for a, typology in rows.items()}
    bank["n1"] = Label("n1", 0, "", None)
    found = [
        alert("f1", "collection_account", 2), alert("f1", "account_lent", 3),
        alert("f2", "collection_account", 6), alert("f2", "collection_account", 40),  # one mule, counted once
        alert("c1", "pass_through_mule", 10),
        alert("s1", "account_rented", 1), alert("s2", "account_sold", 1),
        alert("n1", "collection_account", 1),
    ]
    return bank, found


def test_label_and_alert_typologies_are_kept_apart():
    ev = evaluate(*own_words_bank(), days=1)
    recall = [(r.name, r.mules, r.detected, r.recall, r.ttd_median_h, r.agreement) for r in ev.recall_by_label]
    assert recall == [
        ("(unspecified)", 1, 0, 0.0, None, None),
        ("account_sold", 2, 2, 1.0, 1.0, 0.5),
        ("cycle", 1, 1, 1.0, 10.0, None),
        ("fan_in", 3, 2, pytest.approx(2 / 3), 4.0, None),  # first alerts at 2 h and 6 h
    ]
    assert ev.agreement == 0.5  # only account_sold can agree
    precision = [(r.name, r.alerted, r.mules, r.precision) for r in ev.precision_by_alert]
    assert precision == [
        ("account_lent", 1, 1, 1.0), ("account_rented", 1, 1, 1.0), ("account_sold", 1, 1, 1.0),
        ("collection_account", 3, 2, pytest.approx(2 / 3)), ("pass_through_mule", 1, 1, 1.0),
    ]
    zero = dict.fromkeys(["account_lent", "account_rented", "account_sold", "collection_account", "pass_through_mule"], 0)
    assert ev.crosstab == {
        "(unspecified)": zero,
        "account_sold": {**zero, "account_rented": 1, "account_sold": 1},
        "cycle": {**zero, "pass_through_mule": 1},
        "fan_in": {**zero, "collection_account": 2, "account_lent": 1},
    }


def test_an_alert_before_misuse_start_counts_as_zero_and_is_counted():
    ev = evaluate(labels(), [alert("m1", "account_sold", -5), alert("m3", "account_rented", 6)], days=1)
    assert ev.ttd_hours == [0.0, 6.0] and ev.alerted_before_start == 1


def test_unlabelled_alerted_accounts_are_false_positives():
    ev = evaluate(labels(), [alert("ghost", "account_sold", 1), alert("m1", "account_sold", 1)], days=1)
    assert ev.unlabelled_alerted == 1 and ev.all_alerts.precision == 0.5
    assert [p.account_id for p in ev.pr_curve] == ["ghost", "m1"] and ev.pr_curve[0].mule is False


def test_days_default_to_the_alert_span_rounded_up():
    ev = evaluate(labels(), alerts())
    assert ev.days == 2 and "span" in ev.days_source  # 2 h .. 40 h


def test_no_alerts_at_all():
    ev = evaluate(labels(), [], days=30)
    assert ev.all_alerts.recall == 0.0 and ev.all_alerts.precision is None and ev.alerts_per_10k_per_day == 0
    assert ev.ttd_median_h is None and ev.pr_curve == [] and ev.average_precision == 0.0 and ev.rules == []
    assert [(s.taken, s.precision, s.recall) for s in ev.budgets] == [(0, None, 0.0)] * 3
    assert ev.crosstab == {"account_lent": {}, "account_rented": {}, "account_sold": {}}


def test_percentile_and_f1():
    assert percentile(list(range(1, 11)), 90) == pytest.approx(9.1)
    assert percentile([5.0], 90) == 5.0 and percentile([], 50) is None
    assert f1(0.0, 0.0) == 0.0 and f1(1.0, 0.5) == pytest.approx(2 / 3)


def _write_labels(path: Path, bank: dict[str, Label]) -> Path:
    rows = ["account_id,label,typology,misuse_start"]
    for a, l in bank.items():
        rows.append(f"{a},{l.label},{l.typology},{l.misuse_start.isoformat().replace('+00:00', 'Z') if l.misuse_start else ''}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _write_alerts(path: Path, found: list[Alert], extra: tuple[str, ...] = ()) -> Path:
    path.write_text("\n".join([*(a.model_dump_json() for a in found), *extra]) + "\n")
    return path


def _write(tmp_path: Path) -> tuple[Path, Path]:
    """The labels() and alerts() scenario as files, with an older version of m1's alert and a broken line."""
    lab = _write_labels(tmp_path / "labels.csv", labels())
    found = alerts()
    found.insert(1, alert("m1", "account_sold", 2, version=1, key="m1"))
    return lab, _write_alerts(tmp_path / "alerts.jsonl", found, extra=("{not an alert",))


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
    assert page.count("data:image/png;base64,") == 5
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "rapid_pass_through" in page and "n1" in page
    pr_plot = re.search(r'<img alt="precision-recall curve" src="data:image/png;base64,([^"]+)"', page)
    assert pr_plot and base64.b64decode(pr_plot.group(1)).startswith(b"\x89PNG")
    for title in ("Precision and recall at alert budgets", "Recall by label typology", "Precision by alert typology",
                  "label typology x alert typology", "Rules behind true and false positives"):
        assert title in page


def test_cli_prints_budgets_and_writes_every_figure_as_json(tmp_path, capsys):
    bank, found = ranked_bank()
    lab, out = _write_labels(tmp_path / "labels.csv", bank), _write_alerts(tmp_path / "alerts.jsonl", found)
    target = tmp_path / "evaluation.json"
    assert main(["evaluate", "--alerts", str(out), "--labels", str(lab), "--days", "1", "--budgets", "1,0.5",
                 "--json", str(target)]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^top 0\.5 %\s+1\s+1\s+1\s+1\.000\s+0\.250\s+0\.400$", text, re.M)
    assert re.search(r"^top 1 %\s+2\s+2\s+1\s+0\.500\s+0\.250\s+0\.333$", text, re.M)
    assert re.search(r"^all alerts \(defaults\)\s+-\s+5\s+3\s+0\.600\s+0\.750\s+0\.667$", text, re.M)
    assert "average precision over the ranking: 0.604 (over all 4 labelled mules" in text  # 29/48

    data = json.loads(target.read_text())
    assert set(data) == {f.name for f in dataclasses.fields(Evaluation)}
    assert [(b["name"], b["percent"], b["budget"], b["taken"], b["mules_found"], b["precision"]) for b in data["budgets"]] == [
        ("top 0.5 %", 0.5, 1, 1, 1, 1.0), ("top 1 %", 1.0, 2, 2, 1, 0.5)]
    assert data["all_alerts"]["precision"] == 0.6 and data["all_alerts"]["recall"] == 0.75
    assert data["average_precision"] == pytest.approx(29 / 48)
    assert [(p["account_id"], p["mules_found"]) for p in data["pr_curve"]] == [
        ("m1", 1), ("n1", 1), ("m2", 2), ("m3", 3), ("n2", 3)]
    assert data["rules"] == [{"rule_id": "rapid_pass_through", "mule_accounts": 3, "other_accounts": 2, "precision": 0.6,
                              "mule_weight_share": 1.0, "other_weight_share": 1.0}]
    assert data["crosstab"] == {"account_sold": {"account_lent": 0, "account_rented": 1, "account_sold": 3,
                                                 "collection_account": 0}}
    assert data["recall_by_label"] == [{"name": "account_sold", "mules": 4, "detected": 3, "recall": 0.75,
                                        "ttd_median_h": 5.0, "agreement": 1.0}]  # first alerts at 5, 1, 9 h
    assert data["volume_by_day"] == [["2026-01-10", 4, 2], ["2026-01-11", 0, 1]]


def test_cli_cross_tab_numbers_its_columns_and_keeps_label_words_out_of_precision(tmp_path, capsys):
    bank, found = own_words_bank()
    lab, out = _write_labels(tmp_path / "labels.csv", bank), _write_alerts(tmp_path / "alerts.jsonl", found)
    assert main(["evaluate", "--alerts", str(out), "--labels", str(lab), "--days", "1"]) == 0
    text = capsys.readouterr().out
    precision = text.split("Precision by alert typology")[1].split("Detected mules")[0]
    assert "fan_in" not in precision and "cycle" not in precision and "collection_account" in precision
    assert "Columns: 1=account_lent, 2=account_rented, 3=account_sold, 4=collection_account, 5=pass_through_mule" in text
    assert re.search(r"^fan_in\s+1\s+0\s+0\s+2\s+0$", text, re.M)
    assert re.search(r"^fan_in\s+3\s+2\s+0\.667\s+4\.0\s+-$", text, re.M)  # recall table: agreement not comparable


def test_cli_refuses_a_bad_budget(tmp_path, capsys):
    lab, out = _write(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "--alerts", str(out), "--labels", str(lab), "--budgets", "0.5,abc"])
    assert exit_.value.code == 2 and "'abc' is not a number" in capsys.readouterr().err


def test_report_renders_without_any_alert():
    assert render(evaluate(labels(), [], days=1)).count("data:image/png;base64,") == 5


def test_cli_reports_a_missing_labels_file(tmp_path, capsys):
    _, out = _write(tmp_path)
    assert main(["evaluate", "--alerts", str(out), "--labels", str(tmp_path / "nope.csv")]) == 1
    assert "nope.csv" in capsys.readouterr().err


def test_cli_reports_what_analysts_decisions_changed(tmp_path, capsys):
    from schemas import Decision, Disposition, ReasonCode

    found = [
        alert("n1", "account_sold", 1, key="n1-a"),  # before the decision: not a repeat
        alert("n1", "account_sold", 30, key="n1-b"), alert("n1", "account_sold", 31, version=2, key="n1-b"),
        alert("m3", "account_rented", 5, rules=(("confirmed_counterparty", 50), ("pass_through", 15))),
        alert("n2", "collection_account", 5, rules=(("confirmed_counterparty", 25),)),
    ]
    lab, out = _write_labels(tmp_path / "labels.csv", labels()), _write_alerts(tmp_path / "alerts.jsonl", found)
    decided = [Disposition(alert_id=found[0].alert_id, account_id="n1", version=1, decision=Decision.LEGITIMATE,
                           reason_code=ReasonCode.PAYROLL_OR_BUSINESS, decided_at=T0 + timedelta(hours=20)),
               Disposition(alert_id=found[3].alert_id, account_id="m3", version=1, decision=Decision.CONFIRMED_MULE,
                           reason_code=ReasonCode.VICTIM_REPORT, decided_at=T0 + timedelta(hours=40))]
    path = tmp_path / "decisions.jsonl"
    path.write_text("".join(d.model_dump_json() + "\n" for d in decided) + "{broken\n")
    target = tmp_path / "evaluation.json"
    assert main(["evaluate", "--alerts", str(out), "--labels", str(lab), "--days", "2", "--dispositions", str(path),
                 "--json", str(target)]) == 0
    captured = capsys.readouterr()
    assert "analysts' decisions: 1 confirmed_mule, 1 legitimate" in captured.out
    assert "after a legitimate decision: 2 alert versions on 1 of the 1 accounts found legitimate" in captured.out
    assert "alerted with money to or from a confirmed mule: 2 accounts, 1 of them mules" in captured.out
    assert "skipped line 3" in captured.err
    assert json.loads(target.read_text())["decisions"]["repeats_after_legitimate"] == 2
