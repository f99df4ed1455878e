"""The lean Faust sensor publishes what Faust's own Prometheus sensor publishes, minus one histogram."""

from __future__ import annotations

from types import SimpleNamespace

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CollectorRegistry

from stream.faust_sensor import LeanPrometheusMonitor

#: Per-event runtime histogram: the lean sensor leaves it empty (see its docstring).
LEFT_OUT = "bench_events_runtime_ms"


class Stream:
    def __init__(self, label: str) -> None:
        self.shortlabel = f"Stream: {label}"
        self.task_owner = self


def drive(monitor: PrometheusMonitor) -> None:
    """The hook calls of a few records over two topics, two streams and two tables."""
    streams = [Stream("ingest"), Stream("accounts")]
    tables = [SimpleNamespace(name="account-state"), SimpleNamespace(name="identifier-state")]
    for offset in range(40):
        tp = TP(("payments", "accounts-repartition")[offset % 2], offset % 3)
        message = SimpleNamespace(time_in=None, time_out=None, time_total=None)
        stream = streams[offset % 2]
        monitor.on_message_in(tp, offset, message)
        state = monitor.on_stream_event_in(tp, offset, stream, None)
        monitor.on_table_get(tables[offset % 2], b"k")
        if offset % 3:
            monitor.on_table_set(tables[offset % 2], b"k", b"v")
        if offset % 5 == 0:
            monitor.on_table_del(tables[0], b"k")
        sent = monitor.on_send_initiated(None, f"out-{offset % 4}", None, 1, 10)
        monitor.on_send_completed(None, sent, None)
        monitor.on_stream_event_out(tp, offset, stream, None, state)
        if offset < 35:  # a few still in flight
            monitor.on_message_out(tp, offset, message)


def samples(registry: CollectorRegistry) -> dict[tuple, float]:
    """Every sample but histogram buckets and sums (those hold timings, which differ run to run)."""
    found = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name.endswith(("_bucket", "_sum", "_created")):
                continue
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_lean_sensor_counts_what_fausts_sensor_counts() -> None:
    faust_registry, lean_registry = CollectorRegistry(), CollectorRegistry()
    drive(PrometheusMonitor(FaustMetrics.create(faust_registry, "bench")))
    drive(LeanPrometheusMonitor(FaustMetrics.create(lean_registry, "bench")))
    expected = {k: v for k, v in samples(faust_registry).items() if not k[0].startswith(LEFT_OUT)}
    got = samples(lean_registry)
    assert got[(f"{LEFT_OUT}_count", ())] == 0
    del got[(f"{LEFT_OUT}_count", ())]
    assert got == expected
    assert expected[("bench_messages_received_per_topic_total", (("topic", "payments"),))] == 20
    assert expected[("bench_active_messages", ())] == 5
