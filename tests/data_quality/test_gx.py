"""Great Expectations suites catch what they are for; the factory's checks block or warn."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd
import pytest

from assets.quality import GxCheck, gx_asset_check
from assets.resources import ClickHouseResource, LakeResource
from data_quality import runner, suites
from unmogrowp.contracts.events import EVENT_CONTRACT
from unmogrowp.ingest.events import LINEAGE

NOW = datetime(2026, 9, 10, tzinfo=UTC)


def silver_rows(n: int = 4) -> pd.DataFrame:
    rows = []
    for i in range(n):
        row = dict.fromkeys([*LINEAGE.names, *EVENT_CONTRACT.names])
        row.update(landing_date="2026-09-01", landing_hour=datetime(2026, 9, 1, tzinfo=UTC), source_file="f",
                   line_number=i, loaded_at=NOW, event_id=f"00000000-0000-0000-0000-00000000000{i}",
                   app_id="app", event_type="purchase", event_ts=datetime(2026, 9, 1, 1, tzinfo=UTC),
                   received_ts=datetime(2026, 9, 1, 1, tzinfo=UTC), platform="ios", revenue=1.99, currency="USD")
        rows.append(row)
    return pd.DataFrame(rows)


def failed(outcome) -> set[tuple[str, str]]:
    return {(f["expectation"], f.get("column", "")) for f in outcome.failed}


def test_silver_suite_passes_clean_rows_and_names_each_fault(tmp_path):
    good = silver_rows()
    assert runner.validate(tmp_path, suites.silver_events(NOW), good).success
    bad = silver_rows()
    bad.loc[1, "event_id"] = bad.loc[0, "event_id"]            # duplicate id
    bad.loc[2, "revenue"] = -5.0                              # negative revenue
    bad.loc[3, "currency"] = "usd'; DROP TABLE x"            # not a currency code
    bad.loc[0, "event_ts"] = datetime(2100, 1, 1, tzinfo=UTC)  # in the future
    outcome = runner.validate(tmp_path, suites.silver_events(NOW), bad)
    assert not outcome.success
    assert failed(outcome) == {("expect_column_values_to_be_unique", "event_id"),
                               ("expect_column_values_to_be_between", "revenue"),
                               ("expect_column_values_to_match_regex", "currency"),
                               ("expect_column_values_to_be_between", "event_ts")}
    assert outcome.docs_url.endswith("index.html") and (tmp_path / "gx").is_dir()


def test_required_fields_follow_the_event_type(tmp_path):
    rows = silver_rows(2)
    rows.loc[0, "revenue"] = None  # a purchase must carry revenue
    rows.loc[1, ["event_type", "revenue", "currency"]] = ["session_start", None, None]  # a session need not
    outcome = runner.validate(tmp_path, suites.silver_events(NOW), rows)
    assert failed(outcome) == {("expect_column_values_to_not_be_null", "revenue")}
    assert outcome.failed[0]["unexpected"] == 1


def test_feature_drift_against_the_previous_day(tmp_path):
    base = {"ctit_s": [10.0, 20.0], "log_ctit": [2.4, 3.0], "geo_distance_km": [0.0, 0.0],
            "time_to_first_session_s": [5.0, 6.0], "is_anonymous_ip": [0, 0], "install_id": ["a", "b"],
            **{c: [1, 1] for c in suites.FEATURE_NON_NEGATIVE if c not in
               ("ctit_s", "log_ctit", "geo_distance_km", "time_to_first_session_s")}}
    previous = pd.DataFrame(base)
    same = pd.DataFrame(base)
    assert runner.validate(tmp_path, suites.fraud_feature_drift(previous), same).success
    drifted = pd.DataFrame({**base, "ip_installs_24h": [9, 11]})  # a farm appears: mean 1 -> 10
    outcome = runner.validate(tmp_path, suites.fraud_feature_drift(previous), drifted)
    assert failed(outcome) == {("expect_column_mean_to_be_between", "ip_installs_24h")}


def test_feature_checks_judge_ctit_among_matched_installs_only(tmp_path):
    """An all-organic day (no CTIT anywhere) passes; a matched install without CTIT fails."""
    organic = pd.DataFrame({"install_id": ["a", "b", "c"], "winning_touch_id": [None, None, None],
                            "ctit_s": [None, None, None], "is_anonymous_ip": [0, 0, 0],
                            "device_key": ["k1", "k2", "k3"], "match_method": ["organic"] * 3,
                            **{c: [0, 0, 0] for c in suites.FEATURE_NOT_NULL
                               if c not in ("is_anonymous_ip", "device_key", "match_method")},
                            **{c: [1.0, 2.0, 3.0] for c in suites.FEATURE_NON_NEGATIVE
                               if c not in suites.FEATURE_NOT_NULL and c != "ctit_s"}})
    assert runner.validate(tmp_path, suites.fraud_install_features(), organic).success
    broken = organic.assign(winning_touch_id=["t1", None, None])
    outcome = runner.validate(tmp_path, suites.fraud_install_features(), broken)
    assert failed(outcome) == {("expect_column_values_to_not_be_null", "ctit_s")}


def test_touches_from_networks_outside_the_config_warn(tmp_path):
    touches = pd.DataFrame({"event_type": ["click", "click"], "media_source": ["adnet_alpha", "chan_245"]})
    outcome = runner.validate(tmp_path, suites.known_networks(["adnet_alpha"]), touches)
    assert failed(outcome) == {("expect_column_values_to_be_in_set", "media_source")}


@pytest.mark.parametrize("blocking", [True, False])
def test_factory_checks_block_or_warn(tmp_path, blocking):
    @dg.asset
    def upstream():
        return 1

    @dg.asset(deps=[upstream])
    def downstream():
        return 2

    bad = pd.DataFrame({"retained_classic": [0.5], "retained_rolling": [0.4]})  # rolling below classic
    spec = GxCheck("gx_toy", "upstream", lambda ctx, lake, ch, home: (bad, suites.cohort_retention()), blocking, None,
                   "toy", "toy rows")
    check = gx_asset_check(spec, tmp_path, {})
    result = dg.materialize([upstream, downstream, check], raise_on_error=False, resources={
        "lake": LakeResource(root_uri=tmp_path.as_uri()), "clickhouse": ClickHouseResource()})
    evaluation = result.get_asset_check_evaluations()[0]
    assert not evaluation.passed
    assert evaluation.severity == (dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN)
    assert evaluation.metadata["data_docs"].value.startswith("file://")
    ran_downstream = any(m.asset_key == dg.AssetKey("downstream")
                         for m in (e.event_specific_data.materialization
                                   for e in result.get_asset_materialization_events()))
    assert ran_downstream is (not blocking)


@pytest.mark.parametrize(("rows", "reason"), [
    (pd.DataFrame({"retained_classic": [], "retained_rolling": []}), "no rows in retention cells for this partition"),
    (pd.DataFrame({"retained_classic": [0.5]}), "too few days to judge"),
])
def test_a_check_with_nothing_to_judge_passes_and_says_why(tmp_path, rows, reason):
    """An empty partition (or too little data for a verdict) passes with a note, blocking or not."""
    @dg.asset
    def upstream():
        return 1

    suite = suites.cohort_retention() if rows.empty else reason
    spec = GxCheck("gx_toy", "upstream", lambda ctx, lake, ch, home: (rows, suite), True, None, "toy",
                   "retention cells")
    result = dg.materialize([upstream, gx_asset_check(spec, tmp_path, {})], resources={
        "lake": LakeResource(root_uri=tmp_path.as_uri()), "clickhouse": ClickHouseResource()})
    evaluation = result.get_asset_check_evaluations()[0]
    assert evaluation.passed
    assert evaluation.metadata["skipped"].value == reason and evaluation.metadata["rows"].value == len(rows)
