"""The Dagster code location: it validates, its graph is what we expect, assets run for real."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from orchestration.definitions import build_definitions
from orchestration.resources import ClickHouseResource
from tests.conftest import REPO
from unmogrowp.config import load_settings


def test_dagster_definitions_validate(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "UNMOGROWP_HOME": str(tmp_path)}
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run([str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr


def test_asset_graph_snapshot(tmp_path):
    defs = build_definitions(load_settings({"UNMOGROWP_HOME": str(tmp_path)}))
    graph = defs.resolve_asset_graph()
    snapshot = {
        key.to_user_string(): (graph.get(key).group_name, sorted(k.to_user_string() for k in graph.get(key).parent_keys))
        for key in graph.get_all_asset_keys()
    }
    assert snapshot == {
        "warehouse_databases": ("platform", []),
        "bronze_events": ("ingest", []),
        "silver_events": ("ingest", ["bronze_events"]),
        "clickhouse_events": ("ingest", ["silver_events"]),
        "cost_reports": ("ingest", []),
        "clickhouse_cost": ("ingest", ["cost_reports"]),
    }
    hourly = graph.get(dg.AssetKey("silver_events")).partitions_def
    assert isinstance(hourly, dg.HourlyPartitionsDefinition) and hourly.start.isoformat() == "2026-09-01T00:00:00+00:00"
    assert isinstance(graph.get(dg.AssetKey("cost_reports")).partitions_def, dg.DailyPartitionsDefinition)
    assert set(defs.resources) == {"clickhouse", "lake", "landing"}
    assert {k.name for k in defs.resolve_asset_graph().asset_check_keys} == {"reconciles"}


def test_prod_resources_come_from_the_environment():
    settings = load_settings({"LAKEHOUSE_ENV": "prod", "CLICKHOUSE_HOST": "ch.example.internal",
                              "CLICKHOUSE_PORT": "9440", "UNMOGROWP_LAKE_URI": "s3://lake/prod",
                              "UNMOGROWP_LANDING_URI": "s3://landing/prod"})
    defs = build_definitions(settings)
    clickhouse = defs.resources["clickhouse"]
    assert (clickhouse.host, clickhouse.port, clickhouse.secure, clickhouse.local_home) == \
        ("ch.example.internal", 9440, True, None)
    assert defs.resources["lake"].root_uri == "s3://lake/prod"


def test_warehouse_databases_materializes_against_the_local_server(ch, clickhouse_server, clickhouse_home):
    from assets.warehouse import warehouse_databases

    resource = ClickHouseResource(port=clickhouse_server.port, local_home=str(clickhouse_home))
    for _ in range(2):  # idempotent
        result = dg.materialize([warehouse_databases], resources={"clickhouse": resource})
        assert result.success
    mat = result.asset_materializations_for_node("warehouse_databases")[0]
    assert mat.metadata["databases"].data == ["analytics", "raw"]
    assert ch.query("SELECT name FROM system.databases WHERE name IN ('raw', 'analytics') ORDER BY name").result_rows \
        == [("analytics",), ("raw",)]
