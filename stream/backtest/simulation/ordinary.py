"""Ordinary life, one function per persona, called once per account and simulated day.

Every payment is emitted by exactly one side: the account whose habit it is (the payer of a bill,
the employer on payday, the student for a parent's top-up, the friend who paid for an evening and
is paid back), so an own-to-own payment is one event.

Much of ordinary life looks like laundering to a rule that sees one account or one shape: merchants,
landlords, a club's treasurer and small online sellers collect from many payers; employers, the
treasurer and sellers buying second-hand stock pay many people, often new ones; friends pay each other
back and forth; salaries move on to the holder's own savings or broker account the day they arrive.
These are the look-alikes a detector must leave alone.
"""

from __future__ import annotations

from math import exp, log
from random import Random

from stream.backtest.simulation.clock import DAY, HOUR, MINUTE
from stream.backtest.simulation.emit import Emitter, party
from stream.backtest.simulation.population import Account
from stream.backtest.simulation.world import World


class Day:
    """What every generator needs to know about the simulated day."""

    __slots__ = ("d", "t0", "dom", "wd", "dim", "world", "days")

    def __init__(self, d: int, t0: int, dom: int, wd: int, dim: int, world: World, days: int) -> None:
        self.d, self.t0, self.dom, self.wd, self.dim, self.world, self.days = d, t0, dom, wd, dim, world, days


def poisson(rng: Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, p = exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def waking(rng: Random) -> int:
    """Seconds into the day at a time people are awake (mostly 07:00-23:00)."""
    return int(7 * HOUR + rng.random() * 16 * HOUR)


def _is(dom: int, wanted: int, dim: int) -> bool:
    """A monthly habit on day ``wanted`` happens on the month's last day in shorter months."""
    return dom == wanted or (wanted > dim and dom == dim)


def retail(a: Account, c: Day, rng: Random, em: Emitter) -> None:
    r = rng.random
    t0 = c.t0
    world = c.world
    trip = a.trip
    abroad = trip[2] if trip is not None and trip[0] <= c.d < trip[1] else None
    where = abroad or a.country
    me = a.party

    if r() < a.login_rate:
        device = a.tablet if a.tablet is not None and r() < 0.35 else a.device
        ip = a.ip if abroad is None else world.ip_in(rng, abroad)
        em.account_event(t0 + waking(rng), "login", a.aid, a.cid, success=True, device_id=device, ip=ip, country=where)

    for _ in range(poisson(rng, a.card_rate)):
        if abroad is not None:
            merchant = rng.choice(world.foreign_merchants[abroad])
        elif world.own_merchants and r() < 0.08:
            merchant = rng.choice(world.own_merchants)
        else:
            merchant = world.merchants[int(r() * len(world.merchants))]
        em.payment(t0 + waking(rng), me, merchant, rng.lognormvariate(3.2, 0.9), "card", "card", session_country=abroad)

    if abroad is not None and c.d == trip[0]:
        hotel = rng.choice(world.foreign_merchants[abroad])
        em.payment(t0 + int(14 * HOUR + r() * 8 * HOUR), me, hotel, rng.uniform(150, 1800), "online", "card",
                   device_id=a.device, ip=world.ip_in(rng, abroad), session_country=abroad)

    if a.employer is not None and not a.employer_own and a.salary and _is(c.dom, a.payday, c.dim):
        em.payment(t0 + a.pay_sec, world.cp(a.employer), me, a.salary * rng.uniform(0.97, 1.03), "api", "transfer")
    if a.savings is not None and a.save_share and a.salary and _is(c.dom, a.payday, c.dim):
        t = t0 + a.pay_sec + HOUR + int(r() * 12 * HOUR)
        em.payment(t, me, a.savings, a.salary * a.save_share * rng.uniform(0.85, 1.1), "mobile", "transfer",
                   device_id=a.device, ip=a.ip, session_country=where)

    if a.investment is not None and a.salary and _is(c.dom, a.payday, c.dim):
        broker, amount = a.investment
        em.payment(t0 + a.pay_sec + 2 * HOUR + int(r() * 10 * HOUR), me, broker, amount, "online", "transfer",
                   device_id=a.device, ip=a.ip, session_country=where)

    if a.rent and a.rent_dom and c.dom == a.rent_dom:
        em.payment(t0 + waking(rng), me, world.cp(a.landlord), a.rent, "online", "transfer", device_id=a.device, ip=a.ip, session_country=where)
    for dom, payee, amount in a.bills:
        if dom == c.dom:
            em.payment(t0 + int(2 * HOUR + r() * 6 * HOUR), me, world.utilities[payee], amount * rng.uniform(0.85, 1.2), "api", "transfer")
    for dom, payee, amount, channel, method in a.standing:
        if dom == c.dom:
            em.payment(t0 + int(2 * HOUR + r() * 6 * HOUR), me, payee, amount, channel, method)

    if a.parents and _is(c.dom, a.topup_dom, c.dim):
        t = t0 + waking(rng)
        em.payment(t, world.cp(rng.choice(a.parents)), me, a.topup, "online", "transfer")
        pay = t + int(20 * MINUTE + r() * 30 * HOUR)
        em.payment(pay, me, world.cp(a.landlord), a.rent, "mobile", "transfer", device_id=a.device, ip=a.ip, session_country=where)
    elif a.parents and r() < 0.04:
        em.payment(t0 + waking(rng), world.cp(rng.choice(a.parents)), me, rng.uniform(20, 150), "mobile", "transfer")

    if r() < a.p2p_rate and a.friends:
        em.payment(t0 + waking(rng), me, world.cp(rng.choice(a.friends)), rng.lognormvariate(3.4, 0.8), "mobile", "transfer",
                   device_id=a.device, ip=a.ip, session_country=where)
    if r() < a.p2p_in_rate and a.friends:
        friend = rng.choice(a.friends)
        if type(friend) is int:  # an own friend's payments are that friend's own habit
            em.payment(t0 + waking(rng), world.cp(friend), me, rng.lognormvariate(3.4, 0.8), "mobile", "transfer")
    if a.circle is not None and abroad is None and r() < a.circle.rate:
        split_bill(a, c, rng, em)
    if r() < a.atm_rate:
        atm = rng.choice(world.atms) if abroad is None else party(f"ATM{abroad}{rng.randrange(50):02d}", "CASH", None, abroad)
        em.payment(t0 + waking(rng), me, atm, rng.choice((20, 50, 50, 100, 100, 200, 300)), "atm", "cash_out", session_country=abroad)

    x = r()
    if x < 0.0008:  # new phone: new device bound, sometimes a new number, then ordinary use
        t = t0 + waking(rng)
        a.device = f"D{rng.getrandbits(40):010x}"
        em.account_event(t, "device_bound", a.aid, a.cid, device_id=a.device)
        if r() < 0.4:
            a.phone = f"P{rng.getrandbits(40):010x}"
            em.account_event(t + 120, "phone_changed", a.aid, a.cid, phone_id=a.phone, registered_to_holder=True)
        em.account_event(t + 300, "login", a.aid, a.cid, success=True, device_id=a.device, ip=a.ip, country=where)
    elif x < 0.0018:  # forgot the password
        t = t0 + waking(rng)
        em.account_event(t, "login", a.aid, a.cid, success=False, device_id=a.device, ip=a.ip, country=where)
        em.account_event(t + 60, "password_reset", a.aid, a.cid)
        em.account_event(t + 240, "login", a.aid, a.cid, success=True, device_id=a.device, ip=a.ip, country=where)
    elif x < 0.0038:  # pays a tradesman or a deposit to a newly added payee right away
        t = t0 + waking(rng)
        payee = world.external(rng, "PAYEE")
        em.account_event(t, "beneficiary_added", a.aid, a.cid, beneficiary_account_id=payee["account_id"], beneficiary_bank_id=payee["bank_id"])
        em.payment(t + int(60 + r() * 3 * HOUR), me, payee, rng.lognormvariate(6.0, 0.8), "mobile", "transfer",
                   device_id=a.device, ip=a.ip, session_country=where)


def split_bill(a: Account, c: Day, rng: Random, em: Emitter) -> None:
    """``a`` pays for the group's evening; the friends who came pay their share back, at once or days later."""
    came = [m for m in a.circle.members if m is not a and rng.random() < 0.8]
    if not came:
        return
    t = c.t0 + int(18 * HOUR + rng.random() * 4 * HOUR)
    share = rng.lognormvariate(3.2, 0.5)
    place = c.world.merchants[int(rng.random() * len(c.world.merchants))]
    em.payment(t, a.party, place, share * (len(came) + 1), "card", "card")
    for m in came:
        back = float(round(share)) if rng.random() < 0.6 else share
        lag = min(5 * DAY, max(5 * MINUTE, int(rng.lognormvariate(log(6 * HOUR), 1.0))))
        em.payment(t + lag, m.party, a.party, back, "mobile", "transfer", device_id=m.device, ip=m.ip, session_country=m.country)


def open_new(a: Account, c: Day, rng: Random, em: Emitter) -> None:
    em.account_event(a.opened_t, "account_opened", a.aid, a.cid, kyc_country=a.country,
                     birth_year=1950 + a.idx % 55, phone_id=a.phone)
    t = a.opened_t + 10 * MINUTE
    em.account_event(t, "device_bound", a.aid, a.cid, device_id=a.device)
    em.account_event(t + 60, "login", a.aid, a.cid, success=True, device_id=a.device, ip=a.ip, country=a.country)
    if a.extra and "deposit" in a.extra:
        em.payment(t + int(rng.random() * 30 * HOUR), a.extra["deposit_from"], a.party, a.extra["deposit"], "online", "transfer")


def merchant(a: Account, c: Day, rng: Random, em: Emitter) -> None:
    x = a.extra
    t0 = c.t0
    world = c.world
    takings = 0.0
    for _ in range(poisson(rng, x["rate"] * (0.6 if c.wd == 6 else 1.0))):
        amount = rng.lognormvariate(x["ticket"], 0.7)
        takings += amount
        payer = world.external(rng, "K") if rng.random() < 0.85 else party(f"K{rng.randrange(5000):06d}", world.domestic_banks[0])
        if rng.random() < 0.1:  # an invoice or an order paid by bank transfer
            em.payment(t0 + int(8 * HOUR + rng.random() * 13 * HOUR), payer, a.party, amount, "online", "transfer")
        else:
            em.payment(t0 + int(8 * HOUR + rng.random() * 13 * HOUR), payer, a.party, amount, "card", "card")
    if rng.random() < 0.8:
        em.account_event(t0 + int(7 * HOUR + rng.random() * 2 * HOUR), "login", a.aid, a.cid, success=True, device_id=a.device, ip=a.ip, country=a.country)
    if x["sweep"] and a.savings is not None and takings > 50:
        em.payment(t0 + int(22 * HOUR + rng.random() * 1.5 * HOUR), a.party, a.savings, takings * rng.uniform(0.6, 0.95),
                   "online", "transfer", device_id=a.device, ip=a.ip, session_country=a.country)
    if c.wd == x["supplier_wd"]:
        for supplier in x["suppliers"]:
            em.payment(t0 + int(9 * HOUR + rng.random() * 8 * HOUR), a.party, supplier,
                       rng.lognormvariate(x["ticket"], 0.5) * x["rate"] * rng.uniform(1, 3), "online", "transfer",
                       device_id=a.device, ip=a.ip, session_country=a.country)


def landlord(a: Account, c: Day, rng: Random, em: Emitter) -> None:
    x = a.extra
    t0 = c.t0
    for tenant, rent, dom in x["tenants"]:
        if dom == c.dom:
            em.payment(t0 + waking(rng), tenant, a.party, rent, "online", "transfer")
    if c.dom == 10:
        total = sum(rent for _, rent, _ in x["tenants"])
        em.payment(t0 + int(8 * HOUR + rng.random() * 4 * HOUR), a.party, x["mortgage"], total * rng.uniform(0.4, 0.7), "api", "transfer")
    if rng.random() < 0.3:
        em.account_event(t0 + waking(rng), "login", a.aid, a.cid, success=True, device_id=a.device, ip=a.ip, country=a.country)
    for _ in range(poisson(rng, a.card_rate)):
        em.payment(t0 + waking(rng), a.party, c.world.merchants[int(rng.random() * 3000)], rng.lognormvariate(3.2, 0.9), "card", "card")


def employer(a: Account, c: Day, rng: Random, em: Emitter) -> None:
    x = a.extra
    t0 = c.t0
    if c.wd < 5:
        if rng.random() < 0.8:
            em.account_event(t0 + int(7 * HOUR + rng.random() * 3 * HOUR), "login", a.aid, a.cid, success=True, device_id=a.device, ip=a.ip, country=a.country)
        if rng.random() < 0.3:
            for _ in range(rng.randint(1, 2)):
                em.payment(t0 + int(8 * HOUR + rng.random() * 9 * HOUR), rng.choice(x["clients"]), a.party,
                           rng.lognormvariate(8.5, 0.8), "api", "transfer")
    if _is(c.dom, a.payday, c.dim):
        t = t0 + a.pay_sec
        staff = x["staff"] + x.get("own_staff", [])
        for member, salary in staff:
            em.payment(t + int(rng.random() * 40 * MINUTE), a.party, member, salary * rng.uniform(0.97, 1.03), "api", "transfer",
                       device_id=a.device, ip=a.ip, session_country=a.country)
    if c.dom == 12:
        em.payment(t0 + int(9 * HOUR + rng.random() * 8 * HOUR), a.party, x["supplier"], rng.lognormvariate(8.0, 0.6), "online", "transfer",
                   device_id=a.device, ip=a.ip, session_country=a.country)


def treasurer(a: Account, c: Day, rng: Random, em: Emitter) -> None:
    """A club's treasurer: the holder's own life, members' dues, the hall's rent and reimbursements.

    Dues are one fee from each member, most in the first days of the month; after the month's
    match or trip the treasurer pays back many members small sums in one evening, and on other days
    a single member's expense claim.
    """
    retail(a, c, rng, em)
    x = a.extra
    t0 = c.t0
    world = c.world
    for member, dom in x["members"]:
        if dom == c.dom:
            em.payment(t0 + waking(rng), world.cp(member), a.party, x["fee"], "online", "transfer")
    if c.dom == x["venue_dom"]:
        em.payment(t0 + waking(rng), a.party, x["venue"], x["venue_rent"], "online", "transfer",
                   device_id=a.device, ip=a.ip, session_country=a.country)
    if c.dom == x["event_dom"]:
        t = t0 + int(19 * HOUR + rng.random() * 3 * HOUR)
        for member, _ in rng.sample(x["members"], rng.randint(6, min(25, len(x["members"])))):
            em.payment(t, a.party, world.cp(member), rng.lognormvariate(3.0, 0.6), "mobile", "transfer",
                       device_id=a.device, ip=a.ip, session_country=a.country)
            t += int(rng.uniform(1, 6) * MINUTE)
    elif rng.random() < x["claims"]:
        member, _ = rng.choice(x["members"])
        em.payment(t0 + waking(rng), a.party, world.cp(member), rng.lognormvariate(3.3, 0.7), "mobile", "transfer",
                   device_id=a.device, ip=a.ip, session_country=a.country)


def seller(a: Account, c: Day, rng: Random, em: Emitter) -> None:
    """A small online seller: the holder's own life, many new buyers paying small sums, stock bought from
    private sellers (each paid once), and the platform's weekly fee."""
    retail(a, c, rng, em)
    x = a.extra
    t0 = c.t0
    world = c.world
    for _ in range(poisson(rng, x["orders"])):
        amount = rng.lognormvariate(x["ticket"], 0.6)
        em.payment(t0 + waking(rng), world.external(rng, "K"), a.party, amount, "online",
                   "wallet" if rng.random() < 0.3 else "transfer")
    for _ in range(poisson(rng, x["stock"])):
        em.payment(t0 + waking(rng), a.party, world.external(rng, "S"), rng.lognormvariate(x["ticket"] - 0.3, 0.7), "mobile",
                   "transfer", device_id=a.device, ip=a.ip, session_country=a.country)
    if c.wd == x["fee_wd"]:  # about a tenth of a typical week's sales
        em.payment(t0 + int(3 * HOUR + rng.random() * 3 * HOUR), a.party, x["platform"],
                   exp(x["ticket"]) * x["orders"] * 7 * rng.uniform(0.08, 0.12), "api", "transfer")


def returnee(a: Account, c: Day, rng: Random, em: Emitter) -> None:
    if c.d == a.active_from:
        t = c.t0 + int(9 * HOUR + rng.random() * 8 * HOUR)
        a.device = f"D{rng.getrandbits(40):010x}"
        a.phone = f"P{rng.getrandbits(40):010x}"
        em.account_event(t, "login", a.aid, a.cid, success=False, device_id=a.device, ip=a.ip, country=a.country)
        em.account_event(t + 120, "password_reset", a.aid, a.cid)
        em.account_event(t + 300, "device_bound", a.aid, a.cid, device_id=a.device)
        em.account_event(t + 420, "phone_changed", a.aid, a.cid, phone_id=a.phone, registered_to_holder=True)
        em.account_event(t + 500, "login", a.aid, a.cid, success=True, device_id=a.device, ip=a.ip, country=a.country)
        abroad = a.extra["abroad"]
        own_abroad = party(f"F{abroad}{a.cid}", f"FB{abroad}", a.cid, abroad)
        em.payment(t + int(HOUR + rng.random() * 20 * HOUR), own_abroad, a.party, rng.lognormvariate(9.0, 0.7), "online", "transfer")
        deposit_day = t + int(DAY + rng.random() * 3 * DAY)
        em.payment(deposit_day, a.party, c.world.cp(a.landlord), a.rent * rng.choice((2, 3)), "online", "transfer",
                   device_id=a.device, ip=a.ip, session_country=a.country)
        return
    retail(a, c, rng, em)


DAILY = {
    "retail": retail,
    "student": retail,
    "merchant": merchant,
    "landlord": landlord,
    "employer": employer,
    "returnee": returnee,
    "treasurer": treasurer,
    "seller": seller,
}

#: Personas whose day includes the holder's own retail life (bills, subscriptions, rent, friends).
RETAIL_LIFE = frozenset({"retail", "student", "returnee", "treasurer", "seller"})
