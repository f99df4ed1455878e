"""Injected misuse: one scenario per typology, planned when the population is built.

A scenario is a time-ordered list of actions (control changes, operator logins, pass-through bursts);
each simulated day runs the actions dated that day, and events that spill past midnight land in the
next day's buffer. The label's ``misuse_start`` is the time of the first misuse action, whose first
event is dated exactly then (an account opened by a farm or for abuse is not counted as misuse yet).

About ``cfg.hard_share`` of the mules are realistically hard: fewer counterparties, slower and less
complete pass-through, missing control signals.
"""

from __future__ import annotations

from random import Random

from stream.backtest.simulation.clock import DAY, HOUR, MINUTE
from stream.backtest.simulation.emit import Emitter
from stream.backtest.simulation.world import OPERATOR_COUNTRIES, World

NEVER = 1 << 30


class Scenario:
    __slots__ = ("actions", "i")

    def __init__(self) -> None:
        self.actions: list[tuple[int, bool, object, dict]] = []
        self.i = 0

    def add(self, t: int, fn, misuse: bool = True, **params) -> None:
        self.actions.append((t, misuse, fn, params))

    def seal(self, account) -> None:
        self.actions.sort(key=lambda action: action[0])
        starts = [t for t, misuse, _, _ in self.actions if misuse]
        account.misuse_start = min(starts) if starts else None

    def day(self, a, c, rng: Random, em: Emitter) -> None:
        end = c.t0 + DAY
        actions = self.actions
        while self.i < len(actions) and actions[self.i][0] < end:
            t, _, fn, params = actions[self.i]
            self.i += 1
            fn(a, t, c, rng, em, **params)


# --- actions -------------------------------------------------------------------------------------


def burst(a, t, c, rng, em, *, senders, mu, sigma, outs, cut, delay, device, ip, where, gap=20 * MINUTE,
          login=False, fresh_outs=0):
    """Inflows from ``senders`` fresh payers, then ``1 - cut`` of them out to ``outs`` after ``delay``."""
    world = c.world
    if login:
        em.account_event(t, "login", a.aid, a.cid, success=True, device_id=device, ip=ip, country=where)
        t += int(rng.uniform(1, 8) * MINUTE)
    total = 0.0
    for _ in range(senders):
        amount = rng.lognormvariate(mu, sigma)
        total += amount
        em.payment(t, world.external(rng, "V"), a.party, amount, rng.choice(("online", "mobile")), "transfer")
        t += int(gap * rng.uniform(0.2, 1.8))
    t += int(delay * rng.uniform(0.6, 1.4))
    targets = list(outs) + [world.external(rng, "B") for _ in range(fresh_outs)]
    shares = [rng.uniform(0.6, 1.4) for _ in targets]
    scale = total * (1 - cut) / sum(shares)
    for target, share in zip(targets, shares):
        em.payment(t, a.party, target, share * scale, "mobile", "transfer", device_id=device, ip=ip, session_country=where)
        t += int(rng.uniform(1, 25) * MINUTE)


def control_change(a, t, c, rng, em, *, registered, new_device, reset, email, beneficiaries, where, ip):
    em.account_event(t, "phone_changed", a.aid, a.cid, phone_id=f"P{rng.getrandbits(40):010x}", registered_to_holder=registered)
    t += int(rng.uniform(2, 15) * MINUTE)
    if reset:
        em.account_event(t, "password_reset", a.aid, a.cid)
        t += int(rng.uniform(1, 10) * MINUTE)
    if new_device is not None:
        em.account_event(t, "device_bound", a.aid, a.cid, device_id=new_device)
        t += int(rng.uniform(1, 10) * MINUTE)
    em.account_event(t, "login", a.aid, a.cid, success=True, device_id=new_device or a.device, ip=ip, country=where)
    if email:
        em.account_event(t + 120, "email_changed", a.aid, a.cid, email_id=f"M{rng.getrandbits(40):010x}")
    for target in beneficiaries:
        t += int(rng.uniform(1, 30) * MINUTE)
        em.account_event(t, "beneficiary_added", a.aid, a.cid, beneficiary_account_id=target["account_id"],
                         beneficiary_bank_id=target.get("bank_id"))


def operator_takeover(a, t, c, rng, em, *, device, bind, ip, where):
    if bind:
        em.account_event(t, "device_bound", a.aid, a.cid, device_id=device)
        t += int(rng.uniform(1, 5) * MINUTE)
    em.account_event(t, "login", a.aid, a.cid, success=True, device_id=device, ip=ip, country=where)


def login(a, t, c, rng, em, *, device, ip, where):
    em.account_event(t, "login", a.aid, a.cid, success=True, device_id=device, ip=ip, country=where)


def open_account(a, t, c, rng, em, *, bind_own_device=True):
    em.account_event(t, "account_opened", a.aid, a.cid, kyc_country=a.country, birth_year=1950 + a.idx % 55, phone_id=a.phone)
    if bind_own_device:
        em.account_event(t + 600, "device_bound", a.aid, a.cid, device_id=a.device)
        em.account_event(t + 660, "login", a.aid, a.cid, success=True, device_id=a.device, ip=a.ip, country=a.country)


def collection_day(a, t, c, rng, em, *, senders, mu, outs, cut, batches, device, ip, where, next_morning):
    """Many fresh payers over the day; the money leaves in a few batches (or the next morning)."""
    world = c.world
    span = int(rng.uniform(8, 13) * HOUR)
    times = sorted(t + int(rng.random() * span) for _ in range(senders))
    times[0] = t
    amounts = [rng.lognormvariate(mu, 0.8) for _ in times]
    for when, amount in zip(times, amounts):
        em.payment(when, world.external(rng, "V"), a.party, amount, rng.choice(("online", "mobile", "mobile")), "transfer")
    if next_morning:
        cuts = [times[-1] + int(rng.uniform(9, 16) * HOUR)]
        groups = [amounts]
    else:
        per = max(1, len(times) // batches)
        groups = [amounts[i:i + per] for i in range(0, len(amounts), per)]
        cuts = [times[min(len(times) - 1, i + per - 1)] + int(rng.uniform(10, 90) * MINUTE) for i in range(0, len(amounts), per)]
    for when, group in zip(cuts, groups):
        em.payment(when, a.party, rng.choice(outs), sum(group) * (1 - cut), "mobile", "transfer", device_id=device, ip=ip, session_country=where)


# --- planning ------------------------------------------------------------------------------------


def first_misuse_day(cfg) -> int:
    """No misuse before a week of ordinary history (less in short runs), nor before ``cfg.warmup_days``."""
    return max(min(7, cfg.days // 4), min(cfg.warmup_days, cfg.days - 4))


def _start_day(rng: Random, cfg) -> int:
    """Misuse starts from ``first_misuse_day``, at the latest 4 days before the end."""
    lo = first_misuse_day(cfg)
    hi = max(lo, cfg.days - 4)
    return rng.randint(lo, hi)


def _at(cfg, day: int, rng: Random, lo_h: float, hi_h: float) -> int:
    return cfg.start_t + day * DAY + int(rng.uniform(lo_h, hi_h) * HOUR)


def _cut(rng: Random) -> float:
    return rng.uniform(0.02, 0.15)


def _label(a, typology: str, rng: Random, cfg) -> None:
    a.label = 1
    a.typology = typology
    a.hard = rng.random() < cfg.hard_share


def make_scenarios(typology: str, members: list, rng: Random, world: World, cfg) -> None:
    for a in members:
        _label(a, typology, rng, cfg)
    PLANNERS[typology](members, rng, world, cfg)
    for a in members:
        a.scenario.seal(a)


def _sold(members, rng, world, cfg):
    for a in members:
        sc = a.scenario = Scenario()
        s = _start_day(rng, cfg)
        t = _at(cfg, s, rng, 9, 22)
        remote = rng.random() < 0.35
        where = rng.choice(OPERATOR_COUNTRIES) if remote else a.country
        ip = world.ip_in(rng, where)
        buyer_device = f"D{rng.getrandbits(40):010x}"
        hard = a.hard
        registered = False if (not hard and rng.random() < 0.75) else None
        new_device = None if hard and rng.random() < 0.5 else buyer_device
        network = [world.external(rng, "B") for _ in range(rng.randint(3, 8))]
        added = network[: rng.randint(1, 3)] if rng.random() < 0.5 else []
        sc.add(t, control_change, registered=registered, new_device=new_device, reset=rng.random() < 0.6,
               email=rng.random() < 0.4, beneficiaries=added, where=where, ip=ip)
        a.active_until = s + 1  # the holder stops using it
        bt = t + int(rng.uniform(2, 30) * HOUR)
        end = cfg.start_t + cfg.days * DAY
        first = True
        while bt < end - 2 * HOUR:
            if hard:
                params = dict(senders=rng.randint(2, 3), outs=rng.sample(network, 1), delay=rng.uniform(8, 20) * HOUR)
            else:
                n_out = rng.randint(2, 7)
                outs = rng.sample(network, min(n_out, len(network)))
                params = dict(senders=rng.randint(3, 10), outs=outs, delay=rng.uniform(0.25, 5) * HOUR,
                              fresh_outs=max(0, n_out - len(outs)))
            sc.add(bt, burst, mu=rng.uniform(6.0, 7.2), sigma=0.6, cut=_cut(rng), device=new_device or a.device,
                   ip=ip, where=where, login=not first, **params)
            first = False
            if hard and len(sc.actions) >= 3:
                break
            bt += int(rng.uniform(0.7, 3.0) * DAY)


def _rented(members, rng, world, cfg):
    device = f"D{rng.getrandbits(40):010x}"
    remote = len(members) < 3 or rng.random() < 0.6
    where = rng.choice(OPERATOR_COUNTRIES) if remote else members[0].country
    base = _start_day(rng, cfg)
    end = cfg.start_t + cfg.days * DAY
    for a in members:
        sc = a.scenario = Scenario()
        ip = world.ip_in(rng, where)
        s = min(cfg.days - 2, base + rng.randint(0, 2))
        t = _at(cfg, s, rng, 18, 23.5)
        sc.add(t, operator_takeover, device=device, bind=not a.hard and rng.random() < 0.8, ip=ip, where=where)
        outs = [world.external(rng, "B") for _ in range(rng.randint(1, 3))]
        bt = t + int(rng.uniform(0.2, 3) * HOUR)
        n = 0
        while bt < end - 2 * HOUR:
            if a.hard:
                params = dict(senders=rng.randint(2, 3), delay=rng.uniform(3, 8) * HOUR)
            else:
                params = dict(senders=rng.randint(2, 6), delay=rng.uniform(10, 90) * MINUTE)
            sc.add(bt, burst, mu=rng.uniform(6.2, 7.4), sigma=0.5, outs=outs, cut=_cut(rng), device=device, ip=ip,
                   where=where, login=n > 0, gap=rng.uniform(5, 30) * MINUTE, **params)
            n += 1
            if a.hard and n >= 2:
                break
            # intermittent: the operator comes back in the evening every few days
            day = (bt - cfg.start_t) // DAY + rng.randint(2, 5)
            bt = _at(cfg, day, rng, 18, 23.5)


def _lent(members, rng, world, cfg):
    end = cfg.start_t + cfg.days * DAY
    for a in members:
        sc = a.scenario = Scenario()
        s = _start_day(rng, cfg)
        t = _at(cfg, s, rng, 10, 21)
        episodes = 2 if a.hard else rng.randint(2, 4)
        friend_outs = [world.external(rng, "B") for _ in range(rng.randint(1, 2))]
        for _ in range(episodes):
            if t >= end - 2 * HOUR:
                break
            if a.hard:
                params = dict(cut=rng.uniform(0.12, 0.22), delay=rng.uniform(12, 22) * HOUR)
            else:
                params = dict(cut=_cut(rng), delay=rng.uniform(0.3, 10) * HOUR)
            sc.add(t, burst, senders=rng.randint(1, 2), mu=rng.uniform(7.0, 8.3), sigma=0.4,
                   outs=rng.sample(friend_outs, rng.randint(1, len(friend_outs))), device=a.device, ip=a.ip,
                   where=a.country, **params)
            t = _at(cfg, (t - cfg.start_t) // DAY + rng.randint(2, 7), rng, 10, 21)


def _collection(members, rng, world, cfg):
    for a in members:
        sc = a.scenario = Scenario()
        s = _start_day(rng, cfg)
        if rng.random() < 0.5:
            a.active_until = s  # the holder handed it over entirely
        outs = [world.external(rng, "B") for _ in range(rng.randint(1, 3))]
        run = rng.randint(3, 9)
        every = rng.choice((1, 1, 2))
        for d in range(s, min(cfg.days, s + run * every), every):
            if a.hard:
                params = dict(senders=rng.randint(4, 6), next_morning=True, batches=1)
            else:
                params = dict(senders=rng.randint(6, 25), next_morning=False, batches=rng.randint(1, 4))
            sc.add(_at(cfg, d, rng, 7, 11), collection_day, mu=rng.uniform(5.5, 6.8), outs=outs, cut=_cut(rng),
                   device=a.device, ip=a.ip, where=a.country, **params)


def _pass_through(members, rng, world, cfg):
    end = cfg.start_t + cfg.days * DAY
    for a in members:
        sc = a.scenario = Scenario()
        s = _start_day(rng, cfg)
        t = _at(cfg, s, rng, 8, 20)
        upstream = [world.external(rng, "U") for _ in range(rng.randint(2, 5))]
        while t < end - 2 * HOUR:
            if a.hard:
                sc.add(t, burst, senders=rng.randint(1, 2), mu=rng.uniform(7.0, 8.0), sigma=0.4,
                       outs=[world.external(rng, "B")], cut=rng.uniform(0.15, 0.25), delay=rng.uniform(20, 30) * HOUR,
                       device=a.device, ip=a.ip, where=a.country)
            elif rng.random() < 0.6:  # gather-scatter
                sc.add(t, burst, senders=rng.randint(3, 7), mu=rng.uniform(6.3, 7.5), sigma=0.5, outs=[],
                       fresh_outs=rng.randint(5, 9), cut=_cut(rng), delay=rng.uniform(1, 20) * HOUR,
                       gap=rng.uniform(20, 120) * MINUTE, device=a.device, ip=a.ip, where=a.country)
            else:  # one or two large inflows passed straight on
                sc.add(t, burst, senders=rng.randint(1, 2), mu=rng.uniform(7.6, 9.3), sigma=0.4,
                       outs=rng.sample(upstream, 1) + [world.external(rng, "B")] * rng.randint(0, 1),
                       cut=_cut(rng), delay=rng.uniform(10, 90) * MINUTE, device=a.device, ip=a.ip, where=a.country)
            t = _at(cfg, (t - cfg.start_t) // DAY + rng.randint(1, 4), rng, 8, 20)
            if a.hard and len(sc.actions) >= 3:
                break


def _farm(members, rng, world, cfg):
    device = f"D{rng.getrandbits(40):010x}"
    shared_phone = f"P{rng.getrandbits(40):010x}" if rng.random() < 0.6 else None
    bind = shared_phone is None or rng.random() < 0.7
    s = _start_day(rng, cfg)
    opened_in_period = rng.random() < 0.5 and s >= 2
    outs = [world.external(rng, "B") for _ in range(rng.randint(2, 5))]
    end = cfg.start_t + cfg.days * DAY
    for a in members:
        a.persona = "shell"
        a.active_from = NEVER
        if shared_phone is not None:
            a.phone = shared_phone
        sc = a.scenario = Scenario()
        if opened_in_period:
            open_day = rng.randint(max(0, s - 5), s - 1)
            a.opened_t = _at(cfg, open_day, rng, 9, 17)
            sc.add(a.opened_t, open_account, misuse=False, bind_own_device=False)
        else:
            a.opened_t = cfg.start_t - rng.randint(10, 60) * DAY - rng.randrange(9 * HOUR, 17 * HOUR)
        ip = world.home_ip(rng)
        t = _at(cfg, s + rng.randint(0, 1), rng, 8, 20)
        if bind:
            sc.add(t, operator_takeover, device=device, bind=True, ip=ip, where=a.country)
            t += int(rng.uniform(0.5, 6) * HOUR)
        while t < end - 2 * HOUR:
            sc.add(t, burst, senders=rng.randint(2, 8), mu=rng.uniform(6.0, 7.3), sigma=0.6,
                   outs=rng.sample(outs, rng.randint(1, min(3, len(outs)))), cut=_cut(rng),
                   delay=rng.uniform(10, 180) * MINUTE, device=device if bind else a.device, ip=ip, where=a.country,
                   login=bind)
            t = _at(cfg, (t - cfg.start_t) // DAY + rng.randint(1, 3), rng, 8, 21)


def _dormant_or_new(members, rng, world, cfg):
    end = cfg.start_t + cfg.days * DAY
    for a in members:
        a.persona = "shell"
        a.active_from = NEVER
        sc = a.scenario = Scenario()
        outs = [world.external(rng, "B") for _ in range(rng.randint(2, 6))]
        device = a.device
        if rng.random() < 0.5 or cfg.days < 8:  # dormant for months, then suddenly busy
            a.last_payment_t = cfg.start_t - rng.randint(100, 700) * DAY + rng.randrange(9 * HOUR, 18 * HOUR)
            a.opened_t = min(a.opened_t, a.last_payment_t - rng.randint(200, 2000) * DAY)
            s = _start_day(rng, cfg)
            t = _at(cfg, s, rng, 9, 20)
            if not a.hard:
                # Mobile banking after years of silence runs on a phone the account has never seen (the
                # buyer's in 60 % of cases, else the holder's own new one): it is bound, then used.
                # (Hard cases keep operating from the old device, with no control signal.)
                device = f"D{rng.getrandbits(40):010x}"
                sc.add(t, operator_takeover, device=device, bind=True, ip=world.home_ip(rng), where=a.country)
                t += int(rng.uniform(0.5, 8) * HOUR)
            senders_range = (1, 6)
        else:  # opened for the purpose: large sums from many payers within days of opening
            first = min(max(0, cfg.warmup_days - 3), max(0, cfg.days - 6))
            open_day = rng.randint(first, max(first, cfg.days - 6))
            a.opened_t = _at(cfg, open_day, rng, 9, 17)
            sc.add(a.opened_t, open_account, misuse=False)
            t = a.opened_t + int(rng.uniform(1, 10) * DAY)
            t = min(t, end - 36 * HOUR)
            senders_range = (5, 15)
        rounds = 1 if a.hard else rng.randint(1, 3)
        for _ in range(rounds):
            if t >= end - 2 * HOUR:
                break
            if a.hard:
                sc.add(t, burst, senders=1, mu=rng.uniform(7.8, 8.3), sigma=0.2, outs=outs[:1],
                       cut=rng.uniform(0.1, 0.2), delay=rng.uniform(8, 14) * HOUR, device=device, ip=a.ip, where=a.country)
            else:
                sc.add(t, burst, senders=rng.randint(*senders_range), mu=rng.uniform(7.3, 8.6), sigma=0.6,
                       outs=rng.sample(outs, rng.randint(1, len(outs))), cut=_cut(rng),
                       delay=rng.uniform(0.5, 6) * HOUR, gap=rng.uniform(10, 90) * MINUTE, device=device, ip=a.ip,
                       where=a.country)
            t += int(rng.uniform(1, 4) * DAY)


PLANNERS = {
    "account_sold": _sold,
    "account_rented": _rented,
    "account_lent": _lent,
    "collection_account": _collection,
    "pass_through_mule": _pass_through,
    "account_farm": _farm,
    "dormant_or_new_account_abuse": _dormant_or_new,
}
