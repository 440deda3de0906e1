"""Erase a device or user everywhere: Delta tables (delete, then vacuum so the files are gone),
ClickHouse tables (mutations, synchronous), the Feast online store; then verify and audit.

The request names raw identifiers (an advertising id, IDFV, Android id or user id). Silver resolves
them to everything the person left: every identifier seen together with them, their event ids,
install ids, touch ids and hashed device keys, and the landing lines they came from. Every table
holding one of those columns is cleaned, found by its schema, so a new table is covered without
changes here. The audit record keeps a salted hash of the request, never the identifiers.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from unmogrowp.ingest.events import SILVER_EVENTS
from unmogrowp.lake import Lake
from unmogrowp.privacy.keys import device_key, privacy_key

AUDIT_TABLE = "audit/erasures"
IDENTIFIER_COLUMNS = ("device_id", "idfv", "android_id", "user_id")
KEY_COLUMNS = ("event_id", "install_id", "touch_id", "device_key", "last_click_touch_id", "winning_touch_id")
DATABASES = ("raw", "marts", "fraud", "ml", "mta", "analytics")


@dataclass
class Subject:
    """Everything that identifies the person in the stores."""

    identifiers: set[str] = field(default_factory=set)
    event_ids: set[str] = field(default_factory=set)
    install_ids: set[str] = field(default_factory=set)
    touch_ids: set[str] = field(default_factory=set)
    device_keys: set[str] = field(default_factory=set)

    def values_for(self, column: str) -> set[str]:
        if column in IDENTIFIER_COLUMNS:
            return self.identifiers
        return {"event_id": self.event_ids, "install_id": self.install_ids | self.event_ids,
                "touch_id": self.touch_ids, "last_click_touch_id": self.touch_ids,
                "winning_touch_id": self.touch_ids, "device_key": self.device_keys}.get(column, set())

    @property
    def strings(self) -> set[str]:
        return self.identifiers | self.event_ids


@dataclass
class ErasureReport:
    request_id: str
    requested_by: str
    requested_at: str
    deleted: dict[str, int]  # store:table -> rows
    remaining: dict[str, int]  # store:table -> rows still matching after the erasure (must be 0)
    verified_flag: bool | None = None  # as recorded in the audit table, when read back from it

    @property
    def verified(self) -> bool:
        return self.verified_flag if self.verified_flag is not None else not any(self.remaining.values())


def resolve(lake: Lake, identifiers: set[str]) -> Subject:
    """The identifiers seen with the requested ones (to a fixed point), and the person's keys."""
    cols = ["event_id", "app_id", "event_type", "touch_id", *IDENTIFIER_COLUMNS]
    silver = lake.read(SILVER_EVENTS, columns=cols)
    subject = Subject(identifiers={i for i in identifiers if i})
    while True:
        hit = pa.array([False] * silver.num_rows)
        for c in IDENTIFIER_COLUMNS:
            hit = pc.or_(hit, pc.fill_null(pc.is_in(silver[c], pa.array(sorted(subject.identifiers))), False))
        rows = silver.filter(hit)
        seen = {v for c in IDENTIFIER_COLUMNS for v in rows[c].to_pylist() if v}
        if seen <= subject.identifiers:
            break
        subject.identifiers |= seen
    for r in rows.to_pylist():
        subject.event_ids.add(r["event_id"])
        if r["event_type"] == "install":
            subject.install_ids.add(r["event_id"])
        if r["touch_id"]:
            subject.touch_ids.add(r["touch_id"])
        dkey = r["idfv"] or r["android_id"] or r["device_id"]
        subject.device_keys.add(device_key(r["app_id"], dkey, r["event_id"]))
    return subject


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _raw_line_hits(table: pa.Table, strings: set[str]) -> pa.Array:
    """Rows whose raw landing line (JSON, any bytes) holds one of ``strings`` as a whole JSON
    string: quoted, so a short id never matches inside another value."""
    hit = pa.array([False] * table.num_rows)
    raw = table["raw_line"]
    for s in strings:
        hit = pc.or_(hit, pc.fill_null(pc.match_substring(raw, json.dumps(s, ensure_ascii=False)), False))
    return hit


def erase_delta(lake: Lake, subject: Subject) -> dict[str, int]:
    """Delete the subject's rows from every Delta table, then vacuum (older versions go too)."""
    deleted = {}
    for name in lake.tables():
        dt = DeltaTable(lake.uri(name), storage_options=lake.storage_options or None)
        schema = dt.schema().to_arrow()
        names = set(schema.names)
        clauses = [f'"{c}" IN ({", ".join(_sql_str(v) for v in sorted(subject.values_for(c)))})'
                   for c in (*IDENTIFIER_COLUMNS, *KEY_COLUMNS) if c in names and subject.values_for(c)]
        if "raw_line" in names and {"source_file", "line_number"} <= names:
            # landing lines (bronze, quarantine) are found by content and deleted by their lineage
            data = dt.to_pyarrow_table(columns=["source_file", "line_number", "raw_line"])
            lines = data.filter(_raw_line_hits(data, subject.strings))
            by_file: dict[str, list[int]] = {}
            for f, n in zip(lines["source_file"].to_pylist(), lines["line_number"].to_pylist()):
                by_file.setdefault(f, []).append(n)
            clauses += [f'("source_file" = {_sql_str(f)} AND "line_number" IN ({", ".join(map(str, ns))}))'
                        for f, ns in by_file.items()]
        if not clauses:
            continue
        metrics = dt.delete(" OR ".join(clauses))
        rows = int(metrics.get("num_deleted_rows", 0) or 0)
        if rows:
            deleted[f"delta:{name}"] = rows
        dt.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    return deleted


def _clickhouse_targets(client) -> dict[str, list[str]]:
    """Tables (not views) in the platform's databases with an identifying column."""
    rows = client.query(
        "SELECT c.database, c.table, c.name FROM system.columns AS c "
        "INNER JOIN system.tables AS t ON t.database = c.database AND t.name = c.table "
        "WHERE c.database IN {dbs:Array(String)} AND c.name IN {cols:Array(String)} "
        "AND t.engine NOT IN ('View', 'MaterializedView', 'Memory')",
        parameters={"dbs": list(DATABASES), "cols": [*IDENTIFIER_COLUMNS, *KEY_COLUMNS]}).result_rows
    out: dict[str, list[str]] = {}
    for db, table, col in rows:
        out.setdefault(f"{db}.{table}", []).append(col)
    return out


def _ch_condition(columns: list[str], subject: Subject) -> tuple[str, dict]:
    parts, params = [], {}
    for i, c in enumerate(sorted(columns)):
        values = sorted(subject.values_for(c))
        if values:
            parts.append(f"`{c}` IN {{v{i}:Array(String)}}")
            params[f"v{i}"] = values
    return " OR ".join(parts), params


def _ch_count(client, table: str, columns: list[str], subject: Subject) -> int:
    where, params = _ch_condition(columns, subject)
    return int(client.command(f"SELECT count() FROM {table} WHERE {where}", parameters=params)) if where else 0


def erase_clickhouse(client, subject: Subject) -> dict[str, int]:
    """Delete the subject's rows with synchronous mutations (the parts are rewritten, not masked)."""
    deleted = {}
    for table, columns in _clickhouse_targets(client).items():
        where, params = _ch_condition(columns, subject)
        if not where:
            continue
        n = _ch_count(client, table, columns, subject)
        if n:
            client.command(f"ALTER TABLE {table} DELETE WHERE {where} SETTINGS mutations_sync = 2",
                           parameters=params)
            deleted[f"clickhouse:{table}"] = n
    return deleted


def erase_online(store, subject: Subject) -> dict[str, int]:
    """Delete the subject's entity rows from the Feast online store (sqlite or Redis)."""
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    config = store.config
    deleted = {}
    for fv in store.list_feature_views():
        if not fv.online or len(fv.join_keys) != 1:
            continue
        key = fv.join_keys[0]
        values = sorted(subject.values_for(key))
        keys = [EntityKey(join_keys=[key], entity_values=[Value(string_val=v)]) for v in values]
        if not keys:
            continue
        if config.online_store.type == "sqlite":
            import sqlite3

            path = Path(config.repo_path or ".") / config.online_store.path
            with sqlite3.connect(str(path)) as db:
                table = f"{config.project}_{fv.name}"
                n = sum(db.execute(f'DELETE FROM "{table}" WHERE entity_key = ?',
                                   (serialize_entity_key(k, config.entity_key_serialization_version),)).rowcount
                        for k in keys)
        else:
            from feast.infra.online_stores.helpers import _redis_key

            client = store._get_provider().online_store._get_client(config.online_store)
            n = sum(client.delete(_redis_key(config.project, k, config.entity_key_serialization_version))
                    for k in keys)
        if n:
            deleted[f"feast:{fv.name}"] = int(n)
    return deleted


def _online_remaining(store, subject: Subject) -> dict[str, int]:
    out = {}
    for fv in store.list_feature_views():
        if not fv.online or len(fv.join_keys) != 1 or not subject.values_for(fv.join_keys[0]):
            continue
        key = fv.join_keys[0]
        rows = [{key: v} for v in sorted(subject.values_for(key))]
        got = store.get_online_features(features=[f"{fv.name}:{fv.features[0].name}"], entity_rows=rows).to_dict()
        out[f"feast:{fv.name}"] = sum(v is not None for v in got[fv.features[0].name])
    return out


def remaining(lake: Lake, client, store, subject: Subject) -> dict[str, int]:
    """Rows still matching the subject in every store (all 0 after an erasure)."""
    out = {}
    for name in lake.tables():
        table = lake.read(name)
        hit = pa.array([False] * table.num_rows)
        for c in (*IDENTIFIER_COLUMNS, *KEY_COLUMNS):
            if c in table.column_names and subject.values_for(c):
                hit = pc.or_(hit, pc.fill_null(pc.is_in(table[c], pa.array(sorted(subject.values_for(c)))), False))
        if "raw_line" in table.column_names:
            hit = pc.or_(hit, _raw_line_hits(table, subject.strings))
        out[f"delta:{name}"] = pc.sum(hit).as_py() or 0
    for table, columns in _clickhouse_targets(client).items():
        out[f"clickhouse:{table}"] = _ch_count(client, table, columns, subject)
    if store is not None:
        out.update(_online_remaining(store, subject))
    return out


def erase(lake: Lake, client, store, identifiers: list[str], requested_by: str) -> ErasureReport:
    """Erase everything of ``identifiers`` (a device's or a user's ids), verify, write the audit record."""
    requested_at = datetime.now(UTC)
    subject = resolve(lake, set(identifiers))
    deleted = {**erase_delta(lake, subject), **erase_clickhouse(client, subject)}
    if store is not None:
        deleted.update(erase_online(store, subject))
    report = ErasureReport(str(uuid.uuid4()), requested_by, requested_at.isoformat(), deleted,
                           {k: v for k, v in remaining(lake, client, store, subject).items() if v})
    salt = os.environ.get("UNMOGROWP_AUDIT_SALT", privacy_key())
    lake.append(AUDIT_TABLE, pa.table({
        "request_id": [report.request_id], "requested_by": [requested_by], "requested_at": [requested_at],
        "completed_at": [datetime.now(UTC)],
        "subject_hash": [hashlib.sha256((salt + "|" + "|".join(sorted(set(identifiers)))).encode()).hexdigest()],
        "identifiers_found": [len(subject.identifiers)], "events": [len(subject.event_ids)],
        "deleted": [json.dumps(deleted, sort_keys=True)], "verified": [report.verified]}))
    return report
