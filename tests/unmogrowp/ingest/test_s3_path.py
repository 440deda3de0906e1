"""The same code on S3: moto's standalone server on loopback stands in for the bucket."""

import io
import json
from datetime import UTC, date, datetime, timedelta

import boto3
import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from assets.resources import LandingResource
from orchestration.definitions import EVENTS_JOB, build_definitions
from tests.conftest import free_port
from unmogrowp.config import load_settings
from unmogrowp.generator.simulate import SimConfig
from unmogrowp.generator.writer import generate
from unmogrowp.ingest import events as ev
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingStore


@pytest.fixture(scope="module")
def s3():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"]).create_bucket(Bucket="lakehouse")
        yield boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
    server.stop()


def _lake(uri: str) -> Lake:
    """A lake on the test's bucket, with the object-store options of the settings (AWS_* of the fixture)."""
    return Lake(uri, load_settings().storage_options(uri))


def _store(uri: str) -> LandingStore:
    return LandingStore(uri, load_settings().storage_options(uri))


def _files_holding(s3, needle: str) -> list[str]:
    """Parquet files under lake/ (current or not) with a text or binary value containing ``needle``,
    read decoded (pages are compressed)."""
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="lakehouse", Prefix="lake/"):
        for key in (o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".parquet")):
            table = pq.read_table(io.BytesIO(s3.get_object(Bucket="lakehouse", Key=key)["Body"].read()))
            for column in table.columns:
                if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
                    column = pc.cast(column, pa.large_string())
                if (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)) \
                        and pc.any(pc.match_substring(column, needle)).as_py():
                    found.append(key)
                    break
    return found


def test_landing_bronze_and_silver_on_s3(s3, tmp_path):
    generate("s3://lakehouse/demo", 1, date(2026, 9, 1), date(2026, 9, 1), seed=5,
             config=SimConfig(installs_per_day=150), progress=False, truncated_file_share=0.0)
    manifest = json.loads(s3.get_object(Bucket="lakehouse", Key="demo/answers/manifest.json")["Body"].read())
    store = _store("s3://lakehouse/demo/landing")
    files = [f for f in store.list() if f.kind == "events"]
    assert len(files) == manifest["event_files"]

    # the sensor sees the new files on S3
    defs = build_definitions(load_settings({"UNMOGROWP_HOME": str(tmp_path)}))
    ctx = dg.build_sensor_context(resources={"landing": LandingResource(root_uri=store.root_uri)}, definitions=defs)
    result = defs.resolve_sensor_def("landing_sensor")(ctx)
    hours = {r.partition_key for r in result.run_requests if r.job_name == EVENTS_JOB}
    assert hours == {f.event_hour.strftime("%Y-%m-%d-%H:00") for f in files}

    lake = _lake("s3://lakehouse/lake")
    start = datetime(2026, 9, 1, tzinfo=UTC)
    end = start + timedelta(days=5)
    bronze = ev.load_bronze(lake, store, ev.event_files(store, start, end), start, end)
    assert bronze.lines == manifest["lines_written"]
    assert ev.load_bronze(lake, store, ev.event_files(store, start, end), start, end).files_loaded == 0
    silver = ev.build_silver(lake, start, end)
    assert silver.reconciles and silver.landed == manifest["lines_written"]
    assert lake.read(ev.SILVER_EVENTS, columns=["event_id"]).num_rows == silver.loaded
    logs = s3.list_objects_v2(Bucket="lakehouse", Prefix="lake/silver/events/_delta_log/")["Contents"]
    assert any(o["Key"].endswith("00000000000000000000.json") for o in logs)

    # erasure finds the tables through the object store and leaves no file holding the device
    from unmogrowp.privacy import erasure

    assert lake.tables() == [ev.BRONZE_EVENTS, ev.SILVER_EVENTS, ev.QUARANTINE_EVENTS]
    device = next(d for d in lake.read(ev.SILVER_EVENTS, columns=["device_id"])["device_id"].to_pylist() if d)
    assert _files_holding(s3, device)
    subject = erasure.resolve(lake, {device}, load_settings().privacy_key)
    deleted = erasure.erase_delta(lake, subject)
    assert deleted[f"delta:{ev.SILVER_EVENTS}"] == len(subject.event_ids) > 0
    assert deleted[f"delta:{ev.BRONZE_EVENTS}"] >= len(subject.event_ids)
    assert device not in lake.read(ev.SILVER_EVENTS, columns=["device_id"])["device_id"].to_pylist()
    assert _files_holding(s3, device) == []


_APPENDER = """
import sys
import pyarrow as pa
from unmogrowp.config import load_settings
from unmogrowp.lake import Lake
lake = Lake("s3://lakehouse/concurrent", load_settings().storage_options("s3://lakehouse/concurrent"))
for i in range(int(sys.argv[2])):
    lake.append("t", pa.table({"writer": [sys.argv[1]], "i": [i]}))
"""


def test_concurrent_writers_on_s3_lose_no_commit(s3):
    """Two processes appending to one table at once (a backfill beside the hourly runs): every
    commit lands, because delta-rs commits with S3's conditional put."""
    import subprocess
    import sys

    lake = _lake("s3://lakehouse/concurrent")
    lake.append("t", pa.table({"writer": ["init"], "i": [0]}))
    procs = [subprocess.Popen([sys.executable, "-c", _APPENDER, w, "20"], stderr=subprocess.PIPE, text=True)
             for w in ("backfill", "hourly")]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    rows = lake.read("t").to_pylist()
    assert len(rows) == 41 and lake.version("t") == 40
    assert sorted((r["writer"], r["i"]) for r in rows if r["writer"] != "init") == sorted(
        (w, i) for w in ("backfill", "hourly") for i in range(20))


def test_bad_keys_and_changed_objects_on_s3(s3):
    """On S3 a bad key is quarantined like locally, and a rewritten object is told by its ETag."""
    import gzip

    from unmogrowp.landing import event_key

    store = _store("s3://lakehouse/changing/landing")
    hour = datetime(2026, 9, 1, 5, tzinfo=UTC)
    line = {"app_id": "com.x", "event_type": "session_start", "event_ts": "2026-09-01T05:10:00.000Z",
            "received_ts": "2026-09-01T05:10:01.000Z", "platform": "ios"}
    body = lambda n: gzip.compress("".join(json.dumps({**line, "event_id": f"{i:08d}-1234-4678-9234-567812345678"})  # noqa: E731
                                           + "\n" for i in range(n)).encode())
    key = event_key("com.x", hour, "b")
    store.write_bytes(key, body(2))
    for bad in ("events/app_id=com.x/dt=2026-09-01/hr=24/b.json.gz", "events/app_id=../dt=2026-09-01/hr=05/b.json.gz",
                "events/app_id=com.x/dt=2026-09-01/hr=05/.hidden.json.gz",
                "events/app_id=com.x/dt=2026-09-01//b.json.gz"):
        store.write_bytes(bad, body(1))
    lake = _lake("s3://lakehouse/changing/lake")
    start, end = hour.replace(hour=0), hour.replace(hour=0) + timedelta(days=1)
    first = ev.load_bronze(lake, store, ev.event_files(store, start, end), start, end)
    assert first.bad_keys == {"bad_landing_key:hour": 1, "bad_landing_key:app_id": 1, "bad_landing_key:hidden": 2}
    assert first.lines == 2 + 4
    store.write_bytes(key, body(3))  # the same key, a new ETag
    second = ev.load_bronze(lake, store, ev.event_files(store, start, end), start, end)
    assert (second.changed_files, second.lines, second.files_skipped) == ([key], 3, 4)
    silver = ev.build_silver(lake, start, end)
    assert silver.reconciles and silver.loaded == 3 and silver.duplicates == 2 and silver.quarantined == 4


def test_an_object_gone_or_rewritten_between_listing_and_get_is_retried_next_run(s3):
    """S3 raised NoSuchKey out of `read_bytes` and failed the whole window; now a deleted object is
    `files_vanished_since_listing`, one whose ETag no longer matches the listing (GET with If-Match) is
    `files_changed_since_listing`: neither is recorded, and the next run loads what is there."""
    import gzip

    from unmogrowp.ingest import cost as co
    from unmogrowp.landing import cost_key, event_key

    store = _store("s3://lakehouse/racing/landing")
    hour = datetime(2026, 9, 1, 5, tzinfo=UTC)
    line = {"app_id": "com.x", "event_type": "session_start", "event_ts": "2026-09-01T05:10:00.000Z",
            "received_ts": "2026-09-01T05:10:01.000Z", "platform": "ios"}
    body = lambda first, n: gzip.compress("".join(  # noqa: E731
        json.dumps({**line, "event_id": f"{i:08d}-1234-4678-9234-567812345678"}) + "\n"
        for i in range(first, first + n)).encode())
    gone, rewritten, kept = (event_key("com.x", hour, b) for b in ("gone", "rewritten", "kept"))
    for key in (gone, rewritten, kept):
        store.write_bytes(key, body(0 if key == gone else 10 if key == rewritten else 20, 2))
    lake = _lake("s3://lakehouse/racing/lake")
    start, end = hour, hour + timedelta(hours=1)
    files = ev.event_files(store, start, end)
    s3.delete_object(Bucket="lakehouse", Key=f"racing/landing/{gone}")
    store.write_bytes(rewritten, body(10, 3))  # a new ETag since the listing
    first = ev.load_bronze(lake, store, files, start, end)
    assert (first.files_loaded, first.lines) == (1, 2)
    assert (first.files_vanished, first.files_changed_since_listing) == (1, 1)
    assert first.bad_keys == {}
    store.write_bytes(gone, body(0, 2))
    second = ev.load_bronze(lake, store, ev.event_files(store, start, end), start, end)
    assert (second.files_loaded, second.lines, second.changed_files) == (2, 5, [])
    assert second.files_skipped == 1
    silver = ev.build_silver(lake, start, end)
    assert silver.reconciles and silver.loaded == 7 and silver.quarantined == 0

    day = date(2026, 9, 1)  # the same for cost reports
    report = cost_key("net", day, datetime(2026, 9, 2, tzinfo=UTC))
    row = {"date": "2026-09-01", "media_source": "net", "app_id": "com.x", "campaign_id": "c1",
           "pulled_at": "2026-09-02T00:00:00Z", "currency": "USD", "spend": 1.5}
    store.write_bytes(report, gzip.compress(json.dumps(row).encode() + b"\n"))
    listed = co.cost_files(store, day, day)
    s3.delete_object(Bucket="lakehouse", Key=f"racing/landing/{report}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(co, "cost_files", lambda *a: listed)
        r = co.load_cost(lake, store, day, day)
        assert (r.files_loaded, r.files_vanished, r.bad_keys) == (0, 1, {})
        store.write_bytes(report, gzip.compress(json.dumps({**row, "spend": 2.5}).encode() + b"\n"))
        r = co.load_cost(lake, store, day, day)
        assert (r.files_loaded, r.files_changed_since_listing) == (0, 1)
    r = co.load_cost(lake, store, day, day)
    assert (r.files_loaded, r.rows_loaded, r.changed_keys) == (1, 1, [])
    assert lake.read(co.COST_CURRENT)["spend"].to_pylist() == [2.5]
