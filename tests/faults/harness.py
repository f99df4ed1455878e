"""Tools for the fault tests: private brokers, readiness, reading every alert, memory sampling.

Workers are run with ``tests.stream.worker_harness.Deployment``; this module adds what breaking
things needs on top: a broker the test owns (so it may stop it), a reader that waits until the
expected alerts are there (and a little longer, to see extras), an RSS sampler, and a feed that
SIGKILLs its worker at random moments.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from detectors import Engine, load_config
from stream.partitioning import account_partitioner
# The fault tests import these from here too.
from tests.stream.worker_harness import alert_versions, read_topic, wait_ready  # noqa: F401
from schemas import parse_event

REPO = Path(__file__).resolve().parents[2]
BROKER_SH = REPO / "deploy" / "kafka" / "broker.sh"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(size: int = 3) -> int:
    """A port p such that p .. p+size-1 are free (client, controller, secure listener).

    Below the kernel's ephemeral range (32768-60999 here): while a broker is down, a client retrying
    in a tight loop can be handed the broker's own port as its source port and connect to itself,
    and the restarted broker then fails with "Address already in use".
    """
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20_000, 32_000)
        if all(_port_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no free block of ports")


@dataclass
class BrokerInstance:
    """A broker started by deploy/kafka/broker.sh on its own ports and data dir."""

    data_dir: Path
    port: int = field(default_factory=free_port_block)
    secure: bool = False

    @property
    def secure_port(self) -> int:
        return self.port + 2

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def secure_bootstrap(self) -> str:
        return f"127.0.0.1:{self.secure_port}"

    @property
    def cafile(self) -> Path:
        return self.data_dir / "secure" / "ca.pem"

    @property
    def password_file(self) -> Path:
        return self.data_dir / "secure" / "scram.password"

    def _run(self, command: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "KAFKA_PORT": str(self.port), "KAFKA_DATA_DIR": str(self.data_dir),
               "KAFKA_HEAP_OPTS": "-Xms256m -Xmx512m"}
        if self.secure:
            env["KAFKA_SECURE_PORT"] = str(self.secure_port)
        return subprocess.run([str(BROKER_SH), command], env=env, capture_output=True, text=True, timeout=180)

    def start(self) -> None:
        result = self._run("start")
        if result.returncode != 0:
            raise RuntimeError(f"broker.sh start failed:\n{result.stdout}\n{result.stderr}")

    def stop(self) -> None:
        self._run("stop")


def covers(expected: set[tuple[str, int]]):
    return lambda records: alert_versions(records) >= expected


def offline_alerts(lines: list[bytes], partitions: int = 4) -> set[tuple[str, int]]:
    """(alert_id, version) the offline engine raises on the valid lines, in the given order, with the
    accounts split over ``partitions`` as a deployment's worker splits them (``Deployment.partitions``)."""
    engine = Engine(load_config(), partition_of=account_partitioner(partitions))
    out = set()
    for line in lines:
        for alert in engine.process(parse_event(line)):
            out.add((alert.alert_id, alert.version))
    return out


def top_versions(pairs: set[tuple[str, int]]) -> dict[str, int]:
    top: dict[str, int] = {}
    for alert_id, version in pairs:
        top[alert_id] = max(version, top.get(alert_id, 0))
    return top


def assert_same_alerts(published: set[tuple[str, int]], expected: set[tuple[str, int]]) -> None:
    """The offline engine's alerts: every (alert id, version) pair it raises (none lost), the same
    latest version of each alert, and no other alert. Beside them the worker may have published an
    intermediate version of an alert, below its latest: the typologies it knew of before a
    cross-partition hit reached it late (see ``detectors.typologies``)."""
    missing = expected - published
    latest, offline_latest = top_versions(published), top_versions(expected)
    unknown = set(latest) - set(offline_latest)
    above = {(a, v) for a, v in published - expected if a in offline_latest and v >= offline_latest[a]}
    assert not missing and latest == offline_latest and not unknown and not above, (
        f"{len(missing)} missing {sorted(missing)[:20]}, {len(unknown)} alerts offline never raised "
        f"{sorted(unknown)[:10]}, {len(above)} versions at or above offline's latest {sorted(above)[:10]}; "
        f"latest versions equal: {latest == offline_latest}"
    )


def assert_exact_repeats(records: list) -> int:
    """A repeated (alert_id, version) must be byte-identical; returns how many repeats there were."""
    seen: dict[tuple[str, int], bytes] = {}
    repeats = 0
    for record in records:
        alert = orjson.loads(record.value)
        identity = (alert["alert_id"], alert["version"])
        first = seen.setdefault(identity, record.value)
        if first is not record.value:
            assert first == record.value, f"repeat of {identity} differs:\n{first!r}\n{record.value!r}"
            repeats += 1
    return repeats


class RssSampler:
    """Samples a process's VmRSS (from /proc/PID/status) in a background thread."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int]] = []  # (monotonic time, RSS in kB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        path = Path(f"/proc/{self.pid}/status")
        while not self._stop.is_set():
            try:
                for line in path.read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.samples.append((time.monotonic(), int(line.split()[1])))
                        break
            except OSError:
                return
            self._stop.wait(self.interval)

    def start(self) -> "RssSampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def rss_mb(self, since: float = 0.0) -> list[float]:
        return [kb / 1024 for t, kb in self.samples if t >= since]


@dataclass
class KillRun:
    """What one run of ``consume_with_kills`` saw: when each life ended, and everything published."""

    lives: list[str] = field(default_factory=list)
    records: list = field(default_factory=list)


def consume_with_kills(deployment, lines: list[bytes], expected: set[tuple[str, int]], rng: random.Random,
                       kills: int, life_s: tuple[float, float] = (0.5, 8.0), max_s: float = 300) -> KillRun:
    """Feed ``lines`` while SIGKILLing the worker ``kills`` times, each a random ``life_s`` after it
    became ready, and restarting it on the same data dir; then read every alert it published.

    The events are produced from a thread while the worker runs, as a history being republished
    would be; a kill lands wherever the worker is (consuming, applying, writing state, sending).
    """
    run = KillRun()
    producer = threading.Thread(target=deployment.produce_events, args=(lines,), daemon=True)
    worker = deployment.start_worker(0)
    wait_ready(worker.web_port)
    producer.start()
    for life in range(kills):
        pause = rng.uniform(*life_s)
        time.sleep(pause)
        assert worker.process.poll() is None, worker.log()[-3000:]
        worker.kill()
        run.lives.append(f"life {life}: killed {pause:.1f}s after ready")
        worker = deployment.start_worker(0)
        wait_ready(worker.web_port)
    producer.join()
    run.records = read_topic(deployment.bootstrap, deployment.topic("alerts"), until=covers(expected),
                             settle_s=5, idle_s=30, max_s=max_s)
    assert worker.process.poll() is None, worker.log()[-3000:]
    return run
