"""The simulator: deterministic bytes, valid events in time order, complete labels, every typology."""

from __future__ import annotations

import csv
import gzip
import statistics
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import orjson
import pytest

import schemas
from schemas import AccountOpened, Payment
from stream.cli import main
from stream.backtest.simulation import DEFAULT_START, SimConfig, Simulation
from stream.backtest.simulation.clock import DAY, HOUR, iso, parse_start
from stream.backtest.simulation.emit import money
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

    payers: dict[str, set[str]] = defaultdict(set)
    amounts_in: dict[str, set[str]] = defaultdict(set)
    payees_in_an_hour: dict[tuple[str, str], set[str]] = defaultdict(set)
    payees: dict[str, set[str]] = defaultdict(set)
    for e in payments:
        debtor, creditor, small = e["debtor"], e["creditor"], float(e["amount"]) < 100
        if e["method"] != "card" and small and not _own(debtor) and _own(creditor) and creditor["account_id"] in ordinary:
            payers[creditor["account_id"]].add(debtor["account_id"])
            amounts_in[creditor["account_id"]].add(e["amount"])
        if e["method"] == "transfer" and small and _own(debtor) and not _own(creditor) and debtor["account_id"] in ordinary:
            payees_in_an_hour[(debtor["account_id"], e["event_time"][:13])].add(creditor["account_id"])
            payees[debtor["account_id"]].add(creditor["account_id"])
    assert sum(1 for p in payers.values() if len(p) >= 30) >= 10  # sellers, treasurers, shops paid by transfer
    assert sum(1 for p in payees_in_an_hour.values() if len(p) >= 6) >= 3  # a treasurer's round of reimbursements
    assert sum(1 for p in payees.values() if len(p) >= 15) >= 5  # sellers buying from private sellers, treasurers
    sellers = [a for a in payers if len(payers[a]) >= 30 and len(amounts_in[a]) >= 10 and len(payees[a]) >= 10]
    assert len(sellers) >= 3  # many buyers paying various sums, many private sellers paid once


# --- laundering patterns ------------------------------------------------------------------------


def _of(sim: Simulation, typology: str) -> list:
    found = [p for p in sim.population.patterns if p.typology == typology]
    assert found, typology
    return found


def _graph(pattern) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Payees and payers of every account along the pattern's hops (not the money paid into its origins)."""
    payees: dict[str, set[str]] = defaultdict(set)
    payers: dict[str, set[str]] = defaultdict(set)
    for tr in pattern.transfers:
        if tr.hop:
            payees[tr.debtor["account_id"]].add(tr.creditor["account_id"])
            payers[tr.creditor["account_id"]].add(tr.debtor["account_id"])
    return payees, payers


def test_every_pattern_is_planted_and_its_members_labelled_from_their_first_payment(bank):
    sim, events = bank
    patterns = sim.population.patterns
    assert {p.typology for p in patterns} == set(PATTERNS)
    labels = {aid: (label, typology, start) for aid, label, typology, start in sim.labels()}
    emitted = Counter((e["event_time"], e["debtor"]["account_id"], e["creditor"]["account_id"], e["amount"])
                      for e in events if e["type"] == "payment")
    for p in patterns:
        for tr in p.transfers:
            assert emitted[(iso(tr.t), tr.debtor["account_id"], tr.creditor["account_id"], money(tr.amount))] == 1, tr
        for a in p.members:
            first = min(tr.t for tr in p.transfers if a.aid in (tr.debtor["account_id"], tr.creditor["account_id"]))
            assert labels[a.aid] == (1, p.typology, iso(first))
    members = {a.aid for p in patterns for a in p.members}
    assert {aid for aid, (_, typology, _) in labels.items() if typology in PATTERNS} == members


def test_every_pattern_appears_even_when_the_share_is_small():
    cfg = SimConfig(accounts=2000, days=30, seed=3, start_t=parse_start(DEFAULT_START), laundering_share=0.001)
    assert {p.typology for p in Simulation(cfg).population.patterns} == set(PATTERNS)
    assert not Simulation(replace(cfg, laundering_share=0.0)).population.patterns


def test_patterns_option_plants_only_the_chosen_typologies(tmp_path):
    labels = tmp_path / "labels.csv"
    assert main(["simulate", "--accounts", "2000", "--days", "20", "--out", str(tmp_path / "e.jsonl"), "--labels",
                 str(labels), "--patterns", "stack,cycle", "--laundering-share", "0.03"]) == 0
    with open(labels, newline="", encoding="utf-8") as handle:
        planted = Counter(row["typology"] for row in csv.DictReader(handle) if row["typology"] in PATTERNS)
    assert set(planted) == {"cycle", "stack"} and sum(planted.values()) >= 60
    with pytest.raises(SystemExit):
        main(["simulate", "--accounts", "20", "--days", "2", "--out", str(tmp_path / "x.jsonl"), "--patterns", "spiral"])


def test_laundering_is_laid_over_the_same_ordinary_bank(simulated, tmp_path):
    """Without laundering the bank is the same, event for event: the patterns only add their payments."""
    events, _ = simulated
    plain = tmp_path / "plain.jsonl"
    assert main(["simulate", "--accounts", str(ACCOUNTS), "--days", str(DAYS), "--seed", str(SEED),
                 "--out", str(plain), "--mule-share", "0.03", "--laundering-share", "0"]) == 0
    with_laundering, without = events.read_bytes().splitlines(), plain.read_bytes().splitlines()
    assert set(without) < set(with_laundering)
    sim = Simulation(SimConfig(accounts=ACCOUNTS, days=DAYS, seed=SEED, start_t=parse_start(DEFAULT_START), mule_share=0.03))
    assert len(with_laundering) - len(without) == sum(len(p.transfers) for p in sim.population.patterns) > 0


def test_fan_in_collects_from_several_payers_into_one_account(bank):
    sim, _ = bank
    for p in _of(sim, "fan_in"):
        payees, payers = _graph(p)
        (collector,) = payers
        assert len(payers[collector]) >= 3 and collector not in payees
        assert collector in {a.aid for a in p.members}


def test_fan_out_pays_several_beneficiaries_from_one_account(bank):
    sim, _ = bank
    for p in _of(sim, "fan_out"):
        payees, _ = _graph(p)
        (source,) = payees
        assert len(payees[source]) >= 3


def test_a_cycle_brings_the_money_back_to_its_first_account(bank):
    sim, _ = bank
    for p in _of(sim, "cycle"):
        payees, payers = _graph(p)
        assert set(payees) == set(payers) and len(payees) >= 3
        assert all(len(v) == 1 for v in payees.values()) and all(len(v) == 1 for v in payers.values())
        hops = [tr for tr in p.transfers if tr.hop]
        first = hops[0].debtor["account_id"]
        node, ring = first, []
        while not ring or node != first:
            (node,) = payees[node]
            ring.append(node)
            assert len(ring) <= len(payees)
        assert len(ring) == len(payees)
        assert hops[-1].creditor["account_id"] == first
        sent = sum(tr.amount for tr in hops if tr.debtor["account_id"] == first)
        back = sum(tr.amount for tr in hops if tr.creditor["account_id"] == first)
        assert 0.3 * sent < back < sent  # every member on the way kept a margin


def test_bipartite_payers_each_pay_into_a_separate_set_of_payees(bank):
    sim, _ = bank
    for p in _of(sim, "bipartite"):
        payees, payers = _graph(p)
        assert not set(payees) & set(payers)
        assert len(payees) >= 2 and len(payers) >= 2
        assert sum(len(v) for v in payees.values()) >= max(len(payees), len(payers)) + 1


def test_a_stack_is_layers_each_paying_the_next(bank):
    sim, _ = bank
    for p in _of(sim, "stack"):
        payees, payers = _graph(p)
        depth: dict[str, int] = {}

        def depth_of(node: str) -> int:
            if node not in depth:
                depth[node] = 1 + max(depth_of(x) for x in payers[node]) if node in payers else 0
            return depth[node]

        for payer, targets in payees.items():
            assert all(depth_of(q) == depth_of(payer) + 1 for q in targets)
        layers = Counter(depth_of(node) for node in set(payees) | set(payers))
        assert len(layers) >= 3 and min(layers.values()) >= 2


def test_scatter_gather_goes_from_one_source_through_several_intermediaries_to_one_sink(bank):
    sim, _ = bank
    for p in _of(sim, "scatter_gather"):
        payees, payers = _graph(p)
        (source,) = set(payees) - set(payers)
        (sink,) = set(payers) - set(payees)
        middle = set(payees) & set(payers)
        assert len(middle) >= 3 and payees[source] == middle and payers[sink] == middle
        assert all(payers[m] == {source} and payees[m] == {sink} for m in middle)


def test_gather_scatter_gathers_into_one_hub_that_pays_several_beneficiaries(bank):
    sim, _ = bank
    for p in _of(sim, "gather_scatter"):
        payees, payers = _graph(p)
        (hub,) = set(payees) & set(payers)
        assert len(payers[hub]) >= 3 and len(payees[hub]) >= 3
        assert set(payees) - {hub} == payers[hub] and set(payers) - {hub} == payees[hub]


def test_laundering_moves_small_sums_slowly_keeping_a_margin_at_each_hop(bank):
    """What independent data showed: medians of tens to hundreds, hops days apart, about 10 % kept a hop."""
    sim, _ = bank
    patterns = sim.population.patterns
    hops = [tr for p in patterns for tr in p.transfers if tr.hop]
    assert 30 <= statistics.median(tr.amount for tr in hops) <= 400
    assert all((tr.t - sim.cfg.start_t) % DAY >= 7 * HOUR for tr in hops)  # sent by people who are awake
    assert sum(tr.amount < 1000 for tr in hops) >= 0.75 * len(hops)

    lags, spans, kept = [], [], []
    for p in patterns:
        arrivals: dict[str, list[int]] = defaultdict(list)
        paid_in: dict[str, float] = defaultdict(float)
        paid_out: dict[str, float] = defaultdict(float)
        for tr in p.transfers:
            debtor, creditor = tr.debtor["account_id"], tr.creditor["account_id"]
            if tr.hop and arrivals[debtor]:
                lags.append((tr.t - max(arrivals[debtor])) / HOUR)
            arrivals[creditor].append(tr.t)
            paid_in[creditor] += tr.amount
            if tr.hop:
                paid_out[debtor] += tr.amount
        origin = next(tr for tr in p.transfers if tr.hop).debtor["account_id"]
        kept += [paid_out[a] / paid_in[a] for a in paid_out if a in paid_in and not (p.typology == "cycle" and a == origin)]
        spans.append((p.transfers[-1].t - p.transfers[0].t) / DAY)
    assert 24 <= statistics.median(lags) <= 120
    assert min(lags) < 12 and max(lags) > 5 * 24
    assert statistics.median(spans) >= 4 and max(spans) >= 10
    assert kept and all(0.8 <= k < 0.99 for k in kept)
    assert 0.85 <= statistics.mean(kept) <= 0.95


def test_some_patterns_pay_once_a_day_and_some_several_at_once(bank):
    sim, _ = bank
    times: dict[tuple[int, str], list[int]] = defaultdict(list)
    for n, p in enumerate(sim.population.patterns):
        for tr in p.transfers:
            if tr.hop:
                times[(n, tr.debtor["account_id"])].append(tr.t)
    per_day = [Counter((t - sim.cfg.start_t) // DAY for t in ts) for ts in times.values()]
    assert any(len(c) >= 3 and set(c.values()) == {1} for c in per_day)
    assert any(ts[i + 2] - ts[i] < HOUR for ts in times.values() for i in range(len(ts) - 2))


def _hubs(pattern) -> set[str]:
    """The accounts all of a pattern's money passes through: collector, source, hub, sink."""
    payees, payers = _graph(pattern)
    sources, sinks = set(payees) - set(payers), set(payers) - set(payees)
    return {"fan_in": sinks, "fan_out": sources, "scatter_gather": sources | sinks,
            "gather_scatter": set(payees) & set(payers)}.get(pattern.typology, set())


def test_members_keep_their_ordinary_life_and_busy_ones_launder_a_few_percent_of_it(bank):
    sim, events = bank
    since = iso(parse_start(DEFAULT_START))
    members = {a.aid for p in sim.population.patterns for a in p.members}
    laundering = {(iso(tr.t), tr.debtor["account_id"], tr.creditor["account_id"], money(tr.amount))
                  for p in sim.population.patterns for tr in p.transfers}
    total, laundered = Counter(), Counter()
    for e in events:
        if e["type"] != "payment" or e["event_time"] < since:
            continue
        is_laundering = (e["event_time"], e["debtor"]["account_id"], e["creditor"]["account_id"], e["amount"]) in laundering
        for side in (e["debtor"], e["creditor"]):
            if _own(side):
                total[side["account_id"]] += 1
                laundered[side["account_id"]] += is_laundering
    assert all(total[a] - laundered[a] >= 5 for a in members)
    shares = [laundered[a] / total[a] for a in members]
    assert sum(s <= 0.05 for s in shares) >= 0.3 * len(shares)
    assert any(s > 0.1 for s in shares)
    # hubs are mostly busy accounts: most are busier than three in four ordinary retail accounts
    retail = [total[a.aid] for a in sim.population.accounts
              if a.label == 0 and a.persona in ("retail", "student") and a.active_from == 0]
    busy = statistics.quantiles(retail, n=4)[2]
    hubs = {h for p in sim.population.patterns for h in _hubs(p) if h in members}
    assert len(hubs) >= 5 and sum(total[h] > busy for h in hubs) >= 0.6 * len(hubs)
