"""Fraud: Spark features and rule decisions per install day, the classifier in MLflow, scoring.
Assets that use MLflow take the `ml` resource, whose setup configures MLflow; the feature tables'
null rates, ranges and drift are Great Expectations checks (assets/quality.py)."""

import dagster as dg

from assets import metadata as md
from assets.outcomes import skipped, skipped_check
from assets.partitions import DAILY, date_window
from assets.resources import SPARK_POOL, ClickHouseResource, FeastResource, LakeResource, MlResource, PrivacyResource
from assets.retries import retry_transient
from unmogrowp.fraud import features as ff
from unmogrowp.fraud import pipeline
from unmogrowp.fraud.rules import FLOODING_CTIT_S, RuleSet
from unmogrowp.model_tables import CH_DECISIONS, CH_SCORES
from unmogrowp.windows import date_strings

AUC_FLOOR = 0.9
DAILY_FRAUD = {"partitions_def": DAILY, "backfill_policy": dg.BackfillPolicy.single_run(), "group_name": "fraud"}
MATCHES = dg.AssetKey(["marts", "matching", "fct_install_matches"])


class FraudRulesConfig(dg.Config):
    """Per-rule overrides, e.g. ``{"click_flood": {"mode": "tag", "threshold": 0.4}}``; modes are
    reject (pre-attribution), flag (post-attribution), tag (dry run) and off."""

    overrides: dict = {}


class FraudTrainingConfig(dg.Config):
    neg_per_pos: float = 3.0
    test_share_days: float = 0.3


@dg.asset(deps=["silver_events", MATCHES], kinds={"spark", "delta"}, pool=SPARK_POOL, **DAILY_FRAUD)
@retry_transient
def fraud_features(context: dg.AssetExecutionContext, lake: LakeResource, clickhouse: ClickHouseResource,
                   ml: MlResource, privacy: PrivacyResource):
    """Per-install fraud features (the touch attribution matched and its CTIT, point-in-time
    window counts, click gaps, post-install activity) and per-source features (clicks per
    install, CTIT shares, KS to the app's CTIT) for the install days, from silver Delta and
    `fct_install_matches` with Spark, into `features/*` Delta tables."""
    start, end = date_window(context)
    lk = lake.get_lake()
    result = pipeline.build_features(ml.spark(), lk, clickhouse.get_client(), start, end,
                                     privacy_key=privacy.privacy_key)
    return dg.MaterializeResult(metadata={
        **result, **_features_metadata(context, lk, start, end), "features": dg.MetadataValue.json(
            [{"name": f.name, "post_install": f.post_install, "description": f.description}
             for f in ff.INSTALL_FEATURES])})


def _features_metadata(context, lk, start, end) -> dict:
    """Installs per day, schema, preview and the CTIT distribution per site of the run's install days."""
    from unmogrowp import charts

    frame = lk.read(ff.INSTALL_TABLE, filters=[("install_date", "in", date_strings(start, end))])
    ctit = frame.select(["site_id", "ctit_s"]).to_pandas()
    png = charts.ctit_by_site(ctit, injection_s=RuleSet().short_ctit.threshold, flooding_s=FLOODING_CTIT_S)
    return {**md.row_counts(context, md.arrow_counts(frame, "install_date")), **md.delta_metadata(frame),
            "delta_table": ff.INSTALL_TABLE,
            "ctit_by_site": md.picture(png, "CTIT distribution per site, injection and flooding regions")}


@dg.asset(deps=[fraud_features], kinds={"spark", "delta", "clickhouse"}, pool=SPARK_POOL, **DAILY_FRAUD)
@retry_transient
def fraud_decisions(context: dg.AssetExecutionContext, config: FraudRulesConfig, lake: LakeResource,
                    clickhouse: ClickHouseResource, ml: MlResource):
    """SPEC §3 rules on the features: one row per install and reason with stage (pre- or
    post-attribution), action (reject/flag/tag), evidence and `detected_at`; Delta
    `fraud/decisions` and ClickHouse `fraud.decisions`, which attribution and the marts read."""
    start, end = date_window(context)
    rules = RuleSet().with_overrides(config.overrides)
    client = clickhouse.get_client()
    table = pipeline.build_decisions(ml.spark(), lake.get_lake(), client, start, end, rules)
    counts = table.group_by(["reason", "action"]).aggregate([("install_id", "count")]).to_pylist()
    return dg.MaterializeResult(metadata={"decisions": table.num_rows, "rules": dg.MetadataValue.json(rules.as_dict()),
                                          "by_reason": dg.MetadataValue.json(counts),
                                          **md.clickhouse_partition_metadata(context, client, CH_DECISIONS,
                                                                             "install_date")})


@dg.asset(deps=[fraud_features, dg.AssetKey(["marts", "attribution", "fct_installs"]), "feast_registry"],
          group_name="ml", kinds={"lightgbm", "mlflow", "feast"})
@retry_transient
def fraud_model(context: dg.AssetExecutionContext, config: FraudTrainingConfig, lake: LakeResource,
                ml: MlResource, feast: FeastResource):
    """Trains the install fraud classifier on every feature day (time split, negatives
    down-sampled) with its training frame from Feast (`fraud_model_v1`, point in time at
    install + 24 h), logs it to MLflow and moves the `champion` alias only if it beats the
    current champion on the same held-out days."""
    from ml import feature_store as fstore
    from ml import fraud_model as fm

    labels = fm.read_labels(ml.labels_path)
    if labels is None:
        return skipped(f"no fraud labels at {ml.labels_path} (UNMOGROWP_FRAUD_LABELS: parquet or CSV with "
                       "install_id, fraud_type); fraud_scores falls back to the rules")
    lk = lake.get_lake()
    if not lk.exists(ff.INSTALL_TABLE):
        return skipped("no install features yet (run fraud_features first)")
    features = fstore.training_frame(feast.get_store(), fstore.fraud_spine(lk), fm.FEATURE_SERVICE)
    reason = fm.cannot_train(fm.label_installs(features, labels))
    if reason:
        return skipped(reason, labelled_installs=len(features))
    version = {"fraud_install_features": lk.version(ff.INSTALL_TABLE), "silver_events": lk.version("silver/events"),
               "feast_feature_service": fm.FEATURE_SERVICE}
    try:
        result = fm.train(features, labels, version, fm.TrainParams(neg_per_pos=config.neg_per_pos,
                                                                    test_share_days=config.test_share_days))
    except fm.NotTrainable as e:
        return skipped(str(e), labelled_installs=len(features))
    m, pictures = result["metrics"], result["pictures"]
    return dg.MaterializeResult(metadata={
        "roc_auc": m["roc_auc"], "pr_auc": m["pr_auc"], "precision": m["precision"], "recall": m["recall"],
        **{k: v for k, v in m.items() if k.startswith("recall_")},
        "train_seconds": m["train_seconds"], "mlflow_run_id": result["run_id"],
        "mlflow_run": ml.run_link(result["run_id"]),
        "champion_gate": dg.MetadataValue.json(result.get("gate", {})),
        "roc_curve": md.picture(pictures["roc.png"], "ROC curve on the held-out days"),
        "precision_recall_curve": md.picture(pictures["pr.png"], "Precision-recall on the held-out days"),
        "feature_importance": md.picture(pictures["feature_importance.png"], "Feature importance (gain)"),
        "feast_feature_service": feast.ui_link("feature-service", fm.FEATURE_SERVICE),
        md.ROW_COUNT: int(m["train_rows"] + m["test_rows"])})


@dg.asset_check(asset=fraud_model)
def fraud_auc_above_floor(context: dg.AssetCheckExecutionContext, ml: MlResource) -> dg.AssetCheckResult:
    """The newest fraud model's held-out ROC-AUC is at least the floor."""
    from ml import fraud_model as fm
    from ml import tracking

    newest = fm.newest_version_auc()
    if newest is None:
        return skipped_check("no fraud model trained yet (see fraud_model's skip reason)")
    version, auc = newest
    return dg.AssetCheckResult(passed=auc >= AUC_FLOOR, metadata={
        "roc_auc": auc, "floor": AUC_FLOOR, "version": version,
        "champion": tracking.champion_version(fm.MODEL_NAME) or ""})


@dg.asset(deps=[fraud_features], group_name="ml", kinds={"spark", "lightgbm", "mlflow"}, pool=SPARK_POOL)
@retry_transient
def click_quality_model(context: dg.AssetExecutionContext, lake: LakeResource, ml: MlResource):
    """The TalkingData-format click model (did a click lead to an install?) on the lake's clicks:
    Spark group counts and next-click gaps, 1:1 negatives, time split; the same code trains on
    the public TalkingData files (`ml.click_model.read_talkingdata_csv`)."""
    from ml import click_model as cm

    spark = ml.spark()
    lk = lake.get_lake()
    if not lk.exists(ff.INSTALL_TABLE):
        return skipped("no install features yet (run fraud_features first)")
    frame = cm.features(cm.generated_clicks(spark, lk)).toPandas()
    reason = cm.cannot_train(frame)
    if reason:
        return skipped(reason, clicks=len(frame))
    result = cm.train(frame)
    m = result["metrics"]
    return dg.MaterializeResult(metadata={
        "roc_auc": m["roc_auc"], "pr_auc": m["pr_auc"], "clicks": int(m["clicks"]),
        "positive_share": m["positive_share"], "train_seconds": m["train_seconds"],
        "top_features": dg.MetadataValue.json(result["top_features"]), "mlflow_run_id": result["run_id"],
        "mlflow_run": ml.run_link(result["run_id"]), md.ROW_COUNT: int(m["clicks"])})


@dg.asset(deps=[fraud_features, fraud_model], kinds={"mlflow", "delta", "clickhouse"}, **DAILY_FRAUD)
@retry_transient
def fraud_scores(context: dg.AssetExecutionContext, lake: LakeResource, clickhouse: ClickHouseResource,
                 ml: MlResource):
    """Scores the install days with `models:/fraud_install_classifier@champion`: a score and
    the top TreeSHAP contributions per install, to Delta `fraud/install_scores` and ClickHouse.
    Without a champion (no labels yet) the rules score: 1 for an install a reject or flag
    decision names, else 0, with the reasons as the explanation and model version `rules`."""
    from ml import fraud_model as fm

    client = clickhouse.get_client()
    result = fm.score_dates(lake.get_lake(), client, *date_window(context))
    by_model = result.model_version != fm.RULES_VERSION
    return dg.MaterializeResult(metadata={
        **md.clickhouse_partition_metadata(context, client, CH_SCORES, "install_date"),
        "installs": result.installs, "installs_per_s": result.installs_per_s,
        "scored_by": f"model version {result.model_version}" if by_model else
        "rules (no champion fraud model: see fraud_model's skip reason)",
        "model_version": result.model_version, "flagged_share": result.flagged_share})
