"""Sustained load: one worker fed at a fixed offered rate for 10 minutes; memory, lag and rate over time.

A simulated bank large enough for the whole run is produced at ``--rate`` events/s (paced every
100 ms) into fresh topics while one ``mulewatch worker`` consumes them. Every ``--every`` seconds the
script records the worker's RSS (/proc/PID/status), the events it has ingested (its /metrics), the
backlog (events produced minus events ingested) and the processing rate over the last interval.
It writes a CSV table and a PNG plot, and prints a Markdown summary for the README.

Run with a broker up (``deploy/kafka/broker.sh start``):
    .venv/bin/python tests/benchmarks/bench_sustained.py [--rate 300 --minutes 10 --out DIR]
"""

from __future__ import annotations

import argparse
import csv
import math
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.bench_worker import DEFAULT_BOOTSTRAP, scrape  # noqa: E402
from tests.stream.worker_harness import MULEWATCH, Deployment, route_line, wait_ready  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaProducer  # noqa: E402

EVENTS_PER_ACCOUNT_DAY = 2.0  # what `mulewatch simulate` produces, roughly (12,850 for 300 x 20)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class PacedProducer(threading.Thread):
    """Sends the messages at a fixed rate, in 100 ms slices, until they run out or it is stopped."""

    def __init__(self, bootstrap: str, deployment: Deployment, lines: list[bytes], rate: float) -> None:
        super().__init__(daemon=True)
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        self.deployment, self.lines, self.rate = deployment, lines, rate
        self.sent = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.stopped.is_set() and self.sent < len(self.lines):
            due = min(len(self.lines), int((time.monotonic() - started) * self.rate))
            for line in self.lines[self.sent:due]:
                kind, key, value = route_line(line)
                self.producer.send(self.deployment.topic(kind), key=key, value=value)
            self.sent = max(self.sent, due)
            self.stopped.wait(0.1)
        self.producer.flush()
        self.producer.close()


def plot(rows: list[dict], path: Path, rate: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [r["t_s"] / 60 for r in rows]
    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    axes[0].plot(t, [r["rss_mb"] for r in rows])
    axes[0].set_ylabel("worker RSS (MB)")
    axes[1].plot(t, [r["backlog_events"] for r in rows])
    axes[1].set_ylabel("backlog (events)")
    axes[2].plot(t, [r["processed_per_s"] for r in rows], label="processed")
    axes[2].axhline(rate, color="grey", linestyle="--", label="offered")
    axes[2].set_ylabel("events/s")
    axes[2].set_xlabel("minutes")
    axes[2].legend()
    fig.suptitle(f"mulewatch worker under a sustained {rate:.0f} events/s")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default=DEFAULT_BOOTSTRAP, help="host:port [from MULEWATCH_BROKER]")
    parser.add_argument("--rate", type=float, default=300.0, help="offered events/s (default 300)")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=5.0, help="sampling interval in seconds")
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("tests/benchmarks/results"))
    args = parser.parse_args()

    seconds = args.minutes * 60
    needed = int(args.rate * seconds * 1.05)
    accounts = max(300, math.ceil(needed / (EVENTS_PER_ACCOUNT_DAY * args.days)))
    tmp = Path(tempfile.mkdtemp(prefix="bench-sustained-"))
    events = tmp / "events.jsonl"
    subprocess.run(
        [MULEWATCH, "simulate", "--accounts", str(accounts), "--days", str(args.days), "--seed", "5",
         "--out", str(events), "--labels", str(tmp / "labels.csv")],
        check=True, capture_output=True,
    )
    lines = events.read_bytes().splitlines()
    if len(lines) < needed:
        print(f"note: the bank has {len(lines)} events, {needed} would cover the whole run", file=sys.stderr)

    deployment = Deployment(args.bootstrap, tmp, f"sustained-{int(time.time())}", partitions=args.partitions)
    deployment.create_topics()
    worker = deployment.start_worker(0)
    rows: list[dict] = []
    try:
        wait_ready(worker.web_port)
        feeder = PacedProducer(args.bootstrap, deployment, lines, args.rate)
        started = time.monotonic()
        feeder.start()
        last_t, last_done = 0.0, 0.0
        while time.monotonic() - started < seconds:
            time.sleep(args.every)
            if worker.process.poll() is not None:
                raise SystemExit("worker died:\n" + worker.log()[-3000:])
            now = time.monotonic() - started
            done = scrape(worker.web_port)["mulewatch_events_consumed_total"]
            rows.append({
                "t_s": round(now, 1),
                "offered": feeder.sent,
                "ingested": int(done),
                "backlog_events": max(0, feeder.sent - int(done)),
                "processed_per_s": round((done - last_done) / (now - last_t), 1),
                "rss_mb": round(rss_mb(worker.process.pid), 1),
            })
            last_t, last_done = now, done
            print(" ".join(f"{k}={v}" for k, v in rows[-1].items()), flush=True)
        feeder.stopped.set()
        feeder.join(timeout=30)
    finally:
        worker.kill()

    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    table, figure = args.out / f"sustained-{stamp}.csv", args.out / f"sustained-{stamp}.png"
    with open(table, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, figure, args.rate)

    warm = [r for r in rows if r["t_s"] >= 60]
    rss = [r["rss_mb"] for r in warm] or [float("nan")]
    backlog = [r["backlog_events"] for r in warm] or [0]
    rates = [r["processed_per_s"] for r in warm] or [0.0]
    print("\n| offered rate | duration | RSS after 1 min | RSS at end | max RSS | max backlog | mean processed rate |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {args.rate:.0f} events/s | {args.minutes:.0f} min | {rss[0]:.0f} MB | {rss[-1]:.0f} MB | {max(rss):.0f} MB "
          f"| {max(backlog):,} events | {sum(rates) / len(rates):,.0f} events/s |")
    print(f"\ntable: {table}\nplot:  {figure}")


if __name__ == "__main__":
    main()
