"""ClickHouse raw tables loaded from silver Delta tables, one window at a time, idempotently.

A window is replaced, never appended twice: its rows are deleted (lightweight DELETE, synchronous)
and the silver rows inserted again in one INSERT. A failure between the two leaves the window
incomplete until the retry, which then gives exactly the silver rows.
"""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa

from unmogrowp.contracts.base import ALL, Contract
from unmogrowp.contracts.cost import COST_CONTRACT
from unmogrowp.contracts.events import EVENT_CONTRACT
from unmogrowp.ingest.cost import COST_CURRENT, CURRENT_SCHEMA, date_strings
from unmogrowp.ingest.events import SILVER_EVENTS, SILVER_SCHEMA, hour_filter
from unmogrowp.lake import Lake

RAW_DB = "raw"
EVENTS_TABLE = f"{RAW_DB}.events"
COST_TABLE = f"{RAW_DB}.cost"
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
    client.command(f"CREATE DATABASE IF NOT EXISTS {RAW_DB}")
    client.command(events_ddl())
    client.command(cost_ddl())
    from unmogrowp import model_tables

    model_tables.ensure_tables(client)


def load_events(client, lake: Lake, start: datetime, end: datetime) -> int:
    """Replace the rows of landing hours [start, end) in raw.events with silver's; returns rows."""
    ensure_tables(client)
    data = lake.read(SILVER_EVENTS, filters=hour_filter(start, end), schema=SILVER_SCHEMA).drop_columns(["landing_date"])
    params = {"s": start.replace(tzinfo=None), "e": end.replace(tzinfo=None)}
    window = "landing_hour >= {s:DateTime64(3)} AND landing_hour < {e:DateTime64(3)}"
    if client.command(f"SELECT count() FROM {EVENTS_TABLE} WHERE {window}", parameters=params):
        client.command(f"DELETE FROM {EVENTS_TABLE} WHERE {window}", parameters=params)
    if data.num_rows:
        client.insert_arrow(EVENTS_TABLE, data, settings={"max_insert_block_size": max(data.num_rows, 1_048_576)})
    return data.num_rows


def load_cost(client, lake: Lake, start: date, end: date) -> int:
    """Replace cost dates [start, end] in raw.cost with silver's current cost; returns rows."""
    ensure_tables(client)
    dates = date_strings(start, end)
    data = lake.read(COST_CURRENT, filters=[("cost_date", "in", dates)], schema=CURRENT_SCHEMA)
    data = data.drop_columns(["date"]).set_column(0, "cost_date", data["cost_date"].cast(pa.date32()))
    client.command(f"DELETE FROM {COST_TABLE} WHERE cost_date >= {{s:Date32}} AND cost_date <= {{e:Date32}}",
                   parameters={"s": start, "e": end})
    if data.num_rows:
        client.insert_arrow(COST_TABLE, data)
    return data.num_rows

