"""The Feast feature store of the lakehouse: its configuration (built in Python from the settings,
:func:`repo_config`), the offline store that routes Delta sources to DuckDB and ClickHouse marts to
ClickHouse, apply, materialization and the point-in-time training frame.

The feast CLI (``feast -c ml/feature_repo …``) reads ``feature_store.yaml``, which names only the
lakehouse's store classes below: their defaults come from :func:`unmogrowp.config.load_settings`
through :func:`settings_target`, so the CLI follows ``UNMOGROWP_HOME``/``LAKEHOUSE_ENV`` with nothing
to export, and opens the same stores as :func:`get_store` for the same settings.

Feast's own hybrid store cannot route ClickHouse sources (custom source type); its Dask file store
reads a Delta directory as plain Parquet, files removed by later versions included; its DuckDB store
reads Delta through DuckDB's delta extension, which DuckDB downloads at run time (no internet here).
So the Delta tables are read with delta-rs (the lake's own reader, the current version only) and
joined by Feast's DuckDB/ibis engine.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import pandas as pd
from feast import FeatureStore
from feast.infra.offline_stores.contrib.clickhouse_offline_store.clickhouse import (
    ClickhouseOfflineStore,
    ClickhouseOfflineStoreConfig,
)
from feast.infra.offline_stores.contrib.clickhouse_offline_store.clickhouse_source import ClickhouseSource
from feast.infra.offline_stores.duckdb import DuckDBOfflineStoreConfig, _write_data_source
from feast.infra.offline_stores.ibis import (
    get_historical_features_ibis,
    pull_all_from_table_or_query_ibis,
    pull_latest_from_table_or_query_ibis,
)
from feast.infra.offline_stores.offline_store import OfflineStore
from feast.infra.online_stores.redis import RedisOnlineStore, RedisOnlineStoreConfig
from feast.infra.online_stores.sqlite import SqliteOnlineStore, SqliteOnlineStoreConfig
from feast.infra.registry.file import FileRegistryStore
from feast.repo_config import FeastConfigBaseModel, RepoConfig
from pydantic import Field, StrictStr

from ml.feature_repo import REPO
from unmogrowp.config import ClickHouseSettings, Settings, load_settings

PROJECT = "unmogrowp"
MARTS = "marts"  # the ClickHouse database of the feature marts


@dataclass(frozen=True)
class StoreTarget:
    """Where the feature store lives: the lakehouse home and lake, ClickHouse, the online store."""

    home: str
    lake_uri: str
    clickhouse: ClickHouseSettings
    online: str = "sqlite"  # sqlite or redis
    redis_url: str = ""  # host:port[,db=N] for redis
    registry_path: str = ""  # SQL registry URL for redis; default a sqlite file under home/feast
    storage_options: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)  # the lake's (S3)

    @classmethod
    def of(cls, settings: Settings, online: str = "sqlite", redis_url: str = "", registry_path: str = ""):
        return cls(str(settings.home), settings.lake_uri, settings.clickhouse, online, redis_url, registry_path,
                   settings.storage_options(settings.lake_uri))

    @property
    def feast_home(self) -> Path:
        path = Path(self.home) / "feast"
        path.mkdir(parents=True, exist_ok=True)
        return path


def settings_target(environ: Mapping[str, str] | None = None) -> StoreTarget:
    """The store of the deployment's settings, with the online store they choose (what the CLI opens)."""
    settings = load_settings(environ)
    return StoreTarget.of(settings, settings.feast_online, settings.feast_redis_url, settings.feast_registry_path)


def _clickhouse_config(ch: ClickHouseSettings) -> dict:
    """ClickhouseOfflineStoreConfig fields for the marts."""
    # a missing feature is NULL, not the type default (0) of a non-Nullable column
    return {"host": ch.host, "port": ch.port, "database": MARTS, "user": ch.user, "password": ch.password,
            "additional_client_args": {"settings": {"join_use_nulls": 1}}}


class LakehouseRegistryStore(FileRegistryStore):
    """Feast's file registry; without a path (``feature_store.yaml``) the settings' ``<home>/feast/registry.db``."""

    def __init__(self, registry_config, repo_path):
        path = registry_config.path or str(settings_target().feast_home / "registry.db")
        super().__init__(registry_config.model_copy(update={"path": path}), repo_path)


class LakehouseSqliteOnlineStoreConfig(SqliteOnlineStoreConfig):
    """Feast's sqlite online store; by default at the settings' ``<home>/feast/online.db``."""

    type: Literal["ml.feature_store.LakehouseSqliteOnlineStore"] = "ml.feature_store.LakehouseSqliteOnlineStore"
    path: StrictStr = Field(default_factory=lambda: str(settings_target().feast_home / "online.db"))


class LakehouseSqliteOnlineStore(SqliteOnlineStore):
    """Feast's sqlite online store (configured by :class:`LakehouseSqliteOnlineStoreConfig`)."""


class LakehouseRedisOnlineStoreConfig(RedisOnlineStoreConfig):
    """Feast's Redis online store; by default at the settings' ``FEAST_REDIS_CONNECTION``."""

    type: Literal["ml.feature_store.LakehouseRedisOnlineStore"] = "ml.feature_store.LakehouseRedisOnlineStore"
    connection_string: StrictStr = Field(default_factory=lambda: settings_target().redis_url)


class LakehouseRedisOnlineStore(RedisOnlineStore):
    """Feast's Redis online store (configured by :class:`LakehouseRedisOnlineStoreConfig`)."""


class LakehouseOfflineStoreConfig(FeastConfigBaseModel):
    """The marts' ClickHouse and the lake's object-store options; by default the settings'."""

    type: Literal["ml.feature_store.LakehouseOfflineStore"] = "ml.feature_store.LakehouseOfflineStore"
    clickhouse: dict = Field(default_factory=lambda: _clickhouse_config(settings_target().clickhouse))
    storage_options: dict = Field(default_factory=lambda: dict(settings_target().storage_options))


class _DeltaConfig(DuckDBOfflineStoreConfig):
    storage_options: dict = {}


def _ibis(config: RepoConfig) -> dict:
    """The DuckDB (ibis) engine's I/O: Delta sources read by delta-rs, their current version only."""
    options = config.offline_store.storage_options or None

    def read_delta(data_source, repo_path: str):
        import ibis
        from deltalake import DeltaTable

        return ibis.memtable(DeltaTable(data_source.path, storage_options=options).to_pyarrow_table())

    return {"data_source_reader": read_delta, "data_source_writer": _write_data_source, "staging_location": None,
            "staging_location_endpoint_override": None}


class DeltaOfflineStore(OfflineStore):
    """Feast's DuckDB (ibis) point-in-time engine over Delta tables read by delta-rs."""

    supports_filter_by_created_timestamp = True

    @staticmethod
    def pull_latest_from_table_or_query(config, data_source, join_key_columns, feature_name_columns,
                                        timestamp_field, created_timestamp_column, start_date, end_date):
        return pull_latest_from_table_or_query_ibis(
            config=config, data_source=data_source, join_key_columns=join_key_columns,
            feature_name_columns=feature_name_columns, timestamp_field=timestamp_field,
            created_timestamp_column=created_timestamp_column, start_date=start_date, end_date=end_date,
            **_ibis(config))

    @staticmethod
    def get_historical_features(config, feature_views, feature_refs, entity_df, registry, project,
                                full_feature_names=False, filter_by_created_timestamp=False):
        return get_historical_features_ibis(
            config=config, feature_views=feature_views, feature_refs=feature_refs, entity_df=entity_df,
            registry=registry, project=project, full_feature_names=full_feature_names,
            filter_by_created_timestamp=filter_by_created_timestamp, **_ibis(config))

    @staticmethod
    def pull_all_from_table_or_query(config, data_source, join_key_columns, feature_name_columns, timestamp_field,
                                     created_timestamp_column=None, start_date=None, end_date=None):
        return pull_all_from_table_or_query_ibis(
            config=config, data_source=data_source, join_key_columns=join_key_columns,
            feature_name_columns=feature_name_columns, timestamp_field=timestamp_field,
            created_timestamp_column=created_timestamp_column, start_date=start_date, end_date=end_date,
            **_ibis(config))


def _route(config: RepoConfig, source) -> tuple[type[OfflineStore], RepoConfig]:
    """The store for ``source`` and a copy of ``config`` whose offline store is that store's."""
    routed = config.model_copy()
    if isinstance(source, ClickhouseSource):
        routed._offline_store = ClickhouseOfflineStoreConfig(**config.offline_store.clickhouse)
        return ClickhouseOfflineStore, routed
    routed._offline_store = _DeltaConfig(storage_options=config.offline_store.storage_options)
    return DeltaOfflineStore, routed


class LakehouseOfflineStore(OfflineStore):
    """Delta file sources through delta-rs and DuckDB, ClickHouse sources through ClickHouse."""

    @staticmethod
    def get_historical_features(config, feature_views, feature_refs, entity_df, registry, project,
                                full_feature_names=False, **kwargs):
        stores = {_route(config, fv.batch_source)[0] for fv in feature_views}
        if len(stores) != 1:
            raise ValueError("one historical retrieval reads one offline store: request the Delta and the "
                             "ClickHouse feature views separately (ml.feature_store.training_frame does)")
        store, routed = _route(config, feature_views[0].batch_source)
        return store.get_historical_features(routed, feature_views, feature_refs, entity_df, registry, project,
                                             full_feature_names, **kwargs)

    @staticmethod
    def pull_latest_from_table_or_query(config, data_source, join_key_columns, feature_name_columns,
                                        timestamp_field, created_timestamp_column, start_date, end_date):
        store, routed = _route(config, data_source)
        return store.pull_latest_from_table_or_query(routed, data_source, join_key_columns, feature_name_columns,
                                                     timestamp_field, created_timestamp_column, start_date, end_date)

    @staticmethod
    def pull_all_from_table_or_query(config, data_source, join_key_columns, feature_name_columns, timestamp_field,
                                     created_timestamp_column=None, start_date=None, end_date=None):
        store, routed = _route(config, data_source)
        return store.pull_all_from_table_or_query(routed, data_source, join_key_columns, feature_name_columns,
                                                  timestamp_field, created_timestamp_column, start_date, end_date)

    def validate_data_source(self, config, data_source):
        data_source.validate(config=_route(config, data_source)[1])

    def get_table_column_names_and_types_from_data_source(self, config, data_source):
        return data_source.get_table_column_names_and_types(config=_route(config, data_source)[1])


def repo_config(target: StoreTarget) -> RepoConfig:
    """The feature store's configuration: a sqlite online store and a file registry under
    ``<home>/feast`` locally, Redis and a SQL registry (default: sqlite under ``<home>/feast``) with
    ``online="redis"``; the offline store reads the lake and the marts."""
    home = target.feast_home
    if target.online == "redis":
        registry = {"registry_type": "sql", "path": target.registry_path or f"sqlite:///{home / 'registry_sql.db'}",
                    "cache_ttl_seconds": 60}
        online = LakehouseRedisOnlineStoreConfig(connection_string=target.redis_url)
    else:
        registry = {"registry_store_type": "ml.feature_store.LakehouseRegistryStore", "path": str(home / "registry.db")}
        online = LakehouseSqliteOnlineStoreConfig(path=str(home / "online.db"))
    offline = LakehouseOfflineStoreConfig(clickhouse=_clickhouse_config(target.clickhouse),
                                          storage_options=dict(target.storage_options))
    return RepoConfig(project=PROJECT, provider="local", registry=registry, online_store=online,
                      offline_store=offline, entity_key_serialization_version=3, repo_path=REPO)


def get_store(target: StoreTarget) -> FeatureStore:
    """The feature store of ``target`` (:func:`repo_config`)."""
    return FeatureStore(repo_path=str(REPO), config=repo_config(target))


def apply(store: FeatureStore, target: StoreTarget) -> dict[str, int]:
    """Register every definition for the lake of ``target`` (and drop the ones removed from the repository)."""
    from ml.feature_repo.definitions import objects as repository

    objects = repository(target.lake_uri)
    current = {(type(o).__name__, o.name) for o in objects}
    stale = [o for o in (*store.list_feature_services(), *store.list_feature_views(), *store.list_entities(),
                         *store.list_data_sources())
             if (type(o).__name__, o.name) not in current]
    store.apply(objects, objects_to_delete=stale, partial=False)
    return {"objects": len(objects), "deleted": len(stale)}


def latest_rows(store: FeatureStore, view: str, start: datetime, end: datetime) -> pd.DataFrame:
    """What materialization loads for ``view``: the latest row per entity with event time in
    [start, end], read from the offline store."""
    fv = store.get_feature_view(view)
    job = store._get_provider().offline_store.pull_latest_from_table_or_query(
        config=store.config, data_source=fv.batch_source, join_key_columns=fv.join_keys,
        feature_name_columns=[f.name for f in fv.features], timestamp_field=fv.batch_source.timestamp_field,
        created_timestamp_column=fv.batch_source.created_timestamp_column or None, start_date=start, end_date=end)
    return job.to_df()


def materialize(store: FeatureStore, views: list[str], start: datetime, end: datetime) -> dict:
    """Load the latest value per entity with event time in [start, end] into the online store;
    returns the rows per view and the seconds taken."""
    t0 = time.perf_counter()
    store.materialize(start_date=start, end_date=end, feature_views=views)
    seconds = time.perf_counter() - t0
    rows = {v: len(latest_rows(store, v, start, end)) for v in views}
    return {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(sum(rows.values()) / max(seconds, 1e-9))}


def fraud_spine(lake, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """Entity rows for the fraud model: each install (of dates [start, end] if given) at its
    decision time, 24 h after the install, when the post-install features are complete."""
    from unmogrowp.fraud import features as ff

    flt = [("install_date", ">=", start), ("install_date", "<=", end)] if start and end else None
    spine = lake.read(ff.INSTALL_TABLE, columns=["install_id", "install_ts", "install_date", "app_id",
                                                 "winning_touch_id"], filters=flt).to_pandas()
    spine["event_timestamp"] = pd.to_datetime(spine.pop("install_ts"), utc=True) + timedelta(hours=24)
    return spine


def training_frame(store: FeatureStore, spine: pd.DataFrame, service: str) -> pd.DataFrame:
    """Point-in-time correct features of ``service`` for the entity rows of ``spine`` (one
    historical retrieval per offline store, joined back on the spine's row order)."""
    fs = store.get_feature_service(service)
    views = {p.name: store.get_feature_view(p.name) for p in fs.feature_view_projections}
    out = spine.reset_index(drop=True).copy()
    out["_row"] = range(len(out))
    by_store: dict[type, list[str]] = {}
    for p in fs.feature_view_projections:
        store_cls = ClickhouseOfflineStore if isinstance(views[p.name].batch_source, ClickhouseSource) \
            else DeltaOfflineStore
        by_store.setdefault(store_cls, []).extend(f"{p.name}:{f.name}" for f in p.features)
    for refs in by_store.values():
        keys = sorted({k for ref in refs for k in views[ref.split(':')[0]].join_keys})
        got = store.get_historical_features(entity_df=out[["_row", "event_timestamp", *keys]], features=refs).to_df()
        names = [r.split(":")[1] for r in refs]
        out = out.merge(got[["_row", *names]], on="_row", how="left")
    return out.sort_values("_row").drop(columns="_row").reset_index(drop=True)
