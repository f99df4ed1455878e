"""Shared fixtures. Kafka tests use the real broker that `make test` starts; a missing broker fails."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
import warnings
from collections.abc import Callable, Iterator

import pytest

from tests.faults.harness import offline_alerts
from tests.stream.worker_harness import MULEWATCH

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError

BROKER_URL = os.environ.get("MULEWATCH_BROKER", "kafka://127.0.0.1:9092")
BOOTSTRAP = BROKER_URL.partition("://")[2]


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """``host:port`` of the real broker; fails (never skips) when it does not answer."""
    deadline = time.monotonic() + 30
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP, client_id="mulewatch-tests")
            admin.list_topics()
            admin.close()
            return BOOTSTRAP
        except (KafkaError, OSError) as exc:
            last_error = exc
            time.sleep(1)
    pytest.fail(
        f"no Kafka broker answers at {BOOTSTRAP} ({last_error}); "
        "run the tests with `make test`, which starts one (deploy/kafka/broker.sh start)"
    )


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> Iterator[KafkaAdminClient]:
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="mulewatch-tests")
    yield admin
    admin.close()


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """Names unique to one test, so topics and groups of different tests never meet."""

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    return make


@pytest.fixture
def new_topic(kafka_admin: KafkaAdminClient, unique_name: Callable[[str], str]) -> Callable[..., str]:
    """Create a fresh topic and return its name."""

    def create(prefix: str = "t", partitions: int = 1) -> str:
        name = unique_name(prefix)
        kafka_admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        return name

    return create


def _simulated_bank(folder, accounts: int, days: int, seed: int) -> tuple[list[bytes], set[tuple[str, int]]]:
    events, labels = folder / "events.jsonl", folder / "labels.csv"
    subprocess.run(
        [MULEWATCH, "simulate", "--accounts", str(accounts), "--days", str(days), "--seed", str(seed),
         "--out", str(events), "--labels", str(labels)],
        check=True, capture_output=True,
    )
    lines = events.read_bytes().splitlines()
    expected = offline_alerts(lines)
    assert expected, "the simulated bank should raise alerts offline"
    return lines, expected


@pytest.fixture(scope="session")
def bank(tmp_path_factory) -> tuple[list[bytes], set[tuple[str, int]]]:
    """The small simulated bank the worker and fault tests share, and the alert versions the offline engine raises on it."""
    return _simulated_bank(tmp_path_factory.mktemp("bank"), 300, 20, 11)


@pytest.fixture(scope="session")
def wide_bank(tmp_path_factory) -> tuple[list[bytes], set[tuple[str, int]]]:
    """A bank several thousand accounts wide (and a week long, to fit CI's time), with its offline alerts."""
    return _simulated_bank(tmp_path_factory.mktemp("wide-bank"), 3000, 8, 13)
