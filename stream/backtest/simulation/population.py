"""The bank's own accounts and customers, their habits, households and business relations.

The population (not the event history) is held in memory: a few hundred bytes per account. Groups
of accounts that belong together (a customer's current and savings accounts, a household, a circle
of friends, an account farm, a rental ring) are laid out together, then shuffled so an account id says
nothing about its role or label. Laundering patterns are planted last, among the ordinary accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from stream.backtest.simulation.clock import DAY, HOUR
from stream.backtest.simulation.emit import party
from stream.backtest.simulation.laundering import Pattern, plant_patterns
from stream.backtest.simulation.world import TRAVEL_COUNTRIES, World

#: Ordinary account groups and their share of the population (normalised).
GROUP_WEIGHTS: dict[str, float] = {
    "retail": 0.50,
    "saver": 0.20,  # salary in, much of it straight on to the same customer's savings account
    "family": 0.07,  # 2-4 customers sharing a tablet, some also one phone number
    "student": 0.05,  # topped up by parents, pays rent soon after
    "merchant": 0.025,  # many payers a day, some sweep the takings to the owner's account nightly
    "landlord": 0.015,  # several tenants pay at the start of the month
    "employer": 0.01,  # pays many staff on payday
    "circle": 0.015,  # 3-6 friends or flatmates taking turns to pay for an evening, paid back their share
    "treasurer": 0.005,  # a club's treasurer: members' dues in, small reimbursements out to many members
    "seller": 0.01,  # a small online seller: many buyers pay small sums, stock bought from private sellers
    "returnee": 0.005,  # dormant during a long stay abroad, then back with a new phone and savings
    "new": 0.03,  # opened during the simulated period, ordinary use
    "dormant": 0.02,  # inactive all along
}

TYPOLOGIES = (
    "account_sold",
    "account_rented",
    "account_lent",
    "collection_account",
    "pass_through_mule",
    "account_farm",
    "dormant_or_new_account_abuse",
)


class Account:
    __slots__ = (
        "idx", "aid", "cid", "persona", "country", "device", "phone", "ip", "opened_t", "party",
        "savings", "employer", "employer_own", "payday", "pay_sec", "salary", "save_share",
        "landlord", "rent", "rent_dom", "bills", "card_rate", "p2p_rate", "p2p_in_rate", "atm_rate",
        "login_rate", "friends", "tablet", "trip", "parents", "topup", "topup_dom", "extra",
        "scenario", "active_from", "active_until", "last_payment_t", "label", "typology",
        "misuse_start", "hard", "standing", "investment", "circle",
    )

    def __init__(self, idx: int, cid_n: int, persona: str) -> None:
        self.idx = idx
        self.aid = f"A{idx:08d}"
        self.cid = f"C{cid_n:08d}"
        self.persona = persona
        self.country = "DE"
        self.device = None
        self.phone = None
        self.ip = None
        self.opened_t = 0
        self.party = None
        self.savings = None
        self.employer = None
        self.employer_own = False
        self.payday = 0
        self.pay_sec = 0
        self.salary = 0.0
        self.save_share = 0.0
        self.landlord = None
        self.rent = 0.0
        self.rent_dom = 0
        self.bills = ()
        self.card_rate = 0.0
        self.p2p_rate = 0.0
        self.p2p_in_rate = 0.0
        self.atm_rate = 0.0
        self.login_rate = 0.0
        self.friends = ()
        self.tablet = None
        self.trip = None
        self.parents = ()
        self.topup = 0.0
        self.topup_dom = 0
        self.extra = None
        self.scenario = None
        self.active_from = 0
        self.active_until = 1 << 30
        self.last_payment_t = None
        self.label = 0
        self.typology = ""
        self.misuse_start = None
        self.hard = False
        self.standing = ()  # (day of month, payee, amount, channel, method): the same sum every month
        self.investment = None  # (own account at a broker, sum moved there on payday)
        self.circle = None


class Circle:
    """Friends or flatmates who take turns paying for a shared evening and are paid their share back.

    ``rate`` is the chance, per member and day, that this member pays for the group.
    """

    __slots__ = ("members", "rate")

    def __init__(self, members: tuple[Account, ...], rate: float) -> None:
        self.members = members
        self.rate = rate


@dataclass
class Population:
    accounts: list[Account]
    world: World
    start_t: int
    days: int
    patterns: list[Pattern]


def _weighted(rng: Random, weights: dict[str, float]) -> str:
    x = rng.random() * sum(weights.values())
    for name, w in weights.items():
        x -= w
        if x <= 0:
            return name
    return name


def _mule_groups(rng: Random, n_mules: int) -> list[tuple[str, int]]:
    """(typology, group size) for the mules: every typology at least once when any mule is wanted."""
    if n_mules <= 0:
        return []
    per = max(1, round(n_mules / len(TYPOLOGIES)))
    groups: list[tuple[str, int]] = []
    for typ in TYPOLOGIES:
        left = per
        if typ == "account_farm":
            left = max(left, 3)
            while left > 0:
                size = min(left, rng.randint(4, 8))
                if size < 3:
                    size = 3
                groups.append((typ, size))
                left -= size
        elif typ == "account_rented":
            while left > 0:
                size = min(left, rng.randint(3, 5))
                groups.append((typ, size))
                left -= size
        else:
            groups.extend((typ, 1) for _ in range(left))
    return groups


def build_population(cfg, rng: Random) -> Population:
    """``cfg`` is a ``SimConfig``. Laundering patterns are planted last, among ordinary accounts already
    linked to their employers, landlords and friends, so their members keep that whole life."""
    world = World.build(rng, cfg.country, cfg.currency)
    n = cfg.accounts
    n_mules = round(n * cfg.mule_share)
    groups: list[tuple[str, int]] = [("mule:" + typ, size) for typ, size in _mule_groups(rng, n_mules)]
    used = sum(size for _, size in groups)
    while used < n:
        kind = _weighted(rng, GROUP_WEIGHTS)
        size = {"saver": 2, "family": rng.randint(2, 4), "merchant": rng.choice((1, 2)), "circle": rng.randint(3, 6)}.get(kind, 1)
        size = min(size, n - used)
        if size < 2 and kind in ("saver", "family", "circle"):
            kind = "retail"
        if kind == "merchant" and size == 2 and rng.random() < 0.0:
            size = 1
        groups.append((kind, size))
        used += size
    rng.shuffle(groups)

    accounts: list[Account] = []
    cid_n = 0
    layout: list[tuple[str, list[Account]]] = []
    for kind, size in groups:
        members = []
        for i in range(size):
            if kind in ("saver", "merchant") and i == 1:
                persona = "savings"  # same customer as the account before it
            elif kind in ("family", "circle"):
                persona = "retail"
            elif kind.startswith("mule:"):
                persona = "retail"
            else:
                persona = {"saver": "retail", "new": "retail"}.get(kind, kind)
            if not (kind in ("saver", "merchant") and i == 1):
                cid_n += 1
            acct = Account(len(accounts), cid_n, persona)
            accounts.append(acct)
            members.append(acct)
        layout.append((kind, members))

    for acct in accounts:
        acct.country = cfg.country
        acct.party = party(acct.aid, None, acct.cid)
        acct.device = f"D{rng.getrandbits(40):010x}"
        acct.phone = f"P{rng.getrandbits(40):010x}"
        acct.ip = world.home_ip(rng)
        acct.opened_t = cfg.start_t - rng.randint(60, 15 * 365) * DAY - rng.randrange(8 * HOUR, 18 * HOUR)
        _habits(acct, rng, world, cfg)

    for kind, members in layout:
        _shape_group(kind, members, rng, world, cfg)

    # own counterparties: established, ordinary accounts only (never a mule, never one opened later)
    retail = [a for a in accounts if a.persona == "retail" and a.label == 0 and a.opened_t < cfg.start_t
              and a.active_from == 0]
    landlords = [a for a in accounts if a.persona == "landlord"]
    employers = [a for a in accounts if a.persona == "employer"]
    world.own_merchants = [a.party for a in accounts if a.persona == "merchant"]

    _link(accounts, retail, landlords, employers, rng, world, cfg)
    patterns = plant_patterns(accounts, world, cfg)
    return Population(accounts=accounts, world=world, start_t=cfg.start_t, days=cfg.days, patterns=patterns)


def _habits(a: Account, rng: Random, world: World, cfg) -> None:
    """Ordinary retail habits; other personas adjust them in ``_shape_group``."""
    a.payday = rng.choice((1, 15, 25, 25, 27, 28, 28, 30))
    a.pay_sec = rng.randrange(1 * HOUR, 9 * HOUR)
    a.salary = round(rng.lognormvariate(7.8, 0.35), 2)  # ~2,400 median
    a.employer = world.handle(rng)
    a.rent = round(a.salary * rng.uniform(0.25, 0.4), 2)
    a.rent_dom = rng.randint(1, 5)
    a.landlord = world.handle(rng)
    a.bills = tuple(
        (rng.randint(1, 28), rng.randrange(len(world.utilities)), round(rng.lognormvariate(4.0, 0.6), 2))
        for _ in range(rng.randint(1, 4))
    )
    # card payments a day: mean 1.25 with a heavy tail (a tenth above 2.2), so busy accounts are ordinary too
    a.card_rate = min(6.0, max(0.1, rng.lognormvariate(0.04, 0.6)))
    a.p2p_rate = rng.uniform(0.01, 0.12)
    a.p2p_in_rate = rng.uniform(0.01, 0.08)
    a.atm_rate = rng.uniform(0.0, 0.12)
    a.login_rate = rng.uniform(0.2, 0.9)
    a.friends = tuple(world.handle(rng) for _ in range(rng.randint(2, 6)))
    # energy or water in fixed monthly instalments, and subscriptions at their plan's price
    standing = [(rng.randint(1, 28), rng.choice(world.utilities), float(round(rng.lognormvariate(4.3, 0.5))), "api", "transfer")
                for _ in range(rng.choice((0, 1, 1, 2)))]
    standing += [(rng.randint(1, 28), service, price, "card", "card")
                 for service, price in rng.sample(world.subscriptions, rng.choice((0, 1, 1, 2, 2, 3)))]
    a.standing = tuple(standing)
    if rng.random() < 0.12:  # part of each salary goes on to the holder's own account at a broker
        a.investment = (party(f"I{a.cid}", rng.choice(world.brokers), a.cid), float(rng.choice((25, 50, 100, 150, 200, 300, 500))))
    if rng.random() < cfg.travel_share:
        start = rng.randrange(0, max(1, cfg.days - 2))
        a.trip = (start, start + rng.randint(3, 14), rng.choice(TRAVEL_COUNTRIES))


def _shape_group(kind: str, members: list[Account], rng: Random, world: World, cfg) -> None:
    head = members[0]
    if kind == "saver":
        head.savings = members[1].party
        head.save_share = rng.uniform(0.2, 0.7)
        members[1].opened_t = max(members[1].opened_t, head.opened_t)
    elif kind == "family":
        tablet = f"D{rng.getrandbits(40):010x}"
        for m in members:
            m.tablet = tablet
        if rng.random() < 0.35:  # an elderly parent uses a child's phone number
            members[1].phone = head.phone
    elif kind == "student":
        head.salary = 0.0
        head.employer = None
        head.parents = tuple(world.handle(rng) for _ in range(rng.randint(1, 2)))
        head.topup = round(rng.uniform(400, 1300), 2)
        head.topup_dom = rng.randint(1, 28)
        head.rent = round(head.topup * rng.uniform(0.55, 0.9), 2)
        head.rent_dom = 0  # paid after the top-up arrives
        head.card_rate *= 0.7
        head.opened_t = cfg.start_t - rng.randint(30, 4 * 365) * DAY - rng.randrange(9 * HOUR, 17 * HOUR)
    elif kind == "merchant":
        head.extra = {
            "rate": rng.uniform(4, 40),
            "ticket": rng.uniform(2.5, 4.2),
            "sweep": len(members) > 1 and rng.random() < 0.6,
            "suppliers": [world.external(rng, "SUP") for _ in range(rng.randint(1, 4))],
            "supplier_wd": rng.randrange(5),
        }
        head.salary = 0.0
        head.employer = None
        if len(members) > 1:
            head.savings = members[1].party
    elif kind == "circle":
        circle = Circle(tuple(members), rng.uniform(0.5, 2.5) / 7 / len(members))
        for m in members:
            m.circle = circle
    elif kind == "treasurer":
        head.extra = {
            # every member pays the same fee once a month, most in the first days
            "members": [(world.handle(rng), rng.choice((1, 1, 2, 2, 3, 4, 5, 6, 8, 10, 15))) for _ in range(rng.randint(15, 60))],
            "fee": float(rng.choice((8, 10, 12, 15, 20, 25, 30))),
            "venue": world.external(rng, "VEN"),
            "venue_rent": float(round(rng.uniform(150, 900), -1)),
            "venue_dom": rng.randint(1, 28),
            "event_dom": rng.randint(1, 28),  # after the month's match or trip, many members are reimbursed at once
            "claims": rng.uniform(0.1, 0.4),  # chance a day brings one member's expense claim
        }
    elif kind == "seller":
        head.extra = {
            "orders": rng.uniform(1.0, 6.0),  # buyers a day, each a new payer
            "ticket": rng.uniform(2.6, 3.8),  # log of the median sale
            "stock": rng.uniform(0.1, 1.2),  # second-hand stock bought a day, each from a new private seller
            "platform": world.external(rng, "PLT"),
            "fee_wd": rng.randrange(7),
        }
    elif kind == "landlord":
        head.extra = {
            "tenants": [(world.external(rng, "TEN"), round(rng.uniform(450, 1400), 2), rng.randint(1, 5)) for _ in range(rng.randint(3, 14))],
            "mortgage": world.external(rng, "MTG"),
        }
    elif kind == "employer":
        head.salary = 0.0
        head.employer = None
        head.payday = rng.choice((25, 27, 28, 30))
        head.pay_sec = rng.randrange(5 * HOUR, 9 * HOUR)
        head.extra = {
            "staff": [(world.external(rng, "STF"), round(rng.lognormvariate(7.7, 0.3), 2)) for _ in range(rng.randint(5, 40))],
            "clients": [world.external(rng, "CLI") for _ in range(rng.randint(3, 20))],
            "supplier": world.external(rng, "SUP"),
        }
    elif kind == "returnee":
        head.active_from = rng.randint(min(3, cfg.days - 1), max(min(3, cfg.days - 1), cfg.days - 3))
        head.last_payment_t = cfg.start_t - rng.randint(120, 700) * DAY + rng.randrange(9 * HOUR, 18 * HOUR)
        head.extra = {"abroad": rng.choice(TRAVEL_COUNTRIES)}
        head.trip = None
    elif kind == "new":
        day = rng.randrange(0, max(1, cfg.days - 2))
        head.opened_t = cfg.start_t + day * DAY + rng.randrange(8 * HOUR, 18 * HOUR)
        head.active_from = day
        head.extra = {"deposit": round(rng.lognormvariate(6.5, 1.0), 2), "deposit_from": party(f"OWN{head.cid}", world.bank(rng), head.cid)}
        if rng.random() < 0.3:  # a new student account
            head.persona = "student"
            head.salary = 0.0
            head.employer = None
            head.parents = tuple(world.handle(rng) for _ in range(rng.randint(1, 2)))
            head.topup = round(rng.uniform(400, 1300), 2)
            head.topup_dom = rng.randint(1, 28)
            head.rent = round(head.topup * rng.uniform(0.55, 0.9), 2)
            head.rent_dom = 0
    elif kind == "dormant":
        head.last_payment_t = cfg.start_t - rng.randint(100, 900) * DAY + rng.randrange(9 * HOUR, 18 * HOUR)
        head.active_from = 1 << 30
    elif kind.startswith("mule:"):
        from stream.backtest.simulation.misuse import make_scenarios

        make_scenarios(kind[5:], members, rng, world, cfg)


def _link(accounts, retail, landlords, employers, rng: Random, world: World, cfg) -> None:
    """Own counterparties: staff of own employers, tenants of own landlords, friends, parents."""
    workers = [a for a in retail if a.employer is not None and a.label == 0]
    for emp in employers:
        for a in rng.sample(workers, min(len(workers), rng.randint(2, 15))):
            if a.employer_own:
                continue
            a.employer = emp.party
            a.employer_own = True
            a.payday = emp.payday
            a.pay_sec = emp.pay_sec
            emp.extra.setdefault("own_staff", []).append((a.party, a.salary))
    for ll in landlords:
        for a in rng.sample(retail, min(len(retail), rng.randint(0, 6))):
            if a.rent and a.label == 0 and a.persona == "retail":
                a.landlord = ll.party
    if len(retail) > 10:
        for a in retail:
            if rng.random() < 0.5:
                own = [rng.choice(retail).party for _ in range(rng.randint(1, 3))]
                a.friends = (*a.friends, *(f for f in own if f["account_id"] != a.aid))
    for a in accounts:
        if a.persona == "student" and a.label == 0 and retail and rng.random() < 0.3:
            parent = rng.choice(retail)
            if parent is not a:
                a.parents = (parent.party,)
