"""Worker, replay and simulate settings: environment variables (``MULEWATCH_*``) overridden by flags.

The detector thresholds live in their own TOML file (``MULEWATCH_CONFIG``); this object holds only
where things run: broker, topics, partitions, data dir, web port and client security.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TopicName = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")]


class Topics(BaseModel):
    """Kafka topic names. Inputs are keyed by account id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    payments: TopicName = "payments"
    account_events: TopicName = "account-events"
    alerts: TopicName = "mule-alerts"
    dlq: TopicName = "mulewatch-dlq"
    #: Analysts' decisions on alerts, written by case management (``schemas.Disposition``).
    dispositions: TopicName = "mule-dispositions"


class SecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class Security(BaseModel):
    """Client security. The password comes from the environment or a file, never from a flag."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    cafile: Path | None = None

    def resolved_password(self) -> str | None:
        """The password from ``password`` or, failing that, the first line of ``password_file``."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip()
        return None


class Settings(BaseSettings):
    """Where mulewatch runs. Every field can be set as ``MULEWATCH_<FIELD>`` (nested: ``__``)."""

    model_config = SettingsConfigDict(
        env_prefix="MULEWATCH_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    broker: str = "kafka://127.0.0.1:9092"
    app_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")] = "mulewatch"
    topics: Topics = Topics()
    partitions: Annotated[int, Field(ge=1, le=1024)] = 8
    replication_factor: Annotated[int, Field(ge=1, le=10)] = 1
    data_dir: Path = Path("data")
    web_port: Annotated[int, Field(ge=1, le=65535)] = 6066
    web_bind: str = "127.0.0.1"
    config: Path | None = None
    max_message_bytes: Annotated[int, Field(ge=1024)] = 1_000_000
    reorder_buffer_max: Annotated[int, Field(ge=100)] = 200_000
    rocksdb_write_buffer_mb: Annotated[int, Field(ge=1, le=1024)] = 8
    rocksdb_block_cache_mb: Annotated[int, Field(ge=1, le=8192)] = 8
    watermark_interval_s: Annotated[float, Field(gt=0, le=60)] = 0.2
    watermark_refresh_s: Annotated[float, Field(gt=0, le=600)] = 5.0
    idle_partition_s: Annotated[float, Field(ge=0, le=3600)] = 2.0
    security: Security = Security()

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        for url in value.split(";"):
            scheme, sep, rest = url.partition("://")
            if not sep or scheme != "kafka" or ":" not in rest:
                raise ValueError(f"broker must look like kafka://host:port, got {url!r}")
        return value

    @model_validator(mode="after")
    def _config_file_exists(self) -> "Settings":
        if self.config is not None and not self.config.is_file():
            raise ValueError(f"detector config file {self.config} does not exist")
        return self

    @property
    def bootstrap_servers(self) -> list[str]:
        """``host:port`` entries for plain Kafka clients (kafka-python, aiokafka)."""
        return [url.partition("://")[2] for url in self.broker.split(";")]


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with flag values (``None`` means "not given") on top."""
    given = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**given)


def kafka_python_security(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python clients matching the configured security."""
    sec = settings.security
    kwargs: dict[str, Any] = {"security_protocol": sec.protocol.value}
    if sec.protocol in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL) and sec.cafile:
        kwargs["ssl_cafile"] = str(sec.cafile)
    if sec.protocol in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL):
        kwargs.update(
            sasl_mechanism=sec.sasl_mechanism,
            sasl_plain_username=sec.username,
            sasl_plain_password=sec.resolved_password(),
        )
    return kwargs
