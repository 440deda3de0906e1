"""What a materialization shows in the Dagster UI: the row count of each partition it wrote, the
column schema with types, a small preview and pictures. Built from the tables the step wrote (after
the write), so the figures are the warehouse's, not the step's own tally."""

from collections.abc import Mapping
from datetime import datetime

import dagster as dg
import pyarrow as pa

ROW_COUNT = "dagster/row_count"
COLUMN_SCHEMA = "dagster/column_schema"
PREVIEW_ROWS = 5

# owners by group: who to ask about an asset, and who a failed check or run pages
OWNERS = {
    "platform": ["team:data-platform"],
    "ingest": ["team:data-platform"],
    "attribution": ["team:analytics-engineering"],
    "cohorts": ["team:analytics-engineering"],
    "reporting": ["team:analytics-engineering"],
    "fraud": ["team:fraud"],
    "ml": ["team:data-science"],
    "features": ["team:data-science"],
}


def with_owners(spec: dg.AssetSpec) -> dg.AssetSpec:
    """``spec`` owned by its group's team (a group missing from OWNERS is a definition error)."""
    if spec.group_name not in OWNERS:
        raise ValueError(f"asset {spec.key.to_user_string()}: group {spec.group_name!r} has no owners in OWNERS")
    return spec.replace_attributes(owners=OWNERS[spec.group_name])


def partition_keys(context) -> list[str]:
    """The partition keys of the run (one, a single-run range, or none when unpartitioned)."""
    return list(context.partition_keys) if context.has_partition_key_range or context.has_partition_key else []


def row_counts(context, counts: Mapping[str, int], asset_key=None) -> dict:
    """``dagster/row_count`` per partition: in a run of one partition (or none) the metadata to put on
    the materialization; in a run over a range each partition gets its own count (0 for a partition
    that wrote no rows) on its materialization, and the total comes back as ``rows_in_run``."""
    keys = partition_keys(context)
    total = int(sum(counts.values()))
    if len(keys) <= 1:
        return {ROW_COUNT: int(counts.get(keys[0], 0)) if keys else total}
    for key in keys:
        context.add_asset_metadata({ROW_COUNT: int(counts.get(key, 0))}, asset_key=asset_key, partition_key=key)
    return {"rows_in_run": total}


def per_partition(context, metadata: Mapping[str, dict]) -> dict:
    """Metadata by partition key: in a run over a range each partition's goes on its own
    materialization (and nothing is returned); otherwise the one partition's (or the only) entry is returned."""
    keys = partition_keys(context)
    if len(keys) <= 1:
        return next(iter(metadata.values()), {}) if not keys else metadata.get(keys[0], {})
    for key in keys:
        if key in metadata:
            context.add_asset_metadata(metadata[key], partition_key=key)
    return {}


def arrow_counts(table: pa.Table, column: str, hourly: bool = False) -> dict[str, int]:
    """Rows per partition key of ``table[column]`` (a date, timestamp or ISO string column)."""
    import pyarrow.compute as pc

    col = table.column(column)
    if pa.types.is_timestamp(col.type):  # group first, then format the few keys (strftime per row is slow)
        col = pc.floor_temporal(col, unit="hour" if hourly else "day")
    grouped = pa.table({"k": col}).group_by("k").aggregate([("k", "count")])
    keys = grouped.column("k")
    if pa.types.is_timestamp(keys.type):
        keys = pc.strftime(keys, "%Y-%m-%d-%H:00" if hourly else "%Y-%m-%d")
    elif pa.types.is_date(keys.type):
        keys = pc.cast(keys, pa.string())
    return dict(zip(keys.to_pylist(), grouped.column("k_count").to_pylist(), strict=True))


# -- ClickHouse tables ------------------------------------------------------------------------------

def clickhouse_counts(client, table: str, column: str, start: datetime, end: datetime, hourly: bool) -> dict[str, int]:
    """Rows of ``table`` per partition key of ``column`` (Date or DateTime) in [start, end)."""
    database, name = table.split(".", 1)
    kind = client.command("SELECT type FROM system.columns WHERE database = {d:String} AND table = {t:String} "
                          "AND name = {c:String}", parameters={"d": database, "t": name, "c": column})
    is_date = "DateTime" not in str(kind)
    key = (f"toString(toDate({column}))" if is_date or not hourly
           else f"formatDateTime(toStartOfHour({column}), '%Y-%m-%d-%H:00', 'UTC')")
    where = (f"{column} >= toDate({{s:DateTime64(3, 'UTC')}}) AND {column} < toDate({{e:DateTime64(3, 'UTC')}} "
             "- INTERVAL 1 MILLISECOND) + 1" if is_date else
             f"{column} >= {{s:DateTime64(3, 'UTC')}} AND {column} < {{e:DateTime64(3, 'UTC')}}")
    rows = client.query(f"SELECT {key} AS k, count() FROM {table} WHERE {where} GROUP BY k",
                        parameters={"s": start, "e": end}).result_rows
    return {k: int(n) for k, n in rows}


def clickhouse_schema(client, table: str, descriptions: Mapping[str, str] | None = None) -> dg.TableSchema:
    """The columns of ``table`` with their ClickHouse types (and the documented descriptions)."""
    database, name = table.split(".", 1)
    rows = client.query("SELECT name, type, comment FROM system.columns WHERE database = {d:String} "
                        "AND table = {t:String} ORDER BY position", parameters={"d": database, "t": name}).result_rows
    descriptions = descriptions or {}
    return dg.TableSchema(columns=[dg.TableColumn(n, t, description=descriptions.get(n) or c or None)
                                   for n, t, c in rows])


def clickhouse_preview(client, table: str, where: str = "", parameters: dict | None = None,
                       n: int = PREVIEW_ROWS) -> dg.MetadataValue:
    """The first ``n`` rows of ``table`` (within ``where``) as a table in the UI."""
    result = client.query_arrow(f"SELECT * FROM {table} {'WHERE ' + where if where else ''} LIMIT {n}",
                                parameters=parameters or {})
    return preview(result)


def table_metadata(client, table: str, where: str = "", parameters: dict | None = None,
                   descriptions: Mapping[str, str] | None = None) -> dict:
    """Schema and preview of a ClickHouse table, for a materialization's metadata."""
    return {COLUMN_SCHEMA: clickhouse_schema(client, table, descriptions),
            "preview": clickhouse_preview(client, table, where, parameters), "table": table}


# -- Arrow tables -----------------------------------------------------------------------------------

def arrow_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(f.name, str(f.type)) for f in schema])


def _cell(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


def preview(table: pa.Table, n: int = PREVIEW_ROWS) -> dg.MetadataValue:
    """The first ``n`` rows of an Arrow table as a table in the UI (values the UI cannot show as text)."""
    head = table.slice(0, n)
    records = [dg.TableRecord({k: _cell(v) for k, v in row.items()}) for row in head.to_pylist()]
    schema = dg.TableSchema(columns=[dg.TableColumn(f.name, _preview_type(f.type)) for f in head.schema])
    return dg.MetadataValue.table(records=records, schema=schema)


def _preview_type(t: pa.DataType) -> str:
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_boolean(t):
        return "bool"
    return "string"


def delta_metadata(table: pa.Table) -> dict:
    """Schema and preview of rows read from a Delta table."""
    return {COLUMN_SCHEMA: arrow_schema(table.schema), "preview": preview(table)}


# -- pictures and links -----------------------------------------------------------------------------

def picture(png: bytes, alt: str) -> dg.MetadataValue:
    """A PNG shown on the asset page (markdown with the image inlined: no file server needed)."""
    from unmogrowp.charts import markdown_image

    return dg.MetadataValue.md(markdown_image(png, alt))


def clickhouse_partition_metadata(context, client, table: str, column: str | None, asset_key=None,
                                  descriptions: Mapping[str, str] | None = None) -> dict:
    """Rows of ``table`` per partition of the run by ``column`` (recorded on each partition; the whole
    table when unpartitioned or ``column`` is None), and its schema and a preview of the run's window."""
    if partition_keys(context) and column:
        window = context.partition_time_window
        start, end = window.start, window.end
        hourly = isinstance(context.assets_def.partitions_def, dg.HourlyPartitionsDefinition)
        return {**row_counts(context, clickhouse_counts(client, table, column, start, end, hourly), asset_key),
                **table_metadata(client, table, f"{column} >= {{s:DateTime64(3, 'UTC')}}", {"s": start}, descriptions)}
    return {ROW_COUNT: int(client.command(f"SELECT count() FROM {table}")), "row_count_of": "the whole table",
            **table_metadata(client, table, descriptions=descriptions)}
