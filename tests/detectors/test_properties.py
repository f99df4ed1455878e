"""Properties: the alerts and hits depend on the events and their times, never on arrival order.

- any reordering of arrivals within the lateness, plus redeliveries, gives the same hits and the
  same final (alert id -> highest version), money tracing aside: an account's own payments arriving
  out of order can still change which forwards it sees (a known gap, kept as a strict xfail below);
- the in-process Engine equals a worker-like run where identifier uses and the hits they cause
  travel through queues and arrive many events later: the same final versions.
"""

from __future__ import annotations

from collections import deque

from detector_events import at, change, login, opened, pay, pay_in, pay_out
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors import Engine, apply_account, apply_identifier, load_config, route_event
from detectors.messages import IdentifierMessage

ACCOUNTS = [f"A{i}" for i in range(4)]
LATENESS_S = 300
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def world() -> list:
    """Four old accounts of four customers with a little history, and a collection burst on A0."""
    events = []
    for i, account in enumerate(ACCOUNTS):
        events.append(opened(f"open-{account}", at(days=-300), account, f"C{i}", phone=f"PH{i % 3}"))
        events += [pay_in(f"hist-{account}-{k}", at(days=-60 + 7 * k), account, "EMPLOYER", 5000) for k in range(8)]
    events += [pay_in(f"core-v{i}", at(minutes=3 * i), "A0", f"VIC{i}", 7000) for i in range(6)]
    events += [pay_out("core-x", at(minutes=25), "A0", "GANG", 39000, device="D0")]
    return events


@st.composite
def noise(draw) -> list:
    """Random payments and account changes on the four accounts within three hours."""
    events = []
    for n in range(draw(st.integers(5, 30))):
        when = at(minutes=draw(st.integers(0, 180)), seconds=draw(st.integers(0, 59)))
        account = draw(st.sampled_from(ACCOUNTS))
        kind = draw(st.sampled_from(["in", "in", "out", "out", "own", "login", "bound", "benef", "phone"]))
        amount = draw(st.sampled_from([800, 3000, 6000, 9000, 9500, 20000, 45000]))
        eid = f"n{n}"
        if kind == "in":
            events.append(pay_in(eid, when, account, draw(st.sampled_from(["S1", "S2", "S3", "S4", "S5", "S6"])), amount))
        elif kind == "out":
            events.append(pay_out(eid, when, account, draw(st.sampled_from(["P1", "P2", "P3", "P4", "P5"])), amount,
                                  device=draw(st.sampled_from([None, "D0", "D1"])),
                                  country=draw(st.sampled_from([None, "CN", "US", "GB"]))))
        elif kind == "own":
            events.append(pay(eid, when, account, draw(st.sampled_from(ACCOUNTS)), amount))
        elif kind == "login":
            events.append(login(eid, when, account, device=draw(st.sampled_from(["D0", "D1", "D2"])),
                                country=draw(st.sampled_from([None, "CN", "FR", "US"]))))
        elif kind == "bound":
            events.append(change("device_bound", eid, when, account, device_id=draw(st.sampled_from(["D0", "D1"]))))
        elif kind == "benef":
            events.append(change("beneficiary_added", eid, when, account,
                                 beneficiary_account_id=draw(st.sampled_from(["P1", "P2"])), beneficiary_bank_id="BANKX"))
        else:
            events.append(change("phone_changed", eid, when, account, phone_id=draw(st.sampled_from(["PH0", "PH9"])),
                                 registered_to_holder=draw(st.sampled_from([None, False, True]))))
    return events


def in_time_order(events: list) -> list:
    return sorted(events, key=lambda e: (e.event_time, e.event_id))


def outcome(engine: Engine, alerts) -> tuple[set, dict, dict]:
    """(every (alert id, version) published, hits per account, identifier entries)."""
    versions = {(alert.alert_id, alert.version) for alert in alerts}
    hits = {key: state.hits for key, state in engine.accounts.items()}
    identifiers = {key: state.entries for key, state in engine.identifiers.items()}
    return versions, hits, identifiers


def final_versions(result: tuple[set, dict, dict]) -> tuple[dict, dict, dict]:
    """The same with only the highest version per alert id: what a case-management system keeps."""
    versions, hits, identifiers = result
    top: dict[str, int] = {}
    for alert_id, version in versions:
        top[alert_id] = max(version, top.get(alert_id, 0))
    return top, hits, identifiers


def beyond_ties(alerts) -> set:
    """(alert id, version) published, less a version whose alert reached a higher one at the very same
    event time: events stamped with the same millisecond have no order of their own, and the lower
    version only exists when the tie is broken one way (its money counted before the rest of that
    millisecond's); arriving the other way, the higher version comes at once."""
    top_at: dict[tuple, int] = {}
    for alert in alerts:
        key = (alert.alert_id, alert.window_end)
        top_at[key] = max(alert.version, top_at.get(key, 0))
    return {(a.alert_id, a.version) for a in alerts if top_at[(a.alert_id, a.window_end)] == a.version}


def run_engine(config, events) -> tuple[dict, dict, dict]:
    engine = Engine(config)
    return outcome(engine, list(engine.process_all(events)))


@pytest.fixture(scope="module")
def untraced(tmp_path_factory):
    """The shipped config without money tracing (see the known gap below)."""
    path = tmp_path_factory.mktemp("config") / "untraced.toml"
    path.write_text("[network]\nenabled = false\n")
    return load_config(path)


@SETTINGS
@given(extra=noise(), data=st.data())
def test_reordering_within_lateness_and_redelivery_change_nothing(untraced, extra, data):
    config = untraced
    events = in_time_order(world() + extra + farm_tail())
    engine = Engine(config)
    expected_alerts = list(engine.process_all(events))
    expected = outcome(engine, expected_alerts)
    # Arrival order: event time plus a delay below the lateness; then some redeliveries anywhere later.
    delays = data.draw(st.lists(st.integers(0, (LATENESS_S - 1) * 1000), min_size=len(events), max_size=len(events)))
    keyed = sorted(((e.event_time.timestamp() * 1000 + d, e) for d, e in zip(delays, events)), key=lambda p: p[0])
    # Redeliveries come later, but within the day the engine remembers ids for (else: late).
    for index in data.draw(st.lists(st.integers(0, len(keyed) - 1), max_size=8)):
        key, event = keyed[index]
        last = max(j for j in range(index, len(keyed)) if keyed[j][0] - key < 3_600_000)
        keyed.insert(data.draw(st.integers(index + 1, last + 1)), (key, event))
    arrivals = [event for _, event in keyed]
    engine = Engine(config)
    got = outcome(engine, list(engine.process_all(arrivals)))
    assert engine.stats.late == 0
    # Own events reordered within the lateness can add a lower version (a point judged before an
    # earlier payment arrived; the worker applies own events in event-time order), never lose one.
    assert final_versions(got) == final_versions(expected)
    assert beyond_ties(expected_alerts) <= got[0]


@pytest.mark.xfail(strict=True, reason="known gap: an inflow lot sums every payment in it, so an own payment "
                   "arriving after a later one can change which outflow matches it (a forward, then chain "
                   "and chain_up); the worker applies own events in event-time order, so only input "
                   "partitions written out of event order reach it")
def test_traced_money_survives_own_payments_reordered(config):
    """Found by the property above with tracing on: A3 -> A0 at 10:23:00 arriving a minute late,
    after S1's payments to A0 at 10:23:01, makes A0's 10:24:01 outflow a chain it was not in order."""
    def times(minutes: int, seconds: int = 0):
        return at(minutes=minutes, seconds=seconds)
    extra = [pay_in(f"n{i}", times(0), "A0", "S1", 800) for i in (0, 2, 8, 9, 10, 11, 12, 13, 14, 15)]
    extra += [pay_in("n1", times(83, 1), "A0", "S1", 800), pay_in("n3", times(83, 1), "A0", "S1", 800),
              pay_in("n6", times(83), "A0", "S1", 800), pay_in("n7", times(83), "A0", "S1", 800),
              pay("n4", times(83), "A3", "A0", 800), pay_out("n5", times(84, 1), "A0", "P2", 800)]
    events = in_time_order(world() + extra + farm_tail())
    late = next(e for e in events if e.event_id == "n4")
    arrivals = [e for e in events if e is not late]
    arrivals.insert(next(i for i, e in enumerate(arrivals) if e.event_time > times(84)), late)
    assert run_engine(config, arrivals) == run_engine(config, events)


def worker_like(config, events, delay: int) -> tuple[dict, dict, dict]:
    """Account messages applied at once; cross-partition traffic (identifier uses and hits, tokens and
    hits between accounts) delivered ``delay`` events later."""
    accounts: dict = {}
    identifiers: dict = {}
    in_flight: deque = deque()  # (due after this many input events, message)
    alerts = []

    def deliver(msg) -> None:
        if isinstance(msg, IdentifierMessage):
            key = (msg.kind, msg.key)
            result = apply_identifier(identifiers.get(key), msg, config)
            identifiers[key] = result.state
            in_flight.extend((seen + delay, hit) for hit in result.hits)
        else:
            result = apply_account(accounts.get(msg.key), msg, config)
            accounts[msg.key] = result.state
            alerts.extend(result.alerts)
            in_flight.extend((seen + delay, fwd) for fwd in result.forwards)
            in_flight.extend((seen + delay, other) for other in result.sends)

    seen = 0
    for event in events:
        seen += 1
        for msg in route_event(event, config):
            deliver(msg)
        while in_flight and in_flight[0][0] <= seen:
            deliver(in_flight.popleft()[1])
    while in_flight:
        deliver(in_flight.popleft()[1])
    engine = Engine(config, accounts, identifiers)
    return outcome(engine, alerts)


@SETTINGS
@given(extra=noise(), delay=st.integers(1, 25))
def test_engine_equals_worker_with_delayed_cross_key_hits(config, extra, delay):
    events = in_time_order(world() + extra + farm_tail())
    worker = worker_like(config, events, delay)
    engine = Engine(config)
    offline_alerts = list(engine.process_all(events))
    offline = outcome(engine, offline_alerts)
    # Every version offline publishes, the worker publishes too (but for one passed at the same
    # millisecond, see beyond_ties: a late hit of that very time joins the typologies at once), and
    # the final versions agree. The worker can publish one more, lower version: when a late hit
    # raises an earlier point to a higher version than a later point that was judged (and
    # published) before the hit arrived.
    assert final_versions(worker) == final_versions(offline)
    assert beyond_ties(offline_alerts) <= worker[0]


def farm_tail() -> list:
    """Three customers' accounts operated from one device with pass-through: cross-key hits matter."""
    events = []
    for i, account in enumerate(ACCOUNTS[1:]):
        t = 60 + 10 * i
        events += [
            login(f"farm-l{i}", at(minutes=t), account, device="FARM"),
            pay_in(f"farm-i{i}", at(minutes=t + 2), account, f"FV{i}", 20000),
            pay_out(f"farm-o{i}", at(minutes=t + 4), account, "FG", 19000, device="FARM"),
        ]
    return events


def test_world_alone_alerts(config):
    """Guard for the properties: the fixed part of every example does raise alerts."""
    assert run_engine(config, in_time_order(world()))[0]


def test_farm_tail_needs_cross_key_hits(config):
    """Guard for the property above: without the device partition's hits the farm would not alert."""
    versions, hits, _ = run_engine(config, in_time_order(world() + farm_tail()))
    assert any(hit[1] == "shared_device" for hit in hits["A1"].values())
    engine = Engine(config)
    typologies = {t.typology.value for a in engine.process_all(in_time_order(world() + farm_tail())) for t in a.typologies}
    assert "account_farm" in typologies
