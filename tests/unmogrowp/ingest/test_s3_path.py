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

from orchestration.definitions import EVENTS_JOB, build_definitions
from orchestration.resources import LandingResource
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
    store = LandingStore("s3://lakehouse/demo/landing")
    files = [f for f in store.list() if f.kind == "events"]
    assert len(files) == manifest["event_files"]

    # the sensor sees the new files on S3
    defs = build_definitions(load_settings({"UNMOGROWP_HOME": str(tmp_path)}))
    ctx = dg.build_sensor_context(resources={"landing": LandingResource(root_uri=store.root_uri)}, definitions=defs)
    result = defs.resolve_sensor_def("landing_sensor")(ctx)
    hours = {r.partition_key for r in result.run_requests if r.job_name == EVENTS_JOB}
    assert hours == {f.event_hour.strftime("%Y-%m-%d-%H:00") for f in files}

    lake = Lake("s3://lakehouse/lake")
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
    subject = erasure.resolve(lake, {device})
    deleted = erasure.erase_delta(lake, subject)
    assert deleted[f"delta:{ev.SILVER_EVENTS}"] == len(subject.event_ids) > 0
    assert deleted[f"delta:{ev.BRONZE_EVENTS}"] >= len(subject.event_ids)
    assert device not in lake.read(ev.SILVER_EVENTS, columns=["device_id"])["device_id"].to_pylist()
    assert _files_holding(s3, device) == []


_APPENDER = """
import sys
import pyarrow as pa
from unmogrowp.lake import Lake
lake = Lake("s3://lakehouse/concurrent")
for i in range(int(sys.argv[2])):
    lake.append("t", pa.table({"writer": [sys.argv[1]], "i": [i]}))
"""


def test_concurrent_writers_on_s3_lose_no_commit(s3):
    """Two processes appending to one table at once (a backfill beside the hourly runs): every
    commit lands, because delta-rs commits with S3's conditional put."""
    import subprocess
    import sys

    lake = Lake("s3://lakehouse/concurrent")
    lake.append("t", pa.table({"writer": ["init"], "i": [0]}))
    procs = [subprocess.Popen([sys.executable, "-c", _APPENDER, w, "20"], stderr=subprocess.PIPE, text=True)
             for w in ("backfill", "hourly")]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    rows = lake.read("t").to_pylist()
    assert len(rows) == 41 and lake.version("t") == 40
    assert sorted((r["writer"], r["i"]) for r in rows if r["writer"] != "init") == sorted(
        (w, i) for w in ("backfill", "hourly") for i in range(20))
