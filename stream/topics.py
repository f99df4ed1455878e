"""Topic names the worker uses, and creating the missing ones at start with the partition count.

Internal topics carry the explicit repartitioning: a payment is split into the debtor's and the
creditor's views and re-keyed by account id; identifier observations are re-keyed by device/phone.
Faust does not prefix repartition topics with the app id, so the names are spelled out here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from stream.settings import Settings, kafka_python_security

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError


class BrokerUnavailable(RuntimeError):
    """The broker did not answer at start; the message is meant for a one-line error."""


@dataclass(frozen=True)
class TopicPlan:
    inputs: tuple[str, ...]
    accounts: str
    identifiers: str
    alerts: str
    dlq: str

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.inputs, self.accounts, self.identifiers, self.alerts, self.dlq)


def topic_plan(settings: Settings) -> TopicPlan:
    return TopicPlan(
        inputs=(settings.topics.payments, settings.topics.account_events),
        accounts=f"{settings.app_id}-accounts-repartition",
        identifiers=f"{settings.app_id}-identifiers-repartition",
        alerts=settings.topics.alerts,
        dlq=settings.topics.dlq,
    )


def admin_client(settings: Settings, timeout_s: float = 15.0) -> KafkaAdminClient:
    """A kafka-python admin client, or BrokerUnavailable with a clear one-line reason."""
    try:
        return KafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{settings.app_id}-admin",
            request_timeout_ms=int(timeout_s * 1000),
            **kafka_python_security(settings),
        )
    except KafkaError as exc:
        raise BrokerUnavailable(f"cannot reach Kafka at {settings.broker}: {exc}") from exc


def ensure_topics(settings: Settings) -> dict[str, int]:
    """Create every topic of the plan that is missing; returns the input topics' partition counts."""
    plan = topic_plan(settings)
    admin = admin_client(settings)
    try:
        existing = set(admin.list_topics())
        for name in plan.all:
            if name in existing:
                continue
            topic = NewTopic(name, num_partitions=settings.partitions, replication_factor=settings.replication_factor)
            try:
                admin.create_topics([topic])
            except TopicAlreadyExistsError:
                pass
        described = admin.describe_topics(list(plan.inputs))
        return {d["name"]: len(d["partitions"]) for d in described}
    except KafkaError as exc:
        raise BrokerUnavailable(f"cannot create topics on {settings.broker}: {exc}") from exc
    finally:
        admin.close()
