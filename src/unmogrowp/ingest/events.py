"""Landing → bronze → silver for SDK events.

- bronze (``bronze/events``): every raw line with its source file, line number and load time,
  appended once per landing file version (a file already in bronze is skipped, so replays add
  nothing; a file rewritten after its load is loaded again as its next ``source_version``). An
  object outside the layout, a file over the size limit and a symlink out of the root are one row
  each (line 0, no raw line, ``read_error`` says why); a line over the limit keeps a prefix and its
  size (``line_bytes``). Lines of an erased identifier are dropped before the commit and counted.
  The read-then-commit step holds a lock (local lake), so two runs of a window cannot both load a file.
- silver (``silver/events``): typed and validated by the event contract, deduplicated on
  ``event_id`` against earlier rows (same window and the lookback before it); rejected lines go
  to ``silver/events_quarantine`` with their reason and raw line, later copies of an event with
  reason ``duplicate_event_id``. A window is replaced as a whole, so re-runs are idempotent.
"""

from __future__ import annotations

import bisect
import fcntl
import hashlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import chdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unmogrowp.contracts.events import EVENT_CONTRACT, LATE_ARRIVAL_LIMIT
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
    key_problem,
)
from unmogrowp.privacy import erasure_list

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
                           ("read_error", pa.string()),
                           ("line_bytes", pa.int64()),  # a line over the size limit: its full size
                           ("source_version", pa.int64()),  # 1, then 2, ... each time the file changed
                           ("source_size", pa.int64()),
                           ("source_modified", TS),
                           ("source_checksum", pa.string())])  # S3: the ETag; locally: sha256 of the bytes
SOURCE_COLUMNS = ("source_file", "source_version", "source_size", "source_modified", "source_checksum")
TOO_LONG = "line_too_long"
# decoded bytes a load holds before it commits them: a long window is several appends, each file in one
MAX_COMMIT_BYTES = 256 << 20
CHANGED = "changed_landing_object"
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


@dataclass(frozen=True)
class EventListing:
    """One listing of ``events/``, ordered by landing hour: a run lists once for all its chunks."""

    hours: list[datetime]
    files: list[LandingFile]


def list_events(store: LandingStore) -> EventListing:
    pairs = sorted(((f.landing_hour, f.key), f) for f in store.list("events/"))
    return EventListing([h for (h, _), _ in pairs], [f for _, f in pairs])


def event_files(store: LandingStore, start: datetime, end: datetime,
                listing: EventListing | None = None) -> list[LandingFile]:
    """Every object under ``events/`` accounted to a landing hour in [start, end): the batches of the
    layout and the objects outside it (``LandingFile.bad_key``), at ``LandingFile.landing_hour``.
    ``listing`` (``list_events``) is used instead of listing the store again."""
    listing = listing or list_events(store)
    lo, hi = bisect.bisect_left(listing.hours, start), bisect.bisect_left(listing.hours, end)
    return sorted(listing.files[lo:hi], key=lambda f: f.key)


def landing_range(store: LandingStore) -> tuple[datetime, datetime] | None:
    """[first landing hour, last landing hour + 1 h) over every object under events/ in the store."""
    hours = [f.landing_hour for f in store.list("events/")]
    return (min(hours), max(hours) + timedelta(hours=1)) if hours else None


# -- bronze --------------------------------------------------------------------------------------
@dataclass
class BronzeResult:
    files_loaded: int = 0
    files_skipped: int = 0  # already in bronze (replays)
    lines: int = 0
    file_errors: dict[str, int] = field(default_factory=dict)
    delta_version: int | None = None
    lines_erased: int = 0  # lines of an erased identifier, dropped (a file's lines = lines + lines_erased)
    bad_keys: dict[str, int] = field(default_factory=dict)  # bad_landing_key:<why> -> objects
    long_lines: int = 0  # lines over the size limit (kept as a prefix)
    changed_files: list[str] = field(default_factory=list)  # loaded again: rewritten after their load
    files_lost_race: int = 0  # loaded by a concurrent run while this one read them
    legacy_reloaded: list[str] = field(default_factory=list)  # of changed_files: the earlier load kept no checksum
    files_vanished: int = 0  # listed but gone when read: not recorded, tried again next run
    files_changed_since_listing: int = 0  # S3: another ETag when read: not recorded, tried again next run
    commits: int = 0  # bronze appends (a long window is several, each file in one)


def loaded_files(lake: Lake, start: datetime, end: datetime) -> set[str]:
    return set(loaded_versions(lake, start, end))


def loaded_versions(lake: Lake, start: datetime, end: datetime) -> dict[str, dict]:
    """The latest loaded version of each source file of the window: version, size, modified, checksum
    and load time."""
    dt = lake.table(BRONZE_EVENTS)
    if dt is None:
        return {}
    have = set(pa.schema(dt.schema().to_arrow()).names)
    cols = [c for c in (*SOURCE_COLUMNS, "loaded_at") if c in have]
    table = lake.read(BRONZE_EVENTS, columns=cols, filters=hour_filter(start, end))
    distinct = table.group_by(cols).aggregate([]).to_pylist()
    out: dict[str, dict] = {}
    for row in distinct:
        row["source_version"] = row.get("source_version") or 1
        prior = out.get(row["source_file"])
        if prior is None or (row["source_version"], row["loaded_at"]) > (prior["source_version"], prior["loaded_at"]):
            out[row["source_file"]] = row
    return out


def _checksum(store: LandingStore, f: LandingFile, data: bytes | None) -> str | None:
    if store.is_s3:
        return f.etag
    return hashlib.sha256(data).hexdigest() if data is not None else None


def is_legacy(prior: dict) -> bool:
    """A load from before bronze kept the object's size and checksum."""
    return prior.get("source_size") is None and prior.get("source_checksum") is None


def unchanged(store: LandingStore, f: LandingFile, prior: dict) -> bool:
    """Whether a recorded object needs no new look, decided without reading it. A key outside the layout
    is recorded once. S3 compares the ETag; locally size and modification time (a differing one is
    settled by the checksum once read). A row that kept no checksum (too large, a symlink out of the
    root) compares size and modification time; a load from before any were kept (no size either)
    counts as changed when the object was modified after that load."""
    if key_problem(f.key) is not None:
        return True
    if is_legacy(prior):
        loaded = prior.get("loaded_at")
        return loaded is not None and f.modified * 1000 <= round(loaded.timestamp() * 1000)
    if store.is_s3 and prior.get("source_checksum") is not None:
        return f.etag == prior["source_checksum"]
    modified = prior.get("source_modified")
    return f.size == prior.get("source_size") and modified is not None and \
        int(f.modified * 1000) == round(modified.timestamp() * 1000)


_unchanged = unchanged


VANISHED = "vanished"
ALL_ERASED = "erased_identifier"  # reason of the one row of an object whose every line was erased
CHANGED_SINCE_LISTING = "changed_since_listing"


def _bronze_rows(store: LandingStore, f: LandingFile, version: int, now_ms: int, hashes: frozenset[str],
                 max_line: int, max_file: int, max_ratio: float = MAX_COMPRESSION_RATIO, key: str | None = None,
                 ) -> tuple[pa.Table | None, str | None, str | None, int, int]:
    """(rows, file error, checksum, lines erased, lines over the limit) of one landing object. An object
    gone since listing (or, on S3, rewritten since: another ETag) has no rows: (None, VANISHED /
    CHANGED_SINCE_LISTING, ...); it is not recorded, so the next run tries it again."""
    hour, bad = f.landing_hour, f.bad_key
    data = None
    if bad is None and f.size > max_file:
        bad = FILE_TOO_LARGE
    if bad is None:
        try:
            data = store.read_bytes(f.key, limit=max_file, etag=f.etag)
        except LandingObjectError as e:
            bad = f"bad_landing_key:{e.problem}"
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None, VANISHED, None, 0, 0
        except ChangedSinceListing:
            return None, CHANGED_SINCE_LISTING, None, 0, 0
    checksum = _checksum(store, f, data)
    erased = 0
    if bad is not None:  # one row: the object, no line
        lines, errors = pa.array([None], pa.large_binary()), pa.array([bad], pa.string())
        numbers, sizes = pa.array([0], pa.int64()), pa.array([f.size if bad == FILE_TOO_LARGE else None], pa.int64())
        file_error, n_long = (bad if bad == FILE_TOO_LARGE else None), 0
    else:
        decoded = decode_ndjson_gz(data, max_line, max_file, max_ratio)
        file_error, n_long = decoded.file_error, len(decoded.long_lines)
        if decoded.file_error in TOO_LARGE:
            lines, errors = pa.array([None], pa.large_binary()), pa.array([decoded.file_error], pa.string())
            numbers, sizes = pa.array([0], pa.int64()), pa.array([decoded.size], pa.int64())
        else:
            lines = decoded.line_array()
            n = len(lines)
            numbers = pa.array(np.arange(1, n + 1), pa.int64())
            errors, sizes = pa.nulls(n, pa.string()), pa.nulls(n, pa.int64())
            if (decoded.last_line_error and n) or decoded.long_lines:
                err = [None] * n
                size = [None] * n
                for i, full in decoded.long_lines:
                    err[i], size[i] = TOO_LONG, full
                if decoded.last_line_error and n:
                    err[-1] = decoded.last_line_error
                errors, sizes = pa.array(err, pa.string()), pa.array(size, pa.int64())
            if hashes and n:
                keep = pc.invert(erasure_list.erased_lines(lines, hashes, key))
                erased = n - pc.sum(keep).as_py()
                if erased:
                    lines, numbers, errors, sizes = (a.filter(keep) for a in (lines, numbers, errors, sizes))
                if erased == n:  # every line erased: one row records the object, so it is not read again
                    lines, errors = pa.array([None], pa.large_binary()), pa.array([ALL_ERASED], pa.string())
                    numbers, sizes = pa.array([0], pa.int64()), pa.array([None], pa.int64())
    n = len(lines)
    app = f.app_id if f.bad_key is None else ""
    rep = np.zeros(n, np.int64)
    table = pa.table({
        "landing_date": pa.array([hour.strftime("%Y-%m-%d")], pa.string()).take(rep),
        "landing_hour": pa.array(np.full(n, int(hour.timestamp() * 1000)), TS),
        "source_file": pa.array([f.key], pa.string()).take(rep),
        "line_number": numbers,
        "loaded_at": pa.array(np.full(n, now_ms), TS),
        "landing_app_id": pa.array([app], pa.string()).take(rep),
        "raw_line": lines,
        "read_error": errors,
        "line_bytes": sizes,
        "source_version": pa.array(np.full(n, version), pa.int64()),
        "source_size": pa.array(np.full(n, f.size), pa.int64()),
        "source_modified": pa.array(np.full(n, int(f.modified * 1000)), TS),
        "source_checksum": pa.array([checksum], pa.string()).take(rep),
    }, schema=BRONZE_SCHEMA)
    return table, file_error, checksum, erased, n_long


@contextmanager
def commit_lock(lake: Lake, name: str) -> Iterator[None]:
    """An exclusive lock across "read what is loaded → commit" for a local lake (``<lake>/_locks``).
    An S3 lake has no file lock: the asset's Dagster pool serializes the runs of one instance."""
    if lake.root_uri.startswith("s3://"):
        yield
        return
    path = Path(lake.uri("_locks")) / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def load_bronze(lake: Lake, store: LandingStore, files: Iterable[LandingFile], start: datetime,
                end: datetime, now: datetime | None = None, max_line: int = MAX_LINE_BYTES,
                max_file: int = MAX_FILE_BYTES, max_ratio: float = MAX_COMPRESSION_RATIO,
                max_commit: int = MAX_COMMIT_BYTES, privacy_key: str | None = None) -> BronzeResult:
    """Append the raw lines of every landing object not yet in bronze (or changed since). The decoded
    files are committed once they hold ``max_commit`` bytes, and at the end: each file in one commit.
    Lines of identifiers on the erasure list (keyed with ``privacy_key``, required once the list holds
    any) are dropped."""
    now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
    files = list(files)
    hashes = erasure_list.load(lake)
    if hashes and privacy_key is None:
        raise ValueError("the erasure list holds identifiers: load_bronze needs the privacy key they were hashed with")
    version_before = lake.version(BRONZE_EVENTS)
    done = loaded_versions(lake, start, end)
    result = BronzeResult()
    todo = [f for f in files if f.key not in done or not unchanged(store, f, done[f.key])]
    result.files_skipped = len(files) - len(todo)

    def read(f: LandingFile):
        prior = done.get(f.key)
        return f, prior, _bronze_rows(store, f, prior["source_version"] + 1 if prior else 1, now_ms,
                                      hashes, max_line, max_file, max_ratio, privacy_key)

    pending: list = []
    state = {"bytes": 0, "version": version_before, "done": done}  # what bronze held at "version"

    def take(piece) -> None:
        table, why = piece[2][0], piece[2][1]
        if table is None:  # gone or rewritten since listing: not recorded, tried again next run
            result.files_vanished += why == VANISHED
            result.files_changed_since_listing += why == CHANGED_SINCE_LISTING
            return
        pending.append(piece)
        state["bytes"] += table.nbytes
        if state["bytes"] >= max_commit:
            _commit_bronze(lake, start, end, pending, state, result)
            pending.clear()
            state["bytes"] = 0

    with ThreadPoolExecutor(2) as pool:  # zlib and Arrow release the GIL
        ahead: deque = deque()  # at most three files decoded ahead of the commit
        for f in todo:
            ahead.append(pool.submit(read, f))
            if len(ahead) > 2:
                take(ahead.popleft().result())
        while ahead:
            take(ahead.popleft().result())
    if pending:
        _commit_bronze(lake, start, end, pending, state, result)
    return result


def _commit_bronze(lake: Lake, start: datetime, end: datetime, pieces: list, state: dict,
                   result: BronzeResult) -> None:
    """One bronze append of the decoded ``pieces`` under the commit lock; files another run loaded
    meanwhile are dropped. ``state``: the table version and what bronze held then, kept up to date."""
    with commit_lock(lake, "bronze_events"):
        if lake.version(BRONZE_EVENTS) != state["version"]:  # another run committed meanwhile
            state["done"] = loaded_versions(lake, start, end)
        done = state["done"]
        tables = []
        for f, prior, (table, file_error, checksum, erased, n_long) in pieces:
            now_prior = done.get(f.key)
            raced = (now_prior or {}).get("source_version", 0) != (prior or {}).get("source_version", 0)
            if raced or (prior is not None and checksum == prior.get("source_checksum")
                         and (checksum is not None or not is_legacy(prior))):
                # loaded by a concurrent run meanwhile, only touched (the same bytes) or still unreadable
                result.files_skipped += 1
                result.files_lost_race += raced
                continue
            if prior is not None:
                result.changed_files.append(f.key)
                if is_legacy(prior):
                    result.legacy_reloaded.append(f.key)
            tables.append(table)
            result.lines += table.num_rows
            result.lines_erased += erased
            result.long_lines += n_long
            if file_error:
                result.file_errors[file_error] = result.file_errors.get(file_error, 0) + 1
            why = table["read_error"][0].as_py() if table.num_rows == 1 else None
            if why and why.startswith(BAD_KEY):
                result.bad_keys[why] = result.bad_keys.get(why, 0) + 1
        result.files_loaded += len(tables)
        if tables:
            result.delta_version = lake.append(BRONZE_EVENTS, pa.concat_tables(tables), ["landing_date"],
                                               no_dictionary=("raw_line",))
            result.commits += 1
        state["version"] = lake.version(BRONZE_EVENTS)  # the lock is held: only this append is new


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
    doubled: int = 0  # bronze rows of the window of a (source file, version, line) already in bronze: a double load

    @property
    def reconciles(self) -> bool:
        return self.doubled == 0 and self.landed == self.loaded + self.duplicates + self.quarantined and all(
            h["landed"] == h["loaded"] + h["duplicates"] + h["quarantined"] for h in self.by_hour)


def _validation_sql(source: str = "bronze", null_keys: bool = True) -> str:
    """Validate the window's bronze rows; carries a row index only: the raw line and the lineage stay in
    Arrow (taken by row index), so chDB neither copies them in nor out."""
    app_check = (("'app_id_mismatch'", "x_app_id != landing_app_id"),)
    return EVENT_CONTRACT.validation_sql(
        f"Python({source}) WHERE landing_hour >= {{start:DateTime64(3, 'UTC')}} "
        "AND landing_hour < {end:DateTime64(3, 'UTC')}",
        ("row_idx",), extra_reasons=app_check, null_keys=null_keys)


# Windows of at least this many lines are validated in two passes (below). Off (None): measured idle on
# one 230k-line window, two passes cost more CPU than one (median of 4: 3.95 vs 3.65 CPU-s).
TWO_PASS_MIN_LINES: int | None = None
_VALIDATED = pa.schema([("row_idx", pa.int64()), ("reason", pa.string()), *EVENT_CONTRACT.arrow_schema()])


def _validate(conn, bronze: pa.Table, lines: int, start: datetime, end: datetime) -> pa.Table:
    """(row_idx, reason, typed fields) of the window's bronze rows (``lines`` of them). A large window
    first goes through the SQL without the null-key search, which passes exactly the lines the full
    SQL passes; the few it rejects go through the full SQL for their reason."""
    if not lines:
        return _VALIDATED.empty_table()
    params = {"start": start.strftime("%Y-%m-%d %H:%M:%S"), "end": end.strftime("%Y-%m-%d %H:%M:%S")}
    if TWO_PASS_MIN_LINES is None or lines < TWO_PASS_MIN_LINES:
        return conn.query(_validation_sql(), "ArrowTable", params=params)
    rows = conn.query(_validation_sql(null_keys=False), "ArrowTable", params=params)
    rejected = pc.is_valid(rows["reason"])
    if not pc.any(rejected).as_py():
        return rows
    again = rows["row_idx"].filter(rejected)
    recheck = bronze.take(again).combine_chunks()  # noqa: F841  (read by chDB)
    full = conn.query(_validation_sql("recheck"), "ArrowTable", params=params)
    return pa.concat_tables([rows.filter(pc.invert(rejected)), full.cast(rows.schema)])


# Later copies of a valid event: not the first (by landing hour, file, version, line) in the window, or
# already in silver before the window. 64-bit hashes of event_id find the candidates (a compact key set);
# the strings decide among them only, so a hash collision costs a comparison, never a wrong answer.
# Returns the row_idx of the duplicates only.
_DUPLICATES_SQL = """
    SELECT row_idx FROM Python(keys)
    WHERE cityHash64(event_id) IN (SELECT cityHash64(event_id) FROM Python(prior))
      AND event_id IN (SELECT event_id FROM Python(prior)
                       WHERE cityHash64(event_id) IN (SELECT cityHash64(event_id) FROM Python(keys)))
    UNION ALL
    SELECT arrayJoin(arrayFilter(i -> i != first_idx, idxs)) AS row_idx
    FROM (SELECT argMin(row_idx, (landing_hour, source_file, source_version, line_number, row_idx)) AS first_idx,
                 groupArray(row_idx) AS idxs
          FROM Python(keys)
          WHERE cityHash64(event_id) IN (SELECT h FROM (SELECT cityHash64(event_id) AS h FROM Python(keys))
                                         GROUP BY h HAVING count() > 1)
          GROUP BY event_id)
"""


_SILVER_INPUT = (*LINEAGE.names, "landing_app_id", "raw_line", "read_error", "source_version")


def doubled_lines(bronze: pa.Table) -> int:
    """Rows whose (source file, version, line number) an earlier row already has: a file loaded twice.

    A load writes a file's lines in one run of rows with rising line numbers, so the check compares
    runs (one per file load) and only falls back to grouping every row when that does not hold."""
    n = bronze.num_rows
    if n < 2:
        return 0
    files, versions = bronze["source_file"].combine_chunks(), bronze["source_version"].combine_chunks()
    numbers = bronze["line_number"].to_numpy()
    new_run = pc.or_(pc.not_equal(files[1:], files[:-1]), pc.not_equal(versions[1:], versions[:-1]))
    new_run = np.asarray(new_run.fill_null(True))
    if np.any((np.diff(numbers) <= 0) & ~new_run):  # not one rising run per load: group every row
        lines = pa.table({"f": files, "v": versions, "n": numbers})
        return n - lines.group_by(["f", "v", "n"]).aggregate([]).num_rows
    starts = np.concatenate([[0], np.flatnonzero(new_run) + 1])
    ends = np.concatenate([starts[1:], [n]])
    runs: dict[tuple, list[tuple[int, int, int]]] = {}
    for f, v, first, last, count in zip(files.take(starts).to_pylist(), versions.take(starts).to_pylist(),
                                        numbers[starts].tolist(), numbers[ends - 1].tolist(),
                                        (ends - starts).tolist(), strict=True):
        runs.setdefault((f, v), []).append((first, last, count))
    doubled = 0
    for spans in runs.values():
        if len(spans) > 1:  # one load split over Parquet files, or two loads: overlapping line ranges
            top = -1
            for first, last, count in sorted(spans):
                if first <= top:
                    doubled += count
                top = max(top, last)
    return doubled


def build_silver(lake: Lake, start: datetime, end: datetime) -> SilverResult:
    """Type, validate and deduplicate the bronze rows of [start, end); replace that silver window."""
    # partition pruning only (fast); the exact hour window is applied in SQL
    dt = lake.table(BRONZE_EVENTS)
    have = set(pa.schema(dt.schema().to_arrow()).names) if dt is not None else set(BRONZE_SCHEMA.names)
    bronze = lake.read(BRONZE_EVENTS, columns=[c for c in _SILVER_INPUT if c in have],
                       filters=hour_filter(start, end)[:1], schema=BRONZE_SCHEMA)
    if "source_version" not in bronze.column_names:  # a bronze table from before versions were kept
        bronze = bronze.append_column("source_version", pa.array(np.ones(bronze.num_rows, np.int64)))
    bronze = bronze.append_column("row_idx", pa.array(np.arange(bronze.num_rows), pa.int64()))
    prior = lake.read(SILVER_EVENTS, columns=["event_id"],  # noqa: F841  (read by chDB)
                      filters=hour_filter(start - DEDUP_LOOKBACK, start), schema=SILVER_SCHEMA)
    hour = bronze["landing_hour"]  # the window's hours only: the day partition holds other windows too
    in_window = pc.and_(pc.greater_equal(hour, pa.scalar(start, TS)), pc.less(hour, pa.scalar(end, TS)))
    conn = chdb.connect(":memory:")
    rows = _validate(conn, bronze, pc.sum(in_window).as_py() or 0, start, end)
    lineage = bronze.select([*LINEAGE.names, "landing_app_id", "source_version"]).take(rows["row_idx"])
    for name in lineage.column_names:
        rows = rows.append_column(name, lineage[name])
    ok = pc.is_null(rows["reason"])
    # select before filter: filtering copies every column it is given
    keys = rows.select(["event_id", "landing_hour", "source_file", "source_version", "line_number",
                        "row_idx"]).filter(ok)
    dup_idx = conn.query(_DUPLICATES_SQL, "ArrowTable")["row_idx"] if keys.num_rows else pa.array([], pa.int64())
    conn.close()
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
    result.doubled = doubled_lines(bronze.select(["source_file", "source_version", "line_number"]).filter(in_window))
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
