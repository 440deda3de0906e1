"""Erasure: one command erases a device everywhere (Delta files, ClickHouse, Feast online store),
leaves everyone else intact, and writes an audit record without the identifier."""

import json
from pathlib import Path

import clickhouse_connect
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import RunsFilter

from ml import feature_store as fstore
from orchestration import cli
from orchestration.jobs import ERASURE_JOB
from orchestration.pipeline import dagster_home
from unmogrowp.ingest.events import SILVER_EVENTS
from unmogrowp.lake import Lake
from unmogrowp.privacy import erasure, erasure_list


@pytest.fixture(scope="module")
def lakehouse(pipeline_run, generated):
    """The session's pipeline run (the erasure changes it: one device fewer, for the tests after this one)
    and the environment the command line reads it with."""
    out, _ = generated
    settings = pipeline_run.settings
    env = {"UNMOGROWP_HOME": str(settings.home), "UNMOGROWP_CLICKHOUSE_PORT": str(settings.clickhouse.port),
           "UNMOGROWP_LAKE_URI": settings.lake_uri,
           "UNMOGROWP_FRAUD_LABELS": str(out / "answers" / "fraud_labels.parquet")}
    assert pipeline_run.summary.success, pipeline_run.summary.failures
    return settings, env


def _files_containing(root: Path, needles: set[str]) -> list[str]:
    """Every Parquet file under ``root`` (current or not) whose text or binary values hold a needle."""
    found = []
    for path in root.rglob("*.parquet"):
        table = pq.read_table(path)
        for column in table.columns:
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type) \
                    or pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
                values = {v if isinstance(v, str) else v.decode("utf-8", "replace")
                          for v in column.to_pylist() if v is not None}
                if any(n in v for v in values for n in needles):
                    found.append(str(path.relative_to(root)))
                    break
    return found


def test_erase_a_device_everywhere(lakehouse, monkeypatch, capsys):
    settings, env = lakehouse
    lake = Lake(settings.lake_uri)
    ch = clickhouse_connect.get_client(host="127.0.0.1", port=settings.clickhouse.port)
    # a device with an attributed install, clicks and app activity
    device_id = ch.command(
        "SELECT any(i.device_id) FROM staging.stg_sdk__installs AS i INNER JOIN marts.fct_installs AS f "
        "ON f.install_id = i.install_id WHERE f.attribution_status = 'attributed' AND i.device_id IS NOT NULL "
        "AND i.device_key IN (SELECT device_key FROM staging.stg_sdk__app_events WHERE event_type = 'purchase')")
    subject = erasure.resolve(lake, {device_id}, settings.privacy_key)
    assert subject.install_ids and subject.touch_ids and len(subject.event_ids) > 3
    store = fstore.get_store(fstore.StoreTarget.of(settings))
    device_key = next(iter(subject.device_keys & _online_keys(store, subject)))
    silver_before = lake.read(SILVER_EVENTS, columns=["event_id"]).num_rows
    raw_before = ch.command("SELECT count() FROM raw.events")
    assert _files_containing(Path(lake.uri("")), {device_id})

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert cli.main(["erase", "--id", device_id, "--requested-by", "dpo@example.com"]) == 0
    printed = capsys.readouterr().out
    assert '"verified": true' in printed

    audit = lake.read(erasure.AUDIT_TABLE).to_pylist()
    assert len(audit) == 1 and audit[0]["verified"] and audit[0]["requested_by"] == "dpo@example.com"
    deleted = json.loads(audit[0]["deleted"])
    for store_table in ("delta:silver/events", "delta:bronze/events", "delta:features/fraud_install_features",
                        "clickhouse:raw.events", "clickhouse:raw.touch_keys", "clickhouse:raw.install_keys",
                        "clickhouse:marts.fct_installs", "feast:device_fraud_features"):
        assert deleted.get(store_table, 0) > 0, store_table
    assert device_id not in str(audit)  # the audit keeps a hash, not the identifier

    # no file anywhere in the lake still holds the device or its events (old versions vacuumed)
    assert _files_containing(Path(lake.uri("")), {device_id, *subject.event_ids}) == []
    assert ch.command("SELECT count() FROM raw.events WHERE event_id IN {ids:Array(String)}",
                      parameters={"ids": sorted(subject.event_ids)}) == 0
    assert ch.command("SELECT count() FROM raw.touch_keys "
                      "WHERE match_value = {d:String} OR event_id IN {ids:Array(String)}",
                      parameters={"d": device_id, "ids": sorted(subject.event_ids)}) == 0
    assert ch.command("SELECT count() FROM raw.install_keys WHERE install_id IN {ids:Array(String)}",
                      parameters={"ids": sorted(subject.event_ids)}) == 0
    assert ch.command("SELECT count() FROM marts.fct_installs WHERE device_key = {k:String}",
                      parameters={"k": device_key}) == 0
    online = store.get_online_features(features=["device_fraud_features:ip_installs_24h"],
                                       entity_rows=[{"device_key": device_key}]).to_dict()
    assert online["ip_installs_24h"] == [None]
    # everyone else is intact
    assert lake.read(SILVER_EVENTS, columns=["event_id"]).num_rows == silver_before - deleted["delta:silver/events"]
    assert ch.command("SELECT count() FROM raw.events") == raw_before - deleted["clickhouse:raw.events"]

    # no raw identifier left behind: ClickHouse's mutation log, any Delta log (commit predicates and
    # file statistics, checkpoints too), the Dagster run storage (run config, event log, compute logs)
    raw_ids = sorted(subject.identifiers)
    mutations = " ".join(c for (c,) in ch.query("SELECT command FROM system.mutations").result_rows)
    assert "_erasure_keys_" in mutations and not [i for i in raw_ids if i in mutations]
    logs = [p for p in Path(lake.uri("")).rglob("_delta_log/*") if p.is_file()]
    assert _files_holding(logs, raw_ids) == []
    dagster = dagster_home(settings)
    assert _files_holding([p for p in dagster.rglob("*") if p.is_file()], raw_ids) == []
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(dagster)) as instance:
        runs = instance.get_runs(filters=RunsFilter(job_name=ERASURE_JOB))
        assert len(runs) == 1 and list(runs[0].run_config["ops"]["erase_subject"]["config"]) == ["request_file"]
    assert not list((settings.home / erasure.REQUESTS_DIR).iterdir())  # the request file is removed
    assert len(erasure_list.load(lake)) >= len(raw_ids)

    # a second request for the same person finds nothing and is audited too
    assert cli.main(["erase", "--id", device_id, "--requested-by", "dpo@example.com"]) == 0
    again = lake.read(erasure.AUDIT_TABLE).to_pylist()
    assert len(again) == 2 and all(r["verified"] for r in again)
    assert json.loads(sorted(again, key=lambda r: r["requested_at"])[-1]["deleted"]) == {}


def _files_holding(paths: list[Path], needles: list[str]) -> list[str]:
    """The files whose bytes (or, for Parquet, values) hold a needle."""
    found = []
    for path in paths:
        data = path.read_bytes()
        if path.suffix == ".parquet":
            data = json.dumps(pq.read_table(path).to_pylist(), default=str).encode()
        if any(n.encode() in data for n in needles):
            found.append(str(path))
    return found


def _online_keys(store, subject) -> set[str]:
    keys = sorted(subject.device_keys)
    got = store.get_online_features(features=["device_fraud_features:ip_installs_24h"],
                                    entity_rows=[{"device_key": k} for k in keys]).to_dict()
    return {k for k, v in zip(keys, got["ip_installs_24h"], strict=True) if v is not None}
