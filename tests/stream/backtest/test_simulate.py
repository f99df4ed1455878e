"""The simulator: deterministic bytes, valid events in time order, complete labels, every typology."""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from datetime import datetime
from pathlib import Path

import orjson
import pytest

import schemas
from schemas import AccountOpened, Payment
from stream.cli import main
from stream.backtest.simulation import DEFAULT_START, SimConfig, Simulation
from stream.backtest.simulation.clock import parse_start
from stream.backtest.simulation.laundering import PATTERNS
from stream.backtest.simulation.population import TYPOLOGIES

ACCOUNTS, DAYS, SEED = 700, 14, 11


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("sim")
    events, labels = out / "events.jsonl", out / "labels.csv"
    code = main(["simulate", "--accounts", str(ACCOUNTS), "--days", str(DAYS), "--seed", str(SEED),
                 "--out", str(events), "--labels", str(labels), "--mule-share", "0.03"])
    assert code == 0
    return events, labels


@pytest.fixture(scope="module")
def parsed(simulated):
    events, _ = simulated
    return [schemas.parse_event(line) for line in events.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def label_rows(simulated):
    _, labels = simulated
    with open(labels, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_same_seed_gives_byte_identical_files(simulated, tmp_path):
    events, labels = simulated
    again_events, again_labels = tmp_path / "e.jsonl", tmp_path / "l.csv"
    assert main(["simulate", "--accounts", str(ACCOUNTS), "--days", str(DAYS), "--seed", str(SEED),
                 "--out", str(again_events), "--labels", str(again_labels), "--mule-share", "0.03"]) == 0
    assert again_events.read_bytes() == events.read_bytes()
    assert again_labels.read_bytes() == labels.read_bytes()


def test_another_seed_gives_another_history(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main(["simulate", "--accounts", "100", "--days", "3", "--seed", "1", "--out", str(a)]) == 0
    assert main(["simulate", "--accounts", "100", "--days", "3", "--seed", "2", "--out", str(b)]) == 0
    assert a.read_bytes() != b.read_bytes()


def test_gzip_output_holds_the_same_bytes(simulated, tmp_path):
    events, _ = simulated
    gz = tmp_path / "events.jsonl.gz"
    assert main(["simulate", "--accounts", str(ACCOUNTS), "--days", str(DAYS), "--seed", str(SEED),
                 "--out", str(gz), "--mule-share", "0.03"]) == 0
    assert gzip.decompress(gz.read_bytes()) == events.read_bytes()


def test_every_line_is_a_valid_event_in_event_time_order_with_unique_ids(simulated, parsed):
    events, _ = simulated
    lines = events.read_bytes().splitlines()
    assert len(parsed) == len(lines) > ACCOUNTS * DAYS
    times = [e.event_time for e in parsed]
    assert times == sorted(times)
    assert len({e.event_id for e in parsed}) == len(parsed)
    start = parse_start(DEFAULT_START)
    in_period = [e for e in parsed if e.event_time.timestamp() >= start]
    assert max(e.event_time.timestamp() for e in in_period) < start + DAYS * 86_400
    kinds = Counter(e.type for e in parsed)
    for kind in ("payment", "account_opened", "login", "device_bound", "phone_changed", "password_reset",
                 "beneficiary_added"):
        assert kinds[kind] > 0, kind


def test_labels_cover_every_own_account_exactly_once(parsed, label_rows):
    assert label_rows[0] == ["account_id", "label", "typology", "misuse_start"]
    rows = label_rows[1:]
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) == ACCOUNTS
    opened = Counter(e.account_id for e in parsed if isinstance(e, AccountOpened))
    assert set(opened) == set(ids) and set(opened.values()) == {1}
    own_in_payments = set()
    for e in parsed:
        if isinstance(e, Payment):
            for side in (e.debtor, e.creditor):
                if side.bank_id is None:
                    own_in_payments.add(side.account_id)
    assert own_in_payments <= set(ids)
    for account_id, label, typology, misuse_start in rows:
        if label == "0":
            assert typology == "" and misuse_start == ""
        else:
            assert label == "1" and typology in TYPOLOGIES + PATTERNS
            when = datetime.fromisoformat(misuse_start.replace("Z", "+00:00"))
            assert when.tzinfo is not None


def test_every_typology_is_injected_and_starts_with_an_event_of_the_account(parsed, label_rows):
    mules = {r[0]: (r[2], r[3]) for r in label_rows[1:] if r[1] == "1"}
    assert set(t for t, _ in mules.values()) == set(TYPOLOGIES + PATTERNS)
    first_misuse: dict[str, datetime] = {}
    opened_at: dict[str, datetime] = {}
    for e in parsed:
        for account in schemas.event_account_ids(e):
            if isinstance(e, AccountOpened):
                opened_at[account] = e.event_time
            elif account in mules and account not in first_misuse:
                when = datetime.fromisoformat(mules[account][1].replace("Z", "+00:00"))
                if e.event_time >= when:
                    first_misuse[account] = e.event_time
    for account, (_, start) in mules.items():
        when = datetime.fromisoformat(start.replace("Z", "+00:00"))
        assert first_misuse[account] == when, account
        assert opened_at[account] < when


def test_each_account_opens_before_its_other_events(parsed):
    opened: set[str] = set()
    for e in parsed:
        if isinstance(e, AccountOpened):
            opened.add(e.account_id)
            continue
        if isinstance(e, Payment):
            own = [p.account_id for p in (e.debtor, e.creditor) if p.bank_id is None]
        else:
            own = [e.account_id]
        assert all(a in opened for a in own), e


def test_look_alikes_are_present(parsed):
    """Moves to own savings, shared family devices and shared phone numbers, travel abroad."""
    same_customer = sum(
        1 for e in parsed if isinstance(e, Payment) and e.debtor.customer_id and e.debtor.customer_id == e.creditor.customer_id
    )
    assert same_customer > 0
    device_customers: dict[str, set[str]] = {}
    for e in parsed:
        if e.type in ("login", "device_bound") and e.device_id:
            device_customers.setdefault(e.device_id, set()).add(e.customer_id)
    assert any(len(c) >= 3 for c in device_customers.values())
    abroad = [e for e in parsed if e.type == "login" and e.country not in (None, "DE")]
    assert abroad


def test_kafka_keys_follow_the_worker_convention():
    sim = Simulation(SimConfig(accounts=50, days=2, seed=3, start_t=parse_start(DEFAULT_START)))
    own = {a.aid for a in sim.population.accounts}
    for batch in sim.batches():
        for record in batch:
            event = orjson.loads(record.line)
            if record.is_payment:
                debtor, creditor = event["debtor"], event["creditor"]
                expected = debtor["account_id"] if "bank_id" not in debtor else creditor["account_id"]
                assert record.key == expected and (record.key in own)
            else:
                assert record.key == event["account_id"]


def test_start_is_configurable_and_never_the_wall_clock(tmp_path):
    out = tmp_path / "e.jsonl"
    assert main(["simulate", "--accounts", "20", "--days", "2", "--start", "2024-03-01", "--out", str(out)]) == 0
    times = [orjson.loads(line)["event_time"] for line in out.read_bytes().splitlines()]
    in_period = [t for t in times if t >= "2024-03-01"]
    assert in_period and all(t < "2024-03-03" for t in in_period)


def test_refuses_to_run_without_an_output(capsys):
    assert main(["simulate", "--accounts", "5", "--days", "1"]) == 2
    assert "--out" in capsys.readouterr().err


def test_warmup_days_keep_misuse_out_of_the_first_days():
    start = parse_start(DEFAULT_START)
    sim = Simulation(SimConfig(accounts=400, days=30, seed=4, start_t=start, mule_share=0.05, warmup_days=14))
    starts = [a.misuse_start for a in sim.population.accounts if a.label]
    assert starts and min(starts) >= start + 14 * 86_400


def test_payments_only_holds_the_same_payments_without_account_events_or_session_fields(simulated, label_rows, tmp_path):
    """Many banks' feeds have payments alone: same accounts, labels and money, nothing else."""
    events, _ = simulated
    only, labels = tmp_path / "payments.jsonl", tmp_path / "labels.csv"
    assert main(["simulate", "--accounts", str(ACCOUNTS), "--days", str(DAYS), "--seed", str(SEED),
                 "--out", str(only), "--labels", str(labels), "--mule-share", "0.03", "--payments-only"]) == 0
    payments = [orjson.loads(line) for line in only.read_bytes().splitlines()]
    assert payments and {e["type"] for e in payments} == {"payment"}
    assert not any(field in e for e in payments for field in ("device_id", "ip", "session_country"))
    session = ("device_id", "ip", "session_country")
    full = [orjson.loads(line) for line in events.read_bytes().splitlines()]
    assert any(field in e for e in full for field in session)
    assert payments == [{k: v for k, v in e.items() if k not in session} for e in full if e["type"] == "payment"]
    with open(labels, newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == label_rows


@pytest.fixture(scope="module")
def bank():
    """A 2,000-account bank over 30 days, generated in process: its population and its events as dicts."""
    sim = Simulation(SimConfig(accounts=2000, days=30, seed=SEED, start_t=parse_start(DEFAULT_START)))
    events = [orjson.loads(record.line) for batch in sim.batches() for record in batch]
    return sim, events


def _own(side: dict) -> bool:
    return "bank_id" not in side


def test_legitimate_look_alikes_are_present_and_unlabelled(bank):
    """Friends paying each other back and forth, the same sum every month, salary on to one's own broker
    account, collectors paid by many new payers, payers of many people in one sitting."""
    sim, events = bank
    ordinary = {a.aid for a in sim.population.accounts if a.label == 0}
    start = parse_start(DEFAULT_START)
    payments = [e for e in events if e["type"] == "payment"]

    pairs = Counter((e["debtor"]["account_id"], e["creditor"]["account_id"]) for e in payments
                    if _own(e["debtor"]) and _own(e["creditor"]) and e["debtor"]["customer_id"] != e["creditor"]["customer_id"]
                    and float(e["amount"]) < 200)
    mutual = [(x, y) for (x, y), n in pairs.items() if x < y and (y, x) in pairs and {x, y} <= ordinary
              and n + pairs[(y, x)] >= 3]
    assert len(mutual) >= 5

    before, during = set(), set()
    for e in payments:
        key = (e["debtor"]["account_id"], e["creditor"]["account_id"], e["amount"])
        (before if datetime.fromisoformat(e["event_time"].replace("Z", "+00:00")).timestamp() < start else during).add(key)
    monthly = {k for k in before & during if k[0] in ordinary}
    assert len(monthly) >= 500

    to_own_elsewhere = [e for e in payments if _own(e["debtor"]) and not _own(e["creditor"])
                        and e["creditor"].get("customer_id") and e["creditor"]["account_id"].startswith("I")]
    assert len({e["debtor"]["account_id"] for e in to_own_elsewhere}) >= 50

    payers: dict[str, set[str]] = {}
    payees: dict[tuple[str, str], set[str]] = {}
    for e in payments:
        debtor, creditor = e["debtor"], e["creditor"]
        if e["method"] != "card" and not _own(debtor) and _own(creditor) and creditor["account_id"] in ordinary:
            payers.setdefault(creditor["account_id"], set()).add(debtor["account_id"])
        if e["method"] == "transfer" and _own(debtor) and not _own(creditor) and debtor["account_id"] in ordinary:
            payees.setdefault((debtor["account_id"], e["event_time"][:13]), set()).add(creditor["account_id"])
    assert sum(1 for p in payers.values() if len(p) >= 30) >= 10
    assert sum(1 for p in payees.values() if len(p) >= 6) >= 5
