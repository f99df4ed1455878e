"""Day-by-day generation: the back-dated history first, then one sorted day of events at a time.

Memory holds the population and at most one day of events (plus the early part of the next day for
bursts crossing midnight), never the history. The same configuration gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from random import Random

import orjson

from stream.simulation.clock import DAY, day_of_month_and_weekday, iso
from stream.simulation.emit import Emitter, Record, money
from stream.simulation.ordinary import DAILY, Day, open_new
from stream.simulation.population import Population, build_population

DEFAULT_START = "2026-01-01T00:00:00Z"


@dataclass(frozen=True)
class SimConfig:
    accounts: int
    days: int
    seed: int
    start_t: int
    mule_share: float = 0.015
    hard_share: float = 0.07
    travel_share: float = 0.04
    warmup_days: int = 0  # no misuse starts before this day: ordinary history for the detectors' baselines
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
        em = Emitter(cfg.start_t, cfg.currency)
        accounts = self.population.accounts
        world = self.population.world
        daily = [DAILY.get(a.persona) for a in accounts]
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
            yield em.take_day(d)

    def _history(self) -> Iterator[list[Record]]:
        """Account openings, device bindings and last payments dated before the simulated period."""
        cfg = self.cfg
        accounts = self.population.accounts
        rng = Random(f"mulewatch-history-{cfg.seed}")
        keys: list[int] = []
        device_t: dict[int, int] = {}
        for a in accounts:
            if a.opened_t >= cfg.start_t:
                continue
            keys.append((a.opened_t << 25 | a.idx) << 2 | 0)
            if a.label == 0 or a.persona != "shell":
                span = max(1, min(700 * DAY, cfg.start_t - a.opened_t - DAY))
                t = cfg.start_t - rng.randrange(DAY, DAY + span)
                t = max(t, a.opened_t + 600)
                device_t[a.idx] = t
                keys.append((t << 25 | a.idx) << 2 | 1)
            if a.last_payment_t is not None:
                keys.append((max(a.last_payment_t, a.opened_t + DAY) << 25 | a.idx) << 2 | 2)
        keys.sort()
        batch: list[Record] = []
        dumps = orjson.dumps
        for key in keys:
            kind = key & 3
            idx = (key >> 2) & ((1 << 25) - 1)
            t = key >> 27
            a = accounts[idx]
            if kind == 0:
                event = {"event_id": f"h0-{idx}", "event_time": iso(t), "type": "account_opened", "account_id": a.aid,
                         "customer_id": a.cid, "kyc_country": a.country, "birth_year": 1940 + (idx * 7919) % 65}
                if a.phone is not None:
                    event["phone_id"] = a.phone
                batch.append(Record(t, False, a.aid, dumps(event).decode()))
            elif kind == 1:
                device = a.tablet if a.tablet is not None and idx % 2 else a.device
                event = {"event_id": f"h1-{idx}", "event_time": iso(t), "type": "device_bound", "account_id": a.aid,
                         "customer_id": a.cid, "device_id": device}
                batch.append(Record(t, False, a.aid, dumps(event).decode()))
            else:
                merchant = self.population.world.merchants[idx % 3000]
                event = {"event_id": f"h2-{idx}", "event_time": iso(t), "type": "payment", "debtor": a.party,
                         "creditor": merchant, "amount": money(20 + (idx * 37) % 180), "currency": cfg.currency,
                         "channel": "card", "method": "card"}
                batch.append(Record(t, True, a.aid, dumps(event).decode()))
            if len(batch) >= 50_000:
                yield batch
                batch = []
        if batch:
            yield batch
