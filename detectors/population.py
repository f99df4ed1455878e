"""How often each rule fires among one partition's accounts: the bank's own measure of a rule.

A rule that holds on one account-day in ten thousand says more than one that holds on one in fifty.
In IBM's synthetic banks, where every account pays strangers amounts drawn from one range, money is
"passed on" by chance on a good share of account-days; in a bank where people pay the same few
counterparties, the same finding is rare. So the weight a rule's hit carries is scaled by how rare
the rule is in the bank itself: over the last ``window_days`` closed days, the share of active
account-days on which it held. At or below ``reference_rate`` it keeps its full weight; it loses it
over ``decades`` decades above that, down to its floor. A rule whose evidence is specific on its own
(a transfer split into near-equal parts, money coming back along a cycle) can keep a floor of 1:
however often it holds, the bank cannot explain it away.

Each account partition keeps its own population, a random sample of the bank's accounts (accounts
are spread over partitions by a hash of their id), so that every count is exact and kept with the
partition's state; the offline engine keeps one per partition the same way. A day is closed (its
accounts counted) before the first view of the partition that is more than the lateness into the
next day, and a hit on day D is weighed with the days up to D-2, all closed by then, so the weight
is the same however late the hit is judged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from math import log10
from typing import TYPE_CHECKING, Annotated

import orjson
from pydantic import Field

from detectors.config_types import Count, Days, Fraction, StrictModel
from detectors.eventtime import MS_PER_DAY

if TYPE_CHECKING:
    from detectors.account_state import AccountState
    from detectors.runtime import Runtime

FORMAT = 2  # 2 added ``started``; a format-1 record is read as starting at its oldest counted day
#: An account alerted within this many days before a day is not counted in that day's population.
ALERTED_DAYS = 30
#: Closed days kept beyond the window: a hit judged late (a cross-key hit, up to the typologies'
#: longest window) is weighed with the days before its own.
EXTRA_DAYS = 40


class PopulationConfig(StrictModel):
    enabled: bool
    window_days: Days
    #: Fewer active account-days than this in the window: the population cannot tell a rare rule
    #: from a common one yet, and every rule keeps its full weight (a new deployment's first days, a
    #: small bank spread over many partitions).
    min_account_days: Count
    reference_rate: Fraction
    decades: Annotated[float, Field(gt=0, le=10)]
    floor: Fraction
    #: Floors of rules whose evidence is specific on its own, or that nothing else should damp.
    floors: dict[str, Fraction]
    #: Rules judged across accounts (from tokens or devices) are not counted where they are found;
    #: the rate of the own signal they grow from stands for theirs.
    proxies: dict[str, str]


class Rarity:
    """The config as a function: rate -> weight factor."""

    def __init__(self, config: PopulationConfig, runtime: Runtime) -> None:
        self.enabled = config.enabled
        self.window = round(config.window_days)
        self.min_account_days = config.min_account_days
        self.reference = config.reference_rate
        self.decades = config.decades
        self.floor = config.floor
        self.floors = dict(config.floors)
        self.proxies = dict(config.proxies)
        #: Own signals counted per account-day, in bit order.
        self.counted: tuple[str, ...] = tuple(sorted({*runtime.own_rules, "forwarding"}))
        self.bits = {rule: 1 << i for i, rule in enumerate(self.counted)}
        self.runtime = runtime  # for each account's warm-up (AccountState.known_from)

    def bit(self, rule: str) -> int:
        return self.bits.get(rule, 0)

    def factor(self, rate: float | None, rule: str) -> float:
        """The weight factor for a rule firing on ``rate`` of account-days (None: not known yet);
        the floor is the rule's own, else its proxy's, else the default."""
        if not self.enabled or rate is None or rate <= self.reference:
            return 1.0
        floor = self.floors.get(rule, self.floors.get(self.proxies.get(rule, rule), self.floor))
        return max(floor, 1.0 - log10(rate / self.reference) / self.decades)


class Population:
    """One partition's account-days: per closed day, active accounts and accounts each signal fired on."""

    __slots__ = ("closed", "closed_through", "started", "pending", "_factors", "_weigher")

    def __init__(self) -> None:
        self.closed: dict[int, list[int]] = {}  # day -> [active accounts, count per counted signal]
        self.closed_through: int | None = None
        #: Event time of the partition's first view: from ``started`` + the warm-up on, the partition
        #: has been watched long enough that an account it has never seen had no payments before.
        self.started: int | None = None
        #: Day -> accounts with own events that day, not yet counted. Not serialized: after a restart
        #: the worker rebuilds it from the partition's account states (``rebuild``).
        self.pending: dict[int, set[str]] = {}
        self._factors: dict[int, dict[str, float]] = {}  # derived, per day
        self._weigher = None

    # ---- counting ---------------------------------------------------------------------------

    def touch(self, account: str, time: int) -> None:
        """An own event of ``account`` at ``time`` is being applied (after ``advance``)."""
        accounts = self.pending.get(time // MS_PER_DAY)
        if accounts is None:  # not setdefault: it would build an empty set for every event
            accounts = self.pending[time // MS_PER_DAY] = set()
        accounts.add(account)

    def advance(self, time: int, lateness: int, state_of: Callable[[str], AccountState | None], rarity: Rarity) -> bool:
        """Close every day that ended more than the lateness before ``time``; True if any closed, or
        at the partition's first view (the record is new: it holds when watching began)."""
        due = (time - lateness) // MS_PER_DAY - 1
        if self.closed_through is None:
            self.closed_through = due  # the partition's first view: nothing before it to count
            self.started = time
            return True
        if due <= self.closed_through:
            return False
        for day in range(self.closed_through + 1, due + 1):
            self.closed[day] = self._count(day, self.pending.pop(day, set()), state_of, rarity)
        self.closed_through = due
        for day in [d for d in self.closed if d < due - rarity.window - EXTRA_DAYS]:
            del self.closed[day]
        self._factors.clear()
        return True

    @staticmethod
    def _count(day: int, accounts: Iterable[str], state_of, rarity: Rarity) -> list[int]:
        """Active accounts of the day, and on how many each signal fired; accounts already alerted
        within the last ``ALERTED_DAYS`` are left out, so that the mules a bank has found (when they
        are many, as in synthetic banks) do not make their own signals look common, and so are
        accounts still in their warm-up that day, which cannot show money passed on to new
        counterparties yet: counted, they would make a new deployment's first weeks look as if it
        were rare."""
        counts = [0] * (1 + len(rarity.counted))
        known = (1 << len(rarity.counted)) - 1  # a state kept under other rules may hold other bits
        since, until = (day - ALERTED_DAYS) * MS_PER_DAY, (day + 1) * MS_PER_DAY
        start = day * MS_PER_DAY
        for account in sorted(accounts):
            state = state_of(account)
            if state is None or day not in state.days or state.alerted_between(since, until):
                continue
            warm_from = state.known_from(rarity.runtime)
            if warm_from is None or warm_from > start:
                continue
            counts[0] += 1
            fired = state.fired.get(day, 0) & known
            while fired:  # only the bits set (most accounts have none), lowest first
                bit = fired & -fired
                counts[bit.bit_length()] += 1  # signal i's bit is 1 << i, its count at 1 + i
                fired ^= bit
        return counts

    def rebuild(self, states: Iterable[AccountState]) -> None:
        """The accounts still to count, from the partition's states (after a restart or rebalance)."""
        self.pending.clear()
        after = self.closed_through if self.closed_through is not None else -1
        for state in states:
            for day in state.active_days:
                if day > after:
                    self.pending.setdefault(day, set()).add(state.account_id)

    # ---- weighing ---------------------------------------------------------------------------

    def weigher(self, rarity: Rarity):
        """``weigh(rule, time)``: a hit's weight factor, made once per population."""
        if self._weigher is None:
            factor = self.factor
            self._weigher = lambda rule, time: factor(rule, time // MS_PER_DAY, rarity)
        return self._weigher

    def factor(self, rule: str, day: int, rarity: Rarity) -> float:
        """The weight factor of ``rule`` for a hit on ``day``, from closed days up to ``day - 2``."""
        factors = self._factors.get(day)
        if factors is None:
            factors = self._factors[day] = {}
        factor = factors.get(rule)
        if factor is None:
            factor = factors[rule] = rarity.factor(self._rate(rarity.proxies.get(rule, rule), day, rarity), rule)
        return factor

    def _rate(self, signal: str, day: int, rarity: Rarity) -> float | None:
        if signal not in rarity.bits:
            return None
        index = 1 + rarity.counted.index(signal)
        active = fired = 0
        for d in range(day - 1 - rarity.window, day - 1):
            counts = self.closed.get(d)
            if counts is not None:
                active += counts[0]
                fired += counts[index]
        if active < rarity.min_account_days:
            return None
        return fired / active

    def watched_for(self, time: int, span: int) -> bool:
        """Whether the partition had been watched for ``span`` by ``time``: an account it first sees
        then had no payments before (it would have seen them), so its history starts in view."""
        return self.started is not None and time >= self.started + span

    # ---- bytes --------------------------------------------------------------------------------

    def to_bytes(self, rarity: Rarity) -> bytes:
        return orjson.dumps([FORMAT, list(rarity.counted), self.closed_through, sorted([d, *c] for d, c in self.closed.items()),
                             self.started])

    @classmethod
    def from_bytes(cls, data: bytes, rarity: Rarity) -> Population:
        fmt, counted, closed_through, closed, *rest = orjson.loads(data)
        if fmt not in (1, FORMAT):
            raise ValueError(f"population format {fmt} is not {FORMAT}")
        population = cls()
        population.closed_through = closed_through
        if fmt == FORMAT:
            population.started = rest[0]
        elif closed_through is not None:  # format 1 (before ``started``): watched at least since its oldest day
            population.started = min([closed_through, *(d for d, *_ in closed)]) * MS_PER_DAY
        if counted == list(rarity.counted):  # another set of rules counts afresh
            population.closed = {d: c for d, *c in closed}
        return population
