"""The worker's Prometheus metrics, in a registry of the app's own.

Labels carry only bounded, non-personal values (topic, partition, event type, reason, typology,
severity, table, rule, decision, reason code): never an account, customer, phone or device id.

Agents call these objects in one line each; the few metrics that need a look at the consumer or the
tables are refreshed by :meth:`Metrics.sample`, which a timer of the app calls.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from detectors.dispositions import Decided
from detectors.rules import RULE_IDS
from schemas import Decision, ReasonCode, Severity, Typology
from stream.decoding import RejectReason

log = logging.getLogger(__name__)

#: Active ISO 4217 currency codes: the only values the currency label of a metric may take.
ISO_4217 = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD
CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ
GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR
LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN
PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB
TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
""".split())

#: Seconds from an account view's send by ``ingest`` to the broker's acknowledgement of its alert.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    #: Event time (epoch seconds) of the last valid event ``ingest`` consumed; NaN until the first.
    last_event_time_s: float = math.nan

    def __post_init__(self) -> None:
        r = self.registry
        self.events = Counter(
            "mulewatch_events_consumed_total", "Valid input events consumed", ["topic", "type"], registry=r
        )
        self.dead_letters = Counter(
            "mulewatch_dead_letters_total",
            "Messages sent to the dead-letter topic (invalid or late input), by reason",
            ["reason"],
            registry=r,
        )
        self.late_events = Counter(
            "mulewatch_late_events_total",
            "Events older than their account's allowed lateness: not applied, dead-lettered",
            registry=r,
        )
        self.alerts = Counter(
            "mulewatch_alerts_published_total", "Alert versions published, by the alert's strongest typology",
            ["typology", "severity"], registry=r
        )
        # Analysts' decisions (the dispositions topic), for each rule's and typology's precision as
        # analysts see it: every decision counts once per typology and once per rule its alert showed.
        self.dispositions = Counter(
            "mulewatch_dispositions_total", "Analysts' decisions applied", ["decision", "reason_code"], registry=r
        )
        self.decisions_by_typology = Counter(
            "mulewatch_decisions_by_typology_total", "Analysts' decisions, once per typology the decided alert showed",
            ["typology", "decision"], registry=r
        )
        self.decisions_by_rule = Counter(
            "mulewatch_decisions_by_rule_total", "Analysts' decisions, once per rule the decided alert showed",
            ["rule", "decision"], registry=r
        )
        self.processing_latency = Histogram(
            "mulewatch_processing_latency_seconds",
            "Per published alert: seconds from the ingest agent's send of the account view that raised it"
            " (the Kafka timestamp of the repartition message) to the broker's acknowledgement of the alert",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.last_event_time = Gauge(
            "mulewatch_last_event_timestamp_seconds",
            "Event time of the last valid event this worker ingested (Unix seconds)",
            registry=r,
        )
        self.event_time_lag = Gauge(
            "mulewatch_event_time_lag_seconds",
            "Wall clock now minus the event time of the last valid event this worker ingested (NaN before one)",
            registry=r,
        )
        self.event_time_lag.set_function(lambda: time.time() - self.last_event_time_s)
        self.state_keys = Gauge(
            "mulewatch_state_keys",
            "Keys held in a state table on this worker's active partitions (RocksDB estimate)",
            ["table"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "mulewatch_consumer_lag_messages",
            "Messages not yet read by this worker: partition high watermark minus the next offset to read",
            ["topic", "partition"],
            registry=r,
        )
        self.stale_hits = Counter(
            "mulewatch_stale_identifier_hits_total",
            "Hits and tokens from other partitions (shared devices and phones, money traced through"
            " accounts) older than any typology window of the account, dropped",
            registry=r,
        )
        self.reorder_held = Gauge(
            "mulewatch_reorder_buffer_events",
            "Views held until every input partition has passed their event time",
            ["partition"],
            registry=r,
        )
        self.reorder_forced = Gauge(
            "mulewatch_reorder_buffer_forced_events",
            "Views applied out of order because the reorder buffer was full (since start)",
            ["partition"],
            registry=r,
        )
        self.unvalued_payments = Counter(
            "mulewatch_unvalued_payments_total",
            "Payments in a currency without a rate in the detector config's money.rates (ISO 4217 code;"
            " 'other' for a code that is not one): judged in their own units, never as zero",
            ["currency"],
            registry=r,
        )
        self._warned_currencies: set[str] = set()
        self.detector_seconds = Histogram(
            "mulewatch_detector_seconds",
            "Time the detectors spend on one account message",
            buckets=(1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.025),
            registry=r,
        )
        # Every bounded label value starts at zero, so rates and absent() work before the first hit.
        for reason in RejectReason:
            self.dead_letters.labels(reason=reason.value)
        for typology in Typology:
            for severity in Severity:
                self.alerts.labels(typology=typology.value, severity=severity.value)
            for decision in Decision:
                self.decisions_by_typology.labels(typology=typology.value, decision=decision.value)
        for decision in Decision:
            for reason in ReasonCode:
                self.dispositions.labels(decision=decision.value, reason_code=reason.value)
            for rule in RULE_IDS:
                self.decisions_by_rule.labels(rule=rule, decision=decision.value)
        self._lag_labels: set[tuple[str, str]] = set()

    # ---- one-line hooks for the agents ------------------------------------------------------

    def event_ingested(self, event_time_ms: int) -> None:
        """Record the event time of a valid event ``ingest`` consumed (drives the event-time lag)."""
        self.last_event_time_s = event_time_ms / 1000.0
        self.last_event_time.set(self.last_event_time_s)

    def payment_unvalued(self, currency: str) -> None:
        """Count a payment in a currency the config has no rate for; warn once per currency.

        The label is bounded: a code outside ISO 4217 (an upstream system may send anything that
        looks like one) is counted as ``other``, so a producer cannot grow the series without end.
        """
        label = currency if currency in ISO_4217 else "other"
        self.unvalued_payments.labels(currency=label).inc()
        if label not in self._warned_currencies:
            self._warned_currencies.add(label)
            log.warning(
                "payments in currency %s have no rate in the detector config (money.rates): amounts are"
                " compared within that currency only and its alerts take severity.without_rate", label,
            )

    def decided(self, decided: Decided) -> None:
        """Count an analyst's decision, by typology and by rule of the alert it was about."""
        self.dispositions.labels(decision=decided.decision, reason_code=decided.reason_code).inc()
        for typology in decided.typologies:
            self.decisions_by_typology.labels(typology=typology, decision=decided.decision).inc()
        for rule in decided.rules:
            self.decisions_by_rule.labels(rule=rule, decision=decided.decision).inc()

    def alert_published(self, sent_at_s: float | None) -> None:
        """Observe the latency of an alert whose triggering repartition message has timestamp ``sent_at_s``."""
        if sent_at_s:
            self.processing_latency.observe(max(0.0, time.time() - sent_at_s))

    # ---- periodic sampling -------------------------------------------------------------------

    def sample(self, consumer: Any, topics: Iterable[str], tables: Mapping[str, Any]) -> None:
        """Refresh consumer lag (for ``topics`` only) and table sizes; never raises."""
        try:
            self._sample_consumer_lag(consumer, frozenset(topics))
        except Exception:  # noqa: BLE001 - metrics must never stop the worker
            log.debug("consumer lag sample failed", exc_info=True)
        for name, table in tables.items():
            try:
                self.state_keys.labels(table=name).set(estimate_keys(table))
            except Exception:  # noqa: BLE001
                log.debug("state size sample of %s failed", name, exc_info=True)

    def _sample_consumer_lag(self, consumer: Any, topics: frozenset[str]) -> None:
        """Lag per assigned partition the worker has read from; revoked partitions drop out.

        Uses Faust's record of the last offset handed to an agent (``_read_offset``): a partition
        not read since the worker started has no known position and is not reported.
        """
        read_offsets = consumer._read_offset
        seen: set[tuple[str, str]] = set()
        for tp in consumer.assignment():
            if tp.topic not in topics:
                continue
            read = read_offsets.get(tp)
            highwater = consumer.highwater(tp)
            if read is None or highwater is None:
                continue
            labels = (tp.topic, str(tp.partition))
            self.consumer_lag.labels(*labels).set(max(0, highwater - (read + 1)))
            seen.add(labels)
        for labels in self._lag_labels - seen:
            self.consumer_lag.remove(*labels)
        self._lag_labels = seen


def estimate_keys(table: Any) -> int:
    """Keys of a Faust table on this worker's active partitions, from RocksDB's own estimate
    (the app's store is always rocksdict): counting them would scan every partition's database."""
    return sum(db.property_int_value("rocksdb.estimate-num-keys") or 0 for db in table.data._dbs_for_actives())
