"""Landing → cost loads (every pull kept) → current cost (latest pull wins) for a range of cost dates.

Cost reports are small, so a day is re-derived whole: every not-yet-loaded report file is typed and
validated by the cost contract and appended to ``bronze/cost_loads`` (quarantine for rejected rows),
then ``silver/cost_current`` is rebuilt for those dates with ``argMax`` over ``pulled_at`` per
``COST_KEY``. Cost stays at the grain the network reports (campaign here); allocation down to
adsets and ads happens in dbt, in proportion to attributed installs (see dbt_project).

An object under ``cost/`` outside the layout (or over the size limit, or a symlink out of the root)
is one quarantine row (line 0, reason ``bad_landing_key:<why>`` / ``file_too_large``) on the date
its ``dt=`` names, else the date it was last modified; a line over the limit is quarantined with a
prefix as ``line_too_long``. The read-then-commit step holds the same lock as bronze events.

A report rewritten under the same key (a different checksum: the ETag on S3, sha256 of the bytes
locally) replaces the rows its key loaded before: the latest bytes of a key are that pull. It is
reported as ``files_changed`` with the keys. Every row keeps the object's size and modification
time too: a row without a checksum (too large, a symlink out of the root) is looked at again when
they change; a load from before sizes and checksums were kept counts as changed when the object was
modified after that load (``legacy_reloaded``). An object gone between listing and read (or, on S3,
rewritten: another ETag) is not recorded and is tried again on the next run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import chdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unmogrowp.contracts.cost import COST_CONTRACT, COST_KEY
from unmogrowp.ingest.events import CHANGED_SINCE_LISTING, TOO_LONG, VANISHED, commit_lock, is_legacy, unchanged
from unmogrowp.lake import Lake
from unmogrowp.landing import (
    BAD_KEY,
    FILE_TOO_LARGE,
    MAX_COMPRESSION_RATIO,
    MAX_FILE_BYTES,
    MAX_LINE_BYTES,
    TOO_LARGE,
    ChangedSinceListing,
    LandingFile,
    LandingObjectError,
    LandingStore,
    decode_ndjson_gz,
)
from unmogrowp.windows import date_strings

COST_LOADS = "bronze/cost_loads"
COST_QUARANTINE = "silver/cost_quarantine"
COST_CURRENT = "silver/cost_current"
TS = pa.timestamp("ms", tz="UTC")
LINEAGE = pa.schema([("cost_date", pa.string()), ("source_file", pa.string()), ("line_number", pa.int64()),
                     ("loaded_at", TS), ("source_checksum", pa.string()),  # S3: the ETag; locally: sha256
                     ("source_size", pa.int64()), ("source_modified", TS)])
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
    bad_keys: dict[str, int] = field(default_factory=dict)
    files_lost_race: int = 0  # loaded by a concurrent run while this one read them
    changed_keys: list[str] = field(default_factory=list)  # rewritten after their load: rows replaced
    legacy_reloaded: list[str] = field(default_factory=list)  # of changed_keys: the earlier load kept no checksum
    files_vanished: int = 0  # listed but gone when read: not recorded, tried again next run
    files_changed_since_listing: int = 0  # S3: another ETag when read: not recorded, tried again next run


def cost_files(store: LandingStore, start: date, end: date) -> list[LandingFile]:
    """Every object under ``cost/`` accounted to a cost date in [start, end] (``LandingFile.landing_date``):
    the reports of the layout and the objects outside it."""
    return [f for f in store.list("cost/") if start <= f.landing_date <= end]


_SOURCE = ("source_checksum", "source_size", "source_modified", "loaded_at")


def _loaded(lake: Lake, dates: list[str]) -> dict[str, dict]:
    """source_file -> its latest load: checksum (None: not read), size, modified, loaded_at (size and
    checksum None: loaded before they were kept)."""
    out: dict[str, dict] = {}
    for name, schema in ((COST_LOADS, LOADS_SCHEMA), (COST_QUARANTINE, QUARANTINE_SCHEMA)):
        dt = lake.table(name)
        have = set(dt.schema().to_arrow().names) if dt is not None else set(schema.names)
        cols = ["source_file", *(c for c in _SOURCE if c in have)]
        rows = lake.read(name, columns=cols, filters=[("cost_date", "in", dates)], schema=schema)
        for row in rows.group_by(cols).aggregate([]).to_pylist():
            prior = out.get(row["source_file"])
            if prior is None or (row.get("loaded_at") or 0, row.get("source_checksum") is not None) > (
                    prior.get("loaded_at") or 0, prior.get("source_checksum") is not None):
                out[row["source_file"]] = row
    return out


def _read(store: LandingStore, f: LandingFile, max_file: int) -> tuple[bytes | None, str | None, str | None]:
    """(bytes, checksum, problem) of a report; objects outside the layout or too large are not read.
    Gone since listing (or rewritten, on S3): (None, None, VANISHED / CHANGED_SINCE_LISTING)."""
    bad = f.bad_key or (FILE_TOO_LARGE if f.size > max_file else None)
    if bad is not None:
        return None, f.etag if store.is_s3 else None, bad
    try:
        data = store.read_bytes(f.key, limit=max_file, etag=f.etag)
    except LandingObjectError as e:
        return None, None, f"{BAD_KEY}:{e.problem}"
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None, None, VANISHED
    except ChangedSinceListing:
        return None, None, CHANGED_SINCE_LISTING
    return data, f.etag if store.is_s3 and f.etag else hashlib.sha256(data).hexdigest(), None


def _raw_rows(f: LandingFile, data: bytes | None, checksum: str | None, problem: str | None, now: datetime,
              max_line: int, max_file: int, max_ratio: float = MAX_COMPRESSION_RATIO) -> pa.Table:
    lines: list[bytes | None] = [None]
    errors: list[str | None] = [problem]
    if problem is None:
        decoded = decode_ndjson_gz(data, max_line, max_file, max_ratio)
        if decoded.file_error in TOO_LARGE:
            errors = [decoded.file_error]
        else:
            lines = decoded.lines
            errors = [None] * len(lines)
            for i, _full in decoded.long_lines:
                errors[i] = TOO_LONG
            if decoded.last_line_error and lines:
                errors[-1] = decoded.last_line_error
    n = len(lines)
    first = 0 if lines == [None] else 1  # an object without lines is line 0
    return pa.table({
        "cost_date": pa.array([f.landing_date.isoformat()] * n, pa.string()),
        "source_file": pa.array([f.key] * n, pa.string()),
        "line_number": pa.array(np.arange(first, first + n), pa.int64()),
        "loaded_at": pa.array(np.full(n, int(now.timestamp() * 1000)), TS),
        "source_checksum": pa.array([checksum] * n, pa.string()),
        "source_size": pa.array(np.full(n, f.size), pa.int64()),
        "source_modified": pa.array(np.full(n, int(f.modified * 1000)), TS),
        "raw_line": pa.array(lines, pa.large_binary()),
        "read_error": pa.array(errors, pa.string()),
    })


def load_cost(lake: Lake, store: LandingStore, start: date, end: date, now: datetime | None = None,
              max_line: int = MAX_LINE_BYTES, max_file: int = MAX_FILE_BYTES,
              max_ratio: float = MAX_COMPRESSION_RATIO) -> CostResult:
    now = now or datetime.now(UTC)
    dates = date_strings(start, end)
    versions = (lake.version(COST_LOADS), lake.version(COST_QUARANTINE))
    done = _loaded(lake, dates)
    result = CostResult()
    todo: list[tuple[LandingFile, str | None, pa.Table]] = []
    for f in cost_files(store, start, end):
        prior = done.get(f.key)
        if prior is not None and unchanged(store, f, prior):
            result.files_skipped += 1  # a bad key is recorded once; an unchanged report is not read
            continue
        data, checksum, problem = _read(store, f, max_file)
        if problem in (VANISHED, CHANGED_SINCE_LISTING):  # not recorded: tried again next run
            result.files_vanished += problem == VANISHED
            result.files_changed_since_listing += problem == CHANGED_SINCE_LISTING
            continue
        if prior is not None and checksum == prior.get("source_checksum") and \
                (checksum is not None or not is_legacy(prior)):
            result.files_skipped += 1  # touched (the same bytes), or still not readable
            continue
        todo.append((f, checksum, _raw_rows(f, data, checksum, problem, now, max_line, max_file, max_ratio)))
    with commit_lock(lake, "cost_loads"):
        raced = set()
        if todo and (lake.version(COST_LOADS), lake.version(COST_QUARANTINE)) != versions:
            now_done = _loaded(lake, dates)  # another run committed meanwhile
            raced = {f.key for f, _, _ in todo if now_done.get(f.key) != done.get(f.key)}
            done = now_done
        fresh = [(f, t) for f, c, t in todo if f.key not in raced]
        result.files_lost_race = len(todo) - len(fresh)
        result.files_skipped += result.files_lost_race
        result.files_loaded = len(fresh)
        result.changed_keys = sorted(f.key for f, _ in fresh if f.key in done)
        result.legacy_reloaded = sorted(k for k in result.changed_keys if is_legacy(done[k]))
        for _, t in fresh:
            why = t["read_error"][0].as_py() if t.num_rows == 1 else None
            if why and why.startswith(BAD_KEY):
                result.bad_keys[why] = result.bad_keys.get(why, 0) + 1
        if result.changed_keys:
            _drop_loads(lake, dates, result.changed_keys)
        if fresh:
            _commit(lake, pa.concat_tables([t for _, t in fresh]), result)
    result.current_rows = rebuild_current(lake, dates)
    return result


def _drop_loads(lake: Lake, dates: list[str], keys: list[str]) -> None:
    """Delete the earlier rows of rewritten reports (their keys follow the layout: no quotes)."""
    in_dates = ", ".join(f"'{d}'" for d in dates)
    in_keys = ", ".join(f"'{k}'" for k in keys)
    for name in (COST_LOADS, COST_QUARANTINE):
        dt = lake.table(name)
        if dt is not None:
            dt.delete(f"cost_date IN ({in_dates}) AND source_file IN ({in_keys})")


def _commit(lake: Lake, bronze: pa.Table, result: CostResult) -> None:
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
