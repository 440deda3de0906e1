"""dbt models as Dagster assets: one asset per model (dbt folders as key prefixes), dbt tests as
asset checks, the partition window (and the cohort as-of from the run config) passed to dbt as vars."""

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from pydantic import Field, field_validator

from assets.dbt_project import prepare_manifest
from assets.partitions import DAILY, HOURLY, hour_window
from assets.resources import ClickHouseResource
from unmogrowp.windows import as_utc

WINDOW_FORMAT = "%Y-%m-%d %H:%M:%S"


class UnmogrowpDbtTranslator(DagsterDbtTranslator):
    """Models keyed by their dbt folders (`marts/attribution/fct_installs`), seeds under `config/`,
    sources mapped to the ingestion assets through their `meta.dagster.asset_key`."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        kind = dbt_resource_props["resource_type"]
        if kind == "model":
            return dg.AssetKey(dbt_resource_props["fqn"][1:])
        if kind == "seed":
            return dg.AssetKey(["config", dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props["fqn"]
        if dbt_resource_props["resource_type"] == "seed":
            return "dbt_config"
        return "_".join(fqn[1:3]) if fqn[1] == "marts" else fqn[1]


TRANSLATOR = UnmogrowpDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def window_vars(context: dg.AssetExecutionContext) -> dict[str, str]:
    start, end = hour_window(context)
    return {"unmogrowp__window_start": start.strftime(WINDOW_FORMAT),
            "unmogrowp__window_end": end.strftime(WINDOW_FORMAT)}


class CohortConfig(dg.Config):
    """Run config of the dbt assets that judge cohort maturity."""

    as_of: str | None = Field(
        default=None,
        description="Judge maturity as of this time, UTC ('YYYY-MM-DD HH:MM'; an offset is converted): it caps "
                    "every app's as-of (an app whose data ends earlier keeps its own). Empty: each app's latest "
                    "event.")

    @field_validator("as_of")
    @classmethod
    def _utc(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            t = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"as_of {value!r}: expected YYYY-MM-DD HH:MM (UTC)") from None
        return as_utc(t).strftime(WINDOW_FORMAT)


def cohort_vars(context: dg.AssetExecutionContext, config: CohortConfig) -> dict[str, str]:
    """The window vars plus ``unmogrowp__as_of`` when the run config gives one."""
    if not config.as_of:
        return window_vars(context)
    context.log.info(f"cohort maturity as of {config.as_of} UTC (caps every app's latest event)")
    return {**window_vars(context), "unmogrowp__as_of": config.as_of}


def _run_dbt(context, dbt: DbtCliResource, clickhouse: ClickHouseResource, dbt_vars: dict | None = None):
    clickhouse.ensure_running()
    if clickhouse.local_home:  # the local profile's port: the server this resource manages
        dbt_vars = {**(dbt_vars or {}), "unmogrowp__clickhouse_port": clickhouse.port}
    # buildable: a test with parents outside this selection runs only once they are all built
    # (the cost reconciliation reads staging and marts; the setup job must not run it)
    args = ["build", "--indirect-selection", "buildable"] + (["--vars", json.dumps(dbt_vars)] if dbt_vars else [])
    yield from dbt.cli(args, context=context).stream()


MANIFEST = prepare_manifest()
SINGLE_RUN = dg.BackfillPolicy.single_run()


@dbt_assets(manifest=MANIFEST, select="resource_type:seed fqn:staging", name="dbt_config_and_staging",
            dagster_dbt_translator=TRANSLATOR)
def dbt_config_and_staging(context: dg.AssetExecutionContext, dbt: DbtCliResource, clickhouse: ClickHouseResource):
    """Attribution config seeds and the staging views over the ClickHouse raw tables."""
    yield from _run_dbt(context, dbt, clickhouse)


@dbt_assets(manifest=MANIFEST, select="fqn:marts.attribution", name="dbt_attribution",
            partitions_def=HOURLY, backfill_policy=SINGLE_RUN, dagster_dbt_translator=TRANSLATOR,
            pool="dbt_attribution")
def dbt_attribution(context: dg.AssetExecutionContext, dbt: DbtCliResource, clickhouse: ClickHouseResource):
    """Install attribution for the install hours of the run (replaces exactly that window)."""
    yield from _run_dbt(context, dbt, clickhouse, window_vars(context))


@dbt_assets(manifest=MANIFEST, select="fqn:marts.matching", name="dbt_install_matches",
            partitions_def=DAILY, backfill_policy=SINGLE_RUN, dagster_dbt_translator=TRANSLATOR,
            pool="dbt_attribution")
def dbt_install_matches(context: dg.AssetExecutionContext, dbt: DbtCliResource, clickhouse: ClickHouseResource):
    """The touch each install of the run's dates came from before fraud rules (SPEC §2's
    waterfall): the input of the Spark fraud features."""
    yield from _run_dbt(context, dbt, clickhouse, window_vars(context))


@dbt_assets(manifest=MANIFEST, select="fs_install_activity_daily", name="dbt_ltv_features",
            partitions_def=DAILY, backfill_policy=SINGLE_RUN, dagster_dbt_translator=TRANSLATOR,
            pool="dbt_daily")
def dbt_ltv_features(context: dg.AssetExecutionContext, dbt: DbtCliResource, clickhouse: ClickHouseResource,
                     config: CohortConfig):
    """Per-install cumulative activity by elapsed day (the LTV features Feast serves), for the
    install dates of the run; built after attribution, before the nightly training. Days count
    once over by the app's as-of (config `as_of` caps it)."""
    yield from _run_dbt(context, dbt, clickhouse, cohort_vars(context, config))


@dbt_assets(manifest=MANIFEST, name="dbt_daily",
            select="fqn:marts.cohorts fqn:marts.mta fqn:marts.retargeting fqn:marts.fraud fs_campaign_daily",
            partitions_def=DAILY, backfill_policy=SINGLE_RUN, dagster_dbt_translator=TRANSLATOR, pool="dbt_daily")
def dbt_daily(context: dg.AssetExecutionContext, dbt: DbtCliResource, clickhouse: ClickHouseResource,
              config: CohortConfig):
    """Cohorts, retention, KPIs, multi-touch credit and re-engagements for the dates of the run;
    cohort days mature by each app's latest event (config `as_of` caps it)."""
    yield from _run_dbt(context, dbt, clickhouse, cohort_vars(context, config))


@dbt_assets(manifest=MANIFEST, select="fqn:marts.reporting", name="dbt_reporting", dagster_dbt_translator=TRANSLATOR)
def dbt_reporting(context: dg.AssetExecutionContext, dbt: DbtCliResource, clickhouse: ClickHouseResource):
    """Reporting views over the marts (all multi-touch models side by side)."""
    yield from _run_dbt(context, dbt, clickhouse)

