"""Money traced through accounts: chains, cycles, scatter-gather and collection, and their look-alikes.

Each story runs through the offline engine, whose queue delivers tokens and cross-account hits right
after the payment that caused them; ``test_properties`` checks that later delivery (the worker's)
gives the same alerts.
"""

from __future__ import annotations

from detector_events import at, pay, pay_in, pay_out
from detectors.account_state import H_LEVEL
from detectors.rules import HIGH, NORMAL
from scenarios import ordinary_history


def own(event_id, when, debtor, creditor, amount):
    """A transfer between two of the bank's own accounts."""
    return pay(event_id, when, debtor, creditor, amount)


def background(*accounts: str) -> list:
    events = []
    for account in accounts:
        events += ordinary_history(account, f"C-{account}", prefix=f"{account}-h")
    return sorted(events, key=lambda e: e.event_time)


def test_a_cycle_is_seen_by_every_account_on_it(run):
    """A -> B -> C -> A, each keeping a cut, days apart: money comes back to where it started."""
    events = background("A", "B", "C") + [
        pay_in("in", at(days=0), "A", "SOURCE", 1000),
        own("ab", at(days=2), "A", "B", 930),
        own("bc", at(days=5), "B", "C", 860),
        own("ca", at(days=7), "C", "A", 800),
        own("ab2", at(days=9), "A", "B", 740),
    ]
    result = run(events)
    for account in "ABC":
        assert "cycle" in result.rules_hit(account), account
        assert "laundering_pattern" in result.typologies(account), account


def test_two_intermediaries_in_a_row_are_a_chain(run):
    """X (another bank) -> A -> B -> Y (another bank): both forwarded; B passed on what A passed on."""
    events = background("A", "B") + [
        pay_in("xa", at(days=0), "A", "X", 2000),
        own("ab", at(days=3), "A", "B", 1850),
        pay_out("by", at(days=6), "B", "Y", 1700),
    ]
    result = run(events)
    assert "chain" in result.rules_hit("B")
    assert "chain_up" in result.rules_hit("A")


def test_money_from_one_origin_gathered_through_several_accounts(run):
    """S -> I1, I2, I3 -> T: the sink sees one origin's money arrive through three intermediaries."""
    events = background("S", "I1", "I2", "I3", "T")
    events += [pay_in("fund", at(days=0), "S", "ORIGIN", 3000)]
    for n, mid in enumerate(("I1", "I2", "I3")):
        events.append(own(f"s{n}", at(days=1, hours=n), "S", mid, 950))
        events.append(own(f"t{n}", at(days=3, hours=n), mid, "T", 880))
    result = run(events)
    assert "scatter_gather" in result.rules_hit("T")
    assert all("scatter_gather" in result.rules_hit(mid) for mid in ("I1", "I2", "I3"))
    assert "laundering_pattern" in result.typologies("T")


def test_one_forward_alone_raises_nothing(run):
    """Money received from a new counterparty and passed on once is everyday life (a shared bill)."""
    events = background("A", "B") + [
        pay_in("xa", at(days=0), "A", "FRIEND", 120),
        own("ab", at(days=1), "A", "B", 110),
    ]
    result = run(events)
    assert not (result.rules_hit("A") | result.rules_hit("B")) & {"chain", "chain_up", "cycle", "scatter_gather"}
    assert "laundering_pattern" not in result.typologies()


def test_salary_passed_on_to_old_counterparties_is_not_traced(run):
    """The holder's employer and landlord of years: no new relationship, nothing forwarded."""
    events = background("A", "B")
    events += [pay_out("rent-old", at(days=-60), "A", "LANDLORD", 900)]
    events = sorted(events, key=lambda e: e.event_time)
    events += [pay_in("sal", at(days=0), "A", "EMPLOYER-CO", 1000), pay_out("rent", at(days=1), "A", "LANDLORD", 900)]
    assert run(events).engine.accounts["A"].forwards == []


def test_spending_part_of_what_came_in_is_not_forwarding(run):
    events = background("A", "B") + [
        pay_in("xa", at(days=0), "A", "NEWPAYER", 2000),
        own("ab", at(days=1), "A", "B", 900),  # 45 %: far below what an intermediary passes on
    ]
    assert run(events).engine.accounts["A"].forwards == []


def test_friends_paying_each_other_back_are_not_traced(run):
    """Friends take turns to pay for an evening and pay each other back: money goes both ways
    between them, which laundering's never does, so none of it is a forward."""
    friends = ("F1", "F2", "F3")
    events = background(*friends)
    for week, payer in enumerate(friends * 2):
        for other in friends:
            if other != payer:
                events.append(own(f"w{week}-{other}", at(days=week * 3, hours=other[-1] == "3"), other, payer, 25))
        events.append(own(f"w{week}-back", at(days=week * 3 + 1), payer, friends[(week + 1) % 3], 47))
    result = run(sorted(events, key=lambda e: e.event_time))
    for friend in friends:
        assert not result.rules_hit(friend) & {"chain", "chain_up", "cycle", "scatter_gather", "collect"}, friend


def test_a_cycle_during_the_warm_up_is_not_traced(run):
    """A new deployment: the accounts have no history yet, so every counterparty is merely unknown,
    and the money going round is not traced until the deployment knows who is new to whom."""
    events = [
        pay_in("in", at(days=0), "A", "SOURCE", 1000),
        own("ab", at(days=2), "A", "B", 930),
        own("bc", at(days=5), "B", "C", 860),
        own("ca", at(days=7), "C", "A", 800),
    ]
    result = run(events)
    assert not any("cycle" in result.rules_hit(a) for a in "ABC")
    assert all(result.engine.accounts[a].forwards == [] for a in "ABC")


def _fan_in_of_forwarded_money(forwarders: tuple[str, ...]) -> list:
    """Each forwarder is paid by a stranger at another bank and passes nearly all of it to H days later."""
    events = background("H", *forwarders)
    for n, mid in enumerate(forwarders):
        events.append(pay_in(f"f{n}", at(days=n), mid, f"STRANGER{n}", 900))
        events.append(own(f"h{n}", at(days=n + 2), mid, "H", 850))
    return events


def test_forwarders_whose_money_was_collected_hear_of_it(run):
    """Two accounts forward money into one collector: the collector gets collect, each forwarder
    collect_up; two forwarders are the normal form, which alerts no one on its own."""
    result = run(_fan_in_of_forwarded_money(("A", "B")))
    assert [hit[H_LEVEL] for hit in result.hits("H", "collect")] == [NORMAL]
    for mid in "AB":
        assert [hit[H_LEVEL] for hit in result.hits(mid, "collect_up")] == [NORMAL], mid
    assert not result.typologies()


def test_a_collection_from_three_forwarders_is_the_strong_form(run):
    """Three forwarders: the strong form for the collector and for every forwarder, which alerts them
    all (a fan-in of laundered money). A forwarder hears once per token its money was collected with: A and B of
    the collection B's money completed (two senders) and of the one C's completed (three)."""
    result = run(_fan_in_of_forwarded_money(("A", "B", "C")))
    assert [hit[H_LEVEL] for hit in result.hits("H", "collect")] == [NORMAL, HIGH]
    for mid in "AB":
        assert sorted(hit[H_LEVEL] for hit in result.hits(mid, "collect_up")) == [NORMAL, HIGH], mid
    assert [hit[H_LEVEL] for hit in result.hits("C", "collect_up")] == [HIGH]
    for account in "HABC":
        assert "laundering_pattern" in result.typologies(account), account


def test_money_paid_to_a_collector_from_an_own_balance_is_not_collected(run):
    """Three customers pay one shop from their own money (nothing received from strangers first)."""
    events = background("H", "A", "B", "C")
    for n, payer in enumerate("ABC"):
        events.append(own(f"h{n}", at(days=n + 2), payer, "H", 850))
    result = run(events)
    assert not (result.rules_hit("H") | result.rules_hit("A")) & {"collect", "collect_up"}


def test_an_outflow_begun_within_the_lag_counts_whole(run, config):
    """Money passed on in two instalments, the first within the lag of its arrival and the second
    after it, is one forward of the whole sum (the later instalment belongs to the outflow begun)."""
    lag = config.network.lag_days
    events = background("A") + [
        pay_in("xa", at(days=0), "A", "X", 1000),
        pay_out("ab1", at(days=lag - 0.5), "A", "B", 420),
        pay_out("ab2", at(days=lag + 0.5), "A", "B", 480),
    ]
    forwards = run(events).engine.accounts["A"].forwards
    # (time of the outflow's last instalment, its first event, sender, receiver, amount in cents)
    assert [f[1:] for f in forwards] == [("ab1", "BANKX|X", "BANKX|B", 90000)]
