"""Rules combined into typologies: mule stories alert, legitimate look-alikes do not."""

from __future__ import annotations

import re

from detector_events import at, change, login, opened, pay, pay_in, pay_out
from scenarios import collection_mule, ordinary_history

from schemas import Severity

# ---- mule stories ------------------------------------------------------------------------------


def names(alert) -> list[str]:
    return [t.typology.value for t in alert.typologies]


def latest(alerts) -> dict[str, object]:
    """The highest version of each alert id: what a case-management system keeps."""
    kept: dict[str, object] = {}
    for alert in alerts:
        if alert.alert_id not in kept or alert.version > kept[alert.alert_id].version:
            kept[alert.alert_id] = alert
    return kept


def test_collection_account_alert_fields(run, config):
    result = run(collection_mule())
    assert {a.account_id for a in result.alerts} == {"M1"}
    (alert,) = latest(result.alerts).values()  # one alert for the account's episode
    assert "collection_account" in names(alert) and alert.config_version == config.version
    assert re.fullmatch(r"[0-9a-f]{32}", alert.alert_id)
    assert {r.rule_id for r in alert.rules} >= {"fan_in", "pass_through"}
    (collection,) = [t for t in alert.typologies if t.typology.value == "collection_account"]
    assert collection.score >= config.typologies.collection_account.threshold
    assert alert.score == max(t.score for t in alert.typologies)
    assert alert.severity is Severity.MEDIUM  # 48,300 CNY moved
    assert alert.figures.inflow == 48300 and alert.figures.distinct_senders >= 7
    assert alert.window_start <= alert.window_end and alert.episode_start <= alert.window_start
    assert all(len(r.evidence_event_ids) <= 50 and r.reason for r in alert.rules)
    assert len({r.rule_id for r in alert.rules}) == len(alert.rules)  # this story has one hit per rule


def test_one_alert_per_account_carries_every_typology_ranked(run):
    """A sold account's story scores as sold, rented and lent at once: one alert says so, strongest
    first (higher severity, then higher score), each typology with its own score, rules listed once."""
    events = ordinary_history("S", "CS") + [
        change("phone_changed", "pc", at(), "S", phone_id="PH-NEW", registered_to_holder=False),
        change("password_reset", "pr", at(minutes=5), "S"),
        login("l", at(minutes=20), "S", country="KH"),
    ]
    events += [pay_in(f"v{i}", at(hours=2, minutes=15 * i), "S", f"VIC{i}", 9000) for i in range(3)]
    events += [pay_out("x", at(hours=3), "S", "GANG", 26000)]
    result = run(events)
    kept = latest(result.alerts)
    assert len(kept) == 1
    (alert,) = kept.values()
    assert {"account_sold", "account_rented"} <= set(names(alert))
    order = [(-t.severity.rank, -t.score, t.typology.value) for t in alert.typologies]
    assert order == sorted(order)
    assert alert.severity is alert.typologies[0].severity
    assert alert.recommended_action is alert.typologies[0].recommended_action
    hits = [(r.rule_id, r.event_time, tuple(r.evidence_event_ids)) for r in alert.rules]
    assert len(hits) == len(set(hits))


def test_versions_rise_only_when_a_typology_joins_or_its_severity_rises(run):
    """Every version published says more than the one before: a typology joined, or one's severity
    rose; the version is the sum of the typologies' severity ranks."""
    events = collection_mule(amount=6900)
    events += [pay_in(f"more{i}", at(hours=4, minutes=i), "M1", f"BIG{i}", 40000) for i in range(5)]
    events += [pay_out("more-out", at(hours=4, minutes=30), "M1", "GANG-C", 190000)]
    alerts = run(events).alerts
    assert len(alerts) >= 2
    for alert in alerts:
        assert alert.version == sum(t.severity.rank for t in alert.typologies)
    for before, after in zip(alerts, alerts[1:]):
        assert after.version > before.version
        was = {t.typology: t.severity.rank for t in before.typologies}
        now = {t.typology: t.severity.rank for t in after.typologies}
        assert set(was) <= set(now) and all(now[k] >= was[k] for k in was)
        assert set(was) < set(now) or any(now[k] > was[k] for k in was)


def test_account_sold(run):
    events = ordinary_history("S", "CS") + [
        change("phone_changed", "pc", at(), "S", phone_id="PH-NEW", registered_to_holder=False),
        change("password_reset", "pr", at(minutes=5), "S"),
    ]
    events += [pay_in(f"v{i}", at(hours=2, minutes=15 * i), "S", f"VIC{i}", 9000) for i in range(3)]
    events += [pay_out("x", at(hours=3), "S", "GANG", 26000)]
    result = run(events)
    assert "account_sold" in result.typologies("S")


def test_account_rented_via_remote_access(run):
    events = ordinary_history("R", "CR") + [login("l", at(), "R", country="KH")]
    events += [pay_in("v1", at(hours=1), "R", "VIC1", 30000), pay_out("x", at(hours=1, minutes=20), "R", "GANG", 28500)]
    assert "account_rented" in run(events).typologies("R")


def test_pass_through_mule_gather_scatter(run):
    events = ordinary_history("H", "CH")
    events += [pay_in(f"in{i}", at(minutes=10 * i), "H", f"SRC{i}", 4000) for i in range(5)]
    events += [pay_out(f"out{i}", at(hours=2, minutes=10 * i), "H", f"DST{i}", 3700) for i in range(5)]
    assert "pass_through_mule" in run(events).typologies("H")


def farm_events(customers: int, device: str = "FARM-DEV") -> list:
    events = []
    for c in range(customers):
        acct = f"F{c}"
        events += ordinary_history(acct, f"CF{c}", prefix=acct)
    for c in range(customers):
        acct = f"F{c}"
        t = c * 30
        events += [
            login(f"{acct}-l", at(minutes=t), acct, device=device),
            pay_in(f"{acct}-in", at(minutes=t + 5), acct, f"VIC-{acct}", 20000),
            pay_out(f"{acct}-out", at(minutes=t + 10), acct, "GANG", 19000, device=device),
        ]
    return events


def test_account_farm_shared_device(run):
    result = run(farm_events(3))
    farmed = {a.account_id for a in result.alerts if "account_farm" in names(a)}
    assert farmed == {"F0", "F1", "F2"}
    assert "shared_device" in result.rules_hit("F0")


def test_dormant_account_abuse(run):
    events = [opened("o", at(days=-500), "D", "CD")]
    events += [pay_in(f"h{i}", at(days=-300 + 10 * i), "D", "EMPLOYER", 2000) for i in range(10)]
    events += [pay_in(f"v{i}", at(minutes=10 * i), "D", f"VIC{i}", 8000) for i in range(5)]
    events += [pay_out("x", at(hours=1, minutes=30), "D", "GANG", 38000)]
    assert "dormant_or_new_account_abuse" in run(events).typologies("D")


def test_account_lent(run):
    events = ordinary_history("L", "CL")
    events.append(change("beneficiary_added", "ba", at(), "L", beneficiary_account_id="P", beneficiary_bank_id="BANKX"))
    events += [pay_in(f"in{i}", at(hours=1, minutes=10 * i), "L", "BOSS", 9900 + 20 * i) for i in range(5)]
    events.append(pay_out("x", at(hours=2), "L", "P", 48000))
    assert "account_lent" in run(events).typologies("L")


def test_severity_escalates_as_a_new_version_and_critical_at_200k(run):
    events = collection_mule(amount=6900)
    events += [pay_in(f"more{i}", at(hours=4, minutes=i), "M1", f"BIG{i}", 40000) for i in range(5)]
    events += [pay_out("more-out", at(hours=4, minutes=30), "M1", "GANG-C", 190000)]
    result = run(events)
    collection = [a for a in result.alerts if "collection_account" in names(a)]
    assert len({a.alert_id for a in result.alerts}) == 1
    assert [a.version for a in collection] == sorted(a.version for a in collection)
    assert collection[-1].severity is Severity.CRITICAL
    assert collection[-1].recommended_action.value == "freeze_and_report"


def test_one_episode_holds_repeats_then_a_new_episode(run):
    events = collection_mule(prefix="a")
    events += [pay_in(f"b-v{i}", at(days=1, minutes=20 * i), "M1", f"b-VIC{i}", 6900) for i in range(7)]
    events += [pay_out("b-x", at(days=1, hours=3), "M1", "GANG-Z", 44000)]
    events += [pay_in(f"c-v{i}", at(days=15, minutes=20 * i), "M1", f"c-VIC{i}", 6900) for i in range(7)]
    events += [pay_out("c-x", at(days=15, hours=3), "M1", "GANG-Z", 44000)]
    result = run(events)
    # Day 0 and day 1 fall in one 30-day episode (the epoch-aligned one ending 9.6 days after
    # ``at()``); day 15 in the next.
    by_id: dict[str, set] = {}
    for alert in result.alerts:
        by_id.setdefault(alert.alert_id, set()).add(alert.window_end.date())
    assert len(by_id) == 2
    assert sorted(min(days) for days in by_id.values()) == [at().date(), at(days=15).date()]
    assert {a.episode_start for a in result.alerts if a.window_end.date() < at(days=2).date()} == {
        a.episode_start for a in result.alerts if a.window_end.date() == at().date()}


# ---- legitimate look-alikes -------------------------------------------------------------------


def test_lookalike_salary_to_own_savings(run):
    events = ordinary_history("A", "C1")
    for month in range(3):
        events += [
            pay_in(f"sal-{month}", at(days=30 * month), "A", "EMPLOYER-CO", 15000),
            pay(f"sav-{month}", at(days=30 * month, minutes=20), "A", "A-SAVINGS", 14000,
                debtor_customer="C1", creditor_customer="C1"),
        ]
    assert run(events).alerts == []


def test_lookalike_landlord_collecting_rent(run):
    events = [opened("o", at(days=-400), "LL", "CLL")]
    for month in range(5):
        events += [pay_in(f"r{month}-{t}", at(days=-120 + 30 * month, hours=t), "LL", f"TENANT{t}", 3000)
                   for t in range(12)]
    assert run(events).alerts == []


def test_lookalike_payroll(run):
    """An established employer: client payments come in, 25 staff are paid on payday."""
    events = ordinary_history("EMP", "CEMP", days=300)
    payroll = []
    for month in range(6):
        day = -180 + 30 * month
        payroll += [pay_in(f"c{month}-{k}", at(days=day - 1, hours=k), "EMP", f"CLIENT{k}", 40000) for k in range(4)]
        payroll += [pay_out(f"p{month}-{i}", at(days=day, minutes=i), "EMP", f"STAFF{i}", 6000) for i in range(25)]
    events = sorted(events + payroll, key=lambda e: e.event_time)
    established = at(days=-110)  # after two paydays the staff and clients are known
    late_alerts = [a for a in run(events).alerts if a.window_end >= established]
    assert late_alerts == []


def test_lookalike_student_topped_up_paying_rent(run):
    events = [opened("o", at(days=-20), "ST", "CST")]
    events += [
        change("beneficiary_added", "ba", at(days=-1), "ST", beneficiary_account_id="LANDLORD", beneficiary_bank_id="BANKX"),
        pay_in("top", at(), "ST", "PARENTS", 6000),
        pay_out("rent", at(minutes=30), "ST", "LANDLORD", 5800),
    ]
    assert run(events).alerts == []


def test_lookalike_family_sharing_tablet_and_phone(run):
    events = []
    for member in ("MOM", "DAD"):
        events += ordinary_history(member, f"C-{member}", prefix=member)
    events += [change("phone_changed", f"{m}-ph", at(days=-5), m, phone_id="FAMILY-PHONE", registered_to_holder=True)
               for m in ("MOM", "DAD")]
    for m in ("MOM", "DAD"):
        events += [
            login(f"{m}-l", at(hours=1 if m == "MOM" else 2), m, device="FAMILY-TABLET"),
            pay_in(f"{m}-in", at(hours=3 if m == "MOM" else 4), m, "GRANDMA", 5000),
            pay_out(f"{m}-out", at(hours=3.5 if m == "MOM" else 4.5), m, "SCHOOL", 4800, device="FAMILY-TABLET"),
        ]
    result = run(events)
    assert "shared_phone" in result.rules_hit("MOM")  # the signal exists ...
    assert "shared_device" not in result.rules_hit("MOM")
    assert result.alerts == []  # ... but alone it never alerts


def test_lookalike_traveller_paying_hotel(run):
    events = ordinary_history("TR", "CTR") + [
        login("l1", at(), "TR", country="FR"),
        pay_in("fx", at(hours=1), "TR", "FRIEND", 3000),
        pay_out("hotel", at(hours=2), "TR", "HOTEL-PARIS", 2900, country="FR"),
    ]
    assert run(events).alerts == []


def test_lookalike_account_reopened_after_long_stay_abroad(run):
    events = [opened("o", at(days=-700), "EX", "CEX")]
    events += [pay_in(f"h{i}", at(days=-500 + 15 * i), "EX", "EMPLOYER", 9000) for i in range(12)]
    events += [
        pay_in("home", at(), "EX", "OWN-ACCOUNT-ABROAD", 100000),
        change("beneficiary_added", "ba", at(hours=1), "EX", beneficiary_account_id="CAR-DEALER", beneficiary_bank_id="BANKX"),
        pay_out("car", at(hours=2), "EX", "CAR-DEALER", 60000),
        pay_out("deposit", at(hours=3), "EX", "LANDLORD", 20000),
    ]
    result = run(events)
    assert "dormant_reactivation" in result.rules_hit("EX")
    assert result.alerts == []


def test_account_lent_passes_money_through_on_separate_days(run):
    """Lent: no fan, no control change, no similar amounts; the same pattern again days later."""
    events = ordinary_history("LD", "CLD")
    for day, amount in ((0, 5500), (4, 5600)):  # in + out below 1.5 x the salary day: no volume spike
        events += [
            pay_in(f"in-{day}", at(days=day, hours=11), "LD", f"BOSS{day}", amount),
            pay_out(f"out-{day}", at(days=day, hours=15), "LD", "FRIEND", round(amount * 0.9)),
        ]
    result = run(events)
    assert "repeated_pass_through" in result.rules_hit("LD")
    assert "account_lent" in result.typologies("LD")
    first_only = run([e for e in events if not e.event_id.endswith("-4")])
    assert first_only.alerts == []  # one pass-through of a salary-sized sum is not enough


def test_lookalike_merchant_card_takings_and_weekly_supplier(run):
    """A shop: dozens of card payers a day, suppliers paid weekly from the takings."""
    events = [opened("o", at(days=-400), "SHOP", "CSHOP")]
    for day in range(21):
        events += [pay_in(f"c{day}-{k}", at(days=day, hours=8, minutes=25 * k), "SHOP", f"CARD-{day}-{k}", 180 + 37 * k,
                          method="card") for k in range(25)]
        if day % 7 == 6:
            events += [pay_out(f"sup{day}-{s}", at(days=day, hours=20, minutes=s), "SHOP", f"SUPPLIER{s}", 9000)
                       for s in range(3)]
    result = run(events)
    assert not {"fan_in", "pass_through", "similar_amounts"} & result.rules_hit("SHOP")
    assert result.alerts == []


def test_lookalike_family_of_four_sharing_a_tablet(run):
    """Four adults on one tablet (a shared-device hit) and one ordinary pass-through: no alert."""
    events = []
    members = ("P1", "P2", "P3", "P4")
    for m in members:
        events += ordinary_history(m, f"C-{m}", prefix=m)
        events.append(change("device_bound", f"{m}-tab", at(days=-100), m, device_id="TABLET"))
    events += [login(f"{m}-l", at(hours=i), m, device="TABLET") for i, m in enumerate(members)]
    events += [pay_in("gift", at(hours=5), "P1", "UNCLE", 5500), pay_out("car", at(hours=8), "P1", "GARAGE", 5200)]
    result = run(events)
    assert "shared_device" in result.rules_hit("P1") and "pass_through" in result.rules_hit("P1")
    assert result.alerts == []


def test_late_device_verdict_is_scored_before_the_hit_cap_can_drop_it(config):
    """A cross-key hit that reaches the account after more newer hits of its rule than the cap
    still raises what it raised in event-time order (the worker delivers such hits late)."""
    from detectors import Engine, CrossHit, apply_account

    day_ms = 86_400_000
    verdict_ms = int(at(minutes=7 * 20 + 25).timestamp() * 1000)  # when the money left

    def device_hit(n: int, time_ms: int) -> CrossHit:
        return CrossHit("M1", f"use{n}", time_ms, f"hit{n}", "shared_device", 1,
                             "device D used on accounts of 3 customers", (f"use{n}",))

    def alerts_after(hits: list) -> set:
        engine = Engine(config)
        list(engine.process_all(sorted(collection_mule(), key=lambda e: e.event_time)))
        state, raised = engine.accounts["M1"], set()
        for hit in hits:
            outcome = apply_account(state, hit, config)
            state = outcome.state
            raised |= {(a.alert_id, a.version, t.typology.value) for a in outcome.alerts for t in a.typologies}
        return raised

    early = device_hit(0, verdict_ms)
    # Outside account_farm's 30-day window: these alone raise nothing.
    later = [device_hit(n, verdict_ms + (31 + n) * day_ms) for n in range(1, config.limits.max_hits_per_rule + 1)]
    in_order = alerts_after([early, *later])
    assert {"account_farm", "account_rented"} <= {typology for _, _, typology in in_order}
    assert alerts_after([*later, early]) == in_order
