"""The simulated analyst (``simulate --dispositions``) and replay applying its decisions from a file."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta

import pytest

from stream.cli import main


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def backtest(tmp_path_factory):
    """A small bank with an analyst deciding each case 12 hours after it is published, replayed
    without and with the decisions."""
    work = tmp_path_factory.mktemp("analyst")
    events, labels, decisions = work / "events.jsonl.gz", work / "labels.csv", work / "decisions.jsonl"
    assert main(["simulate", "--accounts", "1500", "--days", "25", "--seed", "11", "--out", str(events),
                 "--labels", str(labels), "--dispositions", str(decisions), "--decision-delay-hours", "12"]) == 0
    runs = {}
    for run, extra in (("without", []), ("with", ["--dispositions", str(decisions)])):
        out = work / f"{run}.jsonl"
        assert main(["replay", str(events), "--out", str(out), *extra]) == 0
        runs[run] = lines(out)
    with open(labels, newline="") as handle:
        mules = {row["account_id"] for row in csv.DictReader(handle) if row["label"] == "1"}
    return lines(decisions), runs, mules, work


def test_the_analyst_decides_each_case_once_by_its_label_after_the_delay(backtest):
    decisions, runs, mules, _ = backtest
    assert decisions, "guard: the small bank raises cases"
    cases = {}
    for alert in runs["with"]:
        cases.setdefault(alert["alert_id"], []).append(alert)
    assert len({d["alert_id"] for d in decisions}) == len(decisions)
    for d in decisions:
        versions = cases[d["alert_id"]]
        decided_on = [a for a in versions if a["version"] == d["version"]]
        assert decided_on, "the decided version is one the replay publishes too"
        assert when(d["decided_at"]) >= when(decided_on[0]["window_end"]) + timedelta(hours=12)
        assert d["decision"] == ("confirmed_mule" if d["account_id"] in mules else "legitimate")
    assert [when(d["decided_at"]) for d in decisions] == sorted(when(d["decided_at"]) for d in decisions)


def test_replay_applies_every_decision_of_the_file_and_refuses_none(backtest, capsys):
    decisions, _, _, work = backtest
    assert main(["replay", str(work / "events.jsonl.gz"), "--out", str(work / "again.jsonl"),
                 "--dispositions", str(work / "decisions.jsonl")]) == 0
    err = capsys.readouterr().err
    assert f"{len(decisions)} analysts' decisions read, {len(decisions)} applied, 0 refused" in err
    assert not (work / "again.jsonl.rejects.jsonl").exists()


def test_a_confirmed_mules_counterparties_are_found_and_cleared_accounts_stay_quiet(backtest):
    decisions, runs, mules, _ = backtest
    with_evidence = {a["account_id"] for a in runs["with"] if any(r["rule_id"] == "confirmed_counterparty" for r in a["rules"])}
    assert with_evidence and not any(r["rule_id"] == "confirmed_counterparty" for a in runs["without"] for r in a["rules"])
    assert len(with_evidence & mules) >= 0.8 * len(with_evidence)
    legitimate = {d["account_id"]: when(d["decided_at"]) for d in decisions if d["decision"] == "legitimate"}
    after = [a for a in runs["with"] if a["account_id"] in legitimate and when(a["window_end"]) > legitimate[a["account_id"]]]
    assert all(a["previous_decision"] is not None for a in after)


def test_replay_puts_bad_and_unknown_decisions_in_the_rejects_and_goes_on(backtest, capsys):
    decisions, runs, _, work = backtest
    unknown = {**decisions[0], "alert_id": "0" * 32}
    path = work / "bad-decisions.jsonl"
    path.write_text("{oops\n" + json.dumps(unknown) + "\n" + json.dumps({**decisions[0], "decision": "maybe"}) + "\n")
    out = work / "bad.jsonl"
    assert main(["replay", str(work / "events.jsonl.gz"), "--out", str(out), "--dispositions", str(path)]) == 0
    assert "1 analysts' decisions read, 0 applied, 1 refused" in capsys.readouterr().err
    reasons = {(r["where"].rsplit(":", 1)[1], r["reason"]) for r in lines(work / "bad.jsonl.rejects.jsonl")}
    assert reasons == {("1", "invalid_json"), ("2", "unknown_alert"), ("3", "schema_violation")}
    assert lines(out) == runs["without"]  # nothing applied: as if there were no decisions
