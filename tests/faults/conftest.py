"""Fixtures of the fault tests: deployments, and brokers the tests own (the bank is in tests/conftest.py).

The shared broker (``kafka_bootstrap``, from ``MULEWATCH_BROKER``) serves the tests that only break
workers. The broker-restart test stops its broker, so it gets a private one; the security tests need
a SASL_SSL listener, so they share one secured broker for the session. Both are started with
``deploy/kafka/broker.sh`` on free ports with a data dir under pytest's tmp, and stopped on teardown.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.faults.harness import BrokerInstance
from tests.stream.worker_harness import Deployment


@pytest.fixture
def deployment(kafka_bootstrap, tmp_path, unique_name) -> Iterator[Deployment]:
    """Workers on the shared broker, under a unique app id and topics; all stopped on teardown."""
    deployment = Deployment(kafka_bootstrap, tmp_path, unique_name("fault"))
    yield deployment
    _stop_workers(deployment)


def _stop_workers(deployment: Deployment) -> None:
    for worker in deployment.workers:
        if worker.process.poll() is None:
            worker.stop(timeout=15)


@pytest.fixture
def private_broker(tmp_path) -> Iterator[BrokerInstance]:
    """A broker of this test alone (it may be stopped and started); stopped on teardown."""
    broker = BrokerInstance(tmp_path / "broker")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def secure_broker(tmp_path_factory) -> Iterator[BrokerInstance]:
    """One broker with a SASL_SSL (SCRAM-SHA-512) listener for the session; stopped at the end."""
    broker = BrokerInstance(tmp_path_factory.mktemp("secure-broker"), secure=True)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def untrusted_cafile(tmp_path):
    """A CA certificate that did not sign the broker's certificate."""
    key, cert = tmp_path / "other-ca.key", tmp_path / "other-ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=someone else's CA"],
        check=True, capture_output=True,
    )
    return cert
