"""The Faust application: topics, RocksDB tables and the three agents of the worker.

Flow: ``ingest`` validates raw input (bad input -> dead-letter topic) and re-keys each event, and
each analyst's decision from the dispositions topic, into per-account views; ``accounts`` applies
them to the account's state in event-time order and publishes alerts;
observations of devices and phones go to ``identifiers``, whose cross-account hits come back to
``accounts``. Agents only move bytes and call pure functions from ``detectors``.

Output ordering matters for at-least-once: alerts are acknowledged by the broker before the state
that remembers them is written, so a crash can repeat an alert but never lose one.
"""

from __future__ import annotations

import logging
import time

import faust
from faust.types import EventT

from detectors import (
    AccountChangeView,
    AccountMessage,
    AccountState,
    CrossHit,
    DetectorConfig,
    FlowToken,
    IdentifierState,
    PaymentView,
    apply_account,
    apply_identifier,
    decode_message,
    encode_message,
    route_disposition,
    route_event,
)
from schemas import ALERT_SCHEMA_VERSION, Alert, Payment
from stream.dead_letters import DeadLetter, dead_letter
from stream.decoding import (
    RejectReason,
    Rejection,
    decode_disposition,
    decode_event,
    disposition_bytes,
    event_time_ms,
    future_rejection,
)
from stream.metrics import Metrics
from detectors.population import Population
from stream.ordering import (
    Announcements,
    ReorderBuffer,
    SourceProgress,
    decode_watermarks,
    encode_watermarks,
    source_name,
)
from stream.populations import POPULATION_KEY, load_population
from stream.settings import Settings
from stream.topics import topic_plan

log = logging.getLogger(__name__)

ALERT_HEADERS = [("schema-version", ALERT_SCHEMA_VERSION.encode()), ("content-type", b"application/json")]


def create_app(
    settings: Settings, config: DetectorConfig, metrics: Metrics, input_partitions: dict[str, int]
) -> faust.App:
    """Build the worker's Faust app; nothing connects until the app starts.

    ``input_partitions`` maps each input topic to its partition count: every account partition waits
    for a watermark from each of those partitions before it applies views in event-time order.
    """
    app = faust.App(
        settings.app_id,
        broker=settings.broker,
        broker_credentials=_credentials(settings),
        store="rocksdb://",
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        processing_guarantee="at_least_once",
        key_serializer="raw",
        value_serializer="raw",
        web_port=settings.web_port,
        web_bind=settings.web_bind,
        web_host=settings.web_bind,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        producer_acks=-1,
        producer_linger=0.005,
        producer_max_batch_size=262_144,
        producer_max_request_size=max(settings.max_message_bytes * 2, 1_048_576),
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,  # held views are unacknowledged and simply redelivered after a stop
    )
    plan = topic_plan(settings)
    inputs = app.topic(*plan.inputs, key_type=bytes, value_type=bytes, allow_empty=True)
    accounts_topic = app.topic(plan.accounts, key_type=bytes, value_type=bytes, partitions=settings.partitions)
    identifiers_topic = app.topic(plan.identifiers, key_type=bytes, value_type=bytes, partitions=settings.partitions)
    alerts_topic = app.topic(plan.alerts, key_type=bytes, value_type=bytes)
    dlq_topic = app.topic(plan.dlq, key_type=bytes, value_type=bytes)

    # Faust's RocksDB defaults (3 x 64 MB memtables and a 2 GB block cache per partition) would let
    # memory grow for minutes and then far past a pod's limit; these bound it per partition.
    rocksdb = {
        "write_buffer_size": settings.rocksdb_write_buffer_mb * 2**20,
        "max_write_buffer_number": 2,
        "block_cache_size": settings.rocksdb_block_cache_mb * 2**20,
    }
    account_table = app.Table(
        "account-state", default=None, key_type=bytes, value_type=bytes, partitions=settings.partitions,
        options=rocksdb,
    )
    identifier_table = app.Table(
        "identifier-state", default=None, key_type=bytes, value_type=bytes, partitions=settings.partitions,
        options=rocksdb,
    )

    async def send_dead_letter(letter: DeadLetter, reason: RejectReason) -> None:
        await dlq_topic.send(key=letter.key, value=letter.value, headers=letter.headers)
        metrics.dead_letters.labels(reason=reason.value).inc()

    async def dead_letter_failure(event: EventT, exc: Exception) -> None:
        """Dead-letter a message the detectors failed on, with the error; logs carry no ids."""
        message = event.message
        log.warning(
            "processing error %s on %s[%d]@%d, message dead-lettered",
            type(exc).__name__, message.topic, message.partition, message.offset,
        )
        failure = Rejection(RejectReason.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}")
        await send_dead_letter(letter_for(event, failure), failure.reason)

    def letter_for(event: EventT, rejection: Rejection, value: bytes | None = None) -> DeadLetter:
        """The message's own bytes (or ``value`` instead) with where it came from and why refused."""
        message = event.message
        return dead_letter(
            key=message.key,
            value=message.value if value is None else value,
            reason=rejection.reason,
            detail=rejection.detail,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
        )

    max_future_ms = round(config.engine.max_future_seconds * 1000)
    progress = SourceProgress(idle_after_s=settings.idle_partition_s)
    announcements = Announcements(refresh_s=settings.watermark_refresh_s)
    sources = frozenset(source_name(t, p) for t, count in input_partitions.items() for p in range(count))
    buffers: dict[int, ReorderBuffer] = {}
    populations: dict[int, Population] = {}  # per account partition, loaded at its first use here
    runtime = config.runtime

    @app.agent(inputs, name="ingest")
    async def ingest(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            event_ms = await ingest_one(event)
            # Rejected messages count as read too: a dead letter at the end of a partition must not
            # keep it from being caught up (and so hold every account partition back).
            progress.advance(source_name(message.topic, message.partition), event_ms, message.offset, time.monotonic())

    async def ingest_one(event: EventT) -> int | None:
        """Validate one input message and send its account views; the event time, None if rejected."""
        message = event.message
        if message.topic == plan.dispositions:
            return await ingest_disposition(event)
        decoded = decode_event(event.value, settings.max_message_bytes)
        if isinstance(decoded, Rejection):
            await send_dead_letter(letter_for(event, decoded), decoded.reason)
            return None
        event_ms = event_time_ms(decoded)
        forged = future_rejection(event_ms, produced_ms(message), max_future_ms)
        if forged is not None:
            await send_dead_letter(letter_for(event, forged), forged.reason)
            return None
        metrics.events.labels(topic=message.topic, type=decoded.type).inc()
        metrics.event_ingested(event_ms)
        if type(decoded) is Payment and decoded.currency not in config.runtime.money.rates:
            metrics.payment_unvalued(decoded.currency)
        try:
            views = route_event(decoded, config)
        except Exception as exc:  # a detector bug must not stop the worker: keep the message
            await dead_letter_failure(event, exc)
            return None
        for view in views:
            await send_internal(plan.accounts, view.key.encode(), encode_message(view))
        return event_ms

    async def ingest_disposition(event: EventT) -> int | None:
        """An analyst's decision: validated here, applied by the account's partition at its time."""
        decoded = decode_disposition(event.value, settings.max_message_bytes)
        if isinstance(decoded, Rejection):
            await send_dead_letter(letter_for(event, decoded), decoded.reason)
            return None
        view = route_disposition(decoded)
        forged = future_rejection(view.time, produced_ms(event.message), max_future_ms)
        if forged is not None:
            await send_dead_letter(letter_for(event, forged), forged.reason)
            return None
        await send_internal(plan.accounts, view.key.encode(), encode_message(view))
        return view.time

    @app.timer(interval=settings.watermark_interval_s)
    async def announce_watermarks() -> None:
        """Tell every account partition how far each of this worker's input partitions has got.

        One message per account partition carries all of them, so the tick can be short (it bounds
        the latency) without multiplying the records by the number of input partitions.
        """
        consumer = app.consumer
        now = time.monotonic()
        marks = {}
        for tp in consumer.assignment():
            if tp.topic not in plan.inputs:
                continue
            source = source_name(tp.topic, tp.partition)
            mark = progress.watermark(source, consumer.highwater(tp), now)
            if announcements.due(source, mark, now):
                marks[source] = mark
        if marks:
            value = encode_watermarks(marks)
            for partition in range(settings.partitions):
                await send_internal(plan.accounts, None, value, partition)

    @app.timer(interval=5.0)
    async def sample_metrics() -> None:
        """Consumer lag of the topics the agents read, and state table sizes, for /metrics."""
        metrics.sample(app.consumer, (*plan.inputs, plan.accounts, plan.identifiers), {"account-state": account_table, "identifier-state": identifier_table})

    @app.on_partitions_revoked.connect
    async def forget_revoked(app: faust.App, revoked: set, **_: object) -> None:
        """Views held for a partition that moved away are redelivered to its new owner."""
        for tp in revoked:
            if tp.topic == plan.accounts:
                buffers.pop(tp.partition, None)
                populations.pop(tp.partition, None)

    @app.agent(accounts_topic, name="accounts")
    async def accounts(stream: faust.StreamT) -> None:
        stream.enable_acks = False  # held views are acknowledged once applied; a crash redelivers them
        async for event in stream.events():
            partition = event.message.partition
            buffer = buffers.get(partition)
            if buffer is None:
                buffer = buffers[partition] = ReorderBuffer(sources, settings.reorder_buffer_max)
            marks = decode_watermarks(event.value)
            if marks is None:
                try:
                    message = decode_message(event.value)
                except ValueError as exc:
                    await dead_letter_failure(event, exc)
                    await stream.ack(event)
                    continue
                ready = buffer.push(message.time, (event, message))
            else:
                buffer.mark(marks)
                ready = buffer.release()
                await stream.ack(event)
            await apply_batch(ready)
            for held_event, _ in ready:
                await stream.ack(held_event)
            metrics.reorder_held.labels(partition=str(partition)).set(len(buffer))
            metrics.reorder_forced.labels(partition=str(partition)).set(buffer.forced)

    async def apply_batch(ready: list[tuple[EventT, AccountMessage]]) -> None:
        """Apply released views in order; each touched account's state is written once, at the end,
        and then the partition's population if a day closed.

        Held views are acknowledged only after this returns, so a crash before the writes simply
        redelivers them; the detectors make the repeat harmless.
        """
        states: dict[bytes, AccountState | None] = {}  # read this batch (to apply to, or to count)
        changed: set[bytes] = set()
        partition = ready[0][0].message.partition if ready else None
        population = populations.get(partition)
        if ready and population is None:
            population = populations[partition] = load_population(account_table, partition, runtime.rarity)
        closed = False

        def state_of(account: str) -> AccountState | None:
            key = account.encode()
            if key not in states:
                stored = account_table.get(key)
                states[key] = AccountState.from_bytes(stored) if stored else None
            return states[key]

        for event, message in ready:
            key = event.key
            try:
                state = state_of(message.key)
                if type(message) is PaymentView or type(message) is AccountChangeView:
                    closed |= population.advance(message.time, runtime.lateness, state_of, runtime.rarity)
                    population.touch(message.key, message.time)
                with metrics.detector_seconds.time():
                    outcome = apply_account(state, message, config, population)
            except Exception as exc:  # a detector bug must not stop the worker: keep the message
                await dead_letter_failure(event, exc)
                continue
            if outcome.rejected is not None:  # a decision on an alert the account does not have
                refused = Rejection(RejectReason.UNKNOWN_ALERT, outcome.rejected)
                await send_dead_letter(letter_for(event, refused, disposition_bytes(message)), refused.reason)
                continue
            if outcome.decided is not None:
                metrics.decided(outcome.decided)
            if outcome.late and isinstance(message, (CrossHit, FlowToken)):
                metrics.stale_hits.inc()  # older than every window it could count in: nothing lost
            elif outcome.late:
                late = Rejection(RejectReason.LATE, "event is older than the allowed lateness for its account")
                await send_dead_letter(letter_for(event, late), RejectReason.LATE)
                metrics.late_events.inc()
            for alert in outcome.alerts:
                await publish_alert(alert)
                metrics.alert_published(event.message.timestamp)  # since ingest sent the view
            for forward in outcome.forwards:
                await send_internal(plan.identifiers, f"{forward.kind}:{forward.key}".encode(), encode_message(forward))
            for other in outcome.sends:  # tokens and hits for other accounts, through their partitions
                await send_internal(plan.accounts, other.key.encode(), encode_message(other))
            states[key] = outcome.state
            changed.add(key)
        for key in changed:
            account_table[key] = states[key].to_bytes()
        if closed:  # after the states: a crash between leaves the record behind them, never ahead
            account_table[POPULATION_KEY] = population.to_bytes(runtime.rarity)

    async def send_internal(topic: str, key: bytes | None, value: bytes, partition: int | None = None) -> None:
        """Straight to the producer: internal topics need none of Faust's per-message channel machinery."""
        await app.producer.send(topic, key, value, partition, None, None)

    async def publish_alert(alert: Alert) -> None:
        """Publish and wait for the broker's acknowledgement before the state records the alert."""
        pending = await alerts_topic.send(
            key=alert.account_id.encode(), value=alert.model_dump_json().encode(), headers=ALERT_HEADERS
        )
        await pending
        metrics.alerts.labels(typology=alert.typologies[0].typology.value, severity=alert.severity.value).inc()

    @app.agent(identifiers_topic, name="identifiers")
    async def identifiers(stream: faust.StreamT) -> None:
        async for event in stream.events():
            key = event.key
            stored = identifier_table.get(key)
            try:
                outcome = apply_identifier(
                    IdentifierState.from_bytes(stored) if stored else None, decode_message(event.value), config
                )
            except Exception as exc:  # a detector bug must not stop the worker: keep the message
                await dead_letter_failure(event, exc)
                continue
            for hit in outcome.hits:
                await send_internal(plan.accounts, hit.key.encode(), encode_message(hit))
            identifier_table[key] = outcome.state.to_bytes()

    _add_health_pages(app)
    return app


def produced_ms(message) -> int:
    """When an input record was produced: its Kafka timestamp (the broker's, with LogAppendTime),
    or this worker's clock for a record that carries none."""
    if message.timestamp is not None and message.timestamp >= 0:
        return round(message.timestamp * 1000)
    return round(time.time() * 1000)


def is_ready(app: faust.App) -> bool:
    """Ready once partitions are assigned, no rebalance is running and table recovery has finished."""
    consumer = app.consumer
    return (
        not app.rebalancing
        and not app.in_recovery
        and app.tables.recovery.completed.is_set()
        and bool(consumer.assignment())
    )


def _add_health_pages(app: faust.App) -> None:
    @app.page("/livez")
    async def livez(view, request):  # noqa: ANN001 - Faust passes the view and the request
        return view.json({"status": "alive"})

    @app.page("/readyz")
    async def readyz(view, request):  # noqa: ANN001 - Faust passes the view and the request
        ready = is_ready(app)
        return view.json({"status": "ready" if ready else "not ready"}, status=200 if ready else 503)


def _credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    """SASL/SCRAM over TLS, TLS alone, or nothing, as the settings say."""
    import ssl

    sec = settings.security
    protocol = sec.protocol.value
    if protocol == "PLAINTEXT":
        return None
    context = ssl.create_default_context(cafile=str(sec.cafile) if sec.cafile else None)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(
        username=sec.username,
        password=sec.resolved_password(),
        mechanism=sec.sasl_mechanism,
        ssl_context=context if protocol == "SASL_SSL" else None,
    )
