"""The erasure list: a keyed hash of every identifier ever erased, so a replayed or late landing
file cannot bring an erased person back.

``unmogrowp erase`` records the person's identifiers here (never the raw values); bronze asks
``erased_lines`` which landed lines carry one of them in an identifier field (parsed as JSON, not
searched as text) and drops those lines before they are written, counting them. The hash is
``sha256(<privacy key>:erased:<identifier>)``, the same in Python and in the SQL that checks lines.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

import chdb
import pyarrow as pa

from unmogrowp.clickhouse.statement import sql_str
from unmogrowp.lake import Lake

ERASED_TABLE = "privacy/erased_identifiers"
FIELDS = ("device_id", "idfv", "android_id", "user_id")  # the event contract's identifier fields
# a line that is not JSON (a cut-off last line) is read as its top-level "field": "value" pairs
PAIRS_RE = r'"(?:device_id|idfv|android_id|user_id)"\s*:\s*"([^"\\]*)"'
SCHEMA = pa.schema([("identifier_hash", pa.string()), ("erased_at", pa.timestamp("ms", tz="UTC"))])


def identifier_hash(value: str, key: str) -> str:
    return hashlib.sha256(f"{key}:erased:{value}".encode()).hexdigest()


def load(lake: Lake) -> frozenset[str]:
    """The hashes of every erased identifier."""
    return frozenset(lake.read(ERASED_TABLE, columns=["identifier_hash"], schema=SCHEMA)["identifier_hash"]
                     .to_pylist())


def record(lake: Lake, identifiers: Iterable[str], key: str) -> int:
    """Add the identifiers' hashes under the privacy ``key`` (those not yet listed); returns how many were added."""
    new = sorted({identifier_hash(i, key) for i in identifiers if i} - load(lake))
    if new:
        now = datetime.now(UTC)
        lake.append(ERASED_TABLE, pa.table({"identifier_hash": new, "erased_at": [now] * len(new)},
                                           schema=SCHEMA))
    return len(new)


def erased_lines(lines: pa.Array | pa.ChunkedArray, hashes: frozenset[str],
                 key: str) -> pa.BooleanArray:
    """True for each raw landing line whose identifier fields hold an erased identifier.

    Lines that are not JSON objects carry no identifier field and are never dropped here (they
    are quarantined by silver as usual). ``key``: the privacy key the list was recorded with.
    """
    n = len(lines)
    if not hashes or not n:
        return pa.array([False] * n, pa.bool_())
    batch = pa.table({"line": lines})  # noqa: F841  (read by chDB)
    erased = pa.table({"h": sorted(hashes)})  # noqa: F841
    key_sql = "{key:String}"
    def listed(value: str) -> str:
        return f"lower(hex(SHA256(concat({key_sql}, ':erased:', {value})))) IN (SELECT h FROM Python(erased))"

    # device_id (IDFA/GAID) is case-insensitive: silver lower-cases it, so its lower-case form is listed
    checks = " OR ".join(listed(f"lower(JSONExtractString(s, '{f}'))" if f == "device_id"
                                else f"JSONExtractString(s, '{f}')") for f in FIELDS)
    pairs = (f"arrayExists(v -> {listed('v[1]')} OR {listed('lower(v[1])')}, "
             f"extractAllGroupsVertical(s, {sql_str(PAIRS_RE)}))")
    sql = ("SELECT toBool(if(isValidJSON(s), " + checks + ", " + pairs + ")) AS hit "
           "FROM (SELECT toString(assumeNotNull(line)) AS s FROM Python(batch))")
    conn = chdb.connect(":memory:")
    try:
        out = conn.query(sql, "ArrowTable", params={"key": key})
    finally:
        conn.close()
    return out["hit"].combine_chunks() if out.num_rows else pa.array([False] * n, pa.bool_())
