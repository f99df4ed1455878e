"""The worker's Prometheus metrics, in a registry of the app's own.

Labels carry only bounded, non-personal values (topic, event type, reason, typology, severity):
never an account, customer, phone or device id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events = Counter(
            "mulewatch_events_consumed_total", "Valid input events consumed", ["topic", "type"], registry=r
        )
        self.dead_letters = Counter(
            "mulewatch_dead_letters_total", "Messages sent to the dead-letter topic", ["reason"], registry=r
        )
        self.alerts = Counter(
            "mulewatch_alerts_published_total", "Alert versions published", ["typology", "severity"], registry=r
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
        self.detector_seconds = Histogram(
            "mulewatch_detector_seconds",
            "Time the detectors spend on one account message",
            buckets=(1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.025),
            registry=r,
        )
