"""The column mapping of ``mulewatch import``: which CSV column or constant gives each event field.

A mapping is one TOML file (a shipped one such as ``amlsim``, or the bank's own), optionally
overridden by flags, validated by pydantic before any row is read. Unknown keys and wrong values are
errors naming the key (``MappingError``), because a typo in a mapping would otherwise import a whole
history with a field silently left at its default.

Sections: ``[time]`` (how event times and steps are read, shared by payments and labels so that a
misuse step and a payment step mean the same moment), ``[payments]`` and the optional ``[labels]``,
each with a ``columns`` table (field -> column name) and a ``constants`` table (field -> value).
"""

from __future__ import annotations

import codecs
import re
import tomllib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas import Channel, Method, PaymentStatus
from schemas.common import Currency, Identifier
from stream.backtest.mappings import shipped_mappings, shipped_text

#: Used when neither a column nor a constant gives the channel or method: most exports are of
#: online-banking transfers, and the detectors treat these values as the unremarkable case.
DEFAULT_CHANNEL = Channel.ONLINE
DEFAULT_METHOD = Method.TRANSFER

DEFAULT_STEP_START = datetime(2026, 1, 1, tzinfo=timezone.utc)
DEFAULT_STEP_SECONDS = 86_400

Column = Annotated[str, Field(min_length=1)]
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


class MappingError(ValueError):
    """The mapping is unreadable or invalid; the one-line message names every wrong key."""


class _Section(BaseModel):
    """A mapping table: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _one_source(columns: BaseModel, constants: BaseModel) -> None:
    """A field comes from a column or from a constant, never both: which one would win is a guess."""
    both = [name for name, value in constants if value is not None and getattr(columns, name) is not None]
    if both:
        raise ValueError(f"{', '.join(both)} given both as a column and as a constant")


def resolve_timezone(name: str) -> tzinfo:
    """``UTC``, a fixed offset ``+01:00``, or an IANA name such as ``Europe/Berlin``."""
    if name.upper() in ("UTC", "Z"):
        return timezone.utc
    match = _OFFSET.match(name)
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r} (use UTC, +HH:MM or an IANA name like Europe/Berlin)") from exc


class TimeRule(_Section):
    """How the export's times are read: ISO-8601, a strptime format, or integer steps."""

    #: strptime format of time columns; absent: ISO-8601 (``2026-03-01T12:00:00+01:00``).
    format: str | None = None
    #: Timezone given to times without one; absent: such times are rejected (they are ambiguous).
    timezone: str | None = None
    #: Step columns: step s starts at step_start + s x step_seconds.
    step_start: AwareDatetime = DEFAULT_STEP_START
    step_seconds: Annotated[int, Field(gt=0, le=366 * 86_400)] = DEFAULT_STEP_SECONDS

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            resolve_timezone(value)
        return value

    @cached_property
    def tz(self) -> tzinfo | None:
        return None if self.timezone is None else resolve_timezone(self.timezone)

    @cached_property
    def step_length(self) -> timedelta:
        return timedelta(seconds=self.step_seconds)


class _CsvFile(_Section):
    #: Name of the file inside an archive (``.tgz``, ``.tar.gz``, ``.tar``) given as the source.
    member: str | None = None
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    #: utf-8-sig reads plain UTF-8 too, and drops the byte-order mark spreadsheet tools write.
    encoding: str = "utf-8-sig"

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {value!r}") from exc
        return value


class PaymentColumns(_Section):
    event_id: Column | None = None
    event_time: Column | None = None
    step: Column | None = None
    debtor_account: Column
    creditor_account: Column
    debtor_bank: Column | None = None
    creditor_bank: Column | None = None
    debtor_customer: Column | None = None
    creditor_customer: Column | None = None
    amount: Column
    currency: Column | None = None
    channel: Column | None = None
    method: Column | None = None
    status: Column | None = None

    @model_validator(mode="after")
    def _one_time_source(self) -> PaymentColumns:
        if (self.event_time is None) == (self.step is None):
            raise ValueError("map exactly one of event_time (a time column) and step (an integer step column)")
        return self


class PaymentConstants(_Section):
    currency: Currency | None = None
    channel: Channel | None = None
    method: Method | None = None
    status: PaymentStatus | None = None
    debtor_bank: Identifier | None = None
    creditor_bank: Identifier | None = None


class PaymentValues(_Section):
    """Value maps of coded columns, e.g. ``[payments.values.channel]`` ``MOB = "mobile"``."""

    channel: dict[str, Channel] = {}
    method: dict[str, Method] = {}
    status: dict[str, PaymentStatus] = {}


class PaymentsMapping(_CsvFile):
    columns: PaymentColumns
    constants: PaymentConstants = PaymentConstants()
    values: PaymentValues = PaymentValues()
    decimal_separator: Literal[".", ","] = "."
    thousands_separator: Literal["", ",", ".", " ", "'", "_"] = ""
    #: The bank's own id as it appears in a bank column; it means the account is the bank's own.
    own_bank_id: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PaymentsMapping:
        _one_source(self.columns, self.constants)
        if self.constants.currency is None and self.columns.currency is None:
            raise ValueError("give currency as a column or as a constant")
        if self.decimal_separator == self.thousands_separator:
            raise ValueError("decimal_separator and thousands_separator must differ")
        for field, table in self.values:
            if table and getattr(self.columns, field) is None:
                raise ValueError(f"values.{field} is given but {field} is not mapped to a column")
        return self


class LabelColumns(_Section):
    account: Column
    label: Column
    typology: Column | None = None
    misuse_start: Column | None = None
    misuse_step: Column | None = None

    @model_validator(mode="after")
    def _one_start_source(self) -> LabelColumns:
        if self.misuse_start is not None and self.misuse_step is not None:
            raise ValueError("map at most one of misuse_start (a time column) and misuse_step (a step column)")
        return self


class LabelConstants(_Section):
    typology: Annotated[str, Field(min_length=1)] | None = None


class LabelsMapping(_CsvFile):
    columns: LabelColumns
    constants: LabelConstants = LabelConstants()
    #: Label column values that mean misused, and those that mean not misused; any other value is
    #: a reject, so a typo in the export never turns a mule into a clean account.
    misused_values: Annotated[list[str], Field(min_length=1)] = ["1"]
    clean_values: list[str] = ["0"]

    @model_validator(mode="after")
    def _consistent(self) -> LabelsMapping:
        _one_source(self.columns, self.constants)
        overlap = set(self.misused_values) & set(self.clean_values)
        if overlap:
            raise ValueError(f"{', '.join(sorted(overlap))} is both a misused and a clean value")
        return self


class Mapping(_Section):
    time: TimeRule = TimeRule()
    payments: PaymentsMapping
    labels: LabelsMapping | None = None


# --- loading -------------------------------------------------------------------------------------


def _read_source(spec: str) -> tuple[dict[str, Any], str]:
    """A bare name (no folder, no suffix) is a shipped mapping; anything else is a file path."""
    if "/" not in spec and "\\" not in spec and "." not in spec:
        if spec not in shipped_mappings():
            raise MappingError(f"no shipped mapping {spec!r} (shipped: {', '.join(shipped_mappings())}); "
                               "give a path to a TOML file otherwise")
        return _parse(shipped_text(spec), spec), spec
    try:
        text = Path(spec).read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"{spec}: cannot read: {exc.strerror}") from exc
    return _parse(text, spec), spec


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{source}: not valid TOML: {exc}") from exc


def _flag_value(text: str) -> Any:
    """A ``--set`` value: a TOML value when it parses as one (numbers, lists, times), else the text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


#: Fields that are alternatives: mapping one by a flag drops the other the file may have mapped.
_ALTERNATIVES = {"event_time": "step", "step": "event_time", "misuse_start": "misuse_step", "misuse_step": "misuse_start"}


def _table(data: dict[str, Any], path: Iterable[str], flag: str) -> dict[str, Any]:
    for key in path:
        value = data.setdefault(key, {})
        if not isinstance(value, dict):
            raise MappingError(f"{flag}: {key} is a value in the mapping, not a table")
        data = value
    return data


def _assign(data: dict[str, Any], section: str, kind: str, pairs: Sequence[tuple[str, str]], flag: str) -> None:
    """Put ``field=value`` pairs into ``[section.kind]`` and drop the field's other source."""
    allowed = _FLAG_TABLES[section, kind].model_fields
    other = "constants" if kind == "columns" else "columns"
    for field, value in pairs:
        if field not in allowed:
            raise MappingError(f"{flag} {field}: not a field of [{section}.{kind}] (fields: {', '.join(allowed)})")
        _table(data, (section, kind), flag)[field] = value
        _table(data, (section, other), flag).pop(field, None)
        alternative = _ALTERNATIVES.get(field)
        if alternative is not None:
            _table(data, (section, "columns"), flag).pop(alternative, None)


def load_mapping(
    spec: str | None,
    *,
    settings: Sequence[tuple[str, str]] = (),
    columns: Sequence[tuple[str, str]] = (),
    constants: Sequence[tuple[str, str]] = (),
    label_columns: Sequence[tuple[str, str]] = (),
    label_constants: Sequence[tuple[str, str]] = (),
) -> Mapping:
    """The mapping of ``spec`` (shipped name, file, or None for flags only), flags applied on top.

    ``settings`` are ``--set dotted.key=value`` pairs; the others are ``field=value`` pairs of the
    payments and labels sections. A flag for a field replaces whatever the file said about it.
    """
    data, source = _read_source(spec) if spec is not None else ({}, "flags")
    if spec is not None and (settings or columns or constants or label_columns or label_constants):
        source = f"{spec} with flags"
    for key, value in settings:
        *path, last = key.split(".")
        if not last or not all(path):
            raise MappingError(f"--set {key}: expected a dotted key such as time.step_seconds")
        _table(data, path, "--set")[last] = _flag_value(value)
    _assign(data, "payments", "columns", columns, "--column")
    _assign(data, "payments", "constants", constants, "--const")
    _assign(data, "labels", "columns", label_columns, "--label-column")
    _assign(data, "labels", "constants", label_constants, "--label-const")
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        raise MappingError(f"{source}: {describe(exc)}") from exc


_FLAG_TABLES: dict[tuple[str, str], type[BaseModel]] = {
    ("payments", "columns"): PaymentColumns,
    ("payments", "constants"): PaymentConstants,
    ("labels", "columns"): LabelColumns,
    ("labels", "constants"): LabelConstants,
}
_MESSAGES = {"extra_forbidden": "unknown key", "missing": "required key missing"}


def describe(exc: ValidationError) -> str:
    """One line: each wrong key with what is wrong, unknown keys called so."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"]) or "mapping"
        message = _MESSAGES.get(err["type"]) or err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
