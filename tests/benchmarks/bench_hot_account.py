"""Benchmark: the engine's cost per event on a hot account against an ordinary one, in the same run.

Not collected by pytest (no ``test_`` prefix). Run:  .venv/bin/python tests/benchmarks/bench_hot_account.py
Options: --payments N --days D --accounts N --seed S

One of the bank's own accounts, a merchant, takes ``--payments`` transfers (default 500,000) within
``--days`` (default 30: one window of the longest rules) from many distinct payers, most at other
banks and some the bank's own accounts, and pays a few suppliers every day; around it runs the
ordinary traffic of ``bench_engine`` (``--accounts`` accounts). Every ``Engine.process`` call is
timed; the events that touch the merchant (its payments, on either side) and the others are summed
apart, and the script prints the mean cost per event of each and their ratio, over the whole run and
over its last sixth (when the merchant's window holds most of its payments). Per-account state is
bounded by the caps in ``[limits]`` and the rules read windows of those bounded structures, so a
hot account should cost a small constant factor of an ordinary one, not grow with its traffic.

The parsed events are moved out of the garbage collector's sight (``gc.freeze``) before timing, as
in ``bench_engine``: they are this script's inputs, which replay and the worker never hold.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench_engine import START, generate  # noqa: E402

from detectors import Engine, load_config  # noqa: E402
from schemas import parse_event  # noqa: E402

HOT = "MERCHANT"


def hot_payments(payments: int, days: int, accounts: int, seed: int) -> list[bytes]:
    """JSON lines of the merchant's payments: ``payments`` transfers in from many payers
    (repeat customers among them; one in twenty an own account), and a few supplier payments a day."""
    rng = random.Random(seed)
    span = days * 86400
    payers = max(1, payments // 3)
    lines = []

    def add(offset_s: float, n: int, debtor: dict, creditor: dict, amount: float) -> None:
        lines.append(orjson.dumps({
            "type": "payment", "event_id": f"h{n}", "event_time": (START + timedelta(seconds=offset_s)).isoformat(),
            "debtor": debtor, "creditor": creditor, "amount": f"{amount:.2f}", "currency": "CNY",
            "channel": "mobile", "method": "transfer",
        }))

    merchant = {"account_id": HOT, "customer_id": "CUS-MERCHANT"}
    for n in range(payments):
        if rng.random() < 0.05:
            payer = {"account_id": f"ACC{rng.randrange(accounts)}"}
        else:
            payer = {"account_id": f"PAYER{rng.randrange(payers)}", "bank_id": "OTHER"}
        add(rng.uniform(0, span), n, payer, merchant, rng.uniform(5, 500))
    for n in range(payments, payments + 20 * days):
        add(rng.uniform(0, span), n, merchant, {"account_id": f"SUPPLIER{rng.randrange(40)}", "bank_id": "OTHER"},
            rng.uniform(1000, 50000))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=500_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--accounts", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    lines = generate(args.accounts, args.days) + hot_payments(args.payments, args.days, args.accounts, args.seed)
    events = sorted((parse_event(line) for line in lines), key=lambda e: e.event_time)  # one time-ordered stream
    touches = [e.type == "payment" and HOT in (e.debtor.account_id, e.creditor.account_id) for e in events]
    del lines
    gc.collect()
    gc.freeze()

    engine = Engine(load_config())
    process = engine.process
    clock = time.perf_counter
    spent = [0.0, 0.0]  # ordinary, hot
    counts = [0, 0]
    samples: list[list[float]] = [[], []]
    for event, is_hot in zip(events, touches):
        begin = clock()
        process(event)
        elapsed = clock() - begin
        spent[is_hot] += elapsed
        counts[is_hot] += 1
        samples[is_hot].append(elapsed)
    state = engine.accounts[HOT]
    ordinary_us, hot_us = (spent[i] / counts[i] * 1e6 for i in (0, 1))
    print(f"events: {len(events):,} ({counts[1]:,} touch {HOT}: {args.payments:,} payments in {args.days} days;"
          f" {counts[0]:,} ordinary from {args.accounts:,} accounts)")
    print(f"ordinary events   mean {ordinary_us:6.1f} us  median {statistics.median(samples[0]) * 1e6:6.1f} us")
    print(f"hot-account events mean {hot_us:6.1f} us  median {statistics.median(samples[1]) * 1e6:6.1f} us")
    print(f"hot / ordinary: {hot_us / ordinary_us:.2f}x (mean), "
          f"{statistics.median(samples[1]) / statistics.median(samples[0]):.2f}x (median)")
    # The last sixth of the period: the merchant's window then holds five sixths of its payments or more.
    late_hot = samples[1][len(samples[1]) * 5 // 6:]
    late_ordinary = samples[0][len(samples[0]) * 5 // 6:]
    late_ratio = statistics.fmean(late_hot) / statistics.fmean(late_ordinary)
    print(f"last sixth of the period (over {args.payments * 5 // 6:,} payments in the window): hot mean"
          f" {statistics.fmean(late_hot) * 1e6:.1f} us, ordinary {statistics.fmean(late_ordinary) * 1e6:.1f} us,"
          f" {late_ratio:.2f}x")
    print(f"{HOT} state: ledger {len(state.ledger)}, counterparties {len(state.counterparties)}, hits {len(state.hits)},"
          f" in_lots {len(state.in_lots)}, seen ids {len(state.seen)}, {len(state.to_bytes()):,} bytes")
    print(f"engine stats: {engine.stats}")


if __name__ == "__main__":
    main()
