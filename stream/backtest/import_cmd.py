"""``mulewatch import``: a bank's CSV export -> the event JSONL ``replay`` reads, and the labels CSV.

The column mapping comes from a TOML file or a shipped name (``--mapping amlsim``), with flags on
top. Bad rows go to a rejects file with their line and reason and the import goes on; only unusable
input (a missing file, an invalid mapping, a mapped column absent from the header) stops it, with
exit code 1 (input) or 2 (mapping and flags). Events are written in event-time order.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from stream.backtest import import_files as files
from stream.backtest import importer
from stream.backtest.import_mapping import Mapping, MappingError, load_mapping
from stream.backtest.mappings import shipped_mappings
from stream.progress import Progress

_SHOWN_REJECTS = 20


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path,
                        help="the payments CSV export (plain or gzip), or a tar archive (.tgz, .tar.gz, .tar) holding it "
                             "as the mapping's [payments] member")
    parser.add_argument("--mapping", metavar="NAME|FILE",
                        help=f"a shipped mapping ({', '.join(shipped_mappings())}) or a TOML file; the flags below override it")
    parser.add_argument("--out", type=Path, required=True,
                        help="events JSONL to write, one payment a line in event-time order (.gz: gzip)")
    parser.add_argument("--labels", type=Path,
                        help="labels CSV to write (account_id,label,typology,misuse_start); needs a [labels] mapping")
    parser.add_argument("--labels-from", type=Path, metavar="FILE",
                        help="the bank's labels export (default: the archive's [labels] member when SOURCE is an archive)")
    parser.add_argument("--rejects", type=Path, help="rejected rows, JSONL (default: <out>.rejects.jsonl)")
    parser.add_argument("--column", type=_pair, action="append", default=[], metavar="FIELD=COLUMN",
                        help="a payment field from a column, e.g. debtor_account=sourceNodeId (repeatable)")
    parser.add_argument("--const", type=_pair, action="append", default=[], metavar="FIELD=VALUE",
                        help="a payment field as a constant, e.g. currency=EUR (repeatable)")
    parser.add_argument("--label-column", type=_pair, action="append", default=[], metavar="FIELD=COLUMN",
                        help="a labels field from a column, e.g. account=nodeid (repeatable)")
    parser.add_argument("--label-const", type=_pair, action="append", default=[], metavar="FIELD=VALUE",
                        help="a labels field as a constant: typology=NAME (repeatable)")
    parser.add_argument("--step-start", metavar="TIME",
                        help="start of step 0 of step columns, ISO-8601 with timezone (default: the mapping's, "
                             "else 2026-01-01T00:00:00Z)")
    parser.add_argument("--set", type=_pair, action="append", default=[], metavar="KEY=VALUE",
                        help="any other mapping key, dotted, e.g. time.step_seconds=3600, payments.delimiter=';', "
                             "payments.values.channel.MOB=mobile (repeatable)")


def _usage(message: str) -> int:
    print(f"import: {message}", file=sys.stderr)
    return 2


@dataclass
class _Input:
    """One CSV to convert: where it is, how it is written, and the converter built from its header."""

    source: files.CsvSource
    delimiter: str
    encoding: str
    converter: importer.PaymentConverter | importer.LabelConverter

    def rows(self) -> Iterator[importer.Row | importer.RowReject]:
        return files.read_rows(self.source, self.delimiter, self.encoding)


def _payments_input(args: argparse.Namespace, mapping: Mapping) -> _Input:
    """Checks the header against the mapping before the long pass; counts the rows per step if needed."""
    section = mapping.payments
    source = files.csv_source(args.source, section.member, "payments")
    header = files.read_header(source, section.delimiter, section.encoding)
    steps = None
    if section.columns.step is not None:
        steps = importer.count_steps(files.read_rows(source, section.delimiter, section.encoding), mapping, header,
                                     source.name)
    return _Input(source, section.delimiter, section.encoding,
                  importer.PaymentConverter(mapping, header, source.name, steps))


def _labels_input(args: argparse.Namespace, mapping: Mapping) -> _Input:
    section = mapping.labels
    source = files.csv_source(args.labels_from or args.source, section.member, "labels")
    header = files.read_header(source, section.delimiter, section.encoding)
    return _Input(source, section.delimiter, section.encoding,
                  importer.LabelConverter(section, mapping.time, header, source.name))


class _Rejects:
    """Every reject to the rejects file; the first few on stderr too, so a wrong mapping shows at once."""

    def __init__(self, path: Path) -> None:
        self.path, self.count = path, 0
        self._file = files.RejectsFile(path)

    def of(self, file_name: str) -> Callable[[importer.RowReject], None]:
        def write(reject: importer.RowReject) -> None:
            self._file.write(file_name, reject)
            self.count += 1
            if self.count <= _SHOWN_REJECTS:
                print(f"import: rejected {file_name}:{reject.line}: {reject.reason}: {reject.detail}", file=sys.stderr)
        return write

    def close(self) -> None:
        self._file.close()
        if self.count > _SHOWN_REJECTS:
            print(f"import: ... {self.count - _SHOWN_REJECTS} more rejects", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    if args.mapping is None and not args.column:
        return _usage("give --mapping NAME|FILE, or the columns with --column FIELD=COLUMN")
    settings = [*args.set, *([("time.step_start", args.step_start)] if args.step_start else [])]
    try:
        mapping = load_mapping(args.mapping, settings=settings, columns=args.column, constants=args.const,
                               label_columns=args.label_column, label_constants=args.label_const)
    except MappingError as exc:
        return _usage(str(exc))
    if args.labels is None and args.labels_from is not None:
        return _usage("--labels-from needs --labels, the file to write")
    if args.labels is not None and mapping.labels is None:
        return _usage("--labels needs a [labels] section in the mapping (or --label-column account=... label=...)")
    if args.labels is not None and args.labels_from is None and not files.is_archive(args.source):
        return _usage("--labels needs --labels-from FILE, the bank's labels export (or an archive as SOURCE)")

    started = time.perf_counter()
    try:
        payments = _payments_input(args, mapping)
        labels = _labels_input(args, mapping) if args.labels is not None else None
    except (files.InputError, importer.MissingColumns) as exc:
        print(f"import: {exc}", file=sys.stderr)
        return 1

    rejects = _Rejects(args.rejects or args.out.with_name(args.out.name + ".rejects.jsonl"))
    tally, label_tally = importer.Tally(), importer.Tally()
    label_rows: list[importer.LabelRow] = []
    added = 0
    try:
        with Progress("import") as progress:
            events = importer.convert_payments(_counting(payments.rows(), progress.update), payments.converter,
                                               tally, rejects.of(payments.source.name))
        if labels is not None:
            labelled = importer.convert_labels(labels.rows(), labels.converter, label_tally,
                                               rejects.of(labels.source.name))
            label_rows, added = importer.complete_labels(labelled, (a for e in events for a in e.own_accounts),
                                                         labels.converter.withheld)
        files.write_events(args.out, events)
        if labels is not None:
            files.write_label_rows(args.labels, label_rows)
    except files.InputError as exc:
        print(f"import: {exc}; no events or labels written", file=sys.stderr)
        return 1
    finally:
        rejects.close()
    elapsed = time.perf_counter() - started

    print(f"import: {payments.source.name}: {tally.rows:,} rows, {tally.written:,} events written, {_rejects(tally)} "
          f"in {elapsed:.1f}s -> {args.out}" + (" [sorted in memory by event time]" if tally.sorted_in_memory else ""),
          file=sys.stderr)
    if mapping.payments.columns.step is not None:
        print(f"import: step s starts at {mapping.time.step_start.isoformat()} + s x {mapping.time.step_seconds} s; "
              "the rows of a step are spread evenly over it in file order", file=sys.stderr)
    if labels is not None:
        misused = sum(row.label for row in label_rows)
        print(f"import: {labels.source.name}: {label_tally.rows:,} rows, {_rejects(label_tally)}; {len(label_rows):,} "
              f"accounts labelled ({misused:,} misused, {added:,} from the payments as label 0) -> {args.labels}",
              file=sys.stderr)
        withheld = len(labels.converter.withheld)
        if withheld:
            print(f"import: {withheld:,} accounts left unlabelled because their label row was rejected", file=sys.stderr)
    if rejects.count:
        print(f"import: rejects written to {rejects.path}", file=sys.stderr)
    if tally.rows and not tally.written:
        print("import: every row was rejected; check the mapping against the rejects file", file=sys.stderr)
    return 0


def _counting(rows: Iterable, update: Callable[[int], None], every: int = 2000) -> Iterator:
    """The rows unchanged, reported to the progress bar every ``every`` rows."""
    pending = 0
    for row in rows:
        yield row
        pending += 1
        if pending == every:
            update(pending)
            pending = 0
    if pending:
        update(pending)


def _rejects(tally: importer.Tally) -> str:
    if not tally.rejects:
        return "0 rejects"
    reasons = ", ".join(f"{reason} {count:,}" for reason, count in sorted(tally.rejects.items()))
    return f"{sum(tally.rejects.values()):,} rejects ({reasons})"
