"""The Dagster code location: it validates, its graph is what we expect, assets run for real."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from orchestration.definitions import build_definitions
from assets.resources import ClickHouseResource
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
    stg = "staging/sdk/stg_sdk__"
    config = "staging/config/stg_config__"
    tables = ("anonymous_ip_ranges", "attribution_window_overrides", "campaign_targeting", "fx_rates", "network_priority")
    matching = [f"{config}anonymous_ip_ranges", f"{config}attribution_window_overrides", f"{config}network_priority"]
    assert snapshot == {
        "warehouse_databases": ("platform", []),
        **{f"config_user/{name}": ("platform", ["warehouse_databases"]) for name in tables},
        **{f"{config}{name}": ("staging", [f"config/{name}", f"config_user/{name}"]) for name in tables},
        "bronze_events": ("ingest", []),
        "silver_events": ("ingest", ["bronze_events"]),
        "clickhouse_events": ("ingest", ["silver_events"]),
        "cost_reports": ("ingest", []),
        "clickhouse_cost": ("ingest", ["cost_reports"]),
        **{f"config/{seed}": ("dbt_config", []) for seed in tables},
        **{f"{stg}{name}": ("staging", ["clickhouse_events"]) for name in ("app_events", "installs", "touches")},
        "staging/cost/stg_cost__spend": ("staging", ["clickhouse_cost"]),
        # one waterfall (macros/ranked_touches.sql): the touch before fraud rules, and attribution after them
        "marts/matching/fct_install_matches": ("marts_matching", [*matching, f"{stg}installs", f"{stg}touches"]),
        "marts/attribution/fct_installs": ("marts_attribution", [
            "fraud_decisions", *sorted([*matching, f"{config}campaign_targeting"]), f"{stg}installs", f"{stg}touches"]),
        "fraud_features": ("fraud", ["marts/matching/fct_install_matches", "silver_events"]),
        "fraud_decisions": ("fraud", ["fraud_features"]),
        "fraud_model": ("fraud", ["feast_registry", "fraud_features", "marts/attribution/fct_installs"]),
        "fraud_scores": ("fraud", ["fraud_features", "fraud_model"]),
        "click_quality_model": ("fraud", ["fraud_features"]),
        "ltv_model": ("ltv", ["feast_registry", "marts/attribution/fct_installs",
                              "marts/features/fs_install_activity_daily", f"{config}fx_rates", f"{stg}app_events"]),
        "ltv_predictions": ("ltv", ["feast_registry", "ltv_model", "marts/attribution/fct_installs",
                                    "marts/features/fs_install_activity_daily", f"{config}fx_rates", f"{stg}app_events"]),
        "marts/features/fs_install_activity_daily": ("marts_features", [
            "clickhouse_events", "marts/attribution/fct_installs", f"{config}fx_rates", f"{stg}app_events"]),
        "marts/fraud/fct_fraud_decisions": ("marts_fraud", ["fraud_decisions", "marts/attribution/fct_installs"]),
        "marts/fraud/fct_clawback_ledger": ("marts_fraud", ["marts/cohorts/fct_cohort_kpis",
                                                            "marts/fraud/fct_fraud_decisions"]),
        "marts/cohorts/fct_revenue_events": ("marts_cohorts", [
            "marts/attribution/fct_installs", f"{config}fx_rates", f"{stg}app_events"]),
        "marts/cohorts/fct_cohort_retention": ("marts_cohorts", [
            "clickhouse_events", "marts/attribution/fct_installs", f"{stg}app_events"]),
        "marts/cohorts/fct_cohort_kpis": ("marts_cohorts", [
            "clickhouse_events", "ltv_predictions", "marts/attribution/fct_installs",
            "marts/cohorts/fct_revenue_events", f"{config}fx_rates", "staging/cost/stg_cost__spend"]),
        "marts/mta/mta_conversion_paths": ("marts_mta", [
            "marts/attribution/fct_installs", "marts/cohorts/fct_revenue_events", f"{config}anonymous_ip_ranges",
            f"{config}attribution_window_overrides", f"{stg}installs", f"{stg}touches"]),
        "marts/mta/mta_nonconverting_paths": ("marts_mta", [f"{stg}installs", f"{stg}touches"]),
        "marts/mta/mta_heuristic_credits": ("marts_mta", ["marts/mta/mta_conversion_paths"]),
        "mta_algorithmic_credits": ("marts_mta", ["marts/mta/mta_conversion_paths", "marts/mta/mta_nonconverting_paths"]),
        "marts/reporting/fct_touch_credits": ("marts_reporting", [
            "marts/mta/mta_heuristic_credits", "mta_algorithmic_credits"]),
        "marts/reporting/fct_channel_credits": ("marts_reporting", ["marts/reporting/fct_touch_credits"]),
        "marts/retargeting/fct_reengagements": ("marts_retargeting", [
            "marts/attribution/fct_installs", f"{stg}app_events", f"{stg}installs", f"{stg}touches"]),
        "marts/features/fs_campaign_daily": ("marts_features", [
            "marts/attribution/fct_installs", "marts/cohorts/fct_cohort_kpis", "marts/fraud/fct_fraud_decisions"]),
        "feast_registry": ("feature_store", []),
        "fraud_online_features": ("feature_store", ["feast_registry", "fraud_features"]),
        "campaign_online_features": ("feature_store", ["feast_registry", "marts/features/fs_campaign_daily"]),
    }
    hourly = graph.get(dg.AssetKey("silver_events")).partitions_def
    assert isinstance(hourly, dg.HourlyPartitionsDefinition) and hourly.start.isoformat() == "2026-09-01T00:00:00+00:00"
    assert isinstance(graph.get(dg.AssetKey("cost_reports")).partitions_def, dg.DailyPartitionsDefinition)
    # attribution runs per install hour, cohorts and multi-touch per install date, views unpartitioned
    assert graph.get(dg.AssetKey(["marts", "attribution", "fct_installs"])).partitions_def == hourly
    for key in (["marts", "cohorts", "fct_cohort_kpis"], ["marts", "mta", "mta_heuristic_credits"],
                ["mta_algorithmic_credits"], ["marts", "retargeting", "fct_reengagements"]):
        assert isinstance(graph.get(dg.AssetKey(key)).partitions_def, dg.DailyPartitionsDefinition)
    assert graph.get(dg.AssetKey(["marts", "reporting", "fct_touch_credits"])).partitions_def is None
    assert set(defs.resources) == {"clickhouse", "lake", "landing", "dbt", "ml", "feast"}
    for key in ("fraud_features", "fraud_decisions", "fraud_scores", "fraud_online_features", "campaign_online_features"):
        assert isinstance(graph.get(dg.AssetKey(key)).partitions_def, dg.DailyPartitionsDefinition)
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert ("silver_events", "reconciles") in checks
    assert ("marts/attribution/fct_installs", "unique_fct_installs_install_id") in checks
    assert ("marts/reporting/fct_touch_credits", "credits_sum_to_value_fct_touch_credits_conversion_id__model") in checks
    assert ("marts/cohorts/fct_cohort_kpis", "assert_cohort_cost_reconciles") in checks
    assert ("fraud_model", "fraud_auc_above_floor") in checks and ("fraud_features", "gx_fraud_install_features") in checks
    assert {("bronze_events", "gx_bronze_events"), ("silver_events", "gx_silver_events"),
            ("cost_reports", "gx_cost_current"), ("marts/attribution/fct_installs", "gx_attribution_rate"),
            ("marts/cohorts/fct_cohort_retention", "gx_retention_monotonic")} <= checks


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
