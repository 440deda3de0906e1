"""Run the pipeline through Dagster for a range of partitions (`unmogrowp run`, `make demo`)."""

import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from assets.outcomes import SKIPPED
from assets.partitions import DAY_KEY, HOUR_KEY, RANGE_END, RANGE_START
from orchestration.jobs import ERASURE_JOB, PIPELINE_JOBS
from orchestration.launcher import CodeServer, Launcher, Progress, RunResult, ensure_instance
from unmogrowp.clickhouse import manager
from unmogrowp.config import Settings, settings_environ, with_landing


@dataclass
class RunSummary:
    run_ids: list[str]
    success: bool
    metadata: dict[str, dict]  # asset key -> metadata of its materialization
    checks: dict[str, bool]
    seconds: dict[str, float]  # per job
    warnings: set[str] = field(default_factory=set)  # failed checks of WARN severity
    failures: dict[str, str] = field(default_factory=dict)  # failed step -> error message
    outputs: dict[str, dict] = field(default_factory=dict)  # op step -> output metadata

    def add(self, result: RunResult) -> None:
        self.run_ids.append(result.run_id)
        self.success &= result.success
        self.seconds[result.job_name] = result.seconds
        self.metadata.update(result.materializations)
        self.checks.update(result.checks)
        self.warnings |= result.warnings
        self.outputs.update(result.outputs)
        self.failures.update({f"{result.job_name}.{step}": message for step, message in result.failures.items()})


def dagster_home(settings: Settings) -> Path:
    """The Dagster instance the runs are recorded in: ``DAGSTER_HOME``, else ``<home>/dagster``."""
    return Path(settings.dagster_home or settings.home / "dagster")


@contextmanager
def launcher_for(settings: Settings) -> Iterator[Launcher]:
    """A code server serving the definitions for ``settings`` and a launcher on the instance."""
    if settings.clickhouse.managed:
        manager.start(settings.home, settings.clickhouse.port)
    home = dagster_home(settings)
    instance = ensure_instance(home)
    environ = {**os.environ, **settings_environ(settings), "DAGSTER_HOME": str(home)}
    with CodeServer(environ, home / "logs" / "code_server.log") as server:
        launcher = Launcher(instance, server)
        try:
            yield launcher
        finally:
            launcher.close()


# the ops that judge cohort maturity (assets/dbt.py, run config `as_of`)
AS_OF_OPS = ("dbt_ltv_features", "dbt_daily")


def run_pipeline(settings: Settings, start: datetime, end: datetime, landing_uri: str | None = None,
                 op_config: dict | None = None, progress: Progress | None = None,
                 as_of: datetime | None = None) -> RunSummary:
    """Materialize every asset for landing hours [start, end) and the dates in it, each job as
    one run over the whole range (single-run backfill), launched through the Dagster instance:
    ingestion, then the dbt seeds and staging views, fraud rules, attribution over the hours, the
    models, and the daily marts over the dates. ``as_of`` (UTC) caps cohort maturity: it is the
    run config of the AS_OF_OPS in the jobs that have them."""
    if landing_uri:  # the code server works in the repository: a relative directory is made absolute
        settings = with_landing(settings, landing_uri)  # (a first partition from the landing follows it)
    op_config = {k: dict(v) for k, v in (op_config or {}).items()}
    if as_of is not None:
        for op in AS_OF_OPS:
            op_config[op] = {**op_config.get(op, {}),
                             "config": {**op_config.get(op, {}).get("config", {}), "as_of": as_of.isoformat(sep=" ")}}
    last_hour = end - timedelta(hours=1)
    keys = {"hours": (start.strftime(HOUR_KEY), last_hour.strftime(HOUR_KEY)),
            "days": (start.strftime(DAY_KEY), last_hour.strftime(DAY_KEY)), None: None}
    progress = progress or Progress(len(PIPELINE_JOBS), stream=io.StringIO())
    summary = RunSummary([], True, {}, {}, {})
    with launcher_for(settings) as launcher:
        for job_name, partitions in PIPELINE_JOBS.items():
            window = keys[partitions]
            nodes = launcher.node_names(job_name)
            ops = {k: v for k, v in op_config.items() if k in nodes}
            run_id = launcher.launch(job_name, run_config={"ops": ops} if ops else None,
                                     tags={RANGE_START: window[0], RANGE_END: window[1]} if window else None)
            progress.start(job_name, run_id)
            result = launcher.wait(run_id, on_step=progress.step)
            progress.finish(result)
            summary.add(result)
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
    lines.extend(f"  skipped {asset}: {meta[SKIPPED]}" for asset, meta in sorted(m.items()) if SKIPPED in meta)
    failed = sorted(name for name, passed in summary.checks.items() if not passed and name not in summary.warnings)
    warned = sorted(summary.warnings)
    lines.append(f"  asset checks       {len(summary.checks) - len(failed) - len(warned)} passed, {len(failed)} failed"
                 + (": " + ", ".join(failed) if failed else "")
                 + (f"; {len(warned)} warnings: " + ", ".join(warned) if warned else ""))
    lines.extend(f"  FAILED {step}: {message.splitlines()[0][:300]}" for step, message in summary.failures.items())
    lines.extend(f"  fallback {asset}: {meta['scored_by']}" for asset, meta in sorted(m.items())
                 if str(meta.get("scored_by", "")).startswith("rules"))
    lines.append("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in summary.seconds.items()))
    return "\n".join(lines)



def run_erasure(settings: Settings, identifiers: list[str], requested_by: str):
    """`unmogrowp erase`: the erasure job through the Dagster instance (so it is in the run history);
    returns the report read back from the audit table. The identifiers are checked first
    (NotAnIdentifier, nothing written) and handed to the run in a private request file, removed
    when the run ends: the run storage holds its path, never an identifier."""
    from unmogrowp.lake import Lake
    from unmogrowp.privacy.erasure import AUDIT_TABLE, ErasureReport, check_identifiers, write_request

    identifiers = check_identifiers(identifiers, settings.home)
    request, path = write_request(settings.home, identifiers, requested_by)
    try:
        with launcher_for(settings) as launcher:
            result = launcher.wait(launcher.launch(ERASURE_JOB, run_config={"ops": {"erase_subject": {"config": {
                "request_file": str(path)}}}}, tags={"erasure_request": request.request_id}))
    finally:
        path.unlink(missing_ok=True)
    if not result.success:
        raise RuntimeError(next(iter(result.failures.values()), "erasure failed"))
    request_id = result.outputs["erase_subject"]["request_id"]
    audit = Lake(settings.lake_uri, settings.storage_options(settings.lake_uri)).read(AUDIT_TABLE).to_pylist()
    row = next(r for r in audit if r["request_id"] == request_id)
    return ErasureReport(request_id, row["requested_by"], row["requested_at"].isoformat(), json.loads(row["deleted"]),
                         {}, verified_flag=row["verified"])
