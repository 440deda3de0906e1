"""Great Expectations suites as Dagster asset checks: one factory, a severity per check (blocking
checks stop downstream assets in the run; warnings do not), Data Docs linked from the metadata."""


from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd

from orchestration.partitions import hour_window
from orchestration.resources import ClickHouseResource, LakeResource
from unmogrowp.fraud import features as ff
from unmogrowp.ingest import cost, events

Loader = Callable[[dg.AssetCheckExecutionContext, LakeResource, ClickHouseResource], tuple[pd.DataFrame, object]]


@dataclass(frozen=True)
class GxCheck:
    name: str
    asset: "str | list[str]"
    load: Loader  # the rows to validate and the suite (built per run: drift needs the previous day)
    blocking: bool
    partitions: str | None  # "hourly", "daily" or None
    description: str


def gx_asset_check(spec: GxCheck, home: Path, partitions: dict[str, dg.PartitionsDefinition]):
    """The Dagster asset check running ``spec``'s suite through Great Expectations."""
    severity = dg.AssetCheckSeverity.ERROR if spec.blocking else dg.AssetCheckSeverity.WARN

    @dg.asset_check(asset=spec.asset, name=spec.name, blocking=spec.blocking, description=spec.description,
                    partitions_def=partitions.get(spec.partitions))
    def _check(context: dg.AssetCheckExecutionContext, lake: LakeResource,
               clickhouse: ClickHouseResource) -> dg.AssetCheckResult:
        from data_quality import runner  # Great Expectations is imported by the checks that run it

        frame, suite = spec.load(context, lake, clickhouse)
        outcome = runner.validate(home, suite, frame)
        return dg.AssetCheckResult(passed=outcome.success, severity=severity, metadata={
            "rows": len(frame), "expectations": outcome.evaluated, "failed": dg.MetadataValue.json(outcome.failed),
            "severity": severity.value, "data_docs": dg.MetadataValue.url(outcome.docs_url)})

    return _check


def _suites():
    """The suites module, imported when a check runs (Great Expectations takes seconds to import)."""
    from data_quality import suites

    return suites


def _dates(context) -> tuple:
    """The install/cost dates the run's hours or days touch (inclusive)."""
    start, end = hour_window(context)
    return start.date(), (end - timedelta(microseconds=1)).date()


def _now() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)  # the contract's clock skew


def _bronze(context, lake, clickhouse):
    start, end = hour_window(context)
    frame = lake.get_lake().read(events.BRONZE_EVENTS, filters=events.hour_filter(start, end)).to_pandas()
    return frame, _suites().bronze_events(_now())


def _silver(context, lake, clickhouse):
    start, end = hour_window(context)
    frame = lake.get_lake().read(events.SILVER_EVENTS, filters=events.hour_filter(start, end)).to_pandas()
    networks = [r[0] for r in clickhouse.get_client().query(
        "SELECT media_source FROM config.network_priority").result_rows] if _has_table(clickhouse, "config",
                                                                                       "network_priority") else []
    return frame, _suites().silver_events(_now(), networks or sorted(frame["media_source"].dropna().unique()))


def _cost(context, lake, clickhouse):
    start, end = _dates(context)
    frame = lake.get_lake().read(cost.COST_CURRENT, filters=[
        ("cost_date", ">=", start.isoformat()), ("cost_date", "<=", end.isoformat())]).to_pandas()
    return frame, _suites().cost_current()


def _features(context, lake, clickhouse):
    start, end = _dates(context)
    lk = lake.get_lake()
    frame = lk.read(ff.INSTALL_TABLE, filters=[("install_date", ">=", start.isoformat()),
                                              ("install_date", "<=", end.isoformat())]).to_pandas()
    before = (start - timedelta(days=1)).isoformat()
    previous = lk.read(ff.INSTALL_TABLE, filters=[("install_date", "=", before)]).to_pandas()
    return frame, _suites().fraud_install_features(previous if len(previous) else None)


def _attribution_rate(context, lake, clickhouse):
    start, end = _dates(context)
    frame = clickhouse.get_client().query_df("""
        WITH daily AS (
            SELECT toDate(install_ts) AS d, app_id, ifNull(media_source, 'organic') AS network, count() AS n
            FROM marts.fct_installs WHERE install_kind = 'install' GROUP BY d, app_id, network),
        shares AS (SELECT d, app_id, network, n, n / sum(n) OVER (PARTITION BY d, app_id) AS share FROM daily)
        SELECT s.d AS install_date, s.app_id AS app_id, s.network AS network, s.share AS share,
               sum(t.n) AS trailing_installs, avg(t.share) AS trailing_share,
               s.share / nullIf(avg(t.share), 0) AS ratio_to_trailing_week
        FROM shares AS s
        INNER JOIN shares AS t ON t.app_id = s.app_id AND t.network = s.network
        WHERE s.d BETWEEN {s:Date} AND {e:Date} AND t.d BETWEEN s.d - 7 AND s.d - 1
        GROUP BY install_date, app_id, network, share""", parameters={"s": start, "e": end})
    return frame, _suites().attribution_rate()


def _retention(context, lake, clickhouse):
    start, end = _dates(context)
    frame = clickhouse.get_client().query_df(
        "SELECT install_date, day_mode, day_n, retained_classic, retained_rolling FROM marts.fct_cohort_retention "
        "WHERE install_date BETWEEN {s:Date} AND {e:Date}", parameters={"s": start, "e": end})
    return frame, _suites().cohort_retention()


def _has_table(clickhouse, database: str, table: str) -> bool:
    return bool(clickhouse.get_client().command(
        "SELECT count() FROM system.tables WHERE database = {d:String} AND name = {t:String}",
        parameters={"d": database, "t": table}))


CHECKS = (
    GxCheck("gx_bronze_events", "bronze_events", _bronze, True, "hourly",
            "GX: bronze schema, lineage on every row, a raw line unless the file was unreadable."),
    GxCheck("gx_silver_events", "silver_events", _silver, True, "hourly",
            "GX: the event contract re-checked after the write (required fields per event type, enums, "
            "ranges, currencies), unique event ids, sane timestamps, known networks."),
    GxCheck("gx_cost_current", "cost_reports", _cost, True, "daily",
            "GX: one current row per cost key, non-negative spend, currency codes."),
    GxCheck("gx_fraud_install_features", "fraud_features", _features, True, "daily",
            "GX: null rates and ranges of the install features; key means against the previous day (drift)."),
    GxCheck("gx_attribution_rate", ["marts", "attribution", "fct_installs"], _attribution_rate, False, "hourly",
            "GX (warning): each network's share of installs within 0.5-2x its trailing-week share."),
    GxCheck("gx_retention_monotonic", ["marts", "cohorts", "fct_cohort_retention"], _retention, True, "daily",
            "GX: rolling retention is never below classic retention."),
)


def build_quality_checks(home: Path, hourly: dg.PartitionsDefinition, daily: dg.PartitionsDefinition) -> list:
    return [gx_asset_check(spec, home, {"hourly": hourly, "daily": daily}) for spec in CHECKS]
