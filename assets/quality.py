"""Great Expectations suites as Dagster asset checks: one factory, a severity per check (blocking
checks stop downstream assets in the run; warnings do not), Data Docs linked from the metadata."""


from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd

from assets.outcomes import skipped_check
from assets.partitions import DAILY, HOURLY, hour_window
from assets.resources import ClickHouseResource, LakeResource
from unmogrowp import attribution_config
from unmogrowp.fraud import features as ff
from unmogrowp.ingest import cost, events

DRIFT_MIN_INSTALLS = 200  # below this a day's mean is noise, not drift
# the rows to validate and the suite, or a sentence saying why there is nothing to judge
Loader = Callable[[dg.AssetCheckExecutionContext, LakeResource, ClickHouseResource, Path],
                  tuple[pd.DataFrame, object]]


@dataclass(frozen=True)
class GxCheck:
    name: str
    asset: "str | list[str]"
    load: Loader  # built per run: drift needs the previous day
    blocking: bool
    partitions: str | None  # "hourly", "daily" or None
    description: str
    population: str  # what the rows are, for the "no rows" note


def gx_asset_check(spec: GxCheck, home: Path, partitions: dict[str, dg.PartitionsDefinition]):
    """The Dagster asset check running ``spec``'s suite through Great Expectations."""
    severity = dg.AssetCheckSeverity.ERROR if spec.blocking else dg.AssetCheckSeverity.WARN

    @dg.asset_check(asset=spec.asset, name=spec.name, blocking=spec.blocking, description=spec.description,
                    partitions_def=partitions.get(spec.partitions))
    def _check(context: dg.AssetCheckExecutionContext, lake: LakeResource,
               clickhouse: ClickHouseResource) -> dg.AssetCheckResult:
        from data_quality import runner  # Great Expectations is imported by the checks that run it

        frame, suite = spec.load(context, lake, clickhouse, home)
        if frame.empty:  # nothing landed or was built for the partition: nothing to judge
            return skipped_check(f"no rows in {spec.population} for this partition", rows=0,
                                 severity=severity.value)
        if isinstance(suite, str):
            return skipped_check(suite, rows=len(frame), severity=severity.value)
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


def _bronze(context, lake, clickhouse, home):
    start, end = hour_window(context)
    frame = lake.get_lake().read(events.BRONZE_EVENTS, filters=events.hour_filter(start, end)).to_pandas()
    return frame, _suites().bronze_events(_now())


def _silver(context, lake, clickhouse, home):
    start, end = hour_window(context)
    frame = lake.get_lake().read(events.SILVER_EVENTS, filters=events.hour_filter(start, end)).to_pandas()
    return frame, _suites().silver_events(_now())


def _networks(context, lake, clickhouse, home):
    start, end = hour_window(context)
    frame = lake.get_lake().read(events.SILVER_EVENTS, columns=["event_type", "media_source"],
                                 filters=events.hour_filter(start, end)).to_pandas()
    touches = frame[frame["media_source"].notna()]
    return touches, _suites().known_networks(attribution_config.known_networks(home))


def _cost(context, lake, clickhouse, home):
    start, end = _dates(context)
    frame = lake.get_lake().read(cost.COST_CURRENT, filters=[
        ("cost_date", ">=", start.isoformat()), ("cost_date", "<=", end.isoformat())]).to_pandas()
    return frame, _suites().cost_current()


def _feature_days(context, lake):
    start, end = _dates(context)
    lk = lake.get_lake()
    return lk.read(ff.INSTALL_TABLE, filters=[("install_date", ">=", start.isoformat()),
                                             ("install_date", "<=", end.isoformat())]).to_pandas(), start, lk


def _features(context, lake, clickhouse, home):
    frame, _start, _lk = _feature_days(context, lake)
    return frame, _suites().fraud_install_features()


def _drift(context, lake, clickhouse, home):
    frame, start, lk = _feature_days(context, lake)
    before = (start - timedelta(days=1)).isoformat()
    previous = lk.read(ff.INSTALL_TABLE, filters=[("install_date", "=", before)]).to_pandas()
    if min(len(previous), len(frame)) < DRIFT_MIN_INSTALLS:
        return frame, (f"{len(previous)} installs the day before, {len(frame)} this day: drift is judged "
                       f"when both days have at least {DRIFT_MIN_INSTALLS}")
    suite = _suites().fraud_feature_drift(previous)
    if not suite.expectations:
        return frame, "the day before has no value in any drift column"
    return frame, suite


def _attribution_rate(context, lake, clickhouse, home):
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


def _retention(context, lake, clickhouse, home):
    start, end = _dates(context)
    frame = clickhouse.get_client().query_df(
        "SELECT install_date, day_mode, day_n, retained_classic, retained_rolling FROM marts.fct_cohort_retention "
        "WHERE install_date BETWEEN {s:Date} AND {e:Date}", parameters={"s": start, "e": end})
    return frame, _suites().cohort_retention()


CHECKS = (
    GxCheck("gx_bronze_events", "bronze_events", _bronze, True, "hourly",
            "GX: bronze schema, lineage on every row, a raw line unless the file was unreadable.",
            "bronze events"),
    GxCheck("gx_silver_events", "silver_events", _silver, True, "hourly",
            "GX: the event contract re-checked after the write (required fields per event type, enums, "
            "ranges, currencies), unique event ids, sane timestamps.", "silver events"),
    GxCheck("gx_silver_known_networks", "silver_events", _networks, False, "hourly",
            "GX (warning): touches come from networks the attribution config lists (the defaults plus "
            "UNMOGROWP_HOME/config/network_priority.csv); others rank last on exact-time ties.", "touches"),
    GxCheck("gx_cost_current", "cost_reports", _cost, True, "daily",
            "GX: one current row per cost key, non-negative spend, currency codes.", "current cost rows"),
    GxCheck("gx_fraud_install_features", "fraud_features", _features, True, "daily",
            "GX: every matched install has its CTIT, counts and activity are present and non-negative, "
            "one row per install.", "install features"),
    GxCheck("gx_fraud_feature_drift", "fraud_features", _drift, False, "daily",
            "GX (warning): key feature means within a band of the previous day's (both days with enough "
            "installs).", "install features"),
    GxCheck("gx_attribution_rate", ["marts", "attribution", "fct_installs"], _attribution_rate, False, "hourly",
            "GX (warning): each network's share of installs within 0.5-2x its trailing-week share.",
            "network shares with a trailing week"),
    GxCheck("gx_retention_monotonic", ["marts", "cohorts", "fct_cohort_retention"], _retention, True, "daily",
            "GX: rolling retention is never below classic retention.", "retention cells"),
)


def build_quality_checks(home: Path) -> list:
    """The checks of CHECKS for the deployment whose Data Docs and attribution config are under ``home``."""
    return [gx_asset_check(spec, home, {"hourly": HOURLY, "daily": DAILY}) for spec in CHECKS]
