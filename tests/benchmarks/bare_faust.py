"""The framework ceiling of the worker benchmark: a Faust app that only validates and forwards.

One agent reads the worker's input topics, validates each value with ``schemas.parse_event`` and
sends the raw bytes on to one output topic, with no state, repartitioning or detectors. Its Faust
and producer settings are the worker's (``stream/app.py``) wherever they change speed, so the gap
between this app and ``mulewatch worker`` is mulewatch's own cost, not Faust's.

Run as its own process by ``bench_worker.py``:
    .venv/bin/python tests/benchmarks/bare_faust.py --bootstrap HOST:PORT --app-id ID
        --inputs TOPIC [TOPIC ...] --output TOPIC --partitions N --data-dir DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

import faust

from schemas import parse_event


def create_app(
    bootstrap: str, app_id: str, inputs: list[str], output: str, partitions: int, data_dir: Path
) -> faust.App:
    """The worker's speed-relevant settings, one forwarding agent, no web server, tables or sensors."""
    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        datadir=str(data_dir),
        topic_partitions=partitions,
        processing_guarantee="at_least_once",
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        producer_acks=-1,
        producer_linger=0.005,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
    )
    source = app.topic(*inputs, key_type=bytes, value_type=bytes, allow_empty=True)

    @app.agent(source, name="forward")
    async def forward(stream: faust.StreamT) -> None:
        async for event in stream.events():
            parse_event(event.value)
            # The worker's send_internal path: straight to the producer, as ingest sends its views.
            await app.producer.send(output, event.message.key, event.value, None, None, None)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--inputs", nargs="+", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(args.bootstrap, args.app_id, args.inputs, args.output, args.partitions, args.data_dir)
    faust.Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False).execute_from_commandline()


if __name__ == "__main__":
    main()
