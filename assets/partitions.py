"""Partitions: landing hours for events, cost dates for ad spend (both UTC)."""

from datetime import UTC, date, datetime, timedelta

import dagster as dg

from unmogrowp.config import Settings

# tags that make one run cover a range of partitions (with a single-run backfill policy)
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
HOUR_KEY, DAY_KEY = "%Y-%m-%d-%H:00", "%Y-%m-%d"


def hourly_partitions(settings: Settings) -> dg.HourlyPartitionsDefinition:
    return dg.HourlyPartitionsDefinition(start_date=f"{settings.partitions_start}-00:00", timezone="UTC")


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=settings.partitions_start, timezone="UTC")


def hour_window(context) -> tuple[datetime, datetime]:
    """The [start, end) landing hours of this run (one partition or a single-run backfill range)."""
    window = context.partition_time_window
    return window.start.astimezone(UTC), window.end.astimezone(UTC)


def date_window(context) -> tuple[date, date]:
    """The inclusive cost dates of this run."""
    start, end = hour_window(context)
    return start.date(), (end - timedelta(days=1)).date()


def chunks(start: datetime, end: datetime, hours: int = 24):
    """[start, end) in consecutive pieces of at most ``hours`` (bounds memory on long backfills)."""
    t = start
    while t < end:
        nxt = min(t + timedelta(hours=hours), end)
        yield t, nxt
        t = nxt
