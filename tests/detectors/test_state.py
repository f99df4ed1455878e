"""State: idempotent, reorder-tolerant within the lateness, late events flagged, bounded, round-trips."""

from __future__ import annotations

from types import SimpleNamespace

import orjson
import pytest

from detector_events import at, opened, pay_in, pay_out
from scenarios import collection_mule, ordinary_history
from test_typologies import farm_events

from detectors import AccountState, Engine, IdentifierState, apply_account, route_event
from detectors.messages import IdentifierMessage
from detectors.identifiers import apply_identifier

TYPICAL_STATE_CAP = 2048
FLOODED_STATE_CAP = 64 * 1024


def test_duplicate_event_changes_nothing(config):
    engine = Engine(config)
    events = collection_mule()
    alerts = list(engine.process_all(events))
    before = {k: s.to_bytes() for k, s in engine.accounts.items()}
    again = list(engine.process_all(events[-5:]))  # redelivered up to ~2 h later
    assert again == [] and engine.stats.duplicates == 5 and engine.stats.late == 0
    assert {k: s.to_bytes() for k, s in engine.accounts.items()} == before
    assert alerts


def test_duplicate_outcome_is_flagged(config):
    (msg,) = route_event(pay_in("e1", at(), "A", "X", 100), config)
    first = apply_account(None, msg, config)
    second = apply_account(first.state, msg, config)
    assert second.duplicate and not second.late and second.alerts == []


def test_out_of_order_within_lateness_gives_same_state_and_alerts(run):
    history = ordinary_history("M", "CM")
    burst = [pay_in(f"v{i}", at(minutes=i), "M", f"VIC{i}", 7000) for i in range(6)]
    burst += [pay_out("x1", at(minutes=7), "M", "G1", 20000), pay_out("x2", at(minutes=9), "M", "G2", 19000)]
    in_order = run(history + burst)
    # Every event is at most 4 minutes (< the 5 min lateness) behind the latest one applied before it.
    reordered = run(history + [burst[i] for i in (2, 0, 1, 6, 4, 5, 3, 7)])
    assert reordered.engine.stats.late == 0
    assert in_order.final_versions() == reordered.final_versions() != {}
    assert in_order.engine.accounts["M"].hits == reordered.engine.accounts["M"].hits


def test_event_later_than_lateness_is_flagged_and_not_applied(config):
    engine = Engine(config)
    engine.process(pay_in("e1", at(hours=1), "A", "X", 100))
    before = engine.accounts["A"].to_bytes()
    (msg,) = route_event(pay_in("old", at(), "A", "Y", 500), config)
    outcome = apply_account(engine.accounts["A"], msg, config)
    assert outcome.late and not outcome.duplicate and outcome.alerts == [] and outcome.forwards == []
    assert engine.accounts["A"].to_bytes() == before
    (ok,) = route_event(pay_in("recent", at(hours=1, minutes=-4), "A", "Y", 500), config)
    assert not apply_account(engine.accounts["A"], ok, config).late


def test_typical_account_state_is_small(config):
    engine = Engine(config)
    list(engine.process_all(ordinary_history("A", "C", days=360)))
    size = len(engine.accounts["A"].to_bytes())
    assert size <= TYPICAL_STATE_CAP, size


def test_flood_on_one_key_keeps_state_bounded(config):
    engine = Engine(config)
    engine.process(opened("o", at(days=-100), "A", "C"))
    sizes = []
    for i in range(6000):
        when = at(seconds=15 * i)
        if i % 3:
            engine.process(pay_in(f"i{i}", when, "A", f"S{i}", 1000 + i))
        else:
            engine.process(pay_out(f"o{i}", when, "A", f"P{i}", 900 + i, device=f"D{i % 50}", country="US"))
        if i % 1000 == 999:
            sizes.append(len(engine.accounts["A"].to_bytes()))
    state = engine.accounts["A"]
    assert max(sizes) <= FLOODED_STATE_CAP, sizes
    assert len(state.ledger) <= config.limits.max_ledger_entries
    assert len(state.hits) <= config.limits.max_hits
    assert len(state.counterparties) <= config.limits.max_counterparties
    assert len(state.seen) <= config.limits.max_seen_ids


def test_flood_on_one_identifier_keeps_state_bounded(config):
    """A use a second from 40 accounts: the state stops at twice the cap on what a verdict looks at."""
    state = None
    for i in range(3000):
        msg = IdentifierMessage("DEV", "device", f"A{i % 40}", f"C{i % 40}", f"e{i}", 1_700_000_000_000 + i * 1000)
        state = apply_identifier(state, msg, config).state
    assert len(state.entries) == 2 * config.rules.shared_device.max_entries
    assert state.entries[-1][1] == "e2999"
    assert len(state.to_bytes()) <= 16 * 1024


def test_account_state_round_trips(config):
    engine = Engine(config)
    list(engine.process_all(farm_events(3) + collection_mule()))
    for state in engine.accounts.values():
        data = state.to_bytes()
        copy = AccountState.from_bytes(data)
        assert copy.to_bytes() == data
        assert copy.hits == state.hits and copy.ledger == state.ledger and copy.episodes == state.episodes
    for state in engine.identifiers.values():
        data = state.to_bytes()
        copy = IdentifierState.from_bytes(data)
        assert copy.to_bytes() == data and copy.customers == state.customers


def test_serializing_between_every_message_changes_nothing(config):
    """The worker stores bytes after every message; that must not change a single alert."""
    events = farm_events(3) + collection_mule()
    direct = Engine(config)
    expected = [a.model_dump() for a in direct.process_all(events)]

    class BytesEngine(Engine):
        def process(self, event):
            alerts = Engine.process(self, event)
            self.accounts = {k: AccountState.from_bytes(s.to_bytes()) for k, s in self.accounts.items()}
            self.identifiers = {k: IdentifierState.from_bytes(s.to_bytes()) for k, s in self.identifiers.items()}
            return alerts

    assert [a.model_dump() for a in BytesEngine(config).process_all(events)] == expected
    assert expected


def test_hit_caps_hold_when_the_overall_cap_is_below_the_per_rule_cap():
    state = AccountState("A")
    for n in range(5):
        state.put_hit(f"h{n}", (1_000 * n, "fan_in", 1, "reason", ("e",)))
    state.cap_hits(SimpleNamespace(max_hits=3, max_hits_per_rule=8))
    assert sorted(state.hits) == ["h2", "h3", "h4"]  # the newest three


def test_a_redelivered_identifier_use_sends_its_hits_again(config):
    """The worker stores identifier state before its hits are known to be delivered: after a crash
    the redelivered use finds itself recorded, and must send the hits that may have been lost."""
    state = None
    uses = [IdentifierMessage("DEV", "device", f"A{i}", f"C{i}", f"e{i}", 1_700_000_000_000 + i * 60_000) for i in range(4)]
    first_hits = []
    for msg in uses:
        outcome = apply_identifier(state, msg, config)
        state = IdentifierState.from_bytes(outcome.state.to_bytes())  # as stored by the worker
        first_hits.append(outcome.hits)
    assert first_hits[2], "the third customer on the device makes it shared"
    again = apply_identifier(state, uses[2], config)
    assert again.state.to_bytes() == state.to_bytes()
    assert {h.hit_id for h in again.hits} == {h.hit_id for h in first_hits[2]} | {h.hit_id for h in first_hits[3]}
    lone = apply_identifier(None, uses[0], config)
    assert apply_identifier(lone.state, uses[0], config).hits == []  # one customer: nothing to re-send


def test_states_saved_before_episodes_still_load(config):
    """Formats 3 (before ``in_view_at``) and 4 (per-typology alert records, contract 1.x; no
    decisions) are what a running deployment holds in its tables on upgrade: they load, without the
    alert records."""
    engine = Engine(config)
    list(engine.process_all(collection_mule()))
    state = engine.accounts["M1"]
    assert state.episodes
    state.in_view_at = 123
    fmt, *fields, in_view_at, decisions = orjson.loads(state.to_bytes())
    assert fmt == 5 and in_view_at == 123 and decisions == []
    episodes_at = 22  # the field's place after the format number
    assert fields[episodes_at] == orjson.loads(orjson.dumps(
        sorted([b, p, sorted([n, r] for n, r in best.items())] for b, (p, best) in state.episodes.items())))
    fields[episodes_at] = [["collection_account", 671, -1, 1740992400000, -1, -1]]  # how format 4 kept them
    four = AccountState.from_bytes(orjson.dumps([4, *fields, 123]))
    assert four.in_view_at == 123 and four.episodes == {} and four.hits == state.hits
    three = AccountState.from_bytes(orjson.dumps([3, *fields]))
    assert three.in_view_at is None and three.hits == state.hits and three.ledger == state.ledger
    with pytest.raises(ValueError, match="format 2"):
        AccountState.from_bytes(orjson.dumps([2, *fields]))
