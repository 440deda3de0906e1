"""The Dagster code location: it validates, its graph is what we expect, assets run for real."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from assets.resources import ClickHouseResource
from orchestration.definitions import build_definitions
from tests.conftest import REPO
from unmogrowp.config import load_settings


def test_dagster_definitions_validate(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "UNMOGROWP_HOME": str(tmp_path)}
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run([str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr


def _partitions(partitions_def) -> str | None:
    return partitions_def and f"{type(partitions_def).__name__}(start={partitions_def.start.isoformat()})"


def graph_snapshot(defs: dg.Definitions) -> dict:
    """What the code location offers, without the texts and code versions that change with every model edit."""
    graph = defs.resolve_asset_graph()
    repository = defs.get_repository_def()
    return {
        "assets": {key.to_user_string(): {
            "group": graph.get(key).group_name, "owners": list(graph.get(key).owners),
            "kinds": sorted(graph.get(key).kinds),
            "partitions": _partitions(graph.get(key).partitions_def), "pools": sorted(graph.get(key).pools or ()),
            "deps": sorted(k.to_user_string() for k in graph.get(key).parent_keys)}
            for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string())},
        "checks": {key.to_user_string(): {"blocking": graph.get(key).blocking,
                                          "partitions": _partitions(graph.get(key).partitions_def)}
                   for key in sorted(graph.asset_check_keys, key=lambda k: k.to_user_string())},
        "jobs": {job.name: {"partitions": _partitions(job.partitions_def),
                            "ops": sorted(n.name for n in job.graph.nodes)}
                 for job in defs.resolve_all_job_defs() if not job.name.startswith("__")},
        "schedules": {s.name: {"cron": s.cron_schedule, "job": s.job_name, "timezone": s.execution_timezone}
                      for s in repository.schedule_defs},
        "sensors": {s.name: {"jobs": sorted(t.job_name for t in s.targets), "status": s.default_status.value}
                    for s in repository.sensor_defs},
        "resources": sorted(defs.resources),
    }


def test_asset_graph_snapshot(tmp_path, snapshot):
    """Keys, groups, kinds, partitions, deps, checks, jobs, schedules and sensors; after an intended change
    `pytest tests/orchestration/test_definitions.py --snapshot-update` rewrites __snapshots__/."""
    assert graph_snapshot(build_definitions(load_settings({"UNMOGROWP_HOME": str(tmp_path)}))) == snapshot


def test_the_partitions_start_where_the_settings_say(tmp_path):
    """Every partitioned asset, check and job of the definitions starts on the settings' first day."""
    settings = load_settings({"UNMOGROWP_HOME": str(tmp_path), "UNMOGROWP_PARTITIONS_START": "2017-03-01"})
    snap = graph_snapshot(build_definitions(settings))
    starts = {p for group in ("assets", "checks", "jobs") for v in snap[group].values() if (p := v["partitions"])}
    assert starts == {"HourlyPartitionsDefinition(start=2017-03-01T00:00:00+00:00)",
                      "DailyPartitionsDefinition(start=2017-03-01T00:00:00+00:00)"}


def test_prod_resources_come_from_the_environment():
    settings_env = {"LAKEHOUSE_ENV": "prod", "CLICKHOUSE_HOST": "ch.example.internal",
                    "CLICKHOUSE_PORT": "9440", "UNMOGROWP_LAKE_URI": "s3://lake/prod",
                    "UNMOGROWP_LANDING_URI": "s3://landing/prod"}
    settings = load_settings(settings_env)
    defs = build_definitions(settings)
    clickhouse = defs.resources["clickhouse"]
    assert (clickhouse.host, clickhouse.port, clickhouse.secure, clickhouse.local_home) == \
        ("ch.example.internal", 9440, True, None)
    assert defs.resources["lake"].root_uri == "s3://lake/prod"
    assert defs.resources["feast"].online == "sqlite"
    redis = build_definitions(load_settings({**settings_env, "FEAST_REDIS_CONNECTION": "redis.internal:6379",
                                             "FEAST_REGISTRY_PATH": "postgresql://feast@pg/feast"}))
    assert (redis.resources["feast"].online, redis.resources["feast"].redis_url) == ("redis", "redis.internal:6379")


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


def test_retention_schedule_counts_back_from_its_tick(tmp_path):
    settings = load_settings({"UNMOGROWP_HOME": str(tmp_path), "UNMOGROWP_RETENTION_RAW_DAYS": "14"})
    defs = build_definitions(settings)
    schedule = defs.resolve_schedule_def("nightly_retention")
    tick = datetime(2026, 11, 30, 5, 15, tzinfo=UTC)
    with dg.build_schedule_context(scheduled_execution_time=tick) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.run_key == "2026-11-30"
    assert request.run_config["ops"]["apply_retention"]["config"] == {
        "as_of": "2026-11-30", "raw_days": 14, "silver_days": 395}
    assert defs.resolve_job_def("retention_job").name == "retention_job"


def test_a_spawned_run_worker_imports_the_code_base_and_great_expectations():
    """Dagster's run workers are spawned children whose ``__main__`` has no spec; importing
    great_expectations (pyspark.sql.connect) there used to exit them with status 0 and no output."""
    import subprocess
    import sys

    from tests.conftest import REPO

    parent = ("import multiprocessing as mp\n"
              "p = mp.get_context('spawn').Process(target=exec, args=("
              "'import great_expectations, orchestration.definitions, sys; sys.exit(7)',))\n"
              "p.start(); p.join(); print(p.exitcode)")
    done = subprocess.run([sys.executable, "-c", parent], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.stdout.strip().splitlines()[-1] == "7", done.stderr[-2000:]
