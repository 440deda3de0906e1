"""The fraud and LTV assets in the pipeline run: rules against ground truth, feedback into
attribution, the clawback ledger, scores and predicted LTV in the marts."""

import pandas as pd

from assets.fraud import AUC_FLOOR
from unmogrowp.fraud import report
from unmogrowp.lake import Lake


def test_click_injection_rule_against_ground_truth(pipeline_run, generated, ch):
    labels = pd.read_parquet(generated[0] / "answers" / "fraud_labels.parquet")
    m = report.injection_rule_metrics(ch, labels)
    assert m["injected_installs"] >= 5
    assert m["recall"] >= 0.95 and m["false_rejection_rate"] <= 0.01
    # the injected touch never wins: those installs fell through to another touch or organic
    injected = set(labels.loc[labels["fraud_type"] == "click_injection", "touch_id"])
    winners = set(ch.query_df("SELECT winning_touch_id FROM marts.fct_installs WHERE winning_touch_id IS NOT NULL")
                  ["winning_touch_id"])
    assert not injected & winners


def test_decisions_land_in_delta_clickhouse_and_the_mart(pipeline_run, ch):
    settings = pipeline_run[0]
    delta = Lake(settings.lake_uri).read("fraud/decisions").to_pandas()
    assert len(delta) == ch.command("SELECT count() FROM fraud.decisions") == \
        ch.command("SELECT count() FROM marts.fct_fraud_decisions")
    assert set(delta["action"]) <= {"reject", "flag", "tag"}
    assert delta.groupby(["install_id", "reason"]).size().max() == 1
    # flags keep the install attributed; the ledger counts exactly the flagged paid installs
    flagged = ch.command("SELECT uniqExact(install_id) FROM marts.fct_fraud_decisions WHERE is_clawback")
    assert flagged > 0
    assert ch.command("SELECT sum(flagged_installs) FROM marts.fct_clawback_ledger") == flagged
    assert ch.command("SELECT countIf(attribution_status != 'attributed') FROM marts.fct_fraud_decisions "
                      "WHERE action = 'flag' AND is_clawback") == 0


def test_models_scores_and_predicted_ltv(pipeline_run, ch):
    summary = pipeline_run[1]
    fm = summary.metadata["fraud_model"]
    assert 0.5 < fm["roc_auc"] <= 1 and fm["mlflow_run_id"]
    assert summary.checks["fraud_model:fraud_auc_above_floor"] == (fm["roc_auc"] >= AUC_FLOOR)
    assert summary.checks["fraud_features:gx_fraud_install_features"]
    features = summary.metadata["fraud_features"]["installs"]
    assert ch.command("SELECT count() FROM fraud.install_scores") == features
    assert ch.command("SELECT countIf(fraud_score < 0 OR fraud_score > 1) FROM fraud.install_scores") == 0
    assert summary.metadata["ltv_model"]["mape_total"] >= 0
    cells = ch.query_df("SELECT predicted_ltv, predicted_roas, prediction_horizon_days, cost "
                        "FROM marts.fct_cohort_kpis "
                        "WHERE day_n = 0 AND installs > 0")
    assert cells["predicted_ltv"].notna().mean() > 0.9
    assert set(cells["prediction_horizon_days"].dropna()) == {2}
    assert (cells.loc[cells["cost"] > 0, "predicted_roas"].notna()).all()


def test_fraud_labels_are_read_from_either_documented_shape(tmp_path):
    """UNMOGROWP_FRAUD_LABELS: confirmed labels (install_id, fraud_type) or the generator's answers;
    no file is "no labels" (a skip), a file of another shape is an error."""
    import pytest

    from ml import fraud_model as fm

    assert fm.read_labels(str(tmp_path / "none.parquet")) is None
    (tmp_path / "confirmed.csv").write_text("install_id,fraud_type\ni1,device_farm\ni2,\n")
    labels = fm.read_labels(str(tmp_path / "confirmed.csv"))
    features = pd.DataFrame({"install_id": ["i1", "i2", "i3"], "winning_touch_id": [None, None, None],
                             "install_date": ["2026-09-01"] * 3})
    labelled = fm.label_installs(features, labels)
    assert labelled["label"].tolist() == [1, 0, 0]  # a blank reason marks a legitimate install
    assert fm.cannot_train(labelled) == "features for 1 install day(s): the time split needs at least 2"
    (tmp_path / "bad.csv").write_text("id,label\ni1,1\n")
    with pytest.raises(ValueError, match="fraud labels need columns install_id, fraud_type"):
        fm.read_labels(str(tmp_path / "bad.csv"))


def test_without_a_model_the_rules_score_and_explain():
    from ml import fraud_model as fm

    features = pd.DataFrame({"install_id": ["a", "b", "c"], "app_id": "app", "install_date": "2026-09-01"})
    decisions = pd.DataFrame({"install_id": ["a", "a", "b"], "reason": ["device_farm", "short_ctit", "bot_behaviour"],
                              "action": ["flag", "tag", "reject"]})
    out = fm.rules_scores(features, decisions).set_index("install_id")
    assert out["fraud_score"].to_dict() == {"a": 1.0, "b": 1.0, "c": 0.0}
    assert out["top_contributions"].to_dict() == {"a": "rule:device_farm", "b": "rule:bot_behaviour", "c": ""}
    assert set(out["model_version"]) == {"rules"}


def test_features_from_the_near_read_and_clickhouse_equal_the_whole_window(pipeline_run, ch, spark):
    """The pipeline reads a day of silver and looks older touches up in ClickHouse: the same install
    and source features, cell for cell, as from silver's whole 9-day window (the second install day;
    test_fraud_features has the handmade rows for each lookup)."""
    from datetime import date, timedelta

    from unmogrowp.fraud import features as ff
    from unmogrowp.fraud import pipeline
    from unmogrowp.privacy.keys import DEFAULT_KEY
    from unmogrowp.windows import day_bounds

    lake = Lake(pipeline_run[0].lake_uri)
    day = date(2026, 9, 2)
    lo, hi = day_bounds(day, day)
    matches = pipeline.read_matches(spark, ch, day, day)
    far = pipeline.read_far_touches(spark, ch, day, day)  # none of these installs reach back past 09-01

    whole = ff.read_silver(spark, lake, lo, hi)
    near = ff.read_silver(spark, lake, lo, hi, history=timedelta(days=ff.NEAR_DAYS))
    def frame(df, key):
        return df.toPandas().sort_values(key).reset_index(drop=True)

    expected = frame(ff.install_features(spark, whole, matches, lo, hi, privacy_key=DEFAULT_KEY), "install_id")
    got = frame(ff.install_features(spark, near, matches, lo, hi, privacy_key=DEFAULT_KEY, far=far), "install_id")
    pd.testing.assert_frame_equal(got, expected)
    assert len(got) > 100 and ((got["device_clicks_7d"] > 0) & got["prev_click_gap_s"].notna()).sum() > 0

    history = lake.spark_read(spark, ff.INSTALL_TABLE)
    keys = ["feature_date", "app_id", "media_source", "site_id"]
    src = frame(ff.source_features(spark, pipeline.read_daily_clicks(spark, ch, day, day), history, lo, hi), keys)
    ref = frame(ff.source_features(spark, ff.daily_clicks(whole), history, lo, hi), keys)
    pd.testing.assert_frame_equal(src, ref)
    assert len(src) > 0 and src["clicks"].sum() > 0
