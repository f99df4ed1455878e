"""How rare a signal is among a partition's accounts sets the weight of its hits (``population``).

The partition counts, per closed day, its active accounts and those each own signal fired on; a
damped rule (money passed on between new counterparties, by default) loses weight when it fires on
more account-days than the reference rate. Accounts still in their warm-up and accounts alerted in
the month before are not counted.
"""

from __future__ import annotations

import orjson
import pytest

from detectors.account_state import AccountState
from detectors.eventtime import MS_PER_DAY
from detectors.population import Population

DAY0 = 20_000  # a day number (days since the epoch)


def account(name: str, day: int, fired: bool, rarity, *, warm: bool = True) -> AccountState:
    """An account active on ``day``, past its warm-up (or not), that showed a forward that day (or not)."""
    state = AccountState(name)
    state.days[day] = [0, 0, 0, 0]
    state.active_days.append(day)
    state.observed_since = (day - 60) * MS_PER_DAY if warm else day * MS_PER_DAY
    state.watermark = day * MS_PER_DAY + 1
    if fired:
        state.note_fired(day * MS_PER_DAY, rarity.bit("forwarding"))
    return state


def population_over(days: int, accounts: int, forwarding: int, rarity, *, warming: int = 0) -> Population:
    """A partition whose ``accounts`` are active every day, ``forwarding`` of them forwarding money each
    day, plus ``warming`` accounts in their warm-up that all forward."""
    states: dict[str, AccountState] = {}
    population = Population()
    population.advance(DAY0 * MS_PER_DAY, 0, states.get, rarity)
    for day in range(DAY0, DAY0 + days):
        for n in range(accounts):
            states[f"A{n}"] = account(f"A{n}", day, n < forwarding, rarity)
            population.touch(f"A{n}", day * MS_PER_DAY)
        for n in range(warming):
            states[f"W{n}"] = account(f"W{n}", day, True, rarity, warm=False)
            population.touch(f"W{n}", day * MS_PER_DAY)
        population.advance((day + 1) * MS_PER_DAY + 1, 0, states.get, rarity)
    return population


@pytest.fixture(scope="module")
def rarity(config):
    return config.runtime.rarity


def test_a_signal_as_rare_as_the_reference_keeps_its_full_weight(rarity):
    population = population_over(30, 200, 1, rarity)  # 0.5 % of account-days
    assert population.factor("forwarding", DAY0 + 31, rarity) == 1.0
    assert population.factor("chain", DAY0 + 31, rarity) == 1.0  # its proxy's rate


def test_a_common_signal_loses_weight_down_to_its_floor(rarity):
    some = population_over(30, 200, 3, rarity).factor("chain", DAY0 + 31, rarity)  # 1.5 %
    most = population_over(30, 200, 100, rarity).factor("chain", DAY0 + 31, rarity)  # 50 %
    assert 0.35 < some < 1.0
    assert most == pytest.approx(0.35)


def test_too_few_account_days_leave_the_weight_whole(rarity):
    population = population_over(5, 50, 50, rarity)  # 250 account-days, all forwarding
    assert population.factor("chain", DAY0 + 6, rarity) == 1.0


def test_accounts_in_their_warm_up_are_not_counted(rarity):
    """Accounts that cannot show money passed on yet would make it look rare; ones that do show it
    while warming up (they cannot, by the rules; here forced) would make it look common. Either way
    they stay out: the rate is the warmed-up accounts' alone."""
    alone = population_over(30, 200, 3, rarity).factor("chain", DAY0 + 31, rarity)
    with_warming = population_over(30, 200, 3, rarity, warming=200).factor("chain", DAY0 + 31, rarity)
    assert with_warming == alone < 1.0


def test_the_record_keeps_when_watching_began_and_reads_the_older_format(rarity):
    population = population_over(20, 10, 1, rarity)
    assert population.watched_for((DAY0 + 14) * MS_PER_DAY, 14 * MS_PER_DAY)
    assert not population.watched_for((DAY0 + 14) * MS_PER_DAY - 1, 14 * MS_PER_DAY)
    copy = Population.from_bytes(population.to_bytes(rarity), rarity)
    assert copy.started == population.started == DAY0 * MS_PER_DAY
    # A format-1 record (before ``started``) is read as watched since its oldest counted day.
    fmt, counted, closed_through, closed, _ = orjson.loads(population.to_bytes(rarity))
    old = Population.from_bytes(orjson.dumps([1, counted, closed_through, closed]), rarity)
    assert old.started == min(d for d, *_ in closed) * MS_PER_DAY
    assert Population().watched_for(DAY0 * MS_PER_DAY, 0) is False  # nothing seen yet: never watched
