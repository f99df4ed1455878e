"""Day-by-day generation: the back-dated history first, then one sorted day of events at a time.

Memory holds the population and at most one day of events (plus the early part of the next day for
bursts crossing midnight), never the history. The same configuration gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from random import Random

import orjson

from stream.backtest.simulation.clock import DAY, HOUR, day_of_month_and_weekday, iso
from stream.backtest.simulation.emit import Emitter, Record, money
from stream.backtest.simulation.laundering import PATTERNS, Schedule
from stream.backtest.simulation.ordinary import DAILY, RETAIL_LIFE, Day, open_new
from stream.backtest.simulation.population import Population, build_population

DEFAULT_START = "2026-01-01T00:00:00Z"


@dataclass(frozen=True)
class SimConfig:
    accounts: int
    days: int
    seed: int
    start_t: int
    mule_share: float = 0.015
    laundering_share: float = 0.02  # accounts taking part in laundering patterns
    patterns: tuple[str, ...] = PATTERNS  # the laundering typologies planted
    hard_share: float = 0.07
    travel_share: float = 0.04
    warmup_days: int = 0  # no misuse starts before this day: ordinary history for the detectors' baselines
    payments_only: bool = False  # a feed of payments alone: no account events, no device, IP or session country
    country: str = "DE"
    currency: str = "EUR"


class Simulation:
    def __init__(self, cfg: SimConfig) -> None:
        if cfg.accounts < 1 or cfg.days < 1:
            raise ValueError("need at least one account and one day")
        self.cfg = cfg
        self.population: Population = build_population(cfg, Random(f"mulewatch-population-{cfg.seed}"))

    def labels(self) -> Iterator[tuple[str, int, str, str]]:
        for a in self.population.accounts:
            start = iso(a.misuse_start) if a.label and a.misuse_start is not None else ""
            yield a.aid, a.label, a.typology if a.label else "", start

    def batches(self) -> Iterator[list[Record]]:
        """Lists of records in event-time order: the back-dated history in chunks, then each day."""
        yield from self._history()
        cfg = self.cfg
        em = Emitter(cfg.start_t, cfg.currency, cfg.payments_only)
        accounts = self.population.accounts
        world = self.population.world
        daily = [DAILY.get(a.persona) for a in accounts]
        laundering = Schedule(self.population.patterns)
        for d in range(cfg.days):
            t0 = cfg.start_t + d * DAY
            em.begin_day(d)
            rng = Random(f"mulewatch-day-{cfg.seed}-{d}")
            dom, wd, dim = day_of_month_and_weekday(t0)
            c = Day(d, t0, dom, wd, dim, world, cfg.days)
            for a, fn in zip(accounts, daily):
                if fn is not None and a.active_from <= d < a.active_until:
                    if d == a.active_from and a.opened_t >= t0:
                        open_new(a, c, rng, em)  # opening day: nothing before the opening
                    else:
                        fn(a, c, rng, em)
                if a.scenario is not None:
                    a.scenario.day(a, c, rng, em)
            laundering.day(c, rng, em)
            yield em.take_day(d)

    def _history(self) -> Iterator[list[Record]]:
        """A thin back-dated tail before the period: what a bank's feed already holds about each account.

        Every established account's opening and the binding of its phone (and of a family's shared
        tablet), with the latest login from each of those devices in the 20 days before the start (a
        device in daily use has been seen lately; one bound long ago and never used since would look
        forgotten, and its next login would look like a new device); for every active account its
        most recent payment within the 20 days before the start and one 50-85 days before (an account
        whose only known payment is days old would look dormant since its opening); and, for dormant
        accounts, their last payment months or years ago.
        """
        cfg = self.cfg
        accounts = self.population.accounts
        rng = Random(f"mulewatch-history-{cfg.seed}")
        keys: list[int] = []
        for a in accounts:
            if a.opened_t >= cfg.start_t:
                continue
            keys.append((a.opened_t << 25 | a.idx) << 4 | 0)
            if a.persona != "shell":
                span = max(1, min(700 * DAY, cfg.start_t - a.opened_t - DAY))
                t = max(cfg.start_t - rng.randrange(DAY, DAY + span), a.opened_t + 600)
                keys.append((t << 25 | a.idx) << 4 | 1)
                if a.active_from == 0:
                    seen = max(cfg.start_t - rng.randrange(HOUR, 20 * DAY), t + 60)
                    keys.append((seen << 25 | a.idx) << 4 | 5)
                if a.tablet is not None:
                    t = max(cfg.start_t - rng.randrange(DAY, DAY + span), a.opened_t + 900)
                    keys.append((t << 25 | a.idx) << 4 | 3)
                    seen = max(cfg.start_t - rng.randrange(HOUR, 20 * DAY), t + 60)
                    keys.append((seen << 25 | a.idx) << 4 | 6)
            last = a.last_payment_t
            if last is None and a.persona not in ("shell", "savings") and a.active_from == 0:
                last = cfg.start_t - rng.randrange(HOUR, 20 * DAY)
                earlier = cfg.start_t - rng.randrange(50 * DAY, 85 * DAY)
                if earlier > a.opened_t + DAY:
                    keys.append((earlier << 25 | a.idx) << 4 | 4)
            if last is not None:
                keys.append((max(last, a.opened_t + DAY) << 25 | a.idx) << 4 | 2)
            # laundering members keep their ordinary life, last month's included
            if a.active_from == 0 and a.persona != "shell" and (a.label == 0 or a.typology in PATTERNS):
                keys.extend(((t << 25 | a.idx) << 4 | kind) for t, kind in self._last_month(a) if t > a.opened_t + DAY)
        keys.sort()
        batch: list[Record] = []
        dumps = orjson.dumps
        account_kinds = (0, 1, 3, 5, 6)  # opened, device bound (phone, tablet), login (phone, tablet)
        merchants = self.population.world.merchants
        for key in keys:
            kind = key & 15
            idx = (key >> 4) & ((1 << 25) - 1)
            t = key >> 29
            a = accounts[idx]
            if cfg.payments_only and kind in account_kinds:
                continue
            if kind == 0:
                event = {"event_id": f"h0-{idx}", "event_time": iso(t), "type": "account_opened", "account_id": a.aid,
                         "customer_id": a.cid, "kyc_country": a.country, "birth_year": 1940 + (idx * 7919) % 65}
                if a.phone is not None:
                    event["phone_id"] = a.phone
                batch.append(Record(t, False, a.aid, dumps(event).decode()))
            elif kind in (1, 3):
                device = a.device if kind == 1 else a.tablet
                event = {"event_id": f"h{kind}-{idx}", "event_time": iso(t), "type": "device_bound", "account_id": a.aid,
                         "customer_id": a.cid, "device_id": device}
                batch.append(Record(t, False, a.aid, dumps(event).decode()))
            elif kind in (5, 6):
                device = a.device if kind == 5 else a.tablet
                event = {"event_id": f"h{kind}-{idx}", "event_time": iso(t), "type": "login", "account_id": a.aid,
                         "customer_id": a.cid, "success": True, "device_id": device, "ip": a.ip, "country": a.country}
                batch.append(Record(t, False, a.aid, dumps(event).decode()))
            elif kind >= 7:
                batch.extend(self._recurring(a, t, kind))
            else:
                event = {"event_id": f"h{kind}-{idx}", "event_time": iso(t), "type": "payment", "debtor": a.party,
                         "creditor": merchants[(idx + kind) % len(merchants)], "amount": money(20 + (idx * 37) % 180),
                         "currency": cfg.currency, "channel": "card", "method": "card"}
                batch.append(Record(t, True, a.aid, dumps(event).decode()))
            if len(batch) >= 50_000:
                yield batch
                batch = []
        if batch:
            yield batch

    def _last_month(self, a) -> list[tuple[int, int]]:
        """(time, kind) of last month's recurring payments whose payee or payer the bank already knows:
        rent (7), a student's top-up (8), payroll (9) and the supplier (10) of an employer, and the
        standing payments (11) of each day of the month (fixed instalments, subscriptions). Without
        them every landlord, parent and member of staff would look new at the first payment of the
        period, and a subscription would not look monthly (a bank's feed holds months of them)."""
        start = self.cfg.start_t
        month = start - 31 * DAY
        out = []
        if a.persona in RETAIL_LIFE:
            out += [(month + (dom - 1) * DAY + 4 * HOUR, 11) for dom in sorted({item[0] for item in a.standing})]
        if a.parents and a.topup:
            t = month + (min(a.topup_dom, 28) - 1) * DAY + 10 * HOUR
            out += [(t, 8), (t + 2 * HOUR, 7)]
        elif a.rent and a.rent_dom:
            out.append((month + (a.rent_dom - 1) * DAY + 12 * HOUR, 7))
        if a.persona == "employer" and a.extra:
            out.append((month + (min(a.payday, 28) - 1) * DAY + a.pay_sec, 9))
            out.append((month + 11 * DAY + 12 * HOUR, 10))
        return out

    def _recurring(self, a, t: int, kind: int) -> list[Record]:
        cfg = self.cfg
        world = self.population.world
        when = iso(t)
        dumps = orjson.dumps
        base = {"type": "payment", "event_time": when, "currency": cfg.currency}
        transfer = ("online", "transfer")
        name = f"h{kind}-{a.idx}"
        if kind == 7:
            pairs = [(a.party, world.cp(a.landlord), a.rent, transfer)]
        elif kind == 8:
            pairs = [(world.cp(a.parents[0]), a.party, a.topup, transfer)]
        elif kind == 9:
            pairs = [(a.party, member, salary, transfer) for member, salary in a.extra["staff"] + a.extra.get("own_staff", [])]
        elif kind == 10:
            pairs = [(a.party, a.extra["supplier"], 3000.0, transfer)]
        else:
            dom = (t - (cfg.start_t - 31 * DAY)) // DAY + 1
            name = f"h{kind}-{a.idx}-{dom}"
            pairs = [(a.party, payee, amount, (channel, method)) for d, payee, amount, channel, method in a.standing if d == dom]
        records = []
        for n, (debtor, creditor, amount, (channel, method)) in enumerate(pairs):
            event = {**base, "event_id": f"{name}-{n}", "debtor": debtor, "creditor": creditor, "amount": money(amount),
                     "channel": channel, "method": method}
            key = debtor["account_id"] if "bank_id" not in debtor else creditor["account_id"]
            records.append(Record(t, True, key, dumps(event).decode()))
        return records
