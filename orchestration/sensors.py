"""Sensors: new landing files start ingestion runs for the partitions they belong to; failed runs are recorded."""

import json
import os
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from assets.partitions import DAY_KEY, HOUR_KEY
from assets.resources import LandingResource
from unmogrowp.landing import LandingFile


def _is_new(f: LandingFile, modified: float, keys_at_mark: set[str]) -> bool:
    return f.modified > modified or (f.modified == modified and f.key not in keys_at_mark)


def _first_partition(context: dg.SensorEvaluationContext, job_name: str) -> datetime | None:
    """The start of the first partition of a job of the sensor's definitions (None: not known here)."""
    repository = context.repository_def
    partitions = repository.get_job(job_name).partitions_def if repository is not None else None
    return partitions.start if isinstance(partitions, dg.TimeWindowPartitionsDefinition) else None


def build_landing_sensor(events_job, cost_job, running: bool) -> dg.SensorDefinition:
    status = dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED

    @dg.sensor(name="landing_sensor", jobs=[events_job, cost_job], minimum_interval_seconds=60,
               default_status=status, description="Each minute, an ingestion run for every landing hour and cost "
                                                   "date with new files (stopped locally: `unmogrowp run` ingests).")
    def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingResource):
        """Requests an ingestion run for each landing hour / cost date with new files.

        The cursor is a high-water mark on modification time plus the keys seen at that time:
        landing files are immutable, so anything older has been requested already. Files for hours
        or dates before the first partition (UNMOGROWP_PARTITIONS_START) are skipped, with a message.
        """
        cursor = json.loads(context.cursor) if context.cursor else {"modified": 0.0, "keys": []}
        modified, keys = cursor["modified"], set(cursor["keys"])
        files = landing.get_store().list()
        new = [f for f in files if _is_new(f, modified, keys)]
        if not new:
            return dg.SkipReason(f"no landing files after {modified}")
        first_hour, first_date = _first_partition(context, events_job.name), _first_partition(context, cost_job.name)
        # every object under events/ or cost/ (bad keys too: ingestion quarantines them in that window)
        hours = sorted({f.landing_hour for f in new if f.kind == "events"})
        dates = sorted({f.landing_date for f in new if f.kind == "cost"})
        early_hours = [h for h in hours if first_hour is not None and h < first_hour]
        early_dates = [d for d in dates if first_date is not None and d < first_date.date()]
        top = max(f.modified for f in new)
        at_top = sorted({f.key for f in files if f.modified == top} | (keys if top == modified else set()))
        stamp = f"{top:.6f}:{len(at_top)}"
        requests = [dg.RunRequest(run_key=f"events:{h:{HOUR_KEY}}:{stamp}", job_name=events_job.name,
                                  partition_key=h.strftime(HOUR_KEY)) for h in hours if h not in early_hours]
        requests += [dg.RunRequest(run_key=f"cost:{d:{DAY_KEY}}:{stamp}", job_name=cost_job.name,
                                   partition_key=d.strftime(DAY_KEY)) for d in dates if d not in early_dates]
        skipped = None
        if early_hours or early_dates:
            earliest = min([*(h.strftime(HOUR_KEY) for h in early_hours), *(d.strftime(DAY_KEY) for d in early_dates)])
            skipped = (f"not requested: {len(early_hours)} landing hours and {len(early_dates)} cost dates from "
                       f"{earliest} are before the first partition {(first_hour or first_date):%Y-%m-%d} "
                       "(UNMOGROWP_PARTITIONS_START; unset locally, the landing zone's first dt= when the definitions "
                       "loaded): move it earlier and reload, then run them with `unmogrowp run` or a backfill")
            context.log.warning(skipped)
        cursor = json.dumps({"modified": top, "keys": at_top})
        if not requests:  # the cursor still moves: the same files are not reported every tick
            return dg.SensorResult(skip_reason=skipped, cursor=cursor)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return landing_sensor


ALERTS_FILE = Path("alerts") / "run_failures.jsonl"
WEBHOOK_ENV = "UNMOGROWP_ALERT_WEBHOOK"  # a Slack-style incoming webhook (a secret: read when a run fails)


def failure_record(run: dg.DagsterRun, step_failures: list) -> dict:
    """What a person needs about a failed run: which job, partitions, steps and errors, and where to look."""
    tags = run.tags
    partitions = tags.get("dagster/partition") or (
        f"{tags['dagster/asset_partition_range_start']}..{tags['dagster/asset_partition_range_end']}"
        if "dagster/asset_partition_range_start" in tags else "")
    return {"run_id": run.run_id, "job": run.job_name, "status": run.status.value, "partitions": partitions,
            "failed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "launched_by": tags.get("dagster/schedule_name") or tags.get("dagster/sensor_name")
            or ("backfill" if "dagster/backfill" in tags else "manual"),
            "steps": [{"step": e.step_key, "error": _first_line(e)} for e in step_failures],
            "run_page": f"/runs/{run.run_id}"}


def _first_line(event) -> str:
    """The first line of the step's root error (Dagster wraps it in "Error occurred while executing op")."""
    error = getattr(event.event_specific_data, "error", None)
    while error is not None and error.cause is not None:
        error = error.cause
    return (error.message.strip().splitlines() or [""])[0] if error is not None else ""


def build_run_failure_sensor(home: Path) -> dg.SensorDefinition:
    @dg.run_failure_sensor(name="run_failure_alerts", default_status=dg.DefaultSensorStatus.RUNNING,
                           minimum_interval_seconds=30,
                           description="Records each failed run in UNMOGROWP_HOME/alerts/run_failures.jsonl "
                                       "and posts it to UNMOGROWP_ALERT_WEBHOOK if set.")
    def run_failure_alerts(context: dg.RunFailureSensorContext):
        """Records each failed run (job, partitions, failed steps and their first error line) in
        `UNMOGROWP_HOME/alerts/run_failures.jsonl` and posts it
        to `UNMOGROWP_ALERT_WEBHOOK` (Slack-compatible) when that is set."""
        record = failure_record(context.dagster_run, context.get_step_failure_events())
        path = home / ALERTS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")
        context.log.warning(f"run {record['run_id']} of {record['job']} failed ({record['partitions']}): "
                            + "; ".join(f"{s['step']}: {s['error']}" for s in record["steps"]))
        webhook = os.environ.get(WEBHOOK_ENV)
        if webhook:
            steps = ", ".join(s["step"] for s in record["steps"]) or "the run"
            text = (f"UnMoGrowP: {record['job']} failed at {steps} ({record['partitions'] or 'unpartitioned'}), "
                    f"run {record['run_id']}")
            request = urllib.request.Request(webhook, data=json.dumps({"text": text}).encode(),
                                             headers={"Content-Type": "application/json"})
            urllib.request.urlopen(request, timeout=10).close()  # an HTTP error status raises

    return run_failure_alerts
