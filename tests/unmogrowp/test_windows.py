"""Date and hour windows (UTC)."""

from datetime import UTC, date, datetime, timedelta, timezone

from unmogrowp.windows import as_utc, chunks, date_strings, day_bounds, inclusive_dates


def test_windows():
    start, end = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 3, tzinfo=UTC)
    assert inclusive_dates(start, end) == (date(2026, 9, 1), date(2026, 9, 2))
    assert day_bounds(*inclusive_dates(start, end)) == (start, end)
    assert date_strings(date(2026, 8, 31), date(2026, 9, 1)) == ["2026-08-31", "2026-09-01"]
    assert date_strings(date(2026, 9, 2), date(2026, 9, 1)) == []
    assert list(chunks(start, end, 36)) == [(start, datetime(2026, 9, 2, 12, tzinfo=UTC)),
                                            (datetime(2026, 9, 2, 12, tzinfo=UTC), end)]
    assert list(chunks(end, end)) == []
    assert as_utc(datetime(2026, 9, 1, 5)) == as_utc(datetime(2026, 9, 1, 7, tzinfo=timezone(timedelta(hours=2))))
    assert as_utc(datetime(2026, 9, 1, 5)).tzinfo is UTC
