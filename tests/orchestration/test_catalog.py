"""What the analytics engineer reads on the asset pages after `unmogrowp run` (runs launched through
the code server, one run per job over the whole range): owners and groups, a row count for every
partition equal to the warehouse's, column types, previews, pictures, links, and the checks recorded
partition by partition."""

import base64
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from assets.metadata import OWNERS, ROW_COUNT
from orchestration.pipeline import dagster_home

pytestmark = pytest.mark.slow

INSTALLS = dg.AssetKey(["marts", "attribution", "fct_installs"])
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def events(pipeline_run):
    """Materializations and check evaluations of the pipeline's runs, from the instance."""
    settings, summary, *_ = pipeline_run
    instance = dg.DagsterInstance.from_config(str(dagster_home(settings)))
    mats, checks = [], []
    for run_id in summary.run_ids:
        mats += [e.asset_materialization for e in
                 instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)]
        checks += [e.dagster_event.event_specific_data for e in
                   instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
    return mats, checks


def _of(mats, key: dg.AssetKey) -> dict[str, dict]:
    """Metadata (plain values) by partition of ``key``'s materializations."""
    return {m.partition: {k: v.value for k, v in m.metadata.items()} for m in mats if m.asset_key == key}


def _png(markdown: str) -> bytes:
    found = re.fullmatch(r"!\[[^\]]+\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown.strip())
    assert found, markdown[:200]
    return base64.b64decode(found.group(1))


def test_every_asset_has_owners_a_named_group_and_kinds():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    groups = Counter()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners == OWNERS[node.group_name], key
        assert node.kinds, key
        groups[node.group_name] += 1
    assert set(groups) == {"platform", "ingest", "attribution", "cohorts", "reporting", "fraud", "ml", "features"}
    assert groups["attribution"] >= 5 and groups["ml"] == 4  # no group of one asset
    assert graph.get(INSTALLS).freshness_policy is not None


def test_each_hour_of_a_range_run_has_the_row_count_clickhouse_holds(events, pipeline_run, ch):
    """One attribution run over 192 hours: each hour's materialization carries that hour's installs."""
    mats, _ = events
    by_hour = _of(mats, INSTALLS)
    start, end = pipeline_run.window
    hours = [(start + timedelta(hours=h)).strftime("%Y-%m-%d-%H:00")
             for h in range((end - start) // timedelta(hours=1))]
    assert sorted(by_hour) == hours
    truth = dict(ch.query("SELECT formatDateTime(toStartOfHour(install_ts), '%Y-%m-%d-%H:00', 'UTC'), count() "
                          "FROM marts.fct_installs GROUP BY 1").result_rows)
    assert {h: by_hour[h][ROW_COUNT] for h in hours} == {h: truth.get(h, 0) for h in hours}
    assert sum(truth.values()) == ch.command("SELECT count() FROM marts.fct_installs") > 0
    assert len({m["rows_in_run"] for m in by_hour.values()}) == 1  # the run's total, on each


def test_silver_and_features_count_their_own_partitions(events, ch):
    mats, _ = events
    silver = _of(mats, dg.AssetKey("silver_events"))
    loaded = sum(m[ROW_COUNT] for m in silver.values())
    assert loaded == ch.command("SELECT count() FROM raw.events") > 0
    raw = _of(mats, dg.AssetKey("clickhouse_events"))
    assert {k: m[ROW_COUNT] for k, m in raw.items()} == {k: m[ROW_COUNT] for k, m in silver.items()}
    features = _of(mats, dg.AssetKey("fraud_features"))
    installs = dict(ch.query("SELECT toString(toDate(install_ts)), count() FROM marts.fct_install_matches "
                             "GROUP BY 1").result_rows)
    assert {d: m[ROW_COUNT] for d, m in features.items() if m[ROW_COUNT]} == installs


def test_marts_show_types_descriptions_a_preview_and_their_picture(events):
    mats, _ = events
    installs = _of(mats, INSTALLS)["2026-09-01-10:00"]
    columns = {c.name: c for c in installs["dagster/column_schema"].columns}
    assert columns["install_ts"].type == "DateTime64(3, 'UTC')"
    assert columns["winning_touch_id"].description.startswith("The touch that won")  # from the dbt schema yml
    preview = installs["preview"]
    assert 0 < len(preview.records) <= 5 and {c.name for c in preview.schema.columns} == set(columns)
    assert _png(installs["installs_by_network"]).startswith(PNG)
    for key, picture in ((["marts", "cohorts", "fct_cohort_retention"], "retention_heatmap"),
                         (["marts", "cohorts", "fct_cohort_kpis"], "roas_curves"),
                         (["fraud_features"], "ctit_by_site"),
                         (["mta_algorithmic_credits"], "credit_by_model")):
        [meta] = list(_of(mats, dg.AssetKey(key)).values())[:1]
        assert _png(meta[picture]).startswith(PNG), key


def test_models_link_their_mlflow_run_and_show_their_curves(events, pipeline_run):
    mats, _ = events
    fraud = _of(mats, dg.AssetKey("fraud_model"))[None]
    if "skipped" in fraud:
        pytest.fail(f"the fraud model did not train on the fixture: {fraud['skipped']}")
    assert fraud["mlflow_run"].endswith(f"/runs/{fraud['mlflow_run_id']}")
    assert re.search(r"/#/experiments/\d+/runs/", fraud["mlflow_run"])
    for picture in ("roc_curve", "precision_recall_curve", "feature_importance"):
        assert _png(fraud[picture]).startswith(PNG)
    assert fraud["feast_feature_service"].endswith("/p/unmogrowp/feature-service/fraud_model_v1")


def test_gx_checks_are_recorded_for_each_partition(events, pipeline_run):
    """A range run records one evaluation per partition (the UI's per-partition check status), not
    one evaluation without a partition."""
    _, checks = events
    start, end = pipeline_run.window
    silver = [c for c in checks if c.check_name == "gx_silver_events" and c.partition is not None]
    assert len(silver) == (end - start) // timedelta(hours=1)
    assert all(c.passed for c in silver)
    with_rows = [c for c in silver if c.metadata["rows"].value > 0]
    without = [c for c in silver if c.metadata["rows"].value == 0]
    assert with_rows and without  # the generated days, and the hours after them
    assert all("skipped" in c.metadata for c in without)
    first = datetime.strptime(min(c.partition for c in with_rows), "%Y-%m-%d-%H:%M").replace(tzinfo=UTC)
    assert first >= start
    # what the UI reads: each hour evaluated against that hour's latest materialization
    from dagster._core.definitions.asset_key import AssetCheckKey

    settings, *_ = pipeline_run
    storage = dg.DagsterInstance.from_config(str(dagster_home(settings))).event_log_storage
    infos = storage.get_asset_check_partition_info([AssetCheckKey(dg.AssetKey("silver_events"), "gx_silver_events")])
    assert {i.partition_key for i in infos} == {c.partition for c in silver}  # none without a partition
    assert all(i.latest_execution_status.value == "SUCCEEDED" for i in infos)
    assert all(i.latest_target_materialization_storage_id == i.latest_materialization_storage_id for i in infos)
    drift = [c for c in checks if c.check_name == "gx_fraud_feature_drift" and c.partition is not None]
    assert {c.partition for c in drift} == {(start + timedelta(days=d)).strftime("%Y-%m-%d")
                                            for d in range((end - start).days)}
