"""ClickHouse raw tables loaded from silver Delta tables, one window at a time, idempotently
(``unmogrowp.warehouse.replace_window``: a window is replaced, never appended twice)."""

from __future__ import annotations

import ipaddress
from datetime import date, datetime
from urllib.parse import urlparse

from unmogrowp.contracts.base import ALL, Contract
from unmogrowp.contracts.cost import COST_CONTRACT
from unmogrowp.contracts.events import EVENT_CONTRACT
from unmogrowp.ingest import match_keys
from unmogrowp.ingest.cost import COST_CURRENT, CURRENT_SCHEMA
from unmogrowp.ingest.events import SILVER_EVENTS, SILVER_SCHEMA, hour_filter
from unmogrowp.lake import Lake
from unmogrowp.warehouse import RAW, Window, date_range, replace_window, time_range
from unmogrowp.windows import date_strings

EVENTS_TABLE = f"{RAW}.events"
COST_TABLE = f"{RAW}.cost"
_LOW_CARDINALITY = {"enum", "currency", "country"}
_CH_TYPES = {"uuid": "String", "string": "String", "enum": "String", "currency": "String",
             "country": "String", "ip": "String", "timestamp": "DateTime64(3, 'UTC')", "date": "Date32",
             "float": "Float64", "int": "Int64", "bool": "Bool"}


def _columns(contract: Contract) -> list[str]:
    cols = []
    for f in contract.fields:
        t = _CH_TYPES[f.kind]
        if ALL not in f.required_for:
            t = f"Nullable({t})"
        if f.kind in _LOW_CARDINALITY or f.name in ("app_id", "media_source"):
            t = f"LowCardinality({t})"
        cols.append(f"`{f.name}` {t} COMMENT '{f.description.replace(chr(39), '')}'" if f.description
                    else f"`{f.name}` {t}")
    return cols


def events_ddl() -> str:
    lineage = ["landing_hour DateTime64(3, 'UTC')", "source_file String", "line_number Int64",
               "loaded_at DateTime64(3, 'UTC')"]
    return (f"CREATE TABLE IF NOT EXISTS {EVENTS_TABLE} (\n  " + ",\n  ".join(lineage + _columns(EVENT_CONTRACT))
            + "\n) ENGINE = MergeTree\nPARTITION BY toYYYYMMDD(event_ts)\n"
            "ORDER BY (app_id, event_type, ifNull(device_id, ''), event_ts)\n"
            f"COMMENT 'SDK events from silver (contract {EVENT_CONTRACT.version}), one row per event_id'")


def cost_ddl() -> str:
    return (f"CREATE TABLE IF NOT EXISTS {COST_TABLE} (\n  cost_date Date32,\n  "
            + ",\n  ".join([c for c in _columns(COST_CONTRACT) if not c.startswith("`date`")])
            + ",\n  source_file String\n) ENGINE = MergeTree\nPARTITION BY toYYYYMM(cost_date)\n"
            "ORDER BY (app_id, cost_date, media_source, campaign_id)\n"
            "COMMENT 'Current ad-network cost: the latest pull per key'")


def ensure_tables(client) -> None:
    client.command(f"CREATE DATABASE IF NOT EXISTS {RAW}")
    client.command(events_ddl())
    client.command(cost_ddl())
    match_keys.ensure_tables(client)
    from unmogrowp import model_tables

    model_tables.ensure_tables(client)


def load_events(client, lake: Lake, start: datetime, end: datetime) -> int:
    """Replace the rows of landing hours [start, end) in raw.events with silver's; returns rows.

    When the engine can read the lake itself (a local lake and a server on this machine) the rows go
    straight from the Delta table into the engine (``INSERT … SELECT FROM deltaLakeLocal``), without
    a trip through this process; otherwise silver is read here and inserted as Arrow.
    """
    ensure_tables(client)
    window = time_range("landing_hour", start, end)
    path = engine_readable(client, lake, SILVER_EVENTS)
    if path is not None:
        rows = replace_window(client, EVENTS_TABLE, _select_silver(client, lake, window), window,
                              parameters={"path": path, "dates": hour_filter(start, end)[0][2], **window.parameters})
    else:
        data = lake.read(SILVER_EVENTS, filters=hour_filter(start, end), schema=SILVER_SCHEMA)
        rows = replace_window(client, EVENTS_TABLE, data.drop_columns(["landing_date"]), window)
    match_keys.refresh(client, start, end)
    return rows


def engine_readable(client, lake: Lake, table: str) -> str | None:
    """The local path of ``table`` when the ClickHouse server can read it (the lake is a local
    directory and the server runs on this machine), else None (also when the table does not exist)."""
    if urlparse(lake.root_uri).scheme not in ("", "file") or not _server_is_local(client):
        return None
    return lake.uri(table) if lake.exists(table) else None


def _server_is_local(client) -> bool:
    host = urlparse(getattr(client, "url", "")).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _select_silver(client, lake: Lake, window: Window) -> str:
    """``(columns) SELECT columns FROM`` the silver table for the window's landing dates and hours:
    raw.events' columns that silver has (a table of an older contract lacks the newer ones)."""
    have = set(lake.table(SILVER_EVENTS).schema().to_arrow().names)
    cols = [c for c in _table_columns(client, EVENTS_TABLE) if c in have]
    names = ", ".join(f"`{c}`" for c in cols)
    # Delta timestamps come without a time zone: the window compares them as UTC like raw.events
    return (f"({names}) SELECT {names} FROM (SELECT * REPLACE (toTimeZone(landing_hour, 'UTC') AS landing_hour) "
            "FROM deltaLakeLocal({path:String}) WHERE landing_date IN {dates:Array(String)}) "
            f"WHERE {window.where}")


def _table_columns(client, table: str) -> list[str]:
    database, name = table.split(".")
    return [r[0] for r in client.query("SELECT name FROM system.columns WHERE database = {d:String} AND "
                                       "table = {t:String} ORDER BY position",
                                       parameters={"d": database, "t": name}).result_rows]


def load_cost(client, lake: Lake, start: date, end: date) -> int:
    """Replace cost dates [start, end] in raw.cost with silver's current cost; returns rows."""
    ensure_tables(client)
    dates = date_strings(start, end)
    data = lake.read(COST_CURRENT, filters=[("cost_date", "in", dates)], schema=CURRENT_SCHEMA)
    return replace_window(client, COST_TABLE, data.drop_columns(["date"]), date_range("cost_date", start, end))

