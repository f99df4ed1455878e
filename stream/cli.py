"""The ``mulewatch`` command: one sub-command per entry point, each in a module of its own.

Sub-command modules are imported only when chosen, so ``mulewatch --help`` stays fast and a
command's heavy dependencies (Faust, matplotlib) load only for the command that needs them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: sub-command name -> (module with ``configure(parser)`` and ``run(args) -> int``, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "schemas": ("stream.schemas_cmd", "write or check the JSON Schema files of the event/alert contract"),
    "simulate": ("stream.backtest.simulate_cmd", "generate a labelled, deterministic event history of a simulated bank"),
    "import": ("stream.backtest.import_cmd", "turn a bank's CSV export (and its labels) into event JSONL for replay and evaluate"),
    "evaluate": ("stream.backtest.evaluate_cmd", "precision, recall, workload and time to detect of alerts against labels"),
    "replay": ("stream.replay_cmd", "run historical events through the detectors, or republish them to the input topics"),
    "worker": ("stream.worker_cmd", "run the streaming worker: Kafka in, detectors, alerts out"),
    "cases": ("stream.cases_cmd", "one line per account with its current alert, from a file or following the alert topic"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mulewatch",
        description="Streaming detector of rented, lent and sold bank accounts (money-mule accounts).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        command_parser.set_defaults(_module=module_name)
        _module(module_name).configure(command_parser)
    return parser


def _module(name: str):
    return importlib.import_module(name)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
