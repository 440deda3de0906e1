"""The Spark jobs on a Spark cluster's front door: a real Spark Connect server (the one production's
modules/spark runs on EKS; here pyspark's own jars, started with spark-submit) computes the fraud
features of a pipeline day, and they equal what the in-process session wrote."""

import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pyspark
import pytest

from unmogrowp.fraud import features as ff
from unmogrowp.lake import Lake
from unmogrowp.net import free_port


@pytest.fixture(scope="module")
def spark_connect(tmp_path_factory):
    """A Spark Connect server on loopback (local[2] executors); yields its sc:// URL."""
    home = Path(pyspark.__file__).parent
    port = free_port()
    log = tmp_path_factory.mktemp("spark-connect") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(home / "bin" / "spark-submit"), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
             "--master", "local[2]", "--conf", f"spark.connect.grpc.binding.port={port}",
             "--conf", "spark.ui.enabled=false", "--conf", "spark.driver.memory=2g",
             "--conf", "spark.sql.session.timeZone=UTC", "spark-internal"],
            env={**os.environ, "SPARK_HOME": str(home), "PYSPARK_PYTHON": sys.executable},
            stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while "Spark Connect server started" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "Spark Connect did not start in 180 s"
            time.sleep(1)
        yield f"sc://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(60)


def _frame(lake: Lake, table: str, day: date) -> pd.DataFrame:
    df = lake.read(table, filters=[("install_date", "=", day.isoformat())]).to_pandas()
    columns = sorted(df.columns)
    return df[columns].sort_values(columns).reset_index(drop=True)


# what a run pod does: its settings say SPARK_REMOTE, so its one session is a Connect client
CLIENT = """
import json, sys
import clickhouse_connect
from datetime import date
from unmogrowp.config import load_settings
from unmogrowp.fraud.pipeline import build_features
from unmogrowp.lake import Lake
from unmogrowp.spark import get_spark

settings = load_settings()
spark = get_spark(settings.spark)
client = clickhouse_connect.get_client(host=settings.clickhouse.host, port=settings.clickhouse.port)
day = date.fromisoformat(sys.argv[1])
out = build_features(spark, Lake(settings.lake_uri), client, day, day, privacy_key=settings.privacy_key)
print(json.dumps({"installs": out["installs"], "session": type(spark).__module__}))
"""


def test_fraud_features_over_spark_connect_equal_the_in_process_session(pipeline_run, spark_connect):
    from unmogrowp.config import settings_environ

    settings = pipeline_run.settings
    lake = Lake(settings.lake_uri)
    day = date(2026, 9, 2)
    before = {t: _frame(lake, t, day) for t in (ff.INSTALL_TABLE, ff.SOURCE_TABLE)}
    assert len(before[ff.INSTALL_TABLE]) > 300

    env = {**os.environ, **settings_environ(settings), "SPARK_REMOTE": spark_connect}
    proc = subprocess.run([sys.executable, "-c", CLIENT, day.isoformat()], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"installs": len(before[ff.INSTALL_TABLE]), "session": "pyspark.sql.connect.session"}
    for table, frame in before.items():
        pd.testing.assert_frame_equal(_frame(lake, table, day), frame, check_dtype=False, obj=table)
