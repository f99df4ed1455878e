"""Each rule alone: it fires on its pattern, stays silent just outside it and when inputs are missing."""

from __future__ import annotations

from detector_events import at, change, login, opened, pay, pay_in, pay_out
from scenarios import collection_mule, ordinary_history

from detectors.rules import HIGH, NORMAL


def hit_levels(result, account, rule):
    return [hit[2] for hit in result.hits(account, rule)] if rule in result.rules_hit(account) else []


# ---- pass-through --------------------------------------------------------------------------


def test_pass_through_fires_with_readable_reason_and_high_level(run):
    result = run(collection_mule())
    hits = result.hits("M1", "pass_through")
    assert hits and hits[-1][2] == HIGH
    assert "92 % of 48,300 CNY received from 7 senders left within" in hits[-1][3]
    assert "M1-v0" in hits[-1][4] and "M1-x2" in hits[-1][4]


def test_pass_through_silent_when_most_money_stays(run):
    events = ordinary_history("A", "C") + [
        pay_in("in1", at(), "A", "FRIEND", 10000),
        pay_in("in2", at(hours=1), "A", "REFUND", 2000),
        pay_out("out1", at(hours=2), "A", "SHOP", 3000),
    ]
    assert "pass_through" not in run(events).rules_hit("A")


def test_pass_through_ignores_small_inflows_and_is_normal_level_when_slow(run):
    history = ordinary_history("A", "CA")
    small = history + [pay_in("in1", at(), "A", "F", 900), pay_out("o1", at(minutes=5), "A", "S", 900)]
    assert "pass_through" not in run(small).rules_hit("A")
    slow = history + [pay_in("in1", at(), "A", "F", 5000), pay_out("o1", at(hours=5), "A", "S", 4500)]
    assert hit_levels(run(slow), "A", "pass_through") == [NORMAL]


def test_pass_through_silent_on_a_new_deployments_first_payday(run):
    """Warm-up: the deployment has seen too few days of the account to tell a new payee from an
    unknown one, so salary in and bills out within the minute is not money passed on to strangers."""
    payday = [pay_in("sal", at(), "A", "EMPLOYER", 9000)]
    payday += [pay_out(f"bill{i}", at(seconds=20 + i), "A", f"BILLER{i}", 2900) for i in range(3)]
    assert "pass_through" not in run(payday).rules_hit("A")
    # Once the account has a week of days with payments, the same money to new payees is a flow.
    week = [pay_out(f"shop{d}", at(days=-10 + d), "A", "SHOP", 30) for d in range(7)]
    assert "pass_through" in run(week + payday).rules_hit("A")


def test_an_account_first_seen_after_the_deployments_warm_up_is_in_view_at_once(run):
    """A shell account woken up by its buyer weeks into a deployment: the deployment watched its
    partition all along and saw no payment of it, so its first senders and payees are new, not merely
    unknown, and money passed between them is judged from the first day. The same account seen in
    the deployment's first days is still in its warm-up (previous test)."""
    watched = [pay_out(f"shop{d}", at(days=-20 + d), "B", "SHOP", 30) for d in range(20)]
    woken = [pay_in("in1", at(), "S", "STRANGER1", 6000), pay_out("out1", at(hours=1), "S", "STRANGER2", 5800)]
    assert "pass_through" in run(watched + woken).rules_hit("S")
    just_started = [pay_out(f"shop{d}", at(days=-5 + d), "B", "SHOP", 30) for d in range(5)]
    assert "pass_through" not in run(just_started + woken).rules_hit("S")


def test_salary_to_own_savings_is_not_a_flow(run):
    events = [
        opened("o", at(days=-400), "A", "C1"),
        pay_in("sal", at(), "A", "EMPLOYER", 10000),
        pay("sav", at(minutes=30), "A", "SAVINGS", 9500, debtor_customer="C1", creditor_customer="C1"),
        # known to belong to the same customer only through the account's own record
        pay("inv", at(minutes=40), "A", "BROKER", 400, creditor_bank="B2", creditor_customer="C1"),
    ]
    result = run(events)
    assert "pass_through" not in result.rules_hit("A")
    assert [entry[1] for entry in result.engine.accounts["A"].ledger] == ["sal"]


# ---- fan-in / fan-out / gather-scatter -----------------------------------------------------


def test_fan_in_fires_on_many_new_senders(run):
    """It fires at the fifth new sender; the sixth and seventh add nothing a case needs (same
    strength, same severity of money moved), so the first finding of the day stands for them."""
    result = run(collection_mule())
    hits = result.hits("M1", "fan_in")
    assert "5 senders (5 new) paid in" in hits[0][3]
    assert len(hits) < 3, "the seventh sender adds no hit of its own"


def test_fan_in_silent_for_known_payers(run):
    """A landlord: the same tenants pay every month."""
    events = [opened("o", at(days=-400), "L", "CL")]
    for month in range(4):
        for tenant in range(8):
            events.append(pay_in(f"r{month}-{tenant}", at(days=-90 + 30 * month, hours=tenant), "L", f"T{tenant}", 3000))
    assert "fan_in" not in run(events).rules_hit("L")


def test_fan_in_needs_enough_new_senders(run):
    events = [opened("o", at(days=-400), "A", "C")]
    events += [pay_in(f"old{i}", at(days=-10), "A", f"S{i}", 500) for i in range(3)]
    events += [pay_in(f"in{i}", at(hours=i), "A", f"S{i}", 500) for i in range(5)]  # 5 senders, 2 new
    assert "fan_in" not in run(events).rules_hit("A")


def test_fan_out_and_gather_scatter(run):
    events = ordinary_history("H", "CH")
    events += [pay_in(f"in{i}", at(minutes=10 * i), "H", f"SRC{i}", 4000) for i in range(5)]
    events += [pay_out(f"out{i}", at(hours=2, minutes=10 * i), "H", f"DST{i}", 3700) for i in range(5)]
    result = run(events)
    assert {"fan_in", "fan_out", "gather_scatter", "pass_through"} <= result.rules_hit("H")
    assert "5 beneficiaries (5 new)" in result.hits("H", "fan_out")[0][3]
    assert "collected then dispersed" in result.hits("H", "gather_scatter")[0][3]


def test_payroll_to_known_staff_is_not_fan_out(run):
    def payday(month):
        return [pay_out(f"pay{month}-{i}", at(days=-60 + 30 * month, minutes=i), "E", f"STAFF{i}", 6000)
                for i in range(20)]

    opening = [opened("o", at(days=-400), "E", "CE")]
    # The first payday seen, every employee a new beneficiary, does look like a dispersal ...
    assert "fan_out" in run(opening + payday(0)).rules_hit("E")
    # ... the next ones, to the same staff, do not (their hits would still be within retention).
    later = run(opening + payday(0) + payday(1) + payday(2))
    assert "fan_out" not in later.rules_hit("E")
    assert "gather_scatter" not in later.rules_hit("E")


# ---- dormant / new account -------------------------------------------------------------------


def test_dormant_reactivation(run):
    history = [opened("o", at(days=-500), "D", "CD")]
    history += [pay_in(f"h{i}", at(days=-300 + 10 * i), "D", "EMPLOYER", 2000) for i in range(10)]
    woken = history + [pay_in("w1", at(), "D", "NEWSRC", 30000)]
    result = run(woken)
    assert "dormant_reactivation" in result.rules_hit("D")
    assert "idle" in result.hits("D", "dormant_reactivation")[0][3]
    small = history + [pay_in("w1", at(), "D", "NEWSRC", 5000)]
    assert "dormant_reactivation" not in run(small).rules_hit("D")
    active = history + [pay_in(f"a{i}", at(days=-150 + 10 * i), "D", "EMPLOYER", 2000) for i in range(15)]
    assert "dormant_reactivation" not in run(active + [pay_in("w1", at(), "D", "NEWSRC", 30000)]).rules_hit("D")


def test_dormant_needs_a_known_old_account(run):
    assert "dormant_reactivation" not in run([pay_in("w1", at(), "D", "X", 30000)]).rules_hit("D")
    young = [opened("o", at(days=-20), "D", "CD"), pay_in("w1", at(), "D", "X", 30000)]
    assert "dormant_reactivation" not in run(young).rules_hit("D")


def test_new_account_heavy_use(run):
    base = [opened("o", at(days=-5), "N", "CN1")]
    big = base + [pay_in("i1", at(), "N", "X", 60000)]
    assert "new_account_heavy_use" in run(big).rules_hit("N")
    many = base + [pay_in(f"i{i}", at(hours=i), "N", f"X{i}", 200) for i in range(5)]
    assert "new_account_heavy_use" in run(many).rules_hit("N")
    student = base + [pay_in("i1", at(), "N", "PARENTS", 3000), pay_out("r1", at(hours=2), "N", "LANDLORD", 2500)]
    assert "new_account_heavy_use" not in run(student).rules_hit("N")
    old = [opened("o", at(days=-60), "N", "CN1"), pay_in("i1", at(), "N", "X", 60000)]
    assert "new_account_heavy_use" not in run(old).rules_hit("N")
    unknown_age = [pay_in("i1", at(), "N", "X", 60000)]
    assert "new_account_heavy_use" not in run(unknown_age).rules_hit("N")


# ---- control change / remote access / new beneficiary -------------------------------------------


def test_control_change_then_outflow(run):
    base = ordinary_history("S", "CS")
    sold = base + [
        change("phone_changed", "pc", at(), "S", phone_id="PHX", registered_to_holder=False),
        pay_out("o1", at(hours=5), "S", "GANG", 8000),
    ]
    levels = hit_levels(run(sold), "S", "control_change_outflow")
    assert levels == [HIGH]
    small = base + [change("password_reset", "pr", at(), "S"), pay_out("o1", at(hours=5), "S", "SHOP", 3000)]
    assert "control_change_outflow" not in run(small).rules_hit("S")
    stale = base + [change("device_bound", "db", at(days=-4), "S", device_id="DX"), pay_out("o1", at(), "S", "G", 8000)]
    assert "control_change_outflow" not in run(stale).rules_hit("S")


def test_first_login_from_new_device_is_a_control_change_only_with_device_history(run):
    base = [opened("o", at(days=-400), "S", "CS"), pay_in("i", at(days=-1), "S", "X", 20000)]
    first_ever = base + [login("l1", at(), "S", device="D1"), pay_out("o1", at(hours=1), "S", "G", 8000)]
    assert "control_change_outflow" not in run(first_ever).rules_hit("S")
    new_one = [base[0], login("l0", at(days=-30), "S", device="D1"), base[1]] + [
        login("l1", at(), "S", device="D2"),
        pay_out("o1", at(hours=1), "S", "G", 8000),
    ]
    result = run(new_one)
    assert "first login from a new device" in result.hits("S", "control_change_outflow")[0][3]


def test_remote_access_from_abroad_before_large_outflow(run):
    base = [opened("o", at(days=-400), "R", "CR", kyc="CN"), pay_in("i", at(days=-2), "R", "X", 50000)]
    remote = base + [login("l1", at(), "R", country="VN"), pay_out("o1", at(hours=3), "R", "G", 20000)]
    assert "access from VN (KYC country CN)" in run(remote).hits("R", "remote_access")[0][3]
    hotel = base + [login("l1", at(), "R", country="FR"), pay_out("o1", at(hours=3), "R", "HOTEL", 2000)]
    assert "remote_access" not in run(hotel).rules_hit("R")
    no_country = base + [login("l1", at(), "R"), pay_out("o1", at(hours=3), "R", "G", 20000)]
    assert "remote_access" not in run(no_country).rules_hit("R")


def test_impossible_travel_uses_country_distance(run):
    base = [opened("o", at(days=-400), "R", "CR", kyc="CN"), pay_in("i", at(days=-2), "R", "X", 50000)]
    # No KYC country known: only the speed check can fire.
    base[0] = pay_in("i0", at(days=-3), "R", "X", 10)
    fast = base + [login("l1", at(), "R", country="CN"), login("l2", at(hours=1), "R", country="GB"),
                   pay_out("o1", at(hours=2), "R", "G", 20000)]
    assert "km/h" in run(fast).hits("R", "remote_access")[0][3]
    neighbour = base + [login("l1", at(), "R", country="CN"), login("l2", at(hours=1), "R", country="HK"),
                        pay_out("o1", at(hours=2), "R", "G", 20000)]
    assert "remote_access" not in run(neighbour).rules_hit("R")


def test_new_beneficiary_paid_at_once(run):
    base = [opened("o", at(days=-400), "B", "CB"), pay_in("i", at(days=-1), "B", "X", 50000)]
    added = change("beneficiary_added", "ba", at(), "B", beneficiary_account_id="PAYEE", beneficiary_bank_id="BANKX")
    quick = base + [added, pay_out("o1", at(hours=1), "B", "PAYEE", 8000)]
    assert "beneficiary added 1 h before being paid 8,000 CNY" in run(quick).hits("B", "new_beneficiary_paid")[0][3]
    small = base + [added, pay_out("o1", at(hours=1), "B", "PAYEE", 800)]
    assert "new_beneficiary_paid" not in run(small).rules_hit("B")
    later = base + [added, pay_out("o1", at(days=3), "B", "PAYEE", 8000)]
    assert "new_beneficiary_paid" not in run(later).rules_hit("B")
    other = base + [added, pay_out("o1", at(hours=1), "B", "SOMEONE", 8000)]
    assert "new_beneficiary_paid" not in run(other).rules_hit("B")


# ---- similar amounts / volume spike ------------------------------------------------------------


def test_similar_amounts_and_structuring(run):
    base = [opened("o", at(days=-400), "Z", "CZ"), pay_in("i", at(days=-1), "Z", "X", 500000)]
    similar = base + [pay_out(f"o{i}", at(hours=i), "Z", f"P{i}", 9800 + 100 * i) for i in range(5)]
    assert "5 payments sent" in run(similar).hits("Z", "similar_amounts")[0][3]
    varied = base + [pay_out(f"o{i}", at(hours=i), "Z", f"P{i}", 2000 * (i + 1)) for i in range(5)]
    assert "similar_amounts" not in run(varied).rules_hit("Z")
    under = base + [pay_out(f"o{i}", at(hours=i), "Z", f"P{i}", a) for i, a in enumerate([49000, 46000, 48500])]
    assert "just under the 50,000 CNY reporting threshold" in run(under).hits("Z", "similar_amounts")[0][3]


def test_volume_spike_against_own_baseline(run):
    base = [opened("o", at(days=-400), "V", "CV")]
    base += [pay_out(f"d{i}", at(days=-80 + 2 * i), "V", "SHOP", 800 + 10 * (i % 5)) for i in range(39)]
    spike = base + [pay_in("big", at(), "V", "X", 60000)]
    assert "60,000 CNY moved in 24 h" in run(spike).hits("V", "volume_spike")[0][3]
    normal = base + [pay_in("n", at(), "V", "X", 900)]
    assert "volume_spike" not in run(normal).rules_hit("V")
    no_baseline = [opened("o", at(days=-400), "V", "CV"), pay_in("big", at(), "V", "X", 60000)]
    assert "volume_spike" not in run(no_baseline).rules_hit("V")


def test_monthly_rent_is_not_a_spike(run):
    events = [opened("o", at(days=-400), "V", "CV")]
    for month in range(4):
        events.append(pay_in(f"sal{month}", at(days=-120 + 30 * month), "V", "EMPLOYER", 12000))
        events.append(pay_out(f"rent{month}", at(days=-120 + 30 * month, hours=2), "V", "LANDLORD", 5000))
        events += [pay_out(f"s{month}-{k}", at(days=-118 + 30 * month + 3 * k), "V", "SHOP", 200) for k in range(9)]
    assert "volume_spike" not in run(events).rules_hit("V")


# --- structuring ---------------------------------------------------------------------------------


def test_structuring_fires_on_near_equal_transfers_to_one_counterparty(run):
    events = ordinary_history("A", "CA")
    events += [pay_out(f"s{i}", at(hours=i), "A", "NEWGUY", 410 + 7 * i) for i in range(3)]
    (hit,) = run(events).hits("A", "structuring")
    assert hit[2] == 1 and "3 near-equal payments sent to one counterparty" in hit[3]


def test_structuring_strong_when_the_same_sum_is_repeated(run):
    events = ordinary_history("A", "CA") + [pay_in(f"s{i}", at(hours=i), "A", "NEWGUY", "11.51") for i in range(4)]
    assert max(h[2] for h in run(events).hits("A", "structuring")) == 2


def test_structuring_silent_for_rent_in_two_instalments(run):
    events = sorted(ordinary_history("A", "CA") + [pay_out("r0", at(days=-30), "A", "LANDLORD", 1500)],
                    key=lambda e: e.event_time)
    events += [pay_out(f"r{i}", at(hours=i), "A", "LANDLORD", 750) for i in range(1, 3)]
    result = run(events)
    assert result.engine.stats.late == 0
    assert "structuring" not in result.rules_hit("A")


def test_structuring_silent_for_two_payments_or_different_sums(run):
    two = ordinary_history("A", "CA") + [pay_out(f"f{i}", at(hours=i), "A", "FRIEND", 40) for i in range(2)]
    assert "structuring" not in run(two).rules_hit("A")
    spread = ordinary_history("B", "CB") + [pay_out(f"g{i}", at(hours=i), "B", "SHOPKEEPER", a) for i, a in enumerate((40, 95, 260))]
    assert "structuring" not in run(spread).rules_hit("B")


def test_structuring_alone_raises_a_laundering_pattern_alert(run):
    events = ordinary_history("A", "CA") + [pay_in(f"s{i}", at(hours=i), "A", "NEWGUY", 400) for i in range(3)]
    assert run(events).typologies("A") == {"laundering_pattern"}


# --- slow fan-in and fan-out --------------------------------------------------------------------


def slow_history(account: str, days: int = 60, new_every: int = 15) -> list:
    """Daily small payments to one shop, and a new payee now and then: the account's own rate."""
    events = [pay_out(f"{account}-d{d}", at(days=-days + d), account, "SHOP", 20) for d in range(days)]
    events += [pay_out(f"{account}-n{d}", at(days=-days + d, hours=3), account, f"ONEOFF{d}", 40)
               for d in range(0, days, new_every)]
    return sorted(events, key=lambda e: e.event_time)


def test_slow_fan_out_fires_on_many_new_beneficiaries_against_the_accounts_own_rate(run):
    events = slow_history("A") + [pay_out(f"x{i}", at(days=i % 5, hours=i), "A", f"STRANGER{i}", 90) for i in range(7)]
    hits = run(events).hits("A", "slow_fan_out")
    assert hits and "new beneficiaries within 7 days" in hits[0][3]


def test_slow_fan_out_silent_for_an_account_that_always_meets_new_payees(run):
    """A small online seller buying stock from new people every day stays at its own rate."""
    events = slow_history("A", new_every=1) + [pay_out(f"x{i}", at(days=i % 5, hours=i), "A", f"STRANGER{i}", 90)
                                              for i in range(7)]
    assert "slow_fan_out" not in run(events).rules_hit("A")


def test_slow_fan_silent_without_a_history(run):
    """Warm-up: the same burst on an account the deployment has barely seen says nothing yet."""
    events = slow_history("A", days=10) + [pay_out(f"x{i}", at(days=i % 5, hours=i), "A", f"STRANGER{i}", 90)
                                          for i in range(7)]
    assert "slow_fan_out" not in run(events).rules_hit("A")
