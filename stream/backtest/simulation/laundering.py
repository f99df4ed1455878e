"""Standard laundering patterns (the AMLSim family) among the bank's own accounts.

Why: the rent/lend/sell scenarios of ``misuse`` were written from the same notes as the detectors, so
a backtest on them measures what the detectors were built to see. Labelled data made by others (IBM
AMLSim, a synthetic bank built with two banks' AML teams) looks different; these patterns follow that
data and the published typologies, never a detector:

- small transfers: lognormal, a pattern's median tens to a few hundred (some patterns larger);
- slow: hop lags of hours to about a week, two to three days at the median, whole patterns over a few
  days to three weeks (ten days at the median); some send one transfer a day, some a few at once;
- each intermediary keeps a margin of a few to 15 % of what passes through it;
- members are ordinary accounts taken from the population, keeping their whole ordinary life; hubs are
  most often busy accounts (heavy card users, online sellers, shops) for which the laundering is a few
  percent of their payments;
- origins and final sinks may sit at other banks, seen only as counterparties;
- the shape carries the signal: each member's part looks mild alone.

A pattern is layers of nodes: layer 0 are its origins, every later layer is paid by the one before,
and every layer but the last passes on what it received less its margin. An origin of this bank is
often paid in first (cash at a machine, or a transfer from another bank); otherwise it pays from its
balance. Every payment is planned when the population is built and emitted on its day by ``Schedule``.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil, exp, log
from random import Random
from typing import TYPE_CHECKING, NamedTuple

from stream.backtest.simulation.clock import DAY, HOUR, MINUTE
from stream.backtest.simulation.emit import Emitter
from stream.backtest.simulation.misuse import first_misuse_day
from stream.backtest.simulation.world import World

if TYPE_CHECKING:
    from stream.backtest.simulation.ordinary import Day
    from stream.backtest.simulation.population import Account

PATTERNS = ("fan_in", "fan_out", "cycle", "bipartite", "stack", "scatter_gather", "gather_scatter")

_FUNDED = 0.6  # chance an origin of this bank is paid in (cash or another bank) before it pays on
_CASH = 0.4  # chance that money is cash paid in at a machine rather than a transfer from another bank
_BUSY_HUB = 0.7  # chance a hub (all of the pattern's money passes through it) is a busy account
_BUSY_OTHER = 0.35
_BUSY_CARD_RATE = 2.2  # card payments a day from which a retail account counts as busy (a tenth of them)
_MEMBER_PERSONAS = frozenset({"retail", "student", "seller", "merchant"})


class Transfer(NamedTuple):
    t: int
    debtor: dict
    creditor: dict
    amount: float
    channel: str
    method: str
    sender: Account | None  # the own account that sends it (its device goes on the event); None: cash or another bank
    hop: bool  # False for the money paid into an origin before the pattern moves it


@dataclass(frozen=True)
class Shape:
    """Who pays whom, before accounts are chosen: node numbers by layer, and which nodes are this bank's.

    A cycle's last layer is its first node again. ``edges[k]`` lists the (payer, payee) pairs between
    layers k and k+1; without it everyone pays everyone in the next layer.
    """

    typology: str
    layers: list[list[int]]
    own: list[bool]
    hubs: frozenset[int]
    spread_days: float  # the origins start over this many days
    edges: list[list[tuple[int, int]]] | None = None

    def payees(self, k: int, payer: int) -> list[int]:
        if self.edges is None:
            return self.layers[k + 1]
        return [q for p, q in self.edges[k] if p == payer]


@dataclass(frozen=True)
class Pace:
    """How one pattern moves money: its typical amount and hop lag, and how it times its payments."""

    amount: float  # median of one transfer by an origin
    sigma: float
    lag_h: float  # median hop lag, hours
    style: str  # "spread": each payee after its own lag; "daily": one transfer a day; "batch": a few at once
    pieces: int  # a payee's share goes in 1 to this many transfers
    whole: bool  # amounts in whole units, as typed by hand

    @classmethod
    def draw(cls, rng: Random) -> Pace:
        low, high = (400, 3000) if rng.random() < 0.15 else (30, 400)
        x = rng.random()
        style = "spread" if x < 0.45 else "daily" if x < 0.8 else "batch"
        return cls(amount=exp(rng.uniform(log(low), log(high))), sigma=rng.uniform(0.2, 0.6),
                   lag_h=exp(rng.uniform(log(10), log(120))), style=style, pieces=rng.choice((1, 1, 1, 2, 2, 3)),
                   whole=rng.random() < 0.3)

    def lag(self, rng: Random, scale: float) -> int:
        """Seconds from the money's arrival to its next hop: 20 minutes to 8 days, ``scale`` to fit the period."""
        hours = min(192.0, max(0.33, rng.lognormvariate(log(self.lag_h), 1.0)))
        return int(hours * HOUR * scale)


@dataclass
class Pattern:
    typology: str
    members: list[Account]  # this bank's accounts with a payment of the pattern in the period
    transfers: list[Transfer]  # the pattern's payments in the period, in time order


class Schedule:
    """The planned payments of every pattern, emitted on their day (the sender's device as it is then)."""

    def __init__(self, patterns: list[Pattern]) -> None:
        self.transfers = sorted((tr for p in patterns for tr in p.transfers), key=_time)
        self.i = 0

    def day(self, c: Day, rng: Random, em: Emitter) -> None:
        end = c.t0 + DAY
        transfers = self.transfers
        while self.i < len(transfers) and transfers[self.i].t < end:
            tr = transfers[self.i]
            self.i += 1
            a = tr.sender
            if a is None:
                em.payment(tr.t, tr.debtor, tr.creditor, tr.amount, tr.channel, tr.method)
                continue
            trip = a.trip
            abroad = trip[2] if trip is not None and trip[0] <= c.d < trip[1] else None
            ip = a.ip if abroad is None else c.world.ip_in(rng, abroad)
            em.payment(tr.t, tr.debtor, tr.creditor, tr.amount, tr.channel, tr.method, device_id=a.device, ip=ip,
                       session_country=abroad or a.country)


def plant_patterns(accounts: list[Account], world: World, cfg) -> list[Pattern]:
    """Patterns until ``cfg.laundering_share`` of the accounts take part; every one of ``cfg.patterns`` at
    least once when the share is above zero (so a small bank gets more than its share). Labels the members."""
    target = round(cfg.accounts * cfg.laundering_share)
    if target <= 0 or not cfg.patterns:
        return []
    rng = Random(f"mulewatch-laundering-{cfg.seed}")
    candidates = _Candidates(accounts, cfg, rng)
    window = (cfg.start_t + first_misuse_day(cfg) * DAY, cfg.start_t + cfg.days * DAY)
    patterns: list[Pattern] = []
    taking_part = 0
    first_round = True
    while first_round or taking_part < target:
        for typology in cfg.patterns:
            if not first_round and taking_part >= target:
                break
            pattern = _plant(SHAPES[typology](rng), rng, candidates, world, cfg.start_t, window)
            if pattern is None:
                return patterns  # no ordinary account left to take part
            if pattern.members:
                patterns.append(pattern)
                taking_part += len(pattern.members)
        first_round = False
    return patterns


# --- shapes --------------------------------------------------------------------------------------


def _mostly_own(rng: Random, n: int, lo: float = 0.3) -> list[bool]:
    """``n`` nodes, each this bank's with one chance per pattern between ``lo`` and 1."""
    p = rng.uniform(lo, 1.0)
    return [rng.random() < p for _ in range(n)]


def _some_edges(rng: Random, payers: list[int], payees: list[int], density: float) -> list[tuple[int, int]]:
    """A share ``density`` of all payer-payee pairs, and at least one pair for every node."""
    pairs = {(p, q) for p in payers for q in payees if rng.random() < density}
    for p in payers:
        if not any(pair[0] == p for pair in pairs):
            pairs.add((p, rng.choice(payees)))
    for q in payees:
        if not any(pair[1] == q for pair in pairs):
            pairs.add((rng.choice(payers), q))
    return sorted(pairs)


def _fan_in(rng: Random) -> Shape:
    """Several origins pay one collector, over one to two weeks."""
    n = rng.randint(3, 9)
    return Shape("fan_in", [list(range(n)), [n]], _mostly_own(rng, n) + [True], frozenset({n}), rng.uniform(4, 14))


def _fan_out(rng: Random) -> Shape:
    """One account pays several beneficiaries; sometimes the source banks elsewhere and all of them here."""
    n = rng.randint(3, 9)
    if rng.random() < 0.85:
        own = [True] + _mostly_own(rng, n)
    else:
        own = [False] + [True] * n
    return Shape("fan_out", [[0], list(range(1, n + 1))], own, frozenset({0}), 0.0)


def _cycle(rng: Random) -> Shape:
    """The money goes round and back to the first account; one member may bank elsewhere (both its hops
    stay visible, since its neighbours are ours)."""
    k = rng.randint(3, 7)
    own = [True] * k
    if k >= 4 and rng.random() < 0.3:
        own[rng.randrange(1, k)] = False
    return Shape("cycle", [[i] for i in range(k)] + [[0]], own, frozenset(), 0.0)


def _bipartite(rng: Random) -> Shape:
    """Payers of this bank each pay several of a set of payees, who may bank here or elsewhere."""
    a, b = rng.randint(2, 5), rng.randint(2, 5)
    own = [True] * a + _mostly_own(rng, b)
    payers, payees = list(range(a)), list(range(a, a + b))
    return Shape("bipartite", [payers, payees], own, frozenset(), rng.uniform(1, 7),
                 [_some_edges(rng, payers, payees, rng.uniform(0.5, 1.0))])


def _stack(rng: Random) -> Shape:
    """Three or four layers of two to four accounts, each layer paying the next; the first and the last
    layer may bank elsewhere."""
    widths = [rng.randint(2, 4) for _ in range(rng.randint(3, 4))]
    layers, n = [], 0
    for w in widths:
        layers.append(list(range(n, n + w)))
        n += w
    own = [True] * n
    for layer in (layers[0], layers[-1]):
        if rng.random() < 0.35:
            for node in layer:
                own[node] = False
    edges = [_some_edges(rng, layers[k], layers[k + 1], rng.uniform(0.6, 1.0)) for k in range(len(layers) - 1)]
    return Shape("stack", layers, own, frozenset(), rng.uniform(0, 2), edges)


def _scatter_gather(rng: Random) -> Shape:
    """One source pays several intermediaries of this bank, who all pay one sink; source and sink may
    bank elsewhere."""
    m = rng.randint(3, 7)
    own = [rng.random() < 0.6] + [True] * m + [rng.random() < 0.6]
    return Shape("scatter_gather", [[0], list(range(1, m + 1)), [m + 1]], own, frozenset({0, m + 1}), 0.0)


def _gather_scatter(rng: Random) -> Shape:
    """Several sources pay one hub, which pays several beneficiaries."""
    a, b = rng.randint(3, 7), rng.randint(3, 7)
    own = _mostly_own(rng, a) + [True] + _mostly_own(rng, b)
    return Shape("gather_scatter", [list(range(a)), [a], list(range(a + 1, a + 1 + b))], own, frozenset({a}),
                 rng.uniform(2, 8))


SHAPES = {
    "fan_in": _fan_in,
    "fan_out": _fan_out,
    "cycle": _cycle,
    "bipartite": _bipartite,
    "stack": _stack,
    "scatter_gather": _scatter_gather,
    "gather_scatter": _gather_scatter,
}


# --- members and planning ------------------------------------------------------------------------


class _Candidates:
    """Ordinary accounts that can take part: established, active all along, not already misused.

    Busy ones (heavy card users, online sellers, shops) are drawn apart, for the hubs.
    """

    def __init__(self, accounts: list[Account], cfg, rng: Random) -> None:
        fit = [a for a in accounts if a.label == 0 and a.persona in _MEMBER_PERSONAS and a.opened_t < cfg.start_t
               and a.active_from == 0]
        self.busy = [a for a in fit if a.persona in ("seller", "merchant") or a.card_rate >= _BUSY_CARD_RATE]
        self.any = fit
        rng.shuffle(self.busy)
        rng.shuffle(self.any)
        self.taken: set[int] = set()

    def take(self, busy: bool) -> Account | None:
        for pool in (self.busy, self.any) if busy else (self.any,):
            while pool:
                a = pool.pop()
                if a.idx not in self.taken:
                    self.taken.add(a.idx)
                    return a
        return None


def _plant(shape: Shape, rng: Random, candidates: _Candidates, world: World, day0: int,
           window: tuple[int, int]) -> Pattern | None:
    """Accounts for the shape's own nodes, parties for the others, and the payments inside ``window``."""
    senders: list[Account | None] = []
    for node, own in enumerate(shape.own):
        a = candidates.take(rng.random() < (_BUSY_HUB if node in shape.hubs else _BUSY_OTHER)) if own else None
        senders.append(a)
    if not any(senders):
        return None
    nodes = [a.party if a is not None else world.external(rng, "L") for a in senders]
    pace = Pace.draw(rng)
    transfers = _fit(shape, nodes, senders, pace, rng, world, day0, window)
    first: dict[str, int] = {}
    for tr in transfers:
        for side in (tr.debtor, tr.creditor):
            if "bank_id" not in side:
                first.setdefault(side["account_id"], tr.t)
    members = [a for a in senders if a is not None and a.aid in first]
    for a in members:
        a.label = 1
        a.typology = shape.typology
        a.misuse_start = first[a.aid]
    return Pattern(shape.typology, members, transfers)


def _fit(shape: Shape, nodes: list[dict], senders: list[Account | None], pace: Pace, rng: Random, world: World,
         day0: int, window: tuple[int, int]) -> list[Transfer]:
    """The pattern's payments inside the window: started earlier, or its lags shortened, when it would
    run past the end; what still falls after the end (only in very short runs) is left out."""
    lo, end = window
    seed = rng.getrandbits(64)
    start = lo + int(rng.random() * max(0, end - lo - 14 * DAY))
    scale = 1.0
    for _ in range(6):
        transfers = _flows(shape, nodes, senders, pace, Random(seed), world, day0, start, scale)
        last = max((tr.t for tr in transfers), default=start)
        if last < end:
            break
        over = last - end + HOUR
        if start - lo >= over:
            start -= over
        else:
            start = lo
            scale *= 0.9 * max(HOUR, end - lo) / max(HOUR, last - lo)
    return sorted((tr for tr in transfers if tr.t < end), key=_time)


def _flows(shape: Shape, nodes: list[dict], senders: list[Account | None], pace: Pace, rng: Random, world: World,
           day0: int, start: int, scale: float) -> list[Transfer]:
    """Layer by layer: each payer pays on after its last inflow arrived, keeping its margin."""
    out: list[Transfer] = []
    ready = {node: _waking(start + int(rng.uniform(0, shape.spread_days) * DAY * scale), rng, day0)
             for node in shape.layers[0]}
    inflow: dict[int, float] = {}
    for k, payers in enumerate(shape.layers[:-1]):
        arrived: dict[int, int] = {}
        received: dict[int, float] = {}
        for p in payers:
            # each payee's share is drawn as pieces of the pattern's typical size; past the origins the
            # shares are then scaled to what the payer passes on
            legs = []
            for q in shape.payees(k, p):
                n = rng.randint(1, pace.pieces)
                legs.append((q, n, sum(rng.lognormvariate(log(pace.amount), pace.sigma) for _ in range(n))))
            passes_on = None
            if k > 0:
                passes_on = (1 - _cut(rng)) * inflow[p]
            elif senders[p] is not None and rng.random() < _FUNDED:
                cut = _cut(rng)
                paid_in = _paid_in(rng, world, nodes[p], sum(amount for _, _, amount in legs) / (1 - cut), ready[p])
                out.append(paid_in)
                ready[p] = _waking(paid_in.t + pace.lag(rng, scale), rng, day0)
                passes_on = (1 - cut) * paid_in.amount  # cash comes in notes: the origin sends on what came in, less its cut
            if passes_on is not None:
                keep = passes_on / sum(amount for _, _, amount in legs)
                legs = [(q, n, amount * keep) for q, n, amount in legs]
            for q, tr in _pay(rng, pace, scale, day0, nodes, p, senders[p], legs, ready[p]):
                out.append(tr)
                arrived[q] = max(arrived.get(q, 0), tr.t)
                received[q] = received.get(q, 0.0) + tr.amount
        ready, inflow = arrived, received
    return [tr for tr in out if "bank_id" not in tr.debtor or "bank_id" not in tr.creditor]  # the bank sees its side only


def _pay(rng: Random, pace: Pace, scale: float, day0: int, nodes: list[dict], payer: int, sender: Account | None,
         legs: list[tuple[int, int, float]], ready: int) -> list[tuple[int, Transfer]]:
    """(payee, transfer) of one payer after ``ready``: each leg (payee, pieces, amount) in its pieces,
    timed by the pattern's style."""
    pieces = [[(q, part) for part in _split(rng, amount, n)] for q, n, amount in legs]
    times: list[int] = []
    if pace.style == "spread":
        for leg in pieces:
            t = ready + pace.lag(rng, scale)
            for _ in leg:
                t = _waking(t, rng, day0)
                times.append(t)
                t += int(rng.uniform(0.5, 1.5) * DAY * scale)
    else:
        t = _waking(ready + pace.lag(rng, scale), rng, day0)
        for _ in range(sum(len(leg) for leg in pieces)):
            times.append(t)
            if pace.style == "daily":
                t = _waking(t + int(rng.uniform(0.75, 1.25) * DAY * scale), rng, day0)
            else:
                t += int(rng.uniform(2, 40) * MINUTE)
    debtor = nodes[payer]
    out = []
    for t, (q, part) in zip(times, (piece for leg in pieces for piece in leg)):
        amount = float(max(1, round(part))) if pace.whole else part
        channel = "mobile" if rng.random() < 0.7 else "online"
        out.append((q, Transfer(t, debtor, nodes[q], amount, channel, "transfer", sender, True)))
    return out


def _paid_in(rng: Random, world: World, creditor: dict, amount: float, t: int) -> Transfer:
    """The money an origin of this bank moves on: cash paid in at a machine, or a transfer from another bank."""
    if rng.random() < _CASH:
        return Transfer(t, world.atms[int(rng.random() * len(world.atms))], creditor, float(ceil(amount / 10) * 10),
                        "atm", "cash_in", None, False)
    return Transfer(t, world.external(rng, "U"), creditor, amount, "online", "transfer", None, False)


def _split(rng: Random, amount: float, n: int) -> list[float]:
    """``amount`` in ``n`` unequal pieces (people do not send the same sum twice on purpose)."""
    weights = [rng.uniform(0.7, 1.3) for _ in range(n)]
    total = sum(weights)
    return [amount * w / total for w in weights]


def _cut(rng: Random) -> float:
    """An intermediary's margin: about 9 % on average, 3 to 15 %."""
    return rng.uniform(0.03, 0.15)


def _waking(t: int, rng: Random, day0: int) -> int:
    """``t``, or the next morning when it falls in the night: people send money while they are awake."""
    sec = (t - day0) % DAY
    if sec < 7 * HOUR:
        return t - sec + 7 * HOUR + int(rng.random() * 3 * HOUR)
    if sec >= 23 * HOUR:
        return t - sec + DAY + 7 * HOUR + int(rng.random() * 3 * HOUR)
    return t


def _time(tr: Transfer) -> int:
    return tr.t
