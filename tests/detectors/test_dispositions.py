"""Analysts' decisions applied by the detectors: held-back repeats, a confirmed mule's counterparties,
refused and repeated decisions."""

from __future__ import annotations

from detector_events import at, pay, pay_in, pay_out
from scenarios import collection_mule, ordinary_history

from detectors import AccountState, Engine
from schemas import Decision, Disposition, ReasonCode


def in_order(events: list) -> list:
    """Events and decisions by time; a decision after the events of its very millisecond."""
    return sorted(events, key=lambda e: (e.decided_at, 1, "") if type(e) is Disposition else (e.event_time, 0, e.event_id))


def decide(alert, decision: str, when, reason: str | None = None, version: int | None = None) -> Disposition:
    default = {"legitimate": "payroll_or_business", "confirmed_mule": "victim_report", "inconclusive": "other"}
    return Disposition(alert_id=alert.alert_id, account_id=alert.account_id, version=version or alert.version,
                       decision=Decision(decision), reason_code=ReasonCode(reason or default[decision]),
                       decided_at=when)


def repeats(account: str = "M1") -> list:
    """The collection story again on days 1, 15 and 20: the same behaviour, no stronger."""
    events = []
    for tag, day in (("b", 1), ("c", 15), ("d", 20)):
        events += [pay_in(f"{tag}-v{i}", at(days=day, minutes=20 * i), account, f"{tag}-VIC{i}", 6900) for i in range(7)]
        events += [pay_out(f"{tag}-x", at(days=day, hours=3), account, "GANG-Z", 44000)]
    return events


def run(events: list, config) -> tuple[Engine, list]:
    engine = Engine(config)
    return engine, list(engine.process_all(in_order(events)))


def test_a_legitimate_decision_holds_back_the_same_behaviour_for_the_quiet_days(config):
    _, first = run(collection_mule(), config)
    decided = decide(first[-1], "legitimate", at(hours=12))
    _, without = run(collection_mule() + repeats(), config)
    engine, with_decision = run(collection_mule() + repeats() + [decided], config)
    later = [a for a in without if a.window_end > decided.decided_at]
    assert later, "guard: without the decision the repeats do alert again"
    assert [a for a in with_decision if a.window_end > decided.decided_at] == []
    assert engine.stats.decided[0].decision == "legitimate"
    assert set(engine.stats.decided[0].typologies) == {t.typology.value for t in first[-1].typologies}


def test_a_legitimate_account_comes_back_when_the_score_rises_by_the_margin_and_says_why(config):
    weak = collection_mule(victims=5, amount=1100)
    _, first = run(weak, config)
    seen = first[-1]
    assert seen.score + config.dispositions.resurface_margin <= 100, "guard: room to rise"
    decided = decide(seen, "legitimate", at(hours=12))
    # The next day more of the same: a typology joins and the severity rises, the score barely.
    same_again = [pay_in(f"s-v{i}", at(days=1, minutes=20 * i), "M1", f"s-VIC{i}", 5000) for i in range(5)]
    same_again += [pay_out("s-x", at(days=1, hours=2), "M1", "GANG-S", 23750)]
    stronger = [pay_in(f"m-v{i}", at(days=2, minutes=10 * i), "M1", f"m-VIC{i}", 6900) for i in range(7)]
    stronger += [pay_out("m-x", at(days=2, hours=2), "M1", "GANG-Z", 25000),
                 pay_out("m-y", at(days=2, hours=2, minutes=15), "M1", "GANG-Y", 21000)]
    _, without = run(weak + same_again + stronger, config)
    assert [a for a in without if at(days=1) <= a.window_end < at(days=2)], "guard: undecided, the repeat alerts"
    _, alerts = run(weak + same_again + stronger + [decided], config)
    back = [a for a in alerts if a.window_end > decided.decided_at]
    assert back and all(a.window_end >= at(days=2) for a in back)  # the same behaviour again stays quiet
    assert all(a.score >= seen.score + config.dispositions.resurface_margin for a in back)
    previous = back[0].previous_decision
    assert previous is not None and previous.decision is Decision.LEGITIMATE and previous.score_then == seen.score
    assert previous.alert_id == seen.alert_id and "rose" in previous.note


def confirmed_story() -> list:
    """M1 collects victims' money (one victim, V1, banks here) and passes some to B1, also ours, who
    passes it on at once: alone, B1's pass-through is not enough for an alert."""
    events = collection_mule() + ordinary_history("B1", "CB1") + ordinary_history("V1", "CV1")
    events += [pay("vb", at(minutes=10), "V1", "M1", 3000), pay("mb", at(minutes=200), "M1", "B1", 5000),
               pay_out("bx", at(minutes=260), "B1", "GANG-Q", 4800)]
    return events


def test_a_confirmed_mules_counterparties_hear_of_it_the_one_it_paid_strongly(config):
    _, alerts = run(confirmed_story(), config)
    assert {a.account_id for a in alerts} == {"M1"}, "guard: B1 alone raises nothing"
    decided = decide(alerts[-1], "confirmed_mule", at(days=1))
    engine, after = run(confirmed_story() + [decided], config)
    paid_by_mule = [a for a in after if a.account_id == "B1"]
    assert paid_by_mule and paid_by_mule[0].window_end == decided.decided_at
    assert {r.rule_id for r in paid_by_mule[0].rules} >= {"confirmed_counterparty", "pass_through"}
    victim = engine.accounts["V1"]
    assert [h[1:3] for h in victim.hits.values()] == [("confirmed_counterparty", 1)]  # the weak form
    assert not [a for a in after if a.account_id == "V1"]


def test_a_confirmed_mule_paying_an_own_account_later_tells_it_too(config):
    _, alerts = run(confirmed_story(), config)
    decided = decide(alerts[-1], "confirmed_mule", at(days=1))
    later = ordinary_history("C1", "CC1") + [pay("mc", at(days=3), "M1", "C1", 2000)]
    engine, _ = run(confirmed_story() + later + [decided], config)
    (hit,) = [h for h in engine.accounts["C1"].hits.values() if h[1] == "confirmed_counterparty"]
    assert hit[0] == int(at(days=3).timestamp() * 1000) and hit[2] == 2 and hit[4] == ("mc",)


def test_an_unknown_alert_is_refused_and_changes_nothing(config):
    engine, alerts = run(collection_mule(), config)
    before = engine.accounts["M1"].to_bytes()
    good = alerts[-1]
    wrong_id = decide(good, "legitimate", at(days=1)).model_copy(update={"alert_id": "0" * 32})
    stranger = decide(good, "legitimate", at(days=1)).model_copy(update={"account_id": "NOBODY"})
    for refused in (wrong_id, stranger):
        engine.process(refused)
    assert [r[:2] for r in engine.stats.rejected_dispositions] == [("0" * 32, good.version), (good.alert_id, good.version)]
    assert engine.accounts["M1"].to_bytes() == before and "NOBODY" not in engine.accounts


def test_a_decision_on_a_version_not_reached_yet_is_read_as_the_latest(config):
    """History fed at full speed: the decision overtook the version it names."""
    engine, alerts = run(collection_mule(), config)
    ahead = decide(alerts[-1], "legitimate", at(days=1), version=alerts[-1].version + 3)
    engine.process(ahead)
    assert not engine.stats.rejected_dispositions
    assert engine.accounts["M1"].decisions[0][5] == alerts[-1].score


def test_the_same_decision_twice_changes_nothing_and_survives_serialization(config):
    engine, alerts = run(confirmed_story(), config)
    decided = decide(alerts[-1], "confirmed_mule", at(days=1))
    engine.process(decided)
    state = engine.accounts["M1"]
    once = state.to_bytes()
    assert engine.process(decided) == [] and state.to_bytes() == once
    assert engine.stats.decided == engine.stats.decided[:1]
    copy = AccountState.from_bytes(once)
    assert copy.decisions == state.decisions and copy.to_bytes() == once
