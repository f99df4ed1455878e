"""The detector config: one TOML file, validated by pydantic, versioned by a hash of its content.

``load_config(None)`` returns the shipped defaults (``detectors/default.toml``, the domain notes'
values). ``load_config(path)`` deep-merges the user's file onto the defaults: tables merge key by
key, any other value (number, string, array) replaces the default. So a user file can hold only the
keys it changes; to drop a rule from a typology set its weight to 0. Unknown keys and wrong values
are errors naming the key (``ConfigError``).
"""

from __future__ import annotations

import tomllib
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
from pydantic import Field, ValidationError, model_validator

from detectors.config_types import Count, Days, StrictModel
from detectors.dispositions import DispositionsConfig
from detectors.eventtime import MS_PER_HOUR
from detectors.hashing import short_id
from detectors.money import MoneyConfig
from detectors.network import NetworkConfig
from detectors.population import PopulationConfig
from detectors.rules import (
    ControlChangeOutflowConfig,
    DormantReactivationConfig,
    FanInConfig,
    FanOutConfig,
    GatherScatterConfig,
    NewAccountHeavyUseConfig,
    NewBeneficiaryPaidConfig,
    PassThroughConfig,
    RemoteAccessConfig,
    RepeatedPassThroughConfig,
    SharedIdentifierConfig,
    SimilarAmountsConfig,
    SlowFanConfig,
    StructuringConfig,
    VolumeSpikeConfig,
)
from detectors.scoring import SeverityConfig
from detectors.typologies import TypologiesConfig

if TYPE_CHECKING:
    from detectors.runtime import Runtime

DEFAULT_FILE = "default.toml"


class ConfigError(ValueError):
    """The config file is unreadable or invalid; the message names every wrong key."""


class EngineConfig(StrictModel):
    #: How far behind an account's latest event another event may be and still be applied. Must stay
    #: below the shortest rule window (an hour): order-independence relies on it.
    lateness_seconds: Annotated[float, Field(ge=0, lt=3600)]
    #: How long applied event ids are remembered, so that a redelivery older than the lateness is
    #: still recognised as a duplicate rather than reported late (capped by limits.max_seen_ids).
    remember_ids_seconds: Annotated[float, Field(ge=0, le=7 * 86400)]
    #: How far an event's own time may be ahead of when it was produced (its Kafka record time; in a
    #: replay from files, the file's own running event time). One event stamped in the far future by a
    #: client whose clock an attacker sets would otherwise move its account's clock years ahead and
    #: make every real event after it "late". Ahead by more: rejected as ``future_event_time``.
    max_future_seconds: Annotated[float, Field(gt=0, le=86400)]
    #: Days with payments the deployment must have seen of an account before a counterparty it meets
    #: counts as *new* to it (traced money, beneficiaries not yet established). Before, every
    #: counterparty is merely unknown: on a new deployment's first payday, salary in and bills out
    #: would otherwise look like money passed on to strangers.
    baseline_active_days: Annotated[int, Field(ge=0, le=365)]
    #: ... or after this many days of watching the account at all (a quiet account has few days with
    #: payments, and its reactivation must not wait for a week of them).
    baseline_watch_days: Annotated[float, Field(ge=0, le=365)]

    @model_validator(mode="after")
    def _remember_at_least_lateness(self) -> EngineConfig:
        if self.remember_ids_seconds < self.lateness_seconds:
            raise ValueError("remember_ids_seconds must be at least lateness_seconds")
        return self


class LimitsConfig(StrictModel):
    """Hard caps per key; a flood beyond them drops the oldest entries."""

    max_seen_ids: Count
    max_ledger_entries: Count
    max_counterparties: Count
    counterparty_memory_days: Days
    max_devices: Count
    max_controls: Count
    max_accesses: Count
    max_beneficiaries: Count
    max_hits: Count
    max_hits_per_rule: Count
    max_alert_episodes: Count
    max_evidence_per_hit: Annotated[int, Field(ge=1, le=50)]


class RulesConfig(StrictModel):
    pass_through: PassThroughConfig
    fan_in: FanInConfig
    fan_out: FanOutConfig
    gather_scatter: GatherScatterConfig
    repeated_pass_through: RepeatedPassThroughConfig
    dormant_reactivation: DormantReactivationConfig
    new_account_heavy_use: NewAccountHeavyUseConfig
    control_change_outflow: ControlChangeOutflowConfig
    shared_device: SharedIdentifierConfig
    shared_phone: SharedIdentifierConfig
    remote_access: RemoteAccessConfig
    new_beneficiary_paid: NewBeneficiaryPaidConfig
    similar_amounts: SimilarAmountsConfig
    volume_spike: VolumeSpikeConfig
    structuring: StructuringConfig
    slow_fan_in: SlowFanConfig
    slow_fan_out: SlowFanConfig


class DetectorConfig(StrictModel):
    engine: EngineConfig
    limits: LimitsConfig
    money: MoneyConfig
    severity: SeverityConfig
    rules: RulesConfig
    network: NetworkConfig
    dispositions: DispositionsConfig
    population: PopulationConfig
    typologies: TypologiesConfig

    @model_validator(mode="after")
    def _lateness_below_windows(self) -> DetectorConfig:
        shortest = min(
            self.rules.pass_through.high_within_minutes / 60,
            self.rules.fan_out.window_hours,
            self.rules.fan_in.window_hours,
        )
        if self.engine.lateness_seconds * 1000 >= shortest * MS_PER_HOUR:
            raise ValueError("engine.lateness_seconds must be shorter than the shortest rule window")
        return self

    @cached_property
    def version(self) -> str:
        """Short stable hash of the canonical config: stamped on every alert as config_version."""
        canonical = orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
        return short_id(canonical.decode())[:12]

    @cached_property
    def runtime(self) -> Runtime:
        from detectors.runtime import Runtime

        return Runtime(self)


def load_config(path: str | Path | None = None) -> DetectorConfig:
    """Shipped defaults, optionally overridden key by key by a user TOML file."""
    data = _read(resources.files("detectors").joinpath(DEFAULT_FILE).read_text(encoding="utf-8"), DEFAULT_FILE)
    source = DEFAULT_FILE
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read: {exc.strerror}") from exc
        data = merge(data, _read(text, source))
    try:
        return DetectorConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc)}") from exc


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: tables merge recursively, other values replace."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "config"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
