"""Topic names the worker uses, and creating the missing ones at start with the partition count.

Internal topics carry the explicit repartitioning: a payment is split into the debtor's and the
creditor's views and re-keyed by account id; identifier observations are re-keyed by device/phone.
Faust does not prefix repartition topics with the app id, so the names are spelled out here.
"""

from __future__ import annotations

import asyncio
import ssl
import warnings
from dataclasses import dataclass

from aiokafka import errors as aiokafka_errors

from stream.settings import SecurityProtocol, Settings, kafka_python_security

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError


class BrokerUnavailable(RuntimeError):
    """The broker did not answer at start; the message is meant for a one-line error."""


@dataclass(frozen=True)
class TopicPlan:
    inputs: tuple[str, ...]  # the events' topics, then the dispositions topic
    accounts: str
    identifiers: str
    alerts: str
    dlq: str
    dispositions: str

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.inputs, self.accounts, self.identifiers, self.alerts, self.dlq)


def topic_plan(settings: Settings) -> TopicPlan:
    return TopicPlan(
        inputs=(settings.topics.payments, settings.topics.account_events, settings.topics.dispositions),
        accounts=f"{settings.app_id}-accounts-repartition",
        identifiers=f"{settings.app_id}-identifiers-repartition",
        alerts=settings.topics.alerts,
        dlq=settings.topics.dlq,
        dispositions=settings.topics.dispositions,
    )


def check_connection(settings: Settings, timeout_s: float = 15.0) -> None:
    """Fail fast, on one line, when a secured broker refuses our certificate trust or credentials.

    kafka-python retries a failed TLS handshake or SASL login until its bootstrap timeout and then
    only says "Unable to bootstrap"; one direct aiokafka connection (the worker's own client) to each
    bootstrap server tells the reason at once. PLAINTEXT needs no check: the admin client's error is
    already clear. The password is never part of a message.
    """
    sec = settings.security
    if sec.protocol is SecurityProtocol.PLAINTEXT:
        return
    try:
        password = sec.resolved_password()
    except OSError as exc:
        raise BrokerUnavailable(f"cannot read the SASL password file: {exc.strerror}: {exc.filename}") from exc
    for server in settings.bootstrap_servers:
        host, _, port = server.rpartition(":")
        try:
            asyncio.run(_connect_once(settings, host, int(port), password, timeout_s))
        except ssl.SSLCertVerificationError as exc:
            raise BrokerUnavailable(
                f"TLS: the certificate of {server} is not trusted with cafile {sec.cafile or '(system CAs)'}: "
                f"{exc.verify_message}"
            ) from None
        except ssl.SSLError as exc:
            raise BrokerUnavailable(f"TLS handshake with {server} failed: {exc.reason or exc}") from None
        except (asyncio.TimeoutError, TimeoutError):
            raise BrokerUnavailable(f"cannot reach Kafka at {server}: no answer within {timeout_s:.0f}s") from None
        except OSError as exc:
            why = exc.strerror or str(exc) or f"{type(exc).__name__} (is this a {sec.protocol.value} listener?)"
            raise BrokerUnavailable(f"cannot reach Kafka at {server}: {why}") from None
        except (aiokafka_errors.SaslAuthenticationFailed, aiokafka_errors.AuthenticationFailedError):
            raise BrokerUnavailable(
                f"SASL {sec.sasl_mechanism} authentication as {sec.username!r} failed at {server}: "
                "check the username and password"
            ) from None
        except (aiokafka_errors.UnsupportedSaslMechanismError, aiokafka_errors.AuthenticationMethodNotSupported):
            raise BrokerUnavailable(
                f"{server} does not offer SASL mechanism {sec.sasl_mechanism}: "
                "set MULEWATCH_SECURITY__SASL_MECHANISM to one it enables"
            ) from None
        except aiokafka_errors.KafkaError as exc:
            raise BrokerUnavailable(f"cannot connect to Kafka at {server}: {type(exc).__name__}: {exc}") from None


async def _connect_once(settings: Settings, host: str, port: int, password: str | None, timeout_s: float) -> None:
    from aiokafka.conn import create_conn

    sec = settings.security
    tls = sec.protocol in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL)
    sasl = sec.protocol in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL)
    context = ssl.create_default_context(cafile=str(sec.cafile) if sec.cafile else None) if tls else None
    conn = await asyncio.wait_for(
        create_conn(
            host,
            port,
            client_id=f"{settings.app_id}-check",
            request_timeout_ms=int(timeout_s * 1000),
            ssl_context=context,
            security_protocol=sec.protocol.value,
            sasl_mechanism=sec.sasl_mechanism if sasl else None,
            sasl_plain_username=sec.username if sasl else None,
            sasl_plain_password=password if sasl else None,
        ),
        timeout_s,
    )
    conn.close()


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
    check_connection(settings)
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
