"""The one place that reads the environment: which deployment this is and where things live.

``LAKEHOUSE_ENV`` = ``local`` (default: embedded services under ``UNMOGROWP_HOME``) or
``staging``/``prod`` (real services; connection details and secrets from environment variables).

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
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlparse

ENVIRONMENTS = ("local", "staging", "prod")
DEFAULT_CLICKHOUSE_PORT = 18123
DEFAULT_PARTITIONS_START = "2026-09-01"


class ConfigError(RuntimeError):
    """The environment does not describe a usable deployment."""


@dataclass(frozen=True)
class ClickHouseSettings:
    host: str
    port: int
    user: str
    password: str
    secure: bool
    database: str
    managed: bool  # True: the local server under ``home`` is started on demand

    @property
    def url(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.host}:{self.port}"


@dataclass(frozen=True)
class Settings:
    env: str
    home: Path  # local state: lake directory, ClickHouse data, Dagster/MLflow/Feast stores
    lake_uri: str  # file:// directory or s3:// prefix
    landing_uri: str  # the landing zone root (holds events/ and cost/)
    clickhouse: ClickHouseSettings
    partitions_start: str = DEFAULT_PARTITIONS_START  # first hourly/daily partition (UTC date)
    # where partitions_start came from: PARTITIONS_START_ENV, "landing" (first dt=) or "default"
    partitions_start_source: str = field(default="default", compare=False)
    # fraud labels for training: the generator's answers locally, confirmed rejections in production
    fraud_labels_path: str = ""
    # MLflow tracking server; empty = the local sqlite store under ``home``
    mlflow_tracking_uri: str = ""
    mlflow_registry_uri: str = ""
    mlflow_artifact_root: str = ""
    # Feast online store: sqlite locally, redis (FEAST_REDIS_CONNECTION, host:port) in production
    feast_online: str = "sqlite"
    feast_redis_url: str = ""
    feast_registry_path: str = ""  # SQL registry URL with redis
    # retention of raw identifiers (privacy/retention.py): landing lines and full IPs, silver rows
    retention_raw_days: int = 30
    retention_silver_days: int = 395
    dagster_home: str = ""  # the Dagster instance the runs are recorded in (DAGSTER_HOME, else <home>/dagster)

    @property
    def is_local(self) -> bool:
        return self.env == "local"

    @property
    def dbt_target(self) -> str:
        return self.env


def _require(environ: Mapping[str, str], name: str, env: str) -> str:
    value = environ.get(name)
    if not value:
        raise ConfigError(f"{name} must be set when LAKEHOUSE_ENV={env}")
    return value


PARTITIONS_START_ENV = "UNMOGROWP_PARTITIONS_START"
_DT_DIR = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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
    """Build the settings for the deployment named by ``LAKEHOUSE_ENV``."""
    environ = os.environ if environ is None else environ
    env = environ.get("LAKEHOUSE_ENV", "local").strip().lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"LAKEHOUSE_ENV={env!r}: expected one of {', '.join(ENVIRONMENTS)}")
    home = Path(environ.get("UNMOGROWP_HOME") or Path.cwd() / ".lakehouse").resolve()
    if env == "local":
        clickhouse = ClickHouseSettings(
            host="127.0.0.1",
            port=int(environ.get("UNMOGROWP_CLICKHOUSE_PORT") or DEFAULT_CLICKHOUSE_PORT),
            user="default",
            password="",
            secure=False,
            database="default",
            managed=True,
        )
        lake_uri = _absolute(environ.get("UNMOGROWP_LAKE_URI"), as_uri=True) or (home / "lake").as_uri()
        landing_uri = _absolute(environ.get("UNMOGROWP_LANDING_URI")) or (home / "landing").as_uri()
    else:
        clickhouse = ClickHouseSettings(
            host=_require(environ, "CLICKHOUSE_HOST", env),
            port=int(environ.get("CLICKHOUSE_PORT") or 8443),
            user=environ.get("CLICKHOUSE_USER") or "default",
            password=environ.get("CLICKHOUSE_PASSWORD") or "",
            secure=(environ.get("CLICKHOUSE_SECURE") or "true").lower() in ("1", "true", "yes"),
            database=environ.get("CLICKHOUSE_DATABASE") or "default",
            managed=False,
        )
        lake_uri = _require(environ, "UNMOGROWP_LAKE_URI", env)
        landing_uri = _require(environ, "UNMOGROWP_LANDING_URI", env)
    partitions_start, partitions_start_source = _partitions_start(environ.get(PARTITIONS_START_ENV), env, landing_uri)
    return Settings(env=env, home=home, lake_uri=lake_uri, landing_uri=landing_uri, clickhouse=clickhouse,
                    partitions_start=partitions_start, partitions_start_source=partitions_start_source,
                    fraud_labels_path=_absolute(environ.get("UNMOGROWP_FRAUD_LABELS"))
                    or str(home / "answers" / "fraud_labels.parquet"),
                    dagster_home=str(Path(environ.get("DAGSTER_HOME") or home / "dagster").resolve()),
                    mlflow_tracking_uri=environ.get("MLFLOW_TRACKING_URI") or "",
                    mlflow_registry_uri=environ.get("MLFLOW_REGISTRY_URI") or "",
                    mlflow_artifact_root=environ.get("MLFLOW_ARTIFACT_ROOT") or "",
                    feast_online="redis" if environ.get("FEAST_REDIS_CONNECTION") else "sqlite",
                    feast_redis_url=environ.get("FEAST_REDIS_CONNECTION") or "",
                    feast_registry_path=environ.get("FEAST_REGISTRY_PATH") or "",
                    retention_raw_days=int(environ.get("UNMOGROWP_RETENTION_RAW_DAYS") or 30),
                    retention_silver_days=int(environ.get("UNMOGROWP_RETENTION_SILVER_DAYS") or 395))


def with_landing(settings: Settings, landing_uri: str) -> Settings:
    """``settings`` reading another landing zone (a local path made absolute): a partitions start
    not set by UNMOGROWP_PARTITIONS_START follows that landing zone's first ``dt=``."""
    uri = _absolute(landing_uri)
    explicit = settings.partitions_start if settings.partitions_start_source == PARTITIONS_START_ENV else None
    start, source = _partitions_start(explicit, settings.env, uri)
    return replace(settings, landing_uri=uri, partitions_start=start, partitions_start_source=source)


def settings_environ(settings: Settings) -> dict[str, str]:
    """The environment that makes :func:`load_settings` return ``settings``, for the processes
    started on its behalf (the Dagster code server and its run workers). Empty values count as
    unset there, so every name is given and nothing is inherited by accident."""
    ch = settings.clickhouse
    environ = {
        "LAKEHOUSE_ENV": settings.env, "UNMOGROWP_HOME": str(settings.home),
        "UNMOGROWP_LAKE_URI": settings.lake_uri, "UNMOGROWP_LANDING_URI": settings.landing_uri,
        # the resolved date, not a new look at the landing zone: started processes agree with this one
        PARTITIONS_START_ENV: settings.partitions_start, "UNMOGROWP_FRAUD_LABELS": settings.fraud_labels_path,
        "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri, "MLFLOW_REGISTRY_URI": settings.mlflow_registry_uri,
        "MLFLOW_ARTIFACT_ROOT": settings.mlflow_artifact_root,
        "FEAST_REDIS_CONNECTION": settings.feast_redis_url, "FEAST_REGISTRY_PATH": settings.feast_registry_path,
        "UNMOGROWP_RETENTION_RAW_DAYS": str(settings.retention_raw_days),
        "UNMOGROWP_RETENTION_SILVER_DAYS": str(settings.retention_silver_days),
        "DAGSTER_HOME": settings.dagster_home,
    }
    if ch.managed:
        environ["UNMOGROWP_CLICKHOUSE_PORT"] = str(ch.port)
    else:
        environ.update({"CLICKHOUSE_HOST": ch.host, "CLICKHOUSE_PORT": str(ch.port), "CLICKHOUSE_USER": ch.user,
                        "CLICKHOUSE_PASSWORD": ch.password, "CLICKHOUSE_SECURE": str(ch.secure).lower(),
                        "CLICKHOUSE_DATABASE": ch.database})
    return environ
