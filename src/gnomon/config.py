"""Settings from ``gnomon.yaml`` and ``GNOMON_*`` environment variables.

Precedence: explicit arguments > environment (``GNOMON_ENGINE__THREADS=4``) > ``gnomon.yaml`` >
defaults. ``GNOMON_CATALOG_URL`` is accepted as a shorthand for ``GNOMON_CATALOG__URL`` because it
is the one setting people set by hand most.

The sections live here rather than in each capability's package: the base layer may not import
capabilities (see docs/decisions/0002-settings-sections-in-base.md).
"""

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from gnomon.errors import ConfigError

__all__ = [
    "CONFIG_FILE",
    "CatalogConfig",
    "EngineConfig",
    "IngestConfig",
    "InsightsConfig",
    "LakeConfig",
    "Settings",
    "load_settings",
]

CONFIG_FILE = "gnomon.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CatalogConfig(_Section):
    """Where metadata lives: a SQLAlchemy URL, or ``None`` for SQLite in ``<data_dir>``."""

    url: str | None = None
    echo: bool = False
    change_interval_s: float = Field(default=1.0, ge=0, le=3600)
    """How soon a change made by another process (a revoked key, a new policy) is seen; this
    process's own changes are seen at once. 0 reads the change generations on every use."""


class LakeConfig(_Section):
    """Where Delta tables live: a path or object-store URI, or ``None`` for ``<data_dir>/lake``."""

    root: str | None = None
    storage_options: dict[str, str] = Field(default_factory=dict)


class SparkConfig(_Section):
    """Spark, for metric queries with ``--engine spark`` (see docs/engine-spark.md)."""

    master: str = "local[2]"
    """``local[n]``, ``spark://host:7077``, ``yarn``, ``k8s://…``."""
    app_name: str = "gnomon"
    conf: dict[str, str] = Field(default_factory=dict)
    """Any Spark settings, e.g. ``spark.driver.memory: 4g``."""


class PostgresEngineConfig(_Section):
    """PostgreSQL, for metric queries with ``--engine postgres`` (see docs/engine-postgres.md).

    Each table version a query reads is copied into ``schema`` once, then reused.
    """

    url: str | None = None
    """e.g. ``postgresql://gnomon@db:5432/analytics``; unset, the engine is not offered."""
    schema_name: str = Field(default="gnomon_engine", alias="schema")
    statement_timeout_s: float = Field(default=300.0, gt=0)


class EngineConfig(_Section):
    """The query engine and its limits."""

    name: Literal["duckdb", "spark", "postgres"] = "duckdb"
    """The engine metric queries run on unless a query names one."""
    spark: SparkConfig = Field(default_factory=SparkConfig)
    postgres: PostgresEngineConfig = Field(default_factory=PostgresEngineConfig)
    threads: int | None = Field(default=None, ge=1)
    memory_limit: str | None = "640MB"
    """DuckDB's memory budget; beyond it, sorts, joins and scratch results spill to
    ``<data_dir>/tmp``. ``None`` lets DuckDB take 80 % of the machine's memory. The default
    keeps a load of a 3 GB file under 1.5 GB in all (the budget plus about 0.6 GB for the
    process, the file reader and the Parquet writer); 1GB took it to 1.7 GB."""
    max_result_rows: int = Field(default=1_000_000, ge=1)


class IngestConfig(_Section):
    """How files are read: rows per batch bound the memory a load needs."""

    batch_rows: int = Field(default=250_000, ge=1_000)
    block_size_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024)
    """Bytes of text parsed at a time; one record must fit. Reading a CSV holds several
    blocks' worth of buffers, so 16 MiB blocks cost about 0.9 GB where 4 MiB cost 0.4 GB."""


class InsightsConfig(_Section):
    """How scans and forecasts run (docs/insights.md); per metric, see its ``monitor`` block."""

    max_points: int = Field(default=1_000, ge=16)
    """The most recent buckets of a series a scan judges; older ones are left out."""
    workers: int | None = Field(default=None, ge=1)
    """Processes scoring series in parallel; ``None``: one per core. Below
    ``parallel_from`` series a scan scores them in its own process."""
    parallel_from: int = Field(default=200, ge=1)
    retrain_after_days: float = Field(default=7.0, gt=0)
    """A forecaster fitted longer ago than this is fitted again on the next forecast."""


class IssuerSettings(_Section):
    """An OIDC provider whose bearer tokens are accepted."""

    issuer: str
    audience: str
    jwks_url: str
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    tenant_claim: str = "tenant"
    user_claim: str = "sub"
    roles_claim: str = "roles"
    attribute_claims: list[str] = Field(default_factory=list)
    allowed_tenants: list[str] | None = None


class DevIssuerSettings(_Section):
    """The built-in development token issuer: off unless enabled."""

    enabled: bool = False
    ttl_s: int = Field(default=8 * 3600, ge=60)


class AuthConfig(_Section):
    """Who may call the API: OIDC issuers and, for development, the built-in issuer."""

    issuers: list[IssuerSettings] = Field(default_factory=list)
    dev_issuer: DevIssuerSettings = Field(default_factory=DevIssuerSettings)


class ApiConfig(_Section):
    """The REST API server and its per-tenant limits."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    requests_per_minute: int = Field(default=1200, ge=1)
    """Per tenant; beyond it requests get 429 with Retry-After."""
    concurrent_queries: int = Field(default=4, ge=1)
    """Per tenant: SQL and metric queries running at once; beyond it 429."""
    max_rows: int = Field(default=100_000, ge=1)
    """The most rows one API query returns."""


class Settings(BaseSettings):
    """The root of all settings. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="GNOMON_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    project_dir: Path = Path()
    data_dir: Path | None = None
    environment: Literal["development", "production"] = "development"
    tenant: str = "default"
    catalog: CatalogConfig = Field(default_factory=CatalogConfig)
    lake: LakeConfig = Field(default_factory=LakeConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    insights: InsightsConfig = Field(default_factory=InsightsConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],  # noqa: ARG003
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments beat the environment; the YAML file arrives as init arguments underneath."""
        return (init_settings, env_settings)

    @property
    def resolved_data_dir(self) -> Path:
        """The folder holding the catalog database and the lake unless configured elsewhere."""
        data_dir = self.data_dir or Path(".gnomon")
        return data_dir if data_dir.is_absolute() else (self.project_dir / data_dir).resolve()

    @property
    def catalog_url(self) -> str:
        """The SQLAlchemy URL of the catalog."""
        if self.catalog.url:
            return self.catalog.url
        return f"sqlite:///{self.resolved_data_dir / 'catalog.db'}"

    @property
    def lake_root(self) -> str:
        """The lake's root path or URI."""
        if self.lake.root:
            if "://" in self.lake.root or Path(self.lake.root).is_absolute():
                return self.lake.root
            return str((self.project_dir / self.lake.root).resolve())
        return str(self.resolved_data_dir / "lake")


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{path} is not valid YAML: {exc}", hint="Fix the syntax error.", file=str(path)
        ) from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(
            f"{path} must hold a mapping of settings, not {type(loaded).__name__}.",
            hint="Start the file with keys such as 'catalog:' or 'lake:'.",
            file=str(path),
        )
    return loaded


def load_settings(project_dir: Path | str = ".", **overrides: Any) -> Settings:
    """Read the project's settings.

    Raises:
        ConfigError: a value is wrong; the message names the key path and its source.
    """
    project = Path(project_dir).resolve()
    config_path = project / CONFIG_FILE
    values = _read_yaml(config_path)
    shorthand = os.environ.get("GNOMON_CATALOG_URL")
    if shorthand and "GNOMON_CATALOG__URL" not in os.environ:
        values.setdefault("catalog", {})
        values["catalog"] = {**values["catalog"], "url": shorthand}
    values.update(overrides)
    values["project_dir"] = project
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(part) for part in err["loc"])
            env_name = "GNOMON_" + "__".join(str(p).upper() for p in err["loc"])
            source = (
                f"environment variable {env_name}"
                if env_name in os.environ
                else f"{config_path.name}"
            )
            problems.append(f"{key} ({source}): {err['msg']}")
        raise ConfigError(
            "Invalid settings: " + "; ".join(problems) + ".",
            hint=f"Correct the value in {config_path} or the environment.",
            problems=problems,
        ) from exc
