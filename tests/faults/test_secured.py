"""Secured brokers: the worker and the replay tool over TLS + SASL/SCRAM-SHA-512.

The session's ``secure_broker`` (deploy/kafka/broker.sh with KAFKA_SECURE_PORT) has a PLAINTEXT
listener, which the test itself uses to feed and read topics, and a SASL_SSL listener whose
certificate comes from a CA made at start and whose SCRAM user is created at format time. The
mulewatch processes only get the SASL_SSL address; their credentials come from the environment
(worker) or a password file (replay), and must never show up in logs, output or ``--help``.
"""

from __future__ import annotations

import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.faults.harness import alert_versions, assert_same_alerts, covers, offline_alerts, read_topic, wait_ready
from tests.stream.worker_harness import MULEWATCH, Deployment

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

FAIL_FAST_S = 30


@pytest.fixture
def secured(secure_broker, tmp_path, unique_name):
    """A deployment fed over PLAINTEXT whose mulewatch processes connect over SASL_SSL."""
    password = secure_broker.password_file.read_text().strip()
    deployment = Deployment(secure_broker.bootstrap, tmp_path, unique_name("sec"), extra_env={
        "MULEWATCH_BROKER": f"kafka://{secure_broker.secure_bootstrap}",
        "MULEWATCH_SECURITY__PROTOCOL": "SASL_SSL",
        "MULEWATCH_SECURITY__SASL_MECHANISM": "SCRAM-SHA-512",
        "MULEWATCH_SECURITY__USERNAME": "mulewatch",
        "MULEWATCH_SECURITY__CAFILE": str(secure_broker.cafile),
    })
    yield deployment, password
    for worker in deployment.workers:
        worker.kill()


@pytest.fixture(scope="module")
def part_of_bank(bank):
    lines, _ = bank
    part = lines[: len(lines) * 3 // 5]  # misuse starts after the first week: the first 3/5 hold alerts
    expected = offline_alerts(part)
    assert expected
    return part, expected


def test_worker_over_sasl_ssl_with_password_from_environment(secured, part_of_bank):
    deployment, password = secured
    lines, expected = part_of_bank
    deployment.extra_env["MULEWATCH_SECURITY__PASSWORD"] = password
    worker = deployment.start_worker(0)
    wait_ready(worker.web_port)
    deployment.produce_events(lines)
    records = read_topic(deployment.bootstrap, deployment.topic("alerts"), until=covers(expected),
                         settle_s=3, idle_s=25, max_s=120)
    published = alert_versions(records)
    print(f"\nsecured worker: {len(published)} alert versions (offline {len(expected)})")
    assert worker.process.poll() is None, worker.log()[-3000:]
    assert "SASL_SSL" not in deployment.env["MULEWATCH_BROKER"]  # the URL is plain; security comes from settings
    assert published, "no alert came through the secured worker"
    assert_same_alerts(published, expected)
    assert password not in worker.log()


def test_replay_over_sasl_ssl_with_password_file(secured, part_of_bank, tmp_path):
    deployment, password = secured
    lines, expected = part_of_bank
    password_file = tmp_path / "kafka.password"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    deployment.create_topics()
    start = datetime.now(timezone.utc) - timedelta(seconds=5)
    deployment.produce_events(lines)
    end = datetime.now(timezone.utc) + timedelta(seconds=5)
    env = {**deployment.env, "MULEWATCH_SECURITY__PASSWORD_FILE": str(password_file)}
    result = subprocess.run(
        [MULEWATCH, "replay", "--from-kafka", "--start", start.isoformat(), "--end", end.isoformat(), "--to-kafka",
         "--rejects", str(tmp_path / "rejects.jsonl")],
        env=env, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    records = read_topic(deployment.bootstrap, deployment.topic("alerts"), until=covers(expected),
                         settle_s=1, idle_s=10, max_s=60)
    print(f"\nsecured replay: {result.stderr.strip().splitlines()[-1]}")
    assert alert_versions(records) == expected
    assert password not in result.stdout + result.stderr


def test_help_never_shows_credentials(secured):
    deployment, password = secured
    env = {**deployment.env, "MULEWATCH_SECURITY__PASSWORD": password}
    for command in ([], ["worker"], ["replay"]):
        result = subprocess.run([MULEWATCH, *command, "--help"], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0
        text = result.stdout + result.stderr
        assert password not in text
        assert "--password" not in text, "a password flag would put the secret in the process list"


def _run(command: str, env: dict, tmp_path) -> tuple[subprocess.CompletedProcess, float]:
    now = datetime.now(timezone.utc)
    args = {
        "worker": [MULEWATCH, "worker", "--data-dir", str(tmp_path / "data")],
        "replay": [MULEWATCH, "replay", "--from-kafka", "--start", (now - timedelta(hours=1)).isoformat(),
                   "--end", now.isoformat(), "--out", str(tmp_path / "alerts.jsonl")],
    }[command]
    started = time.monotonic()
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    return result, time.monotonic() - started


def assert_failed_fast_in_one_line(result: subprocess.CompletedProcess, took: float, password: str) -> None:
    """A non-zero exit within FAIL_FAST_S, one line of error, and the password nowhere in the output."""
    assert result.returncode != 0
    assert took < FAIL_FAST_S
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert password not in result.stdout + result.stderr


@pytest.mark.parametrize("command", ["worker", "replay"])
def test_wrong_password_fails_fast_with_one_line(secured, command, tmp_path):
    deployment, password = secured
    env = {**deployment.env, "MULEWATCH_SECURITY__PASSWORD": password + "-wrong"}
    result, took = _run(command, env, tmp_path)
    print(f"\n{command}, wrong password: exit {result.returncode} after {took:.1f}s: {result.stderr.strip()}")
    assert_failed_fast_in_one_line(result, took, password)
    assert "authentication" in result.stderr and "mulewatch" in result.stderr


def test_mechanism_the_broker_does_not_offer_is_named_not_blamed_on_the_password(secured, tmp_path):
    deployment, password = secured
    env = {**deployment.env, "MULEWATCH_SECURITY__PASSWORD": password,
           "MULEWATCH_SECURITY__SASL_MECHANISM": "SCRAM-SHA-256"}  # the listener enables SCRAM-SHA-512 only
    result, took = _run("worker", env, tmp_path)
    print(f"\nworker, SCRAM-SHA-256: exit {result.returncode} after {took:.1f}s: {result.stderr.strip()}")
    assert_failed_fast_in_one_line(result, took, password)
    assert "does not offer SASL mechanism SCRAM-SHA-256" in result.stderr and "password" not in result.stderr


@pytest.mark.parametrize("command", ["worker", "replay"])
def test_untrusted_certificate_fails_fast_with_one_line(secured, command, tmp_path, untrusted_cafile):
    deployment, password = secured
    env = {**deployment.env, "MULEWATCH_SECURITY__PASSWORD": password,
           "MULEWATCH_SECURITY__CAFILE": str(untrusted_cafile)}
    result, took = _run(command, env, tmp_path)
    print(f"\n{command}, untrusted certificate: exit {result.returncode} after {took:.1f}s: {result.stderr.strip()}")
    assert_failed_fast_in_one_line(result, took, password)
    assert "certificate" in result.stderr and "not trusted" in result.stderr
