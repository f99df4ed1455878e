"""Produce-to-alert latency of one worker at fixed offered rates, beside a plain consumer's floor.

For each rate R a fresh deployment (its own topics and one ``mulewatch worker``) gets the first
WARMUP_EVENTS of a simulated bank at R events/s and applies them, so start-up is not measured; then
the rest at R events/s for ``--seconds``, and for TAIL_S more seconds that are not measured, so that
no measured event waits for the end-of-feed idle timeout that releases the worker's last held views.
The producer stamps every record with its wall-clock send time (the Kafka CreateTime) and keeps it.

An alert becomes true at its ``window_end``; its trigger is the last event sent whose event time is
at or before ``window_end``. The feed is in event-time order, so that is the event with exactly that
time whenever there is one, whichever account it concerns (events sharing a time are consecutive
sends). Latency = the time a consumer in a separate process received the alert minus the trigger's
send time: what case management would see, and measured like the floor, that same consumer's
produce-to-consume latency on the input topics in the same run. The alert record's own timestamp
(set when the worker sent it) gives a second figure that leaves out the consumer.

After the feed the script waits until the worker has ingested every event and applied every view,
and reports the rate it ingested during the feed, the backlog left when the feed ended and the
time it took to drain. When it falls behind, latency is mostly time spent in that backlog and grows
with the length of the run: the percentiles then hold for this run's length only. ``--mule-share``
above the simulator's 1.5 % gives more alerts per event, but also more work per event.

Run with a broker up (``deploy/kafka/broker.sh start``):
    .venv/bin/python tests/benchmarks/bench_latency.py [--rates 1000 5000 --seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from array import array
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

import numpy as np
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.bench_worker import DEFAULT_BOOTSTRAP, cpu_seconds, scrape  # noqa: E402
from tests.stream.worker_harness import MULEWATCH, Deployment, route_line, wait_ready  # noqa: E402

WARMUP_EVENTS = 2000  # sent at the rate and applied before the clock starts: start-up is not what we measure
TAIL_S = 3.0  # > MULEWATCH_IDLE_PARTITION_S (2 s): the measured events are always followed by traffic
SLICE_S = 0.005  # pacing step: sends go out in bursts of at most R x 5 ms
GOAL_P99_S = 0.25  # issue 8
QUIET_S = 5.0  # drained: every event ingested and no view applied for this long
EVENTS_PER_ACCOUNT_DAY = 2.8  # what `mulewatch simulate --days 10` produces, account history included
CONSUMED, APPLIED, PUBLISHED = (
    "mulewatch_events_consumed_total", "mulewatch_detector_seconds_count", "mulewatch_alerts_published_total"
)
SHOW_PROGRESS = sys.stderr.isatty()


def progress(text: str) -> None:
    if SHOW_PROGRESS:
        print(f"\r\033[K{text}", end="", file=sys.stderr, flush=True)


@dataclass
class Feed:
    """A bank's events, routed as the worker expects, with their event times in milliseconds."""

    routes: list[tuple[str, bytes, bytes]]
    times_ms: list[int]


def simulate(tmp: Path, events: int, days: int, mule_share: float) -> Feed:
    """A bank sized to give at least ``events`` events, cut to that many (still in event-time order)."""
    accounts = math.ceil(events * 1.2 / (EVENTS_PER_ACCOUNT_DAY * days))
    path = tmp / "events.jsonl"
    subprocess.run(
        [MULEWATCH, "simulate", "--accounts", str(accounts), "--days", str(days), "--seed", "5",
         "--mule-share", str(mule_share), "--out", str(path), "--labels", str(tmp / "labels.csv")],
        check=True, capture_output=True,
    )
    lines = path.read_bytes().splitlines()[:events]
    if len(lines) < events:
        print(f"note: the bank has {len(lines):,} events, the feed needs {events:,}", file=sys.stderr)
    times = [round(datetime.fromisoformat(orjson.loads(line)["event_time"]).timestamp() * 1000) for line in lines]
    return Feed([route_line(line) for line in lines], times)


def watch(bootstrap: str, inputs: list[str], alerts: str, ready: Event, stop: Event, results: Connection) -> None:
    """The plain consumer, in a process of its own so that the producer's work never delays a receive time."""
    results.send(asyncio.run(consume(bootstrap, inputs, alerts, ready, stop)))


async def consume(
    bootstrap: str, inputs: list[str], alerts: str, ready: Event, stop: Event
) -> tuple[array, list[tuple[float, float, bytes]]]:
    """Until ``stop``: receive time minus CreateTime of each input record, and of each alert its
    receive time, its CreateTime and its value."""
    consumer = AIOKafkaConsumer(
        *inputs, alerts, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    while {tp.topic for tp in consumer.assignment()} != {*inputs, alerts}:
        await consumer.getmany(timeout_ms=100)
    ready.set()
    floor = array("d")
    received: list[tuple[float, float, bytes]] = []
    while not stop.is_set():
        for tp, records in (await consumer.getmany(timeout_ms=100)).items():
            now = time.time()
            if tp.topic == alerts:
                received.extend((now, r.timestamp / 1000, r.value) for r in records)
            else:
                floor.extend(now - r.timestamp / 1000 for r in records)
    await consumer.stop()
    return floor, received


async def offer(bootstrap: str, topics: dict[str, str], routes: list[tuple[str, bytes, bytes]], rate: float) -> array:
    """Send ``routes`` at ``rate``; returns each one's send time (Unix seconds, as stamped on the record)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    for topic in topics.values():
        await producer.partitions_for(topic)  # metadata before the clock starts
    sent = array("d")
    started = shown = time.time()
    while len(sent) < len(routes):
        now = time.time()
        due = min(len(routes), int((now - started) * rate) + 1)
        for kind, key, value in routes[len(sent):due]:
            stamp = int(time.time() * 1000)
            await producer.send(topics[kind], value, key=key, timestamp_ms=stamp)
            sent.append(stamp / 1000)
        if now - shown >= 1:
            shown = now
            progress(f"{rate:,.0f} events/s: {now - started:4.0f} s, {len(sent):,} sent")
        await asyncio.sleep(SLICE_S)
    await producer.flush()
    await producer.stop()
    return sent


def drain(port: int, total: int, max_s: float) -> float | None:
    """Seconds until every event was ingested and the last view applied; None if not within ``max_s``."""
    started = time.monotonic()
    applied_at, last_applied = started, -1.0
    while time.monotonic() - started < max_s:
        time.sleep(0.5)
        figures, now = scrape(port), time.monotonic()
        if figures[APPLIED] != last_applied:
            applied_at, last_applied = now, figures[APPLIED]
        elif figures[CONSUMED] >= total and now - applied_at > QUIET_S:
            return applied_at - started
        progress(f"draining: {total - figures[CONSUMED]:,.0f} events not ingested, {now - started:.0f} s")
    return None


@dataclass
class Result:
    rate: float
    achieved: float  # events/s actually offered during the measured seconds
    measured: int  # events sent during the measured seconds
    sent: int  # events sent after the warm-up, the unmeasured tail included
    latencies: list[float]  # per alert: received minus the trigger's send time
    stamped: list[float]  # per alert: the alert record's timestamp minus the trigger's send time
    exact: int  # alerts whose window_end is exactly a sent event's time
    floor: array  # per input record: received minus its send time
    feed_s: float  # first to last send after the warm-up
    ingested_rate: float  # events/s the worker ingested while the feed ran
    worker_cpu: float  # CPU seconds per second the worker process used while the feed ran
    backlog: int  # events sent but not ingested when the feed ended
    drain_s: float | None  # feed end to the last view applied
    published: int  # alert versions the worker says it published
    received: int  # alert records the consumer received
    load: tuple[float, float]  # 1-minute load average when the feed started and when the worker had drained

    @property
    def applied_rate(self) -> float:
        """Events/s the worker got through: the offered rate if it kept up, else the feed's events over the
        time until it had applied them all (which includes the short idle wait at the end)."""
        if self.kept_up:
            return self.achieved
        return self.sent / (self.feed_s + self.drain_s) if self.drain_s is not None else math.nan

    @property
    def kept_up(self) -> bool:
        """Less than a second of input was waiting when the feed ended."""
        return self.backlog < self.rate


def attribute(
    received: list[tuple[float, float, bytes]], feed: Feed, sent: array, measured: range
) -> tuple[list[float], list[float], int]:
    """Latencies (received, stamped) and exact matches of the alerts triggered by the ``measured`` events."""
    latencies, stamped, exact = [], [], 0
    for at, stamp, value in received:
        end_ms = round(datetime.fromisoformat(orjson.loads(value)["window_end"]).timestamp() * 1000)
        index = bisect_right(feed.times_ms, end_ms, 0, len(sent)) - 1
        if index not in measured:
            continue
        latencies.append(at - sent[index])
        stamped.append(stamp - sent[index])
        exact += feed.times_ms[index] == end_ms
    return latencies, stamped, exact


def run_rate(args: argparse.Namespace, rate: float, tmp: Path) -> Result:
    """One fresh deployment fed at ``rate``: returns its latencies, its floor and how the worker kept up."""
    feed = simulate(tmp, WARMUP_EVENTS + int(rate * (args.seconds + TAIL_S)), args.days, args.mule_share)
    deployment = Deployment(args.bootstrap, tmp, f"latency-{rate:.0f}-{int(time.time())}", partitions=args.partitions)
    deployment.create_topics()
    topics = {kind: deployment.topic(kind) for kind in ("payments", "account_events")}
    spawn = multiprocessing.get_context("spawn")
    ready, stop = spawn.Event(), spawn.Event()
    results, child_end = spawn.Pipe(duplex=False)
    watcher = spawn.Process(
        target=watch, args=(args.bootstrap, list(topics.values()), deployment.topic("alerts"), ready, stop, child_end),
        daemon=True,
    )
    watcher.start()
    worker = deployment.start_worker(0)
    try:
        progress(f"{rate:,.0f} events/s: waiting for the worker")
        wait_ready(worker.web_port)
        if not ready.wait(60):
            raise SystemExit("the consumer process did not start")
        sent = asyncio.run(offer(args.bootstrap, topics, feed.routes[:WARMUP_EVENTS], rate))
        if drain(worker.web_port, len(sent), args.drain_max) is None:
            raise SystemExit(f"the worker did not apply the {WARMUP_EVENTS:,} warm-up events in {args.drain_max:.0f} s")
        load_start = os.getloadavg()[0]
        before, cpu_before = scrape(worker.web_port), cpu_seconds([worker.process.pid])
        sent.extend(asyncio.run(offer(args.bootstrap, topics, feed.routes[len(sent):], rate)))
        after, cpu_after = scrape(worker.web_port), cpu_seconds([worker.process.pid])
        feed_s = sent[-1] - sent[WARMUP_EVENTS]
        drain_s = drain(worker.web_port, len(sent), args.drain_max)
        load = (load_start, os.getloadavg()[0])
        time.sleep(1)  # the last alerts reach the consumer
        stop.set()
        floor, received = results.recv()
        watcher.join()
        published = int(scrape(worker.web_port)[PUBLISHED])
        if worker.process.poll() is not None:
            raise SystemExit("worker died:\n" + worker.log()[-3000:])
    finally:
        worker.kill()
        stop.set()
        watcher.join(timeout=10)
    measured = range(WARMUP_EVENTS, min(WARMUP_EVENTS + int(rate * args.seconds), len(sent)))
    latencies, stamped, exact = attribute(received, feed, sent, measured)
    progress("")
    return Result(
        rate=rate,
        achieved=(len(measured) - 1) / (sent[measured[-1]] - sent[measured[0]]),
        measured=len(measured),
        sent=len(sent) - WARMUP_EVENTS,
        latencies=latencies,
        stamped=stamped,
        exact=exact,
        floor=floor,
        feed_s=feed_s,
        ingested_rate=(after[CONSUMED] - before[CONSUMED]) / feed_s,
        worker_cpu=(cpu_after - cpu_before) / feed_s,
        backlog=len(sent) - int(after[CONSUMED]),
        drain_s=drain_s,
        published=published,
        received=len(received),
        load=load,
    )


def ms(values: list[float] | array, q: float) -> str:
    return f"{np.percentile(values, q) * 1000:,.0f} ms" if len(values) else "-"


def report(result: Result, args: argparse.Namespace) -> None:
    lat, floor = result.latencies, result.floor
    drained = (
        f"{result.drain_s:.1f} s" if result.drain_s is not None
        else f"not within {args.drain_max:.0f} s (alerts of unapplied events are missing: percentiles are lower bounds)"
    )
    print(f"\n## offered {result.rate:,.0f} events/s for {args.seconds:.0f} s (+{TAIL_S:.0f} s unmeasured tail)")
    print(f"achieved offered rate:  {result.achieved:,.0f} events/s"
          f" ({result.measured:,} events measured, {result.sent:,} sent)")
    print(f"alerts measured:        {len(lat)} ({result.exact} with an event at exactly window_end);"
          f" received {result.received}, worker published {result.published}")
    print(f"produce-to-alert:       p50 {ms(lat, 50)}, p90 {ms(lat, 90)}, p99 {ms(lat, 99)}, max {ms(lat, 100)}")
    print(f"  by alert timestamp:   p50 {ms(result.stamped, 50)}, p99 {ms(result.stamped, 99)}")
    print(f"floor, plain consumer:  p50 {ms(floor, 50)}, p99 {ms(floor, 99)} ({len(floor):,} input records)")
    print(f"worker while fed:       ingested {result.ingested_rate:,.0f} events/s,"
          f" using {result.worker_cpu:.0%} of a CPU")
    how = "kept pace with the feed" if result.kept_up else f"{result.sent:,} events in the feed's {result.feed_s:.0f} s + drain"
    print(f"worker overall:         applied {result.applied_rate:,.0f} events/s ({how})")
    print(f"kept up:                {'yes' if result.kept_up else 'no'}: backlog at feed end {result.backlog:,} events,"
          f" last view applied {drained} after the feed ended")


def loadavg() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default=DEFAULT_BOOTSTRAP, help="host:port [from MULEWATCH_BROKER]")
    parser.add_argument("--rates", type=float, nargs="+", default=[1000.0, 5000.0], help="offered events/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured feed per rate (default 20)")
    parser.add_argument("--drain-max", type=float, default=180.0, help="longest wait for the worker to catch up")
    parser.add_argument("--days", type=int, default=10, help="simulated days the feed spans")
    parser.add_argument("--mule-share", type=float, default=0.015, help="share of misused accounts in the bank")
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()

    print(f"load average before: {loadavg()} ({os.cpu_count()} CPUs)")
    results = []
    for rate in args.rates:
        with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
            results.append(run_rate(args, rate, Path(tmp)))
        report(results[-1], args)
    print(f"\nload average after: {loadavg()}")
    print(f"goal: p99 produce-to-alert <= {GOAL_P99_S * 1000:.0f} ms at 5,000 events/s\n")
    print("| offered | achieved | alerts | p50 | p90 | p99 | max | floor p50 | floor p99 | ingested while fed"
          " | applied overall | backlog at feed end | kept up | 1-min load |")
    print("|---" * 14 + "|")
    for r in results:
        lat = r.latencies
        print(f"| {r.rate:,.0f}/s | {r.achieved:,.0f}/s | {len(lat)} | {ms(lat, 50)} | {ms(lat, 90)} | {ms(lat, 99)} "
              f"| {ms(lat, 100)} | {ms(r.floor, 50)} | {ms(r.floor, 99)} "
              f"| {r.ingested_rate:,.0f}/s | {r.applied_rate:,.0f}/s | {r.backlog:,} | {'yes' if r.kept_up else 'no'} "
              f"| {r.load[0]:.1f} to {r.load[1]:.1f} |")


if __name__ == "__main__":
    main()
