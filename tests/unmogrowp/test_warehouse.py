"""Replacing a window of a ClickHouse table: by dates (inclusive), times (half-open), equal keys, a
SELECT or the whole table; an empty window costs no mutation."""

from datetime import UTC, date, datetime

import pyarrow as pa

from unmogrowp.warehouse import date_range, equal, replace_window, time_range


def _rows(ch, table: str) -> list[tuple]:
    return ch.query(f"SELECT * FROM {table} ORDER BY ALL").result_rows


def test_replace_window(ch):
    ch.command("CREATE DATABASE IF NOT EXISTS warehouse_test")
    t = "warehouse_test.w"
    ch.command(f"DROP TABLE IF EXISTS {t}")
    ch.command(f"CREATE TABLE {t} (d Date, ts DateTime64(3, 'UTC'), k String, v Int64) ENGINE = MergeTree ORDER BY d")
    ts = datetime(2026, 9, 1, 5, tzinfo=UTC)
    data = pa.table({"d": ["2026-09-01", "2026-09-02", "2026-09-03"],
                     "ts": pa.array([ts] * 3, pa.timestamp("ms", "UTC")), "k": ["a", "b", "c"], "v": [1, 2, 3]})
    assert replace_window(ch, t, data, date_range("d", date(2026, 9, 1), date(2026, 9, 3))) == 3  # strings cast
    again = pa.table({"d": [date(2026, 9, 2)], "ts": data["ts"][:1], "k": ["b"], "v": [20]})
    assert replace_window(ch, t, again, date_range("d", date(2026, 9, 2), date(2026, 9, 3))) == 1
    assert [r[3] for r in _rows(ch, t)] == [1, 20]
    mutations = "SELECT count() FROM system.mutations WHERE database = 'warehouse_test'"
    before = ch.command(mutations)
    assert replace_window(ch, t, None, date_range("d", date(2026, 10, 1), date(2026, 10, 2))) == 0
    assert ch.command(mutations) == before and len(_rows(ch, t)) == 2  # nothing there: no DELETE
    assert replace_window(ch, t, None, time_range("ts", ts, datetime(2026, 9, 1, 6, tzinfo=UTC))) == 0
    assert _rows(ch, t) == []
    select = "SELECT toDate('2026-09-01') + number, now64(3), 'x', {n:Int64} FROM numbers(2)"
    assert replace_window(ch, t, select, equal(k="x"), parameters={"n": 7}) == 2
    assert replace_window(ch, t, select, equal(k="x"), parameters={"n": 8}) == 2
    assert [r[3] for r in _rows(ch, t)] == [8, 8]
    assert replace_window(ch, t, again.slice(0, 0)) == 0 and _rows(ch, t) == []  # the whole table
    ch.command("DROP DATABASE warehouse_test")
