"""Run real ``mulewatch worker`` processes against the test broker, feed them, read what they publish.

A test gets its own app id, topics and data dirs, so workers of different tests never share a
consumer group, a topic or a RocksDB lock.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic

MULEWATCH = str(Path(sys.executable).with_name("mulewatch"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    log_path: Path
    web_port: int
    killed: bool = False

    def crashed(self) -> bool:
        """Exited on its own with an error (a worker this test killed does not count)."""
        return not self.killed and self.process.poll() not in (None, 0)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self) -> None:
        self.killed = True
        self.process.kill()
        self.process.wait()


@dataclass
class Deployment:
    """One isolated mulewatch deployment on the shared test broker."""

    bootstrap: str
    tmp: Path
    name: str
    partitions: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "MULEWATCH_BROKER": f"kafka://{self.bootstrap}",
            "MULEWATCH_APP_ID": self.name,
            "MULEWATCH_TOPICS__PAYMENTS": f"{self.name}-payments",
            "MULEWATCH_TOPICS__ACCOUNT_EVENTS": f"{self.name}-account-events",
            "MULEWATCH_TOPICS__ALERTS": f"{self.name}-alerts",
            "MULEWATCH_TOPICS__DLQ": f"{self.name}-dlq",
            "MULEWATCH_TOPICS__DISPOSITIONS": f"{self.name}-dispositions",
            "MULEWATCH_PARTITIONS": str(self.partitions),
            **self.extra_env,
        }

    def topic(self, which: str) -> str:
        return self.env[f"MULEWATCH_TOPICS__{which.upper()}"]

    def start_worker(self, index: int | None = None) -> WorkerProcess:
        index = len(self.workers) if index is None else index
        log_path = self.tmp / f"worker-{index}-{len(self.workers)}.log"
        web_port = free_port()
        env = {
            **self.env,
            "MULEWATCH_DATA_DIR": str(self.tmp / f"data-{index}"),
            "MULEWATCH_WEB_PORT": str(web_port),
        }
        with open(log_path, "wb") as log:
            process = subprocess.Popen([MULEWATCH, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
        worker = WorkerProcess(process, log_path, web_port)
        self.workers.append(worker)
        return worker

    def create_topics(self) -> None:
        """Create the input and output topics with the deployment's partition count, as the worker would."""
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            admin.create_topics(
                [NewTopic(self.topic(kind), num_partitions=self.partitions, replication_factor=1)
                 for kind in ("payments", "account_events", "alerts", "dlq")]
            )
        finally:
            admin.close()

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()

    def produce_raw(self, messages: Iterable[tuple[str, bytes | None, bytes]]) -> int:
        """Send (topic kind, key, value) triples; returns how many were sent."""
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5)
        count = 0
        for kind, key, value in messages:
            producer.send(self.topic(kind), key=key, value=value)
            count += 1
        producer.flush()
        producer.close()
        return count

    def produce_events(self, lines: Iterable[bytes]) -> int:
        """Send JSON event lines to the topic and key the worker expects."""
        return self.produce_raw(route_line(line) for line in lines)

    def read(self, which: str, *, expect: int, max_s: float = 240) -> list:
        """Read a topic from the start until ``expect`` records (or a worker crashed, or ``max_s``)."""
        return read_topic(self.bootstrap, self.topic(which), until=lambda records: len(records) >= expect,
                          settle_s=0, max_s=max_s, give_up=lambda: any(w.crashed() for w in self.workers))


def read_topic(bootstrap: str, topic: str, *, until=None, max_s: float = 180, settle_s: float = 8,
               idle_s: float | None = None, give_up=None) -> list:
    """Every record of ``topic`` from the start.

    Stops ``settle_s`` after ``until(records)`` first holds (so extras and repeats are seen too), after
    ``idle_s`` without news once records came (a loaded machine can take long for the first), when
    ``give_up()`` holds, or at ``max_s``.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=1000,
                             max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024)
    deadline = time.monotonic() + max_s
    try:
        while not consumer.partitions_for_topic(topic) and time.monotonic() < deadline:
            time.sleep(0.5)
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records: list = []
        met_at = None
        last_news = time.monotonic()
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
            now = time.monotonic()
            if batch:
                last_news = now
            if met_at is None and until is not None and until(records):
                met_at = now
            if met_at is not None and now - met_at >= settle_s:
                break
            if idle_s is not None and records and now - last_news >= idle_s:
                break
            if give_up is not None and give_up():
                break
        return records
    finally:
        consumer.close()


def wait_ready(web_port: int, timeout: float = 90) -> float:
    """Seconds until the worker's /readyz answers 200 (partitions assigned, recovery done)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"worker on web port {web_port} not ready after {timeout}s")


def route_line(line: bytes) -> tuple[str, bytes, bytes]:
    """Payments to the payments topic keyed by the bank's own side, everything else by its account."""
    event = orjson.loads(line)
    if event.get("type") == "payment":
        own = event["debtor"] if not event["debtor"].get("bank_id") else event["creditor"]
        return "payments", own["account_id"].encode(), line
    return "account_events", str(event.get("account_id", "")).encode(), line


def alert_versions(records: list) -> set[tuple[str, int]]:
    return {(a["alert_id"], a["version"]) for a in (orjson.loads(r.value) for r in records)}

