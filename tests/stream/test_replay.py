"""Replay from files: plain and gzip, several files, rejects reported not lost, ordering refused or sorted.

The engine here is mostly a stand-in (``FakeEngine``) so that replay's own behaviour is tested whatever
the detectors do; the tests at the end run the real one.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
import types
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from schemas import Alert, KeyFigures, Payment, RecommendedAction, RuleHit, Severity, Typology, TypologyScore, parse_event
from stream.cli import main
from stream.replay import partition_key

START = "2026-01-01T00:00:00Z"

# --- a stand-in detector engine: replay is tested whatever the real detectors do ---------------------


class FakeConfig:
    def __init__(self, floor: Decimal = Decimal("1000")) -> None:
        self.floor = floor
        self.engine = types.SimpleNamespace(lateness_seconds=0, max_future_seconds=300)


class FakeEngine:
    """Alerts on the creditor of every own-account payment at or above the floor; remembers order."""

    instances: list["FakeEngine"] = []

    def __init__(self, config: FakeConfig, partition_of=None) -> None:
        self.config = config
        self.seen: list[str] = []
        self.stats = types.SimpleNamespace(late=0, duplicates=0, unvalued={})
        FakeEngine.instances.append(self)

    def process(self, event) -> list[Alert]:
        self.seen.append(event.event_id)
        if not isinstance(event, Payment) or event.amount < self.config.floor or event.creditor.bank_id is not None:
            return []
        return [Alert(
            alert_id=hashlib.md5(event.event_id.encode()).hexdigest(),
            version=1,
            account_id=event.creditor.account_id,
            episode_start=event.event_time,
            typologies=[TypologyScore(typology=Typology.PASS_THROUGH_MULE, score=70, severity=Severity.HIGH,
                                      recommended_action=RecommendedAction.REVIEW)],
            score=70,
            severity=Severity.HIGH,
            rules=[RuleHit(rule_id="big_inflow", reason=f"inflow of {event.amount}", weight=70,
                           event_time=event.event_time, evidence_event_ids=[event.event_id])],
            figures=KeyFigures(currency=event.currency, inflow=event.amount, outflow=Decimal(0), distinct_senders=1,
                               distinct_beneficiaries=0),
            window_start=event.event_time,
            window_end=event.event_time,
            config_version="fake",
            recommended_action=RecommendedAction.REVIEW,
        )]


def load_config(path=None) -> FakeConfig:
    if path is None:
        return FakeConfig()
    text = open(path, encoding="utf-8").read()
    return FakeConfig(floor=Decimal(text.split("=")[1].strip()))


@pytest.fixture
def fake_detectors(monkeypatch):
    module = types.ModuleType("detectors")
    module.Engine = FakeEngine
    module.load_config = load_config
    monkeypatch.setitem(sys.modules, "detectors", module)
    FakeEngine.instances.clear()
    return module


def _payment(n: int, when: str, amount: str, creditor: str = "A1", creditor_bank: str | None = None) -> bytes:
    creditor_party = {"account_id": creditor}
    if creditor_bank:
        creditor_party["bank_id"] = creditor_bank
    return orjson.dumps({
        "event_id": f"e{n}", "event_time": when, "type": "payment", "debtor": {"account_id": f"X{n}", "bank_id": "BK01"},
        "creditor": creditor_party, "amount": amount, "currency": "EUR", "channel": "online", "method": "transfer",
    })


def _events() -> list[bytes]:
    return [
        orjson.dumps({"event_id": "e0", "event_time": "2025-06-01T10:00:00Z", "type": "account_opened", "account_id": "A1",
                      "customer_id": "C1", "kyc_country": "DE"}),
        _payment(1, "2026-01-01T10:00:00Z", "50.00"),
        _payment(2, "2026-01-01T11:00:00Z", "5000.00"),
        _payment(3, "2026-01-01T12:00:00Z", "2500.00", "A2"),
        _payment(4, "2026-01-02T09:00:00Z", "12.00"),
        _payment(5, "2026-01-02T10:00:00Z", "9000.00", "Y9", "BK02"),
        _payment(6, "2026-01-03T10:00:00Z", "1200.00", "A3"),
    ]


def _write(path: Path, lines: list[bytes]) -> Path:
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def _alerts(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_plain_and_gzip_files_give_the_same_alerts(tmp_path, fake_detectors, capsys):
    plain = _write(tmp_path / "events.jsonl", _events())
    packed = _write(tmp_path / "events.jsonl.gz", _events())
    hidden = tmp_path / "gzip-without-suffix.data"
    hidden.write_bytes(packed.read_bytes())
    outs = []
    for source in (plain, packed, hidden):
        out = tmp_path / f"{source.name}.alerts.jsonl"
        assert main(["replay", str(source), "--out", str(out)]) == 0
        outs.append(_alerts(out))
    assert outs[0] == outs[1] == outs[2]
    assert [a["account_id"] for a in outs[0]] == ["A1", "A2", "A3"]
    err = capsys.readouterr().err
    assert "replay: 7 events, 0 rejects, 3 alerts" in err
    assert "\r" not in err  # no progress bar when not on a terminal
    assert not (tmp_path / "events.jsonl.alerts.jsonl.rejects.jsonl").exists()


def test_several_files_are_replayed_in_the_order_given(tmp_path, fake_detectors):
    events = _events()
    first = _write(tmp_path / "a.jsonl", events[:3])
    second = _write(tmp_path / "b.jsonl.gz", events[3:])
    out = tmp_path / "alerts.jsonl"
    assert main(["replay", str(first), str(second), "--out", str(out)]) == 0
    assert FakeEngine.instances[-1].seen == [f"e{n}" for n in range(7)]
    assert len(_alerts(out)) == 3


def test_bad_lines_are_reported_with_line_numbers_and_written_to_rejects(tmp_path, fake_detectors, capsys):
    events = _events()
    lines = [
        events[0],
        b"{not json",
        events[1],
        b"",  # blank: skipped, not a reject
        b'{"event_id": "bad", "event_time": "2026-01-01T10:30:00Z", "type": "payment"}',
        b"\xff\xfe garbage",
        b'{"type": "teleport", "event_id": "t"}',
        b"[1, 2]",
        *events[2:],
    ]
    source = _write(tmp_path / "events.jsonl", lines)
    out = tmp_path / "alerts.jsonl"
    assert main(["replay", str(source), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"rejected {source}:2: invalid_json" in err
    assert f"rejected {source}:5: schema_violation: payment.debtor: Field required" in err
    assert f"rejected {source}:6: undecodable" in err
    assert "replay: 7 events, 5 rejects" in err
    rejects = [orjson.loads(line) for line in (tmp_path / "alerts.jsonl.rejects.jsonl").read_bytes().splitlines()]
    assert [(r["where"].rsplit(":", 1)[1], r["reason"]) for r in rejects] == [
        ("2", "invalid_json"), ("5", "schema_violation"), ("6", "undecodable"), ("7", "unknown_type"), ("8", "not_an_object"),
    ]
    assert rejects[0]["raw"] == "{not json"
    assert len(_alerts(out)) == 3  # replay went on past the bad lines


def test_rejects_path_can_be_chosen(tmp_path, fake_detectors):
    source = _write(tmp_path / "events.jsonl", [b"nope", *_events()])
    rejects = tmp_path / "elsewhere" / "bad.jsonl"
    assert main(["replay", str(source), "--out", str(tmp_path / "a.jsonl"), "--rejects", str(rejects)]) == 0
    assert orjson.loads(rejects.read_bytes())["where"].endswith(":1")


def _minutes(count: int, start: str = "2026-01-01T10:00:00", step_s: int = 60, first: int = 100) -> list[bytes]:
    """Dense history: one payment every ``step_s`` seconds, event ids e<first>.. (a real feed's pace)."""
    base = datetime.fromisoformat(start).replace(tzinfo=timezone.utc)
    return [_payment(first + n, (base + timedelta(seconds=n * step_s)).isoformat(), "50.00") for n in range(count)]


def test_unordered_input_is_refused_naming_the_line(tmp_path, fake_detectors, capsys):
    events = _minutes(20)
    shuffled = [*events[:5], *events[6:16], events[5], *events[16:]]  # e105 ten minutes late, at line 16
    source = _write(tmp_path / "events.jsonl", shuffled)
    out = tmp_path / "alerts.jsonl"
    assert main(["replay", str(source), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"refused unordered input: {source}:16: event e105" in err and "--sort" in err
    assert not out.exists() and not (tmp_path / "alerts.jsonl.partial").exists()


def test_sort_replays_unordered_input_like_ordered_input(tmp_path, fake_detectors, capsys):
    events = _events()
    ordered = _write(tmp_path / "ordered.jsonl", events)
    shuffled = _write(tmp_path / "shuffled.jsonl", list(reversed(events)))
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main(["replay", str(ordered), "--out", str(a)]) == 0
    assert main(["replay", str(shuffled), "--out", str(b), "--sort"]) == 0
    assert a.read_bytes() == b.read_bytes()
    assert "sorted in memory" in capsys.readouterr().err


def test_lateness_flag_sets_how_far_back_input_may_go(tmp_path, fake_detectors):
    events = _minutes(120)
    slightly_late = [*events[:10], *events[11:71], events[10], *events[71:]]  # e110 one hour late
    source = _write(tmp_path / "events.jsonl", slightly_late)
    assert main(["replay", str(source), "--out", str(tmp_path / "x.jsonl"), "--lateness", "3600"]) == 0
    assert main(["replay", str(source), "--out", str(tmp_path / "y.jsonl"), "--lateness", "3599"]) == 1


def test_config_flag_reaches_the_engine(tmp_path, fake_detectors):
    source = _write(tmp_path / "events.jsonl", _events())
    config = tmp_path / "high.toml"
    config.write_text("floor = 3000\n")
    out = tmp_path / "alerts.jsonl"
    assert main(["replay", str(source), "--out", str(out), "--config", str(config)]) == 0
    assert [a["account_id"] for a in _alerts(out)] == ["A1"]


def test_usage_errors(tmp_path, fake_detectors, capsys):
    source = _write(tmp_path / "events.jsonl", _events())
    assert main(["replay", "--out", str(tmp_path / "a.jsonl")]) == 2
    assert main(["replay", str(source)]) == 2
    assert main(["replay", str(source), "--republish", "--out", str(tmp_path / "a.jsonl")]) == 2
    assert main(["replay", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "a.jsonl")]) == 1
    assert "missing.jsonl: no such file" in capsys.readouterr().err


def test_parse_only_needs_no_engine(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default rejects file goes to the working directory
    source = _write(tmp_path / "events.jsonl", [*_events(), b"oops"])
    assert main(["replay", str(source), "--parse-only"]) == 0
    assert "7 events, 1 rejects (invalid_json 1), 0 alerts" in capsys.readouterr().err
    assert (tmp_path / "replay.rejects.jsonl").exists()


def test_partition_key_follows_the_worker():
    own_debtor = parse_event(orjson.dumps({**orjson.loads(_payment(1, START, "1")), "debtor": {"account_id": "A9"}}))
    assert partition_key(own_debtor) == "A9"
    assert partition_key(parse_event(_payment(1, START, "1"))) == "A1"
    assert partition_key(parse_event(_events()[0])) == "A1"


def test_replay_with_the_real_engine(tmp_path):
    events, labels = tmp_path / "events.jsonl.gz", tmp_path / "labels.csv"
    assert main(["simulate", "--accounts", "300", "--days", "10", "--seed", "5", "--out", str(events),
                 "--labels", str(labels), "--mule-share", "0.05"]) == 0
    out = tmp_path / "alerts.jsonl"
    assert main(["replay", str(events), "--out", str(out)]) == 0
    assert main(["evaluate", "--alerts", str(out), "--labels", str(labels), "--days", "10"]) == 0


def test_without_the_flag_replay_allows_the_engine_lateness(tmp_path):
    """The default config's lateness is 300 s: input that far out of order is replayed, not refused."""
    events = _minutes(20)
    events.insert(12, _payment(1, "2026-01-01T10:06:00Z", "50.00"))  # after 10:11: 5 min late
    source = _write(tmp_path / "within.jsonl", events)
    assert main(["replay", str(source), "--out", str(tmp_path / "a.jsonl")]) == 0
    events[12] = _payment(1, "2026-01-01T10:05:59Z", "50.00")
    source = _write(tmp_path / "beyond.jsonl", events)
    assert main(["replay", str(source), "--out", str(tmp_path / "b.jsonl")]) == 1


# --- forged far-future times ----------------------------------------------------------------------


def _forged(n: int, when: str = "2099-06-01T00:00:00Z") -> bytes:
    return orjson.dumps({"event_id": f"f{n}", "event_time": when, "type": "login", "account_id": "A1",
                         "customer_id": "C1", "success": True})


def _rejects(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


@pytest.mark.parametrize("sort", [False, True])
def test_far_future_lines_are_rejected_and_the_rest_replayed_as_without_them(tmp_path, fake_detectors, sort):
    """A forged time before and in the middle of a history neither stops the replay nor changes it."""
    history = _minutes(60)
    forged = [*history[:1], _forged(1), *history[1:30], _forged(2), _forged(3, "2027-03-01T00:00:00Z"), *history[30:]]
    forged.insert(0, _forged(0))
    flags = ["--sort"] if sort else []
    clean, dirty = tmp_path / "clean.jsonl", tmp_path / "dirty.jsonl"
    FakeEngine.instances.clear()
    assert main(["replay", str(_write(tmp_path / "h.jsonl", history)), "--out", str(clean), *flags]) == 0
    assert main(["replay", str(_write(tmp_path / "f.jsonl", forged)), "--out", str(dirty), *flags]) == 0
    assert dirty.read_bytes() == clean.read_bytes()
    assert FakeEngine.instances[0].seen == FakeEngine.instances[1].seen
    rejected = _rejects(tmp_path / "dirty.jsonl.rejects.jsonl")
    assert sorted(orjson.loads(r["raw"])["event_id"] for r in rejected) == ["f0", "f1", "f2", "f3"]
    assert {r["reason"] for r in rejected} == {"future_event_time"}


def test_a_quiet_spell_in_the_history_is_not_taken_for_a_forged_time(tmp_path, fake_detectors):
    """Eight quiet hours, then the stream goes on: the first line after the gap is confirmed by the next."""
    night = [*_minutes(10), *_minutes(10, start="2026-01-01T18:10:00", first=200)]
    out = tmp_path / "alerts.jsonl"
    FakeEngine.instances.clear()
    assert main(["replay", str(_write(tmp_path / "night.jsonl", night)), "--out", str(out)]) == 0
    assert len(FakeEngine.instances[0].seen) == 20
    assert not _rejects(tmp_path / "alerts.jsonl.rejects.jsonl")


def test_a_last_line_beyond_every_quiet_spell_of_the_file_is_rejected(tmp_path, fake_detectors):
    """Nothing follows the last line to confirm a jump: within the file's longest gap it is let through."""
    day = [*_minutes(10), *_minutes(10, start="2026-01-01T18:10:00", first=200)]
    within = [*day, _payment(300, "2026-01-02T01:00:00Z", "50.00")]  # 6.8 h after: the night was 8 h
    beyond = [*day, _payment(300, "2026-01-03T10:00:00Z", "50.00")]  # 39 h after
    FakeEngine.instances.clear()
    assert main(["replay", str(_write(tmp_path / "w.jsonl", within)), "--out", str(tmp_path / "w.out")]) == 0
    assert main(["replay", str(_write(tmp_path / "b.jsonl", beyond)), "--out", str(tmp_path / "b.out")]) == 0
    assert "e300" in FakeEngine.instances[0].seen and "e300" not in FakeEngine.instances[1].seen
    assert [r["reason"] for r in _rejects(tmp_path / "b.out.rejects.jsonl")] == ["future_event_time"]


def test_replay_says_how_many_payments_had_no_rate(tmp_path, capsys):
    """A currency the config cannot value is reported by currency, never counted as zero in silence."""
    lines = [orjson.dumps({**orjson.loads(line), "currency": "XOF"}) for line in _minutes(5)]
    source = _write(tmp_path / "xof.jsonl", [*_minutes(3, first=50), *lines])
    assert main(["replay", str(source), "--out", str(tmp_path / "a.jsonl")]) == 0
    assert "5 payments in currencies without a rate in the config (XOF 5)" in capsys.readouterr().err
