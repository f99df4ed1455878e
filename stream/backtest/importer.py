"""Rows of a bank's CSV export -> payment events and labels, or rejects that say why.

Pure logic: rows arrive as (line number, fields) from ``import_files``, the mapping says where each
event field is, and every row either becomes one JSON line that ``schemas.parse_event`` accepts or a
``RowReject`` with a reason and a detail naming the field. Nothing here reads files or prints.

Step times: an export that counts time in integer steps (a simulator's days, say) has no time of
day, but the detectors need distinct, ordered times. Step s starts at ``step_start + s x step`` and
the rows of step s are spread evenly over it in file order: the i-th of n rows of the step gets
``start of step + i x step / n``. n counts every row of the step whose step is readable, so a row
rejected for another reason keeps its slot empty and fixing it later does not move the others. The
counts need a first pass over the file (``count_steps``) before the rows are converted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from schemas import Channel, Method, PaymentStatus, describe_validation_error, parse_event
from schemas.common import Identifier
from stream.backtest.import_mapping import DEFAULT_CHANNEL, DEFAULT_METHOD, LabelsMapping, Mapping, TimeRule


class Reason(StrEnum):
    """Why a row was rejected; the rejects file and the summary count by these."""

    BAD_CSV = "bad_csv"
    UNDECODABLE = "undecodable"
    MISSING_COLUMN = "missing_column"
    EXTRA_COLUMN = "extra_column"
    MISSING_VALUE = "missing_value"
    BAD_AMOUNT = "bad_amount"
    NON_POSITIVE_AMOUNT = "non_positive_amount"
    BAD_TIME = "bad_time"
    UNKNOWN_VALUE = "unknown_value"
    SCHEMA_VIOLATION = "schema_violation"
    DUPLICATE_EVENT_ID = "duplicate_event_id"
    BAD_ACCOUNT = "bad_account"
    BAD_LABEL = "bad_label"
    DUPLICATE_ACCOUNT = "duplicate_account"


@dataclass(frozen=True, slots=True)
class Row:
    line: int  # physical line of the file where the record starts (the header is line 1)
    fields: list[str]


@dataclass(frozen=True, slots=True)
class RowReject:
    line: int
    reason: Reason
    detail: str
    fields: list[str]


@dataclass(frozen=True, slots=True)
class ImportedEvent:
    time: datetime
    line: bytes  # the JSON event, without newline
    own_accounts: tuple[str, ...]  # the parties without a bank id: the bank's own accounts


@dataclass(frozen=True, slots=True)
class LabelRow:
    account_id: str
    label: int
    typology: str
    misuse_start: str  # ISO-8601, or empty


class MissingColumns(ValueError):
    """A mapped column is absent from the header (or named twice): no row could be converted."""


class _RowError(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
_STEP = re.compile(r"^-?[0-9]+$")
_NOT_IN_ID = re.compile(r"[^A-Za-z0-9._:@+=/#-]")
_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


def column_positions(header: list[str], columns: BaseModel, section: str, file_name: str) -> dict[str, int]:
    """Field -> position in the row, for every mapped field; MissingColumns names each missing one."""
    positions, problems = {}, []
    for name, column in columns:
        if column is None:
            continue
        found = [i for i, title in enumerate(header) if title == column]
        if len(found) == 1:
            positions[name] = found[0]
        else:
            what = "no column" if not found else f"{len(found)} columns named"
            problems.append(f"{what} {column!r} ({section}.columns.{name})")
    if problems:
        raise MissingColumns(f"{file_name}: {'; '.join(problems)}; the header is: {', '.join(header)}")
    return positions


def _check_width(fields: list[str], header: list[str]) -> None:
    if len(fields) < len(header):
        raise _RowError(Reason.MISSING_COLUMN, f"row has {len(fields)} fields, the header {len(header)}: "
                                               f"no value for column {header[len(fields)]!r}")
    if len(fields) > len(header):
        raise _RowError(Reason.EXTRA_COLUMN, f"row has {len(fields)} fields, the header only {len(header)} "
                                             "(an unquoted delimiter inside a value?)")


# --- times ---------------------------------------------------------------------------------------


def parse_time(text: str, rule: TimeRule, what: str) -> datetime:
    """A time column's value: ISO-8601 or ``rule.format``; a time without zone gets ``rule.timezone``."""
    try:
        value = datetime.strptime(text, rule.format) if rule.format else datetime.fromisoformat(text)
    except ValueError:
        expected = f"in the format {rule.format!r}" if rule.format else "an ISO-8601 time"
        raise _RowError(Reason.BAD_TIME, f"{what}: {text!r} is not {expected}") from None
    if value.tzinfo is None:
        if rule.tz is None:
            raise _RowError(Reason.BAD_TIME, f"{what}: {text!r} has no timezone (set [time] timezone in the mapping)")
        value = value.replace(tzinfo=rule.tz)
    return value


def parse_step(text: str, what: str) -> int:
    if not _STEP.match(text):
        raise _RowError(Reason.BAD_TIME, f"{what}: {text!r} is not an integer step")
    step = int(text)
    if step < 0:
        raise _RowError(Reason.BAD_TIME, f"{what}: step {step} is negative")
    return step


def step_start(rule: TimeRule, step: int) -> datetime:
    try:
        return rule.step_start + step * rule.step_length
    except OverflowError:
        raise _RowError(Reason.BAD_TIME, f"step {step} is after the year 9999") from None


def count_steps(rows: Iterable[Row | RowReject], mapping: Mapping, header: list[str], file_name: str) -> Counter[int]:
    """Rows per step, counted as ``PaymentConverter`` will take their slots: right width, readable step."""
    position = column_positions(header, mapping.payments.columns, "payments", file_name)["step"]
    counts: Counter[int] = Counter()
    for row in rows:
        if isinstance(row, Row) and len(row.fields) == len(header):
            try:
                counts[parse_step(row.fields[position].strip(), "step")] += 1
            except _RowError:
                pass  # the conversion pass rejects it with the same reason
    return counts


class _StepSpreader:
    """The next time of a step: its rows get evenly spaced times over it, in the order asked."""

    def __init__(self, rule: TimeRule, counts: Counter[int]) -> None:
        self._rule, self._counts, self._taken = rule, counts, Counter()

    def next_time(self, step: int) -> datetime:
        slot = self._taken[step]
        self._taken[step] += 1
        return step_start(self._rule, step) + self._rule.step_length * slot // self._counts[step]


# --- payments ------------------------------------------------------------------------------------


class PaymentConverter:
    """One CSV row -> one payment event line valid against the contract, or a reject."""

    def __init__(self, mapping: Mapping, header: list[str], file_name: str,
                 step_counts: Counter[int] | None = None) -> None:
        self._payments = mapping.payments
        self._rule = mapping.time
        self._header = header
        self._pos = column_positions(header, mapping.payments.columns, "payments", file_name)
        self._columns = {name: column for name, column in mapping.payments.columns if column is not None}
        if "step" in self._pos and step_counts is None:
            raise ValueError("a step-mapped export needs the rows per step: call count_steps first")
        self._steps = _StepSpreader(self._rule, step_counts) if "step" in self._pos else None
        self._id_prefix = _NOT_IN_ID.sub("_", file_name)[-100:]
        self._seen_ids: dict[str, int] | None = {} if "event_id" in self._pos else None

    def convert(self, row: Row) -> ImportedEvent | RowReject:
        try:
            return self._convert(row)
        except _RowError as err:
            return RowReject(row.line, err.reason, err.detail, row.fields)

    def _convert(self, row: Row) -> ImportedEvent:
        fields = row.fields
        _check_width(fields, self._header)
        time = self._time(fields)
        event_id = self._required(fields, "event_id") if self._seen_ids is not None else f"{self._id_prefix}:{row.line}"
        debtor, creditor = self._party(fields, "debtor"), self._party(fields, "creditor")
        event = {
            "type": "payment",
            "event_id": event_id,
            "event_time": time.isoformat(),
            "debtor": debtor,
            "creditor": creditor,
            "amount": self._amount(fields),
            "currency": self._currency(fields),
            "channel": self._coded(fields, "channel", Channel, DEFAULT_CHANNEL),
            "method": self._coded(fields, "method", Method, DEFAULT_METHOD),
        }
        status = self._coded(fields, "status", PaymentStatus, None)
        if status is not None:
            event["status"] = status
        # A copy of the exact size: orjson's own result keeps its 4 KB working buffer, which made a
        # history held in memory for sorting take 15 times its JSON size (550 MB for 118,000 events).
        line = memoryview(orjson.dumps(event)).tobytes()
        try:
            parse_event(line)
        except ValidationError as exc:
            raise _RowError(Reason.SCHEMA_VIOLATION, describe_validation_error(exc)) from None
        if self._seen_ids is not None:
            first = self._seen_ids.setdefault(event_id, row.line)
            if first != row.line:
                raise _RowError(Reason.DUPLICATE_EVENT_ID, f"event_id {event_id!r} already imported from line {first}")
        own = tuple(party["account_id"] for party in (debtor, creditor) if "bank_id" not in party)
        return ImportedEvent(time, line, own)

    def _value(self, fields: list[str], name: str) -> str:
        """The field's value, stripped; empty when the field is not mapped to a column."""
        position = self._pos.get(name)
        return "" if position is None else fields[position].strip()

    def _required(self, fields: list[str], name: str) -> str:
        value = self._value(fields, name)
        if not value:
            raise _RowError(Reason.MISSING_VALUE, f"{name}: column {self._columns[name]!r} is empty")
        return value

    def _time(self, fields: list[str]) -> datetime:
        if self._steps is None:
            return parse_time(self._required(fields, "event_time"), self._rule, "event_time")
        return self._steps.next_time(parse_step(self._required(fields, "step"), "step"))

    def _party(self, fields: list[str], side: str) -> dict[str, str]:
        party = {"account_id": self._required(fields, f"{side}_account")}
        bank = getattr(self._payments.constants, f"{side}_bank") or self._value(fields, f"{side}_bank")
        if bank and bank != self._payments.own_bank_id:
            party["bank_id"] = bank
        customer = self._value(fields, f"{side}_customer")
        if customer:
            party["customer_id"] = customer
        return party

    def _amount(self, fields: list[str]) -> str:
        text = self._required(fields, "amount")
        plain = text.replace(self._payments.thousands_separator, "") if self._payments.thousands_separator else text
        plain = plain.replace(self._payments.decimal_separator, ".")
        if not _NUMBER.match(plain):
            raise _RowError(Reason.BAD_AMOUNT, f"amount: {text!r} is not a number "
                                               f"(decimal separator {self._payments.decimal_separator!r})")
        value = Decimal(plain)
        if value <= 0:
            raise _RowError(Reason.NON_POSITIVE_AMOUNT, f"amount: {text} is not positive "
                                                        "(the direction of a payment is its debtor and creditor)")
        return format(value, "f")

    def _currency(self, fields: list[str]) -> str:
        constant = self._payments.constants.currency
        return constant if constant is not None else self._required(fields, "currency").upper()

    def _coded(self, fields: list[str], name: str, allowed: type[StrEnum], default: StrEnum | None) -> str | None:
        """A constant, else the column's value through its value map; empty means the default."""
        constant = getattr(self._payments.constants, name)
        if constant is not None:
            return constant.value
        if name not in self._pos:
            return None if default is None else default.value
        raw = self._value(fields, name)
        table = getattr(self._payments.values, name)
        if raw in table:
            return table[raw].value
        if not raw:
            return None if default is None else default.value
        if raw in list(allowed):  # a StrEnum member equals its value
            return raw
        raise _RowError(Reason.UNKNOWN_VALUE, f"{name}: {raw!r} is neither in [payments.values.{name}] nor one of "
                                              f"{', '.join(m.value for m in allowed)}")


@dataclass
class Tally:
    """What happened to the rows of one file."""

    rows: int = 0
    written: int = 0
    rejects: Counter[str] = field(default_factory=Counter)
    sorted_in_memory: bool = False


def _converted(rows: Iterable[Row | RowReject], convert: Callable[[Row], object], tally: Tally,
               on_reject: Callable[[RowReject], None]) -> Iterator:
    """The converted rows; rejects (the reader's and the converter's) counted and handed to on_reject."""
    for row in rows:
        tally.rows += 1
        result = row if isinstance(row, RowReject) else convert(row)
        if isinstance(result, RowReject):
            tally.rejects[result.reason] += 1
            on_reject(result)
        else:
            tally.written += 1
            yield result


def convert_payments(rows: Iterable[Row | RowReject], converter: PaymentConverter, tally: Tally,
                     on_reject: Callable[[RowReject], None]) -> list[ImportedEvent]:
    """Every row converted or rejected; the events in event-time order (stable: ties keep file order).

    The events are held in memory either way; they are sorted only when the file was not in order.
    """
    events: list[ImportedEvent] = []
    latest: datetime | None = None
    for event in _converted(rows, converter.convert, tally, on_reject):
        if latest is None or event.time >= latest:
            latest = event.time
        else:
            tally.sorted_in_memory = True
        events.append(event)
    if tally.sorted_in_memory:
        events.sort(key=attrgetter("time"))
    return events


def convert_labels(rows: Iterable[Row | RowReject], converter: LabelConverter, tally: Tally,
                   on_reject: Callable[[RowReject], None]) -> list[LabelRow]:
    """Every labels row converted or rejected, in file order."""
    return list(_converted(rows, converter.convert, tally, on_reject))


# --- labels --------------------------------------------------------------------------------------


class LabelConverter:
    """One row of the bank's labels export -> one row of the project's labels CSV, or a reject."""

    def __init__(self, labels: LabelsMapping, rule: TimeRule, header: list[str], file_name: str) -> None:
        self._labels, self._rule, self._header = labels, rule, header
        self._pos = column_positions(header, labels.columns, "labels", file_name)
        self._misused, self._clean = set(labels.misused_values), set(labels.clean_values)
        self._labelled: dict[str, int] = {}  # account -> line of its label
        self._rejected: set[str] = set()

    @property
    def withheld(self) -> set[str]:
        """Accounts with only rejected rows: they must not come back as label 0 from the payments."""
        return self._rejected - self._labelled.keys()

    def convert(self, row: Row) -> LabelRow | RowReject:
        account = ""
        try:
            _check_width(row.fields, self._header)
            account = self._value(row.fields, "account")
            return self._convert(row, account)
        except _RowError as err:
            if account:
                self._rejected.add(account)
            return RowReject(row.line, err.reason, err.detail, row.fields)

    def _convert(self, row: Row, account: str) -> LabelRow:
        fields = row.fields
        if not account:
            raise _RowError(Reason.MISSING_VALUE, f"account: column {self._labels.columns.account!r} is empty")
        try:
            _IDENTIFIER.validate_python(account)
        except ValidationError:
            raise _RowError(Reason.BAD_ACCOUNT, f"account: {account!r} is not an account id (1 to 128 of "
                                                "A-Z a-z 0-9 . _ : @ + = / # -)") from None
        if account in self._labelled:
            raise _RowError(Reason.DUPLICATE_ACCOUNT, f"account {account!r} already labelled on line {self._labelled[account]}")
        raw = self._value(fields, "label")
        if raw in self._misused:
            label = 1
        elif raw in self._clean:
            label = 0
        else:
            raise _RowError(Reason.BAD_LABEL, f"label: {raw!r} is neither a misused value "
                                              f"({', '.join(self._labels.misused_values)}) nor a clean value "
                                              f"({', '.join(self._labels.clean_values) or 'none given'})")
        typology = (self._labels.constants.typology or self._value(fields, "typology")) if label else ""
        converted = LabelRow(account, label, typology, self._misuse_start(fields))
        self._labelled[account] = row.line
        return converted

    def _value(self, fields: list[str], name: str) -> str:
        position = self._pos.get(name)
        return "" if position is None else fields[position].strip()

    def _misuse_start(self, fields: list[str]) -> str:
        """Empty when unknown; a step is the start of that step (a negative step means none)."""
        if "misuse_step" in self._pos:
            text = self._value(fields, "misuse_step")
            if not text or _STEP.match(text) and int(text) < 0:
                return ""
            return step_start(self._rule, parse_step(text, "misuse_step")).isoformat()
        text = self._value(fields, "misuse_start")
        return parse_time(text, self._rule, "misuse_start").isoformat() if text else ""


def complete_labels(labelled: list[LabelRow], own_accounts: Iterable[str], withheld: set[str]) -> tuple[list[LabelRow], int]:
    """The labels file's rows, then every own account of the payments it lacks as label 0.

    Accounts with a bank id are not the bank's and get no label; accounts whose label row was
    rejected stay unlabelled rather than pass as clean. Returns (rows, accounts added).
    """
    known = {row.account_id for row in labelled} | withheld
    added = [LabelRow(account, 0, "", "") for account in dict.fromkeys(own_accounts) if account not in known]
    return labelled + added, len(added)
