"""ClickHouse raw tables loaded from silver Delta tables, one window at a time, idempotently
(``unmogrowp.warehouse.replace_window``: a window is replaced, never appended twice)."""

from __future__ import annotations

from datetime import date, datetime

from unmogrowp.contracts.base import ALL, Contract
from unmogrowp.contracts.cost import COST_CONTRACT
from unmogrowp.contracts.events import EVENT_CONTRACT
from unmogrowp.ingest import match_keys
from unmogrowp.ingest.cost import COST_CURRENT, CURRENT_SCHEMA
from unmogrowp.ingest.events import SILVER_EVENTS, SILVER_SCHEMA, hour_filter
from unmogrowp.lake import Lake
from unmogrowp.warehouse import RAW, date_range, replace_window, time_range
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
    """Replace the rows of landing hours [start, end) in raw.events with silver's; returns rows."""
    ensure_tables(client)
    data = lake.read(SILVER_EVENTS, filters=hour_filter(start, end), schema=SILVER_SCHEMA)
    data = data.drop_columns(["landing_date"])
    rows = replace_window(client, EVENTS_TABLE, data, time_range("landing_hour", start, end))
    match_keys.refresh(client, start, end)
    return rows


def load_cost(client, lake: Lake, start: date, end: date) -> int:
    """Replace cost dates [start, end] in raw.cost with silver's current cost; returns rows."""
    ensure_tables(client)
    dates = date_strings(start, end)
    data = lake.read(COST_CURRENT, filters=[("cost_date", "in", dates)], schema=CURRENT_SCHEMA)
    return replace_window(client, COST_TABLE, data.drop_columns(["date"]), date_range("cost_date", start, end))

