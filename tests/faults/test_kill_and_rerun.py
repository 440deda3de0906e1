"""Fault tolerance with real components: a run killed in the middle of bronze, silver, a
ClickHouse load or a dbt model, then re-run, equals an uninterrupted run; a ClickHouse server
killed during a load fails the load with a clear error and a retry after restart is consistent."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assets.dbt_project import DBT_EXECUTABLE, DBT_PROJECT_DIR
from tests.conftest import REPO, private_clickhouse
from tests.faults.driver import END, START, ingest
from unmogrowp.clickhouse import manager
from unmogrowp.ingest import events, warehouse
from unmogrowp.lake import Lake
from unmogrowp.landing import LandingStore


def _commits(lake_dir: Path, table: str) -> int:
    log = lake_dir / table / "_delta_log"
    return len(list(log.glob("*.json"))) if log.is_dir() else 0


def _state(lake: Lake, client) -> dict:
    """What a run leaves: bronze lines, silver event ids, raw.events rows (count and checksum)."""
    silver = lake.read(events.SILVER_EVENTS, columns=["event_id"])["event_id"].to_pylist()
    return {"bronze": lake.read(events.BRONZE_EVENTS, columns=["line_number"]).num_rows,
            "silver": (len(silver), len(set(silver)), hash(tuple(sorted(silver)))),
            "raw": client.query("SELECT count(), uniqExact(event_id), sum(cityHash64(event_id, event_ts, app_id)) "
                                "FROM raw.events").result_rows[0]}


@pytest.fixture(scope="module")
def clean(generated, tmp_path_factory):
    """An uninterrupted run."""
    out, _ = generated
    home = tmp_path_factory.mktemp("clean")
    state, client = private_clickhouse(home)
    lake_uri = (home / "lake").as_uri()
    ingest(lake_uri, str(out / "landing"), state.port)
    yield _state(Lake(lake_uri), client)
    manager.stop(home)


def _stage_reached(stage: str, lake_dir: Path, client) -> bool:
    if stage == "bronze":  # bronze committed, silver not yet
        return _commits(lake_dir, events.BRONZE_EVENTS) >= 1
    if stage == "silver":
        return _commits(lake_dir, events.SILVER_EVENTS) >= 2
    return client.command("EXISTS TABLE raw.events") and client.command("SELECT count() FROM raw.events") > 0


@pytest.mark.parametrize("stage", ["bronze", "silver", "clickhouse"])
def test_ingestion_killed_mid_run_then_rerun_equals_clean(generated, clean, tmp_path, stage):
    out, _ = generated
    state, client = private_clickhouse(tmp_path / "home")
    lake_dir = tmp_path / "lake"
    try:
        proc = subprocess.Popen([sys.executable, "-m", "tests.faults.driver", lake_dir.as_uri(),
                                 str(out / "landing"), str(state.port)], cwd=REPO, env=os.environ.copy())
        deadline = time.monotonic() + 300
        while not _stage_reached(stage, lake_dir, client) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL, "the run finished before the kill: not a mid-run fault"
        assert _state_or_none(Lake(lake_dir.as_uri()), client) != clean  # the kill left it incomplete
        ingest(lake_dir.as_uri(), str(out / "landing"), state.port)  # the re-run
        assert _state(Lake(lake_dir.as_uri()), client) == clean
    finally:
        manager.stop(tmp_path / "home")


def _state_or_none(lake, client):
    try:
        return _state(lake, client)
    except Exception:
        return None


_MODEL_INSERTS = ("SELECT count() FROM system.processes WHERE query_id != queryID() "
                  "AND query ILIKE '%insert into%fct_installs%'")


def test_dbt_model_killed_mid_run_then_rerun_equals(pipeline_run, ch):
    """`dbt run` of fct_installs SIGKILLed while its INSERT runs on the server; the re-run
    restores the same rows."""
    checksum = "SELECT count(), sum(cityHash64(*)) FROM marts.fct_installs"
    before = ch.query(checksum).result_rows
    env = {**os.environ, "UNMOGROWP_CLICKHOUSE_PORT": str(pipeline_run.settings.clickhouse.port),
           "LAKEHOUSE_ENV": "local"}
    args = [str(DBT_EXECUTABLE), "run", "--select", "fct_installs", "--project-dir", str(DBT_PROJECT_DIR),
            "--profiles-dir", str(DBT_PROJECT_DIR)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, seen = time.monotonic() + 180, False
    while proc.poll() is None and time.monotonic() < deadline:
        if ch.command(_MODEL_INSERTS):  # the poll excludes itself (its own text names the model)
            seen = True
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert seen, "dbt never reached the model's INSERT"
    assert proc.returncode == -signal.SIGKILL
    # ClickHouse finishes a statement whose client died (as a real server does); a retry starts
    # once it is gone, or the orphan's rows would land after the retry's delete
    while ch.command(_MODEL_INSERTS):
        time.sleep(0.1)
    rerun = subprocess.run(args, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout[-2000:]
    assert ch.query(checksum).result_rows == before


def test_clickhouse_killed_during_a_load_fails_clearly_and_a_retry_is_consistent(generated, clean, tmp_path):
    """The server dies at the worst moment of a load: after the window's rows were deleted, before
    the new ones are inserted."""
    out, _ = generated
    home = tmp_path / "home"
    state, client = private_clickhouse(home)
    lake = Lake((tmp_path / "lake").as_uri())
    store = LandingStore(str(out / "landing"))
    events.load_bronze(lake, store, events.event_files(store, START, END), START, END)
    events.build_silver(lake, START, END)
    warehouse.load_events(client, lake, START, END)  # a first, complete load
    command = client.command

    def die_then_insert(sql, *args, **kwargs):  # the engine's INSERT ... SELECT FROM the lake
        if sql.startswith(f"INSERT INTO {warehouse.EVENTS_TABLE}"):
            os.kill(manager.status(home).pid, signal.SIGKILL)
            while _listening(state.port):  # (the killed child stays a zombie: wait for the port instead)
                time.sleep(0.01)
        return command(sql, *args, **kwargs)

    client.command = die_then_insert
    with pytest.raises(Exception) as failure:
        warehouse.load_events(client, lake, START, END)
    message = str(failure.value).lower()
    assert any(w in message for w in ("connection refused", "connection reset", "connection aborted",
                                      "max retries", "failed to establish")), message
    state, client = private_clickhouse(home)  # restart on the same data directory
    assert warehouse.load_events(client, lake, START, END) == clean["silver"][0]
    assert _state(lake, client) == clean
    manager.stop(home)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
