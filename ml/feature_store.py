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
from feast.infra.compute_engines.local.compute import LocalComputeEngine, LocalComputeEngineConfig
from feast.infra.compute_engines.local.feature_builder import LocalFeatureBuilder
from feast.infra.compute_engines.local.nodes import LocalOutputNode
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
ENGINE = "ml.feature_store.LakehouseComputeEngine"  # materialization (feature_store*.yaml name it too)


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


# -- materialization at Arrow speed ------------------------------------------------------------
# Feast's local engine turns every cell of the offline frame into a ValueProto in Python, then its sqlite
# store inserts one statement per (entity, feature) and its Redis store builds each hash in Python (~2k
# and ~12k rows/s). The lakehouse's engine hands the Arrow batch to its stores instead; they write the
# same bytes (entity keys, serialized ValueProtos, timestamps) column-wise, each distinct value converted
# by Feast's own converter once (doubles packed directly), so reads, `feast serve` and the CLI see
# exactly what Feast's path writes (tests/ml/test_feature_store.py compares the stores byte for byte).

_DOUBLE_TAG = b"\x29"  # ValueProto field 5 (double_val), wire type 1 (64-bit)


def _proto_bytes(column, value_type, texts: bool, prefix: bytes = b"", resp: bool = False
                 ) -> tuple[list[bytes], list | None]:
    """Serialized ValueProto and value_text (sqlite's column) of each value of an Arrow column, as
    Feast's ``python_values_to_proto_values`` + ``extract_text_and_num`` give them; each proto after
    ``prefix`` and, with ``resp``, framed as a RESP bulk string."""
    import numpy as np
    from feast.infra.online_stores.helpers import extract_text_and_num
    from feast.type_map import python_values_to_proto_values
    from feast.value_type import ValueType

    def frame(proto: bytes) -> bytes:
        return prefix + _bulk(proto) if resp else prefix + proto

    values = column.to_numpy(zero_copy_only=False)
    if value_type == ValueType.DOUBLE and values.dtype == np.float64:
        null = np.isnan(values)
        head, tail = prefix + (b"$9\r\n" if resp else b""), b"\r\n" if resp else b""
        width = len(head) + 9 + len(tail)
        packed = np.empty((len(values), width), np.uint8)
        packed[:, :len(head)] = np.frombuffer(head, np.uint8)
        packed[:, len(head)] = _DOUBLE_TAG[0]
        packed[:, len(head) + 1:len(head) + 9] = values.astype("<f8").view(np.uint8).reshape(-1, 8)
        packed[:, len(head) + 9:] = np.frombuffer(tail, np.uint8)
        flat, empty = packed.tobytes(), frame(b"")
        protos = [empty if n else flat[width * i:width * (i + 1)] for i, n in enumerate(null.tolist())]
        if not texts:
            return protos, None
        return protos, [None if n else str(v) for v, n in zip(values.tolist(), null.tolist(), strict=True)]
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if (codes < 0).any():  # the null of this column's dtype, converted as Feast converts it
        uniques = np.concatenate([np.asarray(uniques, dtype=values.dtype), values[codes < 0][:1]])
        codes = np.where(codes < 0, len(uniques) - 1, codes)
    converted = python_values_to_proto_values(np.asarray(uniques, dtype=values.dtype), value_type)
    u_bytes = [frame(p.SerializeToString()) for p in converted]
    u_texts = [extract_text_and_num(p, False)[0] for p in converted] if texts else []
    codes = codes.tolist()
    return [u_bytes[c] for c in codes], [u_texts[c] for c in codes] if texts else None


def _entity_keys(batch, join_keys: Mapping[str, object]) -> list[bytes] | None:
    """Feast's ``serialize_entity_key`` (version 3) of each row's string join keys; None for other
    key types (Feast's own path writes those)."""
    import struct

    from feast.value_type import ValueType

    if any(t != ValueType.STRING for t in join_keys.values()):
        return None
    names = sorted(join_keys)
    parts = [struct.pack("<I", len(names))]
    for k in names:
        encoded = k.encode("utf8")
        parts += [struct.pack("<I", ValueType.STRING.value), struct.pack("<I", len(encoded)), encoded]
    prefix, tag = b"".join(parts), struct.pack("<I", ValueType.STRING.value)
    columns = [[v.encode("utf8") for v in batch.column(k).to_pylist()] for k in names]
    return [prefix + b"".join(tag + struct.pack("<I", len(v)) + v for v in row) for row in zip(*columns, strict=True)]


def _event_micros(batch, field_name: str):
    """The event timestamps as UTC microseconds since the epoch (int64)."""
    import pyarrow as pa

    column = batch.column(field_name)
    if pa.types.is_timestamp(column.type) and column.type.tz is None:
        column = column.cast(pa.timestamp(column.type.unit, "UTC"))
    return column.cast(pa.timestamp("us", "UTC")).cast(pa.int64()).to_numpy(zero_copy_only=False)


def _arrow_batch(table, feature_view, texts: bool = False, field_prefix=None):
    """(entity keys, {feature: (protos, texts)}, event microseconds) of an offline frame, or None
    when Feast's own conversion must run (non-string keys, created timestamps, vector features)."""
    from feast.types import PrimitiveFeastType

    source = feature_view.batch_source
    if source is None or source.created_timestamp_column:
        return None
    if any(not isinstance(f.dtype, PrimitiveFeastType) for f in feature_view.features):
        return None
    keys = _entity_keys(table, {e.name: e.dtype.to_value_type() for e in feature_view.entity_columns})
    if keys is None:
        return None
    values = {f.name: _proto_bytes(table.column(f.name), f.dtype.to_value_type(), texts,
                                   *((field_prefix(f.name), True) if field_prefix else ()))
              for f in feature_view.features}
    return keys, values, _event_micros(table, source.timestamp_field)


def _sqlite_seconds(micros) -> list[int]:
    """sqlite's event_ts: ``int(to_naive_utc(ts).timestamp())`` as Feast's adapter stores it."""
    epoch = datetime(1970, 1, 1)  # naive UTC, as to_naive_utc leaves it
    codes, uniques = pd.factorize(micros)
    stored = [int((epoch + timedelta(microseconds=int(u))).timestamp()) for u in uniques]
    return [stored[c] for c in codes.tolist()]


class LakehouseSqliteOnlineStore(SqliteOnlineStore):
    """Feast's sqlite online store (configured by :class:`LakehouseSqliteOnlineStoreConfig`), written
    with one ``executemany`` per batch."""

    def _plain(self, config: RepoConfig) -> bool:
        store = config.online_store
        return not store.vector_enabled and not getattr(store, "enable_openai_compatible_store", False)

    def _upsert(self, config: RepoConfig, table, rows) -> None:
        from feast.infra.online_stores.sqlite import _quote_id, _table_id

        name = _quote_id(_table_id(config.project, table, config.registry.enable_online_feature_view_versioning))
        sql = (f"INSERT INTO {name} (entity_key, feature_name, value, value_text, event_ts, created_ts) "
               "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(entity_key, feature_name) DO UPDATE SET "
               "value = excluded.value, value_text = excluded.value_text, event_ts = excluded.event_ts, "
               "created_ts = excluded.created_ts;")
        conn = self._get_conn(config)
        conn.execute("PRAGMA cache_size = -262144")  # 256 MB: the batch's B-tree pages stay in memory
        with conn:
            conn.executemany(sql, rows)

    def online_write_batch(self, config, table, data, progress) -> None:
        if not self._plain(config):
            return super().online_write_batch(config, table, data, progress)
        from feast.infra.key_encoding_utils import serialize_entity_key
        from feast.infra.online_stores.helpers import extract_text_and_num
        from feast.utils import to_naive_utc

        version = config.entity_key_serialization_version

        def rows():
            for entity_key, values, ts, created in data:
                key = serialize_entity_key(entity_key, entity_key_serialization_version=version)
                ts, created = to_naive_utc(ts), None if created is None else to_naive_utc(created)
                for name, val in values.items():
                    yield key, name, val.SerializeToString(), extract_text_and_num(val, False)[0], ts, created

        self._upsert(config, table, rows())
        if progress:
            progress(len(data))

    def online_write_arrow(self, config, table, batch) -> bool:
        """Write an offline frame's rows (what Feast's path would write); False: not handled here."""
        encoded = _arrow_batch(batch, table, texts=True) if self._plain(config) else None
        if encoded is None:
            return False
        keys, values, micros = encoded
        seconds = _sqlite_seconds(micros)
        names = sorted(values)
        order = sorted(range(len(keys)), key=keys.__getitem__)  # primary-key order (stable: the last row wins)

        def rows():
            columns = [values[n] for n in names]
            for i in order:
                key, ts = keys[i], seconds[i]
                for name, (protos, texts) in zip(names, columns, strict=True):
                    yield key, name, protos[i], texts[i], ts, None

        self._upsert(config, table, rows())
        return True


class LakehouseRedisOnlineStoreConfig(RedisOnlineStoreConfig):
    """Feast's Redis online store; by default at the settings' ``FEAST_REDIS_CONNECTION``."""

    type: Literal["ml.feature_store.LakehouseRedisOnlineStore"] = "ml.feature_store.LakehouseRedisOnlineStore"
    connection_string: StrictStr = Field(default_factory=lambda: settings_target().redis_url)


class LakehouseRedisOnlineStore(RedisOnlineStore):
    """Feast's Redis online store (configured by :class:`LakehouseRedisOnlineStoreConfig`), written
    from Arrow in pipelined chunks."""

    CHUNK = 20_000  # rows per round trip

    def online_write_arrow(self, config, table, batch) -> bool:
        """Write an offline frame's rows as Feast's ``online_write_batch`` would (the same hash fields;
        an entity's older or same-instant row skipped); False: not handled here (Redis Cluster/Sentinel)."""
        import redis
        from feast.infra.online_stores.helpers import _mmh3
        from feast.infra.online_stores.redis import _versioned_fv_name
        from google.protobuf.timestamp_pb2 import Timestamp

        store = config.online_store
        client = self._get_client(store)
        if type(client) is not redis.Redis:
            return False
        view = _versioned_fv_name(table, config)
        encoded = _arrow_batch(batch, table, field_prefix=lambda name: _bulk(_mmh3(f"{view}:{name}")))
        if encoded is None:
            return False
        keys, values, micros = encoded
        ts_key = f"_ts:{view}".encode()
        n_fields = len(values)
        project = config.project.encode("utf-8")
        codes, uniques = pd.factorize(micros)
        stamps = [Timestamp(seconds=int(u) // 1_000_000, nanos=int(u) % 1_000_000 * 1000) for u in uniques]
        stamp_nanos = [s.seconds * 1_000_000_000 + s.nanos for s in stamps]
        codes = codes.tolist()
        hmget = b"*3\r\n$5\r\nHMGET\r\n" + _bulk(ts_key)
        head = b"*%d\r\n$4\r\nHSET\r\n" % (2 + 2 * (1 + n_fields))
        stamp_bulk = [_bulk(ts_key) + _bulk(s.SerializeToString()) for s in stamps]
        # each row's HSET arguments after the key (field, value pairs), joined column-wise
        tails = list(map(b"".join, zip([stamp_bulk[c] for c in codes], *[protos for protos, _ in values.values()],
                                       strict=True)))
        expire = b"%d" % store.key_ttl_seconds if store.key_ttl_seconds else None
        latest: dict[bytes, int] = {}  # an entity's newest time so far in this batch
        conn = client.connection_pool.get_connection()
        try:
            for lo in range(0, len(keys), self.CHUNK):
                rkeys = [_bulk(k + project) for k in keys[lo:lo + self.CHUNK]]
                previous = _round_trip(conn, [hmget + k for k in rkeys])
                commands = []
                for j, (rk, prev) in enumerate(zip(rkeys, previous, strict=True)):
                    i, prev = lo + j, prev[0]
                    new = stamp_nanos[codes[i]]
                    seen = latest.get(rk, 0)
                    if prev:
                        old = Timestamp()
                        old.ParseFromString(prev)
                        seen = max(seen, old.seconds * 1_000_000_000 + old.nanos)
                    if seen and new <= seen:
                        continue
                    latest[rk] = new
                    commands.append(head + rk + tails[i])
                    if expire:
                        commands.append(b"*3\r\n$6\r\nEXPIRE\r\n" + rk + _bulk(expire))
                _round_trip(conn, commands)
        finally:
            client.connection_pool.release(conn)
        return True


def _bulk(value: bytes) -> bytes:
    """A RESP bulk string."""
    return b"$%d\r\n%b\r\n" % (len(value), value)


def _round_trip(conn, commands: list[bytes]) -> list:
    """Send RESP commands on one connection and read their replies (errors raise)."""
    if not commands:
        return []
    conn.send_packed_command([b"".join(commands)])
    replies = [conn.read_response() for _ in commands]
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


class LakehouseOutputNode(LocalOutputNode):
    """Feast's output node, handing the Arrow frame to the online store when it writes Arrow."""

    def execute(self, context):
        from feast.infra.compute_engines.local.arrow_table_value import ArrowTableValue

        online_store = context.online_store
        if not (self.feature_view.online and hasattr(online_store, "online_write_arrow")):
            return super().execute(context)
        table = self.get_single_table(context).data
        if table.num_rows == 0 or self.feature_view.offline:
            return super().execute(context)
        if not online_store.online_write_arrow(context.repo_config, self.feature_view, table):
            return super().execute(context)
        output = ArrowTableValue(data=table)
        context.node_outputs[self.name] = output
        return output


class LakehouseFeatureBuilder(LocalFeatureBuilder):
    def build_output_nodes(self, view, input_node):
        node = LakehouseOutputNode("output", self.dag_root.view, inputs=[input_node])
        self.nodes.append(node)
        return node


class LakehouseComputeEngineConfig(LocalComputeEngineConfig):
    """Feast's local engine with the lakehouse's Arrow output node."""

    type: Literal["ml.feature_store.LakehouseComputeEngine"] = "ml.feature_store.LakehouseComputeEngine"


class LakehouseComputeEngine(LocalComputeEngine):
    """Feast's local materialization engine whose output node writes Arrow batches (see above)."""

    def _materialize_one(self, registry, task, **kwargs):
        from feast.infra.common.materialization_job import MaterializationJobStatus
        from feast.infra.compute_engines.local.job import LocalMaterializationJob

        job_id = f"{task.feature_view.name}-{task.start_time}-{task.end_time}"
        context = self.get_execution_context(registry, task)
        try:
            LakehouseFeatureBuilder(registry, task, backend=self._get_backend(context)).build().execute(context)
            return LocalMaterializationJob(job_id=job_id, status=MaterializationJobStatus.SUCCEEDED)
        except Exception as e:  # Feast's engine reports a failed view as a job error, not by raising
            return LocalMaterializationJob(job_id=job_id, status=MaterializationJobStatus.ERROR, error=e)


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
                      offline_store=offline, batch_engine={"type": ENGINE}, entity_key_serialization_version=3,
                      repo_path=REPO)


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
    frames = {v: latest_rows(store, v, start, end) for v in views}
    rows = {v: len(f) for v, f in frames.items()}
    by_day: dict[str, int] = {}
    for v, frame in frames.items():
        # a day's features are known at its end (event time = the next midnight): a millisecond earlier is the day
        ts = pd.to_datetime(frame[store.get_feature_view(v).batch_source.timestamp_field], utc=True)
        for day, n in (ts - pd.Timedelta(milliseconds=1)).dt.strftime("%Y-%m-%d").value_counts().items():
            by_day[day] = by_day.get(day, 0) + int(n)
    return {"rows": rows, "rows_by_day": by_day, "seconds": round(seconds, 3),
            "rows_per_s": round(sum(rows.values()) / max(seconds, 1e-9))}


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
