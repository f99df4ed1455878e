"""Cost per record of the Faust sensor hooks: Faust's PrometheusMonitor against the worker's lean one.

Not collected by pytest. Run:  .venv/bin/python tests/benchmarks/bench_sensor.py [--records N --repeats R]

One "record" is what a consumed message costs the monitor in the worker: message in, stream event in
and out, message out, one send initiated and completed, one table get and one table set. Each monitor
gets its own registry; Faust's plain ``Monitor`` (in-memory statistics only, the default of an app
without Prometheus) is the baseline. Medians of the repeats, in the same process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from faust.sensors.monitor import Monitor  # noqa: E402
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor  # noqa: E402
from faust.types import TP  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402

from stream.faust_sensor import LeanPrometheusMonitor  # noqa: E402


class Stream:
    """What the hooks read of a stream (a class of its own: monitors keep streams in weak dicts)."""

    shortlabel = "Stream: accounts"

    def __init__(self) -> None:
        self.task_owner = self  # any weakly referenceable object


def one_pass(monitor: Monitor, records: int) -> float:
    """Seconds for ``records`` records' worth of hook calls, spread over 8 partitions."""
    tps = [TP("mulewatch-accounts-repartition", p) for p in range(8)]
    stream = Stream()
    table = SimpleNamespace(name="account-state")
    message = SimpleNamespace(time_in=None, time_out=None, time_total=None)
    start = time.perf_counter()
    for offset in range(records):
        tp = tps[offset & 7]
        monitor.on_message_in(tp, offset, message)
        state = monitor.on_stream_event_in(tp, offset, stream, None)
        monitor.on_table_get(table, b"k")
        monitor.on_table_set(table, b"k", b"v")
        sent = monitor.on_send_initiated(None, "mulewatch-identifiers-repartition", None, 1, 100)
        monitor.on_send_completed(None, sent, None)
        monitor.on_stream_event_out(tp, offset, stream, None, state)
        monitor.on_message_out(tp, offset, message)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    monitors = {
        "faust Monitor (no Prometheus)": lambda: Monitor(),
        "faust PrometheusMonitor": lambda: PrometheusMonitor(FaustMetrics.create(CollectorRegistry(), "bench")),
        "mulewatch LeanPrometheusMonitor": lambda: LeanPrometheusMonitor(FaustMetrics.create(CollectorRegistry(), "bench")),
    }
    medians = {}
    for name, make in monitors.items():
        monitor = make()
        medians[name] = statistics.median(one_pass(monitor, args.records) for _ in range(args.repeats))
    base = medians["faust Monitor (no Prometheus)"]
    print(f"{args.records:,} records, median of {args.repeats} passes; hooks per record: 8")
    for name, seconds in medians.items():
        print(f"{name:<34} {seconds / args.records * 1e6:6.2f} µs/record  ({seconds / base:.2f}× the plain Monitor)")


if __name__ == "__main__":
    main()
