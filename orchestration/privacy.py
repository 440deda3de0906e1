"""Privacy jobs: erasure of one person on request (`unmogrowp erase`) and the nightly retention limit."""

import dagster as dg

from assets.privacy import apply_retention, erase_subject
from orchestration.jobs import ERASURE_JOB, RETENTION_JOB


@dg.job(name=ERASURE_JOB, description="Erase a device or user everywhere (GDPR/CCPA) and write the audit record.")
def erasure_job():
    erase_subject()


def build_retention(raw_days: int, silver_days: int) -> tuple[dg.JobDefinition, dg.ScheduleDefinition]:
    """The retention job (defaults from the settings) and its nightly schedule (as of the tick's day)."""
    @dg.job(name=RETENTION_JOB, description="Retention limit on raw identifiers: landing lines, full IPs, silver rows.",
            config={"ops": {"apply_retention": {"config": {"raw_days": raw_days, "silver_days": silver_days}}}})
    def retention_job():
        apply_retention()

    @dg.schedule(job=retention_job, cron_schedule="15 5 * * *", name="nightly_retention", execution_timezone="UTC",
                 description="At 05:15 UTC, apply the retention limits on raw identifiers as of that day.")
    def nightly_retention(context: dg.ScheduleEvaluationContext):
        day = context.scheduled_execution_time.date().isoformat()
        return dg.RunRequest(run_key=day, run_config={"ops": {"apply_retention": {"config": {
            "as_of": day, "raw_days": raw_days, "silver_days": silver_days}}}})

    return retention_job, nightly_retention
