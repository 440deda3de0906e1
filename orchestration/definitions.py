"""The composition root: every asset, check, job, schedule, sensor and resource, in one place."""

from datetime import timedelta

import dagster as dg

from assets import access, dbt, feature_store, fraud, ingest, ltv, mta, report, warehouse
from assets.metadata import with_owners
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
    GROWTH_REPORT_JOB,
    LTV_FEATURES_JOB,
    MODEL_TRAINING_JOB,
    REPORTING_JOB,
    TENANT_ACCESS_JOB,
)
from orchestration.privacy import build_retention, erasure_job
from orchestration.schedules import build_restatement_schedule
from orchestration.sensors import build_landing_sensor, build_run_failure_sensor
from unmogrowp.config import Settings, load_settings

ASSETS = [warehouse.warehouse_databases, warehouse.user_config, ingest.bronze_events, ingest.silver_events,
          ingest.clickhouse_events, ingest.cost_reports, ingest.clickhouse_cost, dbt.dbt_config_and_staging,
          dbt.dbt_install_matches, fraud.fraud_features, fraud.fraud_decisions, dbt.dbt_attribution, fraud.fraud_model,
          fraud.fraud_scores, fraud.click_quality_model, dbt.dbt_ltv_features, ltv.ltv_model, ltv.ltv_predictions,
          dbt.dbt_daily, mta.mta_algorithmic_credits, dbt.dbt_reporting, feature_store.feast_registry,
          feature_store.fraud_online_features, feature_store.campaign_online_features, report.growth_report,
          access.tenant_access]


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
    REPORTING_JOB, selection=dg.AssetSelection.assets(dbt.dbt_reporting, access.tenant_access),
    description="Reporting views over the marts, then tenant access to every table (users, grants, row policies).")
tenant_access_job = dg.define_asset_job(
    TENANT_ACCESS_JOB, selection=dg.AssetSelection.assets(access.tenant_access),
    description="Apply the tenants file: ClickHouse users, grants and row policies (tables made since included).")
growth_report_job = dg.define_asset_job(
    GROWTH_REPORT_JOB, selection=dg.AssetSelection.assets(report.growth_report),
    description="The daily growth report (one self-contained HTML page per install date).")


# marts that must be current (Dagster freshness policies, evaluated by the daemon: dagster.yaml
# `freshness: enabled`): an hour's installs by 30 minutes after the hourly attribution run (:20), a day's
# cohorts and KPIs by 06:00 UTC (the nightly marts run at 03:30)
FRESHNESS = {
    dg.AssetKey(["marts", "attribution", "fct_installs"]):
        dg.FreshnessPolicy.cron(deadline_cron="50 * * * *", lower_bound_delta=timedelta(hours=1)),
    **{key: dg.FreshnessPolicy.cron(deadline_cron="0 6 * * *", lower_bound_delta=timedelta(hours=6))
       for key in (dg.AssetKey(["marts", "cohorts", "fct_cohort_retention"]),
                   dg.AssetKey(["marts", "cohorts", "fct_cohort_kpis"]),
                   dg.AssetKey(["marts", "features", "fs_campaign_daily"]), mta.mta_algorithmic_credits.key)},
}


def _catalogued(spec: dg.AssetSpec) -> dg.AssetSpec:
    """``spec`` with its group's owners and, for the marts that must be current, a freshness policy."""
    spec = with_owners(spec)
    return spec.replace_attributes(freshness_policy=FRESHNESS[spec.key]) if spec.key in FRESHNESS else spec


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """The module's assets, checks and jobs for ``settings``: their first partition, the resources, the
    retention defaults, the sensor's default status and the executor come from them."""
    settings = settings or load_settings()
    retention_job, nightly_retention = build_retention(settings.retention_raw_days, settings.retention_silver_days)
    return dg.Definitions(
        assets=[a.map_asset_specs(_catalogued) for a in with_start(ASSETS, settings.partitions_start)],
        asset_checks=with_start([fraud.fraud_auc_above_floor, *build_quality_checks(settings.home)],
                                settings.partitions_start),
        jobs=[events_job, cost_job, setup_job, fraud_job, attribution_job, ltv_features_job, training_job, scoring_job,
              daily_job, reporting_job, growth_report_job, tenant_access_job, erasure_job, retention_job],
        schedules=[
            dg.build_schedule_from_partitioned_job(
                events_job, minute_of_hour=5, name="hourly_events",
                description="At :05, ingest the landing hour that just ended (bronze, silver, ClickHouse)."),
            dg.build_schedule_from_partitioned_job(
                cost_job, hour_of_day=2, name="nightly_cost",
                description="At 02:00 UTC, load the ad-network cost reports of the day before."),
            dg.build_schedule_from_partitioned_job(
                attribution_job, minute_of_hour=20, name="hourly_attribution",
                description="At :20, attribute the installs of the hour that just ended (marts.fct_installs)."),
            dg.build_schedule_from_partitioned_job(
                fraud_job, hour_of_day=1, minute_of_hour=30, name="nightly_fraud",
                description="At 01:30 UTC, yesterday's install matches, Spark fraud features, rule decisions and "
                            "online fraud features."),
            # the LTV features restate the month (cohorts keep maturing), just before the training
            build_restatement_schedule(ltv_features_job, "nightly_ltv_features", "40 3 * * *", days=31, hourly=False,
                                       first=settings.partitions_start,
                                       description="At 03:40 UTC, restate 31 days of LTV features as one run."),
            dg.ScheduleDefinition(name="nightly_training", job=training_job, cron_schedule="0 4 * * *",
                                  execution_timezone="UTC",
                                  description="At 04:00 UTC, train the fraud, click-quality and LTV models; the "
                                              "champion alias moves only when a model beats it."),
            dg.build_schedule_from_partitioned_job(
                scoring_job, hour_of_day=4, minute_of_hour=45, name="nightly_fraud_scoring",
                description="At 04:45 UTC, score yesterday's installs with the champion fraud model."),
            # late touches (up to the 7-day late-arrival limit) restate a week of attribution, and
            # cohorts keep maturing for cohort_max_day (30) days
            build_restatement_schedule(attribution_job, "nightly_attribution_restatement", "0 3 * * *", days=8,
                                       hourly=True, first=settings.partitions_start,
                                       description="At 03:00 UTC, re-attribute the last 8 days of hours as one run "
                                                   "(touches arrive up to 7 days late)."),
            build_restatement_schedule(daily_job, "nightly_marts", "30 3 * * *", days=31, hourly=False,
                                       first=settings.partitions_start,
                                       description="At 03:30 UTC, rebuild 31 days of cohorts, KPIs and multi-touch "
                                                   "credit as one run (cohorts mature for 30 days)."),
            nightly_retention,
            dg.ScheduleDefinition(name="nightly_tenant_access", job=tenant_access_job, cron_schedule="50 5 * * *",
                                  execution_timezone="UTC",
                                  description="At 05:50 UTC, grant tenants the tables the night's runs made and "
                                              "apply changes to the tenants file."),
            dg.build_schedule_from_partitioned_job(
                growth_report_job, hour_of_day=6, name="nightly_growth_report",
                description="At 06:00 UTC, once the nightly marts and scoring are done, yesterday's growth report."),
        ],
        sensors=[build_landing_sensor(events_job, cost_job, running=not settings.is_local),
                 build_run_failure_sensor(settings.home)],
        resources={**build_resources(settings),
                   "user_config_dir": warehouse.UserConfigResource(home=str(settings.home))},
        # locally every step of a run shares the run worker (one import of the code base, one Spark
        # session: a process per step cost about 18 s of imports each); steps in processes of their own
        # where they can run in parallel on a real cluster
        executor=dg.in_process_executor if settings.is_local else dg.multiprocess_executor,
    )


defs = build_definitions()
