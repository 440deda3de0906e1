"""dbt models as Dagster assets: one asset per model (dbt folders as key prefixes), dbt tests as
asset checks, the partition window (and the cohort as-of from the run config) passed to dbt as vars."""

import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from pydantic import Field, field_validator

from assets import metadata as md
from assets.dbt_project import prepare_manifest
from assets.partitions import DAILY, HOURLY, hour_window
from assets.resources import CLICKHOUSE_POOL, ClickHouseResource
from assets.retries import retry_transient
from unmogrowp.windows import as_utc

WINDOW_FORMAT = "%Y-%m-%d %H:%M:%S"
# the group of a model, by its folder under staging/, intermediate/ or marts/
FOLDER_GROUPS = {"config": "platform", "sdk": "ingest", "cost": "ingest", "attribution": "attribution",
                 "matching": "attribution", "retargeting": "attribution", "mta": "attribution", "cohorts": "cohorts",
                 "fraud": "fraud", "features": "features", "reporting": "reporting"}


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
        kind = dbt_resource_props["resource_type"]
        if kind == "seed":
            return "platform"
        return FOLDER_GROUPS[dbt_resource_props["fqn"][2]] if kind == "model" else super().get_group_name(
            dbt_resource_props)


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
    yield from with_table_metadata(context, dbt.cli(args, context=context).stream(), clickhouse)


# the column an incremental model replaces its run window by (its `replace_window` pre-hook)
_WINDOW_COLUMN = re.compile(r"replace_window\('(\w+)'")


@cache
def _manifest_nodes() -> dict:
    return json.loads(MANIFEST.read_text())["nodes"]


def window_column(node: Mapping[str, Any]) -> str | None:
    """The column a model's rows belong to a partition by: the one its pre-hook replaces the window
    by, else `meta.window_column` (views keyed by date)."""
    for hook in node["config"].get("pre-hook", []):
        found = _WINDOW_COLUMN.search(hook.get("sql", ""))
        if found:
            return found.group(1)
    return node["config"].get("meta", {}).get("window_column")


def with_table_metadata(context, events: Iterator, clickhouse: ClickHouseResource) -> Iterator:
    """dbt's events, each built model's with its table's row count per partition of the run, column
    types (with the documented descriptions) and a preview of the run's window."""
    client = None
    for event in events:
        unique_id = event.metadata.get("unique_id") if isinstance(event, dg.Output) else None
        node = _manifest_nodes().get(unique_id.text) if unique_id is not None else None
        if node is not None and node["resource_type"] == "model" and node["config"]["materialized"] != "ephemeral":
            client = client or clickhouse.get_client()
            key = context.asset_key_for_output(event.output_name)
            event = event.with_metadata({**event.metadata, **_model_metadata(context, client, node, key)})
        yield event


def _model_metadata(context, client, node: Mapping[str, Any], key: dg.AssetKey) -> dict:
    descriptions = {name: c.get("description", "") for name, c in node.get("columns", {}).items()}
    out = md.clickhouse_partition_metadata(context, client, f"{node['schema']}.{node['alias']}", window_column(node),
                                           key, descriptions)
    picture = PICTURES.get(tuple(key.path))
    if picture is not None:
        name, draw, alt = picture
        out[name] = md.picture(draw(client, *_run_dates(context)), alt)
    return out


def _run_dates(context):
    """The inclusive dates of the run's window (all dates for an unpartitioned run)."""
    start, end = hour_window(context)
    return start.date(), (end - timedelta(microseconds=1)).date()


def _installs_picture(client, start, end) -> bytes:
    from unmogrowp import charts, growth_report

    return charts.installs_by_network(growth_report.installs_by_network_frame(client, start, end))


def _retention_picture(client, start, end) -> bytes:
    from unmogrowp import charts, growth_report

    return charts.retention_heatmap(growth_report.retention_frame(client, start, end))


def _roas_picture(client, start, end) -> bytes:
    from unmogrowp import charts, growth_report

    return charts.roas_curves(growth_report.roas_frame(client, start, end))


# the picture each mart carries per materialization (of the run's dates): metadata name, drawing, caption
PICTURES = {
    ("marts", "attribution", "fct_installs"): ("installs_by_network", _installs_picture,
                                               "Installs by network and attribution status"),
    ("marts", "cohorts", "fct_cohort_retention"): ("retention_heatmap", _retention_picture,
                                                   "Classic retention by install cohort and day"),
    ("marts", "cohorts", "fct_cohort_kpis"): ("roas_curves", _roas_picture, "ROAS by days since install, per campaign"),
}


MANIFEST = prepare_manifest()
SINGLE_RUN = dg.BackfillPolicy.single_run()


@dbt_assets(manifest=MANIFEST, select="resource_type:seed fqn:staging", name="dbt_config_and_staging",
            dagster_dbt_translator=TRANSLATOR, pool=CLICKHOUSE_POOL)
@retry_transient
def dbt_config_and_staging(context: dg.AssetExecutionContext, dbt: DbtCliResource, clickhouse: ClickHouseResource):
    """Attribution config seeds and the staging views over the ClickHouse raw tables."""
    yield from _run_dbt(context, dbt, clickhouse)


@dbt_assets(manifest=MANIFEST, select="fqn:marts.attribution", name="dbt_attribution",
            partitions_def=HOURLY, backfill_policy=SINGLE_RUN, dagster_dbt_translator=TRANSLATOR,
            pool=CLICKHOUSE_POOL)
@retry_transient
def dbt_attribution(context: dg.AssetExecutionContext, dbt: DbtCliResource, clickhouse: ClickHouseResource):
    """Install attribution for the install hours of the run (replaces exactly that window)."""
    yield from _run_dbt(context, dbt, clickhouse, window_vars(context))


@dbt_assets(manifest=MANIFEST, select="fqn:marts.matching", name="dbt_install_matches",
            partitions_def=DAILY, backfill_policy=SINGLE_RUN, dagster_dbt_translator=TRANSLATOR,
            pool=CLICKHOUSE_POOL)
@retry_transient
def dbt_install_matches(context: dg.AssetExecutionContext, dbt: DbtCliResource, clickhouse: ClickHouseResource):
    """The touch each install of the run's dates came from before fraud rules (SPEC §2's
    waterfall): the input of the Spark fraud features."""
    yield from _run_dbt(context, dbt, clickhouse, window_vars(context))


@dbt_assets(manifest=MANIFEST, select="fs_install_activity_daily", name="dbt_ltv_features",
            partitions_def=DAILY, backfill_policy=SINGLE_RUN, dagster_dbt_translator=TRANSLATOR,
            pool=CLICKHOUSE_POOL)
@retry_transient
def dbt_ltv_features(context: dg.AssetExecutionContext, dbt: DbtCliResource, clickhouse: ClickHouseResource,
                     config: CohortConfig):
    """Per-install cumulative activity by elapsed day (the LTV features Feast serves), for the
    install dates of the run; built after attribution, before the nightly training. Days count
    once over by the app's as-of (config `as_of` caps it)."""
    yield from _run_dbt(context, dbt, clickhouse, cohort_vars(context, config))


@dbt_assets(manifest=MANIFEST, name="dbt_daily",
            select="fqn:marts.cohorts fqn:marts.mta fqn:marts.retargeting fqn:marts.fraud fs_campaign_daily",
            partitions_def=DAILY, backfill_policy=SINGLE_RUN, dagster_dbt_translator=TRANSLATOR, pool=CLICKHOUSE_POOL)
@retry_transient
def dbt_daily(context: dg.AssetExecutionContext, dbt: DbtCliResource, clickhouse: ClickHouseResource,
              config: CohortConfig):
    """Cohorts, retention, KPIs, multi-touch credit and re-engagements for the dates of the run;
    cohort days mature by each app's latest event (config `as_of` caps it)."""
    yield from _run_dbt(context, dbt, clickhouse, cohort_vars(context, config))


@dbt_assets(manifest=MANIFEST, select="fqn:marts.reporting", name="dbt_reporting", dagster_dbt_translator=TRANSLATOR,
            pool=CLICKHOUSE_POOL)
@retry_transient
def dbt_reporting(context: dg.AssetExecutionContext, dbt: DbtCliResource, clickhouse: ClickHouseResource):
    """Reporting views over the marts (all multi-touch models side by side)."""
    yield from _run_dbt(context, dbt, clickhouse)

