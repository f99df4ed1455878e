"""What an idle worker costs: records/s it writes to its repartition topic, and its CPU use.

Not collected by pytest. Run with a broker up:
    .venv/bin/python tests/benchmarks/bench_idle.py [--bootstrap 127.0.0.1:9092 --partitions 8 --seconds 30]

One worker on empty input topics of the worker's default partition count (8), under a fresh app id;
once ready and past ``--warmup-s``, the end offsets of its accounts-repartition topic (watermark
messages are all it carries when nothing comes in) and its CPU time are read ``--seconds`` apart.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.bench_worker import DEFAULT_BOOTSTRAP, cpu_seconds, delete_topics  # noqa: E402
from tests.stream.worker_harness import Deployment, wait_ready  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaConsumer, TopicPartition  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default=DEFAULT_BOOTSTRAP, help="host:port [from MULEWATCH_BROKER]")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--warmup-s", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-idle-"))
    deployment = Deployment(args.bootstrap, tmp, f"idle-{int(time.time())}", partitions=args.partitions)
    deployment.create_topics()
    worker = deployment.start_worker()
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap)
    try:
        wait_ready(worker.web_port)
        time.sleep(args.warmup_s)
        topic = f"{deployment.name}-accounts-repartition"
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        offsets_start, cpu_start = sum(consumer.end_offsets(partitions).values()), cpu_seconds([worker.process.pid])
        time.sleep(args.seconds)
        offsets_end, cpu_end = sum(consumer.end_offsets(partitions).values()), cpu_seconds([worker.process.pid])
    finally:
        consumer.close()
        deployment.stop_all()
    shutil.rmtree(tmp)
    delete_topics(args.bootstrap, deployment.name)
    print(f"idle worker, {args.partitions} partitions per topic, {args.seconds:.0f} s: "
          f"{(offsets_end - offsets_start) / args.seconds:,.1f} records/s written to {len(partitions)} repartition "
          f"partitions, {(cpu_end - cpu_start) / args.seconds:.1%} of a CPU")


if __name__ == "__main__":
    main()
