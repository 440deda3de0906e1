"""Erasure: one command erases a device everywhere (Delta files, ClickHouse, Feast online store),
leaves everyone else intact, and writes an audit record without the identifier."""

import json
from datetime import UTC, datetime
from pathlib import Path

import clickhouse_connect
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ml import feature_store as fstore
from tests.conftest import free_port
from unmogrowp import cli
from unmogrowp.clickhouse import manager
from unmogrowp.config import load_settings
from unmogrowp.ingest.events import SILVER_EVENTS
from unmogrowp.lake import Lake
from unmogrowp.privacy import erasure


@pytest.fixture(scope="module")
def lakehouse(generated, tmp_path_factory):
    """The whole pipeline on the generated data, in a home of its own (the erasure changes it)."""
    from orchestration.pipeline import run_pipeline

    out, _ = generated
    home = tmp_path_factory.mktemp("erasure_home")
    env = {"UNMOGROWP_HOME": str(home), "UNMOGROWP_CLICKHOUSE_PORT": str(free_port()),
           "UNMOGROWP_LAKE_URI": (home / "lake").as_uri(),
           "UNMOGROWP_FRAUD_LABELS": str(out / "answers" / "fraud_labels.parquet")}
    settings = load_settings(env)
    ltv = {"config": {"early_days": 1, "horizon_days": 2}}
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DAGSTER_HOME", raising=False)
        summary = run_pipeline(settings, datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 9, tzinfo=UTC),
                               landing_uri=str(out / "landing"), op_config={"ltv_model": ltv, "ltv_predictions": ltv})
    assert summary.success, summary.failures
    yield settings, env
    manager.stop(settings.home)


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
    subject = erasure.resolve(lake, {device_id})
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
                        "clickhouse:raw.events", "clickhouse:marts.fct_installs", "feast:device_fraud_features"):
        assert deleted.get(store_table, 0) > 0, store_table
    assert device_id not in str(audit)  # the audit keeps a hash, not the identifier

    # no file anywhere in the lake still holds the device or its events (old versions vacuumed)
    assert _files_containing(Path(lake.uri("")), {device_id, *subject.event_ids}) == []
    assert ch.command("SELECT count() FROM raw.events WHERE event_id IN {ids:Array(String)}",
                      parameters={"ids": sorted(subject.event_ids)}) == 0
    assert ch.command("SELECT count() FROM marts.fct_installs WHERE device_key = {k:String}",
                      parameters={"k": device_key}) == 0
    online = store.get_online_features(features=["device_fraud_features:ip_installs_24h"],
                                       entity_rows=[{"device_key": device_key}]).to_dict()
    assert online["ip_installs_24h"] == [None]
    # everyone else is intact
    assert lake.read(SILVER_EVENTS, columns=["event_id"]).num_rows == silver_before - deleted["delta:silver/events"]
    assert ch.command("SELECT count() FROM raw.events") == raw_before - deleted["clickhouse:raw.events"]

    # a second request for the same person finds nothing and is audited too
    assert cli.main(["erase", "--id", device_id, "--requested-by", "dpo@example.com"]) == 0
    again = lake.read(erasure.AUDIT_TABLE).to_pylist()
    assert len(again) == 2 and all(r["verified"] for r in again)
    assert json.loads(sorted(again, key=lambda r: r["requested_at"])[-1]["deleted"]) == {}


def _online_keys(store, subject) -> set[str]:
    keys = sorted(subject.device_keys)
    got = store.get_online_features(features=["device_fraud_features:ip_installs_24h"],
                                    entity_rows=[{"device_key": k} for k in keys]).to_dict()
    return {k for k, v in zip(keys, got["ip_installs_24h"]) if v is not None}
