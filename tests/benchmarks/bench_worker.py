"""Worker throughput through the real broker, beside the client and framework ceilings, and scaling.

A simulated bank's history is produced once as a backlog on the worker's input topics; then, one
after another in the same run so the ratios hold on a noisy machine, each row consumes all of it:

- plain aiokafka: a bare consumer loop in this process that only counts records (the client
  ceiling); it rereads the backlog until ``--min-client-s`` have passed, one pass being too short to time;
- bare Faust: ``bare_faust.py``, one agent with the worker's Faust settings that validates each event
  and forwards it (the framework ceiling); done when the output topic's end offsets hold every event;
- mulewatch worker x1 and x2: one, then two ``mulewatch worker`` processes started together in one
  consumer group, each run under a fresh app id (own group, internal topics and data dirs) so it
  starts from nothing; done when the workers' /metrics say every event was ingested and the count
  of applied account views has not moved for 10 s (on a backlog Faust drains the input topics
  before it delivers the repartition topics, so views are applied only after ingest ends).

Each run's clock starts at the last sample (every 0.25 s) before anything was consumed, so process
start-up is excluded and the first rebalance is included: in the x2 run, events the first worker
read before the second one joined may be read again, which the per-worker counts show. Beside
events/s each row gives events per CPU-second of its own processes (the broker's not counted) and
the cores they kept busy. The 2-core machine is shared: wall-clock scaling says what this machine
gave, CPU-seconds say whether two workers spend more per event than one.

Run with a broker up (``deploy/kafka/broker.sh start``); the defaults take about 3 minutes on 2 cores:
    .venv/bin/python tests/benchmarks/bench_worker.py [--bootstrap 127.0.0.1:9092 --accounts 2000 --days 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.stream.worker_harness import MULEWATCH, Deployment, WorkerProcess  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition  # noqa: E402
    from kafka.admin import NewTopic  # noqa: E402

SAMPLE_S = 0.25
#: host:port of the broker the benchmarks use: MULEWATCH_BROKER's, as the tests do, else the local default.
DEFAULT_BOOTSTRAP = os.environ.get("MULEWATCH_BROKER", "kafka://127.0.0.1:9092").partition("://")[2]
BARE_FAUST = Path(__file__).with_name("bare_faust.py")
WORKER_METRICS = ("mulewatch_events_consumed_total", "mulewatch_detector_seconds_count", "mulewatch_alerts_published_total")


@dataclass
class Timing:
    """Seconds from the clock's start until every event was consumed, and until the last output."""

    ingested_s: float
    finished_s: float
    cpu_s: float  # CPU seconds the measured processes used in between (start and last output)
    load: tuple[float, float]  # 1-minute load average at the start and at the end


@dataclass
class Row:
    name: str
    events_per_s: float
    events_per_cpu_s: float  # independent of what else the machine runs, unlike events_per_s
    load: tuple[float, float]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (Linux /proc)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def time_run(
    sample: Callable[[], tuple[float, float]], total: int, settle_s: float, timeout_s: float,
    processes: list[WorkerProcess],
) -> Timing:
    """Poll ``sample`` -> (events consumed, outputs made) until all events are in and outputs stop moving.

    The clock starts at the last sample with nothing consumed and stops at the last change of the
    outputs, once they have been still for ``settle_s``; the run fails as soon as a process exits.
    """
    pids = [p.process.pid for p in processes]
    started = time.monotonic()
    deadline = started + timeout_s
    load_start = os.getloadavg()[0]
    cpu_start = cpu_end = cpu_seconds(pids)
    ingested_at: float | None = None
    last_output, last_change = -1.0, started
    while True:
        now = time.monotonic()
        for p in processes:
            if p.process.poll() is not None:
                raise RuntimeError(f"process exited with {p.process.returncode}:\n{p.log()[-3000:]}")
        cpu = cpu_seconds(pids)
        consumed, output = sample()
        if consumed == 0:
            started, cpu_start = now, cpu
            load_start = os.getloadavg()[0]
        if ingested_at is None and consumed >= total:
            ingested_at = now
        if output != last_output:
            last_output, last_change, cpu_end = output, now, cpu
        elif ingested_at is not None and now - max(last_change, ingested_at) >= settle_s:
            return Timing(
                ingested_at - started, last_change - started, cpu_end - cpu_start, (load_start, os.getloadavg()[0])
            )
        if now > deadline:
            raise TimeoutError(f"not done after {timeout_s:.0f}s: consumed {consumed:,.0f} of {total:,}, outputs {output:,.0f}")
        time.sleep(SAMPLE_S)


def scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {
        name: sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))
        for name in WORKER_METRICS
    }


@dataclass
class WorkerRun:
    timing: Timing
    per_worker: list[dict[str, float]]  # the last /metrics figures of each worker


def run_workers(inputs: Deployment, count: int, total: int, timeout_s: float) -> WorkerRun:
    """``count`` worker processes started together under a fresh app id on the produced backlog."""
    label = f"x{count}"
    tmp = inputs.tmp / label
    tmp.mkdir()
    deployment = Deployment(
        inputs.bootstrap, tmp, inputs.name, inputs.partitions, extra_env={"MULEWATCH_APP_ID": f"{inputs.name}-{label}"}
    )
    workers = [deployment.start_worker(index) for index in range(count)]
    latest = [dict.fromkeys(WORKER_METRICS, 0.0) for _ in workers]

    def sample() -> tuple[float, float]:
        for figures, worker in zip(latest, workers):
            try:
                figures.update(scrape(worker.web_port))
            except OSError:  # web server not up yet: keep the last figures
                pass
        return (
            sum(f["mulewatch_events_consumed_total"] for f in latest),
            sum(f["mulewatch_detector_seconds_count"] for f in latest),
        )

    try:
        timing = time_run(sample, total, settle_s=10, timeout_s=timeout_s, processes=workers)
    finally:
        deployment.stop_all()
    return WorkerRun(timing, latest)


def run_bare_faust(inputs: Deployment, total: int, timeout_s: float) -> Timing:
    """The bare Faust app in its own process; done when its output topic holds every event."""
    output = f"{inputs.name}-bare-out"
    admin = KafkaAdminClient(bootstrap_servers=inputs.bootstrap)
    try:
        admin.create_topics([NewTopic(output, num_partitions=inputs.partitions, replication_factor=1)])
    finally:
        admin.close()
    log_path = inputs.tmp / "bare-faust.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(BARE_FAUST), "--bootstrap", inputs.bootstrap, "--app-id", f"{inputs.name}-bare",
             "--inputs", inputs.topic("payments"), inputs.topic("account_events"), "--output", output,
             "--partitions", str(inputs.partitions), "--data-dir", str(inputs.tmp / "bare-data")],
            stdout=log, stderr=subprocess.STDOUT,
        )
    bare = WorkerProcess(process, log_path, web_port=0)  # web server disabled: progress is read from the broker
    consumer = KafkaConsumer(bootstrap_servers=inputs.bootstrap)
    partitions = [TopicPartition(output, p) for p in range(inputs.partitions)]

    def sample() -> tuple[float, float]:
        forwarded = sum(consumer.end_offsets(partitions).values())
        return forwarded, forwarded

    try:
        return time_run(sample, total, settle_s=0, timeout_s=timeout_s, processes=[bare])
    finally:
        consumer.close()
        bare.stop()


async def plain_consumer(
    bootstrap: str, topics: list[str], total: int, min_s: float, timeout_s: float
) -> tuple[Timing, int]:
    """Timing and passes of a bare aiokafka loop rereading the whole backlog until ``min_s`` passed."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    load_start = os.getloadavg()[0]
    started, cpu_start = time.monotonic(), time.process_time()
    passes = 0
    while passes == 0 or time.monotonic() - started < min_s:
        seen = 0
        while seen < total:
            batch = await consumer.getmany(timeout_ms=1000)
            seen += sum(len(records) for records in batch.values())
            if time.monotonic() - started > timeout_s:
                raise TimeoutError(f"aiokafka loop read {seen:,} of {total:,} events in pass {passes + 1}")
        passes += 1
        await consumer.seek_to_beginning()
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu_start
    await consumer.stop()
    return Timing(elapsed, elapsed, cpu, (load_start, os.getloadavg()[0])), passes


def delete_topics(bootstrap: str, prefix: str) -> None:
    """Drop the run's topics (inputs, outputs, Faust's internal ones): a default run leaves ~1 GB on the broker."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.delete_topics([topic for topic in admin.list_topics() if topic.startswith(f"{prefix}-")])
    finally:
        admin.close()


def share(value: float, reference: float) -> str:
    """A row as a share of a ceiling: a percentage below it, a multiple above it."""
    ratio = value / reference
    return f"{ratio:.1%}" if ratio <= 1 else f"{ratio:.0f}x"


def print_table(rows: list[Row]) -> None:
    client, framework = rows[0].events_per_s, rows[1].events_per_s
    print(f"| {'what':<52} | {'events/s':>9} | {'of aiokafka':>11} | {'of bare Faust':>13} "
          f"| {'events/CPU-s':>12} | {'cores busy':>10} | {'load 1m':>11} |")
    print(f"| {'-' * 52} | {'-' * 9}:| {'-' * 11}:| {'-' * 13}:| {'-' * 12}:| {'-' * 10}:| {'-' * 11}:|")
    for row in rows:
        load = f"{row.load[0]:.2f}-{row.load[1]:.2f}"
        print(f"| {row.name:<52} | {row.events_per_s:9,.0f} | {share(row.events_per_s, client):>11} "
              f"| {share(row.events_per_s, framework):>13} | {row.events_per_cpu_s:12,.0f} "
              f"| {row.events_per_s / row.events_per_cpu_s:10.2f} | {load:>11} |")


def measure(args: argparse.Namespace, inputs: Deployment, total: int) -> list[Row]:
    """Every row, one after another; each printed as it finishes."""
    rows: list[Row] = []

    def add(name: str, events: int, timing: Timing, note: str) -> None:
        rows.append(Row(name, events / timing.finished_s, events / timing.cpu_s, timing.load))
        print(f"{name}: {rows[-1].events_per_s:,.0f} events/s, {rows[-1].events_per_cpu_s:,.0f} events per CPU-second; "
              f"{note}", flush=True)

    topics = [inputs.topic("payments"), inputs.topic("account_events")]
    client, passes = asyncio.run(plain_consumer(args.bootstrap, topics, total, args.min_client_s, args.timeout))
    add("plain aiokafka loop, count only (client ceiling)", passes * total, client,
        f"{passes} passes over the backlog in {client.finished_s:.1f}s")
    bare = run_bare_faust(inputs, total, args.timeout)
    add("bare Faust, validate + forward (framework ceiling)", total, bare, f"all forwarded in {bare.finished_s:.1f}s")
    for count in args.workers:
        run = run_workers(inputs, count, total, args.timeout)
        consumed = [w["mulewatch_events_consumed_total"] for w in run.per_worker]
        views = sum(w["mulewatch_detector_seconds_count"] for w in run.per_worker)
        alerts = sum(w["mulewatch_alerts_published_total"] for w in run.per_worker)
        add(f"mulewatch worker x{count}, all account views applied", total, run.timing,
            f"all ingested in {run.timing.ingested_s:.1f}s ({total / run.timing.ingested_s:,.0f} events/s), "
            f"all applied in {run.timing.finished_s:.1f}s using {run.timing.cpu_s:.0f} CPU-s; events consumed per "
            f"worker {' + '.join(f'{c:,.0f}' for c in consumed)} ({sum(consumed) - total:,.0f} read twice); "
            f"{views:,.0f} views applied, {alerts:,.0f} alerts")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default=DEFAULT_BOOTSTRAP, help="host:port [from MULEWATCH_BROKER]")
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--days", type=int, default=15)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--min-client-s", type=float, default=3.0, help="seconds the aiokafka loop keeps rereading")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds a run may take before the script gives up")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], choices=[1, 2],
                        help="worker rows to run: 1 and/or 2 processes (scaling needs both)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    try:
        events = tmp / "events.jsonl"
        subprocess.run(
            [MULEWATCH, "simulate", "--accounts", str(args.accounts), "--days", str(args.days), "--seed", "3",
             "--out", str(events), "--labels", str(tmp / "labels.csv")],
            check=True, capture_output=True,
        )
        lines = events.read_bytes().splitlines()
        inputs = Deployment(args.bootstrap, tmp, f"bench-{int(time.time())}", partitions=args.partitions)
        inputs.create_topics()
        inputs.produce_events(lines)
        print(f"events: {len(lines):,} ({args.accounts} accounts x {args.days} days), partitions: {args.partitions}",
              flush=True)
        rows = measure(args, inputs, len(lines))
    except BaseException:
        print(f"logs and data kept in {tmp}", file=sys.stderr)
        raise
    shutil.rmtree(tmp)
    delete_topics(args.bootstrap, inputs.name)

    print_table(rows)
    by_count = dict(zip(args.workers, rows[2:]))
    client = rows[0].events_per_s
    if 1 in by_count and 2 in by_count:
        one, two = by_count[1], by_count[2]
        print(f"scaling: two workers / one worker = {two.events_per_s / one.events_per_s:.2f}x events/s, "
              f"{two.events_per_cpu_s / one.events_per_cpu_s:.2f}x events per CPU-second")
    if 1 in by_count:
        one = by_count[1].events_per_s
        print(f"goal, worker x1 at least 30% of aiokafka: {'met' if one / client >= 0.30 else 'missed'} ({one / client:.1%})")


if __name__ == "__main__":
    main()
