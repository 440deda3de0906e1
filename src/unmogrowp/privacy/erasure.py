"""Erase a device or user everywhere: Delta tables (delete, then vacuum so the files are gone),
ClickHouse tables (mutations, synchronous), the Feast online store; then verify and audit.

The request names raw identifiers (an advertising id, IDFV, Android id or user id); a value that
cannot be one (``identifier_problem``: too short, a known value of the data, one repeated
character, whitespace) is refused before anything is written. Silver resolves them to everything
the person left: every identifier seen together with them in an identifier field, their event
ids, install ids, touch ids and hashed device keys. Landing lines (bronze, quarantine) are matched
by parsing the JSON and comparing the identifier fields, never by searching the text. Every table
holding one of those columns is cleaned, found by its schema, so a new table is covered without
changes here.

No raw identifier is written anywhere by the erasure itself: Delta rows are deleted by their
lineage or event ids (the commit predicates hold no identifier) and each cleaned table's log
history (whose file statistics may hold them) is expired behind a checkpoint; ClickHouse
mutations read the values from a key table dropped afterwards (``system.mutations`` shows only
its name); the identifiers' keyed hashes go to the erasure list (``erasure_list``) that ingestion
applies, so a replayed landing file cannot bring the person back. The audit record keeps a salted
hash of the request, never the identifiers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import unicodedata
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
from deltalake import DeltaTable, write_deltalake

from unmogrowp.clickhouse.statement import sql_str
from unmogrowp.ingest.events import SILVER_EVENTS, SILVER_SCHEMA
from unmogrowp.lake import Lake, filesystem
from unmogrowp.privacy import erasure_list
from unmogrowp.privacy.keys import device_key
from unmogrowp.warehouse import DBT, FRAUD, MARTS, ML, MTA, RAW

AUDIT_TABLE = "audit/erasures"
IDENTIFIER_COLUMNS = ("device_id", "idfv", "android_id", "user_id")
KEY_COLUMNS = ("event_id", "install_id", "touch_id", "device_key", "last_click_touch_id", "winning_touch_id")
DATABASES = (RAW, MARTS, FRAUD, ML, MTA, DBT)
CASE_INSENSITIVE = ("device_id",)  # the contract lowercases IDFA/GAID (a UUID); the other fields are kept as sent
# row keys a Delta delete names instead of the identifiers, first present wins
ROW_KEYS = (("source_file", "line_number"), ("event_id",), ("install_id",), ("touch_id",), ("device_key",))

# -- what an identifier is ------------------------------------------------------------------------
# IDFA/GAID and IDFV are UUIDs (36 characters), an Android id is 16 hex digits, user ids are the
# app's own (the generator's: cust-<up to 7 digits>). Anything shorter than this is refused.
MIN_IDENTIFIER_LENGTH = 8
MAX_IDENTIFIER_LENGTH = 256
_WORDS = ("null", "none", "nil", "undefined", "unknown", "true", "false", "organic", "anonymous",
          "limited_ad_tracking", "not_set", "(not set)")


class NotAnIdentifier(ValueError):
    """An erasure request naming a value that cannot identify one person."""


def known_values(home: Path | str | None = None) -> frozenset[str]:
    """Values of the data that are not identifiers (lowercase): enums, currencies, countries, the
    networks of the seeds, the generator and ``home``'s config, event names and field names."""
    from unmogrowp import attribution_config
    from unmogrowp.contracts.currencies import ISO_4217
    from unmogrowp.contracts.events import EVENT_FIELDS, EVENT_TYPES, PLATFORMS, TOUCH_TYPES
    from unmogrowp.generator import simulate as sim
    from unmogrowp.ingest.events import LINEAGE

    values = {*EVENT_TYPES, *PLATFORMS, *TOUCH_TYPES, *ISO_4217, *sim.COUNTRIES, *sim.AD_NETWORKS,
              *sim.IN_APP_EVENT_NAMES, *sim.FRAUD_TYPES, *(n for n, *_ in sim.NETWORKS),
              *(f.name for f in EVENT_FIELDS), *LINEAGE.names, *_WORDS}
    for f in EVENT_FIELDS:
        values |= f.values
    for row in attribution_config.rows(Path(home or os.devnull), "network_priority"):  # no home: the seeds only
        values.add(row["media_source"])
    return frozenset(v.lower() for v in values if v)


def identifier_problem(value: object, known: frozenset[str] | None = None) -> str | None:
    """Why ``value`` cannot be a person's identifier, or None if it can."""
    if not isinstance(value, str):
        return "not text"
    if any(ch.isspace() or unicodedata.category(ch)[0] in "CZ" for ch in value):
        return "contains whitespace or a control or format character"
    if len(value) < MIN_IDENTIFIER_LENGTH:
        return f"shorter than {MIN_IDENTIFIER_LENGTH} characters (an identifier is a UUID, 16 hex digits or a user id)"
    if len(value) > MAX_IDENTIFIER_LENGTH:
        return f"longer than {MAX_IDENTIFIER_LENGTH} characters"
    if len(set(value.lower()) - {"-"}) <= 1:
        return "one repeated character (such as the zeroed IDFA of limited ad tracking), shared by many devices"
    if value.lower() in (known if known is not None else known_values()):
        return "a value of the event data (a platform, event type, network, currency, ...)"
    return None


def check_identifiers(identifiers: Iterable[str], home: Path | str | None = None) -> list[str]:
    """The requested identifiers, deduplicated; NotAnIdentifier names the first that cannot be one."""
    known = known_values(home)
    out = []
    for value in identifiers:
        problem = identifier_problem(value, known)
        if problem:
            raise NotAnIdentifier(f"{value!r} is not an identifier: {problem}")
        if value not in out:
            out.append(value)
    if not out:
        raise NotAnIdentifier("no identifier to erase")
    return out


# -- who the person is ----------------------------------------------------------------------------
@dataclass
class Subject:
    """Everything that identifies the person in the stores."""

    identifiers: set[str] = field(default_factory=set)
    event_ids: set[str] = field(default_factory=set)
    install_ids: set[str] = field(default_factory=set)
    touch_ids: set[str] = field(default_factory=set)
    device_keys: set[str] = field(default_factory=set)
    device_ids: set[str] = field(default_factory=set)  # the IDFAs/GAIDs among them (lowercase, as silver keeps them)
    skipped: int = 0  # values seen with the person that are not identifiers (not followed)

    def values_for(self, column: str) -> set[str]:
        if column in CASE_INSENSITIVE:
            return {i.lower() for i in self.identifiers}
        if column in IDENTIFIER_COLUMNS:
            return self.identifiers
        return {"event_id": self.event_ids, "install_id": self.install_ids | self.event_ids,
                "touch_id": self.touch_ids, "last_click_touch_id": self.touch_ids,
                "winning_touch_id": self.touch_ids, "device_key": self.device_keys}.get(column, set())

    def keys(self) -> pa.Table:
        """(column, value) of every value the person is found by, for key tables."""
        pairs = sorted((c, v) for c in (*IDENTIFIER_COLUMNS, *KEY_COLUMNS) for v in self.values_for(c))
        return pa.table({"column": [c for c, _ in pairs], "value": [v for _, v in pairs]},
                        schema=pa.schema([("column", pa.string()), ("value", pa.string())]))


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


def _column_hits(table: pa.Table, column: str, values: set[str]) -> pa.Array:
    col = table[column]
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = pc.cast(col, pa.string())
    if column in CASE_INSENSITIVE:
        col = pc.utf8_lower(col)
    return pc.fill_null(pc.is_in(col, pa.array(sorted(values), pa.string())), False)


def rows_of(table: pa.Table, subject: Subject, columns: Iterable[str] = (*IDENTIFIER_COLUMNS, *KEY_COLUMNS)
            ) -> pa.Array:
    """The rows of ``table`` whose identifying columns (or landing line) hold the subject's values."""
    hit = pa.array([False] * table.num_rows)
    for c in columns:
        if c in table.column_names and subject.values_for(c):
            hit = pc.or_(hit, _column_hits(table, c, subject.values_for(c)))
    if "raw_line" in table.column_names:
        hit = pc.or_(hit, landing_line_hits(table["raw_line"], subject))
    return hit


def resolve(lake: Lake, identifiers: set[str], privacy_key: str) -> Subject:
    """The identifiers seen with the requested ones (to a fixed point), and the person's keys
    (device keys under ``privacy_key``).

    A value seen beside them that cannot be an identifier (a placeholder such as a zeroed id) is
    not followed: it would chain to everyone sharing it."""
    cols = ["event_id", "app_id", "event_type", "touch_id", *IDENTIFIER_COLUMNS]
    silver = lake.read(SILVER_EVENTS, columns=cols, schema=SILVER_SCHEMA)
    subject = Subject(identifiers={i for i in identifiers if i})
    known = known_values()
    while True:
        rows = silver.filter(rows_of(silver, subject, IDENTIFIER_COLUMNS))
        seen = {v for c in IDENTIFIER_COLUMNS for v in rows[c].to_pylist() if v}
        good = {v for v in seen if identifier_problem(v, known) is None}
        subject.skipped = len(seen - good)
        if good <= subject.identifiers:
            break
        subject.identifiers |= good
    subject.device_ids = {v for v in rows["device_id"].to_pylist() if v in subject.identifiers}
    for r in rows.to_pylist():
        subject.event_ids.add(r["event_id"])
        if r["event_type"] == "install":
            subject.install_ids.add(r["event_id"])
        if r["touch_id"]:
            subject.touch_ids.add(r["touch_id"])
        dkey = r["idfv"] or r["android_id"] or r["device_id"]
        subject.device_keys.add(device_key(r["app_id"], dkey, r["event_id"], privacy_key))
    return subject


def _delta_str(value: str) -> str:
    """``value`` as a string literal of a delta-rs (DataFusion) predicate: quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


# top-level "field": "value" pairs of a line that is not valid JSON (a truncated last line)
_PAIRS_RE = r'"(device_id|idfv|android_id|user_id)"\s*:\s*"([^"\\]*)"'


def landing_line_hits(lines: pa.Array | pa.ChunkedArray, subject: Subject) -> pa.Array:
    """True for each raw landing line whose identifier fields hold one of the subject's identifiers.

    The line is parsed as JSON by ClickHouse's parser (the one silver uses) and each identifier
    field compared whole (device_id lowercased, as the contract does); a value inside another
    field, a JSON key or a longer id never matches. A line that is not valid JSON (cut off) is
    read as its ``"field": "value"`` pairs."""
    n = len(lines)
    keys = subject.keys().filter(pc.is_in(subject.keys()["column"], pa.array(IDENTIFIER_COLUMNS)))
    if not n or not keys.num_rows:
        return pa.array([False] * n, pa.bool_())
    import chdb

    batch = pa.table({"i": pa.array(range(n), pa.int64()), "line": lines})  # noqa: F841  (read by chDB)
    ids = keys  # noqa: F841

    def canon(f: str, v: str) -> str:
        return f"lower({v})" if f in CASE_INSENSITIVE else v

    in_json = " OR ".join(f"{canon(f, f'JSONExtractString(s, {sql_str(f)})')} IN "
                          f"(SELECT value FROM Python(ids) WHERE column = {sql_str(f)})" for f in IDENTIFIER_COLUMNS)
    in_text = ("arrayExists(p -> (p[1], if(p[1] = 'device_id', lower(p[2]), p[2])) IN "
               "(SELECT column, value FROM Python(ids)), "
               f"extractAllGroupsVertical(s, {sql_str(_PAIRS_RE)}))")
    sql = (f"SELECT i FROM (SELECT i, toString(assumeNotNull(line)) AS s FROM Python(batch)) "
           f"WHERE if(isValidJSON(s), {in_json}, {in_text})")
    conn = chdb.connect(":memory:")
    try:
        found = conn.query(sql, "ArrowTable")
    finally:
        conn.close()
    mask = [False] * n
    for i in found["i"].to_pylist() if found.num_rows else []:
        mask[i] = True
    return pa.array(mask, pa.bool_())


# -- Delta ----------------------------------------------------------------------------------------
def _delete_predicate(rows: pa.Table, names: set[str]) -> str | None:
    """A predicate naming the rows by a key that is not an identifier (lineage, event ids); None
    when no such key covers every row."""
    for key in ROW_KEYS:
        if not set(key) <= names or any(rows[c].null_count for c in key):
            continue
        if len(key) == 2:
            by_file: dict[str, list[int]] = {}
            for f, n in zip(rows["source_file"].to_pylist(), rows["line_number"].to_pylist(), strict=True):
                by_file.setdefault(f, []).append(n)
            return " OR ".join(f'("source_file" = {_delta_str(f)} AND "line_number" IN ({", ".join(map(str, ns))}))'
                               for f, ns in sorted(by_file.items()))
        values = sorted(set(pc.cast(rows[key[0]], pa.string()).to_pylist()))
        return f'"{key[0]}" IN ({", ".join(_delta_str(v) for v in values)})'
    return None


def _identifying(names: set[str]) -> list[str]:
    return [c for c in (*IDENTIFIER_COLUMNS, *KEY_COLUMNS) if c in names]


def expire_history(lake: Lake, name: str) -> int:
    """Checkpoint the current version and remove the older commits (as Delta's log cleanup does,
    whatever the log retention): their file statistics (min/max per column) and predicates can hold
    an erased value. Returns the commit files removed."""
    dt = DeltaTable(lake.uri(name), storage_options=lake.storage_options or None)
    version = dt.version()
    dt.create_checkpoint()
    old = [f for f in _log_files(lake, name) if f.split("/")[-1].split(".")[0].isdigit()
           and int(f.split("/")[-1].split(".")[0]) < version]
    if not old:
        return 0
    fs, _ = filesystem(lake.root_uri, lake.storage_options)
    for path in old:
        with contextlib.suppress(FileNotFoundError):  # removed meanwhile (another erasure's cleanup)
            fs.delete_file(path)
    return len(old)


def _log_files(lake: Lake, name: str) -> list[str]:
    """The files in a table's ``_delta_log`` (paths in the lake's filesystem)."""
    fs, root = filesystem(lake.root_uri, lake.storage_options)
    log = f"{root}/{name}/_delta_log"
    return [i.path for i in fs.get_file_info(pafs.FileSelector(log, allow_not_found=True)) if i.is_file]


def erase_delta(lake: Lake, subject: Subject) -> dict[str, int]:
    """Delete the subject's rows from every Delta table, vacuum (older versions go too) and expire
    the log history. The delete names rows by lineage or event ids, never by an identifier."""
    deleted = {}
    for name in lake.tables():
        dt = DeltaTable(lake.uri(name), storage_options=lake.storage_options or None)
        names = set(dt.schema().to_arrow().names)
        if not _identifying(names) and "raw_line" not in names:
            continue
        wanted = {c for key in ROW_KEYS for c in key if c in names} | set(_identifying(names))
        if "raw_line" in names:
            wanted.add("raw_line")
        data = dt.to_pyarrow_dataset().to_table(columns=sorted(wanted))
        hit = rows_of(data, subject)
        n = pc.sum(hit).as_py() or 0
        if n:
            predicate = _delete_predicate(data.filter(hit), names)
            if predicate is not None:
                rows = int(dt.delete(predicate).get("num_deleted_rows", 0) or 0)
            else:  # no key but the identifiers: rewrite the table without the rows (no predicate kept)
                full = dt.to_pyarrow_table()
                keep = full.filter(pc.invert(rows_of(full, subject)))
                write_deltalake(lake.uri(name), keep, mode="overwrite", partition_by=dt.metadata().partition_columns
                                or None, storage_options=lake.storage_options or None)
                dt = DeltaTable(lake.uri(name), storage_options=lake.storage_options or None)
                rows = full.num_rows - keep.num_rows
            deleted[f"delta:{name}"] = rows
        dt.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
        expire_history(lake, name)
    return deleted


# -- ClickHouse -----------------------------------------------------------------------------------
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


@contextmanager
def key_table(client, subject: Subject):
    """A table holding the subject's (column, value) pairs, dropped on exit: mutations and counts
    read the values from it, so no query text (``system.mutations``) holds one."""
    name = f"raw._erasure_keys_{uuid.uuid4().hex}"
    client.command(f"CREATE DATABASE IF NOT EXISTS {RAW}")
    client.command(f"CREATE TABLE {name} (`column` String, `value` String) ENGINE = Memory")
    try:
        keys = subject.keys()
        if keys.num_rows:
            client.insert_arrow(name, keys)
        yield name
    finally:
        client.command(f"DROP TABLE IF EXISTS {name} SYNC")


def _ch_condition(columns: list[str], subject: Subject, keys: str) -> str:
    return " OR ".join(f"`{c}` IN (SELECT `value` FROM {keys} WHERE `column` = {sql_str(c)})"
                       for c in sorted(columns) if subject.values_for(c))


def _ch_count(client, table: str, columns: list[str], subject: Subject, keys: str) -> int:
    where = _ch_condition(columns, subject, keys)
    return int(client.command(f"SELECT count() FROM {table} WHERE {where}")) if where else 0


def erase_clickhouse(client, subject: Subject, keys: str | None = None) -> dict[str, int]:
    """Delete the subject's rows with synchronous mutations (the parts are rewritten, not masked);
    the values come from a key table (``keys``, else one of its own)."""
    if keys is None:
        with key_table(client, subject) as own:
            return erase_clickhouse(client, subject, own)
    deleted = {}
    for table, columns in _clickhouse_targets(client).items():
        n = _ch_count(client, table, columns, subject, keys)
        if n:
            client.command(f"ALTER TABLE {table} DELETE WHERE {_ch_condition(columns, subject, keys)} "
                           "SETTINGS mutations_sync = 2")
            deleted[f"clickhouse:{table}"] = n
    return deleted


# -- Feast ---------------------------------------------------------------------------------------
def erase_online(store, subject: Subject) -> dict[str, int]:
    """Delete the subject's entity rows from the Feast online store (sqlite or Redis)."""
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig
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
        if isinstance(config.online_store, SqliteOnlineStoreConfig):  # the lakehouse's subclass included
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


def remaining(lake: Lake, client, store, subject: Subject, keys: str | None = None) -> dict[str, int]:
    """Rows still matching the subject in every store (all 0 after an erasure)."""
    if keys is None and client is not None:
        with key_table(client, subject) as own:
            return remaining(lake, client, store, subject, own)
    out = {}
    for name in lake.tables():
        table = lake.read(name)
        out[f"delta:{name}"] = pc.sum(rows_of(table, subject)).as_py() or 0
    if client is not None:
        for table, columns in _clickhouse_targets(client).items():
            out[f"clickhouse:{table}"] = _ch_count(client, table, columns, subject, keys)
    if store is not None:
        out.update(_online_remaining(store, subject))
    return out


def listed_values(subject: Subject, requested: Iterable[str]) -> set[str]:
    """The values put on the erasure list: the identifiers found and requested, and the IDFAs in
    upper case too (SDKs send either; silver lowercases them). Other fields are kept as sent."""
    return subject.identifiers | set(requested) | {v.upper() for v in subject.device_ids}


def erase(lake: Lake, client, store, identifiers: list[str], requested_by: str, request_id: str | None = None,
          home: Path | str | None = None, *, privacy_key: str, audit_salt: str) -> ErasureReport:
    """Erase everything of ``identifiers`` (a device's or a user's ids), verify, write the audit record
    (the request hashed with ``audit_salt``); ``privacy_key`` keys the device keys and the erasure list.

    Raises NotAnIdentifier before anything is written when one of them cannot be an identifier.
    The identifiers found go to the erasure list first, so a replay is refused even if a store fails."""
    identifiers = check_identifiers(identifiers, home)
    requested_at = datetime.now(UTC)
    subject = resolve(lake, set(identifiers), privacy_key)
    erasure_list.record(lake, listed_values(subject, identifiers), privacy_key)
    with key_table(client, subject) as keys:
        deleted = {**erase_delta(lake, subject), **erase_clickhouse(client, subject, keys)}
        if store is not None:
            deleted.update(erase_online(store, subject))
        left = remaining(lake, client, store, subject, keys)
    report = ErasureReport(request_id or str(uuid.uuid4()), requested_by, requested_at.isoformat(), deleted,
                           {k: v for k, v in left.items() if v})
    lake.append(AUDIT_TABLE, pa.table({
        "request_id": [report.request_id], "requested_by": [requested_by], "requested_at": [requested_at],
        "completed_at": [datetime.now(UTC)],
        "subject_hash": [hashlib.sha256((audit_salt + "|" + "|".join(sorted(set(identifiers)))).encode()).hexdigest()],
        "identifiers_found": [len(subject.identifiers)], "events": [len(subject.event_ids)],
        "deleted": [json.dumps(deleted, sort_keys=True)], "verified": [report.verified]}))
    return report


# -- requests (the identifiers never go into the Dagster run config) -------------------------------
REQUESTS_DIR = "privacy/erasure_requests"


@dataclass
class ErasureRequest:
    request_id: str
    identifiers: list[str]
    requested_by: str


def write_request(home: Path | str, identifiers: list[str], requested_by: str) -> tuple[ErasureRequest, Path]:
    """Write the request to a private file (0600, in a 0700 directory) under ``home``; the erasure
    run's config names the file (its name is the request id), never the identifiers."""
    request = ErasureRequest(str(uuid.uuid4()), list(identifiers), requested_by)
    folder = Path(home) / REQUESTS_DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    path = folder / f"{request.request_id}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"request_id": request.request_id, "identifiers": request.identifiers,
                   "requested_by": requested_by}, fh)
    return request, path


def read_request(path: Path | str) -> ErasureRequest:
    """The request in ``path`` (written by ``write_request``)."""
    path = Path(path)
    if path.parent.name != Path(REQUESTS_DIR).name or path.suffix != ".json":
        raise ValueError(f"{path} is not an erasure request file")
    data = json.loads(path.read_text())
    if data.get("request_id") != path.stem:
        raise ValueError(f"{path} is not an erasure request file")
    return ErasureRequest(data["request_id"], list(data["identifiers"]), data["requested_by"])
