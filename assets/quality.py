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
# the rows of a window [start, end) (None, None: unpartitioned) to validate and the suite, or a sentence
# saying why there is nothing to judge
Loader = Callable[[datetime, datetime, LakeResource, ClickHouseResource, Path], tuple[pd.DataFrame, object]]


@dataclass(frozen=True)
class GxCheck:
    name: str
    asset: "str | list[str]"
    load: Loader  # built per run: drift needs the previous day
    blocking: bool
    partitions: str | None  # "hourly", "daily" or None
    description: str
    population: str  # what the rows are, for the "no rows" note
    key_column: str = ""  # the column that puts a row in a partition (a date or a timestamp)
    # judged partition by partition even when one run covers many (drift compares a day with the day before)
    per_partition: bool = False


def gx_asset_check(spec: GxCheck, home: Path, partitions: dict[str, dg.PartitionsDefinition]):
    """The Dagster asset check running ``spec``'s suite through Great Expectations. A run over a range
    of partitions records an evaluation for each partition (the UI shows checks per partition): the
    range is validated at once, and only when it fails (or the check compares partitions) is each
    partition validated on its own, to say which ones failed."""

    @dg.asset_check(asset=spec.asset, name=spec.name, blocking=spec.blocking, description=spec.description,
                    partitions_def=partitions.get(spec.partitions))
    def _check(context: dg.AssetCheckExecutionContext, lake: LakeResource, clickhouse: ClickHouseResource):
        start, end = hour_window(context) if spec.partitions else (None, None)
        keys = list(context.partition_keys) if spec.partitions and context.has_partition_key_range else []
        if len(keys) <= 1:  # one partition (Dagster records it as that partition's) or unpartitioned
            yield _evaluate(spec, home, start, end, lake, clickhouse)[0]
            return
        pdef = partitions[spec.partitions]
        result, frame = (None, None) if spec.per_partition else _evaluate(spec, home, start, end, lake, clickhouse)
        rows = _rows_by_key(frame, spec.key_column, spec.partitions == "hourly") if frame is not None else None
        outcomes, targets = [], _targets(context, _asset_key(spec), keys)
        for key in keys:
            if result is not None and result.passed:  # every rule holds row by row, so in each partition
                n = rows(key)
                one = _passed_in_range(result, n) if n else skipped_check(
                    f"no rows in {spec.population} for this partition", rows=0, severity=_severity(spec).value)
            else:
                window = pdef.time_window_for_partition_key(key)
                one = _evaluate(spec, home, window.start, window.end, lake, clickhouse)[0]
            outcomes.append(one.passed)
            yield dg.AssetCheckEvaluation(asset_key=_asset_key(spec), check_name=spec.name, passed=one.passed,
                                          metadata=one.metadata, severity=one.severity, partition=key,
                                          blocking=spec.blocking,
                                          target_materialization_data=targets.get(key))
        failed = [k for k, ok in zip(keys, outcomes, strict=True) if not ok]
        context.log.info(f"{spec.name}: {len(keys) - len(failed)} of {len(keys)} partitions passed"
                         + (f"; failed: {', '.join(failed[:20])}" if failed else ""))
        # the check's output without an evaluation of its own: the partitions' are the results
        yield dg.Output(None, output_name=next(iter(context.op_def.output_dict)))

    return _check


def _targets(context, asset_key: dg.AssetKey, partitions: list[str]) -> dict:
    """Each partition's latest materialization, which its evaluation judges (the UI shows a check's
    partition as evaluated only against it), as Dagster records it for a one-partition check."""
    from dagster._core.definitions.asset_checks.asset_check_evaluation import (
        AssetCheckEvaluationTargetMaterializationData,
    )

    def newest(keys: list[str], limit: int) -> None:
        records = context.instance.fetch_materializations(  # newest first
            dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=keys), limit=limit).records
        for r in records:
            out.setdefault(r.event_log_entry.dagster_event.partition, AssetCheckEvaluationTargetMaterializationData(
                run_id=r.run_id, storage_id=r.storage_id, timestamp=r.timestamp))

    out: dict = {}
    newest(partitions, 4 * len(partitions))  # one query for the range ...
    for key in partitions:
        if key not in out:  # ... and one per partition materialized more often than that
            newest([key], 1)
    return out


def _severity(spec: GxCheck) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if spec.blocking else dg.AssetCheckSeverity.WARN


def _asset_key(spec: GxCheck) -> dg.AssetKey:
    return dg.AssetKey(spec.asset) if isinstance(spec.asset, list) else dg.AssetKey.from_user_string(spec.asset)


def _evaluate(spec: GxCheck, home: Path, start: datetime, end: datetime, lake, clickhouse):
    """The check's result on the rows of [start, end), and those rows."""
    from data_quality import runner  # Great Expectations is imported by the checks that run it

    severity = _severity(spec)
    frame, suite = spec.load(start, end, lake, clickhouse, home)
    if frame.empty:  # nothing landed or was built for the window: nothing to judge
        return skipped_check(f"no rows in {spec.population} for this partition", rows=0,
                             severity=severity.value), frame
    if isinstance(suite, str):
        return skipped_check(suite, rows=len(frame), severity=severity.value), frame
    outcome = runner.validate(home, suite, frame)
    return dg.AssetCheckResult(passed=outcome.success, severity=severity, metadata={
        "rows": len(frame), "expectations": outcome.evaluated, "failed": dg.MetadataValue.json(outcome.failed),
        "severity": severity.value, "data_docs": dg.MetadataValue.url(outcome.docs_url)}), frame


def _passed_in_range(result: dg.AssetCheckResult, rows: int) -> dg.AssetCheckResult:
    """A partition of a range that passed: its own row count, the range's validation."""
    return dg.AssetCheckResult(passed=True, severity=result.severity, metadata={
        **result.metadata, "rows": rows, "validated_with_the_run_range": True})


def _rows_by_key(frame: pd.DataFrame, column: str, hourly: bool) -> Callable[[str], int]:
    """Rows of ``frame`` in a partition, by key: a timestamp column by its hour (or day), a date
    column by its day (every hour of a day for an hourly check on daily rows)."""
    values = frame[column]
    if pd.api.types.is_datetime64_any_dtype(values):
        floored = pd.to_datetime(values, utc=True).dt.floor("h" if hourly else "D")  # then format the few keys
        counts = {t.strftime("%Y-%m-%d-%H:00" if hourly else "%Y-%m-%d"): int(n)
                  for t, n in floored.value_counts().items()}
        return lambda key: counts.get(key, 0)
    counts = values.astype(str).str[:10].value_counts().to_dict()
    return lambda key: int(counts.get(key[:10], 0))


def _suites():
    """The suites module, imported when a check runs (Great Expectations takes seconds to import)."""
    from data_quality import suites

    return suites


def _dates(start: datetime, end: datetime) -> tuple:
    """The install/cost dates the window's hours or days touch (inclusive)."""
    return start.date(), (end - timedelta(microseconds=1)).date()


def _now() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)  # the contract's clock skew


def _bronze(start, end, lake, clickhouse, home):
    frame = lake.get_lake().read(events.BRONZE_EVENTS, filters=events.hour_filter(start, end)).to_pandas()
    return frame, _suites().bronze_events(_now())


def _silver(start, end, lake, clickhouse, home):
    frame = lake.get_lake().read(events.SILVER_EVENTS, filters=events.hour_filter(start, end)).to_pandas()
    return frame, _suites().silver_events(_now())


def _networks(start, end, lake, clickhouse, home):
    frame = lake.get_lake().read(events.SILVER_EVENTS, columns=["event_type", "media_source", "landing_hour"],
                                 filters=events.hour_filter(start, end)).to_pandas()
    touches = frame[frame["media_source"].notna()]
    return touches, _suites().known_networks(attribution_config.known_networks(home))


def _cost(start, end, lake, clickhouse, home):
    start, end = _dates(start, end)
    frame = lake.get_lake().read(cost.COST_CURRENT, filters=[
        ("cost_date", ">=", start.isoformat()), ("cost_date", "<=", end.isoformat())]).to_pandas()
    return frame, _suites().cost_current()


def _feature_days(start, end, lake):
    start, end = _dates(start, end)
    lk = lake.get_lake()
    return lk.read(ff.INSTALL_TABLE, filters=[("install_date", ">=", start.isoformat()),
                                             ("install_date", "<=", end.isoformat())]).to_pandas(), start, lk


def _features(start, end, lake, clickhouse, home):
    frame, _start, _lk = _feature_days(start, end, lake)
    return frame, _suites().fraud_install_features()


def _drift(start, end, lake, clickhouse, home):
    frame, start, lk = _feature_days(start, end, lake)
    before = (start - timedelta(days=1)).isoformat()
    previous = lk.read(ff.INSTALL_TABLE, filters=[("install_date", "=", before)]).to_pandas()
    if min(len(previous), len(frame)) < DRIFT_MIN_INSTALLS:
        return frame, (f"{len(previous)} installs the day before, {len(frame)} this day: drift is judged "
                       f"when both days have at least {DRIFT_MIN_INSTALLS}")
    suite = _suites().fraud_feature_drift(previous)
    if not suite.expectations:
        return frame, "the day before has no value in any drift column"
    return frame, suite


def _attribution_rate(start, end, lake, clickhouse, home):
    start, end = _dates(start, end)
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


def _retention(start, end, lake, clickhouse, home):
    start, end = _dates(start, end)
    frame = clickhouse.get_client().query_df(
        "SELECT install_date, day_mode, day_n, retained_classic, retained_rolling FROM marts.fct_cohort_retention "
        "WHERE install_date BETWEEN {s:Date} AND {e:Date}", parameters={"s": start, "e": end})
    return frame, _suites().cohort_retention()


CHECKS = (
    GxCheck("gx_bronze_events", "bronze_events", _bronze, True, "hourly",
            "GX: bronze schema, lineage on every row, a raw line unless the file was unreadable.",
            "bronze events", key_column="landing_hour"),
    GxCheck("gx_silver_events", "silver_events", _silver, True, "hourly",
            "GX: the event contract re-checked after the write (required fields per event type, enums, "
            "ranges, currencies), unique event ids, sane timestamps.", "silver events", key_column="landing_hour"),
    GxCheck("gx_silver_known_networks", "silver_events", _networks, False, "hourly",
            "GX (warning): touches come from networks the attribution config lists (the defaults plus "
            "UNMOGROWP_HOME/config/network_priority.csv); others rank last on exact-time ties.", "touches",
            key_column="landing_hour"),
    GxCheck("gx_cost_current", "cost_reports", _cost, True, "daily",
            "GX: one current row per cost key, non-negative spend, currency codes.", "current cost rows",
            key_column="cost_date"),
    GxCheck("gx_fraud_install_features", "fraud_features", _features, True, "daily",
            "GX: every matched install has its CTIT, counts and activity are present and non-negative, "
            "one row per install.", "install features", key_column="install_date"),
    GxCheck("gx_fraud_feature_drift", "fraud_features", _drift, False, "daily",
            "GX (warning): key feature means within a band of the previous day's (both days with enough "
            "installs).", "install features", key_column="install_date", per_partition=True),
    GxCheck("gx_attribution_rate", ["marts", "attribution", "fct_installs"], _attribution_rate, False, "hourly",
            "GX (warning): each network's share of installs within 0.5-2x its trailing-week share.",
            "network shares with a trailing week", key_column="install_date"),
    GxCheck("gx_retention_monotonic", ["marts", "cohorts", "fct_cohort_retention"], _retention, True, "daily",
            "GX: rolling retention is never below classic retention.", "retention cells", key_column="install_date"),
)


def build_quality_checks(home: Path) -> list:
    """The checks of CHECKS for the deployment whose Data Docs and attribution config are under ``home``."""
    return [gx_asset_check(spec, home, {"hourly": HOURLY, "daily": DAILY}) for spec in CHECKS]
