"""Restatement schedules: late data changes past partitions, so they are re-run as one range."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from assets.partitions import DAY_KEY, HOUR_KEY, RANGE_END, RANGE_START


def build_restatement_schedule(job, name: str, cron: str, days: int, hourly: bool, first: str,
                               description: str = "") -> dg.ScheduleDefinition:
    """Each run covers the ``days`` before the scheduled time (whole hours or whole days), from
    ``first`` (the partitions' start) at the earliest, as one single-run backfill."""
    floor = datetime.fromisoformat(first).replace(tzinfo=UTC)

    @dg.schedule(job=job, cron_schedule=cron, name=name, execution_timezone="UTC", description=description or None)
    def restatement(context: dg.ScheduleEvaluationContext):
        now = context.scheduled_execution_time.astimezone(UTC)
        end = now.replace(minute=0, second=0, microsecond=0) if hourly else \
            now.replace(hour=0, minute=0, second=0, microsecond=0)
        start = max(end - timedelta(days=days), floor)
        if start >= end:
            return dg.SkipReason(f"nothing to restate before {end:%Y-%m-%d %H:%M}")
        last = end - (timedelta(hours=1) if hourly else timedelta(days=1))
        key = HOUR_KEY if hourly else DAY_KEY
        return dg.RunRequest(run_key=f"{name}:{end:%Y%m%d%H}",
                             tags={RANGE_START: start.strftime(key), RANGE_END: last.strftime(key)})

    return restatement
