"""The ingest assets called on their own: a tiny landing zone, a Delta lake in tmp_path, a private
local ClickHouse server."""

import gzip
import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from assets.ingest import bronze_events, clickhouse_events, silver_events
from assets.resources import ClickHouseResource, LakeResource, LandingResource, PrivacyResource
from assets.warehouse import warehouse_databases
from tests.conftest import private_clickhouse
from unmogrowp.clickhouse import manager
from unmogrowp.landing import LandingStore, event_key
from unmogrowp.privacy.keys import DEFAULT_KEY

HOUR = datetime(2026, 9, 1, 5, tzinfo=UTC)
PARTITION = "2026-09-01-05:00"


def batch(first: int, n: int, at: datetime) -> bytes:
    line = {"app_id": "com.x", "event_type": "session_start", "platform": "ios",
            "event_ts": f"{at:%Y-%m-%dT%H}:10:00.000Z", "received_ts": f"{at:%Y-%m-%dT%H}:10:01.000Z"}
    return gzip.compress("".join(json.dumps({**line, "event_id": f"{first + i:08d}-1234-4678-9234-567812345678"})
                                 + "\n" for i in range(n)).encode())


@pytest.fixture
def lakehouse(tmp_path):
    """Landing hour 05 holds 3 events and a file repeating one of them; hour 06 holds 2 more."""
    store = LandingStore(str(tmp_path / "landing"))
    store.write_bytes(event_key("com.x", HOUR, "a"), batch(0, 3, HOUR))
    store.write_bytes(event_key("com.x", HOUR, "b"), batch(0, 1, HOUR))
    store.write_bytes(event_key("com.x", HOUR + timedelta(hours=1), "c"), batch(10, 2, HOUR + timedelta(hours=1)))
    return {"lake": LakeResource(root_uri=(tmp_path / "lake").as_uri()),
            "landing": LandingResource(root_uri=str(tmp_path / "landing")),
            "privacy": PrivacyResource(privacy_key=DEFAULT_KEY, audit_salt=DEFAULT_KEY)}


def test_bronze_loads_the_files_of_its_hour_once(lakehouse):
    first = bronze_events(dg.build_asset_context(partition_key=PARTITION, resources=lakehouse))
    m = first.metadata
    assert (m["files_loaded"], m["lines"], m["dagster/row_count"]) == (2, 4, 4)
    m = bronze_events(dg.build_asset_context(partition_key=PARTITION, resources=lakehouse)).metadata
    assert (m["files_loaded"], m["files_already_loaded"], m["lines"]) == (0, 2, 0)  # each file once


def test_silver_reconciles_its_hour(lakehouse):
    bronze_events(dg.build_asset_context(partition_key=PARTITION, resources=lakehouse))
    result = silver_events(dg.build_asset_context(partition_key=PARTITION, resources={"lake": lakehouse["lake"]}))
    m = result.metadata
    assert (m["landed"], m["loaded"], m["duplicates"], m["quarantined"]) == (4, 3, 1, 0)
    [check] = result.check_results
    assert check.passed and check.metadata["accounted"].value == 4 and check.metadata["hours"].value == 1


def test_clickhouse_events_replaces_its_hour(lakehouse, tmp_path):
    home = tmp_path / "clickhouse"
    state, client = private_clickhouse(home)
    try:
        clickhouse = {"clickhouse": ClickHouseResource(port=state.port, local_home=str(home))}
        databases = warehouse_databases(dg.build_asset_context(resources=clickhouse))
        assert "raw" in databases.metadata["databases"].data
        bronze_events(dg.build_asset_context(partition_key=PARTITION, resources=lakehouse))
        silver_events(dg.build_asset_context(partition_key=PARTITION, resources={"lake": lakehouse["lake"]}))
        resources = {**clickhouse, "lake": lakehouse["lake"]}
        for _ in range(2):  # a re-run replaces the hour
            results = {r.asset_key.to_user_string(): r.metadata["rows"] for r in clickhouse_events(
                dg.build_asset_context(partition_key=PARTITION, resources=resources))}
            assert results["clickhouse_events"] == 3
            assert client.command("SELECT count() FROM raw.events") == 3
            assert results["clickhouse_touch_keys"] == client.command("SELECT count() FROM raw.touch_keys")
            assert results["clickhouse_install_keys"] == client.command("SELECT count() FROM raw.install_keys")
    finally:
        client.close()
        manager.stop(home)
