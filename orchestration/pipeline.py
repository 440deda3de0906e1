"""Run the pipeline through Dagster for a range of partitions (`unmogrowp run`, `make demo`)."""

import json
import os
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import dagster as dg

from orchestration.definitions import (
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
    build_definitions,
)
from orchestration.partitions import DAY_KEY, HOUR_KEY, RANGE_END, RANGE_START
from unmogrowp.clickhouse import manager
from unmogrowp.config import Settings



@dataclass
class RunSummary:
    run_ids: list[str]
    success: bool
    metadata: dict[str, dict]  # asset key -> metadata of its materialization
    checks: dict[str, bool]
    seconds: dict[str, float]  # per job
    failures: dict[str, str] = field(default_factory=dict)  # failed step -> error message


def _instance() -> dg.DagsterInstance:
    if os.environ.get("DAGSTER_HOME"):
        os.makedirs(os.environ["DAGSTER_HOME"], exist_ok=True)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def run_pipeline(settings: Settings, start: datetime, end: datetime, landing_uri: str | None = None,
                 log_level: str = "INFO", op_config: dict | None = None) -> RunSummary:
    """Materialize every asset for landing hours [start, end) and the dates in it, each job as
    one run over the whole range (single-run backfill): ingestion, then the dbt seeds and staging
    views, attribution over the hours, and the daily marts over the dates."""
    if landing_uri:
        settings = replace(settings, landing_uri=landing_uri)
    if settings.clickhouse.managed:
        manager.start(settings.home, settings.clickhouse.port)
    defs = build_definitions(settings)
    instance = _instance()
    last_hour = end - timedelta(hours=1)
    hours = (start.strftime(HOUR_KEY), last_hour.strftime(HOUR_KEY))
    days = (start.strftime(DAY_KEY), last_hour.strftime(DAY_KEY))
    # fraud decisions before attribution (rejections feed back); models after it; LTV predictions
    # before the daily marts (fct_cohort_kpis reads them)
    ranges = {EVENTS_JOB: hours, COST_JOB: days, DBT_SETUP_JOB: None, FRAUD_JOB: days, ATTRIBUTION_JOB: hours,
              LTV_FEATURES_JOB: days, MODEL_TRAINING_JOB: None, FRAUD_SCORING_JOB: days, DAILY_MARTS_JOB: days, REPORTING_JOB: None}
    summary = RunSummary([], True, {}, {}, {})
    for job_name, window in ranges.items():
        job = defs.resolve_job_def(job_name)
        ops = {k: v for k, v in (op_config or {}).items() if k in {n.name for n in job.graph.node_defs}}
        t0 = datetime.now(UTC)
        result = job.execute_in_process(
            instance=instance, tags={RANGE_START: window[0], RANGE_END: window[1]} if window else None,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}},
                        **({"ops": ops} if ops else {})})
        summary.seconds[job_name] = (datetime.now(UTC) - t0).total_seconds()
        summary.run_ids.append(result.run_id)
        summary.success &= result.success
        for event in result.get_step_failure_events():
            error = event.event_specific_data.error
            summary.failures[f"{job_name}.{event.step_key}"] = error.message.strip() if error else "failed"
        for event in result.get_asset_materialization_events():
            mat = event.event_specific_data.materialization
            summary.metadata[mat.asset_key.to_user_string()] = {
                k: getattr(v, "value", v) for k, v in mat.metadata.items()}
        for event in result.get_asset_check_evaluations():
            summary.checks[f"{event.asset_key.to_user_string()}:{event.check_name}"] = event.passed
    return summary


def format_summary(summary: RunSummary, start: datetime, end: datetime) -> str:
    m = summary.metadata
    lines = [f"Pipeline runs {', '.join(summary.run_ids)}: {'SUCCESS' if summary.success else 'FAILURE'}",
             f"landing hours {start:%Y-%m-%d %H:00} .. {end:%Y-%m-%d %H:00} (UTC)"]
    if "bronze_events" in m:
        b = m["bronze_events"]
        lines.append(f"  bronze_events      {b['lines']:>10,} lines from {b['files_loaded']:,} new files "
                     f"({b['files_already_loaded']:,} already loaded; file errors {b['file_errors']})")
    if "silver_events" in m:
        s = m["silver_events"]
        ok = s["landed"] == s["loaded"] + s["duplicates"] + s["quarantined"]
        lines.append(f"  reconciliation     landed {s['landed']:,} = loaded {s['loaded']:,} + duplicate "
                     f"{s['duplicates']:,} + quarantined {s['quarantined']:,}  [{'OK' if ok else 'MISMATCH'}]")
        lines.append(f"  quarantine reasons {s['quarantine_reasons']}")
    if "clickhouse_events" in m:
        lines.append(f"  clickhouse_events  {m['clickhouse_events']['rows']:>10,} rows in raw.events")
    if "cost_reports" in m:
        c = m["cost_reports"]
        lines.append(f"  cost_reports       {c['rows_loaded']:>10,} rows from {c['files_loaded']:,} new pulls, "
                     f"{c['current_rows']:,} current, {c['rows_quarantined']:,} quarantined")
    if "clickhouse_cost" in m:
        lines.append(f"  clickhouse_cost    {m['clickhouse_cost']['rows']:>10,} rows in raw.cost")
    failed = sorted(name for name, passed in summary.checks.items() if not passed)
    lines.append(f"  asset checks       {len(summary.checks) - len(failed)} passed, {len(failed)} failed"
                 + (": " + ", ".join(failed) if failed else ""))
    lines.extend(f"  FAILED {step}: {message.splitlines()[0][:300]}" for step, message in summary.failures.items())
    lines.append("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in summary.seconds.items()))
    return "\n".join(lines)



def run_erasure(settings: Settings, identifiers: list[str], requested_by: str):
    """`unmogrowp erase`: the erasure job through Dagster (so it is in the run history); returns
    the report read back from the audit table."""
    from unmogrowp.lake import Lake
    from unmogrowp.privacy.erasure import AUDIT_TABLE, ErasureReport

    if settings.clickhouse.managed:
        manager.start(settings.home, settings.clickhouse.port)
    result = build_definitions(settings).resolve_job_def("erasure_job").execute_in_process(
        instance=_instance(), raise_on_error=False,
        run_config={"ops": {"erase_subject": {"config": {"identifiers": identifiers, "requested_by": requested_by}}}})
    if not result.success:
        failures = result.get_step_failure_events()
        raise RuntimeError(failures[0].event_specific_data.error.message if failures else "erasure failed")
    request_id = result.output_for_node("erase_subject")
    row = next(r for r in Lake(settings.lake_uri).read(AUDIT_TABLE).to_pylist() if r["request_id"] == request_id)
    return ErasureReport(request_id, row["requested_by"], row["requested_at"].isoformat(), json.loads(row["deleted"]),
                         {}, verified_flag=row["verified"])
