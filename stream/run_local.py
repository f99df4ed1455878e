"""``make run``: the local broker, one worker, a simulated event feed, and alerts on the terminal.

Everything it starts it stops again on Ctrl-C (or when the feed and a quiet spell are over with
``--until-idle``), the broker included unless it was already running before.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
BROKER_SCRIPT = REPO / "deploy" / "kafka" / "broker.sh"
RUN_DIR = REPO / ".cache" / "run"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=2000, help="simulated bank size")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rate", type=int, default=1500, help="events/s offered to Kafka")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--until-idle", type=float, default=0, help="stop after this many quiet seconds once the feed ended")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops everything as Ctrl-C does

    port = os.environ.get("KAFKA_PORT", "9092")
    env = {**os.environ, "MULEWATCH_BROKER": os.environ.get("MULEWATCH_BROKER", f"kafka://127.0.0.1:{port}")}
    broker_was_running = subprocess.run([BROKER_SCRIPT, "status"], capture_output=True).returncode == 0
    subprocess.run([BROKER_SCRIPT, "start"], check=True)
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    run_id = time.strftime("%Y%m%d%H%M%S")
    env.update(
        MULEWATCH_APP_ID=f"mulewatch-local-{run_id}",
        MULEWATCH_TOPICS__PAYMENTS=f"payments-local-{run_id}",
        MULEWATCH_TOPICS__ACCOUNT_EVENTS=f"account-events-local-{run_id}",
        MULEWATCH_TOPICS__ALERTS=f"mule-alerts-local-{run_id}",
        MULEWATCH_TOPICS__DLQ=f"mulewatch-dlq-local-{run_id}",
        MULEWATCH_DATA_DIR=str(RUN_DIR / f"worker-{run_id}"),
        MULEWATCH_PARTITIONS="4",
    )
    mulewatch = str(Path(sys.executable).with_name("mulewatch"))
    children: list[subprocess.Popen] = []
    worker_log = open(RUN_DIR / f"worker-{run_id}.log", "wb")
    try:
        print(f"starting worker (log: {worker_log.name})", flush=True)
        children.append(subprocess.Popen([mulewatch, "worker"], env=env, stdout=worker_log, stderr=subprocess.STDOUT))
        wait_until_ready(children[-1], int(env.get("MULEWATCH_WEB_PORT", "6066")))
        feed = [
            mulewatch, "simulate", "--to-kafka", "--accounts", str(args.accounts), "--days", str(args.days),
            "--seed", str(args.seed), "--rate", str(args.rate),
        ]
        print("starting simulated feed: " + " ".join(feed[1:]), flush=True)
        children.append(subprocess.Popen(feed, env=env, stdout=subprocess.DEVNULL))
        show_alerts(env, children[-1], args.until_idle)
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        worker_log.close()
        if not broker_was_running:
            subprocess.run([BROKER_SCRIPT, "stop"], check=False)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def wait_until_ready(worker: subprocess.Popen, port: int, seconds: float = 120) -> None:
    """The feed starts once the worker created its topics and owns its partitions."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"worker exited with code {worker.returncode}; see its log in {RUN_DIR}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"worker not ready after {seconds:.0f}s; see its log in {RUN_DIR}")


def show_alerts(env: dict[str, str], feed: subprocess.Popen, until_idle: float) -> None:
    """Print one line per alert version as case management would receive it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        env["MULEWATCH_TOPICS__ALERTS"],
        bootstrap_servers=env["MULEWATCH_BROKER"].partition("://")[2],
        auto_offset_reset="earliest",
        consumer_timeout_ms=1000,
    )
    seen: set[tuple[str, int]] = set()
    last_activity = time.monotonic()
    print("waiting for alerts (Ctrl-C to stop)", flush=True)
    while True:
        for message in consumer:
            alert = orjson.loads(message.value)
            identity = (alert["alert_id"], alert["version"])
            if identity in seen:
                continue
            seen.add(identity)
            last_activity = time.monotonic()
            top = alert["rules"][0]["reason"] if alert["rules"] else ""
            print(
                f"{alert['window_end'][:19]}  {alert['severity']:<8} {alert['typology']:<28} "
                f"score {alert['score']:>3}  account {alert['account_id']}  v{alert['version']}  {top}",
                flush=True,
            )
        feed_done = feed.poll() is not None
        if until_idle and feed_done and time.monotonic() - last_activity > until_idle:
            print(f"feed finished; {len(seen)} alert versions shown", flush=True)
            return


if __name__ == "__main__":
    sys.exit(main())
