"""The Feast feature store of the lakehouse: configuration per environment, the offline store that
routes Delta sources to DuckDB and ClickHouse marts to ClickHouse, apply, materialization and the
point-in-time training frame.

Feast's own hybrid store cannot route ClickHouse sources (custom source type); its Dask file store
reads a Delta directory as plain Parquet, files removed by later versions included; its DuckDB store
reads Delta through DuckDB's delta extension, which DuckDB downloads at run time (no internet here).
So the Delta tables are read with delta-rs (the lake's own reader, the current version only) and
joined by Feast's DuckDB/ibis engine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
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
from feast.repo_config import FeastConfigBaseModel, RepoConfig, load_repo_config

from ml.feature_repo import REPO
from unmogrowp.config import ClickHouseSettings, Settings
from unmogrowp.lake import storage_options_from_env

CONFIGS = {"local": "feature_store.yaml", "prod": "feature_store.prod.yaml"}


class LakehouseOfflineStoreConfig(FeastConfigBaseModel):
    type: Literal["ml.feature_store.LakehouseOfflineStore"] = "ml.feature_store.LakehouseOfflineStore"
    clickhouse: dict  # ClickhouseOfflineStoreConfig fields


def _read_delta(data_source, repo_path: str):
    """The current version of a Delta source, read by delta-rs, as an ibis (DuckDB) table."""
    import ibis
    from deltalake import DeltaTable

    path = data_source.path
    return ibis.memtable(DeltaTable(path, storage_options=storage_options_from_env(path) or None).to_pyarrow_table())


_IBIS = {"data_source_reader": _read_delta, "data_source_writer": _write_data_source, "staging_location": None,
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
            created_timestamp_column=created_timestamp_column, start_date=start_date, end_date=end_date, **_IBIS)

    @staticmethod
    def get_historical_features(config, feature_views, feature_refs, entity_df, registry, project,
                                full_feature_names=False, filter_by_created_timestamp=False):
        return get_historical_features_ibis(
            config=config, feature_views=feature_views, feature_refs=feature_refs, entity_df=entity_df,
            registry=registry, project=project, full_feature_names=full_feature_names,
            filter_by_created_timestamp=filter_by_created_timestamp, **_IBIS)

    @staticmethod
    def pull_all_from_table_or_query(config, data_source, join_key_columns, feature_name_columns, timestamp_field,
                                     created_timestamp_column=None, start_date=None, end_date=None):
        return pull_all_from_table_or_query_ibis(
            config=config, data_source=data_source, join_key_columns=join_key_columns,
            feature_name_columns=feature_name_columns, timestamp_field=timestamp_field,
            created_timestamp_column=created_timestamp_column, start_date=start_date, end_date=end_date, **_IBIS)


def _route(config: RepoConfig, source) -> tuple[type[OfflineStore], RepoConfig]:
    """The store for ``source`` and a copy of ``config`` whose offline store is that store's."""
    routed = config.model_copy()
    if isinstance(source, ClickhouseSource):
        routed._offline_store = ClickhouseOfflineStoreConfig(**config.offline_store.clickhouse)
        return ClickhouseOfflineStore, routed
    routed._offline_store = DuckDBOfflineStoreConfig()
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


@dataclass(frozen=True)
class StoreTarget:
    """Where the feature store lives: the lakehouse home and lake, ClickHouse, the online store."""

    home: str
    lake_uri: str
    clickhouse: ClickHouseSettings
    online: str = "sqlite"  # sqlite (feature_store.yaml) or redis (feature_store.prod.yaml)
    redis_url: str = ""  # host:port[,db=N] for redis
    registry_path: str = ""  # SQL registry URL for redis; default a sqlite file under home/feast

    @classmethod
    def of(cls, settings: Settings, online: str = "sqlite", redis_url: str = "", registry_path: str = ""):
        return cls(str(settings.home), settings.lake_uri, settings.clickhouse, online, redis_url, registry_path)

    def environment(self) -> dict[str, str]:
        """The variables the YAML files read (export them for the feast CLI and ``feast serve``)."""
        ch = self.clickhouse
        feast_home = Path(self.home) / "feast"
        feast_home.mkdir(parents=True, exist_ok=True)
        env = {"UNMOGROWP_HOME": self.home, "UNMOGROWP_LAKE_URI": self.lake_uri, "FEAST_HOME": str(feast_home),
               "FEAST_CLICKHOUSE_HOST": ch.host, "FEAST_CLICKHOUSE_PORT": str(ch.port),
               "FEAST_CLICKHOUSE_USER": ch.user, "FEAST_CLICKHOUSE_PASSWORD": ch.password,
               "FEAST_CLICKHOUSE_DATABASE": "marts"}
        if self.online == "redis":
            env["FEAST_REDIS_CONNECTION"] = self.redis_url
            env["FEAST_REGISTRY_PATH"] = self.registry_path or f"sqlite:///{feast_home / 'registry_sql.db'}"
        return env

    @property
    def yaml(self) -> Path:
        return REPO / CONFIGS["prod" if self.online == "redis" else "local"]


@contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def get_store(target: StoreTarget) -> FeatureStore:
    """The feature store: sqlite online store and a file registry locally (``feature_store.yaml``),
    Redis and a SQL registry in production (``feature_store.prod.yaml``)."""
    with _environ(target.environment()):
        config = load_repo_config(REPO, target.yaml)
    return FeatureStore(repo_path=str(REPO), config=config)


def definitions(target: StoreTarget) -> list:
    """Every Feast object of ``ml/feature_repo/definitions.py`` for the lake of ``target``."""
    import importlib

    with _environ(target.environment()):
        from ml.feature_repo import definitions as defs

        defs = importlib.reload(defs)
    return defs.OBJECTS


def apply(store: FeatureStore, target: StoreTarget) -> dict[str, int]:
    """Register every definition (and drop the ones removed from the repository)."""
    objects = definitions(target)
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
