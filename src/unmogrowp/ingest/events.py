"""Landing → bronze → silver for SDK events.

- bronze (``bronze/events``): every raw line with its source file, line number and load time,
  appended once per landing file (a file already in bronze is skipped, so replays add nothing).
- silver (``silver/events``): typed and validated by the event contract, deduplicated on
  ``event_id`` against earlier rows (same window and the lookback before it); rejected lines go
  to ``silver/events_quarantine`` with their reason and raw line, later copies of an event with
  reason ``duplicate_event_id``. A window is replaced as a whole, so re-runs are idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import chdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unmogrowp.contracts.events import EVENT_CONTRACT, LATE_ARRIVAL_LIMIT
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingFile, LandingStore, decode_ndjson_gz, is_event_key

BRONZE_EVENTS = "bronze/events"
SILVER_EVENTS = "silver/events"
QUARANTINE_EVENTS = "silver/events_quarantine"
DUPLICATE_REASON = "duplicate_event_id"
DEDUP_LOOKBACK = LATE_ARRIVAL_LIMIT + timedelta(days=1)
HIGH_CARDINALITY = ("event_id", "device_id", "idfv", "android_id", "ip", "touch_id", "click_id",
                    "referrer_click_id", "user_id")

TS = pa.timestamp("ms", tz="UTC")
LINEAGE = pa.schema([
    ("landing_date", pa.string()),  # Delta partition column
    ("landing_hour", TS),
    ("source_file", pa.string()),
    ("line_number", pa.int64()),
    ("loaded_at", TS),
])
BRONZE_SCHEMA = pa.schema([*LINEAGE, ("landing_app_id", pa.string()), ("raw_line", pa.large_binary()),
                           ("read_error", pa.string())])
SILVER_SCHEMA = pa.schema([*LINEAGE, *EVENT_CONTRACT.arrow_schema()],
                          metadata={"contract_version": EVENT_CONTRACT.version})
QUARANTINE_SCHEMA = pa.schema([*LINEAGE, ("landing_app_id", pa.string()), ("reason", pa.string()),
                               ("raw_line", pa.large_binary())])


def hour_filter(start: datetime, end: datetime) -> list[tuple]:
    """Delta filters for landing hours in [start, end): partition pruning plus the row filter."""
    dates = sorted({(start + timedelta(hours=h)).strftime("%Y-%m-%d")
                    for h in range(int((end - start).total_seconds() // 3600))})
    return [("landing_date", "in", dates), ("landing_hour", ">=", start), ("landing_hour", "<", end)]


def hour_predicate(start: datetime, end: datetime) -> str:
    """The same window as a delta-rs SQL predicate (for atomic replace)."""
    dates = sorted({(start + timedelta(hours=h)).strftime("%Y-%m-%d")
                    for h in range(int((end - start).total_seconds() // 3600))})
    in_dates = ", ".join(f"'{d}'" for d in dates)
    return (f"landing_date IN ({in_dates}) AND landing_hour >= '{start:%Y-%m-%dT%H:%M:%S}Z' "
            f"AND landing_hour < '{end:%Y-%m-%dT%H:%M:%S}Z'")


def event_files(store: LandingStore, start: datetime, end: datetime) -> list[LandingFile]:
    """Event batches whose landing hour is in [start, end)."""
    out = []
    day = start.replace(hour=0)
    while day < end:
        for app_dir in _app_dirs(store):
            for f in store.list(f"events/{app_dir}/dt={day:%Y-%m-%d}/"):
                if is_event_key(f.key) and start <= f.event_hour < end:
                    out.append(f)
        day += timedelta(days=1)
    return sorted(out, key=lambda f: f.key)


def landing_range(store: LandingStore) -> tuple[datetime, datetime] | None:
    """[first landing hour, last landing hour + 1 h) over every event batch in the store."""
    hours = [f.event_hour for f in store.list("events/") if is_event_key(f.key)]
    return (min(hours), max(hours) + timedelta(hours=1)) if hours else None


def _app_dirs(store: LandingStore) -> list[str]:
    if store.is_s3:
        resp = store._s3.list_objects_v2(Bucket=store.bucket, Prefix=store._s3_key("events/"), Delimiter="/")
        return sorted(p["Prefix"].rstrip("/").rsplit("/", 1)[-1] for p in resp.get("CommonPrefixes", []))
    root = store.path / "events"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []


# -- bronze --------------------------------------------------------------------------------------
@dataclass
class BronzeResult:
    files_loaded: int = 0
    files_skipped: int = 0  # already in bronze (replays)
    lines: int = 0
    file_errors: dict[str, int] = field(default_factory=dict)
    delta_version: int | None = None


def loaded_files(lake: Lake, start: datetime, end: datetime) -> set[str]:
    table = lake.read(BRONZE_EVENTS, columns=["source_file"], filters=hour_filter(start, end),
                      schema=BRONZE_SCHEMA)
    return set(pc.unique(table["source_file"]).to_pylist())


def _bronze_rows(store: LandingStore, f: LandingFile, now_ms: int) -> tuple[pa.Table, str | None]:
    decoded = decode_ndjson_gz(store.read_bytes(f.key))
    lines = decoded.line_array()
    n = len(lines)
    errors = pa.nulls(n, pa.string())
    if decoded.last_line_error and n:
        errors = pa.array([None] * (n - 1) + [decoded.last_line_error], pa.string())
    hour = f.event_hour
    return pa.table({
        "landing_date": pa.array([hour.strftime("%Y-%m-%d")], pa.string()).take(np.zeros(n, np.int64)),
        "landing_hour": pa.array(np.full(n, int(hour.timestamp() * 1000)), TS),
        "source_file": pa.array([f.key], pa.string()).take(np.zeros(n, np.int64)),
        "line_number": pa.array(np.arange(1, n + 1), pa.int64()),
        "loaded_at": pa.array(np.full(n, now_ms), TS),
        "landing_app_id": pa.array([f.app_id], pa.string()).take(np.zeros(n, np.int64)),
        "raw_line": lines,
        "read_error": errors,
    }, schema=BRONZE_SCHEMA), decoded.file_error


def load_bronze(lake: Lake, store: LandingStore, files: Iterable[LandingFile], start: datetime,
                end: datetime, now: datetime | None = None) -> BronzeResult:
    """Append the raw lines of every file not yet in bronze, in one Delta commit."""
    now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
    files = list(files)
    done = loaded_files(lake, start, end)
    result = BronzeResult()
    todo = [f for f in files if f.key not in done]
    result.files_skipped = len(files) - len(todo)
    with ThreadPoolExecutor(2) as pool:  # zlib and Arrow release the GIL
        pieces = list(pool.map(lambda f: _bronze_rows(store, f, now_ms), todo))
    for table, file_error in pieces:
        result.lines += table.num_rows
        if file_error:
            result.file_errors[file_error] = result.file_errors.get(file_error, 0) + 1
    result.files_loaded = len(pieces)
    if pieces:
        result.delta_version = lake.append(BRONZE_EVENTS, pa.concat_tables([p for p, _ in pieces]),
                                           ["landing_date"], no_dictionary=("raw_line",))
    return result


# -- silver --------------------------------------------------------------------------------------
@dataclass
class SilverResult:
    landed: int
    loaded: int
    duplicates: int
    quarantined: int
    reasons: dict[str, int]
    by_hour: list[dict]  # reconciliation per landing hour
    silver_version: int | None = None
    quarantine_version: int | None = None

    @property
    def reconciles(self) -> bool:
        return self.landed == self.loaded + self.duplicates + self.quarantined and all(
            h["landed"] == h["loaded"] + h["duplicates"] + h["quarantined"] for h in self.by_hour)


def _validation_sql() -> str:
    """Validate the window's bronze rows; carries a row index, not the raw line (kept in Arrow)."""
    app_check = (("'app_id_mismatch'", "x_app_id != landing_app_id"),)
    return EVENT_CONTRACT.validation_sql(
        "Python(bronze) WHERE landing_hour >= {start:DateTime64(3, 'UTC')} "
        "AND landing_hour < {end:DateTime64(3, 'UTC')}",
        (*LINEAGE.names, "landing_app_id", "row_idx"), extra_reasons=app_check)


# Later copies of a valid event: not the first (by landing hour, file, line) in the window, or
# already in silver before the window. Runs on the narrow (event_id, position) columns only.
_DUPLICATES_SQL = """
    SELECT row_idx,
           toBool(row_idx != first_idx OR event_id IN (SELECT event_id FROM Python(prior))) AS is_duplicate
    FROM Python(keys) AS k
    INNER JOIN (SELECT event_id, argMin(row_idx, (landing_hour, source_file, line_number)) AS first_idx
                FROM Python(keys) GROUP BY event_id) AS f USING event_id
"""


def build_silver(lake: Lake, start: datetime, end: datetime) -> SilverResult:
    """Type, validate and deduplicate the bronze rows of [start, end); replace that silver window."""
    # partition pruning only (fast); the exact hour window is applied in SQL
    bronze = lake.read(BRONZE_EVENTS, filters=hour_filter(start, end)[:1], schema=BRONZE_SCHEMA)
    bronze = bronze.append_column("row_idx", pa.array(np.arange(bronze.num_rows), pa.int64()))
    prior = lake.read(SILVER_EVENTS, columns=["event_id"],  # noqa: F841  (read by chDB)
                      filters=hour_filter(start - DEDUP_LOOKBACK, start), schema=SILVER_SCHEMA)
    conn = chdb.connect(":memory:")
    rows = conn.query(_validation_sql(), "ArrowTable", params={
        "start": start.strftime("%Y-%m-%d %H:%M:%S"), "end": end.strftime("%Y-%m-%d %H:%M:%S")})
    ok = pc.is_null(rows["reason"])
    # select before filter: filtering copies every column it is given
    keys = rows.select(["event_id", "landing_hour", "source_file", "line_number", "row_idx"]).filter(ok)  # noqa: F841
    dups = conn.query(_DUPLICATES_SQL, "ArrowTable") if keys.num_rows else pa.table(
        {"row_idx": pa.array([], pa.int64()), "is_duplicate": pa.array([], pa.bool_())})
    conn.close()
    dup_idx = dups.filter(dups["is_duplicate"])["row_idx"]
    dup = pc.is_in(rows["row_idx"], value_set=dup_idx)
    valid = pc.and_(ok, pc.invert(dup))
    silver = rows.select(SILVER_SCHEMA.names).filter(valid).cast(SILVER_SCHEMA)
    rejected = rows.select([*LINEAGE.names, "landing_app_id", "reason", "row_idx"]).filter(pc.invert(valid))
    rejected = rejected.sort_by("row_idx")
    in_quarantine = np.zeros(bronze.num_rows, bool)
    in_quarantine[np.asarray(rejected["row_idx"])] = True  # a mask filter beats take() on chunked arrays
    quarantine = pa.table({
        **{n: rejected[n] for n in LINEAGE.names}, "landing_app_id": rejected["landing_app_id"],
        "reason": pc.if_else(pc.is_null(rejected["reason"]), DUPLICATE_REASON, rejected["reason"]),
        "raw_line": bronze["raw_line"].filter(pa.array(in_quarantine)),
    }).cast(QUARANTINE_SCHEMA)
    predicate = hour_predicate(start, end)
    result = _reconcile(rows, valid, dup)
    result.silver_version = lake.replace_where(SILVER_EVENTS, silver, predicate, ["landing_date"],
                                               no_dictionary=HIGH_CARDINALITY)
    result.quarantine_version = lake.replace_where(QUARANTINE_EVENTS, quarantine, predicate, ["landing_date"],
                                                   no_dictionary=("raw_line",))
    return result


def _reconcile(rows: pa.Table, valid, dup) -> SilverResult:
    hours = rows["landing_hour"]
    status = pc.if_else(valid, "loaded", pc.if_else(dup, "duplicates", "quarantined"))
    counts = pa.table({"hour": hours, "status": status}).group_by(["hour", "status"]).aggregate([([], "count_all")])
    by_hour: dict = {}
    for h, s, c in zip(*(counts[k].to_pylist() for k in ("hour", "status", "count_all")), strict=True):
        entry = by_hour.setdefault(h, {"landing_hour": h.isoformat(), "landed": 0, "loaded": 0,
                                       "duplicates": 0, "quarantined": 0})
        entry[s] += c
        entry["landed"] += c
    counts_by_reason = pc.value_counts(pc.drop_null(rows["reason"]))
    reasons = dict(zip(counts_by_reason.field(0).to_pylist(), counts_by_reason.field(1).to_pylist(), strict=True))
    by = [by_hour[h] for h in sorted(by_hour)]
    return SilverResult(
        landed=rows.num_rows, loaded=sum(h["loaded"] for h in by), duplicates=sum(h["duplicates"] for h in by),
        quarantined=sum(h["quarantined"] for h in by), reasons=reasons, by_hour=by)
