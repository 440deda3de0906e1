"""The ClickHouse warehouse: its databases, and replacing a window of a table so a re-run gives the same rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

RAW, STAGING, INTERMEDIATE, MARTS, CONFIG = "raw", "staging", "intermediate", "marts", "config"
MTA, FRAUD, ML = "mta", "fraud", "ml"
# dbt's connection database (profiles.yml `schema`): dbt-clickhouse creates it on connect and runs its
# checks there; every model names its own database (generate_schema_name), none lands in it
DBT = "analytics"
# every database the pipeline writes: the raw tables, dbt's layers (intermediate is ephemeral), the Python models'
DATABASES = (RAW, STAGING, INTERMEDIATE, MARTS, CONFIG, MTA, FRAUD, ML)


@dataclass(frozen=True)
class Window:
    """The rows a replacement deletes: a WHERE clause and its parameters. ``dates`` names the
    inserted columns cast to Date (from a date, timestamp or YYYY-MM-DD string)."""

    where: str
    parameters: dict[str, Any] = field(default_factory=dict)
    dates: tuple[str, ...] = ()


def date_range(column: str, start: date, end: date) -> Window:
    """Dates [start, end], inclusive."""
    return Window(f"{column} >= {{lo:Date32}} AND {column} <= {{hi:Date32}}", {"lo": start, "hi": end}, (column,))


def time_range(column: str, start: datetime, end: datetime) -> Window:
    """Times [start, end) (UTC)."""
    return Window(f"{column} >= {{lo:DateTime64(3)}} AND {column} < {{hi:DateTime64(3)}}",
                  {"lo": start.replace(tzinfo=None), "hi": end.replace(tzinfo=None)})


def equal(**values: date | str | int) -> Window:
    """Rows whose columns equal these values (e.g. the window a row was fitted on)."""
    types = {date: "Date32", str: "String", int: "Int64"}
    return Window(" AND ".join(f"{c} = {{{c}:{types[type(v)]}}}" for c, v in values.items()), dict(values))


def replace_window(client, table: str, rows: pa.Table | str | None, window: Window | None = None,
                   parameters: dict[str, Any] | None = None, dates: tuple[str, ...] | None = None) -> int:
    """Replace ``window``'s rows of ``table`` (None: all of it, TRUNCATE) with ``rows``: an Arrow
    table inserted in one block, its ``dates`` columns (default: the window's) cast to Date, or a
    SELECT (INSERT INTO table SELECT, with ``parameters``).

    The rows are deleted first (lightweight DELETE, synchronous; skipped when there are none, so an
    empty window costs no mutation), then inserted at once: a failure between the two leaves the
    window incomplete until the retry, which gives exactly the new rows. Returns the rows inserted.
    """
    if window is None:
        client.command(f"TRUNCATE TABLE {table}")
    elif client.command(f"SELECT count() FROM {table} WHERE {window.where}", parameters=window.parameters):
        client.command(f"DELETE FROM {table} WHERE {window.where}", parameters=window.parameters)
    if isinstance(rows, str):
        client.command(f"INSERT INTO {table} {rows}", parameters=parameters)
        where = window or Window("1")
        return int(client.command(f"SELECT count() FROM {table} WHERE {where.where}", parameters=where.parameters))
    if rows is None or not rows.num_rows:
        return 0
    for name in (window.dates if window else ()) if dates is None else dates:
        rows = as_dates(rows, name)
    client.insert_arrow(table, rows, settings={"max_insert_block_size": max(rows.num_rows, 1_048_576)})
    return rows.num_rows


def as_dates(data: pa.Table, name: str) -> pa.Table:
    """``data`` with column ``name`` as Arrow date32 (from a date, timestamp or YYYY-MM-DD string)."""
    i = data.schema.get_field_index(name)
    column = data[name]
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = pc.strptime(column, "%Y-%m-%d", "s")
    return data.set_column(i, name, pc.cast(column, pa.date32()))
