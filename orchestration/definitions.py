"""The composition root: every asset, check, job, schedule, sensor and resource, in one place."""

import dagster as dg

from assets import dbt, feature_store, fraud, ingest, ltv, mta, warehouse
from assets.partitions import with_start
from assets.quality import build_quality_checks
from assets.resources import build_resources
from orchestration.jobs import (
    ATTRIBUTION_JOB,
    COST_JOB,
    DAILY_MARTS_JOB,
    DBT_SETUP_JOB,
    EVENTS_JOB,
    FRAUD_JOB,
    FRAUD_SCORING_JOB,
    LTV_FEATURES_JOB,
    MODEL_TRAINING_JOB,
    REPORTING_JOB,
)
from orchestration.privacy import build_retention, erasure_job
from orchestration.schedules import build_restatement_schedule
from orchestration.sensors import build_landing_sensor
from unmogrowp.config import Settings, load_settings

ASSETS = [warehouse.warehouse_databases, warehouse.user_config, ingest.bronze_events, ingest.silver_events,
          ingest.clickhouse_events, ingest.cost_reports, ingest.clickhouse_cost, dbt.dbt_config_and_staging,
          dbt.dbt_install_matches, fraud.fraud_features, fraud.fraud_decisions, dbt.dbt_attribution, fraud.fraud_model,
          fraud.fraud_scores, fraud.click_quality_model, dbt.dbt_ltv_features, ltv.ltv_model, ltv.ltv_predictions,
          dbt.dbt_daily, mta.mta_algorithmic_credits, dbt.dbt_reporting, feature_store.feast_registry,
          feature_store.fraud_online_features, feature_store.campaign_online_features]


events_job = dg.define_asset_job(
    EVENTS_JOB, selection=dg.AssetSelection.assets(ingest.bronze_events, ingest.silver_events,
                                                   ingest.clickhouse_events),
    description="Landing → bronze → silver → ClickHouse for landing hours.")
cost_job = dg.define_asset_job(
    COST_JOB, selection=dg.AssetSelection.assets(ingest.cost_reports, ingest.clickhouse_cost),
    description="Cost reports → current cost → ClickHouse for cost dates.")
fraud_job = dg.define_asset_job(
    FRAUD_JOB, selection=dg.AssetSelection.assets(dbt.dbt_install_matches, fraud.fraud_features,
                                                  fraud.fraud_decisions, feature_store.fraud_online_features),
    description="The touch each install came from, Spark fraud features, the SPEC §3 rule decisions "
                "(before attribution) and the online fraud features for install dates.")
training_job = dg.define_asset_job(
    MODEL_TRAINING_JOB, selection=dg.AssetSelection.assets(fraud.fraud_model, fraud.click_quality_model,
                                                           ltv.ltv_model, ltv.ltv_predictions),
    description="Nightly: train the fraud, click-quality and LTV models (MLflow, champion gate) and refresh "
                "LTV predictions.")
scoring_job = dg.define_asset_job(
    FRAUD_SCORING_JOB, selection=dg.AssetSelection.assets(fraud.fraud_scores),
    description="Score install dates with the champion fraud model.")
setup_job = dg.define_asset_job(
    DBT_SETUP_JOB, selection=dg.AssetSelection.assets(warehouse.warehouse_databases, warehouse.user_config,
                                                     dbt.dbt_config_and_staging, feature_store.feast_registry),
    description="ClickHouse databases, the attribution config (dbt seeds and UNMOGROWP_HOME/config/), staging "
                "views and `feast apply`; run after a deploy or a config change.")
attribution_job = dg.define_asset_job(
    ATTRIBUTION_JOB, selection=dg.AssetSelection.assets(dbt.dbt_attribution),
    description="Install attribution (fct_installs) for install hours.")
ltv_features_job = dg.define_asset_job(
    LTV_FEATURES_JOB, selection=dg.AssetSelection.assets(dbt.dbt_ltv_features),
    description="Per-install cumulative activity by elapsed day (Feast install_activity) for install dates.")
daily_job = dg.define_asset_job(
    DAILY_MARTS_JOB, selection=dg.AssetSelection.assets(dbt.dbt_daily, mta.mta_algorithmic_credits,
                                                       feature_store.campaign_online_features),
    description="Cohorts, retention, KPIs, multi-touch credit and the online campaign KPIs for install dates.")
reporting_job = dg.define_asset_job(
    REPORTING_JOB, selection=dg.AssetSelection.assets(dbt.dbt_reporting),
    description="Reporting views over the marts.")


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """The module's assets, checks and jobs for ``settings``: their first partition, the resources, the
    retention defaults, the sensor's default status and the executor come from them."""
    settings = settings or load_settings()
    retention_job, nightly_retention = build_retention(settings.retention_raw_days, settings.retention_silver_days)
    return dg.Definitions(
        assets=with_start(ASSETS, settings.partitions_start),
        asset_checks=with_start([fraud.fraud_auc_above_floor, *build_quality_checks(settings.home)],
                                settings.partitions_start),
        jobs=[events_job, cost_job, setup_job, fraud_job, attribution_job, ltv_features_job, training_job, scoring_job,
              daily_job, reporting_job, erasure_job, retention_job],
        schedules=[
            dg.build_schedule_from_partitioned_job(events_job, minute_of_hour=5, name="hourly_events"),
            dg.build_schedule_from_partitioned_job(cost_job, hour_of_day=2, name="nightly_cost"),
            dg.build_schedule_from_partitioned_job(attribution_job, minute_of_hour=20, name="hourly_attribution"),
            dg.build_schedule_from_partitioned_job(fraud_job, hour_of_day=1, minute_of_hour=30, name="nightly_fraud"),
            # the LTV features restate the month (cohorts keep maturing), just before the training
            build_restatement_schedule(ltv_features_job, "nightly_ltv_features", "40 3 * * *", days=31, hourly=False,
                                       first=settings.partitions_start),
            dg.ScheduleDefinition(name="nightly_training", job=training_job, cron_schedule="0 4 * * *"),
            dg.build_schedule_from_partitioned_job(scoring_job, hour_of_day=4, minute_of_hour=45,
                                                   name="nightly_fraud_scoring"),
            # late touches (up to the 7-day late-arrival limit) restate a week of attribution, and
            # cohorts keep maturing for cohort_max_day (30) days
            build_restatement_schedule(attribution_job, "nightly_attribution_restatement", "0 3 * * *", days=8,
                                       hourly=True, first=settings.partitions_start),
            build_restatement_schedule(daily_job, "nightly_marts", "30 3 * * *", days=31, hourly=False,
                                       first=settings.partitions_start),
            nightly_retention,
        ],
        sensors=[build_landing_sensor(events_job, cost_job, running=not settings.is_local)],
        resources={**build_resources(settings),
                   "user_config_dir": warehouse.UserConfigResource(home=str(settings.home))},
        # locally every step of a run shares the run worker (one import of the code base, one Spark
        # session: a process per step cost about 18 s of imports each); steps in processes of their own
        # where they can run in parallel on a real cluster
        executor=dg.in_process_executor if settings.is_local else dg.multiprocess_executor,
    )


defs = build_definitions()
