"""The retention limit on raw identifiers (SPEC §8).

Bronze lines and quarantined lines are the landing lines as received (every identifier, full IPs);
they are deleted ``raw_days`` after landing, and the files vacuumed. Silver and its ClickHouse
mirror (``raw.events``, and attribution's key tables built from it) keep their rows for
``silver_days`` but their IPs are truncated to the /24 (/48) network once they are ``raw_days`` old;
by then every fraud feature that reads them has been computed (features look back 7 days over events
landing up to 8 days late). After ``silver_days`` the rows go. Everything is by landing date,
relative to ``as_of`` (the schedule's day), so a re-run for the same day changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from unmogrowp.ingest import match_keys, warehouse
from unmogrowp.ingest.events import BRONZE_EVENTS, QUARANTINE_EVENTS, SILVER_EVENTS, SILVER_SCHEMA
from unmogrowp.lake import Lake
from unmogrowp.privacy import RAW_DAYS, SILVER_DAYS
from unmogrowp.privacy.keys import truncate_ip
from unmogrowp.windows import day_bounds

RAW_LINE_TABLES = (BRONZE_EVENTS, QUARANTINE_EVENTS)


@dataclass(frozen=True)
class RetentionPolicy:
    raw_days: int = RAW_DAYS  # landing lines kept, and full IPs
    silver_days: int = SILVER_DAYS  # silver rows

    def __post_init__(self):
        if not 0 < self.raw_days <= self.silver_days:
            raise ValueError(f"retention needs 0 < raw_days <= silver_days, got {self.raw_days} and "
                             f"{self.silver_days}")


@dataclass
class RetentionReport:
    raw_cutoff: str  # landing dates before this lost their landing lines and full IPs
    silver_cutoff: str  # landing dates before this were deleted
    deleted: dict[str, int]  # table -> rows
    ips_truncated: int
    dates_truncated: list[str]


def _landing_dates(lake: Lake, table: str) -> list[str]:
    if not lake.exists(table):
        return []
    dates = lake.read(table, columns=["landing_date"])["landing_date"]
    return sorted(pc.unique(dates).to_pylist())


def _delete_before(lake: Lake, table: str, cutoff: str) -> int:
    if not lake.exists(table):
        return 0
    dt = lake.table(table)
    rows = int(dt.delete(f"landing_date < '{cutoff}'").get("num_deleted_rows", 0) or 0)
    if rows:
        dt.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    return rows


def _full_ips(table: pa.Table) -> pa.Array:
    ip = table["ip"]
    return pc.and_(pc.is_valid(ip), pc.invert(pc.fill_null(pc.match_substring(ip, "/"), True)))


def truncate_silver_ips(lake: Lake, client, day: str) -> int:
    """Replace the full IPs of one landing date by their networks, in silver then ClickHouse."""
    where = [("landing_date", "=", day)]
    n = pc.sum(_full_ips(lake.read(SILVER_EVENTS, columns=["ip"], filters=where))).as_py() or 0
    if not n:
        return 0
    data = lake.read(SILVER_EVENTS, filters=where, schema=SILVER_SCHEMA)
    ips = pa.array([truncate_ip(v) for v in data["ip"].to_pylist()], pa.string())
    data = data.set_column(data.schema.get_field_index("ip"), "ip", ips)
    lake.replace_where(SILVER_EVENTS, data, f"landing_date = '{day}'", ["landing_date"])
    lake.table(SILVER_EVENTS).vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    d = date.fromisoformat(day)
    warehouse.load_events(client, lake, *day_bounds(d, d))
    return n


def apply(lake: Lake, client, as_of: date, policy: RetentionPolicy = RetentionPolicy()) -> RetentionReport:
    raw_cutoff = (as_of - timedelta(days=policy.raw_days)).isoformat()
    silver_cutoff = (as_of - timedelta(days=policy.silver_days)).isoformat()
    deleted = {t: _delete_before(lake, t, raw_cutoff) for t in RAW_LINE_TABLES}
    deleted[SILVER_EVENTS] = _delete_before(lake, SILVER_EVENTS, silver_cutoff)
    if client.command("EXISTS TABLE raw.events"):
        params = {"c": datetime.fromisoformat(silver_cutoff)}
        old = client.command("SELECT count() FROM raw.events WHERE landing_hour < {c:DateTime64(3)}", parameters=params)
        if old:
            client.command("DELETE FROM raw.events WHERE landing_hour < {c:DateTime64(3)}", parameters=params)
        deleted["clickhouse:raw.events"] = int(old)
        # the key tables hold the same rows' identifiers (truncated IPs follow through load_events)
        deleted["clickhouse:raw.match_keys"] = match_keys.delete_before(client, params["c"])
    truncated, days = 0, []
    for day in _landing_dates(lake, SILVER_EVENTS):
        if silver_cutoff <= day < raw_cutoff:
            n = truncate_silver_ips(lake, client, day)
            if n:
                truncated += n
                days.append(day)
    return RetentionReport(raw_cutoff, silver_cutoff, {k: v for k, v in deleted.items() if v}, truncated, days)
