"""``make run``: the local broker, one worker, a simulated event feed, and alerts on the terminal.

Everything it starts it stops again on Ctrl-C (or when the feed and a quiet spell are over with
``--until-idle``), the broker included unless it was already running before, whatever happened to
the terminal: with ``make run | tee run.log`` Ctrl-C kills ``tee`` too, and every later write to the
pipe fails. So the children run in sessions of their own (Ctrl-C reaches only this process, which
stops them in order), nothing they print goes to the terminal's pipe, and this process's own output
stops quietly when the pipe is gone instead of aborting the clean-up.
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
    # `kill`, or the terminal closing, stops all as Ctrl-C does; and Ctrl-C does even when this was
    # started from a shell without job control, whose background commands inherit SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)

    port = os.environ.get("KAFKA_PORT", "9092")
    env = {**os.environ, "MULEWATCH_BROKER": os.environ.get("MULEWATCH_BROKER", f"kafka://127.0.0.1:{port}")}
    broker_was_running = subprocess.run([BROKER_SCRIPT, "status"], capture_output=True).returncode == 0
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    if not broker_was_running:
        say(f"starting the local Kafka broker on port {port} (log: {RUN_DIR / 'broker.log'})")
    try:
        _broker("start", check=True)
    except (KeyboardInterrupt, subprocess.CalledProcessError) as exc:
        _broker("stop")
        if isinstance(exc, subprocess.CalledProcessError):
            say(f"the broker did not start; see {RUN_DIR / 'broker.log'}")
        return 1
    run_id = time.strftime("%Y%m%d%H%M%S")
    env.update(
        MULEWATCH_APP_ID=f"mulewatch-local-{run_id}",
        MULEWATCH_TOPICS__PAYMENTS=f"payments-local-{run_id}",
        MULEWATCH_TOPICS__ACCOUNT_EVENTS=f"account-events-local-{run_id}",
        MULEWATCH_TOPICS__ALERTS=f"mule-alerts-local-{run_id}",
        MULEWATCH_TOPICS__DLQ=f"mulewatch-dlq-local-{run_id}",
        MULEWATCH_TOPICS__DISPOSITIONS=f"mule-dispositions-local-{run_id}",
        MULEWATCH_DATA_DIR=str(RUN_DIR / f"worker-{run_id}"),
        MULEWATCH_PARTITIONS="4",
    )
    mulewatch = str(Path(sys.executable).with_name("mulewatch"))
    children: list[subprocess.Popen] = []
    worker_log = open(RUN_DIR / f"worker-{run_id}.log", "wb")
    feed_log = open(RUN_DIR / f"feed-{run_id}.log", "wb")
    try:
        say(f"starting worker (log: {worker_log.name})")
        children.append(_child([mulewatch, "worker"], env, worker_log))
        wait_until_ready(children[-1], int(env.get("MULEWATCH_WEB_PORT", "6066")))
        feed = [
            mulewatch, "simulate", "--to-kafka", "--accounts", str(args.accounts), "--days", str(args.days),
            "--seed", str(args.seed), "--rate", str(args.rate),
        ]
        say("starting simulated feed: " + " ".join(feed[1:]))
        children.append(_child(feed, env, feed_log))
        show_alerts(env, children[-1], args.until_idle)
    except (KeyboardInterrupt, BrokenPipeError):
        say("\nstopping")
    finally:
        # Ctrl-C (or a kill) again while stopping must not leave the rest running: finish first.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        worker_log.close()
        feed_log.close()
        if not broker_was_running:
            _broker("stop")
    return 0


def say(text: str) -> None:
    """Print to the terminal; once the pipe to it is gone (``| tee`` killed by Ctrl-C), stay quiet."""
    global _quiet
    if _quiet:
        return
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _quiet = True
        # Further writes, and the interpreter's flush at exit, go nowhere instead of raising again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


_quiet = False


def _child(command: list[str], env: dict[str, str], log) -> subprocess.Popen:
    """A child in a session of its own: the terminal's Ctrl-C reaches only us, and we stop it in order."""
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _broker(command: str, check: bool = False) -> None:
    """broker.sh with its output to a log file: a write to a dead pipe must not kill it half-way."""
    with open(RUN_DIR / "broker.log", "ab") as log:
        subprocess.run([BROKER_SCRIPT, command], stdout=log, stderr=subprocess.STDOUT, check=check,
                       start_new_session=True)


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
    say("waiting for alerts (Ctrl-C to stop)")
    while True:
        for message in consumer:
            alert = orjson.loads(message.value)
            identity = (alert["alert_id"], alert["version"])
            if identity in seen:
                continue
            seen.add(identity)
            last_activity = time.monotonic()
            say(alert_line(alert))
        feed_done = feed.poll() is not None
        if until_idle and feed_done and time.monotonic() - last_activity > until_idle:
            say(f"feed finished; {len(seen)} alert versions shown")
            return


def alert_line(alert: dict) -> str:
    """One alert version on a line: when, how serious, every typology with its score (strongest
    first), the account, the version, and the reason of the strongest rule."""
    typologies = " ".join(f"{t['typology']}:{t['score']}" for t in alert["typologies"])
    strongest = max(alert["rules"], key=lambda r: r["weight"])["reason"]
    return (f"{alert['window_end'][:19]}  {alert['severity']:<8} account {alert['account_id']}  v{alert['version']:<5} "
            f"{typologies}  -- {strongest}")


if __name__ == "__main__":
    sys.exit(main())
