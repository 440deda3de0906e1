"""The lake module: delta-rs tables, atomic window replace, and Spark reading a snapshot."""

import datetime as dt

import pyarrow as pa
import pytest

from unmogrowp.lake import Lake

TS = pa.timestamp("ms", tz="UTC")


def rows(ids, day="2026-09-01"):
    return pa.table({"landing_date": [day] * len(ids), "id": pa.array(ids, pa.int64()),
                     "ts": pa.array([dt.datetime(2026, 9, 1, tzinfo=dt.UTC)] * len(ids), TS),
                     "raw": pa.array([b"\xff%d" % i for i in ids], pa.large_binary())})


def test_append_read_and_replace_where(tmp_path):
    lake = Lake(tmp_path.as_uri())
    assert lake.read("t", schema=rows([]).schema).num_rows == 0 and lake.version("t") is None
    lake.append("t", rows([1, 2]), ["landing_date"])
    lake.append("t", rows([3], "2026-09-02"), ["landing_date"])
    for _ in range(2):  # idempotent
        lake.replace_where("t", rows([10, 11, 12]), "landing_date = '2026-09-01'", ["landing_date"])
    got = lake.read("t").sort_by("id")
    assert got["id"].to_pylist() == [3, 10, 11, 12]
    assert lake.read("t", columns=["id"], filters=[("landing_date", "in", ["2026-09-02"])])["id"].to_pylist() == [3]


def test_tables_lists_every_delta_table_and_filters_read(tmp_path):
    lake = Lake((tmp_path / "lake").as_uri())
    assert lake.tables() == []  # no root yet
    for name in ("bronze/events", "silver/events", "t"):
        lake.append(name, rows([1, 2]), ["landing_date"])
    (tmp_path / "lake" / "notes").mkdir()
    assert lake.tables() == ["bronze/events", "silver/events", "t"]
    flt = [("id", ">=", 2), ("landing_date", "==", "2026-09-01")]
    assert lake.read("t", columns=["id"], filters=flt)["id"].to_pylist() == [2]
    assert Lake(tmp_path.as_uri()).storage_options == {}  # none unless given


@pytest.fixture(scope="module")
def spark():
    from unmogrowp.config import load_settings
    from unmogrowp.spark import get_spark

    return get_spark(load_settings().spark)  # shared with the fraud tests (a session costs ~15 s to start)


def test_spark_reads_the_current_snapshot_and_writes_back(tmp_path, spark):
    lake = Lake(tmp_path.as_uri())
    lake.append("t", rows([1, 2]), ["landing_date"])
    lake.append("t", rows([3], "2026-09-02"), ["landing_date"])
    lake.replace_where("t", rows([4]), "landing_date = '2026-09-01'", ["landing_date"])  # old files removed
    df = lake.spark_read(spark, "t")
    got = sorted((r.landing_date, r.id, bytes(r.raw)) for r in df.collect())
    assert got == [("2026-09-01", 4, b"\xff4"), ("2026-09-02", 3, b"\xff3")]
    assert lake.spark_read(spark, "t", partition_filters=[("landing_date", "=", "2026-09-02")]).count() == 1
    out = df.selectExpr("landing_date", "id * 10 AS id10")
    lake.spark_write(out, "t10", partition_by=["landing_date"])
    assert sorted(lake.read("t10")["id10"].to_pylist()) == [30, 40]
