"""Landing → cost loads (every pull kept) → current cost (latest pull wins) for a range of cost dates.

Cost reports are small, so a day is re-derived whole: every not-yet-loaded report file is typed and
validated by the cost contract and appended to ``bronze/cost_loads`` (quarantine for rejected rows),
then ``silver/cost_current`` is rebuilt for those dates with ``argMax`` over ``pulled_at`` per
``COST_KEY``. Cost stays at the grain the network reports (campaign here); allocation down to
adsets and ads happens in dbt, in proportion to attributed installs (see dbt_project).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import chdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unmogrowp.contracts.cost import COST_CONTRACT, COST_KEY
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingFile, LandingStore, decode_ndjson_gz, is_cost_key

COST_LOADS = "bronze/cost_loads"
COST_QUARANTINE = "silver/cost_quarantine"
COST_CURRENT = "silver/cost_current"
TS = pa.timestamp("ms", tz="UTC")
LINEAGE = pa.schema([("cost_date", pa.string()), ("source_file", pa.string()), ("line_number", pa.int64()),
                     ("loaded_at", TS)])
LOADS_SCHEMA = pa.schema([*LINEAGE, *COST_CONTRACT.arrow_schema()])
QUARANTINE_SCHEMA = pa.schema([*LINEAGE, ("reason", pa.string()), ("raw_line", pa.large_binary())])
CURRENT_SCHEMA = pa.schema([("cost_date", pa.string()), *COST_CONTRACT.arrow_schema(),
                            ("source_file", pa.string())])


@dataclass
class CostResult:
    files_loaded: int = 0
    files_skipped: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    current_rows: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def cost_files(store: LandingStore, start: date, end: date) -> list[LandingFile]:
    """Cost reports for cost dates in [start, end]."""
    return [f for f in store.list("cost/") if is_cost_key(f.key) and start <= f.cost_date <= end]


def date_strings(start: date, end: date) -> list[str]:
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def load_cost(lake: Lake, store: LandingStore, start: date, end: date, now: datetime | None = None) -> CostResult:
    now = now or datetime.now(UTC)
    dates = date_strings(start, end)
    done = set(pc.unique(lake.read(COST_LOADS, columns=["source_file"], filters=[("cost_date", "in", dates)],
                                   schema=LOADS_SCHEMA)["source_file"]).to_pylist())
    done |= set(pc.unique(lake.read(COST_QUARANTINE, columns=["source_file"], filters=[("cost_date", "in", dates)],
                                    schema=QUARANTINE_SCHEMA)["source_file"]).to_pylist())
    result = CostResult()
    raw: list[pa.Table] = []
    for f in cost_files(store, start, end):
        if f.key in done:
            result.files_skipped += 1
            continue
        decoded = decode_ndjson_gz(store.read_bytes(f.key))
        n = len(decoded.lines)
        errors = [None] * n
        if decoded.last_line_error and n:
            errors[-1] = decoded.last_line_error
        raw.append(pa.table({
            "cost_date": pa.array([f.cost_date.isoformat()] * n, pa.string()),
            "source_file": pa.array([f.key] * n, pa.string()),
            "line_number": pa.array(np.arange(1, n + 1), pa.int64()),
            "loaded_at": pa.array(np.full(n, int(now.timestamp() * 1000)), TS),
            "raw_line": pa.array(decoded.lines, pa.large_binary()),
            "read_error": pa.array(errors, pa.string()),
        }))
        result.files_loaded += 1
    if raw:
        bronze = pa.concat_tables(raw)  # noqa: F841  (read by chDB)
        date_check = (("'date_not_in_folder'", "toString(x_date) != cost_date"),)
        sql = COST_CONTRACT.validation_sql("Python(bronze)", tuple(LINEAGE.names) + ("raw_line",),
                                           extra_reasons=date_check)
        conn = chdb.connect(":memory:")
        rows = conn.query(sql, "ArrowTable")
        conn.close()
        ok = pc.is_null(rows["reason"])
        loads = rows.filter(ok).select(LOADS_SCHEMA.names).cast(LOADS_SCHEMA)
        bad = rows.filter(pc.invert(ok)).select(QUARANTINE_SCHEMA.names).cast(QUARANTINE_SCHEMA)
        if loads.num_rows:
            lake.append(COST_LOADS, loads, ["cost_date"])
        if bad.num_rows:
            lake.append(COST_QUARANTINE, bad, ["cost_date"])
        result.rows_loaded, result.rows_quarantined = loads.num_rows, bad.num_rows
        vc = pc.value_counts(bad["reason"])
        result.reasons = dict(zip(vc.field(0).to_pylist(), vc.field(1).to_pylist(), strict=True)) if bad.num_rows else {}
    result.current_rows = rebuild_current(lake, dates)
    return result


def rebuild_current(lake: Lake, dates: list[str]) -> int:
    """The latest pull per key for ``dates`` (ties on pulled_at: the later-loaded file wins)."""
    loads = lake.read(COST_LOADS, filters=[("cost_date", "in", dates)], schema=LOADS_SCHEMA)  # noqa: F841
    key = ", ".join(f"ifNull(toString({k}), '')" for k in COST_KEY)
    cols = [c for c in CURRENT_SCHEMA.names if c != "source_file"]
    latest = (f"SELECT {', '.join(f'argMax({c}, (pulled_at, source_file)) AS {c}' for c in cols)}, "
              f"argMax(source_file, (pulled_at, source_file)) AS source_file "
              f"FROM Python(loads) GROUP BY {key} SETTINGS prefer_column_name_to_alias = 1")
    sql = f"SELECT * FROM ({latest}) ORDER BY cost_date, media_source, app_id, campaign_id"
    conn = chdb.connect(":memory:")
    current = conn.query(sql, "ArrowTable").cast(CURRENT_SCHEMA) if loads.num_rows else CURRENT_SCHEMA.empty_table()
    conn.close()
    in_dates = ", ".join(f"'{d}'" for d in dates)
    lake.replace_where(COST_CURRENT, current, f"cost_date IN ({in_dates})", ["cost_date"])
    return current.num_rows
