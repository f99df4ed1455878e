"""Worker throughput through the real broker, beside a plain aiokafka consumer reading the same events.

A simulated bank's history is produced as a backlog, then one ``mulewatch worker`` process consumes
it; the worker's own /metrics say when every event was ingested and every account view applied.
The client ceiling is a bare aiokafka loop over the same topics in this process.

Run with a broker up (``deploy/kafka/broker.sh start``):
    .venv/bin/python tests/benchmarks/bench_worker.py [--accounts 2000 --days 15 --partitions 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.stream.worker_harness import MULEWATCH, Deployment, wait_ready  # noqa: E402


def scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    totals: dict[str, float] = {}
    for name in ("mulewatch_events_consumed_total", "mulewatch_detector_seconds_count", "mulewatch_alerts_published_total"):
        totals[name] = sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))
    return totals


def run_worker(deployment: Deployment, total: int) -> tuple[float, float, dict[str, float]]:
    """Seconds until all events were ingested, and until the account views stopped being applied."""
    port = deployment.start_worker(0).web_port
    wait_ready(port)
    started = time.monotonic()
    ingested_at = applied_at = None
    last_applied = -1.0
    while True:
        time.sleep(0.5)
        figures = scrape(port)
        now = time.monotonic()
        if ingested_at is None and figures["mulewatch_events_consumed_total"] >= total:
            ingested_at = now - started
        if figures["mulewatch_detector_seconds_count"] != last_applied:
            last_applied = figures["mulewatch_detector_seconds_count"]
            applied_at = now - started
        elif ingested_at is not None and now - started - applied_at > 5:
            break
    deployment.stop_all()
    return ingested_at, applied_at, figures


async def plain_consumer(bootstrap: str, topics: list[str], total: int) -> float:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    started = time.monotonic()
    seen = 0
    while seen < total:
        batch = await consumer.getmany(timeout_ms=1000)
        seen += sum(len(records) for records in batch.values())
    elapsed = time.monotonic() - started
    await consumer.stop()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default=os.environ.get("MULEWATCH_BROKER", "kafka://127.0.0.1:9092").partition("://")[2])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--days", type=int, default=15)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    events = tmp / "events.jsonl"
    subprocess.run(
        [MULEWATCH, "simulate", "--accounts", str(args.accounts), "--days", str(args.days), "--seed", "3",
         "--out", str(events), "--labels", str(tmp / "labels.csv")],
        check=True, capture_output=True,
    )
    lines = events.read_bytes().splitlines()
    deployment = Deployment(args.bootstrap, tmp, f"bench-{int(time.time())}", partitions=args.partitions)
    deployment.create_topics()
    deployment.produce_events(lines)
    client_s = asyncio.run(plain_consumer(args.bootstrap, [deployment.topic("payments"), deployment.topic("account_events")], len(lines)))
    ingested_s, applied_s, figures = run_worker(deployment, len(lines))
    print(f"events: {len(lines)} ({args.accounts} accounts x {args.days} days), partitions: {args.partitions}")
    print(f"plain aiokafka consumer (client ceiling): {len(lines) / client_s:10,.0f} events/s")
    print(f"worker, all events ingested:              {len(lines) / ingested_s:10,.0f} events/s")
    print(f"worker, all account views applied:        {len(lines) / applied_s:10,.0f} events/s"
          f"  ({figures['mulewatch_detector_seconds_count']:,.0f} views, {figures['mulewatch_alerts_published_total']:,.0f} alerts)")
    print(f"worker / client ceiling: {client_s / applied_s:.1%}")


if __name__ == "__main__":
    main()
