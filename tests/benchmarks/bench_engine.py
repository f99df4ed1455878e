"""Benchmark of the detector engine alone, against a baseline that only parses the same events.

Not collected by pytest (no ``test_`` prefix). Run:  .venv/bin/python tests/benchmarks/bench_engine.py
Options: --accounts N --days D --repeats R --profile

Generates a realistic stream in-process (ordinary accounts with salary, spending, logins; a few mule
patterns: collection bursts, device farms, sold accounts), then measures in the same process:
(0) read only: the lines from a file (the I/O ceiling); (a) parse only: JSON bytes ->
schemas.parse_event, each event dropped once parsed as replay does (the parsing ceiling);
(b) engine only, all rules on, over the already parsed events; (b0) the same with every rule off:
routing, state keeping and identifier uses only, the floor under any rule work; (c) parse + engine.
Each is repeated and the median printed.

The generated lines and parsed events are moved out of the garbage collector's sight
(``gc.freeze``) before timing: they are this script's inputs, which replay and the worker never
hold, and without that every full collection walks the 100,000-odd parsed events again and
charges the time to whatever phase is running (parse-only measured 2.6x slower that way).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from detectors import Engine, load_config  # noqa: E402
from detectors.config import RulesConfig  # noqa: E402
from schemas import parse_event  # noqa: E402

START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def generate(accounts: int, days: int, seed: int = 7) -> list[bytes]:
    """JSON lines of a time-ordered stream: mostly ordinary behaviour, ~2 % mule accounts."""
    rng = random.Random(seed)
    events: list[tuple[float, dict]] = []
    n = 0

    def add(offset_s: float, body: dict) -> None:
        nonlocal n
        n += 1
        body["event_id"] = f"e{n}"
        body["event_time"] = (START + timedelta(seconds=offset_s)).isoformat()
        events.append((offset_s, body))

    def payment(t, debtor, creditor, amount, *, d_bank=None, c_bank=None, device=None, country=None):
        body = {"type": "payment", "debtor": {"account_id": debtor}, "creditor": {"account_id": creditor},
                "amount": f"{amount:.2f}", "currency": "CNY", "channel": "mobile", "method": "transfer"}
        if d_bank:
            body["debtor"]["bank_id"] = d_bank
        if c_bank:
            body["creditor"]["bank_id"] = c_bank
        if device:
            body["device_id"] = device
        if country:
            body["session_country"] = country
        add(t, body)

    span = days * 86400
    for a in range(accounts):
        acct, cust, dev = f"ACC{a}", f"CUS{a}", f"DEV{a}"
        # ~3 % of accounts open during the stream; the others were opened before it started (their
        # history is not in the stream), so a KYC refresh tells their customer and country.
        if rng.random() < 0.03:
            add(rng.uniform(0, span), {"type": "account_opened", "account_id": acct, "customer_id": cust,
                                       "kyc_country": "CN", "phone_id": f"PH{a}"})
        else:
            add(0, {"type": "kyc_updated", "account_id": acct, "customer_id": cust, "kyc_country": "CN"})
        for month in range(0, days, 30):
            payday = month * 86400 + rng.uniform(0, 3 * 86400)
            payment(payday, f"EMPLOYER{a % 50}", acct, rng.uniform(6000, 20000), d_bank="OTHER")
        for _ in range(rng.randint(days // 2, days * 2)):
            t = rng.uniform(0, span)
            if rng.random() < 0.35:
                add(t, {"type": "login", "account_id": acct, "success": True, "device_id": dev, "country": "CN"})
            elif rng.random() < 0.15:
                other = f"ACC{rng.randrange(accounts)}"
                payment(t, acct, other, rng.uniform(50, 2000), device=dev)
            else:
                payment(t, acct, f"SHOP{rng.randrange(300)}", rng.uniform(20, 1500), c_bank="OTHER",
                        device=dev, country="CN")
    mules = max(1, accounts // 50)
    for m in range(mules):
        acct = f"ACC{rng.randrange(accounts)}"
        t0 = rng.uniform(5 * 86400, span - 86400)
        kind = m % 3
        if kind == 0:  # collection burst
            for i in range(rng.randint(5, 12)):
                payment(t0 + 600 * i, f"VIC{m}-{i}", acct, rng.uniform(3000, 9000), d_bank="OTHER")
            payment(t0 + 7800, acct, f"GANG{m}", 40000, c_bank="OTHER", device="GANGDEV")
        elif kind == 1:  # sold: phone re-bound, then pass-through
            add(t0, {"type": "phone_changed", "account_id": acct, "phone_id": f"GANGPH{m}", "registered_to_holder": False})
            payment(t0 + 3600, f"VIC{m}", acct, 30000, d_bank="OTHER")
            payment(t0 + 4000, acct, f"GANG{m}", 28000, c_bank="OTHER", device="GANGDEV")
        else:  # farm: one device on several customers
            for i in range(4):
                farmed = f"ACC{rng.randrange(accounts)}"
                add(t0 + 60 * i, {"type": "login", "account_id": farmed, "success": True, "device_id": "FARMDEV"})
                payment(t0 + 60 * i + 10, f"FV{m}-{i}", farmed, 15000, d_bank="OTHER")
                payment(t0 + 60 * i + 30, farmed, f"FG{m}", 14500, c_bank="OTHER", device="FARMDEV")
    events.sort(key=lambda pair: pair[0])
    return [orjson.dumps(body) for _, body in events]


def timed(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=3000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one engine pass, print the top 25")
    args = parser.parse_args()

    config = load_config()
    folder = tempfile.TemporaryDirectory()
    no_rules = Path(folder.name) / "no-rules.toml"
    no_rules.write_text("".join(f"[rules.{rule}]\nenabled = false\n" for rule in RulesConfig.model_fields)
                        + "[network]\nenabled = false\n")
    rules_off = load_config(no_rules)
    lines = generate(args.accounts, args.days)
    parsed = [parse_event(line) for line in lines]
    count = len(lines)
    path = Path(folder.name) / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    gc.collect()
    gc.freeze()

    def read_only():
        """The I/O ceiling: the same events as lines of a file, read and nothing else."""
        with open(path, "rb") as source:
            return sum(1 for _ in source)

    def parse_only():
        for line in lines:
            parse_event(line)

    def engine_only(with_config=config):
        engine = Engine(with_config)
        for _ in engine.process_all(parsed):
            pass
        return engine

    def parse_and_engine():
        engine = Engine(config)
        for line in lines:
            engine.process(parse_event(line))
        return engine

    read_s, _ = timed(read_only, args.repeats)
    folder.cleanup()
    parse_s, _ = timed(parse_only, args.repeats)
    engine_s, engine = timed(engine_only, args.repeats)
    floor_s, _ = timed(lambda: engine_only(rules_off), args.repeats)
    both_s, _ = timed(parse_and_engine, args.repeats)
    sizes = sorted(len(s.to_bytes()) for s in engine.accounts.values())
    print(f"events: {count:,} ({args.accounts:,} accounts, {args.days} days), median of {args.repeats} runs")
    print(f"(0) read lines only   {count / read_s:>12,.0f} events/s  ({read_s:.3f} s)")
    print(f"(a) parse only        {count / parse_s:>12,.0f} events/s  ({parse_s:.3f} s)")
    print(f"(b) engine only       {count / engine_s:>12,.0f} events/s  ({engine_s:.3f} s)")
    print(f"(b0) every rule off   {count / floor_s:>12,.0f} events/s  ({floor_s:.3f} s)")
    print(f"(c) parse + engine    {count / both_s:>12,.0f} events/s  ({both_s:.3f} s)")
    print(f"engine / parse throughput ratio: {parse_s / engine_s:.2f}")
    print(f"per event: parse {parse_s / count * 1e6:.1f} us, engine {engine_s / count * 1e6:.1f} us"
          f" of which state keeping with every rule off {floor_s / count * 1e6:.1f} us")
    print(f"engine stats: {engine.stats}")
    print(f"account state bytes: median {sizes[len(sizes) // 2]:,}, p99 {sizes[int(len(sizes) * 0.99)]:,}, max {sizes[-1]:,}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(engine_only)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
