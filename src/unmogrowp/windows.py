"""Date and hour windows (UTC): hours [start, end), dates [start, end] inclusive."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta


def as_utc(t: datetime) -> datetime:
    """``t`` in UTC; a time without an offset is taken as UTC."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def inclusive_dates(start: datetime, end: datetime) -> tuple[date, date]:
    """The dates [first, last] of a window of whole days [start, end)."""
    return start.date(), (end - timedelta(days=1)).date()


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Dates [start, end] as UTC times [start's midnight, the midnight after end)."""
    return (datetime.combine(start, time.min, tzinfo=UTC),
            datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC))


def date_strings(start: date, end: date) -> list[str]:
    """Every date of [start, end] as YYYY-MM-DD."""
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def chunks(start: datetime, end: datetime, hours: int = 24) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) in consecutive pieces of at most ``hours`` (bounds memory on long backfills)."""
    t = start
    while t < end:
        nxt = min(t + timedelta(hours=hours), end)
        yield t, nxt
        t = nxt
