"""``make run | tee run.log`` and Ctrl-C: nothing ``make run`` started is left running.

Ctrl-C sends SIGINT to the terminal's whole foreground process group: make, the run script and
``tee``, which dies at once and leaves every later write to the pipe failing. The test starts the
same pipeline in a process group of its own on a broker port of its own, waits until the worker
runs and the feed has started, sends SIGINT to the group as a terminal would, and then looks for
every process the run had started: the broker, the worker, the feed, the script itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.faults.harness import free_port_block
from tests.stream.worker_harness import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def descendants(root: int) -> set[int]:
    """Every live process whose chain of parents leads to ``root``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_ctrl_c_on_make_run_piped_to_tee_stops_everything(tmp_path):
    port = free_port_block()
    broker_dir = tmp_path / "broker"
    env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_DATA_DIR": str(broker_dir),
           "KAFKA_HEAP_OPTS": "-Xms256m -Xmx512m", "MULEWATCH_WEB_PORT": str(free_port())}
    env.pop("MULEWATCH_BROKER", None)  # the run's own broker, on its own port
    log = tmp_path / "run.log"
    # A terminal's foreground job takes SIGINT (a test run from a script in the background inherits
    # it ignored): restore it for the pipeline, as the terminal would have it.
    shell = subprocess.Popen(["bash", "-c", f"make --no-print-directory run 2>&1 | tee {log}"], cwd=REPO, env=env,
                             start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 180
        while "starting simulated feed" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline and shell.poll() is None, log.read_text() if log.exists() else ""
            started |= descendants(shell.pid)
            time.sleep(0.5)
        time.sleep(3)  # the feed and the worker at work
        started |= descendants(shell.pid)
        broker_pid = int((broker_dir / "broker.pid").read_text())
        started.add(broker_pid)
        assert alive(broker_pid)
        os.killpg(shell.pid, signal.SIGINT)  # what Ctrl-C does to the foreground group
        shell.wait(timeout=30)
        deadline = time.monotonic() + 90
        while any(alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120] for pid in started if alive(pid)}
        assert not left, f"still running after Ctrl-C: {left}"
    finally:
        for pid in started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        subprocess.run([str(REPO / "deploy" / "kafka" / "broker.sh"), "stop"], env=env, capture_output=True)
