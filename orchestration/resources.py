"""Dagster resources, named after the systems they wrap."""


from pathlib import Path

import clickhouse_connect
import dagster as dg
from clickhouse_connect.driver.client import Client

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
            "landing": LandingResource(root_uri=settings.landing_uri)}
