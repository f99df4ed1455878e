"""Files of ``mulewatch import``: the CSV exports in (plain, gzip, or a tar archive's member), the
events JSONL, labels CSV and rejects file out.

A source is either a CSV file (gzip recognised by its magic bytes) or one member of a tar archive
(``.tgz``, ``.tar.gz``, ``.tar``) picked by its file name, so a vendor's sample can be imported
without unpacking it. Outputs are written under a temporary name and renamed when complete, so a
failed import never leaves a half-written events or labels file behind.
"""

from __future__ import annotations

import csv
import io
import os
import tarfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import orjson

from stream.backtest.importer import ImportedEvent, LabelRow, Reason, Row, RowReject
from stream.backtest.simulation.writer import open_output, write_labels
from stream.replay import open_maybe_gzip

ARCHIVE_SUFFIXES = (".tgz", ".tar.gz", ".tar")


class InputError(ValueError):
    """The input cannot be used at all (missing file, no such archive member, no header)."""


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


@dataclass(frozen=True)
class CsvSource:
    path: Path
    member: str | None = None  # path inside the archive, when ``path`` is one

    @property
    def name(self) -> str:
        """What rejects and derived event ids call it: the file name, not where it happens to lie."""
        return self.path.name if self.member is None else f"{self.path.name}/{self.member}"

    @contextmanager
    def open(self, encoding: str) -> Iterator[IO[str]]:
        """Text with undecodable bytes kept as surrogates, so that one bad row is a reject, not a crash."""
        if self.member is None:
            raw = open_maybe_gzip(self.path)
            archive = None
        else:
            archive = tarfile.open(self.path)
            raw = archive.extractfile(self.member)
        try:
            with io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="") as text:
                yield text
        finally:
            if archive is not None:
                archive.close()


def csv_source(path: Path, member: str | None, role: str) -> CsvSource:
    """The CSV at ``path``, or the archive member whose file name is ``member``."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if not is_archive(path):
        return CsvSource(path)
    if member is None:
        raise InputError(f"{path} is an archive but the mapping names no {role} member ([{role}] member = ...)")
    try:
        with tarfile.open(path) as archive:
            names = [m.name for m in archive.getmembers() if m.isfile()]
    except (tarfile.TarError, OSError) as exc:
        raise InputError(f"{path}: not a readable tar archive: {exc}") from exc
    found = [name for name in names if name == member or name.endswith("/" + member)]
    if len(found) != 1:
        what = "no member" if not found else f"{len(found)} members"
        raise InputError(f"{path}: {what} named {member!r} (members: {', '.join(names)})")
    return CsvSource(path, found[0])


def _records(source: CsvSource, delimiter: str, encoding: str) -> Iterator[Row | RowReject]:
    """Every record with the line it starts on; blank lines are skipped, broken records rejected."""
    try:
        with source.open(encoding) as text:
            reader = csv.reader(text, delimiter=delimiter)
            line = 1
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield RowReject(line, Reason.BAD_CSV, str(exc), [])
                else:
                    if fields:
                        yield _checked(Row(line, fields), encoding)
                line = reader.line_num + 1
    except (OSError, EOFError, tarfile.TarError) as exc:  # truncated or corrupt compressed data
        raise InputError(f"{source.name}: cannot read: {exc}") from exc


def _checked(row: Row, encoding: str) -> Row | RowReject:
    for column, value in enumerate(row.fields, start=1):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return RowReject(row.line, Reason.UNDECODABLE, f"field {column} has bytes that are not {encoding}", row.fields)
    return row


def read_header(source: CsvSource, delimiter: str, encoding: str) -> list[str]:
    """The column names of the first record."""
    for first in _records(source, delimiter, encoding):
        if isinstance(first, RowReject):
            raise InputError(f"{source.name}: the header line is unreadable: {first.detail}")
        return [title.strip() for title in first.fields]
    raise InputError(f"{source.name}: the file is empty (no header line)")


def read_rows(source: CsvSource, delimiter: str, encoding: str) -> Iterator[Row | RowReject]:
    """The records after the header."""
    records = _records(source, delimiter, encoding)
    next(records, None)
    yield from records


class RejectsFile:
    """One JSON object per rejected row: file, line, reason, detail and the row's fields as read.

    Always written, empty when nothing was rejected, so a stale file of an earlier run never remains.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(path, "wb")

    def write(self, file_name: str, reject: RowReject) -> None:
        record = {"file": file_name, "line": reject.line, "reason": reject.reason.value, "detail": reject.detail,
                  "row": [_printable(value) for value in reject.fields]}
        self._handle.write(orjson.dumps(record) + b"\n")

    def close(self) -> None:
        self._handle.close()


def _printable(value: str) -> str:
    """A field with undecodable bytes shown with replacement characters (JSON cannot hold them)."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it when the block completes, removed otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.partial{path.suffix}")  # same suffix: .gz still means gzip
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def write_events(path: Path, events: Iterable[ImportedEvent]) -> None:
    """One JSON event a line; ``.gz`` is gzip with fixed header fields, so same input, same bytes."""
    with _replacing(path) as tmp:
        handle, raw = open_output(tmp)
        try:
            for event in events:
                handle.write(event.line + b"\n")
        finally:
            handle.close()
            if raw is not None:
                raw.close()


def write_label_rows(path: Path, rows: Iterable[LabelRow]) -> None:
    """The labels CSV ``evaluate`` reads: account_id,label,typology,misuse_start."""
    with _replacing(path) as tmp:
        write_labels(tmp, ((r.account_id, r.label, r.typology, r.misuse_start) for r in rows))
