"""The one place that reads the environment: which deployment this is and where things live.

``LAKEHOUSE_ENV`` = ``local`` (default: embedded services under ``UNMOGROWP_HOME``) or
``staging``/``prod`` (real services; connection details and secrets from environment variables).
Every variable is named once, as the alias of the field it sets (:class:`Settings` and the nested
:class:`ClickHouseSettings`, :class:`SparkSettings`, :class:`S3Settings`); empty counts as unset.
The rest of the code gets these values as arguments and never reads the environment itself.

The first hourly/daily partition (UTC date): ``UNMOGROWP_PARTITIONS_START`` (YYYY-MM-DD) when set.
Unset, locally: the earliest ``dt=`` of the landing directory (``events/app_id=*/dt=*`` and
``cost/media_source=*/dt=*``, listed two levels deep, nothing read), so any history runs as landed;
an S3 or empty landing zone, and staging/prod, use 2026-09-01. Processes started for a
:class:`Settings` get the resolved date (:func:`settings_environ`), so the Dagster code server and
its run workers agree with the command that started them; ``dagster dev`` resolves it from the
landing zone it reads: set the variable to pin it when processes read different landing zones.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from unmogrowp.privacy import RAW_DAYS, SILVER_DAYS
from unmogrowp.privacy.keys import DEFAULT_KEY as DEFAULT_PRIVACY_KEY

ENVIRONMENTS = ("local", "staging", "prod")
DEFAULT_CLICKHOUSE_PORT = 18123
DEFAULT_PARTITIONS_START = "2026-09-01"
PARTITIONS_START_ENV = "UNMOGROWP_PARTITIONS_START"
LOCAL_CLICKHOUSE_PORT_ENV = "UNMOGROWP_CLICKHOUSE_PORT"
# delta-rs option names of the S3 credentials (S3Settings.storage_options)
S3_CREDENTIALS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
_DT_DIR = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ConfigError(RuntimeError):
    """The environment does not describe a usable deployment."""


class _Nested(BaseModel):
    """A group of settings: read from the variables its fields alias, built by field name in code."""

    model_config = ConfigDict(frozen=True, validate_by_name=True, extra="ignore")


class ClickHouseSettings(_Nested):
    host: str = Field("127.0.0.1", validation_alias="CLICKHOUSE_HOST")
    # CLICKHOUSE_PORT for a real server, UNMOGROWP_CLICKHOUSE_PORT for the local one (Settings picks)
    port: int = Field(DEFAULT_CLICKHOUSE_PORT, validation_alias=AliasChoices("CLICKHOUSE_PORT",
                                                                             LOCAL_CLICKHOUSE_PORT_ENV))
    user: str = Field("default", validation_alias="CLICKHOUSE_USER")
    password: str = Field("", validation_alias="CLICKHOUSE_PASSWORD", repr=False)
    secure: bool = Field(False, validation_alias="CLICKHOUSE_SECURE")
    database: str = Field("default", validation_alias="CLICKHOUSE_DATABASE")
    # a self-managed cluster's name (remote_servers): dbt's DDL ON CLUSTER with replicated engines, and
    # the tenant access statements; empty for ClickHouse Cloud, which replicates every table itself
    cluster: str = Field("", validation_alias="CLICKHOUSE_CLUSTER")
    managed: bool = False  # True: the local server under ``home`` is started on demand

    @property
    def url(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.host}:{self.port}"


class SparkSettings(_Nested):
    """Spark Connect (``sc://host:15002``), else a master (``spark://host:7077``, ``yarn``) or in-process."""

    remote: str = Field("", validation_alias="SPARK_REMOTE")
    master: str = Field("local[*]", validation_alias="UNMOGROWP_SPARK_MASTER")
    driver_memory: str = Field("6g", validation_alias="UNMOGROWP_SPARK_DRIVER_MEMORY")


class S3Settings(_Nested):
    """The standard AWS_* variables, for s3:// lakes and landing zones (delta-rs, pyarrow, boto3)."""

    access_key_id: str = Field("", validation_alias="AWS_ACCESS_KEY_ID")
    secret_access_key: str = Field("", validation_alias="AWS_SECRET_ACCESS_KEY", repr=False)
    session_token: str = Field("", validation_alias="AWS_SESSION_TOKEN", repr=False)
    region: str = Field("", validation_alias="AWS_REGION")
    default_region: str = Field("", validation_alias="AWS_DEFAULT_REGION")
    endpoint_url: str = Field("", validation_alias="AWS_ENDPOINT_URL")
    allow_http: str = Field("", validation_alias="AWS_ALLOW_HTTP")

    def storage_options(self, uri: str) -> dict[str, str]:
        """delta-rs object-store options for ``uri`` (none unless it is on S3)."""
        if not uri.startswith("s3://"):
            return {}
        opts = {f"aws_{name}": value for name, value in (
            ("access_key_id", self.access_key_id), ("secret_access_key", self.secret_access_key),
            ("session_token", self.session_token), ("region", self.region), ("endpoint_url", self.endpoint_url),
            ("allow_http", self.allow_http)) if value}
        opts.setdefault("aws_region", self.default_region or "us-east-1")
        if self.endpoint_url.startswith("http://"):
            opts["aws_allow_http"] = "true"
        # No aws_s3_allow_unsafe_rename: delta-rs commits with S3's conditional put (If-None-Match),
        # so concurrent writers (a backfill beside the hourly runs) are safe without a lock table.
        return opts

    def environ(self) -> dict[str, str]:
        """The variables that are set (secrets included only then)."""
        return {_alias(S3Settings, name): value for name, value in self if value}


def _alias(model: type[BaseModel], name: str) -> str:
    alias = model.model_fields[name].validation_alias
    return alias.choices[0] if isinstance(alias, AliasChoices) else alias


def _aliases(model: type[BaseModel]) -> list[str]:
    out = []
    for field in model.model_fields.values():
        alias = field.validation_alias
        out += list(alias.choices) if isinstance(alias, AliasChoices) else [alias] if alias else []
    return out


class _Environ(EnvSettingsSource):
    """The variables of ``environ`` (``os.environ`` unless a mapping is given, used instead of it);
    a nested group's fields by their own aliases."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        self._environ = environ
        super().__init__(settings_cls, case_sensitive=True, env_ignore_empty=True)

    def _load_env_vars(self) -> Mapping[str, str]:
        return {k: v for k, v in self._environ.items() if v}

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        for name, field in self.settings_cls.model_fields.items():
            if isinstance(field.annotation, type) and issubclass(field.annotation, _Nested):
                data[name] = {a: self.env_vars[a] for a in _aliases(field.annotation) if a in self.env_vars}
        return data


class Settings(BaseSettings):
    """The deployment's settings (immutable); build them with :func:`load_settings`."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    env: str = Field("local", validation_alias="LAKEHOUSE_ENV")
    home: Path = Field(validation_alias="UNMOGROWP_HOME")  # local state: lake, ClickHouse, Dagster/MLflow/Feast
    lake_uri: str = Field(validation_alias="UNMOGROWP_LAKE_URI")  # file:// directory or s3:// prefix
    landing_uri: str = Field(validation_alias="UNMOGROWP_LANDING_URI")  # the landing root (events/ and cost/)
    clickhouse: ClickHouseSettings
    partitions_start: str = Field(DEFAULT_PARTITIONS_START, validation_alias=PARTITIONS_START_ENV)
    # where partitions_start came from: PARTITIONS_START_ENV, "landing" (first dt=) or "default"; not compared
    partitions_start_source: str = "default"
    # fraud labels for training: the generator's answers locally, confirmed rejections in production
    fraud_labels_path: str = Field(validation_alias="UNMOGROWP_FRAUD_LABELS")
    # MLflow tracking server; empty = the local sqlite store under ``home``
    mlflow_tracking_uri: str = Field("", validation_alias="MLFLOW_TRACKING_URI")
    mlflow_registry_uri: str = Field("", validation_alias="MLFLOW_REGISTRY_URI")
    mlflow_artifact_root: str = Field("", validation_alias="MLFLOW_ARTIFACT_ROOT")
    # the MLflow UI the Dagster UI links runs to (`make mlflow` serves the local store there)
    mlflow_ui_url: str = Field("http://127.0.0.1:5000", validation_alias="UNMOGROWP_MLFLOW_UI_URL")
    # Feast online store: sqlite locally, redis (FEAST_REDIS_CONNECTION, host:port) in production
    feast_online: str = "sqlite"
    feast_redis_url: str = Field("", validation_alias="FEAST_REDIS_CONNECTION")
    feast_registry_path: str = Field("", validation_alias="FEAST_REGISTRY_PATH")  # SQL registry URL with redis
    # the Feast UI the Dagster UI links feature views to (`make feast-ui`)
    feast_ui_url: str = Field("http://127.0.0.1:8888", validation_alias="UNMOGROWP_FEAST_UI_URL")
    # the tenants file (users, password hashes, their apps): a path or s3:// URI; default
    # <home>/clickhouse/tenants.yaml, the local server's (unmogrowp.clickhouse.tenancy)
    tenants_uri: str = Field(validation_alias="UNMOGROWP_TENANTS")
    # retention of raw identifiers (privacy/retention.py): landing lines and full IPs, silver rows
    retention_raw_days: int = Field(RAW_DAYS, validation_alias="UNMOGROWP_RETENTION_RAW_DAYS")
    retention_silver_days: int = Field(SILVER_DAYS, validation_alias="UNMOGROWP_RETENTION_SILVER_DAYS")
    # the Dagster instance the runs are recorded in (DAGSTER_HOME, else <home>/dagster)
    dagster_home: str = Field(validation_alias="DAGSTER_HOME")
    spark: SparkSettings = SparkSettings()
    # the secret of the keyed hashes (privacy/keys.py), and of the audit record's request hash
    privacy_key: str = Field(DEFAULT_PRIVACY_KEY, validation_alias="UNMOGROWP_DEVICE_KEY_SALT", repr=False)
    audit_salt: str = Field(validation_alias="UNMOGROWP_AUDIT_SALT", repr=False)  # default: the privacy key
    s3: S3Settings = S3Settings()

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return init_settings, _Environ(settings_cls, os.environ)

    @model_validator(mode="before")
    @classmethod
    def _resolve(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """Defaults that depend on other values, and the rules of each environment."""
        values = dict(raw)
        env = str(values.get("LAKEHOUSE_ENV") or "local").strip().lower()
        if env not in ENVIRONMENTS:
            raise ConfigError(f"LAKEHOUSE_ENV={env!r}: expected one of {', '.join(ENVIRONMENTS)}")
        home = Path(values.get("UNMOGROWP_HOME") or Path.cwd() / ".lakehouse").resolve()
        ch = dict(values.get("clickhouse") or {})
        if env == "local":
            values["clickhouse"] = ClickHouseSettings(
                port=ch.get(LOCAL_CLICKHOUSE_PORT_ENV) or DEFAULT_CLICKHOUSE_PORT, managed=True)
            lake_uri = _absolute(values.get("UNMOGROWP_LAKE_URI"), as_uri=True) or (home / "lake").as_uri()
            landing_uri = _absolute(values.get("UNMOGROWP_LANDING_URI")) or (home / "landing").as_uri()
        else:
            ch.pop(LOCAL_CLICKHOUSE_PORT_ENV, None)
            values["clickhouse"] = ClickHouseSettings(
                host=_require(ch, "CLICKHOUSE_HOST", env), port=ch.get("CLICKHOUSE_PORT") or 8443,
                user=ch.get("CLICKHOUSE_USER") or "default", password=ch.get("CLICKHOUSE_PASSWORD") or "",
                secure=str(ch.get("CLICKHOUSE_SECURE") or "true").lower() in ("1", "true", "yes"),
                database=ch.get("CLICKHOUSE_DATABASE") or "default", cluster=ch.get("CLICKHOUSE_CLUSTER") or "")
            lake_uri = _require(values, "UNMOGROWP_LAKE_URI", env)
            landing_uri = _require(values, "UNMOGROWP_LANDING_URI", env)
        start, source = _partitions_start(values.get(PARTITIONS_START_ENV), env, landing_uri)
        values.update({
            "LAKEHOUSE_ENV": env, "UNMOGROWP_HOME": home, "UNMOGROWP_LAKE_URI": lake_uri,
            "UNMOGROWP_LANDING_URI": landing_uri, PARTITIONS_START_ENV: start, "partitions_start_source": source,
            "UNMOGROWP_FRAUD_LABELS": _absolute(values.get("UNMOGROWP_FRAUD_LABELS"))
            or str(home / "answers" / "fraud_labels.parquet"),
            "DAGSTER_HOME": str(Path(values.get("DAGSTER_HOME") or home / "dagster").resolve()),
            "UNMOGROWP_TENANTS": _absolute(values.get("UNMOGROWP_TENANTS"))
            or str(home / "clickhouse" / "tenants.yaml"),
            "feast_online": "redis" if values.get("FEAST_REDIS_CONNECTION") else "sqlite",
            "UNMOGROWP_AUDIT_SALT": values.get("UNMOGROWP_AUDIT_SALT")
            or values.get("UNMOGROWP_DEVICE_KEY_SALT") or DEFAULT_PRIVACY_KEY,
        })
        return values

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Settings):
            return NotImplemented
        keep = set(type(self).model_fields) - {"partitions_start_source"}
        return self.model_dump(include=keep) == other.model_dump(include=keep)

    @property
    def is_local(self) -> bool:
        return self.env == "local"

    @property
    def dbt_target(self) -> str:
        return self.env

    def storage_options(self, uri: str) -> dict[str, str]:
        """delta-rs object-store options for ``uri`` (a lake or landing root; none unless on S3)."""
        return self.s3.storage_options(uri)


def _require(values: Mapping[str, Any], name: str, env: str) -> str:
    value = values.get(name)
    if not value:
        raise ConfigError(f"{name} must be set when LAKEHOUSE_ENV={env}")
    return value


def first_landing_date(landing_uri: str) -> str | None:
    """The earliest ``dt=`` date (YYYY-MM-DD) of a local landing directory's event batches and cost
    reports, from directory names only; None for S3, a missing directory or no partitions."""
    parsed = urlparse(landing_uri)
    if parsed.scheme not in ("", "file"):
        return None
    root = Path(unquote(parsed.path) if parsed.scheme == "file" else landing_uri)
    dates = []
    try:
        for kind in ("events", "cost"):
            base = root / kind
            if not base.is_dir():
                continue
            for sub in base.iterdir():  # app_id=… / media_source=…
                if sub.is_dir():
                    dates += [m.group(1) for d in sub.iterdir() if (m := _DT_DIR.match(d.name)) and d.is_dir()]
    except OSError:  # unreadable: the commands that read the landing zone say so
        return None
    valid = []
    for d in dates:
        try:
            valid.append(date.fromisoformat(d).isoformat())
        except ValueError:  # dt=2026-13-40 is not a partition
            continue
    return min(valid, default=None)


def _partitions_start(value: str | None, env: str, landing_uri: str) -> tuple[str, str]:
    """(first partition date, where it came from): the variable, the local landing's first dt=, the default."""
    value = (value or "").strip()
    if value:
        try:
            if _DATE.match(value):
                return date.fromisoformat(value).isoformat(), PARTITIONS_START_ENV
        except ValueError:
            pass
        raise ConfigError(f"{PARTITIONS_START_ENV}={value!r}: expected YYYY-MM-DD")
    first = first_landing_date(landing_uri) if env == "local" else None
    return (first, "landing") if first else (DEFAULT_PARTITIONS_START, "default")


def _absolute(value: str | None, as_uri: bool = False) -> str:
    """A local path made absolute (processes started for these settings work elsewhere); URIs as given."""
    if not value or "://" in value:
        return value or ""
    path = Path(value).resolve()
    return path.as_uri() if as_uri else str(path)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings for the deployment named by ``LAKEHOUSE_ENV`` from ``environ`` (instead of
    ``os.environ`` when given)."""
    return Settings(_build_sources=((_Environ(Settings, os.environ if environ is None else environ),), {}))


def with_landing(settings: Settings, landing_uri: str) -> Settings:
    """``settings`` reading another landing zone (a local path made absolute): a partitions start
    not set by UNMOGROWP_PARTITIONS_START follows that landing zone's first ``dt=``."""
    uri = _absolute(landing_uri)
    explicit = settings.partitions_start if settings.partitions_start_source == PARTITIONS_START_ENV else None
    start, source = _partitions_start(explicit, settings.env, uri)
    return settings.model_copy(update={"landing_uri": uri, "partitions_start": start,
                                       "partitions_start_source": source})


def settings_environ(settings: Settings) -> dict[str, str]:
    """The environment that makes :func:`load_settings` return ``settings``, for the processes
    started on its behalf (the Dagster code server and its run workers). Empty values count as
    unset there, so every name is given and nothing is inherited by accident; ``SPARK_REMOTE`` and the
    AWS_* variables only when set (pyspark, boto3 and delta-rs read them themselves, and an empty
    ``SPARK_REMOTE`` makes pyspark start Spark Connect)."""
    ch, spark = settings.clickhouse, settings.spark
    environ = {
        "LAKEHOUSE_ENV": settings.env, "UNMOGROWP_HOME": str(settings.home),
        "UNMOGROWP_LAKE_URI": settings.lake_uri, "UNMOGROWP_LANDING_URI": settings.landing_uri,
        # the resolved date, not a new look at the landing zone: started processes agree with this one
        PARTITIONS_START_ENV: settings.partitions_start, "UNMOGROWP_FRAUD_LABELS": settings.fraud_labels_path,
        "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri, "MLFLOW_REGISTRY_URI": settings.mlflow_registry_uri,
        "MLFLOW_ARTIFACT_ROOT": settings.mlflow_artifact_root, "UNMOGROWP_MLFLOW_UI_URL": settings.mlflow_ui_url,
        "UNMOGROWP_FEAST_UI_URL": settings.feast_ui_url,
        "FEAST_REDIS_CONNECTION": settings.feast_redis_url, "FEAST_REGISTRY_PATH": settings.feast_registry_path,
        "UNMOGROWP_RETENTION_RAW_DAYS": str(settings.retention_raw_days),
        "UNMOGROWP_RETENTION_SILVER_DAYS": str(settings.retention_silver_days),
        "DAGSTER_HOME": settings.dagster_home, "UNMOGROWP_TENANTS": settings.tenants_uri,
        "UNMOGROWP_SPARK_MASTER": spark.master, "UNMOGROWP_SPARK_DRIVER_MEMORY": spark.driver_memory,
        "UNMOGROWP_DEVICE_KEY_SALT": settings.privacy_key, "UNMOGROWP_AUDIT_SALT": settings.audit_salt,
        **({"SPARK_REMOTE": spark.remote} if spark.remote else {}), **settings.s3.environ(),
    }
    if ch.managed:
        environ[LOCAL_CLICKHOUSE_PORT_ENV] = str(ch.port)
    else:
        environ.update({"CLICKHOUSE_HOST": ch.host, "CLICKHOUSE_PORT": str(ch.port), "CLICKHOUSE_USER": ch.user,
                        "CLICKHOUSE_PASSWORD": ch.password, "CLICKHOUSE_SECURE": str(ch.secure).lower(),
                        "CLICKHOUSE_DATABASE": ch.database, "CLICKHOUSE_CLUSTER": ch.cluster})
    return environ
