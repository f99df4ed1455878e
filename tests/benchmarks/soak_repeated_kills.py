"""Soak: many seeds of the repeated-SIGKILL fault test, on a wider and longer history than CI's.

``tests/faults/test_repeated_kills.py`` runs two seeds of five kills on a 3,000-account week in CI;
this runs as many seeds and kills as asked, each on a fresh deployment (own app id, topics and data
dir) on the running broker, and prints one line per seed: kills, alert versions published against
the offline engine's, and what was missing or extra. Exit code 1 if any seed lost or added a version.

Run with a broker up (``deploy/kafka/broker.sh start``); the defaults take about 30 minutes on 2 cores:
    .venv/bin/python tests/benchmarks/soak_repeated_kills.py [--seeds 10 --kills 8 --accounts 5000 --days 15]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.faults.harness import alert_versions, consume_with_kills, offline_alerts  # noqa: E402
from tests.stream.worker_harness import MULEWATCH, Deployment  # noqa: E402

DEFAULT_BOOTSTRAP = os.environ.get("MULEWATCH_BROKER", "kafka://127.0.0.1:9092").partition("://")[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default=DEFAULT_BOOTSTRAP, help="host:port [from MULEWATCH_BROKER]")
    parser.add_argument("--seeds", type=int, default=10, help="runs, each with its own kill moments (default 10)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--kills", type=int, default=8, help="SIGKILLs per run (default 8)")
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--days", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mulewatch-soak-") as tmp:
        folder = Path(tmp)
        events = folder / "events.jsonl"
        subprocess.run([MULEWATCH, "simulate", "--accounts", str(args.accounts), "--days", str(args.days), "--seed", "13",
                        "--out", str(events), "--labels", str(folder / "labels.csv")], check=True, capture_output=True)
        lines = events.read_bytes().splitlines()
        expected = offline_alerts(lines)
        print(f"soak: {len(lines)} events, {len(expected)} alert versions offline; "
              f"{args.seeds} seeds x {args.kills} kills", flush=True)
        failures = 0
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            deployment = Deployment(args.bootstrap, folder / f"seed-{seed}", f"soak-{uuid.uuid4().hex[:8]}")
            (folder / f"seed-{seed}").mkdir()
            started = time.monotonic()
            try:
                run = consume_with_kills(deployment, lines, expected, random.Random(seed), args.kills, max_s=900)
            finally:
                deployment.stop_all()
            published = alert_versions(run.records)
            missing, extra = sorted(expected - published), sorted(published - expected)
            failures += bool(missing or extra)
            print(f"seed {seed}: {args.kills} kills, {len(published)} of {len(expected)} versions, "
                  f"{len(missing)} missing {missing[:5]}, {len(extra)} extra {extra[:5]}, "
                  f"{time.monotonic() - started:.0f}s", flush=True)
    print(f"soak: {failures} of {args.seeds} seeds lost or added a version")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
