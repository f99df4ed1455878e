"""``mulewatch schemas``: regenerate the checked-in JSON Schema files or check them for drift."""

from __future__ import annotations

import argparse
import sys

from schemas import generate


def configure(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate the schema files in schemas/")
    mode.add_argument("--check", action="store_true", help="exit 1 if a schema file differs from the models")


def run(args: argparse.Namespace) -> int:
    if args.write:
        for path in generate.write():
            print(f"wrote {path}")
        return 0
    stale = generate.drifted()
    if stale:
        print(
            f"schema files out of date: {', '.join(stale)}; run `mulewatch schemas --write` and review the diff",
            file=sys.stderr,
        )
        return 1
    print("schema files match the models")
    return 0
