"""Dagster resources, named after the systems they wrap."""


import re
from pathlib import Path

import clickhouse_connect
import dagster as dg
from clickhouse_connect.driver.client import Client

from assets.dbt_project import dbt_resource
from unmogrowp.clickhouse import manager
from unmogrowp.config import (
    DEFAULT_CLICKHOUSE_PORT,
    DEFAULT_PRIVACY_KEY,
    S3_CREDENTIALS,
    ClickHouseSettings,
    Settings,
    SparkSettings,
)
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingStore

# Dagster concurrency pools of the steps heavy on one engine (the instance limits each: dagster.yaml
# `concurrency: pools: default_limit`, see orchestration/launcher.py INSTANCE_YAML)
CLICKHOUSE_POOL, SPARK_POOL = "clickhouse", "spark"


class ClickHouseResource(dg.ConfigurableResource):
    """ClickHouse over HTTP: the local chDB server (started on demand) or a real server."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_CLICKHOUSE_PORT
    user: str = "default"
    password: str = ""
    secure: bool = False
    database: str = "default"
    local_home: str | None = None  # set in the local environment: start the server on demand

    def settings(self) -> ClickHouseSettings:
        return ClickHouseSettings(host=self.host, port=self.port, user=self.user, password=self.password,
                                  secure=self.secure, database=self.database, managed=bool(self.local_home))

    @property
    def url(self) -> str:
        return self.settings().url

    def ensure_running(self) -> None:
        """Start the local server if this resource manages one; no-op for a real server."""
        if self.local_home:
            manager.start(Path(self.local_home), self.port, self.host)

    def get_client(self, **settings) -> Client:
        self.ensure_running()
        return clickhouse_connect.get_client(
            host=self.host, port=self.port, username=self.user, password=self.password,
            secure=self.secure, database=self.database, settings=settings or None,
        )


class LakeResource(dg.ConfigurableResource):
    """The lake root: Delta tables in a local directory (file://) or under an s3:// prefix."""

    root_uri: str
    storage_options: dict[str, str] = {}  # S3 endpoint and region (no credentials: see _storage_options)

    def get_lake(self) -> Lake:
        return Lake(self.root_uri, self.storage_options)


class LandingResource(dg.ConfigurableResource):
    """The landing zone where the ingestion edge and cost pullers drop files (dir or s3://)."""

    root_uri: str
    storage_options: dict[str, str] = {}  # S3 endpoint and region (no credentials: see _storage_options)

    def get_store(self) -> LandingStore:
        return LandingStore(self.root_uri, self.storage_options)


class MlResource(dg.ConfigurableResource):
    """Spark, MLflow and training labels. ``home`` holds the local MLflow store unless a tracking
    URI is set (production); MLflow is pointed there when a run starts using this resource."""

    home: str
    labels_path: str  # fraud labels: the generator's answers locally, confirmed rejections in production
    tracking_uri: str = ""
    registry_uri: str = ""
    artifact_root: str = ""
    ui_url: str = ""  # the MLflow UI the run links point at
    spark_remote: str = ""  # Spark Connect URL, else spark_master
    spark_master: str = SparkSettings().master
    spark_driver_memory: str = SparkSettings().driver_memory

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.configure()

    def configure(self) -> str:
        """Point MLflow at the tracking store; returns its URI."""
        from ml import tracking

        return tracking.configure(Path(self.home), self.tracking_uri, self.registry_uri, self.artifact_root)

    def run_link(self, run_id: str) -> dg.MetadataValue:
        """The MLflow run's page, as a link in the Dagster UI."""
        from ml import tracking

        return dg.MetadataValue.url(tracking.run_url(self.ui_url, run_id))

    def spark(self):
        from unmogrowp.spark import get_spark

        return get_spark(SparkSettings(remote=self.spark_remote, master=self.spark_master,
                                       driver_memory=self.spark_driver_memory))


class FeastResource(dg.ConfigurableResource):
    """The Feast feature store (``ml/feature_repo``): sqlite online store and a file registry
    locally, Redis and a SQL registry when ``online`` is ``redis``."""

    home: str
    lake_uri: str
    clickhouse: ClickHouseResource  # the marts (ml.feature_store.MARTS) of this server
    online: str = "sqlite"
    redis_url: str = ""
    registry_path: str = ""
    storage_options: dict[str, str] = {}  # the lake's (no credentials: see _storage_options)
    ui_url: str = ""  # the Feast UI the feature view links point at

    def ui_link(self, kind: str, name: str) -> dg.MetadataValue:
        """A feature view's or service's page in the Feast UI (``kind``: feature-view, feature-service)."""
        from ml.feature_store import PROJECT

        return dg.MetadataValue.url(f"{self.ui_url.rstrip('/')}/p/{PROJECT}/{kind}/{name}")

    def target(self):
        from ml.feature_store import StoreTarget

        return StoreTarget(self.home, self.lake_uri, self.clickhouse.settings(), self.online, self.redis_url,
                           self.registry_path, self.storage_options)

    def get_store(self):
        from ml.feature_store import get_store

        return get_store(self.target())


class TenancyResource(dg.ConfigurableResource):
    """The tenants file (``UNMOGROWP_TENANTS``) and whether this ClickHouse takes users and row
    policies (production) or enforces the file itself (the local server)."""

    tenants_uri: str
    cluster: str = ""  # CLICKHOUSE_CLUSTER: statements ON CLUSTER
    apply: bool = False
    storage_options: dict[str, str] = {}  # an s3:// file's endpoint and region (no credentials)

    def tenants(self):
        from unmogrowp.clickhouse.tenancy import read_tenants
        from unmogrowp.objects import read_object

        data = read_object(self.tenants_uri, self.storage_options)
        return None if data is None else read_tenants(data.decode())


class PrivacyResource(dg.ConfigurableResource):
    """The privacy key of the keyed hashes (device keys, the erasure list) and the audit record's salt."""

    privacy_key: str
    audit_salt: str


def _secret(value: str, name: str, default: str):
    """A value other than the development default is a secret: Dagster reads it from the variable
    (the UI shows its name, not its value)."""
    return value if value == default else dg.EnvVar(name)


def _credentialed(url: str, name: str):
    """A connection string that carries a password (Redis ``…,password=…``, a SQL URL's ``user:pass@``)
    is read from its variable at run time, like the other secrets."""
    return dg.EnvVar(name) if "password=" in url or re.search(r"://[^/@]*:[^/@]*@", url) else url


def _storage_options(settings: Settings, uri: str) -> dict[str, str]:
    """The object-store options of ``uri`` without the credentials: resource config is shown in the
    Dagster UI, so delta-rs and boto3 take the keys from their own chain (AWS_* variables, roles)."""
    return {k: v for k, v in settings.storage_options(uri).items() if k not in S3_CREDENTIALS}


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    ch, spark = settings.clickhouse, settings.spark
    if ch.managed:
        clickhouse = ClickHouseResource(port=ch.port, local_home=str(settings.home))
    else:
        clickhouse = ClickHouseResource(
            host=ch.host, port=ch.port, user=ch.user, secure=ch.secure, database=ch.database,
            password=dg.EnvVar("CLICKHOUSE_PASSWORD"),
        )
    lake_options = _storage_options(settings, settings.lake_uri)
    key_env = "UNMOGROWP_DEVICE_KEY_SALT"  # the audit salt defaults to the privacy key
    salt_env = "UNMOGROWP_AUDIT_SALT" if settings.audit_salt != settings.privacy_key else key_env
    return {"clickhouse": clickhouse,
            "lake": LakeResource(root_uri=settings.lake_uri, storage_options=lake_options),
            "landing": LandingResource(root_uri=settings.landing_uri,
                                       storage_options=_storage_options(settings, settings.landing_uri)),
            "dbt": dbt_resource(settings.dbt_target),
            "ml": MlResource(home=str(settings.home), labels_path=settings.fraud_labels_path,
                             tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_registry_uri,
                             artifact_root=settings.mlflow_artifact_root, ui_url=settings.mlflow_ui_url,
                             spark_remote=spark.remote,
                             spark_master=spark.master, spark_driver_memory=spark.driver_memory),
            "feast": FeastResource(home=str(settings.home), lake_uri=settings.lake_uri, clickhouse=clickhouse,
                                   online=settings.feast_online,
                                   redis_url=_credentialed(settings.feast_redis_url, "FEAST_REDIS_CONNECTION"),
                                   registry_path=_credentialed(settings.feast_registry_path, "FEAST_REGISTRY_PATH"),
                                   storage_options=lake_options,
                                   ui_url=settings.feast_ui_url),
            "tenancy": TenancyResource(tenants_uri=settings.tenants_uri, cluster=ch.cluster, apply=not ch.managed,
                                       storage_options=_storage_options(settings, settings.tenants_uri)),
            "privacy": PrivacyResource(privacy_key=_secret(settings.privacy_key, key_env, DEFAULT_PRIVACY_KEY),
                                       audit_salt=_secret(settings.audit_salt, salt_env, DEFAULT_PRIVACY_KEY))}
