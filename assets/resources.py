"""Dagster resources, named after the systems they wrap."""


from pathlib import Path

import clickhouse_connect
import dagster as dg
from clickhouse_connect.driver.client import Client

from assets.dbt_project import dbt_resource
from unmogrowp.clickhouse import manager
from unmogrowp.config import Settings
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingStore


class ClickHouseResource(dg.ConfigurableResource):
    """ClickHouse over HTTP: the local chDB server (started on demand) or a real server."""

    host: str = "127.0.0.1"
    port: int = 18123
    user: str = "default"
    password: str = ""
    secure: bool = False
    database: str = "default"
    local_home: str | None = None  # set in the local environment: start the server on demand

    @property
    def url(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.host}:{self.port}"

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

    def get_lake(self) -> Lake:
        return Lake(self.root_uri)


class LandingResource(dg.ConfigurableResource):
    """The landing zone where the ingestion edge and cost pullers drop files (dir or s3://)."""

    root_uri: str

    def get_store(self) -> LandingStore:
        return LandingStore(self.root_uri)


class MlResource(dg.ConfigurableResource):
    """Spark, MLflow and training labels. ``home`` holds the local MLflow store unless a tracking
    URI is set (production); ``SPARK_REMOTE``/``UNMOGROWP_SPARK_MASTER`` choose the Spark cluster."""

    home: str
    labels_path: str  # fraud labels: the generator's answers locally, confirmed rejections in production
    tracking_uri: str = ""
    registry_uri: str = ""
    artifact_root: str = ""

    def configure(self) -> str:
        from ml import tracking

        return tracking.configure(Path(self.home), self.tracking_uri, self.registry_uri, self.artifact_root)

    def spark(self):
        from unmogrowp.spark import get_spark

        return get_spark()


class FeastResource(dg.ConfigurableResource):
    """The Feast feature store (``ml/feature_repo``): sqlite online store and a file registry
    locally, Redis and a SQL registry when ``online`` is ``redis``."""

    home: str
    lake_uri: str
    clickhouse_host: str
    clickhouse_port: int
    clickhouse_user: str = "default"
    clickhouse_password: str = ""
    online: str = "sqlite"
    redis_url: str = ""
    registry_path: str = ""

    def target(self):
        from ml.feature_store import StoreTarget
        from unmogrowp.config import ClickHouseSettings

        ch = ClickHouseSettings(self.clickhouse_host, self.clickhouse_port, self.clickhouse_user,
                                self.clickhouse_password, False, "marts", False)
        return StoreTarget(self.home, self.lake_uri, ch, self.online, self.redis_url, self.registry_path)

    def get_store(self):
        from ml.feature_store import get_store

        return get_store(self.target())


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    ch = settings.clickhouse
    if ch.managed:
        clickhouse = ClickHouseResource(port=ch.port, local_home=str(settings.home))
    else:
        clickhouse = ClickHouseResource(
            host=ch.host, port=ch.port, user=ch.user, secure=ch.secure, database=ch.database,
            password=dg.EnvVar("CLICKHOUSE_PASSWORD"),
        )
    return {"clickhouse": clickhouse, "lake": LakeResource(root_uri=settings.lake_uri),
            "landing": LandingResource(root_uri=settings.landing_uri), "dbt": dbt_resource(settings.dbt_target),
            "ml": MlResource(home=str(settings.home), labels_path=settings.fraud_labels_path,
                           tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_registry_uri,
                           artifact_root=settings.mlflow_artifact_root),
            "feast": FeastResource(home=str(settings.home), lake_uri=settings.lake_uri, clickhouse_host=ch.host,
                                   clickhouse_port=ch.port, clickhouse_user=ch.user,
                                   clickhouse_password=ch.password if ch.managed else dg.EnvVar("CLICKHOUSE_PASSWORD"),
                                   online=settings.feast_online, redis_url=settings.feast_redis_url,
                                   registry_path=settings.feast_registry_path)}
